// The safetensors file format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the
// tensor bytes. We write only F32 tensors; we read every file as untrusted and check everything before
// touching a byte of data. No torch here: model code converts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mm {

struct Tensor {
  std::vector<int64_t> shape;  // row-major
  std::vector<float> data;     // numel(shape) values
  int64_t numel() const;
};

struct SafeTensors {
  std::map<std::string, Tensor> tensors;            // by name
  std::map<std::string, std::string> metadata;      // "__metadata__"
};

constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;  // 100 MB, as the reference implementation

// Bytes of a file: tensors in name order, contiguous, no padding.
std::string safetensors_encode(const SafeTensors& st);
// Throws mm::Error naming what is wrong: truncated data, a header length past the end or over 100 MB,
// invalid JSON, an unknown or non-F32 dtype, a shape whose byte size disagrees with its offsets, offsets
// out of range, overlapping, out of order or leaving holes, metadata that is not strings.
// `what` names the source in messages (a path, "view 12").
SafeTensors safetensors_decode(std::string_view bytes, const std::string& what);

void safetensors_write_file(const std::string& path, const SafeTensors& st);  // atomic: temp + rename
SafeTensors safetensors_read_file(const std::string& path);

}  // namespace mm
