// The parser of the text form. It accepts tracr-style Python as `print` writes it, with any whitespace,
// comments, blank lines, variable names (rebinding a name rebinds it, as in Python) and an optional
// `from tracr.rasp import rasp` header; one RASP operation per statement. Anything else is rejected
// with the line and column of the first thing that does not fit. It does not evaluate Python.
#include <cctype>
#include <map>
#include <string>

#include "core/error.h"
#include "rasp/functions.h"
#include "rasp/rasp.h"

namespace mm::rasp {

namespace {

enum class Tok { Name, Number, Punct, Lambda, Newline, End };

struct Token {
  Tok kind;
  std::string text;
  int line, column;
};

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::Newline: return "end of line";
    case Tok::End: return "end of file";
    case Tok::Lambda: return "a lambda";
    default: return "'" + t.text + "'";
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    int depth = 0;  // newlines inside brackets continue the statement, as in Python
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n') advance();
      } else if (c == '\n') {
        if (depth == 0 && !out.empty() && out.back().kind != Tok::Newline)
          out.push_back({Tok::Newline, "\n", line_, col_});
        advance();
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        advance();
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        const int l = line_, k = col_;
        std::string name;
        while (pos_ < src_.size() &&
               (std::isalnum(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_' || src_[pos_] == '.'))
          name += advance();
        if (name == "lambda") {
          out.push_back({Tok::Lambda, "lambda" + lambda_rest(), l, k});
        } else {
          out.push_back({Tok::Name, name, l, k});
        }
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        const int l = line_, k = col_;
        std::string num;
        while (pos_ < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '.'))
          num += advance();
        out.push_back({Tok::Number, num, l, k});
      } else if (c == '(' || c == ')' || c == ',' || c == '=' || c == '-') {
        if (c == '(') ++depth;
        if (c == ')' && depth > 0) --depth;
        out.push_back({Tok::Punct, std::string(1, c), line_, col_});
        advance();
      } else {
        throw ParseError(line_, col_, "unexpected character '" + std::string(1, c) + "'");
      }
    }
    if (!out.empty() && out.back().kind != Tok::Newline) out.push_back({Tok::Newline, "\n", line_, col_});
    out.push_back({Tok::End, "", line_, col_});
    return out;
  }

 private:
  char advance() {
    const char c = src_[pos_++];
    if (c == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    return c;
  }

  // After `lambda`: the parameters up to ':', then the body up to a ',' or ')' outside its own brackets.
  std::string lambda_rest() {
    std::string text;
    while (pos_ < src_.size() && src_[pos_] != ':' && src_[pos_] != '\n') text += advance();
    if (pos_ >= src_.size() || src_[pos_] != ':') throw ParseError(line_, col_, "expected ':' in lambda");
    text += advance();
    int depth = 0;
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (depth == 0 && (c == ',' || c == ')' || c == '\n')) break;
      if (c == '(') ++depth;
      if (c == ')') --depth;
      text += advance();
    }
    return text;
  }

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  Program run() {
    Program p;
    if (peek().kind == Tok::Name && peek().text == "from") {
      expect_name("from");
      expect_name("tracr.rasp");
      expect_name("import");
      expect_name("rasp");
      expect(Tok::Newline);
    }
    while (true) {
      if (peek().kind == Tok::End) throw error(peek(), "missing `program = <variable>` at the end");
      const Token name = next();
      if (name.kind != Tok::Name || name.text.find('.') != std::string::npos)
        throw error(name, "expected a variable name, found " + describe(name));
      expect_punct("=");
      if (name.text == "program" && peek().kind == Tok::Name && peek().text.rfind("rasp.", 0) != 0) {
        const Token out = next();
        const Binding b = lookup(out);
        if (b.ref < 0) throw error(out, "program must be a variable defined above, not a primitive");
        if (b.selector) throw error(out, "program must be an s-op, but '" + out.text + "' is a selector");
        p.output = b.ref;
      } else {
        p.statements.push_back(statement());
        names_[name.text] = {static_cast<Ref>(p.statements.size() - 1), is_selector(p.statements.back().op)};
        if (name.text == "program") {
          if (is_selector(p.statements.back().op)) throw error(name, "program must be an s-op, not a selector");
          p.output = static_cast<int>(p.statements.size() - 1);
        }
      }
      expect(Tok::Newline);
      if (p.output >= 0) break;
    }
    if (peek().kind != Tok::End) throw error(peek(), "nothing may follow `program = ...`");
    if (p.statements.size() > static_cast<size_t>(kMaxStatements))
      throw ParseError(1, 1, "the program has " + std::to_string(p.statements.size()) +
                                 " statements; at most " + std::to_string(kMaxStatements) + " are supported");
    return p;
  }

 private:
  struct Binding {
    Ref ref;
    bool selector;
  };

  const Token& peek() const { return toks_[pos_]; }
  Token next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
  static ParseError error(const Token& t, const std::string& what) { return ParseError(t.line, t.column, what); }

  void expect(Tok kind) {
    const Token t = next();
    if (t.kind != kind)
      throw error(t, std::string("expected ") + (kind == Tok::Newline ? "end of line" : "something else") +
                         ", found " + describe(t));
  }
  void expect_punct(const std::string& p) {
    const Token t = next();
    if (t.kind != Tok::Punct || t.text != p) throw error(t, "expected '" + p + "', found " + describe(t));
  }
  void expect_name(const std::string& n) {
    const Token t = next();
    if (t.kind != Tok::Name || t.text != n) throw error(t, "expected '" + n + "', found " + describe(t));
  }

  Binding lookup(const Token& t) {
    if (t.kind != Tok::Name) throw error(t, "expected a variable or rasp.tokens/indices/length, found " + describe(t));
    if (t.text == "rasp.tokens") return {kTokens, false};
    if (t.text == "rasp.indices") return {kIndices, false};
    if (t.text == "rasp.length") return {kLength, false};
    auto it = names_.find(t.text);
    if (it == names_.end()) {
      if (t.text.rfind("rasp.", 0) == 0)
        throw error(t, "expected a variable or rasp.tokens/indices/length, found '" + t.text +
                           "' (one operation per statement)");
      throw error(t, "undefined variable '" + t.text + "'");
    }
    return it->second;
  }
  Ref sop_ref() {
    const Token t = next();
    const Binding b = lookup(t);
    if (b.selector) throw error(t, "'" + t.text + "' is a selector; an s-op is needed here");
    return b.ref;
  }
  Ref selector_ref() {
    const Token t = next();
    const Binding b = lookup(t);
    if (!b.selector) throw error(t, "'" + t.text + "' is an s-op; a selector is needed here");
    return b.ref;
  }
  int64_t integer(int64_t lo, int64_t hi, const std::string& what) {
    Token t = next();
    bool negative = false;
    if (t.kind == Tok::Punct && t.text == "-") {
      negative = true;
      t = next();
    }
    if (t.kind != Tok::Number || t.text.find('.') != std::string::npos || t.text.size() > 6)
      throw error(t, what + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                         ", found " + describe(t));
    const int64_t v = (negative ? -1 : 1) * std::stoll(t.text);
    if (v < lo || v > hi)
      throw error(t, what + " must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", found " +
                         std::to_string(v));
    return v;
  }
  int function(int arity) {
    const Token t = next();
    if (t.kind != Tok::Lambda) throw error(t, "expected a lambda, found " + describe(t));
    const int f = find_map_function(t.text);
    if (f < 0) throw error(t, "unknown map function '" + t.text + "' (not in the function library)");
    if (map_functions()[static_cast<size_t>(f)].arity != arity)
      throw error(t, "'" + t.text + "' takes " + std::to_string(map_functions()[static_cast<size_t>(f)].arity) +
                         " argument(s); this operation needs " + std::to_string(arity));
    return f;
  }

  // One operation, optionally inside one rasp.numerical(...) or rasp.categorical(...).
  Statement statement(bool encoding_allowed = true) {
    const Token head = next();
    if (head.kind != Tok::Name) throw error(head, "expected a rasp operation, found " + describe(head));
    if (head.text == "rasp.numerical" || head.text == "rasp.categorical") {
      if (!encoding_allowed) throw error(head, "one encoding per statement");
      expect_punct("(");
      const Token inner = peek();
      Statement s = statement(/*encoding_allowed=*/false);
      if (is_selector(s.op)) throw error(inner, "a selector has no encoding");
      s.encoding = head.text == "rasp.numerical" ? Encoding::Numerical : Encoding::Categorical;
      expect_punct(")");
      return s;
    }
    Statement s;
    if (head.text == "rasp.Map") {
      s.op = Op::Map;
      expect_punct("(");
      s.fn = function(1);
      expect_punct(",");
      s.a = sop_ref();
    } else if (head.text == "rasp.SequenceMap") {
      s.op = Op::SequenceMap;
      expect_punct("(");
      s.fn = function(2);
      expect_punct(",");
      s.a = sop_ref();
      expect_punct(",");
      s.b = sop_ref();
    } else if (head.text == "rasp.LinearSequenceMap") {
      s.op = Op::LinearSequenceMap;
      expect_punct("(");
      s.a = sop_ref();
      expect_punct(",");
      s.b = sop_ref();
      expect_punct(",");
      s.coef_a = integer(kCoefMin, kCoefMax, "a LinearSequenceMap factor");
      expect_punct(",");
      s.coef_b = integer(kCoefMin, kCoefMax, "a LinearSequenceMap factor");
    } else if (head.text == "rasp.Select") {
      s.op = Op::Select;
      expect_punct("(");
      s.a = sop_ref();
      expect_punct(",");
      s.b = sop_ref();
      expect_punct(",");
      const Token c = next();
      bool found = false;
      for (int k = 0; k < 8; ++k) {
        const auto cmp = static_cast<Comparison>(k);
        if (c.kind == Tok::Name && c.text == "rasp.Comparison." + std::string(comparison_name(cmp))) {
          s.cmp = cmp;
          found = true;
        }
      }
      if (!found) throw error(c, "expected rasp.Comparison.EQ/LT/LEQ/GT/GEQ/NEQ/TRUE/FALSE, found " + describe(c));
    } else if (head.text == "rasp.Aggregate") {
      s.op = Op::Aggregate;
      expect_punct("(");
      s.a = selector_ref();
      expect_punct(",");
      s.b = sop_ref();
      if (peek().kind == Tok::Punct && peek().text == ",") {
        next();
        expect_name("default");
        expect_punct("=");
        if (peek().kind == Tok::Name && peek().text == "None") {
          next();
        } else {
          s.default_value = integer(kDefaultMin, kDefaultMax, "an Aggregate default");
        }
      }
    } else if (head.text == "rasp.SelectorWidth") {
      s.op = Op::SelectorWidth;
      expect_punct("(");
      s.a = selector_ref();
    } else {
      throw error(head, "expected a rasp operation (Map, SequenceMap, LinearSequenceMap, Select, Aggregate, "
                        "SelectorWidth), found " + describe(head));
    }
    expect_punct(")");
    return s;
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  std::map<std::string, Binding> names_;
};

}  // namespace

Program parse(std::string_view text) { return Parser(Lexer(text).run()).run(); }

}  // namespace mm::rasp
