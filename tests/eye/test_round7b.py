"""Round 7b of issue 24 (review24s7): the interpretation's leak verdicts name a 1-seed side (B1), the per-pair side
clause compares the SETS of sides chosen (B2), the same-source bullet does not claim a fundus-only reading (B3), the
seeds behind the cross-protocol point values (M1), Table 2's seeds column (M2), the claim's seeds (M3) and the seeds
of each protocol's side selection (M5)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.eye import leak as leak_pairs
from lib.eye import prose, prose_results, prose_tuning, table2
from tests.eye.test_experiment import _cfg
from tests.eye.test_round7 import _chosen


def _seeded_cfg(**kw):
    """Seeds [0, 1, 2]: logistic regression on every seed, the literal CBNN on all three in the headline only."""
    return _cfg(seeds=[0, 1, 2], seed_models=["logreg"], headline_seed_models=["cbnn_onehot"], **kw)


def _entry(ba: float, n_seeds: int = 1) -> dict:
    return {
        "accuracy": 0.8,
        "accuracy_ci": [0.7, 0.9],
        "balanced_accuracy": ba,
        "balanced_accuracy_ci": [ba - 0.05, ba + 0.05],
        "ci": prose.ci_label(n_seeds),
        "n_seeds": n_seeds,
        "recall": {"a": ba, "b": ba, "a_ci": [ba - 0.1, ba + 0.1], "b_ci": [ba - 0.1, ba + 0.1]},
    }


def _per(acc: float, seeds: int, shift: float = 0.0) -> dict:
    boot = np.linspace(-0.01, 0.01, 50) + acc + shift
    return {"accuracy": acc, "boot": boot, "balanced_accuracy": acc, "balanced_boot": boot, "seeds": seeds}


def _interpretation(cfg, leak, read, chosen=None, main="neardup"):
    return prose_results.interpretation(
        read,
        leak,
        cfg,
        "cbnn_onehot",
        {"a": 0.9, "b": 0.9},
        ["a", "b"],
        None,
        pd.DataFrame(),
        main,
        pairs=leak_pairs.LEAK_PAIRS,
        chosen=chosen,
    )


def test_leak_verdicts_name_a_one_seed_side():
    """B1: a difference with a 1-seed side (1 vs 3 seeds) says so in its verdict and its clause; 3 vs 3 does not."""
    cfg = _cfg(models=("logreg", "cbnn_onehot"), protocols=["neardup", "linked"], seeds=[0, 1, 2])
    read = {"neardup": {"cbnn_onehot": _entry(0.7, 3)}}
    mixed = {"cbnn_onehot": {"linked": _per(0.8, 1), "neardup": _per(0.7, 3)}}
    line = next(x for x in _interpretation(cfg, mixed, read).splitlines() if x.startswith("- *linked - neardup*"))
    assert "(indicative with a 1-seed side, not established: the CI excludes 0 but holds no seed variability)" in line
    assert "seeds linked 1, neardup 3: the CI omits the retraining variability of the 1-seed side" in line
    both = {"cbnn_onehot": {"linked": _per(0.8, 3), "neardup": _per(0.7, 3)}}
    line = next(x for x in _interpretation(cfg, both, read).splitlines() if x.startswith("- *linked - neardup*"))
    assert "(established)" in line and "1-seed" not in line


def test_one_seed_line_of_the_leak_text_covers_mixed_pairs():
    """B1/M4: the 'One seed only' line no longer calls a difference against a seeded side a plain group bootstrap."""
    cfg = _seeded_cfg(models=("logreg", "cbnn_onehot"), protocols=["neardup", "linked"])
    line = next(x for x in prose_results.leak_text(cfg, [], ("cbnn_onehot",)).splitlines() if x.startswith("One"))
    assert "a paired difference with a 1-seed side omits that side's retraining variability" in line
    assert cfg.label("cbnn_onehot") + " in linked" in line


def test_side_clause_compares_sets_of_sides_not_counts():
    """B2: the same side in both protocols over different seed counts is no side confound; different sets are."""
    cfg = _cfg(
        models=("som", "cbnn_onehot"), tuning={"som_side": [8, 16, 32]}, protocols=["neardup", "linked"], seeds=[0]
    )
    read = {"neardup": {"cbnn_onehot": _entry(0.7)}}
    leak = {"cbnn_onehot": {"linked": _per(0.8, 1), "neardup": _per(0.7, 3)}}
    same = _chosen({"neardup": [16] * 9, "linked": [16] * 3})
    line = next(x for x in _interpretation(cfg, leak, read, same).splitlines() if x.startswith("- *linked"))
    assert "SOM side it inherits" not in line
    differ = _chosen({"neardup": [16] * 9, "linked": [16, 32, 16]})
    line = next(x for x in _interpretation(cfg, leak, read, differ).splitlines() if x.startswith("- *linked"))
    assert "also the SOM side it inherits: " in line
    mix = _chosen({"neardup": [8, 16, 16], "linked": [16, 8, 8]})
    t = prose.side_confound_text(cfg, ("cbnn_onehot",), mix)
    assert "differ between folds (every protocol chose the same set of sides)" in t
    assert "differ between protocols" in prose.side_confound_text(cfg, ("cbnn_onehot",), differ)


def test_same_source_bullet_does_not_claim_a_fundus_only_reading():
    """B3: other acquisition cues are not excluded inside the block."""
    cfg = _cfg(models=("cbnn_onehot",), protocols=["neardup"])
    read = {"neardup": {"cbnn_onehot": _entry(0.7)}}
    block = {"key": "jpg 40x40", "classes": ["b"], "counts": {"b": 5}}
    t = prose_results.interpretation(
        read,
        {},
        cfg,
        "cbnn_onehot",
        {"a": 0.9, "b": 0.9},
        ["a", "b"],
        None,
        pd.DataFrame(),
        "neardup",
        same_source=(block, {"cbnn_onehot": _entry(0.6)}),
    )
    line = next(x for x in t.splitlines() if x.startswith("- Inside one acquisition source"))
    assert "fundus itself" not in line and "other acquisition cues (colour, field of view) are not excluded" in line


def test_plain_minus_headline_names_the_seeds_per_model():
    """M1: the cross-protocol point values say how many seeds stand behind each side."""
    cfg = _cfg(models=("logreg", "cbnn_onehot"), protocols=["neardup", "plain"], seeds=[0, 1, 2])
    read = {
        "neardup": {"logreg": _entry(0.6, 3), "cbnn_onehot": _entry(0.7, 3)},
        "plain": {"logreg": _entry(0.65, 3), "cbnn_onehot": _entry(0.8, 1)},
    }
    line = next(x for x in _interpretation(cfg, {}, read).splitlines() if x.startswith("- The paper's protocol"))
    assert "seeds per model (plain / neardup; 1: seed 0 only" in line
    assert f"{cfg.label('cbnn_onehot')} 1 / 3" in line and f"{cfg.label('logreg')} 3 / 3" in line


def table2_one_model(n_seeds: int) -> pd.DataFrame:
    """Table 2 against the paper (a 0.9, b 0.7, mean 0.8) for one model "m" on ``n_seeds`` seeds (class a at the
    paper's value, b below it)."""
    entry = {
        "n_seeds": n_seeds,
        "ci": prose.ci_label(n_seeds),
        "recall": {"a": 0.9, "a_ci": [0.85, 0.95], "b": 0.5, "b_ci": [0.4, 0.6], "mean": 0.7, "mean_ci": [0.6, 0.8]},
    }
    return table2.table2_vs_paper({"m": entry}, {"a": 0.9, "b": 0.7, "mean": 0.8}, ["a", "b"], str)


def test_table2_rows_carry_seeds_and_ci_resamples():
    """M2: every Table 2 row says its seeds and what its CI resamples; in_ci_text names the seeds of a hit."""
    t = table2_one_model(1)
    assert t["seeds"].tolist() == [1] and "no retraining variability" in t["CI resamples"].iloc[0]
    text = prose_results.in_ci_text({"plain": t})
    assert "paper 90.00 (1 seed)" in text and "seed(s)" not in text and "A CI of a model run on one seed omits" in text
    assert "A CI of a model run on one seed" not in prose_results.in_ci_text({"plain": table2_one_model(3)})


def test_outside_the_tied_group_on_a_one_seed_ci_is_indicative():
    """review24s10 m1: a model left out of the tied top group by a paired CI with a 1-seed side is named as
    indicative, not established; with 3 seeds on both sides no such line."""
    cfg = _cfg(models=("logreg", "cbnn_onehot"), protocols=["neardup"], seeds=[0, 1, 2])
    head = "- Outside the tied group on a paired CI with a 1-seed side (indicative, not established): "
    one = {"neardup": {"logreg": _entry(0.6, 3), "cbnn_onehot": _entry(0.7, 1)}}
    lines = _interpretation(cfg, {}, one).splitlines()
    assert head + cfg.label("logreg") + "." in lines
    three = {"neardup": {"logreg": _entry(0.6, 3), "cbnn_onehot": _entry(0.7, 3)}}
    assert not any(x.startswith(head) for x in _interpretation(cfg, {}, three).splitlines())


def test_claim_seeds_text_states_both_protocols():
    """M3: the claim's seeds in the paper's protocol (1) against the honest one (3), from the parameters."""
    cfg = _seeded_cfg(models=("logreg", "cbnn_onehot"), protocols=["neardup", "plain"])
    t = prose.claim_seeds_text(cfg, "cbnn_onehot")
    assert f"paper's protocol (plain): {cfg.label('cbnn_onehot')} on seeds [0], 95% CI a group bootstrap" in t
    assert "honest protocol (neardup)" in t and "on seeds [0, 1, 2]" in t and "different numbers of seeds" in t


def test_side_edge_text_names_the_seeds_per_protocol():
    """M5: each protocol's side choices are labelled with the seeds that ran a side selection."""
    cfg = _seeded_cfg(
        models=("som", "cbnn_onehot", "logreg"), tuning={"som_side": [8, 16, 32]}, protocols=["neardup", "linked"]
    )
    edges = pd.DataFrame(
        [
            {"protocol": p, "model": prose.SIDE_ROW, "chosen (times)": c, "on a grid edge": "0 of 3", "edges hit": ""}
            for p, c in (("neardup", "side 16 (9)"), ("linked", "side 16 (3)"))
        ]
    )
    t = prose_tuning.side_edge_text(edges, None, cfg, "cbnn_onehot")
    assert "*neardup* (the headline): side 16 (9) (seeds [0, 1, 2]);" in t and "*linked*: side 16 (3) (seed 0);" in t
