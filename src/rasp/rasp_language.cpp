// RASP behind the Language interface. Programs are held in canonical form, so text() and tokens() of one
// program always agree and two spellings of one program are one program.
#include <algorithm>

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

// Every statement ends in <sep>.
int sep_count(std::span<const std::string> tokens) {
  return static_cast<int>(std::count(tokens.begin(), tokens.end(), std::string("<sep>")));
}

// toward_statements (rasp.h) on token ids.
std::vector<int> restricted(std::span<const std::string> prefix, const std::vector<int>& allowed, int statements, bool output_first) {
  const auto& vocab = vocabulary();
  std::vector<std::string> names;
  for (int id : allowed) names.push_back(vocab[static_cast<size_t>(id)]);
  return token_ids(vocab, toward_statements(prefix, names, statements, output_first));
}

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
  int statement_count(std::span<const std::string> tokens) const override { return sep_count(tokens); }
  std::vector<int> toward_statements(std::span<const std::string> prefix, const std::vector<int>& allowed,
                                     int statements) const override {
    return restricted(prefix, allowed, statements, /*output_first=*/false);
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
  std::vector<std::string> orders() const override { return {"canonical", "output-first"}; }
  const Language& in_order(std::string_view order) const override;

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

// RASP spelled output first (rasp.h): its own reader, grammar and closing moves; the rest is RASP's.
class RaspOutputFirst final : public Language {
 public:
  std::string_view name() const override { return "rasp"; }
  InputDomain default_domain() const override { return rasp::language().default_domain(); }
  GenerateConfig default_generate_config() const override { return rasp::language().default_generate_config(); }
  int max_size() const override { return rasp::language().max_size(); }
  std::unique_ptr<mm::Program> parse(std::string_view text) const override { return rasp::language().parse(text); }
  std::unique_ptr<mm::Program> detokenize(std::span<const std::string> tokens) const override {
    return std::make_unique<RaspProgram>(rasp::detokenize_output_first(tokens));
  }
  const std::vector<std::string>& vocabulary() const override { return rasp::vocabulary(); }
  std::vector<int> next_token_ids(std::span<const std::string> prefix) const override {
    return token_ids(vocabulary(), rasp::next_tokens_output_first(prefix));
  }
  // <eos> once every variable is defined; else finish the statement under way reading tokens (no new
  // variable), and define each waiting one as a Map of tokens or a Select of tokens: at most 5 tokens for
  // each of up to kMaxStatements variables, hence the margin.
  const std::vector<std::string>& closing_preference() const override {
    static const std::vector<std::string> p = {"<eos>", "<sep>", "tokens", "Map", "Select", "categorical"};
    return p;
  }
  const std::vector<std::string>& openers() const override {
    static const std::vector<std::string> o = {"SequenceMap", "LinearSequenceMap", "Aggregate", "SelectorWidth"};
    return o;
  }
  int closing_margin() const override { return 16 + 5 * kMaxStatements; }
  int statement_count(std::span<const std::string> tokens) const override { return sep_count(tokens); }
  std::vector<int> toward_statements(std::span<const std::string> prefix, const std::vector<int>& allowed,
                                     int statements) const override {
    return restricted(prefix, allowed, statements, /*output_first=*/true);
  }
  std::vector<StructuralEdit> structural_edits(std::span<const std::string> tokens) const override {
    return respelled(rasp::language().structural_edits(canonical(tokens)));
  }
  std::vector<StructuralEdit> reductions(std::span<const std::string> tokens) const override {
    return respelled(rasp::language().reductions(canonical(tokens)));
  }
  std::unique_ptr<mm::Program> generate(Rng& rng, const GenerateConfig& config) const override {
    return rasp::language().generate(rng, config);
  }
  std::vector<std::string> orders() const override { return rasp::language().orders(); }
  const Language& in_order(std::string_view order) const override {
    return order == "output-first" ? *this : rasp::language().in_order(order);
  }
  std::vector<std::string> spell(const mm::Program& program) const override {
    return tokenize_output_first(rasp::detokenize(program.tokens()));
  }

 private:
  // The canonical tokens of an output-first spelling (empty where it does not read).
  std::vector<std::string> canonical(std::span<const std::string> tokens) const {
    try {
      return tokenize(detokenize_output_first(tokens));
    } catch (const Error&) {
      return {};
    }
  }
  static std::vector<StructuralEdit> respelled(std::vector<StructuralEdit> edits) {
    for (StructuralEdit& e : edits) e.tokens = tokenize_output_first(rasp::detokenize(e.tokens));
    return edits;
  }
};

const Language& RaspLanguage::in_order(std::string_view order) const {
  static const RaspOutputFirst output_first;
  if (order == "output-first") return output_first;
  return Language::in_order(order);
}

}  // namespace

const Language& language() {
  static const RaspLanguage lang;
  return lang;
}

}  // namespace mm::rasp
