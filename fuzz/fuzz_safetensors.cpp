// Fuzz: the safetensors reader and the subject-model loader on arbitrary bytes. An accepted file must
// encode and decode to the same tensors; an accepted model must predict without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "core/safetensors.h"
#include "fuzz/check.h"
#include "subject/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mm;
  SafeTensors st;
  try {
    st = safetensors_decode(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const Error&) {
    return 0;
  }
  const SafeTensors again = safetensors_decode(safetensors_encode(st), "fuzz");
  MM_FUZZ_CHECK(again.tensors.size() == st.tensors.size() && again.metadata == st.metadata);
  for (const auto& [name, t] : st.tensors) MM_FUZZ_CHECK(again.tensors.at(name).shape == t.shape);
  try {
    const SubjectModel m = subject_from_safetensors(st, "fuzz");
    if (m.arch.d_model * m.arch.n_layers > 4096) return 0;  // a valid but huge model: slow, not wrong
    for (const Input& x : fuzz_inputs())
      if (m.domain.why_not_contained(x).empty()) MM_FUZZ_CHECK(subject_predict(m, x).size() == x.size());
  } catch (const Error&) {
  }
  return 0;
}
