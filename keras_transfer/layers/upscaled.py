"""Upscaled-network building blocks (coarse-to-fine paper, section III-A/B).

coarse2fine-incremental-training.txt: a network trained on 8x8 images is
mapped to one for 16x16 images so that its output on a pixel-replicated image
(eq. 5) is unchanged (eq. 1). Two pieces make that mapping a set of ordinary,
trainable Keras layers:

- `UpscaledKernel`, a serializable initializer that turns a trained
  convolution (or flatten -> dense) kernel into the upscaled one: eq. 7 on a
  pixel-replicated input (each weight replicated factor x factor and divided by
  factor^2), and the original weights at the "anchor" positions (every
  factor-th tap) where the input only carries the original values there
  (section III-B, Fig. 3: new taps zero in exact mode, small Gaussian noise in
  paper mode).
- `DilatedPooling2D`, max/average pooling with a dilation and explicit
  padding. After an upscaled convolution only every factor-th position equals
  the original map (eq. 8, "the even-indexed values can be ignored in the next
  layer"), so an exact pooling must look at those positions only. Keras'
  pooling layers have no dilation, hence this layer.
"""

import keras
import numpy as np

from keras_transfer.checks import check_choice
from keras_transfer.checks import check_factor

LAYOUTS = ("replicated", "anchored")
MODES = ("exact", "paper")
POOL_TYPES = ("max", "avg")


def _pair(value, name):
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(
            f"Expected {name} to be a positive int or a pair of them, received {value!r}."
        )
    return value


def upscale_kernel(kernel, factor, layout="replicated", mode="exact", stddev=0.01, rng=None):
    """The ``factor``-times larger convolution kernel (``kh x kw x in x out`` layout).

    Args:
        kernel: trained kernel, shape ``(kh, kw, in, out)``.
        factor: integer upscaling factor ``f`` (paper: 2).
        layout: what the layer's input carries. ``"replicated"``: every
            original pixel repeated ``f x f`` times (eq. 5); every weight is
            replicated ``f x f`` times and divided by ``f^2`` (eq. 7), exact in
            both modes. ``"anchored"``: the original values sit at every
            ``f``-th position only (eq. 8); the weights go to taps
            ``(f*a, f*b)`` and the new taps get zeros (``mode="exact"``) or
            ``N(0, stddev)`` noise (``mode="paper"``, section III-B).
        mode: ``"exact"`` or ``"paper"``.
        stddev: standard deviation of the paper-mode noise (Fig. 8's
            preferred ``N(0, 1/100)`` noise scale: 0.01).
        rng: a `numpy.random.Generator` for the noise.

    Returns:
        float32 array ``(f*kh, f*kw, in, out)``.

    Example:
    >>> k = np.arange(4, dtype="float32").reshape(2, 2, 1, 1)
    >>> upscale_kernel(k, 2)[..., 0, 0]
    array([[0.  , 0.  , 0.25, 0.25],
           [0.  , 0.  , 0.25, 0.25],
           [0.5 , 0.5 , 0.75, 0.75],
           [0.5 , 0.5 , 0.75, 0.75]], dtype=float32)
    >>> upscale_kernel(k, 2, "anchored")[..., 0, 0]
    array([[0., 0., 1., 0.],
           [0., 0., 0., 0.],
           [2., 0., 3., 0.],
           [0., 0., 0., 0.]], dtype=float32)
    """
    kernel = np.asarray(kernel, np.float32)
    if kernel.ndim != 4:
        raise ValueError(
            f"Expected a convolution kernel (kh, kw, in, out), received shape {kernel.shape}."
        )
    check_choice(layout, LAYOUTS, "layout")
    check_choice(mode, MODES, "mode")
    noise = stddev if mode == "paper" else None
    return _spread(kernel, factor, layout == "replicated", noise, rng)


def upscale_dense_kernel(
    kernel,
    spatial_shape,
    new_size,
    factor,
    layout="replicated",
    mode="exact",
    stddev=0.01,
    rng=None,
):
    """The kernel of a dense layer after ``Flatten`` for a ``factor``-times larger map.

    Section III-B: the dense layer's rows are the flattened ``H x W x C`` map.
    For a pixel-replicated map exact mode splits each weight over the ``f x
    f`` copies of its position (divided by ``f^2``); for an anchored map the
    weight goes to the anchor position. New positions get zeros (exact) or
    ``N(0, stddev)`` noise (paper mode: weights copied at the original
    positions, "small gaussian noise" elsewhere).

    Args:
        kernel: ``(H*W*C, units)``.
        spatial_shape: ``(H, W, C)`` of the original map.
        new_size: ``(H', W')`` of the new map, ``f*(H-1)+1 <= H' <= f*H``.
        factor, layout, mode, stddev, rng: as in `upscale_kernel`.

    Returns:
        float32 array ``(H'*W'*C, units)``.

    Example:
    >>> w = np.ones((2 * 2 * 1, 3), "float32")
    >>> upscale_dense_kernel(w, (2, 2, 1), (4, 4), 2).shape
    (16, 3)
    >>> float(upscale_dense_kernel(w, (2, 2, 1), (4, 4), 2).sum())  # weights split, sum kept
    12.0
    """
    h, w, c = (int(v) for v in spatial_shape)
    kernel = np.asarray(kernel, np.float32)
    if kernel.ndim != 2 or kernel.shape[0] != h * w * c:
        raise ValueError(
            f"Expected a dense kernel with {h}*{w}*{c}={h * w * c} rows, received "
            f"shape {kernel.shape}."
        )
    check_choice(layout, LAYOUTS, "layout")
    check_choice(mode, MODES, "mode")
    factor = check_factor(factor, minimum=1)
    split = layout == "replicated" and mode == "exact"
    noise = stddev if mode == "paper" else None
    full = _spread(kernel.reshape(h, w, c, -1), factor, split, noise, rng)
    nh, nw = (int(v) for v in new_size)
    for n, o in ((nh, h), (nw, w)):
        if not factor * (o - 1) + 1 <= n <= factor * o:
            raise ValueError(
                f"Expected the new map side between {factor * (o - 1) + 1} and "
                f"{factor * o} for side {o} and factor {factor}, received {n}."
            )
    if layout == "replicated" and (nh, nw) != (factor * h, factor * w):
        raise ValueError(
            f"Expected a replicated map of {factor * h}x{factor * w}, received {nh}x{nw}."
        )
    return full[:nh, :nw].reshape(nh * nw * c, -1)


def _spread(kernel, factor, split, noise_stddev, rng):
    """Upscales ``kernel`` along its first two (spatial) axes.

    ``split``: every weight replicated over its ``f x f`` block and divided by
    ``f^2`` (eq. 7). Otherwise the weight goes to the block's first position
    (the anchor) and the others get ``N(0, noise_stddev)`` noise, or zeros when
    ``noise_stddev`` is None.
    """
    f = check_factor(factor, minimum=1)
    if split:
        return (np.repeat(np.repeat(kernel, f, axis=0), f, axis=1) / (f * f)).astype(np.float32)
    shape = (kernel.shape[0] * f, kernel.shape[1] * f, *kernel.shape[2:])
    if noise_stddev is None:
        out = np.zeros(shape, np.float32)
    else:
        rng = rng if rng is not None else np.random.default_rng()
        out = rng.normal(0.0, noise_stddev, size=shape).astype(np.float32)
    out[::f, ::f] = kernel
    return out


@keras.saving.register_keras_serializable(package="keras_transfer")
class UpscaledKernel(keras.initializers.Initializer):
    """Initializer: a trained kernel upscaled by ``factor`` (coarse-to-fine paper, eqs. 5-8, III-B).

    Use it as the ``kernel_initializer`` of the larger layer; `upscale`
    (`keras_transfer.transfer.upscaling`) sets the weights the same way.

    Args:
        kernel: the trained kernel (array or nested list): ``(kh, kw, in,
            out)`` for a convolution, ``(H*W*C, units)`` for a dense layer after
            ``Flatten`` (then give ``spatial_shape`` and ``new_size``).
        factor: upscaling factor (paper: 2).
        layout: ``"replicated"`` or ``"anchored"``, see `upscale_kernel`.
        mode: ``"exact"`` or ``"paper"``.
        stddev: paper-mode noise standard deviation (Fig. 8: 0.01).
        seed: noise seed.
        spatial_shape, new_size: for a dense kernel, see
            `upscale_dense_kernel`.

    Example:
    >>> small = keras.layers.Conv2D(4, 3)
    >>> _ = small(np.zeros((1, 8, 8, 3), "float32"))
    >>> big = keras.layers.Conv2D(4, 6, kernel_initializer=UpscaledKernel(small.kernel, 2))
    >>> _ = big(np.zeros((1, 16, 16, 3), "float32"))
    >>> tuple(big.kernel.shape)
    (6, 6, 3, 4)
    """

    def __init__(
        self,
        kernel,
        factor=2,
        layout="replicated",
        mode="exact",
        stddev=0.01,
        seed=None,
        spatial_shape=None,
        new_size=None,
    ):
        self.kernel = np.asarray(keras.ops.convert_to_numpy(kernel), np.float32)
        self.factor = int(factor)
        check_choice(layout, LAYOUTS, "layout")
        check_choice(mode, MODES, "mode")
        self.layout, self.mode, self.stddev, self.seed = layout, mode, float(stddev), seed
        self.spatial_shape = None if spatial_shape is None else tuple(spatial_shape)
        self.new_size = None if new_size is None else tuple(new_size)

    def value(self):
        """The upscaled kernel as a float32 NumPy array."""
        rng = np.random.default_rng(self.seed)
        if self.spatial_shape is not None:
            return upscale_dense_kernel(
                self.kernel,
                self.spatial_shape,
                self.new_size,
                self.factor,
                self.layout,
                self.mode,
                self.stddev,
                rng,
            )
        return upscale_kernel(self.kernel, self.factor, self.layout, self.mode, self.stddev, rng)

    def __call__(self, shape, dtype=None):
        value = self.value()
        if tuple(shape) != value.shape:
            raise ValueError(
                f"Expected the layer's kernel shape to be {value.shape} (the "
                f"upscaled kernel), received {tuple(shape)}."
            )
        return keras.ops.convert_to_tensor(value, dtype=dtype or "float32")

    def get_config(self):
        return {
            "kernel": self.kernel.tolist(),
            "factor": self.factor,
            "layout": self.layout,
            "mode": self.mode,
            "stddev": self.stddev,
            "seed": self.seed,
            "spatial_shape": self.spatial_shape,
            "new_size": self.new_size,
        }


@keras.saving.register_keras_serializable(package="keras_transfer")
class DilatedPooling2D(keras.layers.Layer):
    """Max or average pooling with a dilation and explicit padding (channels last).

    Output ``(i, j)`` pools the inputs at ``(s*i + d*a - top, s*j + d*b -
    left)`` for ``a, b`` in the window, like a dilated convolution. Padded
    positions never win a max and are not counted in an average (Keras'
    ``padding="same"`` semantics), so with dilation 1 and Keras' own padding
    split this equals `keras.layers.MaxPooling2D` / `AveragePooling2D`.

    Coarse-to-fine paper, eq. 8: after an upscaled convolution only every
    ``f``-th position carries the original feature map, so the upscaled net
    pools with dilation ``f`` (`keras_transfer.transfer.upscaling.upscale`).
    Keras' pooling layers have no dilation argument, hence this layer.

    Args:
        pool_size: window ``(ph, pw)`` or an int.
        strides: ``(sh, sw)`` or an int; default ``pool_size``.
        dilation_rate: ``(dh, dw)`` or an int.
        padding: ``((top, bottom), (left, right))`` non-negative ints.
        pool_type: ``"max"`` or ``"avg"``.
        output_size: optional ``(H, W)`` to crop the output to (the upscaled
            net keeps every map at most ``f`` times the original's side).

    Example:
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> y = DilatedPooling2D(2, strides=1, dilation_rate=2)(x)
    >>> y[0, :, :, 0].numpy().tolist()
    [[10.0, 11.0], [14.0, 15.0]]
    """

    def __init__(
        self,
        pool_size,
        strides=None,
        dilation_rate=1,
        padding=((0, 0), (0, 0)),
        pool_type="max",
        output_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(self.pool_size if strides is None else strides, "strides")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        padding = tuple(tuple(int(v) for v in p) for p in padding)
        if len(padding) != 2 or any(len(p) != 2 or min(p) < 0 for p in padding):
            raise ValueError(
                f"Expected padding ((top, bottom), (left, right)) of non-negative "
                f"ints, received {padding!r}."
            )
        self.padding = padding
        check_choice(pool_type, POOL_TYPES, "pool_type")
        self.pool_type = pool_type
        self.output_size = None if output_size is None else tuple(int(v) for v in output_size)

    def _out_len(self, n, axis):
        k = self.dilation_rate[axis] * (self.pool_size[axis] - 1) + 1
        n = n + sum(self.padding[axis]) - k
        if n < 0:
            pad = sum(self.padding[axis])
            raise ValueError(
                f"Expected an input side of at least {k - pad} for a dilated "
                f"window of {k}, received {n + k - pad}."
            )
        out = n // self.strides[axis] + 1
        if self.output_size is not None:
            out = min(out, self.output_size[axis])
        return out

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (
            input_shape[0],
            None if h is None else self._out_len(h, 0),
            None if w is None else self._out_len(w, 1),
            input_shape[3],
        )

    def _pool(self, x, oh, ow):
        """Pools the padded ``x`` into an ``oh x ow`` output."""
        ops = keras.ops
        (ph, pw), (sh, sw), (dh, dw) = self.pool_size, self.strides, self.dilation_rate
        out = None
        for a in range(ph):
            for b in range(pw):
                part = x[
                    :,
                    a * dh : a * dh + (oh - 1) * sh + 1 : sh,
                    b * dw : b * dw + (ow - 1) * sw + 1 : sw,
                    :,
                ]
                if out is None:
                    out = part
                elif self.pool_type == "max":
                    out = ops.maximum(out, part)
                else:
                    out = out + part
        return out

    def call(self, inputs):
        ops = keras.ops
        pads = [(0, 0), *self.padding, (0, 0)]
        oh, ow = self._out_len(inputs.shape[1], 0), self._out_len(inputs.shape[2], 1)
        if self.pool_type == "max":
            # A padded position must never win: pad with -inf.
            return self._pool(ops.pad(inputs, pads, constant_values=float("-inf")), oh, ow)
        total = self._pool(ops.pad(inputs, pads), oh, ow)
        ones = ops.ones((1, inputs.shape[1], inputs.shape[2], 1), dtype=inputs.dtype)
        count = self._pool(ops.pad(ones, pads), oh, ow)  # in-bounds positions per window
        return total / count

    def get_config(self):
        config = super().get_config()
        config.update(
            pool_size=self.pool_size,
            strides=self.strides,
            dilation_rate=self.dilation_rate,
            padding=self.padding,
            pool_type=self.pool_type,
            output_size=self.output_size,
        )
        return config
