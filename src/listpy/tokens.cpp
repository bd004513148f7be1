// Tokens of list-Python: the lexemes of the canonical text, so that the detokenizer is the parser run
// on token strings instead of text. Reversible by construction.
#include <algorithm>
#include <cctype>

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

Program detokenize(std::span<const std::string> tokens) {
  const auto& vocab = vocabulary();
  std::vector<Lexeme> lx;
  lx.reserve(tokens.size() + 1);
  for (size_t k = 0; k < tokens.size(); ++k) {
    const std::string& t = tokens[k];
    const int pos = static_cast<int>(k + 1);
    if (std::find(vocab.begin() + 3, vocab.end(), t) == vocab.end())
      throw ParseError(0, pos, "'" + t + "' is not a list-Python token");
    Lex kind = Lex::Op;
    if (t == "<nl>") kind = Lex::Newline;
    else if (t == "<indent>") kind = Lex::Indent;
    else if (t == "<dedent>") kind = Lex::Dedent;
    else if (std::isdigit(static_cast<unsigned char>(t[0]))) kind = Lex::Number;
    else if (std::isalpha(static_cast<unsigned char>(t[0])) || t[0] == '_') kind = Lex::Name;
    lx.push_back({kind, t, 0, pos});
  }
  lx.push_back({Lex::End, "", 0, static_cast<int>(tokens.size() + 1)});
  return parse_lexemes(lx);
}

// The parser reads left to right and reports an error at the first lexeme that cannot continue a
// program; an error at the end of input means "not finished yet". So a token may follow a prefix when
// the prefix plus that token either is a program or fails only at its end. The grammar is finite (loops,
// bodies and nesting are bounded), so every allowed token leads on to a complete program.
std::vector<std::string> next_tokens(std::span<const std::string> prefix) {
  std::vector<std::string> seq(prefix.begin(), prefix.end());
  auto viable = [&](bool* complete) {
    try {
      detokenize(seq);
      *complete = true;
      return true;
    } catch (const ParseError& e) {
      *complete = false;
      return e.column == static_cast<int>(seq.size() + 1);
    }
  };
  bool complete = false;
  if (!viable(&complete)) {
    try {
      detokenize(seq);
    } catch (const ParseError& e) {
      throw ParseError(0, e.column, "not a prefix of a list-Python program: " + e.detail);
    }
  }
  std::vector<std::string> out;
  if (complete) out.emplace_back("<eos>");
  const auto& vocab = vocabulary();
  seq.emplace_back();
  for (size_t k = 3; k < vocab.size(); ++k) {
    seq.back() = vocab[k];
    bool done = false;
    if (viable(&done)) out.push_back(vocab[k]);
  }
  return out;
}

}  // namespace mm::listpy
