"""The transferred-fusion experiment's keras-tuner search (``--tune``)."""

import dataclasses

from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.fusion.run import PRETRAIN_FIELDS
from keras_transfer.transfer import fusion


def search_space():
    """The hybrid's exchange mode and training mode, retraining rate and head width.

    One hybrid per trial, one repeat, no single-model runs or baselines; the
    objective is its validation accuracy (10% of the retraining training
    set). The pre-trained nets do not depend on any searched field: they are
    trained once for the whole search. Pairs stay ``"auto"`` (layer names are
    specific to each pair of networks).

    Example:
    >>> from keras_transfer.experiments.fusion.config import get_preset
    >>> sorted(search_space().choices(get_preset("quick")))
    ['exchange', 'head_units', 'retrain_lr', 'train']
    """

    def choices(config):
        return {
            "retrain_lr": (config.retrain_lr, config.retrain_lr / 3, config.retrain_lr * 3),
            "head_units": tuple(
                dict.fromkeys((config.head_units, max(16, config.head_units // 4)))
            ),
            "exchange": fusion.EXCHANGES,
            "train": fusion.TRAIN_MODES,
        }

    def apply(config, values):
        values = dict(values)
        hybrid = f"{values.pop('exchange')}/{values.pop('train')}"
        return dict(values, hybrids=(hybrid,))

    def objective(result):
        (hybrid,) = [run for run in result.headline["runs"] if run.startswith("hybrid")]
        return float(result.headline["runs"][hybrid]["accuracy"]["mean"])

    def trial_config(config):
        return dataclasses.replace(config, repeats=1, baselines=False, single_protocols=())

    return SearchSpace(
        choices=choices,
        apply=apply,
        shared={"pretrain": PRETRAIN_FIELDS},
        objective=objective,
        trial_config=trial_config,
        phase_seconds=lambda r: {"pretrain": r.phase_seconds["pretrain"]},
    )
