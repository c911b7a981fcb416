"""dvc.yaml: one papermill stage per notebook, deps complete (incl. transitive lib imports), params narrowed."""

import ast
import re

import nbformat
import pytest
import yaml

from lib import paths

DVC = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())["stages"]


def _lib_imports(source: str) -> set[str]:
    """Names of lib modules imported by a piece of Python source."""
    mods = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "lib":
                mods.update(a.name for a in node.names)
            elif node.module.startswith("lib."):
                mods.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            mods.update(a.name.split(".")[1] for a in node.names if a.name.startswith("lib."))
    return {m for m in mods if (paths.ROOT / "lib" / f"{m}.py").exists()}


def lib_closure(source: str) -> set[str]:
    todo, seen = _lib_imports(source), set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo |= _lib_imports((paths.ROOT / "lib" / f"{m}.py").read_text()) - seen
    return seen


def _code(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    lines = []
    for c in nb.cells:
        if c.cell_type == "code":
            lines += [ln for ln in c.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def _paths(items):
    out = []
    for it in items or []:
        out += list(it) if isinstance(it, dict) else [it]
    return out


@pytest.mark.parametrize("key", sorted(paths.NOTEBOOK_IDS))
def test_notebook_stage(key):
    nb_id = paths.NOTEBOOK_IDS[key]
    stage = DVC[key]
    assert stage["cmd"] == f"python -m lib.runner {key}"
    assert stage["params"] == [key], "params narrowed to the notebook's own section"
    deps = set(stage["deps"])
    assert f"notebooks/{nb_id}.ipynb" in deps
    needed = {f"lib/{m}.py" for m in lib_closure(_code(paths.ROOT / f"notebooks/{nb_id}.ipynb")) | {"runner"}}
    needed |= {f"lib/{m}.py" for m in lib_closure((paths.ROOT / "lib" / "runner.py").read_text())}
    assert needed <= deps, f"{key}: lib modules used but not declared as deps: {sorted(needed - deps)}"
    assert any(d.startswith("data/") for d in deps), "the stage depends on its data"
    outs = _paths(stage["outs"])
    assert f"results/default/{nb_id}.ipynb" in outs
    assert f"figures/default/{nb_id}" in outs
    assert _paths(stage["metrics"]) == [f"metrics/default/{nb_id}.json"]


def test_every_stage_narrows_params():
    for name, stage in DVC.items():
        for p in stage.get("params", []):
            assert isinstance(p, str) and re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)*", p), f"{name}: params entry {p!r} is not a section or key of one"


def test_lock_committed_and_matches_stages():
    lock = yaml.safe_load((paths.ROOT / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(DVC)
