// Formatting of positioned errors.
#include "core/error.h"

namespace mm {

static std::string format_position(int line, int column, const std::string& what) {
  if (line == 0) return "token " + std::to_string(column) + ": " + what;
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + what;
}

ParseError::ParseError(int line_, int column_, const std::string& what)
    : Error(format_position(line_, column_, what)), line(line_), column(column_), detail(what) {}

}  // namespace mm
