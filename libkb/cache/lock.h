#pragma once
// An exclusive advisory lock on a file (flock), held for a scope. flock locks
// belong to an open file description, so two FileLocks on the same path
// exclude each other whether they are in different processes or in different
// threads of one process; the kernel drops the lock when its holder dies.
// huggingface_hub locks its downloads the same way (filelock on Unix), so
// both tools exclude each other on a shared cache.
#include <chrono>
#include <filesystem>
#include <string>

namespace kb::cache {

class FileLock {
 public:
  // Creates `path` (and its parent directories) when missing and waits until
  // the lock is held. Throws kb::Error naming `path` and `purpose` when that
  // takes longer than `timeout`, or when the file cannot be opened.
  FileLock(const std::filesystem::path& path, std::chrono::milliseconds timeout, const std::string& purpose = "");
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace kb::cache
