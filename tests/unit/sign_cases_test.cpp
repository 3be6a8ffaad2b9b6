// Keyless bundles of a complete fake sigstore instance (test Fulcio CA with
// the GitHub OIDC extensions and embedded SCTs, test Rekor log with inclusion
// proofs, checkpoints and promises), made by tests/fixtures/sigstore-fake/
// fake_sigstore.py: every case of cases/expected.json gets its outcome, with
// the reasons a user would need.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "libkb/sign/verifier.h"
#include "libkb/sign/bundle.h"
#include "libkb/util/fs.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;

namespace {

const fs::path kFixture = fs::path(KB_SOURCE_DIR) / "tests" / "fixtures" / "sigstore-fake";

sign::TrustRoot fake_root() {
  return sign::parse_trust_root(read_file(kFixture / "instance" / "trusted_root.json"), "the fake instance");
}

nlohmann::json expected_cases() { return nlohmann::json::parse(read_file(kFixture / "cases" / "expected.json")); }

TEST(SigstoreCases, EveryCaseHasItsExpectedOutcome) {
  sign::TrustRoot root = fake_root();
  sign::Policy policy = sign::default_policy();
  nlohmann::json cases = expected_cases();
  ASSERT_GE(cases.size(), 15u);
  for (const auto& [name, expected] : cases.items()) {
    sign::VariantVerification result = sign::verify_variant(kFixture / "cases" / name, root, policy);
    EXPECT_EQ(sign::outcome_name(result.outcome), expected["outcome"].get<std::string>())
        << name << ": " << result.reason;
  }
}

TEST(SigstoreCases, TheGoodBundleNamesItsSignerAndTime) {
  sign::VariantVerification good = sign::verify_variant(kFixture / "cases" / "good", fake_root(), sign::default_policy());
  ASSERT_EQ(good.outcome, sign::Outcome::Success) << good.reason;
  EXPECT_EQ(good.signer.description,
            "https://github.com/huggingface/kernels-community/.github/workflows/build.yaml@refs/heads/main");
  EXPECT_GT(good.signer.signed_at, 1700000000);
}

TEST(SigstoreCases, FailuresSayWhatFailed) {
  sign::TrustRoot root = fake_root();
  auto reason = [&](const std::string& name) {
    return sign::verify_variant(kFixture / "cases" / name, root, sign::default_policy()).reason;
  };
  EXPECT_TRUE(contains(reason("wrong-repo"), "source repository URI")) << reason("wrong-repo");
  EXPECT_TRUE(contains(reason("wrong-workflow"), "is not one of the workflows trusted")) << reason("wrong-workflow");
  EXPECT_TRUE(contains(reason("wrong-issuer"), "OIDC issuer")) << reason("wrong-issuer");
  EXPECT_TRUE(contains(reason("tampered-metadata"), "digest mismatch")) << reason("tampered-metadata");
  EXPECT_TRUE(contains(reason("untrusted-ca"), "certificate chain")) << reason("untrusted-ca");
  EXPECT_TRUE(contains(reason("bad-set"), "SET")) << reason("bad-set");
  EXPECT_TRUE(contains(reason("bad-inclusion-proof"), "root hash")) << reason("bad-inclusion-proof");
  EXPECT_TRUE(contains(reason("bad-checkpoint"), "checkpoint")) << reason("bad-checkpoint");
  EXPECT_TRUE(contains(reason("bad-sct"), "SCT")) << reason("bad-sct");
  EXPECT_TRUE(contains(reason("expired-cert"), "expired")) << reason("expired-cert");
  EXPECT_TRUE(contains(reason("body-mismatch"), "inconsistent")) << reason("body-mismatch");
  EXPECT_TRUE(contains(reason("sha1-sct"), "only SHA-256")) << reason("sha1-sct");
  EXPECT_TRUE(contains(reason("critical-extension"), "unhandled critical extension")) << reason("critical-extension");
}

TEST(SigstoreCases, ThePublicGoodRootAcceptsNoneOfTheFakeBundles) {
  sign::TrustRoot production = sign::parse_trust_root(sign::builtin_trust_root_json(), "builtin");
  sign::VariantVerification good = sign::verify_variant(kFixture / "cases" / "good", production, sign::default_policy());
  EXPECT_EQ(good.outcome, sign::Outcome::SignatureVerificationFailure);
}

TEST(SigstoreCases, AnIdentityPolicyAcceptsTheWorkflowCertificateByItsSan) {
  sign::Policy policy;
  policy.identities.push_back(
      {"https://github.com/other-org/kernels/.github/workflows/build.yaml@refs/heads/main", sign::kGitHubActionsIssuer});
  sign::VariantVerification other = sign::verify_variant(kFixture / "cases" / "wrong-repo", fake_root(), policy);
  EXPECT_EQ(other.outcome, sign::Outcome::Success) << other.reason;
}

// Hostile edits of a good bundle: kb never crashes or throws on them, and
// no change to the signature, certificate or log proof bytes verifies.
TEST(SigstoreCases, MutatedBundlesAreRefusedNeverCrash) {
  sign::TrustRoot root = fake_root();
  sign::Policy policy = sign::default_policy();
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-mutate"));
  const fs::path good = kFixture / "cases" / "good";
  for (const char* name : {"__init__.py", "_ops.py", "metadata.json"})
    fs::copy_file(good / name, tmp.path() / name);
  const nlohmann::json bundle = nlohmann::json::parse(read_file(good / sign::kBundleFileName));
  auto outcome_with = [&](const std::string& text) {
    write_file_atomic(tmp.path() / sign::kBundleFileName, text);
    return sign::verify_variant(tmp.path(), root, policy).outcome;
  };
  ASSERT_EQ(outcome_with(bundle.dump()), sign::Outcome::Success);
  // Each base64 field: every one of its first 40 characters changed in turn.
  const std::vector<nlohmann::json::json_pointer> fields = {
      nlohmann::json::json_pointer("/messageSignature/signature"),
      nlohmann::json::json_pointer("/verificationMaterial/certificate/rawBytes"),
      nlohmann::json::json_pointer("/verificationMaterial/tlogEntries/0/inclusionPromise/signedEntryTimestamp"),
      nlohmann::json::json_pointer("/verificationMaterial/tlogEntries/0/inclusionProof/rootHash"),
      nlohmann::json::json_pointer("/verificationMaterial/tlogEntries/0/canonicalizedBody")};
  for (const auto& field : fields) {
    std::string original = bundle.at(field).get<std::string>();
    for (size_t i = 0; i < std::min<size_t>(original.size() - 2, 40); ++i) {
      nlohmann::json mutated = bundle;
      std::string value = original;
      value[i] = value[i] == 'A' ? 'B' : 'A';
      mutated[field] = value;
      sign::Outcome outcome = outcome_with(mutated.dump());
      EXPECT_TRUE(outcome == sign::Outcome::SignatureVerificationFailure || outcome == sign::Outcome::SignatureBundleInvalid)
          << field.to_string() << " char " << i << ": " << sign::outcome_name(outcome);
    }
  }
  // Truncations anywhere: never a crash, never a success.
  const std::string text = bundle.dump();
  for (size_t cut = 0; cut < text.size(); cut += 97)
    EXPECT_NE(outcome_with(text.substr(0, cut)), sign::Outcome::Success) << "cut at " << cut;
}

}  // namespace
