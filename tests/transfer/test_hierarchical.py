"""Hierarchical transfer: shallow CNN first layers into the cloud CNN's first layer."""

import keras
import numpy as np
import pytest

from keras_transfer import data
from keras_transfer import models
from keras_transfer import training
from keras_transfer.transfer import transfer_first_layer

SHAPE = (8, 8, 3)  # small inputs: the transfer only touches the first layer


def _randomise(model, seed):
    """Random kernels *and* biases, so a copied bias is distinguishable from zeros."""
    rng = np.random.RandomState(seed)
    model.set_weights([rng.randn(*w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _weights_by_layer(model):
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers}


def _assert_same(before, after, skip=()):
    for name, ws in before.items():
        if name in skip:
            continue
        assert len(ws) == len(after[name])
        for a, b in zip(ws, after[name]):
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("m", [2, 4, 8, 16])
def test_transfer_places_each_shallow_cnn_in_its_filter_range(m):
    cloud = models.cloud_cnn(SHAPE, 10)
    k = 32 // m
    shallow = [_randomise(models.shallow_cnn(SHAPE, 10, first_filters=k), seed=j) for j in range(m)]
    before = _weights_by_layer(cloud)
    out = transfer_first_layer(cloud, shallow)
    assert out is cloud
    kernel, bias = cloud.get_layer("conv1").get_weights()
    assert kernel.shape == (3, 3, 3, 32)
    for j, s in enumerate(shallow):
        s_kernel, s_bias = s.get_layer("conv1").get_weights()
        np.testing.assert_array_equal(kernel[..., j * k : (j + 1) * k], s_kernel)
        np.testing.assert_array_equal(bias[j * k : (j + 1) * k], s_bias)
    _assert_same(before, _weights_by_layer(cloud), skip={"conv1"})
    assert cloud.get_layer("conv1").trainable


def test_alexnet_group_mapping():
    shape = (64, 64, 3)
    cloud = models.alexnet(shape, 5, fc_units=16)
    shallow = [
        _randomise(models.shallow_alexnet(shape, 5, second_filters=4), seed=j) for j in range(4)
    ]
    before = _weights_by_layer(cloud)
    transfer_first_layer(cloud, shallow, cloud_layers=["conv1_g0", "conv1_g1"])
    for group in ("conv1_g0", "conv1_g1"):
        kernel, bias = cloud.get_layer(group).get_weights()
        assert kernel.shape == (11, 11, 3, 48)
        for j, s in enumerate(shallow):
            s_kernel, s_bias = s.get_layer(group).get_weights()
            np.testing.assert_array_equal(kernel[..., 12 * j : 12 * j + 12], s_kernel)
            np.testing.assert_array_equal(bias[12 * j : 12 * j + 12], s_bias)
    _assert_same(before, _weights_by_layer(cloud), skip={"conv1_g0", "conv1_g1"})


def test_non_dividing_m_raises_and_writes_nothing():
    cloud = models.cloud_cnn(SHAPE, 10)
    shallow = [
        _randomise(models.shallow_cnn(SHAPE, 10, first_filters=10), seed=j) for j in range(3)
    ]
    before = _weights_by_layer(cloud)
    with pytest.raises(ValueError, match="m=3"):
        transfer_first_layer(cloud, shallow)
    _assert_same(before, _weights_by_layer(cloud))


def test_failure_in_second_group_writes_nothing():
    """Validation covers every group before the first one is written."""
    shape = (64, 64, 3)
    cloud = models.alexnet(shape, 5, fc_units=16)
    shallow = [
        _randomise(models.shallow_alexnet(shape, 5, second_filters=4), seed=j) for j in range(4)
    ]
    before = _weights_by_layer(cloud)
    with pytest.raises(ValueError, match="kernel shape"):
        # group 0 is valid; group 1 maps to a 5x5 conv of the wrong shape
        transfer_first_layer(
            cloud,
            shallow,
            cloud_layers=["conv1_g0", "conv1_g1"],
            shallow_layers=["conv1_g0", "conv2_g1"],
        )
    _assert_same(before, _weights_by_layer(cloud))


def test_kernel_size_mismatch():
    cloud = models.cloud_cnn(SHAPE, 10)
    shallow = [models.shallow_cnn(SHAPE, 10, kernel_size=5) for _ in range(4)]
    before = _weights_by_layer(cloud)
    with pytest.raises(ValueError, match="kernel shape"):
        transfer_first_layer(cloud, shallow)
    _assert_same(before, _weights_by_layer(cloud))


def test_channel_mismatch():
    cloud = models.cloud_cnn(SHAPE, 10)
    shallow = [models.shallow_cnn((8, 8, 1), 10) for _ in range(4)]  # grayscale vs RGB
    with pytest.raises(ValueError, match=r"\(3, 3, 3, 8\)"):
        transfer_first_layer(cloud, shallow)


def test_missing_layers_and_bad_arguments():
    cloud = models.cloud_cnn(SHAPE, 10)
    shallow = [models.shallow_cnn(SHAPE, 10) for _ in range(4)]
    with pytest.raises(ValueError, match="first_conv"):
        transfer_first_layer(cloud, shallow, cloud_layers="first_conv")
    with pytest.raises(ValueError, match="nope"):
        transfer_first_layer(cloud, shallow, shallow_layers="nope")
    with pytest.raises(ValueError, match="at least one"):
        transfer_first_layer(cloud, [])
    with pytest.raises(ValueError, match="one shallow layer name per cloud group"):
        transfer_first_layer(
            cloud, shallow, cloud_layers=["conv1"], shallow_layers=["conv1", "conv2"]
        )
    with pytest.raises(ValueError, match="4-D kernel"):
        transfer_first_layer(cloud, shallow, cloud_layers="fc1")


def test_use_bias_mismatch():
    cloud = models.cloud_cnn(SHAPE, 10)
    inputs = keras.Input(SHAPE)
    outputs = keras.layers.Conv2D(8, 3, use_bias=False, name="conv1")(inputs)
    no_bias = [keras.Model(inputs, outputs) for _ in range(4)]
    with pytest.raises(ValueError, match="use_bias"):
        transfer_first_layer(cloud, no_bias)


@pytest.mark.parametrize("trainable", [False, True])
def test_trainable_flag_controls_fine_tuning(trainable):
    keras.utils.set_random_seed(0)
    x, y, _ = data.load_arrays("digits", "train")
    ds = data.make_dataset(x, y, 64, shuffle=True, repeat=True, seed=0)
    cloud = models.cloud_cnn((8, 8, 1), 10)
    shallow = [_randomise(models.shallow_cnn((8, 8, 1), 10), seed=j) for j in range(4)]
    transfer_first_layer(cloud, shallow, trainable=trainable)
    assert cloud.get_layer("conv1").trainable is trainable
    before = _weights_by_layer(cloud)
    training.compile_classifier(cloud, learning_rate=0.01)
    cloud.fit(ds, epochs=1, steps_per_epoch=5, verbose=0)
    after = _weights_by_layer(cloud)
    for name in ("conv1", "conv2", "conv6", "fc1", "logits"):
        changed = [not np.array_equal(a, b) for a, b in zip(before[name], after[name])]
        if name == "conv1" and not trainable:
            assert not any(changed), "frozen first layer moved"
        else:
            assert all(changed), f"{name} did not train"
