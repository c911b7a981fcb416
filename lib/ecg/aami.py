"""AAMI EC57 beat classes DS1 -> DS2 with class-balanced models on record-normalised RR + morphology features,
beside the published inter-patient rows.

Models (inputs: lib.ecg.features, RR in units of the record's mean RR: previous, next, local mean and spread,
their ratios, plus QRS width, amplitudes, spectral and statistical descriptors of the MLII window):

- ``logreg_balanced``: multinomial logistic regression on standardised features, class weights inversely
  proportional to the DS1 class frequencies (equal priors, chosen on DS1 only);
- ``hgb_balanced``: histogram gradient-boosted trees (scikit-learn), the same DS1 class weights.

Nothing is tuned on DS2: the class weights come from DS1 counts, the decision is the arg-max.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lib.ecg.data import AAMI_CLASSES

FEATURE_MODELS = ("logreg_balanced", "hgb_balanced")

#: published inter-patient DS1 -> DS2 results (SPEC section 3), DS2 Se / +P in %
PUBLISHED = [
    {
        "study": "de Chazal, O'Dwyer & Reilly, IEEE Trans Biomed Eng 51(7), 2004 (about)",
        "S Se": 76.0,
        "S +P": 38.0,
        "V Se": 78.0,
        "V +P": 82.0,
    },
    {
        "study": "Mar, Zaunseder, Martinez, Llamedo & Poll, IEEE Trans Biomed Eng 58(8), 2011",
        "S Se": 83.2,
        "S +P": 33.5,
        "V Se": 86.8,
        "V +P": 75.9,
    },
    {
        "study": "Zhang, Dong, Luo, Choi & Wu, Comput Biol Med 46, 2014",
        "S Se": 79.1,
        "S +P": 36.0,
        "V Se": 85.5,
        "V +P": 92.7,
    },
    {"study": "Lin & Yang, Math Probl Eng 2014", "S Se": 81.0, "S +P": 31.0, "V Se": 86.0, "V +P": 73.0},
]


def make_model(name: str, seed: int, hgb_iter: int):
    if name == "logreg_balanced":
        return make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
    if name == "hgb_balanced":
        return HistGradientBoostingClassifier(max_iter=hgb_iter, class_weight="balanced", random_state=seed)
    raise ValueError(f"unknown AAMI feature model {name!r}; allowed: {FEATURE_MODELS}")


def fit_feature_models(F, y, split, *, seed: int, hgb_iter: int, models=FEATURE_MODELS) -> dict:
    """{model: (DS2 probabilities (n_test, 5), fit seconds)} for ``models`` trained on ``split['train']`` and
    ``split['val']`` (all DS1 beats: nothing is early-stopped)."""
    tr = np.sort(np.concatenate([split["train"], split["val"]]))
    te = split["test"]
    out = {}
    for name in models:
        t0 = time.perf_counter()
        m = make_model(name, seed, hgb_iter).fit(F[tr], y[tr])
        p = np.zeros((te.size, len(AAMI_CLASSES)))
        p[:, m.classes_] = m.predict_proba(F[te])
        out[name] = (p, time.perf_counter() - t0)
    return out


def beside_published(table: pd.DataFrame) -> pd.DataFrame:
    """Our S and V rows (from the per-class table: model, class, Se, +P) in % beside :data:`PUBLISHED`."""
    ours = []
    for m, g in table.groupby("model", sort=False):
        g = g.set_index("class")
        ours.append(
            {"study": f"this notebook: {m}"}
            | {f"{c} {k}": 100 * float(g.loc[c, k]) for c in ("S", "V") for k in ("Se", "+P")}
        )
    return pd.DataFrame(PUBLISHED + ours)


def targets_reading(table: pd.DataFrame, s_se: float, s_ppv: float, v_se: float, v_ppv: float) -> str:
    """Markdown: which models reach the issue's AAMI targets (S Se/+P and V Se/+P, shares)."""
    lines = []
    for m, g in table.groupby("model", sort=False):
        g = g.set_index("class")
        s_ok = g.loc["S", "Se"] >= s_se and g.loc["S", "+P"] >= s_ppv
        v_ok = g.loc["V", "Se"] >= v_se and g.loc["V", "+P"] >= v_ppv
        lines.append(
            f"- {m}: S Se {g.loc['S', 'Se']:.3f} / +P {g.loc['S', '+P']:.3f} ({'meets' if s_ok else 'misses'} "
            f"Se >= {s_se:.2f} with +P >= {s_ppv:.2f}); V Se {g.loc['V', 'Se']:.3f} / +P {g.loc['V', '+P']:.3f} "
            f"({'meets' if v_ok else 'misses'} Se >= {v_se:.2f} with +P >= {v_ppv:.2f})."
        )
    return "\n".join(lines)
