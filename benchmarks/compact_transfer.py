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

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from benchmarks.results import define_recipe_flags  # noqa: E402
from benchmarks.results import run_preset_recipe  # noqa: E402

FLAGS = flags.FLAGS
define_recipe_flags("compact_transfer")

SECTION = "compact_transfer"
TIME_LIMIT_SECONDS = 40 * 60  # the budget for the quick preset on 2 cores
MIN_SIZE_RATIO, MIN_LATENCY_RATIO = 5.0, 3.0  # the deployment targets


def _stat(s):
    return f"{s['mean']:.4f} ({s['min']:.4f}-{s['max']:.4f})"


def section(summary):
    """Markdown of one recipe summary (see the module docstring)."""
    from keras_transfer.report import markdown_table

    cfg, head, dep = summary["settings"], summary["headline"], summary["deployment"]
    wall = summary["wall_seconds"]
    data = summary["data"]
    source = (f"pre-trained from scratch on {cfg['source_dataset']} "
              f"({data['source_train_examples']:,} images at {cfg['teacher_image_size']}px, "
              f"{cfg['source_steps']} Adam steps of {cfg['batch_size']}, BatchNorm momentum "
              f"{cfg['source_bn_momentum']}; test accuracy {summary['source_test_accuracy']:.4f})"
              if cfg["backbone_weights"] is None else f"weights {cfg['backbone_weights']}")
    teacher = summary["teacher_accuracy"]
    lines = [
        f"Target {summary['dataset']}: {data['target_train_examples']:,} training images, "
        f"{data['test_examples']:,} test images. Teacher: {cfg['backbone']} (alpha "
        f"{cfg['backbone_alpha']}) {source}; fine-tuned on the target at "
        f"{cfg['teacher_image_size']}px: {cfg['head_steps']} steps head only (backbone frozen, "
        f"Adam {cfg['head_lr']}), then {cfg['finetune_steps']} steps everything (Adam "
        f"{cfg['finetune_lr']}, BatchNorm "
        f"{'in inference mode' if cfg.get('finetune_bn_inference', True) else 're-estimated'}"
        f" in this phase). Student: compact CNN width "
        f"{cfg['student_width']}, depth {cfg['student_depth']}, {cfg['student_steps']} SGD steps "
        f"of {cfg['student_batch_size']} (lr {cfg['student_lr']}, cosine), the same initial "
        f"weights and batches alone and distilled (alpha {cfg['alpha']}, T "
        f"{cfg['temperature']}, teacher logits "
        f"{'recomputed per batch (augmentation)' if cfg['augment'] else 'cached'}); "
        f"{summary['repeats']} seeds.",
        "",
        markdown_table(
            ["model", "test accuracy"],
            [["teacher, head only", f"{teacher['head']:.4f}"],
             ["teacher, fine-tuned", f"{teacher['finetune']:.4f}"],
             ["student alone (mean, min-max)", _stat(head["student_alone_accuracy"])],
             ["student distilled (mean, min-max)", _stat(head["student_distilled_accuracy"])]]),
        "",
        "Per seed (same seed: same initial weights and batches):",
        "",
        markdown_table(["seed", "student alone", "student distilled", "distilled - alone"],
                       [[i, f"{a:.4f}", f"{d:.4f}", f"{d - a:+.4f}"] for i, (a, d) in
                        enumerate(zip(summary["student_alone"], summary["student_distilled"]))]),
        "",
        f"Distilled minus alone, mean over seeds: {head['distillation_gain']:+.4f} "
        f"({'distilled better' if head['distillation_gain'] > 0 else 'distilled NOT better'}).",
        "",
        "Deployment (TFLite latency: float32 model, batch 1, interpreter on 1 thread, median):",
        "",
        markdown_table(
            ["model", "parameters", "FLOPs per image", "TFLite float32 KB",
             "TFLite dynamic-range KB", "latency ms"],
            [[name, f"{r['parameters']:,}", f"{r['flops']:,}",
              f"{r['tflite_float32_bytes'] / 1024:,.0f}",
              f"{r['tflite_dynamic_range_bytes'] / 1024:,.0f}",
              f"{r['latency_seconds'] * 1e3:.3f}"] for name, r in dep.items()]),
        "",
        f"Teacher / distilled student: parameters {head['size_ratio_teacher_over_student']:.1f}x "
        f"(target >= {MIN_SIZE_RATIO:.0f}x: "
        f"{'met' if head['size_ratio_teacher_over_student'] >= MIN_SIZE_RATIO else 'NOT met'}), "
        f"TFLite file {head['tflite_size_ratio_teacher_over_student']:.1f}x, FLOPs "
        f"{head['flops_ratio_teacher_over_student']:.1f}x, latency "
        f"{head['latency_ratio_teacher_over_student']:.1f}x (target >= "
        f"{MIN_LATENCY_RATIO:.0f}x: "
        f"{'met' if head['latency_ratio_teacher_over_student'] >= MIN_LATENCY_RATIO else 'NOT met'}"
        f").",
        "",
    ]
    students = wall["students"]
    phases = [["load data", wall["load_data"]], ["source pre-training", wall["pretrain"]],
              ["fine-tuning (head + all)", wall["finetune"]],
              ["teacher logits (once)", wall["teacher_logits"]],
              ["students alone (training, all seeds)", sum(students["alone"])],
              ["students distilled (training, all seeds)", sum(students["distilled"])]]
    if "total" in wall:
        phases.append(["whole recipe (incl. evaluation, TFLite, export)", wall["total"]])
        verdict = (f"Whole recipe {wall['total'] / 60:.1f} min (target < "
                   f"{TIME_LIMIT_SECONDS // 60} min: "
                   f"{'met' if wall['total'] < TIME_LIMIT_SECONDS else 'NOT met'}).")
    else:
        verdict = "This run predates the recipe's total wall time; the phases above are partial."
    lines += [markdown_table(["phase", "seconds"], [[p, f"{s:.0f}"] for p, s in phases]), "",
              verdict]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from benchmarks.results import publish

    publish(SECTION, section(run_preset_recipe("compact_transfer")), FLAGS.write)


if __name__ == "__main__":
    app.run(main)
