"""Notebook 04's independent training fits, in this process or in worker processes (``workers``).

Every (dataset, objective, seed) of the grid, and the negative control, is one ``FitJob``: a fresh ResNet18 seeded
inside the fit (``seed_everything(seed)`` before the model is built, and again inside ``lib.bias.training.fit``),
trained on the same data, then evaluated on the test split. A fit reads nothing but its job, the data and the
``FitSpec``, so fits are independent and their order does not matter. ``train_fits`` runs them one after the other
in this process (``workers`` 1) or in up to ``workers`` worker processes, each held to one thread, and returns per
job the weights (``state_dict`` as NumPy arrays), the fit's info (history, epochs, ...) and the test accuracies;
CKA and every later step then run in the calling process on those weights.

Why the results equal those of ``workers`` 1 bit for bit: a fit's random draws all come from its own seed, its
inputs are the same arrays, and a worker runs the same code with one thread, as the notebooks' single-thread
default (``torch_threads`` 1, which ``workers`` > 1 requires). Workers are started with the ``spawn`` method (a
fresh interpreter; forking a process that has already run torch's thread pools is fragile), with the thread
variables of ``lib.core.determinism.THREAD_ENV`` set in their environment before torch loads; the processor pins
(``python -m lib.core.determinism --print-env``) are environment variables too, so the workers inherit them from the
parent's ``os.environ`` (``worker_environment`` reports what a worker sees; tests/bias/test_fits.py checks both).

A fit that raises in a worker stops the run: the other workers are ended and ``FitFailed`` names the fit, with the
worker's exception and traceback; nothing has been written by then (the notebook writes its outputs after the
grid). ``FloatingPointError`` (a non-finite loss) is returned as the fit's ``error`` instead when the job allows it
(the negative control, whose divergence is a result).

A fit itself (``FitJob``, ``FitSpec``, ``run_fit``) lives in ``lib.bias.fitjob``; this module runs fits and keeps
them in the fit cache (opt-in: the folder named by ``NB04_FIT_CACHE``; unset, every fit trains). The cache keeps
each fit's result under a key of everything the fit reads: its job, the ``FitSpec``, the digests of its dataset's
arrays (training, validation and test), the source of every file it runs (``lib.bias.fitjob.FIT_CODE``, as imported
by this process; a worker that ran other code is never stored), the torch build and NumPy / Python versions, torch's
float32 matmul precision and deterministic-algorithm flag, the processor dispatch in force (the pins; without them
also the processor's model and level) and the thread count. Only CPU fits are cached (a GPU's kernels are not
pinned here). A later run with the same key reads the result instead of training: the weights, history and test
accuracies the fit returned, bit for bit, so a change to the analysis (CKA, tables, figures, text) reruns a notebook
in minutes. Entries are written as each fit finishes (a temporary file, then a rename: never half-written);
``train_fits`` reports how many came from the cache and the notebook says so beside its run time. Entries are
pickles: point ``NB04_FIT_CACHE`` only at a folder you trust, as for any pickle cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import pickle
import platform
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lib.bias import fitjob
from lib.bias.fitjob import FitJob, FitSpec, fit_data, load_model, run_fit  # noqa: F401 (the fit; re-exported)
from lib.bias.training import quiet
from lib.core import determinism
from lib.core.determinism import THREAD_ENV
from lib.core.device import pick_device
from lib.core.io import atomic_write_bytes

#: how worker processes start: a fresh interpreter (see the module docstring)
START_METHOD = "spawn"


class FitFailed(RuntimeError):
    """A training fit raised (in a worker or in this process); the message names the fit."""


# ---- the opt-in fit cache ----
#: the environment variable naming the fit cache folder (unset or empty: no cache, every fit trains)
FIT_CACHE_ENV = "NB04_FIT_CACHE"
#: the layout of a cache entry and of its key; a new layout is a new key
CACHE_FORMAT = 2


class FitCacheError(RuntimeError):
    """A fit cache entry that cannot be read or written (the message names the file), or a cache used where its
    results would not be exact (a GPU fit)."""


def cache_dir() -> Path | None:
    """The fit cache folder named by ``NB04_FIT_CACHE``, or None (no cache)."""
    value = os.environ.get(FIT_CACHE_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _digest(a: np.ndarray) -> str:
    """An array's dtype, shape and bytes, hashed."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.view(np.uint8).reshape(-1).data)
    return h.hexdigest()


def data_digests(arrays_of: dict) -> dict:
    """``{split: [digest, ...]}`` of one dataset's fit inputs (``fit_data``'s train, valid and test arrays)."""
    return {split: [_digest(a) for a in arrays] for split, arrays in arrays_of.items()}


def _processor() -> dict:
    """The kernels a CPU fit runs: with the processor pins, the pinned level, the pin variables and torch's own
    report (the same on every processor of this kind); without them also the processor's model and level."""
    info = determinism.machine_info()
    out = {
        "dispatch": info["dispatch"],
        "dispatch_env": info["dispatch_env"],
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
    }
    if info["dispatch"] == "native":
        out.update(cpu_model=info["cpu_model"], cpu_level=info["cpu_level"])
    return out


def _nondefault_settings() -> dict:
    """Process-wide settings that change a CPU fit's kernels, only where they differ from torch's defaults (so a
    key made under the defaults is the same as before they were listed): the default dtype, oneDNN on or off, its
    float32 precision for convolutions and matmuls, and ``ONEDNN_DEFAULT_FPMATH_MODE``."""
    out = {}
    if torch.get_default_dtype() != torch.float32:
        out["default_dtype"] = str(torch.get_default_dtype())
    if not torch.backends.mkldnn.enabled:
        out["mkldnn_enabled"] = False
    for name, backend in (
        ("mkldnn", torch.backends.mkldnn),
        ("mkldnn.conv", getattr(torch.backends.mkldnn, "conv", None)),
        ("mkldnn.matmul", getattr(torch.backends.mkldnn, "matmul", None)),
    ):
        value = getattr(backend, "fp32_precision", "none") if backend is not None else "none"
        if value not in ("none", None):
            out[f"{name}.fp32_precision"] = str(value)
    if os.environ.get("ONEDNN_DEFAULT_FPMATH_MODE"):
        out["ONEDNN_DEFAULT_FPMATH_MODE"] = os.environ["ONEDNN_DEFAULT_FPMATH_MODE"]
    return out


def fit_key_inputs(job: FitJob, digests: dict, spec: FitSpec, threads: int, code: dict | None = None) -> dict:
    """Everything a fit reads, as a JSON-able dict (its sha256 is the cache key). ``digests``: ``data_digests`` of
    ``job.dataset``'s arrays; ``threads``: torch threads of the fitting process; ``code``: the digests of the fit's
    code (default ``lib.bias.fitjob.CODE_DIGESTS``, as this process imported it)."""
    device = str(pick_device(spec.train.device))
    if device != "cpu":
        raise FitCacheError(
            f"the fit cache holds CPU fits only (this fit runs on {device}, whose kernels are not pinned here); "
            f"unset {FIT_CACHE_ENV}"
        )
    return {
        "format": CACHE_FORMAT,
        "job": dataclasses.asdict(job),
        "spec": dataclasses.asdict(spec),
        "device": device,
        "data": digests,
        "code": dict(fitjob.CODE_DIGESTS if code is None else code),
        "versions": {
            "torch": torch.__version__,
            "torch_build": hashlib.sha256(torch.__config__.show().encode()).hexdigest(),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "torch_flags": {
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        },
        "processor": _processor(),
        "threads": threads,
        **({"nondefault": extra} if (extra := _nondefault_settings()) else {}),
    }


def fit_key(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=repr).encode()).hexdigest()


def _entry(cache: Path, key: str) -> Path:
    return cache / f"{key}.pkl"


def _plain(inputs: dict) -> dict:
    return json.loads(json.dumps(inputs, default=repr))


def read_cached(cache: Path, key: str, inputs: dict) -> dict | None:
    """The cached result of key ``key``, or None when there is none; a file that cannot be read, or whose stored
    inputs differ from ``inputs``, raises ``FitCacheError`` naming it."""
    path = _entry(cache, key)
    if not path.is_file():
        return None
    try:
        with path.open("rb") as f:
            stored = pickle.load(f)
    except Exception as exc:
        raise FitCacheError(f"fit cache entry {path} cannot be read ({type(exc).__name__}: {exc}); delete it") from exc
    if not isinstance(stored, dict) or stored.get("inputs") != _plain(inputs):
        raise FitCacheError(f"fit cache entry {path} holds another fit's inputs; delete it")
    return stored["result"]


def write_cached(cache: Path, key: str, inputs: dict, result: dict) -> Path:
    """Store ``result`` under ``key`` (``lib.core.io.atomic_write_bytes``: a temporary file in the folder, then a
    rename: never half-written)."""
    stored = {"inputs": _plain(inputs), "result": result}
    return atomic_write_bytes(_entry(cache, key), pickle.dumps(stored, protocol=pickle.HIGHEST_PROTOCOL))


# ---- worker processes ----
_WORKER: dict = {}


def _init_worker(data: dict, spec: FitSpec) -> None:
    """Worker start: one thread for torch (intra- and inter-op where still settable) and for every BLAS/OpenMP pool
    threadpoolctl finds; the data and spec kept for the worker's fits."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # settable only before the first parallel work
        torch.set_num_interop_threads(1)
    _WORKER.update(data=data, spec=spec, cache={}, limits=threadpool_limits(1))


def _worker_fit(job: FitJob) -> tuple:
    """``("ok", result, code digests, threads)`` (the digests of the fit code this worker imported and the torch
    threads it ran the fit on) or ``("error", type name, message, traceback)``: exceptions travel as text, so any
    error reaches the parent whether or not it pickles."""
    try:
        result = run_fit(job, _WORKER["data"], _WORKER["spec"], _WORKER["cache"])
        return ("ok", result, fitjob.CODE_DIGESTS, torch.get_num_threads())
    except Exception as exc:  # re-raised in the parent, with the fit's name
        return ("error", type(exc).__name__, str(exc), traceback.format_exc())


def worker_environment(names=None) -> dict:
    """What a worker sees (run inside one by the tests): the environment variables ``names`` (default: the thread
    variables and every dispatch pin of ``lib.core.determinism``), torch's thread count and the BLAS/OpenMP pools'
    thread counts (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    from lib.core.determinism import DISPATCH_VARS

    names = list(THREAD_ENV) + list(DISPATCH_VARS) if names is None else names
    return {
        "env": {k: os.environ.get(k) for k in names},
        "torch_threads": torch.get_num_threads(),
        "pools": sorted({(p["user_api"], p["num_threads"]) for p in threadpool_info()}),
    }


def _worker_environment_job(_job) -> dict:
    return worker_environment()


@contextlib.contextmanager
def _thread_env():
    """``THREAD_ENV`` in ``os.environ`` while workers start (spawned children copy it before torch loads), then
    the previous values back."""
    old = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update(THREAD_ENV)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued fits and end the running workers at once (a failed run should not wait for the others'
    fits; Python 3.11's executor has no public terminate)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=10)


def _raise_failed(job: FitJob, etype: str, message: str, tb: str):
    raise FitFailed(f"fit {job.name} failed in a worker process: {etype}: {message}\n--- worker traceback ---\n{tb}")


def train_fits(
    jobs: list[FitJob],
    data: dict,
    spec: FitSpec,
    workers: int,
    progress: bool = True,
    desc: str = "models",
    cache: Path | None = None,
    stats: dict | None = None,
) -> dict:
    """``{job: run_fit result}`` for every job: in this process when ``workers`` is 1 (or one fit to train), else in
    up to ``workers`` spawned single-thread worker processes. A failing fit raises ``FitFailed`` naming it (the
    workers ended, nothing returned; the fits finished before it are in ``cache``).

    cache: the fit cache folder (see the module docstring), or None; ``stats``, when given, gets ``from_cache`` and
    ``trained`` (lists of fit names). With ``workers`` > 1 every fit runs on one thread, a lone fit trained in this
    process too (the key's thread count is the one the fit runs with)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    jobs = list(dict.fromkeys(jobs))
    stats = {} if stats is None else stats
    stats.setdefault("from_cache", [])
    stats.setdefault("trained", [])
    if not jobs:
        return {}
    out, keys = {}, {}
    if cache is not None:
        threads = 1 if workers > 1 else torch.get_num_threads()
        digests = {d: data_digests(data[d]) for d in dict.fromkeys(j.dataset for j in jobs)}
        for job in jobs:
            inputs = fit_key_inputs(job, digests[job.dataset], spec, threads)
            keys[job] = (fit_key(inputs), inputs)
            hit = read_cached(cache, *keys[job])
            if hit is not None:
                out[job] = hit
                stats["from_cache"].append(job.name)

    def keep(job, result, code=None, ran_threads=None):
        """Store a trained fit: only when it ran the code and threads its key names (a worker reports both; in
        this process the files on disk must still be the imported ones, e.g. no module reload since)."""
        if cache is not None:
            code = fitjob.code_digests() if code is None else dict(code)
            ran_threads = torch.get_num_threads() if ran_threads is None else ran_threads
            if code != keys[job][1]["code"]:
                raise FitFailed(
                    f"fit {job.name} ran other fit code than its key names (a file of lib.bias.fitjob.FIT_CODE "
                    "changed on disk, or was reloaded, during the run): the run stops and this fit is not stored"
                )
            if ran_threads != keys[job][1]["threads"]:
                raise FitFailed(
                    f"fit {job.name} ran on {ran_threads} torch threads, its key names {keys[job][1]['threads']}: "
                    "the run stops and this fit is not stored"
                )
            write_cached(cache, *keys[job], result)
        stats["trained"].append(job.name)
        return result

    todo = [j for j in jobs if j not in out]
    if workers == 1 or len(todo) <= 1:
        tensors, before = {}, torch.get_num_threads()
        if workers > 1:
            torch.set_num_threads(1)  # a lone fit of a multi-worker run: one thread, as in a worker
        try:
            for job in tqdm(todo, desc=desc, **quiet(progress)):
                try:
                    result = run_fit(job, data, spec, tensors, progress=progress)
                except Exception as exc:
                    raise FitFailed(f"fit {job.name} failed: {type(exc).__name__}: {exc}") from exc
                out[job] = keep(job, result)
        finally:
            torch.set_num_threads(before)
        return {job: out[job] for job in jobs}
    ctx = multiprocessing.get_context(START_METHOD)
    with _thread_env():
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(todo)), mp_context=ctx, initializer=_init_worker, initargs=(data, spec)
        )
        futures = {pool.submit(_worker_fit, job): job for job in todo}
    try:
        bar = tqdm(total=len(todo), desc=f"{desc} ({min(workers, len(todo))} workers)", **quiet(progress))
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                status, *rest = fut.result()
            except BrokenProcessPool as exc:
                running = [j.name for f, j in futures.items() if not f.done()] or [job.name]
                raise FitFailed(
                    f"a worker process died (killed or crashed) while these fits were unfinished: {', '.join(running)}"
                ) from exc
            if status == "error":
                _raise_failed(job, *rest)
            out[job] = keep(job, *rest)
            bar.update()
        bar.close()
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return {job: out[job] for job in jobs}


def workers_environment(workers: int = 2) -> list[dict]:
    """``worker_environment`` as seen by ``workers`` spawned workers started as ``train_fits`` starts them."""
    ctx = multiprocessing.get_context(START_METHOD)
    with _thread_env():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=({}, None))
        futures = [pool.submit(_worker_environment_job, i) for i in range(workers)]
    try:
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True)
