r"""Recipe: transferred fusion learning with cross-network skip connections.

Paper: transferred-fusion-skipped-networks.txt (Tables 2 and 3). Pre-trains
model 1 on --dataset_1 and model 2 on --dataset_2 (or loads them, e.g.
--weights_2=imagenet), then on --dataset (the retraining dataset), --repeats
times: each model alone transfer-learned frozen (new head only) and fine-tuned
(--single_protocols), the hybrid for every --hybrids exchange/train
combination, and the baselines a user would pick instead (--baselines: the
ensemble of the two single models, the better single model trained for the
hybrid's wall time).

Usage:
    python recipes/fusion.py --preset=quick --output_dir=runs/fusion
    python recipes/fusion.py --model_1=custom --model_2=EfficientNetLite0 --weights_2=imagenet \
        --dataset_1=cifar100 --dataset=natural_images
    python recipes/fusion.py --hybrids=gated/all --single_protocols=finetuned

Writes into --output_dir: summary.json (headline: every run's accuracy,
mean/min/max, parameters, FLOPs and seconds, a Table 3-shaped markdown table),
history.csv, curves.png, tensorboard logs under runs/, and the most accurate
hybrid under --export_dir/fusion/<run name>/ unless --noexport.
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
flags.DEFINE_integer("head_units", None, "Hidden units of the dense head (hybrid and single "
                     "models).")
flags.DEFINE_integer("imagenet_image_size", None, "Side an ImageNet network resizes its input "
                     "to inside the model (0: --image_size).")
flags.DEFINE_list("single_protocols", None, "Single-model transfer protocols: frozen (new head "
                  "only), finetuned (everything trains).")
flags.DEFINE_list("hybrids", None, "Hybrids as exchange/train: exchange paper (identity sums) or "
                  "gated (zero-initialised gates); train all or new (carried-over layers "
                  "frozen).")
flags.DEFINE_boolean("baselines", None, "Also the ensemble of the two single models and the "
                     "better single model trained for the hybrid's wall time.")


def config_from_flags():
    from keras_transfer.experiments import fusion as fx

    names = ("model_1", "model_2", "dataset_1", "dataset_2", "weights_1", "weights_2",
             "image_size", "imagenet_image_size", "custom_width", "pretrain_steps",
             "retrain_steps", "pretrain_examples", "head_units", "baselines")
    overrides = {name: getattr(FLAGS, name) for name in names}
    for name in ("single_protocols", "hybrids"):
        if getattr(FLAGS, name) is not None:
            overrides[name] = tuple(getattr(FLAGS, name))
    overrides.update(retrain_dataset=FLAGS.dataset, repeats=FLAGS.repeats)
    return fx.get_preset(FLAGS.preset, **overrides)


def main(argv):
    del argv
    config = config_from_flags()  # every setting checked before any data is read
    from keras_transfer import report
    from keras_transfer.experiments import fusion as fx
    from keras_transfer.experiments.fusion_report import describe
    from keras_transfer.experiments.fusion_report import headline

    t0 = time.perf_counter()
    data = fx.load_data(config, FLAGS.data_dir, seed=FLAGS.seed)
    load_seconds = time.perf_counter() - t0
    output_dir = recipe_utils.prepare_output_dir("fusion", FLAGS.output_dir, FLAGS.resume)
    recipe_utils.seed_everything(FLAGS.seed)
    with recipe_utils.strategy_from_flags().scope():
        out = fx.run_experiment(config, data, output_dir, seed=FLAGS.seed)
    head = headline(out, config)
    runs = out["runs"]
    exports = {}
    hybrids = [run for run in runs if run.startswith("hybrid")]
    if FLAGS.export and hybrids:
        best = max(hybrids, key=lambda run: head["runs"][run]["accuracy"]["mean"])
        name = os.path.basename(os.path.normpath(output_dir))
        exports = recipe_utils.export_and_check(
            {best: out["models"][best]}, os.path.join(FLAGS.export_dir, "fusion", name),
            data["retrain"][1].x[:64])
    history = [dict(row, run=key.rsplit("_", 1)[0], repeat=int(key.rsplit("_", 1)[1]))
               for key, curve in out["curves"].items() for row in curve]
    report.write_history(os.path.join(output_dir, "history.csv"), history)
    report.plot_bars(os.path.join(output_dir, "curves.png"),
                     {describe(run).replace(", ", ",\n"): [r["accuracy"] for r in rows]
                      for run, rows in runs.items()},
                     title=f"Transferred fusion, {config.model_1} | {config.model_2}, retrained "
                           f"on {config.retrain_dataset} ({config.repeats} repeats)",
                     ylabel="Test accuracy")
    summary = {
        "recipe": "fusion", "dataset": config.retrain_dataset, "preset": FLAGS.preset,
        "seed": FLAGS.seed, "repeats": config.repeats, "precision": FLAGS.precision,
        "settings": dataclasses.asdict(config),
        "pretrain": out["pretrain"], "runs": runs, "flops": out["flops"],
        "matched": out["matched"], "headline": head,
        "wall_seconds": {"load_data": load_seconds, **out["seconds"],
                         "total": time.perf_counter() - t0},
        "exports": exports,
    }
    recipe_utils.write_summary(output_dir, summary, head["table"] + "\n\n" + head["cost_table"])


if __name__ == "__main__":
    app.run(main)
