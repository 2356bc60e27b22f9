# Writes the small labelled files of the flagship's newcomer-path tests (examples/CMakeLists.txt)
# from the first 240 rows of SST-2 dev, in the shapes users bring:
#   label_first.tsv  no header, label first:        1<TAB>it 's a charming ...
#   reviews.csv      a header of other names:       review,sentiment / "it 's a ...",pos
#   news.tsv         one labelled file, label first: label<TAB>text
#   texts.csv        unlabelled rows to predict:    id,review / r1,"it 's a ..."
# Usage: cmake -DSRC=examples/data/sst2/dev.tsv -DOUT=<dir> -P make_test_files.cmake

# Sets `out` to the first `count` lines of `text`, each prefixed with `prefix` and its number
# (when `prefix` is not empty).
function(first_lines text count prefix out)
  set(rows "")
  foreach(i RANGE 1 ${count})
    string(FIND "${text}" "\n" eol)
    math(EXPR next "${eol} + 1")
    string(SUBSTRING "${text}" 0 ${next} row)
    if(prefix)
      set(row "${prefix}${i},${row}")
    endif()
    string(APPEND rows "${row}")
    string(SUBSTRING "${text}" ${next} -1 text)
  endforeach()
  set(${out} "${rows}" PARENT_SCOPE)
endfunction()

file(READ "${SRC}" all)
string(FIND "${all}" "\n" eol)
math(EXPR start "${eol} + 1")
string(SUBSTRING "${all}" ${start} -1 all)  # without the header
first_lines("${all}" 240 "" body)

string(REGEX REPLACE "([^\t\n]*)\t([01])\n" "\\2\t\\1\n" label_first "${body}")
file(WRITE "${OUT}/label_first.tsv" "${label_first}")
file(WRITE "${OUT}/news.tsv" "label\ttext\n${label_first}")

string(REPLACE "\"" "\"\"" quoted "${body}")
string(REGEX REPLACE "([^\t\n]*)\t1\n" "\"\\1\",pos\n" csv "${quoted}")
string(REGEX REPLACE "([^\t\n]*)\t0\n" "\"\\1\",neg\n" csv "${csv}")
file(WRITE "${OUT}/reviews.csv" "review,sentiment\n${csv}")

string(REGEX REPLACE ",(pos|neg)\n" "\n" unlabelled "${csv}")
first_lines("${unlabelled}" 8 "r" texts)
file(WRITE "${OUT}/texts.csv" "id,review\n${texts}")
