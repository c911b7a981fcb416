"""Does early stopping trigger with the real run's stopping rule? A small measured run on Colored MNIST.

The real run's nb04 configuration (params_real.yaml: patience, epoch cap, width, batch) on a stratified training
subset, objectives SCE and SoS (the fastest and the slowest learner of the last real run), one or more seeds;
writes the convergence table (lib.bias.experiment.convergence_table) and the validation curves by epoch.
Run: OMP_NUM_THREADS=1 python benchmarks/bench_convergence.py [--train-size 10000] [--seeds 0]
Writes benchmarks/results/convergence_check.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.bias import experiment as be  # noqa: E402
from lib.bias.precision_check import config  # noqa: E402
from lib.bias.sanity import machine  # noqa: E402
from lib.core.io import atomic_write_text  # noqa: E402
from lib.core.params import load_params  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--objectives", nargs="+", default=["sce", "sos"])
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "convergence_check"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    real = load_params("nb04", "real")
    cfg = replace(
        config(args.seeds, args.train_size, real["max_epochs"], "sce"),
        objectives=list(args.objectives),
        patience=real["patience"],
    )
    data = be.load_splits(cfg.root, cfg.datasets, cfg.pct)
    t0 = time.perf_counter()
    res = be.run_grid(data, cfg, progress=False)
    conv = be.convergence_table(res.history, res.runs, cfg.max_epochs)
    curves = res.history.pivot_table(index="epoch", columns=["objective", "seed"], values="valid_acc")
    out = {
        "config": {
            "train_size": args.train_size,
            "seeds": args.seeds,
            "objectives": args.objectives,
            "max_epochs": cfg.max_epochs,
            "patience": cfg.patience,
            "width": cfg.width,
        },
        "convergence": conv.to_dict("records"),
        "runs": res.runs[
            ["objective", "seed", "accuracy", "conflicting", "worst_group", "best_epoch", "epochs", "seconds"]
        ].to_dict("records"),
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    md = (
        "# Early stopping with the real run's rule (benchmarks/bench_convergence.py)\n\n"
        f"Colored MNIST (real), {args.train_size:,} training images (stratified), the full validation and test "
        f"splits; patience {cfg.patience}, cap {cfg.max_epochs}, width {cfg.width}; seeds {args.seeds}. "
        f"Machine: {out['machine']}; {out['seconds']:.0f} s wall.\n\n"
        + conv.round(4).to_markdown(index=False)
        + "\n\n"
        + res.runs[["objective", "seed", "accuracy", "conflicting", "worst_group", "best_epoch", "epochs"]]
        .round(4)
        .to_markdown(index=False)
        + "\n\nValidation accuracy by epoch:\n\n"
        + curves.round(4).to_markdown()
        + "\n"
    )
    atomic_write_text(Path(args.out).with_suffix(".json"), json.dumps(out, indent=2) + "\n")
    atomic_write_text(Path(args.out).with_suffix(".md"), md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
