"""Figures of notebook 03: example images per class, class counts, SOM U-matrix and hit map.

Each function returns a matplotlib Figure; save it with ``lib.core.plotting.save_figure``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

CLASS_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")  # colour-blind safe, one per class
#: one (colour, marker) per network of the learning check: colour-blind safe hues far apart, each with its own marker
NET_STYLES = (
    ("#0072B2", "o"),
    ("#D55E00", "s"),
    ("#009E73", "^"),
    ("#CC79A7", "D"),
    ("#000000", "v"),
    ("#56B4E9", "P"),
)
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
    fig.tight_layout(rect=(0, 0.04, 1, 1))  # room for the source stamp under the last row
    return fig


def class_counts(counts: dict[str, int], title: str = "Images per class"):
    """Bar chart of {class: count}."""
    fig, ax = plt.subplots(figsize=(5, 2.8))
    names = list(counts)
    ax.bar([n.replace("_", " ") for n in names], [counts[n] for n in names], color=CLASS_COLOURS[: len(names)])
    for i, n in enumerate(names):
        ax.text(i, counts[n], str(counts[n]), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("images")
    ax.set_ylim(0, 1.15 * max(counts.values()))  # room for the count labels under the title
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def _cells(ax, positions: np.ndarray, topology: str, values=None, cmap="bone_r", edge="0.85"):
    """Draw one hexagon (hexagonal) or square (rectangular) per unit at ``positions`` (units, 2); coloured by
    ``values`` (units,) when given. Returns the collection (for a colour bar)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import RegularPolygon

    if topology == "hexagonal":
        cells = [RegularPolygon(xy, numVertices=6, radius=1 / np.sqrt(3), orientation=0) for xy in positions]
    else:
        cells = [RegularPolygon(xy, numVertices=4, radius=np.sqrt(0.5), orientation=np.pi / 4) for xy in positions]
    coll = PatchCollection(cells, cmap=cmap, edgecolor=edge, linewidth=0.4)
    if values is not None:
        coll.set_array(np.asarray(values, dtype=float))
    else:
        coll.set_facecolor("white")
    ax.add_collection(coll)
    ax.set_xlim(positions[:, 0].min() - 0.8, positions[:, 0].max() + 0.8)
    ax.set_ylim(positions[:, 1].min() - 0.8, positions[:, 1].max() + 0.8)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():  # no empty axes frame around the map
        spine.set_visible(False)
    return coll


def _two_line_title(ax, title: str, subtitle: str, width: int = 80):
    """Title plus a subtitle wrapped at ``width`` characters (which SOM, which data), left-aligned."""
    import textwrap

    ax.set_title(f"{title}\n" + textwrap.fill(subtitle, width), fontsize=8, loc="left")


def u_matrix(
    umat: np.ndarray,
    bmu: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    positions: np.ndarray,
    topology: str,
    subtitle: str,
    seed: int = 0,
):
    """U-matrix (units,) values on the map's cells, each sample drawn at its BMU (jittered, coloured by class).

    positions (units, 2): cell centres (``SOMClassifier.positions``); subtitle: which SOM and which data."""
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    coll = _cells(ax, positions, topology, values=np.ravel(umat))
    fig.colorbar(
        coll, ax=ax, label="mean distance to neighbours (normalised)", orientation="horizontal", shrink=0.7, pad=0.03
    )
    rng = np.random.default_rng(seed)
    xy = positions[np.asarray(bmu)]
    for k, cls in enumerate(classes):
        m = labels == k
        jitter = rng.uniform(-0.25, 0.25, size=(m.sum(), 2))
        ax.scatter(
            xy[m, 0] + jitter[:, 0],
            xy[m, 1] + jitter[:, 1],
            s=6,
            marker=MARKERS[k % 4],
            color=CLASS_COLOURS[k % 4],
            label=cls,
            alpha=0.7,
            linewidths=0,
        )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, handletextpad=0.2, frameon=False, markerscale=2)
    _two_line_title(ax, "SOM U-matrix, samples at their BMU", subtitle, width=70)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def hit_map(counts: np.ndarray, positions: np.ndarray, topology: str, classes: list[str], subtitle: str):
    """Hit map: each unit a pie of its class counts (units, c), area proportional to hits; subtitle: which SOM and
    which data."""
    total = counts.sum(axis=1)
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    _cells(ax, positions, topology)
    rmax = 0.45 / np.sqrt(max(total.max(), 1))
    for k, (x, yv) in enumerate(positions):
        if total[k] == 0:
            ax.plot(x, yv, marker="x", color="0.6", markersize=4)
            continue
        start = 0.0
        for c in range(counts.shape[1]):
            if counts[k, c] == 0:
                continue
            frac = counts[k, c] / total[k]
            ax.add_patch(
                plt.matplotlib.patches.Wedge(
                    (x, yv), rmax * np.sqrt(total[k]), 360 * start, 360 * (start + frac), color=CLASS_COLOURS[c % 4]
                )
            )
            start += frac
    handles = [plt.matplotlib.patches.Patch(color=CLASS_COLOURS[c % 4], label=n) for c, n in enumerate(classes)]
    handles.append(plt.Line2D([], [], marker="x", color="0.6", linestyle="", label="no hits"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    _two_line_title(ax, "SOM hit map (pie = class mix, area = hits)", subtitle, width=70)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def per_class_bars(
    table: pd.DataFrame,
    classes: list[str],
    paper: dict[str, float] | None = None,
    paper_rows: tuple[str, ...] = (),
    title: str = "Per-class accuracy",
    note: str = "",
):
    """Grouped bars: one group per class, one bar per row of ``table`` (rows = readings, columns = classes, %).

    ``paper`` ({class: %}) is drawn as a black tick on the bars of ``paper_rows`` only (the readings the paper's values
    can be, with the paper's features); ``note`` is a last title line (e.g. why no paper value is drawn)."""
    import textwrap

    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    series = list(table.index)
    width = 0.8 / len(series)
    x = np.arange(len(classes))
    for s, name in enumerate(series):
        vals = table.loc[name, classes].to_numpy(dtype=float)
        ax.bar(x + s * width, vals, width, label=name, color=CLASS_COLOURS[s % 4], alpha=0.85)
        if paper and name in paper_rows:
            ax.hlines(
                [paper[c] for c in classes],
                x + s * width - width / 2,
                x + s * width + width / 2,
                color="k",
                lw=2,
                label="paper (Table 2)" if name == paper_rows[0] else None,
            )
    ax.set_xticks(x + width * (len(series) - 1) / 2)
    ax.set_xticklabels([c.replace("_", " ") for c in classes], fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    lines = [textwrap.fill(t, 95) for t in title.split("\n")] + ([textwrap.fill(note, 95)] if note else [])
    ax.set_title("\n".join(lines), fontsize=8, loc="left")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def per_class_ci(
    entry: dict,
    classes: list[str],
    readings: tuple[str, ...],
    paper: dict[str, float] | None = None,
    paper_readings: tuple[str, ...] = (),
    title: str = "Per-class accuracy",
    paper_label: str = "paper (Table 2)",
):
    """Grouped bars with 95% CI error bars: one group per class, one bar per reading of one model's ``entry``
    ({reading: {class: v, class_ci: [lo, hi]}}, fractions); the paper's values ({class: fraction}) as black ticks on
    the bars of ``paper_readings`` only."""
    import textwrap

    fig, ax = plt.subplots(figsize=(7.4, 3.8))
    shown = [r for r in readings if r in entry]
    width = 0.8 / max(len(shown), 1)
    x = np.arange(len(classes))
    for s, reading in enumerate(shown):
        vals = np.array([100 * entry[reading][c] for c in classes])
        ci = np.array([[100 * v for v in entry[reading][f"{c}_ci"]] for c in classes])
        err = np.vstack([vals - ci[:, 0], ci[:, 1] - vals])
        ax.bar(
            x + s * width,
            vals,
            width,
            yerr=err,
            capsize=2,
            label=reading.replace("_", "-"),
            color=CLASS_COLOURS[s % 4],
            alpha=0.85,
            error_kw={"lw": 0.8},
        )
        if paper and reading in paper_readings:
            ax.hlines(
                [100 * paper[c] for c in classes],
                x + s * width - width / 2,
                x + s * width + width / 2,
                color="k",
                lw=2,
                label=textwrap.fill(paper_label, 28)
                if reading == [r for r in shown if r in paper_readings][0]
                else None,
            )
    ax.set_xticks(x + width * (len(shown) - 1) / 2)
    ax.set_xticklabels([c.replace("_", " ") for c in classes], fontsize=8)
    ax.set_ylabel("% (95% CI)")
    ax.set_ylim(0, 105)
    ax.set_title("\n".join(textwrap.fill(t, 95) for t in title.split("\n")), fontsize=8, loc="left")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def _nothing_to_show(message: str, title: str):
    """A small figure that says why a grid of image pairs is empty (same size and fonts for every such grid)."""
    import textwrap

    fig, ax = plt.subplots(figsize=(5.4, 1.2))
    ax.axis("off")
    ax.text(0.0, 0.5, message, fontsize=8)
    ax.set_title(textwrap.fill(title, 80), fontsize=8, loc="left")
    return fig


def copy_pairs(rows: list[dict], images: dict, title: str):
    """Rows of (copy, best match, runner-up): ``rows`` each {"file", "best", "score", "second", "second_score",
    "kind"}; ``images``: {file: (s, s, 3) uint8}. The best match is the source of a copy linked to one source; the
    runner-up is rejected unless it scores within the tie margin (then the copy is joined to both: its kind says
    so)."""
    import textwrap

    if not rows:
        return _nothing_to_show("No augmented copies (_<k>_<random> files) in this data: nothing to link.", title)
    fig, axes = plt.subplots(len(rows), 3, figsize=(5.4, 1.75 * len(rows)), squeeze=False)
    heads = ("copy", "best match", "runner-up")
    for i, r in enumerate(rows):
        for j, (key, score) in enumerate((("file", None), ("best", "score"), ("second", "second_score"))):
            ax = axes[i, j]
            ax.axis("off")
            if r.get(key):
                ax.imshow(images[r[key]])
            name = r.get(key, "").split("/")[-1]
            text = name if score is None else f"{name}\nscore {r[score]:.3f}"
            if j == 0:
                text = f"{textwrap.fill(str(r['kind']), 30)}\n{r['file']}"
            ax.set_title(text, fontsize=6, loc="left")
        if i == 0:
            for j in range(3):
                axes[0, j].text(0, 1.45, heads[j], transform=axes[0, j].transAxes, fontsize=8, weight="bold")
    fig.suptitle(textwrap.fill(title, 80), fontsize=8, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    return fig


def pair_grid(rows: list[dict], images: dict, title: str, per_row: int = 4, px: int = 200):
    """Pairs side by side at ``px`` pixels per image in the saved PNG (at the style's savefig.dpi): ``rows`` each
    {"file", "best", "score", "kind"} (left: file, right: best); ``images``: {file: (s, s, 3) uint8}. Captions are
    wrapped to the image width and the margins sized from the title's and the captions' line counts, so no text
    overlaps."""
    import textwrap

    if not rows:
        return _nothing_to_show("No pairs to show in this data.", title)
    n_rows = -(-len(rows) // per_row)
    side = px / float(plt.rcParams["savefig.dpi"])
    width = max(12, int(side * 72 / 3.0))  # characters of 5-pt text per image width (about 3 pt a character)
    left = [textwrap.fill(str(r["kind"]), width) + "\n" + r["file"] for r in rows]
    right = [f"score {r['score']:.3f}\n{r['best']}" for r in rows]
    lines = max(t.count("\n") + 1 for t in left + right)
    title_text = textwrap.fill(title, 140)
    cap_h = lines * 5 * 1.35 / 72 + 0.05  # inches of caption above each image
    title_h = (title_text.count("\n") + 1) * 9 * 1.35 / 72 + 0.1
    height = n_rows * (side + cap_h) + title_h
    fig, axes = plt.subplots(n_rows, 2 * per_row, figsize=(2 * per_row * side, height), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, r in enumerate(rows):
        a, b = axes[i // per_row, 2 * (i % per_row)], axes[i // per_row, 2 * (i % per_row) + 1]
        a.imshow(images[r["file"]], interpolation="nearest")
        b.imshow(images[r["best"]], interpolation="nearest")
        a.set_title(left[i], fontsize=5, loc="left")
        b.set_title(right[i], fontsize=5, loc="left")
    fig.suptitle(title_text, fontsize=9, x=0.01, y=1 - 0.05 / height, ha="left", va="top")
    fig.subplots_adjust(
        left=0.005, right=0.995, bottom=0.005, top=1 - (title_h + cap_h) / height, wspace=0.02, hspace=cap_h / side
    )
    return fig


def nn_cosine_hist(cosine: np.ndarray, threshold: float, title: str, bins: int = 60):
    """Histogram of every original's nearest-neighbour feature cosine, the grouping threshold marked."""
    import textwrap

    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    ax.hist(cosine, bins=bins, color="0.55")
    ax.axvline(
        threshold,
        color="C3",
        lw=1.2,
        label=f"threshold {threshold:g}: {int((cosine >= threshold).sum())} "
        f"of {len(cosine)} originals have a near-duplicate",
    )
    ax.set_xlabel("cosine of the nearest other original (centred features)")
    ax.set_ylabel("originals")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(textwrap.fill(title, 90), fontsize=8, loc="left")
    fig.tight_layout()
    return fig


def loss_curves(curves: dict, budget: int, title: str):
    """Learning check: training and held-out loss (left) and held-out accuracy (right) per epoch of each network in
    ``curves`` ({label: {"epoch", "train_loss", "val_loss", "val_accuracy"}}); ``budget``: the epochs the runs use."""
    import textwrap

    fig, (a, b) = plt.subplots(1, 2, figsize=(8.0, 4.2))
    for i, (label, c) in enumerate(curves.items()):
        colour, marker = NET_STYLES[i % len(NET_STYLES)]
        style = {"color": colour, "marker": marker, "markersize": 3.5, "markevery": max(1, len(c["epoch"]) // 8)}
        a.plot(c["epoch"], c["train_loss"], ls="--", lw=1, label=f"{label}, training", **style)
        a.plot(c["epoch"], c["val_loss"], lw=1.2, label=f"{label}, held out", **style)
        b.plot(c["epoch"], c["val_accuracy"], lw=1.2, label=label, **style)
    for ax in (a, b):
        ax.axvline(budget, color="0.4", lw=0.8, ls=":")
        ax.set_xlabel(f"epoch (dotted: the runs' {budget})")
    a.set_ylabel("loss")
    b.set_ylabel("held-out accuracy")
    fig.suptitle(textwrap.fill(title, 110), fontsize=8, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0.26, 1, 1))
    handles, labels = a.get_legend_handles_labels()
    # below the axes, above the bottom strip that holds the data stamp (lib.core.plotting, bottom right)
    fig.legend(handles, labels, fontsize=6, ncol=2, loc="lower center", bbox_to_anchor=(0.5, 0.06), frameon=False)
    return fig
