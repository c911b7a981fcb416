"""Two-dispatch-level check: the default pipeline's cached features do not depend on the processor.

    python scripts/check_dispatch.py            # the full check (prints a table; exit 1 if it fails)
    python scripts/check_dispatch.py --quick    # what the CI test runs (tests/core/test_determinism.py)

Each probe computes, in a FRESH subprocess with a given environment, the cached features of a tiny input
exactly as the default pipeline does: a few texts through the nb02 default encoder path
(``lib.arxiv.encoder.load_encoder`` + ``encode`` + ``lib.core.cache.round_features``) and a few images
through the nb03 default feature extractor (``lib.eye.features.build_extractor`` + ``extract`` +
``machine_independent``, random MobileNetV2 weights, seed 0). It compares the raw float32 features and
the cached (rounded) arrays byte for byte.

One machine can show two dispatch levels because the same variables that pin the kernels also emulate a
narrower processor (the libraries take the minimum of the variable and the processor):

- ``avx512``: nothing set; every library takes this processor's widest kernels (AVX-512 here), and
  torch/BLAS use their default thread count. What an unpinned run on an AVX-512 machine computes.
- ``avx2``: every dispatch variable capped at AVX2, threads left at their default. What an unpinned run on
  an AVX2 machine computes.
- ``pinned``: :data:`lib.core.determinism.PINNED_ENV` (what the default pipeline and CI run with).
- ``pinned-lowered``: the pins, plus every variable that the pins leave alone lowered further, and two
  threads instead of one where the pins do not fix the count themselves (see LOWERED below). If an
  unpinned library still dispatched by processor, this run would differ from ``pinned``.

The check passes when ``pinned`` == ``pinned-lowered`` == ``pinned-2threads`` byte for byte (texts and images)
and, with ``--qemu``, == ``haswell-pinned``: the pinned probe run under ``qemu-x86_64 -cpu Haswell`` (Debian's
qemu-user), where CPUID itself reports an AVX2 processor without AVX-512, so any library that still dispatched
by CPUID would show. It also reports whether ``avx512`` and ``avx2`` differ (they do on an AVX-512 machine:
the issue's bit differences).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXTS = [
    "Spectral methods for community detection in sparse random graphs",
    "We prove a lower bound on the sample complexity of learning halfspaces with margin.",
    "Neutrino oscillation parameters from a global fit of reactor and accelerator data",
    "A convolutional network for the segmentation of retinal vessels in fundus photographs",
    "Quantum error correction with surface codes under biased noise: thresholds and decoders",
    "Stochastic gradient descent converges to minimisers of strict saddle functions",
    "Dark matter halo profiles in cosmological simulations with baryonic feedback",
    "On the Hodge conjecture for abelian varieties of Weil type",
]

#: every variable a probe environment may set (removed from the parent's environment first)
KNOBS = (
    "ATEN_CPU_CAPABILITY",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "TF_ENABLE_ONEDNN_OPTS",
    "NPY_DISABLE_CPU_FEATURES",
    "OPENBLAS_CORETYPE",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "REPRO_PINNED",
)

AVX2_CAPS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
}


def environments() -> dict[str, dict[str, str]]:
    from lib.core.determinism import PINNED_ENV

    # LOWERED: beyond the pins: MKL asked for AVX only (MKL_CBWR, a pin, must override it), NumPy without its
    # AVX2 targets, OpenBLAS on a Sandy Bridge kernel. ``pinned-2threads``: the pins with two threads
    # (informational: the thread counts are pins themselves).
    lowered = {
        **PINNED_ENV,
        "MKL_ENABLE_INSTRUCTIONS": "AVX",
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
        "OPENBLAS_CORETYPE": "SandyBridge",
    }
    two = {k: "2" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")}
    return {
        "avx512": {},
        "avx2": dict(AVX2_CAPS),
        "pinned": dict(PINNED_ENV),
        "pinned-lowered": lowered,
        "pinned-2threads": {**PINNED_ENV, **two},
        # a real AVX2-only processor as CPUID reports it: user-mode QEMU (Debian's qemu-user) emulating a Haswell
        # (AVX2, FMA, no AVX-512); ``--qemu`` only (slow: every instruction is translated)
        "haswell": {},
        "haswell-pinned": dict(PINNED_ENV),
    }


# ------------------------------------------------------------------------------------------ probes (subprocess)
def probe_text(out: Path) -> None:
    from lib.arxiv.encoder import encode, load_encoder
    from lib.core.cache import round_features

    enc = load_encoder("all-MiniLM-L6-v2", device="cpu", progress=False)
    raw = encode(enc, TEXTS, batch_size=4, max_length=128, pooling="cls", progress=False)
    _save(out, raw, round_features(raw))


def probe_image(out: Path, n: int = 4) -> None:
    import numpy as np

    from lib.eye.features import FeatureConfig, build_extractor, extract, fix_threads, machine_independent

    fix_threads()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 160, 160, 3), dtype=np.uint8)
    model = build_extractor(FeatureConfig(weights="random", alpha=1.0, image_size=160, batch_size=32), seed=0)
    raw = extract(images, model, batch_size=32, progress=False)
    stored, _ = machine_independent(raw)
    _save(out, raw, stored)


def _save(out: Path, raw, cached) -> None:
    import numpy as np

    np.savez(out, raw=np.ascontiguousarray(raw, dtype=np.float32), cached=np.ascontiguousarray(cached))


def run_probe(kinds: tuple[str, ...], env_extra: dict[str, str], folder: Path, name: str, timeout: float = 600) -> dict:
    """Run the probes ``kinds`` in ONE fresh interpreter; return per kind its arrays, their digests, and the
    seconds the process took (all kinds together)."""
    import numpy as np

    env = {k: v for k, v in os.environ.items() if k not in KNOBS}
    env.update(env_extra)
    env.update({"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0"})
    start = time.perf_counter()
    prefix = QEMU if name.startswith("haswell") else []
    proc = subprocess.run(
        [
            *prefix,
            sys.executable,
            str(Path(__file__).resolve()),
            "--probe",
            ",".join(kinds),
            "--out",
            str(folder / name),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"probe {kinds} ({name}) failed:\n{proc.stderr[-3000:]}")
    out = {"seconds": seconds, "machine": json.loads((folder / f"{name}.json").read_text())}
    for kind in kinds:
        with np.load(folder / f"{name}-{kind}.npz") as z:
            raw, cached = z["raw"], z["cached"]
        out[kind] = {
            "raw": raw,
            "cached": cached,
            "raw_sha256": hashlib.sha256(raw.tobytes()).hexdigest(),
            "cached_sha256": hashlib.sha256(cached.tobytes()).hexdigest(),
        }
    return out


def compare(a: dict, b: dict) -> dict:
    """How two probes' outputs differ: identical bytes, elements that differ, largest difference."""
    import numpy as np

    raw_diff = a["raw"] != b["raw"]
    cached_diff = a["cached"] != b["cached"]
    return {
        "raw_identical": a["raw_sha256"] == b["raw_sha256"],
        "cached_identical": a["cached_sha256"] == b["cached_sha256"],
        "raw_elements_differing": int(raw_diff.sum()),
        "cached_elements_differing": int(cached_diff.sum()),
        "elements": int(raw_diff.size),
        "max_abs_raw_difference": float(np.max(np.abs(a["raw"].astype(np.float64) - b["raw"]))),
    }


#: how a probe runs on an emulated AVX2-only processor (``--qemu``)
QEMU = ["qemu-x86_64", "-cpu", "Haswell"]

#: (a, b) pairs compared; the check passes when every "pinned vs ..." pair is byte-identical
PAIRS = (
    ("avx512", "avx2"),
    ("pinned", "pinned-lowered"),
    ("pinned", "pinned-2threads"),
    ("avx512", "pinned"),
    ("avx2", "pinned"),
    ("pinned", "haswell-pinned"),
    ("avx512", "haswell"),
    ("avx2", "haswell"),
)


#: the environments of the CI version (tests/core/test_determinism.py)
QUICK = ("avx512", "avx2", "pinned", "pinned-lowered")


def check(kinds=("text", "image"), names=None) -> dict:
    """Run the probes under each environment; return the comparisons (see the module docstring)."""
    envs = environments()
    names = list(names or envs)
    result = {"pairs": {}, "seconds": {}}
    with tempfile.TemporaryDirectory(prefix="check_dispatch-") as tmp:
        # the probes are independent processes: run them side by side (one per core)
        workers = max(1, min(len(names), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {name: pool.submit(run_probe, tuple(kinds), envs[name], Path(tmp), name) for name in names}
            got = {name: f.result() for name, f in futures.items()}
        result["seconds"] = {name: round(g["seconds"], 1) for name, g in got.items()}
        result["machine"] = got[names[0]]["machine"]
        for kind in kinds:
            for a, b in PAIRS:
                if a in got and b in got:
                    result["pairs"][f"{kind}: {a} vs {b}"] = compare(got[a][kind], got[b][kind])
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", help="text, image or text,image (run inside one subprocess)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument("--quick", action="store_true", help="the CI version: avx512, avx2, pinned, pinned-lowered")
    parser.add_argument("--kinds", default="text,image", help="text, image or text,image")
    parser.add_argument(
        "--qemu",
        choices=("pinned", "both"),
        help="also run under qemu-x86_64 -cpu Haswell (a real AVX2-only CPUID): the pinned probe, or both",
    )
    args = parser.parse_args(argv)
    if args.probe:
        for kind in args.probe.split(","):
            {"text": probe_text, "image": probe_image}[kind](Path(f"{args.out}-{kind}.npz"))
        from lib.core.determinism import machine_info

        Path(f"{args.out}.json").write_text(json.dumps(machine_info()))
        return 0
    names = list(QUICK) if args.quick else [n for n in environments() if not n.startswith("haswell")]
    if args.qemu:
        names += ["haswell", "haswell-pinned"] if args.qemu == "both" else ["haswell-pinned"]
    result = check(kinds=tuple(args.kinds.split(",")), names=names)
    print(f"processor: {result['machine']['cpu_model']} ({result['machine']['cpu_level']})")
    for pair, c in result["pairs"].items():
        print(
            f"{pair:38s} raw {'identical' if c['raw_identical'] else 'DIFFER'} "
            f"({c['raw_elements_differing']}/{c['elements']} elements, max |diff| {c['max_abs_raw_difference']:.3g}); "
            f"cached {'identical' if c['cached_identical'] else 'DIFFER'} ({c['cached_elements_differing']} elements)"
        )
    print("probe seconds:", json.dumps(result["seconds"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    ok = all(c["raw_identical"] and c["cached_identical"] for p, c in result["pairs"].items() if ": pinned vs" in p)
    print("check:", "PASS (pinned == pinned-lowered, texts and images)" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
