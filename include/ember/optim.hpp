// ember/optim.hpp — the optimizer layer: `Optimizer` with parameter groups, `SGD`, `Adam`, `AdamW`,
// `clip_grad_norm_`, the learning-rate schedulers and `bert_param_groups`. See docs/optim.md.
#pragma once

#include <ember/optim/optimizer.hpp>
#include <ember/optim/sgd.hpp>
#include <ember/optim/adam.hpp>
#include <ember/optim/clip_grad.hpp>
#include <ember/optim/lr_scheduler.hpp>
