"""Bad input for the MIT-BIH (WFDB) data layer, table-driven.

Each case breaks a small synthetic copy of the dataset in one way and calls the entry point a user would
(import, load, fetch). Every case asserts the exception type, that the message names the file the user
gave (never a temporary copy) and the problem, and that neither the source nor the destination folder
changed. Cases with a documented handling instead of an error are tested at the end.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from lib.core.checksums import MARKER, DataError
from lib.ecg import data as ecg_data
from lib.ecg import synth as ecg_synth


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    out = tmp_path_factory.mktemp("pristine") / "synthetic_mitdb"
    return ecg_data.generate(out, seed=5, n_patients=12, duration_s=12.0)


def _tree(folder: Path) -> dict:
    """{relative path: sha256} of every file below ``folder`` (hidden files included); {} if absent."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def _set_sums(src: Path, lines: list[str]) -> None:
    (src / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- case builders: (src, out, outside) -> (callable, the file the message must name)
def traversal(src, out, outside):
    _set_sums(src, [f"{_digest(outside / 'secret.txt')}  ../outside/secret.txt"])
    return lambda: ecg_data.import_local(src, out), src / "SHA256SUMS"


def absolute(src, out, outside):
    _set_sums(src, [f"{_digest(outside / 'secret.txt')}  {outside / 'secret.txt'}"])
    return lambda: ecg_data.import_local(src, out), src / "SHA256SUMS"


def unexpected_name(src, out, outside):
    (src / "notes.txt").write_text("x")
    _set_sums(src, [f"{_digest(src / 'notes.txt')}  notes.txt"])
    return lambda: ecg_data.import_local(src, out), src / "SHA256SUMS"


def symlink_escape(src, out, outside):
    (src / "100.dat").unlink()
    (src / "100.dat").symlink_to(outside / "secret.txt")
    sums = (src / "SHA256SUMS").read_text().splitlines()
    _set_sums(
        src, [ln if not ln.endswith(" 100.dat") else f"{_digest(outside / 'secret.txt')}  100.dat" for ln in sums]
    )
    return lambda: ecg_data.import_local(src, out), src / "100.dat"


def only_dat_listed(src, out, outside):
    _set_sums(src, [f"{_digest(src / '100.dat')}  100.dat"])
    return lambda: ecg_data.import_local(src, out), src / "SHA256SUMS"


def no_sums(src, out, outside):
    (src / "SHA256SUMS").unlink()
    return lambda: ecg_data.import_local(src, out), src / "SHA256SUMS"


def checksum_mismatch(src, out, outside):
    raw = bytearray((src / "100.dat").read_bytes())
    raw[10] ^= 0xFF
    (src / "100.dat").write_bytes(bytes(raw))
    return lambda: ecg_data.import_local(src, out), src / "100.dat"


def _imported(src, out):
    """Import the pristine source (the step that succeeds) and return the imported folder."""
    return ecg_data.import_local(src, out)


def atr_cut_at_boundary(src, out, outside):
    atr = src / "100.atr"
    atr.write_bytes(atr.read_bytes()[:-2])  # drop exactly the 0x0000 end-of-file annotation
    return lambda: ecg_data.load_record(src / "100"), atr


def atr_cut_in_half(src, out, outside):
    atr = src / "100.atr"
    raw = atr.read_bytes()
    atr.write_bytes(raw[: (len(raw) // 4) * 2])
    return lambda: ecg_data.load_record(src / "100"), atr


def other_sampling_rate(src, out, outside):
    hea = src / "100.hea"
    lines = hea.read_text().splitlines()
    head = lines[0].split()
    head[2] = "250"
    hea.write_text("\n".join([" ".join(head)] + lines[1:]) + "\n")
    return lambda: ecg_data.load_record(src / "100", leads=("MLII",), fs=ecg_data.FS), hea


def no_mlii_lead(src, out, outside):
    p = ecg_synth.synth_patient(0, seed=1, duration_s=12.0)
    ecg_synth.write_record(src, "100", p["signal"], p["samples"], p["symbols"], p["aux"], leads=["V1", "V5"])
    return lambda: ecg_data.load_record(src / "100", leads=("MLII",)), src / "100.hea"


def load_unverified_folder(src, out, outside):
    (src / MARKER).unlink()
    return lambda: ecg_data.load(src, progress=False), src


def load_changed_after_import(src, out, outside):
    dat = src / "101.dat"
    dat.write_bytes(dat.read_bytes()[:-3])
    return lambda: ecg_data.load(src, progress=False), dat


def fetch_without_checksum_list(src, out, outside):
    def no_network(*args, **kwargs):
        raise OSError("network unreachable (simulated)")

    return ("patch", no_network), ecg_data.PHYSIONET_SUMS_URL


CASES = {
    # name: (builder, exception, problem regex)
    "sums_entry_path_traversal": (traversal, DataError, r"'\.\./outside/secret\.txt' is not a normalised path"),
    "sums_entry_absolute": (absolute, DataError, r"is not a relative POSIX path inside the folder"),
    "sums_entry_not_a_record_file": (unexpected_name, DataError, r"'notes\.txt' is not a file this dataset has"),
    "symlink_escaping_the_folder": (symlink_escape, DataError, r"outside .* \(a symlink escaping the folder\)"),
    "sums_lists_only_the_dat": (only_dat_listed, DataError, r"does not list 100\.atr, 100\.hea"),
    "sums_missing": (no_sums, DataError, r"checksum file missing; refusing to import unverified data"),
    "checksum_mismatch": (checksum_mismatch, DataError, r"checksum mismatch: expected sha256"),
    "atr_cut_at_annotation_boundary": (atr_cut_at_boundary, DataError, r"truncated: no end-of-file annotation"),
    "atr_cut_in_half": (atr_cut_in_half, DataError, r"truncated: no end-of-file annotation"),
    "other_sampling_rate": (other_sampling_rate, DataError, r"sampling rate 250 Hz, expected 360 Hz"),
    "no_mlii_lead": (no_mlii_lead, DataError, r"no MLII lead \(signals: V1, V5\)"),
    "load_without_verification_marker": (load_unverified_folder, DataError, r"not a verified import"),
    "load_file_changed_after_import": (load_changed_after_import, DataError, r"changed since the folder was verified"),
    "fetch_without_checksum_list": (
        fetch_without_checksum_list,
        DataError,
        r"checksum list https://\S+ could not be downloaded.*refusing unverified",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(case, pristine, tmp_path, monkeypatch):
    builder, exc_type, problem = CASES[case]
    src, out, outside = tmp_path / "src", tmp_path / "data" / "raw" / "mitdb", tmp_path / "outside"
    shutil.copytree(pristine, src)
    outside.mkdir()
    (outside / "secret.txt").write_text("not ECG data\n")
    if case.startswith("load_"):  # a folder that was imported (verified) before it was damaged
        shutil.rmtree(src)
        ecg_data.import_local(pristine, src)
    action, named = builder(src, out, outside)
    if isinstance(action, tuple):  # fetch: no network for the checksum list, no download
        monkeypatch.setattr(urllib.request, "urlopen", action[1])
        monkeypatch.setattr("wfdb.dl_database", lambda *a, **k: pytest.fail("downloaded before verification"))
        action = lambda: ecg_data.fetch(out)  # noqa: E731
    before = {"src": _tree(src), "out": _tree(out), "outside": _tree(outside)}
    with pytest.raises(exc_type, match=problem) as err:
        action()
    assert str(named) in str(err.value), f"message must name {named}: {err.value}"
    assert ".tmp-" not in str(err.value)
    assert {"src": _tree(src), "out": _tree(out), "outside": _tree(outside)} == before
    assert not out.exists() or case.startswith("load_")
    assert not any(p.name.startswith(".") for p in out.parent.glob("*")) if out.parent.exists() else True


# ------------------------------------------------------------------ documented handling (not errors)
def test_lead_selected_by_name_mlii_second_signal(tmp_path):
    """Record 114 stores MLII as its second signal: leads are chosen by name, so MLII is read."""
    p = ecg_synth.synth_patient(0, seed=1, duration_s=12.0)
    swapped = p["signal"][:, ::-1]  # signal 0 = V1 projection, signal 1 = MLII
    ecg_synth.write_record(tmp_path, "114", swapped, p["samples"], p["symbols"], p["aux"], leads=["V5", "MLII"])
    rec = ecg_data.load_record(tmp_path / "114", leads=("MLII",))
    assert rec.leads == ["MLII"] and rec.signal.shape[1] == 1
    np.testing.assert_allclose(rec.signal[:, 0], p["signal"][:, 0], atol=0.5 / 200 + 1e-9)


def test_fetch_allow_unverified_records_it(tmp_path, pristine, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network unreachable (simulated)")

    def fake_download(db, dl_dir, records, annotators):
        for rel in ("100.hea", "100.dat", "100.atr"):
            shutil.copyfile(pristine / rel, Path(dl_dir) / rel)

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr("wfdb.dl_database", fake_download)
    out = ecg_data.fetch(tmp_path / "mitdb", allow_unverified=True)
    assert "UNVERIFIED" in (out / "SOURCE.md").read_text()
    assert "UNVERIFIED" in (out / MARKER).read_text()
    assert [r.name for r in ecg_data.load(out, progress=False)] == ["100"]


def test_successful_import_is_loadable_and_leaves_no_temporary_folder(tmp_path, pristine):
    out = ecg_data.import_local(pristine, tmp_path / "raw" / "mitdb")
    assert (out / MARKER).is_file() and [p.name for p in out.parent.iterdir()] == ["mitdb"]
    assert len(ecg_data.load(out, progress=False)) == 12
