#!/usr/bin/env bats
# kb sign, kb verify and kb trust-root on variant directories made here, with
# keys made by openssl: signatures, each tampering's report, policies, usage
# errors, and installing a trust root.

bats_require_minimum_version 1.5.0

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  KB="$KB_BIN/kb"
  K="$BATS_TEST_TMPDIR/kernel"
  V="$K/build/torch214-cxx11-cpu-x86_64-linux"
  W="$K/build/torch214-cxx11-cu130-x86_64-linux"
  for dir in "$V" "$W"; do
    mkdir -p "$dir"
    echo "VALUE = 1" > "$dir/__init__.py"
    digest=$(openssl dgst -sha256 -binary "$dir/__init__.py" | base64)
    cat > "$dir/metadata.json" <<EOF
{"name": "relu", "id": "_relu_0123abc", "version": 1, "license": "Apache-2.0", "python-depends": [], "backend": {"type": "cpu"},
 "digest": {"algorithm": "sha256", "files": {"__init__.py": "$digest"}}}
EOF
  done
  openssl ecparam -name prime256v1 -genkey -noout -out "$BATS_TEST_TMPDIR/key.pem" 2>/dev/null
  openssl ec -in "$BATS_TEST_TMPDIR/key.pem" -pubout -out "$BATS_TEST_TMPDIR/key.pub" 2>/dev/null
  printf '[[public-key]]\npath = "key.pub"\n' > "$BATS_TEST_TMPDIR/policy.toml"
  export XDG_DATA_HOME="$BATS_TEST_TMPDIR/data"
  unset KB_TRUST_ROOT KB_SIGNATURE_POLICY
}

@test "kb sign signs every built variant and kb verify accepts them under the key's policy" {
  run "$KB" sign --key "$BATS_TEST_TMPDIR/key.pem" "$K"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[0]}" == "Signed $V (key "* ]] || [[ "${lines[1]}" == "Signed $V (key "* ]]
  [ -f "$V/metadata.json.sigstore" ] && [ -f "$W/metadata.json.sigstore" ]
  run "$KB" verify --policy "$BATS_TEST_TMPDIR/policy.toml" "$K"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "✅ torch214-cxx11-cpu-x86_64-linux: kernel metadata is correctly signed" ]
  [ "${lines[1]}" = "✅ torch214-cxx11-cu130-x86_64-linux: kernel metadata is correctly signed" ]
  # The same through KB_SIGNATURE_POLICY, for one variant directory.
  KB_SIGNATURE_POLICY="$BATS_TEST_TMPDIR/policy.toml" run "$KB" verify "$V"
  [ "$status" -eq 0 ]
}

@test "kb verify reports each failure in the kernels CLI's lines and exits 1" {
  "$KB" sign --key "$BATS_TEST_TMPDIR/key.pem" "$V" "$W" >/dev/null
  echo "VALUE = 2" > "$W/__init__.py"
  run "$KB" verify --policy "$BATS_TEST_TMPDIR/policy.toml" "$K"
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "✅ torch214-cxx11-cpu-x86_64-linux: kernel metadata is correctly signed" ]
  [ "${lines[1]}" = "❌ torch214-cxx11-cu130-x86_64-linux: kernel integrity check failed" ]
  [[ "${lines[2]}" == "File hash mismatch for __init__.py: expected: "* ]]
  # Without the policy, the default (kernels-community workflows) trusts no key.
  run "$KB" verify "$V"
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "❌ torch214-cxx11-cpu-x86_64-linux: metadata signature verification failed:" ]
  [[ "${lines[1]}" == *"which the default policy does not trust" ]]
  # Unsigned, filtered or not; broken bundle.
  rm "$V/metadata.json.sigstore"
  run "$KB" verify "$V"
  [ "$status" -eq 1 ]
  [ "$output" = "❌ torch214-cxx11-cpu-x86_64-linux: cannot verify kernel integrity, signature not found" ]
  run "$KB" verify --filter-unsigned "$V"
  [ "$status" -eq 0 ] && [ "$output" = "" ]
  echo '{"mediaType": 7' > "$V/metadata.json.sigstore"
  run "$KB" verify "$V"
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = "❌ torch214-cxx11-cpu-x86_64-linux: cannot verify kernel integrity, invalid signature bundle:" ]
  [[ "${lines[1]}" == "failed to load bundle: "* ]]
}

@test "kb verify --json names outcome, signer and policy" {
  "$KB" sign --key "$BATS_TEST_TMPDIR/key.pem" "$V" >/dev/null
  run "$KB" verify --json --policy "$BATS_TEST_TMPDIR/policy.toml" "$V"
  [ "$status" -eq 0 ]
  echo "$output" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
(v,) = doc["variants"]
assert v["outcome"] == "Success", v
assert v["signer"].startswith("public key ") and v["signer"].endswith("key.pub"), v
assert doc["policy"].startswith("policy "), doc
assert "compiled in" in doc["trust_root"], doc
'
}

@test "bad keys, policies and targets are refused with the file named" {
  echo "not a key" > "$BATS_TEST_TMPDIR/bad.pem"
  run "$KB" sign --key "$BATS_TEST_TMPDIR/bad.pem" "$V"
  [ "$status" -eq 1 ]
  [[ "$output" == *"the signing key $BATS_TEST_TMPDIR/bad.pem is not an unencrypted PEM private key"* ]]
  run "$KB" sign --key "$BATS_TEST_TMPDIR/key.pem" "$BATS_TEST_TMPDIR"
  [ "$status" -eq 1 ]
  [[ "$output" == *"is neither a variant directory"* ]]
  printf '[[public-key]]\npath = "nowhere.pub"\n' > "$BATS_TEST_TMPDIR/broken.toml"
  run "$KB" verify --policy "$BATS_TEST_TMPDIR/broken.toml" "$V"
  [ "$status" -eq 1 ]
  [[ "$output" == *"broken.toml: public-key[0]: "*"nowhere.pub"* ]]
  run "$KB" verify "$V" --version 1
  [ "$status" -eq 1 ]
  [[ "$output" == *"--revision and --version cannot be used with a local path"* ]]
  run "$KB" sign "$V"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--key is required"* ]]
}

@test "kb trust-root update installs a valid root, refuses a broken one, and show names the source" {
  run "$KB" trust-root show
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "Trust root: sigstore public-good trust root (compiled in)" ]
  [[ "$output" == *"transparency log https://rekor.sigstore.dev key c0d23d6a"* ]]
  "$KB" trust-root show --json > "$BATS_TEST_TMPDIR/show.json"
  # The JSON form lists what the root holds.
  python3 - "$BATS_TEST_TMPDIR/show.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["certificate_authorities"] and doc["ct_logs"], doc
PY
  echo '{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": []}' > "$BATS_TEST_TMPDIR/empty.json"
  run "$KB" trust-root update "$BATS_TEST_TMPDIR/empty.json"
  [ "$status" -eq 1 ]
  [[ "$output" == *"invalid sigstore trust root $BATS_TEST_TMPDIR/empty.json: no certificate authority"* ]]
  [ ! -e "$XDG_DATA_HOME/kb/trusted_root.json" ]
  KB_TRUST_ROOT="$BATS_TEST_TMPDIR/empty.json" run "$KB" verify "$V"
  [ "$status" -eq 1 ]
  [[ "$output" == *"no certificate authority"* ]]
}
