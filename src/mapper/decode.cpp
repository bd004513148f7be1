// Grammar-constrained greedy and beam decoding (see decode.h), one token at a time over the decoder's
// key/value cache (MapperImpl::step); beam search reorders the cache to each step's surviving hypotheses.
#include "mapper/decode.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/language.h"
#include "core/rng.h"

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

// The tokens the grammar allows after `prefix` (near the end of the budget: the closing choice) and their
// log-probabilities renormalised over them, from one row of next-token logits (V).
struct Allowed {
  std::vector<int> ids;
  std::vector<double> logprobs;
};
Allowed allowed_tokens(const Language& lang, const std::vector<std::string>& prefix, const torch::Tensor& row, int len,
                       int max_tokens, int statements = 0) {
  Allowed a;
  a.ids = lang.next_token_ids(prefix);
  if (statements > 0) a.ids = lang.toward_statements(prefix, a.ids, statements);
  if (len + lang.closing_margin() >= max_tokens) a.ids = closing_choice(lang, a.ids);
  const auto acc = row.accessor<float, 1>();
  double mx = -1e30;
  for (int id : a.ids) mx = std::max(mx, static_cast<double>(acc[id]));
  double z = 0;
  for (int id : a.ids) z += std::exp(static_cast<double>(acc[id]) - mx);
  const double logz = mx + std::log(z);
  for (int id : a.ids) a.logprobs.push_back(static_cast<double>(acc[id]) - logz);
  return a;
}

// A finished sequence in the order the mapper writes, as canonical tokens (decode.h promises them).
std::vector<std::string> canonical_tokens(const MapperConfig& config, const Language& written, std::vector<std::string> tokens) {
  if (config.order == "canonical") return tokens;
  return written.detokenize(tokens)->tokens();  // the grammar allowed each token: it reads
}

}  // namespace

std::vector<Decoded> decode_program(Mapper& mapper, const Memory& memory, int beam, int statements) {
  torch::NoGradGuard no_grad;
  const Language& lang = written_language(mapper->config());
  const auto& vocab = lang.vocabulary();
  const auto device = memory.x.device();
  beam = std::max(beam, 1);
  struct Hyp {
    std::vector<int64_t> ids;  // <bos> then program token ids
    double logprob = 0;
  };
  std::vector<Hyp> alive = {{{kBosId}, 0.0}};
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
      const Allowed a = allowed_tokens(lang, tokens_of(h), logits[b], len, mapper->config().max_tokens, statements);
      for (size_t k = 0; k < a.ids.size(); ++k) cands.push_back({static_cast<size_t>(b), a.ids[k], h.logprob + a.logprobs[k]});
    }
    std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.logprob > b.logprob; });
    std::vector<Hyp> next;
    std::vector<int64_t> parents;
    for (const Cand& c : cands) {
      if (static_cast<int>(next.size()) + static_cast<int>(finished.size()) >= beam) break;
      Hyp h = alive[c.hyp];
      if (c.id == kEosId) {
        finished.push_back({canonical_tokens(mapper->config(), lang, tokens_of(h)), c.logprob, ""});
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
  for (size_t k = 0; k < finished.size(); ++k) finished[k].origin = "beam " + std::to_string(k + 1);
  return finished;
}

std::vector<Decoded> sample_programs(Mapper& mapper, const Memory& memory, int n, double temperature, uint64_t seed) {
  torch::NoGradGuard no_grad;
  if (n <= 0) return {};
  if (!(temperature > 0)) throw Error("the sampling temperature must be above 0");
  const Language& lang = written_language(mapper->config());
  const auto& vocab = lang.vocabulary();
  const auto device = memory.x.device();
  Rng rng(seed);
  struct Row {
    int index;                        // which draw
    std::vector<std::string> tokens;  // program tokens so far
    int64_t last = kBosId;            // the token fed next (<bos> first)
    double logprob = 0;
  };
  std::vector<Row> alive;
  for (int i = 0; i < n; ++i) alive.push_back({i, {}, 1, 0.0});
  std::vector<std::optional<Decoded>> finished(static_cast<size_t>(n));  // by draw
  DecoderState state = mapper->start(memory);  // a memory of batch 1 serves every row
  for (int len = 1; len <= mapper->config().max_tokens && !alive.empty(); ++len) {
    const int64_t B = static_cast<int64_t>(alive.size());
    std::vector<int64_t> last;
    for (const Row& r : alive) last.push_back(r.last);
    const auto input = torch::from_blob(last.data(), {B}, torch::kInt64).clone().to(device);
    const auto logits = mapper->step(input, state).to(torch::kCPU);  // (B, V)
    std::vector<Row> next;
    std::vector<int64_t> kept;
    for (int64_t b = 0; b < B; ++b) {
      Row r = std::move(alive[static_cast<size_t>(b)]);
      const Allowed a = allowed_tokens(lang, r.tokens, logits[b], len, mapper->config().max_tokens);
      // Drawn at `temperature`; scored at temperature 1, like beam search's hypotheses.
      std::vector<double> weights;
      const double top = *std::max_element(a.logprobs.begin(), a.logprobs.end());
      for (double lp : a.logprobs) weights.push_back(std::exp((lp - top) / temperature));
      const size_t pick = rng.weighted_index(weights);
      const int id = a.ids[pick];
      r.logprob += a.logprobs[pick];
      if (id == kEosId) {
        finished[static_cast<size_t>(r.index)] =
            Decoded{canonical_tokens(mapper->config(), lang, r.tokens), r.logprob, "sample " + std::to_string(r.index + 1)};
        continue;
      }
      r.tokens.push_back(vocab[static_cast<size_t>(id)]);
      r.last = id;
      next.push_back(std::move(r));
      kept.push_back(b);
    }
    alive = std::move(next);
    if (!alive.empty() && static_cast<int64_t>(alive.size()) < B)
      state.reorder(torch::tensor(kept, torch::kInt64).to(device));
  }
  std::vector<Decoded> out;
  for (auto& d : finished)
    if (d) out.push_back(std::move(*d));
  return out;
}

std::vector<Decoded> propose_candidates(Mapper& mapper, const Memory& memory, int k, uint64_t seed) {
  if (k < 1) throw Error("the number of candidates must be at least 1");
  std::vector<Decoded> out = decode_program(mapper, memory, 1);
  for (Decoded& d : out) d.origin = "greedy";
  std::set<std::vector<std::string>> seen;
  for (const Decoded& d : out) seen.insert(d.tokens);
  for (Decoded& d : decode_program(mapper, memory, (k + 1) / 2))
    if (static_cast<int>(out.size()) < k && seen.insert(d.tokens).second) out.push_back(std::move(d));
  int drawn = 0;
  for (int round = 0, fruitless = 0; static_cast<int>(out.size()) < k && fruitless < 3; ++round) {
    const int want = k - static_cast<int>(out.size());
    bool found = false;
    for (Decoded& d : sample_programs(mapper, memory, want, 1.0, seed + static_cast<uint64_t>(round))) {
      if (!seen.insert(d.tokens).second) continue;
      d.origin = "sample " + std::to_string(++drawn);
      out.push_back(std::move(d));
      found = true;
    }
    fruitless = found ? 0 : fruitless + 1;
  }
  return out;
}

double program_logprob(Mapper& mapper, const Memory& memory, const std::vector<std::string>& canonical) {
  torch::NoGradGuard no_grad;
  const Language& lang = written_language(mapper->config());
  std::vector<std::string> tokens = canonical;  // spelled in the mapper's order
  if (mapper->config().order != "canonical") {
    try {
      tokens = lang.spell(*language_by_name(mapper->config().language).detokenize(canonical));
    } catch (const ParseError&) {
      return -INFINITY;
    }
  }
  const auto& vocab = lang.vocabulary();
  const int max_tokens = mapper->config().max_tokens;
  if (static_cast<int>(tokens.size()) + 1 > max_tokens) return -INFINITY;
  std::vector<int64_t> ids;  // the token ids, then <eos>
  for (const std::string& t : tokens) {
    const auto it = std::find(vocab.begin(), vocab.end(), t);
    if (it == vocab.end()) return -INFINITY;
    ids.push_back(it - vocab.begin());
  }
  ids.push_back(kEosId);
  const auto device = memory.x.device();
  DecoderState state = mapper->start(memory);
  int64_t last = kBosId;
  double total = 0;
  std::vector<std::string> prefix;
  for (size_t k = 0; k < ids.size(); ++k) {
    const auto input = torch::from_blob(&last, {1}, torch::kInt64).clone().to(device);
    const auto logits = mapper->step(input, state).to(torch::kCPU);
    const Allowed a = allowed_tokens(lang, prefix, logits[0], static_cast<int>(k) + 1, max_tokens);
    const auto at = std::find(a.ids.begin(), a.ids.end(), static_cast<int>(ids[k]));
    if (at == a.ids.end()) return -INFINITY;
    total += a.logprobs[static_cast<size_t>(at - a.ids.begin())];
    if (k < tokens.size()) prefix.push_back(tokens[k]);
    last = ids[k];
  }
  return total;
}

}  // namespace mm
