"""Near-duplicate originals and byte-identical files of the eye set, and the pixel check of candidate pairs.

:func:`near_duplicate_pairs` finds originals that are near-duplicates of each other (feature cosine of a pair at or
above a threshold; e.g. consecutive frames of one eye without a shared patient id); :func:`verify_pairs` checks
each such pair at the pixel level (the warped correlation of the high-pass green channel at twice the link
thumbnail: vessel detail; the same family of score as the copy links of :mod:`lib.eye.copies`: a pixel check, not an
independent detector) and the near-duplicate grouping joins only the verified pairs (or, with ``tie_join``, the
pairs an ambiguous copy ties: :func:`tie_pairs`). :func:`verifier_reference` gives pairs of known status to read the
check against. :func:`exact_duplicates` lists the byte-identical files (the data's SHA256SUMS), including those filed
under two classes. The ``*_rows`` functions pick the pairs the notebook's figures show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from tqdm import tqdm

from lib.core.checksums import read_sha256sums
from lib.eye import bar
from lib.eye.copies import CopyConfig, candidate_counts, centred_unit, green_signals, originals_mask, read_rgb, warps


def nearest_original_cosine(files: list[str], similarity: np.ndarray) -> pd.DataFrame:
    """Every original's nearest other original (any class) by ``similarity`` (n, n): file, nearest, cosine."""
    idx = np.flatnonzero(originals_mask(files))
    S = np.array(similarity[np.ix_(idx, idx)], dtype=float)
    np.fill_diagonal(S, -np.inf)
    j = S.argmax(axis=1)
    return pd.DataFrame(
        {"file": [files[i] for i in idx], "nearest": [files[idx[k]] for k in j], "cosine": S[np.arange(len(idx)), j]}
    )


def tie_pairs(links: pd.DataFrame, max_candidates: int) -> pd.DataFrame:
    """Pairs of originals (columns a, b; a < b) that an ambiguous copy ties (its best source and every other candidate
    within the tie margin, ``also``), for copies with 2 to ``max_candidates`` candidates: the copy matches each of
    them about equally well, evidence that they show one eye (e.g. consecutive frames). Empty when
    ``max_candidates`` < 2."""
    rows = set()
    if max_candidates >= 2 and len(links):
        n = candidate_counts(links)
        part = links[links["linked"] & (n >= 2) & (n <= max_candidates)]
        for src, also in zip(part["source"], part["also"].fillna("")):
            tied = sorted({src, *[a.strip() for a in str(also).split("|") if a.strip()]})
            rows |= {(a, b) for i, a in enumerate(tied) for b in tied[i + 1 :]}
    return pd.DataFrame(sorted(rows), columns=["a", "b"])


def mark_ties(pairs: pd.DataFrame, ties: pd.DataFrame, cut: float) -> pd.DataFrame:
    """Verified candidate pairs (:func:`verify_pairs`) with "copy tie" (the pair is in ``ties``, either order) and
    "verified" = pixel score >= ``cut`` or a copy tie."""
    tied = {(a, b) for a, b in zip(ties["a"], ties["b"])}
    tie = np.array([(a, b) in tied or (b, a) in tied for a, b in zip(pairs["a"], pairs["b"])], dtype=bool)
    return pairs.assign(**{"copy tie": tie, "verified": (pairs["pixel score"].to_numpy() >= cut) | tie})


def near_duplicate_pairs(files: list[str], similarity: np.ndarray, threshold: float) -> pd.DataFrame:
    """Pairs of originals with ``similarity`` >= ``threshold``: columns a, b, cosine, same class (highest first)."""
    idx = np.flatnonzero(originals_mask(files))
    S = np.array(similarity[np.ix_(idx, idx)], dtype=float)
    a, b = np.nonzero(np.triu(S >= threshold, k=1))
    df = pd.DataFrame({"a": [files[idx[i]] for i in a], "b": [files[idx[i]] for i in b], "cosine": S[a, b]})
    df["same class"] = df["a"].str.split("/").str[0] == df["b"].str.split("/").str[0]
    return df.sort_values("cosine", ascending=False, ignore_index=True)


def pair_score(root: Path, a: str, b: str, cfg: CopyConfig, ims: dict | None = None) -> float:
    """Pixel verification score of two originals: the best Pearson correlation, over every warp of ``cfg`` applied
    to ``b``, of the high-pass green channel inside ``a``'s fundus disc, at twice the link thumbnail (2 x
    ``cfg.size`` px) with half its blur. High-pass only: the plain channel of blurry look-alikes (featureless
    cataract) correlates highly between different eyes, their vessel detail does not."""
    size, blur = 2 * cfg.size, cfg.blur / 2
    ims = {} if ims is None else ims
    for f in (a, b):
        if f not in ims:
            ims[f] = read_rgb(Path(root) / f, 4 * cfg.size)
    sig = green_signals(ims[a], size, blur)
    mask = ndimage.binary_erosion(sig[0] > cfg.dark, iterations=max(1, size // 16))
    if mask.sum() < 16:
        mask = np.ones_like(mask)
    target = centred_unit(sig[1][mask])
    fine = CopyConfig(**{**cfg.__dict__, "size": size, "blur": blur})
    w = centred_unit(warps(ims[b], fine)[:, 1][:, mask])
    return float((w @ target).max())


def verify_pairs(root: Path, pairs: pd.DataFrame, cfg: CopyConfig, progress: bool = True) -> pd.DataFrame:
    """``pairs`` (columns a, b) with "pixel score" (:func:`pair_score`, symmetrised: the larger of both directions)
    and "verified" (pixel score >= ``cfg.near_pixel``)."""
    ims: dict = {}
    score = [
        max(pair_score(root, a, b, cfg, ims), pair_score(root, b, a, cfg, ims))
        for a, b in tqdm(list(zip(pairs["a"], pairs["b"])), desc="verify pairs", **bar(progress))
    ]
    return pairs.assign(**{"pixel score": np.asarray(score, float), "verified": np.asarray(score) >= cfg.near_pixel})


def verifier_reference(files: list[str], links: pd.DataFrame, patient: np.ndarray, n: int, seed: int) -> pd.DataFrame:
    """Pairs of known status for checking the pixel verifier (:func:`verify_pairs`) beside its candidates: up to
    ``n`` random "copy and its source" pairs (the same eye, augmented: single-candidate links) and up to ``n`` random
    "fellow eyes" pairs (the two eyes of one patient, ``patient`` groups of exactly two originals: different eyes,
    the hardest negatives the data names). Columns a, b, kind, same class (b is the source / the right eye)."""
    rng = np.random.default_rng(seed)
    linked = links[links["linked"] & (candidate_counts(links) < 2)]
    pick = rng.permutation(len(linked))[:n]
    pos = pd.DataFrame({"a": linked["file"].to_numpy()[pick], "b": linked["source"].to_numpy()[pick]})
    pos["kind"] = "copy and its source (same eye)"
    orig = np.flatnonzero(originals_mask(files))
    by_patient: dict = {}
    for i in orig:
        by_patient.setdefault(str(patient[i]), []).append(files[i])
    pairs = sorted(tuple(sorted(v)) for v in by_patient.values() if len(v) == 2)
    pick = rng.permutation(len(pairs))[:n]
    neg = pd.DataFrame({"a": [pairs[i][0] for i in pick], "b": [pairs[i][1] for i in pick]})
    neg["kind"] = "fellow eyes (one patient: different eyes)"
    out = pd.concat([pos, neg], ignore_index=True)
    out["same class"] = out["a"].str.split("/").str[0] == out["b"].str.split("/").str[0]
    return out


def verifier_summary(frames: list[pd.DataFrame], cut: float) -> pd.DataFrame:
    """Per kind of pair (column ``kind``) of :func:`verify_pairs` outputs: pairs, pixel score quartiles and the share
    at or above the cut ``cut`` (for known pairs: the check's pass rate; same eye should pass, fellow eyes not)."""
    checked = pd.concat([f[["kind", "pixel score"]] for f in frames if len(f)], ignore_index=True)
    rows = []
    for kind, part in checked.groupby("kind", sort=False):
        s = part["pixel score"].to_numpy(float)
        q = np.percentile(s, [0, 25, 50, 75, 100]) if len(s) else [np.nan] * 5
        rows.append(
            {
                "pairs": kind,
                "n": len(s),
                "pixel score min / q25 / median / q75 / max": " / ".join(f"{v:.2f}" for v in q),
                f"at or above {cut:g}": int((s >= cut).sum()),
                f"share at or above {cut:g} (%)": 100.0 * float((s >= cut).mean()) if len(s) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def band_pairs(files: list[str], similarity: np.ndarray, low: float, high: float, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` random pairs of originals with ``low`` <= similarity < ``high`` (the pairs just below the
    near-duplicate threshold: possible misses): columns a, b, cosine, same class."""
    idx = np.flatnonzero(originals_mask(files))
    S = np.array(similarity[np.ix_(idx, idx)], dtype=float)
    a, b = np.nonzero(np.triu((S >= low) & (S < high), k=1))
    pick = np.random.default_rng(seed).permutation(len(a))[:n]
    a, b = a[pick], b[pick]
    df = pd.DataFrame({"a": [files[idx[i]] for i in a], "b": [files[idx[i]] for i in b], "cosine": S[a, b]})
    df["same class"] = df["a"].str.split("/").str[0] == df["b"].str.split("/").str[0]
    return df.sort_values("cosine", ascending=False, ignore_index=True)


def exact_duplicates(root: Path, files: list[str]) -> pd.DataFrame:
    """Byte-identical files by the data's SHA256SUMS: one row per file of a hash held by 2+ files (columns sha256,
    file, class, classes of the hash, cross-class). Empty without a SHA256SUMS file."""
    sums_path = Path(root) / "SHA256SUMS"
    columns = ["sha256", "file", "class", "classes", "cross-class"]
    empty = pd.DataFrame({c: pd.Series(dtype=bool if c == "cross-class" else object) for c in columns})
    if not sums_path.is_file():
        return empty
    sums = read_sha256sums(sums_path)
    known = set(files)
    df = pd.DataFrame([{"sha256": h, "file": f} for f, h in sums.items() if f in known], columns=["sha256", "file"])
    df = df[df.duplicated("sha256", keep=False)].copy()
    if not len(df):
        return empty
    df["class"] = df["file"].str.split("/").str[0]
    df["classes"] = df.groupby("sha256")["class"].transform(lambda v: " | ".join(sorted(set(v))))
    df["cross-class"] = df["classes"].str.contains("|", regex=False)
    return df.sort_values(["cross-class", "sha256", "file"], ascending=[False, True, True], ignore_index=True)[columns]


def duplicate_pairs(dups: pd.DataFrame) -> pd.DataFrame:
    """Pairs (columns a, b) joining every file of a hash to the first one (for :func:`join_pairs`)."""
    rows = []
    for _, part in dups.groupby("sha256"):
        first, *rest = list(part["file"])
        rows += [{"a": first, "b": f} for f in rest]
    return pd.DataFrame(rows, columns=["a", "b"])


# ---------------------------------------------------------------- copies
def near_pair_rows(pairs: pd.DataFrame, n_top: int, n_edge: int, kind: str | None = None) -> list[dict]:
    """Rows (file = a, best = b) for the near-duplicate figure: the ``n_top`` most similar pairs and the ``n_edge``
    pairs nearest the threshold (the least similar ones still candidates); ``kind``: one label for every row
    instead. The pixel verification score and verdict are in the label when the pairs carry them."""
    if not len(pairs):
        return []
    top = pairs.head(n_top).assign(kind=kind or "most similar")
    edge = pairs.tail(n_edge).assign(kind=kind or "at the threshold")
    rows = pd.concat([top, edge]).drop_duplicates(["a", "b"])

    def label(r):
        if "pixel score" not in r:
            return r["kind"]
        return f"{r['kind']}; pixel {r['pixel score']:.2f} ({'joined' if r['verified'] else 'not joined'})"

    return [
        {"file": r["a"], "best": r["b"], "score": r["cosine"], "kind": label(r), "second": ""}
        for r in rows.to_dict("records")
    ]


def cut_pair_rows(pairs: pd.DataFrame, cut: float, n_each: int) -> list[dict]:
    """Rows (file = a, best = b) for the pixel-verifier check figure: the ``n_each`` joined pairs with the lowest
    pixel scores and the ``n_each`` rejected pairs with the highest (the verifier's closest calls around ``cut``),
    each labelled with its kind (when the pairs carry one), pixel score and verdict."""
    if not len(pairs):
        return []
    s = pairs["pixel score"]
    above = pairs[s >= cut].nsmallest(n_each, "pixel score")
    below = pairs[s < cut].nlargest(n_each, "pixel score")
    rows = []
    for r in pd.concat([above, below]).to_dict("records"):
        head = f"{r['kind']}; " if "kind" in r and isinstance(r["kind"], str) else ""
        verdict = "passes" if r["pixel score"] >= cut else "fails"
        tied = r["pixel score"] < cut and bool(r.get("copy tie", False))
        cut_text = f" {cut:g}" + (" (joined: copy tie)" if tied else "")
        rows.append(
            {
                "file": r["a"],
                "best": r["b"],
                "score": r["pixel score"],
                "kind": f"{head}pixel {r['pixel score']:.2f} {verdict}{cut_text}",
                "second": "",
            }
        )
    return rows


def hardest_known_rows(checked: pd.DataFrame, cut: float, n: int) -> list[dict]:
    """Rows for the pixel-verifier check figure from :func:`lib.eye.neardup.verifier_reference` pairs (verified): the
    ``n`` lowest-scoring same-eye pairs (copy and source: a miss if below ``cut``) and the ``n`` highest-scoring
    fellow-eye pairs (a false pass if at or above ``cut``)."""
    if not len(checked):
        return []
    same = checked["kind"].str.startswith("copy")
    parts = [checked[same].nsmallest(n, "pixel score"), checked[~same].nlargest(n, "pixel score")]
    rows = []
    for r in pd.concat(parts).to_dict("records"):
        verdict = "passes" if r["pixel score"] >= cut else "fails"
        label = f"{r['kind'].split(' (')[0]}; pixel {r['pixel score']:.2f} {verdict} {cut:g}"
        rows.append({"file": r["a"], "best": r["b"], "score": r["pixel score"], "kind": label, "second": ""})
    return rows
