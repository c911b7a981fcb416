"""lib.core.outputs.Outputs in a real kernel: each saved figure shows inline exactly once, nothing returns a path,
and the runner's executed copy names the project kernel, hides the parameter cells and carries no machine path."""

import json

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lib.core import outputs, paths, runner, schema
from lib.core.provenance import data_source

CELLS = [
    "import matplotlib.pyplot as plt\nimport pandas as pd\nfrom lib.core.outputs import Outputs\n"
    "from lib.core.provenance import data_source\nout = Outputs.for_run('01_odal_ecg', run, data_source(run, 'tiny'))",
    "fig, ax = plt.subplots()\nax.plot([0, 1], [n, 2 * n])\nout.figure(fig, 'line')",
    "fig, ax = plt.subplots()\nax.bar([0, 1], [1, n])\nout.figure(fig, 'bars')",
    "out.table(pd.DataFrame({'a': [1, 2]}), 'tab')",
    "out.table(pd.DataFrame({'b': [3]}), 'shown', show=True)\nout.table(pd.DataFrame({'c': [4]}), 'disk', show=False)",
    "out.metrics({'n': n})",
    "out.markdown(f'**n** is {n}')",
    'from lib.core import paths\nprint(f\'data root: {paths.OUTPUT_ROOT / "data" / "raw"}\')',
]


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    cells = [new_markdown_cell("# tiny"), new_code_cell("run = 'default'\nn = 1", metadata={"tags": ["parameters"]})]
    nb = new_notebook(cells=cells + [new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, nbdir / "01_odal_ecg.ipynb")
    (tmp_path / "params.yaml").write_text("nb01:\n  n: 3\n")
    out_root = tmp_path / "out"
    monkeypatch.setenv("REPRO_OUTPUT_ROOT", str(out_root))  # the kernel writes its outputs here
    for name, value in {
        "NOTEBOOKS": nbdir,
        "ROOT": tmp_path,
        "OUTPUT_ROOT": out_root,
        "RESULTS": out_root / "results",
        "FIGURES": out_root / "figures",
        "PARAMS": tmp_path / "params.yaml",
    }.items():
        monkeypatch.setattr(paths, name, value)
    # the tiny notebook's own parameter schema (lib.core.schema validates every load)
    monkeypatch.setattr(schema, "SECTIONS", {"nb01": schema.DICT({"n": schema.INT()})})
    return tmp_path


@pytest.mark.slow
def test_executed_copy_shows_each_figure_once_and_is_tidy(tiny_project):
    stale = paths.FIGURES / "default" / "01_odal_ecg" / "stale.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    dst = runner.run_notebook("nb01", "default", log_output=False)
    nb = json.loads(dst.read_text())
    images = [o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    saved = sorted(p.name for p in (paths.FIGURES / "default" / "01_odal_ecg").iterdir())
    assert saved == ["bars.png", "line.png"], "the runner empties the figure folder: only this run's figures"
    assert len(images) == 2, "each out.figure shows its PNG exactly once"
    text = dst.read_text()
    assert "PosixPath" not in text and str(tiny_project) not in text, "no path repr, no machine path"
    assert "data root: data/raw" in text, "a printed repository path is shown relative to the repository"
    assert nb["metadata"]["papermill"]["input_path"] == "notebooks/01_odal_ecg.ipynb"
    assert nb["metadata"]["papermill"]["output_path"] == "out/results/default/01_odal_ecg.ipynb"
    assert nb["metadata"]["kernelspec"]["name"] == runner.DEFAULT_KERNEL
    assert nb["metadata"]["kernelspec"]["display_name"] == "Python 3.11 (repro-papers)"
    hidden = [c for c in nb["cells"] if {"parameters", "injected-parameters"} & set(c["metadata"].get("tags", []))]
    assert len(hidden) == 2
    assert all(c["metadata"]["jupyter"]["source_hidden"] for c in hidden)
    md = [o for c in nb["cells"] for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
    assert "".join(md[-1]["data"]["text/markdown"]) == "**n** is 3"
    html = [o for c in nb["cells"] for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert len(html) == 2, "the returned table and the show=True table render as tables; show=False is not shown"
    shown = ["".join(o["data"]["text/html"]) for o in html]
    assert ">3<" in shown[1] and not any(">4<" in h for h in shown)
    assert (paths.OUTPUT_ROOT / "tables" / "default" / "01_odal_ecg" / "disk.csv").exists(), "show=False still writes"


def test_missing_kernel_is_a_clear_error():
    with pytest.raises(RuntimeError, match="kernel 'no-such-kernel-x' is not registered"):
        runner.kernel_spec("no-such-kernel-x")


def test_outside_a_kernel_figure_is_saved_not_shown(tmp_path, monkeypatch, capsys):
    import matplotlib.pyplot as plt

    monkeypatch.setattr(paths, "FIGURES", tmp_path / "figures")
    out = outputs.Outputs.for_run("02_arxiv_bert", "default", data_source("default", "tiny"))
    fig, ax = plt.subplots()
    assert out.figure(fig, "f") is None
    monkeypatch.setattr(paths, "TABLES", tmp_path / "tables")
    df = pd.DataFrame({"a": [1]})
    assert out.table(df, "t") is df
    assert out.table(df, "t2", show=True) is None and out.table(df, "t3", show=False) is None
    assert not capsys.readouterr().out, "outside a kernel a shown table is written, not printed"
    assert (tmp_path / "tables" / "default" / "02_arxiv_bert" / "t3.csv").exists()
    assert (tmp_path / "figures" / "default" / "02_arxiv_bert" / "f.png").stat().st_size > 0
    assert not plt.get_fignums(), "the figure is closed"
    assert outputs.relative(paths.ROOT / "notebooks" / "x.ipynb") == "notebooks/x.ipynb"
    assert not outputs.relative("/somewhere/else/file.txt").startswith("/")


def _png(mode: str, pixels: list) -> bytes:
    import io

    from PIL import Image

    im = Image.new(mode, (2, 2))
    im.putdata(pixels)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_inline_png_opaque_rgba_becomes_rgb_with_the_same_pixels():
    import io

    from PIL import Image

    from lib.core.outputs import inline_png

    pixels = [(10, 20, 30, 255), (200, 0, 0, 255), (0, 255, 0, 255), (1, 2, 3, 255)]
    out = inline_png(_png("RGBA", pixels))
    with Image.open(io.BytesIO(out)) as im:
        assert im.mode == "RGB"
        assert list(im.getdata()) == [p[:3] for p in pixels]


def test_inline_png_keeps_transparent_and_rgb_images_byte_for_byte():
    from lib.core.outputs import inline_png

    translucent = _png("RGBA", [(10, 20, 30, 255), (200, 0, 0, 128), (0, 255, 0, 255), (1, 2, 3, 255)])
    rgb = _png("RGB", [(10, 20, 30), (200, 0, 0), (0, 255, 0), (1, 2, 3)])
    assert inline_png(translucent) == translucent
    assert inline_png(rgb) == rgb


def test_inline_png_reproduces_the_committed_nb03_real_executed_copy():
    """The real nb03 executed copy embeds each saved figure as inline_png encodes it (checked byte for byte)."""
    import base64
    import json

    from lib.core import paths
    from lib.core.outputs import inline_png

    nb_path = paths.ROOT / "results" / "real" / "03_eye_mobilenet_som.ipynb"
    fig_dir = paths.ROOT / "figures" / "real" / "03_eye_mobilenet_som"
    if not nb_path.exists() or not fig_dir.exists():
        pytest.skip("no committed real nb03 run")
    embedded = [
        base64.b64decode(o["data"]["image/png"])
        for c in json.loads(nb_path.read_text())["cells"]
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    encoded = {inline_png(f.read_bytes()) for f in fig_dir.glob("*.png")}
    assert embedded and all(e in encoded for e in embedded)
