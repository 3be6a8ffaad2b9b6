"""Resolution decisions as the public API returns them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import _core
from ._core import Variant


@dataclass(unsafe_hash=True)
class VariantAccepted:
    """A variant that can load here; `variant.variant_str` is its name."""

    variant: Variant


@dataclass(unsafe_hash=True)
class VariantRejected:
    """A variant that cannot load here, and the first check it failed."""

    variant: Variant
    reason: str


def decisions(resolution: _core.Resolution) -> list[VariantAccepted | VariantRejected]:
    """The resolution trace, accepted first, preferred first."""
    return [
        VariantAccepted(d.variant) if d.accepted else VariantRejected(d.variant, d.reason)
        for d in resolution.trace
    ]


def local_variants(path: Path) -> list[Variant]:
    """The variants of a local kernel: those of a repository's build/, of a
    build/ directory, or a single variant directory itself."""
    # The same directories the loader looks in (a repository root's build/).
    for base in _core.variant_bases(path):
        found = _core.list_variant_dirs(base)
        if found:
            return found
    if not (path / "metadata.json").is_file():
        return []
    try:
        return [Variant.parse(path.name)]
    except ValueError:
        return []
