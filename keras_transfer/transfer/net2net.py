"""Net2Net transforms: more filters (widen) or layers (deepen), the function unchanged.

Paper: coarse2fine-incremental-training.txt (Liu et al.), section III-C
(Figs. 3, 8-9: new filters Gaussian or flipped copies, net-2 -> net-3) and
IV-E (layers added "initialized to have no effect", Net2DeeperNet of Chen et
al.). Each transform takes a trained Functional or Sequential Keras model and
returns a new one with its weights set; the input model is left untouched.
Upscaling to larger inputs: `keras_transfer.transfer.upscaling`.
"""

import keras
import numpy as np

from keras_transfer import graph
from keras_transfer.checks import check_choice
from keras_transfer.transfer.upscaling import GLOBAL_POOLING_LAYERS
from keras_transfer.transfer.upscaling import POOLING_LAYERS

WIDEN_INITS = (
    "gaussian",
    "zeros",
    "flip_horizontal",
    "flip_vertical",
    "flip_diagonal",
    "flip_central",
    "net2wider",
)

L = keras.layers
# What widen lets a widened layer's channels pass through on the way to the next weighted layer.
_CHANNEL_PASS = (
    L.Activation,
    L.ReLU,
    L.LeakyReLU,
    L.ELU,
    L.Dropout,
    L.SpatialDropout2D,
    L.GaussianNoise,
    L.GaussianDropout,
    L.AlphaDropout,
    L.Identity,
    L.ActivityRegularization,
    L.ZeroPadding2D,
    L.Cropping2D,
    L.Flatten,
    *POOLING_LAYERS,
    *GLOBAL_POOLING_LAYERS,
)


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
    model = graph.as_functional(model, "widen")
    target = graph.find_layer(model, layer, "widen")
    if type(target) not in (L.Conv2D, L.Dense):
        raise ValueError(
            f"Expected a Conv2D or Dense layer to widen, received {layer!r} "
            f"({type(target).__name__})."
        )
    if type(target) is L.Conv2D and target.groups != 1:
        raise ValueError(
            f"Expected an ungrouped convolution to widen, received {layer!r} with "
            f"groups={target.groups}."
        )
    old = target.filters if type(target) is L.Conv2D else target.units
    if (
        isinstance(new_filters, bool)
        or not isinstance(new_filters, (int, np.integer))
        or new_filters <= old
    ):
        raise ValueError(
            f"Expected new_filters to be an integer above the current "
            f"{old} of {layer!r} (widen only adds filters), received "
            f"{new_filters!r}."
        )
    check_choice(init, WIDEN_INITS, "init")
    if init.startswith("flip") and type(target) is not L.Conv2D:
        raise ValueError(
            f"Expected a Conv2D layer for init={init!r} (filters to flip), "
            f"received {layer!r} ({type(target).__name__})."
        )
    if init == "flip_diagonal" and target.kernel_size[0] != target.kernel_size[1]:
        raise ValueError(
            f"Expected a square kernel for init='flip_diagonal', received {target.kernel_size}."
        )
    rng = np.random.default_rng(seed)
    n_new = int(new_filters) - old
    new_weights, sources = _new_units(target, n_new, init, stddev, rng)
    marked = {}  # id(original tensor) -> None (channels last) or positions per channel (flat)
    consumers = []

    def visit(call):
        lyr, args, kwargs = call.layer, call.args, call.kwargs
        ins = [id(x) for x in call.inputs]
        hit = [i for i in ins if i in marked]
        if lyr is target:
            key = "filters" if type(lyr) is L.Conv2D else "units"
            new = graph.clone_layer(lyr, **{key: int(new_filters)})
            out = new(*args, **kwargs)
            new.set_weights(new_weights)
            marked[id(call.outputs[0])] = None
            return out
        if not hit:
            return graph.copy_call(call)
        where = f"widening {layer!r}: its new channels reach {lyr.name!r} ({type(lyr).__name__})"
        if len(ins) > 1:
            raise ValueError(
                f"Expected the widened channels to reach the next Conv2D/Dense "
                f"layer without merges; {where}, a merge."
            )
        positions = marked[hit[0]]
        if type(lyr) in (L.Conv2D, L.Dense):
            if type(lyr) is L.Conv2D and lyr.groups != 1:
                raise ValueError(
                    f"Expected an ungrouped consumer; {where} with groups={lyr.groups}."
                )
            weights = lyr.get_weights()
            weights[0] = _extend_inputs(weights[0], old, sources, n_new, positions)
            new = graph.clone_layer(lyr)
            out = new(*args, **kwargs)
            new.set_weights(weights)
            consumers.append(lyr.name)
            return out
        if isinstance(lyr, L.BatchNormalization):
            channel_axis = len(call.inputs[0].shape) - 1
            if positions is not None or lyr.axis not in (-1, channel_axis):
                raise ValueError(
                    f"Expected a channel-axis BatchNormalization of a map or "
                    f"vector; {where} normalising axis {lyr.axis} of "
                    f"{'a flattened map' if positions else 'it'}."
                )
            weights = []
            for w, v in zip(lyr.get_weights(), _bn_defaults(lyr)):
                extra = w[sources] if sources is not None else np.full(n_new, v, w.dtype)
                weights.append(np.concatenate([w, extra]))
            new = graph.clone_layer(lyr)
            out = new(*args, **kwargs)
            new.set_weights(weights)
            marked[id(call.outputs[0])] = positions
            return out
        act = getattr(lyr, "activation", None)
        if isinstance(lyr, L.Softmax) or getattr(act, "__name__", "") in ("softmax", "log_softmax"):
            raise ValueError(
                f"Expected channel-independent layers on the way; {where}, which mixes channels."
            )
        if isinstance(lyr, _CHANNEL_PASS):
            out = graph.copy_call(call)
            if isinstance(lyr, L.Flatten) and len(call.inputs[0].shape) == 4:
                h, w = call.inputs[0].shape[1:3]
                positions = h * w
            marked[id(call.outputs[0])] = positions
            return out
        raise ValueError(
            f"Expected only activations, BatchNormalization, dropout, pooling, "
            f"padding or Flatten before the next Conv2D/Dense layer; {where}."
        )

    new = graph.rebuild(model, visit, name=name)
    for x in model.outputs:
        if id(x) in marked:
            raise ValueError(
                f"Expected a layer whose output feeds another Conv2D/Dense layer; "
                f"widening {layer!r} would change the model's output size."
            )
    return new


def _bn_defaults(layer):
    """Identity values for new BatchNormalization channels, in get_weights() order."""
    values = []
    if layer.scale:
        values.append(1.0)
    if layer.center:
        values.append(0.0)
    return values + [0.0, 1.0]  # moving mean, moving variance


def _nonnegative(tensor):
    """True when the symbolic ``tensor`` is known to be >= 0 (after a ReLU-like layer)."""
    made = graph.producer(tensor)
    if made is None:
        return False
    layer, inputs = made
    act = getattr(getattr(layer, "activation", None), "__name__", "")
    if act in ("relu", "relu6", "sigmoid", "softmax", "softplus", "exponential", "hard_sigmoid"):
        return True
    if isinstance(layer, L.ReLU):
        return not layer.negative_slope and (layer.threshold or 0) >= 0
    if isinstance(
        layer,
        (
            L.Dropout,
            L.SpatialDropout2D,
            L.Flatten,
            L.ZeroPadding2D,
            L.Cropping2D,
            L.Identity,
            L.Concatenate,
            L.Add,
            L.Maximum,
            *POOLING_LAYERS,
            *GLOBAL_POOLING_LAYERS,
        ),
    ):
        return all(_nonnegative(x) for x in inputs)
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
    model = graph.as_functional(model, "deepen")
    target = graph.find_layer(model, after_layer, "deepen after")
    if isinstance(target, L.InputLayer):
        raise ValueError(
            f"Expected a layer after the input to deepen after, received the input {after_layer!r}."
        )
    if (
        isinstance(kernel_size, bool)
        or not isinstance(kernel_size, (int, np.integer))
        or kernel_size < 1
        or kernel_size % 2 == 0
    ):
        raise ValueError(
            f"Expected an odd kernel_size >= 1 (the identity needs a centre "
            f"tap), received {kernel_size!r}."
        )
    if activation not in (None, "linear", "relu"):
        raise ValueError(
            f"Expected activation in (None, 'linear', 'relu') (the identity "
            f"layer must leave the function unchanged), received {activation!r}."
        )
    out_tensor = target.output
    rank = len(out_tensor.shape)
    if rank not in (2, 4):
        raise ValueError(
            f"Expected {after_layer!r} to output a 4-D map or a 2-D vector, "
            f"received shape {tuple(out_tensor.shape)}."
        )
    if activation == "relu" and not _nonnegative(out_tensor):
        raise ValueError(
            f"Expected {after_layer!r} to end in a ReLU-like activation for "
            f"activation='relu' (else the inserted ReLU would change the "
            f"function); received {type(target).__name__} whose output can be "
            f"negative. Pass activation=None."
        )
    new_name = name or f"{after_layer}_deeper"
    if new_name in [lyr.name for lyr in model.layers]:
        raise ValueError(f"Expected a new layer name, received {new_name!r}, which exists.")
    channels = int(out_tensor.shape[-1])

    def visit(call):
        lyr, out = call.layer, graph.copy_call(call)
        if lyr is not target:
            return out
        if rank == 4:
            layer = L.Conv2D(
                channels, kernel_size, padding="same", activation=activation, name=new_name
            )
            y = layer(out)
            kernel = np.zeros((kernel_size, kernel_size, channels, channels), np.float32)
            kernel[kernel_size // 2, kernel_size // 2] = np.eye(channels)
        else:
            layer = L.Dense(channels, activation=activation, name=new_name)
            y = layer(out)
            kernel = np.eye(channels, dtype=np.float32)
        layer.set_weights([kernel, np.zeros(channels, np.float32)])
        return y

    return graph.rebuild(model, visit)
