// `modelmap compile`: a RASP program -> a compiled subject model file (src/compile), checked against the
// evaluator on every input of its domain unless --no-check.
#include <chrono>
#include <cstdio>

#include "cli/command.h"
#include "compile/compile.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "rasp/rasp.h"

namespace mm::cli {

Command add_compile_command(CLI::App& root) {
  struct Options {
    std::string program, out;
    bool no_check = false;
    bool strict = false;
    DomainFlags domain;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "compile", "compile a RASP program into transformer weights that compute it (what tracr does)");
  app->add_option("--program", o->program, "RASP program file in text form ('-' reads stdin)")->required();
  app->add_option("-o,--out", o->out, "the .safetensors subject model to write")->required();
  app->add_flag("--no-check", o->no_check, "skip running the model against the evaluator on every input");
  app->add_flag("--strict", o->strict, "refuse what tracr refuses even where modelmap compiles it exactly (see docs/compiler.md)");
  o->domain.add_to(*app);
  return {app, [o] {
            const Language& lang = language_by_name("rasp");
            const InputDomain domain = o->domain.resolve(lang);
            const rasp::Program program = rasp::parse(load_program(lang, o->program)->text());
            const auto start = std::chrono::steady_clock::now();
            compile::Compiled c;
            try {
              compile::CompileOptions options;
              options.tracr_strict = o->strict;
              c = compile::compile_program(program, domain, options);
            } catch (const compile::CompileError& e) {
              throw Error("cannot compile " + o->program + ": " + e.what());
            }
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const SubjectArch& a = c.model.arch;
            std::fprintf(stderr,
                         "compiled in %.3f s: %d layers, residual %d (labels in the file's 'residual' metadata), "
                         "%d heads of width %d per layer, MLP width %d, %lld parameters; output %s (%s, %d classes)\n",
                         seconds, a.n_layers, a.d_model, a.n_heads, a.d_head(), a.d_mlp(),
                         static_cast<long long>(parameter_count(a)), c.output_label.c_str(),
                         c.output_numerical ? "numerical" : "categorical", a.n_classes);
            if (!o->no_check) {
              const compile::CompileCheck k = compile::check_compiled(program, c);
              std::fprintf(stderr, "checked on every input of the domain (%s): %lld of %lld positions agree with the evaluator",
                           domain.describe().c_str(), static_cast<long long>(k.agreeing), static_cast<long long>(k.positions));
              if (c.output_numerical) std::fprintf(stderr, "; largest numerical error %.2g", k.max_number_error);
              std::fprintf(stderr, "\n");
              if (!k.exact()) throw Error("the compiled model disagrees with the evaluator (a compiler bug): " + k.first_disagreement);
            }
            safetensors_write_file(o->out, subject_to_safetensors(c.model));
            return 0;
          }};
}

}  // namespace mm::cli
