"""Notebook 01's forest active-learning study (lib.ecg.al_forest) in words and pictures: the generated verdict per
strategy, the settings' description, the learning-curve figure and the metrics block. Reads a ForestAL; imports
nothing from lib.ecg.al_forest at run time (that module re-exports these names)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from lib.ecg.al_forest import ForestAL


def _ci(ci) -> str:
    return "n/a" if not ci or ci[0] is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _side_word(ci, above: str, below: str) -> str:
    """``above`` when the interval ``ci`` lies above 0, ``below`` when below, else "not separable"."""
    if ci[0] is not None and ci[0] > 0:
        return above
    return below if ci[1] is not None and ci[1] < 0 else "not separable"


def _pct(ci) -> str:
    """A saving's interval; a saving cannot exceed 100%, so a t-interval reaching above it is cut there (said)."""
    if not ci or ci[0] is None:
        return "n/a"
    if ci[1] > 1.0:
        return f"[{ci[0]:+.1%}, +100.0%] (t-interval cut at the possible maximum; its upper end: {ci[1]:+.1%})"
    return f"[{ci[0]:+.1%}, {ci[1]:+.1%}]"


def _saving_text(r, s) -> str:
    """The paired saving, estimated on every seed (both curves reach the target in each)."""
    val = (
        " ("
        + (
            "n/a"
            if r["saving_with_validation"] is None or pd.isna(r["saving_with_validation"])
            else f"{r['saving_with_validation']:.1%} {_pct(r['saving_with_validation_ci'])}"
        )
        + f" with the {s['validation_labels']:,} validation labels its controller reads charged to it)"
        if r.method in s.get("validation_charged_to", [])
        else " (it reads no validation labels)"
    )
    return (
        f"{r['saving_vs_random']:.1%} {_pct(r['saving_vs_random_ci'])} in pool labels over all "
        f"{int(r['seeds_paired'])} seeds" + val
    )


def _censored_text(r, s, f) -> str:
    """Where random misses the target in some seeds: a lower bound when this strategy reaches it in every seed."""
    lb = r.get("saving_lower_bound")
    n = len(s["seeds"])
    if lb is None or pd.isna(lb):
        return (
            "not estimated: it needs every seed of both curves to reach the target (here "
            f"{int(r['seeds_reaching_target'])} of {n} for {r.method}, "
            f"{f.get('random_seeds_reaching_target', 0)} of {n} for random; a mean over the "
            "seeds where both reach it would keep only the seeds where random did well)"
        )
    cens = int(r["seeds_censored"])
    val = (
        f"; at least {r['saving_lower_bound_with_validation']:.1%} with the {s['validation_labels']:,} validation "
        "labels its controller reads charged to it"
        if r.method in s.get("validation_charged_to", [])
        else ""
    )
    return (
        f">= {lb:.1%} (censored: random does not reach the target within {f.get('random_max_labels') or s['budget']:,}"
        f" labels in {cens} of {n} seeds, where the saving is at least 1 - labels / that count; exact in the other "
        f"{n - cens}; a lower bound on the mean, no interval{val})"
        if cens
        else f">= {lb:.1%}"
    )


def _not_the_claim(c: dict) -> str:
    v = c.get("saving")
    val = f"{v:+.1%}" if v is not None and not pd.isna(v) else "no value (not every seed of both curves reaches it)"
    w, n = c.get("saving_with_validation"), c.get("validation_labels")
    if n and w is not None and not pd.isna(w):  # review22s7 m4: the claim's row with the validation labels charged
        val += f"; {w:+.1%} {_pct(c.get('saving_with_validation_ci'))} with its {int(n):,} validation labels charged"
    return f" (on its own points; the claim is the random-grid row: {val})"


def reading(al: ForestAL, claim: dict | None = None, claim_method: str = "odal") -> str:
    """Generated verdict per strategy (vs random, paired over seeds) with the detectable effect size. ``claim``:
    the claim's row (lib.ecg.al_forest_rules.claim_row: ``claim_method``'s first crossing on random's grid); the
    saving read on ``claim_method``'s own points is then tagged as not the claim, with the claim's value beside it
    (review22s6c P1)."""
    f = al.first_round
    s = al.settings
    af = s.get("af_patients_in_pool")
    head = (
        f"Reference (the forest on the whole pool of {s['pool']:,} DS1 beats"
        + (f"; AF/flutter patients in it: {', '.join(af)}" if af is not None else "")
        + f") non-sinus PR-AUC on DS2 {f['reference_mean']:.3f}; "
        f"random sampling at {f['n_labels']:,} labels {f['random_mean']:.3f}. "
    )
    if f["random_reaches_target_labels"] is not None:
        head += (
            f"Random reaches {s['fraction']:.0%} of the reference at {f['random_reaches_target_labels']:,} labels "
            f"(queried round {f['random_reaches_target_round']}). "
        )
    else:
        head += (
            f"Random's mean curve does not reach {s['fraction']:.0%} of the reference within {s['budget']:,} pool "
            "labels. "
        )
    n = len(s["seeds"])
    reach = al.summary.set_index("method")["seeds_reaching_target"] if "seeds_reaching_target" in al.summary else {}
    if len(reach):
        head += (
            f"Seeds whose curve reaches {s['fraction']:.0%} of its reference within the budget: "
            + ", ".join(f"{m} {int(k)} of {n}" for m, k in reach.items())
            + ". "
        )
    head += (
        f"The reference is {f['reference_mean'] - f['random_mean']:+.3f} above random's first queried round "
        f"({f['reference_mean'] - f['random_best']:+.3f} above random's best mean point); the largest detectable "
        f"effect with these seeds is {f['largest_detectable_effect']:.3f}. "
    )
    if al.flat:
        why = []
        if f["reaches_early"]:
            why.append("random sampling reaches the target within two queried rounds")
        if f["reference_gap_below_detectable"]:
            why.append("the reference is not above random's first queried round by a detectable effect")
        head += (
            f"Verdict: a label saving is not measurable in this setting ({' and '.join(why)}); the per-strategy "
            "numbers below are shown, not a verdict."
        )
    else:
        head += "Verdict: measurable (the reference clearly beats small budgets)."
    lines = [head + f"\n\nPer strategy, paired with random over {len(s['seeds'])} seeds:"]
    for _, r in al.summary.iterrows():
        if r.method == "random":
            continue
        ci = r["auc_minus_random_ci"]
        word = (
            "above"
            if ci[0] is not None and ci[0] > 0
            else ("below" if ci[1] is not None and ci[1] < 0 else "not separable from")
        )
        sav = r["saving_vs_random"]
        lines.append(
            f"- {r.method}: learning-curve AUC {word} random (difference {r['auc_minus_random']:.3f} {_ci(ci)}; "
            f"detectable with these seeds: {r['detectable_auc_difference']:.3f}); label saving to "
            f"{s['fraction']:.0%} of the reference "
            + (_saving_text(r, s) if sav is not None and not pd.isna(sav) else _censored_text(r, s, f))
            + (_not_the_claim(claim) if r.method == claim_method and claim is not None else "")
            + "."
        )
    for m, c in (getattr(al, "odal_minus", None) or {}).items():  # review22s6b n4: ODAL against each query rule
        if c["auc_difference"] is not None:
            lines.append(auc_difference_line(f"ODAL minus {m} ({c['seeds']} seeds paired)", c, "ODAL"))
    c = al.controller
    if c is not None and c["auc_difference"] is not None:
        lines.append(
            auc_difference_line(
                "The fuzzy controller's own effect (ODAL minus ODAL without it, same query rule, "
                f"{c['seeds']} seeds paired)",
                c,
                "ODAL with it",
            )
        )
    return "\n".join(lines)


def auc_difference_line(what: str, c: dict, subject: str) -> str:
    """One bullet: a paired learning-curve AUC difference ``c`` (lib.ecg.al_forest._paired_auc: auc_difference,
    its 95% t-interval, the detectable effect), signed, with "``subject`` above/below" or "not separable" by its
    interval (review22s7 D3: the ODAL-minus-rule and controller sentences share this one builder)."""
    ci = c["auc_difference_ci"]
    word = _side_word(ci, f"{subject} above", f"{subject} below")
    det = "n/a" if c["detectable"] is None else f"{c['detectable']:.3f}"
    return (
        f"- {what}: learning-curve AUC difference {c['auc_difference']:+.3f} {_ci(ci)}, {word} (detectable with "
        f"these seeds: {det})."
    )


def curves_figure(al: ForestAL, stamp: str | None = None):
    """Mean learning curves (non-sinus PR-AUC on DS2, +- 1 sd over seeds) with the reference and the target line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for m, g in al.curves.groupby("method", sort=False):
        ax.plot(g["n_labels"], g["mean"], label=m)
        ax.fill_between(g["n_labels"], g["mean"] - g["std"], g["mean"] + g["std"], alpha=0.15)
    ref = al.first_round["reference_mean"]
    ax.axhline(ref, color="k", ls="--", lw=1, label="reference (whole pool)")
    ax.axhline(al.settings["fraction"] * ref, color="grey", ls=":", lw=1, label=f"{al.settings['fraction']:.0%} of it")
    ax.set_xlabel("pool labels")
    ax.set_ylabel("DS2 non-sinus PR-AUC")
    ax.set_title("Active learning with the floor's forest (DS1 pool -> DS2)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def metrics(al: ForestAL) -> dict:
    return {
        "active_learning_forest": {
            "metric": "DS2 non-sinus PR-AUC",
            "controller_effect": al.controller,
            "odal_minus": al.odal_minus,
            "flat_reference": al.flat,
            "verdict": "not measurable in this setting" if al.flat else "measurable",
            "first_round": al.first_round,
            "summary": al.summary.to_dict("records"),
            "per_seed": al.per_seed.to_dict("records"),
            "reference": al.reference.to_dict("records"),
            "settings": al.settings,
        }
    }


def describe(forest_al: dict, fraction: float) -> str:
    """Markdown: the forest AL study's settings, read from the parameters."""
    s = forest_al
    return (
        "The CNN-BiLSTM study above (the paper's recipe) is shown for the paper's protocol. The study that can decide "
        f"uses a learner whose full-pool reference can be strong: the floor's forest ({s['trees']} trees, "
        "class-balanced) on the floor's DS1-chosen features, binary non-sinus, refitted every round; pool = every "
        f"DS1 beat (both DS1 AF patients) but a stratified validation sample of {s['val_size']:,} DS1 beats that only "
        "ODAL's fuzzy controller reads (its validation-loss trend), curves on every DS2 beat; metric non-sinus PR-AUC "
        "(threshold-free: F1 at the arg-max of a class-balanced forest follows the labelled set's class mix). "
        f"Strategies {', '.join(s['strategies'])} over seeds {', '.join(map(str, s['seeds']))} (paired with random), "
        f"a seed set of {s['seed_size']} labels, {s['batch']} labels a round, up to {s['budget']} pool labels. "
        f'Target: {fraction:.0%} of the reference (the forest on the whole pool). The verdict is "not measurable in '
        'this setting" when random sampling reaches the target within two queried rounds or when the reference is '
        "not above random's first queried round by the largest detectable effect size (the mean paired learning-curve "
        "AUC difference a two-sided 5% t test over these seeds finds with 80% power). Savings are in pool labels, "
        "and beside them with the validation labels charged to the strategies that read them (ODAL). A saving is "
        "estimated only when every seed of both curves reaches the target; where the strategy reaches it in every "
        "seed but random does not within the budget, the saving is censored and shown as a lower bound (per such "
        "seed: 1 - labels / the most labels random saw), never as a mean over the seeds where random happened to "
        "reach it. How many seeds of each strategy reach the target is in the reading."
    )
