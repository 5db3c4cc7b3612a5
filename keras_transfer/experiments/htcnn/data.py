"""The HTCNN experiment's data: the arrays, the Table I training sets, the datasets.

Everything is loaded and checked by `load_data` before any training.
"""

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer.data.validation import check_classes
from keras_transfer.experiments.contract import Splits


def load_data(config, data_dir=None, seed=0):
    """Loads the config's dataset (resized, mean computed on train), before any training.

    Returns:
        `Splits` with ``extra["mean"]``: the training split's per-channel
        mean when ``subtract_mean`` (else ``None``).

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> d = load_data(get_preset("quick", dataset="digits"))
    >>> len(d.train), len(d.test), d.extra["mean"] is None
    (1437, 360, True)
    >>> d.input_shape, d.num_classes
    ((8, 8, 1), 10)
    """
    color = "rgb" if config.arch == "alexnet" else None
    train, test = kt_data.load_splits(
        config.dataset, data_dir=data_dir, image_size=config.image_size, color=color
    )
    if config.max_train_examples and config.max_train_examples < train.info.num_classes:
        raise kt_data.DataError(
            f"Expected max_train_examples >= {train.info.num_classes} (one example of each "
            f"class), received {config.max_train_examples}; raise it or leave it unset."
        )
    if config.max_train_examples and config.max_train_examples < len(train):
        keep = kt_data.shard_indices(
            train.y, max(1, len(train) // config.max_train_examples), seed=seed
        )[0]
        train = train.take(keep)
    mean = kt_data.channel_mean(train.x) if config.subtract_mean else None
    return Splits(train, test, extra={"mean": mean})


def split_training_sets(config, train, seed):
    """Training indices of the cloud CNN and of each shallow CNN (Table I for locality).

    Returns:
        ``(cloud_indices, [shallow_indices_j])``.

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> cfg = get_preset("quick", dataset="digits", setting="locality")
    >>> cloud, shallow = split_training_sets(cfg, np.repeat(np.arange(10), 20), seed=0)
    >>> len(cloud), len(shallow), len(set(cloud) & set(shallow[0]))
    (40, 4, 0)
    """
    y = train.y if hasattr(train, "y") else np.asarray(train)
    everything = np.arange(len(y))
    if config.setting == "identical":
        return everything, [everything] * config.num_shallow
    shards = kt_data.shard_indices(y, max(config.num_shards, config.shards_needed), seed=seed)
    for j, shard in enumerate(shards[: 1 + config.num_shallow]):
        check_classes(y[shard], f"training subset {j} of the locality setting (Table I)")
    return shards[0], shards[1 : 1 + config.num_shallow]


def train_dataset(config, data, indices, seed):
    """The training examples ``indices`` as a repeating dataset shuffled with ``seed``.

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> cfg = get_preset("quick", dataset="digits")
    >>> images, labels = next(iter(train_dataset(cfg, load_data(cfg), np.arange(200), seed=0)))
    >>> tuple(images.shape), set(labels.numpy()) <= set(range(10))  # digits' quick batch: 32
    ((32, 8, 8, 1), True)
    """
    return kt_data.make_dataset(
        data.train.x[indices],
        data.train.y[indices],
        config.batch_size,
        shuffle=True,
        repeat=True,
        seed=seed,
        mean=data.extra["mean"],
    )


def eval_dataset(config, data):
    """The test split as a finite batched dataset (evaluated after every epoch).

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> cfg = get_preset("quick", dataset="digits")
    >>> sum(int(b[1].shape[0]) for b in eval_dataset(cfg, load_data(cfg)))
    360
    """
    return kt_data.make_dataset(
        data.test.x, data.test.y, max(config.batch_size, 500), mean=data.extra["mean"]
    )
