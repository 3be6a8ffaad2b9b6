#include "libkb/util/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "libkb/util/error.h"

extern char** environ;

namespace kb {

namespace {

// A file descriptor closed when its owner goes away, so that no early return
// or exception leaks one or leaves a pipe end open in the parent (an open
// write end keeps the reader from ever seeing end of file).
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the current descriptor (not retried on EINTR: on Linux it is closed
  // even then) and takes `fd`.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// Both ends are close-on-exec, so a child spawned concurrently by another
// thread never inherits them; the ends meant for our own child reach it
// through dup2 file actions, which clear the flag on the copy.
Pipe make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  return Pipe{UniqueFd(p[0]), UniqueFd(p[1])};
}

[[noreturn]] void spawn_setup_failed(const std::string& program, const char* call, int rc) {
  throw Error("cannot run `" + program + "`: " + call + ": " + std::strerror(rc));
}

// posix_spawn_file_actions_t, destroyed on every path; each call is checked.
class SpawnFileActions {
 public:
  explicit SpawnFileActions(std::string program) : program_(std::move(program)) {
    // When init fails the constructor throws and the destructor never runs, so
    // an uninitialised object is never destroyed.
    check("posix_spawn_file_actions_init", ::posix_spawn_file_actions_init(&actions_));
  }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  ~SpawnFileActions() { ::posix_spawn_file_actions_destroy(&actions_); }

  void dup2(int fd, int target) {
    check("posix_spawn_file_actions_adddup2", ::posix_spawn_file_actions_adddup2(&actions_, fd, target));
  }
  void chdir(const std::filesystem::path& dir) {
    check("posix_spawn_file_actions_addchdir_np", ::posix_spawn_file_actions_addchdir_np(&actions_, dir.c_str()));
  }
  const posix_spawn_file_actions_t* get() const noexcept { return &actions_; }

 private:
  void check(const char* call, int rc) const {
    if (rc != 0) spawn_setup_failed(program_, call, rc);
  }
  std::string program_;
  posix_spawn_file_actions_t actions_;
};

// posix_spawnattr_t that gives the child a sane signal state whatever the
// spawning thread has: an empty signal mask (the caller may have signals
// blocked, e.g. SIGPIPE while run_process feeds stdin) and SIGPIPE at its
// default action (an ignored signal stays ignored across exec, so a host that
// ignores SIGPIPE, as Python does, would otherwise hand that on and turn
// `producer | head` into write errors instead of a quiet exit).
class SpawnAttr {
 public:
  explicit SpawnAttr(std::string program) : program_(std::move(program)) {
    check("posix_spawnattr_init", ::posix_spawnattr_init(&attr_));
    try {
      sigset_t none, pipe;
      sigemptyset(&none);
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      check("posix_spawnattr_setsigmask", ::posix_spawnattr_setsigmask(&attr_, &none));
      check("posix_spawnattr_setsigdefault", ::posix_spawnattr_setsigdefault(&attr_, &pipe));
      check("posix_spawnattr_setflags",
            ::posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
    } catch (...) {
      ::posix_spawnattr_destroy(&attr_);  // the destructor does not run for a throwing constructor
      throw;
    }
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
  ~SpawnAttr() { ::posix_spawnattr_destroy(&attr_); }

  const posix_spawnattr_t* get() const noexcept { return &attr_; }

 private:
  void check(const char* call, int rc) const {
    if (rc != 0) spawn_setup_failed(program_, call, rc);
  }
  std::string program_;
  posix_spawnattr_t attr_;
};

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A started child that is reaped on every path: wait() normally; when an
// exception unwinds past it, it is killed and reaped so it neither lingers
// nor stays a zombie.
class Child {
 public:
  explicit Child(pid_t pid) noexcept : pid_(pid) {}
  Child(Child&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  Child& operator=(Child&&) = delete;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

  // The exit code (128+N when killed by signal N). When waitpid fails (e.g.
  // SIGCHLD is ignored, so the kernel reaps children itself) the status stays
  // 0, as it always has.
  int wait() noexcept {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return exit_code_of(status);
  }

 private:
  pid_t pid_;
};

// Blocks SIGPIPE in the calling thread only, for as long as this lives, so a
// write to a pipe whose reader has gone fails with EPIPE instead of killing
// the process. Changing the process-wide disposition (sigaction SIG_IGN, then
// restoring it) is wrong with several threads: two overlapping calls can
// restore each other's saved state, leaving SIGPIPE ignored for good or
// default while another thread is still writing. The signal mask is per
// thread. SIGPIPE from a pipe write is directed at the writing thread, so
// while blocked it stays pending there; consume() takes it with a
// zero-timeout sigtimedwait before the mask is restored, unless one was
// already pending when we started (then it is not ours to take).
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    blocked_ = ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
    sigset_t pending;
    sigemptyset(&pending);
    already_pending_ = ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  ~SigpipeBlock() {
    if (blocked_) ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

  // Call after a write failed with EPIPE.
  void consume() noexcept {
    if (!blocked_ || already_pending_) return;
    timespec zero{};
    while (::sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool blocked_ = false;
  bool already_pending_ = false;
};

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::optional<std::filesystem::path> find_program(const std::string& program) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return std::filesystem::path(program);
    return std::nullopt;
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::filesystem::path candidate = std::filesystem::path(dir) / program;
    std::error_code ec;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate, ec)) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

std::vector<int> run_pipeline(const std::vector<std::vector<std::string>>& stages,
                              const std::function<void(const std::string&)>& on_line) {
  // Declared before the descriptors: on an exception the pipes close first,
  // then the stages already started are killed and reaped.
  std::vector<Child> children;
  children.reserve(stages.size());
  UniqueFd prev_read;
  for (size_t i = 0; i < stages.size(); ++i) {
    const std::string& name = stages[i].at(0);
    auto program = find_program(name);
    if (!program) throw Error("cannot run `" + name + "`: not found");
    Pipe p = make_pipe();
    SpawnFileActions actions(name);
    if (prev_read) actions.dup2(prev_read.get(), 0);
    actions.dup2(p.write.get(), 1);
    SpawnAttr attr(name);
    std::vector<std::string> args = stages[i];
    std::vector<char*> argv = c_strings(args);
    pid_t pid;
    int rc = ::posix_spawn(&pid, program->c_str(), actions.get(), attr.get(), argv.data(), environ);
    // The child holds its own copies now; the next stage reads p.read.
    p.write.reset();
    prev_read.reset();
    if (rc != 0) throw Error("cannot run `" + name + "`: " + std::strerror(rc));
    children.emplace_back(pid);
    prev_read = std::move(p.read);
  }
  if (prev_read) {
    std::string pending;
    char buf[65536];
    while (true) {
      ssize_t n = ::read(prev_read.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
      size_t pos;
      while ((pos = pending.find('\n')) != std::string::npos) {
        on_line(pending.substr(0, pos));
        pending.erase(0, pos + 1);
      }
    }
    if (!pending.empty()) on_line(pending);
    prev_read.reset();
  }
  std::vector<int> codes;
  codes.reserve(children.size());
  for (Child& child : children) codes.push_back(child.wait());
  return codes;
}

std::filesystem::path tool_path(const std::string& name) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto sibling = self.parent_path() / name;
    if (::access(sibling.c_str(), X_OK) == 0) return sibling;
  }
  if (auto found = find_program(name)) return *found;
  throw Error("cannot find the kb tool `" + name + "` next to " + self.string() + " or on PATH");
}

std::string shell_quote_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain =
        !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:+,@%") ==
                          std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) {
        if (c == '\'')
          out += "'\\''";
        else
          out += c;
      }
      out += '\'';
    }
  }
  return out;
}

namespace {

std::vector<std::string> build_environment(const ProcessSpec& spec) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    std::string key = entry.substr(0, entry.find('='));
    if (spec.env_set.count(key)) continue;
    bool unset = false;
    for (const auto& u : spec.env_unset) unset = unset || u == key;
    if (!unset) env.push_back(entry);
  }
  for (const auto& [k, v] : spec.env_set) env.push_back(k + "=" + v);
  return env;
}

}  // namespace

ProcessResult run_process(const ProcessSpec& spec) {
  if (spec.argv.empty()) throw Error("internal: run_process with no command");
  auto program = find_program(spec.argv[0]);
  if (!program) throw Error("cannot run `" + spec.argv[0] + "`: not found on PATH");

  Pipe in = make_pipe();
  Pipe out, err;  // unused (both ends empty) when output goes to the log
  UniqueFd log;
  if (spec.output_log) {
    log.reset(::open(spec.output_log->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log) throw Error("cannot open log " + spec.output_log->string() + ": " + std::strerror(errno));
  } else {
    out = make_pipe();
    err = make_pipe();
  }

  SpawnFileActions actions(spec.argv[0]);
  actions.dup2(in.read.get(), 0);
  actions.dup2(log ? log.get() : out.write.get(), 1);
  actions.dup2(log ? log.get() : err.write.get(), 2);
  if (!spec.cwd.empty()) actions.chdir(spec.cwd);
  SpawnAttr attr(spec.argv[0]);

  std::vector<std::string> env = build_environment(spec);
  std::vector<char*> envp = c_strings(env);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argvp = c_strings(args);

  pid_t pid;
  int rc = ::posix_spawn(&pid, program->c_str(), actions.get(), attr.get(), argvp.data(), envp.data());
  // Close the parent's copies of the child's ends at once: the reads below see
  // end of file only when no write end is left open here.
  in.read.reset();
  out.write.reset();
  err.write.reset();
  log.reset();
  if (rc != 0) throw Error("cannot run `" + spec.argv[0] + "`: " + std::strerror(rc));
  Child child(pid);

  // Feed stdin and drain both outputs together so no pipe can fill up and stall.
  ProcessResult result;
  UniqueFd in_fd = std::move(in.write);
  std::optional<SigpipeBlock> sigpipe;
  size_t written = 0;
  if (spec.stdin_data.empty()) {
    in_fd.reset();  // the child sees end of file at once
  } else {
    int flags = ::fcntl(in_fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(in_fd.get(), F_SETFL, flags | O_NONBLOCK) != 0)
      throw Error("cannot run `" + spec.argv[0] + "`: cannot make its stdin non-blocking: " + std::strerror(errno));
    sigpipe.emplace();
  }
  enum Role { kIn, kOut, kErr };
  UniqueFd* owned[3] = {&in_fd, &out.read, &err.read};
  char buf[65536];
  while (in_fd || out.read || err.read) {
    pollfd fds[3];
    Role roles[3];
    int n = 0;
    for (Role role : {kOut, kErr, kIn}) {
      if (!*owned[role]) continue;
      fds[n] = {owned[role]->get(), static_cast<short>(role == kIn ? POLLOUT : POLLIN), 0};
      roles[n++] = role;
    }
    if (::poll(fds, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR) continue;
      throw Error("cannot run `" + spec.argv[0] + "`: poll: " + std::strerror(errno));
    }
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      UniqueFd& fd = *owned[roles[i]];
      if (roles[i] == kIn) {
        ssize_t w = ::write(fd.get(), spec.stdin_data.data() + written, spec.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
          // The child stopped reading (typically it exited): not an error of
          // ours, its exit status tells the story.
          if (errno == EPIPE) sigpipe->consume();
          written = spec.stdin_data.size();
        }
        if (written >= spec.stdin_data.size()) fd.reset();
        continue;
      }
      ssize_t r = ::read(fd.get(), buf, sizeof buf);
      if (r > 0) {
        (roles[i] == kOut ? result.out : result.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.reset();
      }
    }
  }
  sigpipe.reset();
  result.exit_code = child.wait();
  return result;
}

}  // namespace kb
