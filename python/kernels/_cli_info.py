"""`kernels info`: the metadata of a kernel's variant for this system (name,
version, license, dependencies, ...) and the backends it has builds for.

`kernel_info()` returns the description of one resolved kernel as a dict;
the command prints it (as text or JSON)."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _core
from ._environment import detected_backend, environment
from .hf_hub import user_agent
from .variants import local_variants


def register(subparsers) -> None:
    parser = subparsers.add_parser("info", help="Describe a kernel")
    parser.add_argument("kernel", type=str, help="The kernel repo ID or a local path to a kernel repository")
    parser.add_argument(
        "--revision",
        type=str,
        help="The kernel revision (branch, tag, or commit). Cannot be used together with --version.",
    )
    parser.add_argument(
        "--version", type=int, help="The kernel version. Cannot be used together with --revision."
    )
    parser.add_argument("--json", action="store_true", help="Print the kernel information as JSON")
    parser.add_argument(
        "--dep-tree",
        action="store_true",
        help="Show kernel dependencies as an ASCII tree (a nested object with --json)",
    )
    parser.set_defaults(run=_info)


@dataclass
class ResolvedKernel:
    """One kernel resolved to the variant for this system."""

    source: dict[str, Any]  # {"path"} or {"repo_id", "revision"}
    located: Any  # _core.Located
    variants: list = field(default_factory=list)  # every variant of the kernel (_core.Variant)


def hub_revision_for(revision: str | None, version: int | None) -> str:
    """The revision label the commands show: the revision, or v<version>."""
    return revision if revision is not None else f"v{version}"


def located_variant_name(located) -> str:
    return located.variant.variant_str if located.variant is not None else Path(located.variant_dir).name


def resolve_kernel(kernel: str, *, revision: str | None = None, version: int | None = None) -> ResolvedKernel:
    """Resolves `kernel` (a local directory or a hub repo id) to the variant
    for this system; only metadata is inspected, nothing is imported."""
    if revision is not None and version is not None:
        raise ValueError("Only one of --revision or --version can be specified")
    path = Path(kernel)
    env = environment(None)
    if path.is_dir():
        if revision is not None or version is not None:
            raise ValueError("--revision and --version cannot be used with a local path")
        # Its hub dependencies are described whoever publishes them: only
        # their metadata is read.
        offline = _core.offline_mode()
        located = _core.locate_local(
            path=path,
            env=env,
            detected_backend=detected_backend(),
            trust_remote_code=True,
            local_files_only=offline,
            user_agent="" if offline else user_agent(None),
        )
        return ResolvedKernel({"path": str(path)}, located, local_variants(path))
    offline = _core.offline_mode()
    agent = "" if offline else user_agent(None)
    if revision is None and version is None:
        versions = _core.hub_versions(kernel, offline, agent)
        if versions:
            version = max(versions)
        else:
            revision = "main"
    located = _core.locate(
        repo_id=kernel,
        revision=revision,
        version=version,
        env=env,
        detected_backend=detected_backend(),
        trust_remote_code=True,  # only metadata is read
        local_files_only=offline,
        user_agent=agent,
    )
    source = {"repo_id": kernel, "revision": hub_revision_for(revision, version)}
    if located.repo_info is None:  # LOCAL_KERNELS mapped the repo id to a directory
        variants = local_variants(Path(located.variant_dir).parent)
    elif offline:
        # Offline, the variants known are those in the cached snapshot.
        variants = local_variants(Path(located.variant_dir).parent)
    else:
        variants = _core.hub_variants(located.repo_info[0], located.repo_info[1], agent)
    return ResolvedKernel(source, located, variants)


def kernel_info(resolved: ResolvedKernel, *, dep_tree: bool = False) -> dict[str, Any]:
    """The description of one resolved kernel: its variant's metadata, the
    backends of all its variants, the kernels of its dependency tree (each
    once) and the Python packages they all need, and the source. With
    `dep_tree`, "dependency_tree" nests each kernel's dependencies by repo id."""
    metadata = resolved.located.metadata
    kernel_depends: set[str] = set()
    python_depends: set[str] = set(metadata.python_depends)

    def visit(located) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for repo_id, dependency in sorted(located.dependencies, key=lambda entry: entry[0]):
            kernel_depends.add(repo_id)
            python_depends.update(dependency.metadata.python_depends)
            tree[repo_id] = visit(dependency)
        return tree

    dependency_tree = visit(resolved.located)
    info: dict[str, Any] = {
        "name": str(metadata.name),
        "version": metadata.version,
        "kernels_minver": metadata.kernels_minver,
        "license": metadata.license,
        "upstream": metadata.upstream,
        "source": metadata.source,
        "python_depends": sorted(python_depends),
        "backends": sorted({_core.variant_backend(variant) for variant in resolved.variants}),
        "variant": located_variant_name(resolved.located),
        "kernel_depends": sorted(kernel_depends),
    }
    if dep_tree:
        info["dependency_tree"] = dependency_tree
    info.update(resolved.source)
    return info


def _info(args: argparse.Namespace) -> int:
    try:
        info = kernel_info(
            resolve_kernel(args.kernel, revision=args.revision, version=args.version), dep_tree=args.dep_tree
        )
    except (OSError, ValueError, RuntimeError, ImportError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_human(info)
    return 0


def print_source(info: dict[str, Any]) -> None:
    """The lines saying where a described kernel came from and which variant."""
    if "repo_id" in info:
        print(f"Repository: {info['repo_id']}")
        print(f"Revision: {info['revision']}")
    else:
        print(f"Path: {info['path']}")
    print(f"Variant: {info['variant']}")


def _print_human(info: dict[str, Any]) -> None:
    def value(v) -> str:
        return "-" if v is None else str(v)

    print_source(info)
    print(f"Name: {value(info.get('name'))}")
    print(f"Version: {value(info.get('version'))}")
    print(f"Minimum kernels version: {value(info.get('kernels_minver'))}")
    print(f"License: {value(info.get('license'))}")
    print(f"Upstream: {value(info.get('upstream'))}")
    print(f"Source: {value(info.get('source'))}")
    if "dependency_tree" in info:
        print("Kernel dependencies:")
        print(info.get("repo_id", info.get("path")))
        _print_tree(info["dependency_tree"], "")
    else:
        kernel_depends = info["kernel_depends"]
        print(f"Kernel dependencies: {', '.join(kernel_depends) if kernel_depends else '-'}")
    python_depends = info.get("python_depends")
    print(f"Python dependencies: {', '.join(python_depends) if python_depends else '-'}")
    print(f"Backends: {', '.join(info['backends'])}")


def _print_tree(tree: dict[str, Any], prefix: str) -> None:
    """One line per dependency, drawn with ASCII branches under its dependent."""
    for index, (repo_id, children) in enumerate(tree.items()):
        last = index == len(tree) - 1
        print(f"{prefix}{'`-- ' if last else '|-- '}{repo_id}")
        _print_tree(children, prefix + ("    " if last else "|   "))
