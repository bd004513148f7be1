// Reading the JSON the user types on the command line. Validates fully: whatever comes back is
// well-formed; whatever is not gets an mm::Error that says what is wrong.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/domain.h"

namespace mm {

// A JSON array of integers, e.g. "[1, 2, 3]". Throws mm::Error ("--input is not a JSON array of
// integers: element 2 is "a"").
Input parse_input_json(std::string_view text);

// An input as the JSON --input takes: "[1, 2, 3]".
std::string input_to_json(std::span<const int64_t> input);

// The whole content of a file ("-" reads standard input). Throws mm::Error if it cannot be read.
std::string read_text_file(const std::string& path);
// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename, so a reader never sees
// half a file. Throws mm::Error naming the path.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace mm
