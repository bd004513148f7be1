// Helpers for tests that run other programs (python3, the modelmap binary) or read the shared cases.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include <sys/wait.h>
#include <unistd.h>

namespace mm::test {

struct Ran {
  int exit_code;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A fresh temporary path (the file is created empty).
inline std::string temp_path(const std::string& suffix = "") {
  std::string tmpl = "/tmp/mmtestXXXXXX" + suffix;
  const int fd = mkstemps(tmpl.data(), static_cast<int>(suffix.size()));
  if (fd >= 0) close(fd);
  return tmpl;
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// Runs `command` through the shell with stdout and stderr captured.
inline Ran run_shell(const std::string& command) {
  const std::string out = temp_path(), err = temp_path();
  const int status = std::system((command + " >" + out + " 2>" + err).c_str());
  Ran r{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(out), slurp(err)};
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

// Each (arguments, part) run through `binary` must be refused: exit code 2, exactly one line on stderr,
// and that line containing `part`.
inline void expect_refused(const std::string& binary, const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [args, part] : cases) {
    const Ran r = run_shell(binary + " " + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << args << "\n" << r.err;
  }
}

// Program text that must be rejected at (line, column) with a message containing `part`.
struct BadText {
  std::string text;
  int line, column;
  std::string part;
};

// Checks that `parse` rejects every text with a ParseError at the stated place.
template <class Parse>
void expect_rejected(Parse parse, const std::vector<BadText>& bad) {
  for (const auto& b : bad) {
    try {
      parse(b.text);
      ADD_FAILURE() << "accepted:\n" << b.text;
    } catch (const ParseError& e) {
      EXPECT_EQ(e.line, b.line) << e.what() << "\n" << b.text;
      EXPECT_EQ(e.column, b.column) << e.what() << "\n" << b.text;
      EXPECT_NE(std::string(e.what()).find(b.part), std::string::npos) << e.what();
    }
  }
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace mm::test
