#!/usr/bin/env bash
# Runs one libFuzzer target of the fuzz tree (KB_FUZZ_DIR, set by ctest).
#   run-target.sh NAME SECONDS      fuzz for SECONDS from the seeds and the
#                                   target's corpus (kept in KB_FUZZ_DIR/corpus/NAME)
#   run-target.sh --regression NAME run every input under tests/fuzz/NAME once
# A finding fails the run; its input is kept under KB_FUZZ_DIR/findings/. The
# last line says what the run did:
#   fuzz/NAME: 123456 execs in 20 s, 812 edges, 1703 features, corpus 311, 0 findings
set -euo pipefail

regression=0
if [[ ${1:-} == --regression ]]; then regression=1; shift; fi
name=${1:?usage: run-target.sh [--regression] NAME [SECONDS]}
seconds=${2:-20}
dir=${KB_FUZZ_DIR:?set KB_FUZZ_DIR to the fuzz directory of the fuzz build tree}
binary=$dir/fuzz-$name
inputs=${KB_FUZZ_INPUTS:-}
[[ -x $binary ]] || { echo "run-target.sh: no fuzz target $binary (build kb_fuzz_targets)" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:handle_abort=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/kb-fuzz-$name.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export TMPDIR=$scratch

if (( regression )); then
  files=()
  if [[ -n $inputs && -d $inputs ]]; then
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$inputs" -type f -print0 | sort -z)
  fi
  if (( ${#files[@]} == 0 )); then echo "fuzz-regression/$name: no committed inputs"; exit 0; fi
  "$binary" -rss_limit_mb=4096 -timeout=30 "${files[@]}" >"$scratch/log" 2>&1 || {
    cat "$scratch/log"; echo "fuzz-regression/$name: an input under $inputs fails" >&2; exit 1; }
  echo "fuzz-regression/$name: ${#files[@]} inputs pass"
  exit 0
fi

corpus=$dir/corpus/$name
findings=$dir/findings/$name
seeds=$scratch/seeds
mkdir -p "$corpus" "$findings" "$seeds"
# Seeds: the repository's files of this kind (listed at configure time) and
# the committed inputs, copied so the fuzzer never writes into the sources.
n=0
if [[ -f $dir/$name.seeds ]]; then
  while IFS= read -r f; do
    [[ -n $f && -f $f ]] || continue
    n=$((n + 1)); cp "$f" "$seeds/seed-$n"
  done <"$dir/$name.seeds"
fi
if [[ -n $inputs && -d $inputs ]]; then
  while IFS= read -r -d '' f; do n=$((n + 1)); cp "$f" "$seeds/seed-$n"; done < <(find "$inputs" -type f -print0)
fi

before=$(find "$findings" -type f | wc -l)
status=0
"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$findings/" "$corpus" "$seeds" >"$scratch/log" 2>&1 || status=$?
stats=$(grep -E '^#[0-9]+' "$scratch/log" | tail -1 || true)
edges=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$stats")
features=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$stats")
execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$scratch/log" | tail -1)
entries=$(find "$corpus" -type f | wc -l)
found=$(( $(find "$findings" -type f | wc -l) - before ))
summary="fuzz/$name: ${execs:-0} execs in $seconds s, ${edges:-0} edges, ${features:-0} features, corpus $entries, $found findings"
mkdir -p "$dir/reports"
echo "$summary" >"$dir/reports/$name.txt"
if (( status != 0 )); then
  tail -60 "$scratch/log"
  echo "$summary" >&2
  echo "fuzz/$name: the input is kept under $findings; once fixed, commit it to tests/fuzz/$name/" >&2
  exit 1
fi
echo "$summary"
