// GPT-2 byte-level BPE: bytes -> printable stand-in characters -> pre-tokens -> ranked merges -> ids.
#include "eval/gpt2_bpe.h"

#include <climits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_io.h"

namespace mm {

namespace {

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// Splits a UTF-8 string into characters (malformed bytes become one-byte characters).
std::vector<std::string> utf8_chars(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + n > s.size()) n = 1;
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

enum class Kind { Letter, Number, Space, Other };

Kind kind_of(const std::string& ch) {
  const auto c = static_cast<unsigned char>(ch[0]);
  if (c >= 0x80) return ch == "\u00a0" || ch == "\u3000" ? Kind::Space : Kind::Letter;  // see the header
  if (std::isalpha(c)) return Kind::Letter;
  if (std::isdigit(c)) return Kind::Number;
  if (std::isspace(c)) return Kind::Space;
  return Kind::Other;
}

}  // namespace

std::string Gpt2Bpe::default_dir() { return MM_GPT2_DIR; }

std::vector<std::string> Gpt2Bpe::pretokenize(std::string_view text) {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  const std::vector<std::string> ch = utf8_chars(text);
  const size_t n = ch.size();
  std::vector<Kind> k(n);
  for (size_t i = 0; i < n; ++i) k[i] = kind_of(ch[i]);
  std::vector<std::string> out;
  size_t i = 0;
  auto take = [&](size_t end) {
    std::string piece;
    for (size_t j = i; j < end; ++j) piece += ch[j];
    out.push_back(piece);
    i = end;
  };
  while (i < n) {
    if (ch[i] == "'" && i + 1 < n) {
      const std::string two = ch[i + 1], three = i + 2 < n ? ch[i + 1] + ch[i + 2] : "";
      if (three == "re" || three == "ve" || three == "ll") {
        take(i + 3);
        continue;
      }
      if (two == "s" || two == "t" || two == "m" || two == "d") {
        take(i + 2);
        continue;
      }
    }
    const size_t start = ch[i] == " " && i + 1 < n && k[i + 1] != Kind::Space ? i + 1 : i;  // the optional space
    if (k[start] != Kind::Space) {
      const Kind run = k[start];
      size_t e = start;
      while (e < n && k[e] == run) ++e;
      take(e);
      continue;
    }
    // Whitespace: the run, less its last character when a non-space follows (that one joins the next
    // piece if it is a space; otherwise \s+ takes it alone).
    size_t e = i;
    while (e < n && k[e] == Kind::Space) ++e;
    if (e < n && e - i > 1) take(e - 1);
    else take(e);
  }
  return out;
}

Gpt2Bpe Gpt2Bpe::load(const std::string& dir) {
  Gpt2Bpe b;
  // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for 256, 257, ...
  int extra = 0;
  for (int c = 0; c < 256; ++c) {
    const bool printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
    b.byte_to_unicode_[c] = utf8(printable ? static_cast<uint32_t>(c) : static_cast<uint32_t>(256 + extra++));
    b.unicode_to_byte_[b.byte_to_unicode_[c]] = static_cast<unsigned char>(c);
  }
  const std::string enc_path = dir + "/encoder.json", bpe_path = dir + "/vocab.bpe";
  const auto enc = nlohmann::json::parse(read_text_file(enc_path), nullptr, false);
  if (enc.is_discarded() || !enc.is_object()) throw Error(enc_path + ": not a JSON object (run scripts/setup)");
  for (auto it = enc.begin(); it != enc.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > 1'000'000)
      throw Error(enc_path + ": the id of '" + it.key() + "' is not a small non-negative integer");
    const int id = it.value().get<int>();
    b.encoder_[it.key()] = id;
    if (static_cast<size_t>(id) >= b.decoder_.size()) b.decoder_.resize(static_cast<size_t>(id) + 1);
    b.decoder_[static_cast<size_t>(id)] = it.key();
  }
  std::istringstream merges(read_text_file(bpe_path));
  std::string line;
  int rank = 0;
  for (int n = 1; std::getline(merges, line); ++n) {
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    const auto sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
      throw Error(bpe_path + ":" + std::to_string(n) + ": not a merge of two symbols");
    b.ranks_.emplace(std::make_pair(line.substr(0, sp), line.substr(sp + 1)), rank++);
  }
  if (b.encoder_.empty() || b.ranks_.empty()) throw Error(dir + ": empty GPT-2 vocabulary (run scripts/setup)");
  return b;
}

std::vector<std::string> Gpt2Bpe::bpe(const std::string& word) const {
  std::vector<std::string> parts = utf8_chars(word);
  while (parts.size() > 1) {
    int best = INT_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = ranks_.find({parts[i], parts[i + 1]});
      if (it != ranks_.end() && it->second < best) best = it->second, at = i;
    }
    if (best == INT_MAX) break;
    // Merge every occurrence of the best pair, left to right.
    const std::string a = parts[at], b = parts[at + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < parts.size();) {
      if (i + 1 < parts.size() && parts[i] == a && parts[i + 1] == b) {
        merged.push_back(a + b);
        i += 2;
      } else {
        merged.push_back(parts[i++]);
      }
    }
    parts = std::move(merged);
  }
  return parts;
}

std::vector<int> Gpt2Bpe::encode(std::string_view text) const {
  std::vector<int> ids;
  for (const std::string& piece : pretokenize(text)) {
    std::string word;
    for (unsigned char c : piece) word += byte_to_unicode_[c];
    for (const std::string& token : bpe(word)) {
      auto it = encoder_.find(token);
      if (it == encoder_.end()) throw Error("GPT-2 vocabulary lacks the token '" + token + "'");
      ids.push_back(it->second);
    }
  }
  return ids;
}

std::string Gpt2Bpe::decode(const std::vector<int>& ids) const {
  std::string out;
  for (int id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= decoder_.size() || decoder_[static_cast<size_t>(id)].empty())
      throw Error("GPT-2 token id " + std::to_string(id) + " is not in the vocabulary");
    for (const std::string& ch : utf8_chars(decoder_[static_cast<size_t>(id)])) {
      auto it = unicode_to_byte_.find(ch);
      if (it == unicode_to_byte_.end()) throw Error("GPT-2 token id " + std::to_string(id) + " holds an unknown character");
      out += static_cast<char>(it->second);
    }
  }
  return out;
}

}  // namespace mm
