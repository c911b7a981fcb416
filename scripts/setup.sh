#!/usr/bin/env bash
# Install everything into ./.venv (Python 3.11), register the Jupyter kernel, nothing else.
# Used by the README's set-up command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 required, found {sys.version}"'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# pip's output minus this machine's noise about absent local index folders; pip's own exit status is kept.
pip_install() { .venv/bin/python -m pip install --quiet "$@" 2>&1 | { grep -v -e "WARNING: Location 'file://" || true; }; }
pip_install --upgrade pip
pip_install -r requirements.txt -c constraints.txt
pip_install --no-deps -e .
# A named kernel inside the environment, so `jupyter lab` opens the notebooks ready to run.
.venv/bin/python -m ipykernel install --sys-prefix --name repro-papers --display-name "Python 3.11 (repro-papers)" >/dev/null
echo "[setup] done: $(.venv/bin/python --version), torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')"
