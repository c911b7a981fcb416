"""dvc.yaml: one papermill stage per notebook, deps complete (incl. transitive lib imports), params narrowed."""

import ast
import re

import nbformat
import pytest
import yaml

from lib.core import paths

DVC = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())["stages"]


def _lib_packages(source: str) -> set[str]:
    """Packages of lib (``core``, ``ecg``, ...) imported by a piece of Python source."""
    pkgs = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lib."):
            pkgs.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            pkgs.update(a.name.split(".")[1] for a in node.names if a.name.startswith("lib."))
    return {p for p in pkgs if (paths.ROOT / "lib" / p / "__init__.py").exists()}


def lib_closure(source: str) -> set[str]:
    """Every lib package the source needs, following the packages' own imports."""
    todo, seen = _lib_packages(source), set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for f in (paths.ROOT / "lib" / p).glob("*.py"):
            todo |= _lib_packages(f.read_text()) - seen
    return seen


def _code(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    lines = []
    for c in nb.cells:
        if c.cell_type == "code":
            lines += [ln for ln in c.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


#: every default-pipeline stage runs through the dispatch pins (lib/core/determinism.py)
PINNED = "python -m lib.core.determinism "


def _paths(items):
    out = []
    for it in items or []:
        out += list(it) if isinstance(it, dict) else [it]
    return out


@pytest.mark.parametrize("key", sorted(paths.NOTEBOOK_IDS))
def test_notebook_stage(key):
    nb_id = paths.NOTEBOOK_IDS[key]
    stage = DVC[key]
    assert stage["cmd"] == f"{PINNED}lib.core.runner {key}"  # the default pipeline runs pinned (issue 21)
    assert stage["params"] == [key], "params narrowed to the notebook's own section"
    deps = set(stage["deps"])
    assert f"notebooks/{nb_id}.ipynb" in deps
    needed = {f"lib/{p}" for p in lib_closure(_code(paths.ROOT / f"notebooks/{nb_id}.ipynb")) | {"core"}}
    assert needed <= deps, f"{key}: lib packages used but not declared as deps: {sorted(needed - deps)}"
    assert any(d.startswith("data/") for d in deps), "the stage depends on its data"
    outs = _paths(stage["outs"])
    assert f"results/default/{nb_id}.ipynb" in outs
    assert f"figures/default/{nb_id}" in outs
    assert _paths(stage["metrics"]) == [f"metrics/default/{nb_id}.json"]


def test_every_stage_narrows_params():
    for name, stage in DVC.items():
        for p in stage.get("params", []):
            assert isinstance(p, str) and re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)*", p), (
                f"{name}: params entry {p!r} is not a section or key of one"
            )


def test_lock_committed_and_matches_stages():
    lock = yaml.safe_load((paths.ROOT / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(DVC)


def test_core_imports_no_paper_package():
    """The shared core stays general: no module of lib/core imports a paper package."""
    for f in (paths.ROOT / "lib" / "core").glob("*.py"):
        assert _lib_packages(f.read_text()) <= {"core"}, f"{f.name} imports a paper package"


@pytest.mark.parametrize("name", sorted(n for n in DVC if n.startswith(("data_", "nb02_", "eye_"))))
def test_data_stages_depend_on_what_they_import(name):
    stage = DVC[name]
    module = stage["cmd"].removeprefix(PINNED).split()[0]  # python -m lib.core.determinism lib.<pkg>.<module> ...
    pkg = module.split(".")[1]
    src = (paths.ROOT / "lib" / pkg / f"{module.split('.')[2]}.py").read_text()
    needed = {f"lib/{p}" for p in lib_closure(src) | {pkg}}
    assert needed <= set(stage["deps"]), (
        f"{name}: lib packages used but not declared: {sorted(needed - set(stage['deps']))}"
    )


REAL = yaml.safe_load((paths.ROOT / "real" / "dvc.yaml").read_text())


def _real_runs() -> list[tuple[str, str]]:
    """(notebook key, variant) of every real run: each notebook's section of params_real.yaml and each variant
    section ``<key>_<variant>`` there."""
    sections = yaml.safe_load((paths.ROOT / "params_real.yaml").read_text())
    runs = [(k, "") for k in sorted(paths.NOTEBOOK_IDS)]
    runs += [tuple(s.split("_", 1)) for s in sections if "_" in s and s.split("_", 1)[0] in paths.NOTEBOOK_IDS]
    return sorted(set(runs))


@pytest.mark.parametrize("key, variant", _real_runs())
def test_one_real_stage_per_real_run(key, variant):
    """real/dvc.yaml has a stage per real run (per dataset for nb04), with the notebook, its lib packages and a
    real copy in ../shared/data as deps, both params files, and the committed outputs as uncached outs."""
    cmd = f"python -m lib.core.runner {key} --run real" + (f" --variant {variant}" if variant else "")
    stages = [s for s in REAL["stages"].values() if s["cmd"] == cmd]
    assert len(stages) == 1, f"one stage runs {cmd!r}"
    stage, name = stages[0], paths.output_name(key, variant)
    assert stage["wdir"] == ".."
    deps = set(stage["deps"])
    needed = {f"lib/{p}" for p in lib_closure(_code(paths.ROOT / f"notebooks/{paths.NOTEBOOK_IDS[key]}.ipynb"))}
    assert needed | {f"notebooks/{paths.NOTEBOOK_IDS[key]}.ipynb", "lib/core"} <= deps
    assert any(d.startswith("../shared/data/") for d in deps), "the real copy it reads"
    assert key in stage["params"] and any(isinstance(p, dict) and "params_real.yaml" in p for p in stage["params"])
    outs = _paths(stage["outs"])
    assert {f"results/real/{name}.ipynb", f"figures/real/{name}", f"tables/real/{name}"} <= set(outs)
    assert not any(o.startswith("metrics/") for o in outs), "metrics stay out of the outs (see real/dvc.yaml)"
    assert f"../metrics/real/{name}.json" in REAL["metrics"]


def test_root_pipeline_never_reaches_the_real_stages():
    """No root stage depends on a real stage's out (else the root `dvc repro` would run hour-long real runs)."""
    real_outs = {o for s in REAL["stages"].values() for o in _paths(s["outs"])}
    for name, stage in DVC.items():
        for dep in stage.get("deps", []):
            hit = [o for o in real_outs if o == dep or o.startswith(dep.rstrip("/") + "/") or dep.startswith(o + "/")]
            assert not hit, f"{name} depends on {dep}, which holds real-stage outs {hit}"
