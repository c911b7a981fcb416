"""Figures of notebook 01 (each returns a matplotlib Figure; saving is lib.core.plotting.save_figure's job)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def example_windows(
    X: np.ndarray,
    y: np.ndarray,
    class_names: list,
    fs: float,
    before: int,
    *,
    per_class: int = 6,
    seed: int = 0,
    title: str = "",
):
    """Grid: one panel per class with up to ``per_class`` random windows X: (n, L) (time in s, R at 0)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, len(class_names), figsize=(2.6 * len(class_names), 2.4), sharey=True)
    t = (np.arange(X.shape[1]) - before) / fs
    for c, (ax, name) in enumerate(zip(np.atleast_1d(axes), class_names)):
        idx = np.flatnonzero(y == c)
        for i in rng.choice(idx, size=min(per_class, idx.size), replace=False) if idx.size else []:
            ax.plot(t, X[i], lw=0.8, alpha=0.8)
        ax.set_title(f"{name} (n={idx.size})")
        ax.set_xlabel("time from R (s)")
    np.atleast_1d(axes)[0].set_ylabel("normalised amplitude")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrices(frames: dict, normalise: bool = True):
    """Side-by-side heatmaps of {title: confusion DataFrame (rows true)}; row-normalised if asked. Titles are
    wrapped to the panel's width, so long model names do not run into the next panel."""
    import textwrap

    import seaborn as sns

    fig, axes = plt.subplots(1, len(frames), figsize=(3.8 * len(frames), 3.6))
    for ax, (title, cm) in zip(np.atleast_1d(axes), frames.items()):
        data = cm.div(cm.sum(axis=1).replace(0, 1), axis=0) if normalise else cm
        sns.heatmap(
            data,
            annot=True,
            fmt=".2f" if normalise else "d",
            cmap="Blues",
            cbar=False,
            ax=ax,
            vmin=0,
            vmax=1 if normalise else None,
        )
        ax.set_title(textwrap.fill(str(title), width=28), fontsize=10)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.tight_layout()
    return fig


def learning_curves(
    curves: dict, metric_label: str, full_score: float | None = None, target: float | None = None, title: str = ""
):
    """curves: {method: mean_curve DataFrame (n_labels, mean, std)}; mean line and +-1 std band; ``full_score``:
    the reference (the same recipe on the whole pool), ``title``: the protocol."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for name, mc in curves.items():
        ax.plot(mc["n_labels"], mc["mean"], marker="o", ms=3, label=name)
        ax.fill_between(mc["n_labels"], mc["mean"] - mc["std"], mc["mean"] + mc["std"], alpha=0.15)
    if full_score is not None:
        ax.axhline(full_score, color="k", ls="--", lw=0.8, label="reference (whole pool)")
    if target is not None:
        ax.axhline(target, color="0.5", ls=":", lw=0.8, label=f"{target / full_score:.0%} of reference")
    ax.set_xlabel("pool labels queried (validation labels not included)")
    ax.set_ylabel(metric_label)
    if title:
        ax.set_title(title, fontsize=7, loc="left")
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    fig.tight_layout()
    return fig


def feature_importance(importances: np.ndarray, names: list, top: int = 20, err=None, xlabel: str = "importance"):
    """Horizontal bar chart of the ``top`` largest importances (``err``: their standard deviations)."""
    order = np.argsort(importances)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(4.5, 0.22 * len(order) + 0.8))
    ax.barh(
        np.asarray(names)[order], np.asarray(importances)[order], xerr=None if err is None else np.asarray(err)[order]
    )
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def controller_traces(long: pd.DataFrame):
    """The fuzzy controller's outputs per round, one line per seed: query threshold, batch size, learning rate,
    dropout (each the value used for that round's query / training), and the pool uncertainty it reads."""
    cols = [c for c in ("threshold", "batch_size", "lr", "dropout", "pool_uncertainty", "val_loss") if c in long]
    fig, axes = plt.subplots(1, len(cols), figsize=(2.4 * len(cols), 2.6))
    for seed, g in long.groupby("seed"):
        g = g.sort_values("round")
        for ax, c in zip(np.atleast_1d(axes), cols):
            ax.plot(g["round"], g[c], marker="o", ms=2, lw=0.9, label=f"seed {seed}")
    for ax, c in zip(np.atleast_1d(axes), cols):
        ax.set_title(c, fontsize=9)
        ax.set_xlabel("round")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    np.atleast_1d(axes)[0].legend(fontsize=6)
    fig.tight_layout()
    return fig
