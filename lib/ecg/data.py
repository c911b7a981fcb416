"""MIT-BIH Arrhythmia Database (WFDB ``.hea/.dat/.atr``): loader, import, fetch, synthetic generator.

The same loader reads the real PhysioNet ``mitdb`` copy and the embedded synthetic
records (written with ``wfdb.wrsamp`` / ``wfdb.wrann`` in the same format).

``load_record(stem)`` returns an :class:`EcgRecord`:

- ``signal``: (n_samples, n_leads) float64, physical units (mV); NaN where the
  ADC value was invalid (kept: handled by ``lib.ecg.preprocess``).
- ``beat_sample``: (n_beats,) int sample index of each beat annotation,
  ``beat_symbol``: (n_beats,) str (only symbols that map to an AAMI class).
- ``rhythm_sample`` / ``rhythm_label``: rhythm-change annotations (``+`` with
  ``aux_note`` such as ``'(N'``, ``'(AFIB'``; trailing NULs stripped).
- ``skipped``: counts of annotations that are not beats of an AAMI class
  (e.g. ``'+'``, ``'~'``, ``'|'``, ``'x'``, ``'!'``): documented, logged, skipped.

Bad input raises :class:`lib.core.checksums.DataError` naming the file the user gave and the
problem: a header that does not parse, a truncated ``.dat``, a missing ``.atr`` or one cut short
(no 0x0000 end-of-file annotation), a record at another sampling rate than 360 Hz (refused, not
resampled), a record without the MLII lead (leads are selected by name), an annotation symbol outside
the WFDB standard table, an unknown rhythm string; on import a SHA256SUMS entry that is not a
``NNN.hea|dat|atr`` file inside the folder, a record whose three files are not all listed, a checksum
mismatch; on load a folder without a valid verification marker. Nothing is ever half-written under ``data/``.

CLI (lib.core.datacli)::

    python -m lib.ecg.data generate [--out DIR]   # params.yaml data_ecg -> data/raw/synthetic_mitdb
    python -m lib.ecg.data import   [--src ../shared/data/mitdb] [--out DIR]
    python -m lib.ecg.data fetch    [--out DIR] [--allow-unverified]   # PhysioNet, opt-in
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lib.core import paths
from lib.core.checksums import (
    MARKER,
    DataError,
    check_entry,
    check_verified,
    read_sha256sums,
    require_listed,
    sha256_file,
    verify_sha256sums,
    write_sha256sums,
    write_verified_marker,
)
from lib.core.io import atomic_dir, atomic_write_text

log = logging.getLogger(__name__)

FS = 360
SYNTHETIC_NAME = "synthetic_mitdb"
REAL_NAME = "mitdb"

#: the 48 MIT-BIH records
MITDB_RECORDS = [
    "100",
    "101",
    "102",
    "103",
    "104",
    "105",
    "106",
    "107",
    "108",
    "109",
    "111",
    "112",
    "113",
    "114",
    "115",
    "116",
    "117",
    "118",
    "119",
    "121",
    "122",
    "123",
    "124",
    "200",
    "201",
    "202",
    "203",
    "205",
    "207",
    "208",
    "209",
    "210",
    "212",
    "213",
    "214",
    "215",
    "217",
    "219",
    "220",
    "221",
    "222",
    "223",
    "228",
    "230",
    "231",
    "232",
    "233",
    "234",
]
PACED_RECORDS = ["102", "104", "107", "217"]
DS1 = [
    "101",
    "106",
    "108",
    "109",
    "112",
    "114",
    "115",
    "116",
    "118",
    "119",
    "122",
    "124",
    "201",
    "203",
    "205",
    "207",
    "208",
    "209",
    "215",
    "220",
    "223",
    "230",
]
DS2 = [
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
]

#: records taken from one patient: 202.hea says record 202 comes from the same analog tape as 201 (the same
#: 68-year-old man). Every patient-level operation (splits, CV folds, bootstrap clusters) uses
#: :func:`patients`; the de Chazal lists put 201 in DS1 and 202 in DS2, so one DS2 test patient is also in DS1.
SAME_PATIENT = {"201": "201+202", "202": "201+202"}


def patients(record) -> np.ndarray:
    """The patient of each record name (records 201 and 202 -> '201+202'; every other record is its own)."""
    return np.array([SAME_PATIENT.get(r, r) for r in np.asarray(record).astype(str)], dtype=object).astype(str)


#: AAMI EC57 beat classes
AAMI_CLASSES = ["N", "S", "V", "F", "Q"]
AAMI_MAP = {
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

#: rhythm strings (aux_note of '+' annotations) -> rhythm class under the EPISODE reading (the alternative one of
#: notebook 01): (N and (SBR are sinus; (BII and (PREX "other"; (B / (T label the whole episode "ventricular", its
#: normal beats included. The primary reading (statement) starts from this map and changes it as lib.ecg.readings
#: documents ((PREX, (BII sinus; inside (B / (T an AAMI-N beat keeps the underlying rhythm, an AAMI-V beat is
#: ventricular).
RHYTHM_CLASSES = ["sinus", "af_flutter", "ventricular", "other"]
RHYTHM_MAP = {
    "(N": "sinus",
    "(AFIB": "af_flutter",
    "(AFL": "af_flutter",
    "(VT": "ventricular",
    "(VFL": "ventricular",
    "(IVR": "ventricular",
    "(B": "ventricular",
    "(T": "ventricular",
    "(AB": "other",
    "(BII": "other",
    "(NOD": "other",
    "(P": "other",
    "(PREX": "other",
    "(SBR": "sinus",
    "(SVTA": "other",
}

_BYTES_PER_SAMPLE = {"212": 1.5, "16": 2, "80": 1, "61": 2, "8": 1, "310": 4 / 3, "311": 4 / 3, "24": 3, "32": 4}


@dataclass
class EcgRecord:
    """One WFDB record with its reference annotations (shapes in the module docstring)."""

    name: str
    fs: float
    signal: np.ndarray
    leads: list[str]
    beat_sample: np.ndarray
    beat_symbol: np.ndarray
    rhythm_sample: np.ndarray
    rhythm_label: list[str]
    skipped: Counter = field(default_factory=Counter)
    comments: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[0])


def progress_kw(progress: bool) -> dict:
    """tqdm keyword arguments: ``{}`` keeps the bar (and lets ``TQDM_DISABLE=1``, set for executed notebooks,
    switch it off), ``{"disable": True}`` hides it (an explicit ``disable`` would override the environment)."""
    return {} if progress else {"disable": True}


# ------------------------------------------------------------------ reading
def _standard_symbols() -> set[str]:
    from wfdb.io.annotation import ann_label_table

    return {s for s in ann_label_table["symbol"] if s.strip()}


def _read_header(stem: Path):
    import wfdb

    hea = stem.with_suffix(".hea")
    if not hea.is_file():
        raise DataError(hea, "header file missing")
    try:
        header = wfdb.rdheader(str(stem))
    except Exception as exc:
        raise DataError(hea, f"header does not parse ({type(exc).__name__}: {exc})") from exc
    if not header.fs or not header.sig_len or not header.n_sig or not header.file_name:
        raise DataError(hea, "header does not parse: missing fs, signal length or signal specification lines")
    return header


def _check_dat_sizes(stem: Path, header) -> None:
    """A truncated (or missing) .dat is an error naming the file and the byte counts."""
    per_file: dict[str, list[str]] = {}
    for fname, fmt in zip(header.file_name, header.fmt):
        per_file.setdefault(fname, []).append(str(fmt))
    for fname, fmts in per_file.items():
        dat = stem.parent / fname
        if not dat.is_file():
            raise DataError(dat, "signal file missing")
        unknown = [f for f in fmts if f not in _BYTES_PER_SAMPLE]
        if unknown:
            raise DataError(dat, f"unsupported WFDB storage format(s) {unknown}")
        expected = int(np.ceil(header.sig_len * sum(_BYTES_PER_SAMPLE[f] for f in fmts)))
        got = dat.stat().st_size
        if got < expected:
            raise DataError(
                dat,
                f"truncated: header says {header.sig_len} samples x {len(fmts)} signals "
                f"= {expected} bytes, file has {got}",
            )


def _check_atr_end(atr: Path) -> None:
    """A MIT-format ``.atr`` ends with the 0x0000 end-of-file annotation; a file cut at an annotation boundary
    parses but lacks it (and would silently lose the beats after the cut)."""
    size = atr.stat().st_size
    with open(atr, "rb") as fh:
        fh.seek(max(0, size - 2))
        tail = fh.read()
    if size < 2 or size % 2 or tail != b"\x00\x00":
        raise DataError(
            atr, f"truncated: no end-of-file annotation (0x0000) at its end ({size} bytes, last bytes {tail.hex()})"
        )


def _lead_indices(hea: Path, sig_name: list[str], leads) -> list[int] | None:
    """Indices of the named ``leads`` in the header's signal names (None = every signal)."""
    if leads is None:
        return None
    missing = [lead for lead in leads if lead not in sig_name]
    if missing:
        raise DataError(hea, f"no {', '.join(missing)} lead (signals: {', '.join(sig_name)})")
    return [sig_name.index(lead) for lead in leads]


def load_record(stem: os.PathLike | str, *, leads=None, fs: float | None = None) -> EcgRecord:
    """Read ``<stem>.hea/.dat/.atr`` (stem = path without extension).

    leads: signal names to keep, in that order (e.g. ``("MLII",)``; selected by the header's ``sig_name``, so
    record 114, whose MLII is its second signal, gives MLII too); None keeps every signal. A named lead
    the record lacks is a DataError. fs: the sampling rate the caller expects (Hz); a record at another
    rate is refused (DataError naming the header) rather than mixed with records at ``fs``; None accepts any.
    Raises DataError on bad input.
    """
    import wfdb

    stem = Path(stem)
    hea = stem.with_suffix(".hea")
    header = _read_header(stem)
    if fs is not None and float(header.fs) != float(fs):
        raise DataError(hea, f"sampling rate {header.fs:g} Hz, expected {fs:g} Hz (records are not resampled)")
    channels = _lead_indices(hea, list(header.sig_name or []), leads)
    _check_dat_sizes(stem, header)
    atr = stem.with_suffix(".atr")
    if not atr.is_file():
        raise DataError(atr, "annotation file missing (reference beat annotations .atr are required)")
    _check_atr_end(atr)
    try:
        rec = wfdb.rdrecord(str(stem), channels=channels)
    except Exception as exc:
        raise DataError(stem.with_suffix(".dat"), f"signal does not decode ({type(exc).__name__}: {exc})") from exc
    try:
        ann = wfdb.rdann(str(stem), "atr")
    except Exception as exc:
        raise DataError(atr, f"annotations do not parse ({type(exc).__name__}: {exc})") from exc

    standard = _standard_symbols()
    symbols = np.asarray(ann.symbol, dtype=object)
    samples = np.asarray(ann.sample, dtype=np.int64)
    aux = [(a or "").rstrip("\x00").strip() for a in (ann.aux_note or [""] * len(symbols))]
    unknown = sorted({s for s in symbols if s not in standard})
    if unknown:
        raise DataError(atr, f"unknown annotation symbol(s) {unknown} (not in the WFDB standard table)")
    is_beat = np.array([s in AAMI_MAP for s in symbols], dtype=bool)
    skipped = Counter(str(s) for s in symbols[~is_beat])
    is_rhythm = np.array([s == "+" and aux[i].startswith("(") for i, s in enumerate(symbols)], dtype=bool)
    rhythm_label = [aux[i] for i in np.flatnonzero(is_rhythm)]
    bad_rhythm = sorted({r for r in rhythm_label if r not in RHYTHM_MAP})
    if bad_rhythm:
        raise DataError(atr, f"unknown rhythm annotation(s) {bad_rhythm}; known: {sorted(RHYTHM_MAP)}")
    signal = np.asarray(rec.p_signal, dtype=np.float64)
    if (samples >= signal.shape[0]).any():
        raise DataError(atr, f"annotation sample {int(samples.max())} beyond signal length {signal.shape[0]}")
    if skipped:
        log.debug("%s: skipped non-beat annotations %s", stem.name, dict(skipped))
    return EcgRecord(
        name=stem.name,
        fs=float(rec.fs),
        signal=signal,
        leads=list(rec.sig_name),
        beat_sample=samples[is_beat],
        beat_symbol=symbols[is_beat].astype(str),
        rhythm_sample=samples[is_rhythm],
        rhythm_label=rhythm_label,
        skipped=skipped,
        comments=list(rec.comments or []),
    )


def record_names(folder: os.PathLike | str) -> list[str]:
    """Record stems in ``folder`` (from its RECORDS file if present, else every ``*.hea``), sorted."""
    folder = Path(folder)
    listing = folder / "RECORDS"
    if listing.is_file():
        return [r.strip() for r in listing.read_text().splitlines() if r.strip()]
    return sorted(p.stem for p in folder.glob("*.hea"))


def load(
    folder: os.PathLike | str,
    records: list[str] | None = None,
    *,
    exclude: list[str] | None = None,
    leads=("MLII",),
    fs: float | None = FS,
    require_verified: bool = True,
    progress: bool = True,
) -> list[EcgRecord]:
    """Load several records of a folder. exclude: names left out (e.g. PACED_RECORDS).

    leads / fs: see :func:`load_record` (default: the MLII lead of 360 Hz records). ``require_verified``:
    the folder must carry the verification marker that :func:`import_local`, :func:`fetch` and
    :func:`generate` write atomically after checking every file against SHA256SUMS; its digest and file
    sizes are compared (cheap) so a changed, truncated or swapped file is caught (False for a hand-made folder).
    Raises DataError if the folder holds no records, fails the check, or a record is bad.
    """
    from tqdm import tqdm

    folder = Path(folder)
    names = list(records) if records is not None else record_names(folder)
    names = [n for n in names if n not in set(exclude or [])]
    if not names:
        raise DataError(folder, "no WFDB records (*.hea) found")
    if require_verified:
        check_verified(folder)
    return [load_record(folder / n, leads=leads, fs=fs) for n in tqdm(names, desc="load WFDB", **progress_kw(progress))]


# ------------------------------------------------------------------ import / fetch / prepare
#: the form of a SHA256SUMS entry of an MIT-BIH copy: a record's header, signal or annotation file
RECORD_FILE = r"\d{3}\.(hea|dat|atr)"
#: ... or the folder's record list / provenance note
ENTRY_PATTERN = RECORD_FILE + r"|RECORDS|SOURCE\.md"
RECORD_FILES = ("hea", "dat", "atr")
PHYSIONET_SUMS_URL = "https://physionet.org/files/mitdb/1.0.0/SHA256SUMS.txt"


def _needed_files(sums) -> list[str]:
    """Every file the records named in ``sums`` need: each record's .hea, .dat and .atr."""
    stems = sorted({rel.split(".")[0] for rel in sums if re.fullmatch(RECORD_FILE, rel)})
    return [f"{stem}.{ext}" for stem in stems for ext in RECORD_FILES]


def import_local(src: os.PathLike | str, out_dir: os.PathLike | str | None = None) -> Path:
    """Copy a local WFDB folder after verifying every file against ``src/SHA256SUMS``.

    Every entry is validated before anything is read (relative, normalised, no ``..``, not absolute, of
    the form ``NNN.hea|dat|atr``; no symlink leading outside ``src``); every record named there must have
    its .hea, .dat and .atr listed; every listed file is checked. A missing SHA256SUMS, a bad entry, a
    missing file or a mismatch is a DataError naming the file in ``src``; nothing is written to
    ``out_dir`` then. The copy gets the SHA256SUMS and, atomically with it, the verification marker
    that :func:`load` checks. Returns ``out_dir`` (default ``data/raw/mitdb``).
    """
    src = Path(src)
    out_dir = Path(out_dir or paths.raw_dir(REAL_NAME))
    sums_file = src / "SHA256SUMS"
    if not sums_file.is_file():
        raise DataError(sums_file, "checksum file missing; refusing to import unverified data")
    sums = read_sha256sums(sums_file, pattern=ENTRY_PATTERN)
    if not _needed_files(sums):
        raise DataError(sums_file, "lists no record files (NNN.hea, NNN.dat, NNN.atr)")
    require_listed(sums, _needed_files(sums), sums_file)
    verify_sha256sums(src, sums)
    with atomic_dir(out_dir) as tmp:
        for rel in sums:
            shutil.copyfile(src / rel, tmp / rel)
            if sha256_file(tmp / rel) != sums[rel]:
                raise DataError(src / rel, "changed while it was being copied; import again")
        shutil.copyfile(sums_file, tmp / "SHA256SUMS")
        if "SOURCE.md" not in sums and (src / "SOURCE.md").is_file():
            shutil.copyfile(src / "SOURCE.md", tmp / "SOURCE.md")  # documentation only (not checked)
        write_verified_marker(tmp)
    return out_dir


def _physionet_sums(url: str) -> dict[str, str]:
    """PhysioNet's checksum list (``<sha256> <path>`` lines), record files only, every entry validated."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as resp:
        text = resp.read().decode("utf-8", errors="replace")
    out = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(url.replace("://", ":"), f"line {lineno} is not '<sha256> <path>': {line!r}")
        entry = check_entry(parts[1], url.replace("://", ":"))
        if re.fullmatch(RECORD_FILE, entry):
            out[entry] = parts[0].lower()
    return out


def fetch(
    out_dir: os.PathLike | str | None = None, *, allow_unverified: bool = False, records: list[str] | None = None
) -> Path:
    """Download PhysioNet ``mitdb`` (opt-in; needs internet) via ``wfdb.dl_database``.

    PhysioNet's ``SHA256SUMS.txt`` is downloaded first and every downloaded file is verified against
    it. If it cannot be downloaded the fetch is refused (DataError naming the URL) unless
    ``allow_unverified``: then the data lands with ``UNVERIFIED`` written in its SOURCE.md and in the
    verification marker's ``origin``. Writes ``SHA256SUMS`` (+ marker) for :func:`load`.
    """
    import json

    import wfdb

    out_dir = Path(out_dir or paths.raw_dir(REAL_NAME))
    try:
        official = _physionet_sums(PHYSIONET_SUMS_URL)
    except OSError as exc:
        if not allow_unverified:
            raise DataError(
                out_dir,
                f"checksum list {PHYSIONET_SUMS_URL} could not be downloaded ({exc}); refusing unverified data "
                "(fetch --allow-unverified accepts it and records it as unverified)",
            ) from exc
        log.warning("fetching UNVERIFIED data: %s could not be downloaded (%s)", PHYSIONET_SUMS_URL, exc)
        official = None
    with atomic_dir(out_dir) as tmp:
        wfdb.dl_database("mitdb", dl_dir=str(tmp), records=records or "all", annotators=["atr"])
        got = {p.name for p in tmp.iterdir() if re.fullmatch(RECORD_FILE, p.name)}
        if official is not None:
            require_listed(official, _needed_files(dict.fromkeys(got)), PHYSIONET_SUMS_URL.replace("://", ":"))
            for rel in sorted(got):
                if sha256_file(tmp / rel) != official[rel]:
                    raise DataError(out_dir / rel, f"downloaded file does not match {PHYSIONET_SUMS_URL}")
        status = "verified against " + PHYSIONET_SUMS_URL if official is not None else "UNVERIFIED (no checksum list)"
        atomic_write_text(tmp / "SOURCE.md", f"# PhysioNet mitdb 1.0.0 (wfdb.dl_database)\n\nChecksums: {status}.\n")
        write_sha256sums(tmp)
        marker = write_verified_marker(tmp)
        info = json.loads(marker.read_text())
        atomic_write_text(marker, json.dumps({**info, "origin": status}, indent=1, sort_keys=True) + "\n")
    return out_dir


def prepare_real() -> Path:
    """Import ``../shared/data/mitdb`` into ``data/raw/mitdb`` unless a verified copy is there."""
    out = paths.raw_dir(REAL_NAME)
    if (out / MARKER).is_file():
        try:
            check_verified(out)
            return out
        except DataError as exc:
            log.warning("existing copy fails verification (%s); re-importing", exc)
    return import_local(paths.shared_data(REAL_NAME), out)


def prepare_paper() -> Path:
    """The paper's configuration (params_paper.yaml) reads the same MIT-BIH copy as the real one."""
    return prepare_real()


def describe_source(source: str) -> str:
    """One line naming the data behind ``source`` in {'synthetic', 'mitdb'} (for figures and metrics)."""
    names = {
        "synthetic": "embedded MIT-BIH-like WFDB records (lib.ecg.synth)",
        "mitdb": "MIT-BIH Arrhythmia Database (mitdb, 44 non-paced records)",
    }
    if source not in names:
        raise ValueError(f"source must be one of {tuple(names)}, got {source!r}")
    return names[source]


def dataset_dir(source: str) -> Path:
    """Folder of the ECG data for ``source`` in {'synthetic', 'mitdb'}.

    'synthetic' generates ``data/raw/synthetic_mitdb`` with the params.yaml
    ``data_ecg`` settings when it is absent (the DVC data stage normally has);
    'mitdb' calls :func:`prepare_real`.
    """
    if source == "synthetic":
        out = paths.raw_dir(SYNTHETIC_NAME)
        if not (out / MARKER).is_file():
            from lib.core.params import load_params

            generate(out, **load_params("data_ecg"))
        check_verified(out)
        return out
    if source == "mitdb":
        return prepare_real()
    raise ValueError(f"source must be one of ('synthetic', 'mitdb'), got {source!r}")


def generate(out_dir: os.PathLike | str, *, seed: int, n_patients: int, duration_s: float, **kwargs) -> Path:
    """Write ``n_patients`` (>= 12) synthetic 2-lead 360 Hz WFDB records to ``out_dir`` (atomic).

    Records are named after MIT-BIH record numbers (half from DS1, half from DS2)
    so the inter-patient split code runs unchanged; SOURCE.md says "synthetic".
    Extra kwargs go to :func:`lib.ecg.synth.synth_patient`.
    """
    from lib.ecg.synth import write_synthetic_records

    if n_patients < 12:
        raise ValueError(f"n_patients must be >= 12, got {n_patients}")
    half = n_patients // 2
    if half > len(DS1) or n_patients - half > len(DS2):
        raise ValueError(f"n_patients must be <= {2 * len(DS2)}")
    names = DS1[:half] + DS2[: n_patients - half]
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        write_synthetic_records(tmp, names, seed=seed, duration_s=duration_s, **kwargs)
        atomic_write_text(tmp / "RECORDS", "\n".join(sorted(names)) + "\n")
        atomic_write_text(
            tmp / "SOURCE.md",
            (
                "# Synthetic MIT-BIH-like records (SYNTHETIC DATA, not patients)\n\n"
                "Generated by `lib.ecg.data.generate("
                f"seed={seed}, n_patients={n_patients}, duration_s={duration_s})`.\n"
                "WFDB format (wfdb.wrsamp / wfdb.wrann): 2 leads (MLII, V1), 360 Hz, format 212, `.atr` beat "
                "annotations with AAMI symbols and '+' rhythm annotations ((N, (AFIB, (AFL, (VT, (B, (NOD).\n"
                "Record names reuse MIT-BIH numbers only so that the DS1/DS2 split code runs unchanged.\n"
            ),
        )
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


# ------------------------------------------------------------------ CLI
def main(argv=None) -> int:
    """``python -m lib.ecg.data generate|import|fetch [--src DIR] [--out DIR] [--allow-unverified]``."""
    from lib.core import datacli
    from lib.core.params import load_params

    return datacli.main(
        argv,
        description=__doc__,
        generate=lambda out: generate(out or paths.raw_dir(SYNTHETIC_NAME), **load_params("data_ecg")),
        import_local=import_local,
        fetch=fetch,
        default_src=paths.shared_data(REAL_NAME),
    )


if __name__ == "__main__":
    sys.exit(main())
