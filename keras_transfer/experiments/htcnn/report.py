"""The HTCNN experiment's headline: per-repeat comparison, summary over repeats, table, plot.

Reads the learning curves of `keras_transfer.experiments.htcnn.run`; no training.
"""

import numpy as np

from keras_transfer import metrics


def compare_curves(htcnn_curve, ccnn_curve, shallow_seconds):
    """The headline numbers of one repeat (HTCNN paper section IV-A, plus time-to-accuracy).

    Example:
    >>> h = [{"epoch": e, "wall_seconds": 10.0 * e, "test_accuracy": a}
    ...      for e, a in enumerate([0.1, 0.5, 0.6])]
    >>> c = [{"epoch": e, "wall_seconds": 10.0 * e, "test_accuracy": a}
    ...      for e, a in enumerate([0.1, 0.3, 0.6])]
    >>> r = compare_curves(h, c, shallow_seconds=5.0)
    >>> r["aag"], r["pbp"], r["htcnn_time_to_ccnn_final"]["seconds"]
    (0.1, 0.5, 20.0)
    """
    n = min(len(htcnn_curve), len(ccnn_curve))
    h = np.asarray([r["test_accuracy"] for r in htcnn_curve[:n]])
    c = np.asarray([r["test_accuracy"] for r in ccnn_curve[:n]])
    epochs = [r["epoch"] for r in htcnn_curve[:n]]
    h_wall = [r["wall_seconds"] for r in htcnn_curve[:n]]
    c_wall = [r["wall_seconds"] for r in ccnn_curve[:n]]
    after = slice(1, n) if n > 1 else slice(0, n)  # eq. 2 sums epochs 1..N
    target = float(c[-1])
    return {
        "aag": metrics.aag(h[after], c[after]),
        "pbp": metrics.pbp(h[after], c[after]),
        "gain_per_epoch": [float(v) for v in h - c],
        "epoch1_gain": float(h[1] - c[1]) if n > 1 else None,
        "htcnn_final_accuracy": float(h[-1]),
        "ccnn_final_accuracy": float(c[-1]),
        "htcnn_best_accuracy": float(h.max()),
        "ccnn_best_accuracy": float(c.max()),
        "target_accuracy": target,
        "htcnn_time_to_ccnn_final": metrics.time_to_accuracy(h, h_wall, target, epochs),
        "htcnn_time_to_ccnn_final_with_shallow": metrics.time_to_accuracy(
            h, h_wall, target, epochs, offset_seconds=shallow_seconds
        ),
        "ccnn_time_to_ccnn_final": metrics.time_to_accuracy(c, c_wall, target, epochs),
        "shallow_seconds": float(shallow_seconds),
    }


def headline(results):
    """Mean/min/max over repeats of every per-repeat number (`compare_curves` dicts).

    Example:
    >>> h = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .5])]
    >>> c = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .3])]
    >>> headline([compare_curves(h, c, 1.0)])["aag"]["mean"]
    0.2
    """

    def across(key):
        return metrics.summarize_runs([r[key] for r in results])

    def seconds(key):
        return metrics.summarize_runs([(r[key] or {}).get("seconds") for r in results])

    gains = [r["gain_per_epoch"] for r in results]
    n = min(len(g) for g in gains)
    out = {
        key: across(key)
        for key in (
            "aag",
            "pbp",
            "epoch1_gain",
            "htcnn_final_accuracy",
            "ccnn_final_accuracy",
            "htcnn_best_accuracy",
            "ccnn_best_accuracy",
            "shallow_seconds",
        )
    }
    out["gain_per_epoch_mean"] = [round(float(np.mean([g[i] for g in gains])), 6) for i in range(n)]
    for key in (
        "htcnn_time_to_ccnn_final",
        "htcnn_time_to_ccnn_final_with_shallow",
        "ccnn_time_to_ccnn_final",
    ):
        out[key.replace("time_to", "seconds_to")] = seconds(key)
    return out


def headline_table(head):
    """The headline as an aligned table (mean, min-max over repeats).

    Example:
    >>> h = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .5])]
    >>> c = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .3])]
    >>> print(headline_table(headline([compare_curves(h, c, 1.0)])).splitlines()[2])
    | AAG (eq. 2)                      | 0.200 (0.200-0.200) |
    """
    from keras_transfer.report import mean_range
    from keras_transfer.report import text_table

    def stat(s, digits=3):
        if not s or s.get("n", 0) == 0:
            return "not reached"
        return mean_range(s, digits)

    rows = [
        ("AAG (eq. 2)", stat(head["aag"])),
        ("PBP (eq. 3)", stat(head["pbp"], 2)),
        ("epoch-1 gain", stat(head["epoch1_gain"])),
        ("final accuracy HTCNN", stat(head["htcnn_final_accuracy"])),
        ("final accuracy CCNN", stat(head["ccnn_final_accuracy"])),
        ("s to CCNN final: HTCNN", stat(head["htcnn_seconds_to_ccnn_final"], 1)),
        (
            "s to CCNN final: HTCNN + shallow",
            stat(head["htcnn_seconds_to_ccnn_final_with_shallow"], 1),
        ),
        ("s to CCNN final: CCNN", stat(head["ccnn_seconds_to_ccnn_final"], 1)),
    ]
    return text_table(["measure", "mean (min-max)"], rows)


def plot_curves(path, config, curves):
    """Fig. 8-style test accuracy per epoch of HTCNN and CCNN (mean and range over repeats).

    Example:
    >>> import tempfile
    >>> rows = [{"epoch": e, "test_accuracy": a} for e, a in enumerate([0.1, 0.5])]
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> plot_curves(tempfile.mkdtemp() + "/c.png", get_preset("quick"), {"HTCNN": [rows]})
    """
    from keras_transfer import report

    report.plot_curves(
        path,
        curves,
        title=f"HTCNN vs CCNN on {config.dataset} ({config.setting}, m={config.num_shallow}, "
        f"{config.repeats} repeats)",
        xlabel=f"Epoch ({config.steps_per_epoch} iterations)",
    )
