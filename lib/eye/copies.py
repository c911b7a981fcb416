"""Augmented copies in the Kaggle eye set: find each copy's source image and group copies with their sources.

The 640 cataract and 600 glaucoma files named ``_<k>_<random>.jpg`` (all 256x256) are the output of an image
augmenter (the name is Keras ``ImageDataGenerator.flow(save_to_dir=...)``'s ``<prefix>_<index>_<hash>``): flipped,
rotated, zoomed and squashed (to a square) copies of images that sit in the same folder under their own names.
The file name does not say which image a copy came from, so :func:`link_copies` finds it:

1. every image is read at ``cfg.size`` px (green channel: the fundus detail), with a high-pass copy
   (minus a Gaussian blur, sigma ``cfg.blur`` px);
2. shortlist: the ``cfg.shortlist`` originals of the same folder most correlated with the copy under any of the
   8 flips/rotations by 90 degrees (whole image), plus the ``cfg.shortlist`` nearest by an optional second similarity
   (the notebook passes the cosine of the ImageNet features);
3. verification: each shortlisted original is warped by every combination of ``cfg.flips`` (0: as is, 1: mirrored,
   2: turned 180 degrees, 3: both), ``cfg.angles`` (degrees) and ``cfg.zooms`` (central crop factor), and compared
   with the copy inside the copy's fundus disc (pixels above ``cfg.dark`` of 255, eroded): the score is the mean of
   the Pearson correlations of the plain and the high-pass green channel;
4. a copy is linked to its best original when that score is at least ``cfg.min_score``; otherwise it stays
   unmatched (and keeps its own group). The score does not separate the true source from look-alikes by itself
   (blurry cataract images with little structure score >= 0.7 against several originals): a copy with a second
   candidate within ``cfg.tie_margin`` of its best score is *ambiguous* (:func:`ambiguous_mask`) and is dropped
   from the data rather than joined to all its candidates (joining chained a quarter of the cataract originals into
   one group; removing a copy cannot leak). Every other linked copy joins its single best source.

:func:`k_consistency` checks the links against the file names: copies sharing an index k should share a source.
:func:`near_duplicate_pairs` finds originals that are near-duplicates of each other (feature cosine of a pair at or
above a threshold; e.g. consecutive frames of one eye without a shared patient id); :func:`verify_pairs` checks
each such pair at the pixel level (the warped correlation of the high-pass green channel at twice the link
thumbnail: vessel detail; the same family of score as the copy links: a pixel check, not an independent
detector) and the near-duplicate grouping joins only the verified pairs (or, with ``tie_join``, the pairs an
ambiguous copy ties: :func:`tie_pairs`).
:func:`exact_duplicates` lists the byte-identical files (the data's SHA256SUMS), including those filed under two
classes.

:func:`link_groups` puts every copy in its source's group (union-find over the patient groups of
:func:`lib.eye.data.patient_groups` and the links), so a copy, its source and the source's other eye never sit on
both sides of a split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage
from tqdm import tqdm

from lib.eye import bar

#: an augmented copy's file name (``_<k>_<random>.<ext>``)
COPY_NAME = re.compile(r"^_(\d+)_(\d+)\.(?:jpg|jpeg|png)$", re.IGNORECASE)


@dataclass(frozen=True)
class CopyConfig:
    """params.yaml ``nb03.copies`` (all ours): thumbnail side ``size`` (px), high-pass ``blur`` (sigma, px),
    ``shortlist`` candidates per similarity, the warps tried (``flips`` codes, ``angles`` in degrees, ``zooms`` as
    central-crop factors), ``dark``: grey level below which a pixel is background, ``min_score``: the smallest
    verification score that links a copy."""

    size: int
    blur: float
    shortlist: int
    flips: tuple[int, ...]
    angles: tuple[float, ...]
    zooms: tuple[float, ...]
    dark: int
    min_score: float
    tie_margin: float
    near_duplicate: float = 0.9  # originals with a feature cosine at or above this are near-duplicate candidates
    near_pixel: float = 0.5  # ... joined (neardup protocol) when their pixel verification score is at least this
    tie_join: int = 0  # ... or when an ambiguous copy with at most this many candidates ties them (0: off)
    k_check: float = 0.0  # an unambiguous link whose k offset is unsupported and scores below this: dropped

    def __post_init__(self):
        for name in ("flips", "angles", "zooms"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.size < 16:
            raise ValueError(f"copies.size must be >= 16 px, got {self.size}")
        if not set(self.flips) <= {0, 1, 2, 3} or not self.flips:
            raise ValueError(f"copies.flips must be among 0..3, got {list(self.flips)}")
        if any(z < 1.0 for z in self.zooms) or not self.zooms:
            raise ValueError(f"copies.zooms must be >= 1 (central crop factors), got {list(self.zooms)}")
        if not 0.0 < self.min_score <= 1.0:
            raise ValueError(f"copies.min_score must be in (0, 1], got {self.min_score}")

    def describe(self) -> str:
        return (
            f"{self.size} px green channel (+ high-pass, sigma {self.blur} px); shortlist {self.shortlist} per "
            f"similarity; warps: {len(self.flips)} flips x angles {list(self.angles)} deg x zooms {list(self.zooms)}; "
            f"linked when score >= {self.min_score}; a copy with a second candidate within {self.tie_margin} of its "
            "best score is ambiguous and dropped from the data (not joined)"
            + (
                f"; its candidates (at most {self.tie_join}) count as one eye for the near-duplicate grouping"
                if self.tie_join >= 2
                else ""
            )
            + (
                f"; a single-candidate link scoring below {self.k_check} whose copy index k disagrees with its "
                "k-neighbours' source offsets is dropped too"
                if self.k_check > 0
                else ""
            )
        )


def is_copy(rel: str) -> bool:
    """True for an augmented copy ``<class>/_<k>_<random>.<ext>``."""
    return bool(COPY_NAME.match(rel.rsplit("/", 1)[-1]))


def originals_mask(files: list[str]) -> np.ndarray:
    """(n,) bool: True for every image that is not an augmented copy (the "originals only" protocol)."""
    return np.array([not is_copy(f) for f in files], dtype=bool)


def _flip(im: Image.Image, code: int) -> Image.Image:
    if code >= 2:
        im = im.transpose(Image.Transpose.ROTATE_180)
    return im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if code % 2 else im


def _signals(im: Image.Image, size: int, blur: float) -> np.ndarray:
    """(2, size, size) float32: the green channel and its high-pass version."""
    g = np.asarray(im.getchannel("G").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    return np.stack([g, g - ndimage.gaussian_filter(g, blur)])


def warps(im: Image.Image, cfg: CopyConfig) -> np.ndarray:
    """(n_warps, 2, size, size): ``im`` (RGB, square) under every flip x angle x zoom of ``cfg`` (order:
    :func:`warp_names`)."""
    out = []
    n = im.size[0]
    for code in cfg.flips:
        flipped = _flip(im, code)
        for angle in cfg.angles:
            turned = flipped.rotate(angle, resample=Image.Resampling.BILINEAR) if angle else flipped
            for z in cfg.zooms:
                c = n / z
                o = (n - c) / 2
                crop = turned if z == 1.0 else turned.crop((o, o, o + c, o + c)).resize((n, n))
                out.append(_signals(crop, cfg.size, cfg.blur))
    return np.stack(out)


def warp_names(cfg: CopyConfig) -> list[str]:
    names = {0: "as is", 1: "mirrored", 2: "turned 180", 3: "turned 180 + mirrored"}
    return [f"{names[f]}, {a:+g} deg, zoom {z:g}" for f in cfg.flips for a in cfg.angles for z in cfg.zooms]


def _unit(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(axis=-1, keepdims=True)
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-6)


def _dihedral(sig: np.ndarray) -> np.ndarray:
    """(8, 2, s, s): the 8 flips/rotations by 90 degrees of (2, s, s) signals."""
    out = []
    for k in range(4):
        r = np.rot90(sig, k, axes=(1, 2))
        out += [r, r[:, :, ::-1]]
    return np.stack(out)


def _read(path: Path, n: int) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB").resize((n, n), Image.Resampling.BILINEAR)


def link_copies(
    root: Path, files: list[str], cfg: CopyConfig, similarity: np.ndarray | None = None, progress: bool = True
) -> pd.DataFrame:
    """Find the source of every copy among the originals of its folder.

    root: dataset folder; files: ``<class>/<name>`` of every image (n); similarity: optional (n, n) array (higher =
    more alike, e.g. feature cosine) for the second shortlist. Returns one row per copy: file, best (the best
    original), score, second (the runner-up original), second_score, warp (of the best), linked (score >=
    ``cfg.min_score``), source (best when linked, else "").
    """
    root = Path(root)
    index = {f: i for i, f in enumerate(files)}
    rows = []
    classes = sorted({f.split("/", 1)[0] for f in files if is_copy(f)})
    names = warp_names(cfg)
    for cls in classes:
        copies = [f for f in files if f.startswith(cls + "/") and is_copy(f)]
        originals = [f for f in files if f.startswith(cls + "/") and not is_copy(f)]
        if not originals:
            rows += [{"file": f, "best": "", "score": np.nan, "linked": False, "source": ""} for f in copies]
            continue
        big = 4 * cfg.size
        ims = {f: _read(root / f, big) for f in tqdm(originals + copies, desc=f"read {cls}", **bar(progress))}
        base = np.stack([_signals(ims[f], cfg.size, cfg.blur) for f in originals])  # (no, 2, s, s)
        dih = _unit(np.stack([_dihedral(b) for b in base]).reshape(len(originals), 8, -1))  # (no, 8, 2*s*s)
        cache: dict[int, np.ndarray] = {}
        for f in tqdm(copies, desc=f"link {cls} copies", **bar(progress)):
            sig = _signals(ims[f], cfg.size, cfg.blur)
            quick = (dih @ _unit(sig.reshape(-1))).max(axis=1)
            short = set(np.argsort(-quick)[: cfg.shortlist])
            if similarity is not None:
                s = similarity[index[f], [index[o] for o in originals]]
                short |= set(np.argsort(-s)[: cfg.shortlist])
            mask = ndimage.binary_erosion(sig[0] > cfg.dark, iterations=max(1, cfg.size // 16))
            if mask.sum() < 16:
                mask = np.ones_like(mask)
            target = _unit(sig[:, mask])  # (2, m)
            scores = {}
            for j in sorted(short):
                if j not in cache:
                    cache[j] = warps(ims[originals[j]], cfg)
                w = _unit(cache[j][:, :, mask])  # (n_warps, 2, m)
                per = 0.5 * ((w[:, 0] @ target[0]) + (w[:, 1] @ target[1]))
                scores[j] = (float(per.max()), int(per.argmax()))
            order = sorted(scores, key=lambda j: -scores[j][0])
            best, second = order[0], order[1] if len(order) > 1 else None
            score = scores[best][0]
            joined = [originals[j] for j in order[1:] if score - scores[j][0] < cfg.tie_margin]
            rows.append(
                {
                    "file": f,
                    "best": originals[best],
                    "score": score,
                    "second": originals[second] if second is not None else "",
                    "second_score": scores[second][0] if second is not None else np.nan,
                    "warp": names[scores[best][1]],
                    "linked": score >= cfg.min_score,
                    "source": originals[best] if score >= cfg.min_score else "",
                    "also": " | ".join(joined) if score >= cfg.min_score else "",
                    "candidates": 1 + len(joined),
                }
            )
    columns = ["file", "best", "score", "second", "second_score", "warp", "linked", "source", "also", "candidates"]
    return pd.DataFrame(rows, columns=columns)


def feature_similarity(X: np.ndarray) -> np.ndarray:
    """(n, n) cosine similarity of the centred feature rows of X (n, d): the second shortlist of :func:`link_copies`."""
    Z = np.asarray(X, dtype=np.float64) - np.asarray(X, dtype=np.float64).mean(axis=0)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True) + 1e-12
    return Z @ Z.T


def pair_images(root: Path, rows: list[dict], size: int = 96, colors: int = 0) -> dict:
    """{file: (size, size, 3) uint8} of every image named in the matched-pairs rows; ``colors`` > 0: reduced to
    that many colours (keeps the executed notebook small; the structure a reader compares stays visible)."""
    from lib.eye.data import read_image

    names = {r[k] for r in rows for k in ("file", "best", "second") if r.get(k)}
    out = {f: read_image(Path(root) / f, size) for f in sorted(names)}
    if colors:
        out = {f: np.asarray(Image.fromarray(v).quantize(colors).convert("RGB")) for f, v in out.items()}
    return out


def _candidates(links: pd.DataFrame) -> pd.Series:
    """Candidates per link (1 where the table has no ``candidates`` column)."""
    if "candidates" not in links:
        return pd.Series(1, index=links.index)
    return pd.to_numeric(links["candidates"]).fillna(1)


def dropped_links(links: pd.DataFrame) -> pd.Series:
    """(rows,) bool: the linked copies dropped from the data: a second candidate within the tie margin
    (``candidates`` >= 2) or an unsupported k offset (``k unsupported``, :func:`k_check`)."""
    flagged = links["k unsupported"].astype(bool) if "k unsupported" in links else False
    return links["linked"].astype(bool) & ((_candidates(links) >= 2) | flagged)


def k_check(links: pd.DataFrame, files: list[str], below: float, window: int = 1, tol: int = 1) -> pd.DataFrame:
    """``links`` with a column ``k unsupported``: a linked single-candidate copy scoring below ``below`` whose offset
    k - rank of its source (rank among the class's originals in file order; ``k`` from ``_<k>_``) is within
    ``tol`` of no other linked copy's offset with k within ``window`` of its own (the augmenter numbers its inputs in
    order, so neighbouring k share an offset). Such a link is treated as ambiguous (dropped); ``below`` <= 0: off."""
    out = links.copy()
    out["k unsupported"] = False
    if below <= 0 or not len(out):
        return out
    ok = out["linked"].astype(bool) & out["file"].map(lambda f: COPY_NAME.match(f.rsplit("/", 1)[-1]) is not None)
    part = out[ok].copy()
    part["class"] = part["file"].str.split("/").str[0]
    part["k"] = [int(COPY_NAME.match(f.rsplit("/", 1)[-1]).group(1)) for f in part["file"]]
    for c, rows in part.groupby("class"):
        rank = {f: i for i, f in enumerate(f for f in files if f.startswith(c + "/") and not is_copy(f))}
        off = (rows["k"] - rows["best"].map(rank)).to_numpy(dtype=float)
        k = rows["k"].to_numpy()
        for i, idx in enumerate(rows.index):
            near = (np.abs(k - k[i]) <= window) & (np.arange(len(k)) != i)
            supported = bool((np.abs(off[near] - off[i]) <= tol).any())
            single = _candidates(rows).loc[idx] < 2
            out.loc[idx, "k unsupported"] = bool(single and not supported and rows.loc[idx, "score"] < below)
    return out


def ambiguous_mask(files: list[str], links: pd.DataFrame) -> np.ndarray:
    """(n,) bool: the linked copies dropped from the data (:func:`dropped_links`)."""
    amb = set(links.loc[dropped_links(links), "file"])
    return np.array([f in amb for f in files], dtype=bool)


def link_groups(files: list[str], patient: np.ndarray, links: pd.DataFrame) -> np.ndarray:
    """(n,) group id: the connected components of "same patient group" and "copy -> its single best source" (an
    ambiguous copy, :func:`ambiguous_mask`, keeps its own group: it is dropped from the data); each group is
    named by the alphabetically first patient group of its originals (of its copies when it has no original)."""
    parent = list(range(len(files)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    first: dict[str, int] = {}
    for i, g in enumerate(patient):
        union(i, first.setdefault(str(g), i))
    index = {f: i for i, f in enumerate(files)}
    for _, r in links[links["linked"] & ~dropped_links(links)].iterrows():
        union(index[r["file"]], index[r["source"]])
    roots = np.array([find(i) for i in range(len(files))])
    name: dict = {}
    for i, r in enumerate(roots):  # originals' groups name the component before any copy's
        key = (is_copy(files[i]), str(patient[i]))
        name[r] = min(name.get(r, key), key)
    return np.array([name[r][1] for r in roots])


def group_table(files: list[str], groups: np.ndarray, links: pd.DataFrame, neardup=None, dropped=None) -> pd.DataFrame:
    """Every image's group: columns file (``<class>/<name>``), group (copy-grouped), neardup group (the headline's,
    when given), linked source (copies only; '' otherwise), dropped (ambiguous copies, when given: with the
    candidates within the tie margin, ``a | b``)."""
    source = dict(zip(links["file"], links["source"]))
    out = pd.DataFrame({"file": files, "group": groups})
    if neardup is not None:
        out["neardup group"] = neardup
    out["linked source"] = [source.get(f, "") for f in files]
    if dropped is not None:
        also = {f: f"{s} | {a}" for f, s, a in zip(links["file"], links["source"], links["also"].fillna(""))}
        out["dropped (ambiguous copy)"] = [also.get(f, "") if d else "" for f, d in zip(files, dropped)]
    return out


def link_counts(links: pd.DataFrame) -> pd.DataFrame:
    """Per class: copies, linked (a source found), of them linked to one source and ambiguous (dropped,
    :func:`dropped_links`), unmatched, share linked to one source (%), sources with more than one copy."""
    if not len(links):
        return pd.DataFrame(
            columns=["class", "copies", "linked", "linked to one source", "ambiguous (dropped)", "unmatched"]
        )
    cls = links["file"].str.split("/").str[0]
    rows = []
    for c, part in links.groupby(cls):
        linked = part[part["linked"]]
        rows.append(
            {
                "class": c,
                "copies": len(part),
                "linked": len(linked),
                "linked to one source": int((~dropped_links(linked)).sum()),
                "ambiguous (dropped)": int(dropped_links(linked).sum()),
                "unmatched": len(part) - len(linked),
                "linked to one source (%)": 100.0 * int((~dropped_links(linked)).sum()) / len(part),
                "sources used": linked["source"].nunique(),
                "sources with 2+ copies": int((linked["source"].value_counts() > 1).sum()),
                "uncertain (linked to 2+)": int((linked["also"].fillna("") != "").sum()),
            }
        )
    return pd.DataFrame(rows)


def k_consistency(links: pd.DataFrame, files: list[str]) -> pd.DataFrame:
    """Per class, the links checked against the copies' index k (``_<k>_``): linked copies, distinct k, k values
    whose linked copies all share one best source, copies whose best source is their k's most common one, and the
    share of copies whose k equals their best source's rank among the class's originals (in file order) plus the
    most common offset k - rank (0 when the augmenter numbered its inputs in file order); the converse: sources
    whose linked copies carry 2+ distinct k, their copies, and the most common k spread (max - min, to tens) within
    such a source (a steady spread: a second augmenter pass over the same inputs, not false links)."""
    rows = []
    linked = links[links["linked"]].copy()
    if not len(linked):
        return pd.DataFrame(columns=["class", "linked copies"])
    linked["class"] = linked["file"].str.split("/").str[0]
    linked["k"] = [int(COPY_NAME.match(f.rsplit("/", 1)[-1]).group(1)) for f in linked["file"]]
    for c, part in linked.groupby("class"):
        originals = [f for f in files if f.startswith(c + "/") and not is_copy(f)]
        rank = {f: i for i, f in enumerate(originals)}
        modal = part.groupby("k")["best"].agg(lambda v: v.value_counts().index[0])
        same = part.groupby("k")["best"].nunique()
        offset = part["k"] - part["best"].map(rank)
        common = int(offset.value_counts().index[0])
        per_source = part.groupby("best")["k"]
        multi_k = per_source.nunique()[per_source.nunique() > 1].index
        spreads = (per_source.max() - per_source.min())[multi_k]
        spread = int(spreads.round(-1).value_counts().index[0]) if len(spreads) else 0
        rows.append(
            {
                "class": c,
                "linked copies": len(part),
                "distinct k": int(part["k"].nunique()),
                "k with one source (%)": 100.0 * float((same == 1).mean()),
                "copies on their k's modal source (%)": 100.0 * float((part["best"] == part["k"].map(modal)).mean()),
                "most common k - rank": common,
                "copies with k - rank = it (%)": 100.0 * float((offset == common).mean()),
                "copies with 2+ candidates (%)": 100.0 * float((part["candidates"] > 1).mean()),
                "sources with 2+ distinct k": int((part.groupby("best")["k"].nunique() > 1).sum()),
                "their copies": int(part["best"].isin(multi_k).sum()),
                "most common k spread within a source": spread,
            }
        )
    return pd.DataFrame(rows)


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
        n = _candidates(links)
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


def join_pairs(files: list[str], groups: np.ndarray, pairs: pd.DataFrame) -> np.ndarray:
    """(n,) groups with the groups of every pair (columns a, b: files) merged; a merged group takes the
    alphabetically first name among its parts."""
    groups = np.asarray(groups).astype(str)
    names = sorted(set(groups))
    parent = {g: g for g in names}

    def find(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    index = {f: i for i, f in enumerate(files)}
    for a, b in zip(pairs["a"], pairs["b"]):
        ra, rb = find(groups[index[a]]), find(groups[index[b]])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(g) for g in groups])


def pair_score(root: Path, a: str, b: str, cfg: CopyConfig, ims: dict | None = None) -> float:
    """Pixel verification score of two originals: the best Pearson correlation, over every warp of ``cfg`` applied
    to ``b``, of the high-pass green channel inside ``a``'s fundus disc, at twice the link thumbnail (2 x
    ``cfg.size`` px) with half its blur. High-pass only: the plain channel of blurry look-alikes (featureless
    cataract) correlates highly between different eyes, their vessel detail does not."""
    size, blur = 2 * cfg.size, cfg.blur / 2
    ims = {} if ims is None else ims
    for f in (a, b):
        if f not in ims:
            ims[f] = _read(Path(root) / f, 4 * cfg.size)
    sig = _signals(ims[a], size, blur)
    mask = ndimage.binary_erosion(sig[0] > cfg.dark, iterations=max(1, size // 16))
    if mask.sum() < 16:
        mask = np.ones_like(mask)
    target = _unit(sig[1][mask])
    fine = CopyConfig(**{**cfg.__dict__, "size": size, "blur": blur})
    w = _unit(warps(ims[b], fine)[:, 1][:, mask])
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
    linked = links[links["linked"] & (_candidates(links) < 2)]
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
    from lib.core.checksums import read_sha256sums

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
