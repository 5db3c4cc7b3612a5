"""Compact CNNs for devices without GPUs (compact-cnn-transfer-distillation.txt, stage 2).

The paper's compact CNN has to meet a size and compute budget on phones and
tablets; `compact_cnn` is a plain VGG-style family with a width and a depth
knob, and `count_flops` measures the compute of any Keras model.
"""

import keras
import tensorflow as tf

from keras_transfer.checks import check_image_classifier
from keras_transfer.models.registry import register_model


@register_model
def compact_cnn(
    input_shape=(32, 32, 3),
    num_classes=10,
    width=16,
    depth=3,
    convs_per_stage=1,
    dropout=0.0,
    name="compact_cnn",
):
    """A small CNN: ``depth`` stages of (3x3 conv-BN-ReLU) x ``convs_per_stage`` + 2x2 max pool.

    Stage ``i`` has ``width * 2**i`` filters; then global average pooling and a
    float32 logits layer. With the defaults (16, 32, 64 filters) it has 24,570
    parameters for CIFAR-10.

    Args:
        input_shape: image shape; each stage halves the side, so the side must
            be at least ``2**depth``.
        num_classes: classes (logits).
        width: filters of the first stage (the width knob).
        depth: number of stages (the depth knob).
        convs_per_stage: conv layers per stage.
        dropout: dropout rate before the classifier.

    Example:
    >>> compact_cnn((32, 32, 3), 10).count_params()
    24570
    """
    check_image_classifier(input_shape, num_classes)
    for key, value in (("width", width), ("depth", depth), ("convs_per_stage", convs_per_stage)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"Expected {key} to be an integer >= 1, received {value!r}.")
    if min(input_shape[:2]) < 2**depth:
        raise ValueError(
            f"Expected image sides >= 2**depth = {2**depth}, received "
            f"input_shape {tuple(input_shape)}."
        )
    inputs = keras.Input(tuple(input_shape), name="image")
    x = inputs
    for stage in range(depth):
        for conv in range(convs_per_stage):
            x = keras.layers.Conv2D(
                width * 2**stage,
                3,
                padding="same",
                use_bias=False,
                name=f"conv{stage + 1}_{conv + 1}",
            )(x)
            x = keras.layers.BatchNormalization(name=f"bn{stage + 1}_{conv + 1}")(x)
            x = keras.layers.ReLU(name=f"relu{stage + 1}_{conv + 1}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{stage + 1}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def count_flops(model, batch_size=1):
    """Floating-point operations of one forward pass, by TensorFlow's graph profiler.

    Uses `tf.compat.v1.profiler` on the model's frozen inference graph (the
    profiler counts a multiply-add as 2 FLOPs and includes BatchNorm, pooling
    and activations), so it works for any Keras model, including nested
    `keras.applications` backbones.

    Example:
    >>> m = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, use_bias=False)])
    >>> count_flops(m)  # 2 x 2 outputs x 2 filters x 9 taps x 2
    144
    """
    from tensorflow.python.framework import convert_to_constants  # no public equivalent

    spec = [tf.TensorSpec((batch_size,) + tuple(i.shape[1:]), i.dtype) for i in model.inputs]
    fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))
    frozen = convert_to_constants.convert_variables_to_constants_v2(fn.get_concrete_function(*spec))
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    info = tf.compat.v1.profiler.profile(
        graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=opts
    )
    return int(info.total_float_ops)
