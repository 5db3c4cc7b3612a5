"""The HTCNN experiment's settings: `HTCNNConfig`, its checks and the named presets.

Paper: htcnn-hierarchical-transfer.txt. The defaults are the paper's
(sections III-A/B, IV-B); presets are registered in `PRESETS` (TF Model
Garden's registered experiment configs, in small).
"""

import dataclasses

from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset

SETTINGS = ("identical", "locality")
MIN_IMAGE_SIZE = 8  # the smallest input both archs build on (the embedded digits are 8x8)
ARCHS = {
    # arch: (cloud builder, shallow builder, first-layer names, cloud filters per group)
    "cloud": ("cloud_cnn", "shallow_cnn", ("conv1",), 32),
    "alexnet": ("alexnet", "shallow_alexnet", ("conv1_g0", "conv1_g1"), 48),
}


@dataclasses.dataclass(frozen=True)
class HTCNNConfig:
    """Settings of one HTCNN experiment; defaults are the paper's (section III-A/B, IV-B).

    Attributes:
        dataset: dataset name (see `keras_transfer.data.load_arrays`).
        arch: ``"cloud"`` (Fig. 5 cloud CNN + Fig. 3 shallow CNN) or
            ``"alexnet"`` (Fig. 7 AlexNet + Fig. 4 shallow CNN).
        setting: ``"identical"`` or ``"locality"`` (section IV-B2, Table I).
        num_shallow: m, the number of shallow CNNs (paper: 4; Fig. 10: 2-16).
        dropout: apply the paper's dropout (Fig. 9) to the cloud CNN. The
            paper's "0.8 and 0.5" are read as TensorFlow-1 keep
            probabilities: drop rate 0.2 after convolutions, 0.5 after FC.
        conv_dropout, fc_dropout: the drop rates used when ``dropout``.
        learning_rate, momentum: SGD settings (0.01, 0.9).
        batch_size: 100 (256 for AlexNet in the paper).
        shallow_steps: training iterations per shallow CNN (10,000).
        epochs: evaluations after the start (Fig. 8 runs 200).
        steps_per_epoch: iterations per epoch (1,000).
        repeats: independent repeats (9).
        num_shards: Table I subsets for the locality setting (5; at least m+1).
        image_size: resize images to this (``None`` keeps the stored size).
        subtract_mean: subtract the per-channel training mean (the paper's
            ImageNet preprocessing, section IV-C1).
        freeze_transferred: freeze the transferred layer (paper prefers
            fine-tuning, section III-A3: default False).
        fc_units: hidden dense width of AlexNet (fc6/fc7); the cloud CNN uses 512.
        max_train_examples: optional cap on the training set (quick runs).

    Example:
    >>> cfg = HTCNNConfig(dataset="digits", num_shallow=8).validate()
    >>> cfg.first_filters
    4
    """

    dataset: str = "digits"
    arch: str = "cloud"
    setting: str = "identical"
    num_shallow: int = 4
    dropout: bool = False
    conv_dropout: float = 0.2
    fc_dropout: float = 0.5
    learning_rate: float = 0.01
    momentum: float = 0.9
    batch_size: int = 100
    shallow_steps: int = 10_000
    epochs: int = 200
    steps_per_epoch: int = 1_000
    repeats: int = 9
    num_shards: int = 5
    image_size: int = None
    subtract_mean: bool = False
    freeze_transferred: bool = False
    fc_units: int = 4096
    max_train_examples: int = None

    def validate(self):
        """Raises ValueError for settings that cannot run; returns self.

        Example:
        >>> HTCNNConfig(num_shallow=4).validate().num_shallow
        4
        """
        if self.arch not in ARCHS:
            raise ValueError(f"Expected arch in {sorted(ARCHS)}, received {self.arch!r}.")
        if self.setting not in SETTINGS:
            raise ValueError(f"Expected setting in {SETTINGS}, received {self.setting!r}.")
        filters = ARCHS[self.arch][3]
        m = self.num_shallow
        if not isinstance(m, int) or m < 1 or filters % m:
            divisors = [d for d in range(1, filters + 1) if filters % d == 0]
            raise ValueError(
                f"Expected num_shallow (m) to divide the cloud's {filters} first-layer filters "
                f"(m in {divisors}), received {self.num_shallow!r}."
            )
        check_positive_ints(
            self, ("batch_size", "shallow_steps", "epochs", "steps_per_epoch", "repeats")
        )
        if self.learning_rate <= 0:
            raise ValueError(f"Expected learning_rate > 0, received {self.learning_rate!r}.")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"Expected momentum in [0, 1), received {self.momentum!r}.")
        if self.image_size is not None and self.image_size < MIN_IMAGE_SIZE:
            raise ValueError(
                f"Expected image_size >= {MIN_IMAGE_SIZE} (the cloud CNN pools "
                f"three times) or unset, received {self.image_size!r}."
            )
        if self.max_train_examples is not None and self.max_train_examples < 1:
            raise ValueError(
                f"Expected max_train_examples >= 1 or unset, received {self.max_train_examples!r}."
            )
        for name in ("conv_dropout", "fc_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"Expected {name} in [0, 1), received {getattr(self, name)!r}.")
        if self.setting == "locality" and self.shards_needed > self.num_shards:
            raise ValueError(
                f"Expected num_shards >= m + 1 = {self.shards_needed} for the locality setting, "
                f"received num_shards={self.num_shards}."
            )
        return self

    @property
    def shards_needed(self):
        return self.num_shallow + 1

    @property
    def first_filters(self):
        """Filters of each shallow CNN's first layer (per group): cloud filters / m."""
        return ARCHS[self.arch][3] // self.num_shallow


PRESETS = {}


def register_preset(name, config):
    """Registers a named `HTCNNConfig` preset (per dataset overrides go in the recipe).

    Example:
    >>> "quick" in PRESETS and "paper" in PRESETS
    True
    """
    PRESETS[name] = config
    return config


# The paper's settings (sections III-A1, IV-B), 200 epochs as in its Fig. 8.
register_preset("paper", HTCNNConfig())
register_preset(
    "quick",
    HTCNNConfig(
        epochs=10,  # the early epochs, where the paper's gain is (AAG, PBP)
        steps_per_epoch=60,  # short epochs, so a run takes minutes on 2 CPU cores
        shallow_steps=600,  # each shallow CNN trains as long as each cloud CNN (10 x 60 steps)
        repeats=3,
    ),
)  # a mean and a min-max range at a third of the paper's 9 repeats


# Settings a preset needs for an architecture or a dataset (`select_preset`).
ARCH_DEFAULTS = {"alexnet": {"all": {"batch_size": 256}}}  # paper section III-A1
DATASET_DEFAULTS = {
    # AlexNet's ImageNet stand-in: 64x64 Tiny ImageNet with the training-mean
    # subtraction of section IV-C1.
    "tiny_imagenet50": {"all": {"subtract_mean": True}},
    # 1,437 training images (the paper's batch 100 is for 50,000): batch 32, 30-step
    # epochs, 300 shallow steps, so the README's main job takes under two minutes.
    "digits": {"quick": {"batch_size": 32, "steps_per_epoch": 30, "shallow_steps": 300}},
}


def get_preset(name, **overrides):
    """The preset ``name``, its architecture's and dataset's defaults, then ``overrides``.

    ``None`` values in ``overrides`` are ignored; the result is validated.

    Example:
    >>> get_preset("quick", dataset="digits", epochs=None).steps_per_epoch
    30
    >>> get_preset("paper", dataset="cifar10", arch="alexnet").batch_size
    256
    """
    return select_preset(
        PRESETS, name, overrides, [("arch", ARCH_DEFAULTS), ("dataset", DATASET_DEFAULTS)]
    )
