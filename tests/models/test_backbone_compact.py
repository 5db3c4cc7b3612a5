"""Pretrained backbones, the compact CNN, FLOPs and TFLite export (compact-CNN transfer)."""

import os

import keras
import numpy as np
import pytest
from conftest import predict

from keras_transfer import export as kt_export
from keras_transfer.models import backbone as bb
from keras_transfer.models.compact import compact_cnn
from keras_transfer.models.compact import count_flops


def test_preprocessing_modes_match_keras_applications():
    x = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")
    for mode in ("tf", "caffe", "torch"):
        ref = keras.applications.imagenet_utils.preprocess_input(x * 255.0, mode=mode)
        np.testing.assert_allclose(bb.ImagenetPreprocessing(mode)(x), ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(bb.ImagenetPreprocessing("none")(x), x * 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="mode in"):
        bb.ImagenetPreprocessing("bgr")


def test_backbone_classifier_structure_and_resize():
    model = bb.backbone_classifier("MobileNetV2", (32, 32, 3), 10, alpha=0.35, image_size=48)
    assert model.output_shape == (None, 10)
    assert model.get_layer("resize").output.shape[1:3] == (48, 48)
    assert model.get_layer("backbone").input_shape == (None, 48, 48, 3)
    gray = bb.backbone_classifier("MobileNetV2", (32, 32, 1), 5, alpha=0.35)
    assert gray.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0).shape == (2, 5)


@pytest.mark.slow
def test_bn_momentum_for_training_from_scratch():
    x = np.random.default_rng(0).random((8, 32, 32, 3)).astype("float32")
    moved = {}
    for momentum in (None, 0.9):
        keras.utils.set_random_seed(0)
        model = bb.backbone_classifier(
            "MobileNetV2", (32, 32, 3), 10, alpha=0.35, bn_momentum=momentum
        )
        layers = [
            layer
            for layer in model.get_layer("backbone").layers
            if isinstance(layer, keras.layers.BatchNormalization)
        ]
        assert {layer.momentum for layer in layers} == {0.999 if momentum is None else 0.9}
        model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
        model.train_on_batch(x, np.zeros(8))
        moved[momentum] = np.array(layers[0].moving_mean)  # from 0: (1 - momentum) x batch mean
    np.testing.assert_allclose(moved[0.9], 100 * moved[None], rtol=1e-3, atol=1e-7)
    assert np.abs(moved[0.9]).max() > 0
    with pytest.raises(ValueError, match=r"bn_momentum in \[0, 1\), received 1.5"):
        bb.backbone_classifier("MobileNetV2", (32, 32, 3), 10, alpha=0.35, bn_momentum=1.5)


@pytest.mark.slow
def test_unfreeze_backbone_keeps_batchnorm_in_inference_mode():
    keras.utils.set_random_seed(0)
    # Momentum 0: one training step sets the moving statistics to a batch's.
    model = bb.backbone_classifier(
        "MobileNetV2", (32, 32, 3), 10, alpha=0.35, dropout=0.0, bn_momentum=0.0
    )
    base = model.get_layer("backbone")
    x = np.random.default_rng(0).random((8, 32, 32, 3)).astype("float32")
    y = np.arange(8)
    # Keras 3 passes fit's training=True into the nested backbone: BatchNorm
    # uses batch statistics unless its layers are frozen. (Inference first: a
    # training call with momentum 0 sets the moving statistics to x's.)
    inference = model(x, training=False)
    assert np.abs(model(x, training=True) - inference).max() > 1e-3

    def step():
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=keras.losses.SparseCategoricalCrossentropy(True),
        )
        model.train_on_batch(x, y)

    step()
    base.trainable = False
    assert bb.unfreeze_backbone(model) == 52  # MobileNetV2's BatchNorm layers
    np.testing.assert_allclose(model(x, training=True), model(x, training=False), atol=1e-6)
    bn = base.get_layer("bn_Conv1")
    stats = [v.numpy().copy() for v in (bn.moving_mean, bn.moving_variance, bn.gamma)]
    conv = base.get_layer("Conv1").kernel.numpy().copy()
    step()
    for before, after in zip(stats, (bn.moving_mean, bn.moving_variance, bn.gamma)):
        np.testing.assert_array_equal(before, after.numpy())
    assert np.abs(base.get_layer("Conv1").kernel.numpy() - conv).max() > 0  # the rest trains
    assert bb.unfreeze_backbone(model, batchnorm_inference=False) == 0
    assert bn.trainable


@pytest.mark.slow
def test_backbone_weights_file_round_trip_and_wrong_architecture(tmp_path):
    keras.utils.set_random_seed(0)
    source = bb.backbone_classifier("MobileNetV2", (32, 32, 3), 50, alpha=0.35)
    path = bb.save_backbone_weights(source, str(tmp_path / "src.weights.h5"))
    with pytest.raises(ValueError, match="exists"):
        bb.save_backbone_weights(source, path)  # never overwrite
    target = bb.backbone_classifier("MobileNetV2", (32, 32, 3), 10, alpha=0.35, weights=path)
    for a, b in zip(
        source.get_layer("backbone").get_weights(), target.get_layer("backbone").get_weights()
    ):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="weights file of MobileNetV2.*does not fit"):
        bb.backbone("MobileNetV2", (32, 32, 3), weights=path, alpha=0.5)
    with pytest.raises(ValueError, match="weights file of ResNet50"):
        bb.backbone("ResNet50", (32, 32, 3), weights=path)
    with pytest.raises(ValueError, match="existing weights file"):
        bb.backbone("MobileNetV2", (32, 32, 3), weights=str(tmp_path / "missing.h5"))


def test_unknown_backbone_and_bad_sizes():
    with pytest.raises(ValueError, match="backbone name among.*'MobileNetV2'.*received 'AlexNet'"):
        bb.backbone("AlexNet")
    with pytest.raises(ValueError, match="sides >= 75 for InceptionV3"):
        bb.backbone("InceptionV3", (32, 32, 3))
    with pytest.raises(ValueError, match="alpha only for the MobileNet"):
        bb.backbone("ResNet50", (32, 32, 3), alpha=0.5)


@pytest.mark.slow
def test_backbone_classifier_save_load(tmp_path):
    model = bb.backbone_classifier("MobileNetV2", (32, 32, 3), 10, alpha=0.35, image_size=40)
    x = np.random.default_rng(1).random((3, 32, 32, 3)).astype("float32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.testing.assert_allclose(
        keras.models.load_model(path).predict(x, verbose=0), predict(model, x), atol=1e-5
    )


def test_compact_cnn_knobs_parameter_counts():
    # conv 3*3*3*16 + BN 4*16 + conv 3*3*16*32 + BN 4*32 + conv 3*3*32*64 + BN 4*64 + 64*10+10
    assert compact_cnn((32, 32, 3), 10).count_params() == 432 + 64 + 4608 + 128 + 18432 + 256 + 650
    wide = compact_cnn((32, 32, 3), 10, width=32)
    deep = compact_cnn((32, 32, 3), 10, depth=4)
    assert wide.count_params() > compact_cnn((32, 32, 3), 10).count_params()
    assert deep.get_layer("conv4_1").output.shape[-1] == 128
    with pytest.raises(ValueError, match="image sides >= 2\\*\\*depth = 16"):
        compact_cnn((8, 8, 3), 10, depth=4)
    with pytest.raises(ValueError, match="width to be an integer >= 1"):
        compact_cnn((32, 32, 3), 10, width=0)


def test_count_flops_hand_computed():
    m = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3, use_bias=False),
            keras.layers.Flatten(),
            keras.layers.Dense(4, use_bias=False),
        ]
    )
    conv = 4 * 4 * 3 * (3 * 3 * 2) * 2
    dense = 48 * 4 * 2
    assert count_flops(m) == conv + dense


@pytest.mark.slow
def test_tflite_student_matches_keras(tmp_path):
    keras.utils.set_random_seed(0)
    model = compact_cnn((32, 32, 3), 10, width=8)
    # Non-trivial BatchNorm statistics, so folding them is exercised.
    x = np.random.default_rng(0).random((64, 32, 32, 3)).astype("float32")
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(x, np.arange(64) % 10, epochs=1, verbose=0)
    path = kt_export.export_tflite(model, str(tmp_path / "s.tflite"))
    np.testing.assert_allclose(
        kt_export.tflite_predict(path, x[:16]), predict(model, x[:16]), atol=1e-4
    )
    quant = kt_export.export_tflite(model, str(tmp_path / "s.tflite"), "dynamic_range")
    assert quant.endswith("s_2.tflite")  # never overwrites
    assert os.path.getsize(quant) < os.path.getsize(path)
    assert kt_export.tflite_latency(path, (32, 32, 3), runs=5, warmup=1) > 0
    with pytest.raises(ValueError, match="quantization in"):
        kt_export.export_tflite(model, str(tmp_path / "q.tflite"), "int4")
    # Both files from one export: the same bytes as converting one at a time.
    both = kt_export.export_tflite_files(model, str(tmp_path / "both"), "s")
    assert [os.path.basename(p) for p in both.values()] == [
        "s_float32.tflite",
        "s_dynamic_range.tflite",
    ]
    for quantization, single in (("float32", path), ("dynamic_range", quant)):
        with open(both[quantization], "rb") as a, open(single, "rb") as b:
            assert a.read() == b.read(), quantization
    with pytest.raises(ValueError, match="quantization in"):
        kt_export.export_tflite_files(model, str(tmp_path / "q"), "s", ("float32", "int4"))
    assert not (tmp_path / "q").exists()
