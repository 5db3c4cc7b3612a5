"""What every recipe shares: the contract's flags, output folders, seeding, export checks.

Flags live here and in the recipes only; the package itself takes arguments.
"""

import datetime
import os

import numpy as np
from absl import flags

from keras_transfer.report import prepare_output_dir as _prepare_output_dir
from keras_transfer.report import write_json

FLAGS = flags.FLAGS
PRESET_NAMES = ("quick", "paper")


def define_common_flags(default_dataset):
    """Defines the recipe-contract flags (DESIGN.md): dataset, preset, output, seed, repeats..."""
    flags.DEFINE_string("dataset", default_dataset, "Dataset name (folder in --data_dir, a "
                        "tensorflow-datasets name, or 'digits' which needs no files).")
    flags.DEFINE_string("preset", "quick", f"Settings preset: one of {PRESET_NAMES}.")
    flags.DEFINE_string("output_dir", None, "Folder for this run's results; must be new or empty "
                        "(default: runs/<recipe>-<dataset>-<preset>-<time>).")
    flags.DEFINE_integer("seed", 0, "Seed of everything random; same seed, same numbers.")
    flags.DEFINE_integer("repeats", None, "Independent repeats (default: the preset's).")
    flags.DEFINE_string("data_dir", None, "Folder of <dataset>/ folders (default "
                        "$KERAS_TRANSFER_DATA).")
    flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                      "tf.distribute strategy.")
    flags.DEFINE_boolean("export", True, "Export the final models (--noexport to skip).")
    flags.DEFINE_string("export_dir", "saved_models", "Root folder of the exports.")
    flags.DEFINE_boolean("resume", False, "Continue the unfinished run in --output_dir.")
    flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                      "Keras dtype policy. mixed_bfloat16 about halves CNN training time on CPUs "
                      "with AMX/AVX512-BF16; the papers' numbers are float32.")
    flags.DEFINE_boolean("deterministic", True, "Deterministic TensorFlow ops (same seed, same "
                         "numbers).")
    flags.register_validator("preset", lambda v: v in PRESET_NAMES,
                             message=f"--preset must be one of {PRESET_NAMES}")
    flags.register_validator("repeats", lambda v: v is None or v >= 1,
                             message="--repeats must be >= 1")


def prepare_output_dir(recipe, output_dir, resume):
    """The run folder: ``output_dir`` (new/empty, or unfinished with resume) or a fresh default."""
    if not output_dir:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        output_dir = os.path.join("runs", f"{recipe}-{FLAGS.dataset}-{FLAGS.preset}-{stamp}")
    return _prepare_output_dir(output_dir, resume)


def seed_everything(seed):
    """Seeds Python, NumPy and TensorFlow; sets --precision and --deterministic ops."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_dtype_policy(FLAGS.precision)
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()


def strategy_from_flags():
    from keras_transfer.training import get_strategy

    return get_strategy(FLAGS.strategy)


def export_and_check(named_models, directory, sample_images, mean=None):
    """Exports each model (SavedModel + .keras) and checks the SavedModel reloads identically.

    The exported models take the pipeline's normalised images (uint8 / 255,
    minus the training mean when the recipe subtracts it).

    Returns:
        name -> {"saved_model": path, "keras": path, "max_abs_diff": float}.
    """
    import tensorflow as tf

    from keras_transfer.export import export_model

    x = sample_images.astype(np.float32) / 255.0
    if mean is not None:
        x = x - mean
    out = {}
    for name, model in named_models.items():
        paths = export_model(model, directory, name)
        reloaded = tf.saved_model.load(paths["saved_model"])
        diff = np.max(np.abs(reloaded.serve(tf.constant(x)).numpy()
                             - model.predict(x, verbose=0)))
        out[name] = dict(paths, max_abs_diff=float(diff))
    return out


def write_summary(output_dir, summary, table=None):
    """Writes ``output_dir/summary.json``, then prints ``table`` (the headline) and the folder."""
    write_json(os.path.join(output_dir, "summary.json"), summary)
    if table:
        print(table)
    print(f"-> {output_dir}")
