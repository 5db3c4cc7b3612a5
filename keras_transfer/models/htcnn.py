"""The HTCNN paper's CIFAR-10 networks: the shallow CNN (Fig. 3) and the cloud CNN (Fig. 5).

Both end in a dense layer of ``num_classes`` logits (no softmax) by default;
train them with ``SparseCategoricalCrossentropy(from_logits=True)``. Logits
are what distillation and the accuracy metric need, and
``classifier_activation="softmax"`` gives probabilities instead.
"""

import keras

from keras_transfer.checks import check_image_classifier
from keras_transfer.models.registry import register_model


def classifier(num_classes, activation=None):
    """The final dense layer ``logits``, always computed in float32.

    Under a mixed-precision policy (``keras.mixed_precision``) the rest of the
    network runs in bfloat16/float16; keeping the classifier in float32 keeps
    the logits and the loss numerically sound (the Keras mixed-precision guide).

    Example:
    >>> classifier(10).dtype_policy.name
    'float32'
    """
    return keras.layers.Dense(num_classes, activation=activation, dtype="float32", name="logits")


@register_model
def shallow_cnn(
    input_shape=(32, 32, 3),
    num_classes=10,
    first_filters=8,
    second_filters=32,
    kernel_size=3,
    classifier_activation=None,
    name="shallow_cnn",
):
    """The HTCNN shallow CNN for CIFAR-10 (paper Fig. 3).

    Two 3x3 convolutions with 8 and 32 filters, each followed by ReLU and 2x2
    max pooling, then a dense classifier. Its first layer ``conv1`` is what
    `keras_transfer.transfer.hierarchical.transfer_first_layer` copies into
    the cloud CNN, so ``first_filters`` times the number of shallow CNNs must
    equal the cloud's first-layer filters (8 x 4 = 32 in the paper's Fig. 6).

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: classes of the shallow CNN's own task.
        first_filters: filters of ``conv1`` (paper: 8).
        second_filters: filters of ``conv2`` (paper: 32).
        kernel_size: kernel of both convolutions (paper: 3).
        classifier_activation: ``None`` for logits or e.g. ``"softmax"``.

    Example:
    >>> model = shallow_cnn((32, 32, 3), 10)
    >>> tuple(model.get_layer("conv1").kernel.shape)
    (3, 3, 3, 8)
    """
    check_image_classifier(input_shape, num_classes)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(
        first_filters, kernel_size, padding="same", activation="relu", name="conv1"
    )(inputs)
    x = keras.layers.MaxPooling2D(2, padding="same", name="pool1")(x)
    x = keras.layers.Conv2D(
        second_filters, kernel_size, padding="same", activation="relu", name="conv2"
    )(x)
    x = keras.layers.MaxPooling2D(2, padding="same", name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = classifier(num_classes, classifier_activation)(x)
    return keras.Model(inputs, outputs, name=name)


@register_model
def cloud_cnn(
    input_shape=(32, 32, 3),
    num_classes=10,
    filters=(32, 32, 64, 64, 128, 128),
    fc_units=512,
    conv_dropout=0.0,
    fc_dropout=0.0,
    classifier_activation=None,
    name="cloud_cnn",
):
    """The HTCNN cloud CNN for CIFAR-10 (paper Fig. 5).

    Six 3x3 convolutions (32, 32, 64, 64, 128, 128 filters, ReLU) with a 2x2
    max pooling after every second one, a 512-unit ReLU layer and the
    classifier: INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> FC -> RELU -> FC.

    Dropout (paper Fig. 9) reads the paper's "0.8 and 0.5" as TensorFlow-1
    *keep* probabilities, i.e. drop rates 0.2 after every convolution and 0.5
    after the 512-unit layer; pass ``conv_dropout=0.2, fc_dropout=0.5`` for it.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of classes.
        filters: filters of the six convolutions (paper Fig. 5).
        fc_units: width of the hidden dense layer (paper: 512).
        conv_dropout: drop rate after each convolution (0 = none).
        fc_dropout: drop rate after the hidden dense layer (0 = none).
        classifier_activation: ``None`` for logits or e.g. ``"softmax"``.

    Example:
    >>> model = cloud_cnn((32, 32, 3), 10)
    >>> [model.get_layer(f"conv{i}").filters for i in range(1, 7)]
    [32, 32, 64, 64, 128, 128]
    """
    check_image_classifier(input_shape, num_classes)
    if len(filters) % 2:
        raise ValueError(f"Expected an even number of conv filters (pairs), received {filters}.")
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for i, f in enumerate(filters, start=1):
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        if conv_dropout:
            x = keras.layers.Dropout(conv_dropout, name=f"conv{i}_dropout")(x)
        if i % 2 == 0:
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{i // 2}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(fc_units, activation="relu", name="fc1")(x)
    if fc_dropout:
        x = keras.layers.Dropout(fc_dropout, name="fc1_dropout")(x)
    outputs = classifier(num_classes, classifier_activation)(x)
    return keras.Model(inputs, outputs, name=name)
