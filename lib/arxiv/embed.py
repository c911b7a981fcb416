"""The DVC embedding stage of notebook 02: embed every record of the run's dataset into the cache.

    python -m lib.arxiv.embed [--run default]   # params nb02 (+ the run's overrides) and data_arxiv

It sits above :mod:`lib.arxiv.encoder` and :mod:`lib.arxiv.experiment` (it needs the dataset the notebook builds),
so neither of those imports the other's command line.
"""

from __future__ import annotations

import argparse
import sys

from lib.arxiv import experiment
from lib.core import paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", choices=paths.RUNS, default="default")
    args = parser.parse_args(argv)
    cfg = experiment.load_config(args.run)
    ds = experiment.load_dataset(cfg)
    emb, info = experiment.embeddings(ds, cfg)
    cache_dir = paths.processed_dir(cfg.cache_name)
    for stale in cache_dir.iterdir():  # the stage output holds only the current entry
        if stale.is_file() and stale.name != info["file"]:
            stale.unlink()
    print(
        f"[arxiv.embed] {emb.shape} {'cache hit' if info['hit'] else 'computed'} in {info['seconds']:.1f} s "
        f"-> {info['file']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
