"""Parallel training fits (lib.bias.fits, params nb04.workers): the same results as one process, bit for bit."""

import os

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
