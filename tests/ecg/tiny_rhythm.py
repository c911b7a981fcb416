"""A tiny rhythm-study case shared by tests: 8 records of 40 beats, AF in four of them (201, 202, 210, 219)."""

import types

import numpy as np

from lib.ecg.data import RHYTHM_CLASSES

RECORDS = ["100", "101", "103", "105", "201", "202", "210", "219"]
PER = 40
SEQ = {"seq_len": 8, "units": 2, "dense": 2, "dropout": 0.0, "lr": 0.01, "batch_size": 8, "inner_k": 2}


def tiny_case(v_beats: bool = False):
    """(data, split, X, af): beats 10-29 of the AF records are AF; ``v_beats``: beats 5-7 of record 105 are class 2
    and AAMI V. X: one AF-driven and one non-sinus-driven noisy column (float32, seed 0)."""
    rng = np.random.default_rng(0)
    record = np.repeat(RECORDS, PER)
    y = np.zeros(record.size, dtype=int)
    af = RHYTHM_CLASSES.index("af_flutter")
    for r in ("201", "202", "210", "219"):
        y[np.flatnonzero(record == r)[10:30]] = af
    aami = np.zeros(record.size, dtype=int)
    if v_beats:
        y[np.flatnonzero(record == "105")[5:8]] = 2
        aami[np.flatnonzero(record == "105")[5:8]] = 2  # V beats
    X = np.c_[(y == af) + rng.normal(0, 0.4, y.size), (y != 0) + rng.normal(0, 0.4, y.size)].astype("float32")
    beats = types.SimpleNamespace(sample=np.tile(np.arange(PER) * 360, len(RECORDS)), fs=360.0, aami=aami)
    data = types.SimpleNamespace(record=record, y=y, beats=beats, settings={"label_reading": "statement"})
    split = {
        "train": np.flatnonzero(np.isin(record, ["100", "101", "201", "219"])),
        "val": np.flatnonzero(np.isin(record, ["103"])),
        "test": np.flatnonzero(np.isin(record, ["105", "202", "210"])),
    }
    return data, split, X, af
