// In `modelmap` (no torch): hand torch commands to `modelmap-torch` next to this executable.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "cli/torch_bridge.h"
#include "core/error.h"

namespace mm::cli {

namespace {
std::vector<char*> g_argv;
}

void remember_command_line(int argc, char** argv) { g_argv.assign(argv, argv + argc); }

static int hand_over() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find this executable's directory: " + ec.message());
  const std::string torch_exe = (self.parent_path() / "modelmap-torch").string();
  if (access(torch_exe.c_str(), X_OK) != 0)
    throw Error("'" + torch_exe + "' is missing; this command needs it (rebuild with scripts/setup)");
  std::vector<char*> argv = g_argv;
  argv.push_back(nullptr);
  execv(torch_exe.c_str(), argv.data());
  throw Error("cannot run '" + torch_exe + "': " + std::strerror(errno));
}

int run_corpus_build(const BuildConfig&, const std::string&) { return hand_over(); }
int run_mapper_train(const MapperTrainConfig&) { return hand_over(); }
int run_mapper_statements(const StatementHeadConfig&) { return hand_over(); }
int run_decompile(const DecompileOptions&) { return hand_over(); }
int run_eval(const EvalOptions&, const std::string&, const std::string&) { return hand_over(); }

}  // namespace mm::cli
