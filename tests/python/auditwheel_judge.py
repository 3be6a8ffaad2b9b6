"""A second opinion on a built variant's portability from PyPI's auditwheel,
the tool that decides which manylinux tag a wheel may carry.

A variant directory is packed into a minimal valid wheel (`pack_wheel`:
<package>/..., <name>-<version>.dist-info/{WHEEL,METADATA,RECORD}, tag
cp39-abi3-linux_x86_64, Root-Is-Purelib: false) and `auditwheel show --json`
reads it (`show`). Its `sym_tag` is the best manylinux tag the symbol
versions the wheel's shared objects require are consistent with
(`symbol_policy_allows`).

auditwheel runs with an empty library search path: torch's libraries then
stay unresolved and only the kernel's own references are judged. A kernel is
always loaded into an installed torch, which brings its libraries (and
answers for their portability itself); resolving them from this machine
(Debian's torch lives in /usr/lib with everything it links) would judge
Debian's libraries instead of the kernel.

auditwheel is a test-only tool from the test tools environment
(scripts/setup-test-tools.sh; KB_TEST_TOOLS_VENV), or KB_AUDITWHEEL."""
import base64
import hashlib
import json
import os
import re
import subprocess
import tempfile
import zipfile
from pathlib import Path

WHEEL_TAG = "cp39-abi3-linux_x86_64"
# Legacy aliases auditwheel may print for PEP 600 tags.
_LEGACY_TAGS = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def auditwheel_path() -> Path:
    """Where the auditwheel command is expected (it may be absent)."""
    if os.environ.get("KB_AUDITWHEEL"):
        return Path(os.environ["KB_AUDITWHEEL"])
    venv = os.environ.get("KB_TEST_TOOLS_VENV") or Path.home() / ".cache" / "kb" / "test-tools-venv"
    return Path(venv) / "bin" / "auditwheel"


def available() -> bool:
    path = auditwheel_path()
    if not path.is_file():
        return False
    result = subprocess.run([str(path), "--version"], env=_clean_env(), capture_output=True, text=True, timeout=120)
    return result.returncode == 0


def _clean_env() -> dict:
    # This repository's build/python must not shadow the tool's own packages.
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def pack_wheel(variant_dir, dest_dir, *, name: str = None, version: str = "0.1", tag: str = WHEEL_TAG) -> Path:
    """Packs every file of `variant_dir` (but __pycache__) into package
    `name` (default: the kernel name in metadata.json, as an identifier) of
    a wheel written to `dest_dir`; returns the wheel's path."""
    variant_dir = Path(variant_dir)
    if name is None:
        name = json.loads((variant_dir / "metadata.json").read_text())["name"]
    distribution = re.sub(r"[^A-Za-z0-9]+", "_", name)
    files = {}
    for path in sorted(variant_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"{distribution}/{path.relative_to(variant_dir).as_posix()}"] = path.read_bytes()
    dist_info = f"{distribution}-{version}.dist-info"
    files[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: kb-tests\nRoot-Is-Purelib: false\nTag: {tag}\n").encode()
    files[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n".encode()
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()

    wheel = Path(dest_dir) / f"{distribution}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def show(wheel, ldpaths=None) -> dict:
    """`auditwheel show --json` of `wheel`, parsed. `ldpaths`: directories
    to resolve needed libraries in (default: none, see the module doc)."""
    with tempfile.TemporaryDirectory(prefix="kb-auditwheel-") as empty:
        search = ":".join(str(p) for p in ldpaths) if ldpaths else empty
        env = _clean_env()
        env.pop("AUDITWHEEL_LD_LIBRARY_PATH", None)
        result = subprocess.run([str(auditwheel_path()), "show", "--json", "--ldpaths", search, str(wheel)],
                                env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"auditwheel show {wheel} failed:\n{result.stdout}\n{result.stderr}"
    report = json.loads(result.stdout)
    assert report.get("version") == 1, f"unknown auditwheel report format: {result.stdout[:500]}"
    return report


def glibc_of_tag(tag: str):
    """'manylinux_2_34_x86_64' -> (2, 34); legacy names by their PEP 600
    equivalent; None for a tag that is no manylinux tag (linux_x86_64)."""
    match = re.match(r"manylinux_(\d+)_(\d+)_", tag)
    if match:
        return int(match.group(1)), int(match.group(2))
    for legacy, glibc in _LEGACY_TAGS.items():
        if tag.startswith(legacy + "_"):
            return glibc
    return None


def symbol_policy_allows(report: dict, policy: str = "manylinux_2_28") -> bool:
    """Whether the symbol versions auditwheel found fit `policy`: its
    sym_tag is that policy or an older one."""
    wanted = glibc_of_tag(policy + "_")
    found = glibc_of_tag(report["sym_tag"])
    return found is not None and found <= wanted


def required_versions(report: dict) -> dict:
    """{library: {version, ...}}: the symbol versions auditwheel saw
    required from each library (the dynamic loader's aside)."""
    return {library: set(versions) for library, versions in report["versioned_symbols"].items()}
