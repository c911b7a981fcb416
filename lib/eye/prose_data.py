"""Generated prose of notebook 03's data sections: the copy links, the pixel check and the caveats."""

from __future__ import annotations


def copies_text(metrics: dict) -> str:
    """What the copies are and how many were linked (Markdown)."""
    if not metrics["copies"]:
        return "*Augmented copies.* None in this data (no `_<k>_<random>` files): the linked groups are the patients."
    k_drop = metrics.get("dropped_k_unsupported", 0)
    per = "; ".join(
        f"{c}: {v['linked']} of {v['copies']} with a source found, {v['unmatched']} unmatched"
        for c, v in metrics["per_class"].items()
    )
    return (
        f"*Augmented copies.* {metrics['copies']:,} files named `_<k>_<random>.jpg` (256x256 JPEGs, Keras "
        "`ImageDataGenerator` naming) are flipped / turned / recoloured / squashed copies of images in the same "
        f"folder. Of {metrics['copies']:,} copies: {metrics['linked'] - metrics['dropped_ambiguous']:,} linked to one "
        f"source + {metrics['dropped_ambiguous']:,} ambiguous (dropped) + {metrics['unmatched']:,} unmatched "
        f"({per}). Lowest verification score of a link {metrics['score_min']:.3f}; smallest margin over the runner-up "
        f"{metrics['margin_min']:.3f}. Ambiguous copies: a second candidate within the tie margin (up to "
        f"{metrics['candidates_max']} candidates; mostly blurry cataract images with little structure, which we "
        f"cannot tell apart by eye either), {metrics['dropped_ambiguous'] - k_drop}"
        + (
            f", or a single candidate scoring below {metrics['k_check_below']:g} whose copy index k disagrees with its "
            f"k-neighbours' source offsets, {k_drop} ({', '.join(metrics['k_unsupported_files'][:12])}"
            + ("..." if k_drop > 12 else "")
            + ")"
            if k_drop
            else ""
        )
        + ": **dropped from the data** in every protocol (joining all their candidates chained unrelated patients "
        "into one group; removing a copy cannot leak). Every other linked copy joins its single best source. "
        f"Method: {metrics['method']}. " + target_text(metrics)
    )


def target_text(metrics: dict) -> str:
    """The copy counts read against the issue's target (at least 95 % of the copies kept with their source): the
    copies that cannot sit apart from their source (linked to one source, or dropped) and those linked to one source,
    overall and per class (Markdown sentence)."""
    n = metrics["copies"]
    one = metrics["linked"] - metrics["dropped_ambiguous"]
    safe = one + metrics["dropped_ambiguous"]
    per = "; ".join(
        f"{c} {v.get('linked to one source', v['linked'])}/{v['copies']} "
        f"({100 * v.get('linked to one source', v['linked']) / v['copies']:.1f} %)"
        for c, v in metrics["per_class"].items()
        if v["copies"]
    )
    return (
        f"*Against the target (at least 95 % of the copies kept with their source)*: {one:,} linked to one source + "
        f"{metrics['dropped_ambiguous']:,} dropped = {100 * safe / n:.1f} % of the {n:,} copies cannot sit apart from "
        f"their source ({metrics['unmatched']:,} unmatched copies stay in the data in their own group); linked to one "
        f"source: {100 * one / n:.1f} % ({per})."
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
