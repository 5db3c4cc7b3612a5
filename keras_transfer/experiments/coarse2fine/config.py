"""The coarse-to-fine experiment's settings: `Coarse2FineConfig`, its checks and the presets.

Paper: coarse2fine-incremental-training.txt (Table I networks, the 8 -> 16
-> 32 schedule of Figs. 5-6 and 10).
"""

import dataclasses

from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.models.coarse2fine import TABLE1
from keras_transfer.models.coarse2fine import min_input_side
from keras_transfer.transfer import net2net
from keras_transfer.transfer import upscaling

NETS = tuple(TABLE1)


@dataclasses.dataclass(frozen=True)
class Coarse2FineConfig:
    """Settings of the coarse-to-fine experiment.

    Attributes:
        dataset: images (``tiny_imagenet50``: 64x64 ImageNet images;
            ``cifar10``: 32x32).
        net: start network, a Table I row (``"net-1"`` .. ``"net-4"``,
            ``"alexnet-8"`` for the 2^5-scaled AlexNet, ...), built for
            ``resolutions[0]``.
        resolutions: image side of each stage; each is an integer multiple
            (>= 2) of the previous one (paper: 8, 16, 32).
        stage_epochs: epochs of each stage.
        widen_at: resolution of the stage that also widens the network (0:
            never).
        widen_to: the Table I network whose filter and unit counts the
            widened network gets (net-2 -> net-3: section IV-D, Fig. 10).
        widen_init: initialisation of the new filters (`widen`; the paper
            prefers Gaussian N(0, 1/100), section IV-D).
        upscale_mode: ``"paper"`` (new taps and dense positions get small
            Gaussian noise, section III-B) or ``"exact"`` (zeros).
        noise_stddev: standard deviation of that noise and of ``widen_init``.
        steps_per_epoch, batch_size, learning_rate: SGD (momentum 0.9) with
            Caffe's default rate 0.01 (the paper used Caffe's defaults).
        dropout: drop rate after L6 (Caffe's AlexNet: 0.5).
        baseline_epochs: the baseline's epochs (0: the sum of
            ``stage_epochs``, the same optimizer steps and images as the
            incremental run). A step budget, not a wall-clock one, so the
            same seed gives the same numbers.
        train_examples, test_examples: subsets (0: all).
        repeats: independent repeats (seeds).
    """

    dataset: str = "tiny_imagenet50"
    net: str = "net-2"
    resolutions: tuple = (8, 16, 32)
    stage_epochs: tuple = (30, 20, 40)
    widen_at: int = 16
    widen_to: str = "net-3"
    widen_init: str = "gaussian"
    upscale_mode: str = "paper"
    noise_stddev: float = 0.01
    steps_per_epoch: int = 250
    batch_size: int = 100
    learning_rate: float = 0.01
    dropout: float = 0.5
    baseline_epochs: int = 0
    train_examples: int = 0
    test_examples: int = 0
    repeats: int = 3

    def validate(self):
        """Raises ValueError for settings that cannot run; returns self.

        Example:
        >>> Coarse2FineConfig().validate().resolutions
        (8, 16, 32)
        """
        if self.net not in NETS:
            raise ValueError(f"Expected net in {NETS}, received {self.net!r}.")
        res = tuple(self.resolutions)
        if not res or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in res):
            raise ValueError(f"Expected resolutions to be positive integers, received {res!r}.")
        side = min_input_side(self.net)
        if res[0] < side:
            raise ValueError(
                f"Expected the first resolution >= {side} for {self.net} (its "
                f"convolutions and pools leave nothing below), received {res[0]}; "
                f"start at --resolutions={side},..."
            )
        for a, b in zip(res, res[1:]):
            if b % a or b // a < 2:
                raise ValueError(
                    f"Expected each resolution to be an integer factor >= 2 of "
                    f"the previous one (upscale needs an integer factor >= 2), "
                    f"received {a} -> {b}."
                )
        if len(tuple(self.stage_epochs)) != len(res):
            raise ValueError(
                f"Expected one stage_epochs entry per resolution ({len(res)}), "
                f"received {tuple(self.stage_epochs)!r}."
            )
        for e in self.stage_epochs:
            if isinstance(e, bool) or not isinstance(e, int) or e < 1:
                raise ValueError(
                    f"Expected stage_epochs to be integers >= 1, received "
                    f"{tuple(self.stage_epochs)!r}."
                )
        if self.widen_at:
            if self.widen_at not in res[1:]:
                raise ValueError(
                    f"Expected widen_at to be 0 or one of the later resolutions "
                    f"{res[1:]}, received {self.widen_at!r}."
                )
            if self.widen_to not in TABLE1:
                raise ValueError(
                    f"Expected widen_to among {sorted(TABLE1)}, received {self.widen_to!r}."
                )
            start, target = TABLE1[self.net], TABLE1[self.widen_to]
            if len(start[0]) != len(target[0]):
                raise ValueError(
                    f"Expected widen_to with as many convolutions as {self.net} "
                    f"({len(start[0])}), received {self.widen_to!r} with "
                    f"{len(target[0])}."
                )
            for (old, _, _), (new, _, _) in zip(start[0], target[0]):
                if new < old:
                    raise ValueError(
                        f"Expected widen_to to have at least {self.net}'s filters "
                        f"(widen only adds), received {self.widen_to!r} with {new} "
                        f"< {old}."
                    )
            if target[1] < start[1]:
                raise ValueError(
                    f"Expected widen_to to have at least {start[1]} L6 units, "
                    f"received {self.widen_to!r} with {target[1]}."
                )
        if self.widen_init not in net2net.WIDEN_INITS:
            raise ValueError(
                f"Expected widen_init in {net2net.WIDEN_INITS}, received {self.widen_init!r}."
            )
        if self.upscale_mode not in upscaling.UPSCALE_MODES:
            raise ValueError(
                f"Expected upscale_mode in {upscaling.UPSCALE_MODES}, received "
                f"{self.upscale_mode!r}."
            )
        check_positive_ints(self, ("steps_per_epoch", "batch_size", "repeats"))
        for name in ("train_examples", "test_examples", "baseline_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Expected {name} to be an integer >= 0, received {value!r}.")
        if not self.learning_rate > 0 or not 0 <= self.dropout < 1 or self.noise_stddev < 0:
            raise ValueError(
                f"Expected learning_rate > 0, 0 <= dropout < 1 and noise_stddev "
                f">= 0, received {self.learning_rate!r}, {self.dropout!r}, "
                f"{self.noise_stddev!r}."
            )
        return self


PRESETS = {
    # The paper's schedule: net-2 at 8 -> 16 -> 32 px, widened to net-3 at 16 px (Fig. 10).
    "paper": Coarse2FineConfig(),
    # Half the paper's epochs at 16 and 32 px, so a tiny_imagenet50 run fits a CPU session.
    "quick": Coarse2FineConfig(stage_epochs=(20, 10, 20)),
}


def get_preset(name, **overrides):
    """The preset ``name`` with ``overrides`` (``None`` values ignored), validated.

    Example:
    >>> get_preset("quick", net="net-4", widen_at=0).net
    'net-4'
    """
    overrides = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items()}
    return select_preset(PRESETS, name, overrides)
