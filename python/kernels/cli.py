"""The `kernels` command line (also `python -m kernels`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import _core
from . import _cli_benchmark, _cli_cache, _cli_describe_api, _cli_info
from ._cli_variants import register as register_variants_command
from .hf_hub import user_agent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kernels", description="Find, fetch and inspect compute kernels.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    versions = commands.add_parser("versions", help="list the versions of a kernel and their variants for this system")
    versions.add_argument("repo_id", help="ORG/NAME on the hub")
    versions.set_defaults(run=_versions)

    lock = commands.add_parser("lock", help="pin the kernels a project depends on in PROJECT_DIR/kernels.lock")
    lock.add_argument("project_dir", type=Path, help="directory whose pyproject.toml has [tool.kernels.dependencies]")
    lock.add_argument(
        "--format",
        choices=("structured", "legacy"),
        default="structured",
        help="structured: the format of kernels >= 0.17, with every kernel's dependencies (default); "
        "legacy: the format of kernels <= 0.16, with a hash per variant",
    )
    lock.add_argument(
        "--migrate", action="store_true", help="rewrite a legacy kernels.lock in the structured format, same commits"
    )
    lock.set_defaults(run=_lock)

    download = commands.add_parser("download", help="download and verify the kernels of PROJECT_DIR/kernels.lock")
    download.add_argument("project_dir", type=Path, help="directory holding kernels.lock")
    download.add_argument(
        "--all-variants", action="store_true", help="every locked variant, not only the one for this system"
    )
    download.set_defaults(run=_download)

    _cli_benchmark.register(commands)
    _cli_cache.register(commands)
    _cli_info.register(commands)
    _cli_describe_api.register(commands)

    check = commands.add_parser("check", help=argparse.SUPPRESS)
    check.add_argument("repo_id", nargs="?")
    check.set_defaults(run=_check_moved)

    verify = commands.add_parser(
        "verify-signature",
        help="verify the signature and digest of a kernel version's variants",
        description="Checks each variant's metadata.json against its sigstore bundle (metadata.json.sigstore) "
        "offline, with the trust root of KB_TRUST_ROOT or the one kb ships and the signers of "
        "KB_SIGNATURE_POLICY or the kernels-community build workflows, then its files against the signed digest.",
    )
    verify.add_argument("repo_id", help="ORG/NAME on the hub")
    verify.add_argument("version", type=int, help="kernel version (branch v<VERSION>)")
    verify.add_argument("--all-variants", action="store_true", help="every variant, not only the one for this system")
    verify.add_argument("--filter-unsigned", action="store_true", help="skip unsigned variants")
    verify.add_argument("--filter-no-digest", action="store_true", help="skip variants whose metadata has no digest")
    verify.set_defaults(run=_verify_signature)

    register_variants_command(commands)
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


def _lock(args) -> int:
    result = _core.lock_project(args.project_dir, user_agent(None), format=args.format, migrate=args.migrate)
    for message in result["warnings"]:
        print(f"warning: {message}", file=sys.stderr)
    if not result["declared"]:
        print(
            f"{args.project_dir / 'pyproject.toml'} has no [tool.kernels.dependencies] table: nothing to lock",
            file=sys.stderr,
        )
        return 0
    if args.format == "legacy":
        for (_requested, version), lock in zip(result["dependencies"], result["locks"]):
            print(f"Locked {lock.repo_id} v{version} at {lock.sha} ({len(lock.variants)} variant(s))", file=sys.stderr)
    else:
        for lock in result["locks"]:
            pin = lock.dependency
            print(f"Locked {lock.repo_id} {_describe_pin(pin)} at {lock.sha}", file=sys.stderr)
    print(f"Wrote {result['lock_path']} ({len(result['locks'])} kernel(s))", file=sys.stderr)
    return 0


def _describe_pin(dependency: dict) -> str:
    return f"v{dependency['version']}" if "version" in dependency else f"revision {dependency['revision']}"


def _download(args) -> int:
    lock_path = args.project_dir / "kernels.lock"
    if not lock_path.is_file():
        print(f"No kernels.lock file found in: {args.project_dir}", file=sys.stderr)
        return 1
    locks = _core.read_lock_file(lock_path)
    offline = _core.offline_mode()
    agent = "" if offline else user_agent(None)
    if args.all_variants:
        env = None
    else:
        from ._environment import environment

        env = environment(None)  # the variant get_kernel would load here
    failed = 0
    for lock in locks:
        print(f"Downloading `{lock.repo_id}` with SHA: {lock.sha}", file=sys.stderr)
        try:
            downloaded = _core.download_locked(lock, env, args.all_variants, offline, agent)
        except (ValueError, FileNotFoundError) as e:
            # One kernel failing does not stop the others.
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        for variant, directory in downloaded:
            print(f"  {variant}: verified, {directory}", file=sys.stderr)
    return 1 if failed else 0


def _verify_signature(args) -> int:
    from ._environment import detected_backend, environment

    out, code = _core.verify_signatures(
        target=args.repo_id,
        version=args.version,
        all_variants=args.all_variants,
        filter_unsigned=args.filter_unsigned,
        filter_no_digest=args.filter_no_digest,
        env=environment(None),
        detected_backend=detected_backend(),
        local_files_only=_core.offline_mode(),
        user_agent=user_agent(None),
    )
    print(out, end="")
    return code


def _check_moved(args) -> int:
    print("`kernels check` has moved to `kb checkabi`", file=sys.stderr)
    return 1
