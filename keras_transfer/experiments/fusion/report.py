"""The fusion experiment's headline: every run's accuracy and cost, Table 2/3-shaped tables.

Reads `keras_transfer.experiments.fusion.run_experiment`'s result, or runs'
summary.json files (`markdown`, the benchmark's RESULTS.md section); no
training.
"""

from keras_transfer import metrics
from keras_transfer.experiments.fusion.config import FusionConfig
from keras_transfer.report import markdown_table
from keras_transfer.report import mean_range
from keras_transfer.report import ran_on

_TRAIN_OF = {"frozen": "new", "finetuned": "all"}  # single-model protocol -> fuse(train=...)
TIME_LIMIT_SECONDS = 40 * 60  # the budget per row (one recipe run) on 2 cores


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


def markdown(summaries, rows=None):
    """The benchmark's RESULTS.md section: one subsection per run (a row of Table 2 or 3).

    Per run: where it ran, the settings, the Table 3-shaped table, the paper's
    numbers, every run's cost, the hybrids' differences to the baselines, the
    learned gates and the recipe's seconds per phase. Reads nothing but
    ``summaries``.

    Args:
        summaries: run name -> the run's summary.json dict (with ``ran_on``).
        rows: run name -> ``(title, the paper's numbers)``; a run not in it is
            titled by its name, without the paper's numbers.

    Example:
    >>> import dataclasses
    >>> cfg = FusionConfig(single_protocols=("frozen",), hybrids=("gated/new",), baselines=False)
    >>> row = {"accuracy": 0.5, "train_seconds": 2.0, "trainable_params": 10, "total_params": 20}
    >>> gated = dict(row, accuracy=0.6, gates={"exchange_1": {"b_to_a": 0.1, "a_to_b": -0.2}})
    >>> runs = {"single_1_frozen": [row], "single_2_frozen": [row], "hybrid_gated_new": [gated]}
    >>> summary = {"settings": dataclasses.asdict(cfg), "repeats": 1, "flops": {}, "runs": runs,
    ...     "pretrain": {k: {"weights": None, "accuracy": 0.9, "seconds": 5.0} for k in "12"},
    ...     "wall_seconds": {"pretrain": 10.0, "retrain": 6.0, "total": 17.0}}
    >>> lines = markdown({"row1": summary}, {"row1": ("Table 3 row 1", "Paper: 62.23 %.")})
    >>> lines = lines.splitlines()
    >>> lines[0], lines[-1]
    ('### Table 3 row 1', 'Whole row 0.3 min (target < 40 min: met).')
    >>> [line for line in lines if line.startswith("| hybrid_gated_new")]
    ['| hybrid_gated_new | +10.00 | - | - |', '| hybrid_gated_new | exchange_1 | +0.100 | -0.200 |']
    """
    rows = rows or {}
    return "\n\n".join(
        _run_markdown(summary, *rows.get(name, (name, None))) for name, summary in summaries.items()
    )


def _net_text(cfg, pre, k):
    p = pre[k]
    if p["weights"] is not None:
        return f"{cfg['model_' + k]} loaded ({p['weights']})"
    return (
        f"{cfg['model_' + k]} pre-trained on {cfg['dataset_' + k]} (test accuracy "
        f"{p['accuracy']:.4f}, {p['seconds']:.0f} s)"
    )


def _run_markdown(summary, title, paper):
    """One run's subsection of `markdown`."""
    cfg, wall = summary["settings"], summary["wall_seconds"]
    # Rendered from the runs (not the stored headline): this version's tables.
    head = headline(summary, FusionConfig(**cfg))
    size, inner, pre = cfg["image_size"], cfg["imagenet_image_size"], summary["pretrain"]
    where = ran_on(summary)
    lines = [f"### {title}", "", *([where, ""] if where else [])]
    lines += [
        f"Model 1 {_net_text(cfg, pre, '1')}; model 2 {_net_text(cfg, pre, '2')}; "
        f"{cfg['pretrain_steps']} SGD steps of {cfg['batch_size']} "
        f"({cfg['pretrain_examples'] or 'all'} examples) per pre-trained net. Images "
        f"{size}x{size} RGB"
        + (f" (ImageNet nets resize to {inner}x{inner} inside)" if inner else "")
        + f". Retraining on {cfg['dataset']}: {cfg['retrain_steps']} steps per run "
        f"(SGD lr {cfg['retrain_lr']}, momentum 0.9), head {cfg['head_units']} units + dropout "
        f"0.5 for every model, pairs {cfg['pairs']}; {summary['repeats']} repeats (seeds).",
        "",
        head["table"],
        "",
        *([paper, ""] if paper else []),
        'Every run (accuracy over the repeats; seconds are means per repeat; "s incl. '
        'pre-training" adds the pre-training of the nets a run needs, both for hybrids and '
        "ensembles, 0 for loaded weights; in the fine-tuned runs and the hybrids that train "
        "all, every BatchNorm layer trains too, ImageNet ones included):",
        "",
        head["cost_table"],
        "",
        markdown_table(
            [
                "hybrid",
                "minus better single (same protocol)",
                "minus ensemble",
                "minus better single in the hybrid's time",
            ],
            [
                [run]
                + [
                    "-" if vs[k] is None else f"{100 * vs[k]:+.2f}"
                    for k in ("better_single", "ensemble", "matched_single")
                ]
                for run, vs in head["hybrid_vs"].items()
            ],
        ),
        "",
        "(points of accuracy, means over repeats.)",
    ]
    matched = summary.get("matched")
    if matched:
        lines += [
            "",
            f"Better single model in the hybrid's time: model {matched['model']} "
            f"(the better fine-tuned one), {matched['steps']} steps = "
            f"{matched['ratio']}x, for the slowest hybrid's {matched['budget_seconds']}"
            f" s of training.",
        ]
    gates = [
        [run, ex]
        + [", ".join(f"{r['gates'][ex][way]:+.3f}" for r in rows) for way in ("b_to_a", "a_to_b")]
        for run, rows in summary["runs"].items()
        if run.startswith("hybrid_gated")
        for ex in rows[0]["gates"]
    ]
    if gates:
        lines += [
            "",
            "Learned gates (per repeat; 0 = no exchange):",
            "",
            markdown_table(
                ["hybrid", "exchange", "model 2 -> model 1", "model 1 -> model 2"], gates
            ),
        ]
    met = "met" if wall["total"] < TIME_LIMIT_SECONDS else "NOT met"
    lines += [
        "",
        markdown_table(["phase", "seconds"], [[p, f"{s:.0f}"] for p, s in wall.items()]),
        "",
        f"Whole row {wall['total'] / 60:.1f} min (target < {TIME_LIMIT_SECONDS // 60} min: {met}).",
    ]
    return "\n".join(lines)
