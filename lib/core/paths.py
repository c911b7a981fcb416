"""Every path the project uses, in one place.

The repository root is found from this file's location, so notebooks work
the same from JupyterLab (cwd = notebooks/), papermill and pytest.

Layout::

    data/raw/<dataset>/          fetched, imported or generated raw data (never edited)
    data/processed/<name>/       cached intermediates (features, embeddings)
    results/<run>/NN_slug.ipynb  executed notebooks (run = "default" | "real" | "paper")
    figures/<run>/<nb>/...       figures, saved by lib.core.plotting.save_figure
    tables/<run>/<nb>/...        CSV + Markdown tables, by lib.core.io.write_table
    metrics/<run>/<nb>.json      metrics, by lib.core.io.write_metrics
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
DATA_RAW = DATA / "raw"
DATA_PROCESSED = DATA / "processed"
NOTEBOOKS = ROOT / "notebooks"
#: Where results/figures/tables/metrics/report are written. The test command points it at a
#: temporary folder for nbval, so validating the notebooks never touches the pipeline's outputs.
OUTPUT_ROOT = Path(os.environ.get("REPRO_OUTPUT_ROOT", ROOT)).resolve()
RESULTS = OUTPUT_ROOT / "results"
FIGURES = OUTPUT_ROOT / "figures"
TABLES = OUTPUT_ROOT / "tables"
METRICS = OUTPUT_ROOT / "metrics"
REPORT = OUTPUT_ROOT / "report"
PARAMS = ROOT / "params.yaml"
PARAMS_REAL = ROOT / "params_real.yaml"
PARAMS_PAPER = ROOT / "params_paper.yaml"
CLAIMS = ROOT / "claims.yaml"

#: The real public data copies (``../shared/data`` beside the checkout).
#: Override with the environment variable ``REPRO_SHARED_DATA``.
SHARED_DATA = Path(os.environ.get("REPRO_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()

NOTEBOOK_IDS = {
    "nb01": "01_odal_ecg",
    "nb02": "02_arxiv_bert",
    "nb03": "03_eye_mobilenet_som",
    "nb04": "04_cka_objectives",
}
#: default: embedded synthetic data; real: the real copies (params_real.yaml); paper: the papers' full
#: settings for a GPU machine (params_paper.yaml overrides, where a notebook has a paper configuration).
RUNS = ("default", "real", "paper")
#: the override file of each run beside params.yaml
OVERRIDES = {"real": "PARAMS_REAL", "paper": "PARAMS_PAPER"}


def _check_run(run: str) -> str:
    if run not in RUNS:
        raise ValueError(f"run must be one of {RUNS}, got {run!r}")
    return run


def shared_data(name: str) -> Path:
    """Folder of a real dataset copy under SHARED_DATA (may not exist)."""
    return SHARED_DATA / name


def raw_dir(name: str) -> Path:
    """``data/raw/<name>``: where a dataset is generated, imported or fetched to."""
    return DATA_RAW / name


def processed_dir(name: str) -> Path:
    """``data/processed/<name>``: a cached intermediate (created on demand)."""
    path = DATA_PROCESSED / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def notebook_path(key: str) -> Path:
    return NOTEBOOKS / f"{NOTEBOOK_IDS[key]}.ipynb"


def output_name(key: str, variant: str = "") -> str:
    """The outputs' name of notebook ``key``: ``NN_slug``, or ``NN_slug_<variant>`` for a variant run
    (e.g. notebook 04 on one dataset: ``04_cka_objectives_cifar10c``), so a variant never overwrites the main run."""
    if variant and not variant.replace("_", "").isalnum():
        raise ValueError(f"variant must be letters, digits and '_', got {variant!r}")
    return f"{NOTEBOOK_IDS[key]}_{variant}" if variant else NOTEBOOK_IDS[key]


def executed_notebook(key: str, run: str, variant: str = "") -> Path:
    return RESULTS / _check_run(run) / f"{output_name(key, variant)}.ipynb"


def figure_dir(notebook: str, run: str) -> Path:
    """``figures/<run>/<notebook>/`` (created on demand). notebook: e.g. '01_odal_ecg'."""
    path = FIGURES / _check_run(run) / notebook
    path.mkdir(parents=True, exist_ok=True)
    return path


def table_dir(notebook: str, run: str) -> Path:
    path = TABLES / _check_run(run) / notebook
    path.mkdir(parents=True, exist_ok=True)
    return path


def metrics_file(notebook: str, run: str) -> Path:
    path = METRICS / _check_run(run) / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
