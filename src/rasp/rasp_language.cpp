// RASP behind the Language interface. Programs are held in canonical form, so text() and tokens() of one
// program always agree and two spellings of one program are one program.
#include "core/error.h"
#include "rasp/rasp.h"

namespace mm::rasp {

namespace {

class RaspProgram final : public mm::Program {
 public:
  explicit RaspProgram(rasp::Program p) : p_(canonicalize(p)) {}
  std::string text() const override { return print(p_); }
  std::vector<std::string> tokens() const override { return tokenize(p_); }
  std::vector<Value> evaluate(std::span<const int64_t> input) const override { return rasp::evaluate(p_, input); }

 private:
  rasp::Program p_;
};

class RaspLanguage final : public Language {
 public:
  std::string_view name() const override { return "rasp"; }
  InputDomain default_domain() const override { return {0, 4, 1, 5}; }
  GenerateConfig default_generate_config() const override { return {2, 6}; }
  int max_size() const override { return 16; }
  std::unique_ptr<mm::Program> parse(std::string_view text) const override {
    return std::make_unique<RaspProgram>(rasp::parse(text));
  }
  std::unique_ptr<mm::Program> detokenize(std::span<const std::string> tokens) const override {
    return std::make_unique<RaspProgram>(rasp::detokenize(tokens));
  }
  const std::vector<std::string>& vocabulary() const override { return rasp::vocabulary(); }
  // <eos> when the last statement is an s-op; else finish the statement under way; else a Map (4 tokens
  // and <sep>), after which <eos> is allowed.
  const std::vector<std::string>& closing_preference() const override {
    static const std::vector<std::string> p = {"<eos>", "<sep>", "Map", "categorical"};
    return p;
  }
  const std::vector<std::string>& openers() const override {
    static const std::vector<std::string> o = {"Select", "SequenceMap", "LinearSequenceMap", "Aggregate"};
    return o;
  }
  int closing_margin() const override { return 16; }
  std::vector<int> next_token_ids(std::span<const std::string> prefix) const override {
    return token_ids(vocabulary(), rasp::next_tokens(prefix));
  }
  std::vector<StructuralEdit> structural_edits(std::span<const std::string> tokens) const override {
    return edits(tokens, /*reductions=*/false);
  }
  std::vector<StructuralEdit> reductions(std::span<const std::string> tokens) const override {
    return edits(tokens, /*reductions=*/true);
  }
  std::unique_ptr<mm::Program> generate(Rng& rng, const GenerateConfig& config) const override {
    rasp::Program p = rasp::generate(rng, config.size_min, config.size_max);
    if (p.statements.empty()) return nullptr;
    return std::make_unique<RaspProgram>(p);
  }

 private:
  // The program read once; its structural neighbours, and with `reductions` its replacement neighbours.
  static std::vector<StructuralEdit> edits(std::span<const std::string> tokens, bool reductions) {
    std::vector<StructuralEdit> out;
    rasp::Program p;
    try {
      p = canonicalize(rasp::detokenize(tokens));
    } catch (const Error&) {
      return out;
    }
    for (auto& [q, what] : structural_neighbours(p)) out.push_back({tokenize(q), std::move(what)});
    if (reductions)
      for (auto& [q, what] : replacement_neighbours(p)) out.push_back({tokenize(q), std::move(what)});
    return out;
  }
};

}  // namespace

const Language& language() {
  static const RaspLanguage lang;
  return lang;
}

}  // namespace mm::rasp
