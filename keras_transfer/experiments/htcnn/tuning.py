"""The HTCNN experiment's keras-tuner search (``--tune``)."""

import dataclasses

import numpy as np

from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.htcnn.config import ARCHS
from keras_transfer.experiments.htcnn.run import SHALLOW_FIELDS


def search_space():
    """The HTCNN design factors (section III-A1): learning rate, m, shallow steps, dropout.

    The objective is the mean validation accuracy of HTCNN over its curve
    (epochs 1..N, the area under it: HTCNN is about accuracy early in
    training, the paper's AAG), one repeat per trial.

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> space = search_space()
    >>> space.choices(get_preset("quick", dataset="cifar10"))["shallow_steps"]
    (150, 300, 600)
    """

    def choices(config):
        filters = ARCHS[config.arch][3]
        base = config.shallow_steps
        return {
            "learning_rate": (0.003, 0.01, 0.03),
            "num_shallow": tuple(m for m in (2, 4, 8, 16) if filters % m == 0),
            "shallow_steps": tuple(sorted({max(1, base // 4), max(1, base // 2), base})),
            "dropout": (False, True),
        }

    def objective(result):
        acc = [
            row["test_accuracy"]
            for row in result.history
            if row["run"] == "htcnn" and row["epoch"] >= 1
        ]
        return float(np.mean(acc))

    return SearchSpace(
        choices=choices,
        shared={"shallow": SHALLOW_FIELDS},
        objective=objective,
        trial_config=lambda c: dataclasses.replace(c, repeats=1),
    )


def htcnn_tuner(config, data, directory, max_trials=6, seed=0):
    """The HTCNN search (learning rate, m, shallow steps, dropout) as an `ExperimentTuner`.

    Example:
    >>> tuner = htcnn_tuner(cfg, data, "runs/tune", max_trials=4)  # doctest: +SKIP
    """
    from keras_transfer.experiments.contract import get_experiment
    from keras_transfer.experiments.tune import ExperimentTuner

    return ExperimentTuner(
        get_experiment("htcnn"), config, data, directory, max_trials=max_trials, seed=seed
    )
