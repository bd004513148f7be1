// The subject model: the batched torch forward pass against the plain C++ reference, batched training
// against training each model alone, the safetensors format and its validation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>

#include "core/error.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/sample.h"
#include "subject/kernels.h"
#include "subject/model.h"
#include "subject/trainer.h"
#include "subject_fixtures.h"
#include "test_util.h"

namespace mm {

namespace {

std::vector<SubjectJob> some_jobs(const std::string& preset, int n) {
  const Language& lang = language_by_name("rasp");
  SampleConfig sc;
  sc.domain = lang.default_domain();
  Sampler sampler(lang, sc);
  Rng rng(5);
  SizePolicy policy;
  policy.preset = preset;
  std::vector<SubjectJob> jobs;
  for (int k = 0; k < n; ++k)
    jobs.push_back(make_subject_job(k, sampler.next(rng), "rasp", sc.domain, policy, TrainConfig{}, 100 + k));
  return jobs;
}

}  // namespace

TEST(Subject, PresetsHaveTheAdvertisedSizes) {
  InputDomain d{0, 4, 1, 5};
  Rng rng(1);
  SizePolicy tiny{"tiny"}, small{"small"}, paper{"paper"};
  EXPECT_NEAR(static_cast<double>(parameter_count(choose_arch(tiny, d, 10, rng))), 10'000, 2'000);
  EXPECT_NEAR(static_cast<double>(parameter_count(choose_arch(small, d, 10, rng))), 26'000, 4'000);
  int64_t lo = INT64_MAX, hi = 0;
  for (int k = 0; k < 300; ++k) {
    const SubjectArch a = choose_arch(paper, d, 10, rng);
    EXPECT_TRUE(a.d_model >= 16 && a.d_model <= 512 && a.n_layers >= 1 && a.n_layers <= 6 && a.n_heads >= 1 &&
                a.n_heads <= 8);
    lo = std::min(lo, parameter_count(a));
    hi = std::max(hi, parameter_count(a));
  }
  EXPECT_GE(lo, 10'000);
  EXPECT_LT(lo, 30'000);
  EXPECT_LE(hi, 10'000'000);
  EXPECT_GT(hi, 3'000'000);
  paper.min_params = 9'000'000;
  EXPECT_GE(parameter_count(choose_arch(paper, d, 10, rng)), 9'000'000);
}

// The batched torch forward pass and the plain C++ one compute the same logits.
TEST(Subject, BatchedForwardMatchesTheReferenceForwardPass) {
  const auto jobs = some_jobs("tiny", 3);
  const std::vector<Input> inputs = {{0}, {1, 2}, {4, 3, 2, 1, 0}, {2, 2, 2}};
  std::vector<SubjectModel> models;
  const auto batched = batched_logits(jobs, inputs, &models);
  ASSERT_EQ(models.size(), jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j)
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::vector<float> ref = subject_logits(models[j], inputs[i]);
      ASSERT_EQ(ref.size(), batched[j][i].size());
      for (size_t k = 0; k < ref.size(); ++k) EXPECT_NEAR(ref[k], batched[j][i][k], 1e-4) << "job " << j << " input " << i;
    }
}

// Training models together gives each the losses it has when trained alone: within 1e-6 for the torch
// trainer, bit for bit for the fast one (whatever the thread count).
TEST(Subject, BatchedTrainingEqualsTrainingEachModelAlone) {
  const auto jobs = some_jobs("tiny", 4);
  for (const std::string trainer : {"torch", "fast"}) {
    TrainConfig config;
    config.trainer = trainer;
    config.threads = 2;
    const auto together = trace_losses(jobs, config, 8);
    config.threads = 1;
    for (size_t j = 0; j < jobs.size(); ++j) {
      const auto alone = trace_losses({jobs[j]}, config, 8);
      ASSERT_EQ(alone[0].size(), together[j].size());
      for (size_t s = 0; s < alone[0].size(); ++s) {
        if (trainer == "fast") EXPECT_EQ(alone[0][s], together[j][s]) << "job " << j << " step " << s;
        else EXPECT_NEAR(alone[0][s], together[j][s], 1e-6) << trainer << " job " << j << " step " << s;
      }
      EXPECT_LT(alone[0].back(), alone[0].front()) << trainer;  // and it learns
    }
  }
}

// The two trainers start from the same weights and see the same data: their first losses agree.
TEST(Subject, FastAndTorchTrainersTraceTheSameLosses) {
  const auto jobs = some_jobs("small", 3);
  TrainConfig fast, torch;
  fast.trainer = "fast", torch.trainer = "torch";
  const auto a = trace_losses(jobs, fast, 5), b = trace_losses(jobs, torch, 5);
  for (size_t j = 0; j < jobs.size(); ++j)
    for (size_t s = 0; s < a[j].size(); ++s) EXPECT_NEAR(a[j][s], b[j][s], 1e-3 * std::max(1.0, b[j][s])) << j << " " << s;
}

// The fast trainer's kernels against plain loops: the multiply in its row-major and transposed layouts,
// over and beside existing values, at sizes that leave partial register tiles; GELU against std::erf.
TEST(Subject, FastKernelsMatchPlainLoops) {
  Rng rng(3);
  auto fill = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = static_cast<float>(rng.uniform01() * 2 - 1);
    return v;
  };
  for (const auto& [n, k, o] : std::vector<std::tuple<int, int, int>>{{1, 1, 8}, {7, 5, 24}, {13, 32, 96}, {6, 3, 16}, {20, 17, 40}}) {
    for (const bool transposed : {false, true})
      for (const bool accumulate : {false, true}) {
        const std::vector<float> a = fill(static_cast<size_t>(n) * k), b = fill(static_cast<size_t>(k) * o);
        std::vector<float> c = fill(static_cast<size_t>(n) * o), want = c;
        // transposed: a holds A^T (k x n) row-major
        const ptrdiff_t rs = transposed ? 1 : k, cs = transposed ? n : 1;
        for (int r = 0; r < n; ++r)
          for (int j = 0; j < o; ++j) {
            double sum = accumulate ? want[static_cast<size_t>(r) * o + j] : 0.0;
            for (int i = 0; i < k; ++i) sum += static_cast<double>(a[static_cast<size_t>(r * rs + i * cs)]) * b[static_cast<size_t>(i) * o + j];
            want[static_cast<size_t>(r) * o + j] = static_cast<float>(sum);
          }
        kern::gemm(n, k, o, a.data(), rs, cs, b.data(), o, c.data(), o, accumulate);
        for (size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], want[i], 1e-5) << n << "x" << k << "x" << o << " " << i;
      }
  }
  std::vector<float> x;
  for (int i = -4000; i <= 4000; ++i) x.push_back(static_cast<float>(i) / 400.0f);
  x.push_back(-30), x.push_back(30), x.push_back(-100);
  std::vector<float> y(x.size()), dy(x.size());
  kern::gelu(x.size(), x.data(), y.data(), dy.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const double cdf = 0.5 * (1 + std::erf(x[i] / std::sqrt(2.0)));
    EXPECT_NEAR(y[i], x[i] * cdf, 1e-6 * std::max(1.0f, std::fabs(x[i]))) << x[i];
    EXPECT_NEAR(dy[i], cdf + x[i] * std::exp(-0.5 * x[i] * x[i]) / std::sqrt(2 * M_PI), 1e-6) << x[i];
  }
}

// The fast trainer's hand-written pass against LibTorch autograd on random models (gains near 1, large
// random weights, so that every path carries gradient): logits within 1e-4 of the plain C++ reference,
// the loss, and every parameter's gradient within 1e-4 relative (by the tensor's norm).
TEST(Subject, FastPassGradientsMatchAutograd) {
  struct Case {
    int d, layers, heads, classes;
  };
  for (const Case c : {Case{16, 3, 2, 7}, Case{32, 2, 4, 10}, Case{24, 1, 3, 3}, Case{16, 2, 1, 17}}) {
    const SubjectModel model = test::random_subject(test::arch_of(c.d, c.layers, c.heads, c.classes), 77 + c.d);
    Rng rng(9);
    std::vector<Input> inputs;
    std::vector<std::vector<int32_t>> targets;
    for (int i = 0; i < 40; ++i) {
      inputs.push_back(model.domain.sample(rng));
      std::vector<int32_t> t;
      for (size_t k = 0; k < inputs.back().size(); ++k)
        t.push_back(rng.uniform01() < 0.15 ? -1 : static_cast<int32_t>(rng.index(static_cast<size_t>(c.classes))));
      targets.push_back(t);
    }
    const PassCheck fast = fast_pass(model, inputs, targets), ref = autograd_pass(model, inputs, targets);
    EXPECT_NEAR(fast.loss, ref.loss, 1e-5 * std::max(1.0, ref.loss));
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::vector<float> plain = subject_logits(model, inputs[i]);
      ASSERT_EQ(plain.size(), fast.logits[i].size());
      for (size_t k = 0; k < plain.size(); ++k) ASSERT_NEAR(plain[k], fast.logits[i][k], 1e-4) << "input " << i;
    }
    ASSERT_EQ(fast.grads.size(), ref.grads.size());
    for (const auto& [name, g] : ref.grads) {
      const std::vector<float>& f = fast.grads.at(name).data;
      ASSERT_EQ(f.size(), g.data.size()) << name;
      double diff = 0, norm = 0;
      for (size_t k = 0; k < f.size(); ++k) diff += (f[k] - g.data[k]) * (f[k] - g.data[k]), norm += g.data[k] * g.data[k];
      EXPECT_GT(norm, 0) << name << " carries no gradient";
      EXPECT_LE(std::sqrt(diff), 1e-4 * std::sqrt(norm)) << "d " << c.d << " " << name;
    }
  }
}

TEST(Subject, SafetensorsRoundTripAndStandardLayout) {
  const auto jobs = some_jobs("tiny", 1);
  std::vector<SubjectModel> models;
  batched_logits(jobs, {{1}}, &models);
  const std::string bytes = safetensors_encode(subject_to_safetensors(models[0]));
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  const SubjectModel back = subject_from_safetensors(safetensors_decode(bytes, "test"), "test");
  EXPECT_EQ(back.weights.size(), models[0].weights.size());
  for (const auto& [name, t] : models[0].weights) EXPECT_EQ(back.weights.at(name).data, t.data) << name;
  EXPECT_EQ(back.program, jobs[0].source);
  EXPECT_EQ(back.arch.to_json(), jobs[0].arch.to_json());
  EXPECT_EQ(values_to_json(back.classes), values_to_json(jobs[0].classes));
  for (const Input& x : std::vector<Input>{{0}, {3, 1, 2}})
    EXPECT_EQ(values_to_json(subject_predict(back, x)), values_to_json(subject_predict(models[0], x)));
}

// Every malformed-file class is refused with a one-line mm::Error, never a crash or an over-read.
TEST(Safetensors, RejectsEveryMalformedFileClass) {
  SafeTensors st;
  st.tensors["a"] = {{2, 2}, {1, 2, 3, 4}};
  st.tensors["b"] = {{3}, {5, 6, 7}};
  st.metadata["k"] = "v";
  const std::string good = safetensors_encode(st);
  EXPECT_NO_THROW(safetensors_decode(good, "good"));
  auto with_header = [](const std::string& json, const std::string& data) {
    std::string out(8, '\0');
    const uint64_t n = json.size();
    std::memcpy(out.data(), &n, 8);
    return out + json + data;
  };
  const std::string data16(16, '\0');
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "shorter than"},
      {good.substr(0, 5), "shorter than"},
      {good.substr(0, good.size() - 4), "past the end of the data"},  // truncated data
      {good + "xxxx", "no tensor claims"},
      {with_header("{}", "") .replace(0, 8, std::string("\xff\xff\xff\xff\x00\x00\x00\x00", 8)), "over 100 MB"},
      {with_header("{}", "").replace(0, 8, std::string("\x40\x00\x00\x00\x00\x00\x00\x00", 8)), "past the end"},
      {with_header("{\"a\": {", data16), "not valid JSON"},
      {with_header("[1, 2]", ""), "not a JSON object"},
      {with_header(R"({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [3], "data_offsets": [8, 20]}})", std::string(20, '\0')), "overlaps"},
      {with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})", data16), "hole"},
      {with_header(R"({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 32]}})", data16), "past the end of the data"},
      {with_header(R"({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 0]}})", data16), "end before they begin"},
      {with_header(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}})", data16), "F32 x shape needs"},
      {with_header(R"({"a": {"dtype": "Q7", "shape": [4], "data_offsets": [0, 16]}})", data16), "unknown dtype"},
      {with_header(R"({"a": {"dtype": "F16", "shape": [8], "data_offsets": [0, 16]}})", data16), "F32 only"},
      {with_header(R"({"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}})", data16), "non-negative"},
      {with_header(R"({"a": {"dtype": "F32", "shape": [4]}})", data16), "lacks"},
      {with_header(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0]}})", data16), "two non-negative"},
      {with_header(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 16]}})", data16), "absurdly large"},
      {with_header(R"({"__metadata__": {"k": 3}, "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", data16), "not a string"},
  };
  for (const auto& [bytes, part] : bad) {
    try {
      safetensors_decode(bytes, "f.safetensors");
      ADD_FAILURE() << "accepted a file that should fail with '" << part << "'";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(part), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos);
      EXPECT_EQ(what.rfind("f.safetensors: ", 0), 0u) << what;
    }
  }
}

TEST(Safetensors, ASubjectFileOfAnotherVersionOrMissingPartsIsRefused) {
  const auto jobs = some_jobs("tiny", 1);
  std::vector<SubjectModel> models;
  batched_logits(jobs, {{1}}, &models);
  SafeTensors st = subject_to_safetensors(models[0]);
  SafeTensors v2 = st;
  v2.metadata["format_version"] = "2";
  EXPECT_THROW(subject_from_safetensors(v2, "m"), Error);
  SafeTensors missing = st;
  missing.tensors.erase("head.bias");
  EXPECT_THROW(subject_from_safetensors(missing, "m"), Error);
  SafeTensors other = st;
  other.metadata.erase("format");
  EXPECT_THROW(subject_from_safetensors(other, "m"), Error);
  SafeTensors classes = st;
  classes.metadata["classes"] = "[1]";
  EXPECT_THROW(subject_from_safetensors(classes, "m"), Error);
}

}  // namespace mm
