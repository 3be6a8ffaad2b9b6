"""`kernels variants REPO`: the build variants of a kernel on the hub and
whether each one fits this environment (or why not)."""
from __future__ import annotations

import argparse
import json
import sys

from . import _core
from .hf_hub import user_agent


def register(subparsers) -> None:
    """Adds the `variants` command to the `kernels` command line."""
    parser = subparsers.add_parser("variants", help="Show kernel build variants and compatibility decisions")
    parser.add_argument("repo_id", help="The kernel repo ID")
    selection = parser.add_mutually_exclusive_group()
    selection.add_argument(
        "--all-versions", action="store_true", help="Show variants for all versions (default: latest version only)"
    )
    selection.add_argument(
        "--version", type=_version_or_latest, help="Show variants for an integer kernel version or 'latest'"
    )
    selection.add_argument("--revision", help="Show variants for a branch, tag, or commit")
    parser.add_argument(
        "--only-compatible", action="store_true", help="Only show variants compatible with the current system"
    )
    parser.add_argument("--json", action="store_true", help="Print build variants and compatibility decisions as JSON")
    parser.set_defaults(run=run)


def _version_or_latest(value: str):
    if value == "latest":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("version must be an integer or 'latest'") from None


def _selected_revisions(args, offline: bool, agent: str) -> list[tuple[int | None, str, str]] | None:
    """(version, revision as shown, revision to list) for each selected
    version; None after printing why nothing can be shown."""
    if args.revision is not None:
        return [(None, args.revision, args.revision)]
    versions = _core.hub_versions(args.repo_id, offline, agent)
    if args.version is not None and args.version != "latest":
        if args.version not in versions:
            available = ", ".join(str(v) for v in sorted(versions))
            print(f"Version {args.version} not found, available versions: {available}", file=sys.stderr)
            return None
        selected = [args.version]
    elif not versions:
        print(f"Repository does not support kernel versions: {args.repo_id}", file=sys.stderr)
        return None
    elif args.all_versions:
        selected = sorted(versions)
    else:
        selected = [max(versions)]
    # The branch as the hub names it (the cache names it by the branch alone);
    # its variants are listed at the commit it points to.
    shown = "v{}" if offline else "refs/heads/v{}"
    return [(number, shown.format(number), versions[number]) for number in selected]


def run(args) -> int:
    from ._environment import environment

    offline = _core.offline_mode()
    agent = "" if offline else user_agent(None)
    revisions = _selected_revisions(args, offline, agent)
    if revisions is None:
        return 1
    env = environment(None)
    results = []
    for number, shown, revision in revisions:
        trace = _core.resolve(_core.hub_variants(args.repo_id, revision, agent), env).trace
        if args.only_compatible:
            trace = [d for d in trace if d.accepted]
        if args.json:
            results.append({"version": number, "revision": shown, "variants": _decisions_json(trace)})
            continue
        label = f"Version {number}" if number is not None else f"Revision {shown}"
        output = _core.render_trace(trace)
        if not output:
            output = "No compatible variants found." if args.only_compatible else "No build variants found."
        print(f"{label}:\n\n{output}")
    if args.json:
        print(json.dumps({"repo_id": args.repo_id, "revisions": results}, indent=2))
    return 0


def _decisions_json(trace) -> list[dict]:
    # The first decision is the preferred variant when it is accepted; a
    # legacy name and its dotted twin are the same build, both preferred.
    preferred = trace[0].variant if trace and trace[0].accepted else None
    return [
        {
            "variant": d.variant.variant_str,
            "compatible": d.accepted,
            "preferred": preferred is not None and d.variant.same_build(preferred),
            "reason": None if d.accepted else d.reason,
        }
        for d in trace
    ]
