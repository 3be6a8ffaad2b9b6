#pragma once
// File-system helpers. Every write that other tools or users may observe goes
// through write_file_atomic / replace_directory so nothing is ever half-written.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kb {

namespace fs = std::filesystem;

// Whole file as bytes; throws kb::Error naming the path when it cannot be read.
std::string read_file(const fs::path& path);

// Writes `content` to a temporary file next to `path`, fsyncs and renames it
// over `path`. Parent directories are created. `executable` sets mode 0755.
// The temporary is an unnamed file (O_TMPFILE) until it is complete, so a
// process killed mid-write leaves nothing in the directory; where the file
// system has no unnamed files it is ".<name>.tmp-XXXXXX" throughout.
void write_file_atomic(const fs::path& path, std::string_view content, bool executable = false);

// Like write_file_atomic but leaves the file (and its mtime) alone when it
// already holds exactly `content`. Returns true when the file was written.
bool write_file_if_changed(const fs::path& path, std::string_view content, bool executable = false);

// Moves the fully prepared directory `staged` to `target`, replacing any
// existing `target` with one atomic exchange (renameat2 RENAME_EXCHANGE)
// so readers see either the old or the new tree, never a mix.
void replace_directory(const fs::path& staged, const fs::path& target);

// Eight random [a-z0-9] characters, for names of temporary files.
std::string random_suffix();

// A unique, new directory `<parent>/.<stem>.tmp-XXXXXX`.
fs::path make_temp_dir(const fs::path& parent, std::string_view stem);

// Removes a directory tree when the scope ends (unless released).
class TempDirGuard {
 public:
  explicit TempDirGuard(fs::path dir) : dir_(std::move(dir)) {}
  ~TempDirGuard();
  TempDirGuard(const TempDirGuard&) = delete;
  TempDirGuard& operator=(const TempDirGuard&) = delete;
  const fs::path& path() const { return dir_; }
  void release() { dir_.clear(); }

 private:
  fs::path dir_;
};

// `path` relative to `base` with '/' separators, for messages and digests.
std::string relative_slash_path(const fs::path& path, const fs::path& base);

// Sorted ('/'-separated, byte order) relative paths of the regular files
// under `dir`; empty when it does not exist.
std::vector<std::string> list_files(const fs::path& dir);

}  // namespace kb
