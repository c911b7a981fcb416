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
   unmatched (it is dropped from the data: no group can hold it with its unknown source). The score does not
   separate the true source from look-alikes by itself (blurry cataract images with little structure score >= 0.7
   against several originals): a copy with a second candidate within ``cfg.tie_margin`` of its best score is
   *ambiguous* and is put in one group with all those candidates (its true source is among them, so it never sits
   apart from it; conservative: chained candidate sets may join many look-alike eyes into one group, see
   :func:`join_group_facts`), unless its file name fixes its source
   (:func:`lib.eye.copy_check.resolve_links`). Every other linked copy joins its single best source.

:func:`lib.eye.copy_check.k_check` flags unsupported low-scoring links by their index k, and
:func:`lib.eye.copy_check.k_consistency` checks the links against the file names (copies sharing an index k should
share a source). Near-duplicate originals, the pixel check of their pairs and the byte-identical files are in
:mod:`lib.eye.neardup`.

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
from lib.eye.data import read_image

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
    k_check: float = 0.0  # an unambiguous link whose k offset is unsupported and scores below this: flagged

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
            "best score is ambiguous and joined to all those candidates (one group), unless its file name fixes its "
            "source (a class whose unambiguous links all share one offset k - rank); an unmatched copy is dropped"
            + (
                f"; its candidates (at most {self.tie_join}) count as one eye for the near-duplicate grouping"
                if self.tie_join >= 2
                else ""
            )
            + (
                f"; a single-candidate link scoring below {self.k_check} whose copy index k disagrees with its "
                "k-neighbours' source offsets is flagged (joined with its one candidate and the source its "
                "k-neighbours imply)"
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


def green_signals(im: Image.Image, size: int, blur: float) -> np.ndarray:
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
                out.append(green_signals(crop, cfg.size, cfg.blur))
    return np.stack(out)


def warp_names(cfg: CopyConfig) -> list[str]:
    names = {0: "as is", 1: "mirrored", 2: "turned 180", 3: "turned 180 + mirrored"}
    return [f"{names[f]}, {a:+g} deg, zoom {z:g}" for f in cfg.flips for a in cfg.angles for z in cfg.zooms]


def centred_unit(v: np.ndarray) -> np.ndarray:
    """Rows (last axis) centred and scaled to unit length: a dot product of two is their Pearson correlation."""
    v = v - v.mean(axis=-1, keepdims=True)
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-6)


def _dihedral(sig: np.ndarray) -> np.ndarray:
    """(8, 2, s, s): the 8 flips/rotations by 90 degrees of (2, s, s) signals."""
    out = []
    for k in range(4):
        r = np.rot90(sig, k, axes=(1, 2))
        out += [r, r[:, :, ::-1]]
    return np.stack(out)


def read_rgb(path: Path, n: int) -> Image.Image:
    """The image at ``path`` as RGB, resized to n x n px (bilinear)."""
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
        ims = {f: read_rgb(root / f, big) for f in tqdm(originals + copies, desc=f"read {cls}", **bar(progress))}
        base = np.stack([green_signals(ims[f], cfg.size, cfg.blur) for f in originals])  # (no, 2, s, s)
        dih = centred_unit(np.stack([_dihedral(b) for b in base]).reshape(len(originals), 8, -1))  # (no, 8, 2*s*s)
        cache: dict[int, np.ndarray] = {}
        for f in tqdm(copies, desc=f"link {cls} copies", **bar(progress)):
            sig = green_signals(ims[f], cfg.size, cfg.blur)
            quick = (dih @ centred_unit(sig.reshape(-1))).max(axis=1)
            short = set(np.argsort(-quick)[: cfg.shortlist])
            if similarity is not None:
                s = similarity[index[f], [index[o] for o in originals]]
                short |= set(np.argsort(-s)[: cfg.shortlist])
            mask = ndimage.binary_erosion(sig[0] > cfg.dark, iterations=max(1, cfg.size // 16))
            if mask.sum() < 16:
                mask = np.ones_like(mask)
            target = centred_unit(sig[:, mask])  # (2, m)
            scores = {}
            for j in sorted(short):
                if j not in cache:
                    cache[j] = warps(ims[originals[j]], cfg)
                w = centred_unit(cache[j][:, :, mask])  # (n_warps, 2, m)
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
    names = {r[k] for r in rows for k in ("file", "best", "second") if r.get(k)}
    out = {f: read_image(Path(root) / f, size) for f in sorted(names)}
    if colors:
        out = {f: np.asarray(Image.fromarray(v).quantize(colors).convert("RGB")) for f, v in out.items()}
    return out


def candidate_counts(links: pd.DataFrame) -> pd.Series:
    """Candidates per link (1 where the table has no ``candidates`` column)."""
    if "candidates" not in links:
        return pd.Series(1, index=links.index)
    return pd.to_numeric(links["candidates"]).fillna(1)


#: a copy's link status (column ``link`` of :func:`lib.eye.copy_check.resolve_links`)
ONE_SOURCE = "one source"
BY_NAME = "one source (file name)"
K_UNSUPPORTED = "one source (k offset unsupported)"
JOINED = "joined to all candidates"
UNMATCHED = "unmatched (dropped)"


def joined_originals(links: pd.DataFrame) -> list[list[str]]:
    """Per link row, the originals its copy is grouped with: column ``joins`` (``a | b``) when present (see
    :func:`lib.eye.copy_check.resolve_links`), else the best source and every other candidate within the tie margin
    (``also``) of a linked copy; [] for an unmatched copy."""
    if "joins" in links:
        col = links["joins"].fillna("")
    else:
        also = links["also"].fillna("") if "also" in links else [""] * len(links)
        col = [
            " | ".join(x for x in (s, a) if x) if ok else ""
            for s, a, ok in zip(links["source"], also, links["linked"].astype(bool))
        ]
    return [[x.strip() for x in str(v).split("|") if x.strip()] for v in col]


def link_status(links: pd.DataFrame) -> pd.Series:
    """(rows,) each copy's status: the ``link`` column, or, when :func:`lib.eye.copy_check.resolve_links` did not
    run, unmatched / joined to all candidates (2+ candidates within the tie margin) / one source."""
    if "link" in links:
        return links["link"]
    n = candidate_counts(links)
    return pd.Series(
        np.where(~links["linked"].astype(bool), UNMATCHED, np.where(n >= 2, JOINED, ONE_SOURCE)), index=links.index
    )


def dropped_links(links: pd.DataFrame) -> pd.Series:
    """(rows,) bool: the copies dropped from the data: unmatched (no source found, so no group can hold it with its
    source). Every linked copy stays: with its one source, or joined to all its candidates."""
    return ~links["linked"].astype(bool)


def dropped_mask(files: list[str], links: pd.DataFrame) -> np.ndarray:
    """(n,) bool: the copies dropped from the data (:func:`dropped_links`: the unmatched copies)."""
    gone = set(links.loc[dropped_links(links), "file"])
    return np.array([f in gone for f in files], dtype=bool)


def link_groups(files: list[str], patient: np.ndarray, links: pd.DataFrame, join_ambiguous: bool = True) -> np.ndarray:
    """(n,) group id: the connected components of "same patient group" and "copy -> every original it joins"
    (:func:`joined_originals`: its one source, or all its candidates within the tie margin, so that no copy sits
    apart from its true source); ``join_ambiguous`` False: a copy joining 2+ originals keeps its own group (the
    originals-only protocol's grouping: its originals are grouped as without the copies). Each group is named by the
    alphabetically first patient group of its originals (of its copies when it has no original)."""
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
    for f, joins in zip(links["file"], joined_originals(links)):
        if join_ambiguous or len(joins) == 1:
            for o in joins:
                union(index[f], index[o])
    roots = np.array([find(i) for i in range(len(files))])
    name: dict = {}
    for i, r in enumerate(roots):  # originals' groups name the component before any copy's
        key = (is_copy(files[i]), str(patient[i]))
        name[r] = min(name.get(r, key), key)
    return np.array([name[r][1] for r in roots])


def group_table(files: list[str], groups: np.ndarray, links: pd.DataFrame, neardup=None) -> pd.DataFrame:
    """Every image's group: columns file (``<class>/<name>``), group (copy-grouped), neardup group (the headline's,
    when given), link (a copy's status: one source / one source (file name) / one source (k offset unsupported) /
    joined to all candidates / unmatched (dropped); '' for originals), linked source (a copy linked to one source),
    joined with (all candidates) (``a | b``: a copy joined to every candidate within the tie margin)."""
    joins = dict(zip(links["file"], joined_originals(links)))
    status = dict(zip(links["file"], link_status(links)))
    out = pd.DataFrame({"file": files, "group": groups})
    if neardup is not None:
        out["neardup group"] = neardup
    out["link"] = [status.get(f, "") for f in files]
    one = [len(joins.get(f, [])) == 1 for f in files]
    out["linked source"] = [joins[f][0] if o else "" for f, o in zip(files, one)]
    out["joined with (all candidates)"] = [" | ".join(joins[f]) if len(joins.get(f, [])) > 1 else "" for f in files]
    return out


def join_group_facts(files: list[str], groups: np.ndarray, apart: np.ndarray, scored: np.ndarray) -> dict:
    """The groups made by joining ambiguous copies to all their candidates: the groups of ``groups`` (copy-grouped)
    whose originals sit in 2+ groups of ``apart`` (the same grouping without those joins, e.g. the originals-only
    protocol's; ``scored``: (n,) bool, the images scored if they are originals: kept and not label-conflicted).
    Returns {"groups": how many, "largest": None or
    {"images", "originals", "copies", "class" (its originals' most common class), "scored originals", "class scored
    originals", "share of class (%)" (its scored originals among the class's)}}; the largest has the most images (an
    unmatched copy is in no joined group: it joins nothing)."""
    files = list(files)
    groups, apart, scored = np.asarray(groups).astype(str), np.asarray(apart).astype(str), np.asarray(scored, bool)
    orig = np.array([not is_copy(f) for f in files])
    cls = np.array([f.split("/", 1)[0] for f in files])
    frame = pd.DataFrame({"group": groups, "apart": apart, "orig": orig, "cls": cls, "scored": scored & orig})
    split = frame[frame["orig"]].groupby("group")["apart"].nunique()
    made = split[split >= 2].index
    out: dict = {"groups": int(len(made)), "largest": None}
    if not len(made):
        return out
    sizes = frame[frame["group"].isin(made)].groupby("group").size()
    top = sizes.index[int(np.argmax(sizes.to_numpy()))]
    part = frame[frame["group"] == top]
    c = part.loc[part["orig"], "cls"].value_counts().index[0]
    n_cls = int((frame["scored"] & (frame["cls"] == c)).sum())
    n_scored = int(part["scored"].sum())
    out["largest"] = {
        "images": int(len(part)),
        "originals": int(part["orig"].sum()),
        "copies": int((~part["orig"]).sum()),
        "class": str(c),
        "scored originals": n_scored,
        "class scored originals": n_cls,
        "share of class (%)": 100.0 * n_scored / n_cls if n_cls else 0.0,
    }
    return out


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
