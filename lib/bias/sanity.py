"""Checks of the Corrupted CIFAR-10 build before any table is read from it (small measured runs).

1. unbiased: every corruption drawn uniformly (it carries no label information), a ResNet18 trained on a subset for
   a few epochs: each corruption's test accuracy must be clearly above chance (10 %), i.e. its Wilson interval
   above 0.10; a corruption that erases the object stays at chance however long one trains.
2. biased: the same subset at ``conflict_pct`` (5 %) bias-conflicting, one objective: unbiased test accuracy and
   bias-conflicting accuracy (the earlier imagecorruptions build gave 13-16 % unbiased accuracy here).

Both draw the images in memory (``build_in_memory``) with ``lib.bias.cifar10c``'s reader, split and corruptions.
Command line: ``python -m lib.bias.sanity [--out benchmarks/results/cifar10c_sanity] [--n-train N] ...``
(writes ``.json`` and ``.md`` atomically; the notebook's C-CIFAR variant reads them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lib.bias import cifar10c
from lib.bias import data as biased_data
from lib.bias.objectives import predict
from lib.bias.resnet import ResNet18
from lib.bias.statistics import wilson_interval
from lib.bias.training import TrainConfig, fit, normalise, predict_logits, to_tensor
from lib.core import paths
from lib.core.io import atomic_write_text
from lib.core.seeding import seed_everything

CHANCE = 0.1


@dataclass(frozen=True)
class SanityConfig:
    n_train: int
    n_valid: int
    n_test: int
    severity: int
    seed: int
    epochs: int
    width: float
    stem: str
    batch_size: int
    objective: str
    augment: str
    precision: str
    conflict_pct: float  # the biased check's share of bias-conflicting training images


DEFAULT = SanityConfig(
    n_train=15000,
    n_valid=2000,
    n_test=2000,
    severity=5,
    seed=0,
    epochs=8,
    width=0.25,
    stem="standard",
    batch_size=256,
    objective="sce",
    augment="none",
    precision="fp32",
    conflict_pct=5.0,
)


def build_in_memory(src, cfg: SanityConfig, conflict_pct: float | None, cache: dict | None = None) -> dict:
    """``{"train"|"valid"|"test": BiasedSplit}`` corrupted in memory: train/valid from the 50,000 training images,
    test from the 10,000 test images (class-balanced seeded parts, as ``cifar10c.build``); conflict_pct None:
    unbiased training split; valid and test are always unbiased."""
    cache = {} if cache is None else cache
    for split in ("train", "test"):
        if split not in cache:
            cache[split] = cifar10c.read_cifar10(src, split)
    images, labels, _ = cache["train"]
    t_images, t_labels, _ = cache["test"]
    order = cifar10c._split_indices(labels, cfg.n_train + cfg.n_valid, cfg.seed)
    parts = {
        "train": (images[order[: cfg.n_train]], labels[order[: cfg.n_train]]),
        "valid": (images[order[cfg.n_train :]], labels[order[cfg.n_train :]]),
    }
    te = cifar10c._split_indices(t_labels, cfg.n_test, [cfg.seed, 1])
    parts["test"] = (t_images[te], t_labels[te])
    out = {}
    for k, (split, (imgs, y)) in enumerate(parts.items()):
        rng = np.random.default_rng([cfg.seed, 10 + k])
        bias = biased_data.assign_bias(y, rng, conflict_pct if split == "train" else None)
        rgb = cifar10c.corrupt_images(imgs, bias, cifar10c.CORRUPTIONS, cfg.severity, seed=cfg.seed * 10 + k)
        out[split] = biased_data.BiasedSplit(rgb, y, bias, [])
    return out


def train_and_score(splits: dict, cfg: SanityConfig, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Train one ResNet18 for ``cfg.epochs`` (early stopping off: patience = epochs) and score the test split:
    a table of accuracy per corruption (Wilson 95 % interval) and a summary dict (overall, aligned, conflicting,
    worst group, valid history, seconds)."""
    x_tr = normalise(to_tensor(splits["train"].images), cfg.augment)
    x_va = normalise(to_tensor(splits["valid"].images), cfg.augment)
    x_te = normalise(to_tensor(splits["test"].images), cfg.augment)
    seed_everything(seed, torch=True)
    model = ResNet18(num_classes=10, width=cfg.width, dropout=0.4, stem=cfg.stem)
    tcfg = TrainConfig(1e-3, 1e-5, cfg.batch_size, cfg.epochs, cfg.epochs, "cpu", cfg.precision, cfg.augment, 1, 1)
    y_tr, y_va = torch.from_numpy(splits["train"].target), torch.from_numpy(splits["valid"].target)
    info = fit(model, cfg.objective, x_tr, y_tr, x_va, y_va, tcfg, seed=seed, progress=False)
    pred = predict(predict_logits(model, x_te)).numpy()
    test = splits["test"]
    correct = pred == test.target
    rows = []
    for k, name in enumerate(cifar10c.CORRUPTIONS):
        mask = test.bias == k
        lo, hi = wilson_interval(int(correct[mask].sum()), int(mask.sum()))
        rows.append(
            {
                "corruption": name,
                "n": int(mask.sum()),
                "accuracy": float(correct[mask].mean()) if mask.any() else float("nan"),
                "ci_low": lo,
                "ci_high": hi,
                "above_chance": bool(lo > CHANCE),
            }
        )
    from lib.bias.training import accuracy_split

    summary = {
        **accuracy_split(pred, test.target, test.bias),
        "best_epoch": info["best_epoch"],
        "epochs": info["epochs"],
        "valid_history": [round(h["valid_acc"], 4) for h in info["history"]],
        "train_seconds": round(info["seconds"], 1),
    }
    return pd.DataFrame(rows), summary


def run(src, cfg: SanityConfig, biased_seeds=(0,), checks=("unbiased", "biased")) -> dict:
    """Both checks; returns a JSON-ready dict with the tables as records."""
    cache: dict = {}
    out = {"config": asdict(cfg), "machine": machine()}
    if "unbiased" in checks:
        t0 = time.perf_counter()
        splits = build_in_memory(src, cfg, None, cache)
        table, summary = train_and_score(splits, cfg)
        out["unbiased"] = {"table": table.to_dict("records"), "summary": summary}
        out["unbiased"]["seconds"] = round(time.perf_counter() - t0, 1)
    if "biased" in checks:
        t0 = time.perf_counter()
        splits = build_in_memory(src, cfg, cfg.conflict_pct, cache)
        runs = []
        for s in biased_seeds:
            table, summary = train_and_score(splits, cfg, seed=s)
            runs.append({"seed": s, "summary": summary, "table": table.to_dict("records")})
        out["biased"] = {"runs": runs, "seconds": round(time.perf_counter() - t0, 1)}
    return out


def machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_average": [round(v, 2) for v in load] if load else None,
    }


def report_markdown(res: dict) -> str:
    cfg = res["config"]
    lines = [
        "# Corrupted CIFAR-10 sanity runs (lib.bias.sanity)",
        "",
        f"Subset: train {cfg['n_train']:,} / valid {cfg['n_valid']:,} (of the 50,000 training images) / test "
        f"{cfg['n_test']:,} (of the 10,000 test images); corruption level {cfg['severity']}; ResNet18 width "
        f"{cfg['width']} ({cfg['stem']} stem), {cfg['objective'].upper()}, batch {cfg['batch_size']}, "
        f"{cfg['epochs']} epochs, augment {cfg['augment']}, {cfg['precision']}. Machine: {res['machine']}.",
        "",
    ]
    if "unbiased" in res:
        u = res["unbiased"]
        lines += [
            "## Unbiased corruptions (each corruption carries no label information)",
            "",
            f"Overall test accuracy {100 * u['summary']['accuracy']:.1f}% (chance 10%); validation by epoch "
            f"{u['summary']['valid_history']}; {u['seconds']:.0f} s with the build.",
            "",
            pd.DataFrame(u["table"]).round(3).to_markdown(index=False),
            "",
        ]
    if "biased" in res:
        b = res["biased"]
        lines += [f"## Biased training split ({cfg['conflict_pct']:g}% bias-conflicting), unbiased test", ""]
        rows = [
            {
                "seed": r["seed"],
                "unbiased accuracy": r["summary"]["accuracy"],
                "aligned": r["summary"]["aligned"],
                "conflicting": r["summary"]["conflicting"],
                "worst group": r["summary"]["worst_group"],
                "best epoch": r["summary"]["best_epoch"],
                "valid by epoch": str(r["summary"]["valid_history"]),
            }
            for r in b["runs"]
        ]
        lines += [pd.DataFrame(rows).round(3).to_markdown(index=False), ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Corrupted CIFAR-10 sanity runs (unbiased and 5% biased).")
    parser.add_argument("--out", default=str(paths.ROOT / "benchmarks" / "results" / "cifar10c_sanity"))
    parser.add_argument("--src", default=str(paths.shared_data(cifar10c.SOURCE_NAME)))
    parser.add_argument("--checks", nargs="+", default=["unbiased", "biased"])
    parser.add_argument("--biased-seeds", nargs="+", type=int, default=[0])
    for f in ("n_train", "n_valid", "n_test", "epochs"):
        parser.add_argument(f"--{f.replace('_', '-')}", type=int, default=getattr(DEFAULT, f))
    parser.add_argument("--width", type=float, default=DEFAULT.width)
    parser.add_argument("--augment", default=DEFAULT.augment)
    parser.add_argument("--precision", default=DEFAULT.precision)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = replace(
        DEFAULT,
        **{f: getattr(args, f) for f in ("n_train", "n_valid", "n_test", "epochs", "width", "augment", "precision")},
    )
    res = run(args.src, cfg, biased_seeds=tuple(args.biased_seeds), checks=tuple(args.checks))
    write_check(args.out, res, report_markdown)
    return 0


def write_check(out, res: dict, render) -> None:
    """A check's result as ``<out>.json`` and its Markdown ``render(res)`` as ``<out>.md`` (atomic), printed too:
    the command-line tail shared by this module and :mod:`lib.bias.precision_check`."""
    out = Path(out)
    text = render(res)
    atomic_write_text(out.with_suffix(".json"), json.dumps(res, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
