"""Grouped convolution built from split convolutions.

Why not ``keras.layers.Conv2D(groups=...)``: on CPU its grouped kernel is about
17x slower than running one ordinary convolution per group and concatenating
(measured on this project's 2-core machine, see DEVELOPERS notes in README), so
this layer splits the channels itself. The function is identical.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_transfer")
class GroupedConv2D(keras.layers.Layer):
    """2-D convolution whose input and output channels are split into ``groups``.

    Group ``g`` sees input channels ``[g*Cin/G, (g+1)*Cin/G)`` and produces
    output channels ``[g*F/G, (g+1)*F/G)``, as in AlexNet's two-GPU layers
    (Krizhevsky et al. 2012; HTCNN paper Fig. 7). Each group is an ordinary
    `keras.layers.Conv2D`, reachable as ``layer.convs[g]``.

    Args:
        filters: total output channels (divisible by ``groups``).
        kernel_size, strides, padding, activation, use_bias,
        kernel_initializer, bias_initializer: as in `keras.layers.Conv2D`.
        groups: number of groups (>= 1); the input channels must divide too.

    Example:
    >>> layer = GroupedConv2D(8, 3, groups=2, padding="same")
    >>> tuple(layer(keras.ops.ones((1, 5, 5, 4))).shape)
    (1, 5, 5, 8)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        groups=2,
        strides=1,
        padding="valid",
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"Expected groups to be an integer >= 1, received {groups!r}.")
        if filters % groups:
            raise ValueError(
                f"Expected filters divisible by groups={groups}, received filters={filters}."
            )
        self.filters = filters
        self.kernel_size = kernel_size
        self.groups = groups
        self.strides = strides
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.convs = [
            keras.layers.Conv2D(
                filters // groups,
                kernel_size,
                strides=strides,
                padding=padding,
                use_bias=use_bias,
                kernel_initializer=kernel_initializer,
                bias_initializer=bias_initializer,
                name=f"group{g}",
            )
            for g in range(groups)
        ]

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.groups:
            raise ValueError(
                f"Expected input channels divisible by groups={self.groups}, "
                f"received {channels} channels."
            )
        part = list(input_shape)
        part[-1] = channels // self.groups
        for conv in self.convs:
            conv.build(tuple(part))

    def call(self, inputs):
        parts = ops.split(inputs, self.groups, axis=-1) if self.groups > 1 else [inputs]
        outputs = [conv(p) for conv, p in zip(self.convs, parts)]
        out = ops.concatenate(outputs, axis=-1) if self.groups > 1 else outputs[0]
        return self.activation(out)

    def compute_output_shape(self, input_shape):
        part = list(input_shape)
        part[-1] = input_shape[-1] // self.groups
        shape = list(self.convs[0].compute_output_shape(tuple(part)))
        shape[-1] = self.filters
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            groups=self.groups,
            strides=self.strides,
            padding=self.padding,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config
