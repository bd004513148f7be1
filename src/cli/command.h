// How the CLI is put together: every subcommand file registers its flags on the root app and returns
// the function that runs it. main.cpp parses, picks the parsed subcommand, runs it, and turns every
// mm::Error into one line on stderr with exit code 2.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/language.h"

namespace mm::cli {

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_sample_command(CLI::App& root);
Command add_run_command(CLI::App& root);
Command add_tokens_command(CLI::App& root);
Command add_compile_command(CLI::App& root);
Command add_detokenize_command(CLI::App& root);
// `corpus` and its subcommands (appended to `subcommands`); the returned command itself has no action.
Command add_corpus_command(CLI::App& root, std::vector<Command>& subcommands);
Command add_predict_command(CLI::App& root);
// `mapper` and its subcommands (appended to `subcommands`), and `decompile`.
Command add_mapper_command(CLI::App& root, std::vector<Command>& subcommands);
Command add_decompile_command(CLI::App& root);
Command add_eval_command(CLI::App& root);

// --lang, shared by every command that reads or writes programs.
void add_language_flag(CLI::App& app, std::string& lang);

// --min-len/--max-len/--min-value/--max-value: override the language's default input domain.
struct DomainFlags {
  static constexpr int64_t kUnset = INT64_MIN;
  int64_t min_len = kUnset, max_len = kUnset, min_value = kUnset, max_value = kUnset;
  void add_to(CLI::App& app);
  InputDomain resolve(const Language& lang) const;  // validated
};

// `run --domain` and `predict --domain` list at most this many inputs.
constexpr uint64_t kMaxListedInputs = 1'000'000;

// Reads and parses a program file ("-" = stdin); errors name the file.
std::unique_ptr<Program> load_program(const Language& lang, const std::string& path);

}  // namespace mm::cli
