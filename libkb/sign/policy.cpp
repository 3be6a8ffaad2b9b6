#include "libkb/sign/policy.h"

#include <cstdlib>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/strings.h"
#include "libkb/util/toml.h"

namespace kb::sign {

namespace fs = std::filesystem;

namespace {

GitHubWorkflowPolicy github_workflows(const std::string& repo_id, std::initializer_list<const char*> workflows) {
  GitHubWorkflowPolicy policy{repo_id, {}};
  for (const char* workflow : workflows)
    policy.signer_uris.push_back("https://github.com/" + repo_id + "/.github/workflows/" + workflow +
                                 "@refs/heads/main");
  return policy;
}

std::string shown(const std::optional<std::string>& value) { return value ? "'" + *value + "'" : "none"; }

// Why one workflow entry refuses the certificate, or "" when it accepts it.
std::string workflow_mismatch(const GitHubWorkflowPolicy& policy, const CertificateIdentity& id) {
  if (id.issuer_v1 != kGitHubActionsIssuer)
    return "OIDC issuer (1.3.6.1.4.1.57264.1.1) is " + shown(id.issuer_v1) + ", expected '" + kGitHubActionsIssuer + "'";
  if (id.issuer_v2 != kGitHubActionsIssuer)
    return "OIDC issuer (1.3.6.1.4.1.57264.1.8) is " + shown(id.issuer_v2) + ", expected '" + kGitHubActionsIssuer + "'";
  std::string repo_uri = "https://github.com/" + policy.repo_id;
  if (id.source_repository_uri != repo_uri)
    return "source repository URI is " + shown(id.source_repository_uri) + ", expected '" + repo_uri + "'";
  for (const std::string& uri : policy.signer_uris)
    if (id.build_signer_uri == uri) return "";
  return "build signer URI " + shown(id.build_signer_uri) + " is not one of the workflows trusted for " + policy.repo_id;
}

std::string identity_mismatch(const IdentityPolicy& policy, const CertificateIdentity& id) {
  std::optional<std::string> issuer = id.issuer_v2 ? id.issuer_v2 : id.issuer_v1;
  if (issuer != policy.issuer) return "OIDC issuer is " + shown(issuer) + ", expected '" + policy.issuer + "'";
  for (const auto* names : {&id.san_uris, &id.san_emails})
    for (const std::string& name : *names)
      if (name == policy.identity) return "";
  return "identity is '" + id.subject() + "', expected '" + policy.identity + "'";
}

std::vector<std::string> string_list(const toml::node* node, const std::string& where) {
  std::vector<std::string> out;
  const toml::array* array = node ? node->as_array() : nullptr;
  if (!array) throw Error(where + " must be a list of strings");
  for (const toml::node& item : *array) {
    auto value = item.value<std::string>();
    if (!value) throw Error(where + " must be a list of strings");
    out.push_back(*value);
  }
  return out;
}

// Entries take only their own keys: a misplaced top-level key (one written
// after a [[table]] header belongs to that table) is named, not ignored.
void check_keys(const toml::table& table, std::initializer_list<std::string_view> known, const std::string& where) {
  for (const auto& [key, node] : table) {
    bool ok = false;
    for (std::string_view k : known) ok |= key.str() == k;
    if (!ok) throw Error(where + ": unknown key '" + std::string(key.str()) + "'");
  }
}

std::string required_string(const toml::table& table, const char* key, const std::string& where) {
  auto value = table[key].value<std::string>();
  if (!value || value->empty()) throw Error(where + "." + key + " must be a non-empty string");
  return *value;
}

}  // namespace

Policy default_policy() {
  Policy policy;
  policy.workflows.push_back(github_workflows(
      "huggingface/kernels-community", {"build.yaml", "build-mac.yaml", "build-windows.yaml", "sign-old-builds.yaml"}));
  policy.workflows.push_back(github_workflows("huggingface/kernels-community-rs", {"build.yaml"}));
  return policy;
}

std::string public_key_hint(const std::string& public_key_der) { return base64_encode(sha256_bytes(public_key_der)); }

Policy load_policy_file(const fs::path& path) {
  const std::string source = path.string();
  toml::table root = parse_toml(read_file(path), source);
  Policy policy;
  policy.origin = "policy " + source;
  try {
    for (const auto& [key, node] : root) {
      std::string k(key.str());
      if (k != "github-workflow" && k != "identity" && k != "public-key" && k != "include-default")
        throw Error("unknown key '" + k + "' (expected github-workflow, identity, public-key or include-default)");
    }
    auto tables = [&](const char* key) {
      std::vector<const toml::table*> out;
      if (const toml::node* node = root.get(key)) {
        const toml::array* array = node->as_array();
        if (!array) throw Error(std::string(key) + " must be an array of tables ([[" + key + "]])");
        for (const toml::node& item : *array) {
          if (!item.as_table()) throw Error(std::string(key) + " must be an array of tables ([[" + key + "]])");
          out.push_back(item.as_table());
        }
      }
      return out;
    };
    auto entries = tables("github-workflow");
    for (size_t i = 0; i < entries.size(); ++i) {
      std::string where = "github-workflow[" + std::to_string(i) + "]";
      check_keys(*entries[i], {"repo", "signer-uris"}, where);
      GitHubWorkflowPolicy entry;
      entry.repo_id = required_string(*entries[i], "repo", where);
      entry.signer_uris = string_list(entries[i]->get("signer-uris"), where + ".signer-uris");
      if (entry.signer_uris.empty()) throw Error(where + ": at least one signer URI must be provided");
      policy.workflows.push_back(std::move(entry));
    }
    entries = tables("identity");
    for (size_t i = 0; i < entries.size(); ++i) {
      std::string where = "identity[" + std::to_string(i) + "]";
      check_keys(*entries[i], {"identity", "issuer"}, where);
      policy.identities.push_back({required_string(*entries[i], "identity", where),
                                   required_string(*entries[i], "issuer", where)});
    }
    entries = tables("public-key");
    for (size_t i = 0; i < entries.size(); ++i) {
      std::string where = "public-key[" + std::to_string(i) + "]";
      check_keys(*entries[i], {"path"}, where);
      fs::path key_path = required_string(*entries[i], "path", where);
      if (key_path.is_relative()) key_path = path.parent_path() / key_path;
      std::string pem;
      try {
        pem = read_file(key_path);
      } catch (const std::exception& e) {
        throw Error(where + ": " + e.what());
      }
      try {
        Pkey key = public_key_from_pem(pem);
        policy.keys.push_back({key_path.string(), public_key_der(key.get())});
      } catch (const VerificationError& e) {
        throw Error(where + ": " + key_path.string() + ": " + e.what());
      }
    }
    if (auto include = root["include-default"].value<bool>(); include && *include) {
      Policy defaults = default_policy();
      for (auto& w : defaults.workflows) policy.workflows.push_back(std::move(w));
    } else if (root.contains("include-default") && !root["include-default"].is_boolean()) {
      throw Error("include-default must be true or false");
    }
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  if (policy.empty()) throw Error(source + ": the policy trusts no signer (add [[github-workflow]], [[identity]] or [[public-key]])");
  return policy;
}

void check_certificate(const Policy& policy, const CertificateIdentity& id) {
  std::vector<std::string> reasons;
  for (const auto& workflow : policy.workflows) {
    std::string why = workflow_mismatch(workflow, id);
    if (why.empty()) return;
    reasons.push_back("GitHub workflow of " + workflow.repo_id + ": " + why);
  }
  for (const auto& identity : policy.identities) {
    std::string why = identity_mismatch(identity, id);
    if (why.empty()) return;
    reasons.push_back("identity " + identity.identity + ": " + why);
  }
  if (reasons.empty())
    throw VerificationError("the certificate of " + id.subject() + " is not accepted: " + policy.origin +
                            " trusts only public keys");
  throw VerificationError("the certificate of " + id.subject() + " is not accepted by " + policy.origin + ":\n  " +
                          join(reasons, "\n  "));
}

const PublicKeyPolicy& trusted_key(const Policy& policy, const std::string& hint) {
  for (const auto& key : policy.keys)
    if (public_key_hint(key.public_key_der) == hint) return key;
  throw VerificationError("the bundle was signed with key " + hint + ", which " + policy.origin + " does not trust");
}

Policy active_policy() {
  if (const char* env = std::getenv("KB_SIGNATURE_POLICY"); env && *env) return load_policy_file(env);
  return default_policy();
}

}  // namespace kb::sign
