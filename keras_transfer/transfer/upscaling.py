"""Coarse-to-fine upscaling: a trained CNN mapped to larger inputs, the function unchanged.

Paper: coarse2fine-incremental-training.txt (Liu et al.), sections III-A/B. A
CNN trained on 8x8 images is mapped to 16x16 and 32x32 and trained on at each
step (the schedule: `keras_transfer.schedules.incremental`; more filters and layers:
`keras_transfer.transfer.net2net`). `upscale(model, factor)` returns a new
model for inputs ``factor`` times larger, with ``upscaled(replicate(x)) ==
model(x)`` (eqs. 1, 5-8) in exact mode; the input model is left untouched.

How `upscale` keeps the identity through a whole network. On the
pixel-replicated input (eq. 5) every original pixel fills an ``f x f`` block;
a convolution seeing such a *replicated* map gets the paper's kernel (eq. 7:
each weight replicated ``f x f`` times and divided by ``f^2``), and its output
equals the original map at every ``f``-th position (eq. 8) and something else
in between. Layers after that see an *anchored* map: a convolution gets the
original weights at every ``f``-th tap (new taps zero in exact mode, small
Gaussian noise in paper mode, section III-B / Fig. 3), a pooling becomes a
`DilatedPooling2D` with dilation ``f``, and a dense layer after ``Flatten``
takes the original weights at the anchor positions (section III-B). Strides
are kept, paddings are multiplied by ``f`` (a ``ZeroPadding2D`` is inserted
where Keras' ``"same"`` split would differ), so every map of the new network is
``f`` times the original's side, give or take ``f - 1`` trailing positions.
Pointwise layers (activations, BatchNormalization, dropout, 1x1 convolutions)
are copied. Anything else (dilated or transposed convolutions, reshapes,
nested models, shared layers, spatial outputs) is refused with a ValueError,
never silently mapped to a different function.
"""

import math

import keras
import numpy as np

from keras_transfer import graph
from keras_transfer.checks import check_choice
from keras_transfer.checks import check_factor
from keras_transfer.layers.upscaled import DilatedPooling2D
from keras_transfer.layers.upscaled import upscale_dense_kernel
from keras_transfer.layers.upscaled import upscale_kernel

UPSCALE_MODES = ("exact", "paper")

L = keras.layers
# Layers acting on each position (and channel) independently: copied unchanged.
_POINTWISE = (
    L.Activation,
    L.ReLU,
    L.LeakyReLU,
    L.ELU,
    L.Softmax,
    L.BatchNormalization,
    L.Dropout,
    L.SpatialDropout2D,
    L.GaussianNoise,
    L.GaussianDropout,
    L.AlphaDropout,
    L.Rescaling,
    L.Identity,
    L.ActivityRegularization,
)
_MERGES = (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum, L.Concatenate)
POOLING_LAYERS = (L.MaxPooling2D, L.AveragePooling2D, DilatedPooling2D)
GLOBAL_POOLING_LAYERS = (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)


_UNSUPPORTED = (
    "this layer type is not supported (supported: Conv2D, pooling, padding/cropping, "
    "Flatten, Dense, global pooling, merges and pointwise layers)."
)


def replicate(images, factor=2):
    """Pixel replication (paper eq. 5): every pixel becomes a ``factor x factor`` block.

    Example:
    >>> replicate(np.arange(4).reshape(1, 2, 2, 1))[0, :, :, 0]
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [2, 2, 3, 3],
           [2, 2, 3, 3]])
    """
    factor = check_factor(factor)
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"Expected images (batch, height, width, channels), received shape {images.shape}."
        )
    return np.repeat(np.repeat(images, factor, axis=1), factor, axis=2)


def _typename(layer):
    return type(layer).__name__


def _same_pads(n, k, s):
    """Keras/TensorFlow ``"same"`` padding split (left, right) for side n, window k, stride s."""
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _orig_pads(layer, n, k, s, axis):
    """The (left, right) padding the original windowed layer applies along ``axis``."""
    if isinstance(layer, DilatedPooling2D):
        return layer.padding[axis]
    return (0, 0) if layer.padding == "valid" else _same_pads(n, k, s)


class _Upscaler:
    """The state of one `upscale` call: factor, mode, noise and each tensor's layout."""

    def __init__(self, factor, mode, stddev, seed, names):
        self.names = set(names)  # layer names taken; inserted layers get new ones
        self.f = factor
        self.mode = mode
        self.stddev = stddev
        self.rng = np.random.default_rng(seed)
        self.state = {}  # id(original tensor) -> layout

    # A layout is ("replicated" | "anchored", (H, W)) for a map, ("flat", layout,
    # (H, W, C), (H', W')) for a flattened map, ("plain",) otherwise.

    def input(self, x):
        shape = tuple(x.shape[1:])
        if len(shape) != 3 or None in shape:
            raise ValueError(
                f"Expected an image input (height, width, channels) with known "
                f"sizes to upscale, received shape {shape}."
            )
        self.state[id(x)] = ("replicated", shape[:2])
        return keras.Input((shape[0] * self.f, shape[1] * self.f, shape[2]), name=x.name)

    def unique(self, base):
        name, i = base, 1
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def refuse(self, layer, why):
        raise ValueError(
            f"upscale cannot map layer {layer.name!r} ({_typename(layer)}) exactly: {why}"
        )

    def visit(self, call):
        """The `keras_transfer.graph.rebuild` visitor: maps one call, records its layout."""
        layer, states = call.layer, [self.state[id(x)] for x in call.inputs]
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            self.refuse(layer, "only channels_last data is supported.")
        for kinds, handler in self.HANDLERS:
            if isinstance(layer, kinds):
                out, state = handler(self, call, states)
                break
        else:
            self.refuse(layer, _UNSUPPORTED)
        for x in call.outputs:
            self.state[id(x)] = state
        return out

    def _spatial(self, call, st, what):
        if st[0] not in ("replicated", "anchored"):
            self.refuse(call.layer, f"{what} a non-image tensor.")

    def _conv_or_copy(self, call, states):
        layer, st = call.layer, states[0]
        if type(layer) is not L.Conv2D:  # a subclass may compute something else
            self.refuse(layer, _UNSUPPORTED)
        if (
            layer.kernel_size == (1, 1)
            and layer.strides == (1, 1)
            and layer.dilation_rate == (1, 1)
        ):
            return graph.copy_call(call), st  # pointwise
        self._spatial(call, st, "a convolution on")
        return self._conv(call, st)

    def _pool_map(self, call, states):
        self._spatial(call, states[0], "pooling")
        return self._pool(call, states[0])

    def _pad(self, call, states):
        layer, st = call.layer, states[0]
        self._spatial(call, st, "padding")
        key = "padding" if isinstance(layer, L.ZeroPadding2D) else "cropping"
        amounts = tuple(tuple(self.f * v for v in p) for p in getattr(layer, key))
        new = graph.clone_layer(layer, **{key: amounts})
        return new(*call.args, **call.kwargs), (st[0], tuple(call.outputs[0].shape[1:3]))

    def _flatten(self, call, states):
        st = states[0]
        if st[0] not in ("replicated", "anchored"):
            return graph.copy_call(call), ("plain",)
        return (
            graph.copy_call(call),
            ("flat", st[0], tuple(call.inputs[0].shape[1:]), tuple(call.args[0].shape[1:3])),
        )

    def _dense_map(self, call, states):
        if states[0][0] == "flat":
            return self._dense(call, states[0]), ("plain",)
        return graph.copy_call(call), states[0]

    def _global_pool_map(self, call, states):
        if states[0][0] != "anchored":
            return graph.copy_call(call), ("plain",)
        return self._global_pool(call)

    def _pointwise(self, call, states):
        layer, st = call.layer, states[0]
        if st[0] == "flat" and isinstance(layer, L.BatchNormalization):
            self.refuse(
                layer, "BatchNormalization of a flattened map has one parameter per position."
            )
        axis = getattr(layer, "axis", -1)
        if isinstance(layer, (L.BatchNormalization, L.Softmax)) and axis not in (-1, 3, [-1], [3]):
            self.refuse(layer, f"it acts along axis {axis}, not the channel axis.")
        return graph.copy_call(call), st

    def _windowed(self, new_in, out_hw, k_new, strides, pads):
        """Padding of a windowed layer in the upscaled net, per axis.

        ``new_in``: the new input's (height, width); ``out_hw``: the original
        output's; ``k_new``: the new (dilated) window; ``pads``: the original
        (left, right) paddings. The left padding must be ``f * left`` (so the
        output's anchors stay at every f-th position) and the right one large
        enough for the last anchor's window. Returns ``(padding, explicit)``:
        ``"valid"`` or ``"same"`` when Keras' own padding does that, else
        ``"valid"`` and the explicit ``((top, bottom), (left, right))``.
        """
        explicit = []
        for a in range(2):
            left = self.f * pads[a][0]
            need_right = strides[a] * self.f * (out_hw[a] - 1) + k_new[a] - new_in[a] - left
            explicit.append((left, max(0, need_right)))
        if all(p == (0, 0) for p in explicit):
            return "valid", None
        for a in range(2):
            left, right = _same_pads(new_in[a], k_new[a], strides[a])
            if (
                left != explicit[a][0]
                or right < explicit[a][1]
                or math.ceil(new_in[a] / strides[a]) > self.f * out_hw[a]
            ):
                return "valid", tuple(explicit)
        return "same", None

    def _conv(self, call, st):
        layer, args, kwargs = call.layer, call.args, call.kwargs
        if layer.dilation_rate != (1, 1):
            self.refuse(layer, "dilated convolutions are not supported.")
        x = args[0]
        h_w = tuple(call.inputs[0].shape[1:3])
        out_hw = tuple(call.outputs[0].shape[1:3])
        k, s = layer.kernel_size, layer.strides
        pads = [_orig_pads(layer, h_w[a], k[a], s[a], a) for a in range(2)]
        k_new = (self.f * k[0], self.f * k[1])
        padding, explicit = self._windowed(tuple(x.shape[1:3]), out_hw, k_new, s, pads)
        if explicit is not None:
            x = L.ZeroPadding2D(explicit, name=self.unique(f"{layer.name}_pad"))(x)
        new = graph.clone_layer(layer, kernel_size=k_new, padding=padding)
        out = new(x, *args[1:], **kwargs)
        weights = layer.get_weights()
        weights[0] = upscale_kernel(weights[0], self.f, st[0], self.mode, self.stddev, self.rng)
        new.set_weights(weights)
        return out, ("anchored", out_hw)

    def _pool(self, call, st):
        layer, args, kwargs = call.layer, call.args, call.kwargs
        x = args[0]
        new_in = tuple(x.shape[1:3])
        h_w = tuple(call.inputs[0].shape[1:3])
        out_hw = tuple(call.outputs[0].shape[1:3])
        p, s = tuple(layer.pool_size), tuple(layer.strides)
        if (
            p == (1, 1)
            and s == (1, 1)
            and (not isinstance(layer, DilatedPooling2D) or layer.padding == ((0, 0), (0, 0)))
        ):
            return graph.copy_call(call), st
        if isinstance(layer, DilatedPooling2D):
            d, pool_type = layer.dilation_rate, layer.pool_type
        else:
            d = (1, 1)
            pool_type = "max" if isinstance(layer, L.MaxPooling2D) else "avg"
        k_eff = tuple(d[a] * (p[a] - 1) + 1 for a in range(2))
        pads = [_orig_pads(layer, h_w[a], k_eff[a], s[a], a) for a in range(2)]
        if st[0] == "replicated" and d == (1, 1):
            window, dilation = (self.f * p[0], self.f * p[1]), (1, 1)  # whole blocks
        else:
            window, dilation = p, (self.f * d[0], self.f * d[1])  # anchors only
        k_new = tuple(dilation[a] * (window[a] - 1) + 1 for a in range(2))
        padding, explicit = self._windowed(new_in, out_hw, k_new, s, pads)
        if explicit is None and dilation == (1, 1) and not isinstance(layer, DilatedPooling2D):
            new = graph.clone_layer(layer, pool_size=window, padding=padding)
            return new(*args, **kwargs), ("anchored", out_hw)
        if explicit is None:
            explicit = tuple(
                ((0, 0) if padding == "valid" else _same_pads(new_in[a], k_new[a], s[a]))
                for a in range(2)
            )
        new = DilatedPooling2D(
            window,
            strides=s,
            dilation_rate=dilation,
            padding=explicit,
            pool_type=pool_type,
            output_size=(self.f * out_hw[0], self.f * out_hw[1]),
            name=layer.name,
        )
        return new(x), ("anchored", out_hw)

    def _global_pool(self, call):
        layer, args = call.layer, call.args
        h, w, c = call.inputs[0].shape[1:]
        pool_type = "avg" if isinstance(layer, L.GlobalAveragePooling2D) else "max"
        x = DilatedPooling2D(
            (h, w),
            strides=1,
            dilation_rate=self.f,
            pool_type=pool_type,
            output_size=(1, 1),
            name=layer.name,
        )(args[0])
        if layer.keepdims:
            return x, ("anchored", (1, 1))
        flat = L.Flatten(name=self.unique(f"{layer.name}_flat"))(x)  # (1, 1, C) -> (C,)
        return flat, ("flat", "anchored", (1, 1, c), (1, 1))

    def _dense(self, call, st):
        layer, args, kwargs = call.layer, call.args, call.kwargs
        _, layout, spatial_shape, new_size = st
        weights = layer.get_weights()
        weights[0] = upscale_dense_kernel(
            weights[0], spatial_shape, new_size, self.f, layout, self.mode, self.stddev, self.rng
        )
        new = graph.clone_layer(layer)
        out = new(*args, **kwargs)
        new.set_weights(weights)
        return out

    def _merge(self, call, states):
        layer, args = call.layer, call.args
        kinds = {s[0] for s in states}
        if kinds <= {"plain"}:
            return graph.copy_call(call), ("plain",)
        if not kinds <= {"replicated", "anchored"}:
            self.refuse(layer, "it merges flattened maps.")
        if isinstance(layer, L.Concatenate) and layer.axis not in (-1, 3):
            self.refuse(layer, f"it concatenates along axis {layer.axis}, not the channels.")
        tensors = list(args[0])
        sides = [tuple(t.shape[1:3]) for t in tensors]
        target = tuple(max(s[a] for s in sides) for a in range(2))
        for i, side in enumerate(sides):
            if side != target:  # pad the junk tail so the anchors line up; values there unused
                pad = ((0, target[0] - side[0]), (0, target[1] - side[1]))
                align = L.ZeroPadding2D(pad, name=self.unique(f"{layer.name}_align"))
                tensors[i] = align(tensors[i])
        out = graph.copy_call(call, [tensors, *args[1:]])
        kind = "replicated" if kinds == {"replicated"} else "anchored"
        return out, (kind, tuple(call.outputs[0].shape[1:3]))

    # Layer kinds and their handlers, first match wins.
    HANDLERS = (
        ((L.Conv2D,), _conv_or_copy),
        (POOLING_LAYERS, _pool_map),
        ((L.ZeroPadding2D, L.Cropping2D), _pad),
        ((L.Flatten,), _flatten),
        ((L.Dense,), _dense_map),
        (GLOBAL_POOLING_LAYERS, _global_pool_map),
        (_MERGES, _merge),
        (_POINTWISE, _pointwise),
    )


def upscale(model, factor=2, mode="exact", stddev=0.01, seed=None, name=None):
    """The network for ``factor``-times larger inputs (coarse-to-fine paper, section III-A/B).

    In exact mode ``upscaled(replicate(x, factor)) == model(x)`` up to float
    rounding (eq. 1 with the pixel replication of eq. 5). Convolutions on the
    replicated input get kernels ``factor`` times larger, each weight
    replicated ``factor x factor`` times and divided by ``factor^2`` (eq. 7),
    biases copied; later convolutions and dense layers after ``Flatten`` keep
    the original weights at every ``factor``-th position (eq. 8, section
    III-B) with zeros (exact) or ``N(0, stddev)`` noise (``mode="paper"``) at
    the new ones; poolings look at those positions (`DilatedPooling2D`);
    strides are kept and paddings scaled. See the module docstring.

    Args:
        model: a trained Functional or Sequential classifier with a
            channels-last image input of known size.
        factor: integer >= 2 (paper: 2, three times from 8x8 to 64x64).
        mode: ``"exact"`` or ``"paper"`` (new dense/conv positions get small
            Gaussian noise, section III-B; then the function changes slightly).
        stddev: paper-mode noise standard deviation (Fig. 8's ``N(0, 1/100)``).
        seed: seed of the paper-mode noise.
        name: name of the new model (default: the original's).

    Returns:
        A new Functional model (layers keep their names; inserted paddings are
        named ``<layer>_pad``); ``model`` is unchanged.

    Raises:
        ValueError: ``factor`` not an integer >= 2, an unknown ``mode``, or a
            layer that cannot be upscaled exactly (named in the message).

    Example:
    >>> from keras_transfer.models import table1_net
    >>> small = table1_net("net-2", (8, 8, 3), 10)
    >>> big = upscale(small, 2)
    >>> big.input_shape, tuple(big.get_layer("conv1").kernel.shape)
    ((None, 16, 16, 3), (4, 4, 3, 6))
    >>> x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    >>> bool(np.abs(big.predict(replicate(x), verbose=0) - small.predict(x, verbose=0)).max()
    ...      < 1e-5)
    True
    """
    factor = check_factor(factor)
    check_choice(mode, UPSCALE_MODES, "mode")
    if not isinstance(stddev, (int, float)) or stddev < 0:
        raise ValueError(f"Expected stddev >= 0, received {stddev!r}.")
    model = graph.as_functional(model, "upscale")
    up = _Upscaler(factor, mode, float(stddev), seed, [layer.name for layer in model.layers])
    new = graph.rebuild(model, up.visit, make_input=up.input, name=name)
    for x in model.outputs:
        if up.state[id(x)][0] != "plain":
            raise ValueError(
                f"upscale cannot map {model.name!r} exactly: its output "
                f"{tuple(x.shape)} is an image-shaped map (only every "
                f"{factor}-th position would equal the original); upscale "
                f"classifiers or feature extractors with a pooled/dense output."
            )
    return new
