"""Killed cleanly: SIGTERM is handled like SIGINT, tested with real subprocesses and real signals.

- the runner: the executed copy is kept as ``<name>.FAILED.ipynb``, the ``.running`` temporary is removed, the
  kernel is shut down, the exit status is 128 + the signal;
- an import (``lib.core.datacli`` + ``lib.core.io.atomic_dir``, as every data module writes): no
  ``.<name>.tmp-*`` is left beside the target and the target is untouched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from lib.core import paths

SIGNALS = [signal.SIGTERM, signal.SIGINT]


def _default_signals() -> None:
    """In the child before exec: SIGINT and SIGTERM at their default dispositions. A shell that starts a job in the
    background without job control (``cmd &`` in a script, e.g. CI under nohup) makes it ignore SIGINT, an ignored
    signal stays ignored across exec, and Python then installs no KeyboardInterrupt handler: the test would time out
    on how it was launched, not on what the runner does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process ended early ({proc.returncode}):\n{out}\n{err}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.2)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(paths.ROOT), "PYTHONUNBUFFERED": "1"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as gone
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


RUNNER_DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from lib.core import paths, runner, schema
    root = Path(sys.argv[1])
    for name, value in {"ROOT": root, "NOTEBOOKS": root / "notebooks", "RESULTS": root / "results",
                        "FIGURES": root / "figures", "TABLES": root / "tables", "METRICS": root / "metrics",
                        "PARAMS": root / "params.yaml"}.items():
        setattr(paths, name, value)
    schema.SECTIONS = {"nb01": schema.DICT({"n": schema.INT()})}
    sys.exit(runner.main(["nb01"]))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_runner_killed_keeps_failed_copy_and_removes_temporary(tmp_path, signum):
    started = tmp_path / "started.json"
    (tmp_path / "notebooks").mkdir()
    nb = new_notebook(
        cells=[
            new_code_cell("run = 'default'\nn = 1", metadata={"tags": ["parameters"]}),
            new_code_cell(
                "import json, os, time\n"
                # written, then renamed: the test polls for the file and must never read it half-written
                f"open({str(started) + '.part'!r}, 'w').write(json.dumps({{'pid': os.getpid(), "
                "'aten': os.environ.get('ATEN_CPU_CAPABILITY')}))\n"
                f"os.replace({str(started) + '.part'!r}, {str(started)!r})\n"
                "time.sleep(300)"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "notebooks" / "01_odal_ecg.ipynb")
    (tmp_path / "params.yaml").write_text("nb01:\n  n: 21\n")
    (tmp_path / "driver.py").write_text(RUNNER_DRIVER)
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py"), str(tmp_path)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )
    _wait_for(started, proc)
    kernel = json.loads(started.read_text())
    assert kernel["aten"] == "avx2", "the default run's kernel runs with the dispatch pins"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    results = tmp_path / "results" / "default"
    assert proc.returncode == 128 + signum, (proc.returncode, err[-2000:])
    assert not (results / ".01_odal_ecg.running.ipynb").exists(), "the .running temporary is removed"
    assert not (results / "01_odal_ecg.ipynb").exists(), "no executed copy at the output path"
    assert (results / "01_odal_ecg.FAILED.ipynb").exists(), f"the failed copy is kept\n{err[-2000:]}"
    assert "FAILED" in err
    end = time.monotonic() + 30
    while _alive(kernel["pid"]) and time.monotonic() < end:
        time.sleep(0.5)
    assert not _alive(kernel["pid"]), "the kernel is shut down"


IMPORT_DRIVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from lib.core import datacli
    from lib.core.io import atomic_dir
    flag = Path(sys.argv[1])

    def generate(out):
        with atomic_dir(out) as tmp:
            (tmp / "part.bin").write_bytes(b"x" * 1000)
            flag.touch()
            time.sleep(300)
            (tmp / "rest.bin").write_bytes(b"y")
        return out

    sys.exit(datacli.main(sys.argv[2:], description="", generate=generate, import_local=None, fetch=None,
                          default_src=Path(".")))
    """
)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_import_killed_leaves_no_temporary(tmp_path, signum):
    raw = tmp_path / "raw"
    target = raw / "eye_real"
    target.mkdir(parents=True)
    (target / "old.bin").write_bytes(b"previous import")
    flag = tmp_path / "started"
    (tmp_path / "driver.py").write_text(IMPORT_DRIVER)
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py"), str(flag), "generate", "--out", str(target)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_signals,
    )
    _wait_for(flag, proc, timeout=120)
    assert [p.name for p in raw.iterdir() if ".tmp-" in p.name], "the import writes into a temporary"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, (proc.returncode, err)
    assert f"stopped by {signal.Signals(signum).name}" in err
    assert sorted(p.name for p in raw.iterdir()) == ["eye_real"], "no .eye_real.tmp-* left"
    assert [p.name for p in target.iterdir()] == ["old.bin"], "the previous import is untouched"
