"""Uncertainty: bootstrap confidence intervals (optionally over groups such as patients or records),
paired bootstrap differences between two models, and Holm's correction for several comparisons."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: the level of every hypothesis test in the package (two-sided 95 % intervals, Holm at 0.05)
ALPHA = 0.05


def _group_index(groups: np.ndarray) -> list[np.ndarray]:
    _, inverse = np.unique(groups, return_inverse=True)
    return [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]


def bootstrap_samples(n: int, n_boot: int, seed: int, groups=None) -> list[np.ndarray]:
    """``n_boot`` resamples of ``range(n)``: rows with replacement, or whole groups with replacement
    (all rows of each drawn group: a record- or patient-level bootstrap) when ``groups`` (n,) is given."""
    rng = np.random.default_rng(seed)
    if groups is None:
        return [rng.integers(0, n, n) for _ in range(n_boot)]
    members = _group_index(np.asarray(groups))
    out = []
    for _ in range(n_boot):
        drawn = rng.integers(0, len(members), len(members))
        out.append(np.concatenate([members[g] for g in drawn]))
    return out


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    groups=None,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile CI of ``statistic(idx)`` over bootstrap resamples ``idx`` of ``range(n)``.

    ``statistic`` receives an index array and returns a number (e.g. ``lambda i: f1(y[i], p[i])``);
    resamples where it is not finite (e.g. a class absent) are dropped.
    """
    values = np.array([statistic(idx) for idx in bootstrap_samples(n, n_boot, seed, groups)], dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def paired_bootstrap(
    statistic_a: Callable[[np.ndarray], float],
    statistic_b: Callable[[np.ndarray], float],
    n: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    groups=None,
    level: float = 0.95,
) -> dict:
    """Difference a - b on the SAME resamples: point estimate, CI and a two-sided bootstrap p-value
    (twice the smaller share of resampled differences on either side of zero)."""
    idx_all = np.arange(n)
    diffs = np.array([statistic_a(i) - statistic_b(i) for i in bootstrap_samples(n, n_boot, seed, groups)], dtype=float)
    diffs = diffs[np.isfinite(diffs)]
    alpha = (1 - level) / 2
    p = 2 * min((diffs <= 0).mean(), (diffs >= 0).mean()) if diffs.size else float("nan")
    return {
        "diff": float(statistic_a(idx_all) - statistic_b(idx_all)),
        "ci": [float(np.quantile(diffs, alpha)), float(np.quantile(diffs, 1 - alpha))] if diffs.size else [None, None],
        "p": float(min(1.0, p)),
    }


def t_interval(values, level: float = 0.95) -> tuple[float, float]:
    """Mean of independent replicates (e.g. seeds) and the half-width of its two-sided Student-t interval
    (nan for fewer than 2 values)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()) if len(v) else float("nan"), float("nan")
    return float(v.mean()), float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given), monotone and capped at 1."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def interval_holds(bounds: tuple[float, float], effect: float) -> bool:
    """Whether the interval ``(low, high)`` holds the (signed) ``effect``: a comparison whose interval holds the
    paper's effect can neither confirm nor reject it ("underpowered"; the one rule of the report and the notebooks)."""
    low, high = bounds
    return bool(low <= effect <= high)
