// Fuzz: opening arbitrary bytes as a corpus file, then reading it as `corpus stats/list/export` do.
// Everything must be accepted or refused with an mm::Error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "core/safetensors.h"
#include "corpus/corpus.h"
#include "fuzz/check.h"
#include "subject/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mm;
  static const std::string path = "/tmp/mm_fuzz_corpus_" + std::to_string(getpid()) + ".sqlite";
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  try {
    auto c = Corpus::open(path, /*create=*/false, /*readonly=*/true);
    Statement q(c->db(), "SELECT p.id, p.language, p.split, m.params, m.status, v.id FROM views v JOIN models m ON "
                         "m.id = v.model_id JOIN programs p ON p.id = m.program_id LIMIT 50");
    while (q.step()) {
      const auto v = c->view(q.int64(5));
      if (!v) continue;
      try {
        const SubjectModel m = subject_from_safetensors(safetensors_decode(v->weights, "view"), "view");
        (void)m;
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
