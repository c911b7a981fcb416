"""arXiv metadata: loaders, the synthetic copy, import/fetch, the dataset folders (notebook 02).

Formats read by :func:`load`:

- the Kaggle snapshot ``arxiv-metadata-oai-snapshot.json``: JSON lines, one record per line
  with at least ``id, title, abstract, categories`` (space-separated codes; the first is the
  primary category);
- the paper's Kaggle ``arxiv_data.csv`` (columns ``abstract, tag, title``; ``tag`` is the primary
  category, the texts are already lower-cased with punctuation stripped): :func:`load_paper_csv`,
  ids are the row numbers;
- the CSV export ``arxiv_metadata_first2000.csv`` (same columns). Its ``id`` column went
  through a float (``0704.0010`` -> ``704.001``); :func:`repair_id` restores it (pad the
  year-month to 4 digits, the number to 4 digits before 2015-01 and 5 after) and the loader
  checks the repaired ids are unique.

Bad input raises :class:`lib.core.checksums.DataError` naming the file the user gave and the
line/row: bytes that are not UTF-8, invalid JSON, a record that is not a JSON object, a missing,
empty or non-string ``id``/``title``/``abstract``/``categories``, a title or abstract longer than
:data:`MAX_TEXT_CHARS` characters (arXiv itself caps abstracts at 1,920 characters; the limit
refuses a corrupt or hostile file before it reaches the tokenizer), a duplicate id.
An unknown category (not a well-formed code of a known arXiv archive, see
:func:`lib.arxiv.text_clean.is_arxiv_category`) is handled by ``unknown_category``:
``"error"`` (default) raises DataError; ``"drop"`` skips that record and counts it in
``df.attrs["dropped_unknown"]``.

A dataset folder holds its data file(s) flat, a ``SHA256SUMS`` whose entries must match
:data:`ENTRY_PATTERN` (a plain file name: no folder, no ``..``, no absolute path), and, once
imported or generated, a verification marker; :func:`load` of a folder checks the marker (or,
without one, every checksum) before reading.

CLI (the DVC data stage; one shape for every dataset, :mod:`lib.core.datacli`)::

    python -m lib.arxiv.data generate [--out data/raw/arxiv]     # params.yaml data_arxiv
    python -m lib.arxiv.data import [--src ../shared/data/arxiv] [--out data/raw/arxiv_real]
    python -m lib.arxiv.data fetch --allow-unverified [--out data/raw/arxiv_kaggle]  # kaggle client + key
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from lib.arxiv.synth import SynthConfig, synthetic_records
from lib.arxiv.text_clean import is_arxiv_category, primary_category
from lib.core import datacli, paths
from lib.core.checksums import (
    DataError,
    check_verified,
    inside,
    read_sha256sums,
    require_listed,
    sha256_file,
    verify_sha256sums,
    write_sha256sums,
    write_verified_marker,
)
from lib.core.io import atomic_dir, atomic_write_text, write_json
from lib.core.params import config, load_params

NAME = "arxiv"
REAL_NAME = "arxiv_real"
FETCH_NAME = "arxiv_kaggle"
PAPER_NAME = "arxiv_paper"
PAPER_SYNTH_NAME = "arxiv_paper_synthetic"
JSONL_NAME = "arxiv-metadata-oai-snapshot.json"
CSV_NAME = "arxiv_metadata_first2000.csv"
PAPER_CSV = "arxiv_data.csv"
PAPER_COLUMNS = ("abstract", "tag", "title")
DATA_FILES = (JSONL_NAME, CSV_NAME, PAPER_CSV)
KAGGLE_DATASET = "Cornell-University/arxiv"
REQUIRED = ("id", "title", "abstract", "categories")
UNKNOWN_POLICIES = ("error", "drop")
COLUMNS = ["id", "title", "abstract", "categories", "primary"]
#: longest title or abstract accepted, in characters (arXiv caps abstracts at 1,920)
MAX_TEXT_CHARS = 20_000
#: the form of every SHA256SUMS entry of an arXiv dataset folder: one plain file name
ENTRY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*\.(json|jsonl|csv|md)"
#: data_source value -> one-line description of the data (the provenance label)
DESCRIPTIONS = {
    "synthetic": "generated arXiv-like records in the Kaggle JSON-lines format (lib.arxiv.synth, data_arxiv)",
    "real": "arXiv metadata snapshot, first 2000 records (April 2007)",
    "paper": "the paper's Kaggle arxiv_data.csv (abstract, tag, title)",
    "paper_synthetic": "generated arXiv-like records in the paper's CSV format (abstract, tag, title; lib.arxiv.synth, "
    "params_paper.yaml nb02_paper_smoke.data); smoke run of the paper configuration",
}
#: data sources whose records are generated: their results are results on synthetic data
SYNTHETIC_SOURCES = ("synthetic", "paper_synthetic")

_NEW_ID = re.compile(r"^(\d{3,4})\.(\d{1,5})$")


# ---------------------------------------------------------------- ids
def repair_id(raw: str) -> str:
    """Undo the float mangling of new-style arXiv ids; other ids are returned unchanged.

    ``704.001`` -> ``0704.0010``, ``704.2`` -> ``0704.2000``, ``1501.0001`` -> ``1501.00010``,
    ``hep-th/9901001`` -> unchanged.
    """
    raw = str(raw).strip()
    m = _NEW_ID.match(raw)
    if not m:
        return raw
    yymm = m.group(1).zfill(4)
    width = 4 if int(yymm) < 1501 else 5
    return f"{yymm}.{m.group(2).ljust(width, '0')}"


# ---------------------------------------------------------------- loading
def _check_record(rec: dict, where: str, path: Path, blank_ok: tuple = ()) -> None:
    """A DataError naming the file and ``where`` for a missing, empty or non-string field or an over-long text.
    ``blank_ok``: fields that may be whitespace-only (the paper's CSV: pandas keeps such a text, so does the paper)."""
    rid = rec.get("id", "?")
    for key in REQUIRED:
        value = rec.get(key)
        blank = isinstance(value, str) and not value.strip() and (value == "" or key not in blank_ok)
        if value is None or blank:
            raise DataError(path, f"{where} (id {rid}): missing or empty {key!r}")
        if not isinstance(value, str):
            raise DataError(path, f"{where} (id {rid}): {key!r} must be a string, got a JSON {type(value).__name__}")
    for key in ("title", "abstract"):
        if len(rec[key]) > MAX_TEXT_CHARS:
            raise DataError(
                path, f"{where} (id {rid}): {key!r} has {len(rec[key])} characters, over the limit of {MAX_TEXT_CHARS}"
            )


def _finish(rows: list[dict], where: list[str], path: Path, unknown_category: str) -> pd.DataFrame:
    keep, dropped = [], 0
    seen: dict[str, str] = {}
    for rec, loc in zip(rows, where):
        bad = [c for c in str(rec["categories"]).split() if not is_arxiv_category(c)]
        if bad:
            if unknown_category == "error":
                raise DataError(path, f"{loc} (id {rec['id']}): unknown arXiv category {bad[0]!r}")
            dropped += 1
            continue
        rid = str(rec["id"])
        if rid in seen:
            raise DataError(path, f"{loc}: duplicate id {rid} (first at {seen[rid]})")
        seen[rid] = loc
        keep.append(
            {
                "id": rid,
                "title": str(rec["title"]),
                "abstract": str(rec["abstract"]),
                "categories": " ".join(str(rec["categories"]).split()),
                "primary": primary_category(rec["categories"]),
            }
        )
    df = pd.DataFrame(keep, columns=COLUMNS)
    df.attrs["dropped_unknown"] = dropped
    df.attrs["source_file"] = str(path)
    return df


def _utf8(raw: bytes, path: Path, first_line: int = 1) -> str:
    """``raw`` decoded as UTF-8; a bad byte is a DataError naming its line (``raw`` starts at ``first_line``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = first_line + raw[: err.start].count(b"\n")
        raise DataError(path, f"line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x})") from None


def load_jsonl(path, unknown_category: str = "error") -> pd.DataFrame:
    """Kaggle snapshot JSON lines -> DataFrame[id, title, abstract, categories, primary] (n rows)."""
    path = Path(path)
    _check_policy(unknown_category)
    rows, where = [], []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = _utf8(raw, path, lineno)
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, f"line {lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise DataError(path, f"line {lineno}: expected a JSON object")
            _check_record(rec, f"line {lineno}", path)
            rows.append(rec)
            where.append(f"line {lineno}")
    if not rows:
        raise DataError(path, "no records")
    return _finish(rows, where, path, unknown_category)


def read_csv_text(path: Path) -> pd.DataFrame:
    """A UTF-8 CSV file -> DataFrame of strings; DataError names the line of a bad byte or a parse error."""
    text = _utf8(path.read_bytes(), path)
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(path, f"not a readable CSV ({exc})") from None


def _read_table(path: Path, columns, what: str) -> pd.DataFrame:
    """The CSV at ``path`` with every one of ``columns`` and at least one row; DataError naming the file otherwise.
    ``what``: how the error names the expected layout."""
    raw = read_csv_text(path)
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; {what} {list(columns)}, have {list(raw.columns)}")
    if raw.empty:
        raise DataError(path, "no records")
    return raw


def _checked(rows: list[dict], path: Path, unknown_category: str) -> pd.DataFrame:
    """Every row checked (:func:`_check_record`, located by its 1-based row number), then :func:`_finish`."""
    where = [f"row {i + 1}" for i in range(len(rows))]
    for rec, loc in zip(rows, where):
        _check_record(rec, loc, path)
    return _finish(rows, where, path, unknown_category)


def load_csv(path, unknown_category: str = "error") -> pd.DataFrame:
    """The CSV export (float-mangled ids repaired) -> same DataFrame as :func:`load_jsonl`."""
    path = Path(path)
    _check_policy(unknown_category)
    raw = _read_table(path, REQUIRED, "the CSV export needs")
    raw["id"] = [repair_id(v) for v in raw["id"]]
    return _checked(raw[list(REQUIRED)].to_dict("records"), path, unknown_category)


def _missing(value: str) -> bool:
    """Exactly what pandas' ``read_csv`` (its default NA strings, the empty string among them, quoted or not) +
    ``dropna`` drop, for a field read as text (``keep_default_na=False``). A whitespace-only text is NOT missing
    for pandas: the paper keeps such a row, and so does :func:`load_paper_csv`
    (tests/arxiv/test_paper_config.py checks this against pandas itself)."""
    from pandas._libs.parsers import STR_NA_VALUES

    return value in STR_NA_VALUES


def load_paper_csv(path, unknown_category: str = "error", max_rows: int = 0) -> pd.DataFrame:
    """The paper's Kaggle ``arxiv_data.csv`` (abstract, tag, title) -> the same DataFrame as :func:`load_jsonl`
    (id = the 0-based row number in the file, categories = primary = tag), rows in file order.

    As the paper's notebook (``pd.read_csv(...)[:70000]``, then ``dropna``): the first ``max_rows`` rows of the file
    (0: all), then the rows pandas' ``dropna`` drops (a title, abstract or tag equal to one of pandas' NA strings or
    empty: :func:`_missing`; a whitespace-only title or abstract is kept, as pandas keeps it); how many is
    ``df.attrs["dropped_missing"]`` (their row numbers: ``df.attrs["dropped_missing_rows"]``).
    A malformed file (not UTF-8, not CSV, a column missing, no rows, a text over the length limit, an unknown or
    whitespace-only tag) is still a DataError naming the file and the row."""
    path = Path(path)
    _check_policy(unknown_category)
    raw = _read_table(path, PAPER_COLUMNS, "the paper's CSV has")
    if max_rows:
        raw = raw.iloc[:max_rows]
    rows, dropped = [], []
    for i, (t, a, c) in enumerate(zip(raw["title"], raw["abstract"], raw["tag"])):
        if _missing(t) or _missing(a) or _missing(c):
            dropped.append(i)
            continue
        rows.append({"id": str(i), "title": t, "abstract": a, "categories": c})
    if not rows:
        raise DataError(path, "no records with a title, an abstract and a tag")
    where = [f"row {int(r['id']) + 1}" for r in rows]
    for rec, loc in zip(rows, where):
        _check_record(rec, loc, path, blank_ok=("title", "abstract"))
    df = _finish(rows, where, path, unknown_category)
    df.attrs["dropped_missing"] = len(dropped)
    df.attrs["dropped_missing_rows"] = dropped
    return df


def find_data_file(folder) -> Path:
    """The snapshot (JSON lines, preferred) or the CSV export inside ``folder``."""
    folder = Path(folder)
    for name in DATA_FILES:
        if (folder / name).is_file():
            return inside(folder, name)
    raise DataError(folder, f"no {', '.join(DATA_FILES)} in this folder")


def check_folder(folder: Path) -> None:
    """A dataset folder is trusted only when verified: its marker (cheap) or, without one, every checksum."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise DataError(sums, "missing: a dataset folder needs its checksum list (use `import` to make one)")
    entries = read_sha256sums(sums, ENTRY_PATTERN)
    if (folder / ".verified.json").is_file():
        check_verified(folder)
    else:
        verify_sha256sums(folder, entries)


def load(path, unknown_category: str = "error", max_rows: int = 0) -> pd.DataFrame:
    """Load a dataset folder (verified first, :func:`check_folder`) or a ``.json``/``.jsonl``/``.csv`` file.

    ``max_rows``: only the first N records of the file (0: all), counted BEFORE any row is dropped (the paper's
    ``[:70000]`` comes before its ``dropna``). ``df.attrs["dropped_missing"]``: rows dropped for a missing text
    (the paper's CSV only; the other formats refuse such a row)."""
    path = Path(path)
    if path.is_dir():
        check_folder(path)
        path = find_data_file(path)
    if not path.is_file():
        raise DataError(path, "no such file")
    if path.name == PAPER_CSV:
        return load_paper_csv(path, unknown_category, max_rows)
    if path.suffix in (".json", ".jsonl"):
        df = load_jsonl(path, unknown_category)
    elif path.suffix == ".csv":
        df = load_csv(path, unknown_category)
    else:
        raise DataError(path, "unknown format: expected .json/.jsonl (Kaggle snapshot) or .csv")
    if max_rows:
        attrs = dict(df.attrs)
        df = df.iloc[:max_rows].reset_index(drop=True)
        df.attrs.update(attrs)
    df.attrs["dropped_missing"] = 0
    return df


def _check_policy(policy: str) -> None:
    if policy not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown_category must be one of {UNKNOWN_POLICIES}, got {policy!r}")


# ---------------------------------------------------------------- synthetic copy
SOURCE_SYNTHETIC = """# Synthetic arXiv metadata (generated, NOT real data)

Written by `python -m lib.arxiv.data generate` (lib/arxiv/data.py, lib/arxiv/synth.py) in the
Kaggle snapshot format (`{jsonl}`, JSON lines). Abstracts are random word sequences drawn from
generic, group-shared and class-specific vocabularies over {n_classes} real arXiv category codes,
with Zipf-imbalanced class sizes. Deterministic given the parameters in `generator.json`.
Any result computed from it is a result on synthetic data.
"""


def synth_config() -> SynthConfig:
    """The generator's settings: params.yaml section ``data_arxiv``."""
    return config(SynthConfig, "data_arxiv")


def generate(out_dir=None, cfg: SynthConfig | None = None) -> Path:
    """Write the JSON lines + generator.json + SOURCE.md + SHA256SUMS + marker atomically; cfg: data_arxiv."""
    out_dir = Path(out_dir) if out_dir is not None else paths.raw_dir(NAME)
    cfg = cfg if cfg is not None else synth_config()
    records = synthetic_records(cfg)
    n_classes = len({r["categories"].split()[0] for r in records})
    with atomic_dir(out_dir) as tmp:
        with open(tmp / JSONL_NAME, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        (tmp / "generator.json").write_text(json.dumps(cfg.as_dict(), indent=2, sort_keys=True) + "\n")
        (tmp / "SOURCE.md").write_text(SOURCE_SYNTHETIC.format(jsonl=JSONL_NAME, n_classes=n_classes))
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


def _verified_copy(out_dir: Path, cfg) -> bool:
    """True when ``out_dir`` holds a checksum-verified copy generated with the settings ``cfg`` (reuse it)."""
    settings = out_dir / "generator.json"
    if not (settings.is_file() and json.loads(settings.read_text()) == cfg.as_dict()):
        return False
    try:
        check_folder(out_dir)
    except DataError:
        return False
    return True


def prepare_synthetic(out_dir=None) -> Path:
    """The synthetic copy for params.yaml ``data_arxiv``: reused when verified and its settings match."""
    cfg = synth_config()
    out_dir = Path(out_dir) if out_dir is not None else paths.raw_dir(NAME)
    if _verified_copy(out_dir, cfg):
        return out_dir
    return generate(out_dir, cfg)


# ---------------------------------------------------------------- import / fetch
def _listed_data_files(src: Path, sums: dict, sums_file: Path) -> None:
    present = [name for name in DATA_FILES if (src / name).is_file()]
    if not present and not any(name in sums for name in DATA_FILES):
        raise DataError(sums_file, f"lists none of the data files {list(DATA_FILES)}")
    require_listed(sums, present, sums_file)


def import_local(src, out_dir=None) -> Path:
    """Copy a local folder after sha256 verification of every file listed in ``src/SHA256SUMS``.

    Every entry is validated (:data:`ENTRY_PATTERN`) and every data file present must be listed,
    before anything is read; a missing SHA256SUMS, a missing file or a mismatch raises DataError naming
    the source file before anything is written. Each copy is hashed again (a source changed during the
    copy is named) and the folder lands atomically with its verification marker.
    """
    src = Path(src)
    out_dir = Path(out_dir) if out_dir is not None else paths.raw_dir(REAL_NAME)
    sums_file = src / "SHA256SUMS"
    if not sums_file.is_file():
        raise DataError(sums_file, "missing: cannot verify the source copy")
    sums = read_sha256sums(sums_file, ENTRY_PATTERN)
    _listed_data_files(src, sums, sums_file)
    verify_sha256sums(src, sums)
    with atomic_dir(out_dir) as tmp:
        for rel, digest in sums.items():
            shutil.copyfile(inside(src, rel), tmp / rel)
            if sha256_file(tmp / rel) != digest:
                raise DataError(src / rel, "changed while being copied: checksum mismatch in the copy")
        if "SOURCE.md" not in sums and (src / "SOURCE.md").is_file():
            shutil.copyfile(inside(src, "SOURCE.md"), tmp / "SOURCE.md")
        shutil.copyfile(sums_file, tmp / "SHA256SUMS")
        write_verified_marker(tmp)
    return out_dir


def prepare_real() -> Path:
    """``data/raw/arxiv_real``: imported from ``../shared/data/arxiv`` unless a verified copy of it is there."""
    src, out = paths.shared_data(NAME), paths.raw_dir(REAL_NAME)
    if (out / "SHA256SUMS").is_file() and (src / "SHA256SUMS").is_file():
        try:
            if read_sha256sums(out / "SHA256SUMS", ENTRY_PATTERN) == read_sha256sums(src / "SHA256SUMS", ENTRY_PATTERN):
                check_folder(out)
                return out
        except DataError:
            pass
    return import_local(src, out)


def fetch(out_dir=None, allow_unverified: bool = False) -> Path:
    """Download the full Kaggle snapshot (opt-in; needs the ``kaggle`` client and an API key).

    Kaggle publishes no checksum list for this dataset, so the download cannot be verified: refused
    unless ``allow_unverified``; then ``fetch.json`` and SOURCE.md record it as unverified, and the
    SHA256SUMS written are of what was downloaded (later loads detect changes, not a bad download).
    """
    out_dir = Path(out_dir) if out_dir is not None else paths.raw_dir(FETCH_NAME)
    if not allow_unverified:
        raise DataError(
            out_dir,
            f"Kaggle publishes no checksum list for {KAGGLE_DATASET}, so a download cannot be verified; "
            "refusing (pass --allow-unverified to accept it, recorded as unverified in fetch.json)",
        )
    if shutil.which("kaggle") is None:
        raise RuntimeError(
            "fetch needs the Kaggle CLI (`pip install kaggle`) and ~/.kaggle/kaggle.json; "
            f"or download {KAGGLE_DATASET} by hand and use `import`"
        )
    with atomic_dir(out_dir) as tmp:
        subprocess.run(["kaggle", "datasets", "download", "-d", KAGGLE_DATASET, "-p", str(tmp), "--unzip"], check=True)
        if not (tmp / JSONL_NAME).is_file():
            raise DataError(Path(KAGGLE_DATASET) / JSONL_NAME, "not found in the Kaggle download")
        write_json(tmp / "fetch.json", {"source": f"kaggle:{KAGGLE_DATASET}", "verified": False})
        (tmp / "SOURCE.md").write_text(
            f"# Kaggle {KAGGLE_DATASET} (full snapshot, CC0 metadata)\n\nUNVERIFIED: Kaggle publishes no checksums.\n"
        )
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


def write_paper_csv(records: list[dict], path) -> Path:
    """Records (the snapshot schema) written in the paper's CSV format: abstract, tag (primary category), title,
    texts lower-cased with punctuation removed (as the Kaggle file has them). Atomic."""
    from lib.arxiv.text_clean import clean_text

    df = pd.DataFrame(
        {
            "abstract": [clean_text(r["abstract"]) for r in records],
            "tag": [primary_category(r["categories"]) for r in records],
            "title": [clean_text(r["title"]) for r in records],
        }
    )
    return atomic_write_text(path, df.to_csv(index=False))


def prepare_paper() -> Path:
    """The paper configuration's inputs: ``data/raw/arxiv_paper/arxiv_data.csv`` (imported, verified) and the
    distilbert-base-cased weights in the local Hugging Face cache. One clear error names what is missing."""
    from lib.arxiv.hub import PAPER, hf_cache_dir

    folder = paths.raw_dir(PAPER_NAME)
    missing = []
    if not (folder / PAPER_CSV).is_file():
        missing.append(
            f"the Kaggle {PAPER_CSV} (columns abstract, tag, title): put it with a SHA256SUMS in a folder and run "
            f"`python -m lib.arxiv.data import --src <that folder> --out {os.path.relpath(folder, paths.ROOT)}`"
        )
    try:
        hf_cache_dir(PAPER)
    except FileNotFoundError as err:
        missing.append(str(err))
    if missing:
        raise FileNotFoundError("the paper configuration of notebook 02 needs: " + " AND ".join(missing))
    check_folder(folder)
    return folder


SOURCE_PAPER_SYNTHETIC = """# Synthetic arXiv records in the paper's CSV format (generated, NOT real data)

Written by lib/arxiv/data.py (`prepare_paper_synthetic`) from lib/arxiv/synth.py in the layout of the paper's
Kaggle `{csv}` (columns abstract, tag, title; texts lower-cased, punctuation removed). It feeds the smoke run of the
paper configuration (`python -m lib.arxiv.paper_smoke`). Deterministic given `generator.json`.
Any result computed from it is a result on synthetic data.
"""


def paper_synth_config() -> SynthConfig:
    """The generator's settings for the paper-format smoke data: params.yaml ``data_arxiv`` with the overrides of
    params_paper.yaml ``nb02_paper_smoke.data``."""
    base = load_params("data_arxiv")
    return SynthConfig(**{**base, **load_params("nb02_paper_smoke", run="paper")["data"]})


def prepare_paper_synthetic(out_dir=None) -> Path:
    """``data/raw/arxiv_paper_synthetic/arxiv_data.csv``: synthetic records in the paper's CSV format, regenerated
    unless a verified copy with the same generator settings is there."""
    cfg = paper_synth_config()
    out_dir = Path(out_dir) if out_dir is not None else paths.raw_dir(PAPER_SYNTH_NAME)
    if _verified_copy(out_dir, cfg):
        return out_dir
    with atomic_dir(out_dir) as tmp:
        write_paper_csv(synthetic_records(cfg), tmp / PAPER_CSV)
        (tmp / "generator.json").write_text(json.dumps(cfg.as_dict(), indent=2, sort_keys=True) + "\n")
        (tmp / "SOURCE.md").write_text(SOURCE_PAPER_SYNTHETIC.format(csv=PAPER_CSV))
        write_sha256sums(tmp)
        write_verified_marker(tmp)
    return out_dir


def dataset_dir(data_source: str) -> Path:
    """Folder for the notebook's ``data_source``: "synthetic" (params.yaml data_arxiv), "real", "paper" or
    "paper_synthetic" (the paper's CSV format, generated: :func:`prepare_paper_synthetic`)."""
    if data_source == "synthetic":
        return prepare_synthetic()
    if data_source == "paper_synthetic":
        return prepare_paper_synthetic()
    if data_source == "real":
        return prepare_real()
    if data_source == "paper":
        return prepare_paper()
    raise ValueError(f"data_source must be one of {tuple(DESCRIPTIONS)}, got {data_source!r}")


# ---------------------------------------------------------------- CLI
def main(argv=None) -> int:
    return datacli.main(
        argv,
        description=__doc__,
        generate=generate,
        import_local=import_local,
        fetch=fetch,
        default_src=paths.shared_data(NAME),
    )


if __name__ == "__main__":
    sys.exit(main())
