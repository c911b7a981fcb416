"""lib.bias.plots: the late-epoch panel of the validation curves (review 25s3 m-P2-3)."""

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from lib.bias import plots


def _history():
    # sce peaks at epoch 12 of 20; l1 dips to 0.30 at epoch 9 (the thin line the old y zoom cut), best at epoch 6
    rows = []
    for s in (0, 1):
        for e in range(1, 21):
            rows.append(
                {"dataset": "d", "objective": "sce", "seed": s, "epoch": e, "valid_acc": 0.5 + 0.02 * min(e, 12)}
            )
        for e in range(1, 15):
            acc = {6: 0.8, 9: 0.30}.get(e, 0.6)
            rows.append({"dataset": "d", "objective": "l1", "seed": s, "epoch": e, "valid_acc": acc})
    return pd.DataFrame(rows)


def test_late_panel_starts_before_the_median_checkpoint_and_clips_nothing():
    h = _history()
    # checkpoints: sce 12, 12; l1 6, 6 -> median 9
    assert plots.late_start(h) == 9 - plots.LATE_BEFORE_BEST
    fig = plots.plot_valid_curves(h)
    late_ax = fig.axes[1]
    lo, hi = late_ax.get_ylim()
    x0, x1 = late_ax.get_xlim()
    assert x0 == plots.late_start(h) - 0.5 and x1 == 20.5
    drawn = h[h["epoch"] >= plots.late_start(h)]["valid_acc"]
    assert lo <= drawn.min() and hi >= drawn.max()  # the 0.30 dip and the 0.74 plateau both inside
    assert "from epoch 7" in late_ax.get_title()
    assert fig.axes[0].get_xlim()[0] < 2  # the top panel still shows the whole curve
    plt.close(fig)


def test_late_panel_is_not_pulled_back_to_epoch_1_by_one_early_spike():
    """Review 25s5 m1: one run whose raw maximum is an epoch-2 spike made the panel the whole curve again; the
    start follows the median checkpoint, read on the smoothed curve where the history has it."""
    h = _history()
    spike = (h["objective"] == "l1") & (h["seed"] == 0) & (h["epoch"] == 2)
    h.loc[spike, "valid_acc"] = 0.95
    assert plots.late_start(h) == 9 - plots.LATE_BEFORE_BEST  # sce 12, 12; l1 2, 6 -> median 9
    # with the smoothed curve early stopping reads, its checkpoints decide (here all at epoch 10)
    h["valid_smoothed"] = [min(e, 10) / 10 for e in h["epoch"]]
    assert plots.late_start(h) == 10 - plots.LATE_BEFORE_BEST


def test_a_checkpoint_before_the_zoom_is_marked_at_its_edge_and_the_runs_table_decides_the_checkpoint():
    """review25s13run m3: the zoom left out the early checkpoints, exactly the ones in question. The runs table's
    best_epoch is the checkpoint (the training loop never keeps a partial trailing window)."""
    h = _history()
    h["valid_smoothed"] = h["valid_acc"]
    runs = pd.DataFrame(
        [
            {"dataset": "d", "objective": o, "seed": s, "best_epoch": e}
            for o, e in (("sce", 12), ("l1", 3))
            for s in (0, 1)
        ]
    )
    assert plots.checkpoint_epochs(h, runs)[("l1", 0)] == 3  # not the smoothed maximum at epoch 6
    assert plots.checkpoint_epochs(h)[("l1", 0)] == 6
    assert plots.late_start(h, runs) == int((3 + 12) / 2) - plots.LATE_BEFORE_BEST
    fig = plots.plot_valid_curves(h, runs=pd.concat([runs.assign(best_epoch=[12, 12, 1, 1])]))
    late_ax = fig.axes[1]
    stars = [ln for ln in late_ax.lines if ln.get_marker() == "*"]
    edge = [ln for ln in late_ax.lines if ln.get_marker() == "<"]
    assert len(stars) == 2 and len(edge) == 2  # sce's two in the panel, l1's two (epoch 1) at its left edge
    x0 = late_ax.get_xlim()[0]
    assert all(ln.get_xdata()[0] == x0 + 0.2 for ln in edge)
    lo, hi = late_ax.get_ylim()
    assert all(lo <= ln.get_ydata()[0] <= hi for ln in edge)
    # review25s14run nit: the two (same value) are moved apart and each carries its epoch
    ys = sorted(ln.get_ydata()[0] for ln in edge)
    assert ys[1] - ys[0] >= plots.EDGE_GAP * (hi - lo) - 1e-12
    assert sorted(t.get_text() for t in late_ax.texts) == ["1", "1"]
    labels = [t.get_text() for t in late_ax.get_legend().get_texts()]
    assert "kept checkpoint before the zoom" in labels
    plt.close(fig)


def test_spread_moves_markers_apart_in_order_and_below_the_top():
    assert plots.spread([0.5, 0.5, 0.9], 0.1, 1.0) == pytest.approx([0.5, 0.6, 0.9])
    assert plots.spread([0.95, 0.2, 0.95], 0.1, 1.0) == pytest.approx([0.9, 0.2, 1.0])  # pushed down from the top
    assert plots.spread([0.3], 0.1, 1.0) == [0.3] and plots.spread([], 0.1, 1.0) == []


def test_the_smoothed_curve_starts_where_its_window_is_full():
    """review25s15run nit: a partial-window trailing mean (epochs 1-2 of a 3-epoch window) is not drawn; the
    checkpoint rule never reads it."""
    h = _history()
    h["valid_smoothed"] = h["valid_acc"]
    runs = pd.DataFrame(
        [{"dataset": "d", "objective": o, "seed": s, "best_epoch": 5} for o in ("sce", "l1") for s in (0, 1)]
    )
    for window, first in ((1, 1), (3, 3)):
        fig = plots.plot_valid_curves(h, runs=runs, window=window)
        dashed = [ln for ln in fig.axes[1].lines if ln.get_linestyle() == "--" and len(ln.get_xdata()) > 1]
        assert len(dashed) == 4 and all(min(ln.get_xdata()) == first for ln in dashed)
        plt.close(fig)
