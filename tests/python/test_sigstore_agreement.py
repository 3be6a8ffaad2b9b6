"""kb's verifier against the reference one: the PyPI sigstore package, given
the trust root of the fake sigstore instance (tests/fixtures/sigstore-fake), must
accept and refuse each committed case as kb does, and a freshly made
instance's bundles must still verify in both (so the generator keeps making
what sigstore calls valid).

Runs in the test-only sigstore environment (tests/python/run-sigstore.sh);
KB_BIN names kb's executables."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sigstore.errors import VerificationError
from sigstore.models import Bundle, InvalidBundle, TrustedRoot
from sigstore.verify import Verifier, policy

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "sigstore-fake"
KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
sys.path.insert(0, str(FIXTURE))
import fake_sigstore  # noqa: E402

EXPECTED = json.loads((FIXTURE / "cases" / "expected.json").read_text())
# What the kernels package's default policy asks of a certificate.
ISSUER = "https://token.actions.githubusercontent.com"
KERNELS_POLICY = policy.AllOf(
    [
        policy.OIDCIssuer(ISSUER),
        policy.OIDCIssuerV2(ISSUER),
        policy.OIDCSourceRepositoryURI("https://github.com/huggingface/kernels-community"),
        policy.AnyOf(
            [
                policy.OIDCBuildSignerURI(
                    "https://github.com/huggingface/kernels-community/.github/workflows/build.yaml@refs/heads/main"
                )
            ]
        ),
    ]
)
# kb's outcomes whose signature check passed (the digest is checked after it).
SIGNATURE_VERIFIED = {"Success", "DigestMissing", "DigestVerificationFailure", "MetadataInvalid"}


def sigstore_verdict(instance: Path, variant: Path) -> str:
    bundle_path, metadata = variant / "metadata.json.sigstore", variant / "metadata.json"
    if not bundle_path.is_file() or not metadata.is_file():
        return "n/a"
    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(instance / "trusted_root.json")))
    try:
        verifier.verify_artifact(metadata.read_bytes(), Bundle.from_json(bundle_path.read_bytes()), KERNELS_POLICY)
    except InvalidBundle:
        return "invalid-bundle"
    except VerificationError:
        return "reject"
    return "accept"


def kb_outcome(instance: Path, variant: Path) -> str:
    result = subprocess.run(
        [str(KB), "verify", "--json", "--trust-root", str(instance / "trusted_root.json"), str(variant)],
        capture_output=True,
        text=True,
    )
    assert result.returncode in (0, 1), result.stderr
    (record,) = json.loads(result.stdout)["variants"]
    assert (result.returncode == 0) == (record["outcome"] == "Success")
    return record["outcome"]


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_sigstore_and_kb_judge_each_committed_case_alike(case):
    variant = FIXTURE / "cases" / case
    instance = FIXTURE / "instance"
    verdict = sigstore_verdict(instance, variant)
    outcome = kb_outcome(instance, variant)
    assert verdict == EXPECTED[case]["sigstore"]
    assert outcome == EXPECTED[case]["outcome"]
    if verdict == "accept":
        assert outcome in SIGNATURE_VERIFIED
    elif verdict == "reject":
        assert outcome == "SignatureVerificationFailure"
    elif verdict == "invalid-bundle":
        assert outcome == "SignatureBundleInvalid"


def test_a_fresh_instance_signs_what_both_verify_and_both_refuse_its_forgeries(tmp_path):
    instance = fake_sigstore.create_instance(tmp_path / "instance")
    expected = fake_sigstore.write_cases(instance, tmp_path / "cases")
    for case, want in expected.items():
        variant = tmp_path / "cases" / case
        assert sigstore_verdict(tmp_path / "instance", variant) == want["sigstore"], case
        assert kb_outcome(tmp_path / "instance", variant) == want["outcome"], case


def test_each_instance_trusts_only_its_own_signatures(tmp_path):
    fake_sigstore.create_instance(tmp_path / "other")
    good = FIXTURE / "cases" / "good"
    assert sigstore_verdict(tmp_path / "other", good) == "reject"
    assert kb_outcome(tmp_path / "other", good) == "SignatureVerificationFailure"
