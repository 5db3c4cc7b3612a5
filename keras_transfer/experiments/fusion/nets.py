"""The transferred-fusion experiment's networks: feature extractors, their weights files, heads.

``"custom"`` and ``"squeezenet"`` are the paper's own nets; any
keras.applications or EfficientNet-Lite family works too (`check_net`).
"""

import keras

from keras_transfer.checks import check_weights_file
from keras_transfer.experiments.fusion.config import check_net
from keras_transfer.models import backbone as bb
from keras_transfer.models.fusion_nets import residual_cnn
from keras_transfer.models.fusion_nets import squeezenet
from keras_transfer.transfer import fusion


def build_features(
    name, input_shape, custom_width=16, custom_blocks=16, weights=None, imagenet_image_size=0
):
    """A feature extractor (pooled features) for network ``name``.

    ``"custom"`` is the paper's residual CNN (`residual_cnn`, 16 blocks in the
    paper, ``custom_blocks`` here),
    ``"squeezenet"`` SqueezeNet v1.1, anything else a `keras.applications` or
    EfficientNet-Lite family (its preprocessing inside, images on [0, 1]),
    resized inside to ``imagenet_image_size`` (``0``: not resized).

    Example:
    >>> build_features("custom", (32, 32, 3), custom_width=4).output_shape
    (None, 32)
    >>> f = build_features("custom", (32, 32, 3), custom_width=4, custom_blocks=8)
    >>> f.output_shape, sum(layer.name.removeprefix("block").isdigit() for layer in f.layers)
    ((None, 8), 8)
    """
    check_net(name)
    if name == "custom":
        return residual_cnn(
            input_shape,
            include_top=False,
            weights=weights,
            blocks=custom_blocks,
            width=custom_width,
            name="custom",
        )
    if name == "squeezenet":
        return squeezenet(input_shape, include_top=False, weights=weights, name="squeezenet")
    clf = bb.backbone_classifier(
        name, input_shape, 2, weights=weights, dropout=0.0, image_size=imagenet_image_size or None
    )
    return keras.Model(clf.input, clf.get_layer("dropout").output, name=name.lower())


def check_feature_weights(
    path,
    name,
    input_shape,
    custom_width=16,
    custom_blocks=16,
    imagenet_image_size=0,
    setting="weights",
    fix=None,
):
    """Refuses (ValueError, one line) a weights file `build_features` could not load whole.

    Opens ``path`` and matches its layers and every weight's shape against
    the model `build_features` loads it into (`keras_transfer.checks.
    check_weights_file`): the custom CNN or SqueezeNet without its top, or an
    ImageNet family's backbone without its top. The model is a throwaway one,
    built with the global random state restored afterwards.

    Example:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "pretrained_1.weights.h5")
    >>> build_features("custom", (32, 32, 3), custom_width=4).save_weights(path)
    >>> check_feature_weights(path, "custom", (32, 32, 3), custom_width=4) == path
    True
    >>> check_feature_weights(path, "custom", (32, 32, 3), custom_width=8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected weights to be a weights file of the custom residual CNN (width 8, \
16 blocks, no top), received '...pretrained_1.weights.h5' which does not fit it: ...
    """
    check_net(name)
    input_shape = tuple(input_shape)
    own = {
        "custom": f"the custom residual CNN (width {custom_width}, {custom_blocks} blocks, no top)",
        "squeezenet": "SqueezeNet v1.1 without its top",
    }
    if name in own:
        return check_weights_file(
            path,
            lambda: build_features(name, input_shape, custom_width, custom_blocks),
            own[name],
            setting,
            fix,
        )
    side = (imagenet_image_size,) * 2 if imagenet_image_size else input_shape[:2]
    return bb.check_backbone_weights(path, name, side + (3,), None, setting, fix)


def classifier(features, num_classes, name, head_units=0, dropout=0.0):
    """``features`` + `classification_head` (the hybrid's head when given its settings).

    Example:
    >>> f = build_features("custom", (32, 32, 3), custom_width=4)
    >>> classifier(f, 5, "c", head_units=16).output_shape
    (None, 5)
    """
    inputs = keras.Input(features.input_shape[1:], name="image")
    outputs = fusion.classification_head(features(inputs), num_classes, head_units, dropout)
    return keras.Model(inputs, outputs, name=name)
