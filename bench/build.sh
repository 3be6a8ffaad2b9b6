#!/usr/bin/env bash
# Times, in one run on this machine:
#   1. `kb build` of examples/relu (CPU variant, cold: no CMake cache, no ccache)
#   2. a raw `cmake` configure + build of the same generated project with the
#      same arguments (the baseline kb's overhead is measured against)
#   3. a no-op second `kb build`
# and prints the ratios. Usage: bench/build.sh [runs]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
KB=$PWD/build/bin/kb
[ -x "$KB" ] || { echo "build kb first: make build" >&2; exit 1; }
PY=$(scripts/find-torch-python.sh)
export CCACHE_DISABLE=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r examples/relu "$work/relu"
rm -rf "$work/relu/build"
# kb's generated project and CMake trees for this copy.
export KB_SCRATCH_DIR="$work/scratch"
scratch=$("$KB" scratch-dir "$work/relu")

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
elapsed() { calc "$2 - $1"; }

kb_total=0 raw_total=0 noop_total=0
for i in $(seq "$runs"); do
  rm -rf "$work/relu/build" "$scratch" "$work/raw"
  t0=$(now)
  "$KB" build "$work/relu" --backend cpu --python "$PY" >/dev/null 2>"$work/kb.log"
  t1=$(now)
  variant=$(ls "$work/relu/build")
  mapfile -t args < "$scratch/cmake/$variant/kb-configure-args"
  # Same configure arguments, fresh build tree, no kb around it.
  for j in "${!args[@]}"; do
    [ "${args[$j]}" = "$scratch/cmake/$variant" ] && args[$j]="$work/raw"
  done
  t2=$(now)
  "${args[@]}" >/dev/null
  cmake --build "$work/raw" >/dev/null
  cmake --install "$work/raw" --prefix "$work/raw/install" >/dev/null
  t3=$(now)
  "$KB" build "$work/relu" --backend cpu --python "$PY" >/dev/null 2>&1
  t4=$(now)
  kb=$(elapsed "$t0" "$t1"); raw=$(elapsed "$t2" "$t3"); noop=$(elapsed "$t3" "$t4")
  printf 'run %d: kb build %.2f s, raw cmake %.2f s, no-op kb build %.3f s\n' "$i" "$kb" "$raw" "$noop"
  kb_total=$(calc "$kb_total + $kb")
  raw_total=$(calc "$raw_total + $raw")
  noop_total=$(calc "$noop_total + $noop")
done
kb_mean=$(calc "$kb_total / $runs")
raw_mean=$(calc "$raw_total / $runs")
noop_mean=$(calc "$noop_total / $runs")
printf '\nvariant: %s\n' "$variant"
printf 'mean kb build:       %.2f s\n' "$kb_mean"
printf 'mean raw cmake:      %.2f s\n' "$raw_mean"
printf 'kb / raw ratio:      %.3f  (overhead %.1f%%)\n' "$(calc "$kb_mean / $raw_mean")" \
  "$(calc "($kb_mean / $raw_mean - 1) * 100")"
printf 'mean no-op kb build: %.3f s\n' "$noop_mean"
