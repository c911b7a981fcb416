"""Benchmark of the frozen text encoder (notebook 02); not a test, numbers depend on the machine.

Reports, in one run:
- encoder throughput (texts per second) for each batch size x max_length, on texts long enough
  that max_length is the binding limit (each text = 4 synthetic abstracts, > 256 tokens);
- the cached path: first call of ``cached_embeddings`` (computes and stores) vs a rerun (reads the
  cache), and their ratio.

    python benchmarks/bench_encoder.py [--n-texts 48] [--batch-sizes 8 32 64] [--max-lengths 64 128 256]
        [--encoder all-MiniLM-L6-v2] [--out benchmarks/results/bench_encoder.json]  (+ .md)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from lib.arxiv import data as arxiv_data
from lib.arxiv import encoder as text_encoder
from lib.arxiv.text_clean import model_input
from lib.core.io import atomic_write_text, to_markdown, write_json


def long_texts(n: int, seed: int = 0) -> list[str]:
    """n cleaned texts, each four synthetic title+abstract pairs joined (> 256 word pieces)."""
    recs = arxiv_data.synthetic_records(seed=seed, n_records=max(4 * n, 480), n_classes=24)
    base = [model_input(r["title"], r["abstract"]) for r in recs]
    return [" ".join(base[4 * i : 4 * i + 4]) for i in range(n)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-texts", type=int, default=48)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--max-lengths", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--encoder", default=text_encoder.PACKAGED)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_encoder.json")
    args = parser.parse_args(argv)

    texts = long_texts(args.n_texts)
    enc = text_encoder.load_encoder(args.encoder)
    text_encoder.encode(enc, texts[:4], batch_size=4, max_length=32, progress=False)  # warm-up
    rows = []
    print(f"{'batch':>6} {'max_len':>8} {'texts/s':>9} {'seconds':>8}")
    for max_length in args.max_lengths:
        for bs in args.batch_sizes:
            t0 = time.perf_counter()
            text_encoder.encode(enc, texts, batch_size=bs, max_length=max_length, progress=False)
            dt = time.perf_counter() - t0
            rows.append(
                {
                    "batch_size": bs,
                    "max_length": max_length,
                    "n_texts": len(texts),
                    "seconds": dt,
                    "texts_per_second": len(texts) / dt,
                }
            )
            print(f"{bs:>6} {max_length:>8} {len(texts) / dt:>9.1f} {dt:>8.2f}")

    with tempfile.TemporaryDirectory() as tmp:
        kw = {"encoder": args.encoder, "max_length": 128, "batch_size": 32, "cache_dir": tmp, "progress": False}
        _, first = text_encoder.cached_embeddings(texts, **kw)
        _, again = text_encoder.cached_embeddings(texts, **kw)
    assert not first["hit"] and again["hit"]
    cache = {
        "n_texts": len(texts),
        "max_length": 128,
        "first_seconds": first["seconds"],
        "cached_seconds": again["seconds"],
        "speedup": first["seconds"] / again["seconds"],
    }
    print(
        f"cache: first {cache['first_seconds']:.2f} s (encode + store), rerun {cache['cached_seconds']:.3f} s "
        f"(hash check + read) -> {cache['speedup']:.0f}x"
    )
    result = {
        "encoder": args.encoder,
        "hidden_size": enc.hidden_size,
        "device": str(next(enc.model.parameters()).device),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_at_end": os.getloadavg(),
        "throughput": rows,
        "cache": cache,
        "note": "wall-clock on a shared machine; compare ratios within one run, not across machines",
    }
    write_json(args.out, result)
    table = pd.DataFrame(rows)[["batch_size", "max_length", "n_texts", "texts_per_second", "seconds"]]
    table = table.astype({"batch_size": str, "max_length": str, "n_texts": str})  # ints stay ints in Markdown
    md = (
        f"# Encoder throughput ({args.encoder}, {result['device']}, {result['torch_threads']} torch threads)\n\n"
        f"{to_markdown(table, floatfmt='.2f')}\n\n"
        f"Cached path (n={cache['n_texts']}, max_length 128): first call {cache['first_seconds']:.2f} s "
        f"(encode + store), rerun {cache['cached_seconds']:.3f} s (hash check + read): "
        f"speed-up {cache['speedup']:.0f}x.\n\n"
        f"Load average at the end: {', '.join(f'{x:.1f}' for x in result['load_average_at_end'])} "
        f"({result['cpu_count']} CPUs; a shared machine: compare within one run).\n"
    )
    atomic_write_text(args.out.with_suffix(".md"), md)
    print(f"-> {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
