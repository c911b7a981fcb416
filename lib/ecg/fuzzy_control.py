"""Fuzzy controller (scikit-fuzzy) steering ODAL's active-learning rounds.

What the paper says (Sec. III-D, IV-B): "fuzzy logic optimization was integrated to fine-tune
learning parameters and manage data ambiguity. The fuzzy system dynamically adjusts thresholds for
uncertainty sampling and classification" and "optimization adjusted learning parameters such as
learning rate and dropout, leading to stable convergence and reduced overfitting". It gives NO
inputs, membership functions, rule base or defuzzification. Everything below is therefore OUR
design, chosen to be minimal, monotone and easy to audit; it is not the paper's controller.

Inputs (crisp values are clipped into the universes):
- ``loss_trend``: relative change of the validation loss since the previous round,
  ``(L_t - L_{t-1}) / L_{t-1}``, universe [-0.5, 0.5]; terms falling / stable / rising.
- ``pool_uncertainty``: mean normalised entropy of the unlabelled pool's predictions, [0, 1];
  terms low / medium / high.
Outputs (centroid defuzzification; triangles (lo, lo, mid), (lo, mid, hi), (mid, hi, hi), so the
neutral inputs (trend 0, uncertainty ~0.45) give exactly ``mid``):
- ``threshold``: uncertainty quantile above which pool samples are query candidates (0.5 / 0.7 / 0.9).
- ``batch_multiplier``: factor on the base query size (0.5 / 1.0 / 1.5).
- ``lr_multiplier``: factor on the current learning rate (0.5 / 1.0 / 1.5).
- ``dropout``: dropout rate for the next round (0.1 / 0.3 / 0.5).
Rules (``DEFAULT_RULES``, shown by ``rule_table()``):
- validation loss rising (overfitting / instability) -> lower LR, higher dropout; stable -> keep;
  falling -> slightly bolder LR and lower dropout (the "bold driver" heuristic, Battiti 1989).
- pool uncertainty high (model still unsure about much of the pool) -> lower threshold (wider
  candidate set, more exploration) and larger batches; low -> higher threshold (focus on the few
  hardest samples) and smaller batches.
Each output depends on one input, so each output is monotone in its input (tested). Deterministic.
Not done: the paper's fuzzy adjustment of the CLASSIFICATION threshold (undescribed); predictions
stay arg-max.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import skfuzzy as fuzz
from skfuzzy import control as ctrl

INPUTS = {"loss_trend": (-0.5, 0.5), "pool_uncertainty": (0.0, 1.0)}
INPUT_TERMS = {
    "loss_trend": {
        "falling": ("trap", (-0.5, -0.5, -0.15, -0.02)),
        "stable": ("tri", (-0.1, 0.0, 0.1)),
        "rising": ("trap", (0.02, 0.15, 0.5, 0.5)),
    },
    "pool_uncertainty": {
        "low": ("trap", (0.0, 0.0, 0.2, 0.4)),
        "medium": ("tri", (0.2, 0.45, 0.7)),
        "high": ("trap", (0.5, 0.7, 1.0, 1.0)),
    },
}
# output -> ((low term, mid term, high term), (lo, mid, hi))
OUTPUTS = {
    "threshold": (("low", "medium", "high"), (0.5, 0.7, 0.9)),
    "batch_multiplier": (("small", "normal", "large"), (0.5, 1.0, 1.5)),
    "lr_multiplier": (("decrease", "keep", "increase"), (0.5, 1.0, 1.5)),
    "dropout": (("low", "medium", "high"), (0.1, 0.3, 0.5)),
}


@dataclass(frozen=True)
class FuzzyRule:
    """IF <input> IS <term> THEN each (output, term) of ``then``; ``why``: the intent in words."""

    input: str
    term: str
    then: tuple
    why: str = ""


DEFAULT_RULES = (
    FuzzyRule(
        "loss_trend",
        "rising",
        (("lr_multiplier", "decrease"), ("dropout", "high")),
        "val loss rising: overfitting/instability -> smaller steps, more regularisation",
    ),
    FuzzyRule(
        "loss_trend", "stable", (("lr_multiplier", "keep"), ("dropout", "medium")), "val loss stable: keep the settings"
    ),
    FuzzyRule(
        "loss_trend",
        "falling",
        (("lr_multiplier", "increase"), ("dropout", "low")),
        "val loss falling: training is going well -> slightly bolder",
    ),
    FuzzyRule(
        "pool_uncertainty",
        "high",
        (("threshold", "low"), ("batch_multiplier", "large")),
        "pool largely uncertain: widen the candidate set, query more",
    ),
    FuzzyRule(
        "pool_uncertainty",
        "medium",
        (("threshold", "medium"), ("batch_multiplier", "normal")),
        "moderate uncertainty: default sampling",
    ),
    FuzzyRule(
        "pool_uncertainty",
        "low",
        (("threshold", "high"), ("batch_multiplier", "small")),
        "pool mostly certain: focus on the hardest few, query less",
    ),
)


def _mf(universe, shape, params):
    return fuzz.trapmf(universe, list(params)) if shape == "trap" else fuzz.trimf(universe, list(params))


def relative_trend(previous: float | None, current: float, limit: float = 0.5) -> float:
    """``(current - previous) / previous`` clipped to [-limit, limit]; 0.0 when there is no previous value."""
    if previous is None or not np.isfinite(previous) or previous <= 0 or not np.isfinite(current):
        return 0.0
    return float(np.clip((current - previous) / previous, -limit, limit))


class FuzzyController:
    """Mamdani controller: ``ctrl_out = controller(loss_trend, pool_uncertainty)`` -> dict of 4 outputs.

    ``resolution``: number of points per universe (defuzzification grid).
    """

    def __init__(self, rules=DEFAULT_RULES, resolution: int = 201):
        self.rules = tuple(rules)
        self.inputs, self.outputs = {}, {}
        for name, (lo, hi) in INPUTS.items():
            var = ctrl.Antecedent(np.linspace(lo, hi, resolution), name)
            for term, (shape, params) in INPUT_TERMS[name].items():
                var[term] = _mf(var.universe, shape, params)
            self.inputs[name] = var
        for name, (terms, (lo, mid, hi)) in OUTPUTS.items():
            var = ctrl.Consequent(np.linspace(lo, hi, resolution), name, defuzzify_method="centroid")
            for term, params in zip(terms, ((lo, lo, mid), (lo, mid, hi), (mid, hi, hi))):
                var[term] = fuzz.trimf(var.universe, list(params))
            self.outputs[name] = var
        sk_rules = []
        for r in self.rules:
            if r.input not in self.inputs or r.term not in INPUT_TERMS[r.input]:
                raise ValueError(
                    f"rule antecedent {r.input}={r.term} unknown; allowed: "
                    f"{ {k: list(v) for k, v in INPUT_TERMS.items()} }"
                )
            for out, term in r.then:
                if out not in OUTPUTS or term not in OUTPUTS[out][0]:
                    raise ValueError(
                        f"rule consequent {out}={term} unknown; allowed: "
                        f"{ {k: list(v[0]) for k, v in OUTPUTS.items()} }"
                    )
            sk_rules.append(ctrl.Rule(self.inputs[r.input][r.term], tuple(self.outputs[o][t] for o, t in r.then)))
        covered = {o for r in self.rules for o, _ in r.then}
        if covered != set(OUTPUTS):
            raise ValueError(f"rules must drive every output {tuple(OUTPUTS)}; missing {set(OUTPUTS) - covered}")
        self._system = ctrl.ControlSystem(sk_rules)

    def __call__(self, loss_trend: float, pool_uncertainty: float) -> dict[str, float]:
        """Crisp outputs {threshold, batch_multiplier, lr_multiplier, dropout} for clipped crisp inputs."""
        sim = ctrl.ControlSystemSimulation(self._system)
        for name, value in (("loss_trend", loss_trend), ("pool_uncertainty", pool_uncertainty)):
            lo, hi = INPUTS[name]
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
            sim.input[name] = float(np.clip(value, lo, hi))
        sim.compute()
        return {name: float(sim.output[name]) for name in OUTPUTS}

    def rule_table(self) -> pd.DataFrame:
        """One row per rule: IF input, IS term, THEN columns per output (term or ''), rationale."""
        rows = []
        for i, r in enumerate(self.rules, 1):
            then = dict(r.then)
            rows.append(
                {
                    "rule": i,
                    "IF": r.input,
                    "IS": r.term,
                    **{f"THEN {o}": then.get(o, "") for o in OUTPUTS},
                    "rationale": r.why,
                }
            )
        return pd.DataFrame(rows)

    def membership_table(self) -> pd.DataFrame:
        """Every membership function: variable, role, term, shape, parameters."""
        rows = [
            {"variable": v, "role": "input", "term": t, "shape": s, "params": tuple(p)}
            for v, terms in INPUT_TERMS.items()
            for t, (s, p) in terms.items()
        ]
        for v, (terms, (lo, mid, hi)) in OUTPUTS.items():
            for t, p in zip(terms, ((lo, lo, mid), (lo, mid, hi), (mid, hi, hi))):
                rows.append({"variable": v, "role": "output", "term": t, "shape": "tri", "params": p})
        return pd.DataFrame(rows)

    def plot_memberships(self):
        """Matplotlib figure: one panel per input/output variable with its membership functions."""
        import matplotlib.pyplot as plt

        variables = list(self.inputs.values()) + list(self.outputs.values())
        fig, axes = plt.subplots(2, 3, figsize=(12, 6))
        for ax, var in zip(axes.ravel(), variables):
            for term_name, term in var.terms.items():
                ax.plot(var.universe, term.mf, label=term_name)
            role = "input" if var.label in self.inputs else "output"
            ax.set_title(f"{var.label} ({role})")
            ax.set_ylim(-0.02, 1.05)
            ax.set_ylabel("membership")
            ax.legend(fontsize=8)
        fig.suptitle("ODAL fuzzy controller: membership functions (our design; not given in the paper)")
        fig.tight_layout()
        return fig


def rule_table() -> pd.DataFrame:
    """Rule table of the default controller."""
    return FuzzyController().rule_table()


def plot_memberships():
    """Membership-function figure of the default controller."""
    return FuzzyController().plot_memberships()
