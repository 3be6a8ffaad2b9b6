// Sigstore bundles (v0.1-0.3): parsed, then verified in full against the fake
// sigstore instance's trust root and kernels' default policy for the artifact
// the committed good bundle signs: certificate chain, SCT, transparency-log
// proof, checkpoint, signed entry timestamp, log body, message signature.
#include "fuzz/fuzz_support.h"
#include "libkb/sign/bundle.h"
#include "libkb/sign/policy.h"
#include "libkb/sign/trust_root.h"
#include "libkb/sign/verifier.h"
#include "libkb/util/fs.h"

namespace {

const std::filesystem::path kFixture = std::filesystem::path(KB_SOURCE_DIR) / "tests/fixtures/sigstore-fake";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  static const sign::TrustRoot root =
      sign::parse_trust_root(read_file(kFixture / "instance/trusted_root.json"), "the fake trust root");
  static const sign::Policy policy = sign::default_policy();
  static const std::string artifact = read_file(kFixture / "cases/good/metadata.json");
  sign::Bundle bundle;
  if (!fuzz::accepted([&] { bundle = sign::parse_bundle(fuzz::text(data, size)); })) return 0;
  fuzz::accepted([&] { sign::verify_artifact(artifact, bundle, root, policy); });
  return 0;
}
