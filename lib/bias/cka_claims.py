"""The paper's CKA statements as measurable claims, tested over trained models (seeds), not only probe images.

Paper (Sec. 4.4, Figure 1) says, reading its layer x layer CKA heatmaps: (a) on C-MNIST "all the loss functions
tend to form a small box-like structure at the ultimate layers (at the top right corner after 50th layer)";
(b) "L_SoS ... is prone to have block structured representations on utmost all the data"; (c) NLL / SCE have
"decreasing similarity with the depth", a "progressive similarity across the layers" (Conclusion: "progressive
dissimilarity with the depth"). Operational definitions, one number per trained model (a CKA matrix ``m`` over
the network's layers in forward order):

- ``change_after``: mean CKA between two layers both from layer ``k`` on (the paper's 50th, 1-based; the box in
  the top right corner) minus the mean CKA between a layer from ``k`` on and one before it. > 0: the late layers
  form a box more similar within itself than to the earlier layers.
- ``block_score`` (``lib.bias.experiment.block_score``): mean CKA between two layers of the same stage minus the
  mean between layers of different stages. SoS "block-structured": SoS's score above the other objectives'.
- ``progressive``: minus the Spearman correlation between the distance of two layers (|i - j|, every pair) and
  their CKA. > 0: similarity falls steadily with the distance in depth (a banded, progressive heatmap rather
  than flat blocks). SCE "progressive": SCE's score above 0.

Tests, per dataset, over the trained models (aliases left out: their matrices are their twin's):

- (a) and (c): a one-sample 95 % t-interval over the seeds of each objective (a, every objective; c, SCE);
  "supported" when the interval lies above 0, "contradicted" when below, else "not established";
- (b) and the one noise-floor verdict: permutation tests over models (objective labels shuffled among the models
  of a dataset, group sizes kept): (b) statistic = mean SoS score minus mean score of the other objectives,
  one-sided; noise floor: statistic = mean |difference| between heatmaps of models of different objectives minus
  that of models of the same objective (two seeds): "above the seed noise floor" when p < ``alpha``. The probe-image
  bootstrap elsewhere in the notebook measures how much a heatmap moves with its probe images; it does not enter
  this verdict.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from lib.bias.statistics import ALPHA, ci95

N_PERMUTATIONS = 5000


def change_after(m: np.ndarray, k: int) -> float:
    """Mean CKA within the layers from the ``k``-th on (1-based, off-diagonal) minus the mean CKA between those and
    the earlier layers; NaN when the late box has fewer than two layers or there is no earlier layer."""
    m = np.asarray(m, dtype=float)
    cut = k - 1
    if not 0 < cut < len(m) - 1:
        return float("nan")
    late = len(m) - cut
    box = m[cut:, cut:][~np.eye(late, dtype=bool)]
    across = m[cut:, :cut]
    return float(np.nanmean(box) - np.nanmean(across))


def progressive(m: np.ndarray) -> float:
    """Minus the Spearman correlation between layer distance |i - j| and CKA over every pair i < j."""
    m = np.asarray(m, dtype=float)
    i, j = np.triu_indices(len(m), 1)
    vals = m[i, j]
    if len(vals) < 3 or np.allclose(vals, vals[0]):
        return float("nan")
    return float(-stats.spearmanr(j - i, vals).statistic)


def model_scores(mats: dict, names, paper_layer: int) -> pd.DataFrame:
    """One row per model ``(dataset, objective, seed)``: change_after, block_score, progressive."""
    from lib.bias.experiment import block_score

    rows = []
    for (d, o, s), m in sorted(mats.items()):
        rows.append(
            {
                "dataset": d,
                "objective": o,
                "seed": s,
                "change_after": change_after(m, paper_layer),
                "block_score": block_score(np.asarray(m, dtype=float), names),
                "progressive": progressive(m),
            }
        )
    return pd.DataFrame(rows, columns=["dataset", "objective", "seed", "change_after", "block_score", "progressive"])


def _interval_verdict(values) -> dict:
    values = np.asarray(values, dtype=float)
    mean, half = ci95(values)
    out = {"mean": float(mean), "ci95": None if not np.isfinite(half) else float(half), "n_models": len(values)}
    if len(values) < 2 or not np.isfinite(half):
        out["verdict"] = "not established (fewer than two seeds)"
    elif mean - half > 0:
        out["verdict"] = "supported"
    elif mean + half < 0:
        out["verdict"] = "contradicted"
    else:
        out["verdict"] = "not established"
    return out


def _permutations(labels: np.ndarray, n: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield rng.permutation(labels)


def permutation_group_test(values, labels, group: str, n_perm: int = N_PERMUTATIONS, seed: int = 0) -> dict:
    """One-sided test that ``group``'s models score higher than the others: statistic = mean(group) - mean(rest),
    objective labels permuted among the models; p = (1 + #perm >= observed) / (1 + n_perm)."""
    values, labels = np.asarray(values, dtype=float), np.asarray(labels)
    mask = labels == group
    if mask.sum() < 1 or (~mask).sum() < 1:
        return {"diff": None, "p": None, "verdict": "not measured"}
    obs = values[mask].mean() - values[~mask].mean()
    hits = sum(
        values[perm == group].mean() - values[perm != group].mean() >= obs - 1e-12
        for perm in _permutations(labels, n_perm, seed)
    )
    p = (1 + hits) / (1 + n_perm)
    verdict = "supported" if obs > 0 and p < ALPHA else "not established"
    return {"diff": float(obs), "p": float(p), "n_models": int(len(values)), "verdict": verdict}


def heatmap_distances(mats: dict) -> tuple[list, np.ndarray]:
    """Keys and the matrix of mean |difference| between every two models' heatmaps."""
    keys = sorted(mats)
    dist = np.zeros((len(keys), len(keys)))
    for i, j in itertools.combinations(range(len(keys)), 2):
        dist[i, j] = dist[j, i] = float(np.nanmean(np.abs(np.asarray(mats[keys[i]]) - np.asarray(mats[keys[j]]))))
    return keys, dist


def noise_floor_permutation(mats: dict, n_perm: int = N_PERMUTATIONS, seed: int = 0) -> dict:
    """The noise-floor verdict of one dataset's models: mean |difference| between heatmaps of different
    objectives minus that between heatmaps of the same objective (other seeds), permutation p over models."""
    keys, dist = heatmap_distances(mats)
    labels = np.array([k[1] for k in keys])
    iu = np.triu_indices(len(keys), 1)

    def stat(lab):
        same = (lab[:, None] == lab[None, :])[iu]
        if not same.any() or same.all():
            return float("nan")
        return float(dist[iu][~same].mean() - dist[iu][same].mean())

    obs = stat(labels)
    if not np.isfinite(obs):
        return {"excess": None, "p": None, "verdict": "not measured (needs two seeds and two objectives)"}
    hits = sum(stat(p) >= obs - 1e-12 for p in _permutations(labels, n_perm, seed))
    p = (1 + hits) / (1 + n_perm)
    same = (labels[:, None] == labels[None, :])[iu]
    return {
        "between_objectives": float(dist[iu][~same].mean()),
        "same_objective": float(dist[iu][same].mean()),
        "excess": obs,
        "p": float(p),
        "n_models": len(keys),
        "verdict": "above the seed noise floor" if p < ALPHA else "within the seed noise floor",
    }


def cka_claims(mats: dict, names, paper_layer: int, block_objective: str = "sos", progressive_objective="sce"):
    """Per dataset: the three CKA claims and the noise-floor verdict (see the module docstring), and the
    per-model scores table."""
    scores = model_scores(mats, names, paper_layer)
    out = {}
    for d, grp in scores.groupby("dataset", sort=False):
        by_obj = {o: g for o, g in grp.groupby("objective", sort=False)}
        change = {o: _interval_verdict(g["change_after"]) for o, g in by_obj.items()}
        verdicts = {v["verdict"] for v in change.values()}
        overall = verdicts.pop() if len(verdicts) == 1 else "mixed across objectives"
        prog = (
            _interval_verdict(by_obj[progressive_objective]["progressive"])
            if progressive_objective in by_obj
            else {"verdict": "not measured"}
        )
        out[d] = {
            "paper_layer": paper_layer,
            "change_after_layer": {"by_objective": change, "verdict": overall},
            "block_structured": {
                "objective": block_objective,
                **permutation_group_test(grp["block_score"], grp["objective"], block_objective),
                "by_objective": {o: float(g["block_score"].mean()) for o, g in by_obj.items()},
            },
            "progressive": {"objective": progressive_objective, **prog},
            "noise_floor": noise_floor_permutation({k: m for k, m in mats.items() if k[0] == d}),
        }
    return out, scores


def claims_table(claims: dict) -> pd.DataFrame:
    """The claims as a table: dataset, claim, definition, value, interval / p, verdict."""
    rows = []
    for d, c in claims.items():
        ch = c["change_after_layer"]
        for o, v in ch["by_objective"].items():
            rows.append(
                {
                    "dataset": d,
                    "claim": f"box from layer {c['paper_layer']} on (late layers more alike than to earlier ones)",
                    "objective": o,
                    "value": v["mean"],
                    "interval / p": f"± {v['ci95']:.3f}" if v["ci95"] is not None else "",
                    "verdict": v["verdict"],
                }
            )
        b = c["block_structured"]
        rows.append(
            {
                "dataset": d,
                "claim": f"{b['objective']} block-structured (block score above the others)",
                "objective": b["objective"],
                "value": b["diff"],
                "interval / p": f"p = {b['p']:.3g}" if b["p"] is not None else "",
                "verdict": b["verdict"],
            }
        )
        p = c["progressive"]
        rows.append(
            {
                "dataset": d,
                "claim": f"{p['objective']} progressive (CKA falls with layer distance: -Spearman > 0)",
                "objective": p["objective"],
                "value": p.get("mean"),
                "interval / p": f"± {p['ci95']:.3f}" if p.get("ci95") is not None else "",
                "verdict": p["verdict"],
            }
        )
        n = c["noise_floor"]
        rows.append(
            {
                "dataset": d,
                "claim": "heatmaps differ between objectives beyond seed noise",
                "objective": "all",
                "value": n["excess"],
                "interval / p": f"p = {n['p']:.3g}" if n["p"] is not None else "",
                "verdict": n["verdict"],
            }
        )
    return pd.DataFrame(rows)
