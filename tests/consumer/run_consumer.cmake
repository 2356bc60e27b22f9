# Installs ember from source into a scratch prefix, then configures, builds and runs the consumer
# project against it with find_package(ember). Invoked by CTest (tests/CMakeLists.txt).
set(prefix ${BIN}/prefix)
file(REMOVE_RECURSE ${BIN})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()
run(${CMAKE_COMMAND} -S ${EMBER_ROOT} -B ${BIN}/ember -DCMAKE_CXX_COMPILER=${CXX}
    -DEMBER_BUILD_TESTS=OFF -DEMBER_BUILD_EXAMPLES=OFF -DEMBER_BUILD_APPS=OFF
    -DCMAKE_INSTALL_PREFIX=${prefix})
run(${CMAKE_COMMAND} --install ${BIN}/ember)
# No build type (no -O): the test is about find_package, the usage requirements and the link,
# and without optimization <ember/ember.hpp> compiles in about half the time (the whole test:
# 68 s -> 41 s on 2 busy cores).
run(${CMAKE_COMMAND} -S ${SRC} -B ${BIN}/consumer -DCMAKE_CXX_COMPILER=${CXX}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=)
run(${CMAKE_COMMAND} --build ${BIN}/consumer)
run(${BIN}/consumer/consumer)
