"""The coarse-to-fine experiment's data: the images at every resolution, the datasets per stage.

Images are the dataset's, area-downscaled to each resolution; everything is
loaded and checked by `load_data` before any training.
"""

import dataclasses

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer.experiments.contract import Splits


def load_data(config, data_dir=None, seed=0):
    """The dataset area-downscaled to each resolution (RGB), as `Splits`.

    ``train`` and ``test`` are at the final resolution;
    ``variants[resolution]`` holds the splits at every resolution (the
    same examples, so a validation split is carved alike in each).

    Raises ValueError when a resolution is above the dataset's own size (it
    would be upsampled, not coarse-to-fine) or a subset is too large.

    Example:
    >>> from keras_transfer.experiments.coarse2fine.config import get_preset
    >>> d = load_data(get_preset("quick", dataset="digits", resolutions=(2, 4, 8), widen_at=4))
    >>> sorted(d.variants), d.variants[4].train.x.shape[1:], d.input_shape
    ([2, 4, 8], (4, 4, 3), (8, 8, 3))
    """
    # Each split is decoded once at its own size, subset, then area-downscaled per resolution.
    splits = list(kt_data.load_splits(config.dataset, data_dir=data_dir, color="rgb"))
    native = splits[1].x.shape[1]
    if max(config.resolutions) > native:
        raise ValueError(
            f"Expected resolutions up to {config.dataset}'s image size {native}, "
            f"received {max(config.resolutions)}."
        )
    for i, name in enumerate(("train_examples", "test_examples")):
        n = getattr(config, name)
        if not n:
            continue
        if n > len(splits[i]):
            raise ValueError(f"Expected {name} <= {len(splits[i])}, received {n}.")
        splits[i] = splits[i].take(
            np.sort(np.random.default_rng(seed).permutation(len(splits[i]))[:n])
        )
    variants = {}
    for res in config.resolutions:
        variants[res] = Splits(
            *(
                kt_data.ImageData(x, d.y, dataclasses.replace(d.info, image_shape=x.shape[1:]))
                for d in splits
                for x in [kt_data.prepare_images(d.x, res)]
            )
        )
    final = variants[config.resolutions[-1]]
    return Splits(final.train, final.test, variants=variants)


def stage_datasets(config, data, seed):
    """``datasets(resolution) -> (train, test)``: mean-subtracted datasets, made once each.

    The training mean is computed at each resolution; the training dataset
    repeats, shuffled with ``seed``.

    Example:
    >>> from keras_transfer.experiments.coarse2fine.config import get_preset
    >>> cfg = get_preset("quick", dataset="digits", resolutions=(4, 8), widen_at=0,
    ...                  stage_epochs=(1, 1))
    >>> datasets = stage_datasets(cfg, load_data(cfg), seed=0)
    >>> tuple(next(iter(datasets(4)[0]))[0].shape), datasets(4) is datasets(4)
    ((100, 4, 4, 3), True)
    """
    cache = {}

    def datasets(res):
        if res not in cache:
            train, test = data.variants[res].train, data.variants[res].test
            mean = kt_data.channel_mean(train.x)
            cache[res] = (
                kt_data.make_dataset(
                    train.x,
                    train.y,
                    config.batch_size,
                    shuffle=True,
                    repeat=True,
                    seed=seed,
                    mean=mean,
                ),
                kt_data.make_dataset(test.x, test.y, 500, mean=mean),
            )
        return cache[res]

    return datasets
