"""The layer-transfer experiment's headline, its table and figures, and its benchmark section.

Reads the accuracies of `keras_transfer.experiments.layer_transfer.run`, or
finished runs' ``summary.json`` dicts (`markdown`); no training, no files.
"""

import dataclasses
import shlex

from keras_transfer import metrics
from keras_transfer.experiments.layer_transfer.config import LayerTransferConfig
from keras_transfer.experiments.layer_transfer.config import get_preset
from keras_transfer.experiments.layer_transfer.config import target_budget
from keras_transfer.report import markdown_table
from keras_transfer.report import mean_range
from keras_transfer.report import ran_on
from keras_transfer.report import save_figure


def headline(config, accuracy):
    """accuracy[k][n] mean/min/max, the best n per k and its gain over n = 0.

    Example:
    >>> from keras_transfer.experiments.layer_transfer.config import get_preset
    >>> cfg = get_preset("quick", ks=(1,), levels=(0, 3))
    >>> h = headline(cfg, {1: {0: [0.2, 0.4], 3: [0.5, 0.7]}})
    >>> h["best_n"][1], round(h["gain_of_best_n_over_n0"][1], 6)
    (3, 0.3)
    """
    table = {
        k: {n: metrics.summarize_runs(accuracy[k][n]) for n in config.levels} for k in config.ks
    }
    best = {k: max(config.levels, key=lambda n: table[k][n]["mean"]) for k in config.ks}
    gain = {
        k: (table[k][best[k]]["mean"] - table[k][0]["mean"]) if 0 in config.levels else None
        for k in config.ks
    }
    return {"accuracy": table, "best_n": best, "gain_of_best_n_over_n0": gain}


def headline_table(config, head):
    """Mean target accuracy per k (rows) and n (columns), and the best n per k.

    Example:
    >>> from keras_transfer.experiments.layer_transfer.config import get_preset
    >>> cfg = get_preset("quick", ks=(1,), levels=(0, 3))
    >>> print(headline_table(cfg, headline(cfg, {1: {0: [0.2], 3: [0.5]}})))
    | k \\ n |     0 |     3 | best n |
    |------:|------:|------:|-------:|
    |     1 | 0.200 | 0.500 |      3 |
    """
    from keras_transfer.report import text_table

    rows = [
        [str(k)]
        + [f"{head['accuracy'][k][n]['mean']:.3f}" for n in config.levels]
        + [str(head["best_n"][k])]
        for k in config.ks
    ]
    return text_table(["k \\ n"] + [str(n) for n in config.levels] + ["best n"], rows)


def plot_layer_transfer(path, table, title="", detail_ks=(1, 10, 40)):
    """Layer-transfer plots: accuracy vs retained levels per k (paper Fig. 2) and min/mean/max
    for a few k (Figs. 3-5), side by side.

    Args:
        path: PNG file to write.
        table: ``{k: {n: {"mean", "min", "max"}}}`` (see `metrics.summarize_runs`).
        detail_ks: the k shown with their min/mean/max band (those present).

    Example:
    >>> import tempfile
    >>> t = {1: {0: {"mean": .3, "min": .2, "max": .4}, 1: {"mean": .5, "min": .4, "max": .6}}}
    >>> plot_layer_transfer(tempfile.mkdtemp() + "/c.png", t)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    details = [k for k in detail_ks if k in table]
    fig, axes = plt.subplots(
        1, 1 + len(details), figsize=(5 * (1 + len(details)), 4), squeeze=False
    )
    ax = axes[0, 0]
    for k in sorted(table, reverse=True):
        levels = sorted(table[k])
        ax.plot(levels, [table[k][n]["mean"] for n in levels], marker="o", label=f"k={k}")
    ax.set_title(title or "Accuracy vs retained levels")
    ax.set_xlabel("Retained levels n")
    ax.set_ylabel("Testing accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    for ax, k in zip(axes[0, 1:], details):
        levels = sorted(table[k])
        for stat, style in (("max", "--"), ("mean", "-"), ("min", ":")):
            ax.plot(levels, [table[k][n][stat] for n in levels], style, marker="o", label=stat)
        ax.set_title(f"{k} sample(s) per class")
        ax.set_xlabel("Retained levels n")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


PAPER_SHAPE = (
    "The paper's shape (Figs. 2-5, NIST, 20 -> 20 characters, for reference): transfer "
    "helps most with 1-10 samples per class, less with 40; retaining C1-C5 (n = 5) leaves "
    "too little capacity to learn from more than about 10 samples."
)


def run_setting(summary):
    """The settings flags of a run's recipe command (``ran_on``), ``--dataset`` aside.

    What a benchmark run changed from its preset: the flags naming a
    `LayerTransferConfig` field (or ``--repeats``), as typed; the last of a
    repeated flag counts, as on the command line. ``""``: the preset itself.
    A run without its command (run before the benchmark kept ``ran_on``):
    the fields its settings change from its preset and dataset defaults.

    Example:
    >>> run_setting({"ran_on": {"command": "python recipes/layer_transfer.py --seed=0 "
    ...     "--dataset=mnist --preset=quick --target_epochs=100 --noexport"}})
    '--target_epochs=100'
    >>> cfg = get_preset("quick", dataset="cifar100", source_classes=tuple(range(40, 100)))
    >>> run_setting({"preset": "quick", "dataset": "cifar100",
    ...              "settings": dataclasses.asdict(cfg)})
    '--source_classes=40-99'
    """
    names = {f.name for f in dataclasses.fields(LayerTransferConfig)} - {"dataset"}
    if "command" not in summary.get("ran_on", {}):
        preset = get_preset(summary["preset"], dataset=summary["dataset"])
        changed = {k: v for k, v in summary["settings"].items() if k in names}
        changed = {
            k: v for k, v in changed.items() if _flag_value(v) != _flag_value(getattr(preset, k))
        }
        return " ".join(f"--{k}={_flag_value(v)}" for k, v in changed.items())
    names.add("repeats")
    words = shlex.split(summary["ran_on"]["command"])
    found = {}
    for i, word in enumerate(words):
        name, sep, _ = word[2:].partition("=")
        if word.startswith("--") and name in names:
            if not sep and i + 1 < len(words) and not words[i + 1].startswith("-"):
                word = f"{word}={words[i + 1]}"  # "--flag value"
            found.pop(name, None)
            found[name] = word
    return " ".join(found.values())


def _flag_value(value):
    """A setting as a flag writes it: ``[40, ..., 99]`` -> ``40-99``, ``[1, 5]`` -> ``1,5``."""
    if not isinstance(value, (list, tuple)):
        return str(value)
    if len(value) > 2 and list(value) == list(range(value[0], value[0] + len(value))):
        return f"{value[0]}-{value[-1]}"
    return ",".join(str(v) for v in value)


def _run(summary):
    """A summary.json dict with int keys, its config and its setting (what `markdown` reads)."""
    fields = {f.name for f in dataclasses.fields(LayerTransferConfig)}
    settings = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in summary["settings"].items()
        if k in fields
    }
    head = summary["headline"]

    def by_k(table, value=lambda v: v):
        return {int(k): {int(n): value(v) for n, v in row.items()} for k, row in table.items()}

    wall = summary["wall_seconds"]
    return {
        "dataset": summary.get("dataset", settings.get("dataset")),
        "setting": run_setting(summary),
        "config": LayerTransferConfig(**settings),
        "accuracy": by_k(head["accuracy"]),
        "best_n": {int(k): v for k, v in head["best_n"].items()},
        "gain": {int(k): v for k, v in head["gain_of_best_n_over_n0"].items()},
        "source_train": summary["source_train_accuracy"],
        "source_test": summary["source_test_accuracy"],
        "train_accuracy": by_k(summary.get("train_accuracy", {}), lambda v: v["mean"]),
        # Runs before the shared runner recorded no total: the sum of their phases.
        "seconds": wall.get("total", sum(wall.values())),
        "ran_on": summary.get("ran_on"),
    }


def _signed(value):
    return "-" if value is None else f"{value:+.3f}"


def _run_lines(r):
    """One run's subsection: settings, where it ran, accuracy[k][n] and the training-set fit."""
    cfg = r["config"]
    steps = ", ".join(f"{k}: {target_budget(cfg, k * len(cfg.target_classes))}" for k in cfg.ks)
    lines = [
        f"### {r['dataset']}, {r['setting'] or 'preset'} (output {cfg.output})",
        "",
        f"{len(cfg.source_classes)} source classes ({cfg.source_per_class} samples each, "
        f"{cfg.source_steps} steps; source net accuracy on its training set "
        f"{r['source_train']:.4f}, on test images of its classes {r['source_test']:.4f}) -> "
        f"{len(cfg.target_classes)} target classes (training steps per target net for k = "
        f"{steps}; batch {cfg.batch_size}, SGD lr {cfg.learning_rate}); {cfg.trials} trials; "
        f"test set {cfg.test_examples} images of the target classes; recipe wall time "
        f"{r['seconds']:.0f} s (data loading + training).",
        "",
    ]
    if r["ran_on"]:
        lines += [ran_on({"ran_on": r["ran_on"]}), ""]
    lines += [
        "Mean test accuracy (min-max over trials), k samples per class (rows) x retained "
        "levels n (columns):",
        "",
        markdown_table(
            ["k \\ n"] + [str(n) for n in cfg.levels] + ["best n", "gain of best n over 0"],
            [
                [k]
                + [mean_range(r["accuracy"][k][n], 3) for n in cfg.levels]
                + [r["best_n"][k], _signed(r["gain"][k])]
                for k in cfg.ks
            ],
        ),
        "",
    ]
    if r["train_accuracy"]:
        lines += [
            "Mean accuracy of the same nets on their own k-sample training set (how far "
            "the budget let them fit):",
            "",
            markdown_table(
                ["k \\ n"] + [str(n) for n in cfg.levels],
                [[k] + [f"{r['train_accuracy'][k][n]:.3f}" for n in cfg.levels] for k in cfg.ks],
            ),
            "",
        ]
    return lines


def markdown(summaries):
    """The layer_transfer benchmark section from finished runs' ``summary.json`` dicts.

    Per run: its settings, where and how it ran (``ran_on``), accuracy[k][n]
    as mean (min-max) over trials with the best n per k and its gain over
    n = 0, and how far the nets fit their own training set; then every run's
    gains side by side, the measured comparisons (`base_setting`) and the
    paper's shape. Reads no files and no clock: the same summaries give the
    same text.

    Args:
        summaries: run name -> a recipe run's ``summary.json`` dict, with
            ``ran_on`` (the recipe command, date and machine) where kept, in
            order.

    Example:
    >>> import json
    >>> cfg = get_preset("quick", ks=(1, 40), levels=(0, 5), trials=2)
    >>> head = headline(cfg, {1: {0: [.2, .3], 5: [.5, .6]}, 40: {0: [.8, .9], 5: [.6, .7]}})
    >>> summary = json.loads(json.dumps({
    ...     "dataset": "mnist", "preset": "quick", "settings": dataclasses.asdict(cfg),
    ...     "headline": head,
    ...     "source_train_accuracy": 1.0, "source_test_accuracy": 0.99,
    ...     "wall_seconds": {"total": 60.0}}))
    >>> text = markdown({"mnist": summary})
    >>> print(text.splitlines()[0]); print(text.splitlines()[8])
    ### mnist, --ks=1,40 --levels=0,5 --trials=2 (output code)
    | 1 | 0.250 (0.200-0.300) | 0.550 (0.500-0.600) | 5 | +0.300 |
    """
    runs = {name: _run(s) for name, s in summaries.items()}
    lines = [line for r in runs.values() for line in _run_lines(r)]
    ks = sorted({k for r in runs.values() for k in r["config"].ks})
    lines += [
        "Gain of the best n over n = 0 (best n in brackets), every setting side by side:",
        "",
        markdown_table(
            ["dataset", "setting", "source acc. train / test"] + [f"k={k}" for k in ks],
            [
                [
                    r["dataset"],
                    r["setting"] or "preset",
                    f"{r['source_train']:.2f} / {r['source_test']:.2f}",
                ]
                + [
                    f"{_signed(r['gain'][k])} ({r['best_n'][k]})" if k in r["config"].ks else ""
                    for k in ks
                ]
                for r in runs.values()
            ],
        ),
        "",
    ]
    return "\n".join(lines + _analysis(runs) + [PAPER_SHAPE])


def _mean(r, k, n):
    return r["accuracy"][k][n]["mean"]


def base_setting(text, texts):
    """The setting ``text`` is compared with: the run whose flags are the largest proper subset.

    The preset (``""``) is the base of a one-flag setting; a two-flag setting
    is compared with its one-flag part when that was run, so each comparison
    changes as few things as the runs allow. ``None`` for the preset itself.

    Example:
    >>> base_setting("--a=1 --b=2", ["", "--a=1", "--a=1 --b=2"])
    '--a=1'
    >>> base_setting("--b=2", ["", "--a=1", "--b=2"]), base_setting("", [""])
    ('', None)
    """
    flags_ = set(shlex.split(text))
    subsets = [t for t in texts if set(shlex.split(t)) < flags_]
    return max(subsets, key=lambda t: len(shlex.split(t)), default=None)


def _analysis(runs):
    """Measured comparisons behind the differences from the paper (markdown lines).

    Each bullet is computed from ``runs`` and appears only when the runs it
    compares are there: the paper's shape per run (does the gain shrink from
    small k to the largest k; does retaining C1-C5 fall behind at the largest
    k); and every run against the run of its dataset with its `base_setting`
    (source net quality, gain of transfer per k, the net trained from scratch
    and how far it fits its training set), which measures the training
    budget, the output coding or the number of source classes, whichever the
    settings change.
    """
    bullets = []
    for r in runs.values():
        cfg, gain = r["config"], r["gain"]
        small = [k for k in cfg.ks if k <= 10]
        top = max(cfg.ks)
        if small and top > max(small) and 0 in cfg.levels:
            best_small = max(small, key=lambda k: gain[k])
            top_n, best = max(cfg.levels), r["best_n"][top]
            bullets.append(
                f"{r['dataset']}, {r['setting'] or 'preset'}: the gain of transfer is "
                f"{gain[best_small]:+.3f} at k={best_small} (its largest for k <= 10) and "
                f"{gain[top]:+.3f} at k={top}; at k={top}, n={top_n} reaches "
                f"{_mean(r, top, top_n):.3f} against {_mean(r, top, best):.3f} for the best "
                f"n={best}."
            )
    for r in runs.values():
        same = {}  # setting -> the first run of this dataset with it
        for other in runs.values():
            if other["dataset"] == r["dataset"]:
                same.setdefault(other["setting"], other)
        base_text = base_setting(r["setting"], list(same))
        if base_text is None:
            continue
        base = same[base_text]
        ks = [k for k in r["config"].ks if k in base["config"].ks]
        if not ks or 0 not in r["config"].levels or 0 not in base["config"].levels:
            continue
        top = max(ks)
        gains = ", ".join(f"k={k}: {r['gain'][k]:+.3f} vs {base['gain'][k]:+.3f}" for k in ks)
        fit = ""
        if r["train_accuracy"] and base["train_accuracy"]:
            fit = (
                f" (it fits {r['train_accuracy'][top][0]:.3f} vs "
                f"{base['train_accuracy'][top][0]:.3f} of its training set)"
            )
        bullets.append(
            f"{r['dataset']}, {r['setting']} against {base_text or 'the preset'}: source net "
            f"test accuracy {r['source_test']:.3f} vs {base['source_test']:.3f}; gain of the "
            f"best n over n=0: {gains}; at k={top} the net trained from scratch (n=0) reaches "
            f"{_mean(r, top, 0):.3f} vs {_mean(base, top, 0):.3f}{fit}."
        )
    if not bullets:
        return []
    return (
        ["Measured comparisons (computed from the runs above):", ""]
        + [f"- {b}" for b in bullets]
        + [""]
    )
