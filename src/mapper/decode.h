// Decoding a program from a subject's weights: greedy (beam 1) or beam search, both constrained by the
// language's grammar (Language::next_token_ids) so that every finished sequence detokenizes. Scores are
// sums of log-probabilities renormalised over the allowed tokens.
#pragma once

#include <string>
#include <vector>

#include "mapper/model.h"

namespace mm {

struct Decoded {
  std::vector<std::string> tokens;  // program tokens (no <bos>, no <eos>)
  double logprob = 0;
};

// Up to `beam` finished sequences, best first, for the subject whose encoder memory is `memory` (batch
// of one). Empty only when no sequence finished within the mapper's max_tokens.
std::vector<Decoded> decode_program(Mapper& mapper, const Memory& memory, int beam);

}  // namespace mm
