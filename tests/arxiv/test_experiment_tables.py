"""The seed study's statistics, the protocol table and the comparability text of lib.arxiv.experiment."""

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
    return pd.DataFrame(rows)


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
    table = experiment.protocol_table(paper, _ds(paper, {"monitor": same, "test": same})).set_index("aspect")
    for aspect, *_ in experiment.PROTOCOL_SETTINGS:
        assert table.loc[aspect, "difference"] == "none", aspect
    assert table.loc["part the schedule reads", "difference"] == "none"
    ours = experiment.load_config("real")
    table = experiment.protocol_table(ours, _ds(ours, {"monitor": same, "test": same + 3})).set_index("aspect")
    assert table.loc["encoder (frozen)", "difference"] == "forced"
    assert table.loc["features while the head trains", "difference"] == "chosen"
    assert "head_features=train_mode" in table.loc["features while the head trains", "paper"]
    assert "head_features=cached" in table.loc["features while the head trains", "ours"]
    assert table.loc["part the schedule reads", "ours"] == "the val part"
    assert table.loc["epochs", "paper"] == "epochs=6"


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
    return experiment.LearningCurve(table, pd.DataFrame(), step)


def test_learning_curve_text_follows_the_last_steps_ci():
    text = experiment.describe_learning_curve(_curve([0.1, 0.3], [-0.02, 0.1]))
    head, svm = text.splitlines()
    assert head.startswith("- frozen_head: accuracy 0.400 at 50 training rows, 0.600 at 100") and "still rising" in head
    assert "no gain distinguishable from zero" in svm
    metrics = {
        "protocol": [
            {"aspect": "encoder (frozen)", "difference": "forced"},
            {"aspect": "epochs", "difference": "none"},
        ],
        "data": {"n_train": 100, "majority_share": 0.2},
    }
    paper = {"nb02_n_train": 31024, "nb02_majority_accuracy": 0.0387}
    rising = experiment.comparability(metrics, paper, _curve([0.1, 0.3], [0.0, 0.1]))
    assert "encoder (frozen)" in rising and "epochs" not in rising.split("Chosen")[1].split(".")[0]
    assert "310.2x ours" in rising and "is still rising" in rising and "unknown" in rising
    flat = experiment.comparability(metrics, paper, _curve([-0.1, 0.3], [0.0, 0.1]))
    assert "no gain distinguishable from zero" in flat
