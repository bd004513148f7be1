// `modelmap run`: a program's output on one input, as JSON.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "core/json_io.h"

namespace mm::cli {

Command add_run_command(CLI::App& root) {
  struct Options {
    std::string lang = "rasp";
    std::string program;
    std::string input;
    bool all = false;
    DomainFlags domain;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("run", "run a program on one input (or its whole domain) and print its output as JSON");
  add_language_flag(*app, o->lang);
  app->add_option("--program", o->program, "program file in text form ('-' reads stdin)")->required();
  auto* input = app->add_option("--input", o->input, "input as a JSON array of integers, e.g. '[1,2,3]'");
  auto* all = app->add_flag("--domain", o->all,
                            "every input of the domain instead, shortest first: one JSON line each, "
                            "{\"input\": [...], \"output\": [...]} (output null, with \"error\", where the program raises)")
                  ->excludes(input);
  input->excludes(all);
  o->domain.add_to(*app);

  return {app, [o] {
            const Language& lang = language_by_name(o->lang);
            const InputDomain domain = o->domain.resolve(lang);
            if (o->all) {
              const auto p = load_program(lang, o->program);
              for (const Input& x : domain.enumerate(kMaxListedInputs)) {
                std::cout << "{\"input\":" << input_to_json(x);
                try {
                  std::cout << ",\"output\":" << values_to_json(p->evaluate(x)) << "}\n";
                } catch (const EvalError& e) {
                  std::cout << ",\"output\":null,\"error\":" << nlohmann::json(e.what()).dump() << "}\n";
                }
              }
              return 0;
            }
            if (o->input.empty()) throw Error("give --input '[...]' or --domain");
            const Input x = parse_input_json(o->input);
            if (const std::string why = domain.why_not_contained(x); !why.empty())
              throw Error("input outside the domain (" + domain.describe() + "): " + why);
            const auto p = load_program(lang, o->program);
            std::vector<Value> y;
            try {
              y = p->evaluate(x);
            } catch (const EvalError& e) {
              throw Error("the program raises on this input: " + std::string(e.what()));
            }
            std::cout << values_to_json(y) << "\n";
            return 0;
          }};
}

}  // namespace mm::cli
