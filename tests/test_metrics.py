"""AAG / PBP (HTCNN paper eqs. 2-4), time-to-accuracy and the per-repeat comparison."""

import numpy as np
import pytest

from keras_transfer import metrics
from keras_transfer.experiments.htcnn.report import compare_curves


def test_aag_pbp_hand_computed():
    htcnn = [0.30, 0.50, 0.60, 0.70]
    ccnn = [0.20, 0.45, 0.65, 0.70]
    # gains 0.10, 0.05, -0.05, 0.00 -> mean 0.025; strictly better in 2 of 4 epochs.
    assert metrics.aag(htcnn, ccnn) == pytest.approx(0.025)
    assert metrics.pbp(htcnn, ccnn) == pytest.approx(0.5)
    assert metrics.aag(ccnn, htcnn) == pytest.approx(-0.025)
    assert metrics.pbp(ccnn, htcnn) == pytest.approx(0.25)


@pytest.mark.parametrize("a,b", [([0.1, 0.2], [0.1]), ([], []), ([[0.1]], [[0.1]])])
def test_aag_pbp_reject_mismatched_curves(a, b):
    with pytest.raises(ValueError, match="equal length"):
        metrics.aag(a, b)
    with pytest.raises(ValueError, match="equal length"):
        metrics.pbp(a, b)


def test_time_to_accuracy():
    acc = [0.1, 0.4, 0.6, 0.8]
    wall = [0.0, 5.0, 11.0, 16.0]
    assert metrics.time_to_accuracy(acc, wall, 0.6) == {"seconds": 11.0, "epoch": 2}
    assert metrics.time_to_accuracy(acc, wall, 0.6, offset_seconds=4) == {
        "seconds": 15.0,
        "epoch": 2,
    }
    assert metrics.time_to_accuracy(acc, wall, 0.9) is None
    assert metrics.time_to_accuracy(acc, wall, 0.5, epochs=[0, 10, 20, 30])["epoch"] == 20
    with pytest.raises(ValueError, match="as many wall times"):
        metrics.time_to_accuracy(acc, wall[:2], 0.5)


def test_summarize_runs():
    assert metrics.summarize_runs([0.2, 0.4, None]) == {"mean": 0.3, "min": 0.2, "max": 0.4, "n": 2}
    assert metrics.summarize_runs([None])["n"] == 0


def _curve(accs, step_seconds=10.0):
    return [
        {"epoch": e, "wall_seconds": step_seconds * e, "test_accuracy": a}
        for e, a in enumerate(accs)
    ]


def test_compare_curves_skips_epoch_zero_and_counts_shallow_time():
    h = _curve([0.10, 0.50, 0.55, 0.62])
    c = _curve([0.10, 0.30, 0.50, 0.60])
    r = compare_curves(h, c, shallow_seconds=7.0)
    # Eq. 2 sums epochs 1..N: gains 0.2, 0.05, 0.02.
    assert r["aag"] == pytest.approx(0.09)
    assert r["pbp"] == pytest.approx(1.0)
    assert r["epoch1_gain"] == pytest.approx(0.2)
    assert r["gain_per_epoch"] == pytest.approx([0.0, 0.2, 0.05, 0.02])
    # CCNN's final accuracy 0.60 is reached by HTCNN at epoch 3 (30 s), +7 s of shallow training.
    assert r["htcnn_time_to_ccnn_final"] == {"seconds": 30.0, "epoch": 3}
    assert r["htcnn_time_to_ccnn_final_with_shallow"] == {"seconds": 37.0, "epoch": 3}
    assert r["ccnn_time_to_ccnn_final"] == {"seconds": 30.0, "epoch": 3}
    assert np.isclose(r["htcnn_best_accuracy"], 0.62)
