"""The layer-transfer experiment's settings: `LayerTransferConfig`, its checks, the presets.

Paper: lenet5-knowledge-transfer-nist.txt, "Experiments".
"""

import dataclasses

from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.models import coding
from keras_transfer.models.lenet5 import LENET5_LEVELS


@dataclasses.dataclass(frozen=True)
class LayerTransferConfig:
    """Settings of the layer-transfer experiment; defaults follow the paper.

    Attributes:
        dataset: dataset name; images become 32x32 grayscale (Figure 1).
        source_classes, target_classes: disjoint class ids (paper: 20 and 20
            NIST characters; here MNIST digits 0-4 and 5-9 by default).
        source_per_class: source training samples per class (paper: 400).
        ks: samples per target class (paper: 1, 5, 10, 20, 40).
        levels: retained levels n (paper: 0..5).
        trials: trials per (k, n) (paper: 5).
        code_bits: output code length (paper: 20 random bits per class).
        output: ``"code"`` (paper) or ``"softmax"`` (one-hot cross-entropy).
        learning_rate, momentum, batch_size: SGD settings (the paper gives none).
            Measured on the grayscale CIFAR-100 source net (20 classes, 400
            each, coded output): lr 0.02 stays at chance (0.05 training
            accuracy after 1,500 steps), 0.01 reaches 0.25 (0.34 after 3,000);
            MNIST trains at both. Inputs stay on the [0, 1] scale: subtracting
            the mean slowed the coded net (0.17 against 0.34 after 3,000 steps).
        source_steps: training steps of the source net.
        target_epochs, target_steps: every target net trains for
            ``max(target_steps, target_epochs * ceil(train size / batch))``
            steps (`target_budget`): the same number of passes over its own
            k-sample training set whatever k is, and at least
            ``target_steps``. ``target_epochs=0`` trains exactly
            ``target_steps``. The paper gives no budget; a fixed step count
            favours the transferred nets at large k, because the net trained
            from scratch has not fitted its training set yet (measured on
            grayscale CIFAR-100, k = 40: after 150 steps the n = 0 net fits
            0.05-0.25 of its training set, after 2,500 steps 0.79; see
            benchmarks/RESULTS.md).
        test_examples: fixed test set size of the target classes (paper: 1,000).
    """

    dataset: str = "mnist"
    source_classes: tuple = (0, 1, 2, 3, 4)
    target_classes: tuple = (5, 6, 7, 8, 9)
    source_per_class: int = 400
    ks: tuple = (1, 5, 10, 20, 40)
    levels: tuple = (0, 1, 2, 3, 4, 5)
    trials: int = 5
    code_bits: int = 20
    output: str = "code"
    learning_rate: float = 0.01
    momentum: float = 0.9
    batch_size: int = 32
    source_steps: int = 6000
    target_epochs: int = 100
    target_steps: int = 300
    test_examples: int = 1000

    def validate(self):
        """Raises ValueError for settings that cannot run; returns self.

        Example:
        >>> LayerTransferConfig().validate().trials
        5
        """
        overlap = sorted(set(self.source_classes) & set(self.target_classes))
        if overlap:
            raise ValueError(
                f"Expected disjoint source and target classes, received both containing {overlap}."
            )
        for name in ("source_classes", "target_classes"):
            if len(getattr(self, name)) < 2:
                raise ValueError(f"Expected at least 2 {name}, received {getattr(self, name)}.")
        bad = [n for n in self.levels if not 0 <= n <= len(LENET5_LEVELS) - 1]
        if bad:
            raise ValueError(
                f"Expected retained levels n in [0, {len(LENET5_LEVELS) - 1}] (the levels "
                f"{list(LENET5_LEVELS)}; n = 6 would leave nothing to train), received {bad}."
            )
        if self.output not in ("code", "softmax"):
            raise ValueError(f"Expected output in ('code', 'softmax'), received {self.output!r}.")
        if self.output == "code":
            coding.random_codes(
                max(len(self.source_classes), len(self.target_classes)), self.code_bits
            )  # raises if too short
        check_positive_ints(
            self,
            (
                "source_per_class",
                "trials",
                "source_steps",
                "target_steps",
                "batch_size",
                "test_examples",
            ),
        )
        if not isinstance(self.target_epochs, int) or self.target_epochs < 0:
            raise ValueError(
                f"Expected target_epochs to be an integer >= 0, received {self.target_epochs!r}."
            )
        if not self.learning_rate > 0 or not 0 <= self.momentum < 1:
            raise ValueError(
                f"Expected learning_rate > 0 and momentum in [0, 1), received "
                f"{self.learning_rate!r} and {self.momentum!r}."
            )
        if not self.ks or any(not isinstance(k, int) or k < 1 for k in self.ks):
            raise ValueError(f"Expected ks to be integers >= 1, received {self.ks!r}.")
        return self


PRESETS = {
    # The paper's protocol: 400 source samples per class, k in 1..40, n in 0..5, 5 trials.
    "paper": LayerTransferConfig(),
    "quick": LayerTransferConfig(
        trials=3,  # a mean and a min-max range at 3/5 of the paper's trials
        source_steps=4000,  # two thirds of the paper preset's 6,000, for CPU time
        target_epochs=50,
    ),  # half the passes; benchmarks/layer_transfer.py measures the effect
}


# Datasets with more than 10 classes: 20 source and 20 target classes, as the
# paper's 20 -> 20 NIST characters (10-class datasets: digits 0-4 -> 5-9).
TWENTY_TO_TWENTY = {
    "all": {"source_classes": tuple(range(20)), "target_classes": tuple(range(20, 40))}
}
DATASET_DEFAULTS = {"cifar100": TWENTY_TO_TWENTY, "tiny_imagenet50": TWENTY_TO_TWENTY}


def get_preset(name, **overrides):
    """The preset ``name``, its dataset's defaults, then ``overrides`` (``None`` ignored).

    Example:
    >>> config = get_preset("quick", dataset="cifar100")
    >>> config.dataset, len(config.source_classes), config.target_classes[0]
    ('cifar100', 20, 20)
    """
    return select_preset(PRESETS, name, overrides, [("dataset", DATASET_DEFAULTS)])


def target_budget(config, train_size):
    """Training steps of a target net with ``train_size`` examples (see `LayerTransferConfig`).

    Example:
    >>> cfg = get_preset("quick")
    >>> target_budget(cfg, 5), target_budget(cfg, 800)   # k = 1 and k = 40 of 5 / 20 classes
    (300, 1250)
    """
    batch = min(config.batch_size, train_size)
    return max(config.target_steps, config.target_epochs * -(-train_size // batch))
