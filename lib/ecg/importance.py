"""Notebook-01: permutation importance of the Random Forest across patients (DS1 -> DS2)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.core.outputs import Outputs
from lib.ecg.headline import fit_predict
from lib.ecg.inputs import EcgInputs, _cap


def rf_feature_names(data: EcgInputs, n_bins: int = 16) -> list[str]:
    """Names of the Random Forest's design columns: window summary (lib.ecg.models.window_summary) + features."""
    stats = ["win_mean", "win_std", "win_min", "win_max", "win_argmax", "win_argmin", "win_mad", "win_maxad"]
    return [f"win_bin{i}" for i in range(n_bins)] + stats + list(data.feature_names)


def nonsinus_f1_score(estimator, X, y) -> float:
    """Scorer (sklearn signature): F1 of 'not sinus' (class 0) from the estimator's class predictions."""
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(y) != 0, estimator.predict(X) != 0, zero_division=0))


def rf_importance(
    data: EcgInputs, split: dict, seed: int, rf_kw: dict, out: Outputs, *, n_repeats: int, max_test: int | None
) -> pd.DataFrame:
    """Permutation importance of the Random Forest trained on ``split['train']``, measured on ``split['test']``
    (DS2 for the inter-patient split: which inputs carry over to unseen patients, unlike impurity importance,
    which is computed on the training patients): the drop in non-sinus F1 when one design column is shuffled,
    mean and sd over ``n_repeats`` shuffles; ``max_test``: a stratified cap on the test beats used for this
    estimate only (None/0: all). Writes the table and the figure; returns the table, most important first."""
    from sklearn.inspection import permutation_importance

    from lib.ecg import plots

    rf = fit_predict("random_forest", data, split, seed=seed, model_kw=rf_kw)[0]
    te = _cap(split["test"], data.y, max_test, seed)
    design = rf.design(data.X[te], data.F[te])
    r = permutation_importance(
        rf.model, design, data.y[te], scoring=nonsinus_f1_score, n_repeats=n_repeats, random_state=seed, n_jobs=1
    )
    names = rf_feature_names(data)
    spread = n_repeats > 1  # one shuffle has no spread: no sd column, no error bars
    cols = {"feature": names, "f1_drop_mean": r.importances_mean} | (
        {"f1_drop_std": r.importances_std} if spread else {}
    )
    table = pd.DataFrame(cols).sort_values("f1_drop_mean", ascending=False, ignore_index=True)
    table["n_repeats"] = int(n_repeats)
    table["n_test_beats"] = int(te.size)
    fig = plots.feature_importance(
        r.importances_mean,
        names,
        err=r.importances_std if spread else None,
        xlabel="drop in non-sinus F1 when shuffled (test part)",
    )
    out.figure(fig, "rf_permutation_importance")
    out.table(table, "rf_permutation_importance")
    return table
