// ember/ember.hpp — the umbrella header: the whole CPU library, layers in dependency order
// (core → tensor → autograd → ops → nn → optim → data → io → models → train).
// `ember/cuda.hpp` adds the GPU backend in translation units compiled by nvcc.
#pragma once

#include <ember/core/device.hpp>
#include <ember/core/dtype.hpp>
#include <ember/core/error.hpp>
#include <ember/core/generator.hpp>
#include <ember/core/shape.hpp>
#include <ember/core/storage.hpp>
#include <ember/core/threads.hpp>
#include <ember/tensor/tensor.hpp>
#include <ember/autograd/grad_mode.hpp>
#include <ember/autograd/gradcheck.hpp>
#include <ember/ops/elementwise.hpp>
