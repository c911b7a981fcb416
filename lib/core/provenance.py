"""The one place that decides "synthetic or real" for a run.

The ``default`` run always uses the embedded SYNTHETIC data; ``real`` and ``paper`` use real data.
Figures are stamped with :attr:`DataSource.stamp`, every metrics file carries :meth:`DataSource.meta`,
and the report reads ``meta.data_kind`` (it never guesses from free text).
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.core import paths

KINDS = ("synthetic", "real")


def data_kind(run: str) -> str:
    """'synthetic' for the default run, 'real' for the real and paper runs."""
    if run not in paths.RUNS:
        raise ValueError(f"run must be one of {paths.RUNS}, got {run!r}")
    return "synthetic" if run == "default" else "real"


@dataclass(frozen=True)
class DataSource:
    """What a notebook's results come from. kind: 'synthetic' | 'real'; description: one line."""

    kind: str
    description: str

    @property
    def is_synthetic(self) -> bool:
        return self.kind == "synthetic"

    @property
    def stamp(self) -> str:
        """The label stamped on figures: always says SYNTHETIC for synthetic data."""
        return f"SYNTHETIC data: {self.description}" if self.is_synthetic else self.description

    def meta(self) -> dict:
        """The ``data_kind`` / ``data`` entries of a metrics ``meta`` block; real-data runs (which keep the
        fastest kernels) also record the processor and the dispatch level in force (``machine``)."""
        meta = {"data_kind": self.kind, "data": self.description}
        if not self.is_synthetic:
            from lib.core.determinism import machine_info

            meta["machine"] = machine_info()
        return meta


def data_source(run: str, description: str) -> DataSource:
    """The data source of ``run`` (see :func:`data_kind`) with a one-line description."""
    return DataSource(data_kind(run), description)
