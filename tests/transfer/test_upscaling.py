"""Coarse-to-fine transforms (coarse2fine-incremental-training.txt): upscale, widen, deepen.

Property tests on random small CNNs: the transformed network computes the
same function (to 1e-5) as the original, on pixel-replicated inputs for
upscale (eqs. 1, 5-8).
"""

import keras
import numpy as np
import pytest
from conftest import predict

from keras_transfer.layers import DilatedPooling2D
from keras_transfer.layers import UpscaledKernel
from keras_transfer.layers.upscaled import upscale_dense_kernel
from keras_transfer.layers.upscaled import upscale_kernel
from keras_transfer.models import scaled_alexnet
from keras_transfer.models import table1_net
from keras_transfer.transfer.net2net import deepen
from keras_transfer.transfer.net2net import widen
from keras_transfer.transfer.upscaling import replicate
from keras_transfer.transfer.upscaling import upscale

L = keras.layers
TOL = 1e-5


def random_cnn(seed, channels=2, classes=5):
    """A random small CNN: convs (kernels 1-4, strides 1-2, valid/same, several
    activations), max/avg pooling (2-3, strides 1-2, valid/same),
    BatchNormalization with random statistics, residual adds, then Flatten or
    global average pooling and a dense layer."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(7, 14))
    inputs = keras.Input((size, size, channels))
    x = inputs
    for _ in range(int(rng.integers(2, 6))):
        side = x.shape[1]
        kind = rng.choice(["conv", "max", "avg", "bn", "add"])
        pad = str(rng.choice(["valid", "same"]))
        if kind == "conv":
            k, s = int(rng.integers(1, 5)), int(rng.integers(1, 3))
            if pad == "valid" and k > side:
                continue
            act = str(rng.choice(["relu", "linear", "tanh"]))
            x = L.Conv2D(int(rng.integers(2, 5)), k, strides=s, padding=pad, activation=act)(x)
        elif kind in ("max", "avg"):
            p, s = int(rng.integers(2, 4)), int(rng.integers(1, 3))
            if pad == "valid" and p > side:
                continue
            x = (L.MaxPooling2D if kind == "max" else L.AveragePooling2D)(p, s, padding=pad)(x)
        elif kind == "bn":
            x = L.BatchNormalization()(x)
        else:
            x = L.Add()([x, L.Conv2D(x.shape[-1], 3, padding="same")(x)])
    x = L.Flatten()(x) if rng.random() < 0.5 else L.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, L.Dense(classes)(x))
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights(
                [
                    rng.normal(1, 0.2, g.shape),
                    rng.normal(0, 0.2, b.shape),
                    rng.normal(0, 0.2, m.shape),
                    rng.uniform(0.5, 2, v.shape),
                ]
            )
    return model


def _images(model, n=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *model.input_shape[1:])).astype("float32")


def _max_diff(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def _layer_types(model):
    return {type(layer).__name__ for layer in model.layers}


@pytest.mark.parametrize("seed", range(16))
def test_upscale_exact_on_random_cnns(seed):
    model = random_cnn(seed)
    x = _images(model)
    up = upscale(model, 2)
    assert up.input_shape[1:3] == (2 * model.input_shape[1], 2 * model.input_shape[2])
    assert _max_diff(predict(up, replicate(x, 2)), predict(model, x)) <= TOL
    for layer in model.layers:  # kernels grow by the factor (1x1 stride-1 ones are pointwise)
        if type(layer) is L.Conv2D and layer.kernel_size != (1, 1):
            k = layer.kernel_size
            assert tuple(up.get_layer(layer.name).kernel_size) == (2 * k[0], 2 * k[1])


@pytest.mark.parametrize("seed", [3, 7, 11, 20, 31])
def test_upscale_factor_three_and_twice(seed):
    model = random_cnn(seed)
    x = _images(model)
    ref = predict(model, x)
    assert _max_diff(upscale(model, 3).predict(replicate(x, 3), verbose=0), ref) <= TOL
    twice = upscale(upscale(model, 2), 2)  # upscales its own DilatedPooling2D / paddings
    assert _max_diff(predict(twice, replicate(x, 4)), ref) <= TOL


def test_random_cnns_cover_the_layer_kinds():
    kinds = set()
    for seed in range(16):
        model = random_cnn(seed)
        kinds |= _layer_types(model)
        for layer in model.layers:
            if hasattr(layer, "strides") and hasattr(layer, "padding"):
                kinds.add(f"{type(layer).__name__}/{layer.strides[0]}/{layer.padding}")
    for kind in (
        "Conv2D/1/valid",
        "Conv2D/2/same",
        "Conv2D/1/same",
        "MaxPooling2D/2/valid",
        "AveragePooling2D/1/same",
        "BatchNormalization",
        "Add",
        "Flatten",
        "GlobalAveragePooling2D",
    ):
        assert kind in kinds, kind


def test_eq7_kernel_blocks_and_anchors():
    k = np.random.default_rng(0).normal(size=(3, 2, 4, 5)).astype("float32")
    up = upscale_kernel(k, 2)
    assert up.shape == (6, 4, 4, 5)
    for a in range(3):
        for b in range(2):
            np.testing.assert_allclose(
                up[2 * a : 2 * a + 2, 2 * b : 2 * b + 2],
                np.broadcast_to(k[a, b] / 4, (2, 2, 4, 5)),
                rtol=1e-6,
            )
    anchored = upscale_kernel(k, 3, "anchored")
    np.testing.assert_array_equal(anchored[::3, ::3], k)
    mask = np.ones(anchored.shape[:2], bool)
    mask[::3, ::3] = False
    assert not anchored[mask].any()
    noisy = upscale_kernel(
        k, 3, "anchored", mode="paper", stddev=0.01, rng=np.random.default_rng(1)
    )
    np.testing.assert_array_equal(noisy[::3, ::3], k)
    assert 0.007 < noisy[mask].std() < 0.013


def test_dense_kernel_split_and_anchor():
    w = np.random.default_rng(0).normal(size=(2 * 3 * 4, 5)).astype("float32")
    split = upscale_dense_kernel(w, (2, 3, 4), (4, 6), 2).reshape(4, 6, 4, 5)
    np.testing.assert_allclose(split[1::2, 1::2], w.reshape(2, 3, 4, 5) / 4, rtol=1e-6)
    anchor = upscale_dense_kernel(w, (2, 3, 4), (3, 5), 2, layout="anchored").reshape(3, 5, 4, 5)
    np.testing.assert_array_equal(anchor[::2, ::2], w.reshape(2, 3, 4, 5))
    assert not anchor[1::2].any() and not anchor[:, 1::2].any()
    with pytest.raises(ValueError, match="between 3 and 4"):
        upscale_dense_kernel(w, (2, 3, 4), (5, 6), 2)


@pytest.mark.parametrize("net", ["net-1", "net-2", "net-3", "net-4"])
def test_table1_nets_upscale_8_16_32(net):
    model = table1_net(net, (8, 8, 3), 10)
    x = _images(model)
    ref = predict(model, x)
    m16 = upscale(model, 2)
    m32 = upscale(m16, 2)
    assert _max_diff(predict(m16, replicate(x, 2)), ref) <= TOL
    assert _max_diff(predict(m32, replicate(x, 4)), ref) <= TOL
    assert tuple(m32.get_layer("conv1").kernel.shape[:2]) == (8, 8)
    if net == "net-2":  # the paper's 16x16 net-2: 4x4 kernels, 13x13 maps, no padding added
        assert m16.get_layer("conv1").output.shape[1:] == (13, 13, 6)
        assert m16.count_params() == 4 * 4 * 3 * 6 + 6 + 13 * 13 * 6 * 256 + 256 + 2570


def test_scaled_alexnets_upscale_exactly():
    model = scaled_alexnet(8, 10)
    x = _images(model)
    up = upscale(upscale(model, 2), 2)
    assert _max_diff(predict(up, replicate(x, 4)), predict(model, x)) <= TOL
    assert [scaled_alexnet(s, 10).get_layer("conv2").kernel.shape[0] for s in (8, 16, 32)] == [
        1,
        3,
        4,
    ]


def test_paper_mode_copies_at_anchors_and_adds_noise():
    model = table1_net("net-4", (8, 8, 3), 10)
    x = _images(model)
    a = upscale(model, 2, mode="paper", stddev=0.01, seed=3)
    b = upscale(model, 2, mode="paper", stddev=0.01, seed=3)
    for layer in a.layers:  # same seed, same weights
        for wa, wb in zip(layer.get_weights(), b.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(wa, wb)
    k2 = a.get_layer("conv2").kernel.numpy()  # anchored conv: original taps + noise
    np.testing.assert_array_equal(k2[::2, ::2], model.get_layer("conv2").kernel.numpy())
    assert k2[1::2].std() > 0.005
    exact = upscale(model, 2).get_layer("conv1").kernel.numpy()
    np.testing.assert_array_equal(a.get_layer("conv1").kernel.numpy(), exact)  # eq. 7 both modes
    diff = _max_diff(predict(a, replicate(x)), predict(model, x))
    assert 0 < diff < 1.0


def test_dilated_pooling_matches_keras_pooling():
    x = np.random.default_rng(0).normal(size=(2, 9, 7, 3)).astype("float32")
    for cls, kind in ((L.MaxPooling2D, "max"), (L.AveragePooling2D, "avg")):
        for pool, stride, padding in ((2, 2, "valid"), (3, 2, "same"), (3, 1, "same")):
            keras_out = cls(pool, stride, padding=padding)(x)
            pads = ((0, 0), (0, 0))
            if padding == "same":
                from keras_transfer.transfer.upscaling import _same_pads

                pads = (_same_pads(9, pool, stride), _same_pads(7, pool, stride))
            ours = DilatedPooling2D(pool, stride, padding=pads, pool_type=kind)(x)
            assert _max_diff(ours, keras_out) <= 1e-6, (kind, pool, stride, padding)
    dilated = DilatedPooling2D(2, 1, dilation_rate=3, pool_type="avg")(x)
    np.testing.assert_allclose(
        dilated[:, 0, 0], (x[:, 0, 0] + x[:, 0, 3] + x[:, 3, 0] + x[:, 3, 3]) / 4, rtol=1e-6
    )


def test_transformed_models_save_and_load(tmp_path):
    model = random_cnn(5)
    up = upscale(upscale(model, 2), 2, mode="paper", seed=0)
    wide = widen(table1_net("net-4", (8, 8, 3), 10), "conv1", 9, init="flip_central")
    deep = deepen(wide, "pool2")
    for m in (up, wide, deep):
        assert DilatedPooling2D.__name__ in _layer_types(up)
        path = str(tmp_path / f"{m.name}_{len(m.layers)}.keras")
        m.save(path)
        loaded = keras.models.load_model(path)
        x = _images(m)
        np.testing.assert_array_equal(predict(loaded, x), predict(m, x))


def test_upscaled_kernel_initializer_round_trip():
    kernel = np.random.default_rng(0).normal(size=(2, 2, 3, 4)).astype("float32")
    init = UpscaledKernel(kernel, 2, layout="anchored", mode="paper", seed=1)
    again = UpscaledKernel.from_config(init.get_config())
    np.testing.assert_array_equal(np.asarray(init((4, 4, 3, 4))), np.asarray(again((4, 4, 3, 4))))
    layer = L.Conv2D(
        4,
        4,
        kernel_initializer=keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(init)
        ),
    )
    layer.build((None, 16, 16, 3))
    np.testing.assert_array_equal(layer.kernel.numpy()[::2, ::2], kernel)
    with pytest.raises(ValueError, match=r"Expected the layer's kernel shape to be \(4, 4, 3, 4\)"):
        init((3, 3, 3, 4))


def test_transforms_leave_the_original_unchanged():
    model = table1_net("net-4", (8, 8, 3), 10)
    before = [w.copy() for w in model.get_weights()]
    upscale(model, 2, mode="paper", seed=0)
    widen(model, "conv2", 20, init="net2wider")
    deepen(model, "conv1")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------- widen


def _widen_net():
    inputs = keras.Input((10, 10, 3))
    x = L.Conv2D(4, 3, name="c1")(inputs)
    x = L.BatchNormalization(name="bn1")(x)
    x = L.ReLU(name="r1")(x)
    x = L.MaxPooling2D(2, name="p1")(x)
    x = L.Conv2D(5, 3, padding="same", activation="relu", name="c2")(x)
    x = L.Flatten(name="flat")(x)
    x = L.Dense(7, activation="relu", name="d1")(x)
    x = L.Dropout(0.3, name="drop")(x)
    model = keras.Model(inputs, L.Dense(3, name="out")(x))
    rng = np.random.default_rng(0)
    bn = model.get_layer("bn1")
    bn.set_weights(
        [
            rng.normal(1, 0.2, 4),
            rng.normal(0, 0.2, 4),
            rng.normal(0, 0.2, 4),
            rng.uniform(0.5, 2, 4),
        ]
    )
    return model


_INITS = [
    "gaussian",
    "zeros",
    "flip_horizontal",
    "flip_vertical",
    "flip_diagonal",
    "flip_central",
    "net2wider",
]


@pytest.mark.parametrize(
    "layer,init",
    [
        (layer, init)
        for layer in ("c1", "c2", "d1")
        for init in _INITS
        if not (layer == "d1" and init.startswith("flip"))
    ],
)
def test_widen_preserves_the_function(init, layer):
    model = _widen_net()
    wide = widen(model, layer, 9 if layer != "d1" else 12, init=init, seed=1)
    x = _images(model, 4)
    assert _max_diff(predict(wide, x), predict(model, x)) <= TOL
    new = wide.get_layer(layer)
    assert (new.filters if hasattr(new, "filters") else new.units) == (9 if layer != "d1" else 12)


def test_widen_flips_produce_flipped_kernels():
    model = _widen_net()
    old = model.get_layer("c1").kernel.numpy()  # (3, 3, 3, 4)
    expected = {
        "flip_horizontal": old[:, ::-1],
        "flip_vertical": old[::-1, :],
        "flip_central": old[::-1, ::-1],
        "flip_diagonal": old.transpose(1, 0, 2, 3),
    }
    for init, flipped in expected.items():
        new = widen(model, "c1", 10, init=init).get_layer("c1").kernel.numpy()
        np.testing.assert_array_equal(new[..., :4], old)
        for j in range(6):  # new filter j is existing filter j mod 4, flipped
            np.testing.assert_array_equal(new[..., 4 + j], flipped[..., j % 4])


def test_widen_gaussian_scale_and_bn_identity_channels():
    wide = widen(_widen_net(), "c1", 104, init="gaussian", stddev=0.01, seed=0)
    new = wide.get_layer("c1").kernel.numpy()[..., 4:]
    assert 0.009 < new.std() < 0.011
    gamma, beta, mean, var = wide.get_layer("bn1").get_weights()
    np.testing.assert_array_equal(gamma[4:], 1)
    np.testing.assert_array_equal(mean[4:], 0)
    np.testing.assert_array_equal(var[4:], 1)
    assert not wide.get_layer("c2").kernel.numpy()[:, :, 4:].any()  # next layer ignores them


def test_widen_net2_to_net3_and_deepen_dense():
    net2 = table1_net("net-2", (8, 8, 3), 10)
    net3 = widen(widen(net2, "conv1", 12, init="net2wider", seed=0), "fc6", 512, seed=0)
    assert net3.count_params() == table1_net("net-3", (8, 8, 3), 10).count_params()
    deeper = deepen(net3, "fc6")
    x = _images(net2)
    assert _max_diff(predict(deeper, x), predict(net2, x)) <= TOL
    np.testing.assert_array_equal(deeper.get_layer("fc6_deeper").kernel.numpy(), np.eye(512))


# ------------------------------------------------------------------------------ deepen


@pytest.mark.parametrize("after,kernel_size", [("r1", 3), ("p1", 5), ("c2", 1), ("d1", 3)])
def test_deepen_preserves_the_function(after, kernel_size):
    model = _widen_net()
    deeper = deepen(model, after, kernel_size=kernel_size)
    assert len(deeper.layers) == len(model.layers) + 1
    x = _images(model, 4)
    assert _max_diff(predict(deeper, x), predict(model, x)) <= TOL


def test_deepen_linear_after_a_linear_layer():
    model = _widen_net()
    with pytest.raises(ValueError, match="output can be negative"):
        deepen(model, "c1")  # conv without activation, then BN: can be negative
    deeper = deepen(model, "bn1", activation=None)
    x = _images(model)
    assert _max_diff(predict(deeper, x), predict(model, x)) <= TOL


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("factor", [1, 0, 2.5, "2", True, None])
def test_upscale_refuses_bad_factors(factor):
    with pytest.raises(ValueError, match="Expected an integer factor >= 2"):
        upscale(table1_net("net-1", (8, 8, 3), 10), factor)


def test_upscale_refuses_what_it_cannot_map_exactly():
    def net(*layers, flatten=True):
        inputs = keras.Input((8, 8, 3))
        x = inputs
        for layer in layers:
            x = layer(x)
        if flatten:
            x = L.Dense(2)(L.Flatten()(x))
        return keras.Model(inputs, x)

    cases = [
        (net(L.DepthwiseConv2D(3, name="dw")), "'dw' (DepthwiseConv2D)"),
        (net(L.Conv2D(2, 3, dilation_rate=2, name="dil")), "dilated convolutions"),
        (net(L.Reshape((16, 4, 3), name="rs")), "'rs' (Reshape)"),
        (net(L.Conv2D(2, 3, name="c"), flatten=False), "image-shaped map"),
        (net(L.UpSampling2D(name="up")), "'up' (UpSampling2D)"),
    ]
    for model, message in cases:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            upscale(model, 2)
    with pytest.raises(ValueError, match="Expected mode in"):
        upscale(table1_net("net-1", (8, 8, 3), 10), 2, mode="approximate")
    inner = table1_net("net-1", (8, 8, 3), 10)
    outer_in = keras.Input((8, 8, 3))
    with pytest.raises(ValueError, match="without nested models"):
        upscale(keras.Model(outer_in, inner(outer_in)), 2)


def test_widen_and_deepen_refuse_bad_input():
    model = _widen_net()
    with pytest.raises(ValueError, match="received 'conv9'.*layers: "):
        widen(model, "conv9", 10)
    with pytest.raises(ValueError, match="above the current 4 of 'c1'.*received 3"):
        widen(model, "c1", 3)
    with pytest.raises(ValueError, match="above the current 4"):
        widen(model, "c1", 4)
    with pytest.raises(ValueError, match="Expected init in"):
        widen(model, "c1", 8, init="uniform")
    with pytest.raises(ValueError, match="Expected a Conv2D layer for init='flip_vertical'"):
        widen(model, "d1", 8, init="flip_vertical")
    with pytest.raises(ValueError, match="Expected a Conv2D or Dense layer to widen"):
        widen(model, "bn1", 8)
    with pytest.raises(ValueError, match="would change the model's output size"):
        widen(model, "out", 8)
    inputs = keras.Input((8, 8, 3))
    a = L.Conv2D(4, 3, padding="same", name="a")(inputs)
    merged = L.Add(name="add")([a, L.Conv2D(4, 3, padding="same")(inputs)])
    branchy = keras.Model(inputs, L.Dense(2)(L.Flatten()(merged)))
    with pytest.raises(ValueError, match="reach 'add' \\(Add\\), a merge"):
        widen(branchy, "a", 8)
    inputs = keras.Input((8, 8, 3))
    x = L.Reshape((16, 4, 4))(L.Conv2D(4, 3, padding="same", name="a")(inputs))
    reshaped = keras.Model(inputs, L.Dense(2)(L.Flatten()(x)))
    with pytest.raises(ValueError, match="before the next Conv2D/Dense layer; widening 'a'"):
        widen(reshaped, "a", 8)
    with pytest.raises(ValueError, match="received 'nope'"):
        deepen(model, "nope")
    with pytest.raises(ValueError, match="received the input"):
        deepen(model, model.layers[0].name)
    with pytest.raises(ValueError, match="Expected an odd kernel_size"):
        deepen(model, "r1", kernel_size=2)
    with pytest.raises(ValueError, match="Expected activation in"):
        deepen(model, "r1", activation="tanh")
