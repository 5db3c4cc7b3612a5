"""SkipExchange (transferred-fusion paper, section 3): identity sums and resizing adapters."""

import keras
import numpy as np
import pytest
from conftest import predict

from keras_transfer.layers import SkipExchange


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_exact_sum_where_shapes_match():
    a, b = _rand(3, 5, 5, 4), _rand(3, 5, 5, 4, seed=1)
    layer = SkipExchange()
    a2, b2 = layer([a, b])
    np.testing.assert_array_equal(np.asarray(a2), a + b)
    np.testing.assert_array_equal(np.asarray(b2), b + a)
    assert layer.weights == [] and layer.adapt_b_to_a is None and layer.adapt_a_to_b is None


def test_adapter_shapes_where_shapes_differ():
    layer = SkipExchange()
    a2, b2 = layer([_rand(2, 8, 8, 4), _rand(2, 4, 4, 6)])
    assert tuple(a2.shape) == (2, 8, 8, 4) and tuple(b2.shape) == (2, 4, 4, 6)
    # A (8x8x4) -> B (4x4x6): a learned 2x2 stride-2 convolution.
    (down,) = layer.adapt_a_to_b
    assert tuple(down.kernel.shape) == (2, 2, 4, 6) and down.strides == (2, 2)
    # B (4x4x6) -> A (8x8x4): bilinear resize to 8x8, then a 1x1 convolution.
    resize, conv = layer.adapt_b_to_a
    assert (resize.height, resize.width) == (8, 8) and tuple(conv.kernel.shape) == (1, 1, 6, 4)
    # Non-integer ratio (6x6 vs 4x4, same channels): resize + 1x1 both ways.
    odd = SkipExchange(batch_norm=True)
    odd([_rand(1, 6, 6, 3), _rand(1, 4, 4, 3)])
    assert [type(x).__name__ for x in odd.adapt_a_to_b] == [
        "ResizeImages",
        "Conv2D",
        "BatchNormalization",
    ]


def test_adapter_math_and_zeroed_adapters_pass_inputs_through():
    a, b = _rand(2, 4, 4, 2), _rand(2, 2, 2, 3, seed=1)
    layer = SkipExchange()
    layer([a, b])
    (down,) = layer.adapt_a_to_b
    kernel, bias = (np.asarray(w) for w in down.get_weights())
    # B' = B + conv(A) with a 2x2 stride-2 kernel, by hand.
    expect = np.zeros_like(b)
    for i in range(2):
        for j in range(2):
            patch = a[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2, :]
            expect[:, i, j, :] = np.einsum("nhwc,hwcd->nd", patch, kernel) + bias
    np.testing.assert_allclose(np.asarray(layer([a, b])[1]), b + expect, rtol=1e-5, atol=1e-5)
    for adapter in (layer.adapt_a_to_b, layer.adapt_b_to_a):
        for sub in adapter:
            sub.set_weights([np.zeros_like(w) for w in sub.get_weights()])
    a2, b2 = layer([a, b])
    np.testing.assert_array_equal(np.asarray(a2), a)
    np.testing.assert_array_equal(np.asarray(b2), b)


def test_save_load_round_trip(tmp_path):
    ia, ib = keras.Input((8, 8, 4)), keras.Input((4, 4, 6))
    a2, b2 = SkipExchange(batch_norm=True, name="exchange")([ia, ib])
    model = keras.Model([ia, ib], [a2, b2])
    x = [_rand(2, 8, 8, 4), _rand(2, 4, 4, 6, seed=1)]
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for p, q in zip(predict(model, x), predict(loaded, x)):
        np.testing.assert_allclose(p, q, rtol=1e-6)
    assert loaded.get_layer("exchange").get_config()["batch_norm"] is True


def test_inputs_without_spatial_dimensions_are_refused():
    with pytest.raises(ValueError, match="two 4-D inputs.*received shapes"):
        SkipExchange()([_rand(2, 8), _rand(2, 8)])
