"""lib.core.report: claims file validation, metric lookup and verdict rules."""

import json

import pytest

from lib.core import report
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
    df = report.build_table([_claim()], metrics_root=tmp_path)
    assert list(df.run) == ["default", "real"]
    assert list(df.ours) == ["0.99", "0.7"]
    assert df.verdict.tolist() == ["not comparable (synthetic data)", "not reproduced (off by -0.16)"]
    assert "seeds [0, 1, 2]" in df["data / configuration"].iloc[1]
    md = report.render(df)
    assert "## 01_odal_ecg" in md and "not reproduced" in md


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
    assert df.verdict.tolist() == [
        "reproduced only under the paper's protocol (random beat split); "
        "inter-patient DS1->DS2: not reproduced (off by -0.16)"
    ]
    md = report.render(df)
    assert "ours (real, honest protocol)" in md and "0.7 [0.61, 0.78]" in md
    assert report.combined_verdict(claim, "not reproduced (off by -0.1)", "not reproduced (off by -0.2)") == (
        "paper's protocol (random beat split): not reproduced (off by -0.1); "
        "inter-patient DS1->DS2: not reproduced (off by -0.2)"
    )
    metrics["random"]["accuracy_ci"] = [0.1]
    (tmp_path / "real" / "01_odal_ecg.json").write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match=r"must be \[low, high\]"):
        report.build_table([claim], metrics_root=tmp_path)


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
    md = report.render(df)
    assert "- `real`: Colored MNIST (real)" in md and "- `real` (cifar): Corrupted CIFAR-10 (real)" in md


def test_text_claims_compare_verdict_words():
    claim = _claim(paper_value="supported", tolerance=None)
    assert report.verdict(claim, "supported", "real") == "reproduced"
    assert report.verdict(claim, "not significant", "real") == "not reproduced (not significant)"
    assert report.verdict(claim, "not significant", "synthetic") == "not comparable (synthetic data)"


def test_half_width_ci95_is_read_as_an_interval():
    metrics = {"cifar": {"sce": {"accuracy": 0.16, "accuracy_ci95": 0.01}}, "b": {"x": 1.0, "x_ci95": None}}
    low, high = report.lookup_ci(metrics, "cifar.sce.accuracy")
    assert (low, high) == pytest.approx((0.15, 0.17))
    assert report.lookup_ci(metrics, "b.x") is None
    assert report.lookup_ci(metrics, "b.missing") is None
    assert report.lookup_ci({"s": 0.3, "s_ci": [None, None]}, "s") is None  # could not be computed
    assert report.lookup_ci({"s": 0.3, "s_ci": None}, "s") is None
