"""Dataset sources: local npz folder, image folder, tensorflow-datasets, embedded digits.

A dataset name is resolved in this order (docs/design.md, Datasets), first match wins:

1. ``<data_dir>/<name>/{train,test}.npz`` (plain ``x`` pixels or the JPEG-packed
   ``jpeg`` + ``offsets`` format of ``../shared/data``), with ``classes.txt``;
2. ``<data_dir>/<name>/<split>/<class>/*`` image files;
3. a prepared tensorflow-datasets builder (never downloads unless asked);
4. ``digits``: scikit-learn's embedded 8x8 handwritten digits, needing no files.

``data_dir`` is the argument, else the ``KERAS_TRANSFER_DATA`` environment
variable. Everything here returns in-memory uint8 arrays: all datasets the
recipes use fit in memory, and the transforms (shards, k per class, class
subsets) need random access by label, which `tf.data` does not give cheaply.
"""

import contextlib
import dataclasses
import hashlib
import os
import re

import numpy as np

from keras_transfer.data.readers import load_image_folder
from keras_transfer.data.readers import load_npz
from keras_transfer.data.validation import DataError
from keras_transfer.data.validation import check_classes
from keras_transfer.data.validation import check_images
from keras_transfer.data.validation import check_labels

DATA_ENV = "KERAS_TRANSFER_DATA"
SPLITS = ("train", "test")
# A dataset name is a folder name or a tensorflow-datasets name (``name:version``), never a
# path: no separators, no "..", so data is read only from inside the data folder.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$")
# Split name -> fingerprint of what `load_arrays` returned, while `recording_loads` runs.
_recorded = None


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a loaded dataset is.

    Attributes:
        name: dataset name as asked for.
        source: where it came from: ``"npz"``, ``"image_folder"``, ``"tfds"``
            or ``"digits"``.
        class_names: tuple of class names in label order.
        image_shape: ``(height, width, channels)`` of the stored images.
        size: number of examples in the split.

    Example:
    >>> x, y, info = load_arrays("digits", "train")
    >>> info.num_classes, info.image_shape
    (10, (8, 8, 1))
    """

    name: str
    source: str
    class_names: tuple
    image_shape: tuple
    size: int

    @property
    def num_classes(self):
        return len(self.class_names)


def resolve_data_dir(data_dir=None):
    """Returns the data folder: ``data_dir`` if given, else ``$KERAS_TRANSFER_DATA``.

    Example:
    >>> resolve_data_dir("/tmp/data")
    '/tmp/data'
    """
    return data_dir or os.environ.get(DATA_ENV) or None


def check_dataset_name(name, what="--dataset"):
    """Refuses a dataset name that is not a plain name (a path, ``..``, empty, not a string).

    Example:
    >>> check_dataset_name("cifar10")
    >>> check_dataset_name("../../etc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected --dataset to be a plain name (letters, digits, '_.:+-', no path, ...
    """
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name or len(name) > 100:
        raise ValueError(
            f"Expected {what} to be a plain name (letters, digits, '_.:+-', no path, at most "
            f"100 characters), received {name[:120]!r}; put the dataset in a folder "
            f"<data_dir>/<name>/ and pass its name with --data_dir=<data_dir>."
        )


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"Expected split to be one of {SPLITS}, received split={split!r}.")


def _read_classes(folder, num_labels):
    path = os.path.join(folder, "classes.txt")
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                names = [line.strip() for line in f if line.strip()]
        except (UnicodeDecodeError, OSError) as e:
            raise DataError(
                f"Expected {path} to be UTF-8 text, one class name a line, "
                f"received a file that is not ({e}); write it again."
            ) from None
        return tuple(names)
    return tuple(str(i) for i in range(num_labels))


def _load_digits(split):
    """scikit-learn's 8x8 digits: 1,797 images, 0..16 scaled to 0..255; a fixed 80/20 split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    y = d.target.astype(np.int64)
    order = np.random.RandomState(0).permutation(len(y))
    cut = int(0.8 * len(y))
    idx = order[:cut] if split == "train" else order[cut:]
    return x[idx], y[idx], tuple(str(i) for i in range(10))


def _load_tfds(name, split, data_dir, download):
    """A tensorflow-datasets builder, only if already prepared unless ``download``."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception:  # DatasetNotFoundError and friends: not a tfds name.
        return None
    if not builder.is_prepared():
        if not download:
            return None
        builder.download_and_prepare()
    ds = builder.as_dataset(split=split, as_supervised=True)
    xs, ys = [], []
    for image, label in tfds.as_numpy(ds):
        xs.append(image)
        ys.append(label)
    x = np.stack(xs)
    if x.ndim == 3:
        x = x[..., None]
    names = builder.info.features["label"].names
    return x.astype(np.uint8), np.asarray(ys, np.int64), tuple(names)


def _checked(x, y, info, split, where):
    """The content checks of `keras_transfer.data.validation`, then ``info`` completed."""
    x = check_images(x, f"the images of {where}")
    y = check_labels(y, len(x), info.num_classes, f"the labels of {where}")
    if split == "train":
        check_classes(y, f"the training split {where}")
    return x, y, dataclasses.replace(info, image_shape=tuple(x.shape[1:]), size=len(y))


def fingerprint(x, y, info):
    """What a split's content is, in a few bytes: source, size, shape and a SHA-256 of the arrays.

    Hashing the decoded arrays (0.10 s for CIFAR-10's 50,000 training images
    on a 2-core AMD EPYC) catches any change a run's numbers depend on, which
    file sizes and times would miss (or flag: a copy with new times, same data).

    Example:
    >>> x, y, info = load_arrays("digits", "test")
    >>> fingerprint(x, y, info)["examples"]
    360
    """
    digest = hashlib.sha256()
    for array in (x, y):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    digest.update("\n".join(info.class_names).encode())
    return {
        "source": info.source,
        "examples": int(len(y)),
        "image_shape": list(x.shape[1:]),
        "sha256": digest.hexdigest(),
    }


@contextlib.contextmanager
def recording_loads():
    """Yields a dict filled with ``"<name>/<split>" -> fingerprint`` of every `load_arrays`.

    The runner records what a run was trained on in its ``run_settings.json``,
    so ``--resume`` on changed data is refused instead of mixing two datasets.

    Example:
    >>> with recording_loads() as loaded:
    ...     _ = load_arrays("digits", "test")
    >>> sorted(loaded)
    ['digits/test']
    """
    global _recorded
    outer, _recorded = _recorded, {}
    try:
        yield _recorded
    finally:
        if outer is not None:
            outer.update(_recorded)
        _recorded = outer


def _returned(name, split, x, y, info):
    if _recorded is not None:
        _recorded[f"{name}/{split}"] = fingerprint(x, y, info)
    return x, y, info


def available(data_dir=None):
    """Names of the datasets found in the data folder, plus ``digits``.

    Example:
    >>> "digits" in available()
    True
    """
    names = {"digits"}
    root = resolve_data_dir(data_dir)
    if root and os.path.isdir(root):
        for d in os.listdir(root):
            p = os.path.join(root, d)
            if os.path.exists(os.path.join(p, "train.npz")) or os.path.isdir(
                os.path.join(p, "train")
            ):
                names.add(d)
    return sorted(names)


def load_arrays(name, split="train", data_dir=None, download=False):
    """Loads one split of a dataset as uint8 arrays.

    Args:
        name: dataset name, e.g. ``"cifar10"``, ``"mnist"``, ``"digits"``.
        split: ``"train"`` or ``"test"``.
        data_dir: folder holding ``<name>/``; defaults to ``$KERAS_TRANSFER_DATA``.
        download: allow tensorflow-datasets to download (off: offline a missing
            dataset fails in seconds instead of retrying DNS for minutes).

    Returns:
        ``(x, y, info)``: uint8 images ``N x H x W x C``, int64 labels and a
        `DatasetInfo`.

    Raises:
        ValueError: unknown split, dataset not found anywhere, or corrupt files.

    Example:
    >>> x, y, info = load_arrays("digits", "test")
    >>> x.dtype, x.shape[1:], info.source
    (dtype('uint8'), (8, 8, 1), 'digits')
    """
    _check_split(split)
    check_dataset_name(name, "the dataset name")
    return _returned(name, split, *_load_arrays(name, split, data_dir, download))


def _load_arrays(name, split, data_dir, download):
    root = resolve_data_dir(data_dir)
    tried = []
    if root:
        folder = os.path.join(root, name)
        npz = os.path.join(folder, f"{split}.npz")
        tried.append(npz)
        if os.path.exists(npz):
            x, y = load_npz(npz)
            classes = _read_classes(folder, int(y.max()) + 1)
            if y.max() >= len(classes):
                raise DataError(
                    f"Corrupt dataset {folder}: expected labels in [0, {len(classes)}) "
                    f"(classes.txt names {len(classes)} classes), received labels up to "
                    f"{y.max()}; fix the labels or classes.txt."
                )
            return _checked(x, y, DatasetInfo(name, "npz", classes, (), 0), split, npz)
        image_dir = os.path.join(folder, split)
        tried.append(image_dir + "/<class>/*")
        if os.path.isdir(image_dir):
            names_file = os.path.join(folder, "classes.txt")
            class_names = list(_read_classes(folder, 0)) if os.path.exists(names_file) else None
            x, y, classes = load_image_folder(image_dir, class_names)
            return _checked(
                x, y, DatasetInfo(name, "image_folder", classes, (), 0), split, image_dir
            )
    if name == "digits":
        x, y, classes = _load_digits(split)
        return x, y, DatasetInfo(name, "digits", classes, tuple(x.shape[1:]), len(y))
    found = _load_tfds(name, split, root, download)
    how = "prepared or downloaded" if download else "prepared"
    tried.append(f"tensorflow-datasets '{name}' ({how})")
    if found is not None:
        x, y, classes = found
        return _checked(
            x, y, DatasetInfo(name, "tfds", classes, (), 0), split, f"tensorflow-datasets {name!r}"
        )
    if root and not os.path.isdir(root):
        raise ValueError(
            f"Expected --data_dir (or ${DATA_ENV}) to be a folder holding {name}/, received "
            f"{root!r}, which {'is a file' if os.path.exists(root) else 'does not exist'}; "
            f"fix the path."
        )
    raise ValueError(
        f"Dataset {name!r} not found. Expected one of {available(data_dir)} or a prepared "
        f"tensorflow-datasets name; looked in: {'; '.join(tried)}. Set --data_dir or "
        f"${DATA_ENV} to the folder holding {name}/train.npz."
    )
