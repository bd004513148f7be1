// safetensors encoding and validating decoding.
#include "core/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_io.h"

namespace mm {

static_assert(std::endian::native == std::endian::little, "safetensors is little-endian; so are we");

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string safetensors_encode(const SafeTensors& st) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : st.tensors) {
    if (static_cast<size_t>(t.numel()) != t.data.size())
      throw std::logic_error("safetensors_encode: tensor " + name + " has a shape that disagrees with its data");
    const uint64_t bytes = t.data.size() * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!st.metadata.empty()) header["__metadata__"] = st.metadata;
  std::string json = header.dump();
  while (json.size() % 8) json += ' ';  // align the data to 8 bytes, as the reference writer does
  std::string out(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);
  out += json;
  out.reserve(out.size() + offset);
  for (const auto& [name, t] : st.tensors)
    out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
  return out;
}

SafeTensors safetensors_decode(std::string_view bytes, const std::string& what) {
  auto fail = [&](const std::string& why) { return Error(what + ": not a valid safetensors file: " + why); };
  if (bytes.size() < 8) throw fail("shorter than the 8-byte header length");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kMaxSafetensorsHeader) throw fail("header length " + std::to_string(n) + " is over 100 MB");
  if (n > bytes.size() - 8) throw fail("header length " + std::to_string(n) + " runs past the end of the file");
  const std::string_view header_text = bytes.substr(8, n);
  const std::string_view data = bytes.substr(8 + n);
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) throw fail("header is not valid JSON");
  if (!header.is_object()) throw fail("header is not a JSON object");

  SafeTensors st;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) throw fail("__metadata__ is not an object");
      for (auto m = e.begin(); m != e.end(); ++m) {
        if (!m.value().is_string()) throw fail("metadata value '" + m.key() + "' is not a string");
        st.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw fail("tensor '" + name + "' lacks dtype, shape or data_offsets");
    if (!e["dtype"].is_string()) throw fail("tensor '" + name + "' has a dtype that is not a string");
    const std::string dtype = e["dtype"].get<std::string>();
    static const std::vector<std::string> known = {"BOOL", "U8", "I8", "U16", "I16", "F16", "BF16", "U32", "I32",
                                                   "F32", "U64", "I64", "F64", "F8_E4M3", "F8_E5M2"};
    if (std::find(known.begin(), known.end(), dtype) == known.end())
      throw fail("tensor '" + name + "' has unknown dtype '" + dtype + "'");
    if (dtype != "F32") throw fail("tensor '" + name + "' is " + dtype + "; modelmap reads F32 only");
    const auto& shape = e["shape"];
    if (!shape.is_array()) throw fail("tensor '" + name + "' has a shape that is not an array");
    Tensor t;
    uint64_t numel = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) throw fail("tensor '" + name + "' has a dimension that is not a non-negative integer");
      const uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > (uint64_t{1} << 40) / v) throw fail("tensor '" + name + "' is absurdly large");
      numel *= v;
      t.shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw fail("tensor '" + name + "' has data_offsets that are not two non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end) throw fail("tensor '" + name + "' has data_offsets that end before they begin");
    if (end > data.size()) throw fail("tensor '" + name + "' has data_offsets past the end of the data");
    if (end - begin != numel * sizeof(float))
      throw fail("tensor '" + name + "' holds " + std::to_string(end - begin) + " bytes but F32 x shape needs " +
                 std::to_string(numel * sizeof(float)));
    spans.push_back({begin, end, name});
    st.tensors[name] = std::move(t);
  }
  // The data must be covered exactly: in order, no overlap, no hole, nothing after the last tensor.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Span& s : spans) {
    if (s.begin < at) throw fail("tensor '" + s.name + "' overlaps the tensor before it");
    if (s.begin > at) throw fail("a hole in the data before tensor '" + s.name + "'");
    at = s.end;
  }
  if (at != data.size()) throw fail("the data has " + std::to_string(data.size() - at) + " bytes no tensor claims");
  for (const Span& s : spans) {
    Tensor& t = st.tensors[s.name];
    t.data.resize((s.end - s.begin) / sizeof(float));
    if (!t.data.empty()) std::memcpy(t.data.data(), data.data() + s.begin, s.end - s.begin);
  }
  return st;
}

void safetensors_write_file(const std::string& path, const SafeTensors& st) {
  write_file_atomic(path, safetensors_encode(st));
}

SafeTensors safetensors_read_file(const std::string& path) { return safetensors_decode(read_text_file(path), path); }

}  // namespace mm
