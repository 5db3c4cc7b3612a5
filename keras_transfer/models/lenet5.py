"""The LeNet-5 style net of the layer-transfer paper (lenet5-knowledge-transfer-nist.txt Fig. 1)."""

import keras

from keras_transfer.checks import check_image_classifier
from keras_transfer.layers.lenet import LENET5_C3_TABLE
from keras_transfer.layers.lenet import ConnectionTableConv2D
from keras_transfer.layers.lenet import Subsampling2D
from keras_transfer.layers.lenet import lecun_tanh
from keras_transfer.models.registry import register_model

# Bottom-to-top order of the trainable levels, as the paper counts them
# ("retained levels" 0..5 in Figs. 2-5 / Table 1 rows).
LENET5_LEVELS = ("C1", "S2", "C3", "S4", "C5", "F6")


@register_model
def lenet5(input_shape=(32, 32, 1), num_outputs=20, output="code", name="lenet5"):
    """The paper's LeNet-5 style net (Figure 1), with LeNet-5's own layers.

    C1: 6 maps 28x28 (5x5 conv) - S2: 6 maps 14x14 (sub-sampling) - C3: 16
    maps 10x10 (5x5 conv with LeNet-5's connection table) - S4: 16 maps 5x5 -
    C5: 120 maps 1x1 (5x5 conv on all S4 maps) - F6: ``num_outputs`` units.
    Squashing function ``1.7159 tanh(2x/3)`` throughout. With 20 outputs the
    parameter counts are the paper's Table 1: 156, 12, 1,516, 32, 48,120,
    2,420 = 52,256.

    Args:
        input_shape: ``(32, 32, 1)`` in the paper; any size that leaves C5 at
            least 1x1 works.
        num_outputs: F6 units: the code length (paper: 20) or the class count.
        output: ``"code"`` (F6 squashed, trained against random codes, see
            `keras_transfer.models.coding`) or ``"softmax"`` (F6 are logits for a
            one-hot cross-entropy; the usual modern choice).

    Example:
    >>> model = lenet5()
    >>> model.count_params()
    52256
    """
    check_image_classifier(input_shape, max(num_outputs, 2))
    if output not in ("code", "softmax"):
        raise ValueError(f"Expected output in ('code', 'softmax'), received {output!r}.")
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(6, 5, activation=lecun_tanh, name="C1")(inputs)
    x = Subsampling2D(2, name="S2")(x)
    x = ConnectionTableConv2D(LENET5_C3_TABLE, 5, name="C3")(x)
    x = Subsampling2D(2, name="S4")(x)
    x = keras.layers.Conv2D(120, 5, activation=lecun_tanh, name="C5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(
        num_outputs, activation=lecun_tanh if output == "code" else None, dtype="float32", name="F6"
    )(x)
    return keras.Model(inputs, outputs, name=name)
