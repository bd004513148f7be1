// Shared by the fuzz harnesses: a check that aborts (so libFuzzer records the input) and a few inputs
// to run accepted programs on.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/domain.h"

#define MM_FUZZ_CHECK(cond)                                                              \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "fuzz check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace mm {

inline const std::vector<Input>& fuzz_inputs() {
  static const std::vector<Input> xs = {{0}, {4, 1}, {2, 2, 3}, {0, 1, 2, 3, 4}, {9, 0, 7, 3, 3, 1, 8, 5}};
  return xs;
}

}  // namespace mm
