"""One way for every notebook to write its tables, figures and metrics.

    out = Outputs.for_run("04_cka_objectives", run, source)   # source: lib.core.provenance.DataSource
    out.table(df, "split_counts")       # tables/<run>/<nb>/split_counts.csv + .md; returns df (renders as a table)
    out.table(df, "x", show=True)       # the same, displayed now: for a table that is not the cell's last expression
    out.figure(fig, "samples")          # figures/<run>/<nb>/samples.png, shown inline once, closed; returns None
    out.metrics({...})                  # metrics/<run>/<nb>.json (meta block gets the data source); returns None
    out.markdown("text")                # prose shown as Markdown (never a dict repr)

The figure shown in the cell is the very PNG written for DVC plots and the report, so the executed copy
holds exactly one inline image per saved figure (tests/test_executed_copies.py counts them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.core import paths
from lib.core.io import write_metrics, write_table


def _in_kernel() -> bool:
    """True inside an IPython kernel (JupyterLab, papermill, nbval); False in plain Python and pytest."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a requirement
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def inline_png(data: bytes) -> bytes:
    """The PNG bytes embedded in an executed copy for a saved figure (``data``: the saved file's bytes).

    An RGBA image whose alpha is 255 everywhere (matplotlib's opaque figures) is re-encoded as RGB with
    ``optimize=True``: the pixels are identical and the bytes about 10 % fewer, which keeps the executed copies
    under their size limit (tests/test_executed_copies.py); any other PNG is embedded exactly as saved.
    """
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        if im.mode != "RGBA" or im.getchannel("A").getextrema() != (255, 255):
            return data
        buf = io.BytesIO()
        im.convert("RGB").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def display_png(path: Path) -> None:
    """Show a saved PNG inline (once, as :func:`inline_png` encodes it) when running in a kernel; nothing elsewhere."""
    if _in_kernel():
        from IPython.display import Image, display

        display(Image(data=inline_png(Path(path).read_bytes()), format="png"))


def relative(path: Path | str) -> str:
    """``path`` relative to the repository (or to the output root); never a machine's absolute path."""
    path = Path(path)
    for base in (paths.OUTPUT_ROOT, paths.ROOT):
        try:
            return path.resolve().relative_to(base).as_posix()
        except ValueError:
            continue
    try:
        return path.resolve().relative_to(paths.SHARED_DATA.parent).as_posix()
    except ValueError:
        return path.name


@dataclass(frozen=True)
class Outputs:
    """Where one run of one notebook writes, and the data source stamped on its figures.

    notebook: output name (``NN_slug`` or ``NN_slug_<variant>``); run: 'default' | 'real' | 'paper';
    source: a :class:`lib.core.provenance.DataSource` (its ``stamp`` goes on every figure).
    """

    notebook: str
    run: str
    source: Any

    @classmethod
    def for_run(cls, notebook: str, run: str, source) -> Outputs:
        if run not in paths.RUNS:
            raise ValueError(f"run must be one of {paths.RUNS}, got {run!r}")
        return cls(notebook, run, source)

    def table(self, df, name: str, *, show: bool | None = None, index: bool = False, floatfmt: str = ".4f"):
        """Write ``df`` as CSV + Markdown.

        show=None (default): return ``df``, so a cell ENDING with the call renders it as a table. A cell renders only
        its last expression: a table written before that, or inside an ``if``, is on disk but not in the notebook.
        Such a call must say which it wants (tests/test_notebooks.py checks): show=True displays the table now (in a
        kernel) and returns None; show=False writes it to disk only (a large or figure-duplicating table) and returns
        None.
        """
        write_table(df, name, self.notebook, self.run, index=index, floatfmt=floatfmt)
        if show is None:
            return df
        if show and _in_kernel():
            from IPython.display import display

            display(df)
        return None

    def tables(self, tables: dict) -> dict:
        """Write every {name: DataFrame}; returns ``tables``."""
        for name, df in tables.items():
            self.table(df, name)
        return tables

    def figure(self, fig, name: str, *, stamp: bool = True) -> None:
        """Save ``fig`` (PNG, stamped with the data source), show it inline once and close it.

        Returns None so that a cell ending with ``out.figure(...)`` shows the figure, not a path.
        """
        import matplotlib.pyplot as plt

        from lib.core.plotting import save_figure

        stamp_text = getattr(self.source, "stamp", self.source) if stamp else None
        path = save_figure(fig, name, self.notebook, self.run, source=stamp_text or None)
        plt.close(fig)
        display_png(path)

    def metrics(self, metrics: dict) -> None:
        """Write the run's metrics file; the data source's ``meta`` is merged into ``metrics['meta']``.

        Returns None, so a cell ending with ``out.metrics(...)`` shows no path (``metrics_path`` names the file).
        """
        metrics = dict(metrics)
        meta_fn = getattr(self.source, "meta", None)
        if callable(meta_fn):
            metrics["meta"] = {**meta_fn(), **dict(metrics.get("meta", {}))}
        write_metrics(self.notebook, self.run, metrics)

    @property
    def metrics_path(self) -> str:
        """The metrics file, relative to the repository (``metrics/<run>/<notebook>.json``)."""
        return relative(paths.METRICS / self.run / f"{self.notebook}.json")

    @staticmethod
    def markdown(text: str) -> None:
        """Show prose as Markdown in a kernel (print it elsewhere)."""
        if _in_kernel():
            from IPython.display import Markdown, display

            display(Markdown(text))
        else:
            print(text)
