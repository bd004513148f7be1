// DistGroup: c10d's TCPStore and ProcessGroupGloo (see distributed.h).
#include "mapper/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <glog/logging.h>

#include <cstdlib>
#include <thread>

#include "core/error.h"

namespace mm {

namespace {

using Clock = std::chrono::steady_clock;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end || x < 0 || x > 1'000'000) throw Error(std::string(name) + "='" + v + "' is not a number in 0..1000000");
  return static_cast<int>(x);
}

std::string short_message(const std::exception& e) {
  std::string m = e.what();
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) m = c->what_without_backtrace();
  if (const size_t nl = m.find('\n'); nl != std::string::npos) m.resize(nl);
  return m;
}

std::string to_string(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }
std::vector<uint8_t> to_bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace

DistConfig resolve_dist_config(int world, int rank, const std::string& master, double timeout_s) {
  DistConfig c;
  c.world = world > 0 ? world : env_int("WORLD_SIZE", 1);
  c.rank = rank >= 0 ? rank : env_int("RANK", 0);
  if (!master.empty()) {
    c.master = master;
  } else {
    const char* addr = std::getenv("MASTER_ADDR");
    const char* port = std::getenv("MASTER_PORT");
    c.master = std::string(addr && *addr ? addr : "127.0.0.1") + ":" + (port && *port ? port : "29500");
  }
  c.timeout_s = timeout_s;
  if (c.world < 1 || c.world > 4096) throw Error("--world-size must be in 1..4096");
  if (c.rank >= c.world)
    throw Error("--rank " + std::to_string(c.rank) + " is outside a world of " + std::to_string(c.world) + " (ranks 0.." +
                std::to_string(c.world - 1) + ")");
  const size_t colon = c.master.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == c.master.size() ||
      c.master.find_first_not_of("0123456789", colon + 1) != std::string::npos || std::stol(c.master.substr(colon + 1)) > 65535)
    throw Error("--master '" + c.master + "' is not ADDR:PORT (e.g. 10.0.0.1:29500)");
  if (!(c.timeout_s > 0)) throw Error("--timeout must be above 0 seconds");
  return c;
}

struct DistGroup::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

DistGroup::DistGroup(const DistConfig& config) : impl_(std::make_unique<Impl>()), config_(config) {
  // c10d logs its retries and timeouts through glog on stderr; our errors say it in one line instead.
  FLAGS_minloglevel = google::GLOG_FATAL;
  const size_t colon = config.master.rfind(':');
  const std::string host = config.master.substr(0, colon);
  const int port = std::stoi(config.master.substr(colon + 1));
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(config.timeout_s * 1000));
  const std::string who = "rank " + std::to_string(config.rank) + ": ";
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(port);
    o.isServer = config.rank == 0;
    o.waitWorkers = false;  // the ranks' arrival is checked below, with the world sizes
    o.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(host, o);
  } catch (const std::exception& e) {
    throw Error(who + (config.rank == 0 ? "cannot host the master store at " : "cannot reach the master at ") + config.master +
                " within " + std::to_string(static_cast<int>(config.timeout_s)) + " s (--timeout): " + short_message(e));
  }
  // Arrival: each rank claims its number and posts its world size; each waits for every rank it expects,
  // and stops early when another has posted a mismatch.
  auto& store = *impl_->store;
  try {
    if (store.add("mm/claim/" + std::to_string(config.rank), 1) > 1)
      throw Error(who + "another process already holds rank " + std::to_string(config.rank) + " at " + config.master);
    store.set("mm/world/" + std::to_string(config.rank), to_bytes(std::to_string(config.world)));
    const auto deadline = Clock::now() + timeout;
    for (int r = 0; r < config.world; ++r) {
      const std::string key = "mm/world/" + std::to_string(r);
      while (!store.check({key})) {
        if (store.check({"mm/abort"})) throw Error(who + to_string(store.get("mm/abort")));
        if (Clock::now() > deadline)
          throw Error(who + "rank " + std::to_string(r) + " did not reach the master at " + config.master + " within " +
                      std::to_string(static_cast<int>(config.timeout_s)) + " s (--timeout)");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      const std::string theirs = to_string(store.get(key));
      if (theirs != std::to_string(config.world)) {
        const std::string why = "the ranks disagree on the world size (rank " + std::to_string(config.rank) + ": " +
                                std::to_string(config.world) + ", rank " + std::to_string(r) + ": " + theirs + ")";
        store.set("mm/abort", to_bytes(why));
        throw Error(who + why);
      }
    }
    auto options = c10d::ProcessGroupGloo::Options::create();
    options->timeout = timeout;
    // Each rank's transport binds to its own address: the master's only when every rank is on loopback,
    // else this machine's (its hostname's, as torch.distributed's default does).
    const bool loopback = host == "localhost" || host.rfind("127.", 0) == 0;
    options->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname(host)
                                        : c10d::ProcessGroupGloo::createDefaultDevice());
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, config.rank, config.world, options);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(who + "joining the process group at " + config.master + " failed: " + short_message(e));
  }
}

DistGroup::~DistGroup() = default;

void DistGroup::agree(const std::string& what, const std::string& value) {
  const std::string who = "rank " + std::to_string(config_.rank) + ": ";
  const std::string prefix = "mm/agree/" + std::to_string(agreements_++) + "/";
  auto& store = *impl_->store;
  try {
    store.set(prefix + std::to_string(config_.rank), to_bytes(value));
    std::vector<std::string> keys;
    for (int r = 0; r < config_.world; ++r) keys.push_back(prefix + std::to_string(r));
    store.wait(keys);  // the store's timeout
    const std::string first = to_string(store.get(keys[0]));
    for (int r = 1; r < config_.world; ++r)
      if (to_string(store.get(keys[static_cast<size_t>(r)])) != first)
        throw Error(who + "rank " + std::to_string(r) + " differs from rank 0 in " + what +
                    "; every rank must run the same command on the same data");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(who + "lost contact with the other ranks while comparing " + what + ": " + short_message(e));
  }
}

namespace {
template <class F>
void collective(const DistConfig& c, const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(c.rank) + ": " + what + " failed — another rank stopped or is unreachable (" +
                short_message(e) + "); rerun the same command on every rank to resume from the last checkpoint");
  }
}
}  // namespace

namespace {
// c10d's collectives take one tensor per device; ours are many tensors on one: flattened into one of the
// first's dtype, sent, and copied back.
torch::Tensor flatten(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.detach().to(torch::kCPU, tensors.front().scalar_type()).reshape({-1}));
  return torch::cat(flat);
}
void unflatten(const torch::Tensor& flat, std::vector<torch::Tensor>& tensors) {
  int64_t at = 0;
  torch::NoGradGuard no_grad;
  for (auto& t : tensors) {
    t.copy_(flat.slice(0, at, at + t.numel()).view(t.sizes()));
    at += t.numel();
  }
}
}  // namespace

void DistGroup::allreduce_sum(std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  std::vector<torch::Tensor> one = {flatten(tensors)};
  collective(config_, "summing gradients across ranks", [&] { impl_->group->allreduce(one)->wait(); });
  unflatten(one[0], tensors);
}

void DistGroup::broadcast(std::vector<torch::Tensor>& tensors, int root) {
  if (tensors.empty()) return;
  std::vector<torch::Tensor> one = {flatten(tensors)};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  collective(config_, "a broadcast from rank 0", [&] { impl_->group->broadcast(one, o)->wait(); });
  unflatten(one[0], tensors);
}

void DistGroup::barrier() {
  collective(config_, "waiting at a barrier", [&] { impl_->group->barrier()->wait(); });
}

}  // namespace mm
