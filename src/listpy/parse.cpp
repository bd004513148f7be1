// The list-Python lexer and parser. The parser accepts exactly the family (see ast.h), whatever the
// spacing within a line and whatever consistent indentation; it does not run Python.
#include <cctype>
#include <string>

#include "core/error.h"
#include "listpy/listpy.h"
#include "listpy/syntax.h"

namespace mm::listpy {

std::vector<Lexeme> lex(std::string_view src) {
  std::vector<Lexeme> out;
  std::vector<int> indents = {0};
  size_t pos = 0;
  size_t line_start = 0;  // offset of the current line's first character
  int line = 1;
  int depth = 0;  // bracket nesting: newlines inside brackets do not end the line
  bool at_line_start = true;
  while (pos < src.size()) {
    if (at_line_start && depth == 0) {
      int width = 0;
      while (pos < src.size() && (src[pos] == ' ' || src[pos] == '\t')) {
        if (src[pos] == '\t') throw ParseError(line, width + 1, "tabs are not allowed in indentation; use spaces");
        ++width;
        ++pos;
      }
      if (pos >= src.size()) break;
      if (src[pos] == '\n' || src[pos] == '#' || src[pos] == '\r') {  // blank or comment-only line
        while (pos < src.size() && src[pos] != '\n') ++pos;
        ++pos;
        ++line;
        line_start = pos;
        continue;
      }
      if (width > indents.back()) {
        indents.push_back(width);
        out.push_back({Lex::Indent, "<indent>", line, width + 1});
      } else {
        while (width < indents.back()) {
          indents.pop_back();
          out.push_back({Lex::Dedent, "<dedent>", line, width + 1});
        }
        if (width != indents.back())
          throw ParseError(line, width + 1, "unindent does not match any outer indentation level");
      }
      at_line_start = false;
    }
    const char c = src[pos];
    const int col = static_cast<int>(pos - line_start + 1);
    if (c == '\n') {
      if (depth == 0) {
        out.push_back({Lex::Newline, "<nl>", line, col});
        at_line_start = true;
      }
      ++line;
      ++pos;
      line_start = pos;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      ++pos;
    } else if (c == '#') {
      while (pos < src.size() && src[pos] != '\n') ++pos;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t e = pos;
      while (e < src.size() && (std::isalnum(static_cast<unsigned char>(src[e])) || src[e] == '_')) ++e;
      out.push_back({Lex::Name, std::string(src.substr(pos, e - pos)), line, col});
      pos = e;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t e = pos;
      while (e < src.size() && std::isdigit(static_cast<unsigned char>(src[e]))) ++e;
      out.push_back({Lex::Number, std::string(src.substr(pos, e - pos)), line, col});
      pos = e;
    } else if ((c == '=' || c == '!') && pos + 1 < src.size() && src[pos + 1] == '=') {
      out.push_back({Lex::Op, std::string(src.substr(pos, 2)), line, col});
      pos += 2;
    } else if (std::string_view("()[]:,=*+-%").find(c) != std::string_view::npos) {
      if (c == '(' || c == '[') ++depth;
      if ((c == ')' || c == ']') && depth > 0) --depth;
      out.push_back({Lex::Op, std::string(1, c), line, col});
      ++pos;
    } else {
      throw ParseError(line, col, "unexpected character '" + std::string(1, c) + "'");
    }
  }
  if (!out.empty() && out.back().kind != Lex::Newline && out.back().kind != Lex::Dedent)
    out.push_back({Lex::Newline, "<nl>", line, 1});
  while (indents.size() > 1) {
    indents.pop_back();
    out.push_back({Lex::Dedent, "<dedent>", line, 1});
  }
  out.push_back({Lex::End, "", line, 1});
  return out;
}

namespace {

class Parser {
 public:
  // With `wants`, every token the parser tests the end of input against is appended to it: when the
  // input is a proper prefix of a program, a superset of the tokens that can come next.
  Parser(const std::vector<Lexeme>& lx, std::vector<std::string>* wants) : lx_(lx), wants_(wants) {}

  Program run() {
    Program p;
    for (const char* w : {"def", "random_function", "(", "arr", ")", ":", "<nl>", "<indent>", "n", "=", "len", "(",
                          "arr", ")", "<nl>", "out", "=", "[", "0", "]", "*", "n", "<nl>"})
      expect(w);
    while (at("for")) {
      if (static_cast<int>(p.loops.size()) == kMaxLoops)
        throw error(peek(), "at most " + std::to_string(kMaxLoops) + " outer loops");
      p.loops.push_back(for_loop('i'));
    }
    if (p.loops.empty()) throw error(peek(), "expected 'for' (at least one loop), found " + describe(peek()));
    for (const char* w : {"return", "out", "<nl>", "<dedent>"}) expect(w);
    if (peek().kind != Lex::End) throw error(peek(), "nothing may follow `return out`");
    return p;
  }

 private:
  const Lexeme& peek() const { return lx_[pos_]; }
  const Lexeme& next() { return lx_[pos_ < lx_.size() - 1 ? pos_++ : pos_]; }
  void want(std::string w) {
    if (wants_) wants_->push_back(std::move(w));
  }
  // Whether the current lexeme is `w`; at the end of input, `w` is recorded as wanted.
  bool at(const char* w) {
    if (peek().kind == Lex::End) {
      want(w);
      return false;
    }
    return peek().text == w;
  }
  bool at_dedent() {
    if (peek().kind == Lex::End) want("<dedent>");
    return peek().kind == Lex::Dedent;
  }
  static std::string describe(const Lexeme& t) {
    switch (t.kind) {
      case Lex::Newline: return "end of line";
      case Lex::Indent: return "an indent";
      case Lex::Dedent: return "a dedent";
      case Lex::End: return "end of input";
      default: return "'" + t.text + "'";
    }
  }
  static ParseError error(const Lexeme& t, const std::string& what) { return ParseError(t.line, t.column, what); }
  void expect(const std::string& w) {
    const Lexeme& t = next();
    if (t.kind == Lex::End) want(w);
    if (t.text != w || t.kind == Lex::End) {
      const std::string want = w == "<nl>" ? "end of line" : w == "<indent>" ? "an indented block"
                               : w == "<dedent>" ? "the end of the block" : "'" + w + "'";
      throw error(t, "expected " + want + ", found " + describe(t));
    }
  }
  int number(int lo, int hi, const std::string& what) {
    const Lexeme& t = next();
    if (t.kind == Lex::End)
      for (int v = lo; v <= hi && v <= lo + 999; ++v) want(std::to_string(v));
    if (t.kind != Lex::Number || t.text.size() > 3)
      throw error(t, "expected " + what + " (" + std::to_string(lo) + ".." + std::to_string(hi) + "), found " + describe(t));
    const int v = std::stoi(t.text);
    if (v < lo || v > hi)
      throw error(t, what + " must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", found " + t.text);
    return v;
  }
  void expect_var(char var) {
    const Lexeme& t = next();
    if (t.kind == Lex::End) want(std::string(1, var));
    if (t.text != std::string(1, var))
      throw error(t, "expected '" + std::string(1, var) + "' (the loop variable here), found " + describe(t));
  }
  // (v), (v + 1), (v - 1)
  int index(char var) {
    expect("(");
    expect_var(var);
    int offset = 0;
    const bool plus = at("+"), minus = at("-");  // both asked: at the end of input, both are wanted
    if (plus || minus) {
      next();
      const int k = number(1, 1, "an index offset");
      offset = minus ? -k : k;
    }
    expect(")");
    return offset;
  }

  Stmt for_loop(char var) {
    Stmt s;
    s.kind = StmtKind::For;
    s.var = var;
    expect("for");
    expect_var(var);
    expect("in");
    expect("range");
    expect("(");
    s.start = number(0, kStartMax, "a range start");
    expect(",");
    if (at("n")) {
      next();
      s.end = EndKind::N;
      if (at("-")) {
        next();
        number(1, 1, "the n - 1 offset");
        s.end = EndKind::NMinus1;
      }
    } else {
      s.end = EndKind::Const;
      s.end_const = number(kEndConstMin, kEndConstMax, "a range end");
    }
    expect(")");
    expect(":");
    expect("<nl>");
    expect("<indent>");
    bool nested = false;
    while (!at_dedent()) {
      if (static_cast<int>(s.body.size()) == kMaxBody)
        throw error(peek(), "at most " + std::to_string(kMaxBody) + " statements in a loop body");
      if (at("for")) {
        if (var != 'i') throw error(peek(), "loops nest only one level deep");
        if (nested) throw error(peek(), "at most one nested loop per loop");
        nested = true;
        s.body.push_back(for_loop('j'));
      } else if (at("if")) {
        s.body.push_back(conditional(var));
      } else {
        s.body.push_back(assignment(var));
      }
    }
    if (s.body.empty()) throw error(peek(), "a loop body needs a statement");
    expect("<dedent>");
    return s;
  }

  Stmt conditional(char var) {
    Stmt s;
    s.kind = StmtKind::If;
    s.var = var;
    expect("if");
    expect("arr");
    expect("[");
    expect("(");
    expect_var(var);
    expect(")");
    expect("]");
    expect("%");
    s.modulus = number(2, 3, "a modulus");
    const Lexeme& cmp = next();
    if (cmp.kind == Lex::End) {
      want("==");
      want("!=");
    }
    if (cmp.text != "==" && cmp.text != "!=") throw error(cmp, "expected '==' or '!=', found " + describe(cmp));
    s.equal = cmp.text == "==";
    number(0, 0, "the compared value");
    expect(":");
    expect("<nl>");
    expect("<indent>");
    while (!at_dedent()) {
      if (static_cast<int>(s.body.size()) == kMaxIfBody)
        throw error(peek(), "at most " + std::to_string(kMaxIfBody) + " assignments under an if");
      s.body.push_back(assignment(var));
    }
    if (s.body.empty()) throw error(peek(), "an if needs an assignment");
    expect("<dedent>");
    return s;
  }

  Stmt assignment(char var) {
    Stmt s;
    s.kind = StmtKind::Assign;
    s.var = var;
    if (!at("out"))
      throw error(peek(), "expected a statement (an assignment to out, 'if' or 'for'), found " + describe(peek()));
    expect("out");
    expect("[");
    s.out_offset = index(var);
    for (const char* w : {"%", "len", "(", "out", ")", "]", "="}) expect(w);
    if (at("-")) {
      next();
      s.negate = true;
    }
    expect("arr");
    expect("[");
    s.arr_offset = index(var);
    for (const char* w : {"%", "len", "(", "arr", ")", "]", "<nl>"}) expect(w);
    return s;
  }

  const std::vector<Lexeme>& lx_;
  std::vector<std::string>* wants_;
  size_t pos_ = 0;
};

}  // namespace

Program parse_lexemes(const std::vector<Lexeme>& lexemes, std::vector<std::string>* wants) {
  return Parser(lexemes, wants).run();
}

Program parse(std::string_view text) { return parse_lexemes(lex(text)); }

}  // namespace mm::listpy
