"""Coarse-to-fine incremental training: function-preserving upscale, widen and deepen.

Paper: coarse2fine-incremental-training.txt (Liu et al.). A CNN is trained on
8x8 images, mapped to 16x16 and 32x32 (section III-A/B), given more filters
(III-C) and layers (IV-E, Net2DeeperNet of Chen et al.), and trained on at each
step. Each transform here takes a trained Functional Keras model and returns a
new one with its weights set (the input model is left untouched):

- `upscale(model, factor)`: for inputs ``factor`` times larger, with
  ``upscaled(replicate(x)) == model(x)`` (eqs. 1, 5-8) in exact mode.
- `widen(model, layer, new_filters, init)`: more filters or units (Fig. 3,
  Figs. 8-9, Net2WiderNet), the function unchanged at the moment of widening.
- `deepen(model, after_layer)`: a new layer initialised to the identity.

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

from keras_transfer.layers.upscaled import DilatedPooling2D
from keras_transfer.layers.upscaled import upscale_dense_kernel
from keras_transfer.layers.upscaled import upscale_kernel

UPSCALE_MODES = ("exact", "paper")
WIDEN_INITS = ("gaussian", "zeros", "flip_horizontal", "flip_vertical", "flip_diagonal",
               "flip_central", "net2wider")

L = keras.layers
# Layers acting on each position (and channel) independently: copied unchanged.
_POINTWISE = (L.Activation, L.ReLU, L.LeakyReLU, L.ELU, L.Softmax, L.BatchNormalization,
              L.Dropout, L.SpatialDropout2D, L.GaussianNoise, L.GaussianDropout, L.AlphaDropout,
              L.Rescaling, L.Identity, L.ActivityRegularization)
_MERGES = (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum, L.Concatenate)
_POOLS = (L.MaxPooling2D, L.AveragePooling2D, DilatedPooling2D)
_GLOBAL_POOLS = (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)
# What widen lets a widened layer's channels pass through on the way to the next weighted layer.
_CHANNEL_PASS = (L.Activation, L.ReLU, L.LeakyReLU, L.ELU, L.Dropout, L.SpatialDropout2D,
                 L.GaussianNoise, L.GaussianDropout, L.AlphaDropout, L.Identity,
                 L.ActivityRegularization, L.ZeroPadding2D, L.Cropping2D, L.Flatten,
                 *_POOLS, *_GLOBAL_POOLS)


def replicate(images, factor=2):
    """Pixel replication (paper eq. 5): every pixel becomes a ``factor x factor`` block.

    Example:
    >>> replicate(np.arange(4).reshape(1, 2, 2, 1))[0, :, :, 0]
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [2, 2, 3, 3],
           [2, 2, 3, 3]])
    """
    factor = _check_factor(factor)
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"Expected images (batch, height, width, channels), received shape "
                         f"{images.shape}.")
    return np.repeat(np.repeat(images, factor, axis=1), factor, axis=2)


def _check_factor(factor):
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 2:
        raise ValueError(f"Expected an integer factor >= 2, received {factor!r}.")
    return int(factor)


# --------------------------------------------------------------------------- graph rebuilding


def _as_functional(model, what):
    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected a Keras model to {what}, received {type(model).__name__}.")
    if isinstance(model, keras.Sequential):
        if not model.built or not model.inputs:
            raise ValueError(f"Expected a built model to {what} (give the Sequential model an "
                             f"keras.Input), received an unbuilt {model.name!r}.")
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    if not hasattr(model, "_nodes_by_depth"):
        raise ValueError(f"Expected a Functional (or Sequential) model to {what}, received a "
                         f"subclassed {type(model).__name__}: its graph cannot be rewritten.")
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            raise ValueError(f"Expected a model without nested models to {what}, received "
                             f"{layer.name!r} ({type(layer).__name__}) inside {model.name!r}; "
                             f"rebuild it as one flat Functional model first.")
        if len(layer._inbound_nodes) > 1:
            raise ValueError(f"Expected every layer to be used once to {what}, received "
                             f"{layer.name!r}, which is shared by {len(layer._inbound_nodes)} "
                             f"calls.")
    return model


def _layer_names(model):
    return [layer.name for layer in model.layers]


def _get_layer(model, name, what):
    if name not in _layer_names(model):
        raise ValueError(f"Expected the name of a layer of {model.name!r} to {what}, received "
                         f"{name!r}; layers: {_layer_names(model)}.")
    return model.get_layer(name)


def _rebuild(model, make_input, visit, name):
    """Re-runs ``model``'s graph node by node with new layers.

    ``make_input(keras_tensor)`` gives each new input; ``visit(layer, node,
    args, kwargs)`` returns the new output tensor(s) of one node, ``args``
    holding the new input tensors. Same node order as Keras itself
    (`Functional._run_through_graph`: decreasing depth); Keras has no public
    API to rebuild a graph with some layers replaced (`clone_model` keeps every
    layer's config).
    """
    tensors = {}
    new_inputs = []
    for x in model.inputs:
        y = make_input(x)
        tensors[id(x)] = y
        new_inputs.append(y)
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input or not node.operation:
                continue
            args, kwargs = node.arguments.fill_in(tensors)
            outputs = keras.tree.flatten(visit(node.operation, node, args, kwargs))
            for x, y in zip(node.outputs, outputs):
                tensors[id(x)] = y
    outputs = [tensors[id(x)] for x in model.outputs]
    return keras.Model(new_inputs[0] if len(new_inputs) == 1 else new_inputs,
                       outputs[0] if len(outputs) == 1 else outputs, name=name)


def _clone(layer, **changes):
    config = layer.get_config()
    config.update(changes)
    return layer.__class__.from_config(config)


def _copy(layer, args, kwargs):
    """Calls a fresh copy of ``layer`` (same config and weights) on ``args``."""
    new = _clone(layer)
    out = new(*args, **kwargs)
    new.set_weights(layer.get_weights())
    return out


def _typename(layer):
    return type(layer).__name__


# --------------------------------------------------------------------------- upscale


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
            raise ValueError(f"Expected an image input (height, width, channels) with known "
                             f"sizes to upscale, received shape {shape}.")
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
        raise ValueError(f"upscale cannot map layer {layer.name!r} ({_typename(layer)}) "
                         f"exactly: {why}")

    def visit(self, layer, node, args, kwargs):
        states = [self.state[id(x)] for x in node.input_tensors]
        out, state = self._map(layer, node, states, args, kwargs)
        for x in node.outputs:
            self.state[id(x)] = state
        return out

    def _map(self, layer, node, states, args, kwargs):
        st = states[0]
        spatial = st[0] in ("replicated", "anchored")
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            self.refuse(layer, "only channels_last data is supported.")
        if type(layer) is L.Conv2D:
            pointwise = layer.kernel_size == (1, 1) and layer.strides == (1, 1)
            if pointwise and layer.dilation_rate == (1, 1):
                return _copy(layer, args, kwargs), st
            if not spatial:
                self.refuse(layer, "a convolution on a non-image tensor.")
            return self._conv(layer, node, st, args, kwargs)
        if isinstance(layer, _POOLS):
            if not spatial:
                self.refuse(layer, "pooling a non-image tensor.")
            return self._pool(layer, node, st, args, kwargs)
        if isinstance(layer, L.ZeroPadding2D) or isinstance(layer, L.Cropping2D):
            if not spatial:
                self.refuse(layer, "padding a non-image tensor.")
            key = "padding" if isinstance(layer, L.ZeroPadding2D) else "cropping"
            amounts = tuple(tuple(self.f * v for v in p) for p in getattr(layer, key))
            new = _clone(layer, **{key: amounts})
            return new(*args, **kwargs), (st[0], tuple(node.outputs[0].shape[1:3]))
        if isinstance(layer, L.Flatten):
            if not spatial:
                return _copy(layer, args, kwargs), ("plain",)
            x = args[0]
            return (_copy(layer, args, kwargs),
                    ("flat", st[0], tuple(node.input_tensors[0].shape[1:]),
                     tuple(x.shape[1:3])))
        if isinstance(layer, L.Dense):
            if st[0] == "flat":
                return self._dense(layer, st, args, kwargs), ("plain",)
            return _copy(layer, args, kwargs), st
        if isinstance(layer, _GLOBAL_POOLS):
            if st[0] == "replicated" or not spatial:
                return _copy(layer, args, kwargs), ("plain",)
            return self._global_pool(layer, node, args)
        if isinstance(layer, _MERGES):
            return self._merge(layer, node, states, args, kwargs)
        if isinstance(layer, _POINTWISE):
            if st[0] == "flat" and isinstance(layer, L.BatchNormalization):
                self.refuse(layer, "BatchNormalization of a flattened map has one parameter per "
                                   "position.")
            axis = getattr(layer, "axis", -1)
            if isinstance(layer, (L.BatchNormalization, L.Softmax)) and axis not in (-1, 3, [-1],
                                                                                     [3]):
                self.refuse(layer, f"it acts along axis {axis}, not the channel axis.")
            return _copy(layer, args, kwargs), st
        self.refuse(layer, "this layer type is not supported (supported: Conv2D, pooling, "
                           "padding/cropping, Flatten, Dense, global pooling, merges and "
                           "pointwise layers).")

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
            if (left != explicit[a][0] or right < explicit[a][1]
                    or math.ceil(new_in[a] / strides[a]) > self.f * out_hw[a]):
                return "valid", tuple(explicit)
        return "same", None

    def _conv(self, layer, node, st, args, kwargs):
        if layer.dilation_rate != (1, 1):
            self.refuse(layer, "dilated convolutions are not supported.")
        x = args[0]
        h_w = tuple(node.input_tensors[0].shape[1:3])
        out_hw = tuple(node.outputs[0].shape[1:3])
        k, s = layer.kernel_size, layer.strides
        pads = [_orig_pads(layer, h_w[a], k[a], s[a], a) for a in range(2)]
        k_new = (self.f * k[0], self.f * k[1])
        padding, explicit = self._windowed(tuple(x.shape[1:3]), out_hw, k_new, s, pads)
        if explicit is not None:
            x = L.ZeroPadding2D(explicit, name=self.unique(f"{layer.name}_pad"))(x)
        new = _clone(layer, kernel_size=k_new, padding=padding)
        out = new(x, *args[1:], **kwargs)
        weights = layer.get_weights()
        weights[0] = upscale_kernel(weights[0], self.f, st[0], self.mode, self.stddev, self.rng)
        new.set_weights(weights)
        return out, ("anchored", out_hw)

    def _pool(self, layer, node, st, args, kwargs):
        x = args[0]
        new_in = tuple(x.shape[1:3])
        h_w = tuple(node.input_tensors[0].shape[1:3])
        out_hw = tuple(node.outputs[0].shape[1:3])
        p, s = tuple(layer.pool_size), tuple(layer.strides)
        if p == (1, 1) and s == (1, 1) and (not isinstance(layer, DilatedPooling2D)
                                            or layer.padding == ((0, 0), (0, 0))):
            return _copy(layer, args, kwargs), st
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
            new = _clone(layer, pool_size=window, padding=padding)
            return new(*args, **kwargs), ("anchored", out_hw)
        if explicit is None:
            explicit = tuple(((0, 0) if padding == "valid" else
                              _same_pads(new_in[a], k_new[a], s[a]))
                             for a in range(2))
        new = DilatedPooling2D(window, strides=s, dilation_rate=dilation, padding=explicit,
                               pool_type=pool_type,
                               output_size=(self.f * out_hw[0], self.f * out_hw[1]),
                               name=layer.name)
        return new(x), ("anchored", out_hw)

    def _global_pool(self, layer, node, args):
        h, w, c = node.input_tensors[0].shape[1:]
        pool_type = "avg" if isinstance(layer, L.GlobalAveragePooling2D) else "max"
        x = DilatedPooling2D((h, w), strides=1, dilation_rate=self.f, pool_type=pool_type,
                             output_size=(1, 1), name=layer.name)(args[0])
        if layer.keepdims:
            return x, ("anchored", (1, 1))
        flat = L.Flatten(name=self.unique(f"{layer.name}_flat"))(x)  # (1, 1, C) -> (C,)
        return flat, ("flat", "anchored", (1, 1, c), (1, 1))

    def _dense(self, layer, st, args, kwargs):
        _, layout, spatial_shape, new_size = st
        weights = layer.get_weights()
        weights[0] = upscale_dense_kernel(weights[0], spatial_shape, new_size, self.f, layout,
                                          self.mode, self.stddev, self.rng)
        new = _clone(layer)
        out = new(*args, **kwargs)
        new.set_weights(weights)
        return out

    def _merge(self, layer, node, states, args, kwargs):
        kinds = {s[0] for s in states}
        if kinds <= {"plain"}:
            return _copy(layer, args, kwargs), ("plain",)
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
        out = _copy(layer, [tensors, *args[1:]], kwargs)
        kind = "replicated" if kinds == {"replicated"} else "anchored"
        return out, (kind, tuple(node.outputs[0].shape[1:3]))


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
    factor = _check_factor(factor)
    if mode not in UPSCALE_MODES:
        raise ValueError(f"Expected mode in {UPSCALE_MODES}, received {mode!r}.")
    if not isinstance(stddev, (int, float)) or stddev < 0:
        raise ValueError(f"Expected stddev >= 0, received {stddev!r}.")
    model = _as_functional(model, "upscale")
    up = _Upscaler(factor, mode, float(stddev), seed, _layer_names(model))
    new = _rebuild(model, up.input, up.visit, name or model.name)
    for x in model.outputs:
        if up.state[id(x)][0] != "plain":
            raise ValueError(f"upscale cannot map {model.name!r} exactly: its output "
                             f"{tuple(x.shape)} is an image-shaped map (only every "
                             f"{factor}-th position would equal the original); upscale "
                             f"classifiers or feature extractors with a pooled/dense output.")
    return new


# --------------------------------------------------------------------------- widen


def _flip(kernel, init):
    if init == "flip_horizontal":
        return kernel[:, ::-1]
    if init == "flip_vertical":
        return kernel[::-1, :]
    if init == "flip_central":
        return kernel[::-1, ::-1]
    return np.swapaxes(kernel, 0, 1)  # flip_diagonal: mirror across the main diagonal


def _new_units(layer, n_new, init, stddev, rng):
    """Kernel and bias of the new filters, and the source unit of each (or None)."""
    weights = layer.get_weights()
    kernel = weights[0]
    old = kernel.shape[-1]
    if init == "net2wider":
        sources = rng.integers(0, old, size=n_new)
    else:
        sources = np.arange(n_new) % old
    if init == "gaussian":
        new_kernel = rng.normal(0.0, stddev, size=(*kernel.shape[:-1], n_new))
    elif init == "zeros":
        new_kernel = np.zeros((*kernel.shape[:-1], n_new))
    elif init == "net2wider":
        new_kernel = kernel[..., sources]
    else:
        new_kernel = _flip(kernel[..., sources], init)
    new = [np.concatenate([kernel, new_kernel.astype(kernel.dtype)], axis=-1)]
    if layer.use_bias:
        bias = weights[1]
        copy_bias = init == "net2wider" or init.startswith("flip")
        new_bias = bias[sources] if copy_bias else np.zeros(n_new, bias.dtype)
        new.append(np.concatenate([bias, new_bias]))
    return new, (sources if init == "net2wider" else None)


def _extend_inputs(kernel, old, sources, n_new, positions):
    """A consumer's kernel for ``old + n_new`` input channels.

    New channels get zero weights (the new units do not change the output),
    or for Net2WiderNet the replicated unit's weights, every copy (the original
    included) divided by the number of copies.
    """
    units = kernel.shape[-1]
    lead = kernel.shape[:-2] if positions is None else (positions,)
    k = kernel.reshape(*lead, old, units)
    if sources is None:
        extra = np.zeros((*lead, n_new, units), kernel.dtype)
    else:
        counts = 1 + np.bincount(sources, minlength=old)
        k = k / counts[:, None]
        extra = k[..., sources, :]
    out = np.concatenate([k, extra], axis=-2)
    return out.reshape(-1, units) if positions is not None else out


def widen(model, layer, new_filters, init="gaussian", stddev=0.01, seed=None, name=None):
    """More filters (Conv2D) or units (Dense) in one layer, the function unchanged.

    Coarse-to-fine paper, section III-C and Figs. 3, 8-9 (net-2 -> net-3): new
    filters are initialised by ``init``; the next weighted layer(s) get zero
    weights from them, so the network computes exactly the same function at
    the moment of widening, or, for ``"net2wider"`` (Chen et al.'s
    Net2WiderNet), the new units copy random existing ones and every copy's
    outgoing weights are divided by the number of copies (also exact).

    Args:
        model: a Functional or Sequential model.
        layer: name of the Conv2D or Dense layer to widen. Its output may
            pass through activations, BatchNormalization (new channels get
            the identity statistics, or the copied unit's for Net2Wider),
            dropout, pooling, padding and Flatten before reaching the next
            Conv2D/Dense layer(s).
        new_filters: the new total number of filters/units (more than now).
        init: ``"gaussian"`` (``N(0, stddev)``, the paper's choice with
            stddev 0.01), ``"zeros"``, ``"flip_horizontal"``,
            ``"flip_vertical"``, ``"flip_diagonal"``, ``"flip_central"``
            (new filter ``j`` is existing filter ``j mod n`` flipped, Fig. 9;
            convolutions only) or ``"net2wider"``.
        stddev: Gaussian standard deviation.
        seed: seed of the Gaussian values and of the Net2Wider choice.
        name: name of the new model (default: the original's).

    Returns:
        A new model; ``model`` is unchanged.

    Raises:
        ValueError: unknown layer, not a Conv2D/Dense, ``new_filters`` not
            above the current count, unknown ``init``, flips on a dense layer,
            or a path to the next weighted layer through a merge, a reshape or
            the model's output.

    Example:
    >>> from keras_transfer.models import table1_net
    >>> net2 = table1_net("net-2", (8, 8, 3), 10)
    >>> net3 = widen(widen(net2, "conv1", 12), "fc6", 512)   # Table I: net-2 -> net-3
    >>> net3.get_layer("conv1").filters, net3.get_layer("fc6").units
    (12, 512)
    >>> x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    >>> bool(np.abs(net3.predict(x, verbose=0) - net2.predict(x, verbose=0)).max() < 1e-5)
    True
    """
    model = _as_functional(model, "widen")
    target = _get_layer(model, layer, "widen")
    if type(target) not in (L.Conv2D, L.Dense):
        raise ValueError(f"Expected a Conv2D or Dense layer to widen, received {layer!r} "
                         f"({_typename(target)}).")
    if type(target) is L.Conv2D and target.groups != 1:
        raise ValueError(f"Expected an ungrouped convolution to widen, received {layer!r} with "
                         f"groups={target.groups}.")
    old = target.filters if type(target) is L.Conv2D else target.units
    if isinstance(new_filters, bool) or not isinstance(new_filters, (int, np.integer)) \
            or new_filters <= old:
        raise ValueError(f"Expected new_filters to be an integer above the current "
                         f"{old} of {layer!r} (widen only adds filters), received "
                         f"{new_filters!r}.")
    if init not in WIDEN_INITS:
        raise ValueError(f"Expected init in {WIDEN_INITS}, received {init!r}.")
    if init.startswith("flip") and type(target) is not L.Conv2D:
        raise ValueError(f"Expected a Conv2D layer for init={init!r} (filters to flip), "
                         f"received {layer!r} ({_typename(target)}).")
    if init == "flip_diagonal" and target.kernel_size[0] != target.kernel_size[1]:
        raise ValueError(f"Expected a square kernel for init='flip_diagonal', received "
                         f"{target.kernel_size}.")
    rng = np.random.default_rng(seed)
    n_new = int(new_filters) - old
    new_weights, sources = _new_units(target, n_new, init, stddev, rng)
    marked = {}  # id(original tensor) -> None (channels last) or positions per channel (flat)
    consumers = []

    def visit(lyr, node, args, kwargs):
        ins = [id(x) for x in node.input_tensors]
        hit = [i for i in ins if i in marked]
        if lyr is target:
            key = "filters" if type(lyr) is L.Conv2D else "units"
            new = _clone(lyr, **{key: int(new_filters)})
            out = new(*args, **kwargs)
            new.set_weights(new_weights)
            marked[id(node.outputs[0])] = None
            return out
        if not hit:
            return _copy(lyr, args, kwargs)
        where = f"widening {layer!r}: its new channels reach {lyr.name!r} ({_typename(lyr)})"
        if len(ins) > 1:
            raise ValueError(f"Expected the widened channels to reach the next Conv2D/Dense "
                             f"layer without merges; {where}, a merge.")
        positions = marked[hit[0]]
        if type(lyr) in (L.Conv2D, L.Dense):
            if type(lyr) is L.Conv2D and lyr.groups != 1:
                raise ValueError(f"Expected an ungrouped consumer; {where} with groups="
                                 f"{lyr.groups}.")
            weights = lyr.get_weights()
            weights[0] = _extend_inputs(weights[0], old, sources, n_new, positions)
            new = _clone(lyr)
            out = new(*args, **kwargs)
            new.set_weights(weights)
            consumers.append(lyr.name)
            return out
        if isinstance(lyr, L.BatchNormalization):
            channel_axis = len(node.input_tensors[0].shape) - 1
            if positions is not None or lyr.axis not in (-1, channel_axis):
                raise ValueError(f"Expected a channel-axis BatchNormalization of a map or "
                                 f"vector; {where} normalising axis {lyr.axis} of "
                                 f"{'a flattened map' if positions else 'it'}.")
            weights = []
            for w, v in zip(lyr.get_weights(), _bn_defaults(lyr)):
                extra = w[sources] if sources is not None else np.full(n_new, v, w.dtype)
                weights.append(np.concatenate([w, extra]))
            new = _clone(lyr)
            out = new(*args, **kwargs)
            new.set_weights(weights)
            marked[id(node.outputs[0])] = positions
            return out
        act = getattr(lyr, "activation", None)
        if isinstance(lyr, L.Softmax) or getattr(act, "__name__", "") in ("softmax",
                                                                           "log_softmax"):
            raise ValueError(f"Expected channel-independent layers on the way; {where}, "
                             f"which mixes channels.")
        if isinstance(lyr, _CHANNEL_PASS):
            out = _copy(lyr, args, kwargs)
            if isinstance(lyr, L.Flatten) and len(node.input_tensors[0].shape) == 4:
                h, w = node.input_tensors[0].shape[1:3]
                positions = h * w
            marked[id(node.outputs[0])] = positions
            return out
        raise ValueError(f"Expected only activations, BatchNormalization, dropout, pooling, "
                         f"padding or Flatten before the next Conv2D/Dense layer; {where}.")

    new = _rebuild(model, lambda x: keras.Input(x.shape[1:], name=x.name), visit,
                   name or model.name)
    for x in model.outputs:
        if id(x) in marked:
            raise ValueError(f"Expected a layer whose output feeds another Conv2D/Dense layer; "
                             f"widening {layer!r} would change the model's output size.")
    return new


def _bn_defaults(layer):
    """Identity values for new BatchNormalization channels, in get_weights() order."""
    values = []
    if layer.scale:
        values.append(1.0)
    if layer.center:
        values.append(0.0)
    return values + [0.0, 1.0]  # moving mean, moving variance


# --------------------------------------------------------------------------- deepen


def _nonnegative(model, tensor):
    """True when ``tensor`` is known to be >= 0 (after a ReLU-like layer)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return False
    layer = history.operation
    act = getattr(getattr(layer, "activation", None), "__name__", "")
    if act in ("relu", "relu6", "sigmoid", "softmax", "softplus", "exponential",
               "hard_sigmoid"):
        return True
    if isinstance(layer, L.ReLU):
        return not layer.negative_slope and (layer.threshold or 0) >= 0
    if isinstance(layer, (L.Dropout, L.SpatialDropout2D, L.Flatten, L.ZeroPadding2D,
                          L.Cropping2D, L.Identity, L.Concatenate, L.Add, L.Maximum,
                          *_POOLS, *_GLOBAL_POOLS)):
        node = layer._inbound_nodes[history.node_index]
        return all(_nonnegative(model, x) for x in node.input_tensors)
    return False


def deepen(model, after_layer, kernel_size=3, activation="relu", name=None):
    """Inserts a layer initialised to the identity after ``after_layer`` (Net2DeeperNet).

    Coarse-to-fine paper, section IV-E: layers are added "initialized to have
    no effect". After a layer with a 4-D output a ``Conv2D`` with as many
    filters, ``padding="same"`` and the identity kernel (1 at the centre tap
    of its own channel) is inserted; after a 2-D output a ``Dense`` layer with
    the identity matrix. With ``activation="relu"`` the function is unchanged
    because ``after_layer``'s output is already non-negative (checked).

    Args:
        model: a Functional or Sequential model.
        after_layer: name of the layer whose output the new layer takes.
        kernel_size: odd kernel side of an inserted convolution.
        activation: ``"relu"`` (Chen et al.) or ``None``/``"linear"``.
        name: name of the inserted layer (default ``<after_layer>_deeper``).

    Returns:
        A new model; ``model`` is unchanged.

    Raises:
        ValueError: unknown layer, even kernel size, an output that is neither
            4-D nor 2-D, or a ReLU after a layer whose output can be negative.

    Example:
    >>> from keras_transfer.models import table1_net
    >>> net4 = table1_net("net-4", (8, 8, 3), 10)
    >>> deeper = deepen(net4, "conv2")
    >>> tuple(deeper.get_layer("conv2_deeper").kernel.shape)
    (3, 3, 16, 16)
    >>> x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    >>> bool(np.abs(deeper.predict(x, verbose=0) - net4.predict(x, verbose=0)).max() < 1e-5)
    True
    """
    model = _as_functional(model, "deepen")
    target = _get_layer(model, after_layer, "deepen after")
    if isinstance(target, L.InputLayer):
        raise ValueError(f"Expected a layer after the input to deepen after, received the "
                         f"input {after_layer!r}.")
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, (int, np.integer)) \
            or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"Expected an odd kernel_size >= 1 (the identity needs a centre "
                         f"tap), received {kernel_size!r}.")
    if activation not in (None, "linear", "relu"):
        raise ValueError(f"Expected activation in (None, 'linear', 'relu') (the identity "
                         f"layer must leave the function unchanged), received {activation!r}.")
    out_tensor = target.output
    rank = len(out_tensor.shape)
    if rank not in (2, 4):
        raise ValueError(f"Expected {after_layer!r} to output a 4-D map or a 2-D vector, "
                         f"received shape {tuple(out_tensor.shape)}.")
    if activation == "relu" and not _nonnegative(model, out_tensor):
        raise ValueError(f"Expected {after_layer!r} to end in a ReLU-like activation for "
                         f"activation='relu' (else the inserted ReLU would change the "
                         f"function); received {_typename(target)} whose output can be "
                         f"negative. Pass activation=None.")
    new_name = name or f"{after_layer}_deeper"
    if new_name in _layer_names(model):
        raise ValueError(f"Expected a new layer name, received {new_name!r}, which exists.")
    channels = int(out_tensor.shape[-1])

    def visit(lyr, node, args, kwargs):
        out = _copy(lyr, args, kwargs)
        if lyr is not target:
            return out
        if rank == 4:
            layer = L.Conv2D(channels, kernel_size, padding="same", activation=activation,
                             name=new_name)
            y = layer(out)
            kernel = np.zeros((kernel_size, kernel_size, channels, channels), np.float32)
            kernel[kernel_size // 2, kernel_size // 2] = np.eye(channels)
        else:
            layer = L.Dense(channels, activation=activation, name=new_name)
            y = layer(out)
            kernel = np.eye(channels, dtype=np.float32)
        layer.set_weights([kernel, np.zeros(channels, np.float32)])
        return y

    return _rebuild(model, lambda x: keras.Input(x.shape[1:], name=x.name), visit, model.name)
