"""Executed notebooks read like a paper: no progress bars, framework log lines, warnings or raw markup."""

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
                yield i, "".join(out["text"])
            elif out.get("output_type") == "error":
                yield i, "\n".join(out.get("traceback", []))
            elif "data" in out:
                for mime in ("text/plain", "text/html", "text/markdown"):
                    if mime in out["data"]:
                        yield i, "".join(out["data"][mime])


@pytest.mark.parametrize("path", _executed(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_executed_copy_has_no_noise(path):
    nb = json.loads(path.read_text())
    found = []
    for cell, text in _outputs(nb):
        for what, pattern in NOISE.items():
            m = pattern.search(text)
            if m:
                found.append(f"cell {cell}: {what}: {m.group(0)[:60]!r}")
    assert not found, f"{path.relative_to(paths.OUTPUT_ROOT)}:\n" + "\n".join(found[:20])


def test_noise_patterns_catch_what_they_should():
    assert NOISE["progress bar"].search("AL entropy: 100%|██████████| 120/120 [00:02<00:00, 52.67label/s]")
    assert NOISE["TensorFlow/absl log line"].search("I0000 00:00:1732 12345 cpu_feature_guard.cc:210] x")
    assert NOISE["TensorFlow/absl log line"].search("WARNING:tensorflow:5 out of the last 16 calls to <function")
    assert NOISE["Python warning"].search("UserWarning: X does not have valid feature names")
    assert NOISE["raw Markdown bold in a table"].search("| sce | **30.65 ± 6.01** |")
    assert not NOISE["progress bar"].search("accuracy 95% of full supervision | 3000 labels")
