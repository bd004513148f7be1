// Data-parallel mapper training across processes, on an existing distributed engine: c10d's Gloo
// process group over a TCPStore — what torch.distributed.init_process_group("gloo", "tcp://ADDR:PORT")
// builds in Python. Rank 0 hosts the store at the master address; every rank connects to it, checks that
// the others agree on the world size and on what they train, and joins the group. Collectives that lose a
// peer (a rank killed) or pass the timeout become one mm::Error naming this rank and what happened.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace mm {

struct DistConfig {
  int world = 1;                      // processes in the job
  int rank = 0;                       // this process: 0 .. world - 1
  std::string master = "127.0.0.1:29500";  // ADDR:PORT of rank 0's store
  double timeout_s = 300;             // connecting, agreeing and every collective
};

// Flags over environment: where a flag was not given (world <= 0, rank < 0, master ""), WORLD_SIZE, RANK,
// MASTER_ADDR and MASTER_PORT (as torchrun sets them), else one process. Throws mm::Error for values out of
// range or malformed.
DistConfig resolve_dist_config(int world, int rank, const std::string& master, double timeout_s);

class DistGroup {
 public:
  // Connects (rank 0 hosts the store), checks that every rank has the same world size and a distinct rank,
  // and creates the Gloo process group. Throws mm::Error within about `timeout_s` when the master cannot be
  // reached or the ranks do not all arrive.
  explicit DistGroup(const DistConfig& config);
  ~DistGroup();
  int rank() const { return config_.rank; }
  int world() const { return config_.world; }

  // Every rank's `value` for `what` must equal every other's; else mm::Error on every rank naming `what`
  // and the first rank that differs from rank 0.
  void agree(const std::string& what, const std::string& value);
  // In place (on whatever device each tensor lives); the tensors travel together, in the first one's dtype,
  // through the CPU.
  void allreduce_sum(std::vector<torch::Tensor>& tensors);
  void broadcast(std::vector<torch::Tensor>& tensors, int root = 0);
  void barrier();

 private:
  struct Impl;  // the c10d store and process group (their headers stay in distributed.cpp)
  std::unique_ptr<Impl> impl_;
  DistConfig config_;
  int agreements_ = 0;
};

}  // namespace mm
