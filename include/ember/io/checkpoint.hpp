// ember/io/checkpoint.hpp — training checkpoints that resume the exact same run, written
// atomically.
//
// A checkpoint is a directory:
//   model.safetensors        the module's state_dict (F32, Hugging Face names, tied tensors once)
//   optimizer.safetensors    the optimizer's state tensors (exp_avg, exp_avg_sq, momentum, ...)
//   trainer_state.json       step counters, the optimizer's scalars and hyperparameters, the LR
//                            scheduler's state, the Generator's (seed, offset), user metadata
// plus whatever `write_extra(dir)` adds (the BERT example adds config.json and vocab.txt, which
// makes the directory a Hugging Face model directory as well).
//
// Resuming restores every input of the next step: weights, optimizer buffers and step counts,
// the learning rate, the random stream (Philox state = seed + offset), and the position in the
// data (epoch and batch index; the DataLoader's order is a pure function of seed and epoch).
// On the same machine and thread count the resumed run computes the same losses, bit for bit.
//
// Atomicity: everything is written into `<dir>.tmp-<pid>` first. Then an existing `<dir>` is
// renamed to `<dir>.old`, the new one renamed into place, and `<dir>.old` removed. A process
// killed at any moment leaves either `<dir>` or `<dir>.old` complete; `load_checkpoint` falls
// back to `<dir>.old` when `<dir>` is missing.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include <ember/core/generator.hpp>
#include <ember/io/safetensors.hpp>
#include <ember/nn/module.hpp>
#include <ember/optim/lr_scheduler.hpp>
#include <ember/optim/optimizer.hpp>

namespace ember::io {

/// Where a training run is: what a checkpoint stores besides tensors.
struct TrainerState {
  int64_t epoch = 0;           ///< epoch of the next batch
  int64_t batch_in_epoch = 0;  ///< index of the next batch within that epoch
  int64_t global_step = 0;     ///< optimizer steps taken
  double best_metric = -std::numeric_limits<double>::infinity();
  nlohmann::json user = nlohmann::json::object();  ///< anything else the loop wants to keep
};

namespace detail {
inline void write_text_atomic(const std::string& path, const std::string& text) {
  AtomicFileWriter w(path, "save_checkpoint");
  w.write(text.data(), text.size());
  w.commit();
}
}  // namespace detail

/// Writes `model.state_dict()` to `path` as F32 safetensors under its Hugging Face names
/// (metadata format "pt"), each tied tensor once, under its first name, as Hugging Face saves
/// tied weights (`Module::tied_state_keys()`); `load_state_dict` ties the others back.
/// Atomic (temporary file, then rename); throws `ember::Error` on I/O failure.
template <class T>
void save_state_dict(const nn::Module<T>& model, const std::string& path) {
  const std::map<std::string, std::string> tied = model.tied_state_keys();
  std::vector<std::pair<std::string, TensorVariant>> tensors;
  for (auto& [name, t] : model.state_dict())
    if (!tied.count(name)) tensors.emplace_back(name, t.template to<float>());
  save_safetensors(path, tensors, {{"format", "pt"}});
}

/// Writes a checkpoint of `model`, `optimizer`, `scheduler` (may be null), `gen` and `state`
/// into `dir` atomically (see the header comment); `write_extra(tmp_dir)` may add files.
/// Throws `ember::Error` on I/O failure; `dir` is then left as it was.
template <class T>
void save_checkpoint(const std::string& dir, const nn::Module<T>& model,
                     const optim::Optimizer<T>& optimizer, const optim::LRScheduler<T>* scheduler,
                     const Generator& gen, const TrainerState& state,
                     const std::function<void(const std::string&)>& write_extra = {}) {
  namespace fs = std::filesystem;
  fs::path target(dir);
  fs::path tmp = target.string() + ".tmp-" + std::to_string(::getpid());
  fs::path old = target.string() + ".old";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  EMBER_CHECK(!ec, "save_checkpoint: cannot create ", tmp.string(), ": ", ec.message());
  try {
    save_state_dict(model, (tmp / "model.safetensors").string());

    optim::OptimizerState<T> os = optimizer.state_dict();
    std::vector<std::pair<std::string, TensorVariant>> opt_tensors;
    for (auto& [name, t] : os.tensors) opt_tensors.emplace_back(name, t);
    save_safetensors((tmp / "optimizer.safetensors").string(), opt_tensors);

    nlohmann::json j;
    j["format"] = "ember-checkpoint-1";
    j["epoch"] = state.epoch;
    j["batch_in_epoch"] = state.batch_in_epoch;
    j["global_step"] = state.global_step;
    j["best_metric"] = state.best_metric;  // -inf is written as null
    j["user"] = state.user;
    j["optimizer"] = {{"name", optimizer.name()}, {"scalars", os.scalars}};
    if (scheduler) j["scheduler"] = scheduler->state_dict();
    // Seeds above 2^53 would lose bits as JSON numbers: store the generator state as strings.
    j["generator"] = {{"seed", std::to_string(gen.seed())}, {"offset", std::to_string(gen.offset())}};
    detail::write_text_atomic((tmp / "trainer_state.json").string(), j.dump(2) + "\n");
    if (write_extra) write_extra(tmp.string());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  // Swap into place: target -> old, tmp -> target, remove old.
  fs::remove_all(old, ec);
  if (fs::exists(target)) {
    fs::rename(target, old, ec);
    EMBER_CHECK(!ec, "save_checkpoint: cannot move the previous checkpoint ", target.string(),
                " aside: ", ec.message());
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ec2;
    if (fs::exists(old)) fs::rename(old, target, ec2);
    EMBER_FAIL("save_checkpoint: cannot move ", tmp.string(), " to ", target.string(), ": ",
               ec.message());
  }
  fs::remove_all(old, ec);
}

/// Restores a checkpoint written by `save_checkpoint` into `model`, `optimizer`, `scheduler`
/// (may be null) and `gen`, and returns the trainer state. Falls back to `<dir>.old` when `dir`
/// is missing (a save interrupted between its two renames). Throws `ember::Error` naming the
/// missing file, key, or mismatched parameter; on error `model` may be partly loaded.
template <class T>
TrainerState load_checkpoint(const std::string& dir_in, nn::Module<T>& model,
                             optim::Optimizer<T>& optimizer, optim::LRScheduler<T>* scheduler,
                             Generator& gen) {
  namespace fs = std::filesystem;
  std::string dir = dir_in;
  if (!fs::exists(dir) && fs::exists(dir + ".old")) dir += ".old";
  EMBER_CHECK(fs::is_directory(dir), "load_checkpoint: no checkpoint directory ", dir_in);
  auto need = [&](const char* name) {
    std::string p = (fs::path(dir) / name).string();
    EMBER_CHECK(fs::is_regular_file(p), "load_checkpoint: missing file ", p);
    return p;
  };
  std::string state_path = need("trainer_state.json");
  nlohmann::json j;
  {
    std::ifstream in(state_path);
    try {
      in >> j;
    } catch (const nlohmann::json::exception& e) {
      EMBER_FAIL("load_checkpoint: ", state_path, " is not valid JSON: ", e.what());
    }
  }
  EMBER_CHECK(j.value("format", "") == "ember-checkpoint-1", "load_checkpoint: ", state_path,
              " is not an ember checkpoint (format \"", j.value("format", ""), "\")");
  try {
    SafetensorsFile weights = SafetensorsFile::open(need("model.safetensors"));
    nn::StateDict<T> sd;
    for (const std::string& key : weights.keys()) sd.emplace_back(key, weights.get<T>(key));
    model.load_state_dict(sd, /*strict=*/true);

    SafetensorsFile opt_file = SafetensorsFile::open(need("optimizer.safetensors"));
    optim::OptimizerState<T> os;
    for (const std::string& key : opt_file.keys()) os.tensors.emplace_back(key, opt_file.get<T>(key));
    os.scalars = j.at("optimizer").at("scalars").get<std::map<std::string, double>>();
    optimizer.load_state_dict(os);
    if (scheduler) {
      EMBER_CHECK(j.contains("scheduler"), "load_checkpoint: ", state_path,
                  " has no scheduler state, but a scheduler was given");
      scheduler->load_state_dict(j.at("scheduler").get<std::map<std::string, double>>());
    }
    gen.set_state(std::stoull(j.at("generator").at("seed").get<std::string>()),
                  std::stoull(j.at("generator").at("offset").get<std::string>()));
    TrainerState st;
    st.epoch = j.at("epoch").get<int64_t>();
    st.batch_in_epoch = j.at("batch_in_epoch").get<int64_t>();
    st.global_step = j.at("global_step").get<int64_t>();
    st.best_metric = j.at("best_metric").is_null() ? -std::numeric_limits<double>::infinity()
                                                   : j.at("best_metric").get<double>();
    st.user = j.value("user", nlohmann::json::object());
    return st;
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("load_checkpoint: ", state_path, " lacks a field or has a wrong type: ", e.what());
  }
}

}  // namespace ember::io
