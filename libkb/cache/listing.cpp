#include "libkb/cache/listing.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "libkb/cache/cache.h"
#include "libkb/cache/verify.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "libkb/variant/variant.h"

namespace kb::cache {

namespace fs = std::filesystem;

namespace {

// Entries the scan passes over: desktop litter (as huggingface_hub), the
// download locks, and the records kb and the kernels package keep there.
const std::set<std::string> kIgnoredEntries = {".DS_Store",    "Thumbs.db", "desktop.ini",      ".locks",
                                               "CACHEDIR.TAG", ".kb-trust", ".verified-kernels"};
const std::set<std::string> kLitter = {".DS_Store", "Thumbs.db", "desktop.ini"};
const std::set<std::string> kRepoTypePrefixes = {"datasets", "kernels", "models", "spaces"};

// One repository found inconsistent: becomes a warning, the repository is skipped.
struct Inconsistent {
  std::string message;
};

struct FileStat {
  uint64_t size = 0;
  double accessed = 0;
  double modified = 0;
  timespec atime{};
};

// Seconds as a float, the way Python's os.stat_result reports st_atime.
double seconds(const timespec& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9; }

std::optional<FileStat> stat_file(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStat{static_cast<uint64_t>(st.st_size), seconds(st.st_atim), seconds(st.st_mtim), st.st_atim};
}

struct SnapshotFile {
  std::string relative;  // '/'-separated, below the snapshot
  fs::path blob;         // the blob a symlink points at, else the file itself
  bool symlinked = false;
};

struct Snapshot {
  std::string commit;
  fs::path dir;
  std::vector<SnapshotFile> files;
  std::set<std::string> refs;
};

struct ScannedRepo {
  std::string type;  // "kernel", "model", ...
  std::string repo_id;
  std::vector<Snapshot> snapshots;
  std::map<fs::path, FileStat> blobs;
  double last_accessed = 0;
  double last_modified = 0;
};

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// Every non-directory below `dir` (following directory symlinks as
// pathlib's glob("**/*") does not: it does not descend into them either).
std::vector<fs::path> files_below(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (is_dir(it->path())) continue;
    out.push_back(it->path());
  }
  if (ec) throw Inconsistent{"Cannot read " + dir.string() + ": " + ec.message()};
  std::sort(out.begin(), out.end());
  return out;
}

ScannedRepo scan_repo(const fs::path& repo_path) {
  if (!is_dir(repo_path)) throw Inconsistent{"Repo path is not a directory: " + repo_path.string()};
  std::string name = repo_path.filename().string();
  size_t sep = name.find("--");
  if (sep == std::string::npos)
    throw Inconsistent{"Repo path is not a valid HuggingFace cache directory: " + repo_path.string()};
  std::string prefix = name.substr(0, sep);
  if (!kRepoTypePrefixes.count(prefix))
    throw Inconsistent{"Repo type must be one of ['datasets', 'kernels', 'models', 'spaces'], found `" + prefix +
                       "` (" + repo_path.string() + ")."};
  ScannedRepo repo;
  repo.type = prefix.substr(0, prefix.size() - 1);
  repo.repo_id = replace_all(name.substr(sep + 2), "--", "/");

  fs::path snapshots = repo_path / "snapshots";
  fs::path refs = repo_path / "refs";
  if (!is_dir(snapshots)) throw Inconsistent{"Snapshots dir doesn't exist in cached repo: " + snapshots.string()};

  std::map<std::string, std::set<std::string>> refs_by_commit;
  std::error_code ec;
  if (fs::exists(refs, ec)) {
    if (!is_dir(refs)) throw Inconsistent{"Refs directory cannot be a file: " + refs.string()};
    for (const fs::path& ref : files_below(refs)) {
      if (kLitter.count(ref.filename().string())) continue;
      std::string commit;
      try {
        commit = read_file(ref);
      } catch (const Error& e) {
        throw Inconsistent{e.what()};
      }
      refs_by_commit[commit].insert(relative_slash_path(ref, refs));
    }
  }

  std::vector<fs::path> revision_dirs;
  for (auto it = fs::directory_iterator(snapshots, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    revision_dirs.push_back(it->path());
  std::sort(revision_dirs.begin(), revision_dirs.end());
  for (const fs::path& revision : revision_dirs) {
    if (kLitter.count(revision.filename().string())) continue;
    if (!is_dir(revision)) throw Inconsistent{"Snapshots folder corrupted. Found a file: " + revision.string()};
    Snapshot snapshot{revision.filename().string(), revision, {}, {}};
    for (const fs::path& file : files_below(revision)) {
      SnapshotFile entry{relative_slash_path(file, revision), file, false};
      if (fs::is_symlink(file, ec)) {
        // One hop, made absolute and normalised, as huggingface_hub does.
        entry.blob = (file.parent_path() / fs::read_symlink(file, ec)).lexically_normal();
        entry.symlinked = true;
      }
      auto stat = stat_file(entry.blob);
      if (!stat) throw Inconsistent{"Blob missing (broken symlink): " + entry.blob.string()};
      repo.blobs.emplace(entry.blob, *stat);
      snapshot.files.push_back(std::move(entry));
    }
    if (auto it = refs_by_commit.find(snapshot.commit); it != refs_by_commit.end()) {
      snapshot.refs = it->second;
      refs_by_commit.erase(it);
    }
    repo.snapshots.push_back(std::move(snapshot));
  }
  if (!refs_by_commit.empty()) {
    std::vector<std::string> parts;
    for (const auto& [commit, names] : refs_by_commit) {
      std::vector<std::string> quoted;
      for (const std::string& n : names) quoted.push_back("'" + n + "'");
      parts.push_back("'" + commit + "': {" + join(quoted, ", ") + "}");
    }
    throw Inconsistent{"Reference(s) refer to missing commit hashes: {" + join(parts, ", ") + "} (" +
                       repo_path.string() + ")."};
  }
  if (!repo.blobs.empty()) {
    for (const auto& [path, st] : repo.blobs) {
      repo.last_accessed = std::max(repo.last_accessed, st.accessed);
      repo.last_modified = std::max(repo.last_modified, st.modified);
    }
  } else if (struct stat st{}; ::stat(repo_path.c_str(), &st) == 0) {
    repo.last_accessed = seconds(st.st_atim);
    repo.last_modified = seconds(st.st_mtim);
  }
  return repo;
}

// "v<N>" -> N; nullopt for other refs ("main", "v1.0", "release/v1").
std::optional<long long> version_number(const std::string& ref) {
  if (ref.size() < 2 || ref[0] != 'v') return std::nullopt;
  long long n = 0;
  auto [end, err] = std::from_chars(ref.data() + 1, ref.data() + ref.size(), n);
  if (err != std::errc() || end != ref.data() + ref.size()) return std::nullopt;
  return n;
}

// The build variants a snapshot holds files of, by valid variant name.
std::vector<std::string> cached_variants(const Snapshot& snapshot) {
  std::set<std::string> names;
  for (const SnapshotFile& f : snapshot.files) {
    if (!starts_with(f.relative, "build/")) continue;
    size_t slash = f.relative.find('/', 6);
    if (slash == std::string::npos) continue;  // a file directly in build/
    std::string name = f.relative.substr(6, slash - 6);
    if (variant::Variant::try_parse(name)) names.insert(name);
  }
  return {names.begin(), names.end()};
}

// Checks each file against the hash its blob is named by; `verdicts` caches
// the answer per blob, since versions share blobs.
CachedVerification verify_snapshot(const Snapshot& snapshot, const std::map<fs::path, FileStat>& blobs,
                                   std::map<fs::path, bool>& verdicts) {
  CachedVerification result;
  for (const SnapshotFile& f : snapshot.files) {
    std::string hex = f.blob.filename().string();
    std::optional<ExpectedHash::Kind> kind = f.symlinked ? kind_of_hex(hex) : std::nullopt;
    if (!kind) {
      result.unrecorded.push_back(f.relative);
      continue;
    }
    auto cached = verdicts.find(f.blob);
    if (cached == verdicts.end()) {
      const FileStat& st = blobs.at(f.blob);
      ExpectedHash expected{*kind, to_lower(hex), st.size};
      cached = verdicts.emplace(f.blob, file_matches(f.blob, expected)).first;
      // Reading for the check is not a use of the kernel: LAST_ACCESSED stays
      // what it was (for this listing and the next).
      timespec times[2] = {st.atime, {0, UTIME_OMIT}};
      ::utimensat(AT_FDCWD, f.blob.c_str(), times, 0);
    }
    if (!cached->second) result.mismatched.push_back(f.relative);
  }
  if (!result.mismatched.empty())
    result.status = CachedVerification::Modified;
  else if (!result.unrecorded.empty())
    result.status = CachedVerification::Unverifiable;
  return result;
}

CachedKernel describe_kernel(const ScannedRepo& repo, bool verify) {
  CachedKernel kernel{repo.repo_id, 0, repo.last_accessed, repo.last_modified, {}};
  for (const auto& [path, st] : repo.blobs) kernel.size_on_disk += st.size;
  struct Entry {
    long long number;
    std::string ref;
    const Snapshot* snapshot;
  };
  std::vector<Entry> entries;
  for (const Snapshot& s : repo.snapshots)
    for (const std::string& ref : s.refs)
      if (auto n = version_number(ref)) entries.push_back({*n, ref, &s});
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.number, a.ref) < std::tie(b.number, b.ref); });
  std::map<fs::path, bool> verdicts;
  for (const Entry& e : entries) {
    const Snapshot& s = *e.snapshot;
    CachedVersion v;
    v.version = e.ref;
    v.commit = s.commit;
    std::set<fs::path> distinct;
    bool any = false;
    for (const SnapshotFile& f : s.files) {
      const FileStat& st = repo.blobs.at(f.blob);
      if (distinct.insert(f.blob).second) v.size_on_disk += st.size;
      v.last_accessed = any ? std::max(v.last_accessed, st.accessed) : st.accessed;
      v.last_modified = any ? std::max(v.last_modified, st.modified) : st.modified;
      any = true;
    }
    if (!any) {
      auto st = stat_file(s.dir);
      if (st) v.last_accessed = st->accessed, v.last_modified = st->modified;
    }
    v.variants = cached_variants(s);
    if (verify) v.verification = verify_snapshot(s, repo.blobs, verdicts);
    kernel.versions.push_back(std::move(v));
  }
  return kernel;
}

}  // namespace

const char* status_name(CachedVerification::Status status) {
  switch (status) {
    case CachedVerification::Verified:
      return "verified";
    case CachedVerification::Modified:
      return "modified";
    case CachedVerification::Unverifiable:
      return "unverifiable";
  }
  return "unknown";
}

CacheListing list_cached_kernels(const fs::path& cache_dir, bool verify) {
  CacheListing listing;
  listing.cache_dir = cache_dir;
  std::error_code ec;
  if (!fs::exists(cache_dir, ec)) return listing;
  if (!is_dir(cache_dir))
    throw Error("Scan cache expects a directory but found a file: " + cache_dir.string() +
                ". Please use `cache_dir` argument or set `HF_HUB_CACHE` environment variable.");
  listing.found = true;
  std::vector<fs::path> entries;
  for (auto it = fs::directory_iterator(cache_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    entries.push_back(it->path());
  if (ec) throw Error("Cannot read the cache directory " + cache_dir.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end());
  for (const fs::path& entry : entries) {
    if (kIgnoredEntries.count(entry.filename().string())) continue;
    try {
      ScannedRepo repo = scan_repo(entry);
      if (repo.type != "kernel") continue;
      CachedKernel kernel = describe_kernel(repo, verify);
      if (!kernel.versions.empty()) listing.kernels.push_back(std::move(kernel));
    } catch (const Inconsistent& e) {
      listing.warnings.push_back(e.message);
    }
  }
  std::sort(listing.kernels.begin(), listing.kernels.end(),
            [](const CachedKernel& a, const CachedKernel& b) { return a.repo_id < b.repo_id; });
  return listing;
}

nlohmann::ordered_json listing_json(const CacheListing& listing) {
  nlohmann::ordered_json repos = nlohmann::ordered_json::array();
  for (const CachedKernel& k : listing.kernels) {
    nlohmann::ordered_json versions = nlohmann::ordered_json::array();
    for (const CachedVersion& v : k.versions) {
      nlohmann::ordered_json version = {{"version", v.version},
                                        {"size_on_disk", v.size_on_disk},
                                        {"last_accessed", v.last_accessed},
                                        {"last_modified", v.last_modified},
                                        {"variants", v.variants}};
      if (v.verification)
        version["verification"] = {{"status", status_name(v.verification->status)},
                                   {"mismatched", v.verification->mismatched},
                                   {"unrecorded", v.verification->unrecorded}};
      versions.push_back(std::move(version));
    }
    repos.push_back({{"repo_id", k.repo_id},
                     {"size_on_disk", k.size_on_disk},
                     {"last_accessed", k.last_accessed},
                     {"last_modified", k.last_modified},
                     {"versions", std::move(versions)}});
  }
  return {{"cache_dir", listing.cache_dir.string()}, {"repos", std::move(repos)}};
}

std::string format_size(uint64_t bytes) {
  double value = static_cast<double>(bytes);
  char buffer[64];
  for (const char* unit : {"", "K", "M", "G", "T", "P", "E", "Z"}) {
    if (std::fabs(value) < 1000.0) {
      std::snprintf(buffer, sizeof buffer, "%3.1f%s", value, unit);
      return buffer;
    }
    value /= 1000.0;
  }
  std::snprintf(buffer, sizeof buffer, "%.1fY", value);
  return buffer;
}

std::string format_timesince(double timestamp, double now) {
  double delta = now - timestamp;
  if (delta < 20) return "a few seconds ago";
  struct Chunk {
    const char* label;
    double divider;
    long long max;  // -1: no limit
  };
  static const Chunk kChunks[] = {{"second", 1, 59},          {"minute", 60, 59},       {"hour", 3600, 23},
                                  {"day", 86400, 6},          {"week", 7 * 86400.0, 6}, {"month", 30 * 86400.0, 11},
                                  {"year", 365 * 86400.0, -1}};
  long long value = 0;
  const char* label = "";
  for (const Chunk& c : kChunks) {
    // Python's round(): halves to even.
    value = static_cast<long long>(std::nearbyint(delta / c.divider));
    label = c.label;
    if (c.max >= 0 && value <= c.max) break;
  }
  return std::to_string(value) + " " + label + (value > 1 ? "s" : "") + " ago";
}

namespace {

// Cuts cells (in place) so the table fits `columns`: the widest column loses
// a character at a time, never below its header or 4 ("x..."). True when a
// cell was cut.
bool truncate_cells(const std::vector<std::string>& headers, std::vector<std::vector<std::string>>& rows, int columns) {
  if (rows.empty()) return false;
  size_t n = headers.size();
  std::vector<size_t> caps(n), floors(n);
  for (size_t c = 0; c < n; ++c) {
    caps[c] = headers[c].size();
    for (const auto& row : rows) caps[c] = std::max(caps[c], row[c].size());
    floors[c] = std::max<size_t>(headers[c].size(), 4);
  }
  long long budget = static_cast<long long>(columns) - static_cast<long long>(n > 0 ? n - 1 : 0);
  auto total = [&] {
    long long sum = 0;
    for (size_t w : caps) sum += static_cast<long long>(w);
    return sum;
  };
  if (total() <= budget) return false;
  while (total() > budget) {
    int widest = -1;
    for (size_t c = 0; c < n; ++c)
      if (caps[c] > floors[c] && (widest < 0 || caps[c] > caps[static_cast<size_t>(widest)]))
        widest = static_cast<int>(c);
    if (widest < 0) break;
    --caps[static_cast<size_t>(widest)];
  }
  bool truncated = false;
  for (auto& row : rows)
    for (size_t c = 0; c < n; ++c)
      if (row[c].size() > caps[c]) {
        truncated = true;
        row[c] = row[c].substr(0, caps[c] - 3) + "...";
      }
  return truncated;
}

std::string pad(const std::string& s, size_t width, bool right) {
  if (s.size() >= width) return s;
  std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}

std::string tabulate(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows,
                     const std::set<std::string>& right_aligned) {
  size_t n = headers.size();
  std::vector<size_t> widths(n);
  for (size_t c = 0; c < n; ++c) {
    widths[c] = headers[c].size();
    for (const auto& row : rows) widths[c] = std::max(widths[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < n; ++c) {
      if (c) out += ' ';
      out += pad(cells[c], widths[c], right_aligned.count(headers[c]) > 0);
    }
    return out + "\n";
  };
  std::string out = line(headers);
  std::vector<std::string> rule;
  for (size_t w : widths) rule.push_back(std::string(w, '-'));
  out += line(rule);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string verified_cell(const CachedVersion& v) {
  if (!v.verification) return "-";
  switch (v.verification->status) {
    case CachedVerification::Verified:
      return "yes";
    case CachedVerification::Modified:
      return "NO";
    case CachedVerification::Unverifiable:
      return "unknown";
  }
  return "-";
}

}  // namespace

int terminal_columns() {
  if (const char* env = std::getenv("COLUMNS"); env && *env) {
    int value = 0;
    auto [end, err] = std::from_chars(env, env + std::strlen(env), value);
    if (err == std::errc() && *end == '\0' && value > 0) return value;
  }
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

std::string render_cache_warnings(const CacheListing& listing, bool show_warnings) {
  if (listing.warnings.empty()) return "";
  std::string err;
  if (show_warnings) {
    for (std::string w : listing.warnings) {
      while (!w.empty() && w.back() == '.') w.pop_back();
      err += "Warning: " + w + ". Repo ignored.\n";
    }
  } else {
    err += "Warning: Found " + std::to_string(listing.warnings.size()) +
           " cache inconsistencies. Re-run with `--show-warnings` to display them.\n";
  }
  return err;
}

CacheLsOutput render_cache_ls(const CacheListing& listing, const CacheTableOptions& options, bool show_warnings) {
  CacheLsOutput output;
  const std::vector<std::string> headers = {"ID",      "SIZE",     "LAST_ACCESSED", "LAST_MODIFIED",
                                            "VERSION", "VERIFIED", "VARIANTS"};
  std::vector<std::vector<std::string>> rows;
  for (const CachedKernel& k : listing.kernels) {
    for (const CachedVersion& v : k.versions) {
      rows.push_back({"kernel/" + k.repo_id, format_size(v.size_on_disk),
                      format_timesince(v.last_accessed, options.now), format_timesince(v.last_modified, options.now),
                      v.version, verified_cell(v), v.variants.empty() ? "-" : v.variants.front()});
      for (size_t i = 1; i < v.variants.size(); ++i) rows.push_back({"", "", "", "", "", "", v.variants[i]});
      if (v.verification && v.verification->status == CachedVerification::Modified)
        output.err +=
            "Warning: kernel/" + k.repo_id + " " + v.version +
            ": cached files differ from the hashes they were stored under: " + join(v.verification->mismatched, ", ") +
            "\n";
    }
  }
  if (rows.empty()) {
    output.out = "No cached kernel versions found in " + listing.cache_dir.string() + ".\n";
  } else {
    bool truncated = !options.no_truncate && truncate_cells(headers, rows, options.columns);
    output.out = tabulate(headers, rows, {"SIZE"});
    if (truncated) output.err = "Hint: Use `--no-truncate` or `--json` to display full values.\n" + output.err;
  }
  output.err += render_cache_warnings(listing, show_warnings);
  return output;
}

fs::path cache_ls_dir(const std::optional<fs::path>& explicit_dir) {
  fs::path dir = explicit_dir ? *explicit_dir : default_cache_root();
  std::string text = dir.string();
  if (text == "~" || starts_with(text, "~/")) {
    const char* home = std::getenv("HOME");
    if (home && *home) dir = fs::path(home) / (text.size() > 2 ? text.substr(2) : "");
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(dir, ec);
  if (ec) return dir;
  fs::path resolved = fs::weakly_canonical(absolute, ec);
  if (ec) return absolute.lexically_normal();
  std::string normal = resolved.string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

CacheLsResult cache_ls(const CacheLsRequest& request) {
  CacheLsResult result;
  CacheListing listing;
  try {
    listing = list_cached_kernels(cache_ls_dir(request.cache_dir), request.verify);
  } catch (const Error& e) {
    result.err = std::string("Cannot scan kernel cache: ") + e.what() + "\n";
    result.exit_code = 1;
    return result;
  }
  if (request.json) {
    result.out = listing_json(listing).dump(2, ' ', true) + "\n";
    result.err = render_cache_warnings(listing, request.show_warnings);
    return result;
  }
  CacheTableOptions options;
  options.columns = request.columns ? *request.columns : terminal_columns();
  options.no_truncate = request.no_truncate;
  options.now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CacheLsOutput output = render_cache_ls(listing, options, request.show_warnings);
  result.out = std::move(output.out);
  result.err = std::move(output.err);
  return result;
}

}  // namespace kb::cache
