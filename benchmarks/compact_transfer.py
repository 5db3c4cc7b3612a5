r"""Benchmark: the compact-transfer recipe's accuracy, size and latency, as a RESULTS.md section.

A `benchmarks.sweep.Sweep` of recipes/compact_transfer.py with one run, the
quick preset; section "compact_transfer" of benchmarks/RESULTS.md is written
by `keras_transfer.experiments.compact_transfer.report.markdown` from the
run's kept summary: source pre-training, the fine-tuned teacher, the compact
student trained alone and distilled (each seed and mean/min/max), the
deployment table (parameters, FLOPs, TFLite sizes, TFLite CPU latency per
image) with the teacher/student ratios, and the recipe's wall time per
phase. The recipe's own flags (data folder, seed, precision, ...) go in
``--recipe_flags``:

    python benchmarks/compact_transfer.py                  # about 17 minutes on 2 cores
    python benchmarks/compact_transfer.py --recipe_flags='--data_dir=/work/shared/data' --nowrite
    python benchmarks/compact_transfer.py --render --check

A run whose folder (benchmarks/runs/compact_transfer/<run>) holds a finished
run is not run again (delete it to measure other recipe flags), an
unfinished one is resumed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app

from benchmarks import sweep
from keras_transfer.experiments.compact_transfer import report

sweep.define_flags()

SWEEP = sweep.Sweep(
    section="compact_transfer",
    recipe="compact_transfer",
    runs={"quick": ["--preset=quick"]},
    markdown=report.markdown,
)

if __name__ == "__main__":
    app.run(lambda argv: sweep.main(SWEEP, argv))
