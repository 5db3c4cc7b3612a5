"""The layer-transfer experiment's keras-tuner search (``--tune``)."""

import dataclasses

import numpy as np

from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.layer_transfer.run import SOURCE_FIELDS


def search_space():
    """Retained levels n, learning rate and target passes; one trial per n, one trial each.

    The objective is the mean validation accuracy over ``ks`` at the trial's
    n; the validation images are carved from the target classes' training
    pool (20%), the k samples are drawn from the rest.

    Example:
    >>> from keras_transfer.experiments.layer_transfer.config import get_preset
    >>> sorted(search_space().choices(get_preset("quick")))
    ['learning_rate', 'n', 'target_epochs']
    """

    def choices(config):
        return {
            "learning_rate": (0.005, 0.01, 0.02),
            "target_epochs": tuple(
                sorted({max(1, config.target_epochs // 2), max(1, config.target_epochs)})
            ),
            "n": tuple(config.levels),
        }

    def apply(config, values):
        values = dict(values)
        return dict(values, levels=(values.pop("n"),)) if "n" in values else values

    def objective(result):
        return float(
            np.mean(
                [by_n[n]["mean"] for by_n in result.headline["accuracy"].values() for n in by_n]
            )
        )

    return SearchSpace(
        choices=choices,
        shared={"source": SOURCE_FIELDS},
        apply=apply,
        objective=objective,
        validation_fraction=0.2,
        trial_config=lambda c: dataclasses.replace(c, trials=1),
        phase_seconds=lambda r: {"source": r.phase_seconds["source"]},
    )
