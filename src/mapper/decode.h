// Decoding a program from a subject's weights: greedy (beam 1) or beam search, both constrained by the
// language's grammar (Language::next_token_ids) so that every finished sequence detokenizes. Scores are
// sums of log-probabilities renormalised over the allowed tokens. A mapper that writes another token order
// (config.order, e.g. RASP's output-first) decodes in that order's grammar; what these functions take and
// return is canonical tokens all the same.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mapper/model.h"

namespace mm {

struct Decoded {
  std::vector<std::string> tokens;  // program tokens, canonical (no <bos>, no <eos>)
  double logprob = 0;               // under the grammar-renormalised distribution
  std::string origin;               // "beam 2", "sample 5"
};

// Up to `beam` finished sequences, best first, for the subject whose encoder memory is `memory` (batch
// of one). Empty only when no sequence finished within the mapper's max_tokens. With `statements` > 0,
// decoding is also held to programs of that many statements (Language::toward_statements; a language that
// does not count statements ignores it).
std::vector<Decoded> decode_program(Mapper& mapper, const Memory& memory, int beam, int statements = 0);

// `n` programs drawn independently from the same grammar-constrained distribution, its logits divided by
// `temperature`, with `seed`; in the order drawn (a row that did not finish within max_tokens is dropped).
std::vector<Decoded> sample_programs(Mapper& mapper, const Memory& memory, int n, double temperature, uint64_t seed);

// Up to `k` distinct candidates for verification: the greedy program (so that the most faithful of them is
// never less faithful than greedy decoding), beam search of width ceil(k/2), then samples at temperature 1
// until there are k distinct programs or three rounds of draws found none new.
std::vector<Decoded> propose_candidates(Mapper& mapper, const Memory& memory, int k, uint64_t seed);

// The log-probability of `tokens` (a program, no <bos>/<eos>) under the same grammar-renormalised
// distribution, <eos> included: what a tie between two equally faithful programs is broken by. -inf
// where a token is not allowed (or the program does not fit in max_tokens).
double program_logprob(Mapper& mapper, const Memory& memory, const std::vector<std::string>& tokens);

}  // namespace mm
