r"""Benchmark: transferred fusion against what a user would do instead, as a RESULTS.md section.

Runs recipes/fusion.py once per row (a folder that already holds a finished
run is loaded) and writes section "fusion" of benchmarks/RESULTS.md: per row
a Table 3-shaped table (each model's transfer learning frozen and fine-tuned,
the hybrid with the paper's sums and with gated exchanges, the ensemble of the
two single models, the better single model given the hybrid's wall time),
every run's parameters, FLOPs and seconds (pre-training included), the
hybrids' differences to the baselines, the learned gates, and the paper's
numbers for reference.

Rows (--rows): ``row1`` Table 3 row 1 (Custom 1 | Custom 2, MNIST | CIFAR-100
-> Natural Images, the quick preset itself), ``row3`` Table 3 row 3
(CIFAR-100 | CIFAR-100), ``lite0`` Table 2's "Custom | Inception V3 |
CIFAR-100 | - | Natural Images" with the ImageNet EfficientNet-Lite0 standing
in for Inception V3.

    python benchmarks/fusion.py                     # all rows, about 75 minutes on 2 cores
    python benchmarks/fusion.py --rows=row1 --nowrite
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app
from absl import flags

from benchmarks.results import define_recipe_flags
from benchmarks.results import ran_on
from benchmarks.results import run_preset_recipe

FLAGS = flags.FLAGS
define_recipe_flags("fusion")

SECTION = "fusion"
TIME_LIMIT_SECONDS = 40 * 60  # the budget per row on 2 cores
# name -> (title, extra recipe flags, the paper's numbers)
ROWS = {
    "row1": (
        "Table 3 row 1: Custom 1 | Custom 2, MNIST | CIFAR-100 -> Natural Images",
        "",
        "Paper, Table 3 (100x100): model 1 transfer 52.86 %, model 2 transfer 55.15 %, "
        "hybrid 62.23 %.",
    ),
    "row3": (
        "Table 3 row 3: Custom 1 | Custom 2, CIFAR-100 | CIFAR-100 -> Natural Images",
        "--dataset_1=cifar100",
        "Paper, Table 3 (100x100): model 1 transfer 42.15 %, model 2 transfer 38.46 %, "
        "hybrid 68.48 %.",
    ),
    "lite0": (
        "Table 2 row 7 with EfficientNet-Lite0 (ImageNet) for Inception V3: Custom | "
        "Lite0, CIFAR-100 | ImageNet -> Natural Images",
        "--dataset_1=cifar100 --model_2=EfficientNetLite0 --weights_2=imagenet --retrain_steps=200",
        "Paper, Table 2 (Custom | Inception V3, 100x100): hybrid 73.23 % (no single-model "
        "numbers given).",
    ),
}


def _vs(value):
    return "-" if value is None else f"{100 * value:+.2f}"


def row_section(title, summary, paper, command):
    """Markdown of one row: settings, tables, differences, gates, time."""
    from keras_transfer.experiments.fusion import FusionConfig
    from keras_transfer.experiments.fusion.report import headline
    from keras_transfer.report import markdown_table

    cfg, wall = summary["settings"], summary["wall_seconds"]
    # Rendered again from the runs (not the stored headline), so a finished
    # run folder shows this version's tables.
    head = headline(summary, FusionConfig(**cfg))
    pre = summary["pretrain"]

    def net(k):
        p = pre[k]
        if p["weights"] is not None:
            return f"{cfg['model_' + k]} loaded ({p['weights']})"
        return (
            f"{cfg['model_' + k]} pre-trained on {cfg['dataset_' + k]} (test accuracy "
            f"{p['accuracy']:.4f}, {p['seconds']:.0f} s)"
        )

    size = cfg["image_size"]
    inner = cfg["imagenet_image_size"]
    lines = [
        f"### {title}",
        "",
        f"Command: `{command}`",
        *ran_on(summary),
        "",
        f"Model 1 {net('1')}; model 2 {net('2')}; {cfg['pretrain_steps']} SGD steps of "
        f"{cfg['batch_size']} ({cfg['pretrain_examples'] or 'all'} examples) per pre-trained "
        f"net. Images {size}x{size} RGB"
        + (f" (ImageNet nets resize to {inner}x{inner} inside)" if inner else "")
        + f". Retraining on {cfg['dataset']}: {cfg['retrain_steps']} steps per run "
        f"(SGD lr {cfg['retrain_lr']}, momentum 0.9), head {cfg['head_units']} units + dropout "
        f"0.5 for every model, pairs {cfg['pairs']}; {summary['repeats']} repeats (seeds).",
        "",
        head["table"],
        "",
        paper,
        "",
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
                [run, _vs(v["better_single"]), _vs(v["ensemble"]), _vs(v["matched_single"])]
                for run, v in head["hybrid_vs"].items()
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
    gates = []
    for run, rows in summary["runs"].items():
        if run.startswith("hybrid_gated"):
            for ex in rows[0]["gates"]:
                vals = [(r["gates"][ex]["b_to_a"], r["gates"][ex]["a_to_b"]) for r in rows]
                gates.append([run, ex] + [", ".join(f"{v[i]:+.3f}" for v in vals) for i in (0, 1)])
    if gates:
        lines += [
            "",
            "Learned gates (per repeat; 0 = no exchange):",
            "",
            markdown_table(
                ["hybrid", "exchange", "model 2 -> model 1", "model 1 -> model 2"], gates
            ),
        ]
    lines += [
        "",
        markdown_table(["phase", "seconds"], [[p, f"{s:.0f}"] for p, s in wall.items()]),
        "",
        f"Whole row {wall['total'] / 60:.1f} min (target < {TIME_LIMIT_SECONDS // 60} "
        f"min: {'met' if wall['total'] < TIME_LIMIT_SECONDS else 'NOT met'}).",
    ]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from benchmarks.results import publish

    parts = []
    for name in FLAGS.rows:
        title, setting, paper = ROWS[name]
        setting = " ".join(x for x in (setting, FLAGS.setting) if x)
        summary = run_preset_recipe("fusion", setting)
        command = (
            f"python recipes/fusion.py --preset={FLAGS.preset} --seed={FLAGS.seed} "
            f"--noexport {setting}"
        ).rstrip()
        parts += [row_section(title, summary, paper, command), ""]
    publish(SECTION, "\n".join(parts).rstrip(), FLAGS.write)


flags.DEFINE_list("rows", list(ROWS), f"Rows to run, among {list(ROWS)}.")
flags.register_validator("rows", lambda v: set(v) <= set(ROWS), message=f"rows among {list(ROWS)}")

if __name__ == "__main__":
    app.run(main)
