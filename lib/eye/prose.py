"""Generated prose of notebook 03: every sentence that states a setting or a result is built here from the
parameters and the numbers the notebook ran, never typed."""

from __future__ import annotations

import re

from lib.eye.protocols import NETWORKS, SIDE_ROW, EyeCVConfig

#: models whose inputs depend on the SOM side
SOM_MODELS = ("som", *(m for m, (clusters, _) in NETWORKS.items() if clusters == "som"))

PROTOCOL_TEXT = {
    "plain": "stratified {k}-fold over images (the paper's; a patient's eyes and an image's augmented copies can sit "
    "on both sides of a split); scored on all images, copies included (the leak table scores it on the originals)",
    "patient": "stratified group {k}-fold over the previous round's groups (the two eyes of a patient; augmented "
    "copies grouped only when they share their index k)",
    "linked": "copy-grouped: stratified group {k}-fold over the linked groups (the two eyes of a patient with every "
    "augmented copy of either, each copy with its detected source, an ambiguous copy with all its candidates; "
    "unmatched copies dropped); scored on "
    "the originals only (copies only ever in training, with their source's group)",
    "neardup": "copy- and near-duplicate-grouped: stratified group {k}-fold over the linked groups with near-duplicate "
    "originals (feature cosine at or above the threshold, confirmed by the pixel check or tied by an ambiguous copy) "
    "joined into one group; "
    "scored on the originals only (copies only ever in training)",
    "originals": "the augmented copies removed, stratified group {k}-fold over the patients",
    "neardup_all": "a sensitivity check of the near-duplicate grouping: as neardup, with every candidate pair of "
    "originals at or above the feature-cosine threshold joined (the pixel check not applied); scored on the originals "
    "only",
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
    """The models run under ``protocol`` (:meth:`lib.eye.protocols.EyeCVConfig.models_of`)."""
    return cfg.models_of(protocol)


def som_protocols(cfg: EyeCVConfig) -> tuple[str, ...]:
    """The protocols that run a SOM-based model (where the SOM side is chosen or fixed)."""
    return tuple(p for p in cfg.cv.protocols if any(m in SOM_MODELS for m in protocol_models(cfg, p)))


def ci_label(n_seeds: int) -> str:
    """What a 95% CI resamples, for a model run on ``n_seeds`` seeds."""
    if n_seeds > 1:
        return f"seeds x group bootstrap ({n_seeds} seeds: retraining and test-group variability)"
    return "group bootstrap of one fold assignment (1 seed: no retraining variability)"


def claim_seeds_text(cfg: EyeCVConfig, claim: str, paper: str = "plain") -> str:
    """The seeds behind the claim model's value in the paper's protocol and in the honest one (the headline), with
    what each 95% CI resamples (one sentence; meta.claim_seeds, read by the claims' notes)."""
    parts, counts = [], set()
    for role, p in (("paper's protocol", paper), ("honest protocol", cfg.cv.protocols[0])):
        if p in cfg.cv.protocols and claim in protocol_models(cfg, p):
            seeds = list(cfg.cv.model_seeds(p, claim))
            counts.add(len(seeds))
            parts.append(f"{role} ({p}): {cfg.label(claim)} on seeds {seeds}, 95% CI a {ci_label(len(seeds))}")
    if not parts:
        return ""
    tail = "the two values rest on different numbers of seeds" if len(counts) > 1 else "the same number of seeds"
    return "; ".join(parts) + f" ({tail})."


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
    main = cfg.cv.protocols[0]
    rest = [p for p in som_protocols(cfg) if p != main]
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
        f"{[list(p) for p in t.mlp]} ({t.mlp_max_iter} iterations, float32); SOM side: {som_side_text(cfg)[:-1]} "
        "(chosen by the SOM classifier, shared by the SOM-based networks); network hidden width in "
        f"{list(t.cbnn_hidden)} (each network separately; the soft CBNN also its RBF bandwidth factor in "
        f"{list(t.soft_bandwidth)} x the median nearest-unit distance, its soft assignments standardized per unit). "
        "All grids are ours; a choice on a grid edge is flagged in the tuning table.",
        f"- Folds: {fold_note(cfg)}.",
        f"- This run's budget (reductions against the paper's protocol): {reductions_text(cfg)}.",
        f"- Networks: {cfg.cbnn.epochs} epochs, batch {cfg.cbnn.batch_size}, Adam {cfg.cbnn.learning_rate:g}, "
        f"loss {cfg.cbnn.loss}; SOM: {cfg.som.describe().split(' ', 1)[1]} (its side as above; the figures' map: side "
        f"{cfg.som.side}).",
        f"- CIs: {cfg.cv.bootstrap} replicates, each one seed drawn from the model's seeds and the groups (copies "
        f"and near-duplicates joined) drawn with replacement: a model run on several seeds gets a "
        f"{ci_label(len(cfg.cv.seeds))}; a model run on one seed a {ci_label(1)}.",
    ]
    return "\n".join(lines)


def som_side_text(cfg: EyeCVConfig) -> str:
    """Where the SOM side is tuned or fixed inside the folds, per protocol (one sentence, from the parameters)."""
    t = cfg.tuning
    main = cfg.cv.protocols[0]
    rest = [p for p in som_protocols(cfg) if p != main]
    if rest and list(t.som_side_others) == list(t.som_side) and len(t.som_side) > 1:
        return (
            f"every protocol with a SOM-based model ({', '.join([main, *rest])}): side tuned over {list(t.som_side)} "
            "by the SOM classifier's inner balanced accuracy."
        )
    parts = []
    for name, grid in ((main, t.som_side), (", ".join(rest), t.som_side_others)):
        if name:
            parts.append(
                f"{name}: side tuned over {list(grid)} by the SOM classifier's inner balanced accuracy"
                if len(grid) > 1
                else f"{name}: side fixed at {grid[0]} (not tuned)"
            )
    return "; ".join(parts) + "."


def chosen_sides(chosen) -> dict:
    """{protocol: {side: times chosen over outer folds x seeds}} from the tuning table's side-selection rows
    (:data:`lib.eye.protocols.SIDE_ROW`; {} without a table or without a side selection)."""
    if chosen is None or not len(chosen):
        return {}
    out: dict = {}
    for _, row in chosen[chosen["model"] == SIDE_ROW].iterrows():
        m = re.search(r"side (\d+)", str(row["setting"]))
        if m:
            counts = out.setdefault(row["protocol"], {})
            counts[int(m.group(1))] = counts.get(int(m.group(1)), 0) + 1
    return {p: dict(sorted(c.items())) for p, c in out.items()}


def sides_text(cfg: EyeCVConfig, sides: dict) -> str:
    """'neardup: side 8 in 5 of 9 (low edge), side 16 in 4 of 9; plain: side 32 in 3 of 3 (top edge)'."""
    parts = []
    for p, counts in sides.items():
        grid = sorted(cfg.for_protocol(p).tuning.som_side)
        n = sum(counts.values())
        items = []
        for s, k in counts.items():
            edge = ""
            if len(grid) > 1 and s in (grid[0], grid[-1]):
                edge = " (low edge)" if s == grid[0] else " (top edge)"
            items.append(f"side {s} in {k} of {n}{edge}")
        parts.append(f"{p}: " + ", ".join(items))
    return "; ".join(parts)


def side_confound_text(cfg: EyeCVConfig, models=(), chosen=None) -> str:
    """For the SOM-based models among ``models``, the clause that a protocol difference also changes the SOM side
    ('' when no side differs). With ``chosen`` (:func:`lib.eye.experiment.chosen_table`) the sides actually chosen
    per protocol are compared; without it (before the run) the parameters' side grids."""
    som_models = [m for m in models if m in SOM_MODELS]
    if not som_models:
        return ""
    names = ", ".join(cfg.label(m) for m in som_models)
    sides = chosen_sides(chosen)
    if sides:
        if len({s for c in sides.values() for s in c}) < 2:
            return ""
        where = (
            "between protocols"
            if len({frozenset(c) for c in sides.values()}) > 1
            else "between folds (every protocol chose the same set of sides)"
        )
        text = (
            f"for the SOM-based models ({names}) the SOM side is chosen inside each protocol's folds by the SOM "
            f"classifier and inherited, and the sides chosen differ {where} (outer folds x seeds: "
            f"{sides_text(cfg, sides)}): a protocol difference of these models measures the grouping and the side "
            "together"
        )
        if "cbnn_onehot" in som_models:
            text += (
                f"; the differences of the {cfg.label('cbnn_onehot')} include its inherited side (it reads only the "
                "winning unit, so the side sets its whole input)"
            )
        return text
    t = cfg.tuning
    main = cfg.cv.protocols[0]
    if not t.som_side_others or list(t.som_side_others) == list(t.som_side):
        return ""
    return (
        f"for the SOM-based models ({names}) a difference against {main} also changes the SOM side "
        f"(tuned over {list(t.som_side)} in {main}, fixed at {', '.join(str(v) for v in t.som_side_others)} in the "
        "other protocols): it measures the grouping and the side together"
    )
