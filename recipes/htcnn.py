r"""Recipe: hierarchical transfer CNN (HTCNN) vs the plain cloud CNN (CCNN).

Reproduces the HTCNN paper's comparison (htcnn-hierarchical-transfer.txt,
section IV): m shallow CNNs initialise the cloud CNN's first layer; HTCNN and
CCNN are trained from the same weights on the same batches and compared by
AAG, PBP, accuracy gain per epoch and time-to-accuracy.

Usage:
    python recipes/htcnn.py --dataset=digits --preset=quick --output_dir=runs/htcnn_digits
    python recipes/htcnn.py --dataset=cifar10 --preset=quick --output_dir=runs/htcnn_cifar10
    python recipes/htcnn.py --dataset=cifar10 --setting=locality --preset=paper ...
    python recipes/htcnn.py --dataset=tiny_imagenet50 --arch=alexnet --preset=quick ...
    python recipes/htcnn.py --dataset=digits --preset=quick --tune --tune_trials=4 ...

Writes into --output_dir: summary.json, history.csv, curves.png, tensorboard/,
runs/ (per-training files, which make ``--resume`` continue a killed run), and
the final HTCNN and CCNN under --export_dir/htcnn/<run name>/ unless --noexport.
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
recipe_utils.define_common_flags(default_dataset="digits")
flags.DEFINE_enum("setting", None, ["identical", "locality"],
                  "Identical data for all CNNs, or Table I data locality (paper IV-B2).")
flags.DEFINE_enum("arch", None, ["cloud", "alexnet"],
                  "Cloud CNN of Fig. 5 (CIFAR-10) or AlexNet of Fig. 7 (ImageNet stand-in).")
flags.DEFINE_integer("num_shallow", None, "m, the number of shallow CNNs (must divide 32, or 48 "
                     "for AlexNet).")
flags.DEFINE_boolean("dropout", None, "Paper's dropout (Fig. 9): drop 0.2 after convs, 0.5 "
                     "after FC (TF1 keep probabilities 0.8/0.5).")
flags.DEFINE_integer("epochs", None, "Epochs (evaluations) of the cloud CNNs.")
flags.DEFINE_integer("steps_per_epoch", None, "Iterations per epoch (paper: 1,000).")
flags.DEFINE_integer("shallow_steps", None, "Iterations per shallow CNN (paper: 10,000).")
flags.DEFINE_float("learning_rate", None, "SGD learning rate (paper: 0.01).")
flags.DEFINE_integer("batch_size", None, "Batch size (paper: 100, 256 for AlexNet).")
flags.DEFINE_integer("image_size", None, "Resize images to this size.")
flags.DEFINE_boolean("subtract_mean", None, "Subtract the per-channel training mean.")
flags.DEFINE_boolean("freeze_transferred", None, "Freeze the transferred first layer "
                     "(paper prefers fine-tuning).")
flags.DEFINE_integer("fc_units", None, "Width of AlexNet's fc6/fc7 (default 4096).")
flags.DEFINE_integer("max_train_examples", None, "Cap the training set (stratified).")
flags.DEFINE_float("deadline_seconds", None, "Training wall-time budget per cloud CNN.")
flags.DEFINE_boolean("tune", False, "Run a keras-tuner search over learning rate, m, shallow "
                     "steps and dropout instead of the comparison.")
flags.DEFINE_integer("tune_trials", 6, "Trials of the --tune search.")

# Per-dataset adjustments of a preset: what the paper's settings need to run on
# that dataset (AlexNet's ImageNet stand-in is 64x64 Tiny ImageNet with the
# training-mean subtraction of section IV-C1).
DATASET_DEFAULTS = {
    "tiny_imagenet50": {"subtract_mean": True},
}
# The quick preset on the 1,437 training images of the embedded digits: shorter
# epochs (50 steps = 3.5 passes) so the README's main job runs in minutes.
QUICK_DATASET_DEFAULTS = {
    "digits": {"steps_per_epoch": 50, "shallow_steps": 500},
}


def config_from_flags():
    from keras_transfer.experiments import htcnn

    names = [f.name for f in dataclasses.fields(htcnn.HTCNNConfig)]
    overrides = {n: getattr(FLAGS, n) for n in names if n in FLAGS and getattr(FLAGS, n) is not None}
    overrides["dataset"] = FLAGS.dataset
    if FLAGS.repeats is not None:
        overrides["repeats"] = FLAGS.repeats
    defaults = dict(DATASET_DEFAULTS.get(FLAGS.dataset, {}))
    if FLAGS.preset == "quick":
        defaults.update(QUICK_DATASET_DEFAULTS.get(FLAGS.dataset, {}))
    for key, value in defaults.items():
        overrides.setdefault(key, value)
    return htcnn.get_preset(FLAGS.preset, **overrides)


def run_tuning(config, data, output_dir):
    from keras_transfer import tuning

    tuner = tuning.htcnn_tuner(config, data, os.path.join(output_dir, "tuner"),
                               max_trials=FLAGS.tune_trials, seed=FLAGS.seed)
    tuner.search()
    best = tuner.get_best_hyperparameters(1)[0].values
    trials = tuning.trial_table(tuner)
    recipe_utils.write_json(os.path.join(output_dir, "summary.json"), {
        "recipe": "htcnn", "mode": "tune", "dataset": config.dataset, "preset": FLAGS.preset,
        "seed": FLAGS.seed, "settings": dataclasses.asdict(config), "best_hyperparameters": best,
        "trials": trials,
    })
    print("best hyperparameters:", best)


def main(argv):
    del argv
    # Everything that can be wrong with the input is checked before training.
    config = config_from_flags()
    output_dir = recipe_utils.prepare_output_dir("htcnn", FLAGS.output_dir, FLAGS.resume)
    recipe_utils.seed_everything(FLAGS.seed)
    strategy = recipe_utils.strategy_from_flags()

    from keras_transfer.experiments import htcnn

    t_load = time.perf_counter()
    data = htcnn.load_data(config, FLAGS.data_dir, seed=FLAGS.seed)
    load_seconds = time.perf_counter() - t_load
    if FLAGS.tune:
        return run_tuning(config, data, output_dir)

    experiment = htcnn.run_experiment(config, data, output_dir, seed=FLAGS.seed,
                                      strategy=strategy, deadline_seconds=FLAGS.deadline_seconds)
    phases = dict(experiment["phase_seconds"], load_data=load_seconds)
    headline = experiment["headline"]
    exports = {}
    if FLAGS.export:
        t_export = time.perf_counter()
        last = experiment["last"]
        name = os.path.basename(os.path.normpath(output_dir))
        exports = recipe_utils.export_and_check(
            {"htcnn": last["htcnn"], "ccnn": last["ccnn"]},
            os.path.join(FLAGS.export_dir, "htcnn", name), data.test.x[:64], data.mean)
        phases["export"] = time.perf_counter() - t_export
    summary = {
        "recipe": "htcnn", "dataset": config.dataset, "preset": FLAGS.preset,
        "seed": FLAGS.seed, "repeats": config.repeats, "strategy": FLAGS.strategy,
        "precision": FLAGS.precision, "deterministic": FLAGS.deterministic,
        "settings": dataclasses.asdict(config),
        "data": {"train_examples": len(data.train), "test_examples": len(data.test),
                 "image_shape": list(data.input_shape), "num_classes": data.num_classes,
                 "source": data.train.info.source},
        "headline": headline, "runs": experiment["runs"], "wall_seconds": phases, "exports": exports,
    }
    recipe_utils.write_json(os.path.join(output_dir, "summary.json"), summary)
    print(f"AAG {headline['aag']['mean']:.4f}  PBP {headline['pbp']['mean']:.2f}  "
          f"epoch-1 gain {headline['epoch1_gain']['mean']}  -> {output_dir}")


if __name__ == "__main__":
    app.run(main)
