"""Where the CKA benchmark's time goes: work counts of torch-cka vs ours, and a profile of ours alone.

On the benchmark's workload (bench_cka.py: ResNet18 width 1.0, every leaf layer, batches of 256 random 32x32
inputs) this script, without running torch-cka (about 8 CPU-minutes):

- counts the work each method does per batch, from the layer sizes: torch-cka 0.21's ``CKA.compare`` (read from
  its source: per batch, one Gram ``X @ X.t()`` per row layer and one per (row, column) pair, the column layer's
  Gram recomputed for every row, plus one (n, n) @ (n, n) product ``K @ L`` per ``_HSIC`` call: HSIC(K, K) once per
  row, HSIC(K, L) and HSIC(L, L) per pair) against ours (one Gram per layer by BLAS syrk, n(n+1)/2 d multiply-adds,
  and one batched HSIC product): hence the ratio both would reach at the same BLAS efficiency (flops / s);
- times ours alone on one batch, one thread (torch and, through threadpoolctl, NumPy's BLAS), split into the
  syrk products on pre-centred blocks, the centring, and the HSIC stage, with the BLAS speeds measured beside;
- times variants of the centring (a reused buffer, the mean by a matrix-vector product, the first row as the common
  vector, none) with their CKA error against float64 Grams (the goal: <= 1e-6).

Run: python benchmarks/profile_cka.py   (writes benchmarks/results/cka_profile.json and .md)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.bias import cka  # noqa: E402
from lib.bias.resnet import ResNet18  # noqa: E402


def _time(f, repeat: int = 1):
    t = time.perf_counter()
    for _ in range(repeat):
        out = f()
    return (time.perf_counter() - t) / repeat, out


def work_counts(dims: list[int], n: int) -> dict:
    """Multiply-adds per batch of each method for m layers of widths ``dims`` and batch ``n``."""
    m, total = len(dims), int(sum(dims))
    tc_grams = m + m * m  # K per row layer, L per (row, column) pair
    tc_gram_macs = (m + 1) * total * n * n  # sum_i d_i + sum_i sum_j d_j, general products X @ X.t()
    tc_hsic_calls = m + 2 * m * m
    tc_hsic_macs = tc_hsic_calls * n**3
    ours_gram_macs = total * n * (n + 1) // 2  # syrk
    ours_hsic_macs = m * m * n * n  # the batched tr(K L) product (float64); the sums are O(m n^2)
    tc = tc_gram_macs + tc_hsic_macs
    ours = ours_gram_macs + ours_hsic_macs
    return {
        "layers": m,
        "features_total": total,
        "torch_cka_grams_per_batch": tc_grams,
        "ours_grams_per_batch": m,
        "torch_cka_hsic_matmuls_per_batch": tc_hsic_calls,
        "torch_cka_gram_macs": tc_gram_macs,
        "torch_cka_hsic_macs": tc_hsic_macs,
        "ours_gram_macs": ours_gram_macs,
        "ours_hsic_macs": ours_hsic_macs,
        "ratio_at_equal_flop_rate": tc / ours,
    }


def centring_variants(acts: list[np.ndarray], n: int, step: int) -> dict:
    """Seconds per batch (one thread) and max |CKA - CKA of float64 Grams| of centring variants of the float32
    Gram."""
    buf = np.empty((n, step), np.float32)
    mean_row = np.full(n, 1.0 / n, np.float32)

    def variant(how):
        def gram(a):
            G = np.zeros((n, n))
            for j in range(0, a.shape[1], step):
                b = a[:, j : j + step]
                w = buf[:, : b.shape[1]]
                if how == "buffer, mean":
                    np.subtract(b, b.mean(axis=0), out=w)
                elif how == "buffer, mean by gemv":
                    np.subtract(b, mean_row @ b, out=w)
                elif how == "buffer, first row":
                    np.subtract(b, b[0], out=w)
                else:
                    w = b
                G += w @ w.T
            return G

        return gram

    def cka_of(grams):
        H = cka.hsic1_matrix(np.stack(grams))
        return cka.cka_from_hsic(H, H.diagonal(), H.diagonal())

    ref = cka_of([cka.gram_linear(a, center=True, precision="float64", block=None, threads=1) for a in acts])
    funcs = {"ours (lib.bias.cka.gram_linear, float32)": lambda a: cka.gram_linear(a, center=True, precision="float32")}
    funcs |= {h: variant(h) for h in ("buffer, mean", "buffer, mean by gemv", "buffer, first row", "no centring")}
    out = {}
    with cka.blas_threads(1):
        for name, f in funcs.items():
            seconds, grams = _time(lambda f=f: [f(a) for a in acts])
            out[name] = {"seconds": seconds, "max_abs_error": float(np.nanmax(np.abs(cka_of(grams) - ref)))}
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--image", type=int, default=32)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cka_profile"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    n = args.batch
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "pinned": {k: os.environ.get(k) for k in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "OPENBLAS_CORETYPE")},
        "batch": n,
    }
    model = ResNet18(num_classes=10, width=args.width).eval()
    names = cka.leaf_layer_names(model)
    mods = dict(model.named_modules())
    acts: dict[str, torch.Tensor] = {}
    handles = [mods[k].register_forward_hook(lambda _m, _i, o, k=k: acts.__setitem__(k, o.detach())) for k in names]
    with torch.no_grad():
        model(torch.rand(n, 3, args.image, args.image))
    for h in handles:
        h.remove()
    flat = [acts[k].reshape(n, -1).numpy() for k in names]
    res["counts"] = work_counts([a.shape[1] for a in flat], n)
    step = cka.CPU_BLOCK_COLUMNS
    parts = {"gram (ours, float32 product, centred)": 0.0, "syrk on pre-centred blocks": 0.0, "centring": 0.0}
    with cka.blas_threads(1):
        for a in flat:
            parts["gram (ours, float32 product, centred)"] += _time(
                lambda a=a: cka.gram_linear(a, center=True, precision="float32")
            )[0]
            blocks = [a[:, j : j + step] for j in range(0, a.shape[1], step)]
            t, centred = _time(lambda blocks=blocks: [b - b.mean(axis=0) for b in blocks])
            parts["centring"] += t
            parts["syrk on pre-centred blocks"] += _time(lambda centred=centred: [w @ w.T for w in centred])[0]
        G = np.stack([cka.gram_linear(a, center=True, precision="float32") for a in flat])
        parts["HSIC stage (hsic1_matrix)"] = _time(lambda: cka.hsic1_matrix(G), 3)[0]
        w = np.random.default_rng(0).standard_normal((n, step)).astype(np.float32)
        t_syrk = _time(lambda: w @ w.T, 20)[0]
        t_gemm = _time(lambda: torch.from_numpy(w) @ torch.from_numpy(w).T, 20)[0]
    res["parts_seconds_per_batch"] = parts
    res["blas_gflops"] = {
        f"NumPy/OpenBLAS syrk ({n}x{step}, counted as n(n+1)/2 d multiply-adds)": n * (n + 1) * step / t_syrk / 1e9,
        f"torch sgemm X @ X.T ({n}x{step}, what torch-cka calls)": 2 * n * n * step / t_gemm / 1e9,
    }
    res["centring_variants"] = centring_variants(flat, n, step)
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    out.with_suffix(".md").write_text(to_markdown(res))
    print(to_markdown(res))
    return res


def to_markdown(res: dict) -> str:
    c = res["counts"]
    lines = [
        f"CKA benchmark workload, one batch of {res['batch']} ({c['layers']} layers, {c['features_total']:,} "
        f"features in all), one thread; {res['date']}, {res['machine']}, load average before/after "
        f"{res['load_before']} / {res['load_after']}; dispatch pins {res['pinned']}.",
        "",
        "| per batch | torch-cka 0.21 | ours |",
        "|---|---:|---:|",
        f"| Gram matrices | {c['torch_cka_grams_per_batch']:,} | {c['ours_grams_per_batch']:,} |",
        f"| Gram multiply-adds | {c['torch_cka_gram_macs']:.3e} (general products) "
        f"| {c['ours_gram_macs']:.3e} (syrk) |",
        f"| HSIC multiply-adds | {c['torch_cka_hsic_macs']:.3e} "
        f"({c['torch_cka_hsic_matmuls_per_batch']:,} (n,n)@(n,n)) | {c['ours_hsic_macs']:.3e} (one batched product) |",
        "",
        f"Ratio of the work: **{c['ratio_at_equal_flop_rate']:.1f}x**, the speed ratio both would show at the same "
        "BLAS efficiency (flops per second).",
        "",
        "| ours, one batch, one thread | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v:.3f} |" for k, v in res["parts_seconds_per_batch"].items()]
    lines += ["", "| BLAS kernel | GFLOP/s |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in res["blas_gflops"].items()]
    lines += ["", "| centring variant of the float32 Gram | seconds per batch | max abs CKA error |", "|---|---:|---:|"]
    lines += [f"| {k} | {v['seconds']:.2f} | {v['max_abs_error']:.2e} |" for k, v in res["centring_variants"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
