#include "libkb/cache/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "libkb/util/error.h"

namespace kb::cache {

namespace {

std::string seconds_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

}  // namespace

FileLock::FileLock(const std::filesystem::path& path, std::chrono::milliseconds timeout, const std::string& purpose)
    : path_(path) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw Error("cannot create directory " + path.parent_path().string() + ": " + ec.message());
  }
  do {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) throw Error("cannot open lock file " + path.string() + ": " + std::strerror(errno));

  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK) {
      ::close(fd_);
      throw Error("cannot lock " + path.string() + ": " + std::strerror(err));
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      ::close(fd_);
      throw Error("timed out after " + seconds_text(timeout) + " waiting for the lock " + path.string() +
                  (purpose.empty() ? std::string() : " (" + purpose + ")") +
                  ": another process holds it; try again once it has finished");
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    std::this_thread::sleep_for(std::min({pause, left, std::chrono::milliseconds(50)}));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

}  // namespace kb::cache
