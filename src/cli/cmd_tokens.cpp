// `modelmap tokens` and `modelmap detokenize`: between a program's text form and its token sequence.
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "core/error.h"
#include "core/json_io.h"

namespace mm::cli {

namespace {

void add_order_flag(CLI::App& app, std::string& order) {
  app.add_option("--order", order,
                 "token order: canonical (the default) or, for RASP, output-first (the output's statement first, "
                 "then what it reads, breadth first: what `mapper train --order output-first` writes)")
      ->check(CLI::IsMember({"canonical", "output-first"}));
}

}  // namespace

Command add_tokens_command(CLI::App& root) {
  struct Options {
    std::string lang = "rasp";
    std::string program;
    std::string order = "canonical";
    bool vocabulary = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("tokens", "print a program's canonical tokens, space-separated");
  add_language_flag(*app, o->lang);
  add_order_flag(*app, o->order);
  auto* program = app->add_option("--program", o->program, "program file in text form ('-' reads stdin)");
  app->add_flag("--vocabulary", o->vocabulary, "print the language's whole token vocabulary instead, one per line")
      ->excludes(program);
  return {app, [o] {
            if (o->vocabulary) {
              for (const std::string& t : language_by_name(o->lang).vocabulary()) std::cout << t << "\n";
              return 0;
            }
            if (o->program.empty()) throw Error("tokens: --program is required (or --vocabulary)");
            const Language& lang = language_by_name(o->lang);
            const Language& written = lang.in_order(o->order);
            const auto p = load_program(lang, o->program);
            const auto tokens = written.spell(*p);
            for (size_t k = 0; k < tokens.size(); ++k) std::cout << (k ? " " : "") << tokens[k];
            std::cout << "\n";
            return 0;
          }};
}

Command add_detokenize_command(CLI::App& root) {
  struct Options {
    std::string lang = "rasp";
    std::string tokens;
    std::string order = "canonical";
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("detokenize", "print the program that a token sequence spells");
  add_language_flag(*app, o->lang);
  add_order_flag(*app, o->order);
  app->add_option("--tokens", o->tokens, "file of whitespace-separated tokens ('-' reads stdin)")->required();
  return {app, [o] {
            const Language& lang = language_by_name(o->lang).in_order(o->order);
            std::istringstream in(read_text_file(o->tokens));
            std::vector<std::string> tokens;
            for (std::string t; in >> t;) tokens.push_back(t);
            try {
              std::cout << lang.detokenize(tokens)->text();
            } catch (const ParseError& e) {
              throw Error((o->tokens == "-" ? std::string("<stdin>") : o->tokens) + ": " + e.what());
            }
            return 0;
          }};
}

}  // namespace mm::cli
