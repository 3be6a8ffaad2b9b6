"""Optional dependencies, looked up once at import without importing them
(torch is imported lazily, only when a kernel is resolved or loaded)."""
import importlib.util

has_torch = importlib.util.find_spec("torch") is not None
has_tvm_ffi = importlib.util.find_spec("tvm_ffi") is not None
has_mlx = importlib.util.find_spec("mlx") is not None
