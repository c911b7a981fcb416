"""Tests of lib.eye.copies: copies made by flips / turns / brightness are linked to their sources; groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from lib.eye import copies, copy_check, neardup


def _fundus(rng, n=128):
    """A disc with random smooth blobs and lines (vessel-like), so that different images differ."""
    yy, xx = np.mgrid[:n, :n]
    img = np.zeros((n, n, 3), np.float32)
    disc = (yy - n / 2) ** 2 + (xx - n / 2) ** 2 < (0.45 * n) ** 2
    base = rng.uniform(80, 160)
    for _ in range(6):
        cy, cx, r = rng.uniform(20, n - 20, 2).tolist() + [rng.uniform(4, 12)]
        img[..., 1] += 60 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2))
    for _ in range(5):
        a, b = rng.uniform(-1, 1), rng.uniform(0, n)
        img[..., 1] += 40 * (np.abs(yy - (a * xx + b)) < 1.5)
    img[..., 0] = base + 0.5 * img[..., 1]
    img[..., 1] += base / 2
    img *= disc[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


CFG = copies.CopyConfig(
    size=48,
    blur=2.0,
    shortlist=3,
    flips=(0, 1, 2, 3),
    angles=(0,),
    zooms=(1.0,),
    dark=20,
    min_score=0.7,
    tie_margin=0.0,
)


def test_copies_are_linked_to_their_sources(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "glaucoma").mkdir()
    srcs = [f"glaucoma/{i}_left.jpg" for i in range(6)]
    ims = {}
    for s in srcs:
        ims[s] = _fundus(rng)
        Image.fromarray(ims[s]).save(tmp_path / s, quality=95)
    made = {
        "glaucoma/_0_111.jpg": (srcs[2], lambda a: a[:, ::-1]),  # mirrored
        "glaucoma/_1_222.jpg": (srcs[4], lambda a: a[::-1, ::-1]),  # turned 180
        "glaucoma/_1_333.jpg": (srcs[4], lambda a: np.clip(a * 1.3, 0, 255).astype(np.uint8)),  # brighter
    }
    for f, (s, fn) in made.items():
        Image.fromarray(np.ascontiguousarray(fn(ims[s]))).save(tmp_path / f, quality=90)
    files = sorted(srcs + list(made))
    links = copies.link_copies(tmp_path, files, CFG, progress=False)
    assert dict(zip(links["file"], links["source"])) == {f: s for f, (s, _) in made.items()}
    assert links["linked"].all() and (links["score"] > links["second_score"]).all()
    patient = np.array([f.split("/")[1].split("_")[0] if not copies.is_copy(f) else f for f in files])
    groups = copies.link_groups(files, patient, links)
    g = dict(zip(files, groups))
    assert g["glaucoma/_1_222.jpg"] == g["glaucoma/_1_333.jpg"] == g[srcs[4]] != g[srcs[2]] == g["glaucoma/_0_111.jpg"]
    table = copies.group_table(files, groups, links)
    assert list(table.columns) == ["file", "group", "link", "linked source", "joined with (all candidates)"]
    assert table.set_index("file").loc["glaucoma/_0_111.jpg", "linked source"] == srcs[2]
    counts = copy_check.link_counts(links).iloc[0]
    assert (counts["copies"], counts["captured"], counts["unmatched (dropped)"]) == (3, 3, 0)
    assert counts["sources with 2+ copies"] == 1
    assert copies.originals_mask(files).sum() == 6


def test_link_groups_union_is_transitive():
    files = ["c/1_left.jpg", "c/1_right.jpg", "c/_0_1.jpg", "c/2_left.jpg"]
    links = pd.DataFrame({"file": ["c/_0_1.jpg"], "linked": [True], "source": ["c/1_right.jpg"]})
    groups = copies.link_groups(files, np.array(["p1", "p1", "c/_0_1.jpg", "p2"]), links)
    assert groups.tolist() == ["p1", "p1", "p1", "p2"]


def test_no_copies_no_links():
    links = copies.link_copies(".", ["c/1_left.jpg"], CFG, progress=False)
    assert len(links) == 0 and list(links.columns)[0] == "file"
    assert len(copy_check.link_counts(links)) == 0


def test_ambiguous_copy_is_joined_to_all_its_candidates_and_only_unmatched_copies_are_dropped():
    """A copy with a second candidate within the tie margin is put in ONE group with every candidate (its true source
    is among them); a copy with one candidate joins its single best source only, never its runner-up; an unmatched
    copy is the only one dropped. ``join_ambiguous=False`` (the originals-only grouping) leaves the originals apart."""
    files = ["c/1_left.jpg", "c/2_left.jpg", "c/3_left.jpg", "c/4_left.jpg", "c/_0_1.jpg", "c/_1_2.jpg", "c/_2_3.jpg"]
    links = pd.DataFrame(
        {
            "file": ["c/_0_1.jpg", "c/_1_2.jpg", "c/_2_3.jpg"],
            "linked": [True, True, False],
            "source": ["c/1_left.jpg", "c/3_left.jpg", ""],
            "also": ["c/2_left.jpg", "", ""],
            "second": ["c/2_left.jpg", "c/2_left.jpg", "c/4_left.jpg"],
            "candidates": [2, 1, 1],
        }
    )
    patient = np.array(["p1", "p2", "p3", "p4", "c/_0_1.jpg", "c/_1_2.jpg", "c/_2_3.jpg"])
    groups = copies.link_groups(files, patient, links)
    assert groups.tolist() == ["p1", "p1", "p3", "p4", "p1", "p3", "c/_2_3.jpg"]
    apart = copies.link_groups(files, patient, links, join_ambiguous=False)
    assert apart.tolist() == ["p1", "p2", "p3", "p4", "c/_0_1.jpg", "p3", "c/_2_3.jpg"]
    assert copies.dropped_mask(files, links).tolist() == [False] * 6 + [True]
    t = copies.group_table(files, groups, links, neardup=groups)
    assert list(t.columns) == [
        "file",
        "group",
        "neardup group",
        "link",
        "linked source",
        "joined with (all candidates)",
    ]
    assert t["link"].tolist() == ["", "", "", "", copies.JOINED, copies.ONE_SOURCE, copies.UNMATCHED]
    assert t["linked source"].tolist() == ["", "", "", "", "", "c/3_left.jpg", ""]
    assert t["joined with (all candidates)"].tolist() == ["", "", "", "", "c/1_left.jpg | c/2_left.jpg", "", ""]
    c = copy_check.link_counts(links).iloc[0]
    assert (c["copies"], c["linked to one source"], c["joined to all candidates"], c["captured"]) == (3, 1, 1, 2)
    assert c["unmatched (dropped)"] == 1 and round(c["captured (%)"], 2) == 66.67


def _name_links():
    """Class g: originals g/00..g/09 (rank = number), copies _<k>_ whose confirmed links all have k - rank = 0; class
    c: confirmed offsets 0 and -1 (the name fixes nothing)."""
    g = [f"g/{i:02d}.jpg" for i in range(10)]
    c = [f"c/{i:02d}.jpg" for i in range(10)]
    rows = [
        ("g/_0_1.jpg", g[0], "", 1, False, True),
        ("g/_1_1.jpg", g[1], "", 1, False, True),
        ("g/_2_1.jpg", g[2], "", 1, False, True),
        ("g/_5_1.jpg", g[5], g[7], 2, False, True),  # tie: the name picks g/05 (the best)
        ("g/_6_1.jpg", g[8], g[6], 2, False, True),  # tie: the name picks g/06 (the runner-up)
        ("g/_7_1.jpg", g[7], "", 1, True, True),  # k check flagged, the name confirms g/07
        ("g/_8_1.jpg", g[1], g[2], 2, False, True),  # the named g/08 is no candidate: joined to all three
        ("g/_9_1.jpg", "", "", 1, False, False),  # unmatched
        ("c/_0_1.jpg", c[0], "", 1, False, True),
        ("c/_1_1.jpg", c[2], "", 1, False, True),
        ("c/_4_1.jpg", c[4], f"{c[5]} | {c[6]}", 3, False, True),  # tie: joined to all three
        ("c/_5_1.jpg", c[9], "", 1, True, True),  # flagged, no name: joined with c/06, its k-neighbour's offset -1
    ]
    links = pd.DataFrame(
        [
            {"file": f, "best": b, "source": b, "also": a, "candidates": n, "k unsupported": k, "linked": ok}
            for f, b, a, n, k, ok in rows
        ]
    )
    return g + c + links["file"].tolist(), links


def test_resolve_links_fixes_the_source_by_the_file_name_where_the_offset_is_one():
    files, links = _name_links()
    out = copy_check.resolve_links(links, files, min_confirmed=3).set_index("file")
    assert out["link"].to_dict() == {
        "g/_0_1.jpg": copies.ONE_SOURCE,
        "g/_1_1.jpg": copies.ONE_SOURCE,
        "g/_2_1.jpg": copies.ONE_SOURCE,
        "g/_5_1.jpg": copies.BY_NAME,
        "g/_6_1.jpg": copies.BY_NAME,
        "g/_7_1.jpg": copies.BY_NAME,
        "g/_8_1.jpg": copies.JOINED,
        "g/_9_1.jpg": copies.UNMATCHED,
        "c/_0_1.jpg": copies.ONE_SOURCE,
        "c/_1_1.jpg": copies.ONE_SOURCE,
        "c/_4_1.jpg": copies.JOINED,
        "c/_5_1.jpg": copies.JOINED,
    }
    assert out.loc["g/_6_1.jpg", "joins"] == "g/06.jpg" and out.loc["g/_5_1.jpg", "joins"] == "g/05.jpg"
    assert out.loc["g/_8_1.jpg", "joins"] == "g/01.jpg | g/02.jpg | g/08.jpg"
    assert out.loc["c/_4_1.jpg", "joins"] == "c/04.jpg | c/05.jpg | c/06.jpg"
    # review24s8 m3: the flagged copy is joined with its candidate and the source its nearest confirmed k implies
    assert out.loc["c/_5_1.jpg", "joins"] == "c/09.jpg | c/06.jpg" and out.loc["c/_0_1.jpg", "named source"] == ""
    assert out.loc["c/_5_1.jpg", "k-implied source"] == "c/06.jpg" and out.loc["c/_0_1.jpg", "k-implied source"] == ""
    # too few confirmed links: the name fixes nothing, the ties are joined to all their candidates
    few = copy_check.resolve_links(links, files, min_confirmed=4).set_index("file")
    assert few.loc["g/_5_1.jpg", "link"] == copies.JOINED and few.loc["g/_7_1.jpg", "link"] == copies.K_UNSUPPORTED
    assert few.loc["g/_7_1.jpg", "joins"] == "g/07.jpg"  # its k-neighbours imply its own candidate: kept alone
    groups = dict(zip(files, copies.link_groups(files, np.array(files), out.reset_index())))
    assert groups["g/_6_1.jpg"] == groups["g/06.jpg"] != groups["g/08.jpg"]
    assert groups["g/_8_1.jpg"] == groups["g/01.jpg"] == groups["g/02.jpg"] == groups["g/08.jpg"]
    assert groups["c/_4_1.jpg"] == groups["c/04.jpg"] == groups["c/06.jpg"] == groups["c/09.jpg"]  # via c/_5_1
    assert groups["c/_5_1.jpg"] == groups["c/09.jpg"] != groups["c/00.jpg"]
    counts = copy_check.link_counts(out.reset_index(), tie_join=2).set_index("class")
    assert counts.loc["g"].to_dict() | {} == {
        "copies": 8,
        "linked to one source": 6,
        "of them by file name": 3,
        "of them k offset unsupported": 0,
        "joined to all candidates": 1,
        "of them k-flagged (+ k-implied source)": 0,
        "captured": 7,
        "captured (%)": 87.5,
        "unmatched (dropped)": 1,
        "linked to one source (%)": 75.0,
        "joined with > 2 candidates": 1,
        "sources used": 6,
        "sources with 2+ copies": 1,
    }
    c_row = ["linked to one source", "of them k offset unsupported", "joined to all candidates", "captured"]
    assert counts.loc["c", c_row].tolist() == [2, 0, 2, 4]
    assert counts.loc["c", "of them k-flagged (+ k-implied source)"] == 1


def test_exact_duplicates_flag_cross_class_files(tmp_path):
    h1, h2, h3 = "a" * 64, "b" * 64, "c" * 64
    (tmp_path / "SHA256SUMS").write_text(
        f"{h1}  cataract/1415_right.jpg\n{h1}  glaucoma/1415_right.jpg\n{h2}  normal/1.jpg\n{h2}  normal/2.jpg\n"
        f"{h3}  normal/3.jpg\n"
    )
    files = ["cataract/1415_right.jpg", "glaucoma/1415_right.jpg", "normal/1.jpg", "normal/2.jpg", "normal/3.jpg"]
    d = neardup.exact_duplicates(tmp_path, files)
    assert len(d) == 4 and d["cross-class"].tolist() == [True, True, False, False]
    assert d["classes"].iloc[0] == "cataract | glaucoma"
    pairs = neardup.duplicate_pairs(d)
    groups = copies.join_pairs(files, np.array(["g1", "g2", "g3", "g4", "g5"]), pairs)
    assert groups.tolist() == ["g1", "g1", "g3", "g3", "g5"]


def test_pair_score_separates_an_image_from_its_mirror_and_from_noise(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :96]
    disc = ((yy - 48) ** 2 + (xx - 48) ** 2 < 44**2)[..., None]
    base = (rng.integers(60, 200, (96, 96, 3)) * disc).astype(np.uint8)
    Image.fromarray(base).save(tmp_path / "a.png")
    Image.fromarray(base[:, ::-1]).save(tmp_path / "b.png")
    Image.fromarray((rng.integers(60, 200, (96, 96, 3)) * disc).astype(np.uint8)).save(tmp_path / "c.png")
    cfg = copies.CopyConfig(**{**CFG.__dict__, "near_pixel": 0.5})
    pairs = pd.DataFrame({"a": ["a.png", "a.png"], "b": ["b.png", "c.png"]})
    v = neardup.verify_pairs(tmp_path, pairs, cfg, progress=False)
    assert v["pixel score"].iloc[0] > 0.95 and v["pixel score"].iloc[1] < 0.5
    assert v["verified"].tolist() == [True, False]


def test_near_duplicate_pairs_and_join():
    files = ["a/x.png", "a/y.png", "a/z.png", "a/_1_9.jpg", "b/w.png"]
    S = np.eye(5)
    S[0, 1] = S[1, 0] = 0.95  # x ~ y
    S[0, 3] = S[3, 0] = 0.99  # a copy: never a near-duplicate pair
    S[2, 4] = S[4, 2] = 0.5
    pairs = neardup.near_duplicate_pairs(files, S, 0.9)
    assert pairs[["a", "b"]].values.tolist() == [["a/x.png", "a/y.png"]]
    nn = neardup.nearest_original_cosine(files, S).set_index("file")
    assert nn.loc["a/x.png", "nearest"] == "a/y.png" and nn.loc["a/z.png", "cosine"] == 0.5
    groups = copies.join_pairs(files, np.array(["g1", "g2", "g3", "g1", "g4"]), pairs)
    assert groups.tolist() == ["g1", "g1", "g3", "g1", "g4"]


def test_k_consistency_counts_shared_sources_and_rank_offset():
    files = ["c/o0.png", "c/o1.png", "c/o2.png", "c/_1_5.jpg", "c/_1_6.jpg", "c/_2_7.jpg", "c/_0_8.jpg"]
    links = pd.DataFrame(
        {
            "file": ["c/_1_5.jpg", "c/_1_6.jpg", "c/_2_7.jpg", "c/_0_8.jpg"],
            "best": ["c/o1.png", "c/o1.png", "c/o2.png", "c/o1.png"],
            "linked": [True] * 4,
            "candidates": [1, 2, 1, 1],
        }
    )
    t = copy_check.k_consistency(links, files).iloc[0]
    assert t["linked copies"] == 4 and t["distinct k"] == 3 and t["k with one source (%)"] == 100.0
    assert t["most common k - rank"] == 0 and t["copies with k - rank = it (%)"] == 75.0
    assert t["copies with 2+ candidates (%)"] == 25.0
    # the converse: o1 carries k 1 and 0 (one source, 2 distinct k: spread 1, rounded to tens 0)
    assert t["sources with 2+ distinct k"] == 1 and t["their copies"] == 3


def _tie_links():
    return pd.DataFrame(
        {
            "file": ["c/_0_1.jpg", "c/_1_2.jpg", "c/_2_3.jpg", "c/_3_4.jpg"],
            "linked": [True, True, True, False],
            "source": ["c/1_left.jpg", "c/3_left.jpg", "c/1_left.jpg", ""],
            "also": ["c/2_left.jpg", "", "c/2_left.jpg | c/3_left.jpg | c/4_left.jpg", ""],
            "candidates": [2, 1, 4, 1],
        }
    )


def test_tie_pairs_only_from_ambiguous_copies_with_few_candidates():
    links = _tie_links()
    assert neardup.tie_pairs(links, 3).values.tolist() == [["c/1_left.jpg", "c/2_left.jpg"]]
    four = neardup.tie_pairs(links, 4).values.tolist()
    assert ["c/1_left.jpg", "c/4_left.jpg"] in four and ["c/3_left.jpg", "c/4_left.jpg"] in four and len(four) == 6
    assert neardup.tie_pairs(links, 0).empty and neardup.tie_pairs(links, 1).empty


def test_mark_ties_joins_a_tied_pair_below_the_pixel_cut():
    pairs = pd.DataFrame(
        {"a": ["c/2_left.jpg", "c/5_left.jpg", "c/6_left.jpg"], "b": ["c/1_left.jpg", "c/7_left.jpg", "c/8_left.jpg"]}
    ).assign(**{"pixel score": [0.3, 0.6, 0.2]})
    out = neardup.mark_ties(pairs, neardup.tie_pairs(_tie_links(), 3), 0.5)
    assert out["copy tie"].tolist() == [True, False, False]  # either order
    assert out["verified"].tolist() == [True, True, False]


def test_verifier_reference_and_summary():
    files = ["c/1_left.jpg", "c/1_right.jpg", "c/2_left.jpg", "c/3_left.jpg", "c/_0_1.jpg", "c/_1_2.jpg"]
    links = pd.DataFrame(
        {
            "file": ["c/_0_1.jpg", "c/_1_2.jpg"],
            "linked": [True, True],
            "source": ["c/2_left.jpg", "c/3_left.jpg"],
            "also": ["", "c/2_left.jpg"],
            "candidates": [1, 2],
        }
    )
    from lib.eye.data import patient_groups

    ref = neardup.verifier_reference(files, links, patient_groups(files, copies_by_index=False), 10, seed=0)
    same = ref[ref["kind"].str.startswith("copy")]
    assert same[["a", "b"]].values.tolist() == [["c/_0_1.jpg", "c/2_left.jpg"]]  # the ambiguous copy is no reference
    fellow = ref[ref["kind"].str.startswith("fellow")]
    assert fellow[["a", "b"]].values.tolist() == [["c/1_left.jpg", "c/1_right.jpg"]]
    checked = ref.assign(**{"pixel score": [0.8, 0.2]})
    s = neardup.verifier_summary([checked, pd.DataFrame({"kind": ["x", "x"], "pixel score": [0.1, 0.9]})], 0.5)
    assert s["n"].tolist() == [1, 1, 2]
    assert s["share at or above 0.5 (%)"].tolist() == [100.0, 0.0, 50.0]


def _k_links(rows):
    import pandas as pd

    return pd.DataFrame(
        [
            {"file": f, "best": b, "score": s, "linked": True, "source": b, "also": "", "candidates": n}
            for f, b, s, n in rows
        ]
    )


def test_k_check_flags_an_unsupported_low_scoring_link_and_counts_it():
    """Copies _<k>_ number the augmenter's inputs in order: k - rank(source) is shared by neighbouring k. A single-
    candidate link whose offset no k-neighbour shares and whose score is below the cut is flagged (review m1) and kept
    with its candidate, joined to the named source too where the class's offset fixes one."""
    files = [f"c/{i:02d}_left.jpg" for i in range(10)] + ["c/_3_1.jpg", "c/_4_1.jpg", "c/_5_1.jpg", "c/_6_1.jpg"]
    links = _k_links(
        [
            ("c/_3_1.jpg", "c/03_left.jpg", 0.99, 1),
            ("c/_4_1.jpg", "c/04_left.jpg", 0.99, 1),
            ("c/_5_1.jpg", "c/09_left.jpg", 0.95, 1),  # offset -4 against 0 around it: the false link
            ("c/_6_1.jpg", "c/06_left.jpg", 0.99, 1),
        ]
    )
    flagged = copy_check.k_check(links, files, 0.96)
    assert flagged["k unsupported"].tolist() == [False, False, True, False]
    assert not copy_check.k_check(links, files, 0.9)["k unsupported"].any()  # scores above the cut stay linked
    assert not copy_check.k_check(links, files, 0.0)["k unsupported"].any()  # off
    # the confirmed links (3, 4, 6) share offset 0: the name gives c/05, the pixels c/09: joined to both
    named = copy_check.resolve_links(flagged, files, min_confirmed=3)
    assert named["link"].tolist() == [copies.ONE_SOURCE, copies.ONE_SOURCE, copies.JOINED, copies.ONE_SOURCE]
    groups = dict(zip(files, copies.link_groups(files, np.array(files), named)))
    assert groups["c/_5_1.jpg"] == groups["c/09_left.jpg"] == groups["c/05_left.jpg"] != groups["c/04_left.jpg"]
    assert groups["c/_3_1.jpg"] == groups["c/03_left.jpg"]
    # too few confirmed links for the name: its k-neighbours (_4, _6: offset 0) imply c/05 (review24s8 m3)
    kept = copy_check.resolve_links(flagged, files)
    assert kept["link"].tolist()[2] == copies.JOINED and not copies.dropped_mask(files, kept).any()
    assert kept["joins"].tolist()[2] == "c/09_left.jpg | c/05_left.jpg"
    groups = dict(zip(files, copies.link_groups(files, np.array(files), kept)))
    assert groups["c/_5_1.jpg"] == groups["c/09_left.jpg"] == groups["c/05_left.jpg"] != groups["c/04_left.jpg"]
    c = copy_check.link_counts(kept).iloc[0]
    assert (c["linked to one source"], c["of them k offset unsupported"], c["captured"]) == (3, 0, 4)
    assert c["of them k-flagged (+ k-implied source)"] == 1
