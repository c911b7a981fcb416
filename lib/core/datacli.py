"""The one command-line shape of every dataset module::

    python -m lib.<paper>.data generate [--out DIR]            # embedded synthetic data (params.yaml data_<paper>)
    python -m lib.<paper>.data import   [--src DIR] [--out DIR] # a local copy, sha256-verified
    python -m lib.<paper>.data fetch    [--out DIR] [--allow-unverified]  # the canonical source (network; opt-in)

A data module calls :func:`main` with its three actions; each takes the optional output
folder (None: the module's default) and returns the folder it wrote. ``fetch`` refuses data it cannot
verify (no checksum list reachable) unless called with ``allow_unverified=True``, which it must
record as "unverified" in the data's metadata.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lib.core.checksums import DataError
from lib.core.io import Terminated, sigterm_as_interrupt
from lib.core.params import ParamsError

Action = Callable[..., Path]


def main(
    argv: Sequence[str] | None,
    *,
    description: str,
    generate: Action,
    import_local: Action,
    fetch: Action,
    default_src: Path,
) -> int:
    """Parse ``generate|import|fetch [--src DIR] [--out DIR]`` and run the action.

    ``generate(out)``, ``import_local(src, out)``, ``fetch(out, allow_unverified=...)``; ``out`` is None
    unless given.
    A :class:`DataError` or :class:`ParamsError` prints one line naming the file and the problem and exits
    with status 2. SIGTERM is handled like Ctrl-C (every temporary removed, nothing half-written); the exit
    status is then 128 + the signal number.
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("generate", "import", "fetch"))
    parser.add_argument("--src", type=Path, default=None, help=f"import: source folder (default {default_src})")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the dataset's data/raw folder)")
    parser.add_argument(
        "--allow-unverified",
        action="store_true",
        help="fetch: accept data whose checksum list cannot be downloaded (recorded as unverified)",
    )
    args = parser.parse_args(argv)
    if args.src is not None and args.command != "import":
        parser.error("--src goes with import")
    if args.allow_unverified and args.command != "fetch":
        parser.error("--allow-unverified goes with fetch")
    try:
        with sigterm_as_interrupt():
            if args.command == "generate":
                out = generate(args.out)
            elif args.command == "import":
                out = import_local(args.src or default_src, args.out)
            else:
                out = fetch(args.out, allow_unverified=args.allow_unverified)
    except (DataError, ParamsError) as err:
        print(f"error: {err}")
        return 2
    except KeyboardInterrupt as err:
        signum = signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT
        print(
            f"[data] {args.command}: stopped by {signal.Signals(signum).name}; nothing half-written left",
            file=sys.stderr,
        )
        return 128 + signum
    print(f"[data] {args.command}: {out}")
    return 0
