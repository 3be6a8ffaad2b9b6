"""kernels.Metadata: reading metadata.json through the C++ core (spec 5.5, 12)."""
import json

import pytest

from kernels import Metadata
from kernels._core import Backend, DigestAlgorithm, KernelName

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def metadata_json(**extra):
    data = {
        "name": "my-kernel",
        "id": "_my_kernel_cuda_abc1234",
        "version": 2,
        "license": "MIT",
        "python-depends": ["einops"],
        "backend": {"type": "cuda", "archs": ["8.0", "9.0+PTX"]},
    }
    data.update(extra)
    return data


def write(tmp_path, data):
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_properties(tmp_path):
    md = Metadata.read_from_file(
        write(
            tmp_path,
            metadata_json(
                upstream="git@github.com:org/repo.git",
                source="https://github.com/org/src",
                **{
                    "kernel-depends": [
                        {"repo-id": "org/dep", "version": 1},
                        {"repo-id": "org/other", "revision": "main"},
                    ],
                    "digest": {"algorithm": "sha256", "files": {"__init__.py": "abc="}},
                    "provenance": {
                        "kernel-builder": {"version": "kb 0.1.0", "sha": COMMIT.upper(), "dirty": False},
                        "kernel": {"commit": COMMIT, "dirty": True},
                    },
                },
            ),
        )
    )
    assert md.id == "_my_kernel_cuda_abc1234"
    assert str(md.name) == "my-kernel" and md.name.python_name == "my_kernel"
    assert md.name == KernelName("my-kernel") and repr(md.name) == "KernelName('my-kernel')"
    assert md.version == 2 and md.license == "MIT"
    # SCP-style URLs come back normalised, as in the existing binding.
    assert md.upstream == "ssh://git@github.com/org/repo.git"
    assert md.source == "https://github.com/org/src"
    assert md.python_depends == ["einops"]
    assert [(d.repo_id, d.version, d.revision) for d in md.kernel_depends] == [
        ("org/dep", 1, None),
        ("org/other", None, "main"),
    ]
    assert md.backend.backend_type == Backend.CUDA and md.backend.archs == ["8.0", "9.0+PTX"]
    assert str(Backend.CUDA) == "cuda" and repr(Backend.ROCm) == "Backend.ROCm"
    assert Backend.from_str("ROCM") == Backend.ROCm
    assert md.digest.algorithm == DigestAlgorithm.SHA256 and str(md.digest.algorithm) == "sha256"
    assert md.digest.files == {"__init__.py": "abc="}
    assert md.provenance.kernel_builder.version == "kb 0.1.0"
    assert md.provenance.kernel_builder.git.commit == COMMIT  # `sha` alias, lowercased
    assert md.provenance.kernel.dirty and md.provenance.dirty


def test_optional_keys_are_none(tmp_path):
    md = Metadata.read_from_file(write(tmp_path, metadata_json()))
    assert md.upstream is None and md.source is None and md.digest is None and md.provenance is None
    assert md.kernel_depends == []


def test_immutable(tmp_path):
    md = Metadata.read_from_file(write(tmp_path, metadata_json()))
    with pytest.raises(AttributeError):
        md.id = "other"
    with pytest.raises(AttributeError):
        md.extra = 1


def test_missing_file_is_a_plain_os_error(tmp_path):
    path = tmp_path / "missing" / "metadata.json"
    with pytest.raises(OSError) as info:
        Metadata.read_from_file(path)
    assert type(info.value) is OSError
    assert str(info.value) == f"Failed to open `{path}`: No such file or directory"


def test_invalid_content_is_a_value_error(tmp_path):
    path = write(tmp_path, "{not json")
    with pytest.raises(ValueError, match=r"^Cannot parse metadata from `.*metadata.json`: invalid JSON"):
        Metadata.read_from_file(path)
    path = write(tmp_path, metadata_json(provenance=42))
    with pytest.raises(ValueError, match=r"`provenance`: expected an object"):
        Metadata.read_from_file(path)
    path = write(tmp_path, metadata_json(name="Bad_Name"))
    with pytest.raises(ValueError, match="`name`"):
        Metadata.read_from_file(path)


def test_from_bytes():
    md = Metadata.from_bytes(json.dumps(metadata_json()).encode())
    assert md.id == "_my_kernel_cuda_abc1234"
    with pytest.raises(ValueError, match=r"^Cannot parse metadata: "):
        Metadata.from_bytes(b"[]")
