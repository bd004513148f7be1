// JSON input parsing and file reading for the command line.
#include "core/json_io.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace mm {

Input parse_input_json(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error("input is not valid JSON: " + std::string(text.substr(0, 60)));
  if (!j.is_array()) throw Error("input must be a JSON array of integers, e.g. [1, 2, 3]");
  Input out;
  out.reserve(j.size());
  for (size_t k = 0; k < j.size(); ++k) {
    const auto& e = j[k];
    if (e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      throw Error("input element " + std::to_string(k) + " is " + e.dump() + ", too large");
    } else if (e.is_number_integer()) {
      out.push_back(e.get<int64_t>());
    } else if (e.is_number_float() && std::floor(e.get<double>()) == e.get<double>() &&
               std::fabs(e.get<double>()) < 1e15) {
      out.push_back(static_cast<int64_t>(e.get<double>()));  // 2.0 is the integer 2
    } else {
      throw Error("input element " + std::to_string(k) + " is " + e.dump() + ", not an integer");
    }
  }
  return out;
}

std::string read_text_file(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot read file '" + path + "'");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw Error("error while reading '" + path + "'");
  return s;
}

std::string input_to_json(std::span<const int64_t> input) {
  std::string s = "[";
  for (size_t i = 0; i < input.size(); ++i) s += (i ? ", " : "") + std::to_string(input[i]);
  return s + "]";
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error("cannot write '" + tmp + "'");
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw Error("error while writing '" + tmp + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error("cannot move '" + tmp + "' to '" + path + "': " + ec.message());
}

}  // namespace mm
