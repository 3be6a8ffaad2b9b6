"""An independent manylinux_2_28 judge for built kernels: reads a shared
object with binutils' readelf (never kb's checker) and decides whether it
loads on any manylinux_2_28 system that has torch installed.

A shared object is portable when
- every symbol version it requires from the system's C and C++ runtimes is
  one the manylinux_2_28 baseline (AlmaLinux 8: glibc 2.28, GCC 8's
  libstdc++) provides: GLIBC <= 2.28, GLIBCXX <= 3.4.24, CXXABI <= 1.3.11
  (or the two non-numeric CXXABI_FLOAT128 / CXXABI_TM_1), GCC <= 7.0.0;
  versions of other libraries are left to the rule below;
- every library it needs (DT_NEEDED) is either one the manylinux_2_28 policy
  lets a wheel take from the system (SYSTEM_LIBRARIES, plus the dynamic
  loader) or one that the torch installation the kernel is loaded into
  provides (TORCH_LIBRARY_PATTERNS): torch's own libraries, the CUDA
  libraries torch depends on, and the OpenMP runtime torch links.

Usage: `judge(path)` -> Verdict; `verdict.problems` lists each reason in
words, `verdict.portable` is True when there is none."""
import fnmatch
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# The newest version of each system runtime's symbol versions that the
# manylinux_2_28 policy allows; None: only the listed non-numeric names.
MAX_VERSIONS = {
    "GLIBC": (2, 28),
    "GLIBCXX": (3, 4, 24),
    "CXXABI": (1, 3, 11),
    "GCC": (7, 0, 0),
}
# Non-numeric versions the policy lists next to the numeric ones.
EXTRA_ALLOWED_VERSIONS = {"CXXABI_FLOAT128", "CXXABI_TM_1"}

# The manylinux_2_28 x86_64 library whitelist (PEP 600 policy, as auditwheel
# ships it): libraries every manylinux_2_28 system has.
SYSTEM_LIBRARIES = frozenset({
    "libc.so.6", "libm.so.6", "libmvec.so.1", "libdl.so.2", "librt.so.1", "libpthread.so.0",
    "libresolv.so.2", "libnsl.so.1", "libutil.so.1", "libanl.so.1",
    "libstdc++.so.6", "libgcc_s.so.1", "libatomic.so.1",
    "libz.so.1", "libexpat.so.1",
    "libX11.so.6", "libXext.so.6", "libXrender.so.1", "libICE.so.6", "libSM.so.6", "libGL.so.1",
    "libglib-2.0.so.0", "libgobject-2.0.so.0", "libgthread-2.0.so.0",
})
# The dynamic loader: present wherever anything runs (auditwheel treats it
# apart from the whitelist).
LOADER = "ld-linux-x86-64.so.2"

# Libraries a kernel may need because loading torch loads them first; the
# kernel is never loaded without torch. Patterns over sonames.
TORCH_LIBRARY_PATTERNS = (
    "libc10.so*",  # torch's core (Debian: libc10.so.1.13; wheels: libc10.so)
    "libc10_cuda.so*",
    "libc10_hip.so*",
    "libc10_xpu.so*",
    "libtorch.so*",
    "libtorch_cpu.so*",
    "libtorch_cuda.so*",
    "libtorch_hip.so*",
    "libtorch_xpu.so*",
    # CUDA libraries torch's CUDA builds depend on (the nvidia-* wheels torch
    # requires, loaded before any kernel). Not libcuda.so.1: the driver comes
    # from the machine, and torch only opens it at run time.
    "libcudart.so.*",
    "libcublas.so.*",
    "libcublasLt.so.*",
    "libcusparse.so.*",
    "libcusolver.so.*",
    "libcufft.so.*",
    "libcurand.so.*",
    "libcudnn.so.*",
    "libnccl.so.*",
    "libnvrtc.so.*",
    "libnvJitLink.so.*",
    "libcupti.so.*",
    "libamdhip64.so*",  # the HIP runtime of ROCm builds
    "libgomp.so.1",  # the OpenMP runtime libtorch_cpu links (wheels ship a copy in torch/lib)
)

_VERSION_RE = re.compile(r"^([A-Za-z_]+?)_(\d+(?:\.\d+)*)$")


@dataclass
class Verdict:
    path: Path
    needed: list
    # Required symbol version -> undefined symbols that require it.
    versions: dict
    # Library -> the symbol versions required from it (readelf -V).
    version_needs: dict
    # Undefined symbols with no version (bound to whichever library defines them).
    unversioned: list
    problems: list = field(default_factory=list)

    @property
    def portable(self) -> bool:
        return not self.problems

    def family_max(self, family: str):
        """The highest required version of a family (GLIBC, GLIBCXX, ...) as a tuple, or None."""
        found = [parse_version(v)[1] for v in self.versions if parse_version(v) and parse_version(v)[0] == family]
        return max(found) if found else None


def parse_version(name: str):
    """'GLIBC_2.28' -> ('GLIBC', (2, 28)); None for a non-numeric version."""
    match = _VERSION_RE.match(name)
    if not match:
        return None
    return match.group(1), tuple(int(part) for part in match.group(2).split("."))


def readelf(*args: str) -> str:
    result = subprocess.run(["readelf", "-W", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"readelf {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def needed_libraries(path: Path) -> list:
    """DT_NEEDED entries, in order (readelf -d)."""
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf("-d", str(path)))


def undefined_symbols(path: Path):
    """({version: [symbol, ...]}, [unversioned symbol, ...]) of the undefined
    dynamic symbols (readelf --dyn-syms). Lines look like
    `  46: 0000000000000000     0 OBJECT  GLOBAL DEFAULT  UND __libc_single_threaded@GLIBC_2.32 (10)`."""
    versions, unversioned = {}, []
    for line in readelf("--dyn-syms", str(path)).splitlines():
        fields = line.split()
        # Num: Value Size Type Bind Vis Ndx Name [(version index)]
        if len(fields) < 8 or not fields[0].endswith(":") or fields[6] != "UND":
            continue
        name = fields[7]
        if not name:
            continue
        symbol, at, version = name.partition("@")
        version = version.lstrip("@")
        if at and version:
            versions.setdefault(version, []).append(symbol)
        elif symbol:
            unversioned.append(symbol)
    return versions, unversioned


def version_needs(path: Path) -> dict:
    """{library: {version, ...}} from the version needs section (readelf -V):
        000000: Version: 1  File: libc.so.6  Cnt: 4
        0x0010:   Name: GLIBC_2.32  Flags: none  Version: 10"""
    needs, current = {}, None
    for line in readelf("-V", str(path)).splitlines():
        file_match = re.search(r"\bFile: (\S+)\s+Cnt:", line)
        if file_match:
            current = needs.setdefault(file_match.group(1), set())
            continue
        name_match = re.search(r"\bName: (\S+)\s+Flags:", line)
        if name_match and current is not None:
            current.add(name_match.group(1))
    return needs


def library_allowed(soname: str) -> bool:
    return (soname in SYSTEM_LIBRARIES or soname == LOADER
            or any(fnmatch.fnmatchcase(soname, pattern) for pattern in TORCH_LIBRARY_PATTERNS))


def judge(path) -> Verdict:
    path = Path(path)
    versions, unversioned = undefined_symbols(path)
    verdict = Verdict(path=path, needed=needed_libraries(path), versions=versions,
                      version_needs=version_needs(path), unversioned=unversioned)
    for version in sorted(versions):
        parsed = parse_version(version)
        family = parsed[0] if parsed else None
        if family in MAX_VERSIONS:
            if parsed[1] > MAX_VERSIONS[family]:
                limit = ".".join(map(str, MAX_VERSIONS[family]))
                symbols = ", ".join(sorted(set(versions[version]))[:5])
                verdict.problems.append(f"{version} is newer than {family}_{limit} (needed by {symbols})")
        elif version.split("_")[0] in MAX_VERSIONS and version not in EXTRA_ALLOWED_VERSIONS:
            verdict.problems.append(f"{version} is not a manylinux_2_28 version")
    for soname in verdict.needed:
        if not library_allowed(soname):
            verdict.problems.append(f"needs {soname}, neither a manylinux_2_28 system library nor one torch provides")
    return verdict


def shared_objects(variant_dir) -> list:
    """The shared objects of a built variant directory."""
    return sorted(p for p in Path(variant_dir).rglob("*.so") if p.is_file())


def versions_by_library(verdict: Verdict) -> dict:
    """{library: {version, ...}} as auditwheel counts them: without the
    dynamic loader's (__tls_get_addr@GLIBC_2.3 and the like)."""
    return {library: set(versions) for library, versions in verdict.version_needs.items() if library != LOADER}
