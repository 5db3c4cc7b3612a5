"""The coarse-to-fine paper's Table I networks: scaled-down AlexNets and net-1..net-4.

coarse2fine-incremental-training.txt, Table I ("Caffe DCNN parameter used in
our experiments"): each conv column reads ``filters(kernel) P<pool>/<stride>``.
The 2^5-, 2^4- and 2^3-scaled AlexNets (for 8x8, 16x16 and 32x32 images)
keep AlexNet's L1-L3 convolutions and its L6 and L8 fully connected layers;
fractional kernel sizes (0.3, 0.7, 1.3) are rounded to the nearest integer,
at least 1, and "P0/0", "P1/0" and "P1/1" mean no pooling (a 1x1 window, or
a stride of 0, pools nothing). L8's 1000 ImageNet classes become
``num_classes``. Convolutions of the scaled AlexNets are ``"same"``-padded
like AlexNet's conv2/conv3; net-1..4 use Caffe's default of no padding.
Layer names follow the table: ``conv1..conv3``, ``pool1``, ``pool2``, ``fc6``,
``logits`` (L8).
"""

import keras

from keras_transfer.checks import check_image_classifier
from keras_transfer.models.registry import register_model

# name -> (convs [(filters, kernel, (pool, stride) or None)], L6 units, conv padding)
TABLE1 = {
    "alexnet-8": ([(3, 0.3, (0, 0)), (8, 1, (1, 1)), (12, 3, None)], 128, "same"),
    "alexnet-16": ([(6, 0.7, (1, 0)), (16, 3, (2, 1)), (24, 3, None)], 256, "same"),
    "alexnet-32": ([(12, 1.3, (2, 1)), (32, 4, (3, 2)), (48, 3, None)], 512, "same"),
    "net-1": ([(3, 2, (1, 1))], 128, "valid"),
    "net-2": ([(6, 2, (1, 1))], 256, "valid"),
    "net-3": ([(12, 2, (1, 1))], 512, "valid"),
    "net-4": ([(6, 2, (2, 1)), (16, 3, (3, 2))], 256, "valid"),
}
SCALED_ALEXNET_SIZES = (8, 16, 32)


def min_input_side(spec_name):
    """The smallest image side Table I network ``spec_name`` builds on (every output >= 1).

    Example:
    >>> min_input_side("net-1"), min_input_side("alexnet-8")
    (2, 1)
    """
    convs, _, padding = TABLE1[spec_name]
    for side in range(1, 4097):
        size = side
        for _, kernel, pool in convs:
            if padding == "valid":
                size -= max(1, round(kernel)) - 1
            if size >= 1 and pool is not None and pool[0] > 1 and pool[1] > 0:
                size = (size - pool[0]) // pool[1] + 1  # MaxPooling2D, padding "valid"
            if size < 1:
                break
        else:
            return side
    raise ValueError(f"Expected a buildable Table I network, received {spec_name!r}.")


def table1_model(row, input_shape, num_classes, dropout=0.0, name=None):
    """The network of any Table I row (``TABLE1`` key) for images of ``input_shape``.

    Example:
    >>> table1_model("alexnet-8", (16, 16, 3), 10).get_layer("conv3").filters
    12
    """
    if row not in TABLE1:
        raise ValueError(f"Expected a Table I row in {sorted(TABLE1)}, received {row!r}.")
    check_image_classifier(input_shape, num_classes)
    spec_name = row
    convs, fc_units, padding = TABLE1[spec_name]
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for i, (filters, kernel, pool) in enumerate(convs, start=1):
        x = keras.layers.Conv2D(
            filters, max(1, round(kernel)), padding=padding, activation="relu", name=f"conv{i}"
        )(x)
        if pool is not None and pool[0] > 1 and pool[1] > 0:
            x = keras.layers.MaxPooling2D(pool[0], pool[1], name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(fc_units, activation="relu", name="fc6")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="drop6")(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name or spec_name.replace("-", "_"))


@register_model
def table1_net(net="net-2", input_shape=(8, 8, 3), num_classes=1000, dropout=0.0, name=None):
    """One of Table I's small networks ``"net-1"`` .. ``"net-4"`` (logits output).

    net-1/2/3: one 2x2 convolution with 3/6/12 filters and a 128/256/512-unit
    L6 (net-2 -> net-3 is the paper's filter-adding experiment, section
    IV-D); net-4: 6 filters 2x2, 2x2 max pooling with stride 1, 16 filters
    3x3, 3x3 max pooling with stride 2, 256 units. All were trained on 8x8
    images first (Fig. 4).

    Args:
        net: ``"net-1"``, ``"net-2"``, ``"net-3"`` or ``"net-4"``.
        input_shape: ``(height, width, channels)``.
        num_classes: classes of L8 (ImageNet: 1000).
        dropout: drop rate after L6 (0: none).
        name: model name (default e.g. ``net_2``).

    Example:
    >>> model = table1_net("net-2", (8, 8, 3), 50)
    >>> tuple(model.get_layer("conv1").kernel.shape), model.get_layer("fc6").units
    ((2, 2, 3, 6), 256)
    """
    if net not in TABLE1 or not net.startswith("net-"):
        raise ValueError(f"Expected net in ('net-1', 'net-2', 'net-3', 'net-4'), received {net!r}.")
    return table1_model(net, input_shape, num_classes, dropout, name)


@register_model
def scaled_alexnet(input_size=8, num_classes=1000, channels=3, dropout=0.0, name=None):
    """Table I's scaled AlexNet for ``input_size`` x ``input_size`` images (8, 16 or 32).

    2^5-scaled (8x8): conv 3(1), 8(1), 12(3), L6 128; 2^4-scaled (16x16):
    6(1), 16(3) + 2x2/1 pooling, 24(3), L6 256; 2^3-scaled (32x32): 12(1) +
    2x2/1 pooling, 32(4) + 3x3/2 pooling, 48(3), L6 512 (filters(kernel)).

    Args:
        input_size: 8, 16 or 32.
        num_classes: classes of L8.
        channels: image channels.
        dropout: drop rate after L6 (0: none).
        name: model name (default ``alexnet_<size>``).

    Example:
    >>> model = scaled_alexnet(16, 50)
    >>> [model.get_layer(f"conv{i}").filters for i in (1, 2, 3)], model.get_layer("fc6").units
    ([6, 16, 24], 256)
    """
    if input_size not in SCALED_ALEXNET_SIZES:
        raise ValueError(
            f"Expected input_size in {SCALED_ALEXNET_SIZES} (Table I), received {input_size!r}."
        )
    return table1_model(
        f"alexnet-{input_size}", (input_size, input_size, channels), num_classes, dropout, name
    )
