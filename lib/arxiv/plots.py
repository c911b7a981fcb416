"""Figures of notebook 02: category distribution, training curves, confusion matrix, per-class F1."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def plot_category_distribution(categories, min_count: int, title: str = "Primary categories"):
    """Bar chart (log y) of records per primary category, descending, with the min_count line."""
    counts = pd.Series(list(categories)).value_counts()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.09 * len(counts) + 2), 3.4))
    colors = ["C0" if n >= min_count else "C3" for n in counts.values]
    ax.bar(range(len(counts)), counts.values, color=colors, width=0.85)
    ax.axhline(min_count, color="k", ls="--", lw=0.8, label=f"min_count = {min_count} (red: below, not classified)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(counts)))
    ax.set_xticklabels(counts.index, rotation=90, fontsize=5 if len(counts) > 40 else 7)
    ax.set_ylabel("records (log scale)")
    ax.set_title(f"{title}: {len(counts)} categories, {int(counts.sum())} records")
    ax.legend(loc="upper right")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_training_curves(history: pd.DataFrame, title: str = "Head training (frozen encoder)"):
    """Two panels: NLL loss and accuracy per epoch, train (eval mode) vs the monitor part (the part the schedule
    reads); the loss panel also shows the mean batch loss as trained (``batch_loss``, the paper's training curve)."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    if "batch_loss" in history:
        axes[0].plot(history["epoch"], history["batch_loss"], "^--", label="train (batches, as trained)")
    for ax, metric, label in ((axes[0], "loss", "NLL loss"), (axes[1], "acc", "accuracy")):
        ax.plot(history["epoch"], history[f"train_{metric}"], "o-", label="train")
        ax.plot(history["epoch"], history[f"val_{metric}"], "s-", label="monitor part")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_confusion(cm: pd.DataFrame, title: str = "Confusion matrix (20 largest classes)"):
    """Row-normalised heatmap of a confusion DataFrame (counts annotated)."""
    import seaborn as sns

    values = cm.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.nan_to_num(values / values.sum(1, keepdims=True))
    fig, ax = plt.subplots(figsize=(0.38 * len(cm) + 2.5, 0.36 * len(cm) + 1.5))
    sns.heatmap(
        norm,
        annot=cm.to_numpy(),
        fmt="d",
        cmap="Blues",
        vmin=0,
        vmax=1,
        cbar_kws={"label": "row share"},
        xticklabels=cm.columns,
        yticklabels=cm.index,
        ax=ax,
        annot_kws={"fontsize": 6},
    )
    ax.grid(False)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def plot_f1_vs_support(table: pd.DataFrame, models: list[str]):
    """Per-class test F1 against training count (log x), one colour per model; point area grows with the class's
    test support (classes with 1-2 test records give F1 of 0, 0.67 or 1 by chance)."""
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    sizes = 12 + 10 * np.asarray(table["test_support"], dtype=float)
    for m in models:
        ax.scatter(table["n_train"], table[f"f1_{m}"], s=sizes, alpha=0.55, label=m, edgecolors="none")
    ax.set_xscale("log")
    ax.set_xlabel("training records of the class (log)")
    ax.set_ylabel("test F1")
    ax.set_title("Per-class F1 vs class size (area: test support)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_learning_curve(curve: pd.DataFrame):
    """Test accuracy (95% bootstrap band) against training records on a log2 axis (the log-linear fit of the reading
    is a straight line here), one line per model."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for m, part in curve.groupby("model", sort=False):
        ax.plot(part["n_train"], part["accuracy"], "o-", label=m)
        ax.fill_between(part["n_train"], part["accuracy_low"], part["accuracy_high"], alpha=0.2)
    sizes = sorted(curve["n_train"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(int(n)) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training records (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Learning curve: frozen head vs TF-IDF")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
