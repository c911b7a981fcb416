"""Processor-independent numerics: the ONE place that pins instruction-set dispatch and thread counts.

Several numeric libraries choose their kernels at run time from the processor's instruction set (CPUID),
and kernels of different widths (AVX2 vs AVX-512) sum in different orders, so the last bits of a
float32 result depend on the processor. A cached feature file then changes its hash, and rarely a
downstream decision (one test item) flips.

======================  ==========================================  ====================================
library                 what dispatches                             pinned by
======================  ==========================================  ====================================
oneDNN (torch's fp32    JIT kernels per ISA (SSE4.1 .. AVX-512,     ``ONEDNN_MAX_CPU_ISA=AVX2``
matmul/conv; TF's Eigen AMX); TensorFlow's Eigen contractions call  (``DNNL_MAX_CPU_ISA``, older name)
contraction kernel)     oneDNN's sgemm even with its oneDNN ops off
MKL (torch's BLAS)      sgemm code path by CPUID and vendor         ``MKL_CBWR=COMPATIBLE``
                                                                    (+ ``MKL_ENABLE_INSTRUCTIONS=AVX2``)
PyTorch ATen            vectorised kernels (GELU, softmax, norms,   ``ATEN_CPU_CAPABILITY=avx2``
                        reductions): DEFAULT / AVX2 / AVX512
TensorFlow oneDNN ops   graph rewrites to oneDNN kernels            ``TF_ENABLE_ONEDNN_OPTS=0``
NumPy                   SIMD targets X86_V3, X86_V4, AVX512_ICL,    ``NPY_DISABLE_CPU_FEATURES``
                        AVX512_SPR (exp/log/sin, sort, ...)         (the targets above AVX2)
OpenBLAS (NumPy/SciPy)  DYNAMIC_ARCH kernel by CPUID                ``OPENBLAS_CORETYPE=Haswell``
all of the above        the split of a reduction over threads       ``*_NUM_THREADS=1``
======================  ==========================================  ====================================

Measured on an AMD EPYC (Zen 4, AVX-512) with ``scripts/check_dispatch.py`` (a few texts through nb02's
MiniLM path, a few images through nb03's MobileNetV2 extractor, each knob alone against no knob):
``ONEDNN_MAX_CPU_ISA=AVX2`` changed both outputs (texts: 2,959 of 3,072 float32 values; images: 3,918 of
5,120), ``MKL_CBWR=COMPATIBLE`` changed the texts (2,953 values); ``ATEN_CPU_CAPABILITY``, ``MKL_CBWR=AVX2``
(MKL takes its AVX2 path on AMD anyway), ``MKL_ENABLE_INSTRUCTIONS``, NumPy's and OpenBLAS's knobs and the
thread count changed nothing on these probes; they are pinned all the same (the notebooks' training, NumPy
and scikit-learn code use those kernels). MKL is pinned to its COMPATIBLE branch, not AVX2: MKL documents
its AVX2 reproducibility branch for Intel processors only, COMPATIBLE for every x86-64 processor.

The two-level check (``scripts/check_dispatch.py``; ``tests/core/test_determinism.py`` runs its small version):
unpinned, AVX-512 vs AVX2 kernels differ (texts: 2,959 of 3,072 values, max 1.4e-6, 4 values after rounding;
images: 3,918 of 5,120, 37 after rounding); pinned, the outputs are byte-identical with every other knob
lowered further and with two threads, AND under ``qemu-x86_64 -cpu Haswell`` (CPUID reports an Intel AVX2
processor without AVX-512; texts: 0 of 3,072 values differ, images: 0 of 5,120). Unpinned, that emulated Intel
Haswell also differs from this AMD processor with every dispatch variable capped at AVX2 (1,796 of 3,072 text
values): that capped run lacks only ``MKL_CBWR`` and the thread pins, and the thread count changed nothing, so it
is MKL's vendor-dependent path, which ``MKL_CBWR=COMPATIBLE`` replaces. The whole default ``eye_features``
stage (160 images) run pinned under ``qemu-x86_64 -cpu Haswell`` wrote the same file, byte for byte, as run
pinned on this AVX-512 processor (md5 870fab1b...; unpinned here: 2565f4cc...).

:data:`PINNED_ENV` is applied to the DEFAULT pipeline and CI only (the synthetic data whose outputs are
committed): every DVC stage of ``dvc.yaml`` runs through ``python -m lib.core.determinism <module> ...``
(which sets the variables and then starts the module in a fresh interpreter, before numpy/torch/TensorFlow
load), the runner gives them to the kernel of an executed default run, and ``scripts/test.sh`` exports them.
Real and paper runs keep the fastest kernels; their metrics record the processor and the dispatch level in
force (:func:`machine_info`, via ``DataSource.meta``).

The variables act only when set before the library loads (numpy at import, MKL/oneDNN/ATen at first
use): :func:`apply` refuses to run after numpy, torch or TensorFlow was imported.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

#: the instruction-set level every machine of this kind supports
LEVEL = "AVX2"

#: NumPy 2.x dispatch targets above AVX2 (``numpy._core._multiarray_umath.__cpu_dispatch__``)
NUMPY_ABOVE_AVX2 = "X86_V4 AVX512_ICL AVX512_SPR"

#: thread-count variables: one thread (a reduction split over N threads sums in another order)
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}

#: the pins of the default pipeline and CI (see the module docstring)
PINNED_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "NPY_DISABLE_CPU_FEATURES": NUMPY_ABOVE_AVX2,
    "OPENBLAS_CORETYPE": "Haswell",
    **THREAD_ENV,
    "REPRO_PINNED": LEVEL,
}

#: every variable that selects kernels by instruction set (recorded by :func:`machine_info`)
DISPATCH_VARS = tuple(k for k in PINNED_ENV if k not in THREAD_ENV and k != "REPRO_PINNED")

_LATE = ("numpy", "torch", "tensorflow", "keras", "scipy", "sklearn")


def pinned_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: ``os.environ``) with :data:`PINNED_ENV` applied (the pins win)."""
    return {**(os.environ if base is None else base), **PINNED_ENV}


def is_pinned(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``env`` (default ``os.environ``) carries every pin."""
    env = os.environ if env is None else env
    return all(env.get(k) == v for k, v in PINNED_ENV.items())


def apply() -> None:
    """Set :data:`PINNED_ENV` in this process; an error if a numeric library was already imported."""
    loaded = [m for m in _LATE if m in sys.modules]
    if loaded and not is_pinned():
        raise RuntimeError(
            f"lib.core.determinism.apply(): {', '.join(loaded)} already imported; the dispatch pins act only "
            "before they load (run the command through `python -m lib.core.determinism`)"
        )
    os.environ.update(PINNED_ENV)


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_level() -> str:
    """The widest vector level this processor offers: AVX512 | AVX2 | below-AVX2."""
    flags = cpu_flags()
    if {"avx512f", "avx512bw", "avx512vl"} <= flags:
        return "AVX512"
    if {"avx2", "fma"} <= flags:
        return "AVX2"
    return "below-AVX2"


def machine_info() -> dict:
    """Processor model and the dispatch in force (what a real run's metrics ``meta`` records).

    ``dispatch``: ``pinned-AVX2`` when every pin is set, else ``native`` (the fastest kernels);
    ``aten_capability`` is torch's own report when torch is loaded in this process.
    """
    info = {
        "cpu_model": cpu_model(),
        "cpu_level": machine_level(),
        "dispatch": f"pinned-{LEVEL}" if is_pinned() else "native",
        "dispatch_env": {k: os.environ[k] for k in DISPATCH_VARS if k in os.environ},
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            info["aten_capability"] = torch.backends.cpu.get_cpu_capability()
            info["torch_threads"] = torch.get_num_threads()
        except Exception:
            pass
    return info


def exec_pinned(argv: list[str]) -> None:
    """Replace this process by ``python -m <module> <args>`` with the pins set (never returns)."""
    if not argv or argv[0].startswith("-"):
        raise SystemExit("usage: python -m lib.core.determinism <module> [args ...] | --print-env")
    os.execve(sys.executable, [sys.executable, "-m", *argv], pinned_env())


def main(argv: list[str] | None = None) -> int:
    """``python -m lib.core.determinism <module> [args]``: run a module with the pins;
    ``--print-env``: the pins as ``export`` lines for a shell (``eval "$(...)"``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--print-env"]:
        for key, value in PINNED_ENV.items():
            print(f"export {key}='{value}'")
        return 0
    exec_pinned(argv)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
