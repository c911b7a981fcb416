"""Checks and tables of the copy links (:mod:`lib.eye.copies`): the k-offset check that flags unsupported
low-scoring links, the source fixed by the file name where a class's links all share one offset k - rank
(:func:`resolve_links`: each copy's status and the originals it is grouped with), the links read against the copies'
index k, the per-class link counts, the copy metrics and the rows of the matched-pairs figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.eye.copies import (
    BY_NAME,
    COPY_NAME,
    JOINED,
    K_UNSUPPORTED,
    ONE_SOURCE,
    UNMATCHED,
    CopyConfig,
    candidate_counts,
    dropped_links,
    is_copy,
    joined_originals,
    link_status,
)


def k_check(links: pd.DataFrame, files: list[str], below: float, window: int = 1, tol: int = 1) -> pd.DataFrame:
    """``links`` with a column ``k unsupported``: a linked single-candidate copy scoring below ``below`` whose offset
    k - rank of its source (rank among the class's originals in file order; ``k`` from ``_<k>_``) is within ``tol``
    of no other linked copy's offset with k within ``window`` of its own (the augmenter numbers its inputs in order,
    so neighbouring k share an offset). Such a link is flagged (:func:`resolve_links` keeps it with its one
    candidate unless the file name fixes its source); ``below`` <= 0: off."""
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


def _k(f: str) -> int:
    return int(COPY_NAME.match(f.rsplit("/", 1)[-1]).group(1))


def resolve_links(links: pd.DataFrame, files: list[str], min_confirmed: int = 20) -> pd.DataFrame:
    """``links`` with columns ``named source``, ``link`` (status) and ``joins`` (the originals the copy is grouped
    with, ``a | b``).

    The file name fixes a copy's source in a class whose confirmed links (linked, one candidate within the tie
    margin, k offset not flagged; at least ``min_confirmed`` of them) all share one offset k - rank (rank among the
    class's originals in file order):
    there ``named source`` is the original of rank k - offset ('' elsewhere, or when that rank does not exist). Status:
    unmatched (dropped): no source found; one source: a confirmed link; one source (file name): an ambiguous or
    flagged copy whose named source is among its candidates (joined to it alone); one source (k offset unsupported):
    a flagged single-candidate link the name does not fix (joined to that candidate, its only one within the tie
    margin); joined to all candidates: 2+ candidates within the tie margin (plus the named source when the name
    fixes one outside them): one group holds them all, so the copy never sits apart from its true source. A flagged
    copy is also joined with the source its k-neighbours imply (column ``k-implied source``,
    :func:`k_implied_sources`): joined to all candidates when that differs from its candidate."""
    out = links.copy()
    n = candidate_counts(out)
    flagged = out["k unsupported"].astype(bool) if "k unsupported" in out else pd.Series(False, index=out.index)
    linked = out["linked"].astype(bool)
    confirmed = linked & (n < 2) & ~flagged
    named = pd.Series("", index=out.index, dtype=object)
    cls = out["file"].str.split("/").str[0]
    for c in sorted(set(cls)):
        originals = [f for f in files if f.startswith(c + "/") and not is_copy(f)]
        rank = {f: i for i, f in enumerate(originals)}
        rows = out[(cls == c)]
        ok = rows[confirmed[rows.index]]
        offsets = {_k(f) - rank[b] for f, b in zip(ok["file"], ok["best"])}
        if len(ok) < min_confirmed or len(offsets) != 1:
            continue
        (off,) = offsets
        for idx, f in zip(rows.index, rows["file"]):
            r = _k(f) - off
            named[idx] = originals[r] if 0 <= r < len(originals) else ""
    implied = pd.Series("", index=out.index, dtype=object)
    if flagged.any():  # only a flagged copy is joined with its k-implied source
        implied = k_implied_sources(out, files, confirmed).where(flagged, "")
    cands = joined_originals(out.drop(columns=["joins"], errors="ignore"))
    status, joins = [], []
    for (idx, row), cand in zip(out.iterrows(), cands):
        name = named[idx]
        if not row["linked"]:
            status.append(UNMATCHED)
            joins.append([])
        elif n[idx] < 2 and not flagged[idx]:
            status.append(ONE_SOURCE)
            joins.append(cand)
        elif name and name in cand:
            status.append(BY_NAME)
            joins.append([name])
        else:
            extra = [x for x in (name, implied[idx] if flagged[idx] else "") if x]
            both = list(dict.fromkeys(cand + extra))
            status.append(JOINED if len(both) > 1 else K_UNSUPPORTED)
            joins.append(both)
    out["named source"] = named
    out["k-implied source"] = implied
    out["link"] = status
    out["joins"] = [" | ".join(j) for j in joins]
    return out


def k_implied_sources(links: pd.DataFrame, files: list[str], confirmed: pd.Series) -> pd.Series:
    """(rows,) per copy, the original its k-neighbours imply: the rank k - offset, with the most common offset
    k - rank (the smallest on a tie) among the ``confirmed`` links of its class whose k is nearest its own (rank among
    the class's originals in file order); '' when the class has no confirmed link or that rank does not exist."""
    out = pd.Series("", index=links.index, dtype=object)
    cls = links["file"].str.split("/").str[0]
    for c in sorted(set(cls)):
        originals = [f for f in files if f.startswith(c + "/") and not is_copy(f)]
        rank = {f: i for i, f in enumerate(originals)}
        rows = links[cls == c]
        ok = rows[confirmed[rows.index]]
        if not len(ok):
            continue
        k_ok = np.array([_k(f) for f in ok["file"]])
        off_ok = k_ok - np.array([rank[b] for b in ok["best"]])
        for idx, f in zip(rows.index, rows["file"]):
            k = _k(f)
            d = np.abs(k_ok - k)
            near = pd.Series(off_ok[d == d.min()]).value_counts()
            off = int(min(near.index[near == near.max()]))
            r = k - off
            out[idx] = originals[r] if 0 <= r < len(originals) else ""
    return out


def link_counts(links: pd.DataFrame, tie_join: int = 0) -> pd.DataFrame:
    """Per class: copies; linked to one source (of them: by file name, k offset unsupported); joined to all
    candidates (ambiguous: one group with every candidate within the tie margin; of them the k-flagged copies joined
    with their candidate and the source their k-neighbours imply); captured (linked to one source +
    joined: no copy apart from its source) and its share (%); unmatched (dropped); linked to one source (%); with
    ``tie_join`` >= 2: the joined copies whose candidates are more than ``tie_join`` originals; sources used, sources
    with 2+ copies."""
    columns = ["class", "copies", "linked to one source", "of them by file name", "of them k offset unsupported"]
    columns += ["joined to all candidates", "of them k-flagged (+ k-implied source)", "captured", "captured (%)"]
    columns += ["unmatched (dropped)"]
    if not len(links):
        return pd.DataFrame(columns=columns)
    cls = links["file"].str.split("/").str[0]
    status = link_status(links)
    sizes = pd.Series([len(j) for j in joined_originals(links)], index=links.index)
    flagged = links.get("k unsupported", pd.Series(False, index=links.index)).astype(bool)
    rows = []
    for c, part in links.groupby(cls):
        st = status[part.index]
        one = int(st.isin([ONE_SOURCE, BY_NAME, K_UNSUPPORTED]).sum())
        joined = int((st == JOINED).sum())
        row = {
            "class": c,
            "copies": len(part),
            "linked to one source": one,
            "of them by file name": int((st == BY_NAME).sum()),
            "of them k offset unsupported": int((st == K_UNSUPPORTED).sum()),
            "joined to all candidates": joined,
            "of them k-flagged (+ k-implied source)": int(((st == JOINED) & flagged[part.index]).sum()),
            "captured": one + joined,
            "captured (%)": 100.0 * (one + joined) / len(part),
            "unmatched (dropped)": int((st == UNMATCHED).sum()),
            "linked to one source (%)": 100.0 * one / len(part),
        }
        if tie_join >= 2:
            row[f"joined with > {tie_join} candidates"] = int(((st == JOINED) & (sizes[part.index] > tie_join)).sum())
        linked = part[part["linked"].astype(bool)]
        row["sources used"] = linked["source"].nunique()
        row["sources with 2+ copies"] = int((linked["source"].value_counts() > 1).sum())
        rows.append(row)
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


#: short figure labels of a copy's link status (:func:`pair_rows`)
SHORT_STATUS = {BY_NAME: "by file name", K_UNSUPPORTED: "k flag", JOINED: "joined", UNMATCHED: "unmatched"}


def pair_rows(
    links: pd.DataFrame, n_random: int, n_low: int, seed: int, n_wide: int = 0, n_close: int = 0
) -> list[dict]:
    """Rows for the matched-pairs figure: ``n_random`` random links, the ``n_low`` lowest-scoring links, the
    ``n_low`` links with the smallest margin over the runner-up (the hardest cases for a false link) and the
    ``n_wide`` links to one source with the largest margin (their runner-up truly rejected) and the ``n_close`` links
    to one source with the smallest margin (the runner-ups rejected by the narrowest margin above the tie margin, the
    closest calls among the rejections). A row whose copy is not
    linked to one source by its score carries its short status in its kind (:data:`SHORT_STATUS`)."""
    linked = links[links["linked"]]
    if not len(linked):
        return []
    rnd = linked.sample(min(n_random, len(linked)), random_state=seed).assign(kind="random link")
    low = linked.nsmallest(n_low, "score").assign(kind="lowest score")
    margin = (
        linked.assign(_m=linked["score"] - linked["second_score"]).nsmallest(n_low, "_m").assign(kind="smallest margin")
    )
    single = linked[(link_status(linked) == ONE_SOURCE).to_numpy()]
    wide = (
        single.assign(_m=single["score"] - single["second_score"])
        .nlargest(n_wide, "_m")
        .assign(kind="largest margin, runner-up rejected")
    )
    close = (
        single.assign(_m=single["score"] - single["second_score"])
        .nsmallest(n_close, "_m")
        .assign(kind="smallest margin, runner-up rejected")
    )
    parts = [rnd, low, margin.drop(columns="_m"), wide.drop(columns="_m"), close.drop(columns="_m")]
    rows = pd.concat(parts).drop_duplicates("file")
    status = link_status(rows)
    short = status.map(lambda v: SHORT_STATUS.get(v, v))
    rows["kind"] = np.where(status != ONE_SOURCE, rows["kind"] + " (" + short + ")", rows["kind"])
    return rows.to_dict("records")


def copy_metrics(links: pd.DataFrame, counts: pd.DataFrame, cfg: CopyConfig) -> dict:
    """The copy links' numbers for the metrics file and :func:`lib.eye.prose_data.copies_text`."""
    margin = links["score"] - links["second_score"]
    status = link_status(links)
    sizes = pd.Series([len(j) for j in joined_originals(links)], index=links.index)
    flagged = links.get("k unsupported", pd.Series(False, index=links.index)).astype(bool)
    keys = ["copies", "linked to one source", "of them by file name", "joined to all candidates", "captured"]
    keys += ["unmatched (dropped)"]
    one = int(status.isin([ONE_SOURCE, BY_NAME, K_UNSUPPORTED]).sum())
    joined = int((status == JOINED).sum())
    return {
        "method": cfg.describe(),
        "copies": int(len(links)),
        "linked": int(links["linked"].sum()),
        "linked_one_source": one,
        "linked_by_file_name": int((status == BY_NAME).sum()),
        "linked_k_unsupported": int((status == K_UNSUPPORTED).sum()),
        "joined_all_candidates": joined,
        "joined_k_flagged": int(((status == JOINED) & flagged).sum()),
        "captured": one + joined,
        "unmatched_dropped": int(dropped_links(links).sum()) if len(links) else 0,
        "unmatched": int((~links["linked"].astype(bool)).sum()),
        "per_class": counts.set_index("class")[keys].to_dict("index") if len(counts) else {},
        "score_min": float(links["score"].min()) if len(links) else None,
        "margin_min": float(margin.min()) if len(links) else None,
        "k_unsupported": int(flagged.sum()),
        "k_unsupported_files": links.loc[flagged, "file"].tolist(),
        "k_check_below": cfg.k_check,
        "candidates_max": int(sizes[status == JOINED].max()) if joined else 0,
        "tie_join": cfg.tie_join,
        "joined_over_tie_join": int(((status == JOINED) & (sizes > cfg.tie_join)).sum()) if cfg.tie_join >= 2 else 0,
    }
