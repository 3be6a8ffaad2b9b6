#include "libkb/lock/lockfile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"

namespace kb::lock {

namespace {

using Json = nlohmann::ordered_json;  // keeps the file's variant order

// One code point from UTF-8 at `i` (advanced past it); throws on bytes that
// are not UTF-8, which Python could never have written.
uint32_t next_code_point(std::string_view s, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
  if (extra < 0 || i + static_cast<size_t>(extra) >= s.size())
    throw Error("lock file text is not valid UTF-8: " + std::string(s));
  uint32_t cp = extra == 0 ? c : c & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) {
    unsigned char cont = byte(i + static_cast<size_t>(k));
    if ((cont >> 6) != 0x2) throw Error("lock file text is not valid UTF-8: " + std::string(s));
    cp = (cp << 6) | (cont & 0x3F);
  }
  i += static_cast<size_t>(extra) + 1;
  return cp;
}

void append_u_escape(std::string& out, uint32_t unit) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(unit & 0xFFFF));
  out += buf;
}

// A JSON string literal as Python's json module writes it with
// ensure_ascii=True: only printable ASCII stays as is.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = next_code_point(s, i);
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (cp >= 0x20 && cp <= 0x7E) {
          out += static_cast<char>(cp);
        } else if (cp > 0xFFFF) {
          uint32_t v = cp - 0x10000;
          append_u_escape(out, 0xD800 | (v >> 10));
          append_u_escape(out, 0xDC00 | (v & 0x3FF));
        } else {
          append_u_escape(out, cp);
        }
    }
  }
  return out + "\"";
}

std::string json_type(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::string: return "string";
    case Json::value_t::array: return "array";
    case Json::value_t::object: return "object";
    case Json::value_t::discarded: return "nothing";
    default: return "number";
  }
}

// "line:col" of a byte offset, for parse errors.
std::string position_of(std::string_view text, size_t byte) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

class EntryReader {
 public:
  EntryReader(const std::string& source, size_t index, const Json& entry)
      : source_(source), index_(index), entry_(entry) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw Error(source_ + ": entry " + std::to_string(index_) + where() + ": " + prefix_ + message);
  }

  const Json& require(const char* key, Json::value_t type, const char* type_name) const {
    auto it = entry_.find(key);
    if (it == entry_.end()) fail("missing key \"" + std::string(key) + "\"");
    if (it->type() != type)
      fail("key \"" + std::string(key) + "\" must be " + type_name + ", not " + json_type(*it));
    return *it;
  }

  void set_repo(std::string repo) { repo_ = std::move(repo); }

  // A reader of an object inside this entry, its messages prefixed with `key`.
  EntryReader child(const char* key, const Json& object) const {
    EntryReader r(source_, index_, object);
    r.repo_ = repo_;
    r.prefix_ = prefix_ + key + ": ";
    return r;
  }

 private:
  std::string where() const { return repo_.empty() ? "" : " (" + repo_ + ")"; }
  const std::string& source_;
  size_t index_;
  const Json& entry_;
  std::string repo_;
  std::string prefix_;
};

std::string describe(const Pin& pin) {
  return pin.version ? "version " + std::to_string(*pin.version) : "revision " + pin.revision.value_or("");
}

// Only `allowed` keys in `object` (the structured format denies unknown ones).
void only_keys(const EntryReader& r, const Json& object, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, _] : object.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key == a;
    if (!known) {
      std::string expected;
      for (std::string_view a : allowed) expected += (expected.empty() ? "\"" : ", \"") + std::string(a) + "\"";
      r.fail("unknown key \"" + key + "\" (expected " + expected + ")");
    }
  }
}

KernelLock parse_structured_entry(EntryReader& r, const Json& entry) {
  // Messages name the repository as soon as there is one to name.
  if (auto d = entry.find("dependency"); d != entry.end() && d->is_object())
    if (auto id = d->find("repo-id"); id != d->end() && id->is_string()) r.set_repo(id->get<std::string>());
  only_keys(r, entry, {"dependency", "lock"});
  const Json& dependency = r.require("dependency", Json::value_t::object, "an object");
  const Json& lock_object = r.require("lock", Json::value_t::object, "an object");
  EntryReader dep(r.child("dependency", dependency));
  only_keys(dep, dependency, {"repo-id", "version", "revision"});
  KernelLock lock;
  lock.repo_id = dep.require("repo-id", Json::value_t::string, "a string").get<std::string>();
  r.set_repo(lock.repo_id);
  dep.set_repo(lock.repo_id);
  Pin pin;
  if (auto v = dependency.find("version"); v != dependency.end()) {
    if (!v->is_number_unsigned()) dep.fail("key \"version\" must be a non-negative integer, not " + json_type(*v));
    pin.version = v->get<uint64_t>();
  }
  if (auto v = dependency.find("revision"); v != dependency.end()) {
    if (!v->is_string()) dep.fail("key \"revision\" must be a string, not " + json_type(*v));
    pin.revision = v->get<std::string>();
  }
  if (pin.version && pin.revision) dep.fail("`version` and `revision` are mutually exclusive");
  if (!pin.version && !pin.revision) dep.fail("either `version` or `revision` must be specified");
  lock.pin = std::move(pin);
  EntryReader locked(r.child("lock", lock_object));
  locked.set_repo(lock.repo_id);
  only_keys(locked, lock_object, {"commit"});
  std::string commit = locked.require("commit", Json::value_t::string, "a string").get<std::string>();
  bool hex = !commit.empty();
  for (char ch : commit) hex = hex && std::isxdigit(static_cast<unsigned char>(ch));
  if (!hex || (commit.size() != 40 && commit.size() != 64))
    locked.fail("Invalid git object id, expected 40 or 64 hexadecimal digits: " + commit);
  for (char& ch : commit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  lock.sha = std::move(commit);
  return lock;
}

}  // namespace

std::string format_structured_lock_file(std::vector<KernelLock> locks) {
  for (const KernelLock& k : locks)
    if (!k.pin) throw Error("cannot write " + k.repo_id + " in the structured lock format: it has no version or revision");
  // As the existing tool orders its dependencies: repo id, then versions
  // (numerically) before revisions.
  std::sort(locks.begin(), locks.end(), [](const KernelLock& a, const KernelLock& b) {
    if (a.repo_id != b.repo_id) return a.repo_id < b.repo_id;
    if (a.pin->version.has_value() != b.pin->version.has_value()) return a.pin->version.has_value();
    if (a.pin->version) return *a.pin->version < *b.pin->version;
    return *a.pin->revision < *b.pin->revision;
  });
  nlohmann::json out = nlohmann::json::array();
  for (const KernelLock& k : locks) {
    nlohmann::json dependency = {{"repo-id", k.repo_id}};
    if (k.pin->version)
      dependency["version"] = *k.pin->version;
    else
      dependency["revision"] = *k.pin->revision;
    out.push_back({{"dependency", std::move(dependency)}, {"lock", {{"commit", k.sha}}}});
  }
  return out.dump(2);
}

const VariantLock* KernelLock::find(std::string_view variant) const {
  for (const auto& [name, lock] : variants)
    if (name == variant) return &lock;
  return nullptr;
}

std::string format_lock_file(const std::vector<KernelLock>& locks) {
  if (locks.empty()) return "[]";
  std::string out = "[";
  for (size_t i = 0; i < locks.size(); ++i) {
    const KernelLock& k = locks[i];
    out += i ? ",\n  {" : "\n  {";
    out += "\n    \"repo_id\": " + quote(k.repo_id) + ",";
    out += "\n    \"sha\": " + quote(k.sha) + ",";
    out += "\n    \"variants\": ";
    if (k.variants.empty()) {
      out += "{}";
    } else {
      out += "{";
      for (size_t v = 0; v < k.variants.size(); ++v) {
        const auto& [name, lock] = k.variants[v];
        out += v ? ",\n      " : "\n      ";
        out += quote(name) + ": {";
        out += "\n        \"hash\": " + quote(lock.hash) + ",";
        out += "\n        \"hash_type\": " + quote(lock.hash_type);
        out += "\n      }";
      }
      out += "\n    }";
    }
    out += "\n  }";
  }
  return out + "\n]";
}

std::vector<KernelLock> parse_lock_file(std::string_view text, const std::string& source) {
  Json root;
  try {
    root = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // nlohmann's text starts with its own id and position; keep the reason.
    std::string reason = e.what();
    if (size_t at = reason.find("column "); at != std::string::npos && reason.find(": ", at) != std::string::npos)
      reason = reason.substr(reason.find(": ", at) + 2);
    throw Error(source + ":" + position_of(text, e.byte == 0 ? 0 : e.byte - 1) + ": not valid JSON: " + reason);
  } catch (const Json::exception& e) {  // a number too large for any JSON number type
    std::string reason = e.what();
    if (size_t tag = reason.find("] "); tag != std::string::npos) reason = reason.substr(tag + 2);
    throw Error(source + ": not valid JSON: " + reason);
  }
  if (!root.is_array()) throw Error(source + ": expected a JSON array of locked kernels, found " + json_type(root));
  std::vector<KernelLock> out;
  bool structured_file = false;
  for (size_t i = 0; i < root.size(); ++i) {
    const Json& entry = root[i];
    EntryReader r(source, i, entry);
    if (!entry.is_object()) r.fail("expected an object, found " + json_type(entry));
    // kernels >= 0.17 writes {"dependency": ..., "lock": {"commit": ...}} entries.
    bool structured = entry.contains("dependency") || entry.contains("lock");
    if (i == 0) structured_file = structured;
    if (structured != structured_file)
      r.fail(std::string("mixes the formats: this entry is ") + (structured ? "structured" : "legacy") +
             ", the first one is not");
    if (structured) {
      KernelLock lock = parse_structured_entry(r, entry);
      for (const KernelLock& earlier : out)
        if (earlier.repo_id == lock.repo_id && earlier.pin == lock.pin)
          r.fail("duplicate dependency: " + lock.repo_id + " " + describe(*lock.pin) + " is locked twice");
      out.push_back(std::move(lock));
      continue;
    }
    KernelLock lock;
    lock.repo_id = r.require("repo_id", Json::value_t::string, "a string").get<std::string>();
    r.set_repo(lock.repo_id);
    lock.sha = r.require("sha", Json::value_t::string, "a string").get<std::string>();
    const Json& variants = r.require("variants", Json::value_t::object, "an object");
    for (const auto& [name, value] : variants.items()) {
      std::string at = "variant \"" + name + "\"";
      if (!value.is_object()) r.fail(at + " must be an object, not " + json_type(value));
      VariantLock v;
      bool has_hash = false;
      for (const auto& [key, field] : value.items()) {
        if (key != "hash" && key != "hash_type")
          r.fail(at + ": unknown key \"" + key + "\" (expected \"hash\" and \"hash_type\")");
        if (!field.is_string()) r.fail(at + ": key \"" + key + "\" must be a string, not " + json_type(field));
        (key == "hash" ? v.hash : v.hash_type) = field.get<std::string>();
        has_hash = has_hash || key == "hash";
      }
      if (!has_hash) r.fail(at + ": missing key \"hash\"");
      lock.variants.emplace_back(name, std::move(v));
    }
    out.push_back(std::move(lock));
  }
  return out;
}

std::vector<KernelLock> read_lock_file(const std::filesystem::path& path) {
  return parse_lock_file(read_file(path), path.string());
}

void write_lock_file(const std::filesystem::path& path, const std::vector<KernelLock>& locks) {
  write_file_atomic(path, format_lock_file(locks));
}

std::optional<std::string> locked_revision(const std::vector<KernelLock>& locks, std::string_view repo_id) {
  for (const KernelLock& k : locks)
    if (k.repo_id == repo_id) return k.sha;
  return std::nullopt;
}

}  // namespace kb::lock
