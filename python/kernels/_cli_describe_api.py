"""`kernels describe-api`: a kernel's public functions and layers, read from
the symbols.json of the variant for this system (written by `kb build`),
without importing the kernel's code."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import _core
from ._cli_info import hub_revision_for, located_variant_name, print_source
from ._environment import detected_backend, environment
from .hf_hub import user_agent


def register(subparsers) -> None:
    parser = subparsers.add_parser("describe-api", help="List a kernel's public functions and layers")
    parser.add_argument("kernel", help="The kernel repo ID or a local kernel directory")
    selection = parser.add_mutually_exclusive_group()
    selection.add_argument("--revision", help="The kernel revision (branch, tag, or commit; Hub only)")
    selection.add_argument("--version", type=int, help="The kernel version (default: latest version; Hub only)")
    parser.add_argument("--json", action="store_true", help="Print the full symbol information as JSON")
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="Allow kernels from untrusted publishers (Hub only; disabled by default)",
    )
    parser.set_defaults(run=_describe_api)


def _describe_api(args: argparse.Namespace) -> int:
    try:
        info = describe_api(
            args.kernel, revision=args.revision, version=args.version, trust_remote_code=args.trust_remote_code
        )
    except (OSError, ValueError, RuntimeError, ImportError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        _print_human(info)
    return 0


def describe_api(
    kernel: str, *, revision: str | None = None, version: int | None = None, trust_remote_code: bool = False
) -> dict[str, Any]:
    """The symbols of the variant of `kernel` (a local directory or a hub repo
    id) for this system, with where they came from."""
    if revision is not None and version is not None:
        raise ValueError("Only one of `revision` or `version` can be specified")
    path = Path(kernel).expanduser()
    if path.is_dir():
        if revision is not None or version is not None:
            raise ValueError("`revision` and `version` cannot be used with a local path")
        located = _core.locate_local(path=path, env=environment(None), detected_backend=detected_backend())
        variant = located_variant_name(located)
        symbols_path = _symbols_path(located.variant_dir, location=str(path), variant=variant)
        source = {"path": str(path), "variant": variant}
    else:
        if path.exists() or path.is_absolute() or kernel.startswith(("./", "../", "~")):
            raise ValueError(f"Not a local kernel directory: {kernel}")
        offline = _core.offline_mode()
        agent = "" if offline else user_agent(None)
        if revision is None and version is None:
            versions = _core.hub_versions(kernel, offline, agent)
            if not versions:
                raise ValueError(f"No numbered versions found for {kernel}. Specify --revision explicitly.")
            version = max(versions)
        revision_label = hub_revision_for(revision, version)
        location = f"{kernel} (revision: {revision_label})"
        if version is not None:
            location = f"{kernel} (version: {version}, revision: {revision_label})"
        try:
            located = _core.locate(
                repo_id=kernel,
                revision=revision,
                version=version,
                env=environment(None),
                detected_backend=detected_backend(),
                trust_remote_code=trust_remote_code,
                local_files_only=offline,
                user_agent=agent,
            )
        except (OSError, ValueError, RuntimeError, ImportError) as error:
            raise ValueError(f"Cannot resolve {location}: {error}") from error
        variant = located_variant_name(located)
        symbols_path = _symbols_path(located.variant_dir, location=location, variant=variant)
        source = {"repo_id": kernel, "revision": revision_label, "variant": variant}
    return {**read_symbols(symbols_path), **source}


def _symbols_path(variant_dir: Path, *, location: str, variant: str) -> Path:
    path = Path(variant_dir) / "symbols.json"
    if path.is_file():
        return path
    raise ValueError(
        f"No symbols.json found in {location} (variant: {variant}). "
        "Rebuild the kernel with `kb build`, which writes symbols.json for every variant it can import."
    )


def read_symbols(path: Path) -> dict[str, Any]:
    """A symbols.json (schema 1), checked as the C++ writer checks it."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        symbols = json.loads(text)
    except ValueError as error:
        raise ValueError(f"Invalid symbols.json at {path}: {error}") from error
    _core.check_symbols(text, str(path))
    return symbols


def _print_human(info: dict[str, Any]) -> None:
    print_source(info)
    print("\nFunctions:")
    for function in info["functions"]:
        print(f"  {function['name']}")
    if not info["functions"]:
        print("  (none)")
    print("\nLayers:")
    for layer in info["layers"]:
        attributes = layer["attributes"]
        flags = "  ".join(
            f"{name}={'unknown' if attributes.get(name) is None else attributes[name]}"
            for name in ("has_backward", "can_torch_compile")
        )
        print(f"  {layer['name']}  {flags}")
    if not info["layers"]:
        print("  (none)")
