r"""Benchmark: which image side should the compact-transfer teacher see? Accuracy vs cost.

CIFAR-10 images are 32x32; ImageNet EfficientNet-Lite0 was trained at 224 px
and divides the side by 32, so the teacher upsamples inside the model. A
larger side gives a better teacher and costs more in every phase that runs
its lower part (feature caching) or all of it (per-batch distillation, TFLite
latency). A `benchmarks.sweep.Sweep` of recipes/compact_transfer.py (quick
preset), one run per side, its student phase made minimal (one width, one
step, one seed): section "teacher_size" of benchmarks/RESULTS.md is written
by `keras_transfer.experiments.compact_transfer.report.teacher_size_markdown`
from the runs' kept summaries: head-only and fine-tuned test accuracy, the
seconds of feature caching and of the whole teacher phase, and the TFLite
teacher's latency. The recipe's own flags (data folder, seed, ...) go in
``--recipe_flags``, given to every run:

    python benchmarks/teacher_size.py                      # 64, 96, 128 px
    python benchmarks/teacher_size.py --runs=64,96 --nowrite
    python benchmarks/teacher_size.py --render --check

A run whose folder (benchmarks/runs/teacher_size/<run>) holds a finished run
is not run again, an unfinished one is resumed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app

from benchmarks import sweep
from keras_transfer.experiments.compact_transfer import report

sweep.define_flags()

SIDES = (64, 96, 128)
# Only the teacher's numbers are read: the students cost as little as the recipe allows.
MINIMAL_STUDENTS = ["--student_widths=4", "--student_steps=1", "--repeats=1"]

SWEEP = sweep.Sweep(
    section="teacher_size",
    recipe="compact_transfer",
    runs={
        str(side): ["--preset=quick", f"--teacher_image_size={side}", *MINIMAL_STUDENTS]
        for side in SIDES
    },
    markdown=report.teacher_size_markdown,
)

if __name__ == "__main__":
    app.run(lambda argv: sweep.main(SWEEP, argv))
