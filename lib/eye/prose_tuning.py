"""Generated prose of notebook 03's tuning section: grid edges, the SOM side sweep and the chosen side."""

from __future__ import annotations

from lib.eye.protocols import EyeCVConfig


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
