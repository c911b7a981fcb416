import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from lib.ecg.fuzzy_control import (
    DEFAULT_RULES,
    OUTPUTS,
    FuzzyController,
    FuzzyRule,
    plot_memberships,
    relative_trend,
    rule_table,
)


@pytest.fixture(scope="module")
def ctl():
    return FuzzyController()


TRENDS = np.linspace(-0.5, 0.5, 11)
UNCERTAINTIES = np.linspace(0.0, 1.0, 11)


def test_neutral_inputs_give_the_middle_of_every_output(ctl):
    out = ctl(0.0, 0.45)
    for name, (_, (_, mid, _)) in OUTPUTS.items():
        assert out[name] == pytest.approx(mid, abs=1e-6)


def test_rising_loss_lowers_lr_and_raises_dropout(ctl):
    lr = [ctl(t, 0.45)["lr_multiplier"] for t in TRENDS]
    dr = [ctl(t, 0.45)["dropout"] for t in TRENDS]
    assert np.all(np.diff(lr) <= 1e-9) and np.all(np.diff(dr) >= -1e-9)
    assert lr[-1] < 0.75 < 1.25 < lr[0]
    assert dr[-1] > 0.4 > 0.2 > dr[0]


def test_high_pool_uncertainty_lowers_threshold_and_enlarges_batch(ctl):
    th = [ctl(0.0, u)["threshold"] for u in UNCERTAINTIES]
    bm = [ctl(0.0, u)["batch_multiplier"] for u in UNCERTAINTIES]
    assert np.all(np.diff(th) <= 1e-9) and np.all(np.diff(bm) >= -1e-9)
    assert th[-1] < 0.6 < 0.8 < th[0]
    assert bm[-1] > 1.25 > 0.75 > bm[0]


def test_each_output_depends_only_on_its_input(ctl):
    for t in (-0.3, 0.0, 0.3):
        outs = [ctl(t, u) for u in (0.0, 0.5, 1.0)]
        assert len({round(o["lr_multiplier"], 9) for o in outs}) == 1
        assert len({round(o["dropout"], 9) for o in outs}) == 1


def test_inputs_are_clipped_and_outputs_deterministic(ctl):
    assert ctl(5.0, 3.0) == ctl(0.5, 1.0)
    assert ctl(-5.0, -1.0) == ctl(-0.5, 0.0)
    assert FuzzyController()(0.123, 0.77) == ctl(0.123, 0.77)
    with pytest.raises(ValueError, match="finite"):
        ctl(float("nan"), 0.5)


def test_relative_trend_exact():
    assert relative_trend(1.0, 1.1) == pytest.approx(0.1)
    assert relative_trend(2.0, 1.0) == pytest.approx(-0.5)
    assert relative_trend(1.0, 9.0) == 0.5
    assert relative_trend(None, 1.0) == 0.0
    assert relative_trend(0.0, 1.0) == 0.0


def test_rule_table_and_membership_figure():
    table = rule_table()
    assert len(table) == len(DEFAULT_RULES) == 6
    assert list(table.columns[:3]) == ["rule", "IF", "IS"]
    assert table.loc[table["IS"] == "rising", "THEN lr_multiplier"].item() == "decrease"
    assert table.loc[table["IS"] == "high", "THEN threshold"].item() == "low"
    fig = plot_memberships()
    axes = fig.get_axes()
    assert len(axes) == 6 and all(len(ax.get_lines()) == 3 for ax in axes)
    assert len(FuzzyController().membership_table()) == 18


def test_bad_rules_raise_naming_allowed_values():
    with pytest.raises(ValueError, match="falling"):
        FuzzyController(rules=(FuzzyRule("loss_trend", "exploding", (("dropout", "high"),)),))
    with pytest.raises(ValueError, match="decrease"):
        FuzzyController(rules=(FuzzyRule("loss_trend", "rising", (("lr_multiplier", "halve"),)),))
    with pytest.raises(ValueError, match="missing"):
        FuzzyController(rules=DEFAULT_RULES[:3])
