r"""Benchmark: the layer-transfer paper's accuracy[k][n] tables on MNIST and CIFAR-100.

Runs recipes/layer_transfer.py itself, once per dataset and setting, each in
its own folder under --output_dir, and writes section "layer_transfer" of
benchmarks/RESULTS.md from the recipes' summary.json files: the
accuracy[k][n] table (mean and min-max over trials), the best n per k and its
gain over n = 0, the source net's training- and test-set accuracy, the
recipe's wall time, and comparisons between settings, next to the paper's
qualitative shape (transfer helps most with 1-10 samples per class and less
with 40; retaining C1-C5 leaves too little capacity).

A setting is extra recipe flags (an empty setting is the preset itself); a
``dataset:`` prefix limits it to one dataset. The ablations that explain a
difference from the paper (output coding, training budget, number of source
classes) are therefore measured by the very command a user runs:

    python benchmarks/layer_transfer.py --setting= --setting=--output=softmax \
        --setting='--target_epochs=0 --target_steps=150' \
        --setting='cifar100:--source_classes=40-99'
    python benchmarks/layer_transfer.py --datasets=mnist --nowrite

A setting whose folder already holds a finished run (summary.json) is loaded,
not run again, so a killed benchmark continues where it stopped and the
section can be re-rendered. Recipe defaults: MNIST digits 0-4 -> 5-9;
CIFAR-100 (grayscale) classes 0-19 -> 20-39.
"""

import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app
from absl import flags

from benchmarks.results import REPO_ROOT

FLAGS = flags.FLAGS
flags.DEFINE_list("datasets", ["mnist", "cifar100"], "Datasets to run.")
flags.DEFINE_multi_string(
    "setting",
    [""],
    "Extra recipe flags, e.g. '--output=softmax' "
    "(repeatable; '' is the preset itself; 'cifar100:--flag=v' limits a "
    "setting to one dataset).",
)
flags.DEFINE_string("preset", "quick", "Recipe preset: quick or paper.")
flags.DEFINE_integer("trials", None, "Trials per (k, n) (default: the preset's).")
flags.DEFINE_integer("seed", 0, "Seed.")
flags.DEFINE_string("data_dir", None, "Folder of the datasets (default $KERAS_TRANSFER_DATA).")
flags.DEFINE_string(
    "output_dir",
    os.path.join(REPO_ROOT, "benchmarks", "runs", "layer_transfer"),
    "One recipe run folder per dataset and setting; finished ones are loaded.",
)
flags.DEFINE_boolean("write", True, "Write section 'layer_transfer' of benchmarks/RESULTS.md.")

SECTION = "layer_transfer"


def parse_setting(text):
    """``"[dataset:]--flag=v --flag=v"`` -> ``(dataset or None, [recipe flags])``.

    Example:
    >>> parse_setting("--target_epochs=0 --target_steps=150")
    (None, ['--target_epochs=0', '--target_steps=150'])
    >>> parse_setting("cifar100:--source_classes=40-99")
    ('cifar100', ['--source_classes=40-99'])
    >>> parse_setting("")
    (None, [])
    """
    dataset = None
    head, sep, rest = text.partition(":")
    if sep and not head.strip().startswith("-"):
        dataset, text = head.strip(), rest
    args = shlex.split(text)
    bad = [a for a in args if not a.startswith("--")]
    if bad:
        raise ValueError(f"Expected a setting of recipe flags '--name=value', received {bad}.")
    return dataset, args


def run_folder(dataset, args):
    """The run folder of one dataset and setting, named after both.

    Example:
    >>> os.path.basename(run_folder("mnist", ["--output=softmax", "--target_steps=150"]))
    'mnist-output_softmax-target_steps_150'
    """
    slug = "-".join(a.lstrip("-").replace("=", "_").replace(",", "_") for a in args) or "preset"
    return os.path.join(FLAGS.output_dir, f"{dataset}-{slug}")


def run(dataset, args):
    """Runs the recipe for one dataset and setting (unless finished) and loads its summary."""
    from benchmarks.results import run_recipe

    command = [
        f"--dataset={dataset}",
        f"--preset={FLAGS.preset}",
        f"--seed={FLAGS.seed}",
        "--noexport",
        *args,
    ]
    if FLAGS.trials:
        command.append(f"--repeats={FLAGS.trials}")
    if FLAGS.data_dir:
        command.append(f"--data_dir={FLAGS.data_dir}")
    return load_summary(run_recipe("layer_transfer", run_folder(dataset, args), command))


def load_summary(summary):
    """A recipe summary.json as a benchmark result: the config and an int-keyed headline."""
    from keras_transfer.experiments.layer_transfer import LayerTransferConfig

    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in summary["settings"].items()}
    head = summary["headline"]
    head = {
        "accuracy": {
            int(k): {int(n): v for n, v in row.items()} for k, row in head["accuracy"].items()
        },
        "best_n": {int(k): v for k, v in head["best_n"].items()},
        "gain_of_best_n_over_n0": {int(k): v for k, v in head["gain_of_best_n_over_n0"].items()},
    }
    return {
        "config": LayerTransferConfig(**settings),
        "headline": head,
        "source_train_accuracy": summary["source_train_accuracy"],
        "source_test_accuracy": summary["source_test_accuracy"],
        "train_accuracy": {
            int(k): {int(n): v["mean"] for n, v in row.items()}
            for k, row in summary.get("train_accuracy", {}).items()
        },
        # Runs before the shared runner recorded no total: the sum of their phases.
        "seconds": summary["wall_seconds"].get("total", sum(summary["wall_seconds"].values())),
    }


def section(results):
    from keras_transfer.experiments.layer_transfer.config import target_budget
    from keras_transfer.report import markdown_table

    lines = []
    for (dataset, setting), r in results.items():
        cfg, head = r["config"], r["headline"]
        steps = ", ".join(f"{k}: {target_budget(cfg, k * len(cfg.target_classes))}" for k in cfg.ks)
        lines += [
            f"### {dataset}, {setting or 'preset'} (output {cfg.output})",
            "",
            f"{len(cfg.source_classes)} source classes ({cfg.source_per_class} samples each, "
            f"{cfg.source_steps} steps; source net accuracy on its training set "
            f"{r['source_train_accuracy']:.4f}, on test images of its classes "
            f"{r['source_test_accuracy']:.4f}) -> {len(cfg.target_classes)} target classes "
            f"(training steps per target net for k = {steps}; batch {cfg.batch_size}, SGD lr "
            f"{cfg.learning_rate}); {cfg.trials} trials; test set {cfg.test_examples} images "
            f"of the target classes; recipe wall time {r['seconds']:.0f} s "
            f"(data loading + training).",
            "",
            "Mean test accuracy (min-max over trials), k samples per class (rows) x retained "
            "levels n (columns):",
            "",
            markdown_table(
                ["k \\ n"] + [str(n) for n in cfg.levels] + ["best n", "gain of best n over 0"],
                [
                    [k]
                    + [
                        f"{head['accuracy'][k][n]['mean']:.3f} "
                        f"({head['accuracy'][k][n]['min']:.2f}-{head['accuracy'][k][n]['max']:.2f})"
                        for n in cfg.levels
                    ]
                    + [head["best_n"][k], f"{head['gain_of_best_n_over_n0'][k]:+.3f}"]
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
                    [
                        [k] + [f"{r['train_accuracy'][k][n]:.3f}" for n in cfg.levels]
                        for k in cfg.ks
                    ],
                ),
                "",
            ]
    ks = sorted({k for r in results.values() for k in r["config"].ks})
    lines += [
        "Gain of the best n over n = 0 (best n in brackets), every setting side by side:",
        "",
        markdown_table(
            ["dataset", "setting", "source acc. train / test"] + [f"k={k}" for k in ks],
            [
                [
                    d,
                    text or "preset",
                    f"{r['source_train_accuracy']:.2f} / {r['source_test_accuracy']:.2f}",
                ]
                + [
                    f"{r['headline']['gain_of_best_n_over_n0'][k]:+.3f} "
                    f"({r['headline']['best_n'][k]})"
                    if k in r["config"].ks
                    else ""
                    for k in ks
                ]
                for (d, text), r in results.items()
            ],
        ),
        "",
    ]
    lines += analysis(results)
    lines += [
        "The paper's shape (Figs. 2-5, NIST, 20 -> 20 characters, for reference): transfer "
        "helps most with 1-10 samples per class, less with 40; retaining C1-C5 (n = 5) leaves "
        "too little capacity to learn from more than about 10 samples.",
    ]
    return "\n".join(lines)


def _mean(r, k, n):
    return r["headline"]["accuracy"][k][n]["mean"]


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


def analysis(results):
    """Measured comparisons behind the differences from the paper (markdown lines).

    Each bullet is computed from the runs in ``results`` and appears only when
    the settings it compares were run: the paper's shape per run (does the
    gain shrink from small k to the largest k; does retaining C1-C5 fall
    behind at the largest k); and every other setting against its
    `base_setting` (source net quality, gain of transfer per k, the net
    trained from scratch and how far it fits its training set), which
    measures the training budget, the output coding or the number of source
    classes, whichever the settings change.

    Example:
    >>> analysis({})
    []
    """
    bullets = []
    for (d, text), r in results.items():
        cfg, head = r["config"], r["headline"]
        small = [k for k in cfg.ks if k <= 10]
        top = max(cfg.ks)
        if small and top > max(small):
            best_small = max(small, key=lambda k: head["gain_of_best_n_over_n0"][k])
            top_n = max(cfg.levels)
            bullets.append(
                f"{d}, {text or 'preset'}: the gain of transfer is "
                f"{head['gain_of_best_n_over_n0'][best_small]:+.3f} at k={best_small} (its "
                f"largest for k <= 10) and {head['gain_of_best_n_over_n0'][top]:+.3f} at "
                f"k={top}; at k={top}, n={top_n} reaches {_mean(r, top, top_n):.3f} against "
                f"{_mean(r, top, head['best_n'][top]):.3f} for the best n="
                f"{head['best_n'][top]}."
            )
    for (d, text), r in results.items():
        base_text = base_setting(text, [t for dd, t in results if dd == d])
        if base_text is None:
            continue
        base = results[(d, base_text)]
        cfg = r["config"]
        ks = [k for k in cfg.ks if k in base["config"].ks]
        if not ks:
            continue
        top = max(ks)
        gains = ", ".join(
            f"k={k}: {r['headline']['gain_of_best_n_over_n0'][k]:+.3f} vs "
            f"{base['headline']['gain_of_best_n_over_n0'][k]:+.3f}"
            for k in ks
        )
        fit = ""
        if r["train_accuracy"] and base["train_accuracy"]:
            fit = (
                f" (it fits {r['train_accuracy'][top][0]:.3f} vs "
                f"{base['train_accuracy'][top][0]:.3f} of its training set)"
            )
        bullets.append(
            f"{d}, {text} against {base_text or 'the preset'}: source net test accuracy "
            f"{r['source_test_accuracy']:.3f} vs {base['source_test_accuracy']:.3f}; gain of "
            f"the best n over n=0: {gains}; at k={top} the net trained from scratch (n=0) "
            f"reaches {_mean(r, top, 0):.3f} vs {_mean(base, top, 0):.3f}{fit}."
        )
    if not bullets:
        return []
    return (
        ["Measured comparisons (computed from the runs above):", ""]
        + [f"- {b}" for b in bullets]
        + [""]
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    # Every setting is parsed before the first recipe runs.
    settings = [(text, *parse_setting(text)) for text in FLAGS.setting]
    results = {
        (d, " ".join(args)): run(d, args)
        for d in FLAGS.datasets
        for text, only, args in settings
        if only in (None, d)
    }
    markdown = section(results)
    from benchmarks.results import publish

    publish(SECTION, markdown, FLAGS.write)


if __name__ == "__main__":
    app.run(main)
