"""The coarse-to-fine experiment's headline and its benchmark section (RESULTS.md markdown).

Reads `keras_transfer.experiments.coarse2fine.run.run`'s result, or a kept
run's summary; no training, no files.
"""

import dataclasses

from keras_transfer import metrics
from keras_transfer import report


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


def peaks(summary):
    """Per (run, repeat) the best test accuracy, and per repeat ``("reach_baseline_best", r)``:
    the incremental run's first wall time at the baseline's best (``None``: never).

    Read from the run's ``summary["history"]`` rows (its history.csv).

    Example:
    >>> best = peaks(_example_summary())
    >>> best[("incremental", 0)], best[("baseline", 0)], best[("reach_baseline_best", 0)]
    (0.5, 0.4, 5.0)
    """
    curves = {}
    for row in summary["history"]:
        curves.setdefault((row["run"], int(row["repeat"])), []).append(
            (float(row["wall_seconds"]), float(row["test_accuracy"]))
        )
    best = {key: max(a for _, a in rows) for key, rows in curves.items()}
    for (run, r), rows in list(curves.items()):
        if run == "incremental":
            hit = metrics.time_to_accuracy(
                [a for _, a in rows], [t for t, _ in rows], best[("baseline", r)]
            )
            best[("reach_baseline_best", r)] = None if hit is None else hit["seconds"]
    return best


def markdown(summaries, paper="", time_limit_seconds=None, results_dir="results/coarse2fine"):
    """The benchmark's RESULTS.md section: the first run in full, the others as ablations.

    Args:
        summaries: run name -> the run's ``summary.json`` dict with its
            ``history`` rows and (if kept) ``ran_on`` (command, date,
            machine); the first run is the main one.
        paper: the paper's finding, shown below the headline table.
        time_limit_seconds: the recipe's wall-time budget (``None``: none).
        results_dir: the runs' kept folders relative to RESULTS.md, where
            each run's ``curves.png`` is.

    Example:
    >>> s = _example_summary()
    >>> text = markdown({"quick": s, "exact": s}, time_limit_seconds=60)
    >>> "![accuracy vs wall time](results/coarse2fine/quick/curves.png)" in text
    True
    >>> print(text.splitlines()[-1][:72])  # the ablation table's last row
    | exact | 1 | 0.5000 (0.5000-0.5000) | 0.4000 (0.4000-0.4000) | 0.5000 |
    """
    from keras_transfer.report import markdown_table

    names = list(summaries)
    main = summaries[names[0]]
    wall = main["wall_seconds"]
    lines = [
        _description(main),
        *[line for line in [report.ran_on(main)] if line],
        "",
        main["headline"]["table"],
        "",
        *([paper, ""] if paper else []),
        _repeats_table(main, peaks(main)),
        "",
        "Best: the highest test accuracy over the run's evaluations (one per epoch); the last "
        "column: the incremental run's first wall time at or above the baseline's best "
        "(- : never).",
        "",
        "Stages (repeat 0):",
        "",
        _stages_table(main["incremental"][0]["stages"]),
        "",
        f"![accuracy vs wall time]({results_dir}/{names[0]}/curves.png)",
        "",
        markdown_table(["phase", "seconds"], [[p, f"{s:.0f}"] for p, s in wall.items()]),
    ]
    if time_limit_seconds:
        met = "met" if wall["total"] < time_limit_seconds else "NOT met"
        lines += [
            "",
            f"Whole recipe {wall['total'] / 60:.1f} min (target < {time_limit_seconds / 60:g} "
            f"min: {met}).",
        ]
    if len(names) > 1:
        lines += [
            "",
            "Ablations (each a separate run of the recipe, same seed; its flags: the settings "
            f"that differ from run {names[0]}'s; mean (min-max) over repeats):",
            "",
            _ablation_table(summaries),
        ]
    return "\n".join(lines)


def _value(value, spec=".4f"):
    """One number (not a statistic over repeats); ``-`` when there is none."""
    return "-" if value is None else format(value, spec)


def _description(summary):
    cfg = summary["settings"]
    res = cfg["resolutions"]
    return (
        f"{cfg['dataset']} (area-downscaled to {', '.join(str(r) for r in res)} px), start "
        f"network {cfg['net']} (Table I), upscale mode {cfg['upscale_mode']} (noise "
        f"{cfg['noise_stddev']}), widened to {cfg['widen_to'] if cfg['widen_at'] else '-'} at "
        f"{cfg['widen_at'] or '-'} px ({cfg['widen_init']} init), SGD lr {cfg['learning_rate']} "
        f"momentum 0.9, batch {cfg['batch_size']}, epochs of {cfg['steps_per_epoch']} steps, "
        f"dropout {cfg['dropout']}; baseline: the same final network from scratch at {res[-1]} "
        f"px for {cfg['baseline_epochs'] or sum(cfg['stage_epochs'])} epochs (the same number "
        f"of steps as the incremental run); {summary['repeats']} repeats, seed "
        f"{summary['seed']}, precision {summary['precision']}, deterministic ops "
        f"{'on' if summary['deterministic'] else 'off'}. Wall time is training time plus "
        f"transform time (evaluation excluded)."
    )


_REPEATS_HEADER = (
    "repeat|incremental final|baseline final|incremental best|baseline best|incremental s|"
    "baseline s|incremental s to baseline final|ratio|incremental s to baseline best"
).split("|")
_STAGES_HEADER = (
    "stage|px|epochs|starts at s|transform s|acc. before transform|acc. after|final acc.|"
    "max logit change on replicated images"
).split("|")
_ABLATION_HEADER = (
    "run (flags)|repeats|incremental final|baseline final|incremental best (mean)|"
    "baseline best (mean)|time ratio to baseline final (reached in)|"
    "incremental reaches baseline best in|dips (mean)|ran"
).split("|")


def _repeats_table(summary, best):
    from keras_transfer.report import markdown_table

    reach = summary["headline"]["seconds_to_baseline_final"]
    rows = [
        [
            r,
            _value(i["final_accuracy"]),
            _value(b["final_accuracy"]),
            _value(best[("incremental", r)]),
            _value(best[("baseline", r)]),
            f"{i['seconds']:.0f}",
            f"{b['seconds']:.0f}",
            _value(t, ".0f"),
            _value(None if t is None else t / b["seconds"], ".2f"),
            _value(best[("reach_baseline_best", r)], ".0f"),
        ]
        for r, (i, b, t) in enumerate(zip(summary["incremental"], summary["baseline"], reach))
    ]
    return markdown_table(_REPEATS_HEADER, rows)


def _stages_table(stages):
    from keras_transfer.report import markdown_table

    rows = [
        [
            s["stage"],
            s["resolution"],
            s["epochs"],
            f"{s['start_seconds']:.1f}",
            f"{s['transform_seconds']:.2f}",
            _value(s["accuracy_before_transform"]),
            _value(s["accuracy_after_transform"]),
            _value(s["final_accuracy"]),
            _value(s["check"], ".2e"),
        ]
        for s in stages
    ]
    return markdown_table(_STAGES_HEADER, rows)


def _flags(settings, reference):
    """The settings that differ from ``reference``'s, as recipe flags."""
    return " ".join(
        f"--{k}={','.join(str(x) for x in v) if isinstance(v, (list, tuple)) else v}"
        for k, v in settings.items()
        if reference.get(k) != v
    )


def _ablation_table(summaries):
    from keras_transfer.report import markdown_table
    from keras_transfer.report import mean_range

    reference = next(iter(summaries.values()))["settings"]
    rows = []
    for name, summary in summaries.items():
        head, n, best = summary["headline"], summary["repeats"], peaks(summary)
        flags = _flags(summary["settings"], reference)
        dips = ", ".join(f"{k} {v['mean']:+.4f}" for k, v in head["dip_at_transform"].items())
        reached_best = sum(best[("reach_baseline_best", r)] is not None for r in range(n))
        rows.append(
            [
                f"{name} (`{flags}`)" if flags else name,
                n,
                mean_range(head["incremental_final_accuracy"]),
                mean_range(head["baseline_final_accuracy"]),
                _value(sum(best[("incremental", r)] for r in range(n)) / n),
                _value(sum(best[("baseline", r)] for r in range(n)) / n),
                f"{mean_range(head['time_ratio'], 2)} ({head['incremental_reached_baseline']} "
                f"of {n})",
                f"{reached_best} of {n}",
                dips or "-",
                report.ran_on(summary, short=True) or "-",
            ]
        )
    return markdown_table(_ABLATION_HEADER, rows)


def _example_summary():
    """A kept one-repeat summary of two stages (8 -> 16 px), for the examples."""
    from keras_transfer.experiments.coarse2fine.config import Coarse2FineConfig

    config = Coarse2FineConfig(
        "digits", resolutions=(8, 16), stage_epochs=(1, 1), widen_at=0, repeats=1
    )
    stage = dict(stage=0, resolution=8, epochs=1, start_seconds=0.0, transform_seconds=0.0)
    stages = [
        dict(stage, accuracy_before_transform=None, accuracy_after_transform=0.1, check=None),
        dict(stage, stage=1, resolution=16, start_seconds=2.0, accuracy_before_transform=0.3),
    ]
    stages[0].update(final_accuracy=0.3)
    stages[1].update(accuracy_after_transform=0.2, final_accuracy=0.5, check=1e-6)
    points = {"incremental": [(0, 0.1), (2, 0.3), (5, 0.5)], "baseline": [(0, 0.1), (10, 0.4)]}
    history = [
        {"run": run, "repeat": 0, "wall_seconds": t, "test_accuracy": a, "epoch": e}
        for run, curve in points.items()
        for e, (t, a) in enumerate(curve)
    ]
    inc = {"stages": stages, "final_accuracy": 0.5, "seconds": 5.0}
    base = {"final_accuracy": 0.4, "seconds": 10.0}
    results = {
        "incremental": [dict(inc, curve=[r for r in history if r["run"] == "incremental"])],
        "baseline": [dict(base, curve=[r for r in history if r["run"] == "baseline"])],
    }
    return {
        "settings": dataclasses.asdict(config),
        "repeats": 1,
        "seed": 0,
        "precision": "float32",
        "deterministic": True,
        "headline": headline(results, config),
        "incremental": [inc],
        "baseline": [base],
        "wall_seconds": {"total": 20.0},
        "history": history,
    }
