#include "libkb/cache/cache.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <streambuf>
#include <vector>

#include "libkb/cache/lock.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

namespace kb::cache {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string home_dir() {
  if (const char* home = std::getenv("HOME"); home && *home) return home;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return pw->pw_dir;
  throw Error("cannot find the cache directory: HOME is not set; set KERNELS_CACHE or HF_HUB_CACHE");
}

fs::path expand_user(const std::string& path) {
  if (path == "~") return home_dir();
  if (starts_with(path, "~/")) return fs::path(home_dir()) / path.substr(2);
  return path;
}

// Why `path` is not a safe, normalised relative path, or "" when it is.
std::string unsafe_reason(std::string_view path) {
  if (path.empty()) return "empty path";
  if (path.front() == '/') return "absolute path";
  for (char c : path) {
    if (c == '\\') return "backslash";
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "control character";
  }
  for (const std::string& part : split(path, '/')) {
    if (part.empty()) return "empty component";
    if (part == "." || part == "..") return "'" + part + "' component";
  }
  return "";
}

std::string quoted_for_message(std::string_view path) { return path.empty() ? "\"\"" : std::string(path); }

std::string normalized_commit(std::string_view commit) {
  if (kind_of_hex(commit)) return to_lower(commit);
  throw Error("invalid commit id '" + std::string(commit) + "': expected 40 or 64 hexadecimal digits");
}

void check_ref_name(std::string_view name) {
  std::string why = unsafe_reason(name);
  if (!why.empty()) throw Error("invalid ref name '" + std::string(name) + "' (" + why + ")");
}

// Makes `dir` a real directory, refusing to follow a symlink there.
void ensure_real_dir(const fs::path& dir) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode)) throw Error("refusing to write through the symlink " + dir.string() + " in the cache");
      if (!S_ISDIR(st.st_mode)) throw Error("cannot create directory " + dir.string() + ": a file is in the way");
      return;
    }
    if (errno != ENOENT) throw Error("cannot inspect " + dir.string() + ": " + errno_text(errno));
    if (::mkdir(dir.c_str(), 0777) == 0) return;
    if (errno != EEXIST) throw Error("cannot create directory " + dir.string() + ": " + errno_text(errno));
  }
  throw Error("cannot create directory " + dir.string());
}

void create_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("cannot create directory " + dir.string() + ": " + ec.message());
}

bool is_within(const fs::path& inner, const fs::path& outer) {
  auto rel = inner.lexically_relative(outer);
  return !rel.empty() && *rel.begin() != "..";
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// The stream a Fetch writes to: content goes to `fd` and through the hasher,
// and never more than `limit` bytes are accepted.
class BlobSink : public std::streambuf {
 public:
  BlobSink(int fd, StreamHasher& hasher, uint64_t limit) : fd_(fd), hasher_(hasher), limit_(limit), buf_(1 << 16) {
    setp(buf_.data(), buf_.data() + buf_.size());
  }
  bool overflowed() const { return overflowed_; }
  int write_errno() const { return write_errno_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    size_t n = static_cast<size_t>(pptr() - pbase());
    setp(buf_.data(), buf_.data() + buf_.size());
    if (overflowed_ || write_errno_ != 0) return false;
    if (n > limit_ - written_) {
      overflowed_ = true;
      return false;
    }
    hasher_.update(std::string_view(buf_.data(), n));
    const char* p = buf_.data();
    size_t left = n;
    while (left > 0) {
      ssize_t w = ::write(fd_, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        write_errno_ = errno;
        return false;
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    written_ += n;
    return true;
  }

  int fd_;
  StreamHasher& hasher_;
  uint64_t limit_;
  uint64_t written_ = 0;
  bool overflowed_ = false;
  int write_errno_ = 0;
  std::vector<char> buf_;
};

// Removes the temporary download (and closes it) unless it was committed.
struct TempFile {
  fs::path path;
  int fd = -1;
  bool committed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!committed) ::unlink(path.c_str());
  }
};

}  // namespace

fs::path default_cache_root() {
  for (const char* name : {"KERNELS_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    std::string value = env_or(name, "");
    if (!value.empty()) return expand_user(value);
  }
  if (std::string hf_home = env_or("HF_HOME", ""); !hf_home.empty()) return expand_user(hf_home) / "hub";
  if (std::string xdg = env_or("XDG_CACHE_HOME", ""); !xdg.empty())
    return expand_user(xdg) / "huggingface" / "hub";
  return fs::path(home_dir()) / ".cache" / "huggingface" / "hub";
}

bool offline_mode() {
  std::string value = env_or("HF_HUB_OFFLINE", "");
  if (value.empty()) value = env_or("TRANSFORMERS_OFFLINE", "");
  value = to_lower(trim(value));
  return value == "1" || value == "on" || value == "yes" || value == "true";
}

void check_repo_id(std::string_view repo_id) {
  auto fail = [&](const std::string& why) {
    throw Error("invalid repository id '" + std::string(repo_id) + "': " + why);
  };
  if (repo_id.size() > 96) fail("longer than 96 characters");
  size_t slash = repo_id.find('/');
  if (slash == std::string_view::npos || repo_id.find('/', slash + 1) != std::string_view::npos)
    fail("expected the form org/name with exactly one '/'");
  std::string_view org = repo_id.substr(0, slash), name = repo_id.substr(slash + 1);
  if (org.empty() || name.empty()) fail("expected the form org/name with exactly one '/'");
  for (char c : repo_id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '/')
      fail(std::string("character '") + c + "' is not allowed (only letters, digits, '-', '_' and '.')");
  if (repo_id.find("..") != std::string_view::npos) fail("'..' is not allowed");
  if (repo_id.find("--") != std::string_view::npos) fail("'--' is not allowed");
  for (std::string_view part : {org, name})
    if (part.front() == '.' || part.back() == '.' || part.front() == '-' || part.back() == '-')
      fail("'-' and '.' are not allowed at the start or end of a name");
}

void check_hub_path(std::string_view path) {
  std::string why = unsafe_reason(path);
  if (!why.empty()) throw Error("refusing unsafe path in hub tree: " + quoted_for_message(path) + " (" + why + ")");
}

std::string repo_folder_name(std::string_view repo_type, std::string_view repo_id) {
  if (repo_type != "kernel" && repo_type != "model")
    throw Error("unknown repository type '" + std::string(repo_type) + "': expected kernel or model");
  check_repo_id(repo_id);
  return std::string(repo_type) + "s--" + replace_all(std::string(repo_id), "/", "--");
}

RepoCache::RepoCache(fs::path root, std::string repo_type, std::string repo_id)
    : root_(std::move(root)), repo_type_(std::move(repo_type)), repo_id_(std::move(repo_id)) {
  repo_dir_ = root_ / repo_folder_name(repo_type_, repo_id_);
}

std::optional<std::string> RepoCache::read_ref(std::string_view name) const {
  check_ref_name(name);
  fs::path path = refs_dir() / std::string(name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw Error("cannot read ref " + path.string() + ": " + errno_text(errno));
  }
  return trim(read_file(path));
}

void RepoCache::write_ref(std::string_view name, std::string_view commit) const {
  check_ref_name(name);
  std::string value = normalized_commit(commit);
  // Loaders record refs on every call; an unchanged ref is not rewritten.
  if (read_ref(name) == value) return;
  create_dirs(refs_dir());
  write_file_atomic(refs_dir() / std::string(name), value);
}

std::map<int, std::string> RepoCache::version_refs() const {
  std::map<int, std::string> out;
  std::error_code ec;
  fs::directory_iterator it(refs_dir(), ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() < 2 || name[0] != 'v') continue;
    int version = 0;
    const char* first = name.data() + 1;
    const char* last = name.data() + name.size();
    auto [ptr, err] = std::from_chars(first, last, version);
    if (err != std::errc() || ptr != last || !std::isdigit(static_cast<unsigned char>(*first))) continue;
    std::error_code file_ec;
    if (!fs::is_regular_file(it->path(), file_ec)) continue;
    std::string commit;
    try {
      commit = trim(read_file(it->path()));
    } catch (const Error&) {
      continue;
    }
    if (!kind_of_hex(commit)) continue;
    out[version] = to_lower(commit);
  }
  return out;
}

std::optional<std::string> RepoCache::cached_commit(std::string_view revision) const {
  std::error_code ec;
  if (kind_of_hex(revision)) {
    std::string commit = to_lower(revision);
    if (fs::is_directory(snapshot_dir(commit), ec)) return commit;
  }
  if (!unsafe_reason(revision).empty()) return std::nullopt;
  std::optional<std::string> commit = read_ref(revision);
  if (!commit || !kind_of_hex(*commit)) return std::nullopt;
  *commit = to_lower(*commit);
  if (!fs::is_directory(snapshot_dir(*commit), ec)) return std::nullopt;
  return commit;
}

fs::path RepoCache::snapshot_dir(std::string_view commit) const {
  return snapshots_dir() / normalized_commit(commit);
}

fs::path RepoCache::file_path(std::string_view commit, std::string_view relpath) const {
  check_hub_path(relpath);
  return snapshot_dir(commit) / std::string(relpath);
}

bool RepoCache::has_file(std::string_view commit, std::string_view relpath) const {
  std::error_code ec;
  return fs::is_regular_file(file_path(commit, relpath), ec);
}

fs::path RepoCache::blob_path(const ExpectedHash& hash) const { return blobs_dir() / normalized(hash).hex; }

fs::path blob_lock_path(const fs::path& root, std::string_view repo_folder, std::string_view etag) {
  return root / ".locks" / repo_folder / (std::string(etag) + ".lock");
}

fs::path RepoCache::blob_lock_path(const ExpectedHash& hash) const {
  return cache::blob_lock_path(root_, repo_dir_.filename().string(), normalized(hash).hex);
}

fs::path RepoCache::store(std::string_view commit_in, std::string_view relpath, const ExpectedHash& expected,
                          const Fetch& fetch) const {
  // Everything is checked before the file system is touched.
  check_hub_path(relpath);
  const std::string commit = normalized_commit(commit_in);
  const ExpectedHash want = normalized(expected);
  const std::vector<std::string> parts = split(relpath, '/');
  const fs::path snapshot = snapshot_dir(commit);
  const fs::path blob = blobs_dir() / want.hex;
  const std::string what = std::string(relpath) + " of " + repo_id_;

  create_dirs(blobs_dir());
  FileLock lock(blob_lock_path(want), lock_timeout_, "fetching " + what);

  if (!file_matches(blob, want)) {
    std::error_code ec;
    fs::remove(blob, ec);  // absent, or corrupt: fetched again below
    TempFile tmp{fs::path(blob.string() + ".incomplete")};
    do {
      tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    } while (tmp.fd < 0 && errno == EINTR);
    if (tmp.fd < 0) {
      tmp.committed = true;  // nothing of ours to remove
      throw Error("cannot create " + tmp.path.string() + ": " + errno_text(errno));
    }
    StreamHasher hasher(want.kind, want.size);
    BlobSink sink(tmp.fd, hasher, want.size);
    std::ostream out(&sink);
    fetch(out);
    out.flush();
    if (sink.write_errno() != 0)
      throw Error("cannot write " + tmp.path.string() + ": " + errno_text(sink.write_errno()));
    const std::string expected_text =
        std::string(kind_name(want.kind)) + " " + want.hex + " (" + std::to_string(want.size) + " bytes)";
    if (sink.overflowed())
      throw Error("size mismatch for " + what + ": expected " + expected_text + ", got more than " +
                  std::to_string(want.size) + " bytes; the download was discarded");
    if (out.bad()) throw Error("download of " + what + " failed: the output stream was left in error");
    std::string actual = hasher.finish_hex();
    if (hasher.size() != want.size) actual = hash_file(tmp.path, want.kind).hex;  // git's header holds the size
    if (hasher.size() != want.size || actual != want.hex)
      throw Error("hash mismatch for " + what + ": expected " + expected_text + ", got " + actual + " (" +
                  std::to_string(hasher.size()) + " bytes); the download was discarded");
    if (::fsync(tmp.fd) != 0) throw Error("cannot write " + tmp.path.string() + ": " + errno_text(errno));
    int fd = tmp.fd;
    tmp.fd = -1;
    if (::close(fd) != 0) throw Error("cannot write " + tmp.path.string() + ": " + errno_text(errno));
    if (::rename(tmp.path.c_str(), blob.c_str()) != 0)
      throw Error("cannot rename " + tmp.path.string() + " to " + blob.string() + ": " + errno_text(errno));
    tmp.committed = true;
    fsync_dir(blobs_dir());
  }

  // The snapshot entry: a relative symlink, never written through a symlink.
  // The snapshot directory appears only now, so a failed download leaves no
  // snapshot that offline lookups would take for a cached commit.
  create_dirs(snapshot);
  fs::path dir = snapshot;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    dir /= parts[i];
    ensure_real_dir(dir);
  }
  std::error_code ec;
  fs::path real_snapshot = fs::canonical(snapshot, ec);
  fs::path real_dir = ec ? fs::path() : fs::canonical(dir, ec);
  if (ec || (real_dir != real_snapshot && !is_within(real_dir, real_snapshot)))
    throw Error("refusing unsafe path in hub tree: " + std::string(relpath) + " (leaves the snapshot directory)");

  std::string target;
  for (size_t i = 0; i < parts.size() + 1; ++i) target += "../";
  target += "blobs/" + want.hex;
  fs::path entry = dir / parts.back();

  char current[PATH_MAX];
  ssize_t n = ::readlink(entry.c_str(), current, sizeof current);
  if (n >= 0 && std::string_view(current, static_cast<size_t>(n)) == target) return entry;

  fs::path tmp_link;
  for (int attempt = 0;; ++attempt) {
    tmp_link = dir / ("." + parts.back() + ".tmp-" + random_suffix());
    if (::symlink(target.c_str(), tmp_link.c_str()) == 0) break;
    if (errno != EEXIST || attempt >= 10)
      throw Error("cannot create snapshot entry " + entry.string() + ": " + errno_text(errno));
  }
  if (::rename(tmp_link.c_str(), entry.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_link.c_str());
    throw Error("cannot create snapshot entry " + entry.string() + ": " + errno_text(err));
  }
  return entry;
}

std::map<int, std::string> cached_version_refs(const fs::path& root, std::string_view repo_id) {
  std::map<int, std::string> out;
  for (const char* type : {"kernel", "model"})
    for (auto& [version, commit] : RepoCache(root, type, std::string(repo_id)).version_refs())
      out[version] = commit;
  return out;
}

}  // namespace kb::cache
