"""`kernels cache ls`: the kernel versions in the cache, their build variants
and whether their files still match the hub's hashes (the listing is kb's C++
one, shared with `kb cache ls`)."""
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
