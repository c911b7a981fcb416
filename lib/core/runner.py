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
import importlib
import os
import sys
import time

from lib.core import paths
from lib.core.params import load_params, overrides

#: notebook key -> data module whose ``prepare_real()`` imports the real copy.
REAL_DATA_MODULES = {
    "nb01": "lib.ecg.data",
    "nb02": "lib.arxiv.data",
    "nb03": "lib.eye.prepare",
    "nb04": "lib.bias.data",
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
    key: str, run: str = "default", *, variant: str = "", kernel_name: str = "python3", log_output: bool = True
):
    """Execute ``notebooks/<key>.ipynb`` into ``results/<run>/`` and return the output path."""
    import papermill as pm

    params = notebook_parameters(key, run, variant)
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
    os.environ.setdefault("MPLBACKEND", "Agg")
    # executed copies read like a paper: no progress bars, no framework log lines (interactive use keeps them)
    os.environ.update(EXECUTED_ENV)
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(src),
            str(tmp),
            parameters=params,
            kernel_name=kernel_name,
            cwd=str(paths.NOTEBOOKS),
            log_output=log_output,
            progress_bar=False,
        )
    except BaseException:
        # keep the failed copy for inspection, but never at the output path
        if tmp.exists():
            os.replace(tmp, dst.with_name(f"{dst.stem}.FAILED.ipynb"))
        raise
    os.replace(tmp, dst)
    print(f"[runner] {key} ({run}) executed in {time.perf_counter() - start:.1f} s -> {dst.relative_to(paths.ROOT)}")
    return dst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", choices=sorted(paths.NOTEBOOK_IDS))
    parser.add_argument("--run", choices=paths.RUNS, default="default")
    parser.add_argument("--variant", default="", help="apply the override section <notebook>_<variant>")
    parser.add_argument("--kernel", default="python3")
    args = parser.parse_args(argv)
    run_notebook(args.notebook, args.run, variant=args.variant, kernel_name=args.kernel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
