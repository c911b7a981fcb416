"""nb01 round s6b: the confusion figure's titles do not run into each other, the floor's row in rhythm_summary
counts its forest seeds, and each AF-episode line names the fit (seed) it reads."""

from __future__ import annotations

import dataclasses
import types

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from lib.ecg import plots


def test_confusion_titles_do_not_overlap():
    classes = ["sinus", "af_flutter", "ventricular", "other"]
    cm = pd.DataFrame(np.arange(16).reshape(4, 4) + 1, index=classes, columns=classes)
    titles = [
        "ODAL, random split",
        "ODAL, interpatient split",
        "CNN-BiLSTM supervised 4000 beats, random split",
        "CNN-BiLSTM supervised 4000 beats, interpatient split",
    ]
    fig = plots.confusion_matrices({t: cm for t in titles})
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    plt.close(fig)
    for left, right in zip(boxes, boxes[1:]):
        assert left.x1 <= right.x0, (left, right)
    assert all(b.x0 >= 0 and b.x1 <= fig.bbox.width for b in boxes)


def test_episode_lines_name_each_rows_seed():
    """Floor fitted with seed 0, the sequence model with seed 1 only: each episode row and line says its own seed."""
    from lib.ecg import rhythm_study as rs
    from lib.ecg import rhythm_text
    from tests.ecg.tiny_rhythm import SEQ as seq
    from tests.ecg.tiny_rhythm import tiny_case

    data, split, X, _ = tiny_case()
    y = data.y
    res = rs.study(
        data, split, X, ["rr_pre", "rmssd_32"], X, alt_y=y, alt_name="episode",
        floor_kw={"trees": 5, "min_leaf": 2, "inner_k": 2}, feature_sets=[["rr", "irregularity"]],
        seq_kw=seq | {"max_epochs": 1, "patience": 1}, seeds=[1], n_boot=20, seed=0, target_auc=0.9,
    )  # fmt: skip
    e = res.episodes[res.episodes.reading == "statement"].set_index("model")["seed"]
    assert e["floor"] == 0 and e["floor (AF vs rest)"] == 0
    assert e["sequence"] == 1 and e["sequence seed 1 (P(AF))"] == 1
    lines = [x for x in rhythm_text.reading(res).splitlines() if x.startswith("- AF/flutter episodes on DS2")]
    assert lines and not any("first seed" in x for x in lines)
    floor_line = next(x for x in lines if x.startswith("- AF/flutter episodes on DS2, floor (AF vs rest)"))
    seq_line = next(x for x in lines if x.startswith("- AF/flutter episodes on DS2, sequence seed 1"))
    assert "one fit, seed 0" in floor_line and "one fit, seed 1" in seq_line


#: notebook 01's study modules (issue 22 point 9: split by concern, each under about 400 lines)
STUDY_MODULES = (
    "experiment", "inputs", "headline", "headline_seeds", "importance", "networks", "prose", "readings_text",
    "rhythm", "episodes", "rhythm_study", "rhythm_checks", "rhythm_text", "rhythm_description", "al_study",
    "al_forest", "al_forest_text", "al_forest_rules", "aami", "rhythm_grid", "rhythm_cv", "rhythm_cv_text",
)  # fmt: skip
#: each split-off module and the module it was split from: imports run one way (the split-off never imports back)
SPLITS = {"episodes": "rhythm", "rhythm_description": "rhythm_text", "al_forest_text": "al_forest",
          "readings_text": "prose", "rhythm_cv_text": "rhythm_text"}  # fmt: skip


def _imports(path) -> set[str]:
    """Modules ``path`` imports at run time (``if TYPE_CHECKING:`` blocks, annotations only, left out)."""
    import ast

    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_study_modules_are_split_by_concern_and_import_one_way():
    from pathlib import Path

    import lib.ecg

    root = Path(lib.ecg.__file__).parent
    sizes = {m: len((root / f"{m}.py").read_text().splitlines()) for m in STUDY_MODULES}
    assert max(sizes.values()) <= 400, {m: n for m, n in sizes.items() if n > 400}
    for part, whole in SPLITS.items():
        assert f"lib.ecg.{whole}" not in _imports(root / f"{part}.py"), part
        assert any(i.startswith(f"lib.ecg.{part}") for i in _imports(root / f"{whole}.py")), whole


def test_sustained_needs_two_points_the_claim_reads_randoms_grid_and_cis_stop_at_100_percent():
    """review22s6b N-M1: a touch at the last grid point is not sustained; the claim is ODAL's first crossing on
    random's grid with the own-grid value beside it; a saving's interval never reaches above +100%."""
    from lib.ecg import al_forest_rules as alr
    from lib.ecg import prose

    x = np.array([100.0, 150.0, 200.0])
    assert alr.labels_at(x, np.array([0.1, 0.2, 0.9]), 0.5, "sustained") is None  # last point only
    assert alr.labels_at(x, np.array([0.1, 0.9, 0.9]), 0.5, "sustained") == 150.0
    assert alr.labels_at(x, np.array([0.1, 0.2, 0.9]), 0.5, "first") == 200.0
    rows = []
    for s, (odal_at, rnd_at) in enumerate(((110, 400), (390, 400), (120, 400))):  # per-seed savings spread widely
        for n in range(100, 401, 50):
            rows.append({"method": "random", "seed": s, "n_labels": n, "ap": 0.9 if n >= rnd_at else 0.1})
            rows.append({"method": "odal", "seed": s, "n_labels": n, "ap": 0.9 if n >= odal_at else 0.1})
    long = pd.DataFrame(rows)
    ref = pd.DataFrame({"seed": [0, 1, 2], "ap": [0.9, 0.9, 0.9]})
    t = alr.savings(long, ref, "ap", [0.95], budget=400)
    row = alr.claim_row(t, 0.95)
    assert row["rule"] == "first" and row["saving_ci"][1] <= 1.0
    # per seed 1 - 150/400, 1 - 400/400, 1 - 150/400; the ratio of totals differs from the mean of ratios
    assert row["saving"] == pytest.approx(np.mean([0.625, 0.0, 0.625]))
    assert row["saving_ratio_of_totals"] == pytest.approx(1 - 700 / 1200)
    text = alr.reading(t, claim_fraction=0.95, own_grid=(0.5, [0.1, 0.9]))
    assert "**The claim** (claims.interpatient_annotation_saving) is the 95% first-crossing row" in text
    assert "gives +50.0% [95% CI +10.0% to +90.0%], shown beside it, not the claim" in text
    assert "ratio of totals +41.7%" in text
    fal = types.SimpleNamespace(
        flat=False,
        summary=pd.DataFrame(
            [{"method": "odal", "saving_vs_random": 0.5, "saving_vs_random_ci": [0.1, 0.9], "auc_minus_random": 0.0,
              "auc_minus_random_ci": [-0.1, 0.1], "saving_lower_bound": None}]
        ),
    )  # fmt: skip
    inter = {"odal": {"accuracy": 0.5, "nonsinus_f1": 0.5, "roc_auc_nonsinus": 0.5, "pr_auc_nonsinus": 0.5}}
    results = {"random": {k: {"accuracy": 0.4} for k in ("cnn", "lstm", "cnn_lstm", "random_forest")}}
    results["random"]["odal"] = dict(inter["odal"], roc_auc_ovr_macro=0.5)
    results["interpatient"] = inter
    floor = {"nonsinus_f1": 0.6, "roc_auc_nonsinus": 0.9}
    c = prose.claims_block(results, {}, floor, forest_al=fal, saving_rule=row)
    assert c["interpatient_annotation_saving"] == pytest.approx(row["saving"])
    assert c["interpatient_annotation_saving_own_grid"] == 0.5
    assert c["interpatient_annotation_saving_rule"] == "95% of the reference, first crossing, random's label grid"
    assert prose.claims_block(results, {}, floor, forest_al=fal)["interpatient_annotation_saving"] == 0.5


def test_odal_is_paired_with_plain_uncertainty_sampling():
    """review22s6b n4: ODAL minus every other query rule (entropy), paired over seeds, in the reading."""
    from lib.ecg import al_forest

    per_seed = pd.DataFrame(
        [{"method": m, "seed": s, "auc": a}
         for m, aucs in (("odal", [0.70, 0.71, 0.72]), ("entropy", [0.75, 0.77, 0.76]))
         for s, a in enumerate(aucs)]
    )  # fmt: skip
    d = al_forest._paired_auc(per_seed, "odal", "entropy")
    assert d["auc_difference"] == pytest.approx(-0.05) and d["seeds"] == 3 and d["auc_difference_ci"][1] < 0


def test_headline_reading_has_every_paired_metric_and_confusion_pattern_names_its_seed():
    """review22s6b n6 / n1."""
    from lib.ecg import headline_seeds as hs
    from lib.ecg.data import RHYTHM_CLASSES
    from lib.ecg.headline import confusion_pattern

    rows = [
        {"split": "interpatient", "a": "odal", "b": "cnn", "metric": m, "diff": -0.1, "ci": [-0.2, -0.05],
         "verdict": "lower"}
        for m in hs.PAIRED_METRICS
    ]  # fmt: skip
    summary = pd.DataFrame(
        [{"split": "interpatient", "model": "cnn"}
         | {f"{m}_{k}": v for m in hs.SEED_METRICS for k, v in (("mean", 0.5), ("sd", 0.01), ("ci", [0.4, 0.6]))}]
    )  # fmt: skip
    study = types.SimpleNamespace(summary=summary, paired=pd.DataFrame(rows), seeds=[0, 1, 2], n_boot=10)
    text = hs.reading(study)
    assert "interpatient, ODAL minus each model, non-sinus ROC-AUC: cnn -0.100 [-0.200, -0.050] -> lower." in text
    y = np.array([1, 1, 0, 0])
    data = types.SimpleNamespace(y=y, class_names=RHYTHM_CLASSES)
    probas = {"odal": np.tile([1.0, 0, 0, 0], (4, 1))}
    assert confusion_pattern(data, {"test": np.arange(4)}, probas, seed=7).startswith("- seed 7, odal: of 2 AF")


def test_rhythm_networks_beside_the_headline_and_pr_auc_direction():
    """review22s6b n1 (the all-DS1 network beside the headline row), n5 (PR-AUC lower in every seed), n3 (short
    reference episodes counted)."""
    from lib.ecg import networks
    from lib.ecg import rhythm_text as rt
    from lib.ecg.episodes import episode_scores

    v = "cnn_bilstm, 1 beat, signal + features"
    summary = pd.DataFrame(
        [{"variant": v, "seeds": 3, "nonsinus_f1": 0.52, "roc_auc_nonsinus": 0.82, "accuracy": 0.6},
         {"variant": networks.FLOOR, "seeds": 3, "nonsinus_f1": 0.68, "roc_auc_nonsinus": 0.93, "accuracy": None}]
    )  # fmt: skip
    headline = pd.DataFrame(
        [{"split": "interpatient", "model": "cnn_bilstm", "seeds": 3, "nonsinus_f1_mean": 0.38,
          "roc_auc_nonsinus_mean": 0.70}]
    )  # fmt: skip
    study = networks.RhythmStudy(pd.DataFrame({"n_train": [41558]}), summary, pd.DataFrame(), 41558)
    lines = networks._beside_headline(study, headline, 41558)
    assert len(lines) == 1 and "(differences +0.140 / +0.120; points, not paired" in lines[0]
    other = summary.assign(variant=["cnn_bilstm, 1 beat, signal only", networks.FLOOR])  # not the headline's setup
    assert networks._beside_headline(dataclasses.replace(study, summary=other), headline, 41558) == []
    runs = pd.DataFrame(
        [{"reading": "statement", "model": m, "seed": s, "pr_auc_nonsinus": p}
         for m, ps in (("floor", [0.80, 0.80, 0.80]), ("sequence", [0.65, 0.78, 0.74]),
                       (rt.FLOOR_FOLDS, [0.80, 0.79, 0.80]))
         for s, p in enumerate(ps)]
    )  # fmt: skip
    paired = pd.DataFrame(
        [{"reading": "statement", "comparison": f"sequence - {b}", "metric": "pr_auc_nonsinus", "ci": [-0.17, c]}
         for b, c in (("floor", 0.011), (rt.FLOOR_FOLDS, -0.0008))]
    )  # fmt: skip
    res = types.SimpleNamespace(runs=runs, paired=paired)
    line = rt._pr_auc_direction(res, "statement")[0]
    assert line.startswith("- PR-AUC: the sequence model is lower than the floor in every seed of every pairing (6")
    res.runs.loc[(res.runs.model == "sequence") & (res.runs.seed == 1), "pr_auc_nonsinus"] = 0.85
    assert rt._pr_auc_direction(res, "statement") == []
    ref = np.array([1, 0, 1, 1, 1, 0], dtype=bool)
    e = episode_scores(np.repeat("100", 6), np.arange(6) * 100, 100.0, ref, ref)
    assert e["episodes_ref"] == 2 and e["ref_short_share"] == 0.5
