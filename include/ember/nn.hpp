// ember/nn.hpp — the whole `nn` layer: `Module`, initializers, and the Transformer building
// blocks (Linear, Embedding, LayerNorm, Dropout, FeedForward, MultiHeadAttention,
// TransformerEncoderLayer, TransformerEncoder), in dependency order. See docs/nn.md.
#pragma once

// clang-format off
#include <ember/nn/module.hpp>
#include <ember/nn/init.hpp>
#include <ember/nn/linear.hpp>
#include <ember/nn/embedding.hpp>
#include <ember/nn/layer_norm.hpp>
#include <ember/nn/dropout.hpp>
#include <ember/nn/feed_forward.hpp>
#include <ember/nn/attention.hpp>
#include <ember/nn/transformer.hpp>
#include <ember/nn/quantize.hpp>
#include <ember/nn/prune.hpp>
#include <ember/nn/sparsity.hpp>
// clang-format on
