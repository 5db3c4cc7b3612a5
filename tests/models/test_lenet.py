"""LeNet-5 layers, the paper's Figure 1 net, output codes and layer transfer."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import predict

from keras_transfer.layers.lenet import LENET5_C3_TABLE
from keras_transfer.layers.lenet import ConnectionTableConv2D
from keras_transfer.layers.lenet import Subsampling2D
from keras_transfer.models import coding
from keras_transfer.models.lenet5 import lenet5
from keras_transfer.transfer.layer_transfer import parameter_report
from keras_transfer.transfer.layer_transfer import transfer_layers
from keras_transfer.transfer.layer_transfer import weighted_layers

TABLE_1 = {"C1": 156, "S2": 12, "C3": 1516, "S4": 32, "C5": 48120, "F6": 2420}


def test_parameter_counts_equal_the_papers_table_1():
    model = lenet5((32, 32, 1), 20)
    counts = {layer.name: layer.count_params() for layer in weighted_layers(model)}
    assert counts == TABLE_1
    assert model.count_params() == 52256
    shapes = {name: tuple(model.get_layer(name).output.shape[1:]) for name in TABLE_1}
    assert shapes == {
        "C1": (28, 28, 6),
        "S2": (14, 14, 6),
        "C3": (10, 10, 16),
        "S4": (5, 5, 16),
        "C5": (1, 1, 120),
        "F6": (20,),
    }


def test_subsampling_matches_hand_computation():
    x = np.arange(2 * 4 * 4 * 2, dtype="float32").reshape(2, 4, 4, 2) / 10.0
    layer = Subsampling2D(2, activation=None)
    layer.build(x.shape)
    layer.set_weights([np.array([0.5, -2.0], "float32"), np.array([0.1, 0.3], "float32")])
    got = keras.ops.convert_to_numpy(layer(x))
    want = np.zeros((2, 2, 2, 2), "float32")
    for b in range(2):
        for i in range(2):
            for j in range(2):
                tile = x[b, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2, :].sum(axis=(0, 1))
                want[b, i, j] = tile * np.array([0.5, -2.0]) + np.array([0.1, 0.3])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # The default squashing function is LeNet-5's 1.7159 tanh(2a/3).
    squashed = Subsampling2D(2)
    squashed.build(x.shape)
    squashed.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(squashed(x)),
        1.7159 * np.tanh(2.0 / 3.0 * want),
        rtol=1e-5,
        atol=1e-5,
    )


def test_connection_table_is_lenet5_table_1():
    # LeCun et al. 1998, Table I: C3 maps 0-5 see 3 contiguous S2 maps, 6-11 four
    # contiguous, 12-14 four non-contiguous, 15 all six.
    assert LENET5_C3_TABLE[0] == (0, 1, 2) and LENET5_C3_TABLE[5] == (5, 0, 1)
    assert LENET5_C3_TABLE[6] == (0, 1, 2, 3) and LENET5_C3_TABLE[12] == (0, 1, 3, 4)
    assert LENET5_C3_TABLE[14] == (0, 2, 3, 5) and LENET5_C3_TABLE[15] == tuple(range(6))
    assert sum(len(r) for r in LENET5_C3_TABLE) == 60


def test_c3_maps_only_see_their_s2_maps():
    layer = ConnectionTableConv2D(LENET5_C3_TABLE, 5, activation=None)
    base = np.random.RandomState(0).randn(1, 14, 14, 6).astype("float32")
    y0 = keras.ops.convert_to_numpy(layer(base))
    for i in range(6):
        bumped = base.copy()
        bumped[..., i] += 1.0
        changed = np.abs(keras.ops.convert_to_numpy(layer(bumped)) - y0).max(axis=(0, 1, 2))
        sees_i = {j for j, row in enumerate(LENET5_C3_TABLE) if i in row}
        assert {j for j in range(16) if changed[j] > 1e-6} == sees_i, i
    full = keras.ops.convert_to_numpy(layer.full_kernel())
    connected = np.abs(full).sum(axis=(0, 1)) > 0
    for j, row in enumerate(LENET5_C3_TABLE):
        assert set(np.flatnonzero(connected[:, j]).tolist()) == set(row)


def test_connection_table_errors():
    with pytest.raises(ValueError, match="non-empty rows"):
        ConnectionTableConv2D([(0, 0)], 5)
    layer = ConnectionTableConv2D([(0, 7)], 5)
    with pytest.raises(ValueError, match="map 7"):
        layer(np.zeros((1, 8, 8, 3), "float32"))


def test_codes_and_decoding():
    codes = coding.random_codes(10, 20, seed=3)
    assert codes.shape == (10, 20) and set(np.unique(codes)) == {-1.0, 1.0}
    np.testing.assert_array_equal(codes, coding.random_codes(10, 20, seed=3))
    assert not np.array_equal(codes, coding.random_codes(10, 20, seed=4))
    noisy = codes[[3, 7, 0]] * 0.6 + np.random.RandomState(0).randn(3, 20).astype("float32") * 0.1
    assert coding.decode(noisy, codes).tolist() == [3, 7, 0]
    metric = coding.CodeAccuracy(codes)
    metric.update_state(np.array([3, 7, 1]), noisy)
    assert float(metric.result()) == pytest.approx(2 / 3)
    loss = coding.CodeLoss(codes)
    assert float(loss(np.array([2]), codes[2:3])) == pytest.approx(0.0)
    assert float(loss(np.array([2]), -codes[2:3])) == pytest.approx(4.0)


def test_code_length_too_short_for_the_classes():
    with pytest.raises(ValueError, match="at least 5 bits for 20 classes"):
        coding.random_codes(20, 4)
    coding.random_codes(16, 4)  # exactly enough


def _train_briefly(model, codes, steps=4):
    rng = np.random.RandomState(0)
    x = rng.rand(64, 32, 32, 1).astype("float32")
    y = rng.randint(0, len(codes), 64)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=coding.CodeLoss(codes),
        metrics=[coding.CodeAccuracy(codes)],
    )
    model.fit(x, y, batch_size=16, epochs=1, steps_per_epoch=steps, verbose=0)


@pytest.mark.parametrize("n", [0, 3, 5])
def test_transferred_levels_equal_source_and_stay_frozen(n):
    codes = coding.random_codes(5, 20)
    keras.utils.set_random_seed(1)
    source = lenet5()
    _train_briefly(source, codes)
    keras.utils.set_random_seed(2)
    target = lenet5()
    before_top = [w.copy() for layer in weighted_layers(target)[n:] for w in layer.get_weights()]
    transfer_layers(source, target, n=n)
    src, tgt = weighted_layers(source), weighted_layers(target)
    for s, t in zip(src[:n], tgt[:n]):
        for a, b in zip(s.get_weights(), t.get_weights()):
            np.testing.assert_array_equal(a, b)
    _train_briefly(target, codes)
    for s, t in zip(src[:n], tgt[:n]):
        for a, b in zip(s.get_weights(), t.get_weights()):
            np.testing.assert_array_equal(a, b)  # frozen: unchanged by training
    after_top = [w for layer in tgt[n:] for w in layer.get_weights()]
    assert any(not np.array_equal(a, b) for a, b in zip(before_top, after_top))
    report = parameter_report(target)
    frozen = sum(TABLE_1[name] for name in list(TABLE_1)[:n])
    assert report["frozen"] == frozen and report["trainable"] == 52256 - frozen


def test_unfrozen_transfer_fine_tunes():
    source, target = lenet5(), lenet5()
    transfer_layers(source, target, n=2, freeze=False)
    assert all(layer.trainable for layer in weighted_layers(target))


def test_transfer_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"in \[0, 6\].*n=7"):
        transfer_layers(lenet5(), lenet5(), n=7)
    with pytest.raises(ValueError, match="first mismatch is source layer 'F6'"):
        transfer_layers(lenet5(num_outputs=20), lenet5(num_outputs=10), n=6)
    target = lenet5(num_outputs=10)
    before = target.get_layer("C1").get_weights()[0].copy()
    with pytest.raises(ValueError, match="first mismatch"):
        transfer_layers(lenet5(num_outputs=20), target, n=6)
    np.testing.assert_array_equal(before, target.get_layer("C1").get_weights()[0])  # untouched
    with pytest.raises(ValueError, match="'nope'"):
        transfer_layers(lenet5(), lenet5(), names=["C1", "nope"])
    other = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Conv2D(6, 3, name="C1")])
    with pytest.raises(ValueError, match="first mismatch is source layer 'C1'"):
        transfer_layers(lenet5(), other, n=1)


def test_transfer_works_for_other_models_by_name():
    def small():
        return keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Conv2D(4, 3, name="a"),
                keras.layers.Flatten(),
                keras.layers.Dense(3, name="b"),
            ]
        )

    source, target = small(), small()
    transfer_layers(source, target, names=["b"])
    np.testing.assert_array_equal(
        source.get_layer("b").get_weights()[0], target.get_layer("b").get_weights()[0]
    )
    assert target.get_layer("a").trainable and not target.get_layer("b").trainable


def test_transfer_counts_a_nested_applications_backbone_by_its_own_layers():
    def classifier():
        base = keras.applications.MobileNetV2(
            input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None, name="base"
        )
        i = keras.Input((32, 32, 3))
        x = keras.layers.GlobalAveragePooling2D()(base(i))
        return keras.Model(i, keras.layers.Dense(4, name="logits")(x))

    keras.utils.set_random_seed(1)
    source = classifier()
    keras.utils.set_random_seed(2)
    target = classifier()
    backbone = [layer for layer in target.get_layer("base").layers if layer.weights]
    assert weighted_layers(target) == backbone + [target.get_layer("logits")]
    trainable_before = parameter_report(target)["trainable"]
    transfer_layers(source, target, n=5)
    src, tgt = weighted_layers(source), weighted_layers(target)
    assert [t.name for t in tgt[:5]] == [
        "Conv1",
        "bn_Conv1",
        "expanded_conv_depthwise",
        "expanded_conv_depthwise_BN",
        "expanded_conv_project",
    ]
    for s, t in zip(src[:5], tgt[:5]):
        assert not t.trainable
        for a, b in zip(s.get_weights(), t.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert all(t.trainable for t in tgt[5:])
    conv = next(t for t in tgt[5:] if hasattr(t, "kernel") or hasattr(t, "depthwise_kernel"))
    assert not np.array_equal(
        source.get_layer("base").get_layer(conv.name).get_weights()[0], conv.get_weights()[0]
    )  # not copied
    copied = sum(t.count_params() for t in tgt[:5])
    assert parameter_report(target)["trainable"] == trainable_before - copied
    frozen_ids = {id(w) for t in tgt[:5] for w in t.weights}
    assert not frozen_ids & {id(w) for w in target.trainable_weights}
    target.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    target.fit(
        np.random.default_rng(0).random((8, 32, 32, 3)), np.arange(8) % 4, epochs=1, verbose=0
    )
    for s, t in zip(src[:5], tgt[:5]):  # frozen in training, BatchNorm statistics included
        for a, b in zip(s.get_weights(), t.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_save_load_round_trip_keras_and_saved_model(tmp_path):
    codes = coding.random_codes(5, 20)
    model = lenet5()
    _train_briefly(model, codes, steps=2)
    x = np.random.RandomState(1).rand(4, 32, 32, 1).astype("float32")
    want = predict(model, x)
    path = str(tmp_path / "lenet.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(predict(again, x), want, atol=1e-6)
    assert isinstance(again.get_layer("C3"), ConnectionTableConv2D)
    assert isinstance(again.get_layer("S2"), Subsampling2D)
    assert float(again.loss(np.array([0]), codes[:1])) == pytest.approx(0.0)
    export = str(tmp_path / "lenet_saved")
    model.export(export, format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(export)  # keep a reference: its variables live with it
    served = loaded.serve(tf.constant(x)).numpy()
    np.testing.assert_allclose(served, want, atol=1e-5)
