r"""Benchmark: the layer-transfer paper's accuracy[k][n] tables on MNIST and CIFAR-100.

A `benchmarks.sweep.Sweep` of recipes/layer_transfer.py (quick preset): each
named run is one dataset and the recipe flags it changes; section
"layer_transfer" of benchmarks/RESULTS.md is written by
`keras_transfer.experiments.layer_transfer.report.markdown` from the runs'
kept summaries: the accuracy[k][n] table (mean and min-max over trials), the
best n per k and its gain over n = 0, the source net's training- and
test-set accuracy, the recipe's wall time, and comparisons between runs,
next to the paper's qualitative shape (transfer helps most with 1-10
samples per class and less with 40; retaining C1-C5 leaves too little
capacity).

The ablations that explain a difference from the paper (training budget,
number of source classes, output coding) are runs of their own, so they are
measured by the very command a user runs; the recipe's own flags (data
folder, seed, precision, ...) go in ``--recipe_flags``, given to every run:

    python benchmarks/layer_transfer.py --recipe_flags='--data_dir=/work/shared/data --seed=0'
    python benchmarks/layer_transfer.py --runs=mnist,mnist-output_softmax --nowrite
    python benchmarks/layer_transfer.py --render --check

A run whose folder (benchmarks/runs/layer_transfer/<run>) holds a finished
run is not run again, an unfinished one is resumed. Recipe defaults: MNIST
digits 0-4 -> 5-9; CIFAR-100 (grayscale) classes 0-19 -> 20-39.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app

from benchmarks import sweep
from keras_transfer.experiments.layer_transfer import report

sweep.define_flags()

PRESET = "quick"
# (dataset, the recipe flags the run changes); in the section's order.
SETTINGS = [
    ("mnist", []),
    ("mnist", ["--target_epochs=100"]),
    ("cifar100", []),
    ("cifar100", ["--target_epochs=100"]),
    ("cifar100", ["--source_steps=16000"]),
    ("cifar100", ["--source_classes=40-99", "--source_steps=16000"]),
]
OPTIONAL = [("mnist", ["--output=softmax"]), ("cifar100", ["--output=softmax"])]


def run_name(dataset, args):
    """A run's name: its dataset, then its flags (``=`` and ``,`` as ``_``).

    Example:
    >>> run_name("cifar100", ["--source_classes=40-99", "--source_steps=16000"])
    'cifar100-source_classes_40-99-source_steps_16000'
    >>> run_name("mnist", [])
    'mnist'
    """
    slugs = [a.lstrip("-").replace("=", "_").replace(",", "_") for a in args]
    return "-".join([dataset, *slugs])


SWEEP = sweep.Sweep(
    section="layer_transfer",
    recipe="layer_transfer",
    runs={
        run_name(d, args): [f"--dataset={d}", f"--preset={PRESET}", *args]
        for d, args in SETTINGS + OPTIONAL
    },
    markdown=report.markdown,
    default_runs=tuple(run_name(d, args) for d, args in SETTINGS),
)

if __name__ == "__main__":
    app.run(lambda argv: sweep.main(SWEEP, argv))
