"""Benchmark: notebook 04's training fits in one process vs in ``workers`` worker processes (``lib.bias.fits``).

Two workloads, each trained twice in this one run (``workers`` 1, then ``workers`` N), the wall time of the fits
(``lib.bias.experiment.train_all``: spawning the workers included) and the load average recorded beside each, and
every returned weight tensor and metric compared between the two (they must be equal bit for bit):

- ``default``: the default pipeline's nb04 fits (params.yaml nb04 and data_biased: synthetic digits, both datasets,
  every distinct objective x seed and the negative control), data generated in a temporary folder;
- ``real_subset``: the real run's network and settings (params_real.yaml nb04: width 0.25, torchvision stem, batch
  256) on a random subset of Colored MNIST coloured in memory from ../shared/data/mnist (checksums verified),
  ``--objectives`` x ``--seeds`` fits of ``--epochs`` epochs each (early stopping off), no control.

Run: python benchmarks/bench_workers.py [--workers 2 --n-train 12000 --epochs 3]
Writes benchmarks/results/fit_workers.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# lib.bias and torch are imported inside the functions: a spawned worker re-imports this script as its main module
# (as a notebook's worker imports the cheap ipykernel_launcher), so its start-up time is the notebook's


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _identical(a: dict, b: dict) -> bool:
    """Every fit's weights, history, epochs and test accuracies equal (``seconds`` aside)."""
    if list(a) != list(b):
        return False
    for job in a:
        x, y = a[job], b[job]
        if ("error" in x) or ("error" in y):
            if x != y:
                return False
            continue
        if list(x["state_dict"]) != list(y["state_dict"]):
            return False
        if not all(np.array_equal(v, y["state_dict"][k]) for k, v in x["state_dict"].items()):
            return False
        if {k: v for k, v in x["info"].items() if k != "seconds"} != {
            k: v for k, v in y["info"].items() if k != "seconds"
        } or x["acc"] != y["acc"]:
            return False
    return True


def compare(name: str, data: dict, cfg, workers: int, control: bool) -> dict:
    """Train ``data`` with cfg at workers 1 and ``workers``; wall times, loads, images trained and equality."""
    from lib.bias import experiment as be

    row = {"workload": name, "workers": workers}
    out = {}
    for w in (1, workers):
        c = replace(cfg, workers=w)
        load_before = _load()
        start = time.perf_counter()
        out[w] = be.train_all(data, c, control=control, progress=False)
        row[f"seconds_{w}"] = time.perf_counter() - start
        row[f"load_before_{w}"], row[f"load_after_{w}"] = load_before, _load()
        print(f"{name}: workers {w}: {row[f'seconds_{w}']:.1f} s (load {load_before} -> {_load()})", flush=True)
    first = out[1]
    row["fits"] = len(first)
    row["epochs_trained"] = int(sum(r["info"]["epochs"] for r in first.values() if "info" in r))
    row["fit_seconds_sum_1"] = float(sum(r["info"]["seconds"] for r in first.values() if "info" in r))
    row["speedup"] = row["seconds_1"] / row[f"seconds_{workers}"]
    row["identical"] = _identical(first, out[workers])
    return row


def default_workload():
    from lib.bias import data as biased_data
    from lib.bias import experiment as be
    from lib.core.params import load_params

    cfg = be.ExperimentConfig(**load_params("nb04"))
    tmp = tempfile.mkdtemp(prefix="bench_workers_")
    biased_data.generate(Path(tmp) / "b")
    return be.load_splits(Path(tmp) / "b", cfg.datasets, cfg.pct), cfg


def real_subset_workload(mnist: Path, n_train: int, n_valid: int, n_test: int, epochs: int, objectives, seeds):
    """Colored MNIST in memory (lib.bias.data's colouring, 5 % conflicting) on random MNIST subsets."""
    from lib.bias import data as biased_data
    from lib.bias import experiment as be
    from lib.core.checksums import verify_sha256sums
    from lib.core.params import load_params

    verify_sha256sums(mnist, mnist / "SHA256SUMS")
    params = {**load_params("nb04", "real"), "variant": ""}
    cfg = be.ExperimentConfig(**{f: params[f] for f in be.ExperimentConfig.__dataclass_fields__})
    cfg = replace(
        cfg,
        objectives=list(objectives),
        seeds=list(seeds),
        max_epochs=epochs,
        patience=epochs,
        min_epochs=1,
        patience_smoothing=1,
        negative_control=None,
        train_size=None,
        valid_size=None,
    )
    build = biased_data.build_config("real")
    rng = np.random.default_rng(0)
    splits = {}
    for split, kind, n in (("train", "train", n_train), ("valid", "train", n_valid), ("test", "t10k", n_test)):
        gray, target = biased_data._read_mnist_pair(mnist, kind)
        keep = rng.permutation(len(target))[:n]
        gray, target = gray[keep], target[keep]
        bias = biased_data.assign_bias(target, rng, build.conflict_pct if split == "train" else None)
        rgb = biased_data.bias_images(gray, bias, "cmnist", rng, build.colour_std)
        splits[split] = biased_data.BiasedSplit(rgb, target, bias, [])
    return {"cmnist": splits}, cfg


def to_markdown(res: dict) -> str:
    w = res["workers"]
    lines = [
        f"Training fits of notebook 04, workers 1 vs {w} (`lib.bias.fits`, spawned single-thread workers), measured "
        f"in one run on {res['date']} ({res['machine']}; {res['note']}).",
        "",
        f"| workload | fits | epochs trained | workers 1 (s) | workers {w} (s) | speed-up | load avg (1 min) "
        f"before/after w1; w{w} | identical |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['workload']} | {r['fits']} | {r['epochs_trained']} | {r['seconds_1']:.1f} | {r[f'seconds_{w}']:.1f} "
            f"| {r['speedup']:.2f}x | {r['load_before_1']} / {r['load_after_1']}; {r[f'load_before_{w}']} / "
            f"{r[f'load_after_{w}']} | {'yes' if r['identical'] else 'NO'} |"
        )
    rs = [r for r in res["rows"] if r["workload"] == "real_subset"]
    if rs:
        r = rs[0]
        lines += [
            "",
            f"real_subset: {res['real_subset']['n_train']:,} training / {res['real_subset']['n_valid']:,} validation "
            f"images, {res['real_subset']['epochs']} epochs per fit, objectives {res['real_subset']['objectives']}, "
            f"seeds {res['real_subset']['seeds']}; the real run's network (width {res['real_subset']['width']:g}, "
            f"{res['real_subset']['stem']} stem, batch {res['real_subset']['batch_size']}): "
            f"{r['fit_seconds_sum_1'] / r['epochs_trained']:.1f} s per epoch at workers 1.",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--mnist", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--n-train", type=int, default=12000)
    p.add_argument("--n-valid", type=int, default=2000)
    p.add_argument("--n-test", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--objectives", default="sce,l2")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--skip", default="", help="comma-separated workloads to leave out (default, real_subset)")
    p.add_argument("--note", default="", help="what else ran on the machine")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fit_workers"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    res = {
        "workers": args.workers,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        "note": args.note or "no note",
        "torch": torch.__version__,
        "rows": [],
    }
    skip = set(filter(None, args.skip.split(",")))
    if "default" not in skip:
        data, cfg = default_workload()
        res["rows"].append(compare("default", data, cfg, args.workers, control=True))
    if "real_subset" not in skip:
        objectives, seeds = args.objectives.split(","), [int(s) for s in args.seeds.split(",")]
        data, cfg = real_subset_workload(
            Path(args.mnist), args.n_train, args.n_valid, args.n_test, args.epochs, objectives, seeds
        )
        res["real_subset"] = {
            "n_train": args.n_train,
            "n_valid": args.n_valid,
            "n_test": args.n_test,
            "epochs": args.epochs,
            "objectives": objectives,
            "seeds": seeds,
            "width": cfg.width,
            "stem": cfg.stem,
            "batch_size": cfg.batch_size,
        }
        res["rows"].append(compare("real_subset", data, cfg, args.workers, control=False))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    out.with_suffix(".md").write_text(to_markdown(res))
    print(to_markdown(res))
    return res


if __name__ == "__main__":
    main()
