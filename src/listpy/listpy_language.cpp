// list-Python behind the Language interface.
#include "listpy/listpy.h"

#include "core/error.h"

namespace mm::listpy {

namespace {

class PyProgram final : public mm::Program {
 public:
  explicit PyProgram(listpy::Program p) : p_(std::move(p)) {}
  std::string text() const override { return print(p_); }
  std::vector<std::string> tokens() const override { return tokenize(p_); }
  std::vector<Value> evaluate(std::span<const int64_t> input) const override {
    const std::vector<int64_t> out = listpy::evaluate(p_, input);
    std::vector<Value> v(out.size());
    for (size_t k = 0; k < out.size(); ++k) v[k] = Value::of_int(out[k]);
    return v;
  }

 private:
  listpy::Program p_;
};

class PyLanguage final : public Language {
 public:
  std::string_view name() const override { return "python"; }
  InputDomain default_domain() const override { return {0, 9, 1, 8}; }
  GenerateConfig default_generate_config() const override { return {1, kMaxLoops}; }
  int max_size() const override { return kMaxLoops; }
  std::unique_ptr<mm::Program> parse(std::string_view text) const override {
    return std::make_unique<PyProgram>(listpy::parse(text));
  }
  std::unique_ptr<mm::Program> detokenize(std::span<const std::string> tokens) const override {
    return std::make_unique<PyProgram>(listpy::detokenize(tokens));
  }
  const std::vector<std::string>& vocabulary() const override { return listpy::vocabulary(); }
  // Close what is open: end of program, end of block, the return, then the shortest ways through an
  // assignment; never a new loop or conditional.
  const std::vector<std::string>& closing_preference() const override {
    static const std::vector<std::string> p = {"<eos>", "<dedent>", "return", "<nl>", ")", "]", "arr", "out"};
    return p;
  }
  const std::vector<std::string>& openers() const override {
    static const std::vector<std::string> o = {"for", "if", "+", "-"};
    return o;
  }
  int closing_margin() const override { return 64; }
  std::vector<int> next_token_ids(std::span<const std::string> prefix) const override {
    return token_ids(vocabulary(), listpy::next_tokens(prefix));
  }
  std::vector<StructuralEdit> structural_edits(std::span<const std::string> tokens) const override {
    std::vector<StructuralEdit> out;
    listpy::Program p;
    try {
      p = listpy::detokenize(tokens);
    } catch (const ParseError&) {
      return out;
    }
    for (auto& [q, what] : structural_neighbours(p)) out.push_back({tokenize(q), std::move(what)});
    return out;
  }
  std::unique_ptr<mm::Program> generate(Rng& rng, const GenerateConfig& config) const override {
    return std::make_unique<PyProgram>(listpy::generate(rng, config.size_min, config.size_max));
  }
};

}  // namespace

const Language& language() {
  static const PyLanguage lang;
  return lang;
}

}  // namespace mm::listpy
