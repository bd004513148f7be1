// The corpus, end to end through the modelmap executable: a tiny build whose every view, reloaded from
// its SQLite blob and from an exported file, predicts its program; kill-and-resume equals an uninterrupted
// build; shards merge into the same corpus; files that are not corpora are refused.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <filesystem>
#include <thread>

#include "core/language.h"
#include "core/reduce.h"
#include "core/safetensors.h"
#include "corpus/corpus.h"
#include "subject/model.h"
#include "subject/trainer.h"
#include "test_util.h"

extern char** environ;

namespace mm {

namespace {

const std::string kBin = MM_MODELMAP_BIN;
const std::string kCases = MM_CASES_DIR;

// Removes every corpus this test process made.
void remove_test_corpora() {
  const std::string prefix = "mm_test_corpus_" + std::to_string(getpid()) + "_";
  for (const auto& e : std::filesystem::directory_iterator("/tmp"))
    if (e.path().filename().string().rfind(prefix, 0) == 0) std::filesystem::remove(e.path());
}

// A fresh path for a corpus (nothing there yet).
std::string corpus_path(const std::string& name) {
  const std::string p = "/tmp/mm_test_corpus_" + std::to_string(getpid()) + "_" + name + ".sqlite";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  return p;
}

std::string build_args(const std::string& out, const std::string& extra = "--slots 1") {
  return "corpus build --lang rasp --from " + kCases + "/corpus_rasp.jsonl --preset tiny --views 2 --view-every 50 "
         "--out " + out + " " + extra;
}

test::Ran modelmap(const std::string& args) { return test::run_shell(kBin + " " + args); }

// Everything about a corpus that a build determines (not ids, not wall times), sorted.
std::vector<std::string> content(const std::string& path) {
  auto c = Corpus::open(path, false, true);
  Statement q(c->db(),
              "SELECT p.language, p.tokens, p.split, m.origin, m.preset, m.architecture, m.params, m.seed, m.status, "
              "m.steps, m.accuracy, m.seq_accuracy, v.ordinal, v.step, v.accuracy, hex(v.weights), p.reduced_source, "
              "p.reduced_tokens "
              "FROM programs p LEFT JOIN models m ON m.program_id = p.id LEFT JOIN views v ON v.model_id = m.id");
  std::vector<std::string> rows;
  while (q.step()) {
    std::string row;
    for (int k = 0; k < 18; ++k) row += q.text(k) + "|";
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

int64_t count(const std::string& path, const std::string& table) {
  auto c = Corpus::open(path, false, true);
  Statement q(c->db(), "SELECT count(*) FROM " + table);
  q.step();
  return q.int64(0);
}

// Starts `modelmap <args>` with its output discarded; returns its pid (or -1).
pid_t spawn_modelmap(const std::string& args) {
  std::vector<std::string> words = {kBin};
  std::istringstream split(args);
  for (std::string w; split >> w;) words.push_back(w);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  pid_t pid;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const int rc = posix_spawn(&pid, kBin.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Starts `modelmap <args>`, sends `sig` once `path` holds `models` models, and returns (wait status,
// models committed when the signal was sent).
std::pair<int, int64_t> run_until_models(const std::string& args, const std::string& path, int64_t models, int sig) {
  const pid_t pid = spawn_modelmap(args);
  if (pid < 0) return {-1, 0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int64_t committed = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    try {
      if (std::filesystem::exists(path) && (committed = count(path, "models")) >= models) break;
    } catch (const Error&) {  // not created yet
    }
  }
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return {status, committed};
}

// A stored view's per-position accuracy, by the reference forward pass, against its own program on `inputs`.
double view_accuracy(Corpus& c, int64_t id, const Language& lang, const std::vector<Input>& inputs) {
  const SubjectModel m = subject_from_safetensors(safetensors_decode(c.view(id)->weights, "blob"), "blob");
  const auto program = lang.parse(m.program);
  std::vector<std::vector<Value>> expected;
  for (const Input& x : inputs) expected.push_back(program->evaluate(x));
  return subject_accuracy(m, inputs, expected).per_position;
}

// "ok", or what SQLite's integrity check found.
std::string integrity(const std::string& path) {
  auto c = Corpus::open(path, false, true);
  Statement q(c->db(), "PRAGMA integrity_check");
  std::string out;
  while (q.step()) out += q.text(0);
  return out;
}

// The committed models' rows of content(): a model is committed with all its views or not at all.
std::vector<std::string> committed_rows(const std::vector<std::string>& rows) {
  std::vector<std::string> out;
  for (const auto& row : rows)
    if (row.find("|learned|") != std::string::npos || row.find("|not learned|") != std::string::npos) out.push_back(row);
  return out;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class CorpusBuild : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    full_ = new std::string(corpus_path("full"));
    const test::Ran r = modelmap(build_args(*full_));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete full_;
    remove_test_corpora();
  }
  static std::string* full_;
};
std::string* CorpusBuild::full_ = nullptr;

}  // namespace

TEST_F(CorpusBuild, EveryViewFromBlobAndFromExportedFilePredictsItsProgram) {
  EXPECT_EQ(count(*full_, "programs"), 6);
  EXPECT_EQ(count(*full_, "models"), 6);
  auto c = Corpus::open(*full_, false, true);
  const Language& lang = language_by_name("rasp");
  const std::vector<Input> domain = lang.default_domain().enumerate(10000);
  int checked = 0;
  for (int64_t id : c->view_ids()) {
    const auto v = c->view(id);
    ASSERT_TRUE(v);
    const SubjectModel from_blob = subject_from_safetensors(safetensors_decode(v->weights, "blob"), "blob");
    const auto program = lang.parse(from_blob.program);
    std::vector<std::vector<Value>> expected;
    for (const Input& x : domain) expected.push_back(program->evaluate(x));
    const Accuracy a = subject_accuracy(from_blob, domain, expected);
    EXPECT_GE(a.per_position, 0.95) << "view " << id;
    EXPECT_NEAR(a.per_position, v->accuracy, 1e-9) << "the stored accuracy is the reference forward pass's";

    const std::string file = test::temp_path(".safetensors");
    const test::Ran ex = modelmap("corpus export " + *full_ + " --view " + std::to_string(id) + " -o " + file);
    ASSERT_EQ(ex.exit_code, 0) << ex.err;
    const SubjectModel from_file = subject_from_safetensors(safetensors_read_file(file), file);
    EXPECT_GE(subject_accuracy(from_file, domain, expected).per_position, 0.95);
    const test::Ran p = modelmap("predict --model " + file + " --input '[3, 1, 4]'");
    EXPECT_EQ(p.out, values_to_json(subject_predict(from_blob, Input{3, 1, 4})) + "\n") << p.err;
    std::filesystem::remove(file);
    ++checked;
  }
  EXPECT_EQ(checked, 12);
  const test::Ran stats = modelmap("corpus stats " + *full_);
  EXPECT_EQ(stats.exit_code, 0);
  EXPECT_NE(stats.out.find("6 programs, 6 models, 12 views"), std::string::npos) << stats.out;
  const test::Ran list = modelmap("corpus list " + *full_ + " --jsonl");
  EXPECT_EQ(std::count(list.out.begin(), list.out.end(), '\n'), 12);
}

TEST_F(CorpusBuild, RebuildingIsANoOpAndKillAndResumeEqualsAnUninterruptedBuild) {
  const test::Ran again = modelmap(build_args(*full_));
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("6 already built"), std::string::npos) << again.out;

  const std::string killed = corpus_path("killed");
  const std::string args = build_args(killed);
  const auto [status, committed] = run_until_models(args, killed, 2, SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the build finished before it could be killed";
  ASSERT_GE(committed, 2);
  EXPECT_EQ(integrity(killed), "ok");
  const auto before = content(killed);
  const test::Ran resumed = modelmap(args);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto after = content(killed);
  for (const auto& row : committed_rows(before))  // nothing committed before the kill changed or went missing
    EXPECT_TRUE(std::binary_search(after.begin(), after.end(), row)) << row.substr(0, 120);
  EXPECT_EQ(after, content(*full_));
}

// Crash safety: builds SIGKILLed at random moments (from start-up to commit), MM_CRASH_KILLS times
// (default 20; scripts/crashtest runs more); every other kill comes 0-200 ms after a model is committed. After every kill: SQLite's integrity check passes, and every
// model committed before it is still there, byte for byte. A build that finishes between kills must equal
// the uninterrupted one; then the next round starts on a fresh file.
TEST_F(CorpusBuild, SigkillAtRandomMomentsNeverCorruptsOrLosesCommittedModels) {
  const int kills_wanted = env_int("MM_CRASH_KILLS", 20);
  const unsigned seed = static_cast<unsigned>(env_int("MM_CRASH_SEED", 7));
  const int max_delay_ms = env_int("MM_CRASH_MAX_DELAY_MS", 2500);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(0, max_delay_ms);
  const auto full = content(*full_);
  int kills = 0, rounds = 0, finished_between_kills = 0, lost = 0, corrupt = 0;
  int64_t models_seen_committed = 0;
  std::string path = corpus_path("crash0");
  std::vector<std::string> committed;
  auto finish_round = [&] {
    EXPECT_EQ(content(path), full) << "round " << rounds << " differs from the uninterrupted build";
    ++rounds;
    path = corpus_path("crash" + std::to_string(rounds));
    committed.clear();
  };
  while (kills < kills_wanted) {
    int delay = delay_ms(rng);
    const pid_t pid = spawn_modelmap(build_args(path, "--slots 2"));
    ASSERT_GT(pid, 0);
    int status = 0;
    bool exited = false;
    if (kills % 2 == 1) {
      // Every other kill lands just after a commit (0-200 ms after the next model appears), so that kills
      // also hit a build with committed models, whatever the machine's speed.
      const int64_t before = static_cast<int64_t>(committed.size());
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
      while (std::chrono::steady_clock::now() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
          exited = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        try {
          if (std::filesystem::exists(path) && count(path, "views") > before) break;  // views come with their model
        } catch (const Error&) {  // not a corpus yet
        }
      }
      delay = delay_ms(rng) % 200;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    if (exited || waitpid(pid, &status, WNOHANG) == pid) {  // it finished first
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "build failed, status " << status;
      ++finished_between_kills;
      finish_round();
      continue;
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) {  // finished in the instant before the signal
      ++finished_between_kills;
      finish_round();
      continue;
    }
    ++kills;
    if (!std::filesystem::exists(path)) continue;  // killed before it created the file
    const std::string check = integrity(path);
    if (check != "ok") ++corrupt;
    EXPECT_EQ(check, "ok") << "after kill " << kills << " (delay " << delay << " ms)";
    const auto now = committed_rows(content(path));
    for (const auto& row : committed) {
      if (!std::binary_search(now.begin(), now.end(), row)) {
        ++lost;
        ADD_FAILURE() << "after kill " << kills << ", a committed row went missing or changed: " << row.substr(0, 120);
      }
    }
    models_seen_committed += static_cast<int64_t>(now.size() - committed.size());
    committed = now;
  }
  const test::Ran resumed = modelmap(build_args(path, "--slots 2"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  finish_round();
  std::printf("crash test: %d SIGKILLs (seed %u, delays 0..%d ms), %d rounds completed, %d builds finished between "
              "kills, %lld rows (one per view) committed across kills, %d integrity failures, %d lost or changed rows\n",
              kills, seed, max_delay_ms, rounds, finished_between_kills, static_cast<long long>(models_seen_committed),
              corrupt, lost);
  EXPECT_EQ(corrupt, 0);
  EXPECT_EQ(lost, 0);
  EXPECT_GT(models_seen_committed, 0) << "no kill came after a commit: the test checked nothing about committed models";
}

TEST_F(CorpusBuild, AnInterruptedBuildStopsCleanlyAndSaysHowToResume) {
  const std::string path = corpus_path("interrupted");
  const auto [status, committed] = run_until_models(build_args(path), path, 1, SIGINT);
  ASSERT_TRUE(WIFEXITED(status)) << "SIGINT should end the build through its handler, not kill it";
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_GE(count(path, "models"), committed);
  const test::Ran resumed = modelmap(build_args(path));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(content(path), content(*full_));
}

TEST_F(CorpusBuild, ShardsMergeIntoTheSameCorpusAndAProgramIsKeptOnce) {
  const std::string a = corpus_path("shard0"), b = corpus_path("shard1"), merged = corpus_path("merged");
  // Other batch sizes than the full build's, so that models train beside other models than there.
  ASSERT_EQ(modelmap(build_args(a, "--shard 0/2 --slots 3")).exit_code, 0);
  ASSERT_EQ(modelmap(build_args(b, "--shard 1/2 --slots 2")).exit_code, 0);
  EXPECT_EQ(count(a, "models"), 3);
  EXPECT_EQ(count(b, "models"), 3);
  const test::Ran m = modelmap("corpus merge " + a + " " + b + " -o " + merged);
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(content(merged), content(*full_));
  const test::Ran twice = modelmap("corpus merge " + a + " " + *full_ + " -o " + merged);
  ASSERT_EQ(twice.exit_code, 0) << twice.err;
  EXPECT_NE(twice.out.find("0 programs, 0 models added"), std::string::npos) << twice.out;
  EXPECT_EQ(content(merged), content(*full_));
}

class CorpusFiles : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { remove_test_corpora(); }
};

TEST_F(CorpusFiles, AListPythonBuildLearnsOnItsHeldOutSample) {
  const std::string path = corpus_path("python");
  const test::Ran r = modelmap("corpus build --lang python --from " + kCases +
                               "/corpus_python.jsonl --preset tiny --views 2 --view-every 50 --out " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto c = Corpus::open(path, false, true);
  const Language& lang = language_by_name("python");
  TrainConfig defaults;
  const std::vector<Input> heldout = lang.default_domain().evaluation_set(defaults.heldout_inputs, defaults.heldout_seed);
  ASSERT_EQ(c->view_ids().size(), 4u);
  for (int64_t id : c->view_ids()) EXPECT_GE(view_accuracy(*c, id, lang, heldout), 0.95) << "view " << id;
}

TEST_F(CorpusFiles, ThePaperPresetMixesSizesAndEveryViewStillPredicts) {
  const std::string path = corpus_path("paper");
  const test::Ran r = modelmap("corpus build --lang rasp --from " + kCases + "/corpus_rasp.jsonl --preset paper "
                               "--min-params 10000 --max-params 80000 --views 1 --max-steps 3000 --out " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto c = Corpus::open(path, false, true);
  Statement q(c->db(), "SELECT count(DISTINCT architecture), min(params), max(params) FROM models");
  ASSERT_TRUE(q.step());
  EXPECT_GE(q.int64(0), 2);
  EXPECT_GE(q.int64(1), 10000);
  EXPECT_LE(q.int64(2), 80000);
  const Language& lang = language_by_name("rasp");
  const std::vector<Input> domain = lang.default_domain().enumerate(10000);
  for (int64_t id : c->view_ids()) EXPECT_GE(view_accuracy(*c, id, lang, domain), 0.95) << "view " << id;
}

TEST_F(CorpusFiles, ACompiledBuildStoresExactModelsAndTheirRotatedViews) {
  const std::string path = corpus_path("compiled");
  const std::string args = "corpus build --origin compiled --from " + kCases + "/corpus_rasp.jsonl --views 2 --out " + path;
  const test::Ran r = modelmap(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("compiled 6 (exact on every input: 6)"), std::string::npos) << r.out;
  auto c = Corpus::open(path, false, true);
  Statement q(c->db(), "SELECT count(*) FROM models WHERE origin = 'compiled' AND preset = 'compiled' AND status = 'compiled'");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.int64(0), 6);
  const Language& lang = language_by_name("rasp");
  const std::vector<Input> domain = lang.default_domain().enumerate(10000);
  for (int64_t id : c->view_ids()) {
    EXPECT_EQ(view_accuracy(*c, id, lang, domain), 1.0) << "view " << id;
    const auto v = c->view(id);
    const SubjectModel m = subject_from_safetensors(safetensors_decode(v->weights, "blob"), "blob");
    EXPECT_EQ(m.arch.block, "compiled");
    EXPECT_EQ(m.info.count("residual_rotation"), v->ordinal == 0 ? 0u : 1u);
  }
  const test::Ran again = modelmap(args);
  EXPECT_NE(again.out.find("6 already built"), std::string::npos) << again.out;
  const test::Ran python = modelmap("corpus build --origin compiled --lang python --programs 2 --out " + path);
  EXPECT_EQ(python.exit_code, 2);
  EXPECT_NE(python.err.find("the compiler reads RASP"), std::string::npos) << python.err;
}

TEST_F(CorpusFiles, FilesThatAreNotCorporaAreRefused) {
  const std::string text = test::temp_path(".sqlite");
  test::write_file(text, "this is not a database, just text that is long enough to have a header......\n");
  const std::string other = corpus_path("other");
  {
    Db db(other, true);
    db.exec("CREATE TABLE t(x)");
  }
  const std::string newer = corpus_path("newer");
  {
    auto c = Corpus::open(newer, true);
    c->db().exec("UPDATE meta SET value = '3' WHERE key = 'format_version'");
  }
  const std::string bad_jsonl = test::temp_path(".jsonl");
  test::write_file(bad_jsonl, "{\"source\": \"from tracr.rasp import rasp\\nv1 = rasp.Map(lambda x: x + 1, rasp.tokens)\\nprogram = v1\\n\"}\nnot json\n");
  const std::string out = corpus_path("unused");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"corpus stats " + text, "not an SQLite database"},
      {"corpus stats " + other, "not a modelmap corpus"},
      {"corpus stats " + newer, "format version 3"},
      {"corpus stats /nonexistent.sqlite", "does not exist"},
      {"corpus list " + other, "not a modelmap corpus"},
      {"corpus export " + newer + " --view 1 -o /tmp/x.safetensors", "format version 3"},
      {"corpus migrate " + newer, "format version 3"},
      {"corpus migrate " + other, "not a modelmap corpus"},
      {"corpus build --lang rasp --programs 2 --out " + other, "not a modelmap corpus"},
      {"corpus build --lang rasp --from " + bad_jsonl + " --out " + out, ":2: not a JSON object"},
      {"corpus build --lang rasp --programs 2 --shard 2/2 --out " + out, "--shard"},
      {"corpus build --lang rasp --programs 2 --preset huge --out " + out, "preset"},
      {"corpus merge " + text + " -o " + out, "not an SQLite database"},
      {"predict --model " + text + " --input '[1]'", "not a valid safetensors file"},
  };
  test::expect_refused(kBin, cases);
  std::filesystem::remove(text);
  std::filesystem::remove(bad_jsonl);
}

// Each program is stored with its reduced form: equivalent on the whole domain (checked here by running both),
// never longer, and what reduce_program gives. A version-1 corpus (no reduced forms) is refused with a line
// that names `corpus migrate`, which brings it to the same content as a fresh build, also from a state a
// killed migration leaves (columns added, some programs done).
TEST_F(CorpusFiles, ProgramsKeepTheirReducedFormAndAVersion1CorpusIsMigrated) {
  const Language& lang = language_by_name("rasp");
  const std::vector<Input> domain = lang.default_domain().enumerate(10000);
  // Three programs, two of which reduce (a Map that repeats its input's, a double negation).
  const std::string built = corpus_path("reduce");
  {
    const test::Ran r = modelmap("corpus build --lang rasp --from " + kCases + "/corpus_rasp_reduce.jsonl --preset tiny --views 1 --out " + built);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string* full_ = &built;
  {
    auto c = Corpus::open(*full_, false, true);
    Statement q(c->db(), "SELECT id FROM programs");
    int reduced = 0, n = 0;
    while (q.step()) {
      const auto p = c->program(q.int64(0));
      ASSERT_TRUE(p);
      const auto sampled = lang.parse(p->source), small = lang.parse(p->reduced_source);
      std::string tokens;
      for (const auto& t : small->tokens()) tokens += (tokens.empty() ? "" : " ") + t;
      EXPECT_EQ(tokens, p->reduced_tokens);
      EXPECT_LE(small->tokens().size(), sampled->tokens().size());
      auto run = [](const Program& prog, const Input& x) {
        try {
          return values_to_json(prog.evaluate(x));
        } catch (const EvalError&) {
          return std::string("raises");
        }
      };
      for (const Input& x : domain) ASSERT_EQ(run(*small, x), run(*sampled, x)) << p->source;
      EXPECT_EQ(p->reduced_tokens, [&] {
        std::string t;
        for (const auto& w : reduce_program(lang, *sampled, reduction_inputs(lang.default_domain())).program->tokens())
          t += (t.empty() ? "" : " ") + w;
        return t;
      }());
      reduced += p->reduced_tokens != p->tokens;
      ++n;
    }
    EXPECT_EQ(n, 3);
    EXPECT_EQ(reduced, 2);
  }
  const test::Ran stats = modelmap("corpus stats " + *full_);
  EXPECT_NE(stats.out.find("programs reduced:"), std::string::npos) << stats.out;

  // A version-1 corpus: the same file without the columns.
  auto make_v1 = [&](const std::string& path, bool half_done) {
    std::filesystem::copy_file(*full_, path, std::filesystem::copy_options::overwrite_existing);
    Db db(path, false, false);
    db.exec("ALTER TABLE programs DROP COLUMN reduced_source; ALTER TABLE programs DROP COLUMN reduced_tokens; "
            "UPDATE meta SET value = '1' WHERE key = 'format_version'");
    if (half_done)
      db.exec("ALTER TABLE programs ADD COLUMN reduced_source TEXT; ALTER TABLE programs ADD COLUMN reduced_tokens TEXT; "
              "UPDATE programs SET reduced_source = source, reduced_tokens = tokens WHERE id % 2 = 0");
  };
  for (bool half_done : {false, true}) {
    SCOPED_TRACE(half_done ? "resumed" : "fresh");
    const std::string old = corpus_path(half_done ? "v1_half" : "v1");
    make_v1(old, half_done);
    for (const std::string& args : {"corpus stats " + old, "corpus list " + old}) {
      const test::Ran r = modelmap(args);
      EXPECT_NE(r.exit_code, 0);
      EXPECT_NE(r.err.find("format version 1"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("modelmap corpus migrate " + old), std::string::npos) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
    const test::Ran m = modelmap("corpus migrate " + old + " --threads 2");
    ASSERT_EQ(m.exit_code, 0) << m.err;
    if (!half_done) {
      EXPECT_EQ(content(old), content(*full_));
    } else {  // the programs marked done keep what was stored (here: their sampled form); the rest are reduced
      auto c = Corpus::open(old, false, true);
      Statement q(c->db(), "SELECT count(*) FROM programs WHERE reduced_tokens IS NULL");
      q.step();
      EXPECT_EQ(q.int64(0), 0);
    }
    const test::Ran again = modelmap("corpus migrate " + old);
    EXPECT_EQ(again.exit_code, 0);
    EXPECT_NE(again.err.find("already at format version 2"), std::string::npos) << again.err;
  }
}

}  // namespace mm
