#include "libkb/util/fs.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "libkb/util/error.h"

namespace kb {

namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::string random_suffix() {
  // Reseeded in a forked child, which would otherwise repeat its parent's names.
  static thread_local std::mt19937_64 rng;
  static thread_local pid_t seeded_for = 0;
  if (seeded_for != ::getpid()) {
    seeded_for = ::getpid();
    rng.seed(std::random_device{}() ^ static_cast<unsigned long>(seeded_for));
  }
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 8; ++i) s += alphabet[rng() % 36];
  return s;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path.string() + " for reading: " + errno_text());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("cannot read " + path.string());
  return ss.str();
}

namespace {

// Writes all of `content` to `fd`; false with errno set on failure.
bool write_all(int fd, std::string_view content) {
  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

// The content in an unnamed file of `parent` (O_TMPFILE), written and synced,
// then given the name `tmp`: a process killed while writing leaves nothing
// behind. -1 with errno set when the file system has no unnamed files.
int write_unnamed(const fs::path& parent, const fs::path& tmp, std::string_view content, bool executable,
                  std::string& failure) {
#ifdef O_TMPFILE
  int fd = ::open(parent.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, executable ? 0755 : 0644);
  if (fd < 0) return -1;
  if (!write_all(fd, content) || ::fsync(fd) != 0) {
    failure = errno_text();
    ::close(fd);
    return 0;
  }
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;  // no /proc: the named temporary below
  }
  if (::close(fd) != 0) {
    failure = errno_text();
    ::unlink(tmp.c_str());
    return 0;
  }
  return 1;
#else
  errno = EOPNOTSUPP;
  return -1;
#endif
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view content, bool executable) {
  fs::path parent = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw Error("cannot create directory " + parent.string() + ": " + ec.message());
  fs::path tmp = parent / ("." + path.filename().string() + ".tmp-" + random_suffix());
  std::string failure;
  int unnamed = write_unnamed(parent, tmp, content, executable, failure);
  if (unnamed == 0) throw Error("cannot write " + path.string() + ": " + failure);
  if (unnamed < 0) {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, executable ? 0755 : 0644);
    if (fd < 0) throw Error("cannot create " + tmp.string() + ": " + errno_text());
    if (!write_all(fd, content) || ::fsync(fd) != 0) {
      std::string why = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("cannot write " + path.string() + ": " + why);
    }
    if (::close(fd) != 0) {
      std::string why = errno_text();
      ::unlink(tmp.c_str());
      throw Error("cannot write " + path.string() + ": " + why);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error("cannot rename " + tmp.string() + " to " + path.string() + ": " + why);
  }
}

bool write_file_if_changed(const fs::path& path, std::string_view content, bool executable) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in && ss.str() == content) {
      bool is_exec = (fs::status(path, ec).permissions() & fs::perms::owner_exec) != fs::perms::none;
      if (is_exec == executable) return false;
    }
  }
  write_file_atomic(path, content, executable);
  return true;
}

void replace_directory(const fs::path& staged, const fs::path& target) {
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (!fs::exists(target, ec)) {
    if (::rename(staged.c_str(), target.c_str()) != 0)
      throw Error("cannot move " + staged.string() + " to " + target.string() + ": " + errno_text());
    return;
  }
  long rc = ::syscall(SYS_renameat2, AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE);
  if (rc != 0) {
    // Filesystems without RENAME_EXCHANGE: move the old tree aside first.
    fs::path aside = target.parent_path() / ("." + target.filename().string() + ".old-" + random_suffix());
    if (::rename(target.c_str(), aside.c_str()) != 0 || ::rename(staged.c_str(), target.c_str()) != 0)
      throw Error("cannot replace " + target.string() + ": " + errno_text());
    fs::remove_all(aside, ec);
    return;
  }
  // After the exchange `staged` holds the old tree.
  fs::remove_all(staged, ec);
}

fs::path make_temp_dir(const fs::path& parent, std::string_view stem) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw Error("cannot create directory " + parent.string() + ": " + ec.message());
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path dir = parent / ("." + std::string(stem) + ".tmp-" + random_suffix());
    if (::mkdir(dir.c_str(), 0755) == 0) return dir;
    if (errno != EEXIST) throw Error("cannot create directory " + dir.string() + ": " + errno_text());
  }
  throw Error("cannot create a temporary directory in " + parent.string());
}

TempDirGuard::~TempDirGuard() {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string relative_slash_path(const fs::path& path, const fs::path& base) {
  return path.lexically_relative(base).generic_string();
}

std::vector<std::string> list_files(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file()) out.push_back(relative_slash_path(it->path(), dir));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kb
