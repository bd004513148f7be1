// `modelmap run`: a program's output on one input, as JSON.
#include <iostream>

#include "cli/command.h"
#include "core/error.h"
#include "core/json_io.h"

namespace mm::cli {

Command add_run_command(CLI::App& root) {
  struct Options {
    std::string lang = "rasp";
    std::string program;
    std::string input;
    DomainFlags domain;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("run", "run a program on one input and print its output as JSON");
  add_language_flag(*app, o->lang);
  app->add_option("--program", o->program, "program file in text form ('-' reads stdin)")->required();
  app->add_option("--input", o->input, "input as a JSON array of integers, e.g. '[1,2,3]'")->required();
  o->domain.add_to(*app);

  return {app, [o] {
            const Language& lang = language_by_name(o->lang);
            const InputDomain domain = o->domain.resolve(lang);
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
