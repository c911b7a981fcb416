"""Figures of notebook 04: sample grid, CKA heatmap grid (paper Figure 1), aligned/conflicting accuracy,
validation curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from lib.bias.objectives import LABELS

#: mathematical legend labels: L_SCE -> $L_{\mathrm{SCE}}$
MATH_LABELS = {
    k: "$L_{\\mathrm{" + v.split("_", 1)[1].replace("(", "").replace(")", "") + "}}$" for k, v in LABELS.items()
}


def _room_for_stamp(fig, bottom: float = 0.06) -> None:
    """Keep the bottom strip free for the data-source stamp that ``save_figure`` writes in the corner."""
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set") and "rect" in engine.get():
        engine.set(rect=(0.0, bottom, 1.0, 1.0 - bottom))
    else:
        fig.tight_layout(rect=(0.0, bottom, 1.0, 1.0))


def plot_samples(data: dict, n: int = 10, seed: int = 0):
    """Rows: (dataset, aligned | conflicting) training images; column c a random image of class c (of ``n``
    classes; empty where the row has none), so that each column compares one class across rows."""
    rows = [(d, grp) for d in data for grp in ("aligned", "conflicting")]
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.3), squeeze=False)  # room for titles
    rng = np.random.default_rng(seed)
    for r, (d, grp) in enumerate(rows):
        sp = data[d]["train"]
        pool = np.flatnonzero(sp.aligned if grp == "aligned" else ~sp.aligned)
        pick = []  # column c: a random image of class c, so the columns line up across rows
        for c in range(n):
            of_class = pool[np.asarray(sp.target)[pool] == c]
            pick.append(int(rng.choice(of_class)) if len(of_class) else None)
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c < len(pick) and pick[c] is not None:
                i = pick[c]
                ax.imshow(sp.images[i])
                ax.set_title(f"y={sp.target[i]} b={sp.bias[i]}", fontsize=6, pad=2)
        axes[r][0].set_ylabel(f"{d}\n{grp}", fontsize=7)
    fig.suptitle("Training samples, one per class (column = class): target y, bias attribute b")
    _room_for_stamp(fig, 0.1)  # the stamp has two lines; it must not cover the bottom row
    return fig


def plot_corruption_grid(images: np.ndarray, row_labels: Sequence[str], level: int, seed: int = 0):
    """Every corruption of LfF's type0 list (``lib.bias.corruptions``) at ``level`` on the same images: one row per
    image (clean first column), one column per corruption. images ``(n, H, W, 3) uint8``."""
    from lib.bias import corruptions

    names = corruptions.TYPE0
    n = len(images)
    fig, axes = plt.subplots(n, len(names) + 1, figsize=(1.05 * (len(names) + 1), 1.05 * n + 0.5), squeeze=False)
    for i, img in enumerate(images):
        panels = [img] + [
            corruptions.corrupt(img, name, level, np.random.default_rng([seed, i, j])) for j, name in enumerate(names)
        ]
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title("clean" if j == 0 else names[j - 1].replace("_", "\n"), fontsize=7)
        axes[i, 0].set_ylabel(row_labels[i], fontsize=7)
    fig.suptitle(
        f"CIFAR-10-C corruptions at level {level} (LfF type0 list), the same images in every column", fontsize=8
    )
    _room_for_stamp(fig, 0.05)
    return fig


def plot_cka_grid(
    matrices: Mapping[tuple[str, str], np.ndarray],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "magma",
    cell_size: float = 2.2,
    title: str | None = None,
    ticks: Mapping[str, int] | None = None,
    mark: int | None = None,
):
    """Heatmap grid: rows x columns of (m, m) CKA matrices -> matplotlib Figure.

    matrices[(row, col)]: (m, m) array (layer index on both axes, origin lower-left, as in the paper);
    a missing (row, col) pair leaves an empty panel. One shared colour scale [vmin, vmax] and colorbar.
    ticks: ``{label: layer index}`` (e.g. stage boundaries) for both axes instead of the first/last index;
    mark: a layer index drawn as dashed lines (e.g. the paper's layer 50).
    """
    row_labels, col_labels = list(row_labels), list(col_labels)
    if not row_labels or not col_labels:
        raise ValueError("row_labels and col_labels must be non-empty")
    unknown = [k for k in matrices if k[0] not in row_labels or k[1] not in col_labels]
    if unknown:
        raise ValueError(f"matrices has keys outside the labels: {unknown[:3]}")
    for key, mat in matrices.items():
        a = np.asarray(mat)
        if a.ndim != 2:
            raise ValueError(f"matrix {key} must be 2-D, got shape {a.shape}")
    nr, nc = len(row_labels), len(col_labels)
    fig, axes = plt.subplots(
        nr, nc, figsize=(cell_size * nc + 0.8, cell_size * nr), squeeze=False, constrained_layout=True
    )
    image = None
    for i, r in enumerate(row_labels):
        for j, c in enumerate(col_labels):
            ax = axes[i, j]
            ax.grid(False)
            if (r, c) in matrices:
                a = np.asarray(matrices[(r, c)], dtype=float)
                image = ax.imshow(a, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
                if ticks:  # stage boundaries: the first one (index 0) is the axis origin, left unlabelled
                    ticks = {k: v for k, v in ticks.items() if v > 0}
                    ax.set_xticks(list(ticks.values()), list(ticks), rotation=90, fontsize=6)
                    ax.set_yticks(list(ticks.values()), list(ticks), fontsize=6)
                else:
                    ax.set_xticks([0, a.shape[1] - 1])
                    ax.set_yticks([0, a.shape[0] - 1])
                if mark is not None and mark < a.shape[0]:
                    ax.axvline(mark, color="cyan", ls="--", lw=0.8)
                    ax.axhline(mark, color="cyan", ls="--", lw=0.8)
            else:
                ax.set_axis_off()
            if i == 0:
                ax.set_title(str(c))
            if j == 0:
                ax.set_ylabel(f"{r}\nlayer")
            if i == nr - 1 and not ticks:
                ax.set_xlabel("layer")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="CKA")
    if title:
        fig.suptitle(title, fontsize=9)
    _room_for_stamp(fig)
    return fig


def plot_group_accuracy(runs: pd.DataFrame, aliases: Mapping[str, str] | None = None, chance: float | None = None):
    """Bars: mean test accuracy on bias-aligned and bias-conflicting samples and overall, per dataset and objective;
    error bars: sample standard deviation over seeds (none for one seed). Aliases (NLL = SCE) get no bars of their
    own: the twin's label names them. ``chance``: a dotted horizontal line (the 10-class chance level)."""
    aliases = dict(aliases or {})
    datasets = list(dict.fromkeys(runs["dataset"]))
    objectives = [o for o in dict.fromkeys(runs["objective"]) if o not in aliases]
    fig, axes = plt.subplots(1, len(datasets), figsize=(max(6.5, 4.2 * len(datasets)), 3.2), squeeze=False, sharey=True)
    x = np.arange(len(objectives))
    for ax, d in zip(axes[0], datasets):
        sub = runs[runs["dataset"] == d].groupby("objective")[["aligned", "conflicting", "accuracy"]]
        mean, std = sub.mean().reindex(objectives), sub.std(ddof=1).reindex(objectives).fillna(0.0)
        for k, col in enumerate(("aligned", "conflicting", "accuracy")):
            ax.bar(x + (k - 1) * 0.27, mean[col], 0.27, yerr=std[col], label=col, capsize=2)
        if chance is not None:
            ax.axhline(chance, color="0.3", ls=":", lw=1.0, label=f"chance ({chance:g})")
        ax.set_xticks(x, [_alias_label(o, aliases) for o in objectives], rotation=30, fontsize=7)
        ax.set_title(d)
        ax.set_ylim(0, 1.05)
    axes[0][0].set_ylabel("test accuracy\n(mean; bars: sd over seeds)")
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _room_for_stamp(fig, 0.12)
    return fig


def _alias_label(o: str, aliases: Mapping[str, str]) -> str:
    """Legend label of ``o``, naming the aliases trained as it (e.g. "$L_{SCE}$ (= NLL)")."""
    twins = [a.upper() for a, t in aliases.items() if t == o]
    return MATH_LABELS.get(o, o) + (f" (= {', '.join(twins)})" if twins else "")


#: the late-epoch panel of ``plot_valid_curves`` starts this many epochs before the median checkpoint epoch
LATE_BEFORE_BEST = 2


def checkpoint_epochs(history: pd.DataFrame, runs: pd.DataFrame | None = None) -> dict:
    """``{(objective, seed): epoch}`` of the kept checkpoints: the runs table's ``best_epoch`` where it is given
    (the training loop's own choice: epochs before the first full trailing window are never kept), else the first
    maximum of ``valid_smoothed`` (the curve early stopping reads) or of ``valid_acc``."""
    if runs is not None and len(runs) and "best_epoch" in runs:
        return {(str(r.objective), int(r.seed)): int(r.best_epoch) for r in runs.itertuples()}
    col = "valid_smoothed" if "valid_smoothed" in history else "valid_acc"
    if not len(history):
        return {}
    idx = history.groupby(["objective", "seed"])[col].idxmax()
    return {(str(o), int(s)): int(history.loc[i, "epoch"]) for (o, s), i in idx.items()}


def late_start(history: pd.DataFrame, runs: pd.DataFrame | None = None) -> int:
    """First epoch of the late-epoch panel: the median over the runs of ``history`` of the checkpoint epoch
    (``checkpoint_epochs``) minus ``LATE_BEFORE_BEST``, at least 1. The median, not the earliest: one run kept at an
    early spike (review 25s5 m1) would otherwise pull the panel back to epoch 1, the whole curve again; checkpoints
    before the panel are marked at its left edge (``plot_valid_curves``)."""
    keys = set(zip(history["objective"].astype(str), history["seed"].astype(int)))
    best = [e for k, e in checkpoint_epochs(history, runs).items() if k in keys]
    return max(1, int(np.median(best)) - LATE_BEFORE_BEST) if best else 1


#: the smallest vertical distance between two left-edge checkpoint markers, as a share of the zoom panel's height
EDGE_GAP = 0.07


def spread(values, gap: float, top: float) -> list[float]:
    """``values`` moved apart so that any two are at least ``gap`` apart, in their order (ties in input order), each
    moved as little as a sweep up and then down from ``top`` allows (the markers at the zoom's left edge)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ys = [float(values[i]) for i in order]
    for k in range(1, len(ys)):
        ys[k] = max(ys[k], ys[k - 1] + gap)
    if ys and ys[-1] > top:
        ys[-1] = top
        for k in range(len(ys) - 2, -1, -1):
            ys[k] = min(ys[k], ys[k + 1] - gap)
    out = [0.0] * len(values)
    for i, y in zip(order, ys):
        out[i] = y
    return out


def _marker(ax, x, y, colour, marker: str, size: float, clip: bool = True):
    """One checkpoint marker: the objective's colour with a thin black edge (``clip`` False: drawn past the axes)."""
    (line,) = ax.plot(
        [x], [y], color=colour, marker=marker, ms=size, ls="none", markeredgecolor="black", markeredgewidth=0.5,
        clip_on=clip,
    )  # fmt: skip
    return line


def plot_valid_curves(
    history: pd.DataFrame,
    aliases: Mapping[str, str] | None = None,
    width: float = 7.0,
    runs: pd.DataFrame | None = None,
    window: int = 1,
):
    """Validation accuracy per epoch, one column per dataset: top row the whole curves, bottom row the late epochs
    (where the stopping decisions are made): x from ``LATE_BEFORE_BEST`` epochs before the median checkpoint epoch of
    the runs of the dataset (``late_start``), y spanning every value drawn there (nothing clipped). Thick: mean over
    seeds, drawn only over the epochs every seed ran (after the first seed stops, only the thin per-seed lines go
    on); thin: each seed; bottom row also each seed's smoothed curve (dashed: the trailing mean patience and the
    checkpoint read, ``valid_smoothed``) with its kept checkpoint (star, ``checkpoint_epochs``: ``runs``'s
    ``best_epoch`` when given); a checkpoint before the zoom is a left-pointing triangle at the panel's left edge, at
    its value clipped to the panel (review25s13run m3: the early checkpoints were the ones left out), labelled with its
    epoch and moved apart from the others there (``spread``: at least ``EDGE_GAP`` of the panel's height).
    window: the trailing mean's length (params ``patience_smoothing``): the smoothed curve starts at that epoch,
    where its window is full, as the checkpoint rule reads it (a partial-window mean is not drawn).

    aliases: ``{alias: twin}`` objectives not trained separately (NLL = SCE): their curves are the twin's, so they
    are not drawn again and the twin's label names them (SCE is never hidden under NLL). The canvas has a fixed
    width; the legend sits inside the top panel of the last column, at its lower right."""
    aliases = dict(aliases or {})
    datasets = list(dict.fromkeys(history["dataset"]))
    fig, axes = plt.subplots(2, len(datasets), figsize=(width, 5.6), squeeze=False, constrained_layout=True)
    handles, extra = {}, {}
    for col, d in enumerate(datasets):
        sub = history[(history["dataset"] == d) & ~history["objective"].isin(list(aliases))]
        sub_runs = runs[runs["dataset"] == d] if runs is not None and "dataset" in runs else runs
        kept = checkpoint_epochs(sub, sub_runs)
        start = late_start(sub, sub_runs)
        early = []  # (colour, value) of checkpoints before the zoom
        for row, ax in enumerate(axes[:, col]):
            for k, (o, grp) in enumerate(sub.groupby("objective", sort=False)):
                colour = f"C{k}"
                for seed, g in grp.groupby("seed"):
                    ax.plot(g["epoch"], g["valid_acc"], color=colour, lw=0.6, alpha=0.35)
                    full = g[g["epoch"] >= window] if "valid_smoothed" in g else g.iloc[:0]
                    if row == 1 and len(full):  # the curve patience reads (full windows), and its kept checkpoint
                        (sm,) = ax.plot(full["epoch"], full["valid_smoothed"], color=colour, lw=0.9, ls="--")
                        extra["smoothed (patience reads it)"] = sm
                        at = g[g["epoch"] == kept.get((str(o), int(seed)), -1)]
                        best = at.iloc[0] if len(at) else full.loc[full["valid_smoothed"].idxmax()]
                        if best["epoch"] < start:
                            early.append((colour, float(best["valid_smoothed"]), int(best["epoch"])))
                            continue
                        extra["kept checkpoint"] = _marker(ax, best["epoch"], best["valid_smoothed"], colour, "*", 9)
                common = grp.groupby("seed")["epoch"].max().min()
                curve = grp[grp["epoch"] <= common].groupby("epoch")["valid_acc"].mean()
                (line,) = ax.plot(curve.index, curve.values, color=colour, marker="o", ms=3, lw=1.6)
                handles[_alias_label(o, aliases)] = line
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        late = sub[sub["epoch"] >= start]["valid_acc"]
        lo, hi = (float(late.min()), float(late.max())) if len(late) else (0.0, 1.0)
        pad = max(0.005, 0.05 * (hi - lo))
        if len(late):
            axes[1, col].set_ylim(lo - pad, hi + pad)
        axes[1, col].set_xlim(start - 0.5, float(sub["epoch"].max()) + 0.5)
        # kept before the zoom: at the left edge, the value clipped to the panel, spread apart so that none hides
        # another (review25s14run nit), each labelled with its epoch
        clipped = [min(max(value, lo - pad / 2), hi + pad / 2) for _, value, _ in early]
        for (colour, _, epoch), y in zip(early, spread(clipped, EDGE_GAP * (hi - lo + 2 * pad), hi + pad / 2)):
            extra["kept checkpoint before the zoom"] = _marker(axes[1, col], start - 0.3, y, colour, "<", 7, clip=False)
            axes[1, col].annotate(
                str(epoch), (start - 0.3, y), xytext=(5, 0), textcoords="offset points", fontsize=6, va="center"
            )
        axes[0, col].set_title(d)
        axes[1, col].set_title(f"{d}: late epochs, from epoch {start}", fontsize=8)
        axes[1, col].set_xlabel("epoch")
    axes[0][0].set_ylabel("validation accuracy (unbiased)")
    axes[1][0].set_ylabel("validation accuracy (zoom)")
    axes[0][-1].legend(list(handles.values()), list(handles), loc="lower right", fontsize=7, framealpha=0.9)
    if extra:  # black proxies: the colour is the objective's
        shapes = {
            "smoothed (patience reads it)": Line2D([], [], color="black", lw=0.9, ls="--"),
            "kept checkpoint": Line2D([], [], color="black", marker="*", ms=9, ls="none"),
            "kept checkpoint before the zoom": Line2D([], [], color="black", marker="<", ms=7, ls="none"),
        }
        proxies = [shapes[k] for k in extra]
        axes[1][-1].legend(proxies, list(extra), loc="lower right", fontsize=7, framealpha=0.9)
    _room_for_stamp(fig, 0.08)
    return fig


def plot_cka_panels(
    matrices: Mapping[tuple[str, str], np.ndarray],
    datasets: Sequence[str],
    objectives: Sequence[str],
    *,
    aliases: Mapping[str, str] | None = None,
    rows_per_dataset: int = 2,
    cell_size: float = 2.3,
    title: str | None = None,
    ticks: Mapping[str, int] | None = None,
    mark: int | None = None,
):
    """The CKA heatmaps of each dataset on ``rows_per_dataset`` rows (paper Figure 1 layout, folded so six
    objectives do not make one long strip). Aliases (NLL = SCE) get no panel of their own: the twin's title names
    them. Panels: ``matrices[(dataset, objective)]`` (m, m), one colour scale [0, 1], origin lower left."""
    aliases = dict(aliases or {})
    objs = [o for o in objectives if o not in aliases]
    ncols = int(np.ceil(len(objs) / rows_per_dataset))
    nrows = rows_per_dataset * len(datasets)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(cell_size * ncols + 1.0, cell_size * nrows + 0.4),
        squeeze=False,
        constrained_layout=True,
    )
    image = None
    for di, d in enumerate(datasets):
        for k in range(rows_per_dataset * ncols):
            ax = axes[di * rows_per_dataset + k // ncols, k % ncols]
            ax.grid(False)
            if k >= len(objs) or (d, objs[k]) not in matrices:
                ax.set_axis_off()
                continue
            o = objs[k]
            a = np.asarray(matrices[(d, o)], dtype=float)
            image = ax.imshow(a, origin="lower", cmap="magma", vmin=0, vmax=1, interpolation="nearest")
            if ticks:
                shown = {n: v for n, v in ticks.items() if v > 0}
                ax.set_xticks(list(shown.values()), list(shown), rotation=90, fontsize=6)
                ax.set_yticks(list(shown.values()), list(shown), fontsize=6)
            if mark is not None and mark < a.shape[0]:
                ax.axvline(mark, color="cyan", ls="--", lw=0.8)
                ax.axhline(mark, color="cyan", ls="--", lw=0.8)
            ax.set_title(f"{d} · {_alias_label(o, aliases)}", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="CKA")
    if title:
        fig.suptitle(title, fontsize=8)
    _room_for_stamp(fig, 0.1)  # clear of the rotated tick labels of the last row
    return fig
