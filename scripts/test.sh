#!/usr/bin/env bash
# The project's whole test command (what CI runs):
#   ruff (lint + format check); unit tests + notebook-format checks; default `dvc repro` (on a clean
#   checkout it must leave `git status` clean: same results on every machine); nbval on every notebook;
#   clean `dvc status` of the default pipeline.
# Prints each part's wall time and pytest's summary lines.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0
# the same kernels on every processor (AVX2 or AVX-512) and one thread: lib/core/determinism.py (dvc.yaml's
# stages apply the same pins through `python -m lib.core.determinism`; tests that compare levels unset them)
eval "$(python -m lib.core.determinism --print-env)"
t() { local name=$1; shift; local s=$SECONDS; "$@"; echo "[time] $name: $((SECONDS - s)) s"; }
t ruff ruff check lib tests benchmarks scripts notebooks
t ruff-format ruff format --check lib tests benchmarks scripts
t unit-tests python -m pytest tests -q -p no:cacheprovider
tree_before=$(git status --porcelain 2>/dev/null || true)
t dvc-repro dvc repro
if [ -z "$tree_before" ] && git rev-parse --git-dir >/dev/null 2>&1; then
  tree_after=$(git status --porcelain)
  if [ -n "$tree_after" ]; then
    echo "dvc repro on a clean checkout changed tracked files (results must not depend on the machine):" >&2
    echo "$tree_after" >&2
    git --no-pager diff --stat >&2
    exit 1
  fi
  echo "[test] git status clean after dvc repro"
else
  echo "[test] working tree had local changes before dvc repro: clean-tree check skipped"
fi
# nbval runs the source notebooks with their literal defaults on the data `dvc repro` generated;
# their figures/tables/metrics go to a temporary folder, never over the pipeline's outputs.
nbval_out=$(mktemp -d)
t nbval env REPRO_OUTPUT_ROOT="$nbval_out" python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env --nbval-cell-timeout=600 notebooks/
rm -rf "$nbval_out"
# the default pipeline only (dvc.yaml): the real-data stages (real/dvc.yaml) need ../shared/data and hours of CPU,
# and are never run here
status=$(dvc status dvc.yaml)
echo "$status"
if ! echo "$status" | grep -q "Data and pipelines are up to date"; then
  echo "dvc status is not clean after dvc repro" >&2
  exit 1
fi
echo "[test] all checks passed"
