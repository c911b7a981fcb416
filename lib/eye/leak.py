"""The leak table of notebook 03: the leak models' accuracy under every protocol, scored on one population and
resampled under one set of groups, and the paired differences between protocols (:data:`LEAK_PAIRS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.eye.protocols import EyeCVConfig
from lib.eye.readings import protocol_accuracy

#: models of the leak table (the issue's four)
LEAK_MODELS = ("logreg", "mlp", "cbnn", "cbnn_onehot")


def leak_comparison(runs: dict, y, clusters, cfg: EyeCVConfig, classes, score=None) -> dict:
    """:func:`lib.eye.readings.protocol_accuracy` of :data:`LEAK_MODELS` (those run) over every protocol's seeds,
    under one set of group resamples (``clusters``), every protocol scored on ``score`` (the originals: like for
    like)."""
    models = [m for m in LEAK_MODELS if m in cfg.models]
    return protocol_accuracy(runs, y, clusters, models, cfg.cv.bootstrap, cfg.cv.seeds[0], classes, score=score)


#: (minuend, subtrahend) protocol pairs of the leak table
LEAK_PAIRS = (
    ("patient", "linked"),
    ("linked", "originals"),
    ("plain", "linked"),
    ("linked", "neardup"),
    ("neardup", "neardup_all"),
)


#: (key of the comparison entry, its bootstrap, column label) of the two scores of the leak table
LEAK_SCORES = (("accuracy", "boot", "accuracy"), ("balanced_accuracy", "balanced_boot", "balanced accuracy"))


def _pct(v: float, boot: np.ndarray, sign: str = "") -> str:
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return f"{100 * v:{sign}.2f} [{100 * lo:{sign}.2f}, {100 * hi:{sign}.2f}]"


def leak_table(comp: dict, cfg: EyeCVConfig) -> pd.DataFrame:
    """One row per model and score (accuracy; balanced accuracy = mean per-class recall, free of the class mix):
    the seeds each protocol ran, the score (%) [95% CI] under each protocol (mean over its seeds) and the paired
    differences of :data:`LEAK_PAIRS` in percentage points [95% CI]; "-" where a model did not run a protocol."""
    rows = []
    protocols = list(dict.fromkeys(p for per in comp.values() for p in per))
    for m, per in comp.items():
        for key, bkey, label in LEAK_SCORES:
            row = {"model": cfg.label(m), "score": label}
            row["seeds per protocol"] = ", ".join(f"{p} {e['seeds']}" for p, e in per.items())
            for p in protocols:  # a protocol a model did not run (a sensitivity check): "-"
                row[f"{p} (%)"] = _pct(per[p][key], per[p][bkey]) if p in per else "-"
            for a, b in LEAK_PAIRS:
                if a in protocols and b in protocols:
                    both = a in per and b in per
                    diff = _pct(per[a][key] - per[b][key], per[a][bkey] - per[b][bkey], "+") if both else "-"
                    row[f"{a} - {b} (pp)"] = diff
            rows.append(row)
    return pd.DataFrame(rows)


def leak_metrics(comp: dict) -> dict:
    """JSON-ready leak comparison: {model: {protocol: accuracy, <protocol>_balanced: balanced accuracy,
    <a>_minus_<b>[_balanced]: value, ..._ci}}."""
    out = {}
    for m, per in comp.items():
        e = {}
        for key, bkey, _ in LEAK_SCORES:
            tail = "" if key == "accuracy" else "_balanced"
            for p, v in per.items():
                e[f"{p}{tail}"] = v[key]
                e[f"{p}{tail}_ci"] = [float(x) for x in np.nanpercentile(v[bkey], [2.5, 97.5])]
            for a, b in LEAK_PAIRS:
                if a in per and b in per:
                    e[f"{a}_minus_{b}{tail}"] = per[a][key] - per[b][key]
                    e[f"{a}_minus_{b}{tail}_ci"] = [
                        float(x) for x in np.nanpercentile(per[a][bkey] - per[b][bkey], [2.5, 97.5])
                    ]
        e["seeds"] = {p: v["seeds"] for p, v in per.items()}
        out[m] = e
    return out
