"""AlexNet with its two-group layers (HTCNN paper Fig. 7) and the matching shallow CNN (Fig. 4).

The first convolution is two 11x11x48 groups, ``conv1_g0`` and ``conv1_g1``,
each seeing the whole image (the two GPUs of Krizhevsky et al. 2012); conv2,
conv4 and conv5 are two-group convolutions (`GroupedConv2D`, split convs, not
``Conv2D(groups=2)`` which is 17x slower on CPU). Local response
normalisation is left out (it is not in Keras and later work found it
unhelpful). Pooling uses ``"same"`` padding so the net also runs on small
inputs such as Tiny ImageNet's 64x64.
"""

import keras

from keras_transfer.checks import check_image_classifier
from keras_transfer.layers.grouped_conv import GroupedConv2D
from keras_transfer.models.htcnn import classifier
from keras_transfer.models.registry import register_model


def _first_layer_groups(inputs, filters_per_group, stride):
    """The two first-layer groups, each on the full input, concatenated."""
    parts = [
        keras.layers.Conv2D(
            filters_per_group,
            11,
            strides=stride,
            padding="same",
            activation="relu",
            name=f"conv1_g{g}",
        )(inputs)
        for g in range(2)
    ]
    return keras.layers.Concatenate(name="conv1")(parts)


@register_model
def alexnet(
    input_shape=(227, 227, 3),
    num_classes=1000,
    fc_units=4096,
    dropout=0.5,
    classifier_activation=None,
    name="alexnet",
):
    """AlexNet as the HTCNN paper's ImageNet cloud CNN (Fig. 7).

    conv1 (2 x 11x11x48, stride 4) - pool - conv2 (5x5x256, 2 groups) - pool -
    conv3 (3x3x384) - conv4 (3x3x384, 2 groups) - conv5 (3x3x256, 2 groups) -
    pool - fc6 - fc7 (``fc_units`` each, dropout) - logits.

    Args:
        input_shape: ``(height, width, 3)``; the paper used 256x256 crops.
        num_classes: number of classes.
        fc_units: width of fc6 and fc7 (AlexNet: 4096).
        dropout: drop rate after fc6 and fc7 (AlexNet: 0.5).
        classifier_activation: ``None`` for logits or e.g. ``"softmax"``.

    Example:
    >>> model = alexnet((64, 64, 3), 50, fc_units=256)
    >>> tuple(model.get_layer("conv1_g0").kernel.shape)
    (11, 11, 3, 48)
    """
    check_image_classifier(input_shape, num_classes)
    inputs = keras.Input(input_shape, name="image")
    x = _first_layer_groups(inputs, 48, 4)
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="pool1")(x)
    x = GroupedConv2D(256, 5, groups=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="pool2")(x)
    x = keras.layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = GroupedConv2D(384, 3, groups=2, padding="same", activation="relu", name="conv4")(x)
    x = GroupedConv2D(256, 3, groups=2, padding="same", activation="relu", name="conv5")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="pool5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i in (6, 7):
        x = keras.layers.Dense(fc_units, activation="relu", name=f"fc{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    outputs = classifier(num_classes, classifier_activation)(x)
    return keras.Model(inputs, outputs, name=name)


@register_model
def shallow_alexnet(
    input_shape=(227, 227, 3),
    num_classes=1000,
    first_filters=12,
    second_filters=32,
    classifier_activation=None,
    name="shallow_alexnet",
):
    """The shallow CNN matching AlexNet (HTCNN paper Fig. 4).

    Two separate parts, each an 11x11x``first_filters`` stride-4 convolution
    (``conv1_g0``, ``conv1_g1``; paper: 12 filters) then pooling and a 5x5
    convolution; the parts are concatenated, pooled and classified. Four such
    CNNs fill AlexNet's two 48-filter first-layer groups (4 x 12 = 48).

    Example:
    >>> model = shallow_alexnet((64, 64, 3), 50)
    >>> tuple(model.get_layer("conv1_g1").kernel.shape)
    (11, 11, 3, 12)
    """
    check_image_classifier(input_shape, num_classes)
    inputs = keras.Input(input_shape, name="image")
    parts = []
    for g in range(2):
        x = keras.layers.Conv2D(
            first_filters, 11, strides=4, padding="same", activation="relu", name=f"conv1_g{g}"
        )(inputs)
        x = keras.layers.MaxPooling2D(3, 2, padding="same", name=f"pool1_g{g}")(x)
        x = keras.layers.Conv2D(
            second_filters, 5, padding="same", activation="relu", name=f"conv2_g{g}"
        )(x)
        parts.append(x)
    x = keras.layers.Concatenate(name="concat")(parts)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = classifier(num_classes, classifier_activation)(x)
    return keras.Model(inputs, outputs, name=name)
