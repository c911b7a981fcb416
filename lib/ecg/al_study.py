"""Notebook-01: the CNN-BiLSTM active-learning study (the paper's recipe): runs, analysis, tables and figures."""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass

import pandas as pd

from lib.core.outputs import Outputs
from lib.ecg.active_learning import (
    ALConfig,
    curves_by_seed,
    fit_reference,
    mean_curve,
    per_seed_table,
    run_strategies,
    summarise_seeds,
)
from lib.ecg.headline import score_predictions, validation_threshold
from lib.ecg.inputs import EcgInputs, _cap


# ------------------------------------------------------------------ active learning glue
def al_sets(
    data: EcgInputs,
    split: dict,
    *,
    pool_max: int | None = None,
    val_max: int | None = None,
    test_max: int | None = None,
    seed: int = 0,
) -> dict:
    """Pool (= the split's training part, optionally subsampled), validation and test tuples (X, F, y) for AL.

    Returns {'pool_idx', 'val_idx', 'test_idx', 'X_pool', 'F_pool', 'y_pool', 'val', 'test'}; subsampling
    is stratified over beats (every test patient keeps beats).
    """
    pool = _cap(split["train"], data.y, pool_max, seed)
    val = _cap(split["val"], data.y, val_max, seed)
    test = _cap(split["test"], data.y, test_max, seed)

    def tup(i):
        return data.X[i], data.F[i], data.y[i]

    return {
        "pool_idx": pool,
        "val_idx": val,
        "test_idx": test,
        "X_pool": data.X[pool],
        "F_pool": data.F[pool],
        "y_pool": data.y[pool],
        "val": tup(val),
        "test": tup(test),
    }


#: the strategies compared by the AL study (name -> ALConfig fields besides the budget)
STRATEGY_SETTINGS = {
    "random": {"strategy": "random"},
    "least_confidence": {"strategy": "least_confidence"},
    "margin": {"strategy": "margin"},
    "entropy": {"strategy": "entropy"},
    "bald": {"strategy": "bald"},
    "odal": {"strategy": "odal", "fuzzy": True},
    "odal_no_fuzzy": {"strategy": "odal", "fuzzy": False},
    # the controller's two effects apart (same rounds otherwise): query = threshold + batch multiplier only,
    # training = learning rate + dropout only
    "odal_query_control": {"strategy": "odal", "fuzzy": True, "fuzzy_controls": "query"},
    "odal_training_control": {"strategy": "odal", "fuzzy": True, "fuzzy_controls": "training"},
}


def strategy_configs(seed_size: int, batch_size: int, budget: int, strategies=None) -> dict[str, ALConfig]:
    """{method: ALConfig} of STRATEGY_SETTINGS (or of its ``strategies``) with the seed set, batch and budget."""
    names = list(STRATEGY_SETTINGS) if strategies is None else list(strategies)
    bad = sorted(set(names) - set(STRATEGY_SETTINGS))
    if bad or "random" not in names or "odal" not in names:
        raise ValueError(f"strategies must include 'random' and 'odal' and come from {list(STRATEGY_SETTINGS)}")
    return {
        name: ALConfig(seed_size=seed_size, batch_size=batch_size, budget=budget, **STRATEGY_SETTINGS[name])
        for name in names
    }


@dataclass
class ALStudy:
    """Outputs of :func:`run_al_study`.

    long: learning curves of every strategy x seed on ``split``; sets: {split: al_sets(...)};
    results / probas: {split: metrics / (n_test, c) proba of the headline ODAL model on the split's whole test part};
    reference: per seed, the same recipe trained on the whole pool of ``split`` (:func:`fit_reference`; empty for
    a split that holds only the headline ODAL run).
    """

    split: str
    long: pd.DataFrame
    sets: dict
    results: dict
    probas: dict
    configs: dict
    seeds: list
    caps: dict
    epochs_per_round: int | None
    reference: pd.DataFrame
    #: {split: {seed: (metrics, test proba)}} of every ODAL run on the split's whole test part (headline seeds)
    odal_runs: dict | None = None

    def curve(self, method: str, seed: int) -> pd.DataFrame:
        """One run's learning curve (with the controller columns)."""
        return self.long[(self.long["method"] == method) & (self.long["seed"] == seed)]


def run_al_study(
    data: EcgInputs,
    splits: dict,
    configs: dict,
    seeds,
    keras_kw: dict,
    *,
    al_splits,
    seed: int,
    pool_max: int | None,
    val_max: int | None,
    test_max: int | None,
    fit_kw: dict | None = None,
    odal_seeds=None,
    progress: bool = True,
) -> dict[str, ALStudy]:
    """The whole study (every strategy x seed, and the per-seed reference) on each split of ``al_splits`` (one
    CNN-BiLSTM factory, reused across runs), and one ODAL run on every other split; the ODAL run with seed ``seed``
    is the headline ODAL model of its split. Returns {split: ALStudy}, ``al_splits`` first (a split outside
    ``al_splits`` holds only that ODAL run: no reference).

    Pool = the split's training part, validation = its validation part, curves scored on its test part
    (each optionally subsampled: ``*_max``); the headline models are scored on the whole test part.

    ``odal_seeds`` (the headline seeds; None: ``seed`` only): ODAL runs for each of them on every split, scored on
    the whole test part (``ALStudy.odal_runs``); on a whole-study split the study's own ODAL runs of those seeds are
    used and the missing seeds run ODAL alone (outside the study's curves).
    """
    from lib.ecg.models import ClassifierFactory

    al_splits = [str(s) for s in al_splits]
    unknown = sorted(set(al_splits) - set(splits))
    if unknown or not al_splits:
        raise ValueError(f"al_splits must name splits of {sorted(splits)}, got {al_splits}")
    factory = ClassifierFactory("cnn_bilstm", data.window_shape, data.F.shape[1], len(data.class_names), **keras_kw)
    caps = {"al_pool_max": pool_max, "al_val_max": val_max, "al_test_max": test_max}
    epochs = (fit_kw or {}).get("epochs")
    n_classes, positive = len(data.class_names), list(range(1, len(data.class_names)))
    wanted = list(dict.fromkeys([int(seed), *(int(s) for s in (odal_seeds or []))]))
    studies = {}
    for name in al_splits + [s for s in splits if s not in al_splits]:
        st = al_sets(data, splits[name], pool_max=pool_max, val_max=val_max, test_max=test_max, seed=seed)
        te = splits[name]["test"]
        results, probas, t0, runs = {}, {}, [time.perf_counter()], {}

        def keep(method, s, model, curve, name=name, te=te, t0=t0, st=st, results=results, probas=probas, runs=runs):
            if method == "odal" and int(s) in wanted:
                proba = model.predict_proba(data.X[te], data.F[te])
                res = score_predictions(data.y[te], proba, data.class_names, data.task)
                if data.task == "rhythm":
                    (Xv, Fv, yv) = st["val"]
                    validation_threshold(res, yv, model.predict_proba(Xv, Fv), data.y[te], proba)
                used = int(curve["n_labels"].iloc[-1])
                res = {**res, "fit_seconds": time.perf_counter() - t0[0], "labels_used": used}
                runs[int(s)] = (res, proba)
                if int(s) == int(seed):
                    results[name], probas[name] = res, proba
            t0[0] = time.perf_counter()

        full = name in al_splits
        run_configs, run_seeds = (configs, list(seeds)) if full else ({"odal": configs["odal"]}, list(wanted))
        args = (st["X_pool"], st["F_pool"], st["y_pool"], st["val"], st["test"])
        long = run_strategies(
            factory, *args, run_configs, run_seeds, n_classes=n_classes, positive_classes=positive, fit_kw=fit_kw,
            after_run=keep, progress=progress,
        )  # fmt: skip
        extra = [s for s in wanted if s not in run_seeds]
        if extra:  # headline seeds the study does not run: ODAL alone, outside the study's curves
            run_strategies(
                factory, *args, {"odal": configs["odal"]}, extra, n_classes=n_classes, positive_classes=positive,
                fit_kw=fit_kw, after_run=keep, progress=progress,
            )  # fmt: skip
        reference = (
            fit_reference(factory, *args, run_seeds, n_classes=n_classes, positive_classes=positive, fit_kw=fit_kw)
            if full
            else pd.DataFrame()
        )
        studies[name] = ALStudy(
            name, long, {name: st}, results, probas, run_configs, run_seeds, caps, epochs, reference, {name: runs}
        )
    return studies


def al_suffix(split: str) -> str:
    """File-name suffix of a split's AL outputs: none for the inter-patient split, ``_<split>_split`` otherwise."""
    return "" if split == "interpatient" else f"_{split}_split"


#: how the notebook text names each split's protocol
PROTOCOLS = {
    "interpatient": "inter-patient DS1 -> DS2 (the honest protocol)",
    "random": "the paper's intra-patient protocol (optimistic): random 70/15/15 beat split",
}


#: what decides the AL study: non-sinus F1 on the test part (the 4-class macro-F1 is shown, never decides)
AL_METRIC = "test_pos_f1"


@dataclass
class ALAnalysis:
    """Learning curves (mean over seeds), per-seed curve AUC and label saving vs random with 95% intervals over
    seeds, and the final-round (fuzzy ablation) table. ``full_*``: the mean over seeds of the reference (the
    same recipe trained on the whole pool); ``saving``: {method: summary row} (what the claims read)."""

    full_f1: float
    full_ns: float
    curves_f1: dict
    curves_ns: dict
    per_seed: pd.DataFrame
    saving: dict
    saving_table: pd.DataFrame
    ablation: pd.DataFrame
    protocol: str
    split: str = "interpatient"


def analyse_al(study: ALStudy, fraction: float) -> ALAnalysis:
    """Curves, AUC and savings of every strategy against random, each seed against its own reference; the
    validation labels (early stopping in every round) count as annotation in the savings."""
    long, ref, st = study.long, study.reference, study.sets[study.split]
    n_val = len(st["val"][2])
    curves_f1 = {m: mean_curve(curves_by_seed(long, m), "test_macro_f1") for m in study.configs}
    curves_ns = {m: mean_curve(curves_by_seed(long, m), "test_pos_f1") for m in study.configs}
    per_seed = per_seed_table(long, ref, metric=AL_METRIC, fraction=fraction, extra_labels=n_val)
    pool_only = per_seed_table(long, ref, metric=AL_METRIC, fraction=fraction, extra_labels=0)
    per_seed["saving_pool_labels_only"] = pool_only["saving_vs_random"].to_numpy()
    summary = summarise_seeds(per_seed)
    saving = {r["method"]: r for r in summary.to_dict("records")}
    final = long.sort_values("n_labels").groupby(["method", "seed"]).tail(1)
    ablation = pd.DataFrame(
        [
            {
                "method": m,
                "labels": int(g["n_labels"].max()),
                "macro_f1_mean": g["test_macro_f1"].mean(),
                "macro_f1_std": g["test_macro_f1"].std(ddof=1),
                "nonsinus_f1_mean": g["test_pos_f1"].mean(),
                "nonsinus_f1_std": g["test_pos_f1"].std(ddof=1),
            }
            for m, g in final.groupby("method")
        ]
    )
    protocol = (
        f"{PROTOCOLS.get(study.split, study.split)}: pool {len(st['y_pool'])} training beats, {n_val} validation "
        f"beats (counted as labels in the saving), curves on {len(st['test'][2])} test beats; weights reset every "
        f"round, {study.epochs_per_round} epochs per round; reference = the same recipe on the whole pool, per seed "
        f"({len(study.seeds)} seeds)"
    )
    return ALAnalysis(
        float(ref["test_macro_f1"].mean()), float(ref["test_pos_f1"].mean()), curves_f1, curves_ns, per_seed,
        saving, summary, ablation, protocol, study.split,
    )  # fmt: skip


def write_al(al: ALAnalysis, fraction: float, out: Outputs) -> None:
    """Mean learning curves (one table per strategy, two figures titled with the protocol and the reference), the
    per-seed and summary saving tables and the final-round table, named with :func:`al_suffix` of the split."""
    from lib.ecg import plots

    x = al_suffix(al.split)
    out.tables({f"al_curve_macro_f1_{m}{x}": mc.assign(method=m) for m, mc in al.curves_f1.items()})
    title = "\n".join(textwrap.wrap(al.protocol, 110))
    fig = plots.learning_curves(al.curves_f1, "test macro-F1 (rhythm; shown, not deciding)", al.full_f1, None, title)
    out.figure(fig, f"al_learning_curves_macro_f1{x}")
    fig = plots.learning_curves(al.curves_ns, "test non-sinus F1 (decides)", al.full_ns, fraction * al.full_ns, title)
    out.figure(fig, f"al_learning_curves_nonsinus_f1{x}")
    out.tables(
        {
            f"al_per_seed{x}": al.per_seed,
            f"annotation_saving{x}": al.saving_table,
            f"al_final_and_fuzzy_ablation{x}": al.ablation,
        }
    )


def write_studies(studies: dict, out: Outputs) -> None:
    """:func:`write_study` of every split that holds a whole study (a reference); prints what was run."""
    for study in studies.values():
        if len(study.reference):
            write_study(study, out)
    print(describe_al_runs(studies))


def write_study(study: ALStudy, out: Outputs) -> None:
    """The long learning-curve table, the per-seed reference, the ODAL controller traces over seeds (table +
    figure), named with :func:`al_suffix` of the study's split."""
    from lib.ecg import plots

    odal, x = study.long[study.long["method"] == "odal"], al_suffix(study.split)
    out.tables(
        {
            f"al_learning_curves_long{x}": study.long,
            f"odal_controller_trace{x}": odal,
            f"al_reference{x}": study.reference,
        }
    )
    out.figure(plots.controller_traces(odal), f"odal_controller_trace{x}")


def write_fuzzy(controller, out: Outputs) -> pd.DataFrame:
    """The fuzzy controller's membership functions (figure) and rule base (table, returned for display)."""
    out.figure(controller.plot_memberships(), "fuzzy_membership_functions")
    return out.table(controller.rule_table(), "fuzzy_rule_base")


def odal_runs(studies: dict) -> dict:
    """{split: {seed: (metrics, test proba)}} of every ODAL run of the studies (lib.ecg.headline_seeds)."""
    return {sp: r for st in studies.values() for sp, r in (st.odal_runs or {}).items()}


def add_headline_odal(results: dict, probas: dict, studies: dict) -> None:
    """Put the studies' headline ODAL models beside the fully supervised ones (``results[split]["odal"]``)."""
    for study in studies.values():
        for split, res in study.results.items():
            results[split]["odal"] = res
            probas[split]["odal"] = study.probas[split]


def describe_al_runs(studies: dict) -> str:
    """One line per split: what ran there, and the labels the headline ODAL model used out of its pool."""
    lines = []
    for st in studies.values():
        what = f"{len(st.configs)} strategies x {len(st.seeds)} seeds + reference" if len(st.reference) else "ODAL only"
        for split, res in st.results.items():
            pool = len(st.sets[split]["y_pool"])
            lines.append(f"{split} ({what}): ODAL used {res['labels_used']} labels of a pool of {pool}")
    return "\n".join(lines)


def equal_budget_reading(
    table: pd.DataFrame, studies: dict, analyses: dict, *, train_sizes: dict, epochs: int, patience: int, seed: int
) -> str:
    """Markdown under the equal-label table (lib.ecg.headline.equal_budget): the recipe difference between its
    baseline rows and ODAL (epochs, pool), and the like-for-like comparator, the AL study's random arm at the same
    labels (``analyses``: {split: ALAnalysis}); every number from ``table``, ``studies`` and ``analyses``."""
    lines = []
    for sp in table["split"].unique():
        t = table[table.split == sp].set_index("model")
        if "odal" not in t.index:
            continue
        labels = int(t.loc["odal", "labels"])
        st = next((s for s in studies.values() if sp in s.sets), None)
        pool = len(st.sets[sp]["y_pool"]) if st is not None else None
        rounds = f", retrained {st.epochs_per_round} epochs a round from reset weights" if st is not None else ""
        line = (
            f"{sp}: every baseline row is trained once (seed {seed}) on {labels:,} stratified labels drawn from the "
            f"headline training part ({train_sizes[sp]:,} beats), up to {epochs} epochs with early stopping "
            f"(patience {patience}); ODAL's {labels:,} labels come from "
            + (f"a {pool:,}-beat pool" if pool is not None else "its pool")
            + f"{rounds}. A gap between these rows mixes that recipe difference with the query strategy."
        )
        al = analyses.get(sp)
        if al is not None and {"random", "odal"} <= set(al.ablation["method"]):
            ab = al.ablation.set_index("method")
            r, o = ab.loc["random"], ab.loc["odal"]
            n_seeds = al.per_seed["seed"].nunique() if "seed" in al.per_seed else None
            n_test = len(al_sets_test(st, sp)) if st is not None else None
            bilstm = (
                f"; this table's CNN-BiLSTM row (the same network, the baselines' recipe) "
                f"{float(t.loc['cnn_bilstm', 'nonsinus_f1']):.3f} on all test beats"
                if "cnn_bilstm" in t.index
                else ""
            )
            line += (
                " The like-for-like comparator is the AL study's random arm (ODAL's recipe and pool, labels drawn at "
                f"random): at {int(r['labels']):,} labels random non-sinus F1 {r['nonsinus_f1_mean']:.3f} (sd "
                f"{r['nonsinus_f1_std']:.3f}) vs ODAL {o['nonsinus_f1_mean']:.3f} (sd {o['nonsinus_f1_std']:.3f})"
                + (f" over {n_seeds} seeds" if n_seeds else "")
                + (f", on the study's {n_test:,} test beats" if n_test else "")
                + f"{bilstm}."
            )
        else:
            line += (
                " No AL study ran on this split (params al_splits): no like-for-like comparator here, so these rows "
                "do not separate the strategy from the recipe."
            )
        lines.append(line)
    return "\n".join(f"- {line}" for line in lines)


def al_sets_test(study: ALStudy, split: str):
    """The test labels the AL study's curves are scored on (its ``al_test_max`` subsample)."""
    return study.sets[split]["test"][2]
