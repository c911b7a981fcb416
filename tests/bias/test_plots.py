"""lib.bias.plots: the late-epoch panel of the validation curves (review 25s3 m-P2-3)."""

import matplotlib.pyplot as plt
import pandas as pd

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
