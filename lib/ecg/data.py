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

Bad input (SPEC §9) raises :class:`lib.core.io.DataError` naming the file and the
problem: a header that does not parse, a truncated ``.dat``, a missing ``.atr``,
an annotation symbol outside the WFDB standard table, an unknown rhythm string,
a checksum mismatch on import. Nothing is ever half-written under ``data/``.

CLI::

    python -m lib.ecg.data generate [--out data/raw/synthetic_mitdb]   # params.yaml data_ecg
    python -m lib.ecg.data import   [--src ../shared/data/mitdb]
    python -m lib.ecg.data fetch                                         # PhysioNet, opt-in
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lib.core import paths
from lib.core.checksums import DataError, read_sha256sums, verify_sha256sums, write_sha256sums
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

#: rhythm strings (aux_note of '+' annotations) -> rhythm class
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
    "(SBR": "other",
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


def load_record(stem: os.PathLike | str, *, channels: list[int] | None = None) -> EcgRecord:
    """Read ``<stem>.hea/.dat/.atr`` (stem = path without extension).

    channels: lead indices to keep (default: all). Raises DataError on bad input.
    """
    import wfdb

    stem = Path(stem)
    header = _read_header(stem)
    _check_dat_sizes(stem, header)
    atr = stem.with_suffix(".atr")
    if not atr.is_file():
        raise DataError(atr, "annotation file missing (reference beat annotations .atr are required)")
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
    channels: list[int] | None = (0,),
    progress: bool = True,
) -> list[EcgRecord]:
    """Load several records of a folder. exclude: names left out (e.g. PACED_RECORDS).

    channels: leads kept (default: the first, MLII in MIT-BIH). Raises DataError
    if the folder holds no records or a record is bad.
    """
    from tqdm.auto import tqdm

    folder = Path(folder)
    names = list(records) if records is not None else record_names(folder)
    names = [n for n in names if n not in set(exclude or [])]
    if not names:
        raise DataError(folder, "no WFDB records (*.hea) found")
    chans = list(channels) if channels is not None else None
    return [load_record(folder / n, channels=chans) for n in tqdm(names, desc="load WFDB", disable=not progress)]


# ------------------------------------------------------------------ import / fetch / prepare
def import_local(src: os.PathLike | str, out_dir: os.PathLike | str) -> Path:
    """Copy a local WFDB folder after verifying every file against ``src/SHA256SUMS``.

    A missing SHA256SUMS, a missing file or a mismatch is a DataError; nothing is
    written to ``out_dir`` then. Returns ``out_dir``.
    """
    src, out_dir = Path(src), Path(out_dir)
    sums_file = src / "SHA256SUMS"
    if not sums_file.is_file():
        raise DataError(sums_file, "checksum file missing; refusing to import unverified data")
    sums = read_sha256sums(sums_file)
    verify_sha256sums(src, sums)
    with atomic_dir(out_dir) as tmp:
        for rel in sums:
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dst)
        shutil.copy2(sums_file, tmp / "SHA256SUMS")
        if (src / "SOURCE.md").is_file():
            shutil.copy2(src / "SOURCE.md", tmp / "SOURCE.md")
        verify_sha256sums(tmp, sums)
    return out_dir


def fetch(out_dir: os.PathLike | str | None = None, records: list[str] | None = None) -> Path:
    """Download PhysioNet ``mitdb`` (opt-in; needs internet) via ``wfdb.dl_database``.

    PhysioNet publishes ``SHA256SUMS.txt``; if it can be downloaded the files are
    verified against it. Writes ``SHA256SUMS`` for later verification.
    """
    import urllib.request

    import wfdb

    out_dir = Path(out_dir or paths.raw_dir(REAL_NAME))
    with atomic_dir(out_dir) as tmp:
        wfdb.dl_database("mitdb", dl_dir=str(tmp), records=records or "all", annotators=["atr"])
        try:
            url = "https://physionet.org/files/mitdb/1.0.0/SHA256SUMS.txt"
            with urllib.request.urlopen(url, timeout=30) as resp:
                text = resp.read().decode()
            official = {ln.split()[1]: ln.split()[0] for ln in text.splitlines() if len(ln.split()) == 2}
            present = {k: v for k, v in official.items() if (tmp / k).is_file()}
            verify_sha256sums(tmp, present)
        except OSError as exc:
            log.warning("could not verify against PhysioNet SHA256SUMS.txt: %s", exc)
        write_sha256sums(tmp)
    return out_dir


def prepare_real() -> Path:
    """Import ``../shared/data/mitdb`` into ``data/raw/mitdb`` unless a verified copy is there."""
    out = paths.raw_dir(REAL_NAME)
    if (out / "SHA256SUMS").is_file():
        try:
            verify_sha256sums(out, out / "SHA256SUMS")
            return out
        except DataError as exc:
            log.warning("existing copy fails verification (%s); re-importing", exc)
    return import_local(paths.shared_data(REAL_NAME), out)


def dataset_dir(source: str) -> Path:
    """Folder of the ECG data for ``source`` in {'synthetic', 'mitdb'}.

    'synthetic' generates ``data/raw/synthetic_mitdb`` with the params.yaml
    ``data_ecg`` settings when it is absent (the DVC data stage normally has);
    'mitdb' calls :func:`prepare_real`.
    """
    if source == "synthetic":
        out = paths.raw_dir(SYNTHETIC_NAME)
        if not (out / "SHA256SUMS").is_file():
            from lib.core.params import load_params

            generate(out, **load_params("data_ecg"))
        verify_sha256sums(out, out / "SHA256SUMS")
        return out
    if source == "mitdb":
        return prepare_real()
    raise ValueError(f"source must be one of ('synthetic', 'mitdb'), got {source!r}")


def generate(
    out_dir: os.PathLike | str, seed: int = 0, n_patients: int = 16, duration_s: float = 180.0, **kwargs
) -> Path:
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
                "annotations with AAMI symbols and '+' rhythm annotations ((N, (AFIB, (AFL, (VT, (B, (SBR).\n"
                "Record names reuse MIT-BIH numbers only so that the DS1/DS2 split code runs unchanged.\n"
            ),
        )
        write_sha256sums(tmp)
    return out_dir


# ------------------------------------------------------------------ CLI
def main(argv=None) -> int:
    from lib.core.params import load_params

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write the synthetic records (params.yaml data_ecg)")
    g.add_argument("--out", default=str(paths.raw_dir(SYNTHETIC_NAME)))
    i = sub.add_parser("import", help="import a local copy after sha256 verification")
    i.add_argument("--src", default=str(paths.shared_data(REAL_NAME)))
    i.add_argument("--out", default=str(paths.raw_dir(REAL_NAME)))
    f = sub.add_parser("fetch", help="download PhysioNet mitdb (internet)")
    f.add_argument("--out", default=str(paths.raw_dir(REAL_NAME)))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.cmd == "generate":
        out = generate(args.out, **load_params("data_ecg"))
    elif args.cmd == "import":
        out = import_local(args.src, args.out)
    else:
        out = fetch(args.out)
    print(f"[ecg_data] {args.cmd} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
