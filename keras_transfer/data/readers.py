"""Readers of the dataset file formats: npz splits (plain or JPEG-packed) and image folders.

Each reads what the file says only after checking it can: npz members'
``.npy`` headers are compared with their sizes and the memory available
before NumPy allocates anything; image headers (sizes, PIL's
decompression-bomb limit) are read before any pixel is decoded. A
JPEG-packed npz is decoded once and cached outside the data folder
(``$KERAS_TRANSFER_CACHE``, default ``~/.cache/keras_transfer``).
`keras_transfer.data.sources` resolves a dataset name to one of these.
"""

import hashlib
import io
import os
import warnings
import zipfile

import numpy as np

from keras_transfer.data.validation import DataError
from keras_transfer.data.validation import check_fits_in_memory
from keras_transfer.data.validation import check_images
from keras_transfer.data.validation import check_labels

CACHE_ENV = "KERAS_TRANSFER_CACHE"
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".webp")
_REWRITE = "write it again with np.savez(path, x=images, y=labels)"


def _decode_jpeg_packed(buf, offsets, path):
    from PIL import Image

    if (
        offsets.ndim != 1
        or len(offsets) < 1
        or not np.issubdtype(offsets.dtype, np.integer)
        or offsets[0] != 0
        or offsets[-1] != len(buf)
    ):
        raise ValueError(
            f"Corrupt npz {path}: expected 'offsets' to run from 0 to len(jpeg)={len(buf)}, "
            f"received offsets from {offsets[:1]} to {offsets[-1:]}; {_REWRITE}."
        )
    images = []
    for i in range(len(offsets) - 1):
        raw = buf[offsets[i] : offsets[i + 1]].tobytes()
        try:
            images.append(np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")))
        except Exception as e:  # PIL raises several types for bad bytes.
            raise ValueError(
                f"Corrupt npz {path}: image {i} is not a decodable JPEG ({e}); replace it."
            ) from e
    return np.stack(images)


def _cache_path(path):
    """Where the decoded arrays of a JPEG-packed npz are cached (outside the data dir)."""
    root = os.environ.get(CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "keras_transfer"
    )
    stat = os.stat(path)
    key = hashlib.sha1(f"{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return os.path.join(root, key.hexdigest()[:16] + ".npz")


def _npy_headers(path):
    """``{key: (shape, dtype)}`` of an npz's arrays from their ``.npy`` headers, data unread.

    Refuses a member whose header claims more bytes than the member holds, and
    arrays that would not fit in memory, before NumPy allocates them (it
    allocates the header's size first: a crafted header would end in a
    MemoryError, or let the kernel's overcommit kill the process later).
    """
    headers, total = {}, 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = read(f)
            key = info.filename[: -len(".npy")]
            count = int(np.prod(shape, dtype=object))
            nbytes = count * dtype.itemsize
            if nbytes > info.file_size:
                raise DataError(
                    f"Expected the array {key!r} of {path} to hold the {count:,} elements its "
                    f"header claims ({nbytes:,} bytes), received {info.file_size:,} bytes; the "
                    f"file is corrupt or crafted: write it again with np.savez."
                )
            headers[key] = (shape, dtype)
            total += nbytes
    check_fits_in_memory(
        total, f"the arrays of {path}", "use a smaller dataset or a machine with more memory"
    )
    return headers


def load_npz(path):
    """``(x, y)`` of one split file: ``x``/``y`` arrays, or JPEG-packed (decoded, cached).

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "train.npz")
    >>> np.savez(path, x=np.zeros((3, 4, 4), np.uint8), y=np.array([0, 1, 0]))
    >>> x, y = load_npz(path); x.shape, y.tolist()
    ((3, 4, 4, 1), [0, 1, 0])
    """
    # np.load raises ValueError (not BadZipFile) for bytes that are neither a zip
    # nor an .npy, and returns a bare array for an .npy renamed to .npz.
    unreadable = (zipfile.BadZipFile, OSError, EOFError, ValueError)
    if zipfile.is_zipfile(path):
        try:
            _npy_headers(path)
        except DataError:
            raise
        except unreadable as e:
            raise ValueError(
                f"Corrupt npz {path}: cannot be read as an npz archive ({e}); {_REWRITE}."
            ) from e
    try:
        archive = np.load(path, allow_pickle=False)
    except unreadable as e:
        raise ValueError(
            f"Corrupt npz {path}: cannot be read as an npz archive ({e}); {_REWRITE}."
        ) from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"Corrupt npz {path}: expected an npz archive, received a single array; {_REWRITE}."
        )
    with archive as d:
        files = set(d.files)
        if "y" not in files or not ({"x"} <= files or {"jpeg", "offsets"} <= files):
            raise ValueError(
                f"Corrupt npz {path}: expected keys 'x','y' or 'jpeg','offsets','y', "
                f"received {sorted(files)}; {_REWRITE}."
            )
        try:
            y = np.asarray(d["y"])
            if "x" in files:
                x = np.asarray(d["x"])
            else:
                buf, offsets = np.asarray(d["jpeg"]), np.asarray(d["offsets"])
        except unreadable as e:
            raise ValueError(
                f"Corrupt npz {path}: cannot read its arrays ({e}); {_REWRITE}."
            ) from e
    if "x" not in files:
        x = _decoded(buf, offsets, path)
    try:
        x = check_images(x, "the images")
        return x, check_labels(y, len(x), where="the labels")
    except DataError as e:
        raise DataError(f"Corrupt npz {path}: {e}") from None


def _decoded(buf, offsets, path):
    """The decoded images of a JPEG-packed npz, through the decode cache.

    A cache file that cannot be read, or does not hold one uint8 image per
    JPEG, is ignored and written again: the cache lives outside the data
    folder, so it only ever saves time, never decides what the data is.
    """
    cache = _cache_path(path)
    try:
        with np.load(cache, allow_pickle=False) as c:
            x = c["x"]
        if x.dtype == np.uint8 and x.ndim == 4 and len(x) == len(offsets) - 1:
            return x
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, TypeError):
        pass  # missing or damaged
    x = _decode_jpeg_packed(buf, offsets, path)
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tmp = cache + f".{os.getpid()}.tmp.npz"
        np.savez(tmp, x=x)
        os.replace(tmp, cache)
    except OSError:  # the cache only saves decoding time; a read-only home is fine
        pass
    return x


def _image_files(folder, classes):
    """``[(path, label)]`` of the image files under ``folder/<class>/``, sorted."""
    files = []
    for label, cls in enumerate(classes):
        cdir = os.path.join(folder, cls)
        if os.path.isdir(cdir):
            files += [
                (os.path.join(cdir, f), label)
                for f in sorted(os.listdir(cdir))
                if f.lower().endswith(IMAGE_EXTS)
            ]
    return files


def _open_image(path, folder):
    """``PIL.Image.open(path)`` (header only) with every failure a one-line `DataError`.

    PIL refuses images above twice ``Image.MAX_IMAGE_PIXELS`` (a decompression
    bomb: a small file that decodes to gigabytes) and only warns between one
    and two times; both are refused here, before any pixel is decoded.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(
            f"Expected images of at most {Image.MAX_IMAGE_PIXELS:,} pixels under "
            f"{folder}, received {path!r} which claims more ({e}); resize or "
            f"remove it."
        ) from None
    except OSError as e:  # PIL's UnidentifiedImageError, truncated files
        raise DataError(
            f"Expected image files PIL can read under {folder}, "
            f"received {path!r} ({e}); remove or replace it."
        ) from None


def load_image_folder(folder, class_names=None):
    """``(x, y, class_names)`` of ``folder/<class>/*`` image files of one size, as RGB uint8.

    Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> for cls in ("cat", "dog"):
    ...     os.makedirs(os.path.join(root, cls))
    ...     Image.new("RGB", (5, 4)).save(os.path.join(root, cls, "a.png"))
    >>> x, y, names = load_image_folder(root); x.shape, y.tolist(), names
    ((2, 4, 5, 3), [0, 1], ('cat', 'dog'))
    """
    classes = class_names or sorted(
        d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))
    )
    files = _image_files(folder, classes)
    if not files:
        raise ValueError(f"Expected image files under {folder}/<class>/, found none.")
    # First every header (sizes, bombs), then the memory check, then decoding.
    sizes = set()
    for path, _ in files:
        with _open_image(path, folder) as image:
            sizes.add(image.size)
    if len(sizes) != 1:
        raise ValueError(
            f"Expected images of one size in {folder}, received sizes {sorted(sizes)[:4]} "
            f"(width, height); resize them first."
        )
    width, height = sizes.pop()
    check_fits_in_memory(
        len(files) * width * height * 3, f"the images of {folder}", "use fewer or smaller images"
    )
    xs = []
    for path, _ in files:
        try:
            with _open_image(path, folder) as image:
                xs.append(np.asarray(image.convert("RGB")))
        except OSError as e:  # truncated pixel data shows only when decoding
            raise DataError(
                f"Expected image files PIL can read under {folder}, "
                f"received {path!r} ({e}); remove or replace it."
            ) from None
    ys = [label for _, label in files]
    return np.stack(xs), np.asarray(ys, np.int64), tuple(classes)
