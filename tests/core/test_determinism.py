"""Processor-independent default pipeline: the two-dispatch-level check (scripts/check_dispatch.py), small.

Four fresh interpreters compute the cached features of a few texts (nb02's default MiniLM path) and a few
images (nb03's default MobileNetV2 extractor): unpinned with this processor's widest kernels, unpinned with every
dispatch variable capped at AVX2 (an AVX2 machine), pinned (lib.core.determinism.PINNED_ENV), and pinned with every
other knob lowered further. The pins must make the outputs byte-identical; without them the two levels must
differ (on an AVX-512 machine; the first test is skipped elsewhere).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from lib.core import determinism, paths

spec = importlib.util.spec_from_file_location("check_dispatch", paths.ROOT / "scripts" / "check_dispatch.py")
check_dispatch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_dispatch)


@pytest.fixture(scope="module")
def result():
    return check_dispatch.check(names=check_dispatch.QUICK)


@pytest.mark.skipif(determinism.machine_level() != "AVX512", reason="needs an AVX-512 processor to show two levels")
@pytest.mark.parametrize("kind", ["text", "image"])
def test_unpinned_levels_differ(result, kind):
    """Without the pins, AVX-512 and AVX2 kernels give different bits (the issue's symptom, reproduced)."""
    pair = result["pairs"][f"{kind}: avx512 vs avx2"]
    assert not pair["raw_identical"], pair
    assert pair["raw_elements_differing"] > 0


@pytest.mark.parametrize("kind", ["text", "image"])
def test_pinned_outputs_are_byte_identical(result, kind):
    pair = result["pairs"][f"{kind}: pinned vs pinned-lowered"]
    assert pair["raw_identical"] and pair["cached_identical"], pair


def test_pins_cover_every_dispatching_library():
    env = determinism.PINNED_ENV
    assert env["ATEN_CPU_CAPABILITY"] == "avx2"
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert env["MKL_CBWR"].split(",")[0] in ("COMPATIBLE", "AVX2")
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert "X86_V4" in env["NPY_DISABLE_CPU_FEATURES"]
    assert env["OPENBLAS_CORETYPE"]
    assert all(env[k] == "1" for k in determinism.THREAD_ENV)


def test_the_wrapper_starts_the_module_with_the_pins(tmp_path):
    (tmp_path / "envprobe.py").write_text(
        "import json, os, sys\nprint(json.dumps({'env': dict(os.environ), 'argv': sys.argv[1:]}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in determinism.PINNED_ENV}
    env["PYTHONPATH"] = f"{paths.ROOT}{os.pathsep}{tmp_path}"
    env["OMP_NUM_THREADS"] = "8"  # the pins win over the caller's settings
    out = subprocess.run(
        [sys.executable, "-m", "lib.core.determinism", "envprobe", "a", "--b"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["argv"] == ["a", "--b"]
    assert {k: got["env"].get(k) for k in determinism.PINNED_ENV} == determinism.PINNED_ENV


def test_every_default_stage_runs_pinned():
    import yaml

    stages = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())["stages"]
    unpinned = [name for name, st in stages.items() if not st["cmd"].startswith("python -m lib.core.determinism ")]
    assert unpinned == [], f"dvc.yaml stages not run through lib.core.determinism: {unpinned}"


def test_apply_refuses_after_numpy_was_imported():
    env = {k: v for k, v in os.environ.items() if k not in determinism.PINNED_ENV}
    code = (
        "import numpy, lib.core.determinism as d\n"
        "try:\n    d.apply()\nexcept RuntimeError as e:\n    print('refused:', e)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "refused: lib.core.determinism.apply(): numpy already imported" in out.stdout, out.stderr


def test_machine_info_records_processor_and_dispatch():
    """In fresh interpreters: removing the pins from this process's environment, even for one test, changed how
    later in-process fits ran (tests/bias/test_fits.py failed when run after this file)."""
    code = (
        "import json, lib.core.determinism as d\n"
        "i = d.machine_info()\n"
        "print(json.dumps([i['cpu_model'], i['dispatch']]))"
    )
    bare = {k: v for k, v in os.environ.items() if k not in determinism.PINNED_ENV}
    runs = {
        name: subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=paths.ROOT
        )
        for name, env in (("native", bare), ("pinned", determinism.pinned_env(bare)))
    }
    native, pinned = (json.loads(runs[k].stdout) for k in ("native", "pinned"))
    assert native[0] and native[1] == "native"
    assert pinned[1] == "pinned-AVX2"
