// The CUDA backend of bert_classification_cuda. This one translation unit, compiled by nvcc,
// includes <ember/cuda.hpp>, which installs ember's CUDA kernels when the program starts; main.cpp
// stays plain C++ compiled by g++ and reaches the GPU through the same ops (`--device cuda`).
// Any program can get the GPU this way: add a .cu file like this one and link ember::cuda.
#include <ember/cuda.hpp>
