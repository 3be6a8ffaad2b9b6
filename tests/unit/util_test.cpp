#include <gtest/gtest.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"
#include "libkb/util/version.h"

using namespace kb;

TEST(Version, DropsTrailingZerosAndOrdersNumerically) {
  EXPECT_EQ(Version::parse("2.0"), Version::parse("2"));
  EXPECT_EQ(Version::parse("2.12.0").str(), "2.12");
  EXPECT_LT(Version::parse("3.9"), Version::parse("3.10"));
  EXPECT_EQ(Version::parse(" 13 ").major_minor(), "13.0");
}

TEST(Version, RejectsNonNumbers) {
  EXPECT_THROW(Version::parse(""), Error);
  EXPECT_THROW(Version::parse("2.x"), Error);
  EXPECT_THROW(Version::parse("2..1"), Error);
  try {
    Version::parse("1.a");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Version must consist of numbers: 1.a");
  }
}

TEST(Version, LeadingVersionIgnoresLocalSuffix) {
  EXPECT_EQ(leading_version("1.13.0a0").str(), "1.13");
  EXPECT_EQ(leading_version("2.11.0+cu130").str(), "2.11");
  EXPECT_THROW(leading_version("abc"), Error);
}

TEST(Strings, ClosestMatchFindsTypos) {
  std::vector<std::string> keys = {"cuda-capabilities", "cuda-flags", "cuda-minver", "src"};
  EXPECT_EQ(closest_match("cuda-capabilites", keys), "cuda-capabilities");
  EXPECT_EQ(closest_match("totally-different", keys), "");
}

TEST(Hash, Sha256AndBase64MatchKnownVectors) {
  EXPECT_EQ(to_hex(sha256_bytes("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
}

TEST(Hash, Fnv1a64MatchesTheReferenceVectors) {
  EXPECT_EQ(fnv1a64_hex(""), "cbf29ce484222325");
  EXPECT_EQ(fnv1a64_hex("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(fnv1a64_hex("foobar"), "85944171f73967e8");
}

TEST(Fs, AtomicWriteAndDirectoryExchange) {
  fs::path root = make_temp_dir(fs::temp_directory_path(), "kb-util-test");
  TempDirGuard guard(root);
  write_file_atomic(root / "a" / "f.txt", "one");
  EXPECT_EQ(read_file(root / "a" / "f.txt"), "one");
  EXPECT_FALSE(write_file_if_changed(root / "a" / "f.txt", "one"));
  EXPECT_TRUE(write_file_if_changed(root / "a" / "f.txt", "two"));
  fs::path staged = make_temp_dir(root, "stage");
  write_file_atomic(staged / "g.txt", "new");
  replace_directory(staged, root / "a");
  EXPECT_FALSE(fs::exists(root / "a" / "f.txt"));
  EXPECT_EQ(read_file(root / "a" / "g.txt"), "new");
  EXPECT_FALSE(fs::exists(staged));
  // No temporary files are left behind.
  for (auto& entry : fs::directory_iterator(root)) EXPECT_EQ(entry.path().filename(), "a");
}

TEST(Fs, AtomicWritesKeepTheModeAndReplaceTheWholeFile) {
  fs::path root = make_temp_dir(fs::temp_directory_path(), "kb-util-test");
  TempDirGuard guard(root);
  ::umask(022);
  write_file_atomic(root / "tool", std::string(1 << 20, 'x'), true);
  write_file_atomic(root / "data", "short");
  EXPECT_EQ(fs::status(root / "tool").permissions() & fs::perms::all, fs::perms(0755));
  EXPECT_EQ(fs::status(root / "data").permissions() & fs::perms::all, fs::perms(0644));
  write_file_atomic(root / "tool", "replaced", true);
  EXPECT_EQ(read_file(root / "tool"), "replaced");
  std::vector<std::string> names;
  for (auto& entry : fs::directory_iterator(root)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"data", "tool"}));
}

TEST(Fs, ListFilesSortedRelativeRegularFilesOnly) {
  fs::path root = make_temp_dir(fs::temp_directory_path(), "kb-util-test");
  TempDirGuard guard(root);
  for (const char* f : {"b.txt", "a/z.txt", "A.txt", "a.txt", "a/b/c/deep.py"}) write_file_atomic(root / f, f);
  fs::create_directories(root / "empty/dir");
  // Byte order: "A" < "a" and "a.txt" < "a/..." ('.' < '/').
  EXPECT_EQ(list_files(root), (std::vector<std::string>{"A.txt", "a.txt", "a/b/c/deep.py", "a/z.txt", "b.txt"}));
  EXPECT_TRUE(list_files(root / "missing").empty());
}

TEST(Process, CapturesOutputAndExitCode) {
  auto r = run_process({.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"}});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  auto cat = run_process({.argv = {"cat"}, .stdin_data = "fed"});
  EXPECT_EQ(cat.out, "fed");
  EXPECT_THROW(run_process({.argv = {"kb-no-such-program"}}), Error);
}

TEST(Hex, FromHexIsTheInverseOfToHex) {
  EXPECT_EQ(kb::from_hex("00ff7Fa0"), std::optional<std::string>(std::string("\x00\xff\x7f\xa0", 4)));
  EXPECT_EQ(kb::to_hex(*kb::from_hex("0123456789abcdef")), "0123456789abcdef");
  EXPECT_FALSE(kb::from_hex("abc"));
  EXPECT_FALSE(kb::from_hex("zz"));
  EXPECT_EQ(kb::from_hex(""), std::optional<std::string>(""));
}

// --- run_process / run_pipeline hygiene: descriptors, SIGPIPE, threads ---

namespace {

size_t open_fd_count() {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

// Sets the process-wide SIGPIPE disposition for one test and restores it.
class SigpipeDisposition {
 public:
  explicit SigpipeDisposition(void (*handler)(int)) {
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGPIPE, &sa, &old_);
  }
  ~SigpipeDisposition() { ::sigaction(SIGPIPE, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

// The command names of this process's children, zombies included.
std::multiset<std::string> child_commands() {
  std::multiset<std::string> names;
  const std::string self = std::to_string(::getpid());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::string stat;
    try {
      stat = read_file(entry.path() / "stat");
    } catch (const std::exception&) {
      continue;  // not a process, or it has gone
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    std::vector<std::string> rest = split(trim(stat.substr(close + 1)), ' ');
    if (rest.size() > 1 && rest[1] == self) names.insert(stat.substr(open + 1, close - open - 1));
  }
  return names;
}

bool sigpipe_blocked_here() {
  sigset_t mask;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, SIGPIPE) == 1;
}

bool sigpipe_pending() {
  sigset_t pending;
  ::sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

}  // namespace

TEST(ProcessHygiene, NoDescriptorLeakOverManyCallsIncludingFailures) {
  SigpipeDisposition dfl(SIG_DFL);  // a stray SIGPIPE kills the test
  fs::path root = make_temp_dir(fs::temp_directory_path(), "kb-process-test");
  TempDirGuard guard(root);
  const std::string big(1 << 20, 'x');
  size_t before = open_fd_count();
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(run_process({.argv = {"cat"}, .stdin_data = "fed"}).out, "fed");
    EXPECT_THROW(run_process({.argv = {"kb-no-such-program"}}), Error);
    // posix_spawn itself fails (the chdir action): every pipe end must close.
    EXPECT_THROW(run_process({.argv = {"true"}, .cwd = root / "missing"}), Error);
    // The log cannot be opened after the stdin pipe exists.
    EXPECT_THROW(run_process({.argv = {"true"}, .output_log = root / "missing" / "log"}), Error);
    auto logged = run_process({.argv = {"sh", "-c", "echo to-log"}, .output_log = root / "log"});
    EXPECT_EQ(logged.exit_code, 0);
    EXPECT_EQ(logged.out, "");
    // The child exits without reading a large stdin: the call returns with its status.
    EXPECT_EQ(run_process({.argv = {"sh", "-c", "exit 7"}, .stdin_data = big}).exit_code, 7);
  }
  EXPECT_EQ(open_fd_count(), before);
  EXPECT_EQ(read_file(root / "log").size(), 50 * std::string("to-log\n").size());
}

TEST(ProcessHygiene, SpawnFailureKeepsItsMessage) {
  fs::path root = make_temp_dir(fs::temp_directory_path(), "kb-process-test");
  TempDirGuard guard(root);
  try {
    run_process({.argv = {"true"}, .cwd = root / "missing"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot run `true`: No such file or directory");
  }
  try {
    run_process({.argv = {"kb-no-such-program"}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot run `kb-no-such-program`: not found on PATH");
  }
}

TEST(ProcessHygiene, ChildNotReadingStdinIsAResultNotASigpipe) {
  SigpipeDisposition dfl(SIG_DFL);
  const std::string big(4 << 20, 'x');
  ASSERT_FALSE(sigpipe_blocked_here());
  auto exited = run_process({.argv = {"sh", "-c", "exit 7"}, .stdin_data = big});
  EXPECT_EQ(exited.exit_code, 7);
  auto head = run_process({.argv = {"head", "-c", "1"}, .stdin_data = big});
  EXPECT_EQ(head.exit_code, 0);
  EXPECT_EQ(head.out, "x");
  // The calling thread's mask is restored and no SIGPIPE is left pending.
  EXPECT_FALSE(sigpipe_blocked_here());
  EXPECT_FALSE(sigpipe_pending());

  // A caller that blocks SIGPIPE itself keeps it blocked, with nothing pending.
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe, &old);
  EXPECT_EQ(run_process({.argv = {"sh", "-c", "exit 5"}, .stdin_data = big}).exit_code, 5);
  EXPECT_TRUE(sigpipe_blocked_here());
  EXPECT_FALSE(sigpipe_pending());
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

TEST(ProcessHygiene, ConcurrentCallsWithLargeStdinAllReturn) {
  // With SIGPIPE at its default, a process-wide ignore/restore dance around
  // the writes lets one thread restore SIG_DFL while another is mid-write.
  SigpipeDisposition dfl(SIG_DFL);
  const std::string big(1 << 20, 'x');
  std::atomic<int> returned{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        auto r = run_process({.argv = {"head", "-c", "1"}, .stdin_data = big});
        EXPECT_EQ(r.exit_code, 0);
        EXPECT_EQ(r.out, "x");
        ++returned;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(returned.load(), 4 * 100);
  EXPECT_FALSE(sigpipe_pending());
}

TEST(ProcessHygiene, ChildInheritsNoPipeOfAConcurrentCall) {
  // What the child sees in /proc/self/fd with nothing else going on.
  const std::string baseline = run_process({.argv = {"ls", "/proc/self/fd"}}).out;
  ASSERT_FALSE(baseline.empty());
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 3; ++t) {
    busy.emplace_back([&] {
      const std::string data(256 << 10, 'y');
      while (!stop) {
        // Holds three pipes (six descriptors while spawning) in this thread.
        auto r = run_process({.argv = {"cat"}, .stdin_data = data});
        EXPECT_EQ(r.out.size(), data.size());
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(run_process({.argv = {"ls", "/proc/self/fd"}}).out, baseline) << "iteration " << i;
  }
  stop = true;
  for (auto& t : busy) t.join();
}

TEST(ProcessHygiene, ChildGetsEmptySignalMaskAndDefaultSigpipe) {
  // The caller ignores SIGPIPE (as a Python host does) and blocks signals.
  SigpipeDisposition ign(SIG_IGN);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  sigaddset(&block, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  auto r = run_process({.argv = {"grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"}});
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  unsigned long long blocked = ~0ULL, ignored = ~0ULL;
  for (const auto& line : split(r.out, '\n')) {
    if (line.rfind("SigBlk:", 0) == 0) blocked = std::stoull(trim(line.substr(7)), nullptr, 16);
    if (line.rfind("SigIgn:", 0) == 0) ignored = std::stoull(trim(line.substr(7)), nullptr, 16);
  }
  EXPECT_EQ(blocked, 0ULL) << r.out;
  EXPECT_EQ(ignored & (1ULL << (SIGPIPE - 1)), 0ULL) << r.out;
}

TEST(ProcessHygiene, PipelineStagesDieOfSigpipeEvenWhenTheHostIgnoresIt) {
  SigpipeDisposition ign(SIG_IGN);
  std::vector<std::string> lines;
  auto codes = run_pipeline({{"yes"}, {"head", "-n", "2"}}, [&](const std::string& l) { lines.push_back(l); });
  EXPECT_EQ(lines, (std::vector<std::string>{"y", "y"}));
  // `yes` ends by SIGPIPE (128+13), not with a "Broken pipe" write error.
  EXPECT_EQ(codes, (std::vector<int>{128 + SIGPIPE, 0}));
}

TEST(ProcessHygiene, PipelineReleasesEverythingWhenTheCallbackThrows) {
  size_t before = open_fd_count();
  for (int i = 0; i < 20; ++i) {
    auto codes = run_pipeline({{"printf", "a\\nb\\nc"}, {"cat"}}, [](const std::string&) {});
    EXPECT_EQ(codes, (std::vector<int>{0, 0}));
    EXPECT_THROW(run_pipeline({{"yes"}, {"cat"}}, [](const std::string&) { throw Error("stop"); }), Error);
    EXPECT_THROW(run_pipeline({{"yes"}, {"kb-no-such-program"}}, [](const std::string&) {}), Error);
  }
  EXPECT_EQ(open_fd_count(), before);
  // Every stage started was reaped: no `yes` or `cat` child (running or zombie) is left.
  EXPECT_EQ(child_commands().count("yes"), 0u);
  EXPECT_EQ(child_commands().count("cat"), 0u);
}
