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


def test_late_panel_starts_before_the_earliest_best_epoch_and_clips_nothing():
    h = _history()
    assert plots.late_start(h) == 6 - plots.LATE_BEFORE_BEST
    fig = plots.plot_valid_curves(h)
    late_ax = fig.axes[1]
    lo, hi = late_ax.get_ylim()
    x0, x1 = late_ax.get_xlim()
    assert x0 == plots.late_start(h) - 0.5 and x1 == 20.5
    drawn = h[h["epoch"] >= plots.late_start(h)]["valid_acc"]
    assert lo <= drawn.min() and hi >= drawn.max()  # the 0.30 dip and the 0.74 plateau both inside
    assert "from epoch 4" in late_ax.get_title()
    assert fig.axes[0].get_xlim()[0] < 2  # the top panel still shows the whole curve
    plt.close(fig)
