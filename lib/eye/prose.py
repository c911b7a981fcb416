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
    "augmented copy of either, each copy linked to its single detected source; ambiguous copies dropped); scored on "
    "the originals only (copies only ever in training, with their source's group)",
    "neardup": "copy- and near-duplicate-grouped: stratified group {k}-fold over the linked groups with near-duplicate "
    "originals (feature cosine at or above the threshold and confirmed by the pixel verifier) joined into one group; "
    "scored on the originals only (copies only ever in training)",
    "originals": "the augmented copies removed, stratified group {k}-fold over the patients",
}


def seeds_text(cfg: EyeCVConfig, protocol: str) -> str:
    """Which models ran which seeds under ``protocol`` ('seeds [0, 1, 2] (logreg, cbnn_onehot; the others seed 0)')."""
    models = protocol_models(cfg, protocol)
    multi = [m for m in models if len(cfg.cv.model_seeds(protocol, m)) > 1]
    if not multi:
        return f"seed {cfg.cv.seeds[0]}"
    if len(multi) == len(models):
        return f"seeds {list(cfg.cv.seeds)}"
    return f"seeds {list(cfg.cv.seeds)} ({', '.join(multi)}; the others seed {cfg.cv.seeds[0]})"


def protocol_models(cfg: EyeCVConfig, protocol: str) -> tuple[str, ...]:
    """The models run under ``protocol`` (the first protocol: all; the others: ``cv.other_models`` when given)."""
    if protocol == cfg.cv.protocols[0] or not cfg.cv.other_models:
        return cfg.models
    return tuple(m for m in cfg.models if m in cfg.cv.other_models)


def ci_label(n_seeds: int) -> str:
    """What a 95% CI resamples, for a model run on ``n_seeds`` seeds."""
    if n_seeds > 1:
        return f"seeds x group bootstrap ({n_seeds} seeds: retraining and test-group variability)"
    return "group bootstrap of one fold assignment (1 seed: no retraining variability)"


def protocol_label(protocol: str, cfg: EyeCVConfig) -> str:
    """'linked: stratified group 10-fold ..., seeds [0, 1, 2]'."""
    return f"{protocol}: {PROTOCOL_TEXT[protocol].format(k=cfg.cv.n_splits)}, {seeds_text(cfg, protocol)}"


def protocols_overview(cfg: EyeCVConfig) -> str:
    """The protocols of this run, one bullet each, with the models and seeds run (Markdown; cell 0 points here)."""
    lines = [f"This run: {len(cfg.cv.protocols)} protocols, {fold_note(cfg)}."]
    for i, p in enumerate(cfg.cv.protocols):
        head = " (the headline)" if i == 0 else ""
        models = protocol_models(cfg, p)
        lines.append(
            f"- *{p}*{head}: {PROTOCOL_TEXT[p].format(k=cfg.cv.n_splits)}; models {', '.join(models)}; "
            f"{seeds_text(cfg, p)}."
        )
    return "\n".join(lines)


#: what each paired protocol difference of the leak table measures
LEAK_MEANING = {
    ("patient", "linked"): "what the augmented copies sitting across splits added (previous grouping minus "
    "copy-grouped)",
    ("linked", "originals"): "training with the copies (grouped with their sources) against training without them",
    ("plain", "linked"): "the paper's image-level folds against the copy-grouped ones",
    ("linked", "neardup"): "what the near-duplicate originals across splits added (copy-grouped minus "
    "near-duplicate-grouped)",
}


def leak_text(cfg: EyeCVConfig, pairs) -> str:
    """The leak table's reading guide, from the protocols this run ran (Markdown)."""
    ran = set(cfg.cv.protocols)
    lines = [
        f"Protocols run: {', '.join(cfg.cv.protocols)}. Every protocol is scored on the same test images (the "
        "originals, less the label-conflicted duplicates): like for like. Point values are means over each model's "
        "seeds; paired differences use the same resamples of groups that contain every protocol's groups (each "
        "replicate also draws a seed)."
    ]
    for a, b in pairs:
        if a in ran and b in ran:
            lines.append(f"- *{a} - {b}*: {LEAK_MEANING[(a, b)]}.")
        else:
            missing = ", ".join(x for x in (a, b) if x not in ran)
            lines.append(f"- *{a} - {b}*: not run ({missing} not among the protocols).")
    return "\n".join(lines)


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
        text += "; beside it: " + ", ".join(f"{p} ({seeds_text(cfg, p)})" for p in rest)
    return text + f"; metrics = out-of-fold predictions pooled, mean over seeds, {cfg.cv.bootstrap}-replicate CIs"


def run_description(cfg: EyeCVConfig) -> dict:
    """{protocol: what was run} for the metrics file and the report."""
    return {
        p: f"{protocol_label(p, cfg)}; nested selection with {cfg.tuning.inner_splits} inner folds grouped like the "
        f"outer ones; out-of-fold predictions pooled over the folds, mean over a model's seeds; 95% CIs "
        f"({cfg.cv.bootstrap} replicates; copies and near-duplicates in their groups): a seeds x group bootstrap for "
        "a model run on several seeds, a group bootstrap of one fold assignment (no retraining variability) for a "
        "model run on one"
        for p in cfg.cv.protocols
    }


def reductions_text(cfg: EyeCVConfig, paper_folds: int = 10) -> str:
    """What this run's budget cuts or fixes, generated from its parameters (one line; meta.reductions)."""
    t = cfg.tuning
    parts = [fold_note(cfg, paper_folds)]
    for p in cfg.cv.protocols:
        parts.append(f"{p}: models {', '.join(protocol_models(cfg, p))}, {seeds_text(cfg, p)}")
    if len(t.som_side) == 1:
        parts.append(
            f"SOM side fixed at {t.som_side[0]} inside the folds (not tuned); the one-fold side sweep covers "
            f"{list(t.sweep_sides)}"
        )
    parts.append(
        f"SOM {cfg.som.epochs} batch epochs; networks {cfg.cbnn.epochs} epochs of batch {cfg.cbnn.batch_size}; MLP "
        f"{t.mlp_max_iter} iterations; logistic regression at most {t.logreg_max_iter} iterations; "
        f"{t.inner_splits} inner folds"
    )
    return "; ".join(parts)


def settings_text(cfg: EyeCVConfig, n_images: dict[str, int]) -> str:
    """The evaluation settings (Markdown bullets) from the parameters."""
    t = cfg.tuning
    lines = [
        f"- *{p}* ({n_images.get(p, 0):,} images): {PROTOCOL_TEXT[p].format(k=cfg.cv.n_splits)}; models "
        f"{', '.join(protocol_models(cfg, p))}; {seeds_text(cfg, p)}."
        for p in cfg.cv.protocols
    ]
    lines += [
        "- Each seed: new outer and inner folds, SOMs and networks.",
        f"- Nested selection inside every outer training part, {t.inner_splits} inner folds (grouped like the outer "
        f"ones), by inner accuracy (ties: the first listed): logistic regression C in {list(t.logreg_c)} "
        f"(max_iter {t.logreg_max_iter}); kNN k in {list(t.knn_k)}; MLP (width, L2 alpha) in "
        f"{[list(p) for p in t.mlp]} ({t.mlp_max_iter} iterations); SOM side in {list(t.som_side)} (chosen by the "
        "SOM classifier, shared by the SOM-based networks; one value: fixed, not tuned); network hidden width in "
        f"{list(t.cbnn_hidden)} (each network separately; the soft CBNN also its RBF bandwidth factor in "
        f"{list(t.soft_bandwidth)} x the median nearest-unit distance, its soft assignments standardized per unit). "
        "All grids are ours; a choice on a grid edge is flagged in the tuning table.",
        f"- Folds: {fold_note(cfg)}.",
        f"- This run's budget (reductions against the paper's protocol): {reductions_text(cfg)}.",
        f"- Networks: {cfg.cbnn.epochs} epochs, batch {cfg.cbnn.batch_size}, Adam {cfg.cbnn.learning_rate:g}, "
        f"loss {cfg.cbnn.loss}; SOM: {cfg.som.describe()} (its side tuned as above).",
        f"- CIs: {cfg.cv.bootstrap} replicates, each one seed drawn from the model's seeds and the groups (copies "
        f"and near-duplicates joined) drawn with replacement: a model run on several seeds gets a {ci_label(2)}; "
        f"a model run on one seed a {ci_label(1)}.",
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
        f"{metrics['margin_min']:.3f}. Ambiguous copies (a second candidate within the tie margin, up to "
        f"{metrics['candidates_max']} candidates; mostly blurry cataract images with little structure, which we "
        f"cannot tell apart by eye either): {metrics['dropped_ambiguous']}, **dropped from the data** in every "
        "protocol (joining all their candidates chained unrelated patients into one group; removing a copy cannot "
        f"leak). Every other linked copy joins its single best source. Method: {metrics['method']}."
    )


def _ci(entry: dict, key: str) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{100 * entry[key]:.2f} % [{100 * lo:.2f}, {100 * hi:.2f}]"


def _pp(entry: dict, key: str) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{100 * entry[key]:+.2f} pp [{100 * lo:+.2f}, {100 * hi:+.2f}]"


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
    pairs=(),
) -> str:
    """Generated reading of the results (Markdown bullets); ``meta_floor``: the best metadata-floor row (or None);
    ``pairs``: the leak table's protocol pairs. The "best" model is the one with the highest balanced accuracy (free
    of the test class mix); every model whose paired CI against it contains 0 is in the tied top group."""
    r = read[main]
    best = max(r, key=lambda m: r[m]["balanced_accuracy"])
    top = [m for m in r if r[m].get("vs_best", {}).get("tied", m == best)]
    lines = [
        f"- Headline protocol: {protocol_label(main, cfg)}. Models are ranked by **balanced accuracy** (the mean "
        "per-class recall): the test set holds the originals only, whose class mix differs from the training mix.",
        f"- Highest balanced accuracy: {cfg.label(best)}, {_ci(r[best], 'balanced_accuracy')} (accuracy "
        f"{_ci(r[best], 'accuracy')}; 95% CI: {r[best]['ci']}).",
        "- Tied top group (the paired 95% CI of the balanced-accuracy difference to the best contains 0): "
        + "; ".join(
            f"{cfg.label(m)} {_ci(r[m], 'balanced_accuracy')}"
            + ("" if m == best else f", minus the best {_pp(r[m]['vs_best'], 'balanced_accuracy')}")
            for m in top
        )
        + ("." if len(top) > 1 else " (no other model is tied: the best is separated from every other model)."),
    ]
    for m in top:
        lines.append(
            f"- Gap to the paper per class ({cfg.label(m)}, recall; paper minus ours): "
            + ", ".join(f"{c} {100 * (paper[c] - r[m]['recall'][c]):+.2f} pp" for c in classes)
            + "."
        )
    lines.append(
        f"- {cfg.label(claim)}: accuracy {_ci(r[claim], 'accuracy')}, balanced accuracy "
        f"{_ci(r[claim], 'balanced_accuracy')} (95% CI: {r[claim]['ci']})."
    )
    if meta_floor is not None:
        e = meta_floor["_entry"]
        fb = e["balanced_accuracy"]
        above = [cfg.label(m) for m in r if r[m]["balanced_accuracy_ci"][0] > fb]
        not_above = [cfg.label(m) for m in r if r[m]["balanced_accuracy_ci"][0] <= fb]
        lines.append(
            f"- Metadata floor (file extension + image size only, {meta_floor['Technique']}, same protocol): balanced "
            f"accuracy {_ci(e, 'balanced_accuracy')} (accuracy {_ci(e, 'accuracy')}, which mostly reflects the test "
            "class mix). Per-class recall of the floor: "
            + ", ".join(f"{c} {100 * e['recall'][c]:.1f} %" for c in classes)
            + ". Read against the floor on balanced accuracy: models whose CI lies above the floor's balanced "
            f"accuracy: {', '.join(above) if above else 'none'}"
            + (f"; not above it: {', '.join(not_above)}" if not_above else "")
            + ". A class the floor recalls (near) perfectly cannot show fundus reading: its recall is read off the "
            "file (the acquisition table in section 1)."
        )
    for m, per in leak.items():
        for a, b in pairs:
            if a in per and b in per:
                d = per[a]["accuracy"] - per[b]["accuracy"]
                db = per[a]["balanced_accuracy"] - per[b]["balanced_accuracy"]
                lines.append(
                    f"- *{a} - {b}* ({LEAK_MEANING[(a, b)]}), {cfg.label(m)}: {100 * d:+.2f} pp accuracy, "
                    f"{100 * db:+.2f} pp balanced accuracy (scored on the same originals; CIs in the leak table: a "
                    "difference whose CI contains 0 is not established)."
                )
    if "net_features" in r and "balanced_accuracy_minus_net_features" in r.get(claim, {}):
        lines.append(
            f"- SOM contribution ({cfg.label(claim)} minus the same network on the features, balanced accuracy): "
            f"{_pp(r[claim], 'balanced_accuracy_minus_net_features')}; the literal CBNN sees only the winning unit, so "
            "its capacity is the number of SOM units (the side sweep and the tuning table show where the side sits)."
        )
    if control is not None:
        lines.append(
            f"- Negative control ({control['features']}, logistic regression): accuracy {_ci(control, 'accuracy')}, "
            f"balanced accuracy {_ci(control, 'balanced_accuracy')}."
        )
    for _, row in floors.iterrows():
        lines.append(
            f"- Shortcut floor, {row['Features']}, {row['Technique']}: balanced accuracy "
            f"{row['Balanced accuracy (%)']} %, accuracy {row['Accuracy (%)']} %."
        )
    return "\n".join(lines)
