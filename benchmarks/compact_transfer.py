r"""Benchmark: the compact-transfer recipe's accuracy, size and latency, as a RESULTS.md section.

Runs recipes/compact_transfer.py (unless its folder already holds a finished
run, which is loaded) and writes section "compact_transfer" of
benchmarks/RESULTS.md: source pre-training, the fine-tuned teacher, the
compact student trained alone and distilled (each seed and mean/min/max), the
deployment table (parameters, FLOPs, TFLite sizes, TFLite CPU latency per
image) with the teacher/student ratios, and the recipe's wall time per phase.

    python benchmarks/compact_transfer.py                      # the quick preset, ~30 min
    python benchmarks/compact_transfer.py --setting='--alpha=0.5' --nowrite
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app
from absl import flags

from benchmarks.results import define_recipe_flags
from benchmarks.results import run_preset_recipe

FLAGS = flags.FLAGS
define_recipe_flags("compact_transfer")

SECTION = "compact_transfer"
TIME_LIMIT_SECONDS = 40 * 60  # the budget for the quick preset on 2 cores


def _stat(s):
    return f"{s['mean']:.4f} ({s['min']:.4f}-{s['max']:.4f})"


def _teacher_text(summary):
    cfg, data = summary["settings"], summary["data"]
    if cfg["backbone_weights"] == "source":
        source = (
            f"pre-trained from scratch on {cfg['source_dataset']} "
            f"({data['source_train_examples']:,} images, {cfg['source_steps']} Adam steps; "
            f"test accuracy {summary['source_test_accuracy']:.4f})"
        )
    else:
        source = f"weights {cfg['backbone_weights']}"
    if cfg["finetune_mode"] == "cached":
        how = (
            f"the frozen layers up to {cfg['finetune_from']} run once over the target images "
            f"(features cached), then {cfg['head_steps']} steps head only (Adam "
            f"{cfg['head_lr']}) and {cfg['finetune_steps']} steps of the layers after "
            f"{cfg['finetune_from']} + head (Adam {cfg['finetune_lr']}) on the cached "
            f"features, BatchNorm in inference mode"
        )
    else:
        how = (
            f"{cfg['head_steps']} steps head only (Adam {cfg['head_lr']}), then "
            f"{cfg['finetune_steps']} steps every layer (Adam {cfg['finetune_lr']}) on images"
        )
    return (
        f"Teacher: {cfg['backbone']} {source}, fine-tuned at {cfg['teacher_image_size']}px: "
        f"{how}, batch {cfg['batch_size']}."
    )


def section(summary):
    """Markdown of one recipe summary (see the module docstring)."""
    from keras_transfer.report import markdown_table

    cfg, head, dep = summary["settings"], summary["headline"], summary["deployment"]
    wall, data = summary["wall_seconds"], summary["data"]
    teacher = summary["teacher_accuracy"]
    widths = list(head["widths"])
    lines = [
        f"Target {summary['dataset']}: {data['target_train_examples']:,} training images, "
        f"{data['test_examples']:,} test images. {_teacher_text(summary)} Students: compact "
        f"CNN depth {cfg['student_depth']}, widths {', '.join(widths)}, {cfg['student_steps']} "
        f"SGD steps of {cfg['student_batch_size']} (lr {cfg['student_lr']}, cosine), the same "
        f"initial weights and batches alone and distilled (alpha {cfg['alpha']}, T "
        f"{cfg['temperature']}, teacher logits "
        f"{'recomputed per batch (augmentation)' if cfg['augment'] else 'cached'}); "
        f"{summary['repeats']} seeds per width.",
        "",
        markdown_table(
            ["teacher", "test accuracy"],
            [["head only", f"{teacher['head']:.4f}"], ["fine-tuned", f"{teacher['finetune']:.4f}"]],
        ),
        "",
        "Students per width (mean, min-max over seeds; gap closed = (distilled - alone) / "
        "(teacher - alone)):",
        "",
        markdown_table(
            [
                "width",
                "parameters",
                "alone",
                "distilled",
                "distilled - alone",
                "seeds distilled > alone",
                "gap closed",
            ],
            [
                [
                    w,
                    f"{dep['student_distilled_w' + w]['parameters']:,}",
                    _stat(h["student_alone_accuracy"]),
                    _stat(h["student_distilled_accuracy"]),
                    f"{h['distillation_gain']:+.4f}",
                    f"{h['wins']} of {summary['repeats']}",
                    "- (alone >= teacher)"
                    if h["gap_closed"] is None
                    else f"{h['gap_closed']:+.2f}",
                ]
                for w, h in head["widths"].items()
            ],
        ),
        "",
        "Per seed (same seed: same initial weights and batches):",
        "",
        markdown_table(
            ["width", "seed", "alone", "distilled", "distilled - alone"],
            [
                [w, i, f"{a:.4f}", f"{d:.4f}", f"{d - a:+.4f}"]
                for w, row in summary["students"].items()
                for i, (a, d) in enumerate(zip(row["alone"], row["distilled"]))
            ],
        ),
        "",
        "Deployment (TFLite latency: float32 model, batch 1, interpreter on 1 thread, median; "
        "a width's alone and distilled students share the architecture):",
        "",
        markdown_table(
            [
                "model",
                "parameters",
                "FLOPs per image",
                "TFLite float32 KB",
                "TFLite dynamic-range KB",
                "latency ms",
            ],
            [
                [
                    name,
                    f"{r['parameters']:,}",
                    f"{r['flops']:,}",
                    f"{r['tflite_float32_bytes'] / 1024:,.0f}",
                    f"{r['tflite_dynamic_range_bytes'] / 1024:,.0f}",
                    f"{r['latency_seconds'] * 1e3:.3f}",
                ]
                for name, r in dep.items()
            ],
        ),
        "",
        markdown_table(
            ["teacher / student", *[f"width {w}" for w in widths]],
            [
                [label, *[f"{head['widths'][w][key]:.1f}x" for w in widths]]
                for label, key in (
                    ("parameters", "size_ratio_teacher_over_student"),
                    ("TFLite file", "tflite_size_ratio_teacher_over_student"),
                    ("FLOPs", "flops_ratio_teacher_over_student"),
                    ("latency", "latency_ratio_teacher_over_student"),
                )
            ],
        ),
        "",
    ]
    students = wall["students"]
    phases = [
        ["load data", wall["load_data"]],
        ["source pre-training", wall["pretrain"]],
        ["teacher fine-tuning (incl. feature caching)", wall["finetune"]],
        [
            "  of which feature caching (lower part, train + test images)",
            wall.get("feature_cache", 0.0),
        ],
        ["teacher logits (once)", wall["teacher_logits"]],
        ["students alone (training, all widths and seeds)", students["alone"]],
        ["students distilled (training, all widths and seeds)", students["distilled"]],
        ["whole recipe (incl. evaluation, TFLite, export)", wall["total"]],
    ]
    verdict = (
        f"Whole recipe {wall['total'] / 60:.1f} min (target < {TIME_LIMIT_SECONDS // 60} "
        f"min: {'met' if wall['total'] < TIME_LIMIT_SECONDS else 'NOT met'})."
    )
    lines += [
        markdown_table(["phase", "seconds"], [[p, f"{s:.0f}"] for p, s in phases]),
        "",
        verdict,
    ]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from benchmarks.results import publish

    publish(SECTION, section(run_preset_recipe("compact_transfer")), FLAGS.write)


if __name__ == "__main__":
    app.run(main)
