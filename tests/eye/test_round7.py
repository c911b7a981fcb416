"""Round 7 of issue 24 (review24s6b): the leak text's headline-only sentence (N1), the SOM side's own tuning rows
and the chosen-side confound (N3), the literal CBNN on one seed outside the headline (N2 a), macro-F1 over the
classes scored (N4), the same-source reading (N5) and the learning-check figure's styles (N7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.eye import experiment, leak, plots, prose, prose_results, prose_tuning, protocols, readings
from tests.eye.test_experiment import _blobs, _cfg


def _chosen(sides: dict) -> pd.DataFrame:
    """A tuning table holding only side-selection rows: {protocol: [side per fold]}."""
    return pd.DataFrame(
        [
            {"protocol": p, "seed": 0, "fold": k + 1, "model": protocols.SIDE_ROW, "setting": f"side {s}"}
            for p, ss in sides.items()
            for k, s in enumerate(ss)
        ]
    )


def test_no_headline_only_sentence_when_the_models_run_in_other_protocols():
    """N1: a model run in linked (a non-sensitivity protocol) is not 'run in the headline protocol only', even when
    the last protocol is the sensitivity check that runs logistic regression alone."""
    cfg = _cfg(
        models=("logreg", "mlp", "cbnn_onehot"),
        protocols=["neardup", "linked", "neardup_all"],
        other_models=["logreg", "mlp", "cbnn_onehot"],
        sensitivity_models=["logreg"],
    )
    text = prose_results.leak_text(cfg, leak.LEAK_PAIRS, leak.LEAK_MODELS)
    assert "Run in the headline protocol only" not in text
    only = _cfg(
        models=("logreg", "mlp", "cbnn_onehot"),
        protocols=["neardup", "linked", "neardup_all"],
        other_models=["logreg", "cbnn_onehot"],
        sensitivity_models=["logreg"],
    )
    text = prose_results.leak_text(only, leak.LEAK_PAIRS, leak.LEAK_MODELS)
    line = next(x for x in text.splitlines() if x.startswith("Run in the headline protocol only"))
    assert only.label("mlp") in line and only.label("logreg") not in line and only.label("cbnn_onehot") not in line


def test_side_selection_rows_flag_the_side_edge_for_the_som_and_its_networks():
    """N3: every outer fold gets a side-selection row with its grid-edge flag; a SOM-based network's row flags its
    inherited side too; the edge summary and the side text read every protocol."""
    X, y = _blobs(120)
    cfg = _cfg(
        models=("cbnn_onehot", "logreg"),
        tuning={"som_side": [2, 3], "cbnn_hidden": [8]},
        n_splits=3,
        protocols=["neardup"],
    )
    runs = protocols.run_protocols(X, y, {"neardup": None}, cfg, progress=False)
    chosen = experiment.chosen_table(runs)
    side = chosen[chosen["model"] == protocols.SIDE_ROW]
    assert len(side) == 3 and side["fold"].tolist() == [1, 2, 3]
    for _, row in side.iterrows():  # both sides are grid edges of a 2-value grid
        assert row["grid edge"] in ("side low", "side high")
    net = chosen[chosen["model"] == "cbnn_onehot"]
    for (_, s), (_, n) in zip(side.iterrows(), net.iterrows()):
        assert s["grid edge"] in n["grid edge"] and n["setting"].startswith(s["setting"].split(",")[0])
    edges = experiment.edge_summary(chosen, cfg)
    srow = edges[edges["model"] == protocols.SIDE_ROW].iloc[0]
    assert srow["grid"] == "side [2, 3]" and srow["on a grid edge"] == "3 of 3"
    nrow = edges[edges["model"] == "cbnn_onehot"].iloc[0]
    assert "side [2, 3]" in nrow["grid"] and nrow["on a grid edge"] == "3 of 3"
    two = pd.concat([edges, edges.assign(protocol="plain")], ignore_index=True)
    text = prose_tuning.side_edge_text(
        two, None, _cfg(tuning={"som_side": [2, 3]}, protocols=["neardup", "plain"]), "x"
    )
    assert "*neardup* (the headline)" in text and "*plain*:" in text and "3 of 3" in text


def test_side_confound_compares_the_chosen_sides():
    """N3: the confound clause is stated from the sides actually chosen, names the literal CBNN's inherited side, and
    is empty when every protocol chose one and the same side, whatever the grids."""
    cfg = _cfg(
        models=("som", "cbnn_onehot", "logreg"), tuning={"som_side": [8, 16, 32]}, protocols=["neardup", "plain"]
    )
    differ = _chosen({"neardup": [8, 16, 8], "plain": [32, 32, 32]})
    t = prose.side_confound_text(cfg, ("cbnn_onehot", "logreg"), differ)
    assert "plain: side 32 in 3 of 3 (top edge)" in t and "neardup: side 8 in 2 of 3 (low edge), side 16 in 1 of 3" in t
    assert "include its inherited side" in t and cfg.label("logreg") not in t
    assert prose.side_confound_text(cfg, ("logreg",), differ) == ""
    same = _chosen({"neardup": [16, 16], "plain": [16, 16, 16]})
    assert prose.side_confound_text(cfg, ("cbnn_onehot",), same) == ""
    assert "same SOM side (16)" in prose_results.leak_footnote(cfg, ("cbnn_onehot",), same)
    assert "top edge" in prose_results.leak_footnote(cfg, ("cbnn_onehot",), differ)
    assert "include its inherited side" in prose_results.leak_text(cfg, [], ("cbnn_onehot",), differ)


def test_literal_cbnn_on_one_seed_outside_the_headline_skips_the_side_selection():
    """N2 (a): with the literal CBNN among the headline's seed models only, a later seed of another protocol runs
    logistic regression alone: no SOM side selection there; the leak text names the one-seed protocols."""
    X, y = _blobs(120)
    cfg = _cfg(
        models=("cbnn_onehot", "logreg"),
        tuning={"som_side": [2, 3], "cbnn_hidden": [8]},
        n_splits=2,
        seeds=[0, 1],
        protocols=["neardup", "linked"],
        other_models=["cbnn_onehot", "logreg"],
        seed_models=["logreg"],
        headline_seed_models=["cbnn_onehot"],
    )
    assert cfg.cv.model_seeds("neardup", "cbnn_onehot") == (0, 1) and cfg.cv.model_seeds("linked", "cbnn_onehot") == (
        0,
    )
    runs = protocols.run_protocols(X, y, {"neardup": None, "linked": None}, cfg, progress=False)
    assert [list(r["pred"]) for r in runs["linked"]] == [["cbnn_onehot", "logreg"], ["logreg"]]
    assert "som_selection" not in runs["linked"][1]["seconds"] and "som_selection" in runs["neardup"][1]["seconds"]
    chosen = experiment.chosen_table(runs)
    side = chosen[chosen["model"] == protocols.SIDE_ROW]
    assert set(zip(side["protocol"], side["seed"])) == {("neardup", 0), ("neardup", 1), ("linked", 0)}
    text = prose_results.leak_text(cfg, leak.LEAK_PAIRS, ("cbnn_onehot", "logreg"))
    line = next(x for x in text.splitlines() if x.startswith("One seed only"))
    assert f"{cfg.label('cbnn_onehot')} in linked" in line and cfg.label("logreg") not in line


def test_params_real_runs_the_literal_cbnn_on_one_seed_outside_the_headline():
    from lib.core.params import load_params

    cv = load_params("nb03", run="real")["cv"]
    c = protocols.CVConfig(**cv)
    main, *rest = c.protocols
    assert len(c.model_seeds(main, "cbnn_onehot")) == len(c.seeds) > 1
    assert all(c.model_seeds(p, "cbnn_onehot") == c.seeds[:1] for p in rest)
    assert all(c.model_seeds(p, "logreg") == c.seeds for p in rest if p not in protocols.SENSITIVITY)


def test_macro_f1_counts_only_the_classes_scored():
    """N4: a class with no image scored but predicted (outside a same-source block) is not an F1 of 0."""
    y = np.array([0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 2, -1])  # image 4 (class 2) outside the protocol; class 2 is predicted once
    s = readings.weighted_scores(np.ones(len(y)), y, pred, None, 3)
    f1 = [2 * 2 / (2 * 2 + 0 + 0), 2 * 1 / (2 * 1 + 1 + 0)]  # class 0: tp 2; class 1: tp 1, fn 1; class 2 absent
    np.testing.assert_allclose(s["macro_f1"], np.mean(f1))
    np.testing.assert_allclose(s["balanced_accuracy"], np.mean([1.0, 0.5]))


def test_interpretation_reads_the_same_source_block_for_the_best_model():
    """N5: one bullet, per-class recall inside the block against all scored originals, for the best model."""
    cfg = _cfg(models=("logreg",), protocols=["neardup"])

    def entry(a, b):
        return {
            "accuracy": 0.8,
            "accuracy_ci": [0.7, 0.9],
            "balanced_accuracy": (a + b) / 2,
            "balanced_accuracy_ci": [0.5, 0.9],
            "ci": "ci",
            "n_seeds": 1,
            "recall": {"a": a, "b": b, "a_ci": [a - 0.1, a + 0.1], "b_ci": [b - 0.1, b + 0.1]},
        }

    read = {"neardup": {"logreg": entry(0.9, 0.6)}}
    block = {"key": "jpg 40x40", "classes": ["b"], "counts": {"b": 5}}
    t = prose_results.interpretation(
        read,
        {},
        cfg,
        "logreg",
        {"a": 0.9, "b": 0.9},
        ["a", "b"],
        None,
        pd.DataFrame(),
        "neardup",
        same_source=(block, {"logreg": entry(0.0, 0.45)}),
    )
    line = next(x for x in t.splitlines() if x.startswith("- Inside one acquisition source"))
    assert "jpg 40x40" in line and "b 45.00 % [35.00, 55.00] against 60.00 %" in line and "a " not in line.split(":")[1]
    assert "over these 1 classes" in line
    assert "Inside one acquisition source" not in prose_results.interpretation(
        read, {}, cfg, "logreg", {"a": 0.9, "b": 0.9}, ["a", "b"], None, pd.DataFrame(), "neardup"
    )


def test_loss_curves_give_every_network_its_own_colour_and_marker():
    """N7: no two networks share a colour or a marker."""
    n = 6
    curves = {
        f"net {i}": {
            "epoch": list(range(1, n + 1)),
            "train_loss": [1.0] * n,
            "val_loss": [1.0] * n,
            "val_accuracy": [0.5] * n,
        }
        for i in range(4)
    }
    fig = plots.loss_curves(curves, 3, "t")
    lines = [ln for ln in fig.axes[1].get_lines() if ln.get_label().startswith("net")]
    assert len({ln.get_color() for ln in lines}) == 4 and len({ln.get_marker() for ln in lines}) == 4
    import matplotlib.pyplot as plt

    plt.close(fig)
