"""bf16 autocast against fp32 on Colored MNIST (a small measured check, not part of the default pipeline).

Same data, seeds and settings (the real run's nb04 configuration with a training subset and a few epochs), trained
once in fp32 and once with ``precision: bf16`` (``lib.bias.training``: forward and backward under
``torch.autocast(bfloat16)``, weights and evaluation float32). Reports per seed the test accuracy, the
bias-conflicting accuracy and the training time, and the paired difference bf16 - fp32 with its 95 % t-interval.
bf16 speed and rounding depend on the processor (AVX-512 BF16 / AMX): the result holds for the machine it ran on
(written beside it); the default pipeline stays fp32.

Command line: ``python -m lib.bias.precision_check [--seeds 0 1 2] [--train-size N] [--epochs E]``
(writes ``benchmarks/results/bf16_check.{json,md}`` atomically).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from lib.bias import experiment as be
from lib.bias.sanity import machine, write_check
from lib.bias.statistics import paired_t
from lib.core import paths
from lib.core.params import load_params


def config(seeds, train_size: int, epochs: int, objective: str) -> be.ExperimentConfig:
    params = {**load_params("nb04", "real"), "variant": ""}
    cfg = be.ExperimentConfig(**{f: params[f] for f in be.ExperimentConfig.__dataclass_fields__})
    return replace(
        cfg,
        objectives=[objective],
        seeds=list(seeds),
        train_size=train_size,
        max_epochs=epochs,
        patience=epochs,  # early stopping off: every run trains exactly `epochs` epochs
        min_epochs=1,  # the real run's min_epochs may exceed this short cap
        patience_smoothing=1,
        cka_bootstrap=0,
        cka_probe_sets=0,
        cka_samples=256,
        negative_control=None,
        workers=1,  # one fit at a time: the per-fit seconds compared here are not shared with another fit
    )


def run(seeds=(0, 1, 2), train_size: int = 10000, epochs: int = 4, objective: str = "sce") -> dict:
    cfg = config(seeds, train_size, epochs, objective)
    data = be.load_splits(cfg.root, cfg.datasets, cfg.pct)
    rows = []
    for precision in ("fp32", "bf16"):
        res = be.run_grid(data, replace(cfg, precision=precision), progress=False)
        for r in res.runs.itertuples():
            rows.append(
                {
                    "precision": precision,
                    "seed": r.seed,
                    "accuracy": r.accuracy,
                    "conflicting": r.conflicting,
                    "worst_group": r.worst_group,
                    "best_epoch": r.best_epoch,
                    "seconds": r.seconds,
                    "images_per_s": r.n_train * r.epochs / r.seconds,
                }
            )
    table = pd.DataFrame(rows)
    wide = table.pivot(index="seed", columns="precision")
    out = {"config": {"seeds": list(seeds), "train_size": train_size, "epochs": epochs, "objective": objective}}
    for metric in ("accuracy", "conflicting"):
        mean, half, p = paired_t(wide[metric]["bf16"] - wide[metric]["fp32"])
        out[f"{metric}_diff"] = {"mean": mean, "ci95": half, "p": p}
    out["speedup"] = float((wide["seconds"]["fp32"] / wide["seconds"]["bf16"]).mean())
    out["table"] = table.to_dict("records")
    out["machine"] = machine()
    out["cpu_flags_bf16"] = _cpu_has("avx512_bf16"), _cpu_has("amx_bf16")
    return out


def _cpu_has(flag: str) -> bool:
    try:
        return flag in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def report_markdown(res: dict) -> str:
    c = res["config"]
    a, k = res["accuracy_diff"], res["conflicting_diff"]
    return (
        "# bf16 autocast vs fp32 on Colored MNIST (lib.bias.precision_check)\n\n"
        f"{c['objective'].upper()}, seeds {c['seeds']}, {c['train_size']:,} training images, {c['epochs']} epochs, "
        "the real run's other settings (params_real.yaml nb04). "
        f"Machine: {res['machine']}; avx512_bf16 / amx_bf16: {res['cpu_flags_bf16']}.\n\n"
        f"Paired difference bf16 - fp32 (95% t-interval over seeds): accuracy {a['mean']:+.4f} ± {a['ci95']:.4f} "
        f"(p = {a['p']:.3g}); bias-conflicting accuracy {k['mean']:+.4f} ± {k['ci95']:.4f} (p = {k['p']:.3g}). "
        f"Training time fp32 / bf16: {res['speedup']:.2f}x.\n\n"
        + pd.DataFrame(res["table"]).round(4).to_markdown(index=False)
        + "\n"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="bf16 autocast vs fp32 on Colored MNIST (small check).")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", default=str(paths.ROOT / "benchmarks" / "results" / "bf16_check"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    res = run(tuple(args.seeds), args.train_size, args.epochs)
    write_check(args.out, res, report_markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
