"""The transferred-fusion experiment's data: the two pre-training sets and the retraining set.

Everything is loaded and checked by `load_data` before any training.
"""

from keras_transfer import data as kt_data
from keras_transfer.experiments.contract import Splits
from keras_transfer.experiments.fusion.config import weights_fix
from keras_transfer.experiments.fusion.nets import check_feature_weights


def load_data(config, data_dir=None, seed=0):
    """The retraining set's `Splits`, with each pre-training set, RGB at ``image_size``.

    ``extra["pretrain_<k>"]`` is ``(train, test)`` of model k's pre-training
    dataset, present only when model k is pre-trained here (no
    ``weights_<k>``).

    A dataset named twice is read once. A ``weights_<k>`` file is opened
    and matched against model k first (`check_feature_weights`), so a file
    of another architecture or a truncated one is refused before the run's
    folder exists.

    Example:
    >>> from keras_transfer.experiments.fusion.config import get_preset
    >>> cfg = get_preset("quick", dataset_1="digits", dataset_2="digits",
    ...                  dataset="digits", pretrain_examples=100)
    >>> d = load_data(cfg)
    >>> d.extra["pretrain_1"][0].x.shape, d.num_classes
    ((100, 32, 32, 3), 10)
    """
    for key in ("1", "2"):
        weights = getattr(config, f"weights_{key}")
        if weights not in (None, "imagenet"):
            check_feature_weights(
                weights,
                getattr(config, f"model_{key}"),
                (config.image_size, config.image_size, 3),
                config.custom_width,
                config.custom_blocks,
                config.imagenet_image_size,
                f"weights_{key}",
                weights_fix(key),
            )
    out, cache = {}, {}
    for key, name in (
        ("1", config.dataset_1),
        ("2", config.dataset_2),
        ("retrain", config.dataset),
    ):
        if key != "retrain" and getattr(config, f"weights_{key}") is not None:
            continue  # model loaded, its pre-training data not needed
        if name not in cache:
            cache[name] = kt_data.load_splits(
                name, data_dir=data_dir, image_size=config.image_size, color="rgb"
            )
        train, test = cache[name]
        if key != "retrain" and config.pretrain_examples:
            train = kt_data.stratified_subset(
                train, config.pretrain_examples, "pretrain_examples", seed=seed
            )
        out[key] = (train, test)
    retrain = out.pop("retrain")
    return Splits(*retrain, extra={f"pretrain_{key}": split for key, split in out.items()})
