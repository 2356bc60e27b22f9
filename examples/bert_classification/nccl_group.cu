// The NCCL group of bert_classification_cuda (`train --distributed --device cuda`): one GPU per
// process, the unique id sent over the MPI job. In its own small .cu file because NCCL's group
// queues work on the CUDA backend's streams (nvcc-only headers), while main.cpp stays plain C++.
#include <ember/distributed/nccl.hpp>

// main.cpp's hook, null in the programs built without this file.
extern std::shared_ptr<ember::distributed::ProcessGroup> (*nccl_group)(
    ember::distributed::ProcessGroup& bootstrap);

namespace {

std::shared_ptr<ember::distributed::ProcessGroup> make_nccl_group(
    ember::distributed::ProcessGroup& bootstrap) {
  // World::join made this rank's GPU the only visible one (CUDA_VISIBLE_DEVICES), so device 0
  // (a process started without mpirun uses the first GPU it sees).
  return ember::distributed::ProcessGroupNCCL::create(bootstrap, 0);
}

// Set when the program starts (main.cpp's pointer is constant-initialised to null before any
// dynamic initialisation, so the order of the two files does not matter).
const bool nccl_group_installed = (nccl_group = &make_nccl_group, true);

}  // namespace
