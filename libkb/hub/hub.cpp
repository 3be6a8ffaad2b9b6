// What every hub shares: repo id and version-branch rules, and the default
// small-file access built on the tree listing.
#include "libkb/hub/hub.h"

#include <algorithm>
#include <cctype>

#include "libkb/cache/cache.h"

namespace kb::hub {

void validate_repo_id(std::string_view repo_id) { cache::check_repo_id(repo_id); }

bool is_bytecode(std::string_view path) {
  if (path.size() >= 4 && path.substr(path.size() - 4) == ".pyc") return true;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "__pycache__") return true;
    start = end + 1;
  }
  return false;
}

std::map<int, std::string> version_branches(const std::vector<RefInfo>& refs) {
  std::map<int, std::string> out;
  for (const RefInfo& r : refs) {
    if (r.name.size() < 2 || r.name[0] != 'v' || r.name.size() > 10) continue;
    std::string digits = r.name.substr(1);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      continue;
    out[std::stoi(digits)] = r.commit;
  }
  return out;
}

std::string version_commit(const std::map<int, std::string>& versions, int version) {
  auto it = versions.find(version);
  if (it != versions.end()) return it->second;
  std::string available;
  for (const auto& [v, _] : versions) available += (available.empty() ? "" : ", ") + std::to_string(v);
  throw Error("Version " + std::to_string(version) + " not found, available versions: " + available);
}

std::optional<std::string> newer_version_notice(std::string_view repo_id, int version,
                                                const std::map<int, std::string>& versions) {
  if (versions.empty() || versions.rbegin()->first <= version) return std::nullopt;
  return "You are using version " + std::to_string(version) + " of '" + std::string(repo_id) + "', but version " +
         std::to_string(versions.rbegin()->first) + " is available.";
}

namespace {

// The entry for `path` at `commit` from a listing of its folder; nullopt when
// the folder or the file is missing.
std::optional<TreeEntry> find_file(Hub& hub, std::string_view repo_id, const std::string& commit,
                                   std::string_view path) {
  std::string file(path);
  size_t slash = file.rfind('/');
  std::string folder = slash == std::string::npos ? "" : file.substr(0, slash);
  std::vector<TreeEntry> entries;
  try {
    entries = hub.list_tree(repo_id, commit, folder, false);
  } catch (const NotFound& e) {
    if (e.kind() == NotFound::What::Entry) return std::nullopt;
    throw;
  }
  for (TreeEntry& e : entries)
    if (!e.directory && e.path == file) return std::move(e);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> Hub::read_repo_file(std::string_view repo_id, std::string_view revision, std::string_view path) {
  std::string commit;
  try {
    commit = resolve_revision(repo_id, revision);
  } catch (const NotFound& e) {
    if (e.kind() == NotFound::What::Repository) return std::nullopt;
    throw;
  }
  std::optional<TreeEntry> entry = find_file(*this, repo_id, commit, path);
  if (!entry) return std::nullopt;
  std::string content;
  fetch_file(repo_id, commit, *entry, [&](const char* data, size_t n) { content.append(data, n); });
  return content;
}

bool Hub::file_exists(std::string_view repo_id, std::string_view revision, std::string_view path) {
  return find_file(*this, repo_id, resolve_revision(repo_id, revision), path).has_value();
}

std::optional<bool> Hub::publisher_trusted(std::string_view) { return std::nullopt; }

}  // namespace kb::hub
