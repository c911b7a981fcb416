"""Benchmark of our frozen-encoder path (notebook 02) against sentence-transformers' ``encode``; not a test.

Same texts (real arXiv titles + abstracts from ../shared/data/arxiv, the notebook's model inputs), same model folder
(the packaged all-MiniLM-L6-v2, hashes verified), max_length 256, mean pooling + L2 normalisation, same batch size
and torch thread count, one warm-up call each (two batches), then the median wall time of ``--repeats`` calls,
alternating the two and which goes first (A B, B A, ...), in one run; wall time and the process's CPU time are both
recorded (on a shared machine the CPU time is the steadier measure). The tokenizers library's own thread pool is
off (``TOKENIZERS_PARALLELISM=false``), so both paths tokenize on one thread too. Agreement: cosine similarity of the
two embeddings of every text (>= 0.9999 expected).

    python benchmarks/bench_encoder.py [--n-texts 2000] [--batch-size 32] [--threads 2] [--repeats 3]
        [--out benchmarks/results/bench_encoder.json]  (+ .md)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # before tokenizers is imported: same threads for both

import torch

from lib.arxiv import data as arxiv_data
from lib.arxiv import encoder as text_encoder
from lib.arxiv.text_clean import model_inputs
from lib.core import paths
from lib.core.io import atomic_write_text, write_json

MAX_LENGTH = 256


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-texts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_encoder.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer

    df = arxiv_data.load(paths.shared_data("arxiv") / arxiv_data.CSV_NAME).iloc[: args.n_texts]
    texts = model_inputs(df["title"], df["abstract"])
    enc = text_encoder.load_encoder(text_encoder.PACKAGED, device="cpu", progress=False)
    st = SentenceTransformer(str(enc.folder), device="cpu")
    st.max_seq_length = MAX_LENGTH

    def ours(batch):
        return _normalise(
            text_encoder.encode(
                enc, batch, batch_size=args.batch_size, max_length=MAX_LENGTH, pooling="mean", progress=False
            )
        )

    def theirs(batch):
        return st.encode(
            batch, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    ours(texts[: args.batch_size * 2]), theirs(texts[: args.batch_size * 2])  # warm-up
    times: dict[str, list[float]] = {"ours": [], "sentence_transformers": []}
    cpu: dict[str, list[float]] = {"ours": [], "sentence_transformers": []}
    out = {}
    pair = (("ours", ours), ("sentence_transformers", theirs))
    for rep in range(args.repeats):  # A B, B A, A B, ...: neither path always runs first
        for name, fn in pair if rep % 2 == 0 else pair[::-1]:
            start, start_cpu = time.perf_counter(), time.process_time()
            out[name] = fn(texts)
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    cos = np.sum(out["ours"] * out["sentence_transformers"], axis=1)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    result = {
        "n_texts": len(texts),
        "max_length": MAX_LENGTH,
        "batch_size": args.batch_size,
        "torch_threads": args.threads,
        "repeats": args.repeats,
        "seconds": times,
        "median_seconds": med,
        "texts_per_second": {k: len(texts) / v for k, v in med.items()},
        "ratio_ours_over_st_throughput": med["sentence_transformers"] / med["ours"],
        "cpu_seconds": cpu,
        "median_cpu_seconds": med_cpu,
        "ratio_ours_over_st_cpu": med_cpu["sentence_transformers"] / med_cpu["ours"],
        "cosine_min": float(cos.min()),
        "n_below_0.9999": int(np.sum(cos < 0.9999)),
        "tokenizers_parallelism": os.environ.get("TOKENIZERS_PARALLELISM"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()}",
    }
    write_json(args.out, result)
    atomic_write_text(
        args.out.with_suffix(".md"),
        f"# Encoder benchmark: ours vs sentence-transformers (all-MiniLM-L6-v2, CPU, {args.threads} threads)\n\n"
        f"{len(texts)} real arXiv title+abstract inputs, max_length {MAX_LENGTH}, mean pooling + L2 normalisation, "
        f"batch {args.batch_size}, median of {args.repeats} alternating runs (A B, B A, ...) after a warm-up; "
        "ours batches by token count, sentence-transformers by character count.\n\n"
        "| path | median wall s | texts/s (wall) | median CPU s |\n|---|---|---|---|\n"
        + "".join(f"| {k} | {med[k]:.2f} | {result['texts_per_second'][k]:.1f} | {med_cpu[k]:.2f} |\n" for k in med)
        + f"\nThroughput ratio ours / sentence-transformers: {result['ratio_ours_over_st_throughput']:.3f} by wall "
        f"time, {result['ratio_ours_over_st_cpu']:.3f} by CPU time of the process (one torch thread; on a loaded "
        "machine the CPU-time ratio is the steadier one, wall time also counts waiting for a core). "
        f"Agreement: minimum cosine {result['cosine_min']:.6f}, {result['n_below_0.9999']} texts below 0.9999.\n\n"
        f"Machine: {result['machine']} (a shared machine: compare within one run).\n",
    )
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
