"""Build of the kernels distribution: the pure-Python package plus
kernels._core, compiled by the repository's CMake project (target
kernels_core) for the interpreter that runs this build, then copied into the
package. The version is `<API level>+kb.<kb version>` (KB_KERNELS_API_VERSION
and project(kb VERSION ...) in CMakeLists.txt), as kernels._core reports it."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

# pip builds local directories in place, so the repository is the parent of
# python/; KB_SOURCE_DIR names it when building from a copy.
SOURCE_DIR = Path(os.environ.get("KB_SOURCE_DIR", Path(__file__).resolve().parent.parent))


def distribution_version() -> str:
    cmake = SOURCE_DIR / "CMakeLists.txt"
    text = cmake.read_text() if cmake.is_file() else ""
    kb = re.search(r"project\(kb VERSION ([0-9.]+)", text)
    api = re.search(r"set\(KB_KERNELS_API_VERSION ([0-9.]+)\)", text)
    if not kb or not api:
        sys.exit(f"kernels: {SOURCE_DIR} is not the kb repository (set KB_SOURCE_DIR to it)")
    return f"{api.group(1)}+kb.{kb.group(1)}"


class CMakeBuild(build_ext):
    """Builds kernels._core with CMake instead of compiling sources itself."""

    def build_extension(self, ext):
        # KB_CMAKE_BUILD_DIR keeps the CMake build between installs (rebuilds
        # are incremental); by default it lives in setuptools' build_temp.
        build_dir = Path(os.environ.get("KB_CMAKE_BUILD_DIR") or Path(self.build_temp).resolve() / "cmake")
        configure = [
            "cmake",
            "-S", str(SOURCE_DIR),
            "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DKB_BUILD_TESTS=OFF",
            f"-DPython3_EXECUTABLE={sys.executable}",
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        subprocess.run(configure, check=True)
        subprocess.run(
            ["cmake", "--build", str(build_dir), "--target", "kernels_core", "-j", str(os.cpu_count() or 1)],
            check=True,
        )
        (built,) = (build_dir / "python" / "kernels").glob("_core*.so")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)


setup(
    version=distribution_version(),
    packages=find_packages(include=["kernels", "kernels.*"]),
    ext_modules=[Extension("kernels._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
)
