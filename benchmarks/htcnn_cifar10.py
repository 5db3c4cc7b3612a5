r"""Benchmark: HTCNN vs the plain cloud CNN (CCNN) on CIFAR-10, paper settings, both data settings.

Runs recipes/htcnn.py once per data setting (identical data, Table I data
locality) through `benchmarks.sweep` (a finished run is not run again, an
unfinished one is resumed) and writes section "htcnn_cifar10" of
benchmarks/RESULTS.md with `keras_transfer.experiments.htcnn.report.markdown`:
per run the test accuracy of HTCNN and CCNN after every epoch and the gain
(means over repeats, from the kept history.csv), the curves, then AAG, PBP,
final accuracies and times to the CCNN's final accuracy, next to the paper's
numbers. Hours on 2 CPU cores (per run: 4 x 5,000 shallow steps, then
2 x 10 x 1,000 cloud steps, 11 evaluations of the 10,000 test images per
cloud CNN):

    python benchmarks/htcnn_cifar10.py \
        --recipe_flags='--precision=mixed_bfloat16 --data_dir=/work/shared/data'
    python benchmarks/htcnn_cifar10.py --runs=locality \
        --recipe_flags='--precision=mixed_bfloat16 --repeats=3'
    python benchmarks/htcnn_cifar10.py --render --check   # re-render from the kept files

Seed, repeats, precision, determinism and data folder are the recipe's
flags, given in ``--recipe_flags`` (a run's own flags come after them and
win); the section states the values each run used.
"""

import functools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app

from benchmarks import sweep
from keras_transfer.experiments.htcnn import report

SECTION = "htcnn_cifar10"
# The paper preset on CIFAR-10; 10 epochs of 1,000 iterations (the paper: 200) and
# 5,000 iterations per shallow CNN (the paper: 10,000) so a run fits a CPU session.
PAPER_RUN = [
    "--dataset=cifar10",
    "--preset=paper",
    "--epochs=10",
    "--steps_per_epoch=1000",
    "--shallow_steps=5000",
]
# The HTCNN paper's own results on CIFAR-10 (htcnn-hierarchical-transfer.txt,
# section IV-B3). Shown only as the paper's reference, next to (never mixed with)
# the runs' numbers.
PAPER_SOURCE = (
    "HTCNN paper, section IV-B3 (CIFAR-10, m = 4, no dropout, 200 epochs of 1,000 "
    "iterations, 9 repeats, on a GPU):"
)
PAPER = {
    "identical": {"aag": "0.12", "pbp": "1.0"},
    "locality": {
        "aag": "0.04",
        "pbp": 'not given as a number ("HTCNN outperforms CCNN in the entire learning processes")',
    },
}
SWEEP = sweep.Sweep(
    section=SECTION,
    recipe="htcnn",
    runs={
        "identical": PAPER_RUN + ["--setting=identical"],
        "locality": PAPER_RUN + ["--setting=locality"],
    },
    markdown=functools.partial(
        report.markdown,
        paper=PAPER,
        paper_source=PAPER_SOURCE,
        results_dir=f"results/{SECTION}",
    ),
)
sweep.define_flags()

if __name__ == "__main__":
    app.run(lambda argv: sweep.main(SWEEP, argv))
