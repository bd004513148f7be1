// Fuzz: the RASP text parser. Whatever it accepts must print and parse back to the same program, tokenize
// and detokenize back to its canonical form, and evaluate without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "fuzz/check.h"
#include "rasp/rasp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mm;
  rasp::Program p;
  try {
    p = rasp::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const Error&) {
    return 0;  // rejected cleanly
  }
  MM_FUZZ_CHECK(rasp::parse(rasp::print(p)) == p);
  const rasp::Program c = rasp::canonicalize(p);
  MM_FUZZ_CHECK(rasp::detokenize(rasp::tokenize(p)) == c);
  MM_FUZZ_CHECK(rasp::print(rasp::parse(rasp::print(c))) == rasp::print(c));
  for (const Input& x : fuzz_inputs()) {
    try {
      const auto a = rasp::evaluate(p, x), b = rasp::evaluate(c, x);
      MM_FUZZ_CHECK(values_to_json(a) == values_to_json(b));  // canonical form computes the same
    } catch (const EvalError&) {
    }
  }
  return 0;
}
