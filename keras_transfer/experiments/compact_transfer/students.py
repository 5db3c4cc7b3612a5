"""Compact-CNN transfer, stage 2: a compact student trained alone or distilled, same budget.

The teacher comes from `keras_transfer.experiments.compact_transfer.teacher`; its
logits, when cached, are passed in so that it never runs here.
"""

import keras

from keras_transfer import training
from keras_transfer.experiments.compact_transfer.teacher import image_datasets
from keras_transfer.models.compact import compact_cnn
from keras_transfer.transfer import distillation


def build_student(config, input_shape, num_classes, width=None):
    """The compact CNN of ``config`` (``width``: default the first of ``student_widths``).

    Example:
    >>> from keras_transfer.experiments.compact_transfer.config import get_preset
    >>> build_student(get_preset("quick"), (32, 32, 3), 10, width=8).count_params()
    6530
    """
    return compact_cnn(
        input_shape,
        num_classes,
        width=width or config.student_widths[0],
        depth=config.student_depth,
        name="student",
    )


def _student_optimizer(config):
    schedule = keras.optimizers.schedules.CosineDecay(config.student_lr, config.student_steps)
    return keras.optimizers.SGD(schedule, momentum=0.9)


def train_student(
    config, data, seed, width, teacher=None, logits=None, run_dir=None, deadline_seconds=None
):
    """Trains a compact student alone (``teacher is None``) or distilled, on the same budget.

    Same seed, same initial weights and the same batches in both cases. With
    ``logits`` (the teacher's, cached) the teacher never runs. Training stops
    at ``deadline_seconds`` if given.

    Returns:
        ``(student model, test accuracy, training seconds)``.

    Example:
    >>> from keras_transfer.experiments.compact_transfer.config import get_preset
    >>> from keras_transfer.experiments.compact_transfer.data import load_data
    >>> cfg = get_preset("quick", dataset="digits", target_train_examples=100,
    ...                  test_examples=50, student_steps=2, student_batch_size=16)
    >>> student, acc, _ = train_student(cfg, load_data(cfg), seed=0, width=2)
    >>> student.name, 0 <= acc <= 1
    ('student', True)
    """
    keras.utils.set_random_seed(seed)
    shape, classes = data.train.x.shape[1:], data.train.info.num_classes
    student = build_student(config, shape, classes, width)
    targets = None
    if teacher is None:
        model = student
        model.compile(
            optimizer=_student_optimizer(config),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    else:
        model = distillation.Distiller(
            teacher=teacher, student=student, alpha=config.alpha, temperature=config.temperature
        )
        model.compile(optimizer=_student_optimizer(config), metrics=["accuracy"])
        if logits is not None:
            targets = distillation.with_teacher_logits(data.train.y, logits)
    train, test = image_datasets(
        data.train, data.test, config.student_batch_size, seed, config.augment, targets
    )
    curve = training.train(
        model,
        train,
        test,
        epochs=1,
        steps_per_epoch=config.student_steps,
        run_dir=run_dir,
        eval_at_start=False,
        deadline_seconds=deadline_seconds,
    )
    return student, curve[-1]["test_accuracy"], curve[-1]["wall_seconds"]


def student_name(kind, width):
    """Name of a student in results, history and exports, e.g. ``"student_distilled_w8"``.

    Example:
    >>> student_name("alone", 4)
    'student_alone_w4'
    """
    return f"student_{kind}_w{width}"
