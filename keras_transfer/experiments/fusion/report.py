"""The fusion experiment's headline: every run's accuracy and cost, Table 2/3-shaped tables.

Reads `keras_transfer.experiments.fusion.run_experiment`'s result; no training.
"""

from keras_transfer import metrics
from keras_transfer.report import markdown_table
from keras_transfer.report import mean_range

_TRAIN_OF = {"frozen": "new", "finetuned": "all"}  # single-model protocol -> fuse(train=...)


def describe(run):
    """A reader's name for run ``run``.

    Example:
    >>> describe("hybrid_gated_new")
    'hybrid, gated exchange, new layers trained'
    >>> describe("ensemble_frozen"), describe("single_2_matched")
    ('ensemble of the two frozen singles', "model 2 alone, fine-tuned for the hybrid's time")
    """
    kind, *rest = run.split("_")
    if kind == "ensemble":
        return f"ensemble of the two {rest[0]} singles"
    first, second = rest
    if kind == "hybrid":
        trained = "all trained" if second == "all" else "new layers trained"
        return f"hybrid, {first} {'exchange' if first == 'gated' else 'sums'}, {trained}"
    return {
        "frozen": f"model {first} alone, frozen (new head only)",
        "finetuned": f"model {first} alone, fine-tuned",
        "matched": f"model {first} alone, fine-tuned for the hybrid's time",
    }[second]


def _total_seconds(run, rows, pretrain):
    """Mean training seconds plus the pre-training the run needs (both nets or its own)."""
    kind, first = run.split("_")[:2]
    nets = (first,) if kind == "single" else ("1", "2")
    train = sum(row["train_seconds"] for row in rows) / len(rows)
    return train + sum(pretrain[k]["seconds"] for k in nets)


def headline(out, config):
    """Per-run summaries, differences to the baselines and the markdown tables.

    Returns:
        dict with ``runs`` (run -> accuracy summary, mean parameters, FLOPs,
        seconds), ``hybrid_vs`` (hybrid run -> accuracy minus the better
        single model of its protocol, the ensemble and the time-matched
        single model), ``table`` (Table 3-shaped, one row per protocol) and
        ``cost_table`` (every run with its cost).

    Example:
    >>> from keras_transfer.experiments.fusion.config import FusionConfig
    >>> row = lambda a: {"accuracy": a, "train_seconds": 1.0, "trainable_params": 1,
    ...                  "total_params": 2}
    >>> out = {"runs": {"single_1_frozen": [row(0.5)], "single_2_frozen": [row(0.6)],
    ...                 "hybrid_gated_new": [row(0.7)]},
    ...        "flops": {}, "pretrain": {"1": {"seconds": 2.0}, "2": {"seconds": 3.0}}}
    >>> h = headline(out, FusionConfig(single_protocols=("frozen",), hybrids=("gated/new",),
    ...                                baselines=False))
    >>> round(h["hybrid_vs"]["hybrid_gated_new"]["better_single"], 6)
    0.1
    """
    runs, pre = out["runs"], out["pretrain"]
    summary = {}
    for run, rows in runs.items():
        summary[run] = {
            "accuracy": metrics.summarize_runs([row["accuracy"] for row in rows]),
            "trainable_params": rows[0]["trainable_params"],
            "total_params": rows[0]["total_params"],
            "flops": out["flops"].get(run),
            "train_seconds": round(sum(r["train_seconds"] for r in rows) / len(rows), 1),
            "total_seconds": round(_total_seconds(run, rows, pre), 1),
        }

    def mean(run):
        return summary[run]["accuracy"]["mean"] if run in summary else None

    matched = next((r for r in runs if r.endswith("_matched")), None)
    protocol_of = {train: protocol for protocol, train in _TRAIN_OF.items()}
    hybrid_vs = {}
    for run in (r for r in runs if r.startswith("hybrid")):
        protocol = protocol_of[run.rsplit("_", 1)[1]]
        singles = [mean(f"single_{k}_{protocol}") for k in "12"]
        refs = {
            "better_single": max((m for m in singles if m is not None), default=None),
            "ensemble": mean(f"ensemble_{protocol}"),
            "matched_single": mean(matched) if protocol == "finetuned" else None,
        }
        hybrid_vs[run] = {
            k: None if v is None else round(mean(run) - v, 6) for k, v in refs.items()
        }

    def acc(run):
        return mean_range(summary[run]["accuracy"], 2, percent=True) if run in summary else "-"

    def dataset(k):  # what the net was pre-trained on, as the paper's "-" for loaded ones
        weights = getattr(config, f"weights_{k}")
        return getattr(config, f"dataset_{k}") if weights is None else f"- ({weights})"

    rows = []
    for protocol in config.single_protocols or _TRAIN_OF:
        train = _TRAIN_OF[protocol]
        rows.append(
            [
                protocol,
                config.model_1,
                config.model_2,
                dataset("1"),
                dataset("2"),
                config.dataset,
                acc(f"single_1_{protocol}"),
                acc(f"single_2_{protocol}"),
                acc(f"hybrid_paper_{train}"),
                acc(f"hybrid_gated_{train}"),
                acc(f"ensemble_{protocol}"),
                acc(matched) if matched and protocol == "finetuned" else "-",
            ]
        )
    table = markdown_table(
        [
            "Protocol (hybrid trains)",
            "Model 1",
            "Model 2",
            "Dataset 1",
            "Dataset 2",
            "Retraining dataset",
            "TL accuracy (model 1)",
            "TL accuracy (model 2)",
            "Hybrid, paper sums",
            "Hybrid, gated",
            "Ensemble of the two",
            "Better single model, hybrid's time",
        ],
        [[f"{r[0]} ({_TRAIN_OF[r[0]]})"] + r[1:] for r in rows],
    )
    cost_table = markdown_table(
        [
            "run",
            "accuracy, mean (min-max)",
            "trainable / total params",
            "MFLOPs / image",
            "retrain s",
            "s incl. pre-training",
        ],
        [
            [
                describe(run),
                mean_range(s["accuracy"], 2, percent=True),
                f"{s['trainable_params']:,} / {s['total_params']:,}",
                "-" if s["flops"] is None else f"{s['flops'] / 1e6:.1f}",
                f"{s['train_seconds']:.0f}",
                f"{s['total_seconds']:.0f}",
            ]
            for run, s in summary.items()
        ],
    )
    return {"runs": summary, "hybrid_vs": hybrid_vs, "table": table, "cost_table": cost_table}


def plot_accuracies(path, config, runs):
    """Bars of every run's test accuracy over the repeats (mean, min-max).

    Example:
    >>> import tempfile
    >>> from keras_transfer.experiments.fusion.config import FusionConfig
    >>> plot_accuracies(tempfile.mkdtemp() + "/c.png", FusionConfig(),
    ...                 {"single_1_frozen": [{"accuracy": 0.5}, {"accuracy": 0.6}]})
    """
    from keras_transfer import report

    report.plot_bars(
        path,
        {
            describe(run).replace(", ", ",\n"): [r["accuracy"] for r in rows]
            for run, rows in runs.items()
        },
        title=f"Transferred fusion, {config.model_1} | {config.model_2}, "
        f"retrained on {config.dataset} ({config.repeats} repeats)",
        ylabel="Test accuracy",
    )
