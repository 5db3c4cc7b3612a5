"""The coarse-to-fine experiment's headline: accuracies, time to the baseline's accuracy, dips.

Reads `keras_transfer.experiments.coarse2fine.run.run_experiment`'s result; no training.
"""

from keras_transfer import metrics


def headline(results, config):
    """Final accuracies, time for the incremental run to reach the baseline's final accuracy.

    Per repeat the incremental curve's first wall time at or above that
    repeat's baseline final accuracy, and its ratio to the baseline's total
    time (``< 1``: incremental is that much sooner); ``None`` if never
    reached. Also the baseline's accuracy at its last evaluation within the
    incremental run's total time (same wall time; depends on measured times)
    and each run's best accuracy. The dip at each transform is the accuracy
    right after it minus the accuracy right before it (on the previous
    resolution's test set).

    Example:
    >>> inc = {"curve": [{"test_accuracy": a, "wall_seconds": t, "epoch": e} for e, (a, t) in
    ...        enumerate([(0.1, 0), (0.3, 5), (0.5, 10)])], "final_accuracy": 0.5,
    ...        "seconds": 10, "stages": [{"stage": 0, "resolution": 8, "accuracy_before_transform":
    ...        None, "accuracy_after_transform": 0.1, "check": None}]}
    >>> base = {"curve": [{"test_accuracy": 0.2, "wall_seconds": 9}], "final_accuracy": 0.3,
    ...         "seconds": 20}
    >>> from keras_transfer.experiments.coarse2fine.config import Coarse2FineConfig
    >>> h = headline({"incremental": [inc], "baseline": [base]}, Coarse2FineConfig())
    >>> h["time_ratio"]["mean"], h["incremental_reached_baseline"]
    (0.25, 1)
    >>> h["baseline_accuracy_at_incremental_time"]["mean"]
    0.2
    """
    inc, base = results["incremental"], results["baseline"]
    reach, ratios, same_time = [], [], []
    for i, b in zip(inc, base):
        within = [row["test_accuracy"] for row in b["curve"] if row["wall_seconds"] <= i["seconds"]]
        same_time.append(within[-1] if within else None)
        hit = metrics.time_to_accuracy(
            [row["test_accuracy"] for row in i["curve"]],
            [row["wall_seconds"] for row in i["curve"]],
            b["final_accuracy"],
        )
        reach.append(None if hit is None else hit["seconds"])
        ratios.append(None if hit is None else hit["seconds"] / b["seconds"])
    dips = {}
    for run in inc:
        for st in run["stages"][1:]:
            key = f"{st['resolution']}px"
            dips.setdefault(key, []).append(
                st["accuracy_after_transform"] - st["accuracy_before_transform"]
            )
    checks = {
        f"{st['resolution']}px": max(run["stages"][k]["check"] for run in inc)
        for k, st in enumerate(inc[0]["stages"])
        if k > 0
    }
    summary = {
        "incremental_final_accuracy": metrics.summarize_runs([r["final_accuracy"] for r in inc]),
        "baseline_final_accuracy": metrics.summarize_runs([r["final_accuracy"] for r in base]),
        "baseline_accuracy_at_incremental_time": metrics.summarize_runs(same_time),
        "incremental_best_accuracy": metrics.summarize_runs(
            [max(row["test_accuracy"] for row in r["curve"]) for r in inc]
        ),
        "baseline_best_accuracy": metrics.summarize_runs(
            [max((row["test_accuracy"] for row in r["curve"]), default=None) for r in base]
        ),
        "incremental_seconds": metrics.summarize_runs([r["seconds"] for r in inc]),
        "baseline_seconds": metrics.summarize_runs([r["seconds"] for r in base]),
        "seconds_to_baseline_final": reach,
        "time_ratio": metrics.summarize_runs(ratios),
        "incremental_reached_baseline": sum(t is not None for t in reach),
        "dip_at_transform": {k: metrics.summarize_runs(v) for k, v in dips.items()},
        "max_logit_change_on_replicated_images": checks,
    }
    summary["table"] = table(summary, config)
    return summary


def table(h, config):
    """A markdown table of the headline numbers (one row per measure).

    Example:
    >>> acc = {"mean": 0.5, "min": 0.4, "max": 0.6, "n": 2}
    >>> h = {"incremental_final_accuracy": acc, "baseline_final_accuracy": acc,
    ...      "baseline_accuracy_at_incremental_time": acc, "incremental_best_accuracy": acc,
    ...      "baseline_best_accuracy": acc,
    ...      "incremental_seconds": acc, "baseline_seconds": acc, "time_ratio": acc,
    ...      "incremental_reached_baseline": 2, "dip_at_transform": {"16px": acc}}
    >>> from keras_transfer.experiments.coarse2fine.config import Coarse2FineConfig
    >>> print(table(h, Coarse2FineConfig()).splitlines()[-1])
    | accuracy dip at the transform to 16px | +0.5000 (+0.4000 to +0.6000) |
    """
    from keras_transfer.report import mean_range as acc

    ratio = h["time_ratio"]
    reached = (
        f"{acc(ratio, 2)}, reached in {h['incremental_reached_baseline']} of {config.repeats}"
        if ratio["n"]
        else f"never reached (0 of {config.repeats})"
    )
    steps = " -> ".join(f"{r}px" for r in config.resolutions)
    rows = [
        (
            "schedule",
            f"{config.net} {steps}"
            + (f", widened to {config.widen_to} at {config.widen_at}px" if config.widen_at else "")
            + f", epochs {tuple(config.stage_epochs)} x {config.steps_per_epoch} steps",
        ),
        ("incremental final accuracy", acc(h["incremental_final_accuracy"])),
        (
            f"baseline ({config.resolutions[-1]}px from scratch, same number of steps) final "
            f"accuracy",
            acc(h["baseline_final_accuracy"]),
        ),
        (
            "baseline accuracy at the incremental run's total wall time",
            acc(h["baseline_accuracy_at_incremental_time"]),
        ),
        (
            "best accuracy (incremental / baseline)",
            f"{acc(h['incremental_best_accuracy'])} / {acc(h['baseline_best_accuracy'])}",
        ),
        (
            "wall seconds (incremental / baseline)",
            f"{h['incremental_seconds']['mean']:.0f} / {h['baseline_seconds']['mean']:.0f}",
        ),
        ("incremental time to the baseline's final accuracy / baseline time", reached),
    ] + [
        (f"accuracy dip at the transform to {k}", acc(v, signed=True))
        for k, v in h["dip_at_transform"].items()
    ]
    lines = ["| measure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


def plot_curves(path, config, results):
    """Test accuracy against wall time: incremental (stage starts marked) and baseline.

    ``results``: ``{"incremental": [...], "baseline": [...]}`` per repeat,
    each with its ``curve`` (incremental also its ``stages``).

    Example:
    >>> import tempfile
    >>> from keras_transfer.experiments.coarse2fine.config import get_preset
    >>> row = lambda s, a: {"wall_seconds": s, "test_accuracy": a}
    >>> inc = {"curve": [row(1, 0.3), row(2, 0.5)], "stages": [{}, {"start_seconds": 1,
    ...                                                             "resolution": 32}]}
    >>> plot_curves(tempfile.mkdtemp() + "/c.png", get_preset("quick"),
    ...             {"incremental": [inc], "baseline": [{"curve": [row(2, 0.4)]}]})
    """
    from keras_transfer import report

    final_res = config.resolutions[-1]
    markers = [
        (st["start_seconds"], f"{st['resolution']}px")
        for st in results["incremental"][0]["stages"][1:]
    ]
    report.plot_time_curves(
        path,
        {
            "incremental " + " -> ".join(str(r) for r in config.resolutions): [
                rep["curve"] for rep in results["incremental"]
            ],
            f"{final_res}px from scratch": [rep["curve"] for rep in results["baseline"]],
        },
        markers,
        title=f"Coarse-to-fine, {config.net}, {config.dataset} ({config.repeats} repeats)",
    )
