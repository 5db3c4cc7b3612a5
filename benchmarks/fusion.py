r"""Benchmark: the transferred-fusion recipe's hybrid vs single-model transfer, as a RESULTS.md section.

Runs recipes/fusion.py (unless its folder already holds a finished run, which
is loaded) and writes section "fusion" of benchmarks/RESULTS.md: the
pre-trained nets' accuracy, the Table 2/3-shaped row (each model's transfer
accuracy and the hybrid's, mean and min-max over repeats), every repeat, and
the recipe's wall time per phase.

    python benchmarks/fusion.py                              # the quick preset, ~10 min
    python benchmarks/fusion.py --setting='--retrain_steps=1000' --nowrite
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from benchmarks.results import define_recipe_flags  # noqa: E402
from benchmarks.results import run_preset_recipe  # noqa: E402

FLAGS = flags.FLAGS
define_recipe_flags("fusion")

SECTION = "fusion"
TIME_LIMIT_SECONDS = 40 * 60  # the budget for the quick preset on 2 cores
PAPER_ROW = ("Paper, Table 3 (Custom 1 | Custom 2 | MNIST | CIFAR-100 | Natural Images, 100x100): "
             "model 1 transfer 52.86 %, model 2 transfer 55.15 %, hybrid 62.23 %.")


def section(summary):
    """Markdown of one fusion recipe summary (see the module docstring)."""
    from keras_transfer.report import markdown_table

    cfg, head, wall = summary["settings"], summary["headline"], summary["wall_seconds"]
    pre = {k: "loaded" if v is None else f"{v:.4f}"
           for k, v in summary["pretrain_accuracy"].items()}
    lines = [
        f"Model 1 {cfg['model_1']} pre-trained on {cfg['dataset_1']} (test accuracy "
        f"{pre['1']}), model 2 {cfg['model_2']} on {cfg['dataset_2']} ({pre['2']}); "
        f"{cfg['pretrain_steps']} SGD steps of {cfg['batch_size']} each "
        f"({cfg['pretrain_examples'] or 'all'} examples), images {cfg['image_size']}x"
        f"{cfg['image_size']} RGB. Retrained on {cfg['retrain_dataset']}: the hybrid (pairs "
        f"{cfg['pairs']}, head {cfg['head_units']} units) and each model alone (new head, "
        f"everything fine-tuned), {cfg['retrain_steps']} steps each (lr {cfg['retrain_lr']}), "
        f"{summary['repeats']} repeats.",
        "",
        head["table"],
        "",
        PAPER_ROW,
        "",
        markdown_table(["repeat", "model 1 alone", "model 2 alone", "hybrid"],
                       [[r, f"{a:.4f}", f"{b:.4f}", f"{h:.4f}"] for r, (a, b, h) in enumerate(
                           zip(summary["single_1"], summary["single_2"], summary["hybrid"]))]),
        "",
        f"Hybrid minus the better single model (means): {head['hybrid_minus_best_single']:+.4f}.",
        "",
        markdown_table(["phase", "seconds"],
                       [[p, f"{s:.0f}"] for p, s in wall.items()]),
        "",
        f"Whole recipe {wall['total'] / 60:.1f} min (target < {TIME_LIMIT_SECONDS // 60} min: "
        f"{'met' if wall['total'] < TIME_LIMIT_SECONDS else 'NOT met'}).",
    ]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from benchmarks.results import publish

    publish(SECTION, section(run_preset_recipe("fusion")), FLAGS.write)


if __name__ == "__main__":
    app.run(main)
