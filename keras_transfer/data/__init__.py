"""Datasets: sources (npz folder, image folder, tensorflow-datasets, digits) and transforms."""

import dataclasses

import numpy as np

from keras_transfer.data.sources import DATA_ENV
from keras_transfer.data.sources import SPLITS
from keras_transfer.data.sources import DatasetInfo
from keras_transfer.data.sources import available
from keras_transfer.data.sources import load_arrays
from keras_transfer.data.sources import resolve_data_dir
from keras_transfer.data.transforms import channel_mean
from keras_transfer.data.transforms import make_dataset
from keras_transfer.data.transforms import per_class_indices
from keras_transfer.data.transforms import prepare_images
from keras_transfer.data.transforms import select_classes
from keras_transfer.data.transforms import shard_indices
from keras_transfer.data.validation import DataError
from keras_transfer.data.validation import check_count
from keras_transfer.data.validation import check_split_pair


@dataclasses.dataclass
class ImageData:
    """A dataset split held in memory: uint8 images, labels and the dataset info.

    Example:
    >>> d = load_image_data("digits", "train")
    >>> d.x.shape[1:], d.info.num_classes
    ((8, 8, 1), 10)
    """

    x: np.ndarray
    y: np.ndarray
    info: DatasetInfo

    def take(self, indices):
        """The examples at ``indices``, same info with the new size."""
        return ImageData(
            self.x[indices], self.y[indices], dataclasses.replace(self.info, size=len(indices))
        )

    def __len__(self):
        return len(self.y)


def load_image_data(
    name, split="train", *, data_dir=None, image_size=None, color=None, download=False
):
    """Loads a split into memory, resized and colour-converted (uint8).

    Args:
        name, split, data_dir, download: see `load_arrays`.
        image_size, color: see `prepare_images`.

    Example:
    >>> load_image_data("digits", "test", image_size=16, color="rgb").x.shape[1:]
    (16, 16, 3)
    """
    x, y, info = load_arrays(name, split, data_dir=data_dir, download=download)
    x = prepare_images(x, image_size, color)
    return ImageData(x, y, dataclasses.replace(info, image_shape=tuple(x.shape[1:])))


def load_splits(name, *, data_dir=None, image_size=None, color=None, download=False):
    """``(train, test)`` `ImageData` of dataset ``name``, checked to agree (shape, classes).

    Example:
    >>> train, test = load_splits("digits", image_size=16)
    >>> train.x.shape[1:] == test.x.shape[1:], len(train), len(test)
    (True, 1437, 360)
    """
    train, test = (
        load_image_data(
            name, split, data_dir=data_dir, image_size=image_size, color=color, download=download
        )
        for split in SPLITS
    )
    check_split_pair(train, test, name)
    return train, test


def stratified_subset(data, n, what, seed=0):
    """``n // num_classes`` random examples of every class of ``data`` (``what``: the setting).

    Refused, naming ``what``, when ``n`` is larger than ``data`` or smaller
    than its number of classes (a class would get no example).

    Example:
    >>> train = load_image_data("digits")
    >>> len(stratified_subset(train, 100, "--pretrain_examples"))
    100
    >>> stratified_subset(train, 5, "--pretrain_examples")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_transfer.data.validation.DataError: Expected --pretrain_examples >= 10 ...
    """
    classes = data.info.num_classes
    if n < classes:
        raise DataError(
            f"Expected {what} >= {classes} (one example of each of the "
            f"{data.info.name} classes), received {n}; raise it or use 0 for all."
        )
    check_count(n, len(data), f"{what} (the {data.info.name} split's size)", "lower it")
    return data.take(np.sort(per_class_indices(data.y, n // classes, seed=seed)))


def load(
    name,
    split="train",
    *,
    data_dir=None,
    image_size=None,
    color=None,
    subtract_mean=False,
    batch_size=100,
    shuffle=None,
    repeat=False,
    seed=0,
    download=False,
):
    """Loads a dataset split as a batched `tf.data.Dataset` plus its `DatasetInfo`.

    Args:
        name: dataset name (``"digits"`` needs no files; see `load_arrays`).
        split: ``"train"`` or ``"test"``.
        data_dir: folder of ``<name>/`` folders; default ``$KERAS_TRANSFER_DATA``.
        image_size: resize to this (int or ``(h, w)``); default keep.
        color: ``"rgb"``, ``"grayscale"`` or ``None`` (keep).
        subtract_mean: subtract the training split's per-channel mean (the
            paper's ImageNet preprocessing, HTCNN section IV-C1), also for test.
        batch_size: examples per batch.
        shuffle: default True for train, False for test.
        repeat: repeat forever.
        seed: shuffle seed.
        download: let tensorflow-datasets download a missing dataset.

    Returns:
        ``(dataset, info)``; batches are ``(float32 images in [0, 1] minus the
        mean, int32 labels)``.

    Example:
    >>> ds, info = load("digits", "train", batch_size=32)
    >>> images, labels = next(iter(ds))
    >>> tuple(images.shape), info.num_classes
    ((32, 8, 8, 1), 10)
    """
    data = load_image_data(
        name, split, data_dir=data_dir, image_size=image_size, color=color, download=download
    )
    mean = None
    if subtract_mean:
        train = (
            data
            if split == "train"
            else load_image_data(
                name,
                "train",
                data_dir=data_dir,
                image_size=image_size,
                color=color,
                download=download,
            )
        )
        mean = channel_mean(train.x)
    shuffle = split == "train" if shuffle is None else shuffle
    ds = make_dataset(
        data.x, data.y, batch_size, shuffle=shuffle, repeat=repeat, seed=seed, mean=mean
    )
    return ds, data.info


__all__ = [
    "DATA_ENV",
    "DataError",
    "DatasetInfo",
    "ImageData",
    "available",
    "channel_mean",
    "load",
    "load_arrays",
    "load_splits",
    "split_validation",
    "stratified_subset",
    "load_image_data",
    "make_dataset",
    "per_class_indices",
    "prepare_images",
    "resolve_data_dir",
    "select_classes",
    "shard_indices",
]


def split_validation(train, fraction=0.1, seed=0):
    """Stratified ``(train, validation)`` split of an `ImageData`.

    Example:
    >>> d = load_image_data("digits", "train")
    >>> tr, va = split_validation(d, 0.1)  # 10% of every class for validation
    >>> len(tr) + len(va) == len(d)
    True
    """
    if not 0 < fraction < 1:
        raise ValueError(f"Expected a validation fraction in (0, 1), received {fraction!r}.")
    shards = shard_indices(train.y, max(2, int(round(1 / fraction))), seed=seed)
    return train.take(np.concatenate(shards[1:])), train.take(shards[0])
