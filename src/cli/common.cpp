// Flags and helpers shared by the subcommands.
#include "cli/command.h"

#include "core/error.h"
#include "core/json_io.h"

namespace mm::cli {

void add_language_flag(CLI::App& app, std::string& lang) {
  app.add_option("--lang", lang, "program language: rasp or python")->check(CLI::IsMember({"rasp", "python"}));
}

void DomainFlags::add_to(CLI::App& app) {
  app.add_option("--min-len", min_len, "shortest input")->default_str("rasp 1, python 1");
  app.add_option("--max-len", max_len, "longest input")->default_str("rasp 5, python 8");
  app.add_option("--min-value", min_value, "smallest input value")->default_str("rasp 0, python 0");
  app.add_option("--max-value", max_value, "largest input value")->default_str("rasp 4, python 9");
}

InputDomain DomainFlags::resolve(const Language& lang) const {
  InputDomain d = lang.default_domain();
  auto length = [](int64_t v) {
    if (v < 0 || v > InputDomain::kMaxLength)
      throw Error("input length " + std::to_string(v) + " is out of range (1.." +
                  std::to_string(InputDomain::kMaxLength) + ")");
    return static_cast<int>(v);
  };
  if (min_len != kUnset) d.len_min = length(min_len);
  if (max_len != kUnset) d.len_max = length(max_len);
  if (min_value != kUnset) d.value_min = min_value;
  if (max_value != kUnset) d.value_max = max_value;
  d.validate();
  return d;
}

std::unique_ptr<Program> load_program(const Language& lang, const std::string& path) {
  const std::string text = read_text_file(path);
  try {
    return lang.parse(text);
  } catch (const ParseError& e) {
    throw Error((path == "-" ? std::string("<stdin>") : path) + ": " + e.what());
  }
}

}  // namespace mm::cli
