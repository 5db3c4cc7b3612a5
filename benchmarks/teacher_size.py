r"""Benchmark: which image side should the compact-transfer teacher see? Accuracy vs cost.

CIFAR-10 images are 32x32; ImageNet EfficientNet-Lite0 was trained at 224 px
and divides the side by 32, so the teacher upsamples inside the model. A
larger side gives a better teacher and costs more in every phase that runs
its lower part (feature caching) or all of it (per-batch distillation, TFLite
latency). For each side this runs the compact-transfer experiment's teacher
phase (`keras_transfer.experiments.compact_transfer.fine_tune`, the preset's
settings and fine-tuning mode) and reports head-only and fine-tuned test
accuracy with the seconds of feature caching and of the whole phase. Writes
section "teacher_size" of benchmarks/RESULTS.md:

    python benchmarks/teacher_size.py                       # 64, 96, 128 px, quick preset
    python benchmarks/teacher_size.py --sizes=64,160 --nowrite
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_list("sizes", ["64", "96", "128"], "Teacher image sides to compare.")
flags.DEFINE_string("preset", "quick", "compact_transfer preset whose teacher phase is run.")
flags.DEFINE_string("dataset", "cifar10", "Target dataset.")
flags.DEFINE_string("data_dir", None, "Folder of the datasets (default $KERAS_TRANSFER_DATA).")
flags.DEFINE_integer("seed", 0, "Seed.")
flags.DEFINE_boolean("write", True, "Write section 'teacher_size' of benchmarks/RESULTS.md.")

SECTION = "teacher_size"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    import warnings

    from benchmarks.results import publish
    from keras_transfer.experiments import compact_transfer as ct
    from keras_transfer.experiments.compact_transfer.teacher import fine_tune
    from keras_transfer.report import markdown_table

    warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
    sizes = [int(s) for s in FLAGS.sizes]
    configs = [
        ct.get_preset(FLAGS.preset, dataset=FLAGS.dataset, teacher_image_size=s) for s in sizes
    ]  # every setting checked before anything runs
    data = ct.load_data(configs[0], FLAGS.data_dir, seed=FLAGS.seed)
    rows = []
    for size, config in zip(sizes, configs):
        t0 = time.perf_counter()
        _, acc, cache = fine_tune(config, data, config.backbone_weights, seed=FLAGS.seed, log=None)
        seconds = time.perf_counter() - t0
        rows.append(
            [
                size,
                f"{acc['head']:.4f}",
                f"{acc['finetune']:.4f}",
                f"{cache['seconds']:.0f}",
                f"{seconds:.0f}",
            ]
        )
        print(rows[-1], flush=True)
    cfg = configs[0]
    markdown = "\n".join(
        [
            f"Teacher phase of the compact-transfer {FLAGS.preset} preset on {FLAGS.dataset} "
            f"({len(data.train):,} training, {len(data.test):,} test images): "
            f"{cfg.backbone} ({cfg.backbone_weights}), fine-tuning mode {cfg.finetune_mode} (from "
            f"{cfg.finetune_from}), {cfg.head_steps} head + {cfg.finetune_steps} fine-tuning steps "
            f"of {cfg.batch_size}; one seed, run one after another in one process.",
            "",
            markdown_table(
                [
                    "teacher side px",
                    "head-only accuracy",
                    "fine-tuned accuracy",
                    "feature caching s (train + test)",
                    "whole teacher phase s",
                ],
                rows,
            ),
        ]
    )
    publish(SECTION, markdown, FLAGS.write)


if __name__ == "__main__":
    app.run(main)
