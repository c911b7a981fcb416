"""Figures of notebook 04: sample grid, CKA heatmap grid (paper Figure 1), aligned/conflicting accuracy."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from lib.bias.objectives import LABELS


def plot_samples(data: dict, n: int = 10, seed: int = 0):
    """Rows: (dataset, aligned | conflicting) training images; n random examples each."""
    rows = [(d, grp) for d in data for grp in ("aligned", "conflicting")]
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.05), squeeze=False)
    rng = np.random.default_rng(seed)
    for r, (d, grp) in enumerate(rows):
        sp = data[d]["train"]
        pool = np.flatnonzero(sp.aligned if grp == "aligned" else ~sp.aligned)
        pick = rng.choice(pool, size=min(n, len(pool)), replace=False) if len(pool) else []
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c < len(pick):
                i = pick[c]
                ax.imshow(sp.images[i])
                ax.set_title(f"y={sp.target[i]} b={sp.bias[i]}", fontsize=6)
        axes[r][0].set_ylabel(f"{d}\n{grp}", fontsize=7)
    fig.suptitle("Training samples: target y, bias attribute b")
    return fig


def plot_cka_grid(cka: dict, datasets, objectives, layer_names=None):
    """Grid of layer x layer CKA heatmaps: rows datasets, columns objectives (paper Figure 1)."""
    fig, axes = plt.subplots(
        len(datasets),
        len(objectives),
        figsize=(2.2 * len(objectives), 2.2 * len(datasets)),
        squeeze=False,
        constrained_layout=True,
    )
    im = None
    for r, d in enumerate(datasets):
        for c, o in enumerate(objectives):
            ax = axes[r][c]
            ax.grid(False)
            if (d, o) in cka:
                im = ax.imshow(cka[(d, o)], origin="lower", vmin=0.0, vmax=1.0, cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(LABELS.get(o, o))
            if c == 0:
                ax.set_ylabel(f"{d}\nlayer index")
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.8, label="mini-batch linear CKA")
    n_layers = len(layer_names) if layer_names is not None else "?"
    fig.suptitle(f"CKA between all {n_layers} leaf layers of ResNet18 (conv, norm, ReLU, pool, dropout, FC)")
    return fig


def plot_group_accuracy(runs: pd.DataFrame):
    """Bars: mean test accuracy on bias-aligned and bias-conflicting samples, per dataset and objective."""
    datasets = list(dict.fromkeys(runs["dataset"]))
    objectives = list(dict.fromkeys(runs["objective"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3), squeeze=False, sharey=True)
    x = np.arange(len(objectives))
    for ax, d in zip(axes[0], datasets):
        sub = runs[runs["dataset"] == d].groupby("objective")[["aligned", "conflicting", "accuracy"]]
        mean, std = sub.mean().reindex(objectives), sub.std(ddof=1).reindex(objectives).fillna(0.0)
        for k, col in enumerate(("aligned", "conflicting", "accuracy")):
            ax.bar(x + (k - 1) * 0.27, mean[col], 0.27, yerr=std[col], label=col, capsize=2)
        ax.set_xticks(x, [LABELS.get(o, o) for o in objectives], rotation=30)
        ax.set_title(d)
        ax.set_ylim(0, 1.05)
    axes[0][0].set_ylabel("test accuracy")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def plot_valid_curves(history: pd.DataFrame):
    """Validation accuracy per epoch (mean over seeds), one panel per dataset."""
    datasets = list(dict.fromkeys(history["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3), squeeze=False, sharey=True)
    for ax, d in zip(axes[0], datasets):
        sub = history[history["dataset"] == d]
        for o, grp in sub.groupby("objective", sort=False):
            curve = grp.groupby("epoch")["valid_acc"].mean()
            ax.plot(curve.index, curve.values, marker="o", ms=3, label=LABELS.get(o, o))
        ax.set_title(d)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("validation accuracy (unbiased)")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
