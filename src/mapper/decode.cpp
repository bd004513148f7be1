// Grammar-constrained greedy and beam decoding (see decode.h), one token at a time over the decoder's
// key/value cache (MapperImpl::step); beam search reorders the cache to each step's surviving hypotheses.
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
  DecoderState state = mapper->start(memory);
  for (int len = 1; len <= mapper->config().max_tokens && !alive.empty(); ++len) {
    // All hypotheses have the same length: one batched decoder step on their last tokens.
    const int64_t B = static_cast<int64_t>(alive.size());
    std::vector<int64_t> last;
    for (const Hyp& h : alive) last.push_back(h.ids.back());
    const auto input = torch::from_blob(last.data(), {B}, torch::kInt64).clone().to(device);
    const auto logits = mapper->step(input, state).to(torch::kCPU);  // (B, V)
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
    std::vector<int64_t> parents;
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
      parents.push_back(static_cast<int64_t>(c.hyp));
    }
    alive = std::move(next);
    if (!alive.empty()) state.reorder(torch::tensor(parents, torch::kInt64).to(device));
    if (static_cast<int>(finished.size()) >= beam) break;  // the live beam shrinks as hypotheses finish
  }
  std::sort(finished.begin(), finished.end(), [](const Decoded& a, const Decoded& b) { return a.logprob > b.logprob; });
  if (static_cast<int>(finished.size()) > beam) finished.resize(static_cast<size_t>(beam));
  return finished;
}

}  // namespace mm
