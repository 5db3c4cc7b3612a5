"""The coarse-to-fine experiment's keras-tuner search (``--tune``)."""

import dataclasses

from keras_transfer.experiments.coarse2fine.run import FIRST_STAGE_FIELDS
from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.transfer import upscaling


def search_space():
    """Epochs per stage, upscale mode and (when widening) the new filters' initialisation.

    One repeat per trial; the objective is the incremental run's final
    validation accuracy (10% of the training images). The baseline trains
    one epoch only in a trial (it is not part of the objective). Trials with
    the same first-stage epochs share the first stage.

    Example:
    >>> from keras_transfer.experiments.coarse2fine.config import get_preset
    >>> sorted(search_space().choices(get_preset("quick")))
    ['stage_epochs_0', 'stage_epochs_1', 'stage_epochs_2', 'upscale_mode', 'widen_init']
    """

    def choices(config):
        out = {
            f"stage_epochs_{i}": tuple(dict.fromkeys((e, max(1, e // 2))))
            for i, e in enumerate(config.stage_epochs)
        }
        out["upscale_mode"] = tuple(dict.fromkeys((config.upscale_mode,) + upscaling.UPSCALE_MODES))
        if config.widen_at:
            out["widen_init"] = tuple(dict.fromkeys((config.widen_init, "net2wider")))
        return out

    def apply(config, values):
        epochs = tuple(values[f"stage_epochs_{i}"] for i in range(len(config.stage_epochs)))
        rest = {k: v for k, v in values.items() if not k.startswith("stage_epochs_")}
        return dict(rest, stage_epochs=epochs)

    return SearchSpace(
        choices=choices,
        apply=apply,
        shared={"first_stage": FIRST_STAGE_FIELDS + ("stage_epochs[0]",)},
        objective=lambda r: float(r.headline["incremental_final_accuracy"]["mean"]),
        trial_config=lambda c: dataclasses.replace(c, repeats=1, baseline_epochs=1),
    )
