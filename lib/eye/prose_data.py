"""Generated prose of notebook 03's data sections: the copy links, the pixel check and the caveats."""

from __future__ import annotations


def copies_text(metrics: dict) -> str:
    """What the copies are and how each was placed: linked to one source, joined to all its candidates, unmatched
    (Markdown)."""
    if not metrics["copies"]:
        return "*Augmented copies.* None in this data (no `_<k>_<random>` files): the linked groups are the patients."
    k_flag = metrics.get("k_unsupported", 0)
    over = metrics.get("joined_over_tie_join", 0)
    kj = metrics.get("joined_k_flagged", 0)
    return (
        f"*Augmented copies.* {metrics['copies']:,} files named `_<k>_<random>.jpg` (256x256 JPEGs, Keras "
        "`ImageDataGenerator` naming) are flipped / turned / recoloured / squashed copies of images in the same "
        f"folder. Of {metrics['copies']:,} copies: {metrics['linked_one_source']:,} linked to one source (of them "
        f"{metrics['linked_by_file_name']:,} by their file name: a tie or the k check left the score undecided, and "
        "the class's unambiguous links all share one offset k - rank, so the name gives the source"
        + (
            f"; {metrics['linked_k_unsupported']:,} flagged by the k check with no other source in sight, kept with "
            "their only candidate"
            if metrics.get("linked_k_unsupported")
            else ""
        )
        + f") + {metrics['joined_all_candidates']:,} **joined to all their candidates** ("
        + (
            f"{kj:,} of them flagged by the k check and joined with their one candidate and the source their "
            "k-neighbours imply; the others "
            if kj
            else ""
        )
        + f"ambiguous: a second candidate within the tie margin; up to {metrics['candidates_max']} originals; mostly "
        "blurry cataract images with little structure, which we cannot tell apart by eye either: one group holds the "
        "copy and every candidate, so it never sits apart from its true source; conservative: chained candidate sets "
        + join_groups_text(metrics.get("join_groups"))
        + (
            f"; {over:,} joined copies have more than {metrics['tie_join']} candidates and are joined all the same"
            if over
            else ""
        )
        + f") + {metrics['unmatched']:,} unmatched (**dropped from the data**: no group can hold them with their "
        "unknown source). Lowest verification score of a link "
        f"{metrics['score_min']:.3f}; smallest margin over the runner-up {metrics['margin_min']:.3f}"
        + (
            f"; the k check flagged {k_flag} single-candidate links scoring below {metrics['k_check_below']:g} "
            f"whose copy index k disagrees with its k-neighbours' source offsets "
            f"({', '.join(metrics['k_unsupported_files'][:12])}" + ("..." if k_flag > 12 else "") + ")"
            if k_flag
            else ""
        )
        + f". Method: {metrics['method']}. "
        + target_text(metrics)
    )


def join_groups_text(facts: dict | None) -> str:
    """The groups made by joining (:func:`lib.eye.copies.join_group_facts`), as the end of the sentence "chained
    candidate sets ..." (Markdown)."""
    if not facts or not facts["groups"]:
        return "may join look-alike eyes into one group (none did in this run)"
    big = facts["largest"]
    return (
        f"may join many look-alike eyes into one group: {facts['groups']:,} groups made by joining (originals of "
        f"2+ groups without the joins); largest: {big['images']:,} images ({big['originals']:,} originals, "
        f"{big['copies']:,} copies; {big['scored originals']:,} of the {big['class scored originals']:,} scored "
        f"{big['class']} originals = {big['share of class (%)']:.1f} %). Joining only makes the copy-grouped "
        "protocols stricter (no leak across folds; that cluster is tested in one fold, none of it in training, so "
        f"{big['class']} recall can read slightly low and its CI is lumpier), and *linked - originals* for "
        f"{big['class']} also contains this grouping change (the originals-only protocol keeps those originals "
        "apart)"
    )


def target_text(metrics: dict) -> str:
    """The copy counts read against the issue's target (the linked grouping captures at least 95 % of the augmented
    copies): captured = linked to one source + joined to all candidates, overall and per class, beside linked to one
    source (Markdown sentence)."""
    n = metrics["copies"]
    one, joined, cap = metrics["linked_one_source"], metrics["joined_all_candidates"], metrics["captured"]
    per = "; ".join(
        f"{c} {v['captured']}/{v['copies']} ({100 * v['captured'] / v['copies']:.1f} %; linked to one source "
        f"{v['linked to one source']}, joined {v['joined to all candidates']}, unmatched {v['unmatched (dropped)']})"
        for c, v in metrics["per_class"].items()
        if v["copies"]
    )
    verdict = "met" if 100 * cap >= 95 * n else "**not met**"
    return (
        f"*Against the target (the linked grouping captures at least 95 % of the augmented copies)*: captured "
        f"{cap:,} of {n:,} = {100 * cap / n:.1f} % ({one:,} linked to one source + {joined:,} joined to all their "
        f"candidates): {verdict}; linked to one source alone: {100 * one / n:.1f} %; unmatched (dropped) "
        f"{metrics['unmatched']:,} ({per})."
    )


def pixel_check_text(summary, cut: float, tie_only: int) -> str:
    """The pixel check read on pairs of known status (Markdown, from :func:`lib.eye.neardup.verifier_summary`): its
    pass rate on same-eye pairs (copy and source) and on fellow eyes, and what that means for the near-duplicate
    grouping (``tie_only``: candidate pairs joined by a copy tie below the pixel cut)."""
    share = f"share at or above {cut:g} (%)"
    rows = {str(r["pairs"]).split(" (")[0]: r for _, r in summary.iterrows()}
    same, fellow = rows.get("copy and its source"), rows.get("fellow eyes")
    if same is None or fellow is None:
        return "*Pixel check on known pairs*: no copy links or fellow-eye pairs in this data."
    return (
        f"*Pixel check on known pairs*: at the cut {cut:g} it passes {same[share]:.0f} % of the same-eye pairs "
        f"(copy and linked source, n = {int(same['n'])}) and {fellow[share]:.0f} % of the fellow-eye pairs "
        f"(n = {int(fellow['n'])}). "
        + (
            f"It misses {100 - same[share]:.0f} % of same-eye pairs (augmented copies: zoomed, squashed or recoloured, "
            "a harder case than unaugmented frames), so the pixel cut alone under-joins near-duplicates; "
            if same[share] < 90
            else "It finds most same-eye pairs; "
        )
        + f"{tie_only} candidate pairs below the cut were joined because an ambiguous copy ties them. A tie can also "
        "join look-alikes of different eyes: that makes groups larger, never a leak."
    )


def caveats_text(near_facts: dict, verifier, cut: float, feature_note: str, sensitivity: bool = False) -> str:
    """The closing caveats (Markdown), the near-duplicate grouping stated from this run's counts and the pixel
    check's pass rate on known same-eye pairs (:func:`lib.eye.neardup.verifier_summary`); ``sensitivity``: the
    neardup_all check ran (every candidate pair joined)."""
    measured = (
        "the near-duplicate effect of the other candidates is measured by the leak table's *neardup - neardup_all* "
        "column (every candidate pair joined; logistic regression, one seed), not for the pairs below the threshold"
        if sensitivity
        else "the near-duplicate effect is measured for the joined pairs only"
    )
    rows = {str(r["pairs"]).split(" (")[0]: r for _, r in verifier.iterrows()} if verifier is not None else {}
    same = rows.get("copy and its source")
    share = f"share at or above {cut:g} (%)"
    rate = f" (which passes {same[share]:.0f} % of known same-eye pairs)" if same is not None else ""
    return (
        "Caveats: acquisition (size, format, source) differs by class in the Kaggle set, and diabetic retinopathy is "
        "recognised even from 16x16 thumbnails where lesions are invisible, so high accuracies partly measure the "
        "source of an image. The copy links come from an image match, not from a list of the augmenter's inputs: a "
        "copy whose source is not in the folder, or a link to a near-identical image of the same eye, cannot be told "
        "apart here (the pairs figure shows the hardest cases). Near-identical originals without a shared patient id "
        f"are grouped when their feature cosine is at least {near_facts['threshold']:g} **and** the pixel check "
        f"confirms them{rate} or an ambiguous copy ties them: {near_facts['pairs']} of "
        f"{near_facts['candidate_pairs']} candidate pairs joined (section 2c); the other candidates and every pair "
        f"below the threshold stay apart, so {measured}. The paper gives no SOM or network setting: every grid and "
        f"setting here is ours. Features: {feature_note} (the paper's MobileNetV2 is the full-width network)."
    )
