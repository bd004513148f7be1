// modelmap's command line: parses flags, runs one subcommand, and reports every user error as one line
// on stderr with exit code 2 (never a crash or a stack trace). Internal errors exit with 70.
#include <iostream>
#include <vector>

#include "cli/command.h"
#include "cli/torch_bridge.h"
#include "core/error.h"

namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

int fail(const std::string& message, int code) {
  std::cerr << "modelmap: error: " << one_line(message) << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  mm::cli::remember_command_line(argc, argv);
  CLI::App app{"modelmap: decompile trained transformers into the programs they compute", "modelmap"};
  app.option_defaults()->always_capture_default();
  app.require_subcommand(1);
  app.set_version_flag("--version", "modelmap 0.1");
  std::vector<mm::cli::Command> commands = {
      mm::cli::add_sample_command(app),
      mm::cli::add_run_command(app),
      mm::cli::add_tokens_command(app),
      mm::cli::add_detokenize_command(app),
      mm::cli::add_predict_command(app),
      mm::cli::add_compile_command(app),
      mm::cli::add_decompile_command(app),
      mm::cli::add_eval_command(app),
  };
  commands.push_back(mm::cli::add_corpus_command(app, commands));
  commands.push_back(mm::cli::add_mapper_command(app, commands));
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const auto& c : commands) {
      if (c.app->get_parent() != &app) continue;
      known |= c.app->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + c.app->get_name();
    }
    if (!known) return fail("unknown command '" + std::string(argv[1]) + "' (choose " + names + ")", 2);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see modelmap --help)", 2);
  }
  try {
    for (const auto& c : commands)
      if (c.run && c.app->parsed()) return c.run();
    return fail("no command given (see modelmap --help)", 2);
  } catch (const mm::Error& e) {
    return fail(e.what(), 2);
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what(), 70);
  }
}
