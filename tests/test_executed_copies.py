"""Executed notebooks read like a paper: no progress bars, framework log lines, warnings or raw markup."""

import functools
import json
import re

import pytest

from lib.core import paths

NOISE = {
    "progress bar": re.compile(r"\d+%\|[^|\n]*\||\d+(\.\d+)?(it|s|label|batch)/(s|it)\]"),
    "IProgress / widget warning": re.compile(r"IProgress|ipywidgets"),
    "TensorFlow/absl log line": re.compile(
        r"^[IWEF]\d{4} \d\d:\d\d|tensorflow/|WARNING:tensorflow|absl::|oneDNN|cuda_|XLA", re.M
    ),
    "Python warning": re.compile(r"\b\w*Warning: |warnings\.warn"),
    "raw Markdown bold in a table": re.compile(r"\*\*[^*\n<>]+\*\*"),
    "escaped HTML tag": re.compile(r"&lt;/?(u|b|i|br)&gt;"),
}


def _executed():
    return sorted(p for p in (paths.RESULTS).glob("*/*.ipynb") if not p.name.startswith("."))


def _outputs(nb):
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                yield i, "stream", "".join(out["text"])
            elif out.get("output_type") == "error":
                yield i, "error", "\n".join(out.get("traceback", []))
            elif "data" in out:
                for mime in ("text/plain", "text/html", "text/markdown"):
                    if mime in out["data"]:
                        yield i, mime, "".join(out["data"][mime])


def _noise(nb):
    found = []
    for cell, mime, text in _outputs(nb):
        for what, pattern in NOISE.items():
            if what == "raw Markdown bold in a table" and mime == "text/markdown":
                continue  # Markdown output renders its bold; raw ** is noise only in plain text and HTML tables
            m = pattern.search(text)
            if m:
                found.append(f"cell {cell}: {what}: {m.group(0)[:60]!r}")
    return found


@pytest.mark.parametrize("path", _executed(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_executed_copy_has_no_noise(path):
    found = _noise(json.loads(path.read_text()))
    assert not found, f"{path.relative_to(paths.OUTPUT_ROOT)}:\n" + "\n".join(found[:20])


def test_bold_is_noise_in_tables_not_in_markdown_output():
    def nb(mime, text):
        return {"cells": [{"outputs": [{"output_type": "display_data", "data": {mime: text}}]}]}

    assert _noise(nb("text/markdown", "Models are ranked by **balanced accuracy**.")) == []
    assert _noise(nb("text/html", "<td>**30.65 ± 6.01**</td>"))
    assert _noise(nb("text/plain", "| sce | **30.65** |"))


def test_noise_patterns_catch_what_they_should():
    assert NOISE["progress bar"].search("AL entropy: 100%|██████████| 120/120 [00:02<00:00, 52.67label/s]")
    assert NOISE["TensorFlow/absl log line"].search("I0000 00:00:1732 12345 cpu_feature_guard.cc:210] x")
    assert NOISE["TensorFlow/absl log line"].search("WARNING:tensorflow:5 out of the last 16 calls to <function")
    assert NOISE["Python warning"].search("UserWarning: X does not have valid feature names")
    assert NOISE["raw Markdown bold in a table"].search("| sce | **30.65 ± 6.01** |")
    assert not NOISE["progress bar"].search("accuracy 95% of full supervision | 3000 labels")


# ---- figures inline, no raw structures, the project kernel, parameters collapsed (issue 26) ----


def _figure_dir(path):
    """Where the run that wrote ``path`` saved its figures: figures/<run>/<name>/, or, for the paper-configuration
    smoke run, results/paper_synthetic/<name>/figures/."""
    run, name = path.parent.name, path.stem
    if run in paths.RUNS:
        return paths.FIGURES / run / name
    return path.parent / name / "figures"


def _images(nb) -> int:
    return sum(
        1 for c in nb["cells"] for o in c.get("outputs", []) if {"image/png", "image/svg+xml"} & set(o.get("data", {}))
    )


# ---- real copies whose run predates their notebook (claims.yaml notebooks.<nb>.stale_real_run) ----


def _stale_notebooks() -> set[str]:
    import yaml

    info = (yaml.safe_load(paths.CLAIMS.read_text()) or {}).get("notebooks") or {}
    return {nb for nb, entry in info.items() if (entry or {}).get("stale_real_run")}


def _real_runs() -> list[tuple[str, str | None, list[str]]]:
    """(notebook path, md5 it was run at, executed copies it wrote) for each real stage in real/dvc.lock."""
    import yaml

    lock = yaml.safe_load((paths.ROOT / "real" / "dvc.lock").read_text())["stages"]
    runs = []
    for st in lock.values():
        nbs = [d for d in st.get("deps", []) if d.get("path", "").startswith("notebooks/")]
        copies = [o["path"] for o in st.get("outs", []) if o.get("path", "").endswith(".ipynb")]
        runs += [(d["path"], d.get("md5"), copies) for d in nbs]
    return runs


def _md5(src: str) -> str:
    import hashlib

    return hashlib.md5((paths.ROOT / src).read_bytes()).hexdigest()


@functools.cache
def _stale_copies() -> frozenset[str]:
    """Executed real copies (results/real/<name>.ipynb) of a notebook marked stale whose stage ran another version
    of it (a marked notebook's copies that were rerun at the current notebook are checked as usual); read once."""
    runs, out = _real_runs(), set()
    for nb in _stale_notebooks():
        src = f"notebooks/{nb}.ipynb"
        out |= {c for path, md5, copies in runs if path == src and md5 != _md5(src) for c in copies}
    return frozenset(out)


def _skip_if_stale(path):
    """A real copy of a notebook marked stale, written by a stage that ran an older version of it, shows what that
    notebook did: the report says so beside its numbers; the figure and raw-structure checks apply from its next
    run (test_stale_marks_are_true keeps the mark honest)."""
    rel = path.relative_to(paths.OUTPUT_ROOT).as_posix()
    if rel in _stale_copies():
        pytest.skip(f"{rel}: stale real run (claims.yaml notebooks.*.stale_real_run)")


def test_stale_marks_are_true():
    """A notebook may be marked stale only while at least one real stage that runs it was locked on another version
    of it (real/dvc.lock records the notebook's md5 at the run): rerunning every such stage must remove the mark."""
    for nb in _stale_notebooks():
        src = f"notebooks/{nb}.ipynb"
        current = _md5(src)
        locked = [md5 for path, md5, _ in _real_runs() if path == src]
        assert locked, f"{nb} is marked stale but no real stage in real/dvc.lock runs {src}"
        assert any(md5 != current for md5 in locked), (
            f"{nb} is marked stale but every real stage in real/dvc.lock ran the current {src}: remove the mark"
        )


@pytest.mark.parametrize("path", _executed(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_executed_copy_shows_every_figure_its_run_saved(path):
    _skip_if_stale(path)
    nb = json.loads(path.read_text())
    folder = _figure_dir(path)
    saved = sorted(p.name for p in folder.glob("*") if p.suffix in (".png", ".svg")) if folder.is_dir() else []
    shown = _images(nb)
    assert shown >= len(saved), (
        f"{path.relative_to(paths.OUTPUT_ROOT)} shows {shown} inline image(s) but its run saved {len(saved)} figure(s) "
        f"in {folder.relative_to(paths.OUTPUT_ROOT)}: {saved[:8]} (write figures with out.figure(fig, name))"
    )


#: a cell's plain-text result that is a Python structure dumped as such (not a table, not prose)
RAW_REPR = re.compile(r"^\s*(\{|\[|\(|OrderedDict\(|defaultdict\()")
MAX_RAW_LINES = 3


def _raw_reprs(nb):
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if out.get("output_type") not in ("execute_result", "display_data") or set(data) - {"text/plain"}:
                continue  # rich outputs (tables, images, Markdown) are fine
            text = "".join(data.get("text/plain", ""))
            if re.search(r"\b(Posix|Windows)?Path\(", text):
                yield i, "a Path as the cell's value", text
            elif RAW_REPR.match(text) and text.count("\n") + 1 > MAX_RAW_LINES:
                yield i, f"a raw dict/list repr of {text.count(chr(10)) + 1} lines", text


@pytest.mark.parametrize("path", _executed(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_cell_ends_with_a_raw_structure(path):
    _skip_if_stale(path)
    found = [f"cell {i}: {what}: {text[:80]!r}" for i, what, text in _raw_reprs(json.loads(path.read_text()))]
    assert not found, f"{path.relative_to(paths.OUTPUT_ROOT)} (tables as tables, readings as prose):\n" + "\n".join(
        found[:10]
    )


def test_raw_repr_check_catches_what_it_should():
    def nb(text, mime="text/plain"):
        return {"cells": [{"outputs": [{"output_type": "execute_result", "data": {mime: text}}]}]}

    assert list(_raw_reprs(nb("{'a': 1,\n 'b': 2,\n 'c': 3,\n 'd': 4}")))
    assert list(_raw_reprs(nb("[0.1,\n 0.2,\n 0.3,\n 0.4]")))
    assert list(_raw_reprs(nb("PosixPath('figures/default/x.png')")))
    assert not list(_raw_reprs(nb("{'a': 1}")))  # a one-line value is fine
    assert not list(_raw_reprs(nb("plain prose\nover\nmany\nlines")))
    df = {
        "cells": [
            {
                "outputs": [
                    {"output_type": "execute_result", "data": {"text/plain": "{\n\n\n\n", "text/html": "<table>"}}
                ]
            }
        ]
    }
    assert not list(_raw_reprs(df))


@pytest.mark.parametrize("path", _executed(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_executed_copy_names_the_project_kernel_and_collapses_parameters(path):
    nb = json.loads(path.read_text())
    spec = nb["metadata"].get("kernelspec", {})
    assert (spec.get("name"), spec.get("display_name")) == ("repro-papers", "Python 3.11 (repro-papers)"), (
        f"{path.relative_to(paths.OUTPUT_ROOT)} ran on kernel {spec.get('display_name')!r} (rerun with lib.core.runner)"
    )
    injected = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert injected, "papermill's injected-parameters cell is missing"
    for cell in injected:
        assert cell["metadata"].get("jupyter", {}).get("source_hidden"), (
            f"{path.relative_to(paths.OUTPUT_ROOT)}: the injected-parameters cell is not collapsed"
        )


# ---- no machine paths in anything committed as an output ----

#: absolute paths of a machine (POSIX home/work/temp folders, macOS users, Windows drives)
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(/(?:work|home|tmp|root|Users|var/folders|mnt|private)/|[A-Z]:\\\\?Users)")
OUTPUT_DIRS = ("results", "tables", "metrics", "report")
TEXT_SUFFIXES = {".ipynb", ".json", ".md", ".csv", ".txt", ".yaml", ".html", ".tsv"}


def _committed_outputs():
    files = []
    for name in OUTPUT_DIRS:
        root = paths.OUTPUT_ROOT / name
        if root.is_dir():
            files += [p for p in root.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return sorted(files)


def _absolute_paths(text: str) -> list[str]:
    # images are base64: a "/tmp/" inside one is chance, not a path
    text = re.sub(r'"image/(png|jpeg|gif)": "[^"]*"', '"image": ""', text)
    return sorted(
        {text[m.start() : m.start() + 60].split('"')[0].split("\\n")[0] for m in ABSOLUTE_PATH.finditer(text)}
    )


@pytest.mark.parametrize("path", _committed_outputs(), ids=lambda p: p.relative_to(paths.OUTPUT_ROOT).as_posix())
def test_outputs_carry_no_absolute_path(path):
    found = _absolute_paths(path.read_text(errors="replace"))
    root = str(paths.ROOT)
    if root in path.read_text(errors="replace"):
        found.append(root)
    assert not found, f"{path.relative_to(paths.OUTPUT_ROOT)} carries machine path(s): {found[:5]}"


def test_absolute_path_check_catches_what_it_should():
    assert _absolute_paths('"input_path": "/work/main/notebooks/01.ipynb"')
    assert _absolute_paths("data root: /home/alice/repo/data")
    assert _absolute_paths("PosixPath('/tmp/nb02_x/figures/a.png')")
    assert _absolute_paths("C:\\Users\\bob\\repo")
    assert not _absolute_paths('"input_path": "notebooks/01.ipynb"')
    assert not _absolute_paths("see https://example.org/home/page and 3/tmp/4")
    assert not _absolute_paths('"image/png": "iVBOR/work/AAAA"')


#: executed copies stay small enough to open on GitHub and in JupyterLab (PNG at the project's savefig.dpi); 5 MB
#: since notebook 03's real copy shows its image pairs at 200 px (the review of its copy links asked for that size;
#: photographs, 4.1 MB with 13 figures)
MAX_COPY_BYTES = 5_000_000
MAX_IMAGE_BYTES = 1_000_000


@pytest.mark.parametrize("path", _executed(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_executed_copy_stays_small(path):
    assert path.stat().st_size <= MAX_COPY_BYTES, f"{path.relative_to(paths.OUTPUT_ROOT)}: {path.stat().st_size} bytes"
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            png = "".join(out.get("data", {}).get("image/png", ""))
            assert len(png) * 3 // 4 <= MAX_IMAGE_BYTES, f"cell {i}: an inline PNG of {len(png) * 3 // 4} bytes"
