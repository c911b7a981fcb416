"""The one command-line shape of every dataset module::

    python -m lib.<paper>.data generate [--out DIR]            # embedded synthetic data (params.yaml data_<paper>)
    python -m lib.<paper>.data import   [--src DIR] [--out DIR] # a local copy, sha256-verified
    python -m lib.<paper>.data fetch    [--out DIR]            # the canonical source (network; opt-in)

A data module calls :func:`main` with its three actions; each takes the optional output
folder (None: the module's default) and returns the folder it wrote.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from lib.core.checksums import DataError

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

    ``generate(out)``, ``import_local(src, out)``, ``fetch(out)``; ``out`` is None unless given.
    A :class:`DataError` prints one line naming the file and the problem and exits with status 2.
    """
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("generate", "import", "fetch"))
    parser.add_argument("--src", type=Path, default=None, help=f"import: source folder (default {default_src})")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the dataset's data/raw folder)")
    args = parser.parse_args(argv)
    if args.src is not None and args.command != "import":
        parser.error("--src goes with import")
    try:
        if args.command == "generate":
            out = generate(args.out)
        elif args.command == "import":
            out = import_local(args.src or default_src, args.out)
        else:
            out = fetch(args.out)
    except DataError as err:
        print(f"error: {err}")
        return 2
    print(f"[data] {args.command}: {out}")
    return 0
