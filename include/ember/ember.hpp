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
#include <ember/core/cpu_features.hpp>
#include <ember/backend/cpu/cpu_info.hpp>
#include <ember/tensor/tensor.hpp>
#include <ember/autograd/grad_mode.hpp>
#include <ember/autograd/gradcheck.hpp>
#include <ember/ops/elementwise.hpp>
#include <ember/ops/matmul.hpp>
#include <ember/ops/reduction.hpp>
#include <ember/ops/softmax.hpp>
#include <ember/ops/layer_norm.hpp>
#include <ember/ops/embedding.hpp>
#include <ember/ops/dropout.hpp>
#include <ember/ops/attention.hpp>
#include <ember/ops/loss.hpp>
#include <ember/ops/indexing.hpp>
#include <ember/nn.hpp>
#include <ember/optim.hpp>
#include <ember/data/wordpiece_tokenizer.hpp>
#include <ember/data/wordpiece_trainer.hpp>
#include <ember/data/text_dataset.hpp>
#include <ember/data/data_loader.hpp>
#include <ember/data/text_corpus.hpp>
#include <ember/data/mlm_collator.hpp>
#include <ember/data/auto_tokenizer.hpp>
#include <ember/data/conll.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/io/checkpoint.hpp>
#include <ember/models/bert/config.hpp>
#include <ember/models/bert/bert.hpp>
#include <ember/models/bert/masked_lm.hpp>
#include <ember/models/bert/pretrained.hpp>
#include <ember/models/bert/distill.hpp>
#include <ember/models/auto.hpp>
#include <ember/train/metrics.hpp>
#include <ember/train/progress.hpp>
#include <ember/train/early_stopping.hpp>
