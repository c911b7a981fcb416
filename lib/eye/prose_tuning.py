"""Generated prose of notebook 03's tuning section: grid edges, the SOM side sweep and the chosen side."""

from __future__ import annotations

import re

from lib.eye.protocols import NETWORKS, SIDE_ROW, EyeCVConfig


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


def _side_seeds(cfg: EyeCVConfig, protocol: str) -> str:
    """' (seeds [0, 1, 2])' / ' (seed 0)': the seeds of ``protocol`` that ran a side selection (a seed with a model that
    uses the SOM: :func:`lib.eye.protocols.cross_validate`)."""
    seeds = sorted(
        {
            s
            for m in cfg.models_of(protocol)
            if m == "som" or NETWORKS.get(m, ("none",))[0] != "none"
            for s in cfg.cv.model_seeds(protocol, m)
        }
    )
    if not seeds:
        return ""
    return f" (seed {seeds[0]})" if len(seeds) == 1 else f" (seeds {seeds})"


def side_edge_text(edges, sweep, cfg: EyeCVConfig, claim: str, sweep_model: str = "literal CBNN") -> str:
    """Where the tuned SOM side sat on its grid in every protocol (the tuning table's side-selection rows) and, for
    the headline, against the diagnostic sweep's best side for the claim model (Markdown; a fixed side says so)."""
    grid = list(cfg.tuning.som_side)
    main = cfg.cv.protocols[0]
    rows = edges[edges["model"] == SIDE_ROW] if edges is not None and len(edges) else []
    if not len(rows) and edges is not None and len(edges):  # a table from before the side-selection rows
        rows = edges[edges["model"] == "som"]
    if len(grid) < 2 or not len(rows) or main not in set(rows["protocol"]):
        return f"*SOM side*: not tuned in {main} (grid {grid}): no grid edge to report."
    per = [
        f"*{r['protocol']}*{' (the headline)' if r['protocol'] == main else ''}: {r['chosen (times)']}"
        f"{_side_seeds(cfg, r['protocol'])}; on a grid "
        f"edge in {r['on a grid edge']} ({r['edges hit'] or 'none'})"
        for _, r in rows.iterrows()
    ]
    row = rows[rows["protocol"] == main].iloc[0]
    text = (
        f"*SOM side chosen inside the folds* (grid {grid}, by the SOM classifier's inner score; the SOM-based networks "
        "inherit it; outer folds x seeds of each protocol): " + "; ".join(per) + "."
    )
    if sweep is not None and len(sweep):
        part = sweep[sweep["model"] == sweep_model]
        if len(part):
            b = part["balanced accuracy (%)"]
            top = part.loc[b.idxmax()]
            text += (
                f" The diagnostic sweep's best side for {cfg.label(claim)} is {int(top['side'])} "
                f"({top['balanced accuracy (%)']:.2f} % balanced, outer fold 1)"
            )
            chosen = sorted({int(s) for s in re.findall(r"side (\d+)", str(row["chosen (times)"]))})
            picked = part[part["side"].isin(chosen)]
            if int(top["side"]) in chosen or not len(picked):
                text += f", a side chosen inside the folds ({chosen})"
            else:
                best = picked.loc[picked["balanced accuracy (%)"].idxmax()]
                gap = float(top["balanced accuracy (%)"] - best["balanced accuracy (%)"])
                text += (
                    f", not among the sides chosen inside the folds ({chosen}; the best of them, side "
                    f"{int(best['side'])}, scores {best['balanced accuracy (%)']:.2f} %, {gap:.2f} pp lower: one fold "
                    "and one seed, of the order of the sweep's own spread)"
                )
            text += "."
    return text


def learning_text(summary: dict, tol_pp: float = 1.0) -> str:
    """The learning check read per network (Markdown, from :func:`lib.eye.experiment.learning_summary`): the mean
    held-out accuracy at the runs' budget against the end of the longer check; a gain above ``tol_pp`` flags the
    network as under-trained at the budget."""
    if not summary:
        return ""
    first = next(iter(summary.values()))
    w, budget, end = first["window"], first["epochs_run"], first["epochs_checked"]
    parts = []
    for name, e in summary.items():
        gain = 100 * e["gain_after_budget"]
        if gain > tol_pp:
            verdict = "under-trained at the budget: its rows understate it"
        elif gain < -tol_pp:
            verdict = "lower after the budget: longer training does not help it"
        else:
            verdict = f"within {tol_pp:g} pp"
        parts.append(
            f"{name} {100 * e[f'val_accuracy_mean{w}_at_budget']:.1f} % -> "
            f"{100 * e[f'val_accuracy_mean{w}_at_end']:.1f} % ({gain:+.1f} pp: {verdict})"
        )
    return (
        f"*Learning check* (a diagnostic: {first['protocol']}, outer fold {first['fold']}, seed {first['seed']}, held "
        f"out = that fold's test part, never used to choose a setting; width {first['width']}, SOM side "
        f"{first['som_side']}, soft bandwidth factor {first['soft_bandwidth_factor']:g}: not the settings chosen "
        f"inside the folds). Held-out accuracy, mean of epochs {budget - w + 1}-{budget} (the runs' budget) against "
        f"epochs {end - w + 1}-{end}: " + "; ".join(parts) + "."
    )


def sweep_gap_text(sweep, first: str = "literal CBNN", second: str = "SOM classifier", close_pp: float = 3.0) -> str:
    """How far the literal CBNN stays from the SOM classifier at every side of the diagnostic sweep (Markdown
    sentence; '' without both)."""
    if sweep is None or not len(sweep):
        return ""
    a = sweep[sweep["model"] == first].set_index("side")["balanced accuracy (%)"]
    b = sweep[sweep["model"] == second].set_index("side")["balanced accuracy (%)"]
    both = a.index.intersection(b.index)
    if not len(both):
        return ""
    gap = (a[both] - b[both]).abs()
    close = gap.max() <= close_pp
    return (
        f"At every side swept ({', '.join(str(int(s)) for s in both)}) the {first} stays within {gap.max():.2f} pp of "
        f"the {second} (balanced accuracy; its own spread over the sides {a.max() - a.min():.2f} pp)"
        + (
            f": within {close_pp:g} pp at every side, reading only the winning unit it adds little to the map's own "
            "majority labels at any map size"
            if close
            else ""
        )
        + " (one fold, one seed)."
    )
