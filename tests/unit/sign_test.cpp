// libkb/sign: the pieces of offline signature verification that need no
// certificate authority (Merkle proofs, checkpoints, inclusion promises,
// bundles, trust roots, policies, key signing) and the signature check of
// loads with its receipts. Keyless bundles are covered by sign_cases_test.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "libkb/load/signature_check.h"
#include "libkb/metadata/digest.h"
#include "libkb/metadata/metadata.h"
#include "libkb/sign/bundle.h"
#include "libkb/sign/crypto.h"
#include "libkb/sign/policy.h"
#include "libkb/sign/signer.h"
#include "libkb/sign/transparency_log.h"
#include "libkb/sign/trust_root.h"
#include "libkb/sign/verifier.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

sign::Pkey new_ec_key() {
  sign::Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) throw Error("cannot make a test key");
  return key;
}

std::string pem_of_public_key(EVP_PKEY* key) {
  // Through DER to PEM by hand: the base64 body in 64-column lines.
  std::string b64 = base64_encode(sign::public_key_der(key));
  std::string pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  return pem + "-----END PUBLIC KEY-----\n";
}

// RFC 9162 2.1.1's tree hash and 2.1.3.1's audit path, written recursively
// as the RFC states them: an independent reference for the iterative check.
std::string leaf_hash(const std::string& leaf) { return sha256_bytes(std::string(1, '\0') + leaf); }
std::string tree_hash(const std::vector<std::string>& leaves, size_t lo, size_t hi) {
  if (hi - lo == 1) return leaf_hash(leaves[lo]);
  size_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return sha256_bytes(std::string(1, '\1') + tree_hash(leaves, lo, lo + k) + tree_hash(leaves, lo + k, hi));
}
std::vector<std::string> audit_path(const std::vector<std::string>& leaves, size_t m, size_t lo, size_t hi) {
  if (hi - lo == 1) return {};
  size_t k = 1;
  while (k * 2 < hi - lo) k *= 2;
  std::vector<std::string> path;
  if (m < k) {
    path = audit_path(leaves, m, lo, lo + k);
    path.push_back(tree_hash(leaves, lo + k, hi));
  } else {
    path = audit_path(leaves, m - k, lo + k, hi);
    path.push_back(tree_hash(leaves, lo, lo + k));
  }
  return path;
}

TEST(Base64, DecodesBothAlphabetsPaddedOrNotAndRefusesJunk) {
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8"), "hello");
  EXPECT_EQ(base64_decode(base64_encode(std::string("\xfb\xff\xfe", 3))), std::string("\xfb\xff\xfe", 3));
  EXPECT_EQ(base64_decode("-_-_"), base64_decode("+/+/"));
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_FALSE(base64_decode("aGVsbG8*"));
  EXPECT_FALSE(base64_decode("a"));     // a lone sextet is no byte
  EXPECT_FALSE(base64_decode("aGVsbG9="));  // non-zero trailing bits: not canonical
}

TEST(MerkleProof, AgreesWithTheRfcDefinitionForEveryLeafOfTreesUpTo33) {
  std::vector<std::string> leaves;
  for (int i = 0; i < 33; ++i) leaves.push_back("entry " + std::to_string(i));
  for (size_t size = 1; size <= leaves.size(); ++size) {
    std::vector<std::string> tree(leaves.begin(), leaves.begin() + static_cast<long>(size));
    std::string root = tree_hash(tree, 0, size);
    for (size_t index = 0; index < size; ++index) {
      auto path = audit_path(tree, index, 0, size);
      ASSERT_EQ(sign::merkle_root_from_proof(tree[index], static_cast<int64_t>(index), static_cast<int64_t>(size), path),
                root)
          << "size " << size << " index " << index;
      if (!path.empty()) {  // one bit flipped anywhere changes the root
        auto broken = path;
        broken.back()[0] ^= 1;
        EXPECT_NE(sign::merkle_root_from_proof(tree[index], static_cast<int64_t>(index), static_cast<int64_t>(size), broken),
                  root);
      }
    }
  }
}

TEST(MerkleProof, RefusesPathsThatDoNotFitTheTree) {
  std::vector<std::string> tree = {"a", "b", "c", "d", "e"};
  auto path = audit_path(tree, 2, 0, 5);
  auto extra = path;
  extra.push_back(std::string(32, 'x'));
  EXPECT_TRUE(contains(error_of([&] { sign::merkle_root_from_proof("c", 2, 5, extra); }), "more hashes"));
  auto fewer = path;
  fewer.pop_back();
  EXPECT_TRUE(contains(error_of([&] { sign::merkle_root_from_proof("c", 2, 5, fewer); }), "fewer hashes"));
  EXPECT_TRUE(contains(error_of([&] { sign::merkle_root_from_proof("c", 5, 5, path); }), "outside a tree of size 5"));
  EXPECT_TRUE(contains(error_of([&] { sign::merkle_root_from_proof("c", 2, 5, {"short"}); }), "5 bytes"));
}

TEST(InclusionPromise, IsTheCanonicalJsonOfBodyTimeLogIdAndIndex) {
  sign::TlogEntry entry;
  entry.canonicalized_body = "{\"kind\":\"hashedrekord\"}";
  entry.integrated_time = 1700000000;
  entry.log_id = std::string("\x01\xab", 2);
  entry.log_index = 42;
  EXPECT_EQ(sign::inclusion_promise_payload(entry),
            "{\"body\":\"eyJraW5kIjoiaGFzaGVkcmVrb3JkIn0=\",\"integratedTime\":1700000000,\"logID\":\"01ab\","
            "\"logIndex\":42}");
}

// A log of a few entries signed with a fresh key, in a trust root of its own.
struct TestLog {
  sign::Pkey key = new_ec_key();
  sign::TrustRoot root;
  std::vector<std::string> leaves = {"zero", "one", "two", "three", "four", "five", "six"};
  TestLog() {
    sign::LogKey log;
    log.public_key_der = sign::public_key_der(key.get());
    log.key_id = sha256_bytes(log.public_key_der);
    root.transparency_logs.push_back(log);
    root.origin = "test root";
  }
  std::string key_id() const { return root.transparency_logs[0].key_id; }
  sign::TlogEntry entry(size_t index, EVP_PKEY* signer = nullptr) {
    sign::TlogEntry e;
    e.canonicalized_body = leaves[index];
    e.log_index = 1000 + static_cast<int64_t>(index);
    e.log_id = key_id();
    e.kind = "hashedrekord";
    e.version = "0.0.1";
    e.integrated_time = 1700000000;
    sign::InclusionProof proof;
    proof.log_index = static_cast<int64_t>(index);
    proof.tree_size = static_cast<int64_t>(leaves.size());
    proof.root_hash = tree_hash(leaves, 0, leaves.size());
    proof.hashes = audit_path(leaves, index, 0, leaves.size());
    std::string note = "test.log - 1\n" + std::to_string(leaves.size()) + "\n" + base64_encode(proof.root_hash) + "\n";
    EVP_PKEY* by = signer ? signer : key.get();
    proof.checkpoint = note + "\n\xe2\x80\x94 test.log " +
                       base64_encode(key_id().substr(0, 4) + sign::sign_data(by, note)) + "\n";
    e.inclusion_proof = proof;
    e.signed_entry_timestamp = sign::sign_data(by, sign::inclusion_promise_payload(e));
    return e;
  }
};

TEST(LogEntry, AProofCheckpointAndPromiseSignedByTheLogVerify) {
  TestLog log;
  for (size_t i = 0; i < log.leaves.size(); ++i) EXPECT_NO_THROW(sign::verify_log_entry(log.entry(i), log.root));
}

TEST(LogEntry, EachForgedPartIsRefusedWithItsReason) {
  TestLog log;
  sign::Pkey other = new_ec_key();
  EXPECT_TRUE(contains(error_of([&] { sign::verify_log_entry(log.entry(3, other.get()), log.root); }),
                       "checkpoint: invalid signature"));
  auto body = log.entry(3);
  body.canonicalized_body = "three!";
  EXPECT_TRUE(contains(error_of([&] { sign::verify_log_entry(body, log.root); }), "invalid root hash"));
  auto promise = log.entry(3);
  promise.integrated_time += 1;  // the log vouched for another time
  EXPECT_TRUE(contains(error_of([&] { sign::verify_log_entry(promise, log.root); }), "SET: invalid inclusion promise"));
  auto unknown = log.entry(3);
  unknown.log_id = std::string(32, 'z');
  EXPECT_TRUE(contains(error_of([&] { sign::verify_log_entry(unknown, log.root); }), "no transparency log"));
  auto mismatched = log.entry(3);
  mismatched.inclusion_proof->checkpoint.replace(mismatched.inclusion_proof->checkpoint.find("\n\n"), 2, "\n\n\n\n");
  EXPECT_TRUE(contains(error_of([&] { sign::verify_log_entry(mismatched, log.root); }), "one blank line"));
}

TEST(Bundle, ParsesTheStructureAndRefusesWhatSigstoreRefuses) {
  std::string digest = sha256_bytes("x");
  sign::Bundle key_signed = sign::parse_bundle(sign::key_signed_bundle_json("hint", digest, "sig"));
  EXPECT_EQ(key_signed.public_key_hint, "hint");
  EXPECT_EQ(key_signed.message_digest, digest);
  EXPECT_EQ(key_signed.signature, "sig");
  EXPECT_EQ(key_signed.minor_version, 3);

  auto invalid = [](const std::string& text) {
    try {
      sign::parse_bundle(text);
    } catch (const sign::BundleError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_TRUE(contains(invalid("{"), "failed to load bundle"));
  EXPECT_TRUE(contains(invalid("[]"), "not a JSON object"));
  EXPECT_TRUE(contains(invalid(R"({"mediaType": "application/json"})"), "unsupported bundle format"));
  std::string deep(100, '[');
  EXPECT_TRUE(contains(invalid(deep + std::string(100, ']')), "nests deeper than 32"));
  EXPECT_TRUE(contains(invalid(std::string(sign::kMaxBundleBytes + 1, ' ')), "at most"));
  const std::string v03 = R"({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", )";
  EXPECT_TRUE(contains(invalid(v03 + R"("verificationMaterial": {}, "messageSignature": {"signature": "AA=="}})"),
                       "expected certificate in bundle"));
  // A certificate bundle needs exactly one log entry with a proof.
  EXPECT_TRUE(contains(invalid(v03 + R"("verificationMaterial": {"certificate": {"rawBytes": "AA=="}},
                                        "messageSignature": {"signature": "AA=="}})"),
                       "expected exactly one log entry"));
  EXPECT_TRUE(contains(invalid(v03 + R"("verificationMaterial": {"publicKey": {"hint": "h"}},
                                        "messageSignature": {"signature": "not base64!"}})"),
                       "messageSignature.signature is not valid base64"));
}

TEST(TrustRoot, TheCompiledInRootParsesAndBrokenOnesAreNamed) {
  sign::TrustRoot root = sign::parse_trust_root(sign::builtin_trust_root_json(), "builtin");
  EXPECT_GE(root.authorities.size(), 1u);
  EXPECT_GE(root.transparency_logs.size(), 1u);
  EXPECT_GE(root.ct_logs.size(), 1u);
  // A log's key id is the SHA-256 of its key: what the root lists as logId.
  nlohmann::json j = nlohmann::json::parse(sign::builtin_trust_root_json());
  EXPECT_EQ(base64_encode(root.transparency_logs[0].key_id), j["tlogs"][0]["logId"]["keyId"]);
  EXPECT_TRUE(contains(error_of([] { sign::parse_trust_root("{", "f.json"); }), "invalid sigstore trust root f.json"));
  EXPECT_TRUE(contains(error_of([] { sign::parse_trust_root(R"({"mediaType": "x"})", "f.json"); }),
                       "not a sigstore trusted root"));
  EXPECT_EQ(sign::parse_rfc3339("2021-01-12T11:53:27Z"), 1610452407);
  EXPECT_EQ(sign::parse_rfc3339("2022-12-31T23:59:59.999Z"), 1672531199);
  EXPECT_EQ(sign::format_rfc3339(1610452407), "2021-01-12T11:53:27Z");
  EXPECT_TRUE(contains(error_of([] { sign::parse_rfc3339("2021-01-12 11:53"); }), "not an RFC 3339 time"));
}

TEST(TrustRoot, UpdateInstallsAValidRootAndKeepsTheOldOneOnBadInput) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-trust"));
  kb::testing::ScopedEnv data("XDG_DATA_HOME", tmp.path().string());
  kb::testing::ScopedEnv env("KB_TRUST_ROOT", std::nullopt);
  EXPECT_FALSE(sign::active_trust_root_source().path);  // compiled in
  write_file_atomic(tmp.path() / "root.json", std::string(sign::builtin_trust_root_json()));
  sign::install_trust_root(tmp.path() / "root.json");
  EXPECT_EQ(sign::active_trust_root_source().path, sign::installed_trust_root_path());
  write_file_atomic(tmp.path() / "bad.json", "{\"mediaType\": 1}");
  EXPECT_FALSE(error_of([&] { sign::install_trust_root(tmp.path() / "bad.json"); }).empty());
  EXPECT_EQ(read_file(sign::installed_trust_root_path()), std::string(sign::builtin_trust_root_json()));
}

sign::CertificateIdentity github_identity(const std::string& repo, const std::string& workflow) {
  sign::CertificateIdentity id;
  id.issuer_v1 = id.issuer_v2 = sign::kGitHubActionsIssuer;
  id.source_repository_uri = "https://github.com/" + repo;
  id.build_signer_uri = "https://github.com/" + repo + "/.github/workflows/" + workflow + "@refs/heads/main";
  id.san_uris = {*id.build_signer_uri};
  return id;
}

TEST(Policy, TheDefaultAcceptsOnlyTheKernelsCommunityWorkflows) {
  sign::Policy policy = sign::default_policy();
  EXPECT_NO_THROW(sign::check_certificate(policy, github_identity("huggingface/kernels-community", "build.yaml")));
  EXPECT_NO_THROW(sign::check_certificate(policy, github_identity("huggingface/kernels-community", "build-mac.yaml")));
  EXPECT_NO_THROW(sign::check_certificate(policy, github_identity("huggingface/kernels-community-rs", "build.yaml")));
  std::string other = error_of([&] { sign::check_certificate(policy, github_identity("evil/kernels", "build.yaml")); });
  EXPECT_TRUE(contains(other, "source repository URI is 'https://github.com/evil/kernels'")) << other;
  std::string workflow = error_of(
      [&] { sign::check_certificate(policy, github_identity("huggingface/kernels-community", "release.yaml")); });
  EXPECT_TRUE(contains(workflow, "is not one of the workflows trusted")) << workflow;
  auto google = github_identity("huggingface/kernels-community", "build.yaml");
  google.issuer_v2 = "https://accounts.google.com";
  EXPECT_TRUE(contains(error_of([&] { sign::check_certificate(policy, google); }), "1.3.6.1.4.1.57264.1.8"));
}

TEST(Policy, FilesNameWorkflowsIdentitiesAndKeys) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-policy"));
  sign::Pkey key = new_ec_key();
  write_file_atomic(tmp.path() / "keys/hub.pub", pem_of_public_key(key.get()));
  write_file_atomic(tmp.path() / "policy.toml", R"(
[[github-workflow]]
repo = "acme/kernels"
signer-uris = ["https://github.com/acme/kernels/.github/workflows/build.yaml@refs/heads/main"]

[[identity]]
identity = "dev@acme.example"
issuer = "https://accounts.google.com"

[[public-key]]
path = "keys/hub.pub"
)");
  sign::Policy policy = sign::load_policy_file(tmp.path() / "policy.toml");
  EXPECT_NO_THROW(sign::check_certificate(policy, github_identity("acme/kernels", "build.yaml")));
  EXPECT_FALSE(error_of([&] {
                 sign::check_certificate(policy, github_identity("huggingface/kernels-community", "build.yaml"));
               }).empty());  // no include-default
  sign::CertificateIdentity dev;
  dev.san_emails = {"dev@acme.example"};
  dev.issuer_v2 = "https://accounts.google.com";
  EXPECT_NO_THROW(sign::check_certificate(policy, dev));
  dev.issuer_v2 = "https://github.com/login/oauth";
  EXPECT_FALSE(error_of([&] { sign::check_certificate(policy, dev); }).empty());
  EXPECT_EQ(sign::trusted_key(policy, sign::public_key_hint(sign::public_key_der(key.get()))).name,
            (tmp.path() / "keys/hub.pub").string());

  auto refusal = [&](const std::string& text) {
    write_file_atomic(tmp.path() / "bad.toml", text);
    return error_of([&] { sign::load_policy_file(tmp.path() / "bad.toml"); });
  };
  EXPECT_TRUE(contains(refusal("[[github-workflow]]\nrepo = \"a/b\"\nsigner-uris = []\n"), "at least one signer URI"));
  EXPECT_TRUE(contains(refusal("[[identity]]\nidentity = \"x\"\n"), "identity[0].issuer must be a non-empty string"));
  EXPECT_TRUE(contains(refusal("[[public-key]]\npath = \"missing.pem\"\n"), "missing.pem"));
  EXPECT_TRUE(contains(refusal("trust = 1\n"), "unknown key 'trust'"));
  // A top-level key written after a [[table]] belongs to the table: named.
  EXPECT_TRUE(contains(refusal("[[identity]]\nidentity = \"x\"\nissuer = \"y\"\ninclude-default = true\n"),
                       "identity[0]: unknown key 'include-default'"));
  EXPECT_TRUE(contains(refusal(""), "trusts no signer"));
  EXPECT_TRUE(contains(refusal("[[identity]\n"), "bad.toml:1"));
}

// A variant with a digest, signed with a key, and a policy trusting it.
class KeySignedVariant : public ::testing::Test {
 protected:
  KeySignedVariant() : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-sign")) {
    dir_ = tmp_.path() / "build" / "torch-cpu";
    write_file_atomic(dir_ / "__init__.py", "VALUE = 1\n");
    metadata::Metadata m;
    m.name = "relu";
    m.version = 1;
    m.license = "Apache-2.0";
    m.backend.type = config::Backend::Cpu;
    m.digest = metadata::compute_digest(dir_);
    metadata::write_metadata(dir_ / "metadata.json", m);
    write_file_atomic(tmp_.path() / "hub.pub", pem_of_public_key(key_.get()));
    write_file_atomic(tmp_.path() / "policy.toml", "[[public-key]]\npath = \"hub.pub\"\n");
    policy_ = sign::load_policy_file(tmp_.path() / "policy.toml");
    root_ = sign::parse_trust_root(sign::builtin_trust_root_json(), "builtin");
  }
  sign::VariantVerification verify() { return sign::verify_variant(dir_, root_, policy_); }

  TempDirGuard tmp_;
  fs::path dir_;
  sign::Pkey key_ = new_ec_key();
  sign::Policy policy_;
  sign::TrustRoot root_;
};

TEST_F(KeySignedVariant, SignedMetadataVerifiesUnderAPolicyTrustingTheKey) {
  EXPECT_EQ(verify().outcome, sign::Outcome::SignatureBundleMissing);
  std::string hint = sign::sign_variant_with_key(dir_, key_.get());
  EXPECT_EQ(hint, sign::public_key_hint(sign::public_key_der(key_.get())));
  sign::VariantVerification ok = verify();
  EXPECT_EQ(ok.outcome, sign::Outcome::Success) << ok.reason;
  EXPECT_TRUE(contains(ok.signer.description, "hub.pub"));
  EXPECT_EQ(sign::outcome_report("v", ok), "\xe2\x9c\x85 v: kernel metadata is correctly signed");

  // The default policy does not trust the key.
  sign::VariantVerification untrusted = sign::verify_variant(dir_, root_, sign::default_policy());
  EXPECT_EQ(untrusted.outcome, sign::Outcome::SignatureVerificationFailure);
  EXPECT_TRUE(contains(untrusted.reason, "does not trust"));
}

TEST_F(KeySignedVariant, EachKindOfTamperingHasItsOutcome) {
  sign::sign_variant_with_key(dir_, key_.get());
  // A file changed after signing: the signed digest catches it.
  write_file_atomic(dir_ / "__init__.py", "VALUE = 2\n");
  sign::VariantVerification file = verify();
  EXPECT_EQ(file.outcome, sign::Outcome::DigestVerificationFailure);
  ASSERT_EQ(file.violations.size(), 1u);
  EXPECT_TRUE(contains(file.violations[0], "File hash mismatch for __init__.py"));
  EXPECT_TRUE(contains(sign::outcome_report("v", file), "kernel integrity check failed\nFile hash mismatch"));
  // The metadata changed after signing (its digest rewritten to match).
  metadata::Metadata m = metadata::read_metadata(dir_ / "metadata.json");
  m.digest = metadata::compute_digest(dir_);
  metadata::write_metadata(dir_ / "metadata.json", m);
  sign::VariantVerification meta = verify();
  EXPECT_EQ(meta.outcome, sign::Outcome::SignatureVerificationFailure);
  EXPECT_TRUE(contains(meta.reason, "Bundle message digest mismatch"));
  // The signature itself altered (digest left alone).
  sign::sign_variant_with_key(dir_, key_.get());
  nlohmann::json bundle = nlohmann::json::parse(read_file(dir_ / sign::kBundleFileName));
  std::string sig = *base64_decode(bundle["messageSignature"]["signature"].get<std::string>());
  sig[sig.size() - 1] ^= 1;
  bundle["messageSignature"]["signature"] = base64_encode(sig);
  write_file_atomic(dir_ / sign::kBundleFileName, bundle.dump());
  EXPECT_TRUE(contains(verify().reason, "Signature is invalid for input"));
  // Broken JSON, no metadata.
  write_file_atomic(dir_ / sign::kBundleFileName, "{");
  EXPECT_EQ(verify().outcome, sign::Outcome::SignatureBundleInvalid);
  EXPECT_TRUE(contains(sign::outcome_report("v", verify()), "invalid signature bundle:\nfailed to load bundle"));
  sign::sign_variant_with_key(dir_, key_.get());
  fs::remove(dir_ / "metadata.json");
  EXPECT_EQ(verify().outcome, sign::Outcome::MetadataMissing);
}

TEST_F(KeySignedVariant, SignedMetadataWithoutDigestOrInvalidJsonIsReported) {
  write_file_atomic(dir_ / "metadata.json", "{\"name\": \"relu\"");
  sign::sign_variant_with_key(dir_, key_.get());
  sign::VariantVerification invalid = verify();
  EXPECT_EQ(invalid.outcome, sign::Outcome::MetadataInvalid);
  EXPECT_TRUE(contains(invalid.reason, "Cannot parse metadata"));
  metadata::Metadata m;
  m.name = "relu";
  m.version = 1;
  m.backend.type = config::Backend::Cpu;
  metadata::write_metadata(dir_ / "metadata.json", m);
  sign::sign_variant_with_key(dir_, key_.get());
  EXPECT_EQ(verify().outcome, sign::Outcome::DigestMissing);
  EXPECT_TRUE(contains(sign::outcome_report("v", verify()), "metadata does not have a digest"));
}

TEST_F(KeySignedVariant, LoadsWarnOrRefuseAndKeepReceiptsThatFollowTheFiles) {
  const load::KernelLocation location{"acme/relu", std::string(40, 'c'), "torch-cpu"};
  const fs::path cache = tmp_.path() / "cache";
  load::SignatureSettings settings;
  settings.policy_file = tmp_.path() / "policy.toml";
  auto check = [&](const std::optional<load::KernelLocation>& where) {
    return load::check_signature(dir_, "Kernel 'relu' variant 'torch-cpu'", where, cache, settings);
  };
  // Unsigned: a warning, or an error when signatures are required.
  load::SignatureCheck unsigned_hub = check(location);
  EXPECT_FALSE(unsigned_hub.failure);
  ASSERT_EQ(unsigned_hub.warnings.size(), 1u);
  EXPECT_EQ(unsigned_hub.warnings[0], "Kernel 'relu' variant 'torch-cpu': not signed, so its integrity cannot be verified");
  EXPECT_TRUE(check(std::nullopt).warnings.empty());  // local builds are not checked unless required
  settings.require = true;
  load::SignatureCheck strict = check(std::nullopt);
  ASSERT_TRUE(strict.failure);
  EXPECT_TRUE(contains(*strict.failure, "not signed") && contains(*strict.failure, "KERNELS_REQUIRE_SIGNATURE"));

  // Signed: verified once, then trusted through the receipt...
  sign::sign_variant_with_key(dir_, key_.get());
  load::SignatureCheck first = check(location);
  EXPECT_TRUE(first.verified && !first.from_receipt && !first.failure) << first.warnings.size();
  fs::path receipt = load::receipt_path(cache, load::ReceiptKind::Signature, location);
  ASSERT_TRUE(fs::exists(receipt));
  nlohmann::json stored = nlohmann::json::parse(read_file(receipt));
  EXPECT_EQ(stored["location"]["repo_id"], "acme/relu");  // the kernels package's receipt, plus kb's fingerprint
  EXPECT_EQ(stored["kb"]["signer"]["key_hint"], sign::public_key_hint(sign::public_key_der(key_.get())));
  EXPECT_TRUE(stored["kb"]["files"]["metadata"].is_array() && stored["kb"]["files"]["bundle"].is_array());
  EXPECT_TRUE(check(location).from_receipt);
  // ...until the metadata changes: the receipt no longer holds, and the new
  // bytes fail verification.
  write_file_atomic(dir_ / "metadata.json", read_file(dir_ / "metadata.json") + " ");
  load::SignatureCheck changed = check(location);
  EXPECT_FALSE(changed.from_receipt);
  ASSERT_TRUE(changed.failure);
  EXPECT_TRUE(contains(*changed.failure, "could not be verified against its signature"));
  // A policy that no longer trusts the key refuses even with a receipt.
  sign::sign_variant_with_key(dir_, key_.get());
  EXPECT_TRUE(check(location).verified);
  write_file_atomic(tmp_.path() / "policy.toml", "[[identity]]\nidentity = \"x\"\nissuer = \"y\"\n");
  load::SignatureCheck revoked = check(location);
  EXPECT_FALSE(revoked.verified);
  ASSERT_TRUE(revoked.failure);
  EXPECT_TRUE(contains(*revoked.failure, "does not trust"));
}

TEST(SignatureSettings, ComeFromTheEnvironment) {
  kb::testing::ScopedEnv require("KERNELS_REQUIRE_SIGNATURE", "TRUE");
  kb::testing::ScopedEnv policy("KB_SIGNATURE_POLICY", "/p.toml");
  kb::testing::ScopedEnv root("KB_TRUST_ROOT", std::nullopt);
  load::SignatureSettings settings = load::signature_settings_from_env();
  EXPECT_TRUE(settings.require);
  EXPECT_EQ(settings.policy_file, fs::path("/p.toml"));
  EXPECT_FALSE(settings.trust_root);
  kb::testing::ScopedEnv off("KERNELS_REQUIRE_SIGNATURE", "0");
  EXPECT_FALSE(load::signature_settings_from_env().require);
}

}  // namespace
