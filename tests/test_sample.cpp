// The behavioural filters shared by both languages, on programs whose behaviour we dictate, and the
// Language interface as the later stages use it.
#include <gtest/gtest.h>

#include <functional>

#include "core/error.h"
#include "core/rng.h"
#include "core/sample.h"

namespace mm {

namespace {

class FakeProgram final : public Program {
 public:
  explicit FakeProgram(std::function<std::vector<Value>(std::span<const int64_t>)> f) : f_(std::move(f)) {}
  std::string text() const override { return "fake"; }
  std::vector<std::string> tokens() const override { return {}; }
  std::vector<Value> evaluate(std::span<const int64_t> x) const override { return f_(x); }

 private:
  std::function<std::vector<Value>(std::span<const int64_t>)> f_;
};

std::optional<std::string> verdict(std::function<Value(std::span<const int64_t>, size_t)> at) {
  FakeProgram p([at](std::span<const int64_t> x) {
    std::vector<Value> y(x.size());
    for (size_t k = 0; k < x.size(); ++k) y[k] = at(x, k);
    return y;
  });
  SampleConfig config;
  return reject_reason(p, config.domain.evaluation_set(5000, 1), config);
}

}  // namespace

TEST(Filters, EachReasonOnAProgramMadeToFailIt) {
  using X = std::span<const int64_t>;
  EXPECT_EQ(verdict([](X, size_t) { return Value::of_int(3); }), "constant");
  EXPECT_EQ(verdict([](X x, size_t k) { return Value::of_int(x[k]); }), "identity");
  EXPECT_EQ(verdict([](X x, size_t k) { return Value::of_float(static_cast<double>(x[k])); }), "identity");
  EXPECT_EQ(verdict([](X x, size_t k) { return Value::of_int(static_cast<int64_t>(x.size() + k)); }), "ignores tokens");
  EXPECT_EQ(verdict([](X x, size_t k) { return x[k] < 3 ? Value::none() : Value::of_int(x[k] + 1); }), "mostly None");
  EXPECT_EQ(verdict([](X x, size_t k) { return Value::of_int(x[k] + 10 * static_cast<int64_t>(x.size() + 10 * k)); }),
            "too many outputs");
  EXPECT_EQ(verdict([](X x, size_t) -> Value {
              if (x.size() == 4) throw EvalError("boom");
              return Value::of_int(x[0]);
            }),
            "raises");
  // Reverse passes every filter.
  EXPECT_EQ(verdict([](X x, size_t k) { return Value::of_int(x[x.size() - 1 - k]); }), std::nullopt);
  // Half None is allowed, more is not.
  EXPECT_EQ(verdict([](X x, size_t k) { return k % 2 ? Value::none() : Value::of_int(x[k] + 1); }), std::nullopt);
}

TEST(Languages, BothAreReachableByNameAndRefuseUnknownNames) {
  for (const std::string& name : language_names()) {
    const Language& lang = language_by_name(name);
    EXPECT_EQ(lang.name(), name);
    EXPECT_NO_THROW(lang.default_domain().validate());
    const auto& v = lang.vocabulary();
    ASSERT_GE(v.size(), 3u);
    EXPECT_EQ(v[0], "<pad>");
    // The pipeline, written once: sample, print, parse, tokenize, detokenize, evaluate, list outputs.
    SampleConfig config;
    config.domain = lang.default_domain();
    Sampler sampler(lang, config);
    Rng rng(1);
    const auto p = sampler.next(rng);
    const auto q = lang.parse(p->text());
    EXPECT_EQ(q->tokens(), p->tokens());
    EXPECT_EQ(lang.detokenize(p->tokens())->text(), p->text());
    const auto inputs = config.domain.evaluation_set(500, 2);
    EXPECT_GE(output_values(*p, inputs).size(), 2u);
    for (const auto& x : inputs) EXPECT_EQ(values_to_json(q->evaluate(x)), values_to_json(p->evaluate(x)));
  }
  EXPECT_THROW(language_by_name("cobol"), Error);
}

TEST(Sampler, RefusesSizesOutsideWhatTheLanguageSupports) {
  SampleConfig config;
  config.generate = {4, 2};
  EXPECT_THROW(Sampler(language_by_name("rasp"), config), Error);
  config.generate = {1, 9};
  EXPECT_THROW(Sampler(language_by_name("python"), config), Error);
  config.generate = {0, 0};
  config.domain = {0, 4, 0, 5};
  EXPECT_THROW(Sampler(language_by_name("rasp"), config), Error);
}

}  // namespace mm
