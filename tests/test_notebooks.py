"""Source notebooks: no outputs, exactly one `parameters` cell, thin, and in step with params.yaml."""

import ast

import nbformat
import pytest

from lib.core import paths, runner
from lib.core.params import load_params, overrides

NOTEBOOKS = sorted(paths.NOTEBOOK_IDS)


def _nb(key):
    return nbformat.read(paths.notebook_path(key), as_version=4)


def _parameter_values(nb) -> dict:
    """name -> literal value of the one cell tagged ``parameters``."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected exactly one cell tagged 'parameters', found {len(cells)}"
    tree = ast.parse(cells[0].source)
    values = {}
    for node in tree.body:
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), "the parameters cell holds only assignments"
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            values[t.id] = ast.literal_eval(node.value)  # every parameter is a literal
    return values


def _parameter_names(nb):
    return set(_parameter_values(nb))


@pytest.mark.parametrize("key", NOTEBOOKS)
def test_notebook_exists_and_has_no_outputs(key):
    nb = _nb(key)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs: clear them before committing"
            assert cell.execution_count is None, f"cell {i} has an execution count"
    assert nb.cells[0].cell_type == "markdown", "first cell must be the markdown header"


@pytest.mark.parametrize("key", NOTEBOOKS)
def test_exactly_one_parameters_cell_matching_params_yaml(key):
    names = _parameter_names(_nb(key))
    assert "run" in names
    for run in [r for r in paths.RUNS if r == "default" or key in overrides(r)]:
        injected = set(runner.notebook_parameters(key, run))
        missing = injected - names
        assert not missing, f"params ({run}) keys not in the parameters cell: {sorted(missing)}"
    assert set(load_params(key)) <= names


@pytest.mark.parametrize("key", NOTEBOOKS)
def test_parameters_cell_values_equal_params_yaml(key):
    """The literal defaults in the notebook are params.yaml's (the notebook runs alone in JupyterLab
    with exactly the default configuration)."""
    values = _parameter_values(_nb(key))
    assert values.pop("run") == "default"
    defaults = load_params(key)
    assert set(values) == set(defaults), f"names differ: {sorted(set(values) ^ set(defaults))}"
    differ = {k: (values[k], defaults[k]) for k in defaults if values[k] != defaults[k]}
    assert not differ, f"parameters cell vs params.yaml (cell, yaml): {differ}"


@pytest.mark.parametrize("key", NOTEBOOKS)
def test_notebook_is_thin(key):
    """No function or class definitions in notebooks: reusable code lives in lib/."""
    for i, cell in enumerate(_nb(key).cells):
        if cell.cell_type != "code":
            continue
        src = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(src)):
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)), (
                f"cell {i} defines {node.name!r}: move it to lib/"
            )


def test_runner_rejects_unknown_notebook():
    with pytest.raises(ValueError, match="must be one of"):
        runner.notebook_parameters("nb09", "default")
