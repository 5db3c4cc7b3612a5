"""The transferred-fusion paper's SqueezeNet v1.1 and 16-block residual "custom model"."""

import keras
import numpy as np
import pytest
from conftest import predict

from keras_transfer.models import residual_cnn
from keras_transfer.models import squeezenet


def test_squeezenet_v11_structure_and_parameter_count():
    assert squeezenet().count_params() == 1_235_496  # Iandola et al. v1.1, 1000 classes
    m = squeezenet((64, 64, 3), 8)
    assert m.output_shape == (None, 8)
    assert m.get_layer("conv1").strides == (2, 2) and m.get_layer("conv1").filters == 64
    channels = [m.get_layer(f"fire{i}").output.shape[-1] for i in range(2, 10)]
    assert channels == [128, 128, 256, 256, 384, 384, 512, 512]
    assert squeezenet((32, 32, 1), include_top=False).output_shape == (None, 512)
    with pytest.raises(ValueError, match="sides >= 32"):
        squeezenet((16, 16, 3), 10)


def test_residual_cnn_parameter_count_and_residual_adds():
    m = residual_cnn((16, 16, 3), 5, blocks=4, blocks_per_stage=2, width=4)
    # convs 108 + 144 + 288 + 576, BN 4 x (4 + 4 + 8 + 8), projections 12 + 32, dense 45
    assert m.count_params() == 108 + 144 + 288 + 576 + 4 * 24 + 12 + 32 + 45
    paper = residual_cnn((100, 100, 3), 8)
    blocks = [layer for layer in paper.layers if layer.name.removeprefix("block").isdigit()]
    assert len(blocks) == 16
    adds = [layer for layer in paper.layers if isinstance(layer, keras.layers.Add)]
    assert [a.name for a in adds] == [f"stage{s}_add" for s in range(1, 5)]
    # Every 4th block feeds a residual add (with the stage input).
    assert [
        paper.get_layer(f"block{4 * s}").output in [t for t in a.input]
        for s, a in enumerate(adds, start=1)
    ] == [True] * 4
    assert residual_cnn((32, 32, 3), include_top=False, width=8).output_shape == (None, 64)


def test_bad_settings():
    with pytest.raises(ValueError, match="multiple of blocks_per_stage"):
        residual_cnn((32, 32, 3), 10, blocks=10)
    with pytest.raises(ValueError, match="sides >= 2\\*\\*stages = 16"):
        residual_cnn((8, 8, 3), 10)


def test_weights_file_round_trip_and_wrong_architecture(tmp_path):
    keras.utils.set_random_seed(0)
    m = residual_cnn((32, 32, 3), 10, width=4)
    path = str(tmp_path / "r.weights.h5")
    m.save_weights(path)
    again = residual_cnn((32, 32, 3), 10, width=4, weights=path)
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(predict(m, x), predict(again, x), rtol=1e-6)
    with pytest.raises(ValueError, match="weights file of SqueezeNet v1.1.*does not fit"):
        squeezenet((32, 32, 3), 10, weights=path)
    with pytest.raises(ValueError, match="existing weights file"):
        residual_cnn((32, 32, 3), 10, weights=str(tmp_path / "missing.weights.h5"))
