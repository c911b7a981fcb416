"""lib.core.runner: papermill into an executed copy, never in place; a failure leaves no output behind."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lib.core import paths, runner, schema


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    nb = new_notebook(
        cells=[
            new_markdown_cell("# tiny"),
            new_code_cell("run = 'default'\nn = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("assert n > 0, 'n must be positive'\nresult = n * 2\nprint(json.dumps({'result': result}))"),
        ]
    )
    nb.cells.insert(2, new_code_cell("import json"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, nbdir / "01_odal_ecg.ipynb")
    (tmp_path / "params.yaml").write_text("nb01:\n  n: 21\n")
    (tmp_path / "params_real.yaml").write_text("nb01:\n  n: -1\n")
    for name, value in {
        "NOTEBOOKS": nbdir,
        "RESULTS": tmp_path / "results",
        "FIGURES": tmp_path / "figures",  # the runner empties the run's figure folder: never the repository's
        "PARAMS": tmp_path / "params.yaml",
        "PARAMS_REAL": tmp_path / "params_real.yaml",
        "ROOT": tmp_path,
    }.items():
        monkeypatch.setattr(paths, name, value)
    # the tiny notebook's own schema (n, and variant for the variant tests)
    tiny = schema.DICT({"n": schema.INT(), "m": schema.INT(), "variant": schema.STR()}, optional=["m", "variant"])
    monkeypatch.setattr(schema, "SECTIONS", {"nb01": tiny})
    monkeypatch.setitem(runner.REAL_DATA_MODULES, "nb01", "lib.core.paths")  # no real data to prepare here
    monkeypatch.setattr(paths, "prepare_real", lambda: None, raising=False)
    return tmp_path


@pytest.mark.slow
def test_runner_injects_params_into_executed_copy(tiny_project):
    src = tiny_project / "notebooks" / "01_odal_ecg.ipynb"
    before = src.read_bytes()
    out = runner.run_notebook("nb01", "default", log_output=False)
    assert out == tiny_project / "results" / "default" / "01_odal_ecg.ipynb"
    assert src.read_bytes() == before, "the source notebook is never executed in place"
    nb = nbformat.read(out, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert json.loads(printed.strip()) == {"result": 42}


@pytest.mark.slow
def test_runner_failure_leaves_no_executed_copy(tiny_project):
    with pytest.raises(Exception, match="n must be positive"):
        runner.run_notebook("nb01", "real", log_output=False)
    assert not (tiny_project / "results" / "real" / "01_odal_ecg.ipynb").exists()
    assert (tiny_project / "results" / "real" / "01_odal_ecg.FAILED.ipynb").exists()


def test_variant_applies_its_section_and_names_its_outputs(tiny_project):
    (tiny_project / "params.yaml").write_text("nb01:\n  n: 21\n  variant: ''\n")
    (tiny_project / "params_real.yaml").write_text("nb01:\n  n: -1\nnb01_small:\n  n: 3\nnb01_bad:\n  m: 1\n")
    assert runner.notebook_parameters("nb01", "real", "small") == {"n": 3, "variant": "small", "run": "real"}
    assert runner.notebook_parameters("nb01", "real") == {"n": -1, "variant": "", "run": "real"}
    assert paths.executed_notebook("nb01", "real", "small") == tiny_project / "results/real/01_odal_ecg_small.ipynb"
    assert paths.executed_notebook("nb01", "real") == tiny_project / "results/real/01_odal_ecg.ipynb"
    with pytest.raises(ValueError, match="no section 'nb01_big'"):
        runner.notebook_parameters("nb01", "real", "big")
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['m'\]"):
        runner.notebook_parameters("nb01", "real", "bad")
    with pytest.raises(ValueError, match="letters, digits"):
        runner.notebook_parameters("nb01", "real", "../x")


def test_variant_needs_a_notebook_that_takes_it(tiny_project):
    (tiny_project / "params_real.yaml").write_text("nb01_small:\n  n: 3\n")
    with pytest.raises(ValueError, match=r"\['variant'\]"):
        runner.notebook_parameters("nb01", "real", "small")
