"""The compact-CNN transfer experiment's keras-tuner search (``--tune``)."""

import dataclasses

from keras_transfer.experiments.compact_transfer.run import ALONE_FIELDS
from keras_transfer.experiments.compact_transfer.run import TEACHER_FIELDS
from keras_transfer.experiments.contract import SearchSpace


def search_space():
    """Teacher fine-tuning rate and split layer, temperature, alpha, student width.

    The objective is the distilled student's validation accuracy (one width
    per trial, one repeat, no TFLite deployment: the chosen command measures
    it; validation = 10% of the target training set). The teacher is shared
    by trials with the same fine-tuning settings, the student trained alone
    (the baseline) by trials with the same width.

    Example:
    >>> from keras_transfer.experiments.compact_transfer.config import get_preset
    >>> sorted(search_space().choices(get_preset("quick")))
    ['alpha', 'finetune_from', 'finetune_lr', 'temperature', 'width']
    """

    def choices(config):
        out = {"finetune_lr": (config.finetune_lr, config.finetune_lr * 3, config.finetune_lr / 3)}
        if config.finetune_mode == "cached" and config.backbone.startswith("EfficientNetLite"):
            out["finetune_from"] = tuple(dict.fromkeys((config.finetune_from, "stage6")))
        out.update(
            temperature=(config.temperature, 2.0, 8.0),
            alpha=(config.alpha, 0.5),
            width=tuple(config.student_widths),
        )
        return out

    def apply(config, values):
        values = dict(values)
        return dict(values, student_widths=(values.pop("width"),))

    def objective(result):
        (width,) = result.headline["widths"].values()
        return float(width["student_distilled_accuracy"]["mean"])

    def phase_seconds(result):
        seconds = result.phase_seconds
        return {
            "teacher": seconds["pretrain"] + seconds["finetune"],
            "students_alone": seconds["students"]["alone"],
        }

    return SearchSpace(
        choices=choices,
        apply=apply,
        shared={"teacher": TEACHER_FIELDS, "students_alone": ALONE_FIELDS},
        objective=objective,
        phase_seconds=phase_seconds,
        trial_config=lambda c: dataclasses.replace(c, repeats=1, deployment=False),
    )
