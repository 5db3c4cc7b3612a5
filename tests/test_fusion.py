"""Transferred fusion (paper sec. 3): fuse() carries both nets over, pairs, refuses bad input."""

import keras
import numpy as np
import pytest

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


def test_zeroed_adapters_give_the_two_untouched_networks(nets, tmp_path):
    a, b = nets
    before = [w.copy() for w in a.get_weights() + b.get_weights()]
    fused = fusion.fuse(a, b, 5, pairs=[("stage2_add", "block_1_project_BN"),
                                        ("stage3_add", "block_2_add")])
    feats = keras.Model(fused.input, fused.get_layer("fused_features").output)
    x = _x()
    ref = np.concatenate([a.predict(x, verbose=0), b.predict(x, verbose=0)], axis=-1)
    assert np.abs(feats.predict(x, verbose=0) - ref).max() > 1e-3  # exchanges are live
    _zero_adapters(fused)
    np.testing.assert_allclose(feats.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)
    # Copies, not the same layers: training the fused model leaves a and b alone.
    fused.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    fused.train_on_batch(x, np.array([0, 1]))
    for w0, w1 in zip(before, a.get_weights() + b.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    ex = fused.get_layer("exchange_1")
    assert [type(s).__name__ for s in ex.adapt_b_to_a] == ["Resizing", "Conv2D"]
    # Save/load round trip.
    path = str(tmp_path / "fused.keras")
    fused.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), fused.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_auto_pairs_pick_the_last_block_of_each_resolution(nets):
    a = residual_cnn((16, 16, 3), include_top=False, blocks=8, width=4)
    b = residual_cnn((16, 16, 3), include_top=False, blocks=8, width=8)
    assert fusion.auto_pairs(a, b) == [("stage1_add", "stage1_add"), ("stage2_add", "stage2_add"),
                                       ("stage2_pool", "stage2_pool")]
    fused = fusion.fuse(a, b, 3)
    assert [l.name for l in fused.layers if l.name.startswith("exchange_")] == [
        "exchange_1", "exchange_2", "exchange_3"]
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
        fusion.fuse(a, b, 5, pairs=[("stage3_add", "block_2_add"),
                                    ("stage2_add", "block_1_project_BN")])
