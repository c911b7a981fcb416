"""One figure style for every notebook and one helper to save figures.

No backend is forced here: the runner sets ``MPLBACKEND=Agg`` for executed copies, JupyterLab keeps its
inline backend, and matplotlib picks a headless one elsewhere. Notebooks never rely on the backend to
show a figure: :meth:`lib.core.outputs.Outputs.figure` saves it, shows the saved PNG once and closes it.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt

from lib.core import paths
from lib.core.io import atomic_write_bytes

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "svg.hashsalt": "repro",  # deterministic SVG ids
}


def use_style() -> None:
    """Apply the project style (seaborn's colour palette + STYLE)."""
    import seaborn as sns

    sns.set_palette("colorblind")
    plt.rcParams.update(STYLE)


def label_source(fig, source: str) -> None:
    """Stamp the data source (e.g. 'synthetic data', 'MIT-BIH (real)') in the figure corner, wrapped to the
    figure's width (a 7-pt character is ~3.6 pt wide), so that a long stamp never widens the saved canvas
    (``savefig.bbox: tight`` would otherwise grow the image to the text and shrink the plot in it)."""
    import textwrap

    width = max(20, int(fig.get_figwidth() * 72 / 3.6))
    text = textwrap.fill(source, width=width)
    fig.text(0.995, 0.005, text, ha="right", va="bottom", fontsize=7, color="0.4", style="italic")


def save_figure(fig, name: str, notebook: str, run: str, *, source: str | None = None, fmt: str = "png"):
    """Save ``fig`` as ``figures/<run>/<notebook>/<name>.<fmt>`` and return the path.

    source: stamped on the figure (always pass it for results from synthetic data).
    PNGs carry no timestamp, so the same figure gives the same bytes.
    """
    if fmt not in ("png", "svg"):
        raise ValueError(f"fmt must be one of ('png', 'svg'), got {fmt!r}")
    if not name or "/" in name:
        raise ValueError(f"figure name must be a plain file stem, got {name!r}")
    if source:
        label_source(fig, source)
    out = paths.figure_dir(notebook, run) / f"{name}.{fmt}"
    metadata = {"Software": None} if fmt == "png" else {"Date": None}
    buf = io.BytesIO()  # rendered in memory, then written atomically: a killed run never leaves half a figure
    fig.savefig(buf, format=fmt, metadata=metadata)
    return atomic_write_bytes(out, buf.getvalue())
