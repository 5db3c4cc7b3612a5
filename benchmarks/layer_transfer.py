r"""Benchmark: the layer-transfer paper's accuracy[k][n] tables on MNIST and CIFAR-100.

Runs `keras_transfer.experiments.layer_transfer.run_experiment` (the same code
as recipes/layer_transfer.py) for each dataset and each setting, and writes
section "layer_transfer" of benchmarks/RESULTS.md: the accuracy[k][n] table
(mean and min-max over trials), the best n per k and its gain over n = 0, the
source net's training- and test-set accuracy, next to the paper's qualitative
shape (transfer helps most with 1-10 samples per class and less with 40;
retaining C1-C5 leaves too little capacity).

A setting is the preset plus overrides of `LayerTransferConfig` fields, written
``field=value;field=value`` (an empty setting is the preset itself), so the
ablations that explain a difference from the paper (output coding, training
budget, source training) are measured by the same code:

    python benchmarks/layer_transfer.py                                  # mnist + cifar100, quick
    python benchmarks/layer_transfer.py --setting= --setting=output=softmax \
        --setting='target_epochs=0;target_steps=150' \
        --setting=cifar100:source_classes=40-99                # preset + three ablations
    python benchmarks/layer_transfer.py --datasets=mnist --nowrite

Defaults: MNIST digits 0-4 -> 5-9; CIFAR-100 (grayscale) classes 0-19 -> 20-39.
"""

import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("datasets", ["mnist", "cifar100"], "Datasets to run.")
flags.DEFINE_multi_string("setting", [""], "Overrides of the preset, 'field=value;field=value' "
                          "(repeatable; '' is the preset itself).")
flags.DEFINE_string("preset", "quick", "Experiment preset: quick or paper.")
flags.DEFINE_integer("trials", None, "Trials per (k, n) (default: the preset's).")
flags.DEFINE_integer("seed", 0, "Seed.")
flags.DEFINE_string("data_dir", None, "Folder of the datasets (default $KERAS_TRANSFER_DATA).")
flags.DEFINE_boolean("write", True, "Write section 'layer_transfer' of benchmarks/RESULTS.md.")

SECTION = "layer_transfer"
CLASSES = {  # dataset: (source classes, target classes)
    "mnist": (tuple(range(0, 5)), tuple(range(5, 10))),
    "digits": (tuple(range(0, 5)), tuple(range(5, 10))),
    "cifar100": (tuple(range(0, 20)), tuple(range(20, 40))),
}


def parse_setting(text):
    """``"[dataset:]field=value;field=value"`` -> ``(dataset or None, overrides)``.

    Values are read as Python literals where they parse (numbers, tuples); a
    range ``a-b`` becomes the tuple ``a..b`` (class lists); anything else
    stays a string. A ``dataset:`` prefix limits the setting to that dataset.

    Example:
    >>> parse_setting("output=softmax; target_steps=150")
    (None, {'output': 'softmax', 'target_steps': 150})
    >>> parse_setting("cifar100:source_classes=40-99")[1]["source_classes"][:3]
    (40, 41, 42)
    >>> parse_setting("")
    (None, {})
    """
    import ast
    import re

    dataset = None
    head, sep, rest = text.partition(":")
    if sep and "=" not in head:
        dataset, text = head.strip(), rest
    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        if "=" not in part:
            raise ValueError(f"Expected a setting 'field=value', received {part!r}.")
        key, value = (t.strip() for t in part.split("=", 1))
        span = re.fullmatch(r"(\d+)-(\d+)", value)
        if span:
            out[key] = tuple(range(int(span[1]), int(span[2]) + 1))
            continue
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return dataset, out


def make_config(dataset, overrides):
    """The preset for ``dataset`` (default class split) with ``overrides``, validated."""
    from keras_transfer.experiments import layer_transfer as lt

    if dataset not in CLASSES:
        raise ValueError(f"Expected datasets among {sorted(CLASSES)}, received {dataset!r}.")
    src, tgt = CLASSES[dataset]
    settings = dict(dataset=dataset, source_classes=src, target_classes=tgt,
                    trials=FLAGS.trials)
    settings.update(overrides)
    return lt.get_preset(FLAGS.preset, **settings)


def run(config):
    """One configuration: the experiment, its headline and wall seconds."""
    import keras
    import tensorflow as tf

    from keras_transfer.experiments import layer_transfer as lt

    keras.utils.set_random_seed(FLAGS.seed)
    tf.config.experimental.enable_op_determinism()
    t0 = time.perf_counter()
    data = lt.load_data(config, FLAGS.data_dir, seed=FLAGS.seed)
    out = lt.run_experiment(config, data, seed=FLAGS.seed,
                            log=lambda line: print(f"{config.dataset} {line}", flush=True))
    return {"config": config, "headline": lt.headline(config, out["accuracy"]),
            "source_train_accuracy": out["source_train_accuracy"],
            "source_test_accuracy": out["source_test_accuracy"],
            "seconds": time.perf_counter() - t0}


def section(results):
    from keras_transfer.experiments import layer_transfer as lt
    from keras_transfer.report import markdown_table

    lines = []
    for (dataset, setting), r in results.items():
        cfg, head = r["config"], r["headline"]
        steps = ", ".join(f"{k}: {lt.target_budget(cfg, k * len(cfg.target_classes))}"
                          for k in cfg.ks)
        lines += [
            f"### {dataset}, {setting or 'preset'} (output {cfg.output})",
            "",
            f"{len(cfg.source_classes)} source classes ({cfg.source_per_class} samples each, "
            f"{cfg.source_steps} steps; source net accuracy on its training set "
            f"{r['source_train_accuracy']:.4f}, on test images of its classes "
            f"{r['source_test_accuracy']:.4f}) -> {len(cfg.target_classes)} target classes "
            f"(training steps per target net for k = {steps}; batch {cfg.batch_size}, SGD lr "
            f"{cfg.learning_rate}); {cfg.trials} trials; test set {cfg.test_examples} images "
            f"of the target classes; {r['seconds']:.0f} s in all.",
            "",
            "Mean test accuracy (min-max over trials), k samples per class (rows) x retained "
            "levels n (columns):",
            "",
            markdown_table(
                ["k \\ n"] + [str(n) for n in cfg.levels] + ["best n", "gain of best n over 0"],
                [[k] + [f"{head['accuracy'][k][n]['mean']:.3f} "
                        f"({head['accuracy'][k][n]['min']:.2f}-{head['accuracy'][k][n]['max']:.2f})"
                        for n in cfg.levels]
                 + [head["best_n"][k], f"{head['gain_of_best_n_over_n0'][k]:+.3f}"]
                 for k in cfg.ks]),
            "",
        ]
    ks = sorted({k for r in results.values() for k in r["config"].ks})
    lines += [
        "Gain of the best n over n = 0 (best n in brackets), every setting side by side:",
        "",
        markdown_table(
            ["dataset", "setting", "source acc. train / test"] + [f"k={k}" for k in ks],
            [[d, text or "preset",
              f"{r['source_train_accuracy']:.2f} / {r['source_test_accuracy']:.2f}"]
             + [f"{r['headline']['gain_of_best_n_over_n0'][k]:+.3f} "
                f"({r['headline']['best_n'][k]})" if k in r["config"].ks else ""
                for k in ks]
             for (d, text), r in results.items()]),
        "",
    ]
    lines += [
        "The paper's shape (Figs. 2-5, NIST, 20 -> 20 characters, for reference): transfer "
        "helps most with 1-10 samples per class, less with 40; retaining C1-C5 (n = 5) leaves "
        "too little capacity to learn from more than about 10 samples.",
    ]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    # Every configuration is checked before the first one trains.
    settings = [(text, *parse_setting(text)) for text in FLAGS.setting]
    configs = {(d, text): make_config(d, overrides) for d in FLAGS.datasets
               for text, only, overrides in settings if only in (None, d)}
    results = {key: run(config) for key, config in configs.items()}
    markdown = section(results)
    from benchmarks.results import publish

    publish(SECTION, markdown, FLAGS.write)


if __name__ == "__main__":
    app.run(main)
