r"""Recipe: transferred fusion learning with cross-network skip connections.

Paper: transferred-fusion-skipped-networks.txt (Tables 2 and 3). Pre-trains
model 1 on --dataset_1 and model 2 on --dataset_2, fuses them with skip
exchanges between their blocks and retrains the hybrid on --dataset (the
retraining dataset); also transfer-learns each model alone on it (new head,
fine-tuned, same steps) for the Table 3 comparison, --repeats times.

Usage:
    python recipes/fusion.py --preset=quick --output_dir=runs/fusion
    python recipes/fusion.py --model_1=custom --model_2=squeezenet --dataset_1=natural_images \
        --dataset_2=mnist --dataset=cifar100

Writes into --output_dir: summary.json (headline: hybrid and single-model
accuracy, mean/min/max, and a markdown table shaped like Tables 2 and 3),
history.csv, curves.png, tensorboard logs under runs/, and the retrained hybrid
under --export_dir/fusion/<run name>/ unless --noexport.
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
recipe_utils.define_common_flags(default_dataset="natural_images")
flags.DEFINE_string("model_1", None, "'custom', 'squeezenet' or a keras.applications family.")
flags.DEFINE_string("model_2", None, "Same choices as --model_1.")
flags.DEFINE_string("dataset_1", None, "Pre-training dataset of model 1.")
flags.DEFINE_string("dataset_2", None, "Pre-training dataset of model 2.")
flags.DEFINE_string("weights_1", None, "Weights file of model 1's features (e.g. "
                    "pretrained_1.weights.h5 of an earlier run) or 'imagenet': skips its "
                    "pre-training.")
flags.DEFINE_string("weights_2", None, "Same for model 2.")
flags.DEFINE_integer("image_size", None, "Side every image is resized to (paper: 100).")
flags.DEFINE_integer("custom_width", None, "First-stage filters of the custom model.")
flags.DEFINE_integer("pretrain_steps", None, "Pre-training steps per model.")
flags.DEFINE_integer("retrain_steps", None, "Retraining steps of the hybrid and of each model.")
flags.DEFINE_integer("pretrain_examples", None, "Pre-training examples per dataset (0: all).")
flags.DEFINE_integer("head_units", None, "Hidden units of the hybrid's dense head.")


def config_from_flags():
    from keras_transfer.experiments import fusion as fx

    names = ("model_1", "model_2", "dataset_1", "dataset_2", "weights_1", "weights_2",
             "image_size", "custom_width",
             "pretrain_steps", "retrain_steps", "pretrain_examples", "head_units")
    overrides = {name: getattr(FLAGS, name) for name in names}
    overrides.update(retrain_dataset=FLAGS.dataset, repeats=FLAGS.repeats)
    return fx.get_preset(FLAGS.preset, **overrides)


def main(argv):
    del argv
    config = config_from_flags()  # every setting checked before any data is read
    from keras_transfer import report
    from keras_transfer.experiments import fusion as fx

    t0 = time.perf_counter()
    data = fx.load_data(config, FLAGS.data_dir, seed=FLAGS.seed)
    load_seconds = time.perf_counter() - t0
    output_dir = recipe_utils.prepare_output_dir("fusion", FLAGS.output_dir, FLAGS.resume)
    recipe_utils.seed_everything(FLAGS.seed)
    with recipe_utils.strategy_from_flags().scope():
        out = fx.run_experiment(config, data, output_dir, seed=FLAGS.seed)
    head = fx.headline(out, config)
    exports = {}
    if FLAGS.export:
        name = os.path.basename(os.path.normpath(output_dir))
        exports = recipe_utils.export_and_check(
            {"hybrid": out["models"]["hybrid"]}, os.path.join(FLAGS.export_dir, "fusion", name),
            data["retrain"][1].x[:64])
    history = [{"run": run, "repeat": r, "epoch": 1, "step": config.retrain_steps,
                "test_accuracy": acc}
               for run in ("hybrid", "single_1", "single_2") for r, acc in enumerate(out[run])]
    report.write_history(os.path.join(output_dir, "history.csv"), history)
    report.plot_bars(os.path.join(output_dir, "curves.png"),
                     {f"{config.model_1} alone": out["single_1"],
                      f"{config.model_2} alone": out["single_2"], "hybrid": out["hybrid"]},
                     title=f"Transferred fusion, retrained on {config.retrain_dataset} "
                           f"({config.repeats} repeats)", ylabel="Test accuracy")
    summary = {
        "recipe": "fusion", "dataset": config.retrain_dataset, "preset": FLAGS.preset,
        "seed": FLAGS.seed, "repeats": config.repeats, "precision": FLAGS.precision,
        "settings": dataclasses.asdict(config),
        "pretrain_accuracy": out["pretrain_accuracy"],
        "hybrid": out["hybrid"], "single_1": out["single_1"], "single_2": out["single_2"],
        "headline": head,
        "wall_seconds": {"load_data": load_seconds, **out["seconds"],
                         "total": time.perf_counter() - t0},
        "exports": exports,
    }
    recipe_utils.write_summary(output_dir, summary, head["table"])


if __name__ == "__main__":
    app.run(main)
