"""Bad input to the arXiv data layer and the encoder, table-driven.

Every case builds a hostile or clumsy input next to a good imported copy, runs one action, and
asserts: the exception type, that the message names the SOURCE file the user gave (never a temporary
copy) and the problem, and that neither the source nor the existing dataset folder changed (nothing
read from outside, nothing half-written).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from lib.arxiv import data as arxiv_data
from lib.arxiv import encoder as text_encoder
from lib.core.checksums import DataError, write_sha256sums
from tests.arxiv.helpers import write_tiny_bert

JSONL = arxiv_data.JSONL_NAME


def _rec(i, **kw):
    return {"id": f"0704.{i:04d}", "title": f"Title {i}", "abstract": f"Abstract {i}.", "categories": "hep-th", **kw}


def _lines(records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _tree(folder: Path) -> dict:
    """Relative path -> sha256 of every file under ``folder`` (hidden files included); {} when absent."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


@pytest.fixture
def world(tmp_path):
    """src: a good source folder; out: a good imported copy of it; secret: a file outside both."""
    src = tmp_path / "src"
    src.mkdir()
    (src / JSONL).write_bytes(_lines([_rec(1), _rec(2), _rec(3)]))
    write_sha256sums(src)
    out = arxiv_data.import_local(src, tmp_path / "out")
    secret = tmp_path / "secret.json"
    secret.write_bytes(_lines([_rec(9)]))
    return {"tmp": tmp_path, "src": src, "out": out, "secret": secret}


def _sums(folder: Path, entries: dict[str, Path]) -> None:
    """Write folder/SHA256SUMS listing ``entries`` (name -> file whose sha256 is listed)."""
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {name}" for name, p in entries.items()]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def _data_file(w, content: bytes) -> Path:
    """Replace the source's data file and its checksum (a well-formed, verified but bad file)."""
    (w["src"] / JSONL).write_bytes(content)
    write_sha256sums(w["src"])
    return w["src"] / JSONL


# ---------------------------------------------------------------- cases: (setup -> (action, file, problem))
def traversal(w):
    _sums(w["src"], {JSONL: w["src"] / JSONL, "../secret.json": w["secret"]})
    return lambda: arxiv_data.import_local(w["src"], w["out"]), w["src"] / "SHA256SUMS", "not a normalised path"


def absolute(w):
    _sums(w["src"], {JSONL: w["src"] / JSONL, str(w["secret"]): w["secret"]})
    return lambda: arxiv_data.import_local(w["src"], w["out"]), w["src"] / "SHA256SUMS", "not a relative POSIX path"


def subfolder_entry(w):
    (w["src"] / "sub").mkdir()
    shutil.copy(w["secret"], w["src"] / "sub" / "x.json")
    _sums(w["src"], {JSONL: w["src"] / JSONL, "sub/x.json": w["src"] / "sub" / "x.json"})
    return (
        lambda: arxiv_data.import_local(w["src"], w["out"]),
        w["src"] / "SHA256SUMS",
        "is not a file this dataset has",
    )


def symlink_escape(w):
    (w["src"] / JSONL).unlink()
    (w["src"] / JSONL).symlink_to(w["secret"])
    _sums(w["src"], {JSONL: w["secret"]})
    return lambda: arxiv_data.import_local(w["src"], w["out"]), w["src"] / JSONL, "outside"


def data_file_not_listed(w):
    shutil.copy(w["secret"], w["src"] / arxiv_data.CSV_NAME)
    return (
        lambda: arxiv_data.import_local(w["src"], w["out"]),
        w["src"] / "SHA256SUMS",
        f"does not list {arxiv_data.CSV_NAME}",
    )


def no_checksum_list(w):
    (w["src"] / "SHA256SUMS").unlink()
    return lambda: arxiv_data.import_local(w["src"], w["out"]), w["src"] / "SHA256SUMS", "cannot verify"


def checksum_mismatch(w):
    (w["src"] / JSONL).write_bytes(_lines([_rec(1), _rec(2), _rec(4)]))
    return lambda: arxiv_data.import_local(w["src"], w["out"]), w["src"] / JSONL, "checksum mismatch"


def non_utf8_jsonl(w):
    path = _data_file(w, _lines([_rec(1)]) + b'{"id": "0704.0002", "title": "caf\xe9", "abstract": "x"}\n')
    return lambda: arxiv_data.load(w["src"]), path, "line 2: not UTF-8 text (byte 0xe9)"


def non_utf8_csv(w):
    path = w["tmp"] / arxiv_data.CSV_NAME
    path.write_bytes(b"id,title,abstract,categories\n704.0001,T,A,hep-th\n704.0002,caf\xe9,B,hep-th\n")
    return lambda: arxiv_data.load(path), path, "line 3: not UTF-8 text"


def huge_abstract(w):
    path = _data_file(w, _lines([_rec(1), _rec(2, abstract="x" * 5_000_000)]))
    return lambda: arxiv_data.load(w["src"]), path, "line 2 (id 0704.0002): 'abstract' has 5000000 characters, over"


def abstract_is_object(w):
    path = _data_file(w, _lines([_rec(1, abstract={"text": "an object"})]))
    return lambda: arxiv_data.load(w["src"]), path, "'abstract' must be a string, got a JSON dict"


def title_is_number(w):
    path = _data_file(w, _lines([_rec(1, title=42)]))
    return lambda: arxiv_data.load(w["src"]), path, "'title' must be a string, got a JSON int"


def invalid_json(w):
    path = _data_file(w, _lines([_rec(1)]) + b"{not json\n")
    return lambda: arxiv_data.load(w["src"]), path, "line 2: not valid JSON"


def not_an_object(w):
    path = _data_file(w, b"[1, 2]\n")
    return lambda: arxiv_data.load(w["src"]), path, "line 1: expected a JSON object"


def duplicate_id(w):
    path = _data_file(w, _lines([_rec(1), _rec(1)]))
    return lambda: arxiv_data.load(w["src"]), path, "duplicate id 0704.0001"


def empty_file(w):
    path = _data_file(w, b"\n")
    return lambda: arxiv_data.load(w["src"]), path, "no records"


def imported_copy_changed(w):
    """load of an imported copy checks its verification marker: an appended record is caught."""
    out = w["tmp"] / "out2"
    arxiv_data.import_local(w["src"], out)
    with open(out / JSONL, "ab") as fh:
        fh.write(_lines([_rec(5)]))
    return lambda: arxiv_data.load(out), out / JSONL, "changed since the folder was verified"


def imported_copy_changed_same_size(w):
    """a verified copy edited in place to the same size (bytes that are not UTF-8) is reported as changed since
    verification, before it is parsed (never as a UTF-8 error; issue 21)."""
    path = w["out"] / JSONL
    data = bytearray(path.read_bytes())
    data[12] = 0xFF
    path.write_bytes(bytes(data))
    return lambda: arxiv_data.load(w["out"]), path, "changed since the folder was verified"


def fetch_unverifiable(w):
    target = w["tmp"] / "fetched"
    return lambda: arxiv_data.fetch(target), target, "refusing (pass --allow-unverified"


def weights_truncated(w):
    folder = write_tiny_bert(w["tmp"] / "enc", seed=0)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    return (
        lambda: text_encoder.load_encoder(str(folder)),
        folder / "model.safetensors",
        "not a complete safetensors file",
    )


def weights_not_safetensors(w):
    folder = write_tiny_bert(w["tmp"] / "enc", seed=0)
    (folder / "model.safetensors").write_bytes(b"\x80\x04\x95" + b"\0" * 128)  # a pickle header
    return (
        lambda: text_encoder.load_encoder(str(folder)),
        folder / "model.safetensors",
        "not a complete safetensors file",
    )


def pinned_tokenizer_changed(w):
    folder = shutil.copytree(text_encoder.packaged_model_dir(), w["tmp"] / "enc")
    tok = json.loads((folder / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    vocab["the"], vocab["of"] = vocab["of"], vocab["the"]
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    return (
        lambda: text_encoder.verify_model_dir(folder, text_encoder.PACKAGED_SHA256),
        folder / "tokenizer.json",
        "checksum mismatch",
    )


CASES = [
    traversal,
    absolute,
    subfolder_entry,
    symlink_escape,
    data_file_not_listed,
    no_checksum_list,
    checksum_mismatch,
    non_utf8_jsonl,
    non_utf8_csv,
    huge_abstract,
    abstract_is_object,
    title_is_number,
    invalid_json,
    not_an_object,
    duplicate_id,
    empty_file,
    imported_copy_changed,
    imported_copy_changed_same_size,
    fetch_unverifiable,
    weights_truncated,
    weights_not_safetensors,
    pinned_tokenizer_changed,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_is_one_clear_data_error_and_changes_nothing(world, case):
    action, source_file, problem = case(world)
    before = {name: _tree(world["tmp"] / name) for name in ("src", "out", "out2", "enc", "fetched")}
    secret = world["secret"].read_bytes()
    with pytest.raises(DataError) as err:
        action()
    message = str(err.value)
    assert message.startswith(f"{source_file}: "), message
    assert problem in message, message
    assert ".tmp-" not in message
    after = {name: _tree(world["tmp"] / name) for name in before}
    assert after == before
    assert world["secret"].read_bytes() == secret
    leftovers = [p.name for p in world["tmp"].iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert leftovers == []


def test_traversal_entry_is_refused_before_anything_is_read(world, monkeypatch):
    """The checksum list is validated before a single listed file is opened."""
    traversal(world)
    opened = []
    real_open = open

    def spy(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    with pytest.raises(DataError):
        arxiv_data.import_local(world["src"], world["out"])
    assert str(world["secret"]) not in opened and str(world["src"] / JSONL) not in opened


def test_fetch_unverified_is_recorded(world, monkeypatch):
    """With --allow-unverified, the download lands and fetch.json / SOURCE.md say it is unverified."""

    def fake_run(cmd, check):
        (Path(cmd[cmd.index("-p") + 1]) / JSONL).write_bytes(_lines([_rec(1)]))

    monkeypatch.setattr(arxiv_data.shutil, "which", lambda name: "/usr/bin/kaggle")
    monkeypatch.setattr(arxiv_data.subprocess, "run", fake_run)
    out = arxiv_data.fetch(world["tmp"] / "fetched", allow_unverified=True)
    assert json.loads((out / "fetch.json").read_text())["verified"] is False
    assert "UNVERIFIED" in (out / "SOURCE.md").read_text()
    assert len(arxiv_data.load(out)) == 1
