"""lib.bias.cka_claims: the paper's CKA statements as scores per model, tested over models."""

import numpy as np
import pytest

from lib.bias import cka_claims as cc


def _blocks(n=12, cut=6, inside=0.9, across=0.2):
    m = np.full((n, n), across)
    m[:cut, :cut] = inside
    m[cut:, cut:] = inside
    np.fill_diagonal(m, 1.0)
    return m


def test_change_after_layer_and_progressive_on_known_matrices():
    m = _blocks()
    assert cc.change_after(m, 7) == pytest.approx(0.9 - 0.2)  # layer 7 (1-based) starts the late box
    assert np.isnan(cc.change_after(m, 12)) and np.isnan(cc.change_after(m, 1))
    n = 10
    grad = np.fromfunction(lambda i, j: 1 - np.abs(i - j) / n, (n, n))  # similarity falls with distance
    assert cc.progressive(grad) == pytest.approx(1.0)
    rising = np.fromfunction(lambda i, j: 0.1 + np.abs(i - j) / n, (n, n))
    assert cc.progressive(rising) == pytest.approx(-1.0)


def _models(shift_sos: float, noise: float, seeds=(0, 1, 2), objectives=("sce", "bce", "l1", "sos")):
    rng = np.random.default_rng(0)
    mats = {}
    for o in objectives:
        for s in seeds:
            base = _blocks(inside=0.9 if o == "sos" else 0.9 - shift_sos, across=0.2)
            mats[("d", o, s)] = np.clip(base + rng.normal(0, noise, base.shape), 0, 1)
    return mats


def test_block_claim_and_noise_floor_follow_the_data():
    names = [f"layer{1 + i // 6}.0.conv{i}" for i in range(12)]
    strong, _ = cc.cka_claims(_models(0.4, 0.01), names, paper_layer=7)
    assert strong["d"]["block_structured"]["verdict"] == "supported"
    assert strong["d"]["noise_floor"]["verdict"] == "above the seed noise floor"
    assert strong["d"]["change_after_layer"]["verdict"] == "supported"
    none, _ = cc.cka_claims(_models(0.0, 0.05), names, paper_layer=7)
    assert none["d"]["block_structured"]["verdict"] == "not established"
    assert none["d"]["noise_floor"]["verdict"] == "within the seed noise floor"
    table = cc.claims_table(strong)
    assert set(table["verdict"]) >= {"supported", "above the seed noise floor"}


def test_one_seed_is_not_established():
    names = [f"layer{1 + i // 6}.0.conv{i}" for i in range(12)]
    claims, _ = cc.cka_claims(_models(0.4, 0.01, seeds=(0,)), names, paper_layer=7)
    assert claims["d"]["progressive"]["verdict"].startswith("not established")
    assert claims["d"]["noise_floor"]["verdict"].startswith("not measured")
