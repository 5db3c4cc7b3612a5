r"""Recipe: coarse-to-fine incremental training (8x8 -> 16x16 -> 32x32) vs. training from scratch.

Paper: coarse2fine-incremental-training.txt (Figs. 5-6 and 10). Trains a
Table I network (net-2) on 8x8 images, upscales it to 16x16 (kernels and
dense layers mapped so the function is kept, section III-A/B), widens it to
net-3 (section III-C), trains on, upscales to 32x32 and trains on; the
baseline trains the same final network on 32x32 images from scratch for the
same number of steps (--baseline_epochs). --repeats times.

Usage:
    python recipes/coarse2fine.py --dataset=tiny_imagenet50 --preset=quick
    python recipes/coarse2fine.py --dataset=cifar10 --net=net-4 --widen_at=0 \
        --stage_epochs=10,5,10

Writes into --output_dir: summary.json (headline: final accuracy of both, the
incremental run's time to the baseline's final accuracy and its ratio to the
baseline's time, the accuracy dip at each transform), history.csv,
curves.png (accuracy vs. wall time), tensorboard logs under runs/, and both
final models under --export_dir/coarse2fine/<run name>/ unless --noexport.
"""

import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from recipes import common as recipe_utils  # noqa: E402

FLAGS = flags.FLAGS
recipe_utils.define_common_flags(default_dataset="tiny_imagenet50")
flags.DEFINE_string("net", None, "Start network: a Table I row (net-1 .. net-4, alexnet-8, "
                    "alexnet-16, alexnet-32).")
flags.DEFINE_list("resolutions", None, "Image side per stage, each an integer multiple >= 2 "
                  "of the previous (paper: 8,16,32).")
flags.DEFINE_list("stage_epochs", None, "Epochs per stage.")
flags.DEFINE_integer("widen_at", None, "Resolution whose stage also widens the net (0: never).")
flags.DEFINE_string("widen_to", None, "Table I row whose filter/unit counts the net gets.")
flags.DEFINE_string("widen_init", None, "New filters' init: gaussian, zeros, flip_horizontal, "
                    "flip_vertical, flip_diagonal, flip_central, net2wider.")
flags.DEFINE_string("upscale_mode", None, "'paper' (noise at new positions) or 'exact'.")
flags.DEFINE_float("noise_stddev", None, "Standard deviation of that noise (paper: 0.01).")
flags.DEFINE_integer("steps_per_epoch", None, "Optimizer steps per epoch.")
flags.DEFINE_integer("batch_size", None, "Batch size.")
flags.DEFINE_float("learning_rate", None, "SGD learning rate (momentum 0.9).")
flags.DEFINE_float("dropout", None, "Drop rate after L6.")
flags.DEFINE_integer("baseline_epochs", None, "Baseline epochs (0: the sum of --stage_epochs, "
                     "the incremental run's steps).")
flags.DEFINE_integer("train_examples", None, "Training examples (0: all).")
flags.DEFINE_integer("test_examples", None, "Test examples (0: all).")


def _ints(name, values):
    try:
        return None if values is None else tuple(int(v) for v in values)
    except ValueError:
        raise ValueError(f"Expected --{name} to be comma-separated integers, received "
                         f"{','.join(values)!r}.") from None


def config_from_flags():
    from keras_transfer.experiments import coarse2fine as cx

    names = ("net", "widen_at", "widen_to", "widen_init", "upscale_mode", "noise_stddev",
             "steps_per_epoch", "batch_size", "learning_rate", "dropout", "train_examples",
             "test_examples", "baseline_epochs")
    overrides = {name: getattr(FLAGS, name) for name in names}
    overrides.update(dataset=FLAGS.dataset, repeats=FLAGS.repeats,
                     resolutions=_ints("resolutions", FLAGS.resolutions),
                     stage_epochs=_ints("stage_epochs", FLAGS.stage_epochs))
    return cx.get_preset(FLAGS.preset, **overrides)


def main(argv):
    del argv
    config = config_from_flags()  # every setting checked before any data is read
    from keras_transfer import report
    from keras_transfer.experiments import coarse2fine as cx

    t0 = time.perf_counter()
    data = cx.load_data(config, FLAGS.data_dir, seed=FLAGS.seed)  # checks sizes too
    load_seconds = time.perf_counter() - t0
    output_dir = recipe_utils.prepare_output_dir("coarse2fine", FLAGS.output_dir, FLAGS.resume)
    recipe_utils.seed_everything(FLAGS.seed)
    with recipe_utils.strategy_from_flags().scope():
        out = cx.run_experiment(config, data, output_dir, seed=FLAGS.seed)
    head = cx.headline(out, config)
    exports = {}
    final_res = config.resolutions[-1]
    if FLAGS.export:
        name = os.path.basename(os.path.normpath(output_dir))
        train = data[final_res][0]
        from keras_transfer.data import channel_mean

        exports = recipe_utils.export_and_check(
            out["models"], os.path.join(FLAGS.export_dir, "coarse2fine", name),
            data[final_res][1].x[:64], mean=channel_mean(train.x))
    history = [dict(row, run=run, repeat=r)
               for run in ("incremental", "baseline")
               for r, rep in enumerate(out[run]) for row in rep["curve"]]
    report.write_history(os.path.join(output_dir, "history.csv"), history)
    markers = [(st["start_seconds"], f"{st['resolution']}px")
               for st in out["incremental"][0]["stages"][1:]]
    report.plot_time_curves(
        os.path.join(output_dir, "curves.png"),
        {"incremental " + " -> ".join(str(r) for r in config.resolutions):
             [rep["curve"] for rep in out["incremental"]],
         f"{final_res}px from scratch": [rep["curve"] for rep in out["baseline"]]},
        markers, title=f"Coarse-to-fine, {config.net}, {config.dataset} "
                       f"({config.repeats} repeats)")
    summary = {
        "recipe": "coarse2fine", "dataset": config.dataset, "preset": FLAGS.preset,
        "seed": FLAGS.seed, "repeats": config.repeats, "precision": FLAGS.precision,
        "settings": dataclasses.asdict(config),
        "incremental": [{k: v for k, v in rep.items() if k != "curve"}
                        for rep in out["incremental"]],
        "baseline": [{k: v for k, v in rep.items() if k != "curve"} for rep in out["baseline"]],
        "headline": head,
        "wall_seconds": {"load_data": load_seconds, "total": time.perf_counter() - t0},
        "exports": exports,
    }
    recipe_utils.write_summary(output_dir, summary, head["table"])


if __name__ == "__main__":
    app.run(main)
