"""The transferred-fusion paper's two non-`keras.applications` networks (section 3.2).

transferred-fusion-skipped-networks.txt pairs InceptionV3 (use
`keras_transfer.models.backbone`), SqueezeNet and a "custom model": "A CNN with
16 layers ... residual connections after every 4th block and ... batch
normalization", max pooling "in every stage". SqueezeNet is not in
`keras.applications`, so `squeezenet` builds v1.1 (Iandola et al. 2016, the
fire-module network with the 3x3 first convolution) here. Both accept
``weights=None`` or a local weights file of the same architecture, and both
name their block outputs so fusion can pair them.
"""

import keras

from keras_transfer.checks import check_image_classifier
from keras_transfer.checks import check_weights_file
from keras_transfer.checks import check_weights_path
from keras_transfer.models.registry import register_model

# SqueezeNet v1.1 fire modules (squeeze, expand) in order, with the max pools
# that follow fire3 and fire5 (Iandola et al. 2016; torchvision squeezenet1_1).
_SQUEEZENET_V11_FIRES = (
    (16, 64),
    (16, 64),
    (32, 128),
    (32, 128),
    (48, 192),
    (48, 192),
    (64, 256),
    (64, 256),
)
_POOL_AFTER = (3, 5)
BLOCKS_PER_STAGE = 4  # section 3.2: a residual connection after every 4th block


def _check_path(weights):
    """Before building: ``None`` or a weights file that exists (`check_weights_path`)."""
    if weights is not None:
        check_weights_path(weights, expected="weights None or an existing weights file")


def _load(model, weights, what):
    """Loads ``weights`` into ``model`` once the file matched it layer by layer."""
    if weights is not None:  # Keras may load a file partly (with warnings): matched first
        model.load_weights(check_weights_file(weights, model, what))
    return model


def _fire(x, squeeze, expand, name):
    s = keras.layers.Conv2D(squeeze, 1, activation="relu", name=f"{name}_squeeze")(x)
    e1 = keras.layers.Conv2D(expand, 1, activation="relu", name=f"{name}_expand1x1")(s)
    e3 = keras.layers.Conv2D(
        expand, 3, padding="same", activation="relu", name=f"{name}_expand3x3"
    )(s)
    return keras.layers.Concatenate(name=name)([e1, e3])


@register_model
def squeezenet(
    input_shape=(224, 224, 3),
    num_classes=1000,
    include_top=True,
    weights=None,
    dropout=0.5,
    name="squeezenet",
):
    """SqueezeNet v1.1: 3x3/2 conv (64), max pool, 8 fire modules with two more pools, conv10.

    Block outputs are the layers ``conv1`` and ``fire2`` ... ``fire9``. With
    ``include_top`` the classifier is SqueezeNet's own (dropout, 1x1 conv with
    ``num_classes`` filters + ReLU, global average pooling); without it the
    model returns fire9's globally averaged 512 features, like
    `keras.applications` models with ``pooling="avg"``.

    Args:
        input_shape: image shape; sides of at least 32.
        num_classes: classes of the top (ignored without it).
        include_top: SqueezeNet's classifier or pooled features.
        weights: ``None`` or the path of a weights file of this architecture.
        dropout: dropout rate before conv10.

    Example:
    >>> squeezenet().count_params()  # Iandola et al.'s v1.1 at 1000 classes
    1235496
    >>> squeezenet((32, 32, 3), include_top=False).output_shape
    (None, 512)
    """
    if include_top:
        check_image_classifier(input_shape, num_classes)
    if len(tuple(input_shape)) != 3 or min(input_shape[:2]) < 32:
        raise ValueError(
            f"Expected input_shape (height, width, channels) with sides >= 32, "
            f"received {input_shape!r}."
        )
    _check_path(weights)
    inputs = keras.Input(tuple(input_shape), name="image")
    x = keras.layers.Conv2D(64, 3, strides=2, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, (squeeze, expand) in enumerate(_SQUEEZENET_V11_FIRES, start=2):
        x = _fire(x, squeeze, expand, f"fire{i}")
        if i in _POOL_AFTER:
            x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{i}")(x)
    if include_top:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Conv2D(num_classes, 1, activation="relu", name="conv10")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if include_top:
        x = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
    return _load(keras.Model(inputs, x, name=name), weights, "SqueezeNet v1.1")


@register_model
def residual_cnn(
    input_shape=(100, 100, 3),
    num_classes=8,
    include_top=True,
    weights=None,
    blocks=16,
    blocks_per_stage=BLOCKS_PER_STAGE,
    width=32,
    name="residual_cnn",
):
    """The paper's custom model: 16 conv-BN-ReLU blocks, a residual add after every 4th block.

    Section 3.2: "A CNN with 16 layers ... residual connections after every
    4th block and used batch normalization", max pooling in every stage. Stage
    ``s`` (``blocks_per_stage`` blocks of 3x3 convolutions with ``width *
    2**s`` filters) ends with ``add(stage input, last block)``, the stage input
    projected by a 1x1 convolution where the channels change, then 2x2 max
    pooling. Block outputs are the layers ``block1`` ... ``block16`` (after
    ReLU) and ``stage1_add`` ...; the head is global average pooling and a
    float32 logits layer (``include_top``) or the pooled features.

    Args:
        input_shape: image shape; each stage halves the side.
        num_classes: classes (logits) with ``include_top``.
        include_top: the dense classifier or the pooled features.
        weights: ``None`` or the path of a weights file of this architecture.
        blocks: conv blocks in all (paper: 16), a multiple of ``blocks_per_stage``.
        blocks_per_stage: blocks between residual connections (paper: 4).
        width: filters of the first stage.

    Example:
    >>> m = residual_cnn((32, 32, 3), 10, width=8)
    >>> sum(l.name.removeprefix("block").isdigit() for l in m.layers), m.output_shape
    (16, (None, 10))
    """
    if include_top:
        check_image_classifier(input_shape, num_classes)
    for key, value in (
        ("blocks", blocks),
        ("blocks_per_stage", blocks_per_stage),
        ("width", width),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"Expected {key} to be an integer >= 1, received {value!r}.")
    if blocks % blocks_per_stage:
        raise ValueError(
            f"Expected blocks to be a multiple of blocks_per_stage "
            f"({blocks_per_stage}), received {blocks}."
        )
    stages = blocks // blocks_per_stage
    if len(tuple(input_shape)) != 3 or min(input_shape[:2]) < 2**stages:
        raise ValueError(
            f"Expected input_shape (height, width, channels) with sides >= "
            f"2**stages = {2**stages}, received {input_shape!r}."
        )
    _check_path(weights)
    inputs = keras.Input(tuple(input_shape), name="image")
    x = inputs
    block = 0
    for stage in range(stages):
        filters = width * 2**stage
        shortcut = x
        for _ in range(blocks_per_stage):
            block += 1
            x = keras.layers.Conv2D(
                filters, 3, padding="same", use_bias=False, name=f"block{block}_conv"
            )(x)
            x = keras.layers.BatchNormalization(name=f"block{block}_bn")(x)
            x = keras.layers.ReLU(name=f"block{block}")(x)
        if shortcut.shape[-1] != filters:
            shortcut = keras.layers.Conv2D(
                filters, 1, use_bias=False, name=f"stage{stage + 1}_projection"
            )(shortcut)
        x = keras.layers.Add(name=f"stage{stage + 1}_add")([shortcut, x])
        x = keras.layers.MaxPooling2D(2, name=f"stage{stage + 1}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if include_top:
        x = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return _load(keras.Model(inputs, x, name=name), weights, "this residual_cnn")
