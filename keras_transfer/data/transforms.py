"""Deterministic dataset transforms on in-memory arrays, and the tf.data pipeline.

The transforms work on label arrays and return index arrays (or relabelled
arrays), so they compose and stay deterministic under a seed:

- `shard_indices`: disjoint, class-stratified shards (the HTCNN paper's Table I:
  five CIFAR-10 training subsets with similar class proportions, for the
  data-locality setting);
- `per_class_indices`: k samples of each class (few-shot settings);
- `select_classes`: a class subset with labels renumbered 0..C-1;
- `prepare_images`: resize (area averaging when shrinking) and grayscale/RGB;
- `make_dataset`: shuffle/repeat/batch/normalise/prefetch so the model, not the
  input, is the bottleneck.
"""

import numpy as np
import tensorflow as tf

from keras_transfer.data.validation import check_fits_in_memory
from keras_transfer.data.validation import check_images
from keras_transfer.data.validation import check_labels


def _check_labels(y):
    return check_labels(y, where="the labels y")


def shard_indices(y, num_shards, seed=0):
    """Splits example indices into disjoint, class-stratified shards.

    Each class's examples are shuffled under ``seed`` and dealt round-robin, so
    every shard has (to within one example per class) the same class
    proportions, as in the HTCNN paper's Table I. Together the shards cover
    every index exactly once.

    Args:
        y: 1-D integer labels.
        num_shards: number of shards (>= 1, at most the number of examples).
        seed: shuffling seed.

    Returns:
        List of ``num_shards`` sorted int64 index arrays.

    Example:
    >>> shards = shard_indices(np.array([0, 0, 1, 1, 0, 1]), 2)
    >>> sorted(np.concatenate(shards).tolist())
    [0, 1, 2, 3, 4, 5]
    """
    y = _check_labels(y)
    if not isinstance(num_shards, (int, np.integer)) or not 1 <= num_shards <= len(y):
        raise ValueError(
            f"Expected num_shards to be an integer in [1, {len(y)}], received {num_shards!r}."
        )
    rng = np.random.RandomState(seed)
    shards = [[] for _ in range(num_shards)]
    offset = 0
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        for j in range(num_shards):
            # Rotate the starting shard per class so remainders spread evenly.
            shards[(j + offset) % num_shards].append(idx[j::num_shards])
        offset += len(idx) % num_shards
    return [np.sort(np.concatenate(s)).astype(np.int64) for s in shards]


def per_class_indices(y, k, seed=0, classes=None):
    """Picks ``k`` random examples of each class.

    Args:
        y: 1-D integer labels.
        k: samples per class (>= 1).
        seed: sampling seed.
        classes: the classes to sample from; default every class in ``y``.

    Returns:
        Sorted int64 indices, ``k * len(classes)`` of them.

    Raises:
        ValueError: if a class has fewer than ``k`` examples.

    Example:
    >>> idx = per_class_indices(np.array([0, 0, 0, 1, 1]), k=2)
    >>> len(idx)
    4
    """
    y = _check_labels(y)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"Expected k (samples per class) to be an integer >= 1, received {k!r}.")
    classes = np.unique(y) if classes is None else np.asarray(classes)
    rng = np.random.RandomState(seed)
    picked = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        if len(idx) < k:
            raise ValueError(
                f"Expected at least k={k} samples of class {c}, received only {len(idx)}; "
                f"use k <= {len(idx)} or a larger training split"
            )
        picked.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def select_classes(x, y, classes):
    """Keeps the examples of ``classes`` and renumbers labels to 0..len(classes)-1.

    The new label of an example is the position of its old label in ``classes``.

    Example:
    >>> x = np.zeros((4, 2, 2, 1)); y = np.array([3, 5, 3, 7])
    >>> select_classes(x, y, [5, 3])[1].tolist()
    [1, 0, 1]
    """
    y = _check_labels(y)
    classes = [int(c) for c in classes]
    if len(set(classes)) != len(classes):
        raise ValueError(f"Expected distinct classes, received {classes}.")
    present = set(np.unique(y).tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise ValueError(
            f"Expected classes among the labels {sorted(present)}, received unknown {missing}."
        )
    mapping = np.full(max(max(classes), int(y.max())) + 1, -1, np.int64)
    mapping[classes] = np.arange(len(classes))
    keep = mapping[y] >= 0
    return x[keep], mapping[y[keep]]


def prepare_images(x, image_size=None, color=None, batch=4096):
    """Resizes and converts uint8 images, returning uint8.

    Args:
        x: uint8 array ``N x H x W x C``.
        image_size: ``None`` (keep), an int (square) or ``(height, width)``.
            Shrinking uses area averaging (each output pixel is the mean of the
            input pixels it covers), enlarging uses bilinear interpolation.
        color: ``None`` (keep), ``"rgb"`` or ``"grayscale"``.

    Example:
    >>> prepare_images(np.zeros((2, 8, 8, 1), np.uint8), 16, "rgb").shape
    (2, 16, 16, 3)
    """
    if np.ndim(x) != 4:
        raise ValueError(f"Expected images N x H x W x C, received shape {np.shape(x)}.")
    x = check_images(x)
    if color not in (None, "rgb", "grayscale"):
        raise ValueError(f"Expected color in (None, 'rgb', 'grayscale'), received {color!r}.")
    if isinstance(image_size, (int, np.integer)):
        image_size = (int(image_size), int(image_size))
    if image_size is not None and (
        len(tuple(image_size)) != 2
        or any(
            isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in image_size
        )
    ):
        raise ValueError(
            f"Expected image_size as an integer >= 1 or (height, width), received "
            f"{image_size!r}; pass e.g. image_size=32."
        )
    if image_size is not None and tuple(image_size) != tuple(x.shape[1:3]):
        channels = 3 if color == "rgb" else 1 if color == "grayscale" else x.shape[-1]
        check_fits_in_memory(
            len(x) * image_size[0] * image_size[1] * max(channels, x.shape[-1]),
            f"{len(x)} images resized to {image_size[0]}x{image_size[1]}x{channels}",
            "lower the image size or cap the number of examples",
        )
        shrink = image_size[0] <= x.shape[1] and image_size[1] <= x.shape[2]
        method = "area" if shrink else "bilinear"
        # Each batch back to uint8 at once: float32 for the whole set would take 4x the memory.
        x = np.concatenate(
            [
                np.clip(
                    np.round(
                        tf.image.resize(
                            tf.cast(x[i : i + batch], tf.float32), image_size, method=method
                        ).numpy()
                    ),
                    0,
                    255,
                ).astype(np.uint8)
                for i in range(0, len(x), batch)
            ]
        )
    if color == "rgb" and x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif color == "grayscale" and x.shape[-1] == 3:
        # ITU-R 601-2 luma, the same weights as PIL's convert("L").
        x = np.round(x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
        x = np.clip(x, 0, 255).astype(np.uint8)[..., None]
    return x


def channel_mean(x):
    """Per-channel mean of uint8 images, on the [0, 1] scale (float32, shape ``(C,)``).

    Example:
    >>> channel_mean(np.full((2, 4, 4, 3), 255, np.uint8)).tolist()
    [1.0, 1.0, 1.0]
    """
    return (np.asarray(x, np.float64).mean(axis=(0, 1, 2)) / 255.0).astype(np.float32)


def make_dataset(
    x, y, batch_size, *, shuffle=False, repeat=False, seed=0, mean=None, drop_remainder=False
):
    """Builds a fast `tf.data` pipeline of ``(float32 image, int32 label)`` batches.

    Images stay uint8 in memory and are scaled to [0, 1] (minus ``mean`` if
    given) per batch, after batching, which is cheaper than per example. There
    is no ``.cache()``: the source is already an in-memory array, and caching
    the float batches would only quadruple the memory.
    Under a multi-worker strategy every worker builds the same pipeline and
    takes its share of each global batch (auto-shard policy ``DATA``: the
    source is one in-memory array, not files). Shuffling is seeded, so two
    pipelines built with the same seed yield the same batches in the same
    order (used to train HTCNN and CCNN on the same batches).

    Args:
        x: uint8 images. y: integer labels, or a dict/tuple of per-example
            arrays (e.g. labels and a teacher's logits, see
            `keras_transfer.transfer.distillation.with_teacher_logits`).
        batch_size: examples per batch.
        shuffle: reshuffle every pass with a full-size buffer.
        repeat: repeat forever (for "epochs" of N steps).
        seed: shuffle seed.
        mean: optional per-channel mean on the [0, 1] scale to subtract.
        drop_remainder: drop the last partial batch.

    Example:
    >>> ds = make_dataset(np.zeros((10, 4, 4, 1), np.uint8), np.arange(10), 4)
    >>> [tuple(b[0].shape) for b in ds]
    [(4, 4, 4, 1), (4, 4, 4, 1), (2, 4, 4, 1)]
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"Expected batch_size to be an integer >= 1, received {batch_size!r}.")

    def as_targets(v):  # integer labels as int32; other targets (e.g. logits) as float32
        v = np.asarray(v)
        return v.astype(np.int32 if np.issubdtype(v.dtype, np.integer) else np.float32)

    targets = tf.nest.map_structure(as_targets, y)
    sizes = {len(t) for t in tf.nest.flatten(targets)}
    if sizes != {len(x)}:
        raise ValueError(f"Expected as many labels as images ({len(x)}), received {sorted(sizes)}.")
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(x, np.uint8), targets))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    offset = None if mean is None else tf.constant(np.asarray(mean, np.float32))

    def normalise(images, labels):
        images = tf.cast(images, tf.float32) / 255.0
        if offset is not None:
            images = images - offset
        return images, labels

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = ds.map(normalise, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(options)
