#pragma once
// The sigstore trust root: the Fulcio certificate authorities, the Rekor
// transparency logs and the certificate-transparency logs whose keys a
// keyless signature is checked against, in sigstore's trusted_root.json
// format (media type application/vnd.dev.sigstore.trustedroot+json). kb ships
// sigstore's public-good root as data; `kb trust-root update FILE` installs a
// newer (or a private) one, and KB_TRUST_ROOT names one for a single run.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kb::sign {

// A validity window in seconds since the epoch; no end = still valid.
struct TimeRange {
  int64_t start = 0;
  std::optional<int64_t> end;
  bool contains(int64_t t) const { return t >= start && (!end || t <= *end); }
};

// RFC 3339 UTC time ("2021-01-12T11:53:27Z", fractions ignored) → seconds;
// throws kb::Error naming the text.
int64_t parse_rfc3339(std::string_view text);
std::string format_rfc3339(int64_t seconds);

// A log (Rekor or CT): its key, and the id entries name it by (the SHA-256
// of the key's DER SubjectPublicKeyInfo).
struct LogKey {
  std::string base_url;
  std::string public_key_der;
  std::string key_id;  // raw 32 bytes
  TimeRange valid;
};

struct CertificateAuthority {
  std::string uri;
  std::vector<std::string> certificates_der;  // as listed: issuing certificate first, root last
  TimeRange valid;
};

struct TrustRoot {
  std::vector<CertificateAuthority> authorities;
  std::vector<LogKey> transparency_logs;
  std::vector<LogKey> ct_logs;
  std::string origin;  // where it was read from, for messages
};

// Throws kb::Error naming `origin` and what is wrong (malformed JSON, a key or
// certificate that does not parse, no certificate authority or log).
TrustRoot parse_trust_root(std::string_view json, const std::string& origin);

// Where the trust root in force comes from: KB_TRUST_ROOT, else the file
// `kb trust-root update` installed, else the one compiled into kb.
struct TrustRootSource {
  std::optional<std::filesystem::path> path;  // nullopt: compiled in
  std::string description;
};
TrustRootSource active_trust_root_source();
TrustRoot load_trust_root(const TrustRootSource& source);
// <user data dir>/kb/trusted_root.json
std::filesystem::path installed_trust_root_path();
// Checks `file` parses as a trust root, then installs it atomically; returns it.
TrustRoot install_trust_root(const std::filesystem::path& file);
// The compiled-in root's JSON.
std::string_view builtin_trust_root_json();

}  // namespace kb::sign
