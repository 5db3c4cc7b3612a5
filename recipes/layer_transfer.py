r"""Recipe: layer transfer between LeNet-5 style nets (lenet5-knowledge-transfer-nist.txt).

A source LeNet-5 learns one set of classes; target nets for new classes keep
its bottom n levels fixed and learn the rest from k samples per class.
NIST SD19 is not available here: the default is MNIST digits 0-4 -> 5-9;
``--dataset=cifar100`` (grayscale, 20 source -> 20 target classes) is closer
to the paper's 20 -> 20 characters.

Usage:
    python recipes/layer_transfer.py --dataset=mnist --preset=quick
    python recipes/layer_transfer.py --dataset=cifar100 --preset=quick \
        --source_classes=0-19 --target_classes=20-39
    python recipes/layer_transfer.py --dataset=mnist --preset=paper --output=softmax

Writes into --output_dir: summary.json (accuracy[k][n] mean/min/max, best n per
k, gain over n = 0, parameter counts), history.csv, curves.png (Fig. 2 and
Figs. 3-5), tensorboard/, and the source net under
--export_dir/layer_transfer/<run name>/ unless --noexport.
"""

import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from recipes import common as recipe_utils  # noqa: E402

FLAGS = flags.FLAGS
recipe_utils.define_common_flags(default_dataset="mnist")
flags.DEFINE_string("source_classes", None, "Source class ids: '0-4' or '0,1,2' (default: "
                    "0-4 for 10-class datasets, 0-19 otherwise).")
flags.DEFINE_string("target_classes", None, "Target class ids, disjoint from the source "
                    "(default: 5-9 for 10-class datasets, 20-39 otherwise).")
flags.DEFINE_list("ks", None, "Samples per target class (paper: 1,5,10,20,40).")
flags.DEFINE_list("levels", None, "Retained levels n (paper: 0..5).")
flags.DEFINE_integer("trials", None, "Trials per (k, n) (paper: 5).")
flags.DEFINE_integer("code_bits", None, "Output code length (paper: 20).")
flags.DEFINE_enum("output", None, ["code", "softmax"], "Random output codes (paper) or softmax.")
flags.DEFINE_integer("source_per_class", None, "Source samples per class (paper: 400).")
flags.DEFINE_integer("source_steps", None, "Training steps of the source net.")
flags.DEFINE_integer("target_epochs", None, "Passes of every target net over its k-sample "
                     "training set (0: exactly --target_steps).")
flags.DEFINE_integer("target_steps", None, "Minimum training steps of every target net.")
flags.DEFINE_float("learning_rate", None, "SGD learning rate.")
flags.DEFINE_integer("test_examples", None, "Fixed target test set size (paper: 1,000).")


def parse_classes(text):
    """'0-4' -> (0, 1, 2, 3, 4); '1,3,5' -> (1, 3, 5).

    Example:
    >>> parse_classes("0-2,7")
    (0, 1, 2, 7)
    """
    out = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-")
            out += list(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    return tuple(out)


def config_from_flags(num_classes_hint):
    from keras_transfer.experiments import layer_transfer as lt

    default_src, default_tgt = ("0-4", "5-9") if num_classes_hint <= 10 else ("0-19", "20-39")
    overrides = {
        "dataset": FLAGS.dataset,
        "source_classes": parse_classes(FLAGS.source_classes or default_src),
        "target_classes": parse_classes(FLAGS.target_classes or default_tgt),
        "ks": tuple(int(k) for k in FLAGS.ks) if FLAGS.ks else None,
        "levels": tuple(int(n) for n in FLAGS.levels) if FLAGS.levels else None,
        "trials": FLAGS.trials if FLAGS.repeats is None else FLAGS.repeats,
    }
    for name in ("code_bits", "output", "source_per_class", "source_steps", "target_epochs",
                 "target_steps", "learning_rate", "test_examples"):
        overrides[name] = getattr(FLAGS, name)
    return lt.get_preset(FLAGS.preset, **overrides)


def main(argv):
    del argv
    # Everything that can be wrong with the input is checked before training.
    hint = 10 if FLAGS.dataset in ("mnist", "digits", "cifar10") else 100
    config = config_from_flags(hint)
    from keras_transfer.experiments import layer_transfer as lt

    t0 = time.perf_counter()
    data = lt.load_data(config, FLAGS.data_dir, seed=FLAGS.seed)
    load_seconds = time.perf_counter() - t0
    output_dir = recipe_utils.prepare_output_dir("layer_transfer", FLAGS.output_dir,
                                                 FLAGS.resume)
    recipe_utils.seed_everything(FLAGS.seed)

    from keras_transfer import metrics
    from keras_transfer import report

    t1 = time.perf_counter()
    out = lt.run_experiment(config, data, output_dir, seed=FLAGS.seed)
    train_seconds = time.perf_counter() - t1
    head = lt.headline(config, out["accuracy"])

    history = [{"run": f"k{r['k']}_n{r['n']}", "repeat": r["trial"], "epoch": r["epoch"],
                "step": r["step"], "wall_seconds": r["wall_seconds"],
                "train_loss": r["train_loss"], "test_accuracy": r["test_accuracy"]}
               for r in out["runs"]]
    report.write_history(os.path.join(output_dir, "history.csv"), history)
    report.plot_layer_transfer(os.path.join(output_dir, "curves.png"), head["accuracy"],
                               title=f"Layer transfer on {config.dataset}: "
                                     f"{len(config.source_classes)} -> "
                                     f"{len(config.target_classes)} classes, "
                                     f"{config.trials} trials")
    exports = {}
    if FLAGS.export:
        name = os.path.basename(os.path.normpath(output_dir))
        exports = recipe_utils.export_and_check(
            {"source": out["source_model"]},
            os.path.join(FLAGS.export_dir, "layer_transfer", name), data.test.x[:64])
    summary = {
        "recipe": "layer_transfer", "dataset": config.dataset, "preset": FLAGS.preset,
        "seed": FLAGS.seed, "repeats": config.trials, "precision": FLAGS.precision,
        "settings": dataclasses.asdict(config),
        "data": {"source_train_examples": len(data.source),
                 "target_pool_examples": len(data.target_pool),
                 "test_examples": len(data.test), "source": data.source.info.source},
        "source_train_accuracy": out["source_train_accuracy"],
        "source_test_accuracy": out["source_test_accuracy"],
        "headline": head,
        # How far each budget let the nets fit their own k-sample training set.
        "train_accuracy": {k: {n: metrics.summarize_runs(v) for n, v in row.items()}
                           for k, row in out["train_accuracy"].items()},
        "parameters": out["parameters"],
        "wall_seconds": {"load_data": load_seconds, "train": train_seconds},
        "exports": exports,
    }
    recipe_utils.write_json(os.path.join(output_dir, "summary.json"), summary)
    print(report.markdown_table(
        ["k \\ n"] + [str(n) for n in config.levels],
        [[k] + [f"{head['accuracy'][k][n]['mean']:.3f}" for n in config.levels]
         for k in config.ks]))
    print(f"best n per k: {head['best_n']}  -> {output_dir}")


if __name__ == "__main__":
    app.run(main)
