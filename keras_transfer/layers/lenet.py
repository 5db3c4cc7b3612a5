"""LeNet-5's own layers: the squashing function, sub-sampling, and the C3 connection table.

LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document
recognition" (1998), section II-B and Table I; used by the layer-transfer
paper (lenet5-knowledge-transfer-nist.txt, Figure 1 and Table 1).
"""

import keras
import numpy as np
from keras import ops

# LeNet-5's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3
# (LeCun et al. 1998, Appendix A): f(1) = 1 and f(-1) = -1.
SQUASH_A = 1.7159
SQUASH_S = 2.0 / 3.0

# LeNet-5 Table I: which S2 feature maps each of the 16 C3 maps sees.
LENET5_C3_TABLE = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (4, 5, 0),
    (5, 0, 1),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (3, 4, 5, 0),
    (4, 5, 0, 1),
    (5, 0, 1, 2),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@keras.saving.register_keras_serializable(package="keras_transfer")
def lecun_tanh(x):
    """LeNet-5's squashing function ``1.7159 * tanh(2/3 * x)``.

    Example:
    >>> round(float(lecun_tanh(keras.ops.convert_to_tensor(1.0))), 4)
    1.0
    """
    return SQUASH_A * ops.tanh(SQUASH_S * x)


@keras.saving.register_keras_serializable(package="keras_transfer")
class Subsampling2D(keras.layers.Layer):
    """LeNet sub-sampling: per map, sum each tile, times a coefficient, plus a bias, squashed.

    Each output unit is ``activation(w_c * sum(tile) + b_c)`` over a
    non-overlapping ``pool_size`` tile of its own input map c, with one
    trainable coefficient ``w_c`` and one bias ``b_c`` per map: two
    parameters per map (paper Table 1: S2 has 12, S4 has 32).

    Args:
        pool_size: tile size (LeNet-5: 2).
        activation: applied after the affine map (default LeNet-5's
            `lecun_tanh`; ``None`` for none).
        coefficient_initializer, bias_initializer: initialisers.

    Example:
    >>> layer = Subsampling2D(activation=None)
    >>> y = layer(keras.ops.ones((1, 4, 4, 3)))
    >>> tuple(y.shape), layer.count_params()
    ((1, 2, 2, 3), 6)
    """

    def __init__(
        self,
        pool_size=2,
        activation=lecun_tanh,
        coefficient_initializer="ones",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(pool_size, int):
            pool_size = (pool_size, pool_size)
        self.pool_size = tuple(pool_size)
        self.activation = keras.activations.get(activation)
        self.coefficient_initializer = keras.initializers.get(coefficient_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.coefficient = self.add_weight(
            shape=(channels,), name="coefficient", initializer=self.coefficient_initializer
        )
        self.bias = self.add_weight(
            shape=(channels,), name="bias", initializer=self.bias_initializer
        )

    def call(self, inputs):
        area = self.pool_size[0] * self.pool_size[1]
        sums = (
            ops.average_pool(inputs, self.pool_size, strides=self.pool_size, padding="valid") * area
        )
        return self.activation(sums * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (
            input_shape[0],
            None if h is None else h // self.pool_size[0],
            None if w is None else w // self.pool_size[1],
            input_shape[3],
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            pool_size=self.pool_size,
            activation=keras.activations.serialize(self.activation),
            coefficient_initializer=keras.initializers.serialize(self.coefficient_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="keras_transfer")
class ConnectionTableConv2D(keras.layers.Layer):
    """A convolution where output map j sees only the input maps ``table[j]``.

    Only the connected kernels are parameters (LeNet-5's C3 with
    `LENET5_C3_TABLE`: 60 kernels of 5x5 plus 16 biases = 1,516, paper
    Table 1). The full kernel is assembled in ``call`` by a fixed one-hot
    placement, so the convolution itself is one ordinary, fast `conv`.

    Args:
        table: for each output map, the tuple of input maps it sees.
        kernel_size: square kernel size (LeNet-5: 5).
        activation: default `lecun_tanh`.
        padding: ``"valid"`` (LeNet-5) or ``"same"``.
        kernel_initializer, bias_initializer: initialisers.

    Example:
    >>> layer = ConnectionTableConv2D(LENET5_C3_TABLE, 5)
    >>> y = layer(keras.ops.ones((1, 14, 14, 6)))
    >>> tuple(y.shape), layer.count_params()
    ((1, 10, 10, 16), 1516)
    """

    def __init__(
        self,
        table,
        kernel_size=5,
        activation=lecun_tanh,
        padding="valid",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        table = tuple(tuple(int(i) for i in row) for row in table)
        if not table or any(not row or len(set(row)) != len(row) for row in table):
            raise ValueError(
                f"Expected a connection table of non-empty rows without repeats, received "
                f"{table!r}."
            )
        self.table = table
        self.kernel_size = int(kernel_size)
        self.activation = keras.activations.get(activation)
        self.padding = padding
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def filters(self):
        return len(self.table)

    @property
    def connections(self):
        """``(input map, output map)`` of every kernel, in kernel order."""
        return [(i, j) for j, row in enumerate(self.table) for i in row]

    def build(self, input_shape):
        channels = input_shape[-1]
        highest = max(max(row) for row in self.table)
        if highest >= channels:
            raise ValueError(
                f"Expected input maps 0..{channels - 1} in the connection table, received a "
                f"reference to map {highest}."
            )
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, len(self.connections)), name="kernel", initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(
            shape=(self.filters,), name="bias", initializer=self.bias_initializer
        )
        placement = np.zeros((len(self.connections), channels, self.filters), np.float32)
        for n, (i, j) in enumerate(self.connections):
            placement[n, i, j] = 1.0
        self._placement = placement

    def full_kernel(self):
        """The dense ``(k, k, in, out)`` kernel, zero where maps are not connected."""
        placement = ops.cast(ops.convert_to_tensor(self._placement), self.kernel.dtype)
        return ops.einsum("hwn,nio->hwio", self.kernel, placement)

    def call(self, inputs):
        kernel = ops.cast(self.full_kernel(), inputs.dtype)
        out = ops.conv(inputs, kernel, strides=1, padding=self.padding)
        return self.activation(out + ops.cast(self.bias, inputs.dtype))

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        if self.padding == "valid":
            h = None if h is None else h - self.kernel_size + 1
            w = None if w is None else w - self.kernel_size + 1
        return (input_shape[0], h, w, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            table=[list(row) for row in self.table],
            kernel_size=self.kernel_size,
            activation=keras.activations.serialize(self.activation),
            padding=self.padding,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config
