"""A recipe's flags: the contract's (``--dataset --preset --seed ...``) and one per config field.

`define_recipe_flags` defines them on a `FlagValues`; `config_from_flags`
turns the parsed values into the experiment's validated config: the preset,
then the recipe's per-dataset defaults, then the flags given.
`keras_transfer.experiments.runner` parses and runs.
"""

import sys

from absl import flags

from keras_transfer.experiments import config_flags

FLAGS = flags.FLAGS
PRESET_NAMES = ("quick", "paper")
STRATEGIES = ("default", "mirrored", "multi_worker")
# NumPy seeds are 32-bit; repeat r uses seed + r, so leave room for the repeats.
MAX_SEED = 2**31 - 1


def define_recipe_flags(experiment, flag_values=FLAGS, default_dataset=None):
    """The contract's flags plus one flag per config field (`config_flags`).

    On the global ``FLAGS`` they are listed by the recipe's ``--help``
    (registered for the main module); `runner.check_inputs` uses a fresh
    `FlagValues`. ``--dataset`` defaults to ``default_dataset`` or else the
    experiment's.

    Example:
    >>> from keras_transfer.experiments.contract import get_experiment
    >>> fv = flags.FlagValues()
    >>> define_recipe_flags(get_experiment("htcnn"), fv)
    >>> _ = fv(["htcnn", "--seed=3"]); fv.seed, fv.dataset, "epochs" in fv
    (3, 'digits', True)
    """
    before = set(flag_values)
    fv = {"flag_values": flag_values}
    flags.DEFINE_string(
        "dataset",
        default_dataset or experiment.default_dataset,
        "Dataset name (folder in --data_dir, a "
        "tensorflow-datasets name, or 'digits' which needs no files).",
        **fv,
    )
    flags.DEFINE_string("preset", "quick", f"Settings preset: one of {PRESET_NAMES}.", **fv)
    flags.DEFINE_string(
        "output_dir",
        None,
        "Folder for this run's results; must be new or "
        "empty (default: runs/<recipe>-<dataset>-<preset>-<time>).",
        **fv,
    )
    flags.DEFINE_integer(
        "seed",
        0,
        "Seed of everything random; same seed, same numbers.",
        lower_bound=0,
        upper_bound=MAX_SEED,
        **fv,
    )
    flags.DEFINE_integer(
        "repeats", None, "Independent repeats (default: the preset's).", lower_bound=1, **fv
    )
    flags.DEFINE_string(
        "data_dir", None, "Folder of <dataset>/ folders (default $KERAS_TRANSFER_DATA).", **fv
    )
    flags.DEFINE_enum(
        "strategy",
        "default",
        STRATEGIES,
        "tf.distribute strategy; multi_worker needs TF_CONFIG naming >= 2 workers (README).",
        **fv,
    )
    flags.DEFINE_integer(
        "cpu_devices",
        0,
        "Split the CPU into this many logical devices (0: "
        "no split), so --strategy=mirrored runs replicas without GPUs.",
        lower_bound=0,
        **fv,
    )
    flags.DEFINE_boolean("export", True, "Export the final models (--noexport to skip).", **fv)
    flags.DEFINE_string("export_dir", "saved_models", "Root folder of the exports.", **fv)
    flags.DEFINE_boolean("resume", False, "Continue the unfinished run in --output_dir.", **fv)
    flags.DEFINE_enum(
        "precision",
        "float32",
        ["float32", "mixed_bfloat16", "mixed_float16"],
        "Keras dtype policy. mixed_bfloat16 about halves CNN training time on "
        "CPUs with AMX/AVX512-BF16; the papers' numbers are float32.",
        **fv,
    )
    flags.DEFINE_boolean(
        "deterministic", True, "Deterministic TensorFlow ops (same seed, same numbers).", **fv
    )
    flags.DEFINE_float(
        "deadline_seconds",
        None,
        "Training wall-time budget of every compared "
        "model; the model reached by then is kept and reported.",
        **fv,
    )
    flags.DEFINE_string(
        "steps_per_execution",
        "auto",
        "Optimizer steps per tf.function call: "
        "'auto' (up to 32, dividing each epoch) or an integer (1: plain fit).",
        **fv,
    )
    flags.DEFINE_boolean(
        "tune",
        False,
        "Run a keras-tuner search of the experiment's search "
        "space (objective on a validation split) instead of the comparison.",
        **fv,
    )
    flags.DEFINE_integer("tune_trials", 6, "Trials of the --tune search.", lower_bound=1, **fv)
    skip = flagless_fields(experiment)
    config_flags.define_config_flags(experiment.config_class, experiment.presets, skip=skip, **fv)
    flags.register_validator(
        "preset",
        lambda v: v in PRESET_NAMES,
        message=f"--preset must be one of {PRESET_NAMES}",
        **fv,
    )
    flags.register_validator(
        "deadline_seconds",
        lambda v: v is None or v > 0,
        message="--deadline_seconds must be > 0",
        **fv,
    )
    flags.register_validator(
        "steps_per_execution",
        lambda v: v == "auto" or (v.isdigit() and int(v) >= 1),
        message="--steps_per_execution must be 'auto' or an integer >= 1",
        **fv,
    )
    if flag_values is FLAGS:
        for name in sorted(set(FLAGS) - before):
            FLAGS.register_flag_by_module(sys.argv[0], FLAGS[name])


def flagless_fields(experiment):
    """Fields set by contract flags: the dataset (``--dataset``) and a field called repeats.

    Example:
    >>> from keras_transfer.experiments.contract import get_experiment
    >>> flagless_fields(get_experiment("htcnn"))
    ('dataset', 'repeats')
    """
    return ("dataset",) + (("repeats",) if experiment.repeats_field == "repeats" else ())


def config_from_flags(experiment, flag_values=FLAGS):
    """The validated config: the preset with its defaults (`select_preset`), then the flags given.

    Example:
    >>> from keras_transfer.experiments.contract import get_experiment
    >>> experiment, fv = get_experiment("htcnn"), flags.FlagValues()
    >>> define_recipe_flags(experiment, fv)
    >>> _ = fv(["htcnn", "--epochs=3"])
    >>> config = config_from_flags(experiment, fv)
    >>> config.epochs, config.batch_size  # digits' quick default batch size
    (3, 32)
    """
    fv = flag_values
    base = experiment.presets[fv.preset]
    skip = flagless_fields(experiment)
    overrides = config_flags.config_overrides(experiment.config_class, base, fv, skip=skip)
    overrides["dataset"] = fv.dataset
    if fv.repeats is not None:
        overrides[experiment.repeats_field] = fv.repeats
    return experiment.get_preset(fv.preset, **overrides)
