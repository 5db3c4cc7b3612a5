"""The restricted unpickler of legacy PyTorch ``.pth`` files (`torch_pickle` reads the rest).

`pickle.load` would import and call whatever a file names. This unpickler
admits only the globals a state dict needs (``collections.OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and the storage types, each mapped to a
local stand-in that refuses ``__setstate__``), records every storage a
persistent id names, and refuses anything else in one line. Each pickle is
first scanned with `pickletools.genops` (reads clamped to the file's size,
memo indices bounded), so a length field cannot make the unpickler allocate
more than the file holds.
"""

import collections
import io
import pickle
import pickletools
import reprlib

import numpy as np

# torch storage type -> numpy little-endian dtype.
_STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}
_MAX_LINE = 1 << 16  # longest text-opcode line (a GLOBAL's module and name) in a pickle
_FIX = (
    "the file is damaged or was not written by torch.save; re-download it (pip install "
    "--force-reinstall <wheel>) or re-save the state dict with torch.save"
)
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60


def _show(obj):
    """A short repr of anything a pickle can build (huge ints and deep nesting included)."""
    if type(obj) is int and obj.bit_length() > 64:
        return f"an int of {obj.bit_length()} bits"
    try:
        return _repr.repr(obj)
    except Exception:  # e.g. an int too long for str(); a message must not fail
        return f"a {type(obj).__name__}"


class _Refused(Exception):
    """Raised inside the unpickler; `_load_pickle` turns it into a plain ValueError."""


class _Frozen:
    """Pickle stand-ins refuse BUILD (``__setstate__``), so a file cannot rewrite them."""

    __slots__ = ()

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"BUILD {_show(state)} on a {type(self).__name__[1:]}")


class _StorageType(_Frozen):
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


class _Storage(_Frozen):
    """A storage named by a persistent id; its record (dtype, size, bytes) is the reader's."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return f"<storage {self.key!r}>"


class _Record:
    def __init__(self, key, type_name, numel):
        self.key, self.type_name, self.numel = key, type_name, numel
        self.dtype = np.dtype(_STORAGE_DTYPES[type_name])
        self.listed, self.data = False, None


class _TensorRef(_Frozen):
    """What ``_rebuild_tensor_v2`` returns here: its arguments, checked once the name is known."""

    __slots__ = ("args",)

    def __init__(self, args):
        self.args = args

    def __repr__(self):
        return "<tensor>"


def _rebuild_tensor_v2(*args):
    return _TensorRef(args)


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only the globals of a PyTorch state dict; storages come through persistent ids.

    ``records`` (key -> `_Record`) is given only for the state dict's pickle; the other
    pickles hold no storages, and a persistent id there is refused by `pickle` itself.
    """

    def __init__(self, file, path, records=None):
        super().__init__(file)
        self._path, self._records = path, records
        if records is not None:
            self.persistent_load = self._persistent_load

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        shown = f"{module}.{name}"  # STACK_GLOBAL (protocol 4) takes any strings: keep one line
        shown = shown if shown.isprintable() and len(shown) <= 200 else _show(shown)
        raise _Refused(
            f"Expected only a PyTorch state dict's globals (collections.OrderedDict, "
            f"torch._utils._rebuild_tensor_v2, torch.*Storage), received {shown}; "
            f"refusing to load it (the file {self._path!r} is not a plain state dict or was "
            f"tampered with)."
        )

    def _persistent_load(self, pid):
        if not (
            type(pid) is tuple
            and len(pid) in (5, 6)
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and pid[1].name in _STORAGE_DTYPES
            and type(pid[2]) is str
            and type(pid[3]) is str
            and type(pid[4]) is int
            and pid[4] >= 0
        ):
            raise _Refused(
                f"Expected storage references ('storage', torch.<Type>Storage, key, "
                f"location, size >= 0) in {self._path!r}, received {_show(pid)}; "
                f"{_FIX}."
            )
        _, storage_type, key, _location, numel = pid[:5]
        if len(pid) == 6 and pid[5] is not None:
            raise _Refused(
                f"Expected storages without views in {self._path!r}, received a "
                f"view of storage {key!r} (PyTorch < 0.4 format); re-save the state "
                f"dict with a recent torch.save."
            )
        record = self._records.get(key)
        if record is None:
            self._records[key] = _Record(key, storage_type.name, numel)
        elif (record.type_name, record.numel) != (storage_type.name, numel):
            raise _Refused(
                f"Expected every reference to storage {key!r} in {self._path!r} to "
                f"agree, received {record.type_name} of {record.numel} values and "
                f"{storage_type.name} of {numel}; {_FIX}."
            )
        return _Storage(key)


class _BoundedReader:
    """The file as `pickletools.genops` reads it: no read past ``end``, short lines.

    A length field read from the file then cannot make a read allocate more bytes than
    the file holds (``f.read(2**60)`` would try), nor a text opcode read a whole file.
    """

    def __init__(self, f, end):
        self._f, self._end = f, end

    def read(self, n=-1):
        left = max(self._end - self._f.tell(), 0)
        return self._f.read(left if n is None or n < 0 or n > left else n)

    def readline(self):
        return self._f.readline(_MAX_LINE)

    def tell(self):
        return self._f.tell()


def _load_pickle(f, size, path, what, records=None):
    """The next pickle of ``f`` (``what`` names it in errors), scanned before it is loaded.

    The scan finds where the pickle ends and checks each opcode's arguments are inside the
    file and each memo index is no more than the opcodes so far (the C unpickler grows its
    memo table to the largest index, 8 bytes per slot); only then are its bytes read and
    unpickled from memory by the restricted unpickler.
    """
    start = f.tell()
    try:
        for count, (op, arg, _pos) in enumerate(pickletools.genops(_BoundedReader(f, size))):
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and arg > count:
                raise ValueError(f"memo index {arg} at opcode {count}")
            if op.name == "FRAME" and arg > size - f.tell():
                raise ValueError(f"a frame of {arg} bytes with {size - f.tell()} left")
        end = f.tell()
        f.seek(start)
        unpickler = _RestrictedUnpickler(io.BytesIO(f.read(end - start)), path, records)
        obj = unpickler.load()
        f.seek(end)
        return obj
    except _Refused as err:
        raise ValueError(str(err)) from None
    except Exception as err:  # any failure of a malformed pickle is refused
        raise ValueError(
            f"Expected a legacy PyTorch .pth file, received {path!r} whose {what} "
            f"(pickle at byte {start}) does not load: {type(err).__name__}: "
            f"{_show(str(err))[1:-1]}; {_FIX}."
        ) from None
