"""The compact-CNN transfer experiment: pre-train, fine-tune a teacher, distil a compact student.

Paper: compact-cnn-transfer-distillation.txt (cut short after its
introduction; the method is the issue's). Stage 1: a CNN trained on a large
source task gets a new classifier and is fine-tuned on the small target task.
Stage 2: a compact CNN within a size/compute budget is trained on the target
data with labels plus the stage-1 CNN's softened outputs. Baseline: the same
compact CNN trained on labels alone with the same budget (same steps, batches
and initial weights).

Offline there are no ImageNet weights, so the source task is the real Tiny
ImageNet subset (64x64, 50 classes) in ../shared/data: the backbone is
pre-trained there from scratch, saved, then fine-tuned on CIFAR-10. With
internet, ``backbone_weights="imagenet"`` skips the pre-training.
"""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_transfer import data as kt_data
from keras_transfer import export as kt_export
from keras_transfer import metrics
from keras_transfer import training
from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.models.backbone import backbone_classifier
from keras_transfer.models.backbone import list_backbones
from keras_transfer.models.backbone import save_backbone_weights
from keras_transfer.models.backbone import unfreeze_backbone
from keras_transfer.models.compact import compact_cnn
from keras_transfer.models.compact import count_flops
from keras_transfer.transfer import distillation


@dataclasses.dataclass(frozen=True)
class CompactTransferConfig:
    """Settings of the compact-transfer experiment.

    Attributes:
        source_dataset: source task for pre-training (the paper: ImageNet;
            offline: ``tiny_imagenet50``).
        target_dataset: target task (the paper: CIFAR-10 and MIT Indoor-67).
        backbone: `keras.applications` family of the teacher.
        backbone_alpha: MobileNet width multiplier (``None`` for 1.0/others).
        backbone_weights: ``None`` (pre-train on ``source_dataset``),
            ``"imagenet"`` or a weights file of the backbone without its top.
        teacher_image_size: side the teacher sees (target images are resized
            inside the teacher; the student sees them at their own size).
        source_steps, source_lr: pre-training from scratch (Adam).
        source_bn_momentum: BatchNorm momentum while pre-training from
            scratch (see `backbone_classifier`; keras.applications' 0.999
            leaves the moving statistics behind in a short run).
        head_steps, head_lr: fine-tuning phase 1, backbone frozen (Adam).
        finetune_steps, finetune_lr: phase 2, everything trainable, low rate.
        finetune_bn_inference: keep the backbone's BatchNorm in inference
            mode while fine-tuning (the Keras guide, for ImageNet weights);
            ``False`` lets BatchNorm re-estimate its statistics on the target
            images.
        batch_size: teacher batch size.
        target_train_examples: target training examples (``0``: all).
        test_examples: target test examples (``0``: all).
        student_width, student_depth: the compact CNN's knobs (`compact_cnn`).
        student_steps, student_lr, student_batch_size: the student's budget
            (SGD, momentum 0.9, cosine decay), the same with and without the
            teacher.
        alpha: weight of the label term; ``1 - alpha`` goes to the teacher term.
        temperature: softening temperature.
        repeats: student repeats (seeds); the teacher is trained once.
        augment: random horizontal flips of the target images; then the
            teacher runs on every batch instead of from cached logits.
        latency_runs: TFLite interpreter runs per latency measurement.
    """

    source_dataset: str = "tiny_imagenet50"
    target_dataset: str = "cifar10"
    backbone: str = "MobileNetV2"
    backbone_alpha: float = None
    backbone_weights: str = None
    teacher_image_size: int = 64
    source_steps: int = 20000
    source_lr: float = 1e-3
    source_bn_momentum: float = 0.9
    head_steps: int = 2000
    head_lr: float = 1e-3
    finetune_steps: int = 10000
    finetune_lr: float = 1e-4
    finetune_bn_inference: bool = True
    batch_size: int = 64
    target_train_examples: int = 0
    test_examples: int = 0
    student_width: int = 16
    student_depth: int = 3
    student_steps: int = 10000
    student_lr: float = 0.05
    student_batch_size: int = 128
    alpha: float = 0.1
    temperature: float = 4.0
    repeats: int = 3
    augment: bool = False
    latency_runs: int = 200

    def validate(self):
        """Raises ValueError for settings that cannot run; returns self.

        Example:
        >>> CompactTransferConfig().validate().backbone
        'MobileNetV2'
        """
        if self.backbone not in list_backbones():
            raise ValueError(f"Expected a backbone name among {list_backbones()}, received "
                             f"{self.backbone!r}.")
        distillation._check_hyperparameters(self.alpha, self.temperature)
        check_positive_ints(self, ("teacher_image_size", "head_steps", "finetune_steps",
                                   "batch_size", "student_width", "student_depth",
                                   "student_steps", "student_batch_size", "repeats",
                                   "latency_runs"))
        if self.backbone_weights is None:
            check_positive_ints(self, ("source_steps",))
        for name in ("target_train_examples", "test_examples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Expected {name} to be an integer >= 0, received {value!r}.")
        for name in ("source_lr", "head_lr", "finetune_lr", "student_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Expected {name} > 0, received {getattr(self, name)!r}.")
        if not 0 <= self.source_bn_momentum < 1:
            raise ValueError(f"Expected source_bn_momentum in [0, 1), received "
                             f"{self.source_bn_momentum!r}.")
        weights = self.backbone_weights
        if weights not in (None, "imagenet") and not os.path.isfile(weights):
            raise ValueError(f"Expected backbone_weights None, 'imagenet' or an existing file, "
                             f"received {weights!r}.")
        return self


PRESETS = {
    "paper": CompactTransferConfig(),
    # 19 minutes on 2 CPU cores (measured, benchmarks/RESULTS.md section
    # compact_transfer): a 0.35-wide MobileNetV2 teacher, a short pre-training
    # (Tiny ImageNet test accuracy 0.28), a 10,000-image CIFAR-10 training
    # subset (the paper's "small target dataset" setting), the full test set.
    # The fine-tuned teacher reaches 0.556, so the student has to be below it
    # to learn from it: trained alone, width 4 reached 0.506, width 6 0.569,
    # width 8 0.588, width 16 0.654 (probes). With width 8 and a 0.53 teacher,
    # distillation pulled the student down to the teacher (0.544 vs 0.597).
    "quick": CompactTransferConfig(backbone_alpha=0.35, source_steps=6000, head_steps=300,
                                   finetune_steps=3000, target_train_examples=10000,
                                   student_width=4, student_steps=1500),
}


def get_preset(name, **overrides):
    """The preset ``name`` with ``overrides`` (``None`` values ignored), validated.

    Example:
    >>> get_preset("quick", alpha=0.5).alpha
    0.5
    """
    return select_preset(PRESETS, name, overrides)


@dataclasses.dataclass
class CompactTransferData:
    """Source train/test (for pre-training; ``None`` when weights are given) and target train/test.

    Example:
    >>> cfg = get_preset("quick", target_dataset="digits", backbone_weights="imagenet",
    ...                  target_train_examples=100, test_examples=50)
    >>> d = load_data(cfg)
    >>> d.source_train is None, d.target_train.x.shape, len(d.target_test)
    (True, (100, 8, 8, 3), 50)
    """

    source_train: kt_data.ImageData
    source_test: kt_data.ImageData
    target_train: kt_data.ImageData
    target_test: kt_data.ImageData


def load_data(config, data_dir=None, seed=0):
    """Loads the source (if pre-training) and target data as RGB, checking sizes first."""
    source_train = source_test = None
    if config.backbone_weights is None:
        size = config.teacher_image_size
        source_train = kt_data.load_image_data(config.source_dataset, "train", data_dir=data_dir,
                                               image_size=size, color="rgb")
        source_test = kt_data.load_image_data(config.source_dataset, "test", data_dir=data_dir,
                                              image_size=size, color="rgb")
    target_train = kt_data.load_image_data(config.target_dataset, "train", data_dir=data_dir,
                                           color="rgb")
    target_test = kt_data.load_image_data(config.target_dataset, "test", data_dir=data_dir,
                                          color="rgb")

    def subset(d, n, name):
        if n == 0:
            return d
        if n > len(d):
            raise ValueError(f"Expected {name} <= {len(d)} (the {config.target_dataset} split), "
                             f"received {n}.")
        per_class = n // d.info.num_classes
        idx = kt_data.per_class_indices(d.y, per_class, seed=seed)
        return d.take(np.sort(idx))

    return CompactTransferData(
        source_train, source_test,
        subset(target_train, config.target_train_examples, "target_train_examples"),
        subset(target_test, config.test_examples, "test_examples"))


def _adam(model, lr):
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _datasets(d_train, d_test, batch, seed, augment=False, targets=None):
    train = kt_data.make_dataset(d_train.x, d_train.y if targets is None else targets, batch,
                                 shuffle=True, repeat=True, seed=seed)
    if augment:
        flip = lambda x, y: (tf.image.random_flip_left_right(x, seed=seed), y)  # noqa: E731
        train = train.map(flip, num_parallel_calls=tf.data.AUTOTUNE)
    return train, kt_data.make_dataset(d_test.x, d_test.y, 500)


def _sub(output_dir, *parts):
    return os.path.join(output_dir, *parts) if output_dir else None


def pretrain_source(config, data, seed=0, output_dir=None, log=print):
    """Stage 0: trains the backbone from scratch on the source task and saves its weights.

    Returns:
        ``(weights path or None when output_dir is None, source test accuracy,
        the trained source classifier)``.
    """
    keras.utils.set_random_seed(seed)
    shape = data.source_train.x.shape[1:]
    model = backbone_classifier(config.backbone, shape, data.source_train.info.num_classes,
                                alpha=config.backbone_alpha,
                                bn_momentum=config.source_bn_momentum,
                                model_name="source_classifier")
    _adam(model, config.source_lr)
    train, test = _datasets(data.source_train, data.source_test, config.batch_size, seed,
                            config.augment)
    curve = training.train(model, train, test, epochs=1, steps_per_epoch=config.source_steps,
                           run_dir=_sub(output_dir, "runs", "source"), eval_at_start=False)
    path = None
    if output_dir:
        path = os.path.join(output_dir, "source_backbone.weights.h5")
        if not os.path.exists(path):
            save_backbone_weights(model, path)
    if log:
        log(f"source pre-training: test accuracy {curve[-1]['test_accuracy']:.4f}")
    return path, curve[-1]["test_accuracy"], model


def fine_tune(config, data, weights, seed=0, output_dir=None, log=print, source_model=None):
    """Stage 1: new classifier on the backbone, head first (backbone frozen), then everything.

    The Keras transfer-learning guide's recipe: the backbone runs in inference
    mode (BatchNorm statistics kept) in both phases; phase 2 recompiles with a
    low learning rate. With ``finetune_bn_inference=False`` BatchNorm
    re-estimates its statistics on the target images in phase 2 (in phase 1
    the frozen backbone's BatchNorm runs in inference mode either way).

    Returns:
        ``(teacher model, {"head": accuracy, "finetune": accuracy})``.
    """
    keras.utils.set_random_seed(seed)
    shape = data.target_train.x.shape[1:]
    teacher = backbone_classifier(config.backbone, shape, data.target_train.info.num_classes,
                                  weights=None if source_model is not None else weights,
                                  image_size=config.teacher_image_size,
                                  alpha=config.backbone_alpha, model_name="teacher")
    if source_model is not None:  # same weights as the saved file, without the round trip
        teacher.get_layer("backbone").set_weights(
            source_model.get_layer("backbone").get_weights())
    train, test = _datasets(data.target_train, data.target_test, config.batch_size, seed,
                            config.augment)
    base = teacher.get_layer("backbone")
    base.trainable = False
    _adam(teacher, config.head_lr)
    head = training.train(teacher, train, test, epochs=1, steps_per_epoch=config.head_steps,
                          run_dir=_sub(output_dir, "runs", "teacher_head"), eval_at_start=False)
    unfreeze_backbone(teacher, batchnorm_inference=config.finetune_bn_inference)
    _adam(teacher, config.finetune_lr)
    fine = training.train(teacher, train, test, epochs=1, steps_per_epoch=config.finetune_steps,
                          run_dir=_sub(output_dir, "runs", "teacher_finetune"),
                          eval_at_start=False)
    acc = {"head": head[-1]["test_accuracy"], "finetune": fine[-1]["test_accuracy"]}
    if log:
        log(f"teacher: head-only accuracy {acc['head']:.4f}, fine-tuned {acc['finetune']:.4f}")
    return teacher, acc


def build_student(config, input_shape, num_classes):
    """The compact CNN of ``config``.

    Example:
    >>> build_student(get_preset("quick"), (32, 32, 3), 10).name
    'student'
    """
    return compact_cnn(input_shape, num_classes, width=config.student_width,
                       depth=config.student_depth, name="student")


def _student_optimizer(config):
    schedule = keras.optimizers.schedules.CosineDecay(config.student_lr, config.student_steps)
    return keras.optimizers.SGD(schedule, momentum=0.9)


def train_student(config, data, seed, teacher=None, logits=None, run_dir=None):
    """Trains a compact student alone (``teacher is None``) or distilled, on the same budget.

    Same seed, same initial weights and the same batches in both cases. With
    ``logits`` (the teacher's, cached) the teacher never runs.

    Returns:
        ``(student model, test accuracy, training seconds)``.
    """
    keras.utils.set_random_seed(seed)
    shape, classes = data.target_train.x.shape[1:], data.target_train.info.num_classes
    student = build_student(config, shape, classes)
    targets = None
    if teacher is None:
        model = student
        model.compile(optimizer=_student_optimizer(config),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    else:
        model = distillation.Distiller(student, teacher, alpha=config.alpha,
                                       temperature=config.temperature)
        model.compile(optimizer=_student_optimizer(config), metrics=["accuracy"])
        if logits is not None:
            targets = distillation.with_teacher_logits(data.target_train.y, logits)
    train, test = _datasets(data.target_train, data.target_test, config.student_batch_size,
                            seed, config.augment, targets)
    curve = training.train(model, train, test, epochs=1, steps_per_epoch=config.student_steps,
                           run_dir=run_dir, eval_at_start=False)
    return student, curve[-1]["test_accuracy"], curve[-1]["wall_seconds"]


def deployment_report(models, image_shape, directory, latency_runs=200):
    """Parameters, FLOPs, TFLite file sizes and single-thread TFLite latency per image.

    Args:
        models: mapping name -> Keras model.
        image_shape: input image shape.
        directory: where the ``.tflite`` files are written.

    Returns:
        ``{name: {"parameters", "flops", "tflite_float32_bytes",
        "tflite_dynamic_range_bytes", "latency_seconds"}}`` (latency of the
        float32 TFLite model, median over ``latency_runs`` batch-1 runs).
    """
    out = {}
    for name, model in models.items():
        row = {"parameters": int(model.count_params()), "flops": count_flops(model)}
        for quant in kt_export.TFLITE_QUANTIZATIONS:
            path = kt_export.export_tflite(model, os.path.join(directory, f"{name}_{quant}.tflite"),
                                           quantization=quant)
            row[f"tflite_{quant}_path"] = path
            row[f"tflite_{quant}_bytes"] = os.path.getsize(path)
        row["latency_seconds"] = kt_export.tflite_latency(row["tflite_float32_path"], image_shape,
                                                          runs=latency_runs)
        out[name] = row
    return out


def run_experiment(config, data, output_dir=None, seed=0, log=print):
    """Pre-training (unless weights are given), fine-tuning, students alone and distilled.

    Returns:
        dict with ``source_accuracy``, ``teacher_accuracy`` (head/finetune),
        ``student_alone`` and ``student_distilled`` (test accuracy per repeat),
        ``seconds`` per phase, ``teacher`` and ``students`` (the last repeat's
        models, for export).
    """
    seconds = {}
    t0 = time.perf_counter()
    weights, source_acc, source_model = config.backbone_weights, None, None
    if weights is None:
        weights, source_acc, source_model = pretrain_source(config, data, seed, output_dir, log)
    seconds["pretrain"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    teacher, teacher_acc = fine_tune(config, data, weights, seed, output_dir, log, source_model)
    seconds["finetune"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    logits = None
    if not config.augment:
        logits = distillation.teacher_logits(
            teacher, kt_data.make_dataset(data.target_train.x, data.target_train.y, 500))
    seconds["teacher_logits"] = time.perf_counter() - t0
    alone, distilled, student_seconds = [], [], {"alone": [], "distilled": []}
    students = {}
    for r in range(config.repeats):
        s = seed * 1000 + r + 1
        students["student_alone"], acc, sec = train_student(
            config, data, s, run_dir=_sub(output_dir, "runs", f"student_alone_{r}"))
        alone.append(acc)
        student_seconds["alone"].append(sec)
        students["student_distilled"], acc, sec = train_student(
            config, data, s, teacher=teacher, logits=logits,
            run_dir=_sub(output_dir, "runs", f"student_distilled_{r}"))
        distilled.append(acc)
        student_seconds["distilled"].append(sec)
        if log:
            log(f"repeat {r}: student alone {alone[-1]:.4f}, distilled {distilled[-1]:.4f}")
    seconds["students"] = student_seconds
    return {"source_accuracy": source_acc, "teacher_accuracy": teacher_acc,
            "student_alone": alone, "student_distilled": distilled, "seconds": seconds,
            "teacher": teacher, "students": students}


def headline(results, deployment=None):
    """Teacher, student-alone and distilled-student accuracy, and teacher/student ratios.

    Example:
    >>> h = headline({"teacher_accuracy": {"finetune": 0.8}, "student_alone": [0.6, 0.62],
    ...               "student_distilled": [0.65, 0.63]})
    >>> round(h["distillation_gain"], 6)
    0.03
    """
    alone = metrics.summarize_runs(results["student_alone"])
    dist = metrics.summarize_runs(results["student_distilled"])
    out = {"teacher_accuracy": results["teacher_accuracy"]["finetune"],
           "student_alone_accuracy": alone, "student_distilled_accuracy": dist,
           "distillation_gain": dist["mean"] - alone["mean"]}
    if deployment:
        t, s = deployment["teacher"], deployment["student_distilled"]
        out["size_ratio_teacher_over_student"] = t["parameters"] / s["parameters"]
        out["tflite_size_ratio_teacher_over_student"] = (t["tflite_float32_bytes"]
                                                         / s["tflite_float32_bytes"])
        out["flops_ratio_teacher_over_student"] = t["flops"] / s["flops"]
        out["latency_ratio_teacher_over_student"] = t["latency_seconds"] / s["latency_seconds"]
    return out
