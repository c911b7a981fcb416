"""The seed study's statistics, the protocol table and the comparability text of lib.arxiv.experiment."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lib.arxiv import experiment


def test_mean_ci_is_the_student_t_interval():
    mean, ci = experiment.mean_ci([0.1, 0.2, 0.3, 0.4, 0.5])
    half = 2.7764451051977987 * np.std([0.1, 0.2, 0.3, 0.4, 0.5], ddof=1) / np.sqrt(5)  # t(0.975, 4)
    assert mean == pytest.approx(0.3) and ci == pytest.approx([0.3 - half, 0.3 + half])
    with pytest.raises(ValueError, match="at least 2"):
        experiment.mean_ci([0.1])


def test_verdict_follows_the_ci():
    assert experiment.verdict([0.01, 0.05]) == "beats"
    assert experiment.verdict([-0.05, -0.01]) == "is beaten by"
    assert experiment.verdict([-0.01, 0.05]) == "is not distinguishable from"


def _seeds(diffs: dict) -> pd.DataFrame:
    rows = []
    for seed in range(len(next(iter(diffs.values())))):
        rows.append({"seed": seed, "model": "frozen_head", "accuracy": 0.5, "macro_f1": 0.4, "head_minus_model": 0.0})
        for model, d in diffs.items():
            rows.append(
                {"seed": seed, "model": model, "accuracy": 0.5 - d[seed], "macro_f1": 0.4, "head_minus_model": d[seed]}
            )
    return pd.DataFrame(rows).assign(n_train=1324, n_test=382)


def test_seed_intervals_are_nadeau_bengio_corrected_and_need_three_varying_seeds():
    v = [0.1, 0.2, 0.3, 0.4, 0.5]
    _, plain = experiment.mean_ci(v)
    mean, corrected = experiment.mean_ci(v, test_train_ratio=382 / 1324)
    widen = np.sqrt((1 / 5 + 382 / 1324) / (1 / 5))
    assert mean == pytest.approx(0.3) and corrected[1] - 0.3 == pytest.approx(widen * (plain[1] - 0.3))
    two = experiment.seed_differences(_seeds({m: [0.02, 0.03] for m in experiment.TFIDF_MODELS}))
    assert (two["verdict"] == experiment.NOT_ENOUGH).all() and two["ci_low"].isna().all()
    flat = experiment.seed_differences(_seeds({m: [0.02] * 4 for m in experiment.TFIDF_MODELS}))
    assert (flat["verdict"] == experiment.NOT_ENOUGH).all()
    assert experiment.verdict([np.nan, np.nan]) == experiment.NOT_ENOUGH
    # accuracies near 1 with a wide spread: the interval of the mean is clipped to [0, 1]
    wide = _seeds({m: [-0.49, 0.0, -0.3, -0.45] for m in experiment.TFIDF_MODELS})
    summary = experiment.seed_summary(wide).set_index("model")
    assert np.isnan(summary.loc["frozen_head", "accuracy_ci_low"])  # the same accuracy at every seed: no interval
    summary = summary.drop(index="frozen_head")
    assert (summary["accuracy_ci_high"] <= 1).all() and (summary["accuracy_ci_low"] >= 0).all()
    assert summary["accuracy_ci_high"].max() == 1.0


def test_seed_differences_pair_within_seeds_and_give_a_verdict_per_model():
    diffs = {
        "tfidf_logreg": [0.05, 0.06, 0.04, 0.05, 0.05],
        "tfidf_linear_svm": [-0.05, 0.06, -0.04, 0.05, 0.0],
        "tfidf_complement_nb": [-0.05, -0.06, -0.04, -0.05, -0.05],
    }
    table = experiment.seed_differences(_seeds(diffs)).set_index("comparison")
    assert table.loc["frozen_head - tfidf_logreg", "mean_difference"] == pytest.approx(0.05)
    assert table.loc["frozen_head - tfidf_logreg", "verdict"] == "beats"
    assert table.loc["frozen_head - tfidf_linear_svm", "verdict"] == "is not distinguishable from"
    assert table.loc["frozen_head - tfidf_complement_nb", "verdict"] == "is beaten by"
    assert table.loc["frozen_head - tfidf_logreg", "per_seed"] == "+0.050, +0.060, +0.040, +0.050, +0.050"
    assert (table["n_seeds"] == 5).all()


def _ds(cfg, split):
    labels = SimpleNamespace(counts=[3, 2], names=["a", "b"])
    return SimpleNamespace(split=split, n_classes=2, labels=labels)


def test_protocol_table_marks_none_forced_and_chosen():
    paper = experiment.load_config("paper")
    same = np.arange(3)
    train = np.arange(130)
    table = experiment.protocol_table(paper, _ds(paper, {"train": train, "monitor": same, "test": same}))
    table = table.set_index("aspect")
    for aspect, *_ in experiment.PROTOCOL_SETTINGS:
        assert table.loc[aspect, "difference"] == "none", aspect
    assert table.loc["part the schedule reads", "difference"] == "none"
    ours = experiment.load_config("real")
    table = experiment.protocol_table(ours, _ds(ours, {"train": train, "monitor": same, "test": same + 3}))
    table = table.set_index("aspect")
    assert table.loc["encoder (frozen)", "difference"] == "forced"
    assert table.loc["features while the head trains", "difference"] == "chosen"
    assert "head_features=train_mode" in table.loc["features while the head trains", "paper"]
    assert "head_features=cached" in table.loc["features while the head trains", "ours"]
    assert table.loc["part the schedule reads", "ours"] == "the val part"
    assert table.loc["epochs", "paper"] == experiment.PAPER_EPOCHS and table.loc["epochs", "difference"] == "forced"
    assert table.loc["epochs", "ours"] == f"epochs={ours.epochs}"
    assert table.loc["optimiser steps", "ours"].startswith(f"{ours.epochs} x 5 = {ours.epochs * 5} (130 rows")
    assert table.loc["stop", "paper"].startswith("manual interrupt (min_lr stop unreachable")
    assert table.loc["missing texts", "difference"] == "chosen"
    assert "152" in table.loc["prediction", "paper"] and "2 class units" in table.loc["prediction", "ours"]


def _curve(head_ci, svm_ci):
    table = pd.DataFrame(
        [
            {"fraction": f, "n_train": n, "model": m, "accuracy": a, "accuracy_low": a - 0.1, "accuracy_high": a + 0.1}
            for f, n, accs in ((0.5, 50, (0.4, 0.5)), (1.0, 100, (0.6, 0.55)))
            for m, a in zip(experiment.CURVE_MODELS, accs)
        ]
    )
    step = {
        "frozen_head": {"from_n": 50, "to_n": 100, "diff": 0.2, "ci": head_ci, "p_value": 0.0},
        "tfidf_linear_svm": {"from_n": 50, "to_n": 100, "diff": 0.05, "ci": svm_ci, "p_value": 0.3},
    }
    slopes = pd.DataFrame(
        [{"curve": "frozen_head", "accuracy_per_doubling": 0.2, "ci_low": 0.1, "ci_high": 0.3, "n_sizes": 2}]
    )
    return experiment.LearningCurve(table, pd.DataFrame(), step, slopes)


def test_learning_curve_text_follows_the_last_steps_ci():
    text = experiment.describe_learning_curve(_curve([0.1, 0.3], [-0.02, 0.1]))
    head, svm, slope = text.splitlines()
    assert head.startswith("- frozen_head: accuracy 0.400 at 50 training rows, 0.600 at 100") and "still rising" in head
    assert "no gain distinguishable from zero" in svm
    assert "frozen_head's accuracy changes by +0.200 per doubling" in slope and slope.endswith("rises with more data.")


def _comparability_inputs(majority_share, n_classes):
    metrics = {
        "protocol": [
            {"aspect": "encoder (frozen)", "difference": "forced"},
            {"aspect": "epochs", "difference": "none"},
        ],
        "data": {"n_train": 100, "majority_share": majority_share, "n_classes": n_classes},
        "meta": {"encoder": "all-MiniLM-L6-v2", "pooling": "mean"},
        "claims": {"accuracy": 0.6},
        "ablations": {
            "paper_split": {"overrides": {"split": "paper_80_20"}, "paired_vs_ours": None},
            "paper_batch": {
                "overrides": {"head_batch_size": 64},
                "paired_vs_ours": {"accuracy": {"diff": -0.05, "ci": [-0.08, -0.02], "p_value": 0.0}},
            },
            "paper_lr_and_plateau": {
                "overrides": {"learning_rate": 0.01},
                "paired_vs_ours": {"accuracy": {"diff": 0.01, "ci": [-0.02, 0.04], "p_value": 0.5}},
            },
        },
    }
    paper = {"nb02_n_train": 31024, "nb02_majority_accuracy": 0.0387, "nb02_accuracy": 0.39, "nb02_n_classes": 89}
    return metrics, paper


def test_comparability_names_the_direction_of_each_difference():
    metrics, paper = _comparability_inputs(0.2, 60)
    rising = experiment.comparability(metrics, paper, _curve([0.1, 0.3], [0.0, 0.1]))
    assert "Ours is HIGHER than the paper's: accuracy 0.600 vs 0.39 (+0.210)" in rising
    assert "encoder (frozen)" in rising and "epochs" not in rising.split("Chosen")[1].split(".")[0]
    assert "310.2x ours): fewer rows push ours DOWN" in rising
    assert "learning curve, up to 100 of our 100 training rows, is still rising" in rising
    assert "an easier task: pushes ours UP" in rising and "expected to push ours UP" in rising
    assert "+0.200 per doubling" in rising and "8.3 doublings beyond our largest" in rising
    assert "`paper_batch` (head_batch_size=64) on our test part: the paper's setting minus ours -0.050" in rising
    assert "our choice pushes ours UP (the paper's setting is 0.050 lower here)" in rising
    assert "`paper_lr_and_plateau` (learning_rate=0.01)" in rising and "no push distinguishable from zero" in rising
    assert "paper_split" not in rising.split("Chosen differences")[1]  # not paired: no direction claimed
    assert "favour ours, the smaller training part works against it" in rising
    assert "favour ours" in rising.splitlines()[-1] and "the encoder" in rising.splitlines()[-1]
    metrics["meta"]["pooling"] = "cls"  # no expectation stated for the encoder: the net line does not claim one
    cls = experiment.comparability(metrics, paper, _curve([0.1, 0.3], [0.0, 0.1]))
    assert "direction not measured here" in cls and "the encoder" not in cls.splitlines()[-1]
    metrics["ablations"]["cached_features"] = {
        "overrides": {"head_features": "cached"},
        "paired_vs_ours": {"accuracy": {"diff": 0.1, "ci": [0.05, 0.15], "p_value": 0.0}},
    }
    own = experiment.comparability(metrics, paper, _curve([0.1, 0.3], [0.0, 0.1]))
    assert "`cached_features` (head_features=cached) on our test part: the ablation minus this run +0.100" in own
    short = _curve([0.1, 0.3], [0.0, 0.1])
    metrics["data"]["n_train"] = 200  # the curve stops at 100 of 200 rows: doublings counted from 100
    assert "8.3 doublings beyond the curve's largest size (100 rows)" in experiment.comparability(metrics, paper, short)
    flat = experiment.comparability(metrics, paper, _curve([-0.1, 0.3], [0.0, 0.1]))
    assert "no gain distinguishable from zero" in flat
    harder, _ = _comparability_inputs(0.01, 120)
    harder["claims"]["accuracy"] = 0.3
    text = experiment.comparability(harder, paper, _curve([0.1, 0.3], [0.0, 0.1]))
    assert "Ours is LOWER" in text and "a harder task: pushes ours DOWN" in text and "cannot size" in text


def test_log_linear_slope_is_accuracy_per_doubling_with_a_paired_ci():
    y = np.repeat(np.arange(2), 10)  # 20 test rows, 2 classes

    def scores(n_right):  # the first n_right rows of each class right, the others wrong
        pred = np.where(np.tile(np.arange(10), 2) < n_right, y, 1 - y)
        return np.eye(2)[pred]

    probas = {n: {"frozen_head": scores(k), "tfidf_linear_svm": scores(5)} for n, k in ((50, 4), (100, 5), (200, 6))}
    t = experiment.log_linear_slopes(y, probas, n_boot=200, seed=0).set_index("curve")
    assert t.loc["frozen_head", "accuracy_per_doubling"] == pytest.approx(0.1)
    assert t.loc["tfidf_linear_svm", "accuracy_per_doubling"] == pytest.approx(0.0)
    assert t.loc["tfidf_linear_svm", ["ci_low", "ci_high"]].tolist() == pytest.approx([0.0, 0.0])  # paired: flat
    assert t.loc["frozen_head - tfidf_linear_svm", "accuracy_per_doubling"] == pytest.approx(0.1)
    lo, hi = t.loc["frozen_head", ["ci_low", "ci_high"]]
    assert lo < 0.1 < hi and (t["n_sizes"] == 3).all()
    assert experiment.log_linear_slopes(y, {50: probas[50]}, n_boot=10, seed=0).empty


def test_describe_schedules_says_whether_the_plateau_acted():
    cfg = experiment.load_config("real")
    abl = {
        "paper_lr_and_plateau": {"overrides": {"learning_rate": 0.01, "lr_schedule": "plateau"}, "final_lr": 0.01},
        "long": {"overrides": {"learning_rate": 0.01, "lr_schedule": "plateau", "epochs": 70}, "final_lr": 0.0025},
        "paper_batch": {"overrides": {"head_batch_size": 64}, "final_lr": 0.001},
    }
    first, second = experiment.describe_schedules(cfg, abl).splitlines()
    assert first.startswith("- `paper_lr_and_plateau`: the plateau schedule never lowered the learning rate (0.01")
    assert first.endswith("measures the learning rate alone.")
    assert second == "- `long`: the plateau schedule lowered the learning rate from 0.01 to 0.0025."
    assert experiment.describe_schedules(cfg, {"b": abl["paper_batch"]}).startswith("No ablation")


def test_describe_protocol_lists_chosen_rows_with_and_without_an_ablation():
    cfg = experiment.load_config("real")
    protocol = pd.DataFrame(
        [
            {"aspect": "batch", "difference": "chosen"},
            {"aspect": "pooling", "difference": "chosen"},
            {"aspect": "encoder (frozen)", "difference": "forced"},
        ]
    )
    text = experiment.describe_protocol(cfg, protocol)
    assert "whose paper value runs as one of them: batch." in text
    assert "no ablation in this run" in text and text.endswith("or not at all where it is code): pooling.")
    assert "`paper_batch` (head_batch_size=64)" in text


def test_epochs_reading_compares_the_longer_head_with_each_tfidf_model():
    metrics = {
        "meta": {"epochs": 6},
        "frozen_head": {"accuracy": 0.60},
        "tfidf_logreg": {"accuracy": 0.55},
        "tfidf_linear_svm": {"accuracy": 0.62},
        "tfidf_complement_nb": {"accuracy": 0.40},
        "ablations": {
            "paper_batch": {"overrides": {"head_batch_size": 64}, "accuracy": 0.5, "accuracy_ci": [0.4, 0.6]},
            "paper_steps": {
                "overrides": {"epochs": 70},
                "accuracy": 0.65,
                "accuracy_ci": [0.6, 0.7],
                "paired_vs_ours": {"accuracy": {"diff": 0.05, "ci": [0.02, 0.08], "p_value": 0.0}},
            },
        },
    }
    lines = experiment._epochs_reading(metrics)
    assert len(lines) == 2 and "`paper_steps`" in lines[0] and "paper_batch" not in lines[0]
    assert "tfidf_linear_svm -0.020 -> +0.030 (the sign changes)" in lines[0]
    assert "tfidf_logreg +0.050 -> +0.100 (same sign)" in lines[0]
    assert "fewer optimiser steps" in lines[1]


def test_describe_finetune_counts_the_subsample_it_ran_on_and_states_the_lengths():
    cfg = experiment.load_config("real")
    ds = SimpleNamespace(y=np.repeat(np.arange(5), 40))
    ft = SimpleNamespace(sub=np.arange(0, 200, 2), steps={"frozen": 24, "finetuned": 24})  # 100 rows, 5 classes
    text = experiment.describe_finetune(cfg, ds, ft)
    assert f"subsample of 100 training records in 5 classes ({cfg.finetune_n_train} asked for" in text
    assert f"max_length {cfg.finetune_max_length} tokens, NOT the frozen embeddings' {cfg.max_length}" in text
    assert "the paper's encoder reads 512" in text and "frozen head 24, fine-tuning 24" in text
    same = experiment.describe_finetune(replace(cfg, finetune_n_train=100, finetune_max_length=cfg.max_length), ds, ft)
    assert "asked for" not in same and "NOT" not in same
