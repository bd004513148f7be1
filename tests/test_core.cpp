// Core: the RNG, input domains, values and their JSON, JSON input parsing.
#include <gtest/gtest.h>

#include <set>

#include "core/domain.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/rng.h"
#include "core/value.h"

namespace mm {

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int k = 0; k < 100; ++k) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    differs |= x != c.next_u64();
  }
  EXPECT_TRUE(differs);
}

TEST(Rng, UniformIntCoversRangeAndStaysInside) {
  Rng r(1);
  std::set<int64_t> seen;
  for (int k = 0; k < 2000; ++k) {
    const int64_t x = r.uniform_int(-2, 3);
    ASSERT_GE(x, -2);
    ASSERT_LE(x, 3);
    seen.insert(x);
  }
  EXPECT_EQ(seen.size(), 6u);
}

TEST(Rng, WeightedIndexNeverPicksZeroWeight) {
  Rng r(7);
  int counts[3] = {0, 0, 0};
  for (int k = 0; k < 3000; ++k) ++counts[r.weighted_index({1, 0, 3})];
  EXPECT_EQ(counts[1], 0);
  EXPECT_GT(counts[2], counts[0]);
}

TEST(Domain, SizeAndEnumerationAgree) {
  InputDomain d{0, 4, 1, 5};
  EXPECT_EQ(d.size(), 5u + 25 + 125 + 625 + 3125);
  const auto all = d.enumerate(10000);
  ASSERT_EQ(all.size(), d.size());
  EXPECT_EQ(all.front(), (Input{0}));
  EXPECT_EQ(all.back(), (Input{4, 4, 4, 4, 4}));
  EXPECT_EQ(std::set<Input>(all.begin(), all.end()).size(), all.size());
  EXPECT_THROW(d.enumerate(100), Error);
}

TEST(Domain, EvaluationSetOfLargeDomainIsStratifiedAndFixed) {
  InputDomain d{0, 9, 1, 8};
  const auto a = d.evaluation_set(2000, 5);
  const auto b = d.evaluation_set(2000, 5);
  EXPECT_EQ(a, b);
  EXPECT_LE(a.size(), 2000u);
  EXPECT_GE(a.size(), 1990u);
  std::map<size_t, int> by_len;
  for (const auto& x : a) {
    EXPECT_TRUE(d.why_not_contained(x).empty());
    ++by_len[x.size()];
  }
  EXPECT_EQ(by_len[1], 10);   // every input of length 1
  EXPECT_EQ(by_len[2], 100);  // and of length 2
  EXPECT_EQ(by_len.size(), 8u);
  for (size_t k = 1; k < a.size(); ++k) EXPECT_LE(a[k - 1].size(), a[k].size());
}

TEST(Domain, RejectsBadBoundsAndReportsWhyAnInputIsOutside) {
  EXPECT_THROW((InputDomain{0, 4, 0, 5}.validate()), Error);
  EXPECT_THROW((InputDomain{0, 4, 3, 2}.validate()), Error);
  EXPECT_THROW((InputDomain{5, 4, 1, 2}.validate()), Error);
  EXPECT_THROW((InputDomain{0, 4, 1, 65}.validate()), Error);
  InputDomain d{0, 4, 1, 5};
  EXPECT_EQ(d.why_not_contained(Input{1, 7}), "value 7 at position 1 is outside 0..4");
  EXPECT_EQ(d.why_not_contained(Input{}), "input length 0 is outside 1..5");
  EXPECT_TRUE(d.why_not_contained(Input{0, 4}).empty());
}

TEST(Value, JsonPrintsIntsFloatsAndNone) {
  EXPECT_EQ(value_to_json(Value::of_int(-3)), "-3");
  EXPECT_EQ(value_to_json(Value::of_float(3.0)), "3.0");
  EXPECT_EQ(value_to_json(Value::of_float(2.0 / 3.0)), "0.666667");
  EXPECT_EQ(value_to_json(Value::of_float(0.5)), "0.5");
  EXPECT_EQ(value_to_json(Value::of_float(-0.0)), "0.0");
  EXPECT_EQ(value_to_json(Value::of_float(1234567.0)), "1.23457e+06");
  EXPECT_EQ(value_to_json(Value::none()), "null");
  const std::vector<Value> vs = {Value::of_int(1), Value::of_float(2.5), Value::none()};
  EXPECT_EQ(values_to_json(vs), "[1, 2.5, null]");
}

TEST(Value, EqualityIsPythons) {
  EXPECT_EQ(Value::of_int(3), Value::of_float(3.0));
  EXPECT_FALSE(Value::of_int(0) == Value::none());
  EXPECT_EQ(Value::none(), Value::none());
  EXPECT_FALSE(Value::of_float(0.5) == Value::of_int(0));
  EXPECT_EQ(value_key(Value::of_int(2)), value_key(Value::of_float(2.0)));
  EXPECT_EQ(value_key(Value::of_float(1.0 / 3)), value_key(Value::of_float(0.3333333)));
  EXPECT_NE(value_key(Value::none()), value_key(Value::of_int(0)));
}

TEST(JsonInput, ParsesIntegerArraysAndRejectsEverythingElse) {
  EXPECT_EQ(parse_input_json("[1, 2,3]"), (Input{1, 2, 3}));
  EXPECT_EQ(parse_input_json("[]"), Input{});
  EXPECT_EQ(parse_input_json("[2.0]"), Input{2});
  EXPECT_THROW(parse_input_json("[1, 2"), Error);
  EXPECT_THROW(parse_input_json("{\"a\": 1}"), Error);
  EXPECT_THROW(parse_input_json("[1, \"a\"]"), Error);
  EXPECT_THROW(parse_input_json("[1.5]"), Error);
  EXPECT_THROW(parse_input_json("[null]"), Error);
  EXPECT_THROW(parse_input_json("[99999999999999999999]"), Error);
  EXPECT_THROW(parse_input_json(""), Error);
}

}  // namespace mm
