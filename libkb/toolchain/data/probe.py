# Facts about one Python interpreter, its torch and its tvm-ffi, printed as
# one JSON line prefixed with "KB-PROBE:" (torch may print to stdout while
# importing). Runs under any Python 3; must not fail when torch or tvm_ffi is
# missing or broken.
import json
import os
import platform
import site
import sys
import sysconfig


def torch_cmake_dir(torch, prefix_path):
    """The directory holding TorchConfig.cmake that really exists.

    Distribution builds may report a cmake_prefix_path that does not exist
    (Debian's torch keeps its CMake files under /usr/lib/<multiarch>/cmake).
    """
    candidates = [os.path.join(prefix_path, "Torch")]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    roots = [sys.prefix, "/usr", "/usr/local"]
    for root in roots:
        if multiarch:
            candidates.append(os.path.join(root, "lib", multiarch, "cmake", "Torch"))
        candidates.append(os.path.join(root, "lib", "cmake", "Torch"))
        candidates.append(os.path.join(root, "share", "cmake", "Torch"))
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, "TorchConfig.cmake")):
            return os.path.realpath(candidate)
    return None


def torch_facts(torch):
    facts = {"version": str(torch.__version__)}
    facts["package_dir"] = os.path.dirname(os.path.abspath(torch.__file__))
    version_file = os.path.join(facts["package_dir"], "version.py")
    facts["version_file"] = version_file if os.path.isfile(version_file) else None
    abi = getattr(torch, "compiled_with_cxx11_abi", None)
    facts["cxx11_abi"] = bool(abi()) if abi else bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", False))
    version = getattr(torch, "version", None)
    facts["cuda"] = getattr(version, "cuda", None)
    facts["hip"] = getattr(version, "hip", None)
    facts["xpu"] = getattr(version, "xpu", None)
    mps = False
    try:
        mps = bool(torch.backends.mps.is_available())
    except Exception:
        pass
    facts["mps_available"] = mps
    prefix_path = torch.utils.cmake_prefix_path
    facts["cmake_prefix_path"] = prefix_path
    facts["cmake_dir"] = torch_cmake_dir(torch, prefix_path)
    return facts


def tvm_ffi_facts(tvm_ffi):
    from tvm_ffi import libinfo

    package_dir = os.path.dirname(os.path.abspath(tvm_ffi.__file__))
    return {
        "version": str(tvm_ffi.__version__),
        "package_dir": package_dir,
        "include_dir": libinfo.find_include_path(),
        "dlpack_include_dir": libinfo.find_dlpack_include_path(),
        "cmake_dir": libinfo.find_cmake_path(),
        "library": libinfo.find_libtvm_ffi(),
    }


def main():
    paths = sysconfig.get_paths()
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    facts = {
        "probe": 1,
        "python_version": platform.python_version(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "machine": platform.machine(),
        "system": platform.system(),
        "include_dir": paths.get("include"),
        "soabi": sysconfig.get_config_var("SOABI") or "",
        "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX") or "",
        "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        # Directories whose contents decide what `import torch` finds.
        "site_dirs": [p for p in sys.path if p and os.path.isdir(p)],
        "user_site": user_site,
    }
    try:
        import torch
    except BaseException as e:  # ImportError, or a broken install raising anything
        facts["torch_error"] = "%s: %s" % (type(e).__name__, e)
    else:
        try:
            facts["torch"] = torch_facts(torch)
        except BaseException as e:
            facts["torch_error"] = "torch imported but could not be inspected: %s: %s" % (type(e).__name__, e)
    try:
        import tvm_ffi
    except BaseException as e:
        facts["tvm_ffi_error"] = "%s: %s" % (type(e).__name__, e)
    else:
        try:
            facts["tvm_ffi"] = tvm_ffi_facts(tvm_ffi)
        except BaseException as e:
            facts["tvm_ffi_error"] = "tvm_ffi imported but could not be inspected: %s: %s" % (type(e).__name__, e)
    sys.stdout.write("\nKB-PROBE:" + json.dumps(facts) + "\n")
    sys.stdout.flush()


main()
