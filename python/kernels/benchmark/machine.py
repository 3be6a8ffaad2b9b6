"""What a benchmark ran on: the `machineInfo` of the payload and the block the
runner prints.

The torch facts are gathered in one place (`TorchFacts.probe`) and mapped to
the machine description by a pure function, so every backend's description
is testable on a CPU-only machine by passing made-up facts."""
from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TorchFacts:
    """What torch says about the accelerator it sees."""

    version: str
    cuda_available: bool = False
    cuda_version: str | None = None  # torch.version.cuda
    hip_version: str | None = None  # torch.version.hip: a ROCm build
    device_name: str | None = None  # device 0 of the available accelerator
    capability: tuple[int, int] | None = None  # CUDA compute capability / ROCm major.minor
    driver_version: str | None = None
    xpu_available: bool = False
    mps_available: bool = False
    npu_available: bool = False

    @classmethod
    def probe(cls) -> "TorchFacts | None":
        """The facts of the installed torch, None when torch is missing."""
        try:
            import torch
        except ImportError:
            return None
        cuda = torch.cuda.is_available()
        facts = dict(
            version=torch.__version__,
            cuda_available=cuda,
            cuda_version=getattr(torch.version, "cuda", None),
            hip_version=getattr(torch.version, "hip", None),
        )
        if cuda:
            facts.update(
                device_name=torch.cuda.get_device_name(0),
                capability=tuple(torch.cuda.get_device_capability(0)),
                driver_version=_cuda_driver_version(torch),
            )
            return cls(**facts)
        xpu = getattr(torch, "xpu", None)
        if xpu is not None and xpu.is_available():
            return cls(**facts, xpu_available=True, device_name=xpu.get_device_name(0))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return cls(**facts, mps_available=True)
        npu = getattr(torch, "npu", None)
        if npu is not None and npu.is_available():
            return cls(**facts, npu_available=True)
        return cls(**facts)


def _cuda_driver_version(torch) -> str | None:
    """The driver's CUDA version (e.g. "12.4"); NVML's driver release when
    pynvml is installed (e.g. "550.54.15")."""
    try:
        import pynvml  # optional

        pynvml.nvmlInit()
        release = pynvml.nvmlSystemGetDriverVersion()
        return release.decode() if isinstance(release, bytes) else str(release)
    except Exception:
        pass
    getter = getattr(torch._C, "_cuda_getDriverVersion", None)
    if getter is None:
        return None
    try:
        number = int(getter())
    except Exception:
        return None
    return f"{number // 1000}.{number % 1000 // 10}" if number > 0 else None


@dataclass(frozen=True)
class MachineInfo:
    gpu: str
    backend: str
    pytorch_version: str
    os: str
    cpu: str
    cpu_cores: int | None = None
    gpu_cores: int | None = None
    gpu_capability: str | None = None
    driver_version: str | None = None

    def as_payload(self) -> dict:
        """The payload's machineInfo: exactly the keys of the schema."""
        out: dict = {
            "gpu": self.gpu,
            "backend": self.backend,
            "pytorchVersion": self.pytorch_version,
            "os": self.os,
            "cpu": self.cpu,
        }
        if self.gpu_cores is not None:
            out["gpuCores"] = self.gpu_cores
        return out

    def describe(self) -> list[str]:
        """The lines printed before a script's benchmarks."""
        gpu = self.gpu + (f" ({self.gpu_cores} cores)" if self.gpu_cores else "")
        cpu = self.cpu + (f" ({self.cpu_cores} cores)" if self.cpu_cores else "")
        lines = [f"  GPU      {gpu}", f"  CPU      {cpu}", f"  OS       {self.os}", f"  PyTorch  {self.pytorch_version}"]
        if self.backend not in ("N/A", "CPU"):
            extra = [self.backend]
            if self.gpu_capability:
                extra.append(f"capability {self.gpu_capability}")
            if self.driver_version:
                extra.append(f"driver {self.driver_version}")
            lines.append(f"  Backend  {', '.join(extra)}")
        return lines


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's marketing name: /proc/cpuinfo's "model name" (Linux x86),
    sysctl's brand string (macOS), else what platform knows."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            brand = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            ).stdout.strip()
            if brand:
                return brand
        except (OSError, subprocess.TimeoutExpired):
            pass
    return platform.processor() or platform.machine() or "Unknown"


def describe_machine(facts: TorchFacts | None, *, cpu: str | None = None, cores: int | None = None) -> MachineInfo:
    """The machine description for `facts` (None: no torch)."""
    system = f"{platform.system()} {platform.release()}"
    cpu = cpu if cpu is not None else cpu_model()
    cores = cores if cores is not None else os.cpu_count()
    if facts is None:
        return MachineInfo(gpu="N/A", backend="N/A", pytorch_version="N/A", os=system, cpu=cpu, cpu_cores=cores)
    gpu, backend, gpu_cores, capability, driver = "N/A", "CPU", None, None, None
    if facts.cuda_available:
        gpu = facts.device_name or "N/A"
        if facts.hip_version:
            backend = f"ROCm {facts.hip_version}"
        else:
            backend = f"CUDA {facts.cuda_version}" if facts.cuda_version else "CUDA"
        capability = f"{facts.capability[0]}.{facts.capability[1]}" if facts.capability else None
        driver = facts.driver_version
    elif facts.xpu_available:
        gpu, backend = facts.device_name or "Intel XPU", "XPU"
    elif facts.mps_available:
        gpu, backend = facts.device_name or "Apple MPS", "MPS"
    elif facts.npu_available:
        gpu, backend = facts.device_name or "N/A", "NPU"
    return MachineInfo(
        gpu=gpu,
        backend=backend,
        pytorch_version=facts.version,
        os=system,
        cpu=cpu,
        cpu_cores=cores,
        gpu_cores=gpu_cores,
        gpu_capability=capability,
        driver_version=driver,
    )


def collect_machine_info() -> MachineInfo:
    return describe_machine(TorchFacts.probe())
