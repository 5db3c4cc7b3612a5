"""Compact-CNN transfer: the source (when pre-training) and target images, as RGB.

Sizes are checked before anything trains; the target subsets are class
balanced (`keras_transfer.data.per_class_indices`).
"""

from keras_transfer import data as kt_data
from keras_transfer.experiments.compact_transfer.config import BACKBONE_WEIGHTS_FIX
from keras_transfer.experiments.compact_transfer.teacher import check_split_layer
from keras_transfer.experiments.contract import Splits
from keras_transfer.models.backbone import check_backbone_weights


def load_data(config, data_dir=None, seed=0):
    """Loads the source (if pre-training) and target data as RGB, checking sizes first.

    A ``backbone_weights`` file is opened and matched against the backbone
    first (`check_backbone_weights`), so a file of another architecture or a
    truncated one is refused before the run's folder exists; so is a
    ``finetune_from`` that is no layer of the backbone (`check_split_layer`).

    Returns:
        `Splits` of the target task; ``extra["source_train"]`` and
        ``extra["source_test"]`` the source task's (``None`` unless
        pre-training).

    Example:
    >>> from keras_transfer.experiments.compact_transfer.config import get_preset
    >>> cfg = get_preset("quick", dataset="digits", backbone_weights="imagenet",
    ...                  target_train_examples=100, test_examples=50)
    >>> d = load_data(cfg)
    >>> d.extra["source_train"] is None, d.train.x.shape, len(d.test)
    (True, (100, 8, 8, 3), 50)
    """
    if config.finetune_mode == "cached":
        check_split_layer(config)
    if config.backbone_weights not in ("imagenet", "source"):
        size = config.teacher_image_size
        check_backbone_weights(
            config.backbone_weights,
            config.backbone,
            (size, size, 3),
            config.backbone_alpha,
            "backbone_weights",
            BACKBONE_WEIGHTS_FIX,
        )
    source_train = source_test = None
    if config.pretrains:
        size = config.teacher_image_size
        source_train, source_test = kt_data.load_splits(
            config.source_dataset, data_dir=data_dir, image_size=size, color="rgb"
        )
    target_train, target_test = kt_data.load_splits(config.dataset, data_dir=data_dir, color="rgb")

    def subset(d, n, name):
        return kt_data.stratified_subset(d, n, name, seed=seed) if n else d

    return Splits(
        subset(target_train, config.target_train_examples, "target_train_examples"),
        subset(target_test, config.test_examples, "test_examples"),
        extra={"source_train": source_train, "source_test": source_test},
    )
