r"""Benchmark: transferred fusion against what a user would do instead, as a RESULTS.md section.

A `benchmarks.sweep.Sweep` of recipes/fusion.py (quick preset), one run per
row; section "fusion" of benchmarks/RESULTS.md is written by
`keras_transfer.experiments.fusion.report.markdown` from the runs' kept
summaries: per row a Table 3-shaped table (each model's transfer learning
frozen and fine-tuned, the hybrid with the paper's sums and with gated
exchanges, the ensemble of the two single models, the better single model
given the hybrid's wall time), every run's parameters, FLOPs and seconds
(pre-training included), the hybrids' differences to the baselines, the
learned gates, and the paper's numbers for reference.

Runs: ``row1`` Table 3 row 1 (Custom 1 | Custom 2, MNIST | CIFAR-100 ->
Natural Images, the quick preset itself), ``row3`` Table 3 row 3 (CIFAR-100 |
CIFAR-100), ``lite0`` Table 2's "Custom | Inception V3 | CIFAR-100 | - |
Natural Images" with the ImageNet EfficientNet-Lite0 standing in for
Inception V3. The recipe's own flags (data folder, seed, precision, ...) go
in ``--recipe_flags``, given to every run:

    python benchmarks/fusion.py --recipe_flags='--data_dir=/work/shared/data --seed=0'
    python benchmarks/fusion.py --runs=row1 --nowrite      # about 20 minutes on 2 cores
    python benchmarks/fusion.py --render --check

All three rows take about 75 minutes on 2 cores. A run whose folder
(benchmarks/runs/fusion/<run>) holds a finished run is not run again, an
unfinished one is resumed.
"""

import functools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app

from benchmarks import sweep
from keras_transfer.experiments.fusion import report

sweep.define_flags()

# run name -> (title, the recipe flags of the run on top of the quick preset, the paper's numbers)
ROWS = {
    "row1": (
        "Table 3 row 1: Custom 1 | Custom 2, MNIST | CIFAR-100 -> Natural Images",
        [],
        "Paper, Table 3 (100x100): model 1 transfer 52.86 %, model 2 transfer 55.15 %, "
        "hybrid 62.23 %.",
    ),
    "row3": (
        "Table 3 row 3: Custom 1 | Custom 2, CIFAR-100 | CIFAR-100 -> Natural Images",
        ["--dataset_1=cifar100"],
        "Paper, Table 3 (100x100): model 1 transfer 42.15 %, model 2 transfer 38.46 %, "
        "hybrid 68.48 %.",
    ),
    "lite0": (
        "Table 2 row 7 with EfficientNet-Lite0 (ImageNet) for Inception V3: Custom | "
        "Lite0, CIFAR-100 | ImageNet -> Natural Images",
        [
            "--dataset_1=cifar100",
            "--model_2=EfficientNetLite0",
            "--weights_2=imagenet",
            "--retrain_steps=200",
        ],
        "Paper, Table 2 (Custom | Inception V3, 100x100): hybrid 73.23 % (no single-model "
        "numbers given).",
    ),
}

SWEEP = sweep.Sweep(
    section="fusion",
    recipe="fusion",
    runs={name: ["--preset=quick", *args] for name, (_, args, _) in ROWS.items()},
    markdown=functools.partial(
        report.markdown, rows={name: (title, paper) for name, (title, _, paper) in ROWS.items()}
    ),
)

if __name__ == "__main__":
    app.run(lambda argv: sweep.main(SWEEP, argv))
