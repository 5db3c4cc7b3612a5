"""Cross-network skip connections between two networks' blocks (transferred-fusion paper, sec. 3).

transferred-fusion-skipped-networks.txt, section 3: "In case the dimensions
exactly match, the output from the first model is added to the output from
the counterpart by directly feeding it to the input of the next layer ... In
layers where the dimensions ... don't fit perfectly, a new convolution block
is added to resize the activation map to the desired shape."
"""

import keras


def _spatial_factor(source, target):
    """Integer f with source side == f * target side (both axes), else None."""
    factors = {s // t for s, t in zip(source, target) if t and s % t == 0}
    if len(factors) == 1 and all(s == t * next(iter(factors)) for s, t in zip(source, target)):
        return next(iter(factors))
    return None


@keras.saving.register_keras_serializable(package="keras_transfer")
class SkipExchange(keras.layers.Layer):
    """Exchanges two block outputs: ``A' = A + adapt(B)`` and ``B' = B + adapt(A)``.

    ``adapt`` is the identity where the two activation maps have the same
    shape (height, width, channels), as in the paper. Otherwise it is a
    learned convolution block producing the other map's shape: a convolution
    with kernel and stride ``f`` when the source side is ``f`` times the
    target side (a learned downsampling, like ResNet's projection shortcut),
    else a bilinear resize to the target side followed by a 1x1 convolution;
    optionally followed by BatchNormalization.

    Args:
        batch_norm: BatchNormalization after each adapter convolution.
        kernel_initializer: initializer of the adapter convolutions.

    Call arguments:
        inputs: ``[a, b]``, two 4-D ``(batch, height, width, channels)`` tensors.

    Returns:
        ``[a', b']`` with the shapes of ``a`` and ``b``.

    Example:
    >>> import numpy as np
    >>> a, b = np.ones((1, 8, 8, 4), "float32"), np.full((1, 8, 8, 4), 2.0, "float32")
    >>> a2, b2 = SkipExchange()([a, b])
    >>> float(a2[0, 0, 0, 0]), float(b2[0, 0, 0, 0])
    (3.0, 3.0)
    >>> a2, b2 = SkipExchange()([np.ones((1, 8, 8, 4)), np.ones((1, 4, 4, 6))])
    >>> tuple(a2.shape), tuple(b2.shape)
    ((1, 8, 8, 4), (1, 4, 4, 6))
    """

    def __init__(self, batch_norm=False, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.batch_norm = bool(batch_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.adapt_b_to_a = None
        self.adapt_a_to_b = None

    def _adapter(self, source, target, name):
        """``None`` (identity) or a list of layers mapping ``source`` to ``target`` (H, W, C)."""
        if tuple(source) == tuple(target):
            return None
        (sh, sw, _), (th, tw, tc) = source, target
        factor = _spatial_factor((sh, sw), (th, tw))
        if factor is not None:
            layers = [keras.layers.Conv2D(tc, factor, strides=factor, use_bias=not self.batch_norm,
                                          kernel_initializer=self.kernel_initializer,
                                          name=f"{name}_conv")]
        else:
            layers = [keras.layers.Resizing(th, tw, name=f"{name}_resize"),
                      keras.layers.Conv2D(tc, 1, use_bias=not self.batch_norm,
                                          kernel_initializer=self.kernel_initializer,
                                          name=f"{name}_conv")]
        if self.batch_norm:
            layers.append(keras.layers.BatchNormalization(name=f"{name}_bn"))
        return layers

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or any(
                s is None or len(s) != 4 for s in input_shape):
            raise ValueError(f"Expected two 4-D inputs (batch, height, width, channels), "
                             f"received shapes {input_shape}.")
        shape_a, shape_b = (tuple(s[1:]) for s in input_shape)
        if None in shape_a + shape_b:
            raise ValueError(f"Expected fully known height, width and channels, received "
                             f"{shape_a} and {shape_b}.")
        self.adapt_b_to_a = self._adapter(shape_b, shape_a, "b_to_a")
        self.adapt_a_to_b = self._adapter(shape_a, shape_b, "a_to_b")
        for layers, shape in ((self.adapt_b_to_a, input_shape[1]),
                              (self.adapt_a_to_b, input_shape[0])):
            for layer in layers or []:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    @staticmethod
    def _apply(layers, x, training):
        for layer in layers or []:
            kwargs = {"training": training} if isinstance(
                layer, keras.layers.BatchNormalization) else {}
            x = layer(x, **kwargs)
        return x

    def call(self, inputs, training=None):
        a, b = inputs
        return [a + self._apply(self.adapt_b_to_a, b, training),
                b + self._apply(self.adapt_a_to_b, a, training)]

    def compute_output_shape(self, input_shape):
        return [tuple(input_shape[0]), tuple(input_shape[1])]

    def get_config(self):
        return {**super().get_config(), "batch_norm": self.batch_norm,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
