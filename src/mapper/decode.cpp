// Grammar-constrained greedy and beam decoding (see decode.h). The decoder is re-run on the whole prefix
// at each step (no key/value cache): programs are at most a few hundred tokens and the decoder is small.
#include "mapper/decode.h"

#include <algorithm>
#include <cmath>

#include "core/language.h"

namespace mm {

namespace {

// Near the end of the budget: the one allowed token the language prefers for closing, else every allowed
// token but the openers (else all allowed).
std::vector<int> closing_choice(const Language& lang, const std::vector<int>& allowed) {
  const auto& vocab = lang.vocabulary();
  for (const std::string& t : lang.closing_preference())
    for (int id : allowed)
      if (vocab[static_cast<size_t>(id)] == t) return {id};
  std::vector<int> out;
  for (int id : allowed) {
    const auto& o = lang.openers();
    if (std::find(o.begin(), o.end(), vocab[static_cast<size_t>(id)]) == o.end()) out.push_back(id);
  }
  return out.empty() ? allowed : out;
}

}  // namespace

std::vector<Decoded> decode_program(Mapper& mapper, const Memory& memory, int beam) {
  torch::NoGradGuard no_grad;
  const Language& lang = language_by_name(mapper->config().language);
  const auto& vocab = lang.vocabulary();
  const auto device = memory.x.device();
  beam = std::max(beam, 1);
  struct Hyp {
    std::vector<int64_t> ids;  // <bos> then program token ids
    double logprob = 0;
  };
  std::vector<Hyp> alive = {{{1}, 0.0}};
  std::vector<Decoded> finished;
  auto tokens_of = [&](const Hyp& h) {
    std::vector<std::string> t;
    for (size_t k = 1; k < h.ids.size(); ++k) t.push_back(vocab[static_cast<size_t>(h.ids[k])]);
    return t;
  };
  for (int len = 1; len <= mapper->config().max_tokens && !alive.empty(); ++len) {
    // All hypotheses have the same length: one batched decoder call.
    const int64_t B = static_cast<int64_t>(alive.size());
    std::vector<int64_t> flat;
    for (const Hyp& h : alive) flat.insert(flat.end(), h.ids.begin(), h.ids.end());
    const auto input = torch::from_blob(flat.data(), {B, len}, torch::kInt64).clone().to(device);
    const Memory m{memory.x.expand({B, memory.x.size(1), memory.x.size(2)}), memory.mask.expand({B, memory.mask.size(1)})};
    const auto logits = mapper->decode(input, m).select(1, len - 1).to(torch::kCPU);  // (B, V)
    struct Cand {
      size_t hyp;
      int64_t id;
      double logprob;
    };
    std::vector<Cand> cands;
    for (int64_t b = 0; b < B; ++b) {
      const Hyp& h = alive[static_cast<size_t>(b)];
      std::vector<int> allowed = lang.next_token_ids(tokens_of(h));
      if (len + lang.closing_margin() >= mapper->config().max_tokens) allowed = closing_choice(lang, allowed);
      const auto row = logits[b];
      const auto acc = row.accessor<float, 1>();
      double mx = -1e30;
      for (int id : allowed) mx = std::max(mx, static_cast<double>(acc[id]));
      double z = 0;
      for (int id : allowed) z += std::exp(static_cast<double>(acc[id]) - mx);
      const double logz = mx + std::log(z);
      for (int id : allowed) cands.push_back({static_cast<size_t>(b), id, h.logprob + acc[id] - logz});
    }
    std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.logprob > b.logprob; });
    std::vector<Hyp> next;
    for (const Cand& c : cands) {
      if (static_cast<int>(next.size()) + static_cast<int>(finished.size()) >= beam) break;
      Hyp h = alive[c.hyp];
      if (c.id == 2) {
        finished.push_back({tokens_of(h), c.logprob});
        continue;
      }
      h.ids.push_back(c.id);
      h.logprob = c.logprob;
      next.push_back(std::move(h));
    }
    alive = std::move(next);
    if (static_cast<int>(finished.size()) >= beam) break;  // the live beam shrinks as hypotheses finish
  }
  std::sort(finished.begin(), finished.end(), [](const Decoded& a, const Decoded& b) { return a.logprob > b.logprob; });
  if (static_cast<int>(finished.size()) > beam) finished.resize(static_cast<size_t>(beam));
  return finished;
}

}  // namespace mm
