"""Transferred fusion (paper sec. 3): fuse() carries both nets over, pairs, refuses bad input."""

import keras
import numpy as np
import pytest
from conftest import predict

from keras_transfer.models import backbone_classifier
from keras_transfer.models import residual_cnn
from keras_transfer.transfer import fusion


def _x(n=2, size=32):
    return np.random.default_rng(0).random((n, size, size, 3)).astype("float32")


@pytest.fixture(scope="module")
def nets():
    keras.utils.set_random_seed(0)
    a = residual_cnn((32, 32, 3), include_top=False, blocks=12, width=4)
    # A keras.applications backbone nested in a classifier (weights=None, small input).
    clf = backbone_classifier("MobileNetV2", (32, 32, 3), 10, alpha=0.35)
    b = keras.Model(clf.input, clf.get_layer("dropout").output)
    return a, b


def _zero_adapters(model):
    for layer in model.layers:
        if layer.name.startswith("exchange_"):
            for sub in (layer.adapt_a_to_b or []) + (layer.adapt_b_to_a or []):
                sub.set_weights([np.zeros_like(w) for w in sub.get_weights()])


@pytest.mark.slow
def test_zeroed_adapters_give_the_two_untouched_networks(nets, tmp_path):
    a, b = nets
    before = [w.copy() for w in a.get_weights() + b.get_weights()]
    fused = fusion.fuse(
        a, b, 5, pairs=[("stage2_add", "block_1_project_BN"), ("stage3_add", "block_2_add")]
    )
    feats = keras.Model(fused.input, fused.get_layer("fused_features").output)
    x = _x()
    ref = np.concatenate([predict(a, x), predict(b, x)], axis=-1)
    assert np.abs(predict(feats, x) - ref).max() > 1e-3  # exchanges are live
    _zero_adapters(fused)
    np.testing.assert_allclose(predict(feats, x), ref, rtol=1e-5, atol=1e-5)
    # Copies, not the same layers: training the fused model leaves a and b alone.
    fused.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    fused.train_on_batch(x, np.array([0, 1]))
    for w0, w1 in zip(before, a.get_weights() + b.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    ex = fused.get_layer("exchange_1")
    assert [type(s).__name__ for s in ex.adapt_b_to_a] == ["ResizeImages", "Conv2D"]
    # Save/load round trip.
    path = str(tmp_path / "fused.keras")
    fused.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(predict(loaded, x), predict(fused, x), rtol=1e-5, atol=1e-6)


def test_auto_pairs_pick_the_last_block_of_each_resolution(nets):
    a = residual_cnn((16, 16, 3), include_top=False, blocks=8, width=4)
    b = residual_cnn((16, 16, 3), include_top=False, blocks=8, width=8)
    assert fusion.auto_pairs(a, b) == [
        ("stage1_add", "stage1_add"),
        ("stage2_add", "stage2_add"),
        ("stage2_pool", "stage2_pool"),
    ]
    fused = fusion.fuse(a, b, 3)
    assert [layer.name for layer in fused.layers if layer.name.startswith("exchange_")] == [
        "exchange_1",
        "exchange_2",
        "exchange_3",
    ]
    # Nested keras.applications model: preprocessing is not a block output.
    pairs = fusion.auto_pairs(*nets)
    assert pairs[0] == ("stage2_add", "block_1_expand_relu")
    assert all(p[1] != "preprocess" for p in pairs)


def test_bad_input(nets):
    a, b = nets
    small = residual_cnn((16, 16, 3), include_top=False, blocks=4, width=4)
    with pytest.raises(ValueError, match="same input shape.*\\(32, 32, 3\\) and \\(16, 16, 3\\)"):
        fusion.fuse(a, small, 5)
    with pytest.raises(ValueError, match="received 'nope', which does not exist"):
        fusion.fuse(a, b, 5, pairs=[("nope", "block_2_add")])
    with pytest.raises(ValueError, match="'gap', which has no spatial dimensions"):
        fusion.fuse(a, b, 5, pairs=[("gap", "block_2_add")])
    with pytest.raises(ValueError, match="order the layers run"):
        fusion.fuse(
            a, b, 5, pairs=[("stage3_add", "block_2_add"), ("stage2_add", "block_1_project_BN")]
        )


_PAIRS = [("stage2_add", "block_1_project_BN"), ("stage3_add", "block_2_add")]


def _compiled(model):
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@pytest.mark.slow
def test_gated_fusion_starts_as_the_two_untouched_networks(nets, tmp_path):
    a, b = nets
    fused = fusion.fuse(a, b, 5, pairs=_PAIRS, exchange="gated", batch_norm=True)
    x = _x(4)
    # Every exchange passes both inputs through unchanged at creation...
    for k in (1, 2):
        ex = fused.get_layer(f"exchange_{k}")
        probe = keras.Model(fused.input, [t for t in ex.input] + list(ex.output))
        ta, tb, oa, ob = predict(probe, x)
        np.testing.assert_array_equal(oa, ta)
        np.testing.assert_array_equal(ob, tb)
        assert ex.gates() == {"b_to_a": 0.0, "a_to_b": 0.0}
    # ... so the fused features are exactly the two networks' features.
    feats = keras.Model(fused.input, fused.get_layer("fused_features").output)
    ref = np.concatenate([predict(a, x), predict(b, x)], axis=-1)
    np.testing.assert_array_equal(predict(feats, x), ref)
    # One training step moves every gate away from 0.
    _compiled(fused).train_on_batch(x, np.array([0, 1, 2, 3]))
    for k in (1, 2):
        gates = fused.get_layer(f"exchange_{k}").gates()
        assert all(abs(g) > 0 for g in gates.values()), gates
    # Save/load keeps the gates and the function.
    path = str(tmp_path / "gated.keras")
    fused.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("exchange_2").exchange == "gated"
    assert loaded.get_layer("exchange_2").gates() == fused.get_layer("exchange_2").gates()
    np.testing.assert_allclose(predict(loaded, x), predict(fused, x), rtol=1e-5, atol=1e-6)


def test_train_new_changes_only_exchanges_and_head(nets):
    a, b = nets
    fused = fusion.fuse(a, b, 5, pairs=_PAIRS, exchange="gated", train="new", batch_norm=True)
    carried = [
        layer
        for layer in fusion.all_layers(fused)
        if layer.name.startswith(("a_", "b_")) and layer.weights
    ]
    assert carried and not any(layer.trainable for layer in carried)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in carried)
    new = [w for w in fused.trainable_weights]
    names = {w.path.split("/")[0] for w in new}
    assert names == {"exchange_1", "exchange_2", "head_dense", "logits"}, names
    before = {w.path: np.array(w) for layer in carried for w in layer.weights}
    new_before = [np.array(w) for w in new]
    _compiled(fused).train_on_batch(_x(4), np.array([0, 1, 2, 3]))
    after = {w.path: np.array(w) for layer in carried for w in layer.weights}
    for path, value in before.items():  # kernels and BatchNorm moving statistics alike
        np.testing.assert_array_equal(after[path], value, err_msg=path)
    moved = {w.path: bool(np.any(np.array(w) != w0)) for w, w0 in zip(new, new_before)}
    gates = [p for p in moved if "gate" in p]
    assert len(gates) == 4 and all(moved[p] for p in gates), moved
    assert moved["logits/kernel"] and moved["head_dense/kernel"], moved


def test_ensemble_baseline_averages_the_softmax_outputs(nets):
    from keras_transfer.transfer.ensemble import average_ensemble

    a, b = nets
    keras.utils.set_random_seed(1)
    members = []
    for k, feats in enumerate((a, b), start=1):
        inputs = keras.Input((32, 32, 3))
        members.append(
            keras.Model(
                inputs, fusion.classification_head(feats(inputs), 5, 8, 0.0), name=f"single_{k}"
            )
        )
    x = _x(3)
    expected = np.mean(
        [keras.ops.convert_to_numpy(keras.ops.softmax(predict(m, x))) for m in members],
        axis=0,
    )
    got = average_ensemble(members).predict(x, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="distinct names"):
        average_ensemble([members[0], members[0]])


class _Block(keras.Model):
    """A subclassed model: no graph the fusion walk could re-run."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, padding="same", name="inner_conv")

    def call(self, x):
        return self.conv(x)


def test_bad_exchange_train_and_unreachable_pairs(nets):
    a, b = nets
    with pytest.raises(
        ValueError, match="exchange to be one of \\('paper', 'gated'\\), received 'sum'"
    ):
        fusion.fuse(a, b, 5, exchange="sum")
    with pytest.raises(ValueError, match="train to be one of \\('all', 'new'\\), received 'head'"):
        fusion.fuse(a, b, 5, train="head")
    same = residual_cnn((16, 16, 3), include_top=False, blocks=4, width=4)
    with pytest.raises(ValueError, match="something to train with train='new'"):
        fusion.fuse(same, same, None, pairs=[("block2", "block2")], train="new")
    # The same fusion is fine with gates or a head to train.
    assert fusion.fuse(
        same, same, None, pairs=[("block2", "block2")], train="new", exchange="gated"
    ).output_shape == (None, 8)
    # A layer inside a frozen subclassed model cannot be reached by the walk.
    inputs = keras.Input((16, 16, 3))
    block = _Block(name="frozen_block")
    block.trainable = False
    x = keras.layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    wrapped = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(block(x)))
    with pytest.raises(
        ValueError,
        match="'inner_conv' is inside 'frozen_block', a _Block "
        "that is not a Functional or Sequential model",
    ):
        fusion.fuse(wrapped, same, 5, pairs=[("inner_conv", "block2")])
    # A layer called twice has no single output to exchange.
    conv = keras.layers.Conv2D(3, 3, padding="same", name="twice")
    shared = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(conv(conv(inputs))))
    with pytest.raises(ValueError, match="'twice' is called more than once"):
        fusion.fuse(shared, same, 5, pairs=[("twice", "block2")])


def test_pairs_inside_a_nested_sequential_model():
    keras.utils.set_random_seed(0)
    inner = keras.Sequential(name="seq")  # built with add(): its layers get extra graph nodes
    inner.add(keras.Input((16, 16, 3)))
    inner.add(keras.layers.Conv2D(4, 3, padding="same", name="s_conv"))
    inner.add(keras.layers.ReLU(name="s_relu"))
    inner.add(keras.layers.Conv2D(4, 3, padding="same", name="s_conv2"))
    inputs = keras.Input((16, 16, 3))
    outer = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inner(inputs)))
    other = residual_cnn((16, 16, 3), include_top=False, blocks=4, width=4)
    x = _x(2, 16)
    ref = np.concatenate([predict(outer, x), predict(other, x)], axis=-1)
    gated = fusion.fuse(outer, other, None, pairs=[("s_relu", "block2")], exchange="gated")
    np.testing.assert_array_equal(predict(gated, x), ref)
    # The walk really continues from the exchanged tensor inside the Sequential model.
    summed = fusion.fuse(outer, other, None, pairs=[("s_relu", "block2")])
    assert np.abs(predict(summed, x) - ref)[:, :4].max() > 1e-3
    # ... and a nested model called twice (shared weights) cannot be paired inside.
    twin = keras.Model(
        inputs,
        keras.layers.Add()(
            [
                keras.layers.GlobalAveragePooling2D()(inner(inputs)),
                keras.layers.GlobalAveragePooling2D()(inner(inputs)),
            ]
        ),
    )
    with pytest.raises(ValueError, match="'s_relu' is inside 'seq', a model called more than once"):
        fusion.fuse(twin, other, 5, pairs=[("s_relu", "block2")])


def test_fuse_refuses_what_is_not_a_model():
    import keras
    import pytest

    from keras_transfer.transfer.fusion import fuse

    a = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)], name="a")
    with pytest.raises(TypeError, match="Expected model_b to be a Keras model, received NoneType"):
        fuse(a, None, 10)
