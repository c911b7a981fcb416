"""Notebook 01's rhythm study: the sequence model's (lr, units) grid, chosen on DS1 only (split from lib.ecg.rhythm,
which it imports; never the other way): the grid from the parameters, its edges, and the choice per seed by the
smoothed inner-CV PR-AUC (:func:`tune_sequence`), each setting's DS2 PR-AUC shown beside it, never read by it."""

from __future__ import annotations

import numpy as np

from lib.ecg import rhythm as R
from lib.ecg import rhythm_description as RD

#: the sequence settings a grid may vary (every other setting is one value)
GRID_KEYS = ("lr", "units")
#: where the grid is run: for every sequence seed, or on the first seed only (the others reuse its setting)
GRID_ON = ("each_seed", "first_seed")


def sequence_grid(seq_kw: dict) -> list[dict]:
    """Every (lr, units) setting of ``seq_kw`` (each a number or a non-empty list of numbers), in the order given."""
    axes = []
    for k in GRID_KEYS:
        v = seq_kw.get(k)
        vals = list(v) if isinstance(v, list | tuple) else [v]
        if not vals or any(x is None or isinstance(x, bool) or not isinstance(x, int | float) or x <= 0 for x in vals):
            raise ValueError(f"sequence.{k} must be a positive number or a non-empty list of them, got {v!r}")
        if len(set(vals)) != len(vals):
            raise ValueError(f"sequence.{k} lists a value twice: {v!r}")
        axes.append(vals)
    return [{"lr": float(lr), "units": int(u)} for lr in axes[0] for u in axes[1]]


def grid_edges(grid: list[dict], setting: dict) -> str:
    """'' when ``setting`` lies inside the grid on every axis with more than one value, else which edge it sits on
    (e.g. 'lr at the grid's top; units at the grid's bottom'): the best may lie beyond the grid there."""
    out = []
    for k in GRID_KEYS:
        vals = sorted({g[k] for g in grid})
        if len(vals) > 1 and setting[k] in (vals[0], vals[-1]):
            out.append(f"{k} at the grid's {'top' if setting[k] == vals[-1] else 'bottom'}")
    return "; ".join(out)


#: the grid table's columns: the inner-CV PR-AUC's moving mean at the chosen epoch (it chooses the setting), the raw
#: value there, and the DS2 PR-AUC (shown so a reader sees whether the choice matters, never read by the choice)
GRID_SCORE, GRID_RAW, GRID_DS2 = RD.GRID_SCORE, RD.GRID_RAW, RD.GRID_DS2


def tune_sequence(Z, y, train, test, *, grid: list[dict], seed: int, **kw) -> tuple[dict, list[dict]]:
    """:func:`lib.ecg.rhythm.fit_sequence` for every setting of ``grid`` (``kw``: the other settings); the setting
    whose chosen epoch has the highest smoothed pooled out-of-fold non-sinus PR-AUC of the inner CV on ``train``
    wins (the score that already chooses the epochs). Returns (the winner's fit, with 'setting' added; one row per
    setting: seed, lr, units, :data:`GRID_SCORE`, the raw PR-AUC at that epoch, epochs, capped, seconds, chosen,
    grid edge, and :data:`GRID_DS2`: the setting's DS2 non-sinus PR-AUC, computed from the fit already made (its
    inner fold models' mean on ``test``), shown beside the choice and never read by it)."""
    from sklearn.metrics import average_precision_score

    if not grid:
        raise ValueError("the sequence grid is empty")
    fits = [R.fit_sequence(Z, y, train, test, seed=seed, **(kw | g)) for g in grid]
    scores = [f["inner_ap_smoothed"][f["epochs"] - 1] for f in fits]
    best = int(np.argmax(scores))
    edge = grid_edges(grid, grid[best]) if len(grid) > 1 else ""
    pos_test = np.asarray(y)[test] != 0
    rows = [
        {"seed": int(seed)}
        | g
        | {
            GRID_SCORE: sc,
            GRID_RAW: f["inner_ap"][f["epochs"] - 1],
            "epochs": f["epochs"],
            "capped": f["capped"],
            "fit_seconds": f["fit_seconds"],
            "chosen": i == best,
            "grid edge": edge if i == best else "",
            GRID_DS2: float(average_precision_score(pos_test, f["score"]))
            if 0 < pos_test.sum() < pos_test.size
            else None,
        }
        for i, (g, f, sc) in enumerate(zip(grid, fits, scores))
    ]
    return fits[best] | {"setting": dict(grid[best])}, rows
