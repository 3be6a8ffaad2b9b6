#!/usr/bin/env bash
# Collects into .devcarry/ (ignored through .git/info/exclude) what the GPU
# machine lacks for tests/gpu/run-on-device.sh: the kb tools of an existing
# build, libkb.a, every shared library they need beyond glibc/libstdc++/
# libgcc_s, and the third-party headers the Python core and the C++ runtime
# compile against (nlohmann/json; the rest of kb's dependencies are only
# linked). Binaries and libraries are stripped of debug info and given a
# RUNPATH ($ORIGIN/../lib for tools, $ORIGIN for libraries), so that the
# device needs no LD_LIBRARY_PATH (which would leak into nvcc, cmake and
# python).
#
#   tests/gpu/prepare-carry.sh [BUILD_DIR]     (default: build)
#
# Run it here, after a full `cmake --build build`, right before copying
# the checkout to the GPU machine: the copied libkb.a must match the copied sources. Needs
# patchelf (fetched with `apt-get download` into a temporary directory when
# it is not installed).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$REPO/build}" && pwd)
DEST=$REPO/.devcarry
TOOLS=(kb kb-genproject kb-compile kb-checkabi kb-metadata kb-upload kb-variants kb-card)
# Linked by the Python core and the C++ runtime (libkb's link interface).
LINK_LIBS=(libtomlplusplus.so.3 libcrypto.so.3 libcurl.so.4 libgit2.so.1.5 libLIEF.so.0)
# What every Linux image has: never carried.
SYSTEM_RE='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libutil|libstdc\+\+|libgcc_s)\.so'

die() { echo "prepare-carry: $*" >&2; exit 1; }

grep -qx '/.devcarry/' "$REPO/.git/info/exclude" 2>/dev/null ||
  echo '/.devcarry/' >>"$REPO/.git/info/exclude"
git -C "$REPO" check-ignore -q .devcarry/x || die ".devcarry/ is not ignored by git"

[ -f "$BUILD/libkb.a" ] || die "$BUILD/libkb.a missing: build kb first"
for t in "${TOOLS[@]}"; do [ -x "$BUILD/bin/$t" ] || die "$BUILD/bin/$t missing"; done

# The copied archive must not be older than the library sources copied with it.
stale=$(find "$REPO/libkb" "$REPO/python/src" "$REPO/runtime/src" "$REPO/tools" -type f -newer "$BUILD/libkb.a" | head -5)
[ -z "$stale" ] || echo "prepare-carry: WARNING: newer than $BUILD/libkb.a (rebuild first?):" $stale >&2

PATCHELF=$(command -v patchelf || true)
if [ -z "$PATCHELF" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download patchelf >/dev/null && dpkg -x patchelf_*.deb root) ||
    die "patchelf not found and apt-get download patchelf failed"
  PATCHELF=$tmp/root/usr/bin/patchelf
fi

rm -rf "$DEST"
mkdir -p "$DEST/bin" "$DEST/lib" "$DEST/include"

for t in "${TOOLS[@]}"; do
  strip --strip-debug -o "$DEST/bin/$t" "$BUILD/bin/$t"
  "$PATCHELF" --set-rpath '$ORIGIN/../lib' "$DEST/bin/$t"
done
strip --strip-debug -o "$DEST/lib/libkb.a" "$BUILD/libkb.a"

# Shared libraries: the closure of the tools and of the link libraries.
declare -A seen=()
queue=("${TOOLS[@]/#/$BUILD/bin/}")
cache=$(ldconfig -p)
for l in "${LINK_LIBS[@]}"; do
  p=$(awk -v n="$l" '$1 == n && /x86-64/ {print $NF; exit}' <<<"$cache")
  [ -n "$p" ] || die "$l not found by ldconfig"
  queue+=("$p")
done
for obj in "${queue[@]}"; do
  while read -r name path; do
    [[ $name =~ $SYSTEM_RE ]] && continue
    [ -n "${seen[$name]:-}" ] && continue
    [ -f "$path" ] || die "$obj: $name not found"
    seen[$name]=1
    cp -L "$path" "$DEST/lib/$name"
    chmod u+w "$DEST/lib/$name"
    strip --strip-debug "$DEST/lib/$name"
    "$PATCHELF" --set-rpath '$ORIGIN' "$DEST/lib/$name"
  done < <(ldd "$obj" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
done

# Headers the core and the runtime include from outside the repository.
cp -r /usr/include/nlohmann "$DEST/include/"

# Provenance, for the log on the device.
{
  echo "prepared: $(date -u +%FT%TZ) on $(. /etc/os-release && echo "$PRETTY_NAME"), $(ldd --version | head -1)"
  echo "build: $BUILD ($(stat -c %y "$BUILD/libkb.a"))"
  echo "commit: $(git -C "$REPO" rev-parse HEAD 2>/dev/null) $(git -C "$REPO" status --porcelain | grep -c . || true) changed paths"
  echo "libs: $(cd "$DEST/lib" && ls | tr '\n' ' ')"
} >"$DEST/PROVENANCE"

# Every carried object resolves its non-system libraries inside .devcarry/lib.
bad=0
for f in "$DEST"/bin/* "$DEST"/lib/*.so*; do
  while read -r name _ path _; do
    [[ $name =~ $SYSTEM_RE ]] && continue
    case $(realpath -m "$path") in "$DEST"/lib/*) ;; *) echo "prepare-carry: $f: $name -> $path" >&2; bad=1 ;; esac
  done < <(ldd "$f" | awk '$2 == "=>"')
done
[ $bad = 0 ] || die "some libraries resolve outside .devcarry/lib"

du -sh "$DEST" "$DEST"/bin "$DEST"/lib "$DEST"/include
echo "carry: .devcarry"
