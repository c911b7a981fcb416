"""Parallel training fits (lib.bias.fits, params nb04.workers): the same results as one process, bit for bit."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.bias import data as biased_data
from lib.bias import experiment as be
from lib.bias import fits
from lib.core.determinism import DISPATCH_VARS, PINNED_ENV, THREAD_ENV
from tests.bias.test_experiment import experiment_config

#: the test-sized grid: two datasets, three objectives (NLL an alias of SCE), two seeds
GRID = dict(datasets=["cmnist", "cdigits"], objectives=["sce", "nll", "l2"], seeds=[0, 1], width=0.0625, batch_size=16,
            max_epochs=2, cka_samples=16, cka_batch_size=8, cka_bootstrap=0, device="cpu")  # fmt: skip


def _config(**kw) -> be.ExperimentConfig:
    return experiment_config(**{**GRID, **kw})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("fits") / "b"
    biased_data.generate(root, seed=0, n_train=48, n_valid=12, n_test=16, datasets=("cmnist", "cdigits"))
    return be.load_splits(root, ["cmnist", "cdigits"], "5pct")


def _same_fit(a: dict, b: dict, name: str) -> None:
    if "error" in a or "error" in b:
        assert a == b, name
        return
    assert list(a["state_dict"]) == list(b["state_dict"]), name
    for k, v in a["state_dict"].items():
        w = b["state_dict"][k]
        assert v.dtype == w.dtype and v.shape == w.shape, f"{name} {k}"
        assert np.array_equal(v, w), f"{name}: weight {k} differs between workers 1 and 2"
    ia, ib = ({k: v for k, v in r["info"].items() if k != "seconds"} for r in (a, b))
    assert ia == ib, f"{name}: history / epochs differ"
    assert a["acc"] == b["acc"], f"{name}: test accuracies differ"


def test_two_workers_return_the_same_weights_and_metrics_as_one(tiny):
    """Every returned weight tensor (parameters and BatchNorm buffers) and every metric (history, epochs, test
    accuracies), compared exactly: the grid's fits and the negative control, on two datasets."""
    one = be.train_all(tiny, _config(workers=1), progress=False)
    two = be.train_all(tiny, _config(workers=2), progress=False)
    jobs = be.grid_jobs(tiny, _config())[0] + be.control_jobs(tiny, _config())
    assert list(one) == list(two) == jobs
    assert len(jobs) == 2 * 2 * 2 + 2, "nll is sce's alias: 2 objectives x 2 seeds x 2 datasets + 2 controls"
    for job in jobs:
        _same_fit(one[job], two[job], job.name)
    # not vacuous: different seeds give different weights
    a, b = (one[fits.FitJob("cmnist", "sce", s)]["state_dict"]["conv1.weight"] for s in (0, 1))
    assert not np.array_equal(a, b)


def test_grid_tables_and_control_equal_with_two_workers(tiny):
    """run_grid's tables, its CKA matrices and the negative control (trained beside the grid) equal across
    workers 1 and 2 (``seconds`` aside)."""
    results = {}
    for w in (1, 2):
        cfg = _config(workers=w, datasets=["cmnist"], objectives=["sce", "l1"])
        data = {"cmnist": tiny["cmnist"]}
        res = be.run_grid(data, cfg, progress=False, untrained=False)
        control = be.negative_control(data, cfg, progress=False, control_fits=res.control_fits)
        results[w] = (res, control)
    (r1, c1), (r2, c2) = results[1], results[2]
    pd.testing.assert_frame_equal(r1.runs.drop(columns="seconds"), r2.runs.drop(columns="seconds"), check_exact=True)
    pd.testing.assert_frame_equal(r1.history, r2.history, check_exact=True)
    assert r1.cka_seeds.keys() == r2.cka_seeds.keys()
    for k in r1.cka_seeds:
        assert np.array_equal(r1.cka_seeds[k], r2.cka_seeds[k], equal_nan=True), k
    pd.testing.assert_frame_equal(c1, c2, check_exact=True)
    assert len(r1.control_fits) == 1 and len(c1) == 1


def test_negative_control_trains_what_the_grid_did_not(tiny):
    cfg = _config(workers=1, datasets=["cmnist"], max_epochs=1)
    data = {"cmnist": tiny["cmnist"]}
    alone = be.negative_control(data, cfg, progress=False)
    beside = be.negative_control(data, cfg, progress=False, control_fits=be.train_all(data, cfg, progress=False))
    pd.testing.assert_frame_equal(alone, beside, check_exact=True)


def test_workers_are_single_thread_and_inherit_the_processor_pins(monkeypatch):
    # a parent with more threads than one, and every pin set: the workers get one thread and the same pins
    for k, v in PINNED_ENV.items():
        monkeypatch.setenv(k, os.environ.get(k, v))
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    seen = fits.workers_environment(2)
    assert len(seen) == 2
    for w in seen:
        assert {k: w["env"][k] for k in THREAD_ENV} == THREAD_ENV
        assert {k: w["env"][k] for k in DISPATCH_VARS} == {k: os.environ[k] for k in DISPATCH_VARS}
        assert w["torch_threads"] == 1
        assert w["pools"] and all(n == 1 for _, n in w["pools"]), w["pools"]
    assert os.environ["OMP_NUM_THREADS"] == "4", "the parent's environment is restored"


def test_a_failing_fit_is_named_and_stops_the_run(tiny):
    cfg = _config(workers=2, datasets=["cmnist"])
    data = be.fit_data({"cmnist": tiny["cmnist"]}, cfg)
    jobs = [fits.FitJob("cmnist", "sce", 0), fits.FitJob("cmnist", "no_such_loss", 1)]
    with pytest.raises(fits.FitFailed, match=r"fit cmnist/no_such_loss/s1 failed in a worker process"):
        fits.train_fits(jobs, data, cfg.fit_spec(), workers=2, progress=False)
    with pytest.raises(fits.FitFailed, match=r"fit cmnist/no_such_loss/s1 failed: "):
        fits.train_fits(jobs[1:] + jobs[:1], data, cfg.fit_spec(), workers=1, progress=False)


def test_workers_setting_is_checked():
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        _config(workers=0)
    with pytest.raises(ValueError, match="torch_threads must be 1"):
        _config(workers=2, torch_threads=2)
    assert _config(workers=1, torch_threads=2).workers == 1


# ---- the opt-in fit cache ----
ROOT = Path(fits.__file__).resolve().parents[2]


def _fresh_python(code: str, *args: str) -> str:
    """stdout of ``code`` run in a fresh interpreter from the repository root (lib importable)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    ).stdout


def _cache_case(tiny):
    cfg = _config(workers=1, datasets=["cmnist"], objectives=["sce"], seeds=[0])
    data = {"cmnist": tiny["cmnist"]}
    return cfg, be.fit_data(data, cfg), be.grid_jobs(data, cfg)[0] + be.control_jobs(data, cfg)


def test_fit_cache_returns_the_trained_fits_bit_for_bit_and_a_new_setting_trains_again(tiny, tmp_path):
    cfg, fd, jobs = _cache_case(tiny)
    names = [j.name for j in jobs]
    first_stats, second_stats, other_stats = {}, {}, {}
    first = fits.train_fits(jobs, fd, cfg.fit_spec(), 1, progress=False, cache=tmp_path, stats=first_stats)
    assert first_stats == {"from_cache": [], "trained": names}
    assert len(list(tmp_path.glob("*.pkl"))) == len(jobs) and not list(tmp_path.glob(".*"))  # no temporary left
    second = fits.train_fits(jobs, fd, cfg.fit_spec(), 1, progress=False, cache=tmp_path, stats=second_stats)
    assert second_stats == {"from_cache": names, "trained": []}
    for job in jobs:
        _same_fit(first[job], second[job], job.name)
        if "info" in first[job]:
            assert first[job]["info"]["seconds"] == second[job]["info"]["seconds"]  # the training time when it ran
    # one setting changed: every fit is a new key and trains
    fits.train_fits(jobs, fd, _config(workers=1, max_epochs=1).fit_spec(), 1, False, cache=tmp_path, stats=other_stats)
    assert other_stats == {"from_cache": [], "trained": names}
    assert len(list(tmp_path.glob("*.pkl"))) == 2 * len(jobs)


def test_fit_key_changes_with_everything_the_fit_reads(tiny, monkeypatch):
    cfg, fd, _ = _cache_case(tiny)
    job, spec = fits.FitJob("cmnist", "sce", 0), cfg.fit_spec()
    digests = fits.data_digests
    pinned = {
        "dispatch": "pinned-AVX2",
        "dispatch_env": {"ATEN_CPU_CAPABILITY": "avx2"},
        "cpu_model": "A",
        "cpu_level": "AVX512",
    }
    monkeypatch.setattr(fits.determinism, "machine_info", lambda: pinned)

    def key(job=job, dig=None, spec=spec, threads=1, code=None):
        return fits.fit_key(
            fits.fit_key_inputs(job, digests(fd["cmnist"]) if dig is None else dig, spec, threads, code)
        )

    base = key()
    # the code this process imported, not what is on disk when the key is made
    monkeypatch.setattr(fits.fitjob, "code_digests", lambda: {p: "0" * 64 for p in fits.fitjob.FIT_CODE})
    assert key() == base
    monkeypatch.undo()
    monkeypatch.setattr(fits.determinism, "machine_info", lambda: pinned)
    assert "nondefault" not in fits.fit_key_inputs(job, digests(fd["cmnist"]), spec, 1)  # torch's defaults
    torch_dtype = fits.torch.get_default_dtype()
    try:
        fits.torch.set_default_dtype(fits.torch.float64)
        assert key() != base
    finally:
        fits.torch.set_default_dtype(torch_dtype)
    monkeypatch.setenv("ONEDNN_DEFAULT_FPMATH_MODE", "BF16")
    assert key() != base
    monkeypatch.delenv("ONEDNN_DEFAULT_FPMATH_MODE")
    assert key() == base
    assert key() == base and len(base) == 64
    assert key(job=fits.FitJob("cmnist", "sce", 1)) != base
    assert key(job=fits.FitJob("cmnist", "l1", 0)) != base
    assert key(spec=_config(learning_rate=0.002).fit_spec()) != base
    assert key(threads=2) != base
    for split in ("train", "test"):  # one bit of one pixel, of the training or the test images
        pixel = fd["cmnist"][split][0].copy()
        pixel.reshape(-1)[0] ^= 1
        assert key(dig=digests({**fd["cmnist"], split: (pixel, *fd["cmnist"][split][1:])})) != base
    assert key(code={**fits.fitjob.CODE_DIGESTS, "lib/bias/training.py": "0" * 64}) != base
    assert key(spec=_config(device="cpu", augment="normalise").fit_spec()) != base
    # the pins decide the kernels; without them the processor's model and level do too
    monkeypatch.setattr(fits.determinism, "machine_info", lambda: {**pinned, "cpu_model": "B", "cpu_level": "AVX2"})
    assert key() == base  # pinned: the same kernels on every processor of this kind
    native = {**pinned, "dispatch": "native", "dispatch_env": {}}
    monkeypatch.setattr(fits.determinism, "machine_info", lambda: native)
    native_a = key()
    monkeypatch.setattr(fits.determinism, "machine_info", lambda: {**native, "cpu_level": "AVX2"})
    native_level = key()
    monkeypatch.setattr(fits.determinism, "machine_info", lambda: {**native, "cpu_model": "B"})
    assert len({base, native_a, native_level, key()}) == 4
    # a GPU fit is refused (its kernels are not pinned here)
    monkeypatch.setattr(fits, "pick_device", lambda _: fits.torch.device("cuda"))
    with pytest.raises(fits.FitCacheError, match="CPU fits only"):
        key()


def test_fit_code_lists_every_file_a_fit_runs():
    """Importing lib.bias.fitjob (the fit's code) in a fresh interpreter loads no file of lib outside FIT_CODE
    (package files that import nothing aside), so a change to the code a fit runs is always a new key; the pool and
    cache code (lib.bias.fits) is not part of it."""
    import ast

    code = (
        "import sys, lib.bias.fitjob\n"
        "print('\\n'.join(m.__file__ for n, m in sys.modules.items()"
        " if (n == 'lib' or n.startswith('lib.')) and getattr(m, '__file__', None)))"
    )
    root = ROOT
    loaded = {str(Path(f).resolve().relative_to(root)) for f in _fresh_python(code).split()}

    def imports_nothing(path):
        return not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(ast.parse(path.read_text())))

    packages = {p for p in loaded if p.endswith("__init__.py") and imports_nothing(root / p)}
    code_files = set(fits.fitjob.FIT_CODE)
    assert "lib/bias/training.py" in loaded and loaded - packages <= code_files and "lib/bias/fits.py" not in code_files
    assert all((root / p).is_file() for p in code_files) and set(fits.fitjob.CODE_DIGESTS) == code_files


def test_fit_cache_entries_that_cannot_be_read_are_a_clear_error(tiny, tmp_path):
    cfg, fd, jobs = _cache_case(tiny)
    job = jobs[0]
    inputs = fits.fit_key_inputs(job, fits.data_digests(fd["cmnist"]), cfg.fit_spec(), 1)
    key = fits.fit_key(inputs)
    (tmp_path / f"{key}.pkl").write_bytes(b"not a pickle")
    with pytest.raises(fits.FitCacheError, match=f"{key}.pkl cannot be read"):
        fits.train_fits([job], fd, cfg.fit_spec(), 1, progress=False, cache=tmp_path)
    fits.write_cached(tmp_path, key, {**inputs, "threads": 99}, {"error": "x"})  # another fit's inputs at this key
    with pytest.raises(fits.FitCacheError, match="another fit's inputs"):
        fits.read_cached(tmp_path, key, inputs)
    assert fits.read_cached(tmp_path, "0" * 64, inputs) is None


def test_fit_cache_folder_is_opt_in(monkeypatch, tmp_path):
    monkeypatch.delenv(fits.FIT_CACHE_ENV, raising=False)
    assert fits.cache_dir() is None
    monkeypatch.setenv(fits.FIT_CACHE_ENV, "  ")
    assert fits.cache_dir() is None
    monkeypatch.setenv(fits.FIT_CACHE_ENV, str(tmp_path))
    assert fits.cache_dir() == tmp_path


def test_run_time_says_how_many_fits_came_from_the_cache():
    cfg = _config()
    clock = {"start": 0.0, "wall_seconds": 120.0, "load_start": 0.5, "load_end": 0.5, "cores": 2}
    assert "fit cache" not in be.budget_line(cfg, dict(clock))
    assert "fit cache" not in be.budget_line(cfg, dict(clock), {"from_cache": [], "trained": ["a"]})
    line = be.budget_line(cfg, dict(clock), {"from_cache": ["a", "b"], "trained": ["c"]})
    assert line.startswith("this run took 2.0 min (2 of 3 training fits were read from the fit cache (NB04_FIT_CACHE")
    assert "so this time does not include their training;" in line
    two = _config(workers=2)
    timed = be.budget_line(two, dict(clock), {"from_cache": ["a"], "trained": []}, train_seconds=5400.0)
    assert (
        "their training: the grid's fits took 90.0 min when they ran, summed over the fits (the negative control's "
        in (timed)
    )
    assert be.cache_counts({"from_cache": ["a", "b"], "trained": ["c"]}) == {"from_cache": 2, "trained": 1}


def test_run_grid_reads_the_fit_cache_named_by_the_environment(tiny, tmp_path, monkeypatch):
    """With NB04_FIT_CACHE set, a second run_grid reads every fit (grid and control) and gives the same tables and
    CKA matrices, seconds included; GridResult.fit_cache says so; unset, it is {}."""
    cfg = _config(workers=1, datasets=["cmnist"], objectives=["sce"], seeds=[0])
    data = {"cmnist": tiny["cmnist"]}
    monkeypatch.delenv(fits.FIT_CACHE_ENV, raising=False)
    assert be.run_grid(data, cfg, progress=False, untrained=False).fit_cache == {}
    monkeypatch.setenv(fits.FIT_CACHE_ENV, str(tmp_path))
    first = be.run_grid(data, cfg, progress=False, untrained=False)
    second = be.run_grid(data, cfg, progress=False, untrained=False)
    assert be.cache_counts(first.fit_cache) == {"from_cache": 0, "trained": 2}  # sce s0 and the control
    assert be.cache_counts(second.fit_cache) == {"from_cache": 2, "trained": 0}
    pd.testing.assert_frame_equal(first.runs, second.runs, check_exact=True)
    pd.testing.assert_frame_equal(first.history, second.history, check_exact=True)
    for k in first.cka_seeds:
        assert np.array_equal(first.cka_seeds[k], second.cka_seeds[k], equal_nan=True), k


def test_fit_cache_partly_filled_with_two_workers(tiny, tmp_path):
    """review25s16cache M1: one fit cached, the others trained in two workers: every result returned, in job order,
    equal to a run without the cache."""
    cfg = _config(workers=2, datasets=["cmnist"], objectives=["sce", "l1"], seeds=[0])
    data = {"cmnist": tiny["cmnist"]}
    fd, spec = be.fit_data(data, cfg), cfg.fit_spec()
    jobs = be.grid_jobs(data, cfg)[0] + be.control_jobs(data, cfg)
    assert len(jobs) == 3
    fits.train_fits(jobs[:1], fd, spec, 2, progress=False, cache=tmp_path)
    stats = {}
    got = fits.train_fits(jobs, fd, spec, 2, progress=False, cache=tmp_path, stats=stats)
    assert list(got) == jobs and stats == {"from_cache": [jobs[0].name], "trained": [j.name for j in jobs[1:]]}
    plain = fits.train_fits(jobs, fd, spec, 2, progress=False)
    for job in jobs:
        _same_fit(got[job], plain[job], job.name)


def test_a_worker_that_ran_other_fit_code_is_not_stored(tiny, tmp_path, monkeypatch):
    """review25s16cache M3: the key names the code this process imported; a worker reporting other code (a file
    changed on disk during the run) stops the run and stores nothing."""
    cfg = _config(workers=2, datasets=["cmnist"], objectives=["sce"], seeds=[0])
    data = {"cmnist": tiny["cmnist"]}
    jobs = be.grid_jobs(data, cfg)[0] + be.control_jobs(data, cfg)
    monkeypatch.setattr(fits.fitjob, "CODE_DIGESTS", {**fits.fitjob.CODE_DIGESTS, "lib/bias/training.py": "0" * 64})
    with pytest.raises(fits.FitFailed, match="ran other fit code"):
        fits.train_fits(jobs, be.fit_data(data, cfg), cfg.fit_spec(), 2, progress=False, cache=tmp_path)
    assert not list(tmp_path.glob("*.pkl"))


def test_fit_key_is_the_same_in_a_fresh_process(tiny, tmp_path):
    """The key is a function of the fit's inputs, not of the process: a fresh interpreter makes the same one."""
    import pickle

    cfg, fd, jobs = _cache_case(tiny)
    args = (jobs[0], fits.data_digests(fd["cmnist"]), cfg.fit_spec())
    (tmp_path / "args.pkl").write_bytes(pickle.dumps(args))
    code = (
        "import pickle, sys; from lib.bias import fits\n"
        "job, dig, spec = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "print(fits.fit_key(fits.fit_key_inputs(job, dig, spec, 1)))"
    )
    assert _fresh_python(code, str(tmp_path / "args.pkl")).strip() == fits.fit_key(
        fits.fit_key_inputs(*args[:2], args[2], 1)
    )


def test_an_in_process_fit_that_ran_other_code_or_threads_is_not_stored(tiny, tmp_path, monkeypatch):
    """review25s16cache2 n2, n4: a fit trained in this process is stored only while the files on disk are the
    imported ones (no reload since) and it ran on the key's thread count."""
    cfg, fd, jobs = _cache_case(tiny)
    real = fits.fitjob.code_digests
    monkeypatch.setattr(fits.fitjob, "code_digests", lambda: {**real(), "lib/bias/training.py": "0" * 64})
    with pytest.raises(fits.FitFailed, match="ran other fit code"):
        fits.train_fits(jobs[:1], fd, cfg.fit_spec(), 1, progress=False, cache=tmp_path)
    monkeypatch.undo()
    before = fits.torch.get_num_threads()
    run_fit = fits.run_fit

    def two_threads(*a, **k):
        fits.torch.set_num_threads(before + 1)
        return run_fit(*a, **k)

    monkeypatch.setattr(fits, "run_fit", two_threads)
    try:
        with pytest.raises(fits.FitFailed, match=f"ran on {before + 1} torch threads, its key names {before}"):
            fits.train_fits(jobs[:1], fd, cfg.fit_spec(), 1, progress=False, cache=tmp_path)
    finally:
        fits.torch.set_num_threads(before)
    assert not list(tmp_path.glob("*.pkl"))
