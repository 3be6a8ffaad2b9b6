"""`kernels cache ls`: the kernel versions in the cache, their build variants
and whether their files still match the hub's hashes (the listing is kb's C++
one, shared with `kb cache ls`). `kernels cache verify [--repair]`: every
cached file re-hashed and the layout checked (kb's `kb cache verify`)."""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from . import _core


def register(subparsers) -> None:
    cache = subparsers.add_parser("cache", help="Inspect cached kernels")
    commands = cache.add_subparsers(dest="cache_command", metavar="COMMAND")
    commands.required = True
    ls = commands.add_parser("ls", help="List cached kernel versions and their build variants")
    ls.add_argument("--cache-dir", type=Path, help="Inspect a specific cache directory")
    ls.add_argument("--json", action="store_true", help="Print cached kernel information as JSON")
    ls.add_argument("--show-warnings", action="store_true", help="Show details of cache inconsistencies")
    ls.add_argument("--no-truncate", action="store_true", help="Display full values regardless of terminal width")
    ls.set_defaults(run=_cache_ls)
    verify = commands.add_parser(
        "verify", help="Re-hash every cached file and check the cache's layout; exit 1 when problems remain"
    )
    verify.add_argument("--cache-dir", type=Path, help="Verify a specific cache directory")
    verify.add_argument(
        "--repair",
        action="store_true",
        help="Remove what is corrupt, partial or dangling, so the next load fetches it again",
    )
    verify.add_argument("--json", action="store_true", help="Print the report as JSON")
    verify.set_defaults(run=_cache_verify)


def _cache_ls(args: argparse.Namespace) -> int:
    out, err, code = _core.cache_ls(
        cache_dir=args.cache_dir,
        json=args.json,
        show_warnings=args.show_warnings,
        no_truncate=args.no_truncate,
        columns=shutil.get_terminal_size().columns,
    )
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.stderr.write(err)
    return code


def _cache_verify(args: argparse.Namespace) -> int:
    out, err, code = _core.cache_verify(
        cache_dir=args.cache_dir, repair=args.repair, json=args.json, progress=sys.stderr.isatty()
    )
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.stderr.write(err)
    return code
