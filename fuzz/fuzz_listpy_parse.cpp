// Fuzz: the list-Python parser. Whatever it accepts must print and parse back to the same program,
// tokenize and detokenize back to it, and run without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "fuzz/check.h"
#include "listpy/listpy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mm;
  listpy::Program p;
  try {
    p = listpy::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const Error&) {
    return 0;
  }
  MM_FUZZ_CHECK(listpy::parse(listpy::print(p)) == p);
  MM_FUZZ_CHECK(listpy::detokenize(listpy::tokenize(p)) == p);
  for (const Input& x : fuzz_inputs()) {
    try {
      MM_FUZZ_CHECK(listpy::evaluate(p, x).size() == x.size());
    } catch (const EvalError&) {
    }
  }
  return 0;
}
