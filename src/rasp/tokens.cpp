// Canonical form and the linearized-AST tokens. One statement is spelled
//   <op> [<encoding>] [<function>] <ref> [<ref>] [coef=k coef=k | <comparison> | default=k] <sep>
// with the statement's own variable implicit (the k-th statement is v<k>) and the last statement the
// output. Canonical numbering (see canonicalize) makes one program always give one token sequence.
#include <algorithm>
#include <map>
#include <string>

#include "core/error.h"
#include "rasp/functions.h"
#include "rasp/rasp.h"

namespace mm::rasp {

namespace {

const std::string kSep = "<sep>";

std::string var_token(int index) { return "v" + std::to_string(index + 1); }
std::string coef_token(int64_t k) { return "coef=" + std::to_string(k); }
std::string default_token(int64_t k) { return "default=" + std::to_string(k); }

bool is_map(Op op) { return op == Op::Map || op == Op::SequenceMap; }

// The statement with the fields its op does not use reset, so that equal meaning is equal data.
Statement normalized(const Statement& s) {
  Statement n;
  n.op = s.op;
  n.a = s.a;
  if (arity(s.op) == 2) n.b = s.b;
  if (!is_selector(s.op)) n.encoding = s.encoding;
  if (is_map(s.op)) n.fn = s.fn;
  if (s.op == Op::Select) n.cmp = s.cmp;
  if (s.op == Op::LinearSequenceMap) {
    n.coef_a = s.coef_a;
    n.coef_b = s.coef_b;
  }
  if (s.op == Op::Aggregate) n.default_value = s.default_value;
  return n;
}

// Everything about a statement except what it refers to, as a comparable vector.
std::vector<int64_t> local_key(const Statement& s) {
  return {static_cast<int64_t>(s.op), static_cast<int64_t>(s.encoding), s.fn, static_cast<int64_t>(s.cmp),
          s.coef_a, s.coef_b, s.default_value.has_value(), s.default_value.value_or(0)};
}

// A total order on the structures of the statements of a program without duplicates.
class StructureOrder {
 public:
  explicit StructureOrder(const std::vector<Statement>& st) : st_(st), memo_(st.size() * st.size(), 2) {}

  int compare(int u, int v) {
    if (u == v) return 0;
    signed char& m = memo_[static_cast<size_t>(u) * st_.size() + static_cast<size_t>(v)];
    if (m != 2) return m;
    const Statement& a = st_[static_cast<size_t>(u)];
    const Statement& b = st_[static_cast<size_t>(v)];
    int c = sign(local_key(a), local_key(b));
    if (c == 0) c = compare_ref(a.a, b.a);
    if (c == 0 && arity(a.op) == 2) c = compare_ref(a.b, b.b);
    m = static_cast<signed char>(c);
    return c;
  }

 private:
  static int sign(const std::vector<int64_t>& x, const std::vector<int64_t>& y) {
    return x < y ? -1 : (y < x ? 1 : 0);
  }
  int compare_ref(Ref x, Ref y) {
    if (x < 0 && y < 0) return x == y ? 0 : (x > y ? -1 : 1);  // tokens < indices < length
    if (x < 0) return -1;                                       // primitives before statements
    if (y < 0) return 1;
    return compare(x, y);
  }

  const std::vector<Statement>& st_;
  std::vector<signed char> memo_;  // (statements, statements): -1, 0, 1, or 2 = not yet known
};

}  // namespace

void validate(const Program& program) {
  const auto& st = program.statements;
  if (st.empty()) throw Error("the program has no statements");
  if (st.size() > static_cast<size_t>(kMaxStatements))
    throw Error("the program has " + std::to_string(st.size()) + " statements; at most " +
                std::to_string(kMaxStatements) + " are supported");
  const auto& fns = map_functions();
  for (size_t i = 0; i < st.size(); ++i) {
    const Statement& s = st[i];
    const std::string where = var_token(static_cast<int>(i)) + ": ";
    auto check_ref = [&](Ref r, bool want_selector) {
      if (r < kLength || r >= static_cast<Ref>(i))
        throw Error(where + "refers to something not defined before it");
      const bool selector = r >= 0 && is_selector(st[static_cast<size_t>(r)].op);
      if (selector != want_selector)
        throw Error(where + (want_selector ? "needs a selector" : "needs an s-op") + " where " +
                    (r < 0 ? std::string(primitive_name(r)) : var_token(r)) + " is given");
    };
    const bool reads_selector = s.op == Op::Aggregate || s.op == Op::SelectorWidth;
    check_ref(s.a, reads_selector);
    if (arity(s.op) == 2) check_ref(s.b, false);
    if (is_map(s.op)) {
      if (s.fn < 0 || static_cast<size_t>(s.fn) >= fns.size() || fns[static_cast<size_t>(s.fn)].arity != arity(s.op))
        throw Error(where + "has no map function of the right arity");
    }
    if (s.op == Op::LinearSequenceMap && (s.coef_a < kCoefMin || s.coef_a > kCoefMax || s.coef_b < kCoefMin ||
                                          s.coef_b > kCoefMax))
      throw Error(where + "LinearSequenceMap factors must lie in " + std::to_string(kCoefMin) + ".." +
                  std::to_string(kCoefMax));
    if (s.op == Op::Aggregate && s.default_value &&
        (*s.default_value < kDefaultMin || *s.default_value > kDefaultMax))
      throw Error(where + "Aggregate default must lie in " + std::to_string(kDefaultMin) + ".." +
                  std::to_string(kDefaultMax));
  }
  if (program.output < 0 || static_cast<size_t>(program.output) >= st.size())
    throw Error("the program's output is not one of its statements");
  if (is_selector(st[static_cast<size_t>(program.output)].op)) throw Error("the program's output is a selector");
}

Program canonicalize(const Program& program) {
  validate(program);
  const auto& st = program.statements;
  const size_t n = st.size();

  // 1. What the output needs.
  std::vector<char> needed;
  mark_needed(program, needed);

  // 2. Merge duplicates: a statement equal to an earlier one (after merging its inputs) is that one.
  std::vector<Statement> unique;
  std::vector<int> rep(n, -1);  // original index -> index in `unique`
  std::map<std::pair<std::vector<int64_t>, std::pair<Ref, Ref>>, int> seen;
  for (size_t s = 0; s < n; ++s) {
    if (!needed[s]) continue;
    Statement x = normalized(st[s]);
    if (x.a >= 0) x.a = rep[static_cast<size_t>(x.a)];
    if (arity(x.op) == 2 && x.b >= 0) x.b = rep[static_cast<size_t>(x.b)];
    const auto key = std::make_pair(local_key(x), std::make_pair(x.a, arity(x.op) == 2 ? x.b : 0));
    auto [it, inserted] = seen.emplace(key, static_cast<int>(unique.size()));
    if (inserted) unique.push_back(x);
    rep[s] = it->second;
  }

  // 3. Topological order, structurally smallest ready statement first.
  StructureOrder order(unique);
  const size_t m = unique.size();
  std::vector<int> new_index(m, -1);
  Program out;
  for (size_t placed = 0; placed < m; ++placed) {
    int best = -1;
    for (size_t u = 0; u < m; ++u) {
      if (new_index[u] >= 0) continue;
      const Statement& x = unique[u];
      const bool ready = (x.a < 0 || new_index[static_cast<size_t>(x.a)] >= 0) &&
                         (arity(x.op) == 1 || x.b < 0 || new_index[static_cast<size_t>(x.b)] >= 0);
      if (ready && (best < 0 || order.compare(static_cast<int>(u), best) < 0)) best = static_cast<int>(u);
    }
    new_index[static_cast<size_t>(best)] = static_cast<int>(placed);
    Statement x = unique[static_cast<size_t>(best)];
    if (x.a >= 0) x.a = new_index[static_cast<size_t>(x.a)];
    if (arity(x.op) == 2 && x.b >= 0) x.b = new_index[static_cast<size_t>(x.b)];
    out.statements.push_back(x);
  }
  out.output = new_index[static_cast<size_t>(rep[static_cast<size_t>(program.output)])];
  return out;
}

namespace {

// One statement's tokens, its references spelled by `ref`.
template <typename RefName>
void append_statement(const Statement& s, const RefName& ref, std::vector<std::string>& out) {
  const auto& fns = map_functions();
  out.emplace_back(op_name(s.op));
  if (!is_selector(s.op)) out.emplace_back(encoding_name(s.encoding));
  if (is_map(s.op)) out.push_back(fns[static_cast<size_t>(s.fn)].token);
  out.push_back(ref(s.a));
  if (arity(s.op) == 2) out.push_back(ref(s.b));
  if (s.op == Op::LinearSequenceMap) {
    out.push_back(coef_token(s.coef_a));
    out.push_back(coef_token(s.coef_b));
  }
  if (s.op == Op::Select) out.emplace_back(comparison_name(s.cmp));
  if (s.op == Op::Aggregate && s.default_value) out.push_back(default_token(*s.default_value));
  out.push_back(kSep);
}

}  // namespace

std::vector<std::string> tokenize(const Program& program) {
  const Program p = canonicalize(program);
  std::vector<std::string> out;
  auto ref = [](Ref r) { return r < 0 ? std::string(primitive_name(r)) : var_token(r); };
  for (const Statement& s : p.statements) append_statement(s, ref, out);
  return out;
}

std::vector<std::string> tokenize_output_first(const Program& program) {
  const Program p = canonicalize(program);
  // Numbers in order of first mention, breadth first from the output; statement k defines v<k>.
  std::vector<int> order = {p.output};
  std::vector<int> number(p.statements.size(), -1);
  number[static_cast<size_t>(p.output)] = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const Statement& s = p.statements[static_cast<size_t>(order[k])];
    for (Ref r : {s.a, arity(s.op) == 2 ? s.b : kTokens})
      if (r >= 0 && number[static_cast<size_t>(r)] < 0) {
        number[static_cast<size_t>(r)] = static_cast<int>(order.size());
        order.push_back(r);
      }
  }
  std::vector<std::string> out;
  auto ref = [&](Ref r) { return r < 0 ? std::string(primitive_name(r)) : var_token(number[static_cast<size_t>(r)]); };
  for (int k : order) append_statement(p.statements[static_cast<size_t>(k)], ref, out);
  return out;
}

const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> vocab = [] {
    std::vector<std::string> v = {"<pad>", "<bos>", "<eos>", kSep};
    for (int k = 0; k < 6; ++k) v.emplace_back(op_name(static_cast<Op>(k)));
    v.emplace_back(encoding_name(Encoding::Categorical));
    v.emplace_back(encoding_name(Encoding::Numerical));
    for (int k = 0; k < 8; ++k) v.emplace_back(comparison_name(static_cast<Comparison>(k)));
    for (Ref r : {kTokens, kIndices, kLength}) v.emplace_back(primitive_name(r));
    for (int k = 0; k < kMaxStatements; ++k) v.push_back(var_token(k));
    for (const auto& f : map_functions()) v.push_back(f.token);
    for (int64_t k = kCoefMin; k <= kCoefMax; ++k) v.push_back(coef_token(k));
    for (int64_t k = kDefaultMin; k <= kDefaultMax; ++k) v.push_back(default_token(k));
    return v;
  }();
  return vocab;
}

namespace {

// v<k> -> k (v0 -> 0, which names no variable); -1 for a token that is not spelled as a variable.
int var_number(const std::string& t) {
  if (t.size() < 2 || t.size() > 3 || t[0] != 'v' || t.find_first_not_of("0123456789", 1) != std::string::npos) return -1;
  return std::stoi(t.substr(1));
}

// Output-first order's bookkeeping while reading: the variables mentioned so far (v1, the output, from the
// start; a new one is always the next number), each with whether its first mention read it as a selector.
struct Mentions {
  std::vector<char> selector = {0};
  size_t count() const { return selector.size(); }
};

// Whether statement `from` depends on statement `to` (or is it), through the statements defined so far; in
// output-first order a reference to such a one would close a cycle. Undefined statements read nothing yet.
bool reaches(const Program& p, Ref from, int to) {
  std::vector<Ref> stack = {from};
  std::vector<char> seen(kMaxStatements + 1, 0);
  while (!stack.empty()) {
    const Ref r = stack.back();
    stack.pop_back();
    if (r < 0 || seen[static_cast<size_t>(r)]) continue;
    if (r == to) return true;
    seen[static_cast<size_t>(r)] = 1;
    if (static_cast<size_t>(r) >= p.statements.size()) continue;
    const Statement& s = p.statements[static_cast<size_t>(r)];
    stack.push_back(s.a);
    if (arity(s.op) == 2) stack.push_back(s.b);
  }
  return false;
}

// Whether the statement being defined at `at` could read a selector: a new variable, or a mentioned
// selector that does not depend on it.
bool selector_available(const Program& p, const Mentions& m, int at) {
  if (m.count() < static_cast<size_t>(kMaxStatements)) return true;
  for (size_t k = 0; k < m.count(); ++k)
    if (m.selector[k] && !reaches(p, static_cast<Ref>(k), at)) return true;
  return false;
}

// The statements the tokens spell, without the whole-program checks (so a prefix ending in <sep> reads).
// In canonical order (`fwd` null) references point to earlier statements; in output-first order (`fwd`
// given, and filled) to any mentioned variable that does not depend on the statement, or the next new one.
Program read_statements(std::span<const std::string> tokens, Mentions* fwd = nullptr) {
  Program p;
  size_t pos = 0;
  auto fail = [&](size_t at, const std::string& what) -> ParseError {
    const std::string found = at < tokens.size() ? "'" + tokens[at] + "'" : "the end";
    return ParseError(0, static_cast<int>(at + 1), what + ", found " + found);
  };
  auto take = [&]() -> const std::string* { return pos < tokens.size() ? &tokens[pos++] : nullptr; };
  auto ref = [&](bool want_selector) -> Ref {
    const size_t at = pos;
    const std::string* t = take();
    Ref r = kLength - 1;  // none yet
    if (t) {
      for (Ref prim : {kTokens, kIndices, kLength})
        if (*t == primitive_name(prim)) r = prim;
      if (const int number = var_number(*t); number >= 0) {
        const int k = number - 1;
        if (fwd) {
          const int m = static_cast<int>(fwd->count());
          const int last = std::min(m + 1, kMaxStatements);
          if (k < 0 || k >= last)
            throw fail(at, "expected a mentioned variable or the next new one (v1..v" + std::to_string(last) + ")");
          if (k == m) {  // a new variable: what this slot reads decides its kind
            fwd->selector.push_back(want_selector);
            return k;
          }
          if (reaches(p, k, static_cast<int>(p.statements.size())))
            throw fail(at, *t + " depends on the statement being defined (a cycle)");
          r = k;
        } else if (k >= 0 && k < static_cast<int>(p.statements.size())) {
          r = k;
        } else {
          const size_t n = p.statements.size();
          throw fail(at, "expected a reference to an earlier statement (" +
                             (n == 0 ? std::string("none is defined yet") : "v1..v" + std::to_string(n)) + ")");
        }
      }
    }
    if (r < kLength) throw fail(at, "expected a variable or tokens/indices/length");
    const bool selector = r >= 0 && (fwd ? fwd->selector[static_cast<size_t>(r)] != 0
                                         : is_selector(p.statements[static_cast<size_t>(r)].op));
    if (selector != want_selector) throw fail(at, want_selector ? "expected a selector" : "expected an s-op");
    return r;
  };

  while (pos < tokens.size()) {
    if (p.statements.size() == static_cast<size_t>(kMaxStatements))
      throw fail(pos, "at most " + std::to_string(kMaxStatements) + " statements");
    Statement s;
    const size_t at = pos;
    const std::string* head = take();
    int op = -1;
    for (int k = 0; k < 6; ++k)
      if (*head == op_name(static_cast<Op>(k))) op = k;
    if (op < 0) throw fail(at, "expected an operation");
    s.op = static_cast<Op>(op);
    if (fwd) {
      const size_t i = p.statements.size();
      if (i >= fwd->count()) throw fail(at, "expected the end (every mentioned variable is defined)");
      if (is_selector(s.op) != (fwd->selector[i] != 0))
        throw fail(at, fwd->selector[i] ? "expected Select (" + var_token(static_cast<int>(i)) + " is read as a selector)"
                                        : "expected an s-op operation (" + var_token(static_cast<int>(i)) + " is read as an s-op)");
      if ((s.op == Op::Aggregate || s.op == Op::SelectorWidth) && !selector_available(p, *fwd, static_cast<int>(i)))
        throw fail(at, "expected an operation that reads no selector (no selector can be read here)");
    }
    if (!is_selector(s.op)) {
      const size_t e = pos;
      const std::string* t = take();
      if (t && *t == encoding_name(Encoding::Numerical)) s.encoding = Encoding::Numerical;
      else if (!t || *t != encoding_name(Encoding::Categorical)) throw fail(e, "expected an encoding");
    }
    if (is_map(s.op)) {
      const size_t e = pos;
      const std::string* t = take();
      s.fn = t ? find_map_function_by_token(*t) : -1;
      if (s.fn < 0 || map_functions()[static_cast<size_t>(s.fn)].arity != arity(s.op))
        throw fail(e, s.op == Op::Map ? "expected a unary map function" : "expected a binary map function");
    }
    s.a = ref(s.op == Op::Aggregate || s.op == Op::SelectorWidth);
    if (arity(s.op) == 2) s.b = ref(false);
    auto constant = [&](const std::string& prefix, int64_t lo, int64_t hi) -> int64_t {
      const size_t e = pos;
      const std::string* t = take();
      for (int64_t k = lo; k <= hi; ++k)
        if (t && *t == prefix + std::to_string(k)) return k;
      throw fail(e, "expected " + prefix + "<" + std::to_string(lo) + ".." + std::to_string(hi) + ">");
    };
    if (s.op == Op::LinearSequenceMap) {
      s.coef_a = constant("coef=", kCoefMin, kCoefMax);
      s.coef_b = constant("coef=", kCoefMin, kCoefMax);
    }
    if (s.op == Op::Select) {
      const size_t e = pos;
      const std::string* t = take();
      int c = -1;
      for (int k = 0; t && k < 8; ++k)
        if (*t == comparison_name(static_cast<Comparison>(k))) c = k;
      if (c < 0) throw fail(e, "expected a comparison");
      s.cmp = static_cast<Comparison>(c);
    }
    if (s.op == Op::Aggregate && pos < tokens.size() && tokens[pos] != kSep)
      s.default_value = constant("default=", kDefaultMin, kDefaultMax);
    if (pos >= tokens.size() || tokens[pos] != kSep) throw fail(pos, "expected " + kSep);
    ++pos;
    p.statements.push_back(s);
  }
  return p;
}

}  // namespace

Program detokenize(std::span<const std::string> tokens) {
  Program p = read_statements(tokens);
  if (p.statements.empty()) throw ParseError(0, 1, "no statements");
  if (is_selector(p.statements.back().op))
    throw ParseError(0, static_cast<int>(tokens.size()), "the last statement (the output) is a selector");
  p.output = static_cast<int>(p.statements.size() - 1);
  return p;
}

Program detokenize_output_first(std::span<const std::string> tokens) {
  Mentions m;
  const Program read = read_statements(tokens, &m);
  if (read.statements.empty()) throw ParseError(0, 1, "no statements");
  if (read.statements.size() < m.count())
    throw ParseError(0, static_cast<int>(tokens.size() + 1),
                     var_token(static_cast<int>(read.statements.size())) + " is mentioned but not defined, found the end");
  // Definition order: depth first from the output, each statement after what it reads (no cycles: the
  // reader refused them).
  const size_t n = read.statements.size();
  std::vector<int> index(n, -1);
  Program p;
  std::vector<std::pair<int, bool>> stack = {{0, false}};
  while (!stack.empty()) {
    const auto [k, expanded] = stack.back();
    stack.pop_back();
    if (index[static_cast<size_t>(k)] >= 0) continue;
    const Statement& s = read.statements[static_cast<size_t>(k)];
    if (!expanded) {
      stack.push_back({k, true});
      for (Ref r : {s.a, arity(s.op) == 2 ? s.b : kTokens})
        if (r >= 0 && index[static_cast<size_t>(r)] < 0) stack.push_back({r, false});
      continue;
    }
    Statement x = s;
    if (x.a >= 0) x.a = index[static_cast<size_t>(x.a)];
    if (arity(x.op) == 2 && x.b >= 0) x.b = index[static_cast<size_t>(x.b)];
    index[static_cast<size_t>(k)] = static_cast<int>(p.statements.size());
    p.statements.push_back(x);
  }
  p.output = index[0];
  return p;
}

namespace {

// next_tokens for either order (`forward`: output-first).
std::vector<std::string> next_tokens_in(std::span<const std::string> prefix, bool forward) {
  size_t done = 0;  // tokens of the complete statements
  for (size_t k = prefix.size(); k > 0; --k)
    if (prefix[k - 1] == kSep) {
      done = k;
      break;
    }
  Mentions mentions;
  const Program p = read_statements(prefix.first(done), forward ? &mentions : nullptr);
  const std::span<const std::string> tail = prefix.subspan(done);
  const size_t n = p.statements.size();
  bool have_selector = false;
  if (forward) have_selector = selector_available(p, mentions, static_cast<int>(n));
  else
    for (const Statement& s : p.statements) have_selector |= is_selector(s.op);
  std::vector<std::string> out;
  auto refs = [&](bool selector) {
    if (!selector)
      for (Ref r : {kTokens, kIndices, kLength}) out.emplace_back(primitive_name(r));
    if (!forward) {
      for (size_t k = 0; k < n; ++k)
        if (is_selector(p.statements[k].op) == selector) out.push_back(var_token(static_cast<int>(k)));
      return;
    }
    for (size_t k = 0; k < mentions.count(); ++k)
      if ((mentions.selector[k] != 0) == selector && !reaches(p, static_cast<Ref>(k), static_cast<int>(n)))
        out.push_back(var_token(static_cast<int>(k)));
    if (mentions.count() < static_cast<size_t>(kMaxStatements)) out.push_back(var_token(static_cast<int>(mentions.count())));
  };
  if (tail.empty()) {  // a statement starts, or the program ends
    if (forward) {
      if (n == mentions.count()) return {"<eos>"};  // every mentioned variable is defined
      if (mentions.selector[n]) return {std::string(op_name(Op::Select))};
      for (Op op : {Op::Map, Op::SequenceMap, Op::LinearSequenceMap, Op::Aggregate, Op::SelectorWidth})
        if (have_selector || (op != Op::Aggregate && op != Op::SelectorWidth)) out.emplace_back(op_name(op));
      return out;
    }
    if (n > 0 && !is_selector(p.statements.back().op)) out.emplace_back("<eos>");
    if (n == static_cast<size_t>(kMaxStatements)) return out;
    for (int k = 0; k < 6; ++k) {
      const Op op = static_cast<Op>(k);
      if ((op == Op::Aggregate || op == Op::SelectorWidth) && !have_selector) continue;  // nothing to read
      if (is_selector(op) && n + 1 == static_cast<size_t>(kMaxStatements)) continue;      // could not be used
      out.emplace_back(op_name(op));
    }
    return out;
  }
  // The slots of the statement under way, in token order; the tail fills the first tail.size() of them.
  int op = -1;
  for (int k = 0; k < 6; ++k)
    if (tail[0] == op_name(static_cast<Op>(k))) op = k;
  if (op < 0) throw ParseError(0, static_cast<int>(done + 1), "expected an operation, found '" + tail[0] + "'");
  const Op o = static_cast<Op>(op);
  // The same rules as at the statement's start: an operation no program could complete here is refused.
  if (forward) {
    if (n == mentions.count())
      throw ParseError(0, static_cast<int>(done + 1), "every mentioned variable is defined: only the end may follow");
    if (is_selector(o) != (mentions.selector[n] != 0))
      throw ParseError(0, static_cast<int>(done + 1), var_token(static_cast<int>(n)) + " is read as " +
                                                          (mentions.selector[n] ? "a selector" : "an s-op") + ", not '" + tail[0] + "'");
  } else {
    if (n == static_cast<size_t>(kMaxStatements))
      throw ParseError(0, static_cast<int>(done + 1), "at most " + std::to_string(kMaxStatements) + " statements");
    if (is_selector(o) && n + 1 == static_cast<size_t>(kMaxStatements))
      throw ParseError(0, static_cast<int>(done + 1), "a selector as the last possible statement could not be used");
  }
  if ((o == Op::Aggregate || o == Op::SelectorWidth) && !have_selector)
    throw ParseError(0, static_cast<int>(done + 1), "'" + tail[0] + "' needs a selector, and none can be read here");
  enum Slot { Enc, Fn, RefSop, RefSel, Coef, Cmp, DefaultOrSep, Sep };
  std::vector<Slot> slots;
  if (!is_selector(o)) slots.push_back(Enc);
  if (is_map(o)) slots.push_back(Fn);
  slots.push_back(o == Op::Aggregate || o == Op::SelectorWidth ? RefSel : RefSop);
  if (arity(o) == 2) slots.push_back(RefSop);
  if (o == Op::LinearSequenceMap) slots.insert(slots.end(), {Coef, Coef});
  if (o == Op::Select) slots.push_back(Cmp);
  slots.push_back(o == Op::Aggregate ? DefaultOrSep : Sep);
  auto allowed = [&](Slot slot) {
    out.clear();
    switch (slot) {
      case Enc:
        out.emplace_back(encoding_name(Encoding::Categorical));
        out.emplace_back(encoding_name(Encoding::Numerical));
        break;
      case Fn:
        for (const auto& f : map_functions())
          if (f.arity == arity(o)) out.push_back(f.token);
        break;
      case RefSop: refs(false); break;
      case RefSel: refs(true); break;
      case Coef:
        for (int64_t k = kCoefMin; k <= kCoefMax; ++k) out.push_back(coef_token(k));
        break;
      case Cmp:
        for (int k = 0; k < 8; ++k) out.emplace_back(comparison_name(static_cast<Comparison>(k)));
        break;
      case DefaultOrSep:
        for (int64_t k = kDefaultMin; k <= kDefaultMax; ++k) out.push_back(default_token(k));
        out.push_back(kSep);
        break;
      case Sep: out.push_back(kSep); break;
    }
    return out;
  };
  // Walk the tail through the slots (an Aggregate's default is optional), checking each token.
  size_t slot = 0;
  for (size_t k = 1; k < tail.size(); ++k, ++slot) {
    const auto ok = allowed(slots[slot]);
    if (std::find(ok.begin(), ok.end(), tail[k]) == ok.end())
      throw ParseError(0, static_cast<int>(done + k + 1), "'" + tail[k] + "' cannot follow here");
    if (slots[slot] == DefaultOrSep) slots.push_back(Sep);  // a default was given; <sep> must follow
    // Output-first: a new variable is mentioned, of the kind its slot reads.
    if (forward && (slots[slot] == RefSop || slots[slot] == RefSel) &&
        tail[k] == var_token(static_cast<int>(mentions.count())))
      mentions.selector.push_back(slots[slot] == RefSel);
  }
  return allowed(slots[slot]);
}

}  // namespace

std::vector<std::string> next_tokens(std::span<const std::string> prefix) { return next_tokens_in(prefix, false); }

std::vector<std::string> next_tokens_output_first(std::span<const std::string> prefix) {
  return next_tokens_in(prefix, true);
}

std::vector<std::string> toward_statements(std::span<const std::string> prefix, const std::vector<std::string>& allowed,
                                           int statements, bool output_first) {
  if (statements <= 0) return allowed;
  size_t done = 0;  // tokens of the complete statements
  int defined = 0;
  for (size_t k = 0; k < prefix.size(); ++k)
    if (prefix[k] == kSep) done = k + 1, ++defined;
  const std::span<const std::string> tail = prefix.subspan(done);
  auto without = [&](auto&& drop) {
    std::vector<std::string> out;
    for (const std::string& t : allowed)
      if (!drop(t)) out.push_back(t);
    return out.empty() ? allowed : out;
  };
  if (!output_first) {
    if (!tail.empty()) return allowed;
    if (defined >= statements) return without([](const std::string& t) { return t != "<eos>"; });
    return without([&](const std::string& t) {
      return t == "<eos>" || (defined + 1 == statements && t == op_name(Op::Select));  // a selector cannot end it
    });
  }
  // Output-first: variables are numbered in order of first mention, v1 (the output) from the start.
  int mentioned = 1;
  for (const std::string& t : prefix) mentioned = std::max(mentioned, var_number(t));
  const std::string fresh = var_token(mentioned);  // the next new variable
  if (tail.empty()) {
    if (mentioned < statements) return allowed;
    // No new variable may be mentioned: an operation that reads a selector needs one mentioned already
    // that it can read (one that does not depend on this statement).
    return without([&](const std::string& t) {
      if (t != op_name(Op::Aggregate) && t != op_name(Op::SelectorWidth)) return false;
      std::vector<std::string> probe(prefix.begin(), prefix.end());
      probe.insert(probe.end(), {t, std::string(encoding_name(Encoding::Categorical))});
      std::vector<std::string> selectors;
      try {
        selectors = next_tokens_output_first(probe);
      } catch (const ParseError&) {
        return true;
      }
      return std::none_of(selectors.begin(), selectors.end(), [&](const std::string& s) { return var_number(s) > 0 && s != fresh; });
    });
  }
  const bool operand_slot = std::any_of(allowed.begin(), allowed.end(), [&](const std::string& t) { return var_number(t) > 0; });
  if (!operand_slot) return allowed;
  if (mentioned >= statements) return without([&](const std::string& t) { return t == fresh; });
  // Fewer mentioned than wanted: the last operand slot of the last statement to write must mention one more.
  if (defined + 1 < mentioned) return allowed;  // others wait to be written, each with an operand slot
  const bool unary = tail[0] == op_name(Op::Map) || tail[0] == op_name(Op::SelectorWidth);
  int filled = 0;  // operand slots of this statement already filled
  for (size_t k = 1; k < tail.size(); ++k) {
    bool primitive = false;
    for (Ref r : {kTokens, kIndices, kLength}) primitive |= tail[k] == primitive_name(r);
    filled += primitive || var_number(tail[k]) > 0;
  }
  if ((unary ? 1 : 2) - filled - 1 > 0) return allowed;  // a later slot of this statement can
  return without([&](const std::string& t) { return t != fresh; });
}

}  // namespace mm::rasp
