#include "libkb/sign/trust_root.h"

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "libkb/sign/crypto.h"
#include "libkb/util/dirs.h"
#include "libkb/util/embedded.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"

namespace kb::sign {

namespace fs = std::filesystem;
using nlohmann::json;

int64_t parse_rfc3339(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    throw Error("not an RFC 3339 time: '" + s + "'");
  size_t rest = static_cast<size_t>(consumed);
  if (rest < s.size() && s[rest] == '.') {
    ++rest;
    while (rest < s.size() && std::isdigit(static_cast<unsigned char>(s[rest]))) ++rest;
  }
  if (rest + 1 != s.size() || (s[rest] != 'Z' && s[rest] != 'z'))
    throw Error("not an RFC 3339 UTC time (ending in Z): '" + s + "'");
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

std::string format_rfc3339(int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

namespace {

std::string decode_bytes(const json& value, const std::string& what) {
  if (!value.is_string()) throw Error(what + " is not a base64 string");
  auto raw = base64_decode(value.get<std::string>());
  if (!raw) throw Error(what + " is not valid base64");
  return *raw;
}

TimeRange parse_range(const json& j, const std::string& what) {
  TimeRange range;
  if (!j.is_object() || !j.contains("start")) throw Error(what + ".validFor has no start");
  range.start = parse_rfc3339(j.at("start").get<std::string>());
  if (j.contains("end")) range.end = parse_rfc3339(j.at("end").get<std::string>());
  return range;
}

LogKey parse_log(const json& j, const std::string& what) {
  LogKey log;
  log.base_url = j.value("baseUrl", "");
  const json& key = j.at("publicKey");
  log.public_key_der = decode_bytes(key.at("rawBytes"), what + ".publicKey.rawBytes");
  // Stored as SubjectPublicKeyInfo, whatever the root's encoding: key ids
  // are the SHA-256 of that form.
  if (key.value("keyDetails", "").rfind("PKCS1_", 0) == 0)
    log.public_key_der = public_key_der(rsa_public_key_from_pkcs1_der(log.public_key_der).get());
  else
    public_key_from_der(log.public_key_der);  // must parse
  log.key_id = sha256_bytes(log.public_key_der);
  log.valid = key.contains("validFor") ? parse_range(key.at("validFor"), what) : TimeRange{};
  return log;
}

}  // namespace

TrustRoot parse_trust_root(std::string_view text, const std::string& origin) {
  TrustRoot root;
  root.origin = origin;
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw Error("not a JSON object");
    std::string media_type = j.value("mediaType", "");
    if (media_type.rfind("application/vnd.dev.sigstore.trustedroot", 0) != 0)
      throw Error("mediaType is '" + media_type + "', not a sigstore trusted root");
    for (size_t i = 0; i < j.value("certificateAuthorities", json::array()).size(); ++i) {
      const json& ca = j["certificateAuthorities"][i];
      std::string what = "certificateAuthorities[" + std::to_string(i) + "]";
      CertificateAuthority authority;
      authority.uri = ca.value("uri", "");
      for (const json& cert : ca.at("certChain").at("certificates")) {
        authority.certificates_der.push_back(decode_bytes(cert.at("rawBytes"), what + " certificate"));
        certificate_from_der(authority.certificates_der.back());
      }
      if (authority.certificates_der.empty()) throw Error(what + " has no certificates");
      authority.valid = parse_range(ca.at("validFor"), what);
      root.authorities.push_back(std::move(authority));
    }
    for (size_t i = 0; i < j.value("tlogs", json::array()).size(); ++i)
      root.transparency_logs.push_back(parse_log(j["tlogs"][i], "tlogs[" + std::to_string(i) + "]"));
    for (size_t i = 0; i < j.value("ctlogs", json::array()).size(); ++i)
      root.ct_logs.push_back(parse_log(j["ctlogs"][i], "ctlogs[" + std::to_string(i) + "]"));
    if (root.authorities.empty()) throw Error("no certificate authority");
    if (root.transparency_logs.empty()) throw Error("no transparency log");
  } catch (const std::exception& e) {
    throw Error("invalid sigstore trust root " + origin + ": " + e.what());
  }
  return root;
}

std::string_view builtin_trust_root_json() { return embedded_file("sign/data/sigstore-trusted-root.json"); }

fs::path installed_trust_root_path() { return user_data_dir() / "kb" / "trusted_root.json"; }

TrustRootSource active_trust_root_source() {
  if (const char* env = std::getenv("KB_TRUST_ROOT"); env && *env)
    return {fs::path(env), std::string(env) + " (KB_TRUST_ROOT)"};
  fs::path installed = installed_trust_root_path();
  std::error_code ec;
  if (fs::is_regular_file(installed, ec)) return {installed, installed.string() + " (kb trust-root update)"};
  return {std::nullopt, "sigstore public-good trust root (compiled in)"};
}

TrustRoot load_trust_root(const TrustRootSource& source) {
  if (!source.path) return parse_trust_root(builtin_trust_root_json(), source.description);
  std::string text;
  try {
    text = read_file(*source.path);
  } catch (const std::exception& e) {
    throw Error("cannot read the sigstore trust root " + source.description + ": " + e.what());
  }
  return parse_trust_root(text, source.description);
}

TrustRoot install_trust_root(const fs::path& file) {
  std::string text = read_file(file);
  TrustRoot root = parse_trust_root(text, file.string());
  fs::path target = installed_trust_root_path();
  fs::create_directories(target.parent_path());
  write_file_atomic(target, text);
  root.origin = target.string();
  return root;
}

}  // namespace kb::sign
