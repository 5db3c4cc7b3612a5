"""The transferred-fusion experiment's settings: `FusionConfig`, its checks and the presets.

Paper: transferred-fusion-skipped-networks.txt, Tables 2 and 3.
"""

import dataclasses

from keras_transfer.checks import check_weights_path
from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.models import backbone as bb
from keras_transfer.models.fusion_nets import BLOCKS_PER_STAGE
from keras_transfer.transfer import fusion

# The paper's non-keras.applications nets; any keras.applications family name
# (`keras_transfer.models.backbone.list_backbones`) works too.
_OWN_NETS = {"custom": "residual_cnn", "squeezenet": "squeezenet"}


def check_net(name):
    """Raises ValueError for a network name `build_features` does not know.

    Example:
    >>> check_net("custom"), check_net("InceptionV3")
    ('custom', 'InceptionV3')
    """
    if name not in _OWN_NETS and name not in bb.list_backbones():
        raise ValueError(
            f"Expected a network among {sorted(_OWN_NETS)} or "
            f"{bb.list_backbones()}, received {name!r}."
        )
    return name


def weights_fix(key):
    """What to pass instead of a ``weights_<key>`` file that is refused.

    Example:
    >>> weights_fix("1")[:40]
    'pass pretrained_1.weights.h5 of an earli'
    """
    return (
        f"pass pretrained_{key}.weights.h5 of an earlier run with the same --model_{key}, "
        f"--custom_width, --custom_blocks, --image_size and --imagenet_image_size, or leave "
        f"--weights_{key} unset to pre-train model {key}"
    )


SINGLE_PROTOCOLS = ("frozen", "finetuned")
HYBRIDS = tuple(f"{e}/{t}" for e in fusion.EXCHANGES for t in fusion.TRAIN_MODES)


@dataclasses.dataclass(frozen=True)
class FusionConfig:
    """Settings of the transferred-fusion experiment.

    Attributes:
        model_1, model_2: ``"custom"``, ``"squeezenet"``, a keras.applications
            family or ``"EfficientNetLite0"`` (`check_net`).
        dataset_1, dataset_2: pre-training datasets of model 1 and model 2.
        dataset: the dataset the hybrid and the single nets are retrained on.
        image_size: side every image is resized to (paper: 100, section 3.2.1).
        imagenet_image_size: side an ImageNet family resizes its input to
            inside the model (``0``: ``image_size``).
        custom_width: first-stage filters of the custom model.
        custom_blocks: conv blocks of the custom model, a multiple of 4
            (paper: 16, section 3.2; each 4 blocks are a stage that ends with
            a residual add and a 2x2 max pool).
        pretrain_steps, retrain_steps: SGD steps (momentum 0.9) per net.
        pretrain_lr, retrain_lr: learning rates.
        batch_size: batch size of every phase.
        pretrain_examples: pre-training examples per dataset (``0``: all).
        weights_1, weights_2: a weights file of model 1 / model 2's feature
            extractor (saved by an earlier run as ``pretrained_<k>.weights.h5``,
            or ``"imagenet"`` for an ImageNet family): the model is loaded
            instead of pre-trained.
        pairs: ``"auto"`` or ``((layer of 1, layer of 2), ...)``.
        head_units: hidden units of the head (hybrid and single models alike).
        single_protocols: single-model transfer protocols, among
            ``SINGLE_PROTOCOLS``.
        hybrids: ``"exchange/train"`` combinations of `fuse`, among ``HYBRIDS``.
        baselines: also the ensembles and the better single model trained for
            the hybrid's wall time (needs ``"finetuned"`` and a hybrid).
        repeats: retraining repeats (seeds).
    """

    model_1: str = "custom"
    model_2: str = "custom"
    dataset_1: str = "mnist"
    dataset_2: str = "cifar100"
    dataset: str = "natural_images"
    image_size: int = 100
    imagenet_image_size: int = 0
    custom_width: int = 16
    custom_blocks: int = 16
    pretrain_steps: int = 5000
    retrain_steps: int = 2000
    pretrain_lr: float = 0.01
    retrain_lr: float = 0.01
    batch_size: int = 64
    pretrain_examples: int = 0
    weights_1: str = None
    weights_2: str = None
    pairs: object = "auto"
    head_units: int = 256
    single_protocols: tuple = SINGLE_PROTOCOLS
    hybrids: tuple = HYBRIDS
    baselines: bool = True
    repeats: int = 3

    def validate(self):
        """Raises ValueError for settings that cannot run; returns self.

        Example:
        >>> FusionConfig().validate().model_1
        'custom'
        """
        check_net(self.model_1)
        check_net(self.model_2)
        check_positive_ints(
            self,
            (
                "image_size",
                "custom_width",
                "custom_blocks",
                "pretrain_steps",
                "retrain_steps",
                "batch_size",
                "repeats",
            ),
        )
        for name in ("pretrain_examples", "head_units", "imagenet_image_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Expected {name} to be an integer >= 0, received {value!r}.")
        if self.custom_blocks % BLOCKS_PER_STAGE:
            raise ValueError(
                f"Expected custom_blocks to be a multiple of {BLOCKS_PER_STAGE} (a "
                f"residual add after every 4th block, section 3.2), received "
                f"{self.custom_blocks}; e.g. --custom_blocks=16."
            )
        stages = self.custom_blocks // BLOCKS_PER_STAGE
        if "custom" in (self.model_1, self.model_2) and self.image_size < 2**stages:
            raise ValueError(
                f"Expected image_size >= {2**stages} for the custom CNN (a max pool in "
                f"each of its {stages} stages), received {self.image_size}; pass "
                f"--image_size={2**stages} or more."
            )
        for name in ("pretrain_lr", "retrain_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Expected {name} > 0, received {getattr(self, name)!r}.")
        for key in ("1", "2"):  # a file is opened and matched by `load_data`
            value, net = getattr(self, f"weights_{key}"), getattr(self, f"model_{key}")
            if value == "imagenet" and net in _OWN_NETS:
                raise ValueError(
                    f"Expected weights_{key} None or a weights file for "
                    f"model_{key}={net!r} (ImageNet weights exist for the "
                    f"keras.applications and EfficientNet-Lite families only), "
                    f"received 'imagenet'; leave --weights_{key} unset to "
                    f"pre-train it or pick an ImageNet family."
                )
            if value not in (None, "imagenet"):
                check_weights_path(
                    value,
                    expected=f"weights_{key} None, 'imagenet' or an existing weights file",
                    fix=weights_fix(key),
                )
        if self.pairs != "auto" and not all(len(p) == 2 for p in self.pairs):
            raise ValueError(
                f"Expected pairs 'auto' or (layer of model 1, layer of model 2) "
                f"pairs, received {self.pairs!r}."
            )
        for name, known in (("single_protocols", SINGLE_PROTOCOLS), ("hybrids", HYBRIDS)):
            value = tuple(getattr(self, name))
            bad = [v for v in value if v not in known]
            if bad or len(set(value)) != len(value):
                raise ValueError(
                    f"Expected {name} to be distinct values among {known}, "
                    f"received {value!r}; e.g. {','.join(known)}."
                )
        if not self.single_protocols and not self.hybrids:
            raise ValueError(
                "Expected at least one of single_protocols and hybrids, received neither."
            )
        if self.baselines and ("finetuned" not in self.single_protocols or not self.hybrids):
            raise ValueError(
                f"Expected 'finetuned' in single_protocols and a hybrid for the "
                f"baselines (ensemble, better single model in the hybrid's time), "
                f"received single_protocols={tuple(self.single_protocols)} and "
                f"hybrids={tuple(self.hybrids)}; add them or set baselines=False "
                f"(--nobaselines)."
            )
        return self


PRESETS = {
    # The paper's settings: 100x100 images (section 3.2.1), the custom nets of Tables 2-3.
    "paper": FusionConfig(),
    "quick": FusionConfig(
        image_size=32,  # Natural Images is stored at 30x30: 100x100 adds cost, not detail
        imagenet_image_size=64,  # ImageNet families see the images upsampled to 64x64 inside
        custom_width=8,  # half the paper preset's 16 first-stage filters, for CPU speed
        pretrain_steps=2000,
        pretrain_examples=20000,  # not 5,000 steps on all: CPU time
        retrain_steps=500,  # a quarter of the paper preset's 2,000, the same for every run
        head_units=128,
    ),  # half the paper preset's 256, like the narrower custom model
}


def get_preset(name, **overrides):
    """The preset ``name`` with ``overrides`` (``None`` values ignored), validated.

    Example:
    >>> get_preset("quick", model_2="squeezenet").model_2
    'squeezenet'
    """
    return select_preset(PRESETS, name, overrides)
