"""Notebook-01 model inputs: EcgInputs (windows, features, labels, records) from WFDB records, the splits, counts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lib.core.outputs import Outputs
from lib.core.sampling import subsample
from lib.ecg import data as ecg_data
from lib.ecg import features as ecg_features
from lib.ecg import preprocess as ecg_preprocess
from lib.ecg import splits as ecg_splits
from lib.ecg.readings import rhythm_labels


@dataclass
class EcgInputs:
    X: np.ndarray
    F: np.ndarray
    y: np.ndarray
    record: np.ndarray
    beats: ecg_preprocess.BeatSet
    task: str
    class_names: list
    feature_names: list
    settings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.size)

    @property
    def window_shape(self) -> tuple:
        return tuple(self.X.shape[1:])


def context_index(record: np.ndarray, sample: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each beat and its k-1 predecessors in the same record (oldest first).

    Beats are assumed ordered by (record, sample) as built; at a record start the
    first beat is repeated. k=1 gives (n, 1) = arange.
    """
    record = np.asarray(record).astype(str)
    n = record.size
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if n > 1 and not all((record[1:] != record[:-1]) | (np.diff(sample) > 0)):
        raise ValueError("beats must be sorted by sample within each record")
    start = np.zeros(n, dtype=np.int64)
    new = np.concatenate([[True], record[1:] != record[:-1]])
    start[new] = np.flatnonzero(new)
    start = np.maximum.accumulate(start)
    idx = np.arange(n)[:, None] + np.arange(-k + 1, 1)[None, :]
    return np.maximum(idx, start[:, None])


def prepare_inputs(
    folder,
    *,
    task: str,
    exclude,
    before: int,
    after: int,
    decimate: int,
    context_beats: int,
    peaks: str,
    order: int,
    normalisation: str,
    rr_features: str,
    label_reading: str = "statement",
    progress: bool = True,
) -> EcgInputs:
    """Load every record of ``folder`` (minus ``exclude``), window, label and featurise (the RR columns in the
    reading ``rr_features``: lib.ecg.features.RR_READINGS)."""
    records = ecg_data.load(folder, exclude=exclude, progress=progress)
    beats = ecg_preprocess.build_beats(
        records, progress=progress, before=before, after=after, order=order, normalisation=normalisation, peaks=peaks
    )
    F, names = ecg_features.beat_features(beats.X, beats.rr, beats.fs, beats.before, rr_features)
    Xd = ecg_preprocess.decimate_windows(beats.X, decimate)
    if context_beats > 1:
        Xd = Xd[context_index(beats.record, beats.sample, context_beats)]
    y = ecg_preprocess.labels(beats, task)
    if task == "rhythm":
        y = rhythm_labels(beats.rhythm, beats.rhythm_string, beats.aami, label_reading, record=beats.record)
    return EcgInputs(
        X=Xd,
        F=F,
        y=y,
        record=beats.record.astype(str),
        beats=beats,
        task=task,
        class_names=ecg_preprocess.class_names(task),
        feature_names=names,
        settings={
            "before": before,
            "after": after,
            "decimate": decimate,
            "context_beats": context_beats,
            "peaks": peaks,
            "filter_order": order,
            "normalisation": normalisation,
            "rr_features": rr_features,
            "label_reading": label_reading,
        },
    )


def with_rr_reading(data: EcgInputs, reading: str) -> EcgInputs:
    """``data`` with its RR columns recomputed in another reading (lib.ecg.features.rr_features) from the beats."""
    from dataclasses import replace

    if data.settings.get("rr_features") == reading:
        return data
    F = np.array(data.F, copy=True)
    F[:, rr_columns(data)] = ecg_features.rr_features(data.beats.rr, reading).astype(np.float32)
    names = ecg_features.rr_names(reading) + list(data.feature_names[len(ecg_features.RR_NAMES) :])
    return replace(data, F=F, feature_names=names, settings={**data.settings, "rr_features": reading})


def _cap(idx: np.ndarray, y: np.ndarray, max_n: int | None, seed: int) -> np.ndarray:
    """At most ``max_n`` of ``idx`` (stratified by ``y[idx]``, seeded; None or 0 keeps all)."""
    return subsample(idx, max_n, seed, strata=np.asarray(y)[np.asarray(idx)])


def make_splits(
    data: EcgInputs,
    seed: int = 0,
    max_train: int | None = None,
    max_val: int | None = None,
    max_test: int | None = None,
    grouped_val: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """{'random': 70/15/15 beat split, 'interpatient': DS1 (train/val) / DS2 (test)}.

    ``grouped_val``: the inter-patient validation part is whole held-out DS1 records (never beats of
    the training patients); otherwise a random share of DS1 beats.

    Train and validation are capped at max_train / max_val beats (stratified
    subsample); the test part is capped only for the random split (never whole
    patients of DS2 are dropped: ``max_test`` is ignored for 'interpatient').
    """
    out = {
        "random": ecg_splits.random_split(data.y, seed=seed),
        "interpatient": ecg_splits.interpatient_split(data.record, data.y, seed=seed, grouped_val=grouped_val),
    }
    for name, sp in out.items():
        sp["train"] = _cap(sp["train"], data.y, max_train, seed)
        sp["val"] = _cap(sp["val"], data.y, max_val, seed)
        if name == "random":
            sp["test"] = _cap(sp["test"], data.y, max_test, seed)
    return out


def split_counts(data: EcgInputs, splits: dict) -> pd.DataFrame:
    """Class counts per split part: rows (split, part), one column per class + total + n_records."""
    rows = []
    for name, sp in splits.items():
        for part, idx in sp.items():
            counts = np.bincount(data.y[idx], minlength=len(data.class_names))
            rows.append(
                {
                    "split": name,
                    "part": part,
                    **dict(zip(data.class_names, counts.tolist())),
                    "total": int(idx.size),
                    "n_records": int(np.unique(data.record[idx]).size),
                }
            )
    return pd.DataFrame(rows)


def model_features(kind: str, data: EcgInputs, use_features: bool = True) -> np.ndarray | None:
    """The feature matrix a model kind reads: the RR columns for ``rr_forest``, none for signal-only models."""
    if kind == "rr_forest":
        return data.F[:, rr_columns(data)]
    return data.F if use_features else None


def rr_columns(data: EcgInputs) -> list[int]:
    """Columns of ``data.F`` holding the RR-interval features (lib.ecg.features.rr_names of any reading)."""
    cols = [i for i, n in enumerate(data.feature_names) if n.startswith("rr_")]
    if len(cols) != len(ecg_features.RR_NAMES):
        raise ValueError(f"expected {len(ecg_features.RR_NAMES)} RR columns, found {len(cols)}")
    return cols


def example_figures(data: EcgInputs, seed: int, out: Outputs) -> None:
    """Example windows per rhythm class and per AAMI beat class."""
    from lib.ecg import plots

    b = data.beats
    for labels, names, kind, title in (
        (b.rhythm, ecg_data.RHYTHM_CLASSES, "rhythm", "rhythm class"),
        (b.aami, ecg_data.AAMI_CLASSES, "aami", "AAMI beat class"),
    ):
        fig = plots.example_windows(b.X, labels, names, b.fs, b.before, seed=seed, title=f"Example windows per {title}")
        out.figure(fig, f"example_windows_{kind}")


def class_counts_table(data: EcgInputs, splits: dict) -> pd.DataFrame:
    """Per split part: task-class counts, total, n_records and the AAMI class counts (``*_aami`` on clashes)."""
    from dataclasses import replace

    counts = split_counts(data, splits)
    aami = split_counts(replace(data, y=data.beats.aami, class_names=ecg_data.AAMI_CLASSES), splits)
    return counts.merge(aami.drop(columns=["total", "n_records"]), on=["split", "part"], suffixes=("", "_aami"))


def describe_inputs(data: EcgInputs) -> str:
    """A few lines: windows, records, input shape, skipped beats, rhythm and AAMI class counts."""
    n_rhythm = np.bincount(data.beats.rhythm, minlength=len(ecg_data.RHYTHM_CLASSES)).tolist()
    n_aami = np.bincount(data.beats.aami, minlength=len(ecg_data.AAMI_CLASSES)).tolist()
    return "\n".join(
        [
            f"{len(data)} windows from {len(np.unique(data.record))} records; model input shape {data.window_shape}, "
            f"{data.F.shape[1]} hand-crafted features",
            f"skipped beats by reason: {dict(data.beats.skipped)}",
            f"rhythm classes: {dict(zip(ecg_data.RHYTHM_CLASSES, n_rhythm))}",
            f"AAMI classes: {dict(zip(ecg_data.AAMI_CLASSES, n_aami))}",
        ]
    )


def describe_validation(data: EcgInputs, split: dict) -> str:
    """One sentence: the records of the inter-patient validation part, which of them hold AF/flutter, and which
    AF/flutter records the training part keeps (records 201 and 202 are one patient: a held-out 201 is the DS1 tape
    of DS2's 202)."""
    af = ecg_data.RHYTHM_CLASSES.index("af_flutter")
    y, rec = np.asarray(data.y), np.asarray(data.record).astype(str)

    def names(idx, only_af=False):
        idx = np.asarray(idx)
        keep = y[idx] == af if only_af else np.ones(idx.size, dtype=bool)
        return sorted(set(rec[idx][keep].tolist()))

    val, val_af, tr_af = names(split["val"]), names(split["val"], True), names(split["train"], True)
    text = (
        f"Validation records (held-out DS1 patients): {', '.join(val)}; with AF/flutter beats: "
        f"{', '.join(val_af) or 'none'}; the training part keeps the AF/flutter record(s) {', '.join(tr_af) or 'none'}."
    )
    twin = [r for r in val if ecg_data.SAME_PATIENT.get(r, r) != r]
    if twin:
        text += (
            f" Record(s) {', '.join(twin)} share a patient with another record "
            f"({', '.join(ecg_data.SAME_PATIENT[r] for r in twin)}): a DS2 patient's other tape chooses the early "
            "stopping and the validation threshold of the headline networks (section 4's sensitivity rows leave named "
            "DS2 records out)."
        )
    return text
