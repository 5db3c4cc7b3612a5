"""The compact-CNN transfer experiment's stages in order, as the runner runs them.

Pre-training (only for ``backbone_weights="source"``), fine-tuning the
teacher (`keras_transfer.experiments.compact_transfer.teacher`), then per
student width and repeat the student alone and the distilled student
(`keras_transfer.experiments.compact_transfer.students`), then the
deployment numbers of the teacher and each distilled student.
"""

import json
import os
import time

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import export as kt_export
from keras_transfer import report
from keras_transfer.experiments.compact_transfer.report import deployment_report
from keras_transfer.experiments.compact_transfer.report import headline
from keras_transfer.experiments.compact_transfer.report import headline_table
from keras_transfer.experiments.compact_transfer.report import plot_accuracies
from keras_transfer.experiments.compact_transfer.students import student_name
from keras_transfer.experiments.compact_transfer.students import train_student
from keras_transfer.experiments.compact_transfer.teacher import fine_tune
from keras_transfer.experiments.compact_transfer.teacher import pretrain_source
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import run_path
from keras_transfer.transfer import distillation


def teacher_deployment(teacher, image_shape, teacher_dir, latency_runs):
    """The teacher's `deployment_report` row, measured once per teacher folder.

    Kept in ``<teacher_dir>/tflite/teacher.json`` with its TFLite files: tuning
    trials that share the teacher (and a resumed run) read it instead of
    converting the same network again. Measured anew when ``latency_runs``
    differs or a file is missing.

    Example:
    >>> import tempfile
    >>> import keras
    >>> m = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
    ...                       keras.layers.Dense(2)])
    >>> folder = tempfile.mkdtemp()
    >>> row = teacher_deployment(m, (4, 4, 1), folder, latency_runs=2)
    >>> row["parameters"], teacher_deployment(m, (4, 4, 1), folder, latency_runs=2) == row
    (34, True)
    """
    path = os.path.join(teacher_dir, "tflite", "teacher.json")
    if os.path.exists(path):
        with open(path) as f:
            kept = json.load(f)
        row = kept["row"]
        files = [row[f"tflite_{q}_path"] for q in kt_export.TFLITE_QUANTIZATIONS]
        if kept["latency_runs"] == latency_runs and all(os.path.exists(f) for f in files):
            return row
    directory = os.path.dirname(path)
    row = deployment_report({"teacher": teacher}, image_shape, directory, latency_runs)["teacher"]
    report.write_json(path, {"latency_runs": latency_runs, "row": row})
    return row


def planned_steps(config):
    """Every optimizer step: pre-training (if any), both fine-tuning phases, every student.

    Example:
    >>> from keras_transfer.experiments.compact_transfer.config import get_preset
    >>> planned_steps(get_preset("quick"))
    28800
    """
    students = 2 * len(config.student_widths) * config.repeats * config.student_steps
    pretrain = config.source_steps if config.pretrains else 0
    return pretrain + config.head_steps + config.finetune_steps + students


# What the teacher (pre-training and fine-tuning) and the students trained
# alone depend on: tuning trials agreeing on these share them.
TEACHER_FIELDS = (
    "source_dataset",
    "dataset",
    "backbone",
    "backbone_alpha",
    "backbone_weights",
    "teacher_image_size",
    "finetune_mode",
    "finetune_from",
    "source_steps",
    "source_lr",
    "source_bn_momentum",
    "head_steps",
    "head_lr",
    "finetune_steps",
    "finetune_lr",
    "finetune_bn_inference",
    "batch_size",
    "target_train_examples",
    "augment",
)
ALONE_FIELDS = (
    "dataset",
    "target_train_examples",
    "student_widths",
    "student_depth",
    "student_steps",
    "student_lr",
    "student_batch_size",
    "augment",
)


def run(config, data, context):
    """Pre-training (if ``"source"``), fine-tuning, students alone and distilled per width.

    The runner's contract (`contract.Experiment`). Repeat r of every width
    seeds its students with ``context.seed * 1000 + r + 1``, alone and
    distilled from the same initial weights on the same batches; every
    student's training stops at ``context.deadline_seconds`` if set. The
    teacher's and the students-alone run files go under
    ``context.phase_dir`` (shared by tuning trials). Alone and distilled
    students of one width share the architecture: the deployment numbers
    (TFLite size and latency) are measured once per width, on the distilled
    one.

    Returns:
        `Result`: the headline (teacher and student accuracies per width,
        mean/min/max over repeats, deployment), the teacher and the last
        repeat's distilled students to export, seconds per phase
        (``feature_cache`` included in ``finetune`` and also given alone).
    """
    seed, log = context.seed, context.log
    teacher_dir = context.phase_dir("teacher", **fields_of(config, TEACHER_FIELDS))
    alone_dir = context.phase_dir("students_alone", **fields_of(config, ALONE_FIELDS))
    seconds = {}
    t0 = time.perf_counter()
    weights, source_acc, source_model = config.backbone_weights, None, None
    if config.pretrains:
        weights, source_acc, source_model = pretrain_source(config, data, seed, teacher_dir, log)
    seconds["pretrain"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    teacher, teacher_acc, cache = fine_tune(
        config, data, weights, seed, teacher_dir, log, source_model
    )
    seconds["finetune"] = time.perf_counter() - t0
    seconds["feature_cache"] = cache["seconds"]
    t0 = time.perf_counter()
    logits = None
    if cache["upper"] is not None:  # the teacher's logits from its cached features
        logits = np.asarray(
            cache["upper"].predict(cache["train"], batch_size=500, verbose=0), np.float32
        )
    elif not config.augment:
        logits = distillation.teacher_logits(
            teacher, kt_data.make_dataset(data.train.x, data.train.y, 500)
        )
    seconds["teacher_logits"] = time.perf_counter() - t0
    students, models = {}, {}
    for width in config.student_widths:
        row = {"alone": [], "distilled": [], "seconds": {"alone": [], "distilled": []}}
        for r in range(config.repeats):
            s = seed * 1000 + r + 1
            for kind, kwargs in (
                ("alone", {}),
                ("distilled", {"teacher": teacher, "logits": logits}),
            ):
                name = student_name(kind, width)
                root = alone_dir if kind == "alone" else context.run_dir
                models[name], acc, sec = train_student(
                    config,
                    data,
                    s,
                    width,
                    run_dir=run_path(root, "runs", f"{name}_{r}"),
                    deadline_seconds=context.deadline_seconds,
                    **kwargs,
                )
                row[kind].append(acc)
                row["seconds"][kind].append(sec)
            if log:
                log(
                    f"width {width}, repeat {r}: student alone {row['alone'][-1]:.4f}, "
                    f"distilled {row['distilled'][-1]:.4f}"
                )
        students[width] = row
    seconds["students"] = {
        kind: sum(sum(row["seconds"][kind]) for row in students.values())
        for kind in ("alone", "distilled")
    }
    measured = {
        "source_accuracy": source_acc,
        "teacher_accuracy": teacher_acc,
        "students": students,
    }
    widths = config.student_widths
    distilled = {student_name("distilled", w): models[student_name("distilled", w)] for w in widths}
    deployment = {}
    if config.deployment:
        t0 = time.perf_counter()
        shape, runs = data.input_shape, config.latency_runs
        deployment = {
            "teacher": teacher_deployment(teacher, shape, teacher_dir, runs),
            **deployment_report(distilled, shape, os.path.join(context.run_dir, "tflite"), runs),
        }
        seconds["deployment"] = time.perf_counter() - t0
    head = headline(measured, deployment)
    history = [
        {
            "run": student_name(kind, w),
            "repeat": r,
            "epoch": 1,
            "step": config.student_steps,
            "test_accuracy": acc,
        }
        for w in widths
        for kind in ("alone", "distilled")
        for r, acc in enumerate(students[w][kind])
    ]
    history.append(
        {
            "run": "teacher",
            "repeat": 0,
            "epoch": 1,
            "step": config.finetune_steps,
            "test_accuracy": teacher_acc["finetune"],
        }
    )
    source_train = data.extra["source_train"]
    return Result(
        headline=head,
        table=headline_table(config, head, deployment),
        history=history,
        plot=lambda path: plot_accuracies(path, config, teacher_acc, students),
        models={"teacher": teacher, **distilled},
        export_inputs=data.test.x[:64].astype(np.float32) / 255.0,
        summary={
            "data": {
                "target_train_examples": len(data.train),
                "test_examples": len(data.test),
                "source_train_examples": len(source_train) if source_train else 0,
            },
            "source_test_accuracy": source_acc,
            "teacher_accuracy": teacher_acc,
            "students": {
                str(w): {k: students[w][k] for k in ("alone", "distilled")} for w in widths
            },
            "deployment": deployment,
        },
        phase_seconds=seconds,
    )
