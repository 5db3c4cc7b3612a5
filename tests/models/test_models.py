"""Model builders (shapes, exact parameter counts), GroupedConv2D, registry, saving."""

import keras
import numpy as np
import pytest
from conftest import predict

from keras_transfer import models
from keras_transfer.layers import GroupedConv2D


def _params(model, name):
    return model.get_layer(name).count_params()


def test_shallow_cnn_shapes_and_params():
    model = models.shallow_cnn((32, 32, 3), 10)
    assert model.get_layer("conv1").kernel.shape == (3, 3, 3, 8)
    assert model.get_layer("conv2").kernel.shape == (3, 3, 8, 32)
    assert _params(model, "conv1") == 3 * 3 * 3 * 8 + 8 == 224
    assert _params(model, "conv2") == 3 * 3 * 8 * 32 + 32 == 2336
    # two 2x2 poolings: 32 -> 16 -> 8, times 32 channels
    flat = 8 * 8 * 32
    assert model.get_layer("flatten").output.shape == (None, flat)
    assert _params(model, "logits") == flat * 10 + 10 == 20490
    assert model.count_params() == 224 + 2336 + 20490
    assert model.output_shape == (None, 10)
    out = model(np.zeros((2, 32, 32, 3), np.float32))
    assert tuple(out.shape) == (2, 10)


def test_shallow_cnn_options():
    model = models.shallow_cnn(
        (8, 8, 1), 10, first_filters=4, kernel_size=5, classifier_activation="softmax"
    )
    assert model.get_layer("conv1").kernel.shape == (5, 5, 1, 4)
    probs = model(np.random.RandomState(0).rand(3, 8, 8, 1).astype(np.float32))
    np.testing.assert_allclose(np.sum(probs, axis=-1), 1.0, atol=1e-5)


def test_cloud_cnn_params_and_output():
    model = models.cloud_cnn((32, 32, 3), 10)
    expected = {
        "conv1": 896,
        "conv2": 9248,
        "conv3": 18496,
        "conv4": 36928,
        "conv5": 73856,
        "conv6": 147584,
        "fc1": 2048 * 512 + 512,
        "logits": 5130,
    }
    assert {name: _params(model, name) for name in expected} == expected
    assert model.count_params() == sum(expected.values())
    assert [model.get_layer(f"conv{i}").filters for i in range(1, 7)] == [32, 32, 64, 64, 128, 128]
    assert model.get_layer("flatten").output.shape == (None, 2048)  # 4 x 4 x 128
    assert model.output_shape == (None, 10)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)


def test_cloud_cnn_dropout_variant():
    model = models.cloud_cnn((32, 32, 3), 10, conv_dropout=0.2, fc_dropout=0.5)
    drops = {
        layer.name: layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)
    }
    assert drops == {**{f"conv{i}_dropout": 0.2 for i in range(1, 7)}, "fc1_dropout": 0.5}
    assert model.count_params() == models.cloud_cnn((32, 32, 3), 10).count_params()
    # dropout is inactive at inference: deterministic predictions
    x = np.random.RandomState(0).rand(2, 32, 32, 3).astype(np.float32)
    np.testing.assert_array_equal(predict(model, x), predict(model, x))


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        models.cloud_cnn((32, 32, 3), 1)
    with pytest.raises(ValueError, match="input_shape"):
        models.shallow_cnn((32, 32), 10)
    with pytest.raises(ValueError, match="even"):
        models.cloud_cnn((32, 32, 3), 10, filters=(32, 32, 64))


def test_alexnet_groups_and_params():
    model = models.alexnet((64, 64, 3), 50, fc_units=256)
    assert model.get_layer("conv1_g0").kernel.shape == (11, 11, 3, 48)
    assert model.get_layer("conv1_g1").kernel.shape == (11, 11, 3, 48)
    conv2 = model.get_layer("conv2")
    assert isinstance(conv2, GroupedConv2D) and conv2.groups == 2
    assert conv2.count_params() == 2 * (5 * 5 * 48 * 128 + 128)
    assert [c.kernel.shape for c in conv2.convs] == [(5, 5, 48, 128)] * 2
    assert _params(model, "conv3") == 3 * 3 * 256 * 384 + 384
    assert _params(model, "conv4") == 2 * (3 * 3 * 192 * 192 + 192)
    assert _params(model, "conv5") == 2 * (3 * 3 * 192 * 128 + 128)
    # 64 -> conv1/4 -> 16 -> pool 8 -> pool 4 -> pool 2: 2 x 2 x 256
    assert _params(model, "fc6") == 2 * 2 * 256 * 256 + 256
    assert _params(model, "fc7") == 256 * 256 + 256
    assert _params(model, "logits") == 256 * 50 + 50
    assert model.output_shape == (None, 50)
    assert {
        layer.name: layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)
    } == {"fc6_dropout": 0.5, "fc7_dropout": 0.5}


def test_shallow_alexnet():
    model = models.shallow_alexnet((64, 64, 3), 50)
    assert model.get_layer("conv1_g0").kernel.shape == (11, 11, 3, 12)
    assert model.get_layer("conv1_g1").kernel.shape == (11, 11, 3, 12)
    assert model.get_layer("conv2_g0").kernel.shape == (5, 5, 12, 32)
    assert model.output_shape == (None, 50)


@pytest.mark.parametrize(
    "strides,padding,groups", [(1, "same", 2), (2, "valid", 2), (1, "same", 4)]
)
def test_grouped_conv_equals_conv2d_groups(strides, padding, groups):
    cin, filters = 8, 12
    x = np.random.RandomState(0).randn(2, 9, 9, cin).astype(np.float32)
    grouped = GroupedConv2D(
        filters,
        3,
        groups=groups,
        strides=strides,
        padding=padding,
        activation="relu",
        bias_initializer="random_normal",
    )
    out = grouped(x)
    ref = keras.layers.Conv2D(
        filters, 3, groups=groups, strides=strides, padding=padding, activation="relu"
    )
    ref.build((None, 9, 9, cin))
    assert ref.kernel.shape == (3, 3, cin // groups, filters)
    # Conv2D(groups=G): output channels [g*F/G, (g+1)*F/G) come from input group g.
    ref.set_weights(
        [
            np.concatenate([c.kernel.numpy() for c in grouped.convs], axis=-1),
            np.concatenate([c.bias.numpy() for c in grouped.convs]),
        ]
    )
    expected = ref(x)
    assert tuple(out.shape) == tuple(expected.shape)
    assert grouped.compute_output_shape((2, 9, 9, cin)) == tuple(expected.shape)
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected), atol=1e-5)
    assert np.asarray(out).max() > 0  # non-trivial comparison


def test_grouped_conv_group_isolation():
    """Output group 0 depends only on input group 0."""
    layer = GroupedConv2D(4, 1, groups=2)
    x = np.random.RandomState(0).rand(1, 3, 3, 4).astype(np.float32)
    base = np.asarray(layer(x))
    x2 = x.copy()
    x2[..., 2:] += 1.0  # change input group 1 only
    moved = np.asarray(layer(x2))
    np.testing.assert_array_equal(moved[..., :2], base[..., :2])
    assert not np.allclose(moved[..., 2:], base[..., 2:])


def test_grouped_conv_errors():
    with pytest.raises(ValueError, match="filters divisible"):
        GroupedConv2D(7, 3, groups=2)
    with pytest.raises(ValueError, match="groups"):
        GroupedConv2D(8, 3, groups=0)
    with pytest.raises(ValueError, match="input channels"):
        GroupedConv2D(8, 3, groups=2)(np.zeros((1, 5, 5, 3), np.float32))


def test_grouped_conv_config_round_trip():
    layer = GroupedConv2D(
        8, 3, groups=2, strides=2, padding="same", activation="relu", use_bias=False, name="gc"
    )
    clone = GroupedConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.groups == 2 and clone.use_bias is False and clone.strides == 2


def test_registry():
    assert {"shallow_cnn", "cloud_cnn", "alexnet", "shallow_alexnet"} <= set(models.list_models())
    model = models.build("cloud_cnn", input_shape=(16, 16, 3), num_classes=4)
    assert model.name == "cloud_cnn" and model.output_shape == (None, 4)
    assert models.get_builder("shallow_cnn") is models.shallow_cnn
    with pytest.raises(ValueError) as err:
        models.build("resnet9000")
    message = str(err.value)
    assert "resnet9000" in message
    for name in ("alexnet", "cloud_cnn", "shallow_alexnet", "shallow_cnn"):
        assert name in message
    with pytest.raises(ValueError, match="registered"):
        models.register_model(lambda **kw: None, name="cloud_cnn")
    # re-registering the same function is harmless
    assert models.register_model(models.shallow_cnn) is models.shallow_cnn


def test_alexnet_save_load_round_trip(tmp_path):
    model = models.alexnet((64, 64, 3), 5, fc_units=32)
    path = tmp_path / "alexnet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("conv2"), GroupedConv2D)
    assert loaded.get_layer("conv4").groups == 2
    x = np.random.RandomState(0).rand(3, 64, 64, 3).astype(np.float32)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
