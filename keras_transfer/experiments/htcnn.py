"""The HTCNN experiment: m shallow CNNs, then HTCNN vs the plain cloud CNN (CCNN).

Paper: htcnn-hierarchical-transfer.txt, section IV. One repeat trains m
shallow CNNs, initialises HTCNN's first layer from theirs and trains HTCNN
and CCNN (same initial weights otherwise) on the same batches; the headline
compares their curves: AAG, PBP, gain per epoch, time-to-accuracy with and
without the shallow CNNs' training time.

This module is the experiment as the runner sees it (`run`, `planned_steps`,
`search_space`, the registered `EXPERIMENT`); its parts are

- `keras_transfer.experiments.htcnn_config`: `HTCNNConfig` and the presets;
- `keras_transfer.experiments.htcnn_data`: `load_data` and the training sets;
- `keras_transfer.experiments.htcnn_runs`: the trainings of every repeat;
- `keras_transfer.experiments.htcnn_report`: the headline, its table, the plot.

Their public names are importable from here too.
"""

import dataclasses

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.experiments.htcnn_config import ARCHS
from keras_transfer.experiments.htcnn_config import PRESETS
from keras_transfer.experiments.htcnn_config import SETTINGS
from keras_transfer.experiments.htcnn_config import HTCNNConfig
from keras_transfer.experiments.htcnn_config import get_preset
from keras_transfer.experiments.htcnn_config import register_preset
from keras_transfer.experiments.htcnn_data import HTCNNData
from keras_transfer.experiments.htcnn_data import eval_dataset
from keras_transfer.experiments.htcnn_data import load_data
from keras_transfer.experiments.htcnn_data import split_training_sets
from keras_transfer.experiments.htcnn_data import train_dataset
from keras_transfer.experiments.htcnn_report import compare_curves
from keras_transfer.experiments.htcnn_report import headline
from keras_transfer.experiments.htcnn_report import headline_table
from keras_transfer.experiments.htcnn_report import plot_curves
from keras_transfer.experiments.htcnn_runs import build_cloud
from keras_transfer.experiments.htcnn_runs import build_pair
from keras_transfer.experiments.htcnn_runs import build_shallow
from keras_transfer.experiments.htcnn_runs import run_experiment
from keras_transfer.experiments.htcnn_runs import run_repeat
from keras_transfer.experiments.htcnn_runs import train_shallow_cnns

__all__ = [
    "ARCHS", "EXPERIMENT", "PRESETS", "SETTINGS", "SHALLOW_FIELDS", "HTCNNConfig", "HTCNNData",
    "build_cloud", "build_pair", "build_shallow", "compare_curves", "eval_dataset",
    "get_preset", "headline", "headline_table", "load_data", "planned_steps", "plot_curves",
    "register_preset", "run", "run_experiment", "run_repeat", "search_space",
    "split_training_sets", "train_dataset", "train_shallow_cnns",
]


def planned_steps(config):
    """Every optimizer step of the experiment: m shallow CNNs and two clouds per repeat.

    Example:
    >>> planned_steps(get_preset("quick", dataset="digits"))  # 3 x (4 x 600 + 2 x 10 x 60)
    10800
    """
    return config.repeats * (config.num_shallow * config.shallow_steps
                             + 2 * config.epochs * config.steps_per_epoch)


def run(config, data, context):
    """The experiment under the runner's contract (`keras_transfer.experiments.contract`).

    Example:
    >>> import tempfile
    >>> from keras_transfer.experiments.contract import RunContext
    >>> cfg = get_preset("quick", dataset="digits", epochs=1, steps_per_epoch=5,
    ...                  shallow_steps=5, repeats=1)
    >>> result = run(cfg, load_data(cfg), RunContext(tempfile.mkdtemp(), log=None))
    >>> sorted(result.models), result.headline["pbp"]["n"]
    (['ccnn', 'htcnn'], 1)
    """
    out = run_experiment(config, data, context.run_dir, seed=context.seed,
                         strategy=context.strategy, deadline_seconds=context.deadline_seconds,
                         log=context.log,
                         shallow_dir=context.phase_dir("shallow", **fields_of(config,
                                                                               SHALLOW_FIELDS)))

    x = data.test.x[:64].astype(np.float32) / 255.0
    last = out["last"]
    return Result(
        headline=out["headline"], table=headline_table(out["headline"]), runs=out["runs"],
        history=out["history"], plot=lambda path: plot_curves(path, config, out["curves"]),
        models={"htcnn": last["htcnn"], "ccnn": last["ccnn"]},
        export_inputs=x - data.mean if data.mean is not None else x,
        summary={"data": {"train_examples": len(data.train), "test_examples": len(data.test),
                          "image_shape": list(data.input_shape),
                          "num_classes": data.num_classes, "source": data.train.info.source}},
        phase_seconds=out["phase_seconds"])


# What the shallow CNNs depend on: trials agreeing on these share them (tuning).
SHALLOW_FIELDS = ("dataset", "arch", "setting", "num_shallow", "learning_rate", "momentum",
                  "batch_size", "shallow_steps", "steps_per_epoch", "num_shards", "image_size",
                  "subtract_mean", "max_train_examples")


def search_space():
    """The HTCNN design factors (section III-A1): learning rate, m, shallow steps, dropout.

    The objective is the mean validation accuracy of HTCNN over its curve
    (epochs 1..N, the area under it: HTCNN is about accuracy early in
    training, the paper's AAG), one repeat per trial.

    Example:
    >>> space = search_space()
    >>> space.choices(get_preset("quick", dataset="digits"))["shallow_steps"]
    (150, 300, 600)
    """
    def choices(config):
        filters = ARCHS[config.arch][3]
        base = config.shallow_steps
        return {"learning_rate": (0.003, 0.01, 0.03),
                "num_shallow": tuple(m for m in (2, 4, 8, 16) if filters % m == 0),
                "shallow_steps": tuple(sorted({max(1, base // 4), max(1, base // 2), base})),
                "dropout": (False, True)}

    def validation(data, seed):
        train, val = kt_data.split_validation(data.train, 0.1, seed)
        return dataclasses.replace(data, train=train, test=val)

    def objective(result):
        acc = [row["test_accuracy"] for row in result.history
               if row["run"] == "htcnn" and row["epoch"] >= 1]
        return float(np.mean(acc))

    return SearchSpace(choices=choices, shared={"shallow": SHALLOW_FIELDS},
                       validation=validation, objective=objective,
                       trial_config=lambda c: dataclasses.replace(c, repeats=1))


EXPERIMENT = register_experiment(Experiment(
    name="htcnn", config_class=HTCNNConfig, get_preset=get_preset, presets=PRESETS,
    load_data=load_data, run=run, planned_steps=planned_steps,
    tuning=search_space()))
