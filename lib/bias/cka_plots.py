"""Grid of CKA heatmaps (paper 04, Figure 1: one layer x layer matrix per objective and dataset)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt
import numpy as np


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
):
    """Heatmap grid: rows x columns of (m, m) CKA matrices -> matplotlib Figure.

    matrices[(row, col)]: (m, m) array (layer index on both axes, origin lower-left, as in the paper);
    a missing (row, col) pair leaves an empty panel. One shared colour scale [vmin, vmax] and colorbar.
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
                ax.set_xticks([0, a.shape[1] - 1])
                ax.set_yticks([0, a.shape[0] - 1])
            else:
                ax.set_axis_off()
            if i == 0:
                ax.set_title(str(c))
            if j == 0:
                ax.set_ylabel(f"{r}\nlayer")
            if i == nr - 1:
                ax.set_xlabel("layer")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="CKA")
    if title:
        fig.suptitle(title)
    return fig
