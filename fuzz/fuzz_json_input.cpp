// Fuzz: the command line's JSON input parser, and the domain check after it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/domain.h"
#include "core/error.h"
#include "core/json_io.h"
#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mm;
  try {
    const Input x = parse_input_json(std::string_view(reinterpret_cast<const char*>(data), size));
    InputDomain d;
    (void)d.why_not_contained(x);
  } catch (const Error&) {
  }
  return 0;
}
