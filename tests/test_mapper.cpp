// The mapper network (src/mapper/model.h): encoder output shapes for every preset size, both encoders;
// the invariant encoder's memory and the decoder's logits do not change when the subject's heads, hidden
// units and residual dimensions are permuted (the layer graph's do, as the paper's encoder is not
// invariant); the decoder is causal; a few steps of training on two programs drive their loss down.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/language.h"
#include "core/rng.h"
#include "corpus/corpus.h"
#include "mapper/data.h"
#include "mapper/decode.h"
#include "mapper/model.h"
#include "mapper/train.h"
#include "subject_fixtures.h"

namespace mm {

using test::arch_of;
using test::permuted_subject;
using test::random_subject;

namespace {

MapperConfig small_config(const std::string& encoder) {
  MapperConfig c;
  c.language = "rasp";
  c.encoder = encoder;
  c.d_model = 32;
  c.features = FeatureSpec{6, 5, 8, 2048};
  return c;
}

torch::Tensor bos_tokens(int64_t batch, int64_t length) {
  auto t = torch::randint(3, 40, {batch, length}, torch::kInt64);
  t.index_put_({torch::indexing::Slice(), 0}, 1);  // <bos>
  return t;
}

// Memory rows of sample 0, sorted by their first value, for comparison as a set.
torch::Tensor sorted_rows(const Memory& m) {
  const auto rows = m.x[0].index({m.mask[0]});  // (S', d)
  const auto order = std::get<1>(rows.select(1, 0).sort());
  return rows.index_select(0, order);
}

}  // namespace

TEST(Mapper, EncoderOutputShapesForEveryPresetSize) {
  torch::manual_seed(0);
  Rng rng(2);
  std::vector<SubjectArch> archs;
  for (const char* preset : {"tiny", "small"}) archs.push_back(choose_arch(SizePolicy{preset}, InputDomain{}, 7, rng));
  for (int64_t top : {20'000, 300'000, 2'000'000}) archs.push_back(choose_arch(SizePolicy{"paper", top / 2, top}, InputDomain{}, 7, rng));
  for (const char* encoder : {"layergraph", "invariant", "behaviour", "probe"}) {
    MapperConfig c = small_config(encoder);
    c.features.classes = 7;
    Mapper mapper(c);
    std::vector<EncoderInput> inputs;
    for (const SubjectArch& a : archs) inputs.push_back(encoder_input(random_subject(a, 5), c));
    std::vector<const EncoderInput*> ptrs;
    for (const auto& in : inputs) ptrs.push_back(&in);
    torch::NoGradGuard no_grad;
    const Memory m = mapper->encode(collate(ptrs, c, torch::kCPU));
    ASSERT_EQ(m.x.dim(), 3);
    EXPECT_EQ(m.x.size(0), static_cast<int64_t>(archs.size()));
    EXPECT_EQ(m.x.size(2), c.d_model);
    for (size_t i = 0; i < archs.size(); ++i) {
      const int64_t real = m.mask[static_cast<int64_t>(i)].sum().item<int64_t>();
      const std::string e = encoder;
      const int64_t probes = static_cast<int64_t>(probe_inputs(InputDomain{}).size());
      const int64_t want = e == "layergraph" ? archs[i].n_layers + 2
                           : e == "invariant" ? archs[i].n_layers * (archs[i].n_heads + 2) + 2  // + direct, classes
                           : e == "behaviour" ? probes
                                              : archs[i].n_layers * (archs[i].n_heads + 2) + probes;
      EXPECT_EQ(real, want) << encoder << " subject " << i;
    }
    EXPECT_TRUE(torch::isfinite(m.x).all().item<bool>());
    const auto logits = mapper->decode(bos_tokens(static_cast<int64_t>(archs.size()), 9), m);
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{static_cast<int64_t>(archs.size()), 9,
                                                    static_cast<int64_t>(language_by_name("rasp").vocabulary().size())}));
  }
}

TEST(Mapper, InvariantEncoderAndDecoderIgnorePermutationsOfTheSubject) {
  torch::manual_seed(1);
  const SubjectModel a = random_subject(arch_of(16, 2, 4, 5), 3);
  const SubjectModel b = permuted_subject(a, 1, 0, 4);
  const auto tokens = bos_tokens(1, 12);
  for (const char* encoder : {"invariant", "probe", "behaviour", "layergraph"}) {
    const MapperConfig c = small_config(encoder);
    Mapper mapper(c);
    torch::NoGradGuard no_grad;
    const EncoderInput ia = encoder_input(a, c), ib = encoder_input(b, c);
    const Memory ma = mapper->encode(collate({&ia}, c, torch::kCPU)), mb = mapper->encode(collate({&ib}, c, torch::kCPU));
    const float memory_diff = (sorted_rows(ma) - sorted_rows(mb)).abs().max().item<float>();
    const float logit_diff = (mapper->decode(tokens, ma) - mapper->decode(tokens, mb)).abs().max().item<float>();
    if (std::string(encoder) != "layergraph") {
      EXPECT_LT(memory_diff, 1e-4f);
      EXPECT_LT(logit_diff, 1e-4f);
    } else {
      EXPECT_GT(memory_diff, 1e-3f) << "the paper's encoder reads raw parameter order";
    }
  }
}

TEST(Mapper, ExampleLayersReadEachProbeInputWholeAndTheProbeSetAsASet) {
  torch::manual_seed(4);
  const SubjectModel a = random_subject(arch_of(16, 2, 4, 5), 3);
  const auto tokens = bos_tokens(1, 12);
  for (const char* encoder : {"behaviour", "probe"}) {
    SCOPED_TRACE(encoder);
    MapperConfig c = small_config(encoder);
    c.example_layers = 2;
    Mapper mapper(c);
    torch::NoGradGuard no_grad;
    const EncoderInput in = encoder_input(a, c);
    // The probe inputs in reverse order: the same set of memory tokens, the same logits.
    EncoderInput reversed = in;
    BehaviourInput& bh = reversed.functional.behaviour;
    const size_t w = static_cast<size_t>(2 * c.features.max_len);
    for (int x = 0; x < bh.n; ++x)
      for (size_t k = 0; k < w; ++k) bh.io[static_cast<size_t>(x) * w + k] = in.functional.behaviour.io[static_cast<size_t>(bh.n - 1 - x) * w + k];
    const Memory m = mapper->encode(collate({&in}, c, torch::kCPU)), r = mapper->encode(collate({&reversed}, c, torch::kCPU));
    EXPECT_LT((sorted_rows(m) - sorted_rows(r)).abs().max().item<float>(), 1e-4f);
    EXPECT_LT((mapper->decode(tokens, m) - mapper->decode(tokens, r)).abs().max().item<float>(), 1e-4f);
    // One output value changed in one probe input: that input's token changes, so the memory does.
    EncoderInput changed = in;
    int16_t& value = changed.functional.behaviour.io[w / 2];  // probe input 0, output at position 0
    value = static_cast<int16_t>(value == 5 ? 6 : 5);
    const Memory ch = mapper->encode(collate({&changed}, c, torch::kCPU));
    EXPECT_GT((sorted_rows(m) - sorted_rows(ch)).abs().max().item<float>(), 1e-4f);
  }
}

TEST(Mapper, IoPairsEmbedEachPositionsInputBesideItsOutput) {
  // Three probe inputs (input ids, then output value ids, by position; 0 past the end).
  MapperConfig plain_config = small_config("behaviour");
  const int64_t W = plain_config.features.max_len;
  const std::vector<std::vector<int16_t>> rows = {{1, 2, 3, 0, 0, 5, 6, 7, 0, 0},
                                                  {1, 2, 0, 0, 0, 8, 6, 0, 0, 0},
                                                  {2, 1, 3, 0, 0, 5, 6, 7, 0, 0}};
  EncoderInput in;
  in.functional.behaviour.n = static_cast<int>(rows.size());
  for (const auto& r : rows) in.functional.behaviour.io.insert(in.functional.behaviour.io.end(), r.begin(), r.end());
  ASSERT_EQ(static_cast<int64_t>(rows[0].size()), 2 * W);
  torch::manual_seed(5);
  Mapper plain(plain_config);
  MapperConfig pairs_config = plain_config;
  pairs_config.io_pairs = true;
  Mapper pairs(pairs_config);
  torch::NoGradGuard no_grad;
  // The same parameters where both have them, the pair tables zeroed: the same memory.
  const auto from = plain->named_parameters();
  for (auto& p : pairs->named_parameters()) {
    if (const auto* q = from.find(p.key())) p.value().copy_(*q);
    else p.value().zero_();
  }
  EXPECT_EQ(mapper_parameter_count(pairs) - mapper_parameter_count(plain),
            (W * plain_config.features.vocab * kValueIds + plain_config.features.vocab * kValueIds) * plain_config.d_model);
  auto memory = [&](Mapper& m, const MapperConfig& c) { return m->encode(collate({&in}, c, torch::kCPU)).x[0]; };
  const auto base = memory(plain, plain_config);
  ASSERT_EQ(base.size(0), 3);
  EXPECT_LT((memory(pairs, pairs_config) - base).abs().max().item<float>(), 1e-6f);
  auto changed = [&] {  // which probe inputs' tokens moved
    const auto diff = (memory(pairs, pairs_config) - base).abs().amax(1);
    std::vector<bool> out;
    for (int64_t k = 0; k < 3; ++k) out.push_back(diff[k].item<float>() > 1e-4f);
    return out;
  };
  auto table = [&](const char* name) { return pairs->named_parameters()[std::string(name) + ".weight"]; };
  // (position 0, input 1, output 5): probe input 0 alone (1 has output 8 there, 2 has input 2).
  table("io_pair_pos")[(0 * plain_config.features.vocab + 1) * kValueIds + 5].fill_(1.0);
  EXPECT_EQ(changed(), (std::vector<bool>{true, false, false}));
  table("io_pair_pos").zero_();
  // (input 3, output 7) at any position: probe inputs 0 and 2.
  table("io_pair")[3 * kValueIds + 7].fill_(1.0);
  EXPECT_EQ(changed(), (std::vector<bool>{true, false, true}));
  // Kept in the checkpoint's configuration; absent (older checkpoints) means off; refused for weight encoders.
  EXPECT_TRUE(MapperConfig::from_json(pairs_config.to_json()).io_pairs);
  auto j = nlohmann::json::parse(pairs_config.to_json());
  j.erase("io_pairs");
  EXPECT_FALSE(MapperConfig::from_json(j.dump()).io_pairs);
  pairs_config.encoder = "invariant";
  EXPECT_THROW(pairs_config.validate(), Error);
}

TEST(Mapper, ProbeSampleShowsKDistinctProbeInputsDrawnBySeedOrEvenlySpaced) {
  // 300 probe inputs, each row told apart by its first two entries (a real probe set may repeat an input).
  MapperConfig c = small_config("behaviour");
  EncoderInput in;
  const int64_t n = 300, w = 2 * c.features.max_len, K = 16;
  in.functional.behaviour.n = static_cast<int>(n);
  in.functional.behaviour.io.assign(static_cast<size_t>(n * w), 0);
  for (int64_t x = 0; x < n; ++x) {
    in.functional.behaviour.io[static_cast<size_t>(x * w)] = static_cast<int16_t>(x % 50 + 1);
    in.functional.behaviour.io[static_cast<size_t>(x * w + 1)] = static_cast<int16_t>(x / 50 + 1);
  }
  ASSERT_GT(n, K);
  const auto all = torch::from_blob(const_cast<int16_t*>(in.functional.behaviour.io.data()), {n, w}, torch::kInt16).to(torch::kInt64);
  auto row_of = [&](const torch::Tensor& row) {  // which probe input a collated row is
    for (int64_t x = 0; x < n; ++x)
      if (all[x].equal(row)) return x;
    return int64_t{-1};
  };
  c.probe_sample = static_cast<int>(K);
  auto rows = [&](const std::vector<uint64_t>* seeds) {
    const EncoderBatch b = collate({&in}, c, torch::kCPU, seeds);
    EXPECT_EQ(b.io.size(1), K);
    EXPECT_EQ(b.io_mask.sum().item<int64_t>(), K);
    std::vector<int64_t> out;
    for (int64_t k = 0; k < K; ++k) out.push_back(row_of(b.io[0][k]));
    return out;
  };
  const std::vector<int64_t> spaced = rows(nullptr);
  for (int64_t k = 0; k < K; ++k) EXPECT_EQ(spaced[static_cast<size_t>(k)], k * n / K);
  const std::vector<uint64_t> s1{7}, s2{8};
  const std::vector<int64_t> d1 = rows(&s1), d1again = rows(&s1), d2 = rows(&s2);
  EXPECT_EQ(d1, d1again);
  EXPECT_NE(d1, d2);
  std::set<int64_t> distinct(d1.begin(), d1.end());
  EXPECT_EQ(static_cast<int64_t>(distinct.size()), K);
  EXPECT_EQ(distinct.count(-1), 0u) << "every row is one of the subject's probe inputs";
  // Configuration: kept in the checkpoint's JSON; absent (older checkpoints) means none; refused elsewhere.
  c.example_layers = 2;
  const MapperConfig back = MapperConfig::from_json(c.to_json());
  EXPECT_EQ(back.example_layers, 2);
  EXPECT_EQ(back.probe_sample, K);
  auto j = nlohmann::json::parse(c.to_json());
  j.erase("example_layers");
  j.erase("probe_sample");
  EXPECT_EQ(MapperConfig::from_json(j.dump()).example_layers, 0);
  EXPECT_EQ(MapperConfig::from_json(j.dump()).probe_sample, 0);
  c.encoder = "invariant";
  EXPECT_THROW(c.validate(), Error);
}

// --synthetic-noise's parts: the cells where two tables differ, and a table given errors at chosen cells —
// exactly those that hold a position change, each to another value the table shows, drawn by the seed.
TEST(Mapper, WrongCellsAndWithErrorsMoveExactlyTheCellsGiven) {
  const int W = 3;
  BehaviourInput t;  // 3 probe inputs of lengths 3, 2, 1: input ids, then output value ids
  t.n = 3;
  t.io = {1, 2, 3, 10, 11, 12,  //
          2, 2, 0, 11, 11, 0,   //
          3, 0, 0, 12, 0, 0};
  EXPECT_TRUE(wrong_cells(t, t, W).empty());
  BehaviourInput u = t;
  u.io[0 * 2 * W + W + 1] = 12;  // cell (0, 1)
  u.io[2 * 2 * W + W + 0] = 10;  // cell (2, 0)
  EXPECT_EQ(wrong_cells(u, t, W), (std::vector<int32_t>{0 * W + 1, 2 * W + 0}));
  BehaviourInput short_table = t;
  short_table.n = 2;
  short_table.io.resize(2 * 2 * W);
  EXPECT_THROW(wrong_cells(short_table, t, W), Error);

  const std::vector<int32_t> cells = {0 * W + 0, 1 * W + 1, 1 * W + 2 /* past the end */, 2 * W + 0};
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng rng(seed);
    const BehaviourInput e = with_errors(t, cells, W, rng);
    ASSERT_EQ(e.n, t.n);
    ASSERT_EQ(e.io.size(), t.io.size());
    std::set<size_t> changed;
    for (size_t i = 0; i < t.io.size(); ++i)
      if (e.io[i] != t.io[i]) changed.insert(i);
    EXPECT_EQ(changed, (std::set<size_t>{0 * 2 * W + W + 0, 1 * 2 * W + W + 1, 2 * 2 * W + W + 0})) << "seed " << seed;
    for (size_t i : changed) EXPECT_TRUE(e.io[i] >= 10 && e.io[i] <= 12) << "a value the table shows";
    Rng again(seed);
    EXPECT_EQ(with_errors(t, cells, W, again).io, e.io) << "the same seed, the same errors";
  }
  BehaviourInput constant = t;  // one value everywhere: nothing to change it to
  for (size_t s = 0; s < 3; ++s)
    for (size_t k = 0; k < W; ++k)
      if (constant.io[s * 2 * W + k] != 0) constant.io[s * 2 * W + W + k] = 11;
  Rng rng(1);
  EXPECT_EQ(with_errors(constant, cells, W, rng).io, constant.io);
}

TEST(Mapper, DecoderIsCausal) {
  torch::manual_seed(2);
  const MapperConfig c = small_config("invariant");
  Mapper mapper(c);
  torch::NoGradGuard no_grad;
  const EncoderInput in = encoder_input(random_subject(arch_of(16, 1, 2, 5), 1), c);
  const Memory m = mapper->encode(collate({&in}, c, torch::kCPU));
  auto t1 = bos_tokens(1, 10);
  auto t2 = t1.clone();
  t2.index_put_({0, 7}, (t1[0][7].item<int64_t>() + 1 - 3) % 37 + 3);
  const auto l1 = mapper->decode(t1, m), l2 = mapper->decode(t2, m);
  EXPECT_LT((l1.narrow(1, 0, 7) - l2.narrow(1, 0, 7)).abs().max().item<float>(), 1e-5f) << "a later token changed earlier logits";
  EXPECT_GT((l1.narrow(1, 7, 3) - l2.narrow(1, 7, 3)).abs().max().item<float>(), 1e-6f);
}

// Decoding one token at a time over the key/value cache gives the teacher-forced logits, position by
// position, for a memory shared by every row and after beam search's reordering of the rows.
TEST(Mapper, IncrementalDecodingEqualsTeacherForcedDecoding) {
  for (const char* encoder : {"invariant", "layergraph"}) {
    torch::manual_seed(3);
    const MapperConfig c = small_config(encoder);
    Mapper mapper(c);
    torch::NoGradGuard no_grad;
    const EncoderInput in = encoder_input(random_subject(arch_of(16, 2, 2, 5), 3), c);
    const Memory m = mapper->encode(collate({&in}, c, torch::kCPU));
    const int64_t T = 40;  // past the exact relative-position buckets
    const auto tokens = bos_tokens(3, T);
    const Memory m3{m.x.expand({3, m.x.size(1), m.x.size(2)}), m.mask.expand({3, m.mask.size(1)})};
    const auto full = mapper->decode(tokens, m3);  // (3, T, V)
    // Rows 0, 1, 2 stepped as rows 2, 0, 1 (a reorder after the first 20 positions).
    DecoderState state = mapper->start(m);
    const auto order = torch::tensor(std::vector<int64_t>{2, 0, 1});
    float worst = 0;
    for (int64_t p = 0; p < T; ++p) {
      const auto rows = p < 20 ? torch::arange(3) : order;
      if (p == 20) state.reorder(order);
      const auto logits = mapper->step(tokens.index_select(0, rows).select(1, p), state);  // (3, V)
      worst = std::max(worst, (logits - full.index_select(0, rows).select(1, p)).abs().max().item<float>());
    }
    EXPECT_LT(worst, 1e-4f) << encoder;
  }
}

// Grammar-constrained decoding from an untrained mapper (random logits, in effect), with a tight token
// budget: every subject still gets a program, and it detokenizes. A mapper writing RASP output first
// returns canonical tokens too; program_logprob scores a decoded program as decoding did (in its own order:
// exactly, unless the decoded spelling repeated a statement, which the canonical form merges).
TEST(Mapper, UntrainedMapperDecodingAlwaysFinishesAndParses) {
  for (const char* language : {"rasp", "python", "rasp output-first"}) {
    torch::manual_seed(4);
    MapperConfig c = small_config("invariant");
    const std::string name = language;
    c.language = name.substr(0, name.find(' '));
    if (name.find(' ') != std::string::npos) c.order = name.substr(name.find(' ') + 1);
    c.max_tokens = name == "rasp" ? 40 : name == "python" ? 160 : 200;  // output-first: closing needs 176
    Mapper mapper(c);
    const Language& lang = language_by_name(c.language);
    for (int k = 0; k < 6; ++k) {
      const EncoderInput in = encoder_input(random_subject(arch_of(16, 1 + k % 2, 2, 5), 20 + k), c);
      torch::NoGradGuard no_grad;
      const Memory m = mapper->encode(collate({&in}, c, torch::kCPU));
      for (int beam : {1, 3}) {
        const std::vector<Decoded> out = decode_program(mapper, m, beam);
        ASSERT_FALSE(out.empty()) << language << " subject " << k << " beam " << beam;
        EXPECT_LE(static_cast<int>(out[0].tokens.size()), c.max_tokens);
        EXPECT_NO_THROW(lang.detokenize(out[0].tokens)) << language;
        const double again = program_logprob(mapper, m, out[0].tokens);
        if (c.order == "canonical") {
          EXPECT_NEAR(again, out[0].logprob, 1e-3) << language;
        } else {
          EXPECT_TRUE(std::isfinite(again)) << language;
          EXPECT_EQ(lang.detokenize(out[0].tokens)->tokens(), out[0].tokens);
        }
      }
    }
  }
}

TEST(Mapper, LearningRateWarmsUpThenStaysOrFollowsAHalfCosine) {
  EXPECT_DOUBLE_EQ(learning_rate("constant", 1e-3, 0, 1000), 1e-5);   // step 1 of a 100-step warmup
  EXPECT_DOUBLE_EQ(learning_rate("constant", 1e-3, 99, 1000), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate("constant", 1e-3, 999, 1000), 1e-3);
  EXPECT_NEAR(learning_rate("cosine", 1e-3, 0, 1000), 1e-5, 1e-12);     // warmup applies to the cosine too
  EXPECT_NEAR(learning_rate("cosine", 1e-3, 999, 1000), 1e-4, 1e-12);   // a tenth at the last step
  EXPECT_NEAR(learning_rate("cosine", 1e-3, 1998, 3997), 5.5e-4, 1e-9); // half-way: the mean of both ends
  double last = 1;
  for (int64_t step = 100; step < 1000; ++step) {  // never rises after the warmup
    const double lr = learning_rate("cosine", 1e-3, step, 1000);
    EXPECT_LE(lr, last + 1e-15);
    last = lr;
  }
  EXPECT_THROW(learning_rate("linear", 1e-3, 0, 10), Error);
}

TEST(Mapper, TrainingStepsDriveTheLossDownOnTwoSubjects) {
  torch::manual_seed(3);
  for (const char* encoder : {"layergraph", "invariant"}) {
    const MapperConfig c = small_config(encoder);
    Mapper mapper(c);
    const EncoderInput a = encoder_input(random_subject(arch_of(16, 1, 2, 5), 1), c);
    const EncoderInput b = encoder_input(random_subject(arch_of(16, 1, 2, 5), 2), c);
    const EncoderBatch batch = collate({&a, &b}, c, torch::kCPU);
    // Two different targets: the mapper must read the weights to tell them apart.
    const auto target = torch::randint(3, 40, {2, 8}, torch::kInt64);
    auto input = torch::cat({torch::ones({2, 1}, torch::kInt64), target.narrow(1, 0, 7)}, 1);
    torch::optim::AdamW opt(mapper->parameters(), torch::optim::AdamWOptions(3e-3));
    float first = 0, last = 0;
    for (int step = 0; step < 150; ++step) {
      const auto logits = mapper->decode(input, mapper->encode(batch));
      const auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(2)}), target.reshape({-1}));
      opt.zero_grad();
      loss.backward();
      opt.step();
      if (step == 0) first = loss.item<float>();
      last = loss.item<float>();
    }
    EXPECT_LT(last, 0.1f * first) << encoder << ": " << first << " -> " << last;
  }
}

}  // namespace mm

// ---------------------------------------------------------------------------------------------------
// The mapper through the command line: a tiny corpus -> train (and resume) -> eval beside the floor ->
// decompile; bad checkpoints refused with one line.

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/safetensors.h"
#include "decompile/verify.h"
#include "mapper/checkpoint.h"
#include "subject/model.h"
#include "test_util.h"

namespace mm {

namespace {

const std::string kBin = MM_MODELMAP_BIN;
const std::string kCases = MM_CASES_DIR;

test::Ran modelmap(const std::string& args) { return test::run_shell(kBin + " " + args); }

// A fresh, empty directory for one test: <temp>/mm_test_<name>_<pid>.
std::string fresh_dir(const std::string& name) {
  const std::string dir = std::filesystem::temp_directory_path() / ("mm_test_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The corpus most of these tests start from: corpus_rasp.jsonl's 6 programs as tiny subjects, 2 views each.
test::Ran build_tiny_corpus(const std::string& path) {
  return modelmap("corpus build --lang rasp --from " + kCases + "/corpus_rasp.jsonl --preset tiny --views 2 "
                  "--view-every 50 --threads 1 --out " + path);
}

}  // namespace

// The encoders that run the subject (behaviour, probe) train, evaluate and decompile end to end; the
// target is the reduced form unless asked otherwise, and eval scores against both forms; the split by view
// puts a program's views on both sides, and eval takes the mapper's split (a floor of the other split is
// refused); --programs trains on a prefix of the train split; resuming with other settings is refused.
TEST(MapperCli, FunctionalEncodersTargetsAndSplits) {
  const std::string dir = fresh_dir("mapper_fn");
  const std::string corpus = dir + "/c.sqlite";
  ASSERT_EQ(modelmap("corpus build --lang rasp --from " + kCases + "/corpus_rasp_reduce.jsonl --preset tiny --views 3 "
                     "--view-every 50 --threads 1 --out " + corpus).exit_code, 0);
  const std::string train = "mapper train --corpus " + corpus + " --d-model 32 --threads 1 --patience 0 ";
  for (const char* encoder : {"behaviour", "probe"}) {
    SCOPED_TRACE(encoder);
    const std::string m = dir + "/" + encoder + ".pt";
    const test::Ran t = modelmap(train + "--epochs 1 --encoder " + encoder + " -o " + m);
    ASSERT_EQ(t.exit_code, 0) << t.err;
    const MapperConfig c = read_mapper_checkpoint(m).config;
    EXPECT_EQ(c.encoder, encoder);
    EXPECT_EQ(c.target, "reduced");
    EXPECT_EQ(c.split, "program");
    const test::Ran e = modelmap("eval --corpus " + corpus + " --mapper " + m + " --json " + dir + "/r.json");
    ASSERT_EQ(e.exit_code, 0) << e.err;
    EXPECT_NE(e.out.find("token acc. (as sampled)"), std::string::npos) << e.out;
    const auto report = nlohmann::json::parse(test::slurp(dir + "/r.json"));
    EXPECT_TRUE(report["mapper"]["all"].contains("sampled_token_accuracy")) << report.dump();
    ASSERT_EQ(modelmap("corpus export " + corpus + " --view 1 -o " + dir + "/v.safetensors").exit_code, 0);
    const test::Ran d = modelmap("decompile " + dir + "/v.safetensors --mapper " + m + " --search none");
    ASSERT_EQ(d.exit_code, 0) << d.err;
    if (std::string(encoder) != "behaviour") {
      const test::Ran refused = modelmap("eval --corpus " + corpus + " --mapper " + m + " --perfect-subjects");
      EXPECT_EQ(refused.exit_code, 2) << refused.err;
      EXPECT_NE(refused.err.find("this one's encoder is probe"), std::string::npos) << refused.err;
      continue;
    }
    // --perfect-subjects: the mapper reads each test program's own outputs instead of its subject's. Where a
    // subject's outputs on the probe set are its program's, that is the same input, so the same program.
    const std::string plain = dir + "/plain.views.jsonl", perfect = dir + "/perfect.views.jsonl";
    ASSERT_EQ(modelmap("eval --corpus " + corpus + " --mapper " + m + " --views-file " + plain).exit_code, 0);
    const test::Ran pe = modelmap("eval --corpus " + corpus + " --mapper " + m + " --perfect-subjects --views-file " + perfect);
    ASSERT_EQ(pe.exit_code, 0) << pe.err;
    const test::Ran mixed_files = modelmap("eval --corpus " + corpus + " --mapper " + m + " --perfect-subjects --views-file " + plain);
    EXPECT_EQ(mixed_files.exit_code, 2);
    EXPECT_NE(mixed_files.err.find("other options (perfect_subjects)"), std::string::npos) << mixed_files.err;
    auto programs_of = [](const std::string& path) {
      std::map<int64_t, std::string> out;
      std::istringstream in(test::slurp(path));
      std::string line;
      std::getline(in, line);  // the header
      EXPECT_EQ(nlohmann::json::parse(line)["options"].value("perfect_subjects", false), path.find("perfect") != std::string::npos);
      while (std::getline(in, line)) {
        const auto j = nlohmann::json::parse(line);
        out[j["view"].get<int64_t>()] = j["methods"][0]["mapper"]["program"].get<std::string>();
      }
      return out;
    };
    const auto plain_programs = programs_of(plain), perfect_programs = programs_of(perfect);
    auto db = Corpus::open(corpus, /*create=*/false, /*readonly=*/true);
    const std::vector<MapperExample> tests = load_examples(*db, c, "test", /*keep_subjects=*/true);
    ASSERT_FALSE(tests.empty());
    EXPECT_EQ(plain_programs.size(), tests.size());
    EXPECT_EQ(perfect_programs.size(), tests.size());
    int same_input = 0;
    for (const MapperExample& e : tests) {
      const BehaviourInput own = program_behaviour(*language_by_name("rasp").detokenize(e.sampled), e.subject->domain, c.features);
      ASSERT_EQ(own.io.size(), e.input.functional.behaviour.io.size());
      if (own.io != e.input.functional.behaviour.io) continue;
      ++same_input;
      EXPECT_EQ(perfect_programs.at(e.view_id), plain_programs.at(e.view_id)) << "view " << e.view_id;
    }
    EXPECT_GT(same_input, 0) << "no subject is perfect on the probe set: the check above checked nothing";
  }
  // Sampled targets, and a resume that would change them, refused.
  ASSERT_EQ(modelmap(train + "--epochs 1 --target sampled -o " + dir + "/s.pt").exit_code, 0);
  EXPECT_EQ(read_mapper_checkpoint(dir + "/s.pt").config.target, "sampled");
  const test::Ran other = modelmap(train + "--epochs 2 -o " + dir + "/s.pt");
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("another configuration"), std::string::npos) << other.err;
  // Split by view: a program's views on both sides (9 views of 3 programs: the test side holds a program
  // whose other views trained), and eval scores the mapper's own test split.
  const test::Ran v = modelmap(train + "--epochs 1 --split view -o " + dir + "/view.pt");
  ASSERT_EQ(v.exit_code, 0) << v.err;
  const test::Ran vf = modelmap(train + "--epochs 1 --split view --no-weights -o " + dir + "/view_floor.pt");
  ASSERT_EQ(vf.exit_code, 0) << vf.err;
  auto db = Corpus::open(corpus, false, true);
  std::map<int64_t, std::set<std::string>> sides;  // program -> splits its views fall in
  Statement q(db->db(), "SELECT p.id, p.hash, m.seed, v.ordinal FROM views v JOIN models m ON m.id = v.model_id "
                        "JOIN programs p ON p.id = m.program_id");
  int64_t test_views = 0;
  while (q.step()) {
    const std::string side = view_split(q.text(1), q.int64(2), q.int64(3));
    sides[q.int64(0)].insert(side);
    test_views += side == "test";
  }
  EXPECT_TRUE(std::any_of(sides.begin(), sides.end(), [](const auto& p) { return p.second.size() == 2; }))
      << "some program has views on both sides";
  const test::Ran ve = modelmap("eval --corpus " + corpus + " --mapper " + dir + "/view.pt --floor " + dir +
                                "/view_floor.pt --json " + dir + "/rv.json");
  if (test_views == 0) {
    EXPECT_NE(ve.exit_code, 0);
  } else {
    ASSERT_EQ(ve.exit_code, 0) << ve.err;
    EXPECT_NE(ve.out.find("(split by view)"), std::string::npos) << ve.out;
    EXPECT_EQ(nlohmann::json::parse(test::slurp(dir + "/rv.json"))["mapper"]["all"]["n"].get<int64_t>(), test_views);
  }
  const test::Ran mixed = modelmap("eval --corpus " + corpus + " --mapper " + dir + "/view.pt --floor " + dir + "/s.pt");
  EXPECT_NE(mixed.exit_code, 0);
  EXPECT_NE(mixed.err.find("their test splits differ"), std::string::npos) << mixed.err;
  // Augmentation: layergraph subjects permuted every epoch; refused for an encoder that cannot tell.
  ASSERT_EQ(modelmap(train + "--epochs 2 --encoder layergraph --augment -o " + dir + "/aug.pt").exit_code, 0);
  EXPECT_TRUE(read_mapper_checkpoint(dir + "/aug.pt").config.augment);
  const test::Ran aug = modelmap(train + "--epochs 1 --encoder probe --augment -o " + dir + "/aug2.pt");
  EXPECT_NE(aug.exit_code, 0);
  EXPECT_NE(aug.err.find("invariant to them by construction"), std::string::npos) << aug.err;
  // Example layers over a sample of the probe inputs, with input/output pairs: trains, evaluates,
  // decompiles; the invariant encoder reads no probe inputs, so these flags are refused for it.
  const test::Ran ex = modelmap(train + "--epochs 1 --encoder probe --example-layers 1 --probe-sample 8 --io-pairs -o " + dir + "/ex.pt");
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  EXPECT_EQ(read_mapper_checkpoint(dir + "/ex.pt").config.example_layers, 1);
  EXPECT_TRUE(read_mapper_checkpoint(dir + "/ex.pt").config.io_pairs);
  EXPECT_EQ(read_mapper_checkpoint(dir + "/ex.pt").config.probe_sample, 8);
  ASSERT_EQ(modelmap("eval --corpus " + corpus + " --mapper " + dir + "/ex.pt").exit_code, 0);
  const test::Ran ex_other = modelmap(train + "--epochs 2 --encoder probe -o " + dir + "/ex.pt");
  EXPECT_NE(ex_other.err.find("another configuration"), std::string::npos) << ex_other.err;
  const test::Ran ex_bad = modelmap(train + "--epochs 1 --example-layers 1 -o " + dir + "/ex_bad.pt");
  EXPECT_NE(ex_bad.exit_code, 0);
  EXPECT_NE(ex_bad.err.find("the invariant encoder reads none"), std::string::npos) << ex_bad.err;
  const test::Ran pairs_bad = modelmap(train + "--epochs 1 --io-pairs -o " + dir + "/pairs_bad.pt");
  EXPECT_NE(pairs_bad.exit_code, 0);
  EXPECT_NE(pairs_bad.err.find("the invariant encoder reads none"), std::string::npos) << pairs_bad.err;
  // Output-first order: the targets spelled output first (as long as the canonical ones), decoded programs
  // scored and decompiled in canonical tokens; resuming in the other order, or asking it of list-Python,
  // is refused with one line.
  const test::Ran of = modelmap(train + "--epochs 2 --order output-first -o " + dir + "/of.pt");
  ASSERT_EQ(of.exit_code, 0) << of.err;
  EXPECT_NE(of.err.find("written output-first"), std::string::npos) << of.err;
  EXPECT_EQ(read_mapper_checkpoint(dir + "/of.pt").config.order, "output-first");
  const test::Ran ofe = modelmap("eval --corpus " + corpus + " --mapper " + dir + "/of.pt --views-file " + dir + "/of.jsonl --json " +
                                 dir + "/of.json");
  ASSERT_EQ(ofe.exit_code, 0) << ofe.err;
  EXPECT_NE(ofe.out.find("writes output-first"), std::string::npos) << ofe.out;
  EXPECT_EQ(nlohmann::json::parse(test::slurp(dir + "/of.json"))["order"], "output-first");
  {
    std::istringstream views(test::slurp(dir + "/of.jsonl"));
    int read = 0;
    for (std::string line; std::getline(views, line);) {
      const auto j = nlohmann::json::parse(line);
      if (!j.contains("view")) continue;  // the header
      const std::string program = j["methods"][0]["mapper"]["program"].get<std::string>();
      const std::vector<std::string> tokens = split_tokens(program);
      EXPECT_EQ(language_by_name("rasp").detokenize(tokens)->tokens(), tokens) << "canonical tokens: " << program;
      ++read;
    }
    EXPECT_GT(read, 0);
  }
  ASSERT_EQ(modelmap("corpus export " + corpus + " --view 1 -o " + dir + "/v1.safetensors").exit_code, 0);
  const test::Ran ofd = modelmap("decompile " + dir + "/v1.safetensors --mapper " + dir + "/of.pt --search none");
  ASSERT_EQ(ofd.exit_code, 0) << ofd.err;
  const test::Ran of_other = modelmap(train + "--epochs 3 -o " + dir + "/of.pt");
  EXPECT_NE(of_other.err.find("another configuration"), std::string::npos) << of_other.err;
  const test::Ran of_py = modelmap(train + "--epochs 1 --lang python --order output-first -o " + dir + "/of_py.pt");
  EXPECT_NE(of_py.exit_code, 0);
  EXPECT_NE(of_py.err.find("no token order 'output-first'"), std::string::npos) << of_py.err;
  // Synthetic programs (behaviour): sampled, reduced programs trained on as their own behaviour; one that
  // is a test-split program is left out; other encoders, unreduced records and another file on resume are
  // refused with one line.
  {
    const std::string syn = dir + "/syn.jsonl";
    const test::Ran s = modelmap("sample --lang rasp --count 12 --seed 3 --reduce --jsonl");
    ASSERT_EQ(s.exit_code, 0) << s.err;
    std::string held_out;
    {
      auto c = Corpus::open(corpus, false, true);
      Statement q(c->db(), "SELECT reduced_tokens FROM programs WHERE split = 'test' LIMIT 1");
      ASSERT_TRUE(q.step()) << "the tiny corpus has a test program";
      held_out = q.text(0);
    }
    const std::vector<std::string> ht = split_tokens(held_out);
    const nlohmann::json test_line = {{"lang", "rasp"}, {"source", language_by_name("rasp").detokenize(ht)->text()}, {"reduced", true}};
    test::write_file(syn, s.out + test_line.dump() + "\n");
    const test::Ran t = modelmap(train + "--epochs 1 --encoder behaviour --synthetic " + syn + " -o " + dir + "/syn.pt");
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.err.find("synthetic: 12 programs from " + syn + " (1 left out: the test split's)"), std::string::npos) << t.err;
    const MapperConfig c = read_mapper_checkpoint(dir + "/syn.pt").config;
    EXPECT_EQ(c.synthetic, "syn.jsonl");
    EXPECT_EQ(c.synthetic_programs, 12);
    ASSERT_EQ(modelmap("eval --corpus " + corpus + " --mapper " + dir + "/syn.pt").exit_code, 0);
    const test::Ran floor = modelmap(train + "--epochs 1 --encoder behaviour --no-weights --synthetic " + syn + " -o " + dir + "/syn_floor.pt");
    ASSERT_EQ(floor.exit_code, 0) << floor.err;
    const test::Ran probe = modelmap(train + "--epochs 1 --encoder probe --synthetic " + syn + " -o " + dir + "/syn2.pt");
    EXPECT_NE(probe.exit_code, 0);
    EXPECT_NE(probe.err.find("only the behaviour encoder reads"), std::string::npos) << probe.err;
    const std::string unreduced = dir + "/unreduced.jsonl";
    test::write_file(unreduced, modelmap("sample --lang rasp --count 2 --seed 3 --jsonl").out);
    const test::Ran u = modelmap(train + "--epochs 1 --encoder behaviour --synthetic " + unreduced + " -o " + dir + "/syn3.pt");
    EXPECT_NE(u.exit_code, 0);
    EXPECT_NE(u.err.find("unreduced.jsonl:1: not marked reduced"), std::string::npos) << u.err;
    const test::Ran other = modelmap(train + "--epochs 2 --encoder behaviour --synthetic " + unreduced + " -o " + dir + "/syn.pt");
    EXPECT_NE(other.err.find("another configuration"), std::string::npos) << other.err;
    // --synthetic-noise: the train subjects' errors counted and recorded; a resume without it, and the flag
    // without --synthetic, refused.
    const test::Ran n = modelmap(train + "--epochs 1 --encoder behaviour --synthetic " + syn + " --synthetic-noise -o " + dir + "/noise.pt");
    ASSERT_EQ(n.exit_code, 0) << n.err;
    EXPECT_NE(n.err.find("synthetic noise: the errors of "), std::string::npos) << n.err;
    EXPECT_TRUE(read_mapper_checkpoint(dir + "/noise.pt").config.synthetic_noise);
    EXPECT_FALSE(c.synthetic_noise);
    const test::Ran n2 = modelmap(train + "--epochs 2 --encoder behaviour --synthetic " + syn + " -o " + dir + "/noise.pt");
    EXPECT_NE(n2.err.find("with real subjects' errors; this command asks for"), std::string::npos) << n2.err;
    const test::Ran n3 = modelmap(train + "--epochs 1 --encoder behaviour --synthetic-noise -o " + dir + "/noise3.pt");
    EXPECT_EQ(n3.exit_code, 2) << n3.err;
    EXPECT_NE(n3.err.find("give --synthetic FILE too"), std::string::npos) << n3.err;
  }
  // A train prefix: one program of the train split; more than it holds is refused with one line.
  ASSERT_EQ(modelmap(train + "--epochs 1 --programs 1 -o " + dir + "/one.pt").exit_code, 0);
  EXPECT_EQ(read_mapper_checkpoint(dir + "/one.pt").config.train_programs, 1);
  const test::Ran many = modelmap(train + "--epochs 1 --programs 50 -o " + dir + "/many.pt");
  EXPECT_NE(many.exit_code, 0);
  EXPECT_NE(many.err.find("--programs 50"), std::string::npos) << many.err;
  std::filesystem::remove_all(dir);
}

TEST(MapperCli, TinyTrainResumeEvalAndDecompile) {
  const std::string dir = fresh_dir("mapper");
  const std::string corpus = dir + "/c.sqlite", mapper = dir + "/m.pt", floor = dir + "/f.pt";
  ASSERT_EQ(build_tiny_corpus(corpus).exit_code, 0);
  const std::string train = "mapper train --corpus " + corpus + " --d-model 32 --threads 1 ";
  const test::Ran t = modelmap(train + "--epochs 2 -o " + mapper);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(read_mapper_checkpoint(mapper).epochs.size(), 2u);
  const test::Ran resumed = modelmap(train + "--epochs 4 -o " + mapper);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming"), std::string::npos) << resumed.err;
  const auto epochs = read_mapper_checkpoint(mapper).epochs;
  ASSERT_EQ(epochs.size(), 4u);
  EXPECT_EQ(epochs[2].epoch, 3);
  // Early stopping: each epoch's held-out loss recorded, the lowest marked best, training stopped once
  // `--patience` epochs pass without a lower one.
  const test::Ran es = modelmap(train + "--epochs 12 --patience 1 --lr 0.02 -o " + dir + "/es.pt");
  ASSERT_EQ(es.exit_code, 0) << es.err;
  const auto es_epochs = read_mapper_checkpoint(dir + "/es.pt").epochs;
  size_t best = 0;
  for (size_t k = 0; k < es_epochs.size(); ++k) {
    EXPECT_GT(es_epochs[k].holdout_loss, 0.0);
    if (es_epochs[k].holdout_loss < es_epochs[best].holdout_loss) best = k;
  }
  const size_t at = es.err.find("epoch " + std::to_string(best + 1) + "/12: train loss");
  ASSERT_NE(at, std::string::npos) << es.err;
  EXPECT_NE(es.err.substr(at, es.err.find('\n', at) - at).find("(best)"), std::string::npos) << es.err;
  if (es_epochs.size() < 12) {
    EXPECT_EQ(es_epochs.size(), best + 2) << "stops one epoch (the patience) after the best";
    EXPECT_NE(es.err.find("stopped early"), std::string::npos) << es.err;
  }
  ASSERT_EQ(modelmap(train + "--epochs 2 --no-weights -o " + floor).exit_code, 0);
  ASSERT_EQ(modelmap(train + "--epochs 1 --patience 0 -o " + dir + "/p0.pt").exit_code, 0);
  EXPECT_TRUE(read_mapper_checkpoint(floor).config.no_weights);

  const test::Ran e = modelmap("eval --corpus " + corpus + " --mapper " + mapper + " --floor " + floor + " --beam 2 --json " + dir + "/r.json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("| all |"), std::string::npos) << e.out;
  const auto report = nlohmann::json::parse(test::slurp(dir + "/r.json"));
  EXPECT_GT(report["mapper"]["all"]["n"].get<int>(), 0);
  EXPECT_EQ(report["mapper"]["all"]["parses"].get<double>(), 1.0) << "constrained decoding always parses";
  EXPECT_EQ(report["floor"]["all"]["n"], report["mapper"]["all"]["n"]);

  ASSERT_EQ(modelmap("corpus export " + corpus + " --view 1 -o " + dir + "/v.safetensors --program " + dir + "/true.py").exit_code, 0);
  // The view's true program came out with it: one of the programs the corpus was built from.
  const std::string true_program = test::slurp(dir + "/true.py");
  EXPECT_NE(test::slurp(kCases + "/corpus_rasp.jsonl").find(nlohmann::json(true_program).dump()), std::string::npos) << true_program;
  const test::Ran d = modelmap("decompile " + dir + "/v.safetensors --mapper " + mapper + " --beam 3 --search none");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  test::write_file(dir + "/p.py", d.out);
  EXPECT_EQ(modelmap("run --program " + dir + "/p.py --input '[1, 2, 3]'").exit_code, 0) << d.out;

  // Decompiling with verification: candidates run against the model, ranked by fidelity, the best repaired.
  const test::Ran v = modelmap("decompile " + dir + "/v.safetensors --mapper " + mapper +
                               " --candidates 4 --repair --repair-edits 200 --all --threads 2");
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_EQ(v.out.rfind("# 1. fidelity ", 0), 0u) << v.out;
  EXPECT_NE(v.err.find("fidelity: "), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("on 3,905 inputs (the whole domain)"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("repair: "), std::string::npos) << v.err;
  EXPECT_NE(v.err.find(" single-token edits run in "), std::string::npos) << "RASP's default: " << v.err;
  const test::Ran chosen = modelmap("decompile " + dir + "/v.safetensors --mapper " + mapper + " --candidates 4 --threads 2 --search none");
  ASSERT_EQ(chosen.exit_code, 0) << chosen.err;
  test::write_file(dir + "/best.py", chosen.out);
  EXPECT_EQ(modelmap("run --program " + dir + "/best.py --input '[1, 2, 3]'").exit_code, 0) << chosen.out;
  // Synthesis, the default search for RASP: guided by the mapper's candidates, and alone (no mapper). It
  // is never less faithful than the best candidate (the candidates' own programs are scored in it).
  const test::Ran guided = modelmap("decompile " + dir + "/v.safetensors --mapper " + mapper + " --candidates 4 --search-seconds 2 --all");
  ASSERT_EQ(guided.exit_code, 0) << guided.err;
  EXPECT_EQ(guided.out.find("# 1. fidelity "), 0u) << guided.out;
  EXPECT_NE(guided.err.find("synthesis: "), std::string::npos) << guided.err;
  EXPECT_NE(guided.err.find("guided by the mapper's candidates"), std::string::npos) << guided.err;
  const test::Ran alone = modelmap("decompile " + dir + "/v.safetensors --search-seconds 2");
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_NE(alone.err.find("(search alone)"), std::string::npos) << alone.err;
  test::write_file(dir + "/alone.py", alone.out);
  EXPECT_EQ(modelmap("run --program " + dir + "/alone.py --input '[1, 2, 3]'").exit_code, 0) << alone.out;
  const test::Ran esynth = modelmap("eval --corpus " + corpus + " --mapper " + mapper + " --floor " + floor +
                                " --search synth --search-seconds 1 --limit 2 --threads 2 --json " + dir + "/rs.json");
  ASSERT_EQ(esynth.exit_code, 0) << esynth.err;
  const auto synth_methods = nlohmann::json::parse(test::slurp(dir + "/rs.json"))["methods"];
  ASSERT_EQ(synth_methods.size(), 2u);
  EXPECT_EQ(synth_methods[1]["name"], "synthesis");
  for (const char* who : {"mapper", "floor", "alone"}) EXPECT_EQ(synth_methods[1][who]["all"]["n"].get<int>(), 2) << who;
  const test::Ran only = modelmap("eval --corpus " + corpus + " --search synth --search-seconds 1 --limit 2 --json " + dir + "/ra.json");
  ASSERT_EQ(only.exit_code, 0) << only.err;
  EXPECT_EQ(nlohmann::json::parse(test::slurp(dir + "/ra.json"))["methods"][0]["alone"]["all"]["n"].get<int>(), 2);

  // The table per method (repair bounded by its edit count only: a time budget would make the recomputed
  // views below depend on the machine's load). The greedy program is among the candidates and repair only keeps edits that raise
  // agreement, so on RASP (whose verification inputs are the evaluation's: the whole domain) fidelity can
  // only rise from method to method, for the mapper and for the floor alike.
  const std::string views = dir + "/views.jsonl";
  const std::string eval_k = "eval --corpus " + corpus + " --mapper " + mapper + " --floor " + floor +
                             " --candidates 3 --repair --repair-edits 100 --repair-seconds 100000 --threads 2 --views-file " +
                             views + " --json ";
  const test::Ran ek = modelmap(eval_k + dir + "/rk.json");
  ASSERT_EQ(ek.exit_code, 0) << ek.err;
  const auto methods = nlohmann::json::parse(test::slurp(dir + "/rk.json"))["methods"];
  ASSERT_EQ(methods.size(), 3u);
  EXPECT_EQ(methods[0]["name"], "greedy");
  EXPECT_EQ(methods[1]["name"], "best of 3");
  EXPECT_EQ(methods[2]["name"], "repair");
  EXPECT_EQ(methods[2]["repair_structural"], false) << "RASP repairs by single tokens unless told otherwise";
  for (const char* who : {"mapper", "floor"})
    for (size_t k = 1; k < 3; ++k)
      EXPECT_GE(methods[k][who]["all"]["fidelity_position"].get<double>(),
                methods[k - 1][who]["all"]["fidelity_position"].get<double>()) << who << " " << k;

  // The views file: a header, then each view's record as it is scored. Rerun on the complete file, every
  // view is read back and the tables are the same; cut after one record and half of the next (a killed
  // run), the rest is recomputed to the same tables; records are what the report sums (a tampered one
  // shows); a file written with other options is refused.
  auto tables = [](const std::string& report) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : nlohmann::json::parse(test::slurp(report))["methods"]) out.push_back({m["mapper"], m["floor"]});
    return out;
  };
  auto lines_of = [](const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    return out;
  };
  const std::vector<std::string> lines = lines_of(test::slurp(views));
  const int n_views = nlohmann::json::parse(test::slurp(dir + "/rk.json"))["views"].get<int>();
  ASSERT_EQ(lines.size(), static_cast<size_t>(n_views) + 1);
  ASSERT_GE(n_views, 2);
  const test::Ran again = modelmap(eval_k + dir + "/rk2.json");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const std::string all_back = "resuming: " + std::to_string(n_views) + " of " + std::to_string(n_views) + " views";
  EXPECT_NE(again.err.find(all_back), std::string::npos) << again.err;
  EXPECT_EQ(tables(dir + "/rk2.json"), tables(dir + "/rk.json"));
  test::write_file(views, lines[0] + "\n" + lines[1] + "\n" + lines[2].substr(0, lines[2].size() / 2));
  const test::Ran cut = modelmap(eval_k + dir + "/rk3.json");
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  EXPECT_NE(cut.err.find("dropping an unfinished last line"), std::string::npos) << cut.err;
  EXPECT_NE(cut.err.find("resuming: 1 of"), std::string::npos) << cut.err;
  EXPECT_EQ(tables(dir + "/rk3.json"), tables(dir + "/rk.json"));
  EXPECT_EQ(lines_of(test::slurp(views)).size(), lines.size());
  std::string tampered = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(lines[i]);
    j["methods"][0]["mapper"]["token_accuracy"] = 0.25;
    tampered += j.dump() + "\n";
  }
  test::write_file(views, tampered);
  ASSERT_EQ(modelmap(eval_k + dir + "/rk4.json").exit_code, 0);
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(test::slurp(dir + "/rk4.json"))["methods"][0]["mapper"]["all"]["token_accuracy"].get<double>(), 0.25);
  // Records written before output-first token accuracy was measured (the field taken out of every score)
  // get it from their programs and the views' targets: the same tables as when it was measured.
  ASSERT_TRUE(methods[0]["mapper"]["all"].contains("output_first_token_accuracy")) << methods[0].dump();
  std::string older = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(lines[i]);
    for (auto& m : j["methods"])
      for (const char* who : {"mapper", "floor"}) {
        ASSERT_TRUE(m[who].contains("output_first_token_accuracy")) << m.dump();
        m[who].erase("output_first_token_accuracy");
      }
    older += j.dump() + "\n";
  }
  test::write_file(views, older);
  ASSERT_EQ(modelmap(eval_k + dir + "/rk5.json").exit_code, 0);
  EXPECT_EQ(tables(dir + "/rk5.json"), tables(dir + "/rk.json"));
  const test::Ran other = modelmap("eval --corpus " + corpus + " --mapper " + mapper + " --floor " + floor +
                                   " --candidates 4 --repair --repair-edits 100 --repair-seconds 100000 --threads 2 --views-file " +
                                   views);
  EXPECT_EQ(other.exit_code, 2) << other.err;
  EXPECT_NE(other.err.find("other options (candidates)"), std::string::npos) << other.err;
  // Synthesis's result depends on its thread count (one search per thread): a resumed run must use the same.
  const std::string synth_views = dir + "/synth.views.jsonl";
  const std::string eval_s = "eval --corpus " + corpus + " --search synth --search-seconds 0.2 --limit 1 --views-file " + synth_views;
  ASSERT_EQ(modelmap(eval_s + " --threads 1").exit_code, 0);
  const test::Ran threads2 = modelmap(eval_s + " --threads 2");
  EXPECT_EQ(threads2.exit_code, 2) << threads2.err;
  EXPECT_NE(threads2.err.find("other options (threads)"), std::string::npos) << threads2.err;

  // Refusals: one line, exit 2.
  test::write_file(dir + "/bad.pt", "not a checkpoint");
  std::vector<std::pair<std::string, std::string>> bad = {
      {"decompile " + dir + "/v.safetensors --mapper " + dir + "/bad.pt", "not a modelmap mapper checkpoint"},
      {"decompile " + dir + "/v.safetensors --mapper " + dir + "/none.pt", "does not exist"},
      {train + "--epochs 5 --encoder layergraph -o " + mapper, "another configuration"},
      {train + "--epochs 5 --d-ff 64 -o " + mapper, "; this command asks for "},  // both configurations, in words
      {train + "--epochs 5 --d-ff 64 -o " + mapper, "d_ff 64"},                   // ... naming what differs
      {train + "--epochs 5 --patience 0 -o " + mapper, "trained with early stopping; resume it with a --patience above 0"},
      {train + "--epochs 3 -o " + dir + "/p0.pt", "trained with --patience 0; resume it with --patience 0"},
      {"eval --corpus " + corpus + " --mapper " + mapper + " --floor " + dir + "/bad.pt", "not a modelmap mapper checkpoint"},
      {"mapper train --corpus " + dir + "/none.sqlite -o " + dir + "/x.pt", "does not exist"},
      {"eval --corpus " + corpus + " --mapper " + mapper + " --repair", "--repair repairs the best of the candidates"},
      {"decompile " + dir + "/v.safetensors --mapper " + mapper + " --candidates 2 --repair --repair-structural --no-repair-structural",
       "excludes"},
      {"decompile " + dir + "/v.safetensors --search-seconds 0", "budget in seconds must be above 0"},
      {"decompile " + dir + "/v.safetensors --search-expressions 0", "budget in expressions must be at least 1"},
      {"decompile " + dir + "/v.safetensors --search repair", "repair starts from a mapper's candidates"},
      {"decompile " + dir + "/v.safetensors --search magic", "magic"},
      {"decompile " + dir + "/v.safetensors --mapper " + mapper + " --candidates 2 --repair --search synth", "ask for different searches"},
      {"decompile " + mapper, "not"},
      {"eval --corpus " + corpus, "give --mapper, or --search synth"},
      {"eval --corpus " + corpus + " --search repair", "not in {synth}"},
  };
  // Corrupted copies of a good checkpoint: bytes flipped at places spread over the file (archive headers,
  // records, parameters, optimizer state). Each is refused with one line, or — where the flipped bytes are
  // not read by decompile (the optimizer's state, the last epoch's parameters when a best epoch is stored) —
  // decompiles exactly as the good file: never other weights.
  const std::string good = test::slurp(mapper);
  int refused = 0;
  for (int k = 1; k <= 12; ++k) {
    std::string b = good;
    const size_t at = b.size() * static_cast<size_t>(k) / 13;
    for (size_t i = at; i < std::min(b.size(), at + 16); ++i) b[i] = static_cast<char>(b[i] ^ 0x5a);
    const std::string path = dir + "/corrupt" + std::to_string(k) + ".pt";
    test::write_file(path, b);
    const test::Ran r = modelmap("decompile " + dir + "/v.safetensors --mapper " + path + " --beam 3 --search none");
    if (r.exit_code == 0) {
      EXPECT_EQ(r.out, d.out) << "corruption at byte " << at << " changed what the mapper decodes";
    } else {
      ++refused;
      EXPECT_EQ(r.exit_code, 2) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      EXPECT_NE(r.err.find("checkpoint"), std::string::npos) << r.err;
    }
  }
  EXPECT_GT(refused, 0);
  test::expect_refused(kBin, bad);
  std::filesystem::remove_all(dir);
}

// The classic programs of tests/cases, each trained as a tiny subject (to 99.5% per position), then
// decompiled by synthesis with no mapper: the program found is run by the evaluator on the whole domain
// beside the true one. Measured: five of six come back equivalent; the histogram's model gives 4 where a
// token occurs five times (the five inputs of one repeated token), and the search returns the program
// that does what the model does (the histogram capped at 4) — more faithful to the model than the truth.
// Every program found is at least as faithful to its model as the true program is.
TEST(MapperCli, ClassicProgramsTrainedAsTinySubjectsDecompileBySynthesis) {
  const std::string dir = fresh_dir("classic");
  const std::vector<std::string> names = {"frac_prevs", "histogram", "length", "pair_balance", "reverse", "sort_unique"};
  std::string jsonl;
  for (const std::string& n : names) jsonl += nlohmann::json{{"lang", "rasp"}, {"source", test::slurp(kCases + "/rasp/" + n + ".py")}}.dump() + "\n";
  test::write_file(dir + "/classic.jsonl", jsonl);
  const std::string corpus = dir + "/c.sqlite";
  const test::Ran b = modelmap("corpus build --lang rasp --from " + dir + "/classic.jsonl --preset tiny --views 1 --threshold 0.995 "
                               "--threads 1 --out " + corpus);
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const Language& lang = language_by_name("rasp");
  int equivalent = 0;
  for (size_t v = 1; v <= names.size(); ++v) {
    const std::string model = dir + "/v" + std::to_string(v) + ".safetensors", truth_file = dir + "/t" + std::to_string(v) + ".py";
    ASSERT_EQ(modelmap("corpus export " + corpus + " --view " + std::to_string(v) + " -o " + model + " --program " + truth_file).exit_code, 0);
    const test::Ran d = modelmap("decompile " + model + " --search-seconds 16 --threads 1");
    ASSERT_EQ(d.exit_code, 0) << d.err;
    const auto truth = lang.parse(test::slurp(truth_file));
    const auto found = lang.parse(d.out);
    const Behaviour truth_b = program_behaviour(*truth, lang.default_domain());
    const bool same = count_disagreements(*found, truth_b) == 0;
    equivalent += same;
    const SubjectModel subject = subject_from_safetensors(safetensors_read_file(model), model);
    const Behaviour model_b = model_behaviour(subject, kVerificationInputs, 1);
    EXPECT_GE(program_agreement(*found, model_b).positions, program_agreement(*truth, model_b).positions)
        << truth->text() << "found:\n" << d.out;
    if (!same) std::cerr << "not equivalent (the model differs from its program):\n" << truth->text() << "found:\n" << d.out;
  }
  EXPECT_GE(equivalent, 5);
  std::filesystem::remove_all(dir);
}

}  // namespace mm

namespace mm {
namespace {

std::string html_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else if (c == '\'') out += "&#39;";
    else out += c;
  }
  return out;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// {input: output} from `predict --domain` or `run --domain` (JSON lines).
std::map<std::string, std::string> by_input(const std::string& jsonl) {
  std::map<std::string, std::string> out;
  std::istringstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    out[j["input"].dump()] = j["output"].dump();
  }
  return out;
}

}  // namespace

// `decompile --report` and `eval --report`: self-contained pages that show what was computed — the printed
// program, one heatmap per head, the disagreements and the equivalence with the true program recounted
// here from `predict --domain` and `run --domain`, the eval JSON's numbers — and bad input refused.
TEST(MapperCli, ReportPagesShowTheDecompileAndTheEvalAsComputed) {
  const std::string dir = fresh_dir("report");
  const std::string corpus = dir + "/c.sqlite", model = dir + "/v.safetensors", truth = dir + "/true.py";
  ASSERT_EQ(build_tiny_corpus(corpus).exit_code, 0);
  ASSERT_EQ(modelmap("corpus export " + corpus + " --view 5 -o " + model + " --program " + truth).exit_code, 0);
  const test::Ran d = modelmap("decompile " + model + " --search-seconds 1 --threads 1 --report " + dir + "/d.html --truth " + truth);
  ASSERT_EQ(d.exit_code, 0) << d.err;
  const std::string page = test::slurp(dir + "/d.html");
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
  EXPECT_EQ(page.find(" src="), std::string::npos) << "nothing fetched";
  EXPECT_EQ(page.find(" href="), std::string::npos) << "nothing fetched";
  // The program printed is the program shown; one heatmap per head (tiny: 3 layers of 2 heads).
  EXPECT_NE(page.find(html_escaped(d.out)), std::string::npos) << d.out;
  EXPECT_EQ(occurrences(page, "<b>layer "), 6u);
  // The disagreements, recounted: the model's predictions against the printed program's outputs.
  test::write_file(dir + "/p.py", d.out);
  const auto model_out = by_input(modelmap("predict --model " + model + " --domain").out);
  const auto prog_out = by_input(modelmap("run --program " + dir + "/p.py --domain").out);
  const auto true_out = by_input(modelmap("run --program " + truth + " --domain").out);
  ASSERT_EQ(model_out.size(), 3905u);
  size_t wrong = 0, differs_from_truth = 0;
  for (const auto& [x, y] : model_out) {
    wrong += prog_out.at(x) != y;
    differs_from_truth += prog_out.at(x) != true_out.at(x);
  }
  if (wrong == 0) {
    EXPECT_NE(page.find("Nowhere: they agree on every one of the 3,905 inputs"), std::string::npos);
  } else {
    EXPECT_NE(page.find(std::to_string(wrong) + " of 3,905 inputs; the first " + std::to_string(std::min<size_t>(wrong, 20))),
              std::string::npos) << page.substr(0, 4000);
  }
  // The true program, and whether the answer is equivalent to it, as `run` says.
  EXPECT_NE(page.find("From " + truth), std::string::npos);
  EXPECT_EQ(page.find("is equivalent to it") != std::string::npos, differs_from_truth == 0) << differs_from_truth;

  // The eval page: the JSON report's numbers, drawn.
  const std::string train = "mapper train --corpus " + corpus + " --d-model 32 --threads 1 --epochs 1 ";
  ASSERT_EQ(modelmap(train + "-o " + dir + "/m.pt").exit_code, 0);
  ASSERT_EQ(modelmap(train + "--no-weights -o " + dir + "/f.pt").exit_code, 0);
  const test::Ran e = modelmap("eval --corpus " + corpus + " --mapper " + dir + "/m.pt --floor " + dir + "/f.pt --threads 1 --json " +
                               dir + "/r.json --report " + dir + "/e.html");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const std::string eval_page = test::slurp(dir + "/e.html");
  const auto r = nlohmann::json::parse(test::slurp(dir + "/r.json"));
  char cell[64];
  std::snprintf(cell, sizeof cell, "%.1f%%</td>", 100 * r["mapper"]["all"]["token_accuracy"].get<double>());
  EXPECT_NE(eval_page.find(cell), std::string::npos) << cell;
  EXPECT_NE(eval_page.find("<h2>greedy</h2>"), std::string::npos);
  EXPECT_NE(eval_page.find("Fidelity per view"), std::string::npos);

  // Bad input: --truth without --report; a report that cannot be written.
  const test::Ran lone = modelmap("decompile " + model + " --truth " + truth);
  EXPECT_EQ(lone.exit_code, 2);
  EXPECT_NE(lone.err.find("--truth is for the report"), std::string::npos) << lone.err;
  const test::Ran nowhere = modelmap("decompile " + model + " --search-seconds 0.2 --report /nonexistent/dir/d.html");
  EXPECT_EQ(nowhere.exit_code, 2);
  EXPECT_NE(nowhere.err.find("cannot write '/nonexistent/dir/d.html.tmp'"), std::string::npos) << nowhere.err;
  std::filesystem::remove_all(dir);
}

}  // namespace mm

namespace mm {

// Data-parallel training on loopback (issue 20): two ranks train one epoch to the parameters of one
// process with the same global batch; a killed rank ends the job with a clear message and a rerun resumes
// from the last checkpoint; a master that cannot be reached fails within the timeout, in one line; ranks
// that disagree on the world size are refused.
TEST(MapperCli, TwoRanksTrainAsOneProcessAndSurviveAKilledRank) {
  const std::string dir = fresh_dir("dist");
  const std::string corpus = dir + "/c.sqlite";
  ASSERT_EQ(build_tiny_corpus(corpus).exit_code, 0);
  const std::string train = "mapper train --corpus " + corpus + " --d-model 32 --threads 1 --batch 4 --patience 0 ";
  const test::Ran one = modelmap(train + "--epochs 2 -o " + dir + "/one.pt");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const test::Ran two = modelmap(train + "--epochs 2 --procs 2 -o " + dir + "/two.pt");
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.out.find("two.pt: trained"), std::string::npos) << two.out;
  const Mapper a = load_mapper(dir + "/one.pt", "rasp", torch::kCPU), b = load_mapper(dir + "/two.pt", "rasp", torch::kCPU);
  const auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  double diff = 0, norm = 0;
  for (size_t k = 0; k < pa.size(); ++k) {
    diff += (pa[k] - pb[k]).pow(2).sum().item<double>();
    norm += pa[k].pow(2).sum().item<double>();
  }
  EXPECT_LE(std::sqrt(diff / norm), 1e-5) << "relative difference of all parameters";
  std::printf("relative difference of the parameters, 2 ranks against 1 process: %.3g\n", std::sqrt(diff / norm));
  EXPECT_EQ(read_mapper_checkpoint(dir + "/two.pt").epochs.size(), 2u);
  EXPECT_NEAR(read_mapper_checkpoint(dir + "/two.pt").epochs[1].train_loss, read_mapper_checkpoint(dir + "/one.pt").epochs[1].train_loss, 1e-4);

  // A killed rank: the job ends with a message naming it; rerunning resumes from the last checkpoint.
  const std::string ckpt = dir + "/killed.pt";
  const std::string long_run = train + "--epochs 100000 --procs 2 -o " + ckpt;
  const pid_t job = fork();
  if (job == 0) {
    const test::Ran r = modelmap(long_run);
    test::write_file(dir + "/killed.err", r.err);
    _exit(r.exit_code);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline &&
         (!std::filesystem::exists(ckpt) || read_mapper_checkpoint(ckpt).epochs.size() < 2))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(std::filesystem::exists(ckpt));
  // (The pattern's "[-]" keeps it from matching the shell that runs pkill.)
  ASSERT_EQ(test::run_shell("pkill -9 -f -- '" + ckpt + " [-]-world-size 2 --rank 1 '").exit_code, 0);
  int status = 0;
  waitpid(job, &status, 0);
  EXPECT_NE(WEXITSTATUS(status), 0);
  const std::string err = test::slurp(dir + "/killed.err");
  EXPECT_NE(err.find("rank 1 of 2 stopped"), std::string::npos) << err;
  EXPECT_NE(err.find("rerun the same command to resume"), std::string::npos) << err;
  const size_t done = read_mapper_checkpoint(ckpt).epochs.size();
  ASSERT_GE(done, 2u);
  const test::Ran resumed = modelmap(train + "--epochs " + std::to_string(done + 1) + " --procs 2 -o " + ckpt);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming " + ckpt + " after epoch " + std::to_string(done)), std::string::npos) << resumed.err;
  EXPECT_EQ(read_mapper_checkpoint(ckpt).epochs.size(), done + 1);

  // A master nobody hosts: one line within the timeout.
  const auto t0 = std::chrono::steady_clock::now();
  const test::Ran lost = modelmap(train + "--epochs 1 --world-size 2 --rank 1 --master 127.0.0.1:1 --timeout 2 -o " + dir + "/x.pt");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(lost.exit_code, 2);
  EXPECT_LT(seconds, 30.0);
  const std::string last = lost.err.substr(lost.err.rfind("modelmap: error:"));
  EXPECT_NE(last.find("rank 1: cannot reach the master at 127.0.0.1:1 within 2 s"), std::string::npos) << lost.err;
  EXPECT_EQ(std::count(last.begin(), last.end(), '\n'), 1) << last;
  // Ranks that disagree on the world size.
  const test::Ran mixed = test::run_shell("( " + kBin + " " + train + "--epochs 1 --world-size 2 --rank 0 --master 127.0.0.1:29517 --timeout 20 -o " +
                                          dir + "/y.pt & " + kBin + " " + train + "--epochs 1 --world-size 3 --rank 1 --master "
                                          "127.0.0.1:29517 --timeout 20 -o " + dir + "/y.pt; wait )");
  EXPECT_NE(mixed.err.find("the ranks disagree on the world size"), std::string::npos) << mixed.err;
  // Ranks whose corpora differ (same file name, other programs): refused on every rank.
  std::filesystem::create_directories(dir + "/other");
  ASSERT_EQ(modelmap("corpus build --lang rasp --from " + kCases + "/corpus_rasp_reduce.jsonl --preset tiny --views 2 "
                     "--view-every 50 --threads 1 --out " + dir + "/other/c.sqlite").exit_code, 0);
  const std::string flags = " --d-model 32 --threads 1 --batch 4 --patience 0 --epochs 1 --world-size 2 --master 127.0.0.1:29518 --timeout 20 -o ";
  const test::Ran apart = test::run_shell("( " + kBin + " mapper train --corpus " + corpus + flags + dir + "/w.pt --rank 0 & " + kBin +
                                          " mapper train --corpus " + dir + "/other/c.sqlite" + flags + dir + "/w.pt --rank 1; wait )");
  EXPECT_EQ(occurrences(apart.err, "differs from rank 0 in the corpus content"), 2u) << apart.err;
  // Flags out of range.
  EXPECT_NE(modelmap(train + "--world-size 2 --rank 2 -o " + dir + "/z.pt").err.find("--rank 2 is outside a world of 2"), std::string::npos);
  EXPECT_NE(modelmap(train + "--procs 2 --rank 1 -o " + dir + "/z.pt").err.find("--procs starts its own ranks"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace mm

namespace mm {

// `eval --shard i/N --views-file` as a job array, then `eval --merge`: the same report as one evaluation
// (seconds aside); a missing shard and mismatched options refused.
// `mapper statements` gives a trained mapper a statement head without changing the rest of it (greedy
// decoding without the head writes what the mapper did); `eval --statements head` holds greedy decoding to
// the count the head predicts, exactly what decode_program under that count writes, with that many
// statements; `--statements oracle` to the target's own count; a mapper without a head is refused.
// scripts/shift's position-wise token accuracy is eval's.
TEST(MapperCli, StatementHeadHoldsGreedyDecodingToTheCountItPredicts) {
  const std::string dir = fresh_dir("statements");
  const std::string corpus = dir + "/c.sqlite", m = dir + "/m.pt", h = dir + "/h.pt";
  ASSERT_EQ(build_tiny_corpus(corpus).exit_code, 0);
  ASSERT_EQ(modelmap("mapper train --corpus " + corpus + " --d-model 32 --threads 1 --epochs 2 --encoder behaviour "
                     "--order output-first -o " + m).exit_code, 0);
  const test::Ran st = modelmap("mapper statements --mapper " + m + " --corpus " + corpus + " --epochs 5 --threads 1 -o " + h);
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("statement head trained"), std::string::npos) << st.out;
  EXPECT_NE(st.err.find("epoch 5/5: train loss"), std::string::npos) << st.err;
  const MapperConfig hc = read_mapper_checkpoint(h).config;
  EXPECT_GT(hc.statement_classes, 2);
  EXPECT_EQ(read_mapper_checkpoint(m).config.statement_classes, 0);
  EXPECT_EQ(read_mapper_checkpoint(h).epochs.size(), read_mapper_checkpoint(m).epochs.size());

  auto programs_of = [](const std::string& path) {
    std::map<int64_t, std::string> out;
    std::istringstream in(test::slurp(path));
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      out[j["view"].get<int64_t>()] = j["methods"][0]["mapper"]["program"].get<std::string>();
    }
    return out;
  };
  const std::string eval = "eval --corpus " + corpus + " --threads 1 --views-file " + dir;
  ASSERT_EQ(modelmap(eval + "/m.jsonl --mapper " + m + " --json " + dir + "/m.json").exit_code, 0);
  // scripts/shift recomputes eval's token accuracy from the views file (and what it adds beside it).
  const test::Ran shift = test::run_shell("python3 " + kCases + "/../../scripts/shift " + corpus + " " + dir + "/m.jsonl");
  ASSERT_EQ(shift.exit_code, 0) << shift.err;
  char figure[32];
  std::snprintf(figure, sizeof figure, "(position-wise) %.1f%%",
                100 * nlohmann::json::parse(test::slurp(dir + "/m.json"))["mapper"]["all"]["token_accuracy"].get<double>());
  EXPECT_NE(shift.out.find(figure), std::string::npos) << shift.out << " against eval's " << figure;
  EXPECT_NE(shift.out.find("same number of statements"), std::string::npos) << shift.out;
  ASSERT_EQ(modelmap(eval + "/h.jsonl --mapper " + h).exit_code, 0);
  EXPECT_EQ(programs_of(dir + "/m.jsonl"), programs_of(dir + "/h.jsonl")) << "the head leaves the rest of the mapper as it was";
  const test::Ran held = modelmap(eval + "/held.jsonl --mapper " + h + " --statements head");
  ASSERT_EQ(held.exit_code, 0) << held.err;
  const test::Ran oracle = modelmap(eval + "/oracle.jsonl --mapper " + m + " --statements oracle");
  ASSERT_EQ(oracle.exit_code, 0) << oracle.err;
  const test::Ran no_head = modelmap(eval + "/x.jsonl --mapper " + m + " --statements head");
  EXPECT_EQ(no_head.exit_code, 2);
  EXPECT_NE(no_head.err.find("has no statement head"), std::string::npos) << no_head.err;
  EXPECT_EQ(modelmap("mapper statements --mapper " + m + " --corpus " + corpus + " -o " + m).exit_code, 2);

  // The same decoding in-process: the head's count, decode_program held to it.
  Mapper mapper = load_mapper(h, "rasp", torch::kCPU);
  const Language& rasp = language_by_name("rasp");
  const Language& written = written_language(mapper->config());
  auto db = Corpus::open(corpus, /*create=*/false, /*readonly=*/true);
  const std::vector<MapperExample> tests = load_examples(*db, mapper->config(), "test");
  ASSERT_FALSE(tests.empty());
  const auto held_programs = programs_of(dir + "/held.jsonl"), oracle_programs = programs_of(dir + "/oracle.jsonl");
  for (const MapperExample& e : tests) {
    torch::NoGradGuard no_grad;
    const Memory memory = mapper->encode(collate({&e.input}, mapper->config(), torch::kCPU));
    const int k = mapper->predicted_statements(memory)[0];
    EXPECT_GE(k, 1);
    const std::vector<Decoded> d = decode_program(mapper, memory, 1, k);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(held_programs.at(e.view_id), join_tokens(d[0].tokens));
    // That many statements as written (canonical form may merge two equal ones).
    EXPECT_LE(written.statement_count(written.spell(*rasp.detokenize(d[0].tokens))), k);
    const std::vector<std::string> oracle_tokens = split_tokens(oracle_programs.at(e.view_id));
    EXPECT_LE(rasp.statement_count(oracle_tokens), rasp.statement_count(e.reduced)) << oracle_programs.at(e.view_id);
  }
}

TEST(MapperCli, EvalShardsMergeToTheWholeEvaluation) {
  const std::string dir = fresh_dir("shards");
  const std::string corpus = dir + "/c.sqlite";
  ASSERT_EQ(build_tiny_corpus(corpus).exit_code, 0);
  const std::string train = "mapper train --corpus " + corpus + " --d-model 32 --threads 1 --epochs 1 ";
  ASSERT_EQ(modelmap(train + "-o " + dir + "/m.pt").exit_code, 0);
  ASSERT_EQ(modelmap(train + "--no-weights -o " + dir + "/f.pt").exit_code, 0);
  const std::string eval = "eval --corpus " + corpus + " --mapper " + dir + "/m.pt --floor " + dir + "/f.pt --candidates 2 --threads 1 ";
  ASSERT_EQ(modelmap(eval + "--json " + dir + "/full.json").exit_code, 0);
  for (int i = 0; i < 2; ++i) {
    const test::Ran s = modelmap(eval + "--shard " + std::to_string(i) + "/2 --views-file " + dir + "/s" + std::to_string(i) + ".jsonl");
    ASSERT_EQ(s.exit_code, 0) << s.err;
    EXPECT_NE(s.err.find("shard " + std::to_string(i) + "/2: 1 test views"), std::string::npos) << s.err;
  }
  const test::Ran m = modelmap(eval + "--merge " + dir + "/s0.jsonl " + dir + "/s1.jsonl --json " + dir + "/merged.json");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  std::function<nlohmann::json(const nlohmann::json&)> strip = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& [k, v] : j.items())
        if (k.find("seconds") == std::string::npos) out[k] = strip(v);
      return out;
    }
    if (j.is_array()) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& v : j) out.push_back(strip(v));
      return out;
    }
    return j;
  };
  const auto full = nlohmann::json::parse(test::slurp(dir + "/full.json"));
  EXPECT_EQ(strip(full), strip(nlohmann::json::parse(test::slurp(dir + "/merged.json"))));
  EXPECT_EQ(full["mapper"]["all"]["n"].get<int>(), 2);
  const test::Ran half = modelmap(eval + "--merge " + dir + "/s0.jsonl");
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.err.find("the files hold 1 of the 2 test views"), std::string::npos) << half.err;
  const test::Ran other = modelmap("eval --corpus " + corpus + " --mapper " + dir + "/m.pt --threads 1 --merge " + dir + "/s0.jsonl " +
                                   dir + "/s1.jsonl");
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("other options"), std::string::npos) << other.err;
  EXPECT_NE(modelmap(eval + "--shard 1/2").err.find("give --views-file"), std::string::npos);
  EXPECT_NE(modelmap(eval + "--shard 3/2 --views-file x").err.find("need 0 <= i < N"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace mm
