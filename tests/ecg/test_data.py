"""lib.ecg.data / lib.ecg.synth: synthetic round trip, real MIT-BIH properties, bad input."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import wfdb

from lib.core import paths
from lib.core.checksums import DataError
from lib.ecg import data as ecg_data
from lib.ecg import synth as ecg_synth
from tests.conftest import needs_shared

MITDB = paths.shared_data("mitdb")
realdata = needs_shared("mitdb", "100.hea")


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "synthetic_mitdb"
    return ecg_data.generate(out, seed=3, n_patients=12, duration_s=40.0)


def _one_record(tmp_path, synth_dir, name="100"):
    for ext in ("hea", "dat", "atr"):
        shutil.copy(synth_dir / f"{name}.{ext}", tmp_path / f"{name}.{ext}")
    return tmp_path / name


# ------------------------------------------------------------------ synthetic round trip
def test_generate_round_trip(synth_dir):
    names = ecg_data.record_names(synth_dir)
    assert len(names) == 12
    assert (synth_dir / "SHA256SUMS").is_file() and "synthetic" in (synth_dir / "SOURCE.md").read_text().lower()
    recs = ecg_data.load(synth_dir, leads=None, progress=False)
    rhythms, symbols = Counter(), Counter()
    for r in recs:
        assert r.fs == 360 and r.leads == ["MLII", "V1"] and r.signal.shape == (40 * 360, 2)
        assert r.beat_sample.size > 30 and np.all(np.diff(r.beat_sample) > 0)
        assert r.rhythm_sample.size >= 1 and r.rhythm_label[0] == "(N"
        rhythms.update(ecg_data.RHYTHM_MAP[x] for x in r.rhythm_label)
        symbols.update(r.beat_symbol.tolist())
    assert set(rhythms) == set(ecg_data.RHYTHM_CLASSES)  # >= 4 rhythm classes
    assert {"N", "L", "R", "A", "V"} <= set(symbols) and set(symbols) <= set(ecg_data.AAMI_MAP)


def test_generated_signal_matches_written_values(synth_dir):
    """wfdb reads back what the generator produced, to the 212-format quantisation (1/200 mV)."""
    names = sorted(ecg_data.DS1[:6] + ecg_data.DS2[:6])
    order = ecg_data.DS1[:6] + ecg_data.DS2[:6]
    name = names[0]
    p = ecg_synth.synth_patient(order.index(name), seed=3, duration_s=40.0)
    rec = ecg_data.load_record(synth_dir / name)
    assert np.max(np.abs(rec.signal[:, 0] - p["signal"][:, 0])) <= 0.5 / 200 + 1e-9
    beats = [s for s, sym in zip(p["samples"], p["symbols"]) if sym != "+"]
    np.testing.assert_array_equal(rec.beat_sample, beats)


def test_generate_deterministic_and_validates(tmp_path, synth_dir):
    again = ecg_data.generate(tmp_path / "again", seed=3, n_patients=12, duration_s=40.0)
    assert (again / "SHA256SUMS").read_text() == (synth_dir / "SHA256SUMS").read_text()
    other = ecg_data.generate(tmp_path / "other", seed=4, n_patients=12, duration_s=40.0)
    assert (other / "SHA256SUMS").read_text() != (synth_dir / "SHA256SUMS").read_text()
    with pytest.raises(ValueError, match="n_patients"):
        ecg_data.generate(tmp_path / "few", seed=0, n_patients=11, duration_s=10.0)
    assert not (tmp_path / "few").exists()


def test_aux_note_trailing_nul_stripped(tmp_path):
    sig = np.zeros((3600, 1))
    sig[::360, 0] = 1.0
    ecg_synth.write_record(
        tmp_path,
        "nul",
        sig,
        [0, 100, 460, 820, 1000],
        ["+", "N", "N", "+", "N"],
        ["(N\x00", "", "", "(AFIB\x00", ""],
        leads=["MLII"],
    )
    rec = ecg_data.load_record(tmp_path / "nul")
    assert rec.rhythm_label == ["(N", "(AFIB"]
    np.testing.assert_array_equal(rec.rhythm_sample, [0, 820])
    np.testing.assert_array_equal(rec.beat_sample, [100, 460, 1000])


def test_non_beat_annotations_skipped_with_count(tmp_path):
    sig = np.zeros((3600, 1))
    ecg_synth.write_record(
        tmp_path, "nb", sig, [0, 100, 200, 300, 400], ["+", "N", "~", "x", "V"], ["(N", "", "", "", ""], leads=["MLII"]
    )
    rec = ecg_data.load_record(tmp_path / "nb")
    assert rec.beat_symbol.tolist() == ["N", "V"]
    assert rec.skipped == Counter({"+": 1, "~": 1, "x": 1})


# ------------------------------------------------------------------ bad input
def test_truncated_dat(tmp_path, synth_dir):
    stem = _one_record(tmp_path, synth_dir)
    dat = stem.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:1000])
    with pytest.raises(DataError, match="truncated") as err:
        ecg_data.load_record(stem)
    assert err.value.path == dat


def test_header_does_not_parse(tmp_path, synth_dir):
    stem = _one_record(tmp_path, synth_dir)
    stem.with_suffix(".hea").write_text("this is not a WFDB header\n")
    with pytest.raises(DataError, match="header does not parse") as err:
        ecg_data.load_record(stem)
    assert err.value.path == stem.with_suffix(".hea")


def test_missing_atr(tmp_path, synth_dir):
    stem = _one_record(tmp_path, synth_dir)
    stem.with_suffix(".atr").unlink()
    with pytest.raises(DataError, match="annotation file missing") as err:
        ecg_data.load_record(stem)
    assert err.value.path == stem.with_suffix(".atr")


def test_checksum_mismatch_writes_nothing(tmp_path, synth_dir):
    src = tmp_path / "src"
    shutil.copytree(synth_dir, src)
    dat = src / "100.dat"
    data = bytearray(dat.read_bytes())
    data[10] ^= 0xFF
    dat.write_bytes(bytes(data))
    out = tmp_path / "data" / "raw" / "mitdb"
    with pytest.raises(DataError, match="checksum mismatch") as err:
        ecg_data.import_local(src, out)
    assert err.value.path == dat
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_generate_failure_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def fail_on_second(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    real = ecg_synth.write_record
    monkeypatch.setattr(ecg_synth, "write_record", fail_on_second)
    out = tmp_path / "raw" / "synthetic_mitdb"
    with pytest.raises(OSError, match="disk full"):
        ecg_data.generate(out, seed=0, n_patients=12, duration_s=10.0)
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_import_local_copies_verified(tmp_path, synth_dir):
    out = ecg_data.import_local(synth_dir, tmp_path / "copy")
    assert ecg_data.record_names(out) == ecg_data.record_names(synth_dir)
    assert (out / "100.dat").read_bytes() == (synth_dir / "100.dat").read_bytes()


def test_unknown_annotation_symbol(tmp_path):
    import wfdb

    ecg_synth.write_record(tmp_path, "unk", np.zeros((3600, 1)), [0, 100], ["+", "N"], ["(N", ""], leads=["MLII"])
    custom = pd.DataFrame({"label_store": [42], "symbol": ["Z"], "description": ["custom"]})
    wfdb.wrann(
        "unk",
        "atr",
        np.array([0, 100, 200]),
        symbol=["+", "N", "Z"],
        aux_note=["(N", "", ""],
        custom_labels=custom,
        write_dir=str(tmp_path),
    )
    with pytest.raises(DataError, match=r"unknown annotation symbol.*'Z'") as err:
        ecg_data.load_record(tmp_path / "unk")
    assert err.value.path == tmp_path / "unk.atr"


def test_unknown_rhythm_string(tmp_path):
    ecg_synth.write_record(tmp_path, "rh", np.zeros((3600, 1)), [0, 100], ["+", "N"], ["(XYZ", ""], leads=["MLII"])
    with pytest.raises(DataError, match=r"unknown rhythm annotation.*\(XYZ"):
        ecg_data.load_record(tmp_path / "rh")


def test_nan_samples_kept_as_nan(tmp_path):
    sig = np.sin(np.arange(3600) / 20.0)[:, None]
    sig[1000:1100] = np.nan
    ecg_synth.write_record(tmp_path, "nan", sig, [0, 500], ["+", "N"], ["(N", ""], leads=["MLII"])
    rec = ecg_data.load_record(tmp_path / "nan")
    assert np.isnan(rec.signal[1000:1100, 0]).all() and np.isfinite(rec.signal[:1000, 0]).all()


def test_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no WFDB records"):
        ecg_data.load(tmp_path, progress=False)
    assert not list(tmp_path.iterdir())


def test_aami_mapping_complete():
    assert ecg_data.AAMI_MAP == {
        "N": "N",
        "L": "N",
        "R": "N",
        "e": "N",
        "j": "N",
        "A": "S",
        "a": "S",
        "J": "S",
        "S": "S",
        "V": "V",
        "E": "V",
        "F": "F",
        "/": "Q",
        "f": "Q",
        "Q": "Q",
    }
    assert set(ecg_data.DS1).isdisjoint(ecg_data.DS2) and len(ecg_data.DS1) == len(ecg_data.DS2) == 22
    assert set(ecg_data.DS1 + ecg_data.DS2 + ecg_data.PACED_RECORDS) == set(ecg_data.MITDB_RECORDS)


# ------------------------------------------------------------------ real data
@realdata
def test_real_headers():
    names = ecg_data.record_names(MITDB)
    assert sorted(names) == sorted(ecg_data.MITDB_RECORDS) and len(names) == 48
    for n in names:
        h = wfdb.rdheader(str(MITDB / n))
        assert (h.fs, h.sig_len, h.n_sig) == (360, 650000, 2)


@realdata
def test_real_record_100():
    rec = ecg_data.load_record(MITDB / "100")
    counts = Counter(rec.beat_symbol.tolist())
    assert counts == Counter({"N": 2239, "A": 33, "V": 1})
    assert rec.signal.shape == (650000, 1 + 1) and rec.leads == ["MLII", "V5"]
    assert rec.rhythm_label == ["(N"]  # trailing NUL stripped


@realdata
def test_real_totals():
    counts = Counter()
    rhythm = Counter()
    for n in ecg_data.MITDB_RECORDS:
        ann = wfdb.rdann(str(MITDB / n), "atr")
        counts.update(ann.symbol)
        rhythm.update(a.rstrip("\x00") for a in ann.aux_note if a.startswith("("))
    assert counts["N"] == 75052 and counts["V"] == 7130
    assert set(rhythm) <= set(ecg_data.RHYTHM_MAP)
    aami = Counter(ecg_data.AAMI_MAP[s] for s, c in counts.items() for _ in range(c) if s in ecg_data.AAMI_MAP)
    assert aami["V"] == counts["V"] + counts["E"]


#: de Chazal et al. (2004), Table I: AAMI beat counts of the inter-patient sets
DE_CHAZAL = {
    "DS1": {"N": 45866, "S": 944, "V": 3788, "F": 414, "Q": 8},
    "DS2": {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7},
}


@realdata
def test_real_aami_counts_match_de_chazal_up_to_the_first_beat_of_record_208():
    """The loader's AAMI counts per set equal de Chazal's table except one F beat in DS1: record 208's first
    beat (an F at sample 46, 0.13 s into the record, with no preceding RR interval), which de Chazal leave out;
    our beat windows (96 samples before R) drop it too, as a window running past the record start."""
    for name, records in (("DS1", ecg_data.DS1), ("DS2", ecg_data.DS2)):
        counts = Counter()
        for r in records:
            counts.update(ecg_data.AAMI_MAP[s] for s in ecg_data.load_record(MITDB / r, leads=("MLII",)).beat_symbol)
        expected = dict(DE_CHAZAL[name])
        if name == "DS1":
            expected["F"] += 1
        assert {k: counts[k] for k in ecg_data.AAMI_CLASSES} == expected
    rec = ecg_data.load_record(MITDB / "208", leads=("MLII",))
    assert (rec.beat_symbol[0], int(rec.beat_sample[0])) == ("F", 46)


@realdata
def test_real_record_114_reads_mlii_from_its_second_signal():
    rec = ecg_data.load_record(MITDB / "114", leads=("MLII",))
    both = ecg_data.load_record(MITDB / "114")
    assert both.leads == ["V5", "MLII"] and rec.leads == ["MLII"]
    np.testing.assert_array_equal(rec.signal[:, 0], both.signal[:, 1])
