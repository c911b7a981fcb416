"""Generated prose of notebook 03: every sentence that states a setting or a result is built here from the
parameters and the numbers the notebook ran, never typed."""

from __future__ import annotations

from lib.eye.protocols import EyeCVConfig

PROTOCOL_TEXT = {
    "plain": "stratified {k}-fold over images (the paper's; a patient's eyes and an image's augmented copies can sit "
    "on both sides of a split)",
    "patient": "stratified group {k}-fold over the previous round's groups (the two eyes of a patient; augmented "
    "copies grouped only when they share their index k)",
    "linked": "copy-grouped: stratified group {k}-fold over the linked groups (the two eyes of a patient with every "
    "augmented copy of either, the copies linked to their detected source); scored on the originals only (copies "
    "only ever in training, with their source's group)",
    "neardup": "copy- and near-duplicate-grouped: stratified group {k}-fold over the linked groups with originals "
    "whose feature cosine is at or above the near-duplicate threshold joined into one group; scored on the originals "
    "only (copies only ever in training)",
    "originals": "the augmented copies removed, stratified group {k}-fold over the patients",
}


def protocol_label(protocol: str, cfg: EyeCVConfig) -> str:
    """'linked: stratified group 10-fold ..., seeds [0, 1, 2]'."""
    return f"{protocol}: {PROTOCOL_TEXT[protocol].format(k=cfg.cv.n_splits)}, seeds {list(cfg.cv.seeds_of(protocol))}"


def fold_note(cfg: EyeCVConfig, paper_folds: int = 10) -> str:
    """The fold count of this run against the paper's (generated from the parameters)."""
    k = cfg.cv.n_splits
    if k == paper_folds:
        return f"{k} outer folds, as the paper's {paper_folds}-fold CV"
    return f"{k} outer folds (a reduction: the paper uses {paper_folds}-fold CV; see the parameters for why)"


def split_line(cfg: EyeCVConfig) -> str:
    """One line for the report: the main protocol with its seeds, then the others."""
    main, *rest = cfg.cv.protocols
    text = f"{protocol_label(main, cfg)}, nested tuning ({cfg.tuning.inner_splits} inner folds)"
    if rest:
        text += "; beside it on the first seed: " + ", ".join(rest)
    return text + f"; metrics = out-of-fold predictions pooled, mean over seeds, {cfg.cv.bootstrap}-replicate CIs"


def run_description(cfg: EyeCVConfig) -> dict:
    """{protocol: what was run} for the metrics file and the report."""
    return {
        p: f"{protocol_label(p, cfg)}; nested selection with {cfg.tuning.inner_splits} inner folds grouped like the "
        f"outer ones; out-of-fold predictions pooled over the folds, mean over seeds; 95% CIs from a seeds x "
        f"group bootstrap ({cfg.cv.bootstrap} replicates; copies and near-duplicates in their groups)"
        for p in cfg.cv.protocols
    }


def settings_text(cfg: EyeCVConfig, n_images: dict[str, int]) -> str:
    """The evaluation settings (Markdown bullets) from the parameters."""
    t = cfg.tuning
    lines = [
        f"- *{p}* ({n_images.get(p, 0):,} images): {PROTOCOL_TEXT[p].format(k=cfg.cv.n_splits)}, seeds "
        f"{list(cfg.cv.seeds_of(p))}."
        for p in cfg.cv.protocols
    ]
    lines += [
        f"- The first protocol runs over seeds {list(cfg.cv.seeds)} (each seed: new folds, SOMs and networks); the "
        "others over the first seed.",
        f"- Nested selection inside every outer training part, {t.inner_splits} inner folds (grouped like the outer "
        f"ones), by inner accuracy (ties: the first listed): logistic regression C in {list(t.logreg_c)} "
        f"(max_iter {t.logreg_max_iter}); kNN k in {list(t.knn_k)}; MLP (width, L2 alpha) in "
        f"{[list(p) for p in t.mlp]} ({t.mlp_max_iter} iterations); SOM side in {list(t.som_side)} (chosen by the "
        f"SOM classifier, shared by the SOM-based networks); network hidden width in {list(t.cbnn_hidden)} (each "
        f"network separately; the soft CBNN also its RBF bandwidth factor in {list(t.soft_bandwidth)} x the median "
        "nearest-unit distance, its soft assignments standardized per unit). All grids are ours; a choice on a grid "
        "edge is flagged in the tuning table.",
        f"- Folds: {fold_note(cfg)}.",
        f"- Networks: {cfg.cbnn.epochs} epochs, batch {cfg.cbnn.batch_size}, Adam {cfg.cbnn.learning_rate:g}, "
        f"loss {cfg.cbnn.loss}; SOM: {cfg.som.describe()} (its side tuned as above).",
        f"- CIs: {cfg.cv.bootstrap} replicates, each one seed drawn from the protocol's seeds and the groups (copies "
        "and near-duplicates joined) drawn with replacement: retraining and test-sample variability together (one "
        "seed: groups only).",
    ]
    return "\n".join(lines)


def copies_text(metrics: dict) -> str:
    """What the copies are and how many were linked (Markdown)."""
    if not metrics["copies"]:
        return "*Augmented copies.* None in this data (no `_<k>_<random>` files): the linked groups are the patients."
    per = "; ".join(
        f"{c}: {v['linked']} of {v['copies']} linked, {v['unmatched']} unmatched"
        for c, v in metrics["per_class"].items()
    )
    return (
        f"*Augmented copies.* {metrics['copies']:,} files named `_<k>_<random>.jpg` (256x256 JPEGs, Keras "
        "`ImageDataGenerator` naming) are flipped / turned / recoloured / squashed copies of images in the same "
        f"folder. Linked to a source: {metrics['linked']:,}; unmatched: {metrics['unmatched']:,} ({per}). "
        f"Lowest verification score of a link {metrics['score_min']:.3f}; smallest margin over the runner-up "
        f"{metrics['margin_min']:.3f}; {metrics['uncertain']} uncertain links (runner-up within the tie margin, "
        "mostly blurry cataract images with little structure: we cannot tell the two candidates apart by eye "
        "either) join both candidates' groups. Method: "
        f"{metrics['method']}."
    )


def _ci(entry: dict, key: str) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{100 * entry[key]:.2f} % [{100 * lo:.2f}, {100 * hi:.2f}]"


def interpretation(
    read: dict,
    leak: dict,
    cfg: EyeCVConfig,
    claim: str,
    paper: dict,
    classes,
    control,
    floors,
    main: str,
    meta_floor=None,
) -> str:
    """Generated reading of the results (Markdown bullets); ``meta_floor``: the best metadata-floor row (or None)."""
    r = read[main]
    best = max(r, key=lambda m: r[m]["accuracy"])
    lines = [
        f"- Best model, headline protocol ({protocol_label(main, cfg)}): {cfg.label(best)}, accuracy "
        f"{_ci(r[best], 'accuracy')}, balanced accuracy {_ci(r[best], 'balanced_accuracy')} (CI: seeds x group "
        "bootstrap).",
        f"- Gap to the paper per class ({cfg.label(best)}, recall): "
        + ", ".join(f"{c} {100 * (paper[c] - r[best]['recall'][c]):+.2f} pp" for c in classes)
        + " (paper minus ours).",
        f"- {cfg.label(claim)}: accuracy {_ci(r[claim], 'accuracy')}.",
    ]
    if meta_floor is not None:
        above = [cfg.label(m) for m in r if r[m]["accuracy"] > meta_floor["_accuracy"]]
        lines.append(
            f"- Metadata floor (file extension + image size only, {meta_floor['Technique']}, same protocol): accuracy "
            f"{meta_floor['Accuracy (%)']} %. A method must beat this to show it reads the fundus at all; above it "
            f"(point values): {', '.join(above) if above else 'none'}."
        )
    for m, per in leak.items():
        for a, b, what in (
            ("patient", "linked", "the copies across splits (previous grouping minus copy-grouped)"),
            ("linked", "neardup", "near-duplicate originals across splits (copy-grouped minus near-duplicate-grouped)"),
        ):
            if a in per and b in per:
                d = per[a]["accuracy"] - per[b]["accuracy"]
                db = per[a]["balanced_accuracy"] - per[b]["balanced_accuracy"]
                lines.append(
                    f"- Leak of {what}, {cfg.label(m)}: {100 * d:+.2f} pp accuracy, {100 * db:+.2f} pp balanced "
                    "accuracy (scored on the originals; CIs in the leak table)."
                )
    if "net_features" in r and "accuracy_minus_net_features" in r.get(claim, {}):
        lines.append(
            f"- SOM contribution ({cfg.label(claim)} minus the same network on the features): "
            f"{_ci(r[claim], 'accuracy_minus_net_features').replace('%', 'pp')}."
        )
    if control is not None:
        lines.append(f"- Negative control ({control['features']}, logistic regression): {_ci(control, 'accuracy')}.")
    for _, row in floors.iterrows():
        lines.append(f"- Shortcut floor, {row['Features']}, {row['Technique']}: {row['Accuracy (%)']} %.")
    return "\n".join(lines)
