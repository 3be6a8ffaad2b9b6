"""The `kernels` command line (also `python -m kernels`)."""
from __future__ import annotations

import argparse
import sys

from . import _core
from .hf_hub import user_agent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kernels", description="Find, fetch and inspect compute kernels.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    versions = commands.add_parser("versions", help="list the versions of a kernel and their variants for this system")
    versions.add_argument("repo_id", help="ORG/NAME on the hub")
    versions.set_defaults(run=_versions)

    check = commands.add_parser("check", help=argparse.SUPPRESS)
    check.add_argument("repo_id", nargs="?")
    check.set_defaults(run=_check_moved)

    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _versions(args) -> int:
    from ._environment import environment

    agent = user_agent(None)
    offline = _core.offline_mode()
    versions = _core.hub_versions(args.repo_id, offline, agent)
    if not versions:
        print(f"Repository does not support kernel versions: {args.repo_id}")
        return 0
    env = environment(None)
    blocks = []
    for number in sorted(versions):
        variants = _core.hub_variants(args.repo_id, versions[number], agent)
        trace = _core.resolve(variants, env).trace
        blocks.append(f"Version {number}:\n\n{_core.render_trace(trace)}")
    print("\n".join(blocks))
    return 0


def _check_moved(args) -> int:
    print("`kernels check` has moved to `kb checkabi`", file=sys.stderr)
    return 1
