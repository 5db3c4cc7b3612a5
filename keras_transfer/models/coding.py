"""Output codes: each class gets a random bit vector as its target (error-correcting outputs).

The layer-transfer paper (lenet5-knowledge-transfer-nist.txt, "Experiments")
assigns every character a random 20-bit vector: "The random bit assignment
provides a greater distance between target vectors than a standard '1 of N'
encoding". The net is trained to output the code (targets -1/+1, the range
of LeNet-5's squashing function at +-1) and an output is decoded to the class
with the nearest code.
"""

import keras
import numpy as np
from keras import ops


def random_codes(num_classes, bits=20, seed=0):
    """Distinct random ``{-1, +1}`` codes, one row per class, fixed by ``seed``.

    Args:
        num_classes: number of classes (>= 2).
        bits: code length (paper: 20); needs ``2 ** bits >= num_classes``.
        seed: the codes' seed.

    Returns:
        float32 array ``(num_classes, bits)``.

    Example:
    >>> codes = random_codes(10, 20, seed=0)
    >>> codes.shape, len({tuple(c) for c in codes})
    ((10, 20), 10)
    """
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"Expected num_classes to be an integer >= 2, received {num_classes!r}.")
    if not isinstance(bits, (int, np.integer)) or bits < 1 or 2**bits < num_classes:
        need = int(np.ceil(np.log2(num_classes)))
        raise ValueError(
            f"Expected a code length of at least {need} bits for {num_classes} classes "
            f"(2**bits >= classes), received bits={bits!r}."
        )
    rng = np.random.RandomState(seed)
    codes, seen = [], set()
    while len(codes) < num_classes:
        c = rng.randint(0, 2, size=bits)
        if tuple(c) not in seen:
            seen.add(tuple(c))
            codes.append(c)
    return np.asarray(codes, np.float32) * 2.0 - 1.0


def decode(outputs, codes):
    """The class whose code is nearest (Euclidean) to each output row.

    Example:
    >>> codes = np.array([[1., 1.], [-1., 1.], [-1., -1.]])
    >>> decode(np.array([[0.9, 0.2], [-0.8, -0.7]]), codes).tolist()
    [0, 2]
    """
    outputs = np.asarray(outputs, np.float32)
    codes = np.asarray(codes, np.float32)
    d = ((outputs[:, None, :] - codes[None, :, :]) ** 2).sum(-1)
    return d.argmin(axis=1)


@keras.saving.register_keras_serializable(package="keras_transfer")
class CodeLoss(keras.losses.Loss):
    """Mean squared error between the net's output and the code of the integer label.

    Lets the usual ``(image, label)`` datasets train a coded-output net.

    Example:
    >>> loss = CodeLoss(np.array([[1., 1.], [-1., -1.]]))
    >>> float(loss(np.array([1]), np.array([[-1., -1.]])))
    0.0
    """

    def __init__(self, codes, name="code_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.codes = np.asarray(codes, np.float32)

    def call(self, y_true, y_pred):
        target = ops.take(
            ops.convert_to_tensor(self.codes), ops.cast(ops.reshape(y_true, (-1,)), "int32"), axis=0
        )
        return ops.mean(ops.square(ops.cast(y_pred, "float32") - target), axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(codes=self.codes.tolist())
        return config


@keras.saving.register_keras_serializable(package="keras_transfer")
class CodeAccuracy(keras.metrics.MeanMetricWrapper):
    """Accuracy after decoding each output to the nearest code.

    Example:
    >>> m = CodeAccuracy(np.array([[1., 1.], [-1., -1.]]))
    >>> m.update_state(np.array([0, 1]), np.array([[0.5, 0.9], [0.3, 0.1]]))
    >>> float(m.result())
    0.5
    """

    def __init__(self, codes, name="accuracy", dtype=None):
        self.codes = np.asarray(codes, np.float32)
        codes_t = self.codes

        def nearest_code_hit(y_true, y_pred):
            c = ops.convert_to_tensor(codes_t)
            d = ops.sum(ops.square(ops.expand_dims(ops.cast(y_pred, "float32"), 1) - c), -1)
            pred = ops.argmin(d, axis=-1)
            true = ops.cast(ops.reshape(y_true, (-1,)), pred.dtype)
            return ops.cast(ops.equal(pred, true), "float32")

        super().__init__(fn=nearest_code_hit, name=name, dtype=dtype)

    def get_config(self):
        return {"codes": self.codes.tolist(), "name": self.name, "dtype": self.dtype}
