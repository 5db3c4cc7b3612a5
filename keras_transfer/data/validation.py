"""Checks of dataset content: images, labels, classes and splits (one place for each kind).

Every source (`load_arrays`) and the functions a user calls directly
(`load_image_data`, `load_splits`, the transforms) run these, so a wrong
dataset is refused when it is loaded, in one line naming what was expected,
what was received and how to fix it, instead of training on nonsense or
failing later inside a TensorFlow kernel.

Accepted images: ``N x H x W x C`` (or ``N x H x W``) arrays of uint8 (or any
integer type with values in 0..255), or of floats in [0, 1], which are scaled
to 0..255 and rounded; anything else (NaN or infinite pixels, floats outside
[0, 1], negative or > 255 integers, strings) is refused. Accepted labels: a
1-D integer array (integral floats too) with values in [0, num_classes).
"""

import os

import numpy as np


class DataError(ValueError):
    """A dataset's content is refused (a `ValueError`, so existing handlers keep working).

    Example:
    >>> isinstance(DataError("x"), ValueError)
    True
    """


def check_images(x, where="images"):
    """``x`` as uint8 ``N x H x W x C`` after the checks above; ``where`` names it in errors.

    Example:
    >>> x = check_images(np.full((2, 4, 4), 0.5)); x.dtype, int(x.max()), x.shape
    (dtype('uint8'), 128, (2, 4, 4, 1))
    >>> check_images(np.full((2, 4, 4, 1), 300.0), "train.npz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_transfer.data.validation.DataError: Expected train.npz pixels as uint8 0..255 or ...
    """
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or 0 in x.shape[1:]:
        raise DataError(
            f"Expected {where} as N x H x W x C (or N x H x W) with non-zero H, W, "
            f"C, received shape {x.shape}; store one image per row."
        )
    if len(x) == 0:
        raise DataError(
            f"Expected {where} to hold at least one image, received none; check the split's file."
        )
    fix = "store uint8 pixels (e.g. np.round(x * 255).astype('uint8') for [0, 1] floats)"
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise DataError(
                f"Expected {where} pixels in 0..255, received integers from {lo} to {hi}; {fix}."
            )
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        finite = np.isfinite(x)
        if not finite.all():
            raise DataError(
                f"Expected {where} pixels to be finite, received "
                f"{int((~finite).sum())} NaN or infinite values; fix or drop "
                f"those images."
            )
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise DataError(
                f"Expected {where} pixels as uint8 0..255 or floats in [0, 1], "
                f"received floats from {lo:.4g} to {hi:.4g}; {fix}."
            )
        return np.round(x * 255).astype(np.uint8)
    raise DataError(f"Expected {where} pixels as numbers, received dtype {x.dtype}; {fix}.")


def check_labels(y, num_images=None, num_classes=None, where="labels"):
    """``y`` as int64 after the label checks; ``num_classes`` bounds the values if given.

    Example:
    >>> check_labels(np.array([0., 2.]), num_classes=3).tolist()
    [0, 2]
    >>> check_labels(np.array([0, -1]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_transfer.data.validation.DataError: Expected labels in [0, num_classes), received ...
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(
            f"Expected {where} as a 1-D array, received shape {y.shape}; store one "
            f"integer class per image."
        )
    if num_images is not None and len(y) != num_images:
        raise DataError(
            f"Expected one label per image ({num_images}) in {where}, received "
            f"{len(y)}; the split's x and y arrays must match."
        )
    fix = "store class indices 0..C-1 (np.unique(names, return_inverse=True) maps names)"
    if y.dtype == np.bool_ or not (
        np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)
    ):
        raise DataError(f"Expected {where} as integers, received dtype {y.dtype}; {fix}.")
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise DataError(f"Expected {where} as integers, received non-integral floats; {fix}.")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes)):
        bound = "num_classes" if num_classes is None else num_classes
        raise DataError(
            f"Expected {where} in [0, {bound}), received values from {y.min()} to {y.max()}; {fix}."
        )
    return y


def check_classes(y, where="the training split", minimum=2):
    """At least ``minimum`` distinct classes in ``y`` (a classifier needs two).

    Example:
    >>> check_classes(np.array([0, 1, 1]))
    >>> check_classes(np.array([4, 4]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_transfer.data.validation.DataError: Expected at least 2 classes in the training ...
    """
    present = np.unique(np.asarray(y))
    if len(present) < minimum:
        raise DataError(
            f"Expected at least {minimum} classes in {where}, received "
            f"{len(present)} ({present.tolist()}); a classifier needs examples "
            f"of several classes."
        )


def check_split_pair(train, test, name):
    """Train and test splits of dataset ``name`` agree: same image shape and classes.

    ``train``, ``test``: `ImageData`.

    Example:
    >>> from keras_transfer.data import load_image_data
    >>> check_split_pair(load_image_data("digits"), load_image_data("digits", "test"), "digits")
    """
    if train.x.shape[1:] != test.x.shape[1:]:
        raise DataError(
            f"Expected the train and test images of {name} to have one shape, "
            f"received {train.x.shape[1:]} and {test.x.shape[1:]}; pass an "
            f"image size to resize both."
        )
    if train.info.class_names != test.info.class_names:
        raise DataError(
            f"Expected the train and test splits of {name} to name the same "
            f"classes, received {len(train.info.class_names)} and "
            f"{len(test.info.class_names)} names; use one classes.txt."
        )
    check_classes(train.y, f"the training split of {name}")


def check_count(count, available, what, fix):
    """``count`` items requested from ``available``: refused if there are not enough.

    Example:
    >>> check_count(5, 10, "examples per class", "lower it")
    >>> check_count(50, 10, "examples per class", "lower --k")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_transfer.data.validation.DataError: Expected at most 10 examples per class, ...
    """
    if count > available:
        raise DataError(f"Expected at most {available} {what}, received {count}; {fix}.")


def available_memory_bytes():
    """Memory the system can still give this process (Linux ``MemAvailable``; else all RAM).

    Example:
    >>> available_memory_bytes() > 0
    True
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits_in_memory(num_bytes, what, fix, available=None):
    """Refuses an array of ``num_bytes`` that would not fit in ``available`` memory (80 %).

    Used before resizing a dataset in memory: a typo such as ``image_size=5000``
    would otherwise fill the machine's memory and be killed minutes later.

    Example:
    >>> check_fits_in_memory(10**6, "the resized images", "lower image_size")
    >>> check_fits_in_memory(10**12, "the resized images", "lower image_size",
    ...                      available=10**9)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_transfer.data.validation.DataError: Expected ... to fit in memory (at most 0.8 GB ...
    """
    available = available_memory_bytes() if available is None else available
    limit = int(0.8 * available)
    if num_bytes > limit:
        raise DataError(
            f"Expected {what} to fit in memory (at most {limit / 1e9:.1f} GB of the "
            f"{available / 1e9:.1f} GB available), received {num_bytes / 1e9:.1f} GB;"
            f" {fix}."
        )
