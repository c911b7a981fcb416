"""The forest-AL label saving under several rules (review22s6 M3): the first-crossing saving of lib.ecg.al_forest reads
the first touch of a noisy per-seed curve, and ODAL's shrunken rounds give it more points near the target. Here
every per-seed curve is first put on random sampling's label grid (the seed set plus whole batches: the labels random
actually saw), linearly interpolated between the points the strategy saw (no extrapolation past its last point), and
the labels to the target are read on that grid:

- ``first``: the first grid point at or above the target (``fraction`` x that seed's reference);
- ``sustained``: the first grid point from which the curve stays at or above the target up to its last point, for
  at least two grid points (a touch at the last point alone is censored: not reached).

Targets at each of ``fractions``. Per seed saving = 1 - labels(strategy) / labels(random); the mean and a 95%
t-interval over seeds (cut at +100%, the most a saving can be) only when every seed of both curves reaches the target
(otherwise the reach counts alone); beside it the ratio of totals, 1 - sum(labels) / sum(random's labels), another
estimator of the same data. The claim (:func:`claim_row`) is ODAL's first crossing of the run's ``saving_fraction``
on this grid.
Beside them, a named secondary: the paired curve AUC over the early budget (the seed set to a third of the budget,
on the same grid), mean and t-interval over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.ecg.active_learning import seed_interval

RULES = ("first", "sustained")
#: grid points at or above the target, up to the end, that make a crossing sustained
SUSTAINED_POINTS = 2
#: the upper end of a saving (a strategy cannot need fewer than 0 labels): t-intervals are cut there
MAX_SAVING = 1.0
#: the second target beside params saving_fraction (review22s6 M3: the 95% target sits where the curves plateau)
OTHER_FRACTION = 0.90


def fractions(saving_fraction: float) -> list[float]:
    """The targets read: :data:`OTHER_FRACTION` and the run's ``saving_fraction``."""
    return sorted({OTHER_FRACTION, float(saving_fraction)})


def grid(long: pd.DataFrame) -> np.ndarray:
    """Random sampling's label grid: every label count its curves saw (the seed set plus whole batches)."""
    return np.sort(long.loc[long.method == "random", "n_labels"].unique()).astype(float)


def on_grid(g: pd.DataFrame, metric: str, x: np.ndarray) -> np.ndarray:
    """One run's curve at the grid points ``x`` (linear between its own points, NaN past its last one)."""
    g = g.sort_values("n_labels")
    n, v = g["n_labels"].to_numpy(float), g[metric].to_numpy(float)
    out = np.interp(x, n, v)
    out[(x < n[0]) | (x > n[-1])] = np.nan
    return out


def labels_at(x: np.ndarray, v: np.ndarray, target: float, rule: str) -> float | None:
    """Labels to ``target`` on the grid ``x`` (values ``v``; NaN = not seen) by ``rule`` (:data:`RULES`)."""
    ok = np.isfinite(v)
    x, v = x[ok], v[ok]
    above = v >= target
    if not above.any():
        return None
    if rule == "first":
        return float(x[int(np.argmax(above))])
    if rule == "sustained":
        if not above[-1]:
            return None
        below = np.flatnonzero(~above)
        start = below[-1] + 1 if below.size else 0
        if x.size - start < SUSTAINED_POINTS:  # only the last point above: not sustained (censored)
            return None
        return float(x[start])
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def per_seed_curves(long: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Every (method, seed) curve on random's grid: method, seed, n_labels, ``metric`` (the committed per-seed
    curves: anyone can recompute the saving under another rule)."""
    x = grid(long)
    rows = []
    for (m, s), g in long.groupby(["method", "seed"]):
        v = on_grid(g, metric, x)
        rows += [{"method": m, "seed": int(s), "n_labels": int(n), metric: val} for n, val in zip(x, v)]
    return pd.DataFrame(rows)


def savings(
    long: pd.DataFrame, reference: pd.DataFrame, metric: str, fractions, budget: int, extra: dict | None = None
) -> pd.DataFrame:
    """One row per (method, fraction, rule) for every method but random: reach counts, per-seed labels and savings,
    the mean saving with its t-interval (every seed of both reaches), and the early-budget AUC difference.
    ``extra``: {method: labels it reads beyond the pool} (ODAL's validation labels; lib.ecg.al_forest.run's
    settings); the saving with them charged to the method's count, 1 - (labels + extra) / random's labels per seed,
    is ``saving_with_validation`` with its t-interval (review22s7 m4; equal to the saving where extra is 0)."""
    extra = extra or {}
    x = grid(long)
    ref = reference.set_index("seed")[metric]
    curves = {(m, int(s)): on_grid(g, metric, x) for (m, s), g in long.groupby(["method", "seed"])}
    seeds = sorted({s for _, s in curves})
    early = (x >= x[0]) & (x <= x[0] + (budget - x[0]) / 3.0)
    methods = [m for m in dict.fromkeys(long["method"]) if m != "random"]
    rows = []
    for m in methods:
        auc_d = [
            float(np.nanmean(curves[(m, s)][early]) - np.nanmean(curves[("random", s)][early]))
            for s in seeds
            if (m, s) in curves and ("random", s) in curves
        ]
        for f in fractions:
            for rule in RULES:
                lab = {
                    k: [labels_at(x, curves[(k, s)], f * float(ref.loc[s]), rule) for s in seeds] for k in (m, "random")
                }
                both = [a is not None and b is not None for a, b in zip(lab[m], lab["random"])]
                per = [1.0 - a / b if ok else None for a, b, ok in zip(lab[m], lab["random"], both)]
                e = float(extra.get(m, 0))
                per_v = [1.0 - (a + e) / b if ok else None for a, b, ok in zip(lab[m], lab["random"], both)]
                every = all(both) and len(both) > 1
                vals = np.asarray([p for p in per if p is not None], dtype=float)
                vals_v = np.asarray([p for p in per_v if p is not None], dtype=float)
                rows.append(
                    {"method": m, "fraction": f, "rule": rule, "seeds": len(seeds)}
                    | {"seeds_reaching": sum(v is not None for v in lab[m])}
                    | {"random_seeds_reaching": sum(v is not None for v in lab["random"])}
                    | {"labels_per_seed": lab[m], "random_labels_per_seed": lab["random"]}
                    | {"saving_per_seed": [None if p is None else round(p, 4) for p in per]}
                    | {"saving": float(vals.mean()) if every else None}
                    | {"saving_ci": _cut(seed_interval(vals)) if every else None}
                    | {"saving_ratio_of_totals": 1.0 - sum(lab[m]) / sum(lab["random"]) if every else None}
                    | {"validation_labels": int(e)}
                    | {"saving_with_validation": float(vals_v.mean()) if every else None}
                    | {"saving_with_validation_ci": _cut(seed_interval(vals_v)) if every else None}
                    | {"early_auc_minus_random": float(np.mean(auc_d)) if auc_d else None}
                    | {"early_auc_minus_random_ci": seed_interval(np.asarray(auc_d)) if len(auc_d) > 1 else None}
                    | {"early_window": [int(x[early][0]), int(x[early][-1])]}
                )
    return pd.DataFrame(rows)


def _cut(ci):
    """A saving's t-interval with its upper end cut at :data:`MAX_SAVING`."""
    return None if ci is None else [ci[0], None if ci[1] is None else min(ci[1], MAX_SAVING)]


def claim_row(table: pd.DataFrame, fraction: float, method: str = "odal") -> dict | None:
    """The row the claim reads: ``method``'s first crossing of ``fraction`` x the reference on random's grid."""
    t = table[(table.method == method) & np.isclose(table.fraction, fraction) & (table.rule == "first")]
    return None if t.empty else t.iloc[0].to_dict()


def _pct(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:+.1%}"


def with_validation_text(row: dict | None, method: str = "odal") -> str:
    """' With the N validation labels ...: saving [95% CI]' for a savings row whose method reads validation labels
    (review22s7 m4: the saving with them charged, computed in :func:`savings`, never by hand); '' when it reads
    none or the row has no such column."""
    if row is None or not row.get("validation_labels"):
        return ""
    v, ci = row.get("saving_with_validation"), row.get("saving_with_validation_ci")
    val = (
        f"{_pct(v)} [95% CI {_pct(ci[0])} to {_pct(ci[1])}]"
        if v is not None and not pd.isna(v) and ci
        else "no value (not every seed of both curves reaches the target)"
    )
    return (
        f" With the {int(row['validation_labels']):,} validation labels {method}'s controller reads charged to "
        f"{method} (random reads none): {val}."
    )


def reading(
    table: pd.DataFrame,
    method: str = "odal",
    curves_rows: int | None = None,
    claim_fraction: float | None = None,
    own_grid: tuple | None = None,
) -> str:
    """Generated Markdown: the method's saving under each target and rule (on random's grid), reach counts, and the
    early-budget AUC difference as a named secondary; ``curves_rows``: the size of the per-seed curves table (on
    disk) to point to; ``claim_fraction``: the target whose first crossing is the claim (:func:`claim_row`), named,
    with ``own_grid`` = (saving, [lo, hi]) of the same target read on each strategy's own points beside it."""
    t = table[table.method == method]
    if not len(t):
        return ""
    lines = [
        f"{method}'s label saving vs random on random's label grid (every per-seed curve interpolated onto the labels "
        "random saw), by target and rule ('first': the first grid point at the target; 'sustained': from where the "
        f"curve stays at or above it to the end, for at least {SUSTAINED_POINTS} grid points, else not reached). "
        "Each saving is the mean of per-seed ratios 1 - labels / random's labels with a 95% t-interval over seeds "
        f"(cut at {MAX_SAVING:+.0%}); the ratio of totals over seeds, 1 - sum(labels) / sum(random's labels), is "
        "another estimator of the same data and can differ from it:"
    ]
    for r in t.itertuples():
        ci = r.saving_ci
        est = (
            f"{_pct(r.saving)} [95% CI {_pct(ci[0])} to {_pct(ci[1])}] over {r.seeds} seeds (ratio of totals "
            f"{_pct(r.saving_ratio_of_totals)})"
            if r.saving is not None and ci
            else "no mean (not every seed of both curves reaches the target); per seed "
            + ", ".join("-" if p is None else f"{p:+.0%}" for p in r.saving_per_seed)
        )
        lines.append(
            f"{r.fraction:.0%} of the reference, {r.rule} crossing: {est} ({method} reaches it in {r.seeds_reaching} "
            f"of {r.seeds} seeds, random in {r.random_seeds_reaching})."
        )
    c = claim_row(table, claim_fraction, method) if claim_fraction is not None else None
    if c is not None:
        val = (
            f"{_pct(c['saving'])} [95% CI {_pct(c['saving_ci'][0])} to {_pct(c['saving_ci'][1])}]"
            if c["saving"] is not None and not pd.isna(c["saving"])
            else "no value (not every seed of both curves reaches the target)"
        )
        own = (
            f"; the same target read on each strategy's own points (the forest AL reading above) gives "
            f"{_pct(own_grid[0])} [95% CI {_pct(own_grid[1][0])} to {_pct(own_grid[1][1])}], shown beside it, not the "
            "claim: denser rounds near the target favour a strategy there"
            if own_grid is not None and own_grid[0] is not None and own_grid[1] and own_grid[1][0] is not None
            else ""
        )
        lines.append(
            f"**The claim** (claims.interpatient_annotation_saving) is the {claim_fraction:.0%} first-crossing row on "
            f"random's grid: {val}{own}." + with_validation_text(c, method)
        )
    r = t.iloc[0]
    ci = r["early_auc_minus_random_ci"]
    lo, hi = r["early_window"]
    lines.append(
        "Secondary (named after review22s6, not chosen before the run): mean curve difference "
        f"{method} minus random over the early budget ({lo:,}-{hi:,} labels, on the grid) "
        f"{r['early_auc_minus_random']:+.3f}"
        + (f" [95% t-interval over seeds {ci[0]:+.3f} to {ci[1]:+.3f}]" if ci else "")
        + "."
    )
    if curves_rows:
        lines.append(
            f"Every per-seed curve on that grid: table al_forest_curves_per_seed ({curves_rows:,} rows; on disk, not "
            "shown), to recompute the saving under another rule."
        )
    return "\n".join(f"- {line}" for line in lines)


def scope_text(long: pd.DataFrame, *, batch: int, al_strategies, al_seeds, forest_strategies) -> str:
    """Generated Markdown (review22s6 m11): what of the specification's AL study this configuration does not run,
    read from the parameters, and the round sizes ODAL's controller actually used (``long``: the forest study's
    curves) against the fixed ``batch`` of the other strategies."""
    lines = []
    if "bald" not in al_strategies:
        lines.append("BALD (MC-dropout disagreement) is not among the CNN-BiLSTM AL study's strategies in this run.")
    if len(al_seeds) < 5:
        lines.append(
            f"The CNN-BiLSTM AL study runs {len(al_seeds)} seed(s) (the specification asks for at least 5); the "
            "forest study carries the verdict."
        )
    if "entropy" not in forest_strategies:
        lines.append("Plain uncertainty (entropy) sampling is not an arm of the forest study here.")
    o = long[long.method == "odal"].sort_values(["seed", "n_labels"])
    steps = o.groupby("seed")["n_labels"].diff().dropna()
    steps = steps[steps > 0]
    if len(steps) and "odal_no_fuzzy" in forest_strategies:
        lines.append(
            f"ODAL's fuzzy controller changed its round sizes ({int(steps.min())}-{int(steps.max())} labels, median "
            f"{int(steps.median())}) while ODAL without it queries {batch} a round: their difference (the "
            "controller's own effect) mixes the round size with the query threshold."
        )
    return "\n".join(f"- {line}" for line in lines)


def saving_claim_text(claims: dict, paper: dict) -> str:
    """One sentence on the annotation-saving claim that decides (DS1 -> DS2, the forest AL study's claim row): its
    value and 95% CI against 0 and the paper's value; '' when the claims or the paper hold none."""
    v, ci = claims.get("interpatient_annotation_saving"), claims.get("interpatient_annotation_saving_ci")
    target = paper.get("nb01_annotation_saving")
    if v is None or target is None or not ci or None in ci:
        return ""
    lo, hi = (float(x) for x in ci)
    holds_zero, holds_paper = lo <= 0 <= hi, lo <= float(target) <= hi
    if holds_zero and holds_paper:
        reading = "it holds both 0 and the paper's value, so this run can neither confirm nor reject the claim"
    elif holds_paper:
        reading = "it excludes 0 and holds the paper's value: consistent with the claim"
    elif holds_zero:
        reading = "it holds 0 and excludes the paper's value: the claimed saving is rejected, no saving is shown"
    else:
        side = "above" if lo > float(target) else "below"
        reading = f"it excludes 0 and the paper's value, and lies {side} it"
    key, charged = "interpatient_annotation_saving_", ""  # review22s11 m1: ODAL's validation labels charged
    wv, wci, n_val = (claims.get(key + k) for k in ("with_validation", "with_validation_ci", "validation_labels"))
    if n_val and wv is not None and wci and None not in wci:
        charged = (
            f" With the {int(n_val):,} validation labels ODAL's controller reads charged to ODAL (random reads none) "
            f"the saving is {100 * float(wv):+.1f} % [95% CI {100 * float(wci[0]):+.1f} % to {100 * wci[1]:+.1f} %]."
        )
    return (
        f"The annotation saving that decides the claim is the DS1 -> DS2 one (the forest AL study's claim row, "
        f"section 6): {100 * float(v):+.1f} % [95% CI {100 * lo:+.1f} % to {100 * hi:+.1f} %] against the paper's "
        f"{100 * float(target):.0f} %; {reading}.{charged}"
    )
