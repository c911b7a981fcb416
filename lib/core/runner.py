"""Execute a notebook with papermill, parameters from params.yaml, into an executed copy.

    python -m lib.core.runner nb01               # default configuration (what dvc repro runs)
    python -m lib.core.runner nb01 --run real    # real-data configuration (params_real.yaml overrides)
    python -m lib.core.runner nb02 --run paper   # the paper's configuration (params_paper.yaml), where one exists
    python -m lib.core.runner nb04 --run real --variant cifar10c   # a variant: section nb04_cifar10c on top,
                                                 # outputs named 04_cka_objectives_cifar10c (run and committed apart)

The source notebook is never executed in place: the executed copy goes to
``results/<run>/NN_slug.ipynb``. For ``--run real`` the dataset is first imported
from the local real copy (sha256-verified) by the data module's ``prepare_real()``; for
``--run paper``, by its ``prepare_paper()`` (a clear error names what is missing).

A variant (``--variant NAME``) applies the section ``<key>_<NAME>`` of the run's override file on top of the
notebook's section (only keys the notebook has), injects ``variant = NAME`` (the notebook names its outputs
with it: ``paths.output_name``) and prepares the data with ``prepare_<run>(NAME)``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from lib.core import determinism, paths
from lib.core.io import Terminated, sigterm_as_interrupt
from lib.core.params import ParamsError, load_params, overrides

#: notebook key -> data module whose ``prepare_real()`` imports the real copy.
REAL_DATA_MODULES = {
    "nb01": "lib.ecg.data",
    "nb02": "lib.arxiv.data",
    "nb03": "lib.eye.prepare",
    "nb04": "lib.bias.prepare",
}

#: environment of an executed (papermill) run: tqdm bars off (TQDM_DISABLE), TensorFlow's C++ and
#: Python log lines off; JupyterLab sessions do not set these, so progress stays on there. TensorFlow 2.21
#: prints its oneDNN notice through absl before any log level applies; oneDNN's custom kernels are off in
#: executed runs (which also removes their machine-dependent round-off: the eye features do the same).
EXECUTED_ENV = {
    "TQDM_DISABLE": "1",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "ABSL_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
}


#: the Jupyter kernel executed copies run on and name (registered by scripts/setup.sh in the environment)
DEFAULT_KERNEL = "repro-papers"
KERNEL_SETUP = (
    "python -m ipykernel install --sys-prefix --name repro-papers --display-name 'Python 3.11 (repro-papers)'"
)


def kernel_spec(name: str) -> dict:
    """``{name, display_name, language}`` of a registered Jupyter kernel; a clear error when it is missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        hint = f" (register it: `bash scripts/setup.sh`, or `{KERNEL_SETUP}`)" if name == DEFAULT_KERNEL else ""
        raise RuntimeError(
            f"Jupyter kernel {name!r} is not registered in this environment{hint}; "
            "or pass --kernel python3 (the executed copy then names that kernel)"
        ) from None
    return {"name": name, "display_name": spec.display_name, "language": spec.language}


def _relative_to_root(path: Path | str) -> str:
    path = Path(path).resolve()
    for base in (paths.ROOT, paths.OUTPUT_ROOT):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.name


def _strip_prefixes(text, prefixes):
    joined = "".join(text) if isinstance(text, list) else text
    for prefix in prefixes:
        joined = joined.replace(prefix, "")
    return joined


def tidy_executed_copy(path: Path | str, *, source: Path | str, output: Path | str, kernel: dict | None = None) -> None:
    """Make an executed copy read like a paper and carry no machine path, in place (atomically).

    - papermill's ``input_path`` / ``output_path`` become paths relative to the repository
      (``source``, ``output``: where the copy came from and where it is published);
    - the ``parameters`` and ``injected-parameters`` cells are collapsed (source and outputs hidden),
      so JupyterLab opens at the paper's header, not at the parameter list;
    - ``kernel`` (from :func:`kernel_spec`) is recorded as the copy's kernelspec;
    - a path under the repository printed in an output (e.g. a data root) is shown relative to it.
    """
    import nbformat

    from lib.core.io import atomic_write_text

    path = Path(path)
    nb = nbformat.reads(path.read_text(), as_version=4)
    meta = nb.setdefault("metadata", {})
    pm_meta = meta.setdefault("papermill", {})
    pm_meta["input_path"] = _relative_to_root(source)
    pm_meta["output_path"] = _relative_to_root(output)
    if kernel:
        meta["kernelspec"] = dict(kernel)
    prefixes = sorted({f"{paths.ROOT}/", f"{paths.OUTPUT_ROOT}/"}, key=len, reverse=True)
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _strip_prefixes(out["text"], prefixes)
            for mime in ("text/plain", "text/markdown", "text/html"):
                if mime in out.get("data", {}):
                    out["data"][mime] = _strip_prefixes(out["data"][mime], prefixes)
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and ("parameters" in tags or "injected-parameters" in tags):
            cell["metadata"]["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
            cell["metadata"]["collapsed"] = True
    atomic_write_text(path, nbformat.writes(nb))


def notebook_parameters(key: str, run: str, variant: str = "") -> dict:
    """The parameters papermill injects: the notebook's params section plus ``run`` (and a variant's section)."""
    if key not in paths.NOTEBOOK_IDS:
        raise ValueError(f"notebook key must be one of {sorted(paths.NOTEBOOK_IDS)}, got {key!r}")
    if run == "paper" and key not in overrides("paper"):
        raise ValueError(f"{key} has no paper configuration (no {key!r} section in {paths.PARAMS_PAPER.name})")
    params = dict(load_params(key, run=run))
    if variant:
        paths.output_name(key, variant)  # validates the name
        section = f"{key}_{variant}"
        extra = overrides(run).get(section)
        if not isinstance(extra, dict):
            raise ValueError(f"variant {variant!r}: no section {section!r} in the {run} override file")
        unknown = sorted(set(extra) - set(params))
        if unknown or "variant" not in params:
            raise ValueError(f"variant {variant!r}: {key} has no parameter(s) {unknown or ['variant']}")
        params.update(extra)
        params["variant"] = variant
    params["run"] = run
    return params


def run_notebook(
    key: str, run: str = "default", *, variant: str = "", kernel_name: str = DEFAULT_KERNEL, log_output: bool = True
):
    """Execute ``notebooks/<key>.ipynb`` into ``results/<run>/`` and return the output path.

    The run's figure folder is emptied first, so ``figures/<run>/<notebook>/`` holds exactly the figures
    this run wrote (each shown once in the executed copy: tests/test_executed_copies.py counts them).
    """
    import papermill as pm

    params = notebook_parameters(key, run, variant)
    kernel = kernel_spec(kernel_name)
    if run != "default":
        module = importlib.import_module(REAL_DATA_MODULES[key])
        prepare = getattr(module, f"prepare_{run}")
        if variant:
            prepare(variant)
        else:
            prepare()
    src = paths.notebook_path(key)
    dst = paths.executed_notebook(key, run, variant)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.running.ipynb")
    stale_figures = paths.FIGURES / run / paths.output_name(key, variant)
    if stale_figures.is_dir():
        shutil.rmtree(stale_figures)
    os.environ.setdefault("MPLBACKEND", "Agg")
    # executed copies read like a paper: no progress bars, no framework log lines (interactive use keeps them)
    os.environ.update(EXECUTED_ENV)
    if run == "default":
        # the default pipeline's results are committed: same kernels on every processor (lib.core.determinism)
        os.environ.update(determinism.PINNED_ENV)
    start, start_wall = time.perf_counter(), time.time()
    try:
        with sigterm_as_interrupt():
            pm.execute_notebook(
                str(src),
                str(tmp),
                parameters=params,
                kernel_name=kernel_name,
                cwd=str(paths.NOTEBOOKS),
                log_output=log_output,
                progress_bar=False,
            )
    except BaseException as err:
        # keep the failed copy for inspection, but never at the output path; the .running temporary goes
        failed = dst.with_name(f"{dst.stem}.FAILED.ipynb")
        if tmp.exists():
            os.replace(tmp, failed)
        # outputs the notebook wrote before it stopped are complete files (every writer is atomic) but a mix of
        # this run and the last: name them, so nobody takes them for a finished run (DVC reruns the stage)
        written = _written_since(key, run, variant, start_wall)
        print(
            f"[runner] {key} ({run}) FAILED ({type(err).__name__}: {err}); executed copy kept as "
            f"{failed.relative_to(paths.ROOT) if failed.exists() else 'none'}"
            + (f"; {len(written)} output file(s) written before it stopped: {', '.join(written)}" if written else ""),
            file=sys.stderr,
        )
        raise
    tidy_executed_copy(tmp, source=src, output=dst, kernel=kernel)
    os.replace(tmp, dst)
    print(f"[runner] {key} ({run}) executed in {time.perf_counter() - start:.1f} s -> {dst.relative_to(paths.ROOT)}")
    return dst


def _written_since(key: str, run: str, variant: str, since: float) -> list[str]:
    """Figures, tables and the metrics file of this notebook's run modified after ``since`` (relative paths)."""
    name = paths.output_name(key, variant)
    out = []
    with contextlib.suppress(OSError, KeyError, ValueError):
        candidates = [*(paths.FIGURES / run / name).glob("*"), *(paths.TABLES / run / name).glob("*")]
        candidates.append(paths.metrics_file(name, run))
        for p in candidates:
            if p.is_file() and p.stat().st_mtime >= since:
                out.append(p.relative_to(paths.ROOT).as_posix())
    return sorted(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", choices=sorted(paths.NOTEBOOK_IDS))
    parser.add_argument("--run", choices=paths.RUNS, default="default")
    parser.add_argument("--variant", default="", help="apply the override section <notebook>_<variant>")
    parser.add_argument("--kernel", default=DEFAULT_KERNEL, help="Jupyter kernel (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        run_notebook(args.notebook, args.run, variant=args.variant, kernel_name=args.kernel)
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # SIGINT, or SIGTERM (Terminated): cleaned up in run_notebook
        return 128 + (signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
