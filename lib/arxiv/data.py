"""arXiv metadata: loader, synthetic generator, import/fetch (notebook 02).

Formats read by :func:`load`:

- the Kaggle snapshot ``arxiv-metadata-oai-snapshot.json``: JSON lines, one record per line
  with at least ``id, title, abstract, categories`` (space-separated codes; the first is the
  primary category);
- the CSV export ``arxiv_metadata_first2000.csv`` (same columns). Its ``id`` column went
  through a float (``0704.0010`` -> ``704.001``); :func:`repair_id` restores it (pad the
  year-month to 4 digits, the number to 4 digits before 2015-01 and 5 after) and the loader
  checks the repaired ids are unique.

Bad input raises :class:`lib.core.io.DataError` naming the file and the line/row:
invalid JSON, a missing or empty ``title``/``abstract``/``categories``, a duplicate id.
An unknown category (not a well-formed code of a known arXiv archive, see
:func:`lib.arxiv.text_clean.is_arxiv_category`) is handled by ``unknown_category``:
``"error"`` (default) raises DataError; ``"drop"`` skips that record and counts it in
``df.attrs["dropped_unknown"]``.

CLI (the DVC data stage)::

    python -m lib.arxiv.data generate [--out data/raw/arxiv]   # params.yaml data_arxiv
    python -m lib.arxiv.data import --src ../shared/data/arxiv --out data/raw/arxiv_real
    python -m lib.arxiv.data fetch --out data/raw/arxiv_kaggle  # needs the kaggle client + key
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from lib.arxiv import synth as arxiv_synth
from lib.arxiv.text_clean import is_arxiv_category, primary_category
from lib.core import paths
from lib.core.checksums import DataError, read_sha256sums, verify_sha256sums, write_sha256sums
from lib.core.io import atomic_dir
from lib.core.params import load_params

NAME = "arxiv"
REAL_NAME = "arxiv_real"
JSONL_NAME = "arxiv-metadata-oai-snapshot.json"
CSV_NAME = "arxiv_metadata_first2000.csv"
KAGGLE_DATASET = "Cornell-University/arxiv"
REQUIRED = ("id", "title", "abstract", "categories")
UNKNOWN_POLICIES = ("error", "drop")
COLUMNS = ["id", "title", "abstract", "categories", "primary"]

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
def _check_record(rec: dict, where: str, path: Path) -> None:
    for key in REQUIRED:
        value = rec.get(key)
        if value is None or not str(value).strip():
            rid = rec.get("id", "?")
            raise DataError(path, f"{where} (id {rid}): missing or empty {key!r}")


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


def load_jsonl(path, unknown_category: str = "error") -> pd.DataFrame:
    """Kaggle snapshot JSON lines -> DataFrame[id, title, abstract, categories, primary] (n rows)."""
    path = Path(path)
    _check_policy(unknown_category)
    rows, where = [], []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
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


def load_csv(path, unknown_category: str = "error") -> pd.DataFrame:
    """The CSV export (float-mangled ids repaired) -> same DataFrame as :func:`load_jsonl`."""
    path = Path(path)
    _check_policy(unknown_category)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable CSV ({exc})") from None
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; have {list(raw.columns)}")
    if raw.empty:
        raise DataError(path, "no records")
    raw["id"] = [repair_id(v) for v in raw["id"]]
    rows = raw[list(REQUIRED)].to_dict("records")
    where = [f"row {i + 1}" for i in range(len(rows))]
    for rec, loc in zip(rows, where):
        _check_record(rec, loc, path)
    return _finish(rows, where, path, unknown_category)


def find_data_file(folder) -> Path:
    """The snapshot (JSON lines, preferred) or the CSV export inside ``folder``."""
    folder = Path(folder)
    for name in (JSONL_NAME, CSV_NAME):
        if (folder / name).is_file():
            return folder / name
    raise DataError(folder, f"no {JSONL_NAME} or {CSV_NAME} in this folder")


def load(path, unknown_category: str = "error", verify: bool = True) -> pd.DataFrame:
    """Load a folder (checksums verified when it has SHA256SUMS) or a ``.json``/``.jsonl``/``.csv`` file."""
    path = Path(path)
    if path.is_dir():
        if verify and (path / "SHA256SUMS").is_file():
            verify_sha256sums(path, path / "SHA256SUMS")
        path = find_data_file(path)
    if not path.is_file():
        raise DataError(path, "no such file")
    if path.suffix in (".json", ".jsonl"):
        return load_jsonl(path, unknown_category)
    if path.suffix == ".csv":
        return load_csv(path, unknown_category)
    raise DataError(path, "unknown format: expected .json/.jsonl (Kaggle snapshot) or .csv")


def _check_policy(policy: str) -> None:
    if policy not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown_category must be one of {UNKNOWN_POLICIES}, got {policy!r}")


# ---------------------------------------------------------------- synthetic generator
def synthetic_records(
    seed: int = 0,
    n_records: int = 1200,
    n_classes: int = 24,
    zipf_exponent: float = 1.0,
    min_per_class: int = 12,
    p_own: float = 0.08,
    p_group: float = 0.32,
    label_noise: float = 0.05,
    cross_list: float = 0.3,
    n_rare_classes: int = 0,
    rare_class_size: int = 3,
) -> list[dict]:
    """Deterministic synthetic records in the Kaggle snapshot schema (list of n_records dicts).

    label_noise: probability that the primary category is swapped for another class of the
    same group (ambiguous papers); cross_list: probability of a second (cross-listed) category;
    the last ``n_rare_classes`` classes get only ``rare_class_size`` records each (like the real
    tail of arXiv categories, to exercise the rare-category policy).
    """
    if n_classes < 20:
        raise ValueError(f"n_classes must be >= 20 (real arXiv codes), got {n_classes}")
    if not 0 <= n_rare_classes <= n_classes - 2:
        raise ValueError(f"n_rare_classes must be in [0, n_classes - 2], got {n_rare_classes}")
    rng = np.random.default_rng(seed)
    classes = arxiv_synth.CLASSES[:n_classes]
    n_common = n_classes - n_rare_classes
    sizes = np.concatenate(
        [
            arxiv_synth.class_sizes(
                n_records - n_rare_classes * rare_class_size, n_common, zipf_exponent, min_per_class
            ),
            np.full(n_rare_classes, rare_class_size, dtype=int),
        ]
    )
    labels = rng.permutation(np.repeat(np.arange(n_classes), sizes))
    by_group: dict[str, list[int]] = {}
    for k, (_, group, _) in enumerate(classes):
        by_group.setdefault(group, []).append(k)
    records = []
    for i, k in enumerate(labels):
        code, group, own = classes[k]
        n_abs = int(rng.integers(30, 60))
        title = arxiv_synth.sample_words(rng, int(rng.integers(6, 12)), group, own, 2 * p_own, p_group)
        abstract = arxiv_synth.sample_words(rng, n_abs, group, own, p_own, p_group)
        primary = code
        siblings = [j for j in by_group[group] if j != k]
        if siblings and rng.random() < label_noise:
            primary = classes[siblings[rng.integers(len(siblings))]][0]
        cats = [primary]
        if siblings and rng.random() < cross_list:
            other = classes[siblings[rng.integers(len(siblings))]][0]
            cats.append(other if other != primary else code)
        records.append(
            {
                "id": f"2001.{i + 1:05d}",
                "submitter": "Synthetic Author",
                "authors": "A. Synthetic, B. Generated",
                "title": " ".join(title).capitalize(),
                "comments": f"{int(rng.integers(4, 40))} pages",
                "journal-ref": None,
                "doi": None,
                "report-no": None,
                "categories": " ".join(dict.fromkeys(cats)),
                "license": None,
                "abstract": "  " + arxiv_synth.sentences(abstract, rng) + "\n",
                "versions": [{"version": "v1", "created": "Wed, 1 Jan 2020 00:00:00 GMT"}],
                "update_date": "2020-01-01",
                "authors_parsed": [["Synthetic", "A.", ""], ["Generated", "B.", ""]],
            }
        )
    return records


SOURCE_SYNTHETIC = """# Synthetic arXiv metadata (generated, NOT real data)

Written by `python -m lib.arxiv.data generate` (lib/arxiv/data.py, lib/arxiv/synth.py) in the
Kaggle snapshot format (`{jsonl}`, JSON lines). Abstracts are random word sequences drawn from
generic, group-shared and class-specific vocabularies over {n_classes} real arXiv category codes,
with Zipf-imbalanced class sizes. Deterministic given the parameters in `generator.json`.
Any result computed from it is a result on synthetic data.
"""


def generate(out_dir=None, seed: int = 0, **kwargs) -> Path:
    """Write ``arxiv-metadata-oai-snapshot.json`` + generator.json + SOURCE.md + SHA256SUMS atomically."""
    out_dir = Path(out_dir) if out_dir is not None else paths.raw_dir(NAME)
    records = synthetic_records(seed=seed, **kwargs)
    settings = {"seed": seed, **kwargs}
    n_classes = len({r["categories"].split()[0] for r in records})
    with atomic_dir(out_dir) as tmp:
        with open(tmp / JSONL_NAME, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        (tmp / "generator.json").write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
        (tmp / "SOURCE.md").write_text(SOURCE_SYNTHETIC.format(jsonl=JSONL_NAME, n_classes=n_classes))
        write_sha256sums(tmp)
    return out_dir


def prepare_synthetic(out_dir=None) -> Path:
    """The synthetic copy for params.yaml ``data_arxiv``: reused when its checksums and settings match."""
    params = dict(load_params("data_arxiv"))
    out_dir = Path(out_dir) if out_dir is not None else paths.raw_dir(NAME)
    settings = out_dir / "generator.json"
    if settings.is_file() and (out_dir / "SHA256SUMS").is_file():
        if json.loads(settings.read_text()) == params:
            verify_sha256sums(out_dir, out_dir / "SHA256SUMS")
            return out_dir
    return generate(out_dir, **params)


# ---------------------------------------------------------------- import / fetch
def import_local(src, out_dir) -> Path:
    """Copy a local folder after sha256 verification of every file listed in ``src/SHA256SUMS``.

    A missing SHA256SUMS, a missing file or a mismatch raises DataError before anything is
    written; the copy is verified again and lands atomically.
    """
    src, out_dir = Path(src), Path(out_dir)
    sums_file = src / "SHA256SUMS"
    if not sums_file.is_file():
        raise DataError(sums_file, "missing: cannot verify the source copy")
    sums = read_sha256sums(sums_file)
    verify_sha256sums(src, sums)
    with atomic_dir(out_dir) as tmp:
        for rel in sums:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, tmp / rel)
        if (src / "SOURCE.md").is_file():
            shutil.copyfile(src / "SOURCE.md", tmp / "SOURCE.md")
        shutil.copyfile(sums_file, tmp / "SHA256SUMS")
        verify_sha256sums(tmp, sums)
    return out_dir


def prepare_real() -> Path:
    """``data/raw/arxiv_real``: imported from ``../shared/data/arxiv`` unless a verified copy is there."""
    src, out = paths.shared_data(NAME), paths.raw_dir(REAL_NAME)
    if (out / "SHA256SUMS").is_file() and (src / "SHA256SUMS").is_file():
        if read_sha256sums(out / "SHA256SUMS") == read_sha256sums(src / "SHA256SUMS"):
            try:
                verify_sha256sums(out, out / "SHA256SUMS")
                return out
            except DataError:
                pass
    return import_local(src, out)


def fetch(out_dir=None) -> Path:
    """Download the full Kaggle snapshot (opt-in; needs the ``kaggle`` client and an API key).

    Kaggle publishes no checksums for this dataset: we record the sha256 of what was
    downloaded in SHA256SUMS, so later imports of this copy are verified.
    """
    out_dir = Path(out_dir) if out_dir is not None else paths.raw_dir("arxiv_kaggle")
    if shutil.which("kaggle") is None:
        raise RuntimeError(
            "fetch needs the Kaggle CLI (`pip install kaggle`) and ~/.kaggle/kaggle.json; "
            f"or download {KAGGLE_DATASET} by hand and use `import`"
        )
    with atomic_dir(out_dir) as tmp:
        subprocess.run(["kaggle", "datasets", "download", "-d", KAGGLE_DATASET, "-p", str(tmp), "--unzip"], check=True)
        if not (tmp / JSONL_NAME).is_file():
            raise DataError(tmp / JSONL_NAME, "not found in the Kaggle download")
        (tmp / "SOURCE.md").write_text(f"# Kaggle {KAGGLE_DATASET} (full snapshot, CC0 metadata)\n")
        write_sha256sums(tmp)
    return out_dir


def dataset_dir(data: str = "synthetic") -> Path:
    """Folder for the notebook's ``data`` parameter: "synthetic" (params.yaml data_arxiv) or "real"."""
    if data == "synthetic":
        return prepare_synthetic()
    if data == "real":
        return prepare_real()
    raise ValueError(f"data must be one of ('synthetic', 'real'), got {data!r}")


# ---------------------------------------------------------------- CLI
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write the synthetic dataset (params.yaml data_arxiv)")
    g.add_argument("--out", type=Path, default=paths.raw_dir(NAME))
    g.add_argument("--seed", type=int, default=None)
    i = sub.add_parser("import", help="copy a local folder after sha256 verification")
    i.add_argument("--src", type=Path, default=paths.shared_data(NAME))
    i.add_argument("--out", type=Path, default=paths.raw_dir(REAL_NAME))
    f = sub.add_parser("fetch", help="download the Kaggle snapshot (needs network + kaggle key)")
    f.add_argument("--out", type=Path, default=paths.raw_dir("arxiv_kaggle"))
    args = parser.parse_args(argv)
    if args.cmd == "generate":
        params = dict(load_params("data_arxiv"))
        if args.seed is not None:
            params["seed"] = args.seed
        out = generate(args.out, **params)
    elif args.cmd == "import":
        out = import_local(args.src, args.out)
    else:
        out = fetch(args.out)
    print(f"[arxiv_data] {args.cmd}: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
