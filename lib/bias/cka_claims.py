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

Untrained baseline. A banded heatmap (CKA falling with layer distance) and a late box (at 28-32 px with the
torchvision stem, layer4 runs on 1x1 maps) appear in a randomly initialised, untrained ResNet18 too, so a score
above 0 says nothing about an objective. Every score is therefore set beside the same score of the same
architecture (width, stem) at ``UNTRAINED_SEEDS`` random initialisations, on the same probe images
(``untrained`` matrices, ``lib.bias.experiment.untrained_cka``), and a claim is "supported" only relative to it.

Tests, per dataset, over the trained models (aliases left out: their matrices are their twin's), one p-value per
claim, Holm-corrected over every CKA claim of the run (``holm_over_claims``); "supported" when the Holm-adjusted
p < ``ALPHA``:

- (a) box: per objective, a one-sided Welch t-test of the trained models' ``change_after(50)`` above the untrained
  models' (the seeds' 95 % t-interval over trained seeds is kept as a description); the claim is about every
  objective, so its p is the largest per-objective p (an intersection-union test). ``change_profile``: the score at
  every cut k, with the k that maximises it per objective and for the untrained network (is layer 50 special?);
- (b) SoS block-structured: a one-sided permutation test over models (objective labels shuffled among the models
  of a dataset, group sizes kept; statistic mean SoS score minus mean of the other objectives) and a Welch test of
  SoS above the untrained baseline; p is the larger of the two;
- (c) SCE progressive, comparatively: one-sided Welch tests of SCE's score above SoS's (the paper's contrast:
  progressive vs block-like) and above the untrained baseline; p is the larger. Welch ignores that seed s shares
  its initialisation across objectives (conservative when the pairing is positive);
- noise floor: permutation test over models, statistic = mean |difference| between heatmaps of different objectives
  minus that of models of the same objective (two seeds). Verdict "above the seed noise floor", else "not shown
  above the seed noise floor". The probe-image bootstrap elsewhere in the notebook measures how much a heatmap
  moves with its probe images; it does not enter this verdict.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from lib.bias.statistics import ALPHA, ci95
from lib.core.stats import holm

N_PERMUTATIONS = 5000
#: random initialisations of the untrained baseline (the trained models' own starting points for seeds 0 and 1)
UNTRAINED_SEEDS = (0, 1)
NOT_SHOWN = "not shown above the untrained baseline"


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


def change_profile(m: np.ndarray) -> np.ndarray:
    """``change_after(m, k)`` for every k = 1..len(m) (1-based; NaN where undefined)."""
    return np.array([change_after(m, k) for k in range(1, len(m) + 1)])


def welch_greater(a, b) -> dict:
    """One-sided Welch t-test that mean(a) > mean(b): difference, its two-sided 95 % Welch half-width, p; p None
    when a group has fewer than two values or both have no spread."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else float("nan")
    if len(a) < 2 or len(b) < 2:
        return {"diff": diff if np.isfinite(diff) else None, "ci95": None, "p": None}
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    if se == 0:
        return {"diff": diff, "ci95": 0.0, "p": 0.0 if diff > 0 else 1.0}
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return {
        "diff": diff,
        "ci95": float(stats.t.ppf(1 - ALPHA / 2, df) * se),
        "p": float(stats.t.sf(diff / se, df)),
    }


def _max_p(*ps):
    """The intersection-union p of claims that need every part: the largest p (None if any part has none)."""
    return None if any(p is None for p in ps) else float(max(ps))


def holm_over_claims(claims: dict, alpha: float = ALPHA) -> dict:
    """Holm correction over every CKA claim of a run (every dataset): sets ``p_holm`` and the verdict of each
    claim in place ("supported" when the adjusted p < alpha; a claim without a p keeps its verdict) and returns
    ``claims``."""
    keys = [(d, c) for d, v in claims.items() for c in CLAIM_KEYS if v.get(c, {}).get("p") is not None]
    adjusted = holm([claims[d][c]["p"] for d, c in keys]) if keys else []
    for (d, c), p_adj in zip(keys, adjusted):
        entry = claims[d][c]
        entry["p_holm"] = float(p_adj)
        entry["n_tests_holm"] = len(keys)
        entry["verdict"] = entry.get("supported", "supported") if p_adj < alpha else entry["not_supported"]
    return claims


#: the claims of one dataset that carry a p-value for the Holm correction
CLAIM_KEYS = ("change_after_layer", "block_structured", "progressive", "noise_floor")


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
        "verdict": "above the seed noise floor" if p < ALPHA else "not shown above the seed noise floor",
        "supported": "above the seed noise floor",
        "not_supported": "not shown above the seed noise floor",
    }


def profile_table(mats: dict, untrained: dict | None = None) -> pd.DataFrame:
    """Long table of ``change_profile``: one row per (dataset, objective, k) with the mean over the seeds of each
    objective (and of the untrained models, objective ``untrained``)."""
    rows = []
    groups: dict = {}
    for (d, o, _s), m in mats.items():
        groups.setdefault((d, o), []).append(change_profile(m))
    for (d, _s), m in (untrained or {}).items():
        groups.setdefault((d, "untrained"), []).append(change_profile(m))
    for (d, o), profs in groups.items():
        with warnings.catch_warnings():  # the first and last cut are undefined (NaN) in every profile
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(np.vstack(profs), axis=0)
        rows += [{"dataset": d, "objective": o, "k": k + 1, "change_after": float(v)} for k, v in enumerate(mean)]
    return pd.DataFrame(rows, columns=["dataset", "objective", "k", "change_after"])


def profile_peaks(profile: pd.DataFrame) -> dict:
    """``{dataset: {objective: {"k": argmax k, "height": max change_after}}}`` of ``profile_table``."""
    out: dict = {}
    for (d, o), g in profile.dropna(subset=["change_after"]).groupby(["dataset", "objective"], sort=False):
        top = g.loc[g["change_after"].idxmax()]
        out.setdefault(d, {})[o] = {"k": int(top["k"]), "height": float(top["change_after"])}
    return out


def cka_claims(
    mats: dict,
    names,
    paper_layer: int,
    untrained: dict | None = None,
    block_objective: str = "sos",
    progressive_objective="sce",
):
    """Per dataset: the three CKA claims and the noise-floor verdict (see the module docstring), Holm-corrected
    over the run, and the per-model scores table (untrained models as objective ``untrained``).

    mats: ``{(dataset, objective, seed): (m, m)}`` of the trained models; untrained: ``{(dataset, seed): (m, m)}``
    of the untrained baseline on the same probe images (None or empty: no baseline, and no claim is supported)."""
    untrained = untrained or {}
    scores = model_scores(mats, names, paper_layer)
    base = model_scores({(d, "untrained", s): m for (d, s), m in untrained.items()}, names, paper_layer)
    peaks = profile_peaks(profile_table(mats, untrained))
    out = {}
    for d, grp in scores.groupby("dataset", sort=False):
        by_obj = {o: g for o, g in grp.groupby("objective", sort=False)}
        b0 = base[base["dataset"] == d]
        baseline = {c: [float(v) for v in b0[c]] for c in ("change_after", "block_score", "progressive")}
        change = {}
        for o, g in by_obj.items():
            change[o] = {
                **_interval_verdict(g["change_after"]),
                "vs_untrained": welch_greater(g["change_after"], b0["change_after"]),
            }
            change[o]["verdict"] = "above the untrained baseline" if _p_ok(change[o]["vs_untrained"]) else NOT_SHOWN
        block = permutation_group_test(grp["block_score"], grp["objective"], block_objective)
        block_base = (
            welch_greater(by_obj[block_objective]["block_score"], b0["block_score"])
            if block_objective in by_obj
            else {"diff": None, "ci95": None, "p": None}
        )
        if progressive_objective in by_obj:
            pv = by_obj[progressive_objective]["progressive"]
            prog = {
                **_interval_verdict(pv),
                "vs_untrained": welch_greater(pv, b0["progressive"]),
                "vs_" + block_objective: (
                    welch_greater(pv, by_obj[block_objective]["progressive"])
                    if block_objective in by_obj
                    else {"diff": None, "ci95": None, "p": None}
                ),
            }
            prog["p"] = _max_p(prog["vs_untrained"]["p"], prog["vs_" + block_objective]["p"])
        else:
            prog = {"p": None}
        prog_no = f"not established (not above {block_objective} and the untrained baseline)"
        prog["verdict"] = "not measured" if progressive_objective not in by_obj else prog_no
        out[d] = {
            "paper_layer": paper_layer,
            "untrained_seeds": sorted(s for (dd, s) in untrained if dd == d),
            "untrained_scores": baseline,
            "change_after_layer": {
                "by_objective": change,
                "p": _max_p(*(v["vs_untrained"]["p"] for v in change.values())),
                "verdict": NOT_SHOWN,
                "not_supported": NOT_SHOWN,
                "peaks": peaks.get(d, {}),
            },
            "block_structured": {
                "objective": block_objective,
                **block,
                "permutation_p": block["p"],
                "vs_untrained": block_base,
                "p": _max_p(block["p"], block_base["p"]),
                "verdict": "not established (not above the other objectives and the untrained baseline)",
                "not_supported": "not established (not above the other objectives and the untrained baseline)",
                "by_objective": {o: float(g["block_score"].mean()) for o, g in by_obj.items()},
            },
            "progressive": {
                "objective": progressive_objective,
                "compared_with": block_objective,
                **prog,
                "not_supported": prog_no,
            },
            "noise_floor": noise_floor_permutation({k: m for k, m in mats.items() if k[0] == d}),
        }
    holm_over_claims(out)
    return out, pd.concat([scores, base], ignore_index=True) if len(base) else scores


def _p_ok(test: dict) -> bool:
    """Unadjusted one-sided p below ALPHA with a positive difference (a per-objective description, not a verdict
    of a claim: the claims' verdicts are Holm-adjusted)."""
    return test.get("p") is not None and test["p"] < ALPHA and (test.get("diff") or 0) > 0


def _fmt_test(t: dict) -> str:
    if t.get("diff") is None:
        return ""
    half = f" ± {t['ci95']:.3f}" if t.get("ci95") is not None else ""
    p = f", p = {t['p']:.3g}" if t.get("p") is not None else ""
    return f"{t['diff']:+.3f}{half}{p}"


def claims_table(claims: dict) -> pd.DataFrame:
    """The claims as a table: dataset, claim, objective, trained value, the untrained baseline's value, the test
    against it (difference ± Welch 95 % half-width, one-sided p), the claim's p, its Holm-adjusted p and verdict."""
    rows = []

    def row(d, claim, objective, value, baseline, test, p=None, p_holm=None, verdict=""):
        rows.append(
            {
                "dataset": d,
                "claim": claim,
                "objective": objective,
                "value": value,
                "untrained": baseline,
                "test": test,
                "p": p,
                "p_holm": p_holm,
                "verdict": verdict,
            }
        )

    for d, c in claims.items():
        base = c.get("untrained_scores", {})

        def bmean(key, base=base):
            return float(np.mean(base[key])) if base.get(key) else None

        ch = c["change_after_layer"]
        name = f"box from layer {c['paper_layer']} on (change_after above the untrained network)"
        for o, v in ch["by_objective"].items():
            row(
                d,
                name,
                o,
                v["mean"],
                bmean("change_after"),
                _fmt_test(v["vs_untrained"]),
                v["vs_untrained"]["p"],
                None,
                v["verdict"],
            )
        row(
            d,
            name + ": every objective",
            "all",
            None,
            bmean("change_after"),
            "largest p",
            ch.get("p"),
            ch.get("p_holm"),
            ch["verdict"],
        )
        b = c["block_structured"]
        row(
            d,
            f"{b['objective']} block-structured (above the other objectives: permutation)",
            b["objective"],
            b["diff"],
            None,
            f"p = {b['permutation_p']:.3g}" if b.get("permutation_p") is not None else "",
            b.get("permutation_p"),
        )
        row(
            d,
            f"{b['objective']} block-structured (above the untrained network: Welch)",
            b["objective"],
            b["by_objective"].get(b["objective"]),
            bmean("block_score"),
            _fmt_test(b["vs_untrained"]),
            b["vs_untrained"]["p"],
            b.get("p_holm"),
            b["verdict"],
        )
        p = c["progressive"]
        if "mean" in p:
            other = p["compared_with"]
            row(
                d,
                f"{p['objective']} progressive (-Spearman(distance, CKA)) above {other}",
                p["objective"],
                p["mean"],
                None,
                _fmt_test(p["vs_" + other]),
                p["vs_" + other]["p"],
            )
            row(
                d,
                f"{p['objective']} progressive above the untrained network",
                p["objective"],
                p["mean"],
                bmean("progressive"),
                _fmt_test(p["vs_untrained"]),
                p["vs_untrained"]["p"],
                p.get("p_holm"),
                p["verdict"],
            )
        n = c["noise_floor"]
        row(
            d,
            "heatmaps differ between objectives beyond seed noise (permutation)",
            "all",
            n["excess"],
            None,
            f"p = {n['p']:.3g}" if n.get("p") is not None else "",
            n.get("p"),
            n.get("p_holm"),
            n["verdict"],
        )
    return pd.DataFrame(rows)


def peaks_table(claims: dict) -> pd.DataFrame:
    """Per dataset and objective (and the untrained network): the cut k where ``change_after`` peaks, its height,
    and the value at the paper's layer."""
    rows = []
    for d, c in claims.items():
        ch = c["change_after_layer"]
        for o, pk in ch.get("peaks", {}).items():
            at = ch["by_objective"].get(o, {}).get("mean")
            if o == "untrained" and c.get("untrained_scores", {}).get("change_after"):
                at = float(np.mean(c["untrained_scores"]["change_after"]))
            rows.append(
                {
                    "dataset": d,
                    "objective": o,
                    "peak_k": pk["k"],
                    "peak_height": pk["height"],
                    f"at_k_{c['paper_layer']}": at,
                }
            )
    return pd.DataFrame(rows)
