"""Learning-curve comparisons: AAG, PBP (HTCNN paper eqs. 2-4) and time-to-accuracy."""

import numpy as np


def _pair(acc_new, acc_base):
    a = np.asarray(acc_new, np.float64)
    b = np.asarray(acc_base, np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"Expected two non-empty 1-D accuracy curves of equal length, received shapes "
            f"{a.shape} and {b.shape}."
        )
    return a, b


def aag(acc_new, acc_base):
    """Average Accuracy Gain (HTCNN paper eq. 2): mean over epochs of ``acc_new - acc_base``.

    Pass the accuracies after epochs 1..N (the paper's sum runs from i = 1, so
    leave out the step-0 evaluation).

    Example:
    >>> round(aag([0.5, 0.6, 0.9], [0.4, 0.6, 0.8]), 6)
    0.066667
    """
    a, b = _pair(acc_new, acc_base)
    return float(np.mean(a - b))


def pbp(acc_new, acc_base):
    """Percentage of Better Performance (HTCNN paper eqs. 3-4), as a fraction in [0, 1].

    The fraction of epochs where ``acc_new`` is strictly greater than ``acc_base``.

    Example:
    >>> pbp([0.5, 0.6, 0.7], [0.4, 0.6, 0.8])
    0.3333333333333333
    """
    a, b = _pair(acc_new, acc_base)
    return float(np.mean(a > b))


def time_to_accuracy(accuracies, wall_seconds, target, epochs=None, offset_seconds=0.0):
    """First wall time (and epoch) at which a learning curve reaches ``target`` accuracy.

    Args:
        accuracies: test accuracy per evaluation.
        wall_seconds: cumulative training seconds at each evaluation.
        target: accuracy to reach.
        epochs: epoch of each evaluation; default ``0, 1, 2, ...``.
        offset_seconds: time spent before this curve began, added to the
            result (e.g. the shallow CNNs' training time for HTCNN).

    Returns:
        ``{"seconds": float, "epoch": int}``, or ``None`` if never reached.

    Example:
    >>> time_to_accuracy([0.1, 0.5, 0.7], [0, 10, 20], 0.6, offset_seconds=5)
    {'seconds': 25.0, 'epoch': 2}
    """
    acc = np.asarray(accuracies, np.float64)
    wall = np.asarray(wall_seconds, np.float64)
    if acc.shape != wall.shape:
        raise ValueError(
            f"Expected as many wall times as accuracies, received {wall.shape} and {acc.shape}."
        )
    epochs = np.arange(len(acc)) if epochs is None else np.asarray(epochs)
    hits = np.flatnonzero(acc >= target)
    if not len(hits):
        return None
    i = int(hits[0])
    return {"seconds": float(wall[i] + offset_seconds), "epoch": int(epochs[i])}


def summarize_runs(values):
    """Mean, min and max of per-run numbers (``None`` entries skipped).

    Example:
    >>> summarize_runs([0.5, 0.7, None])
    {'mean': 0.6, 'min': 0.5, 'max': 0.7, 'n': 2}
    """
    vals = np.asarray([v for v in values if v is not None], np.float64)
    if not len(vals):
        return {"mean": None, "min": None, "max": None, "n": 0}
    return {
        "mean": round(float(vals.mean()), 6),
        "min": float(vals.min()),
        "max": float(vals.max()),
        "n": int(len(vals)),
    }
