"""The running process as variant resolution sees it.

Python gathers the facts (platform, torch, tvm-ffi, free-threading);
kernels._core turns them into an Environment and applies the detection and
override rules, so the Python and C++ loaders decide alike.
"""
from __future__ import annotations

import functools
import logging
import platform
import sys
import warnings

from . import _core
from .compat import has_mlx, has_torch, has_tvm_ffi


@functools.lru_cache(maxsize=None)
def environment(backend: str | None = None) -> _core.Environment:
    """The environment for resolving variants, with `backend` overriding the
    detected backend ("cpu" or the detected backend's name, else ValueError)."""
    return _core.make_environment(**_facts(), backend=backend)


def detected_backend() -> str:
    """The backend name torch was built for ("cpu", "cuda", ...), ignoring
    overrides: python-depends are checked against it."""
    return environment(None).backend_name


def device_arch() -> tuple[tuple[int, int] | None, str | None]:
    """(CUDA capability, ROCm gcnArchName) of the current device, each None
    when torch is not built for that backend or sees no device. The core asks
    only when a build declares architectures: querying the device initialises
    CUDA. KB_TEST_DEVICE_CAPABILITY / KB_TEST_DEVICE_GCN_ARCH replace these
    facts in the core (tests only)."""
    if not has_torch:
        return None, None
    import torch

    if (torch.version.cuda is None and getattr(torch.version, "hip", None) is None) or not torch.cuda.is_available():
        return None, None
    if torch.version.cuda is not None:
        major, minor = torch.cuda.get_device_capability()
        return (major, minor), None
    return None, torch.cuda.get_device_properties(torch.cuda.current_device()).gcnArchName


@functools.lru_cache(maxsize=None)
def _facts() -> dict:
    # Facts do not change while the process runs; gathering them imports torch.
    torch = _torch_facts()
    cuda_runtime, cuda_device_available = (None, None) if torch is not None else _cuda_runtime()
    return dict(
        machine=platform.machine(),
        system=platform.system(),
        torch=torch,
        cuda_runtime=cuda_runtime,
        cuda_device_available=cuda_device_available,
        tvm_ffi=_tvm_ffi_version(),
        macos=platform.mac_ver()[0] if platform.system() == "Darwin" else None,
        python_version=platform.python_version(),
        gil_disabled=_gil_disabled(),
        mlx=has_mlx,
    )


def _gil_disabled() -> bool:
    # Free-threaded builds exist from 3.13 on; sysconfig takes ~1 ms to load.
    if sys.version_info < (3, 13):
        return False
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _torch_facts() -> _core.TorchFacts | None:
    if not has_torch:
        return None
    import torch

    version = torch.version
    mps = getattr(torch.backends, "mps", None)
    return _core.TorchFacts(
        version=torch.__version__,
        cxx11_abi=bool(torch.compiled_with_cxx11_abi()),
        cuda=version.cuda,
        hip=getattr(version, "hip", None),
        xpu=getattr(version, "xpu", None),
        mps=bool(mps is not None and mps.is_available()),
        tpu=hasattr(torch.backends, "tpu"),
        neuron=hasattr(torch, "neuron"),
        cann=_cann_version(torch),
        device_available=_accelerator_available(torch),
    )


def _accelerator_available(torch) -> bool | None:
    # A CUDA (or ROCm) build of torch without a usable device loads CPU
    # variants after the backend's own; asked only of such builds.
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
        return None
    return bool(torch.cuda.is_available())


def _cann_version(torch) -> str | None:
    # Ascend NPUs: torch_npu registers itself as the privateuse1 backend.
    get_name = getattr(torch._C, "_get_privateuse1_backend_name", None)
    if get_name is None or get_name() != "npu":
        return None
    from torch_npu.utils.collect_env import get_cann_version

    cann = get_cann_version()
    return f"{cann[0]}.{cann[2]}"


def _cuda_runtime() -> tuple[str | None, bool | None]:
    """(CUDA runtime version, whether it sees a device) from libcudart, for
    processes without torch; (None, None) without a usable libcudart. Without
    a device (no GPU, no driver, CUDA_VISIBLE_DEVICES="") the process
    resolves for the CPU unless a backend is named."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("cudart")
    if name is None:
        return None, None
    try:
        cudart = ctypes.CDLL(name)
    except OSError:
        return None, None
    version = ctypes.c_int()
    if cudart.cudaRuntimeGetVersion(ctypes.byref(version)) != 0:
        warnings.warn("System has CUDA runtime library, but cannot get runtime version.")
        return None, None
    count = ctypes.c_int()
    device_available = cudart.cudaGetDeviceCount(ctypes.byref(count)) == 0 and count.value > 0
    return f"{version.value // 1000}.{(version.value % 1000) // 10}", device_available


def _tvm_ffi_version() -> str | None:
    if not has_tvm_ffi:
        return None
    import tvm_ffi

    return tvm_ffi.__version__


def warn_all(messages) -> None:
    """Emits the warnings a resolution produced (free-threaded Python)."""
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=3)


def emit_warnings(found, stacklevel: int = 3) -> None:
    """Shows what the C++ loader reported, as (channel, message) pairs: user
    warnings at the caller of the public loader (`stacklevel` counts from
    here), version notices through the versions logger and log notices
    (digest checks) through the kernels logger, as the existing package
    does."""
    for channel, message in found:
        if channel == "version":
            logging.getLogger("kernels._versions").warning(message)
        elif channel == "log":
            logging.getLogger("kernels").warning(message)
        else:
            warnings.warn(message, UserWarning, stacklevel=stacklevel)


def locate_reporting(locate, *, helper_frames: int = 0, **kwargs):
    """Calls a core locate function (`_core.locate`, `locate_local`,
    `locate_locked`) from a public loader and shows what it warned about at
    that loader's caller, also when it fails (the exception's `kb_warnings`).
    `helper_frames`: private functions between the public loader and here."""
    stacklevel = 4 + helper_frames
    try:
        located = locate(**kwargs)
    except Exception as e:
        emit_warnings(getattr(e, "kb_warnings", ()), stacklevel=stacklevel)
        raise
    emit_warnings(located.warnings, stacklevel=stacklevel)
    return located
