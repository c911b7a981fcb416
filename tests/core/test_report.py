"""lib.core.report: claims file validation, metric lookup and verdict rules."""

import json
from dataclasses import replace

import pytest

from lib.core import paths, report
from lib.core.report import Claim


def _claim(**kw):
    base = dict(
        id="c1",
        notebook="01_odal_ecg",
        claim="acc",
        paper_value=0.86,
        source="Abstract",
        metric="claims.accuracy",
        tolerance=0.03,
    )
    base.update(kw)
    return Claim(**base)


def test_a_point_is_read_with_its_interval():
    """review25s17 M3: outside the band but the interval holding the paper's value -> underpowered; inside the band
    but the interval leaving it -> not established (also "underpowered" as a word); else unchanged."""
    c = _claim(paper_value=0.3247, tolerance=0.03, metric="claims.acc")
    wide = {"claims": {"acc": 0.2608, "acc_ci95": 0.1154}}
    a = report.assess(c, wide, "real")
    assert a.verdict == "underpowered"
    assert a.detail == ("underpowered (off by -0.0639, but its 95% interval [0.145, 0.376] holds the paper's 0.3247)")
    narrow = {"claims": {"acc": 0.2608, "acc_ci95": 0.01}}
    assert report.assess(c, narrow, "real").verdict == "not reproduced"
    inside = {"claims": {"acc": 0.31, "acc_ci95": 0.08}}
    b = report.assess(c, inside, "real")
    assert b.verdict == "underpowered" and b.detail.startswith("not established (the point is within ±0.03")
    tight = {"claims": {"acc": 0.31, "acc_ci95": 0.01}}
    assert report.assess(c, tight, "real").verdict == "reproduced"


def test_a_group_difference_made_of_other_orders_is_said():
    """review25s17 m9: the groups separate here but not in the paper (SoS 1st there): the reason names the ranks."""
    rows = {"a": 0.34, "b": 0.32, "x": 0.25, "y": 0.35}  # paper: y (lower group) first
    claims = {i: _claim(id=i, paper_value=v, metric=f"claims.{i}") for i, v in rows.items()}
    c = _claim(id="g", paper_value="supported", metric="claims.g", paper_effect={"higher": ["a", "b"],
               "lower": ["x", "y"], "how": "mean"})  # fmt: skip
    ours = {"claims": {"a": 0.30, "b": 0.28, "x": 0.20, "y": 0.22}}
    assert report.makeup_reason(c, ours, claims) == (
        "The two groups separate here, not in the paper: the difference is made of other orders, so a matching size "
        "is not a matching ranking. Rank here (in the paper), higher first: a 1 (2), b 2 (3), y 3 (1), x 4 (4)."
    )
    same = {"claims": {"a": 0.30, "b": 0.18, "x": 0.20, "y": 0.22}}  # apart in neither
    assert report.makeup_reason(c, same, claims) == ""
    assert report.makeup_reason(_claim(), ours, claims) == ""  # no group difference


def test_verdict_rules():
    c = _claim()
    assert report.verdict(c, 0.88, "real").startswith("reproduced")
    assert report.verdict(c, 0.80, "real") == "not reproduced (off by -0.06)"
    assert report.verdict(c, 0.86, "synthetic") == "not comparable (synthetic data)"
    assert report.verdict(c, None, "real") == "not measured"
    assert report.verdict(c, None, "real", missing=False).startswith("no value")
    assert report.verdict(_claim(tolerance=None), 0.5, "real") == "not comparable"
    assert report.verdict(_claim(higher_is_better=True), 0.99, "real") == "reproduced (ours higher by +0.13)"
    assert report.verdict(_claim(higher_is_better=True), 0.70, "real") == "not reproduced (off by -0.16)"
    assert report.verdict(_claim(paper_value=True), False, "real") == "not reproduced"
    assert report.verdict(_claim(paper_value=True), True, "real") == "reproduced"
    assert report.verdict(_claim(not_comparable="random weights"), 0.86, "real") == "not comparable: random weights"


def test_lookup_dotted():
    assert report.lookup({"a": {"b": {"c": 2}}}, "a.b.c") == 2
    with pytest.raises(KeyError, match="no 'x'"):
        report.lookup({"a": {}}, "a.x")


def test_build_table_reads_metrics_per_run(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "default").mkdir()
    meta = {"data": "MIT-BIH (real)", "config": "real", "seeds": [0, 1, 2], "split": "DS1/DS2"}
    (tmp_path / "real" / "01_odal_ecg.json").write_text(json.dumps({"meta": meta, "claims": {"accuracy": 0.7}}))
    (tmp_path / "default" / "01_odal_ecg.json").write_text(
        json.dumps({"meta": {"data": "synthetic", "config": "default"}, "claims": {"accuracy": 0.99}})
    )
    df = report.build_table([_claim(cause="measured")], metrics_root=tmp_path)
    assert list(df.run) == ["default", "real"]
    assert list(df.ours) == ["0.99", "0.7"]
    assert df.verdict.tolist() == ["not comparable", "not reproduced"]
    assert df.detail.tolist() == ["synthetic data", "not reproduced (off by -0.16)"]
    assert "seeds [0, 1, 2]" in df["data / configuration"].iloc[1]
    md = report.render(df, [_claim()], tmp_path)
    assert "### 01_odal_ecg" in md and "**not reproduced**" in md
    assert "**1 claims, real data: not reproduced 1.**" in md


def test_context_names_the_seeds_of_each_claim_where_the_metrics_say_so(tmp_path):
    """review22s6c P4: a claim whose value rests on other seeds than meta's names its own (meta.seeds_by_claim)."""
    (tmp_path / "real").mkdir()
    meta = {"data": "MIT-BIH", "config": "real", "seeds": [0, 1], "seeds_by_claim": {"c2": "[0, 1, 2, 3, 4] (forest)"}}
    (tmp_path / "real" / "01_odal_ecg.json").write_text(json.dumps({"meta": meta, "claims": {"accuracy": 0.7}}))
    df = report.build_table([_claim(cause="measured"), _claim(id="c2", cause="measured")], metrics_root=tmp_path)
    ctx = df[df.run == "real"].set_index("claim")["data / configuration"]
    assert "seeds [0, 1]" in ctx["c1"] and "forest" not in ctx["c1"]
    assert "seeds [0, 1, 2, 3, 4] (forest)" in ctx["c2"] and "seeds [0, 1];" not in ctx["c2"]


def test_honest_protocol_and_confidence_intervals(tmp_path):
    claim = _claim(
        metric="random.accuracy",
        honest_metric="interpatient.accuracy",
        paper_protocol="random beat split",
        honest_protocol="inter-patient DS1->DS2",
        higher_is_better=True,
    )
    (tmp_path / "real").mkdir()
    metrics = {
        "meta": {"data": "MIT-BIH"},
        "random": {"accuracy": 0.88, "accuracy_ci": [0.87, 0.89]},
        "interpatient": {"accuracy": 0.70, "accuracy_ci": [0.61, 0.78]},
    }
    (tmp_path / "real" / "01_odal_ecg.json").write_text(json.dumps(metrics))
    df = report.build_table([claim], metrics_root=tmp_path)
    assert df.ours.tolist() == ["0.88 [0.87, 0.89]"]
    assert df["ours (honest protocol)"].tolist() == ["0.7 [0.61, 0.78]"]
    assert df.verdict.tolist() == ["reproduced"]
    assert df.reasons.iloc[0] == [
        "Paper's protocol: random beat split. Honest protocol: inter-patient DS1->DS2.",
        "Reproduced only under the paper's protocol; under the honest protocol: not reproduced (off by -0.16).",
    ]
    md = report.render(df, [claim], tmp_path)
    assert "ours, honest protocol" in md and "0.7 [0.61, 0.78]" in md
    assert report.combined_verdict(claim, "not reproduced (off by -0.1)", "not reproduced (off by -0.2)") == (
        "paper's protocol (random beat split): not reproduced (off by -0.1); "
        "inter-patient DS1->DS2: not reproduced (off by -0.2)"
    )
    metrics["random"]["accuracy_ci"] = [0.1]
    (tmp_path / "real" / "01_odal_ecg.json").write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match=r"must be \[low, high\]"):
        report.build_table([claim], metrics_root=tmp_path)


def test_honest_point_within_tolerance_with_an_interval_beyond_it_is_not_established():
    """A saving of 0.31 against the paper's 0.30 (tolerance 0.1) with a 95% interval [-0.35, 0.97] reproduces
    nothing; the same point with [0.25, 0.40] does; a higher-is-better claim may reach above the band."""
    claim = _claim(paper_value=0.30, tolerance=0.1, higher_is_better=True, honest_metric="h.saving")
    wide = {"h": {"saving": 0.31, "saving_ci": [-0.35, 0.97]}}
    reason = report._honest_reason(claim, wide, "real", "not measured")
    assert reason.startswith("Under the honest protocol: not established") and "[-0.35, 0.97]" in reason
    narrow = {"h": {"saving": 0.31, "saving_ci": [0.25, 0.45]}}
    assert report._honest_reason(claim, narrow, "real", "not measured") == (
        "Under the honest protocol: reproduced (within ±0.1)."
    )
    lower = _claim(paper_value=0.30, tolerance=0.1, higher_is_better=False, honest_metric="h.saving")
    assert "not established" in report._honest_reason(lower, narrow, "real", "not measured")
    no_ci = {"h": {"saving": 0.31}}
    assert report._honest_reason(claim, no_ci, "real", "not measured").endswith("reproduced (within ±0.1).")


def test_a_null_paper_protocol_value_is_graded_on_the_honest_protocol():
    """review22s6 m6: the AL saving has no paper-protocol value but an honest one: not 'not measured'."""
    claim = _claim(paper_value=0.30, tolerance=0.1, higher_is_better=True, honest_metric="h.saving")
    wide = report.assess(claim, {"claims": {"accuracy": None}, "h": {"saving": 0.31, "saving_ci": [-0.35, 0.97]}})
    assert wide.verdict == "underpowered" and wide.detail.startswith("paper's protocol: null in the metrics file")
    assert "graded on the honest protocol: not established" in wide.detail
    narrow = report.assess(claim, {"claims": {"accuracy": None}, "h": {"saving": 0.31, "saving_ci": [0.25, 0.45]}})
    assert narrow.verdict == "reproduced"
    low = report.assess(claim, {"claims": {"accuracy": None}, "h": {"saving": 0.05, "saving_ci": [0.0, 0.1]}})
    assert low.verdict == "not reproduced"
    assert report.assess(claim, {"claims": {"accuracy": None}, "h": {"saving": None}}).verdict == "not measured"


def test_load_claims_validates(tmp_path):
    f = tmp_path / "claims.yaml"
    f.write_text("claims:\n- {id: a, notebook: 01_odal_ecg, claim: x, paper_value: 1, source: s}\n")
    with pytest.raises(ValueError, match="lacks"):
        report.load_claims(f)
    f.write_text("claims:\n- {id: a, notebook: 09_x, claim: x, paper_value: 1, source: s, metric: m}\n")
    with pytest.raises(ValueError, match="notebook must be one of"):
        report.load_claims(f)


def test_project_claims_file_is_valid():
    claims = report.load_claims()
    assert len({c.id for c in claims}) == len(claims)


def test_paper_values_reads_claims(tmp_path):
    f = tmp_path / "claims.yaml"
    f.write_text(
        "claims:\n- {id: a, notebook: 03_eye_mobilenet_som, claim: x, paper_value: 0.97, source: T2, metric: m}\n"
        "- {id: b, notebook: 01_odal_ecg, claim: y, paper_value: 0.86, source: A, metric: n}\n"
    )
    assert report.paper_values("03_eye_mobilenet_som", f) == {"a": 0.97}
    with pytest.raises(ValueError, match="notebook must be one of"):
        report.paper_values("05_x", f)


def test_variant_claim_reads_the_variant_metrics_file(tmp_path):
    (tmp_path / "real").mkdir()
    main = {"meta": {"data": "Colored MNIST (real)", "config": "real"}, "claims": {"accuracy": 0.5}}
    variant = {"meta": {"data": "Corrupted CIFAR-10 (real)", "config": "real"}, "claims": {"accuracy": 0.85}}
    (tmp_path / "real" / "01_odal_ecg.json").write_text(json.dumps(main))
    (tmp_path / "real" / "01_odal_ecg_cifar.json").write_text(json.dumps(variant))
    claims = [_claim(), _claim(id="c2", variant="cifar")]
    df = report.build_table(claims, metrics_root=tmp_path)
    assert list(df.ours) == ["0.5", "0.85"]
    assert list(df.variant) == ["", "cifar"]
    md = report.render(df, claims, tmp_path)
    assert "- `real`: Colored MNIST (real)" in md and "- `real` (cifar): Corrupted CIFAR-10 (real)" in md


def test_text_claims_compare_verdict_words():
    claim = _claim(paper_value="supported", tolerance=None)
    assert report.verdict(claim, "supported", "real") == "reproduced"
    assert report.verdict(claim, "not significant", "real") == "not reproduced (not significant)"
    assert report.verdict(claim, "not significant", "synthetic") == "not comparable (synthetic data)"
    # a test these models cannot decide is not a failed reproduction (review 25s5 m6)
    untestable = "not testable with 10 models (smallest attainable Holm-adjusted p 0.0889 >= 0.05)"
    assert report.verdict(claim, untestable, "real") == untestable


def test_half_width_ci95_is_read_as_an_interval():
    metrics = {"cifar": {"sce": {"accuracy": 0.16, "accuracy_ci95": 0.01}}, "b": {"x": 1.0, "x_ci95": None}}
    low, high = report.lookup_ci(metrics, "cifar.sce.accuracy")
    assert (low, high) == pytest.approx((0.15, 0.17))
    assert report.lookup_ci(metrics, "b.x") is None
    assert report.lookup_ci(metrics, "b.missing") is None
    assert report.lookup_ci({"s": 0.3, "s_ci": [None, None]}, "s") is None  # could not be computed
    assert report.lookup_ci({"s": 0.3, "s_ci": None}, "s") is None


# ---- the one-word verdicts, each exercised on hand-made claims and metrics ----

RANKING = dict(
    paper_value="supported",
    metric="claims.test.verdict",
    tolerance=None,
    guard_metrics={"conflicting": "claims.acc.*.conflicting", "worst_group": "claims.acc.*.worst_group", "chance": 0.1},
    paper_effect=0.02,
    effect_ci="claims.test.ci95",
)


def _ranking_metrics(verdict="not significant", ci95=0.01, conflicting=(0.9, 0.8), worst=(0.6, 0.5)):
    acc = {
        name: {"conflicting": c, "worst_group": w} for name, c, w in zip(("sce", "l1"), conflicting, worst, strict=True)
    }
    return {"claims": {"test": {"verdict": verdict, "ci95": ci95}, "acc": acc}}


def test_assess_every_verdict_word():
    c = _claim(cause="measured")
    assert report.assess(c, {"claims": {"accuracy": 0.87}}).verdict == "reproduced"
    assert report.assess(c, {"claims": {"accuracy": 0.70}}).verdict == "not reproduced"
    assert report.assess(c, None).verdict == "not measured"
    assert report.assess(c, {"claims": {}}).verdict == "not measured"
    assert report.assess(c, {"claims": {"accuracy": None}}).detail.startswith("null")
    assert report.assess(c, {"claims": {"accuracy": 0.86}}, run="default").verdict == "not comparable"
    nc = report.assess(_claim(not_comparable="random weights"), {"claims": {"accuracy": 0.86}})
    assert (nc.verdict, nc.reasons[0], nc.detail) == (
        "not comparable",
        "random weights",
        "measured: reproduced (within ±0.03)",
    )
    r = _claim(**RANKING)
    assert report.assess(r, _ranking_metrics("supported")).verdict == "reproduced"
    assert report.assess(r, _ranking_metrics(ci95=0.01)).verdict == "not reproduced"  # powered, and no effect
    under = report.assess(r, _ranking_metrics(ci95=0.03))  # a half-width with no difference beside it: by width
    assert under.verdict == "underpowered" and "±0.03, wider than" in under.reasons[0] and "+0.02" in under.reasons[0]
    # an interval [low, high] that holds 0 and is wider than the effect: underpowered
    assert report.assess(r, _ranking_metrics(ci95=[-0.04, 0.02])).verdict == "underpowered"
    # a bare half-width is read around the difference beside it: a significant reversal is not "underpowered"
    bare = _ranking_metrics("contradicted", ci95=0.03)
    bare["claims"]["test"]["diff"] = -0.05
    assert report.assess(r, bare).verdict == "not reproduced"
    bare["claims"]["test"]["diff"] = 0.0  # [-0.03, +0.03] holds the effect +0.02: cannot decide
    assert report.assess(r, bare).verdict == "underpowered"
    bare["claims"]["test"]["diff"] = -0.02  # [-0.05, +0.01] holds 0 but excludes the effect: rejects it
    assert report.assess(r, bare).verdict == "not reproduced"
    # an unadjusted interval that excludes 0 and holds the effect, not significant after Holm: cannot decide
    holm = _ranking_metrics("not significant", ci95=0.036)
    holm["claims"]["test"]["diff"] = 0.047
    r56 = _claim(**{**RANKING, "paper_effect": 0.056})
    h = report.assess(r56, holm)
    assert h.verdict == "underpowered" and "[+0.011, +0.083] holds the paper's effect (+0.056," in h.reasons[0]
    # review25s5 M2: the paper's direction beyond its effect, Holm not reached: not a failed reproduction
    beyond = _ranking_metrics("not significant", ci95=0.024)
    beyond["claims"]["test"]["diff"] = 0.030
    b = report.assess(_claim(**{**RANKING, "paper_effect": 0.0056}), beyond)
    assert b.verdict == "underpowered" and "[+0.006, +0.054] excludes 0 on the claim's side" in b.reasons[0]
    # ... but never a test that says "contradicted"
    assert (
        report.assess(
            _claim(**{**RANKING, "paper_effect": 0.0056}),
            {**beyond, "claims": {**beyond["claims"], "test": {**beyond["claims"]["test"], "verdict": "contradicted"}}},
        ).verdict
        == "not reproduced"
    )
    # the same interval below 0 for a positive paper effect is a reversal
    beyond["claims"]["test"]["diff"] = -0.030
    assert report.assess(_claim(**{**RANKING, "paper_effect": 0.0056}), beyond).verdict == "not reproduced"
    # review25s5 2x: the side comes from the claim ({higher, lower}: higher minus lower), not from the effect's sign;
    # a ranking the paper's own values do not show is not comparable, whatever our test says against it
    table = {"h": _claim(id="h", paper_value=0.3444), "l": _claim(id="l", paper_value=0.3481)}
    inconsistent = _claim(**{**RANKING, "paper_effect": {"higher": ["h"], "lower": ["l"], "how": "max"}})
    rev = report.assess(inconsistent, _ranking_metrics("contradicted", ci95=[-0.08, -0.02]), claims=table)
    assert rev.verdict == "not comparable" and "effect of -0.0037 against its claim" in rev.reasons[0]
    table["h"] = _claim(id="h", paper_value=0.3491)  # +0.001: below our interval, on the claim's side
    shown = report.assess(inconsistent, _ranking_metrics("not significant", ci95=[0.006, 0.054]), claims=table)
    assert shown.verdict == "underpowered" and "excludes 0 on the claim's side" in shown.reasons[0]
    # a clear reversal (interval excludes 0 on the other side) is a result against the paper, however wide
    reversed_ = report.assess(r, _ranking_metrics("contradicted", ci95=[-0.08, -0.02]))
    assert reversed_.verdict == "not reproduced" and not any("wider than" in x for x in reversed_.reasons)


def test_ranking_on_models_that_did_not_converge_is_not_comparable():
    r = _claim(**{**RANKING, "converged_metric": "claims.converged.d.*"})
    m = _ranking_metrics("supported")
    assert report.assess(r, m).verdict == "reproduced"  # no flags (an older run): no guard
    m["claims"]["converged"] = {"d": {"sce": True, "l1": True}}
    assert report.assess(r, m).verdict == "reproduced"
    m["claims"]["converged"]["d"]["l1"] = False
    a = report.assess(r, m)
    assert a.verdict == "not comparable" and "claims.converged.d.l1 = false" in a.reasons[0]
    assert a.detail == "not read: training not converged (the numbers alone: reproduced)"
    # a claim not comparable for another reason keeps that reason first, with the guards' reasons and detail beside it
    nc = report.assess(_claim(**{**RANKING, "converged_metric": "claims.converged.d.*", "not_comparable": "CPU"}), m)
    assert (
        nc.verdict == "not comparable" and nc.reasons[0] == "CPU" and "claims.converged.d.l1 = false" in nc.reasons[1]
    )
    assert nc.detail == "not read: training not converged (the numbers alone: reproduced)"


def test_a_converged_flag_that_is_not_a_plateau_is_said_beside_the_verdict():
    """review25s16run m5: a verdict on models 'converged' by a patience stop with a rise not excluded says so."""
    r = _claim(
        **{
            **RANKING,
            "converged_metric": "claims.converged.d.*",
            "converged_caveat_metric": "claims.converged_caveat.d.*",
        }
    )
    m = _ranking_metrics("supported")
    m["claims"]["converged"] = {"d": {"sce": True, "l1": True}}
    assert not any("plateau" in x for x in report.assess(r, m).reasons)  # no caveats written: nothing said
    m["claims"]["converged_caveat"] = {"d": {"l1": "by patience, a rise of up to 2 points not excluded"}}
    a = report.assess(r, m)
    assert a.verdict == "reproduced"  # a caveat is a reason, never the verdict
    assert (
        "Convergence as the notebook reads it: claims.converged_caveat.d.l1: by patience, a rise of up to 2 points "
        "not excluded. A number of models that more epochs could still move is provisional." in a.reasons
    )


def test_ranking_on_models_that_follow_the_bias_is_not_comparable():
    r = _claim(**RANKING)
    # conflicting accuracy at chance: the ranking says nothing, even when the test "supports" the paper
    a = report.assess(r, _ranking_metrics("supported", conflicting=(0.1, 0.8)))
    assert a.verdict == "not comparable" and "claims.acc.sce.conflicting = 0.1 <= chance 0.1" in a.reasons[0]
    # the numbers' own reading is kept beside it, never as "measured: reproduced" (review25s12b m3)
    assert a.detail == "not read: the models follow the bias (the numbers alone: reproduced)"
    b = report.assess(r, _ranking_metrics("supported", worst=(0.6, 0.0)))
    assert b.verdict == "not comparable" and "claims.acc.l1.worst_group = 0" in b.reasons[0]
    # just above chance and a worst group above 0: the ranking counts
    assert report.assess(r, _ranking_metrics("supported", conflicting=(0.11, 0.8))).verdict == "reproduced"
    # a bias rate at or above the conflicting accuracy beside it: the models predict the bias class more often
    # than the label on the conflicting samples
    rated = _claim(**{**RANKING, "guard_metrics": {**RANKING["guard_metrics"], "bias_rate": "claims.acc.*.bias_rate"}})
    m = _ranking_metrics("supported", conflicting=(0.4, 0.8))
    m["claims"]["acc"]["sce"]["bias_rate"], m["claims"]["acc"]["l1"]["bias_rate"] = 0.45, 0.1
    c = report.assess(rated, m)
    assert (
        c.verdict == "not comparable"
        and "claims.acc.sce.bias_rate = 0.45 >= claims.acc.sce.conflicting = 0.4" in (c.reasons[0])
    )
    m["claims"]["acc"]["sce"]["bias_rate"] = 0.39
    assert report.assess(rated, m).verdict == "reproduced"
    del m["claims"]["acc"]["l1"]["conflicting"]
    with pytest.raises(ValueError, match="no 'claims.acc.l1.conflicting' beside it"):
        report.assess(rated, m)
    # the notebook's own per-model flag
    flagged = _claim(**{**RANKING, "guard_metrics": {"follows": "claims.guard.*.follows_bias"}})
    m = {**_ranking_metrics("supported"), "claims": {**_ranking_metrics("supported")["claims"]}}
    m["claims"]["guard"] = {"cmnist": {"follows_bias": False}}
    assert report.assess(flagged, m).verdict == "reproduced"
    m["claims"]["guard"]["cifar"] = {"follows_bias": True}
    f = report.assess(flagged, m)
    assert f.verdict == "not comparable" and "claims.guard.cifar.follows_bias = true" in f.reasons[0]
    # chance read from the metrics file
    keyed = _claim(**{**RANKING, "guard_metrics": {"conflicting": "claims.acc.*.conflicting", "chance": "chance"}})
    m = {**_ranking_metrics("supported", conflicting=(0.4, 0.8)), "chance": 0.5}
    assert report.assess(keyed, m).verdict == "not comparable"


def test_paper_effect_from_other_claims_paper_values():
    claims = {
        "a": _claim(id="a", paper_value=0.95),
        "b": _claim(id="b", paper_value=0.93),
        "c": _claim(id="c", paper_value=0.90),
        "d": _claim(id="d", paper_value=0.94),
    }
    mean = _claim(paper_effect={"higher": ["a", "b"], "lower": ["c", "d"]}, effect_ci="x")
    best = _claim(paper_effect={"higher": ["a", "b"], "lower": ["c", "d"], "how": "max"}, effect_ci="x")
    assert report.paper_effect(mean, {}, claims) == pytest.approx(0.02)
    assert report.paper_effect(best, {}, claims) == pytest.approx(0.01)
    assert report.paper_effect(_claim(paper_effect="e.x", effect_ci="x"), {"e": {"x": 0.3}}) == 0.3
    with pytest.raises(ValueError, match="unknown claim"):
        report.paper_effect(_claim(paper_effect={"higher": ["zz"], "lower": ["a"]}, effect_ci="x"), {}, claims)
    assert report.interval_half_width({"k": [0.1, 0.5]}, "k") == pytest.approx(0.2)


def test_notes_written_once_per_notebook_and_causes_counted(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "01_odal_ecg.json").write_text(json.dumps({"claims": {"accuracy": 0.5, "f1": 0.5}}))
    shared = "A long note that two claims share."
    claims = [
        _claim(note=shared, cause="forced-data", not_comparable="no data"),
        _claim(id="c2", metric="claims.f1", note=shared, cause="measured"),
        _claim(
            id="c3", kind="consistency", metric="claims.f1", reading="{value} of 10 fit", cause="paper-inconsistency"
        ),
    ]
    df = report.build_table(claims, metrics_root=tmp_path)
    md = report.render(df, claims, tmp_path)
    assert md.count(shared) == 1, "each distinct note once per notebook"
    assert "**2 claims, real data: not reproduced 1, not comparable 1.**" in md, "consistency checks are not claims"
    assert "## What the paper's numbers can and cannot be" in md and "0.5 of 10 fit" in md
    counts = report.counts_by_cause(df).set_index("verdict")
    assert counts.loc["not comparable", "forced: data missing"] == 1
    assert counts.loc["not reproduced", "like for like"] == 1


def test_load_claims_rejects_bad_new_fields(tmp_path):
    f = tmp_path / "claims.yaml"
    base = "claims:\n- {id: a, notebook: 01_odal_ecg, claim: x, paper_value: 1, source: s, metric: m, %s}\n"
    for bad, msg in (
        ("cause: luck", "cause must be one of"),
        ("kind: guess", "kind must be one of"),
        ("guard_metrics: {conflicting: k}", "needs guard_metrics.chance"),
        ("paper_effect: 0.1", "go together"),
    ):
        f.write_text(base % bad)
        with pytest.raises(ValueError, match=msg):
            report.load_claims(f)


def test_readme_block_is_replaced_between_markers():
    text = f"# x\n\n{report.README_START}\nold\n{report.README_END}\n\nrest\n"
    assert report.update_readme(text, "NEW") == "# x\n\nNEW\n\nrest\n"
    with pytest.raises(ValueError, match="markers"):
        report.update_readme("# no markers", "NEW")


# ---- the project's own claims, README and report ----


def test_every_project_claim_names_its_cause_and_an_existing_section():
    import nbformat

    headings = {}
    for nb in paths.NOTEBOOK_IDS.values():
        cells = nbformat.read(paths.NOTEBOOKS / f"{nb}.ipynb", as_version=4).cells
        headings[nb] = {
            line.lstrip("#").strip()
            for c in cells
            if c.cell_type == "markdown"
            for line in c.source.splitlines()
            if line.startswith("#")
        }
    problems = []
    for c in report.load_claims():
        if c.cause not in report.CAUSES:
            problems.append(f"{c.id}: no cause (one of {sorted(report.CAUSES)})")
        if c.section not in headings[c.notebook]:
            problems.append(f"{c.id}: section {c.section!r} is not a heading of notebooks/{c.notebook}.ipynb")
    assert not problems, "\n".join(problems)


def test_key_figures_exist():
    for nb, entry in report.load_notebook_info().items():
        assert (paths.ROOT / "figures" / "real" / nb / entry["key_figure"]).is_file(), f"{nb}: {entry['key_figure']}"


def test_readme_verdict_block_is_what_the_report_generates():
    readme = (paths.ROOT / "README.md").read_text()
    block = report.readme_block(report.build_table(report.load_claims()))
    assert report.update_readme(readme, block) == readme, "README.md's verdict block is stale: run dvc repro report"


# ---- intervals of bounded metrics (review note m3: "0.9537 [0.848, 1.06]" for a 2-seed accuracy) ----


def _l2_metrics(half=0.10546149931024962, seeds=2):
    return {"meta": {"data": "C-MNIST", "config": "real"}, "claims": {"acc": 0.9537, "acc_ci95": half, "seeds": seeds}}


def test_an_interval_past_the_bounds_is_clipped_and_marked(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "01_odal_ecg.json").write_text(json.dumps(_l2_metrics()))
    bounded = _claim(metric="claims.acc", paper_value=0.93, bounds=[0, 1], cause="measured")
    free = _claim(id="c2", metric="claims.acc", paper_value=0.93, cause="measured")
    df = report.build_table([bounded, free], metrics_root=tmp_path).set_index("claim")
    assert df.loc["c1", "ours"] == "0.9537 [0.848, 1] (clipped at 1)"
    assert df.loc["c2", "ours"] == "0.9537 [0.848, 1.06]", "no bounds: the interval as stored"
    (note,) = df.loc["c1", "interval notes"]
    assert note.startswith("Interval clipped at 1: its 95% t-interval over 2 seeds (t with 1 df) reaches past")
    assert df.loc["c2", "interval notes"] == []
    md = report.render(df.reset_index(), [bounded, free], tmp_path)
    assert "0.9537 [0.848, 1] (clipped at 1)<sup>1</sup>" in md and f"1. {note}" in md
    # the lower end: a 2-seed accuracy near 0
    low = {"claims": {"acc": 0.03, "acc_ci95": 0.2, "seeds": [0, 1, 2]}}
    ci, ends, note = report.claim_ci(bounded, low, "claims.acc")
    assert ci == pytest.approx((0.0, 0.23)) and ends == "0" and "over 3 seeds (t with 2 df)" in note
    # at exactly the band's edge: paper 0.97 + tolerance 0.03 is 0.9999999999999999 in floats, not above 1
    edge = _claim(paper_value=0.97, tolerance=0.03, higher_is_better=False, honest_metric="h.acc", bounds=[0, 1])
    edge_metrics = {"h": {"acc": 0.99, "acc_ci95": 0.02}}  # [0.97, 1.01] -> [0.97, 1]
    assert report._honest_reason(edge, edge_metrics, "real", "").endswith("reproduced (within ±0.03).")
    both = {"claims": {"acc": 0.5, "acc_ci": [-0.2, 1.3]}}
    ci, ends, note = report.claim_ci(bounded, both, "claims.acc")
    assert ci == (0.0, 1.0) and ends == "0 and 1" and "its 95% interval reaches past" in note
    inside = {"claims": {"acc": 0.5, "acc_ci": [0.2, 0.8]}}
    assert report.claim_ci(bounded, inside, "claims.acc") == ((0.2, 0.8), "", "")


def test_the_verdict_reads_the_clipped_interval():
    """A point within the band whose unclipped upper end passes 1 only because the interval is symmetric: with
    bounds the band's top (1.0) is not exceeded, so the honest protocol reproduces; without, 'not established'."""
    kw = dict(paper_value=0.98, tolerance=0.03, higher_is_better=False, honest_metric="h.acc")  # band [0.95, 1.01]
    metrics = {"h": {"acc": 0.99, "acc_ci95": 0.035}}  # [0.955, 1.025]
    clipped = report._honest_reason(_claim(bounds=[0, 1], **kw), metrics, "real", "not measured")
    assert clipped == "Under the honest protocol: reproduced (within ±0.03)."
    unclipped = report._honest_reason(_claim(**kw), metrics, "real", "not measured")
    assert unclipped.startswith("Under the honest protocol: not established") and "1.02]" in unclipped
    # the graded honest-only path reads it the same way
    null_paper = {"claims": {"accuracy": None}, **metrics}
    assert report.assess(_claim(bounds=[0, 1], **kw), null_paper).verdict == "reproduced"
    assert report.assess(_claim(**kw), null_paper).verdict == "underpowered"
    # clipping never widens: an interval below the band stays below it
    below = {"h": {"acc": 0.96, "acc_ci95": 0.06}}  # [0.90, 1.02]: the low end is out of the band either way
    assert "not established" in report._honest_reason(_claim(bounds=[0, 1], **kw), below, "real", "not measured")


def test_bounds_are_validated(tmp_path):
    f = tmp_path / "claims.yaml"
    base = "claims:\n- {id: a, notebook: 01_odal_ecg, claim: x, paper_value: 1, source: s, metric: m, bounds: %s}\n"
    for bad in ("[1, 0]", "[0]", "[0, x]", "0.5"):
        f.write_text(base % bad)
        with pytest.raises(ValueError, match="bounds must be"):
            report.load_claims(f)
    f.write_text(base % "[0, 1]")
    assert report.load_claims(f)[0].bounds == [0, 1]


def test_a_test_word_with_its_direction_shown_is_underpowered_not_refuted():
    """review25s13run M5 / review25s14code M1: 'not established' is "underpowered" when the direction is shown (every
    contrast the claim needs on the paper's side AND the unadjusted p below 0.05 or at the design's floor), not
    evidence against the claim; point estimates on its side alone stay "not reproduced", said so."""
    claim = _claim(
        paper_value="supported",
        tolerance=None,
        metric="cka.block.verdict",
        direction_metrics={"SoS minus others": "cka.block.diff", "SoS minus untrained": "cka.block.vs_untrained"},
    )
    word = "not established (not above the other objectives)"

    def metrics(diff, vs, p=0.04, p_min=0.04):
        block = {"verdict": word, "diff": diff, "vs_untrained": vs, "p": p, "p_min": p_min}
        return {"cka": {"block": {**block, "p_holm": 0.21, "p_min_holm": p_min}}}

    a = report.assess(claim, metrics(0.066, 0.047))  # p at the design's floor (1/25)
    assert a.verdict == "underpowered"
    assert a.detail == (
        "underpowered (not established (not above the other objectives): direction shown, every contrast the claim "
        "needs on the paper's side (SoS minus others +0.066, SoS minus untrained +0.047), unadjusted p 0.04; "
        "Holm-adjusted p 0.21, smallest attainable 0.04)"
    )
    assert report.assess(claim, metrics(0.066, 0.047, p=0.03, p_min=0.0)).verdict == "underpowered"  # p < 0.05
    # the point estimates on the paper's side, the test not showing the direction (C-MNIST SoS block, p 0.296)
    weak = report.assess(claim, metrics(0.012, 0.049, p=0.296))
    assert weak.verdict == "not reproduced"
    assert weak.detail == (
        f"not reproduced ({word}; the point estimates lie on the paper's side (SoS minus others +0.012, SoS minus "
        "untrained +0.049) but the test does not show the direction (unadjusted p 0.296); Holm-adjusted p 0.21, "
        "smallest attainable 0.04)"
    )
    refuted = report.assess(claim, metrics(0.066, -0.01))  # one contrast against the paper: evidence against it
    assert refuted.verdict == "not reproduced"
    assert refuted.detail == f"not reproduced ({word}; Holm-adjusted p 0.21, smallest attainable 0.04)"
    missing = report.assess(claim, {"cka": {"block": {"verdict": word, "diff": 0.066}}})  # a contrast not measured
    assert missing.verdict == "not reproduced" and missing.detail == f"not reproduced ({word})"
    assert report.assess(claim, {"cka": {"block": {"verdict": "supported", "p_holm": 0.01}}}).verdict == "reproduced"
    # a t-test has no floor: no "smallest attainable 0"
    t_test = {"cka": {"block": {"verdict": word, "p_holm": 1.0, "p_min_holm": 0.0}}}
    assert report.assess(claim, t_test).detail == f"not reproduced ({word}; Holm-adjusted p 1)"
    # a claim the setting cannot test keeps the word in its detail
    shown = report.assess(replace(claim, not_comparable="CPU-reduced network"), metrics(0.066, 0.047))
    assert shown.verdict == "not comparable" and shown.detail.startswith("measured: underpowered (not established")


@pytest.mark.parametrize(
    "direction, paper, message",
    [(["a.b"], "supported", "must map labels to dotted keys"), ({"x": "a.b"}, 0.5, "reads a test's verdict word")],
)
def test_direction_metrics_are_checked(tmp_path, direction, paper, message):
    item = dict(
        id="c", notebook="n", claim="c", paper_value=paper, source="s", metric="a.v", direction_metrics=direction
    )
    with pytest.raises(ValueError, match=message):
        report._check_claim(item, tmp_path / "claims.yaml")


def test_a_guarded_claim_gives_the_numbers_own_word_underpowered_included():
    """review25s14run M1: behind a guard, 'the numbers alone' is the whole rule without the guards, so an interval
    that holds the paper's effect reads 'underpowered' there too (as the notebook says), with its reason."""
    r = _claim(**RANKING)
    guarded = report.assess(r, _ranking_metrics(ci95=0.03, worst=(0.0, 0.5)))  # a worst group at 0: the guard fires
    assert guarded.verdict == "not comparable"
    assert guarded.detail == "not read: the models follow the bias (the numbers alone: underpowered (not significant))"
    assert any(x.startswith("Our paired 95% interval") for x in guarded.reasons)
    powered = report.assess(r, _ranking_metrics(ci95=0.01, worst=(0.0, 0.5)))  # a narrow null: evidence against
    assert (
        powered.detail == "not read: the models follow the bias (the numbers alone: not reproduced (not significant))"
    )


def test_a_row_within_a_tolerance_wider_than_its_column_says_the_order_is_not_tested():
    """review25s14run m6: a tolerance at least the spread of the paper's column cannot test the paper's order;
    the report says so beside a row 'within' it, with the row's rank here and in the paper."""
    rows = {
        cid: _claim(id=cid, paper_value=paper, metric=f"claims.{cid}", rank_group="g")
        for cid, paper in (("a", 0.95), ("b", 0.94), ("c", 0.93))
    }
    metrics = {"claims": {"a": 0.93, "b": 0.95, "c": 0.94}}
    why = (
        "The tolerance (±0.03) is at least the spread of the paper's values in this column (0.93 to 0.95): within it, "
        "a row does not test the paper's order of the rows. Rank here 3 of 3, in the paper 1 of 3 (higher first; "
        "ties share the better rank)."
    )
    got = report.assess(rows["a"], metrics, claims=rows)
    assert got.verdict == "reproduced" and why in got.reasons
    # the same row behind a not_comparable reason: the numbers' reading carries the note too
    shown = report.assess(replace(rows["a"], not_comparable="CPU-reduced"), metrics, claims=rows)
    assert shown.detail == "measured: reproduced (within ±0.03)" and why in shown.reasons
    # ties share the better rank
    tied = report.order_reason(rows["b"], {"claims": {"a": 0.95, "b": 0.95, "c": 0.9}}, rows)
    assert "Rank here 1 of 3, in the paper 2 of 3" in tied
    # a tolerance narrower than the column's spread tests the rows: no note; nor for a row outside its tolerance
    narrow = {k: replace(v, tolerance=0.01) for k, v in rows.items()}
    assert report.order_reason(narrow["a"], metrics, narrow) == ""
    off = report.assess(rows["a"], {"claims": {"a": 0.80, "b": 0.95, "c": 0.94}}, claims=rows)
    assert off.verdict == "not reproduced" and not any("does not test the paper's order" in r for r in off.reasons)
    # no group, or a group of one: no note
    assert report.order_reason(replace(rows["a"], rank_group=""), metrics, rows) == ""
    assert report.order_reason(rows["a"], metrics, {"a": rows["a"]}) == ""


def test_reword_replaces_only_a_leading_phrase():
    assert report._reword("not reproduced (x)", "not reproduced (", "underpowered (") == "underpowered (x)"
    assert report._reword("measured: not reproduced (x)", "not reproduced (", "y") == "measured: not reproduced (x)"


def test_a_ranking_the_papers_values_do_not_show_is_not_comparable_even_when_the_test_supports_it():
    """review25s15run M1: 'the paper's own values do not show this ranking' comes before 'reproduced', guarded or not
    (a supported test on a ranking whose paper effect is <= 0 read 'reproduced' in the numbers' own reading)."""
    rows = {cid: _claim(id=cid, paper_value=v, metric=f"claims.{cid}") for cid, v in (("p", 0.30), ("m", 0.34))}
    r = _claim(**{**RANKING, "paper_effect": {"higher": ["p"], "lower": ["m"], "how": "max"}})
    claims = {**rows, r.id: r}
    bare = report.assess(replace(r, guard_metrics={}), _ranking_metrics("supported"), claims=claims)
    want = (
        "not comparable (the paper's own values do not show this ranking: effect -0.04; the test's own word: supported)"
    )
    assert bare.verdict == "not comparable" and bare.detail == f"measured: {want}"
    assert any(x.startswith("The paper's own values give an effect of -0.04") for x in bare.reasons)
    guarded = report.assess(r, _ranking_metrics("supported", worst=(0.0, 0.5)), claims=claims)
    assert guarded.detail == f"not read: the models follow the bias (the numbers alone: {want})"
    # the paper's values showing it: the supported test is reproduced, as before
    shown = {**claims, "m": replace(rows["m"], paper_value=0.20)}
    assert report.assess(replace(r, guard_metrics={}), _ranking_metrics("supported"), claims=shown).verdict == (
        "reproduced"
    )


def test_readme_says_in_a_few_words_why_a_claim_is_not_comparable():
    """assess carries the few words as data (Assessment.why); README's cell shows them beside 'not comparable'."""
    r = _claim(**RANKING)
    followed = report.assess(r, _ranking_metrics("supported", worst=(0.0, 0.5)))
    assert (followed.verdict, followed.why) == ("not comparable", "the models follow the bias")
    unconverged = _ranking_metrics("supported")
    unconverged["claims"]["converged"] = {"d": {"sce": True, "l1": False}}
    both = _claim(**{**RANKING, "converged_metric": "claims.converged.d.*", "not_comparable": "x"})
    assert report.assess(both, unconverged).why == "training not converged"  # a guard before the claim's reason
    reason = "CPU-reduced protocol (narrower ResNet18 and more), not the paper's; see x"
    own = report.assess(_claim(not_comparable=reason), {"claims": {"accuracy": 0.86}})
    assert (own.detail, own.why) == ("measured: reproduced (within ±0.03)", "CPU-reduced protocol")
    forced = report.assess(_claim(not_comparable="forced: other data; the rest"), {"claims": {"accuracy": 0.86}})
    assert forced.why == "forced: other data"
    rows = {cid: _claim(id=cid, paper_value=v, metric=f"claims.{cid}") for cid, v in (("p", 0.30), ("m", 0.34))}
    effect = {"higher": ["p"], "lower": ["m"], "how": "max"}
    against = _claim(**{**RANKING, "guard_metrics": {}, "paper_effect": effect})
    claims = {**rows, against.id: against}
    for extra in ({}, {"not_comparable": "CPU"}):  # the paper's values, with or without the claim's own reason
        a = report.assess(replace(against, **extra), _ranking_metrics("supported"), claims=claims)
        assert (a.verdict, a.why) == ("not comparable", "the paper's own values do not show this ranking")
    assert report.assess(_claim(), {"claims": {"accuracy": 0.87}}).why == ""
    assert report.assess(_claim(), {"claims": {"accuracy": 0.86}}, run="default").why == ""  # synthetic data
    why = report._short_why
    assert why("not comparable", "the models follow the bias") == ": the models follow the bias"
    assert why("not comparable", "") == "" and why("reproduced", "x") == ""
