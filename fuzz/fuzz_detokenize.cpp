// Fuzz: both detokenizers, on random token sequences: each input byte picks a token of the language's
// vocabulary (the first byte picks the language: even RASP, odd list-Python; RASP spelled output first when
// its second bit is set too). Whatever is accepted must tokenize back to a sequence
// that detokenizes to the same canonical program, and print text that parses to it. The grammar's
// next-token sets on the same sequence: refused cleanly, or never empty, and every token they allow
// keeps the sequence a prefix.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/language.h"
#include "fuzz/check.h"
#include "listpy/listpy.h"
#include "rasp/rasp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mm;
  if (size == 0) return 0;
  const bool rasp_lang = data[0] % 2 == 0;
  const auto& vocab = rasp_lang ? rasp::vocabulary() : listpy::vocabulary();
  std::vector<std::string> tokens;
  for (size_t i = 1; i < size; ++i) tokens.push_back(vocab[data[i] % vocab.size()]);
  const bool output_first = rasp_lang && (data[0] / 2) % 2 == 1;
  const Language& lang = language_by_name(rasp_lang ? "rasp" : "python").in_order(output_first ? "output-first" : "canonical");
  std::vector<int> next;
  bool prefix = true;
  try {
    next = lang.next_token_ids(tokens);
  } catch (const ParseError&) {
    prefix = false;
  }
  if (prefix) {
    MM_FUZZ_CHECK(!next.empty());
    for (int id : {next.front(), next.back()}) {
      if (id == 2) continue;  // <eos>: the sequence is a program (checked below)
      std::vector<std::string> longer = tokens;
      longer.emplace_back(vocab[static_cast<size_t>(id)]);
      bool ok = true;
      try {
        ok = !lang.next_token_ids(longer).empty();
      } catch (const ParseError&) {
        ok = false;
      }
      MM_FUZZ_CHECK(ok);  // an allowed token keeps it a prefix of some program
    }
  }
  try {
    if (output_first) {
      const rasp::Program p = rasp::detokenize_output_first(tokens);
      const rasp::Program c = rasp::canonicalize(p);
      const std::vector<std::string> spelled = rasp::tokenize_output_first(p);
      MM_FUZZ_CHECK(rasp::canonicalize(rasp::detokenize_output_first(spelled)) == c);
      MM_FUZZ_CHECK(spelled.size() == rasp::tokenize(c).size());
    } else if (rasp_lang) {
      const rasp::Program p = rasp::detokenize(tokens);
      const rasp::Program c = rasp::canonicalize(p);
      MM_FUZZ_CHECK(rasp::detokenize(rasp::tokenize(p)) == c);
      MM_FUZZ_CHECK(rasp::canonicalize(rasp::parse(rasp::print(p))) == c);
    } else {
      const listpy::Program p = listpy::detokenize(tokens);
      MM_FUZZ_CHECK(listpy::tokenize(p) == tokens);
      MM_FUZZ_CHECK(listpy::parse(listpy::print(p)) == p);
    }
  } catch (const Error&) {
  }
  return 0;
}
