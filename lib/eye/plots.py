"""Figures of notebook 03: example images per class, class counts, SOM U-matrix and hit map.

Each function returns a matplotlib Figure; save it with ``lib.core.plotting.save_figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

CLASS_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")  # colour-blind safe, one per class
MARKERS = ("o", "s", "^", "D")


def image_grid(images: np.ndarray, labels: np.ndarray, classes: list[str], per_class: int = 4):
    """Grid of the first ``per_class`` images of each class. images (n, s, s, 3) uint8, labels (n,)."""
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.6 * per_class, 1.7 * len(classes)), squeeze=False)
    for k, cls in enumerate(classes):
        idx = np.flatnonzero(labels == k)[:per_class]
        for j in range(per_class):
            ax = axes[k, j]
            ax.axis("off")
            if j < len(idx):
                ax.imshow(images[idx[j]])
        axes[k, 0].set_title(cls, loc="left", fontsize=9)
    fig.tight_layout()
    return fig


def class_counts(counts: dict[str, int], title: str = "Images per class"):
    """Bar chart of {class: count}."""
    fig, ax = plt.subplots(figsize=(5, 2.8))
    names = list(counts)
    ax.bar(names, [counts[n] for n in names], color=CLASS_COLOURS[: len(names)])
    for i, n in enumerate(names):
        ax.text(i, counts[n], str(counts[n]), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("images")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def u_matrix(umat: np.ndarray, bmu: np.ndarray, labels: np.ndarray, classes: list[str], seed: int = 0):
    """U-matrix (rows, cols) with each sample drawn at its BMU (jittered, coloured by class)."""
    rows, cols = umat.shape
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    im = ax.imshow(umat.T, cmap="bone_r", origin="lower", extent=(-0.5, rows - 0.5, -0.5, cols - 0.5))
    fig.colorbar(im, ax=ax, label="mean distance to neighbours (normalised)")
    rng = np.random.default_rng(seed)
    r, c = np.divmod(np.asarray(bmu), cols)
    for k, cls in enumerate(classes):
        m = labels == k
        jitter = rng.uniform(-0.3, 0.3, size=(m.sum(), 2))
        ax.scatter(
            r[m] + jitter[:, 0],
            c[m] + jitter[:, 1],
            s=10,
            marker=MARKERS[k % 4],
            color=CLASS_COLOURS[k % 4],
            label=cls,
            alpha=0.8,
            linewidths=0,
        )
    ax.set_xlabel("map row")
    ax.set_ylabel("map column")
    ax.grid(False)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=4, fontsize=6, handletextpad=0.2)
    ax.set_title("SOM U-matrix with samples at their BMU", pad=22)
    fig.tight_layout()
    return fig


def hit_map(counts: np.ndarray, shape: tuple[int, int], classes: list[str]):
    """Hit map: each neuron a pie of its class counts (n_neurons, c), area proportional to hits."""
    rows, cols = shape
    total = counts.sum(axis=1)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    rmax = 0.48 / np.sqrt(max(total.max(), 1))
    for k in range(rows * cols):
        i, j = divmod(k, cols)
        if total[k] == 0:
            ax.plot(i, j, marker="x", color="0.7", markersize=4)
            continue
        start = 0.0
        for c in range(counts.shape[1]):
            if counts[k, c] == 0:
                continue
            frac = counts[k, c] / total[k]
            ax.add_patch(
                plt.matplotlib.patches.Wedge(
                    (i, j), rmax * np.sqrt(total[k]), 360 * start, 360 * (start + frac), color=CLASS_COLOURS[c % 4]
                )
            )
            start += frac
    handles = [plt.matplotlib.patches.Patch(color=CLASS_COLOURS[c % 4], label=n) for c, n in enumerate(classes)]
    handles.append(plt.Line2D([], [], marker="x", color="0.7", linestyle="", label="no hits"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    ax.set_xlim(-0.6, rows - 0.4)
    ax.set_ylim(-0.6, cols - 0.4)
    ax.set_aspect("equal")
    ax.set_xlabel("map row")
    ax.set_ylabel("map column")
    ax.set_title("SOM hit map (pie = class mix, area = hits)")
    fig.tight_layout()
    return fig


def per_class_bars(
    table: pd.DataFrame,
    classes: list[str],
    paper: dict[str, float] | None = None,
    title: str = "Per-class accuracy (mean over folds)",
):
    """Grouped bars: one group per class, one bar per column set in ``table`` (rows = series name)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    series = list(table.index)
    n = len(series) + (1 if paper else 0)
    width = 0.8 / n
    x = np.arange(len(classes))
    for s, name in enumerate(series):
        ax.bar(x + s * width, table.loc[name, classes].to_numpy(dtype=float), width, label=name)
    if paper:
        ax.bar(x + len(series) * width, [paper[c] for c in classes], width, label="paper", color="0.6")
    ax.set_xticks(x + width * (n - 1) / 2)
    ax.set_xticklabels(classes)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
