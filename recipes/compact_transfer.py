r"""Recipe: compact-CNN transfer: fine-tune a pretrained CNN, then distil it into a compact CNN.

Paper: compact-cnn-transfer-distillation.txt (text cut short; method as in the
package's issue). Pre-trains the backbone on the source task (offline: the
Tiny ImageNet subset; ``--backbone_weights=imagenet`` or a file skips this),
fine-tunes it on the target task (head first, then everything at a low rate),
then trains the compact student alone and distilled, with the same budget,
``--repeats`` times, and exports the teacher and the student (SavedModel,
.keras, TFLite float32 and dynamic-range) with their size and latency.

Usage:
    python recipes/compact_transfer.py --preset=quick --output_dir=runs/compact
    python recipes/compact_transfer.py --backbone=ResNet50 --backbone_weights=imagenet ...
    python recipes/compact_transfer.py --backbone_weights=runs/compact/source_backbone.weights.h5

Writes into --output_dir: summary.json, history.csv, curves.png, tensorboard
logs under runs/, the pre-trained backbone weights, and the exports under
--export_dir/compact_transfer/<run name>/ unless --noexport.
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
recipe_utils.define_common_flags(default_dataset="cifar10")
flags.DEFINE_string("source_dataset", None, "Source task for pre-training (default "
                    "tiny_imagenet50).")
flags.DEFINE_string("backbone", None, "keras.applications family of the teacher.")
flags.DEFINE_float("backbone_alpha", None, "MobileNet width multiplier.")
flags.DEFINE_string("backbone_weights", None, "'imagenet', or a weights file of the backbone "
                    "without top (skips pre-training).")
flags.DEFINE_integer("teacher_image_size", None, "Side of the images the teacher sees.")
flags.DEFINE_integer("source_steps", None, "Pre-training steps.")
flags.DEFINE_integer("head_steps", None, "Fine-tuning steps with the backbone frozen.")
flags.DEFINE_integer("finetune_steps", None, "Fine-tuning steps with everything trainable.")
flags.DEFINE_float("finetune_lr", None, "Adam learning rate of the second fine-tuning phase.")
flags.DEFINE_boolean("finetune_bn_inference", None, "Keep BatchNorm in inference mode while "
                     "fine-tuning (the Keras guide); false re-estimates it on the target.")
flags.DEFINE_integer("student_width", None, "Filters of the student's first stage.")
flags.DEFINE_integer("student_depth", None, "Stages of the student.")
flags.DEFINE_integer("student_steps", None, "Training steps of each student.")
flags.DEFINE_float("student_lr", None, "Student SGD learning rate (cosine decay).")
flags.DEFINE_float("alpha", None, "Weight of the label term in [0, 1].")
flags.DEFINE_float("temperature", None, "Softening temperature > 0.")
flags.DEFINE_integer("target_train_examples", None, "Target training examples (0: all).")
flags.DEFINE_integer("test_examples", None, "Target test examples (0: all).")
flags.DEFINE_boolean("augment", None, "Random flips (the teacher then runs on every batch).")


def config_from_flags():
    from keras_transfer.experiments import compact_transfer as ct

    names = ("source_dataset", "backbone", "backbone_alpha", "backbone_weights",
             "teacher_image_size", "source_steps", "head_steps", "finetune_steps", "finetune_lr",
             "finetune_bn_inference", "student_width", "student_depth", "student_steps",
             "student_lr", "alpha", "temperature", "target_train_examples", "test_examples",
             "augment")
    overrides = {name: getattr(FLAGS, name) for name in names}
    overrides.update(target_dataset=FLAGS.dataset, repeats=FLAGS.repeats)
    return ct.get_preset(FLAGS.preset, **overrides)


def main(argv):
    del argv
    config = config_from_flags()  # every setting checked before any data is read
    from keras_transfer.experiments import compact_transfer as ct

    t0 = time.perf_counter()
    data = ct.load_data(config, FLAGS.data_dir, seed=FLAGS.seed)
    load_seconds = time.perf_counter() - t0
    output_dir = recipe_utils.prepare_output_dir("compact_transfer", FLAGS.output_dir,
                                                 FLAGS.resume)
    recipe_utils.seed_everything(FLAGS.seed)
    from keras_transfer import report

    with recipe_utils.strategy_from_flags().scope():
        out = ct.run_experiment(config, data, output_dir, seed=FLAGS.seed)
    models = {"teacher": out["teacher"], **out["students"]}
    deployment = ct.deployment_report(models, data.target_test.x.shape[1:],
                                      os.path.join(output_dir, "tflite"), config.latency_runs)
    head = ct.headline(out, deployment)
    exports = {}
    if FLAGS.export:
        name = os.path.basename(os.path.normpath(output_dir))
        exports = recipe_utils.export_and_check(
            models, os.path.join(FLAGS.export_dir, "compact_transfer", name),
            data.target_test.x[:64])
    history = [{"run": run, "repeat": r, "epoch": 1, "step": config.student_steps,
                "test_accuracy": acc}
               for run in ("student_alone", "student_distilled")
               for r, acc in enumerate(out[run])]
    history.append({"run": "teacher", "repeat": 0, "epoch": 1, "step": config.finetune_steps,
                    "test_accuracy": out["teacher_accuracy"]["finetune"]})
    report.write_history(os.path.join(output_dir, "history.csv"), history)
    report.plot_bars(os.path.join(output_dir, "curves.png"),
                     {"teacher": [out["teacher_accuracy"]["finetune"]],
                      "student alone": out["student_alone"],
                      "student distilled": out["student_distilled"]},
                     title=f"Compact transfer on {config.target_dataset} ({config.repeats} "
                           f"repeats)", ylabel="Test accuracy")
    summary = {
        "recipe": "compact_transfer", "dataset": config.target_dataset, "preset": FLAGS.preset,
        "seed": FLAGS.seed, "repeats": config.repeats, "precision": FLAGS.precision,
        "settings": dataclasses.asdict(config),
        "data": {"target_train_examples": len(data.target_train),
                 "test_examples": len(data.target_test),
                 "source_train_examples": len(data.source_train) if data.source_train else 0},
        "source_test_accuracy": out["source_accuracy"],
        "teacher_accuracy": out["teacher_accuracy"],
        "student_alone": out["student_alone"], "student_distilled": out["student_distilled"],
        "headline": head, "deployment": deployment,
        "wall_seconds": {"load_data": load_seconds, **out["seconds"],
                         "total": time.perf_counter() - t0},
        "exports": exports,
    }
    recipe_utils.write_summary(output_dir, summary, report.markdown_table(
        ["model", "test accuracy (mean, min-max)", "parameters", "TFLite KB", "latency ms"],
        [[name, _acc(head, name, out), deployment[name]["parameters"],
          f"{deployment[name]['tflite_float32_bytes'] / 1024:.0f}",
          f"{deployment[name]['latency_seconds'] * 1e3:.3f}"] for name in models]))


def _acc(head, name, out):
    if name == "teacher":
        return f"{head['teacher_accuracy']:.4f}"
    s = head[f"{name}_accuracy"]
    return f"{s['mean']:.4f} ({s['min']:.4f}-{s['max']:.4f})"


if __name__ == "__main__":
    app.run(main)
