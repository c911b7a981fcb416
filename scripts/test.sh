#!/usr/bin/env bash
# The project's whole test command (what CI runs):
#   ruff; unit tests + notebook-format checks; default `dvc repro`; nbval on every notebook; clean `dvc status`.
# Prints each part's wall time and pytest's summary lines.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0
t() { local name=$1; shift; local s=$SECONDS; "$@"; echo "[time] $name: $((SECONDS - s)) s"; }
t ruff ruff check lib tests benchmarks scripts notebooks
t unit-tests python -m pytest tests -q -p no:cacheprovider
t dvc-repro dvc repro
# nbval runs the source notebooks with their literal defaults on the data `dvc repro` generated;
# their figures/tables/metrics go to a temporary folder, never over the pipeline's outputs.
nbval_out=$(mktemp -d)
t nbval env REPRO_OUTPUT_ROOT="$nbval_out" python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env --nbval-cell-timeout=600 notebooks/
rm -rf "$nbval_out"
status=$(dvc status)
echo "$status"
if ! echo "$status" | grep -q "Data and pipelines are up to date"; then
  echo "dvc status is not clean after dvc repro" >&2
  exit 1
fi
echo "[test] all checks passed"
