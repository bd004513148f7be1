// Tokens of list-Python: the lexemes of the canonical text, so that the detokenizer is the parser run
// on token strings instead of text. Reversible by construction.
#include <algorithm>
#include <cctype>
#include <unordered_set>

#include "core/error.h"
#include "listpy/listpy.h"
#include "listpy/syntax.h"

namespace mm::listpy {

std::vector<std::string> tokenize(const Program& program) {
  std::vector<std::string> out;
  for (const Lexeme& l : lex(print(program)))
    if (l.kind != Lex::End) out.push_back(l.text);
  return out;
}

const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> vocab = {
      "<pad>", "<bos>", "<eos>", "<nl>", "<indent>", "<dedent>",
      "def", "random_function", "arr", "n", "len", "out", "for", "i", "j", "in", "range", "if", "return",
      "(", ")", "[", "]", ":", ",", "=", "==", "!=", "*", "+", "-", "%",
      "0", "1", "2", "3", "4", "5"};
  return vocab;
}

namespace {

// Lexemes of token strings, each checked against the vocabulary.
std::vector<Lexeme> lexemes_of(std::span<const std::string> tokens) {
  static const std::unordered_set<std::string> known(vocabulary().begin() + 3, vocabulary().end());
  std::vector<Lexeme> lx;
  lx.reserve(tokens.size() + 1);
  for (size_t k = 0; k < tokens.size(); ++k) {
    const std::string& t = tokens[k];
    const int pos = static_cast<int>(k + 1);
    if (!known.count(t)) throw ParseError(0, pos, "'" + t + "' is not a list-Python token");
    Lex kind = Lex::Op;
    if (t == "<nl>") kind = Lex::Newline;
    else if (t == "<indent>") kind = Lex::Indent;
    else if (t == "<dedent>") kind = Lex::Dedent;
    else if (std::isdigit(static_cast<unsigned char>(t[0]))) kind = Lex::Number;
    else if (std::isalpha(static_cast<unsigned char>(t[0])) || t[0] == '_') kind = Lex::Name;
    lx.push_back({kind, t, 0, pos});
  }
  lx.push_back({Lex::End, "", 0, static_cast<int>(tokens.size() + 1)});
  return lx;
}

}  // namespace

Program detokenize(std::span<const std::string> tokens) { return parse_lexemes(lexemes_of(tokens)); }

// The parser reads left to right and reports an error at the first lexeme that cannot continue a
// program; an error at the end of input means "not finished yet". So a token may follow a prefix when
// the prefix plus that token either is a program or fails only at its end. The grammar is finite (loops,
// bodies and nesting are bounded), so every allowed token leads on to a complete program.
// Trying every token of the vocabulary costs a parse each; instead one parse of the prefix collects the
// tokens the parser tested the end of input against (a superset of those allowed) and only those are tried.
std::vector<std::string> next_tokens(std::span<const std::string> prefix) {
  std::vector<Lexeme> lx = lexemes_of(prefix);
  std::vector<std::string> wants;
  bool complete = false;
  try {
    parse_lexemes(lx, &wants);
    complete = true;
  } catch (const ParseError& e) {
    if (e.column != static_cast<int>(prefix.size() + 1))
      throw ParseError(0, e.column, "not a prefix of a list-Python program: " + e.detail);
  }
  std::vector<std::string> out;
  if (complete) out.emplace_back("<eos>");
  const auto& vocab = vocabulary();
  std::vector<bool> tried(vocab.size(), false);
  for (const std::string& w : wants) {
    const auto it = std::find(vocab.begin() + 3, vocab.end(), w);
    if (it != vocab.end()) tried[static_cast<size_t>(it - vocab.begin())] = true;
  }
  // prefix + token: the End lexeme becomes the token's, and a new End follows.
  const int end_pos = static_cast<int>(prefix.size() + 2);
  lx.back().column = end_pos - 1;
  lx.push_back({Lex::End, "", 0, end_pos});
  for (size_t k = 3; k < vocab.size(); ++k) {
    if (!tried[k]) continue;
    Lexeme& t = lx[lx.size() - 2];
    t = lexemes_of(std::span<const std::string>(&vocab[k], 1))[0];
    t.column = end_pos - 1;
    try {
      parse_lexemes(lx);
      out.push_back(vocab[k]);
    } catch (const ParseError& e) {
      if (e.column == end_pos) out.push_back(vocab[k]);
    }
  }
  return out;
}

}  // namespace mm::listpy
