"""Checks and tables of the copy links (:mod:`lib.eye.copies`): the k-offset check that drops unsupported
low-scoring links, the links read against the copies' index k, the per-class link counts, the copy metrics and the
rows of the matched-pairs figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.eye.copies import COPY_NAME, CopyConfig, candidate_counts, dropped_links, is_copy


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
            single = candidate_counts(rows).loc[idx] < 2
            out.loc[idx, "k unsupported"] = bool(single and not supported and rows.loc[idx, "score"] < below)
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


def pair_rows(links: pd.DataFrame, n_random: int, n_low: int, seed: int) -> list[dict]:
    """Rows for the matched-pairs figure: ``n_random`` random links, the ``n_low`` lowest-scoring links and the
    ``n_low`` links with the smallest margin over the runner-up (the hardest cases for a false link)."""
    linked = links[links["linked"]]
    if not len(linked):
        return []
    rnd = linked.sample(min(n_random, len(linked)), random_state=seed).assign(kind="random link")
    low = linked.nsmallest(n_low, "score").assign(kind="lowest score")
    margin = (
        linked.assign(_m=linked["score"] - linked["second_score"]).nsmallest(n_low, "_m").assign(kind="smallest margin")
    )
    rows = pd.concat([rnd, low, margin.drop(columns="_m")]).drop_duplicates("file")
    amb = dropped_links(rows)
    rows["kind"] = np.where(amb, rows["kind"] + " (ambiguous: dropped)", rows["kind"])
    return rows.to_dict("records")


def copy_metrics(links: pd.DataFrame, counts: pd.DataFrame, cfg: CopyConfig) -> dict:
    margin = links["score"] - links["second_score"]
    return {
        "method": cfg.describe(),
        "copies": int(len(links)),
        "linked": int(links["linked"].sum()),
        "unmatched": int((~links["linked"]).sum()),
        "per_class": counts.set_index("class")[["copies", "linked", "linked to one source", "unmatched"]].to_dict(
            "index"
        )
        if len(counts)
        else {},
        "score_min": float(links["score"].min()) if len(links) else None,
        "margin_min": float(margin.min()) if len(links) else None,
        "uncertain": int((links["also"].fillna("") != "").sum()) if len(links) else 0,
        "dropped_ambiguous": int(dropped_links(links).sum()) if len(links) else 0,
        "dropped_k_unsupported": int(links.get("k unsupported", pd.Series(False, index=links.index)).sum()),
        "k_unsupported_files": links.loc[
            links.get("k unsupported", pd.Series(False, index=links.index)).astype(bool), "file"
        ].tolist(),
        "k_check_below": cfg.k_check,
        "candidates_max": int(links["candidates"].max()) if len(links) else 0,
    }
