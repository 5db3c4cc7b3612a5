"""Cross-network skip connections between two networks' blocks (transferred-fusion paper, sec. 3).

transferred-fusion-skipped-networks.txt, section 3: "In case the dimensions
exactly match, the output from the first model is added to the output from
the counterpart by directly feeding it to the input of the next layer ... In
layers where the dimensions ... don't fit perfectly, a new convolution block
is added to resize the activation map to the desired shape."

The paper's exchange is a plain sum, so fusing two trained networks changes
both of them at once. ``exchange="gated"`` scales each cross-network
contribution by a learnable gate initialised to 0 (as ReZero and Fixup
zero-initialise residual branches): the fused network starts as exactly the
two original networks side by side and learns how much to exchange.
"""

import keras

from keras_transfer.layers.resize import ResizeImages

EXCHANGES = ("paper", "gated")


def _spatial_factor(source, target):
    """Integer f with source side == f * target side (both axes), else None."""
    factors = {s // t for s, t in zip(source, target) if t and s % t == 0}
    if len(factors) == 1 and all(s == t * next(iter(factors)) for s, t in zip(source, target)):
        return next(iter(factors))
    return None


@keras.saving.register_keras_serializable(package="keras_transfer")
class SkipExchange(keras.layers.Layer):
    """Exchanges two block outputs: ``A' = A + g_ba adapt(B)`` and ``B' = B + g_ab adapt(A)``.

    ``adapt`` is the identity where the two activation maps have the same
    shape (height, width, channels), as in the paper. Otherwise it is a
    learned convolution block producing the other map's shape: a convolution
    with kernel and stride ``f`` when the source side is ``f`` times the
    target side (a learned downsampling, like ResNet's projection shortcut),
    else a bilinear resize to the target side followed by a 1x1 convolution;
    optionally followed by BatchNormalization.

    The gates ``g`` are 1 with ``exchange="paper"`` (the paper's sum) and two
    learnable scalars initialised to 0 with ``exchange="gated"`` (weights
    ``gate_b_to_a`` and ``gate_a_to_b``). A scalar per direction rather than
    one per channel: it reads as "how much of the other network flows in",
    its gradient sums over every channel so it leaves 0 quickly, and where
    the shapes differ the adapter's convolution already scales each channel.

    Args:
        exchange: ``"paper"`` (sum) or ``"gated"`` (zero-initialised gates:
            at creation the layer returns its inputs unchanged).
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
    >>> a2, b2 = SkipExchange(exchange="gated")([a, b])  # gates at 0: unchanged
    >>> float(a2[0, 0, 0, 0]), float(b2[0, 0, 0, 0])
    (1.0, 2.0)
    """

    def __init__(
        self, exchange="paper", batch_norm=False, kernel_initializer="glorot_uniform", **kwargs
    ):
        super().__init__(**kwargs)
        if exchange not in EXCHANGES:
            raise ValueError(f"Expected exchange to be one of {EXCHANGES}, received {exchange!r}.")
        self.exchange = exchange
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
            layers = [
                keras.layers.Conv2D(
                    tc,
                    factor,
                    strides=factor,
                    use_bias=not self.batch_norm,
                    kernel_initializer=self.kernel_initializer,
                    name=f"{name}_conv",
                )
            ]
        else:
            # ResizeImages, not keras.layers.Resizing: see its docstring (export).
            layers = [
                ResizeImages(th, tw, name=f"{name}_resize"),
                keras.layers.Conv2D(
                    tc,
                    1,
                    use_bias=not self.batch_norm,
                    kernel_initializer=self.kernel_initializer,
                    name=f"{name}_conv",
                ),
            ]
        if self.batch_norm:
            layers.append(keras.layers.BatchNormalization(name=f"{name}_bn"))
        return layers

    def build(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or any(s is None or len(s) != 4 for s in input_shape)
        ):
            raise ValueError(
                f"Expected two 4-D inputs (batch, height, width, channels), "
                f"received shapes {input_shape}."
            )
        shape_a, shape_b = (tuple(s[1:]) for s in input_shape)
        if None in shape_a + shape_b:
            raise ValueError(
                f"Expected fully known height, width and channels, received "
                f"{shape_a} and {shape_b}."
            )
        self.adapt_b_to_a = self._adapter(shape_b, shape_a, "b_to_a")
        self.adapt_a_to_b = self._adapter(shape_a, shape_b, "a_to_b")
        if self.exchange == "gated":
            self.gate_b_to_a, self.gate_a_to_b = (
                self.add_weight(name=f"gate_{d}", shape=(), initializer="zeros")
                for d in ("b_to_a", "a_to_b")
            )
        for layers, shape in (
            (self.adapt_b_to_a, input_shape[1]),
            (self.adapt_a_to_b, input_shape[0]),
        ):
            for layer in layers or []:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    @staticmethod
    def _apply(layers, x, training):
        for layer in layers or []:
            kwargs = (
                {"training": training} if isinstance(layer, keras.layers.BatchNormalization) else {}
            )
            x = layer(x, **kwargs)
        return x

    def gates(self):
        """``{"b_to_a": g_ba, "a_to_b": g_ab}`` as floats (1.0 with ``exchange="paper"``).

        Example:
        >>> import numpy as np
        >>> layer = SkipExchange(exchange="gated")
        >>> _ = layer([np.ones((1, 4, 4, 2)), np.ones((1, 4, 4, 2))])
        >>> layer.gates()
        {'b_to_a': 0.0, 'a_to_b': 0.0}
        """
        if self.exchange == "paper":
            return {"b_to_a": 1.0, "a_to_b": 1.0}
        return {
            "b_to_a": float(keras.ops.convert_to_numpy(self.gate_b_to_a)),
            "a_to_b": float(keras.ops.convert_to_numpy(self.gate_a_to_b)),
        }

    def call(self, inputs, training=None):
        a, b = inputs
        to_a = self._apply(self.adapt_b_to_a, b, training)
        to_b = self._apply(self.adapt_a_to_b, a, training)
        if self.exchange == "gated":
            to_a = to_a * keras.ops.cast(self.gate_b_to_a, to_a.dtype)
            to_b = to_b * keras.ops.cast(self.gate_a_to_b, to_b.dtype)
        return [a + to_a, b + to_b]

    def compute_output_shape(self, input_shape):
        return [tuple(input_shape[0]), tuple(input_shape[1])]

    def get_config(self):
        return {
            **super().get_config(),
            "exchange": self.exchange,
            "batch_norm": self.batch_norm,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
