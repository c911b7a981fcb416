"""Generated prose of notebook 03: every sentence that states a setting or a result is built here from the
parameters and the numbers the notebook ran, never typed."""

from __future__ import annotations

import numpy as np

from lib.eye.protocols import NETWORKS, EyeCVConfig

#: models whose inputs depend on the SOM side
SOM_MODELS = ("som", *(m for m, (clusters, _) in NETWORKS.items() if clusters == "som"))

PROTOCOL_TEXT = {
    "plain": "stratified {k}-fold over images (the paper's; a patient's eyes and an image's augmented copies can sit "
    "on both sides of a split); scored on all images, copies included (the leak table scores it on the originals)",
    "patient": "stratified group {k}-fold over the previous round's groups (the two eyes of a patient; augmented "
    "copies grouped only when they share their index k)",
    "linked": "copy-grouped: stratified group {k}-fold over the linked groups (the two eyes of a patient with every "
    "augmented copy of either, each copy linked to its single detected source; ambiguous copies dropped); scored on "
    "the originals only (copies only ever in training, with their source's group)",
    "neardup": "copy- and near-duplicate-grouped: stratified group {k}-fold over the linked groups with near-duplicate "
    "originals (feature cosine at or above the threshold, confirmed by the pixel check or tied by an ambiguous copy) "
    "joined into one group; "
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


def leak_text(cfg: EyeCVConfig, pairs, models=()) -> str:
    """The leak table's reading guide, from the protocols this run ran (Markdown); ``models``: the leak table's
    models (those run in the headline only are named)."""
    ran = set(cfg.cv.protocols)
    lines = [
        f"Protocols run: {', '.join(cfg.cv.protocols)}. Every protocol is scored on the same test images (the "
        "originals, less the label-conflicted duplicates): like for like. Point values are means over each model's "
        "seeds; paired differences use the same resamples of groups that contain every protocol's groups (each "
        "replicate also draws a seed)."
    ]
    only_main = [m for m in models if m in cfg.models and m not in protocol_models(cfg, cfg.cv.protocols[-1])]
    if only_main and len(cfg.cv.protocols) > 1:
        lines.append(
            f"Run in the headline protocol only ({cfg.cv.protocols[0]}; the budget): "
            + ", ".join(cfg.label(m) for m in only_main)
            + ": no leak differences for it."
        )
    for a, b in pairs:
        if a in ran and b in ran:
            lines.append(f"- *{a} - {b}*: {LEAK_MEANING[(a, b)]}.")
        else:
            missing = ", ".join(x for x in (a, b) if x not in ran)
            lines.append(f"- *{a} - {b}*: not run ({missing} not among the protocols).")
    confound = side_confound_text(cfg, models)
    if confound:
        lines.append(f"- Note: {confound}.")
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
    main, *rest = cfg.cv.protocols
    for name, grid in ((main, t.som_side), (", ".join(rest), t.som_side_others)):
        if not name:
            continue
        if len(grid) == 1:
            parts.append(f"SOM side fixed at {grid[0]} inside the folds in {name} (not tuned)")
        elif rest and t.som_side_others != t.som_side:
            parts.append(f"SOM side tuned over {list(grid)} in {name}")
    if len(t.sweep_sides) > 1:
        parts.append(f"a one-fold SOM side sweep over {list(t.sweep_sides)} (first outer fold of {main})")
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
        f"ones), by inner balanced accuracy (ties: the first listed): logistic regression C in {list(t.logreg_c)} "
        f"(max_iter {t.logreg_max_iter}); kNN k in {list(t.knn_k)}; MLP (width, L2 alpha) in "
        f"{[list(p) for p in t.mlp]} ({t.mlp_max_iter} iterations, float32); SOM side in {list(t.som_side)}"
        + (
            ""
            if t.som_side_others == t.som_side
            else f" ({cfg.cv.protocols[0]}; {list(t.som_side_others)} in the other protocols)"
        )
        + " (chosen by the SOM classifier, shared by the SOM-based networks; one value: fixed, not tuned); network "
        "hidden width in "
        f"{list(t.cbnn_hidden)} (each network separately; the soft CBNN also its RBF bandwidth factor in "
        f"{list(t.soft_bandwidth)} x the median nearest-unit distance, its soft assignments standardized per unit). "
        "All grids are ours; a choice on a grid edge is flagged in the tuning table.",
        f"- Folds: {fold_note(cfg)}.",
        f"- This run's budget (reductions against the paper's protocol): {reductions_text(cfg)}.",
        f"- Networks: {cfg.cbnn.epochs} epochs, batch {cfg.cbnn.batch_size}, Adam {cfg.cbnn.learning_rate:g}, "
        f"loss {cfg.cbnn.loss}; SOM: {cfg.som.describe()} ("
        + ("its side tuned as above" if len(t.som_side) > 1 else f"side fixed at {t.som_side[0]}")
        + ").",
        f"- CIs: {cfg.cv.bootstrap} replicates, each one seed drawn from the model's seeds and the groups (copies "
        f"and near-duplicates joined) drawn with replacement: a model run on several seeds gets a "
        f"{ci_label(len(cfg.cv.seeds))}; a model run on one seed a {ci_label(1)}.",
    ]
    return "\n".join(lines)


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
        f"Method: {metrics['method']}."
    )


def _ci(entry: dict, key: str) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{100 * entry[key]:.2f} % [{100 * lo:.2f}, {100 * hi:.2f}]"


def _pp(entry: dict, key: str) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{100 * entry[key]:+.2f} pp [{100 * lo:+.2f}, {100 * hi:+.2f}]"


def _strongest(floors):
    """The floor row with the highest balanced accuracy (None without floors)."""
    if floors is None or not len(floors):
        return None
    bal = floors["_entry"].map(lambda e: e["balanced_accuracy"])
    return floors.loc[bal.idxmax()]


def som_side_text(cfg: EyeCVConfig) -> str:
    """Where the SOM side is tuned or fixed inside the folds, per protocol (one sentence, from the parameters)."""
    t = cfg.tuning
    main, *rest = cfg.cv.protocols
    parts = []
    for name, grid in ((main, t.som_side), (", ".join(rest), t.som_side_others)):
        if name:
            parts.append(
                f"{name}: side tuned over {list(grid)} by the SOM classifier's inner balanced accuracy"
                if len(grid) > 1
                else f"{name}: side fixed at {grid[0]} (not tuned)"
            )
    return "; ".join(parts) + "."


def edge_text(edges) -> str:
    """The tuning table read for grid edges (Markdown, from :func:`lib.eye.experiment.edge_summary`): the models whose
    choice sat on a grid edge in at least half of their folds x seeds, stated as a limit (the optimum may lie outside
    the grid: such a model may be under-tuned, which can only understate it)."""
    hits = []
    for _, row in edges.iterrows():
        k, n = (int(v) for v in str(row["on a grid edge"]).split(" of "))
        if n and 2 * k >= n:
            hits.append(f"{row['model']} ({row['protocol']}: {k} of {n}; {row['edges hit']})")
    if not hits:
        return "No model sat on a grid edge in half or more of its choices."
    return (
        "On a grid edge in half or more of their choices (the optimum may lie outside the grid; such a model may be "
        "under-tuned, which can only understate it): " + "; ".join(hits) + "."
    )


def pixel_check_text(summary, cut: float, tie_only: int) -> str:
    """The pixel check read on pairs of known status (Markdown, from :func:`lib.eye.copies.verifier_summary`): its
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


def sweep_text(sweep, main: str) -> str:
    """The SOM side sweep read as a diagnostic (Markdown): the spread of each model's balanced accuracy over the
    sides."""
    if sweep is None or not len(sweep):
        return "*SOM side sweep*: not run."
    parts = []
    for model, part in sweep.groupby("model", sort=False):
        b = part["balanced accuracy (%)"]
        parts.append(
            f"{model} {b.min():.2f}-{b.max():.2f} % (spread {b.max() - b.min():.2f} pp; best side "
            f"{int(part.loc[b.idxmax(), 'side'])})"
        )
    sides = sorted(sweep["side"].unique().tolist())
    return (
        f"*SOM side sweep (a diagnostic)*: first outer fold of {main}, first seed, scored on that fold's test part, "
        f"so it is never used to choose a setting (the side is chosen inside the folds, above). Balanced accuracy "
        f"over sides {sides}: " + "; ".join(parts) + "."
    )


def in_ci_text(tables: dict) -> str:
    """Every Table 2 cell whose CI holds the paper's value ({label: table2.table2_vs_paper table}), with what it
    means (Markdown)."""
    hits, full = [], []
    for name, df in tables.items():
        for _, row in df.iterrows():
            cols = [c for c in df.columns if c.startswith("paper ")]
            if cols and all(str(row[c]).endswith("(in CI)") for c in cols):
                full.append(f"{row['model']}, {row['reading']}, {name}")
            for col in cols:
                if str(row[col]).endswith("(in CI)"):
                    cls = col[len("paper ") :]
                    hits.append(
                        f"{row['model']}, {row['reading']}, {cls}, {name}: ours {row[f'{cls} (%)']}, paper "
                        f"{row[col].split(' ')[0]}"
                    )
    if not hits:
        return "No reading of any model holds a paper value inside its 95% CI."
    every = (
        "no row (model, reading, protocol) holds the paper's value in all its classes' CIs"
        if not full
        else "rows holding the paper's value in every class's CI: " + "; ".join(full)
    )
    return (
        "Cells whose 95% CI holds the paper's value: " + "; ".join(hits) + ". One value inside a CI does not "
        "contradict the argument above: it concerns the per-class values of one classifier together; "
        f"{every} (computed per row)."
    )


def timing_text(wall_s: float, feats_meta: dict, cached: bool, control: dict | None, budget_min: float = 45) -> str:
    """The run time (Markdown): the notebook's wall time, the feature extraction (in this run or cached earlier) and
    the clean-clone estimate (notebook + extractions) against the issue's target."""
    where = {True: "cached by an earlier process", False: "in this run"}
    sets = [("features", feats_meta.get("extract_seconds") or 0.0, cached)]
    if control is not None:
        sets.append(("control features", control.get("extract_seconds") or 0.0, control.get("cached", True)))
    clean = wall_s + sum(sec for _, sec, was_cached in sets if was_cached)
    inside = sum(sec for _, sec, was_cached in sets if not was_cached)
    return (
        f"*Run time*: this notebook {wall_s / 60:.1f} min wall (machine-dependent; the load is not recorded here). "
        "Feature extraction: "
        + ", ".join(f"{name} {sec:.0f} s ({where[bool(c)]})" for name, sec, c in sets)
        + f"; a clean clone (every feature set extracted first) about {clean / 60:.1f} min against the "
        f"{budget_min:g}-min target ({'within' if clean <= 60 * budget_min else 'over'} it; extraction inside this "
        f"notebook: {inside:.0f} s)."
    )


def best_seeded_text(r: dict, cfg: EyeCVConfig, best: str) -> str:
    """The best model whose CI includes retraining variability (run on 2+ seeds), named with its CI (Markdown bullet);
    when the overall best ran on one seed, its paired difference to that model."""
    seeded = [m for m in r if r[m].get("n_seeds", 1) > 1]
    if not seeded:
        return "- No model ran on more than one seed: no CI includes retraining variability."
    b = max(seeded, key=lambda m: r[m]["balanced_accuracy"])
    text = (
        f"- Highest balanced accuracy with a retraining CI: {cfg.label(b)}, {_ci(r[b], 'balanced_accuracy')} "
        f"({r[b]['n_seeds']} seeds; 95% CI: {r[b]['ci']})"
    )
    if b != best and "vs_best" in r[b]:
        text += f"; minus the overall best ({cfg.label(best)}, 1 seed) {_pp(r[b]['vs_best'], 'balanced_accuracy')}"
    return text + "."


def side_confound_text(cfg: EyeCVConfig, models=()) -> str:
    """For the SOM-based models, the clause that a protocol difference also changes the SOM side when the headline
    tunes it and the others fix it ('' otherwise)."""
    t = cfg.tuning
    main = cfg.cv.protocols[0]
    if not t.som_side_others or list(t.som_side_others) == list(t.som_side):
        return ""
    som_models = [cfg.label(m) for m in models if m in SOM_MODELS]
    if not som_models:
        return ""
    return (
        f"for the SOM-based models ({', '.join(som_models)}) a difference against {main} also changes the SOM side "
        f"(tuned over {list(t.som_side)} in {main}, fixed at {', '.join(str(v) for v in t.som_side_others)} in the "
        "other protocols): it measures the grouping and the side together"
    )


def side_edge_text(edges, sweep, cfg: EyeCVConfig, claim: str, sweep_model: str = "literal CBNN") -> str:
    """Where the tuned SOM side sat on its grid (from the tuning table) against the diagnostic sweep's best side for
    the claim model (Markdown sentence; '' without a tuned side)."""
    grid = list(cfg.tuning.som_side)
    rows = edges[(edges["model"] == "som") & (edges["protocol"] == cfg.cv.protocols[0])] if edges is not None else []
    if len(grid) < 2 or not len(rows):
        return f"*SOM side*: not tuned in {cfg.cv.protocols[0]} (grid {grid}): no grid edge to report."
    row = rows.iloc[0]
    text = (
        f"*SOM side chosen inside the folds* ({cfg.cv.protocols[0]}, grid {grid}, by the SOM classifier's inner score; "
        f"the SOM-based networks inherit it): {row['chosen (times)']}; on a grid edge in {row['on a grid edge']} "
        f"({row['edges hit'] or 'none'})."
    )
    if sweep is not None and len(sweep):
        part = sweep[sweep["model"] == sweep_model]
        if len(part):
            b = part["balanced accuracy (%)"]
            top = part.loc[b.idxmax()]
            low = part[part["side"] == min(grid)]
            text += (
                f" The diagnostic sweep's best side for {cfg.label(claim)} is {int(top['side'])} "
                f"({top['balanced accuracy (%)']:.2f} % balanced, outer fold 1)"
            )
            if len(low):
                gap = float(top["balanced accuracy (%)"] - low["balanced accuracy (%)"].iloc[0])
                text += (
                    f"; at the grid's lowest side {min(grid)} it scores {low['balanced accuracy (%)'].iloc[0]:.2f} %: "
                    f"where the lowest side is chosen, {cfg.label(claim)} may be under-sized by up to {gap:.2f} pp "
                    "(one fold, one seed)"
                )
            text += "."
    return text


def leak_footnote(cfg: EyeCVConfig, models=()) -> str:
    """The leak table's footnote on the SOM side (Markdown)."""
    confound = side_confound_text(cfg, models)
    if not confound:
        return "*Note to the table*: every protocol uses the same SOM side grid."
    return f"*Note to the table*: {confound}. Seeds per protocol: the column *seeds per protocol*."


def caveats_text(near_facts: dict, verifier, cut: float, feature_note: str) -> str:
    """The closing caveats (Markdown), the near-duplicate grouping stated from this run's counts and the pixel
    check's pass rate on known same-eye pairs (:func:`lib.eye.copies.verifier_summary`)."""
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
        "below the threshold stay apart, so the near-duplicate effect is measured for the joined pairs only. The "
        f"paper gives no SOM or network setting: every grid and setting here is ours. Features: {feature_note} (the "
        "paper's MobileNetV2 is the full-width network)."
    )


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
    lines.append(best_seeded_text(r, cfg, best))
    one_seed = [cfg.label(m) for m in top if r[m].get("n_seeds", 1) == 1]
    if one_seed:
        lines.append(
            "- Paired CIs against a model run on one seed omit that model's retraining variability (too narrow): "
            + ", ".join(one_seed)
            + "."
        )
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
    strongest = _strongest(floors)
    if strongest is not None:
        e = strongest["_entry"]
        lo_f, hi_f = e["balanced_accuracy_ci"]
        above = [cfg.label(m) for m in r if r[m]["balanced_accuracy_ci"][0] > hi_f]
        below = [cfg.label(m) for m in r if r[m]["balanced_accuracy_ci"][1] < lo_f]
        within = [cfg.label(m) for m in r if cfg.label(m) not in above + below]
        lines.append(
            f"- Strongest floor on balanced accuracy: {strongest['Features']}, {strongest['Technique']}, "
            f"{_ci(e, 'balanced_accuracy')} ({strongest['CI resamples']}). Against it (unpaired: the CIs compared): "
            f"above: {', '.join(above) or 'none'}; overlapping: {', '.join(within) or 'none'}; below: "
            f"{', '.join(below) or 'none'}. A model that does not clear a floor that cannot see lesions has not shown "
            "that it reads the fundus."
        )
    if control is not None and "logreg" in r:
        cb = control["balanced_accuracy"]
        lo_c, hi_c = control["balanced_accuracy_ci"]

        def _vs_control(m):
            lo, hi = r[m]["balanced_accuracy_ci"]
            verdict = (
                "overlapping CIs (unpaired): not established"
                if lo <= hi_c and hi >= lo_c
                else ("above it (unpaired CIs apart)" if lo > hi_c else "below it (unpaired CIs apart)")
            )
            return (
                f"{cfg.label(m)} {100 * (r[m]['balanced_accuracy'] - cb):+.2f} pp "
                f"({_ci(r[m], 'balanced_accuracy')}: {verdict})"
            )

        lines.append(
            f"- Against the negative control ({control['features']}, logistic regression, balanced accuracy "
            f"{_ci(control, 'balanced_accuracy')}; point differences, CIs compared unpaired): ImageNet features with "
            f"logistic regression: {_vs_control('logreg')}; {_vs_control(claim)}."
        )
    for m, per in leak.items():
        for a, b in pairs:
            if a in per and b in per:
                parts = []
                for key, bkey, name in (
                    ("accuracy", "boot", "accuracy"),
                    ("balanced_accuracy", "balanced_boot", "balanced accuracy"),
                ):
                    d = per[a][key] - per[b][key]
                    lo, hi = np.nanpercentile(per[a][bkey] - per[b][bkey], [2.5, 97.5])
                    verdict = "established" if lo > 0 or hi < 0 else "not established: the CI contains 0"
                    parts.append(f"{100 * d:+.2f} pp {name} [{100 * lo:+.2f}, {100 * hi:+.2f}] ({verdict})")
                also = ""
                if m in SOM_MODELS and main in (a, b) and side_confound_text(cfg, (m,)):
                    others = ", ".join(str(v) for v in cfg.tuning.som_side_others)
                    also = f"; also: SOM side tuned in {main}, fixed at {others} in the other protocol"
                lines.append(
                    f"- *{a} - {b}* ({LEAK_MEANING[(a, b)]}), {cfg.label(m)}: " + "; ".join(parts) + " (scored on "
                    f"the same originals{also})."
                )
    if "plain" in read and main != "plain":
        both = [m for m in r if m in read["plain"]]
        if both:
            lines.append(
                f"- The paper's protocol as the paper scores it (plain folds, every image scored, copies included) "
                f"minus the headline ({main}), balanced accuracy, point values (different test sets, no CI): "
                + ", ".join(
                    f"{cfg.label(m)} {100 * (read['plain'][m]['balanced_accuracy'] - r[m]['balanced_accuracy']):+.2f}"
                    " pp"
                    for m in both
                )
                + "."
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
            f"balanced accuracy {_ci(control, 'balanced_accuracy')} (95% CI: {control['ci']})."
        )
    for _, row in floors.iterrows():
        lines.append(
            f"- Shortcut floor, {row['Features']}, {row['Technique']}: balanced accuracy "
            f"{row['Balanced accuracy (%)']} %, accuracy {row['Accuracy (%)']} % (95% CI: {row['CI resamples']})."
        )
    return "\n".join(lines)
