import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from lib.ecg.active_learning import (
    STRATEGIES,
    ALConfig,
    Annotator,
    bald,
    curve_auc,
    curves_by_seed,
    entropy,
    fit_reference,
    labels_to_reach,
    least_confidence,
    margin,
    mean_curve,
    normalized_entropy,
    odal_select,
    per_seed_table,
    run_active_learning,
    run_strategies,
    seed_interval,
    summarise_seeds,
    top_k,
)

P = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0], [0.5, 0.3, 0.2]])


def _entropy_loop(p):
    return np.array([-sum(v * np.log(v) for v in row if v > 0) for row in p])


def test_scores_exact_values():
    np.testing.assert_allclose(least_confidence(P), [0.3, 0.6, 0.0, 0.5])
    np.testing.assert_allclose(margin(P), [0.5, 1.0, 0.0, 0.8])
    np.testing.assert_allclose(entropy(P), _entropy_loop(P))
    np.testing.assert_allclose(entropy([[1 / 3] * 3]), [np.log(3)])
    np.testing.assert_allclose(normalized_entropy([[0.5, 0.5], [1.0, 0.0]]), [1.0, 0.0])


def test_strategies_give_expected_orderings():
    q = np.array([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3], [0.9, 0.05, 0.05]])
    assert top_k(least_confidence(q), 3).tolist() == [1, 0, 2]
    assert top_k(margin(q), 3).tolist() == [0, 1, 2]
    assert top_k(entropy(q), 3).tolist() == [1, 0, 2]
    assert top_k([1.0, 2.0, 2.0, 0.0], 4).tolist() == [1, 2, 0, 3]  # ties -> lower index first


def test_odal_select_threshold_and_top_up():
    rng = np.random.default_rng(0)
    # normalised entropies: row1 > row3 > row0 > row2; the 0.5-quantile keeps rows 1 and 3
    assert odal_select(P, 2, 0.5, rng).tolist() == [1, 3]
    assert odal_select(P, 3, 0.5, rng).tolist() == [1, 3, 0]  # topped up by entropy
    many = np.random.default_rng(1).dirichlet([1, 1, 1], size=200)
    h = normalized_entropy(many)
    a = odal_select(many, 10, 0.8, np.random.default_rng(5))
    b = odal_select(many, 10, 0.8, np.random.default_rng(5))
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 10
    assert np.all(h[a] >= np.quantile(h, 0.8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        odal_select(P, 1, 1.5, rng)


def test_annotator_reveals_once_and_logs():
    ann = Annotator([5, 6, 7, 8])
    assert ann.query([2, 0], 0).tolist() == [7, 5]
    with pytest.raises(ValueError, match="twice"):
        ann.query([1, 2])
    with pytest.raises(ValueError, match="twice"):
        ann.query([1, 1])
    with pytest.raises(ValueError, match="range|must be in"):
        ann.query([4])
    assert ann.n_queried == 2 and ann.queried().tolist() == [2, 0] and ann.log == [(0, 2), (0, 0)]


class CountingAnnotator(Annotator):
    def __init__(self, labels):
        super().__init__(labels)
        self.calls = 0

    def query(self, indices, round_=-1):
        self.calls += 1
        return super().query(indices, round_)


class SpyModel:
    """Logistic regression on F[:, 1:]; F[:, 0] carries the pool id so every fit can be audited."""

    tunable = False

    def __init__(self, seed, annotator=None):
        self.seed, self.annotator, self.fits = seed, annotator, []
        self.clf = LogisticRegression(max_iter=200)

    def fit(self, X, F, y, X_val=None, F_val=None, y_val=None):
        ids = F[:, 0].astype(int)
        seen = set() if self.annotator is None else set(self.annotator.queried().tolist())
        self.fits.append((ids, np.asarray(y).copy(), seen))
        self.clf.fit(F[:, 1:], y)
        return self

    def predict_proba(self, X, F):
        out = np.zeros((len(F), 3))
        out[:, self.clf.classes_] = self.clf.predict_proba(F[:, 1:])
        return out

    def mc_dropout_proba(self, X, F, n_samples, seed=0):  # stand-in for MC dropout: tempered copies of the proba
        p = self.predict_proba(X, F)
        temps = np.random.default_rng(seed).uniform(0.5, 2.0, n_samples)
        q = np.stack([p ** (1 / t) for t in temps])
        return q / q.sum(2, keepdims=True)


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    F = np.concatenate([np.arange(n)[:, None], rng.standard_normal((n, 2)) + 2.5 * np.eye(3)[y][:, :2]], axis=1)
    X = rng.standard_normal((n, 8)).astype("float32")
    return X, F, y


def _run(strategy="odal", fuzzy=True, seed=0, budget=60, model_holder=None, annotator=None, fuzzy_controls="both"):
    X, F, yy = _data()
    pool, val, test = np.arange(200), np.arange(200, 250), np.arange(250, 300)
    ann = annotator or Annotator(yy[pool])

    def factory(s):
        m = SpyModel(s, ann)
        if model_holder is not None:
            model_holder.append(m)
        return m

    cfg = ALConfig(
        strategy, seed_size=20, batch_size=10, budget=budget, fuzzy=fuzzy, seed=seed, fuzzy_controls=fuzzy_controls
    )
    return (
        run_active_learning(
            factory,
            X[pool],
            F[pool],
            ann,
            (X[val], F[val], yy[val]),
            (X[test], F[test], yy[test]),
            cfg,
            n_classes=3,
            positive_classes=[1, 2],
            progress=False,
        ),
        ann,
        yy[pool],
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_loop_sees_only_revealed_labels_and_never_queries_twice(strategy):
    models = []
    ann = CountingAnnotator(_data()[2][:200])
    curve, ann, y_pool = _run(strategy, model_holder=models, annotator=ann)
    q = ann.queried()
    assert len(q) == len(set(q.tolist())) == 60 == curve["n_labels"].iloc[-1]
    assert ann.calls == len(curve)  # seed set + one query per later round
    assert len(models) == len(curve)  # no warm start: a fresh model (or reset weights) every round
    for ids, y_fit, seen_before in (f for m in models for f in m.fits):
        assert set(ids.tolist()) <= seen_before  # trained only on rows already queried
        np.testing.assert_array_equal(y_fit, y_pool[ids])  # with exactly the revealed labels
    assert curve["n_labels"].is_monotonic_increasing and curve.attrs["queried"] == q.tolist()


def test_curve_columns_and_fuzzy_ablation():
    fz, _, _ = _run("odal", fuzzy=True, budget=80)
    fixed, _, _ = _run("odal", fuzzy=False, budget=80)
    for col in ("val_macro_f1", "test_macro_f1", "val_pos_f1", "test_pos_f1", "pool_uncertainty", "threshold"):
        assert col in fz.columns
    assert fixed["threshold"].dropna().eq(0.7).all() and fixed["batch_size"].iloc[:-1].eq(10).all()
    assert fz["threshold"].dropna().between(0.5, 0.9).all() and not fz["threshold"].dropna().eq(0.7).all()
    assert fz["lr_multiplier"].iloc[:-1].notna().all() and fixed["lr_multiplier"].isna().all()
    assert fz["test_macro_f1"].iloc[-1] > 0.7  # well-separated features: far above chance (1/3)


def test_same_seed_same_curve_different_seed_different_queries():
    a, ann_a, _ = _run("random", seed=3)
    b, ann_b, _ = _run("random", seed=3)
    c, ann_c, _ = _run("random", seed=4)
    pd.testing.assert_frame_equal(a.drop(columns="fit_seconds"), b.drop(columns="fit_seconds"))
    assert ann_a.queried().tolist() == ann_b.queried().tolist() != ann_c.queried().tolist()


def test_run_strategies_long_table():
    X, F, y = _data()
    cfgs = {
        "random": ALConfig("random", seed_size=20, batch_size=20, budget=60),
        "odal": ALConfig("odal", seed_size=20, batch_size=20, budget=60),
    }
    long = run_strategies(
        lambda s: SpyModel(s),
        X[:200],
        F[:200],
        y[:200],
        (X[200:250], F[200:250], y[200:250]),
        (X[250:], F[250:], y[250:]),
        cfgs,
        seeds=[0, 1],
        n_classes=3,
        progress=False,
    )
    assert set(long["method"]) == {"random", "odal"} and set(long["seed"]) == {0, 1}
    assert len(curves_by_seed(long, "random")) == 2
    with pytest.raises(ValueError, match="allowed"):
        curves_by_seed(long, "margin")


def _curve(n, f1):
    return pd.DataFrame({"n_labels": n, "test_macro_f1": f1})


def test_mean_curve_interpolates_on_common_grid():
    mc = mean_curve([_curve([10, 30], [0.2, 0.6]), _curve([10, 20, 30, 40], [0.4, 0.5, 0.6, 0.9])])
    assert mc["n_labels"].tolist() == [10, 20, 30]
    np.testing.assert_allclose(mc["mean"], [0.3, 0.45, 0.6])
    with pytest.raises(ValueError, match="range"):
        mean_curve([_curve([10, 30], [0.2, 0.6])], grid=[5, 10])


def test_labels_to_reach_exact():
    assert labels_to_reach([10, 20, 30], [0.5, 0.7, 0.9], 0.8) == pytest.approx(25.0)
    assert labels_to_reach([10, 20], [0.9, 0.95], 0.8) == 10.0
    assert labels_to_reach([10, 20], [0.5, 0.6], 0.8) is None


def test_curve_auc_is_the_mean_score_over_the_budget():
    assert curve_auc([0, 10, 20], [0.0, 1.0, 1.0], 0, 20) == pytest.approx(0.75)
    assert curve_auc([0, 10, 20], [0.0, 1.0, 1.0], 5, 15) == pytest.approx((0.5 + 1.0) / 2 * 0.5 + 0.5)
    with pytest.raises(ValueError, match="label range"):
        curve_auc([10, 20], [0.5, 0.6], 0, 20)


def _long(rows):
    return pd.DataFrame(
        [{"method": m, "seed": s, "n_labels": n, "test_macro_f1": f} for m, s, ns, fs in rows for n, f in zip(ns, fs)]
    )


def test_per_seed_savings_count_validation_labels_and_use_each_seeds_reference():
    n = [10, 20, 30, 40]
    long = _long(
        [
            ("random", 0, n, [0.5, 0.6, 0.7, 0.8]),
            ("odal", 0, n, [0.5, 0.8, 0.85, 0.9]),
            ("random", 1, n, [0.5, 0.6, 0.65, 0.7]),
            ("odal", 1, n, [0.5, 0.7, 0.8, 0.9]),
        ]
    )
    ref = pd.DataFrame({"seed": [0, 1], "test_macro_f1": [0.8, 1.0]})  # targets 0.76 and 0.95
    t = per_seed_table(long, ref, fraction=0.95, extra_labels=100).set_index(["method", "seed"])
    lo = 10 + 0.26 / 0.3 * 10  # odal seed 0 reaches 0.76 between 10 and 20 labels
    assert t.loc[("odal", 0), "labels_to_target"] == pytest.approx(lo + 100)
    assert t.loc[("random", 0), "labels_to_target"] == pytest.approx(36.0 + 100)
    assert t.loc[("odal", 0), "saving_vs_random"] == pytest.approx(1 - (lo + 100) / 136.0)
    assert not t.loc[("odal", 1), "reached"] and np.isnan(t.loc[("odal", 1), "saving_vs_random"])
    assert t.loc[("odal", 0), "auc_minus_random"] == pytest.approx(
        curve_auc(n, [0.5, 0.8, 0.85, 0.9], 10, 40) - curve_auc(n, [0.5, 0.6, 0.7, 0.8], 10, 40)
    )
    summary = summarise_seeds(t.reset_index()).set_index("method")
    assert summary.loc["odal", "seeds_reaching_target"] == 1 and summary.loc["odal", "saving_vs_random_ci"] == [
        None,
        None,
    ]  # one finite saving: no interval
    assert summary.loc["random", "auc_minus_random"] == 0.0
    assert summary.loc["odal", "seeds_paired"] == 1 and summary.loc["odal", "saving_vs_random"] is None, (
        "one paired seed is not a saving"
    )
    two = per_seed_table(pd.concat([long, long.assign(seed=long.seed + 2)]), pd.concat([ref, ref.assign(seed=[2, 3])]))
    both = summarise_seeds(two).set_index("method")
    assert both.loc["odal", "seeds_paired"] == 2 and both.loc["odal", "seeds_reaching_target"] == 2
    assert both.loc["odal", "saving_vs_random"] == pytest.approx(1 - (lo + 0) / 36.0), "seeds 0 and 2, no extra labels"


def test_seed_interval_is_the_t_interval():
    lo, hi = seed_interval([1.0, 2.0, 3.0])
    assert (lo + hi) / 2 == pytest.approx(2.0) and hi - lo == pytest.approx(2 * 4.302653 * 1 / np.sqrt(3), rel=1e-5)


def _bald_loop(samples):
    T, n, _ = samples.shape
    out = []
    for i in range(n):
        mean = [np.mean([samples[t, i, c] for t in range(T)]) for c in range(samples.shape[2])]
        h_mean = -sum(p * np.log(p) for p in mean if p > 0)
        mean_h = np.mean([-sum(p * np.log(p) for p in samples[t, i] if p > 0) for t in range(T)])
        out.append(h_mean - mean_h)
    return np.array(out)


def test_bald_matches_a_loop_and_known_values():
    agree = np.array([[[0.5, 0.5]], [[0.5, 0.5]]])  # confident about being unsure: no mutual information
    disagree = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # each mask certain, but of different classes: log 2
    np.testing.assert_allclose(bald(agree), [0.0], atol=1e-12)
    np.testing.assert_allclose(bald(disagree), [np.log(2)])
    s = np.random.default_rng(0).dirichlet([1, 1, 1], size=(7, 5))
    np.testing.assert_allclose(bald(s), _bald_loop(s))
    with pytest.raises(ValueError, match="T, n, c"):
        bald(s[0])
    assert top_k(bald(np.concatenate([agree, disagree], axis=1)), 1).tolist() == [1]


def test_fuzzy_controls_split_the_controllers_effects():
    query, _, _ = _run("odal", budget=80, fuzzy_controls="query")
    training, _, _ = _run("odal", budget=80, fuzzy_controls="training")
    assert not query["threshold"].dropna().eq(0.7).all() and query["lr_multiplier"].isna().all()
    assert training["threshold"].dropna().eq(0.7).all() and training["batch_size"].iloc[:-1].eq(10).all()
    assert training["lr_multiplier"].iloc[:-1].notna().all()
    with pytest.raises(ValueError, match="fuzzy_controls"):
        ALConfig("odal", seed_size=10, batch_size=10, budget=50, fuzzy_controls="lr")


def test_reference_is_the_same_recipe_on_the_whole_pool():
    X, F, y = _data()
    ref = fit_reference(
        lambda s: SpyModel(s), X[:200], F[:200], y[:200], (X[200:250], F[200:250], y[200:250]),
        (X[250:], F[250:], y[250:]), [0, 1], n_classes=3,
    )  # fmt: skip
    assert ref["seed"].tolist() == [0, 1] and ref["n_labels"].eq(200).all()
    assert ref["test_macro_f1"].gt(0.7).all()


def test_bad_options_raise_naming_allowed_values():
    with pytest.raises(ValueError, match="least_confidence"):
        ALConfig(strategy="uncertainty", seed_size=10, batch_size=10, budget=50)
    with pytest.raises(ValueError, match="seed_size"):
        ALConfig(strategy="random", seed_size=0, batch_size=10, budget=50)
    with pytest.raises(TypeError, match="budget"):
        ALConfig(strategy="random", seed_size=10, batch_size=10)  # no second default for the budget
