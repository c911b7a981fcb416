"""Generated prose of notebook 03's results: the leak table, Table 2 in the CIs, the best model, the run time and the
interpretation.
"""

from __future__ import annotations

import numpy as np

from lib.eye.floors import strongest_floor
from lib.eye.prose import (
    SOM_MODELS,
    chosen_sides,
    ci_label,
    protocol_label,
    protocol_models,
    seeds_text,
    side_confound_text,
    sides_text,
)
from lib.eye.protocols import SENSITIVITY, EyeCVConfig

#: what each paired protocol difference of the leak table measures
LEAK_MEANING = {
    ("patient", "linked"): "what the augmented copies sitting across splits added (previous grouping minus "
    "copy-grouped)",
    ("linked", "originals"): "training with the copies (grouped with their sources) against training without them",
    ("plain", "linked"): "the paper's image-level folds against the copy-grouped ones",
    ("linked", "neardup"): "what the near-duplicate originals across splits added (copy-grouped minus "
    "near-duplicate-grouped)",
    ("neardup", "neardup_all"): "what the candidate pairs the pixel check left apart would add if they were "
    "near-duplicates (near-duplicate-grouped minus every candidate pair joined; positive: those pairs leak)",
}


def leak_text(cfg: EyeCVConfig, pairs, models=(), chosen=None, joined=None) -> str:
    """The leak table's reading guide, from the protocols this run ran (Markdown); ``models``: the leak table's
    models (those run in the headline only, and those run on one seed in some protocols, are named); ``chosen``: the
    tuning table (:func:`lib.eye.experiment.chosen_table`), for the SOM sides chosen per protocol; ``joined``: the
    groups made by joining ambiguous copies (:func:`lib.eye.copies.join_group_facts`), named in linked - originals."""
    ran = set(cfg.cv.protocols)
    lines = [
        f"Protocols run: {', '.join(cfg.cv.protocols)}. Every protocol is scored on the same test images (the "
        "originals, less the label-conflicted duplicates): like for like. Point values are means over each model's "
        "seeds; paired differences use the same resamples of groups that contain every protocol's groups (each "
        "replicate also draws a seed). These CIs resample that union of groups, so they differ slightly from the CIs "
        "of the model tables (the headline's groups)."
    ]
    others = [p for p in cfg.cv.protocols[1:] if p not in SENSITIVITY]
    only_main = [m for m in models if m in cfg.models and not any(m in protocol_models(cfg, p) for p in others)]
    if only_main and others:
        lines.append(
            f"Run in the headline protocol only ({cfg.cv.protocols[0]}; the budget): "
            + ", ".join(cfg.label(m) for m in only_main)
            + ": no leak differences for it."
        )
    if len(cfg.cv.seeds) > 1:
        one = []
        for m in models:
            ps = [
                p
                for p in cfg.cv.protocols
                if p not in SENSITIVITY and m in protocol_models(cfg, p) and len(cfg.cv.model_seeds(p, m)) == 1
            ]
            if ps:
                one.append(f"{cfg.label(m)} in {', '.join(ps)}")
        if one:
            lines.append(
                f"One seed only (seed {cfg.cv.seeds[0]} of {list(cfg.cv.seeds)}; the budget), so there the "
                f"protocol's CI is a {ci_label(1)}, and a paired difference with a 1-seed side omits that side's "
                "retraining variability (too narrow), also where the other side ran more seeds: " + "; ".join(one) + "."
            )
    for p in cfg.cv.protocols:
        if p in SENSITIVITY:
            names = ", ".join(cfg.label(m) for m in protocol_models(cfg, p))
            lines.append(
                f"*{p}* is a sensitivity check, not a grouping of the headline: {names} only, "
                f"{seeds_text(cfg, p)} (CI: {ci_label(1)}); '-' for the other models."
            )
    for a, b in pairs:
        if a in ran and b in ran:
            extra = ""
            if (a, b) == ("linked", "originals") and joined and joined["groups"]:
                big = joined["largest"]
                extra = (
                    f"; it also contains a grouping change: {joined['groups']:,} groups made by joining ambiguous "
                    f"copies to all their candidates (largest {big['images']:,} images, {big['originals']:,} "
                    f"originals: {big['share of class (%)']:.1f} % of the scored {big['class']} originals) exist in {a}"
                    f" only ({b} keeps those originals apart), so for {big['class']} the difference is not the copies "
                    "alone"
                )
            lines.append(f"- *{a} - {b}*: {LEAK_MEANING[(a, b)]}{extra}.")
        else:
            missing = ", ".join(x for x in (a, b) if x not in ran)
            lines.append(f"- *{a} - {b}*: not run ({missing} not among the protocols).")
    confound = side_confound_text(cfg, models, chosen)
    if confound:
        lines.append(f"- Note: {confound}.")
    return "\n".join(lines)


def class_mix_text(y, keep: dict, test: dict, classes, a: str = "linked", b: str = "originals") -> str:
    """The class mix of the training pool of protocols ``a`` (copies kept) and ``b`` (originals only) against the test
    images (Markdown sentence; '' unless both ran): why a leak difference can change sign between accuracy (weighted
    by the test mix) and balanced accuracy (free of it)."""
    if a not in keep or b not in keep:
        return ""
    y = np.asarray(y)

    def mix(mask) -> str:
        n = np.bincount(y[np.asarray(mask, bool)], minlength=len(classes))
        return ", ".join(f"{c} {k:,} ({100 * k / n.sum():.0f} %)" for c, k in zip(classes, n))

    head = (
        f"*Class mix*: training pool of *{a}* (copies kept): {mix(keep[a])}; of *{b}*: {mix(keep[b])}; test images "
        f"(every protocol but plain): {mix(test[a])}."
    )
    if mix(keep[a]) == mix(keep[b]):
        return head + " The copies do not change the class mix here."
    return head + (
        " Copies shift the training mix away from the test mix, which moves predictions toward the copied classes: "
        f"accuracy (weighted by the test mix) and balanced accuracy (free of it) can then move in opposite directions "
        f"in *{a} - {b}*."
    )


def same_source_text(block: dict | None, protocol: str) -> str:
    """What the same-source table scores (Markdown sentence)."""
    if block is None:
        return "*Within one acquisition source*: no file format and size holds two classes here: not scored."
    counts = ", ".join(f"{c} {n:,}" for c, n in block["counts"].items())
    return (
        f"*Within one acquisition source* ({block['key']} files, the largest block of the scored originals that holds "
        f"two or more classes: {counts}): inside it the file format and size carry no class. The {protocol} models' "
        "out-of-fold predictions scored on those images only (no retraining; the same seeds x group bootstrap), "
        "recall per class and balanced accuracy over these classes only:"
    )


def leak_footnote(cfg: EyeCVConfig, models=(), chosen=None) -> str:
    """The leak table's footnote on the SOM side (Markdown): the sides chosen per protocol when ``chosen`` is given."""
    confound = side_confound_text(cfg, models, chosen)
    if confound:
        return f"*Note to the table*: {confound}. Seeds per protocol: the column *seeds per protocol*."
    sides = chosen_sides(chosen)
    if sides:
        side = next(iter(next(iter(sides.values()))))
        return f"*Note to the table*: every protocol chose the same SOM side ({side}) in every fold and seed."
    return "*Note to the table*: every protocol uses the same SOM side grid."


def _ci(entry: dict, key: str) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{100 * entry[key]:.2f} % [{100 * lo:.2f}, {100 * hi:.2f}]"


def _pp(entry: dict, key: str) -> str:
    lo, hi = entry[f"{key}_ci"]
    return f"{100 * entry[key]:+.2f} pp [{100 * lo:+.2f}, {100 * hi:+.2f}]"


def _seeds(n) -> str:
    """ "1 seed" / "3 seeds"."""
    return f"{int(n)} seed" + ("" if int(n) == 1 else "s")


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
                        f"{row[col].split(' ')[0]}" + (f" ({_seeds(row['seeds'])})" if "seeds" in row else "")
                    )
    if not hits:
        return "No reading of any model holds a paper value inside its 95% CI."
    one_seed = ""
    if any((df["seeds"] == 1).any() for df in tables.values() if "seeds" in df):
        one_seed = (
            " A CI of a model run on one seed omits its retraining variability (too narrow: the tables' seeds and CI "
            "resamples columns)."
        )
    every = (
        "no row (model, reading, protocol) holds the paper's value in all its classes' CIs"
        if not full
        else "rows holding the paper's value in every class's CI: " + "; ".join(full)
    )
    return (
        "Cells whose 95% CI holds the paper's value: "
        + "; ".join(hits)
        + f".{one_seed} One value inside a CI does not "
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
    chosen=None,
    same_source=None,
    joined=None,
) -> str:
    """Generated reading of the results (Markdown bullets); ``meta_floor``: the best metadata-floor row (or None);
    ``pairs``: the leak table's protocol pairs; ``chosen``: the tuning table (the SOM sides chosen per protocol);
    ``same_source``: (block, {model: readings entry inside it}) (:func:`lib.eye.experiment.same_source_readings`) or
    None; ``joined``: the groups made by joining (:func:`lib.eye.copies.join_group_facts`). The "best" model is the
    one with the highest balanced accuracy (free of the test class mix); every model whose paired CI against it
    contains 0 is in the tied top group."""
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
    apart = [cfg.label(m) for m in r if m not in top and min(r[m].get("n_seeds", 1), r[best].get("n_seeds", 1)) == 1]
    if apart:  # review24s10 m1: outside the tied group on a CI with a 1-seed side is not established either
        lines.append(
            "- Outside the tied group on a paired CI with a 1-seed side (indicative, not established): "
            + ", ".join(apart)
            + "."
        )
    if same_source is not None and same_source[0] is not None and best in same_source[1]:
        block, inside = same_source
        e, whole = same_source[1][best], r[best]
        lines.append(
            f"- Inside one acquisition source ({block['key']} files; no retraining) against all scored originals, "
            f"{cfg.label(best)} (the best), recall per class: "
            + ", ".join(
                f"{c} {100 * e['recall'][c]:.2f} % [{100 * e['recall'][f'{c}_ci'][0]:.2f}, "
                f"{100 * e['recall'][f'{c}_ci'][1]:.2f}] against {100 * whole['recall'][c]:.2f} %"
                for c in block["classes"]
            )
            + f"; balanced accuracy over these {len(block['classes'])} classes {_ci(e, 'balanced_accuracy')}. "
            "Inside it the file format and size carry no class; other acquisition cues (colour, field of view) are "
            "not excluded: the floors are not re-scored inside the block."
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
    strongest = strongest_floor(floors)
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
                na, nb = per[a].get("seeds", 1), per[b].get("seeds", 1)
                one = ""
                if min(na, nb) == 1:
                    one = " with a 1-seed side" if max(na, nb) > 1 else " with 1 seed each side"
                for key, bkey, name in (
                    ("accuracy", "boot", "accuracy"),
                    ("balanced_accuracy", "balanced_boot", "balanced accuracy"),
                ):
                    d = per[a][key] - per[b][key]
                    lo, hi = np.nanpercentile(per[a][bkey] - per[b][bkey], [2.5, 97.5])
                    # a CI that omits retraining variability (one seed on a side) cannot establish a difference
                    apart = lo > 0 or hi < 0
                    if apart and one:
                        verdict = f"indicative{one}, not established: the CI excludes 0 but holds no seed variability"
                    else:
                        verdict = "established" if apart else "not established: the CI contains 0"
                    parts.append(f"{100 * d:+.2f} pp {name} [{100 * lo:+.2f}, {100 * hi:+.2f}] ({verdict})")
                also = ""
                if one:
                    also = (
                        f"; seeds {a} {na}, {b} {nb}: the CI omits the retraining variability of "
                        f"{'the 1-seed side' if max(na, nb) > 1 else 'both sides'}, so "
                        "a verdict here is of one fold assignment"
                    )
                if (a, b) == ("linked", "originals") and joined and joined["groups"]:
                    big = joined["largest"]
                    also += (
                        f"; also the grouping change of the {joined['groups']:,} joined groups (largest "
                        f"{big['images']:,} images, {big['share of class (%)']:.1f} % of the scored {big['class']} "
                        f"originals; {a} only), so for {big['class']} it is not the copies alone"
                    )
                sides = {q: v for q, v in chosen_sides(chosen).items() if q in (a, b)}
                if m in SOM_MODELS and len(sides) == 2 and set(sides[a]) != set(sides[b]):
                    also += f"; also the SOM side it inherits: {sides_text(cfg, sides)}"
                elif m in SOM_MODELS and main in (a, b) and not sides and side_confound_text(cfg, (m,)):
                    others = ", ".join(str(v) for v in cfg.tuning.som_side_others)
                    also += f"; also: SOM side tuned in {main}, fixed at {others} in the other protocol"
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
                + "; seeds per model (plain / "
                + f"{main}; 1: seed {cfg.cv.seeds[0]} only; a point value is the mean over the seeds): "
                + ", ".join(
                    f"{cfg.label(m)} {read['plain'][m].get('n_seeds', 1)} / {r[m].get('n_seeds', 1)}" for m in both
                )
                + "."
            )
    if "net_features" in r and "balanced_accuracy_minus_net_features" in r.get(claim, {}):
        lines.append(
            f"- SOM contribution ({cfg.label(claim)} minus the same network on the features, balanced accuracy): "
            f"{_pp(r[claim], 'balanced_accuracy_minus_net_features')}; the literal CBNN sees only the winning unit "
            "(section 4 reads it against the map size in the side sweep)."
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
