// The mapper's examples, read from a corpus: one per stored view of a learned model — the encoder's input
// computed from the view's weights, and the program's canonical tokens as the target. No torch.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/domain.h"
#include "core/rng.h"
#include "mapper/config.h"

namespace mm {

class Corpus;

struct MapperExample {
  int64_t view_id = 0;
  int64_t program_id = 0;
  std::string split;                    // "train" or "test" (by config.split: the program's, or the view's)
  int64_t params = 0;                   // the subject's parameter count
  std::vector<std::string> tokens;      // the target: the program's canonical tokens in the mapper's
                                        // target form (config.target: reduced or sampled; no <bos>, <eos>)
  std::vector<std::string> sampled;     // the program as sampled (canonical tokens)
  std::vector<std::string> reduced;     // its reduced form (equal to `sampled` when nothing reduces)
  std::vector<int64_t> target;          // the ids of `tokens` spelled in config.order, then <eos>
  EncoderInput input;                   // what the encoder reads
  std::shared_ptr<const SubjectModel> subject;  // kept only when asked (for fidelity)
};

// The corpus's only language among learned models; throws mm::Error when it has none or several (then
// the caller must name one).
std::string corpus_language(Corpus& corpus);

// The smallest feature spec that fits every learned view of `language` in the corpus (both splits, so a
// mapper can read every subject it will be evaluated on).
FeatureSpec corpus_feature_spec(Corpus& corpus, const std::string& language);

// The split of a view under `--split view`: "test" for a fifth of views, by a hash of the view's program
// hash and its model's seed and ordinal (not its id, which depends on the order a corpus was built in).
std::string view_split(const std::string& program_hash, int64_t model_seed, int64_t ordinal);

// Examples of one split ("train", "test", or "" for both; config.split says which split a view is in) of
// `config.language`, in view-id order; with
// `keep_subjects`, each keeps its decoded subject model. Throws mm::Error on an unreadable view.
std::vector<MapperExample> load_examples(Corpus& corpus, const MapperConfig& config, const std::string& split,
                                         bool keep_subjects = false);

// The train split's held-out tenth (what `mapper train` stops early by, and `mapper statements` checks its
// head on): every tenth of its programs in id order, the first included (split by view, every tenth of its
// views), into `held_out`, the rest into `fit`; with `hold` false, all into `fit`.
void hold_out_tenth(std::vector<MapperExample> all, const MapperConfig& config, bool hold, std::vector<MapperExample>& fit,
                    std::vector<MapperExample>& held_out);

// The input domain of the corpus's first learned view of `language` (what its subjects were trained on).
InputDomain corpus_domain(Corpus& corpus, const std::string& language);

// Programs without a subject, for `mapper train --synthetic`: each line of `path` a JSON record as
// `modelmap sample --jsonl` writes ({"lang", "source", ...}; with config.target "reduced", also
// "reduced": true, as `sample --reduce` writes), read as a train example whose encoder input is the
// program's own behaviour on the probe set of `domain` (program_behaviour: the subject a perfect trainer
// would give) and whose target is the program's canonical tokens. A program whose tokens are in `excluded`
// (the test split's targets, so that no held-out program is trained on) is skipped and counted. Ids are
// negative (-line), apart from any view's. Throws mm::Error naming the line of a malformed record.
struct SyntheticSet {
  std::vector<MapperExample> examples;
  int64_t excluded = 0;
};
// `limit` > 0 reads only the file's first `limit` lines.
SyntheticSet load_synthetic(const std::string& path, const MapperConfig& config, const InputDomain& domain,
                            const std::set<std::string>& excluded, int64_t limit = 0);

// Subjects' errors, for `mapper train --synthetic-noise`. A cell is one output position of one probe input,
// numbered s * max_len + k (probe input s, position k), in BehaviourInput's layout.
// The cells where a subject's table differs from its program's own (program_behaviour on the same probe
// set): what it gets wrong. Throws mm::Error when the two tables are not of one probe set.
std::vector<int32_t> wrong_cells(const BehaviourInput& subject, const BehaviourInput& program, int max_len);
// `table` with the output value of each of `cells` that holds a position (an input token there) changed to
// another value the table shows at some position, drawn by `rng`; input tokens, and cells past an input's
// end, as they were. A table that shows one value only is returned unchanged.
BehaviourInput with_errors(const BehaviourInput& table, const std::vector<int32_t>& cells, int max_len, Rng& rng);

// The longest target (tokens + <eos>) among examples.
int longest_target(const std::vector<MapperExample>& examples);

}  // namespace mm
