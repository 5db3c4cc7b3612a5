"""What a user hands in is checked before anything is written or changed.

Weights files given to a recipe (compact_transfer's ``--backbone_weights``,
fusion's ``--weights_1``/``--weights_2``) are opened and matched against the
model they are for before the run folder exists: another architecture, a
truncated or non-HDF5 file, a folder or a file without a weights suffix is
refused in one line with exit code 2 (`runner.run_command`, the recipe's own
exit code and stderr). Models given to `average_ensemble` are checked the
same way, up front, in one line.
"""

import os
import random

import keras
import numpy as np
import pytest
from test_bad_input import assert_refused

from keras_transfer.checks import check_weights_file
from keras_transfer.checks import check_weights_path
from keras_transfer.experiments.fusion.nets import build_features
from keras_transfer.experiments.fusion.nets import check_feature_weights
from keras_transfer.models.fusion_nets import residual_cnn
from keras_transfer.transfer.ensemble import average_ensemble

SIDE = 32  # fusion's TINY image size and compact's TINY --teacher_image_size


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Weights files of the tiny fusion nets, another architecture and hostile ones."""
    root = tmp_path_factory.mktemp("weights")
    paths = {name: str(root / f"{name}.weights.h5") for name in ("custom4", "custom8", "mlp")}
    for width in (4, 8):  # the TINY fusion net (custom_width=4) and a wider one
        residual_cnn((SIDE, SIDE, 3), include_top=False, width=width, name="custom").save_weights(
            paths[f"custom{width}"]
        )
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save_weights(paths["mlp"])
    with open(paths["custom4"], "rb") as f:
        data = f.read()
    paths["truncated"] = str(root / "truncated.weights.h5")
    with open(paths["truncated"], "wb") as f:
        f.write(data[: len(data) // 2])
    paths["text"] = str(root / "text.weights.h5")  # the right name, not an HDF5 file
    paths["notes"] = str(root / "notes.txt")
    for name in ("text", "notes"):
        with open(paths[name], "w") as f:
            f.write("not weights\n")
    paths["folder"] = str(root / "folder.weights.h5")
    os.makedirs(paths["folder"])
    return paths


# (recipe, flag, file, what the error line names)
CASES = {
    "compact_other_architecture": (
        "compact_transfer",
        "backbone_weights",
        "custom4",
        "weights file of EfficientNetLite0 without its top",
    ),
    "compact_truncated": (
        "compact_transfer",
        "backbone_weights",
        "truncated",
        "not a readable HDF5 weights file (truncated or corrupt: truncated",
    ),
    "compact_not_hdf5": (
        "compact_transfer",
        "backbone_weights",
        "text",
        "not a readable HDF5 weights file",
    ),
    "compact_no_weights_suffix": (
        "compact_transfer",
        "backbone_weights",
        "notes",
        "does not end in .weights.h5",
    ),
    "compact_folder": ("compact_transfer", "backbone_weights", "folder", "is a folder"),
    "fusion_other_architecture": (
        "fusion",
        "weights_1",
        "mlp",
        "1 layer(s) with 2 weight(s) where the model has 9 layer(s)",
    ),
    "fusion_other_width": (
        "fusion",
        "weights_2",
        "custom8",
        "weights file of the custom residual CNN (width 4, 4 blocks, no top)",
    ),
    "fusion_truncated": (
        "fusion",
        "weights_1",
        "truncated",
        "not a readable HDF5 weights file (truncated or corrupt: truncated",
    ),
    "fusion_not_hdf5": ("fusion", "weights_2", "text", "not a readable HDF5 weights file"),
    "fusion_no_weights_suffix": ("fusion", "weights_1", "notes", "does not end in .weights.h5"),
    "fusion_folder": ("fusion", "weights_2", "folder", "is a folder"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_weights_file_is_refused_before_the_run_folder(case, files, tmp_path, capsys):
    recipe, flag, name, fragment = CASES[case]
    assert_refused(recipe, [f"--{flag}={files[name]}"], fragment, tmp_path / "out", capsys)


def test_fusion_imagenet_weights_for_the_custom_net_are_refused(tmp_path, capsys):
    assert_refused(
        "fusion",
        ["--weights_1=imagenet"],
        "ImageNet weights exist for the",
        tmp_path / "out",
        capsys,
    )


def test_a_fitting_file_passes_and_the_random_state_is_kept(files):
    py_state, np_state = random.getstate(), np.random.get_state()[1].copy()
    path = check_feature_weights(files["custom4"], "custom", (SIDE, SIDE, 3), custom_width=4)
    assert path == files["custom4"]
    # the throwaway model drew its initializers' seeds, then the state was restored
    assert random.getstate() == py_state
    assert (np.random.get_state()[1] == np_state).all()


def test_the_message_names_the_first_difference(files):
    with pytest.raises(ValueError) as error:
        check_feature_weights(files["custom8"], "custom", (SIDE, SIDE, 3), custom_width=4)
    text = str(error.value)
    assert "\n" not in text and "; " in text
    assert "36 layer(s) with 84 weight(s) where the model has 36 layer(s) with 84" in text
    assert (
        "(layer layers/batch_normalization holds weights of shapes [(8,), (8,), (8,), (8,)], "
        "the model [(4,), (4,), (4,), (4,)] (and 35 more));" in text
    )


def test_an_unreadable_file_is_refused(files, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode, **kw: os.fspath(p) != files["custom4"] and real_access(p, mode, **kw),
    )
    with pytest.raises(ValueError, match="cannot be read \\(permission denied\\); pass"):
        check_weights_path(files["custom4"], "weights_1")


def test_legacy_h5_files_are_matched_by_layer_order(tmp_path):
    def mlp(units):
        return keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(units), keras.layers.BatchNormalization()]
        )

    path = str(tmp_path / "mlp.h5")  # Keras' legacy layout, like keras.applications' *_notop.h5
    mlp(4).save(path)
    assert check_weights_file(path, mlp(4), "the MLP") == path
    mlp(4).load_weights(path)  # what passes the check, Keras loads
    with pytest.raises(
        ValueError,
        match="\\(layer #0 \\(dense.* in the file\\) "
        "holds weights of shapes \\[\\(3, 4\\), \\(4,\\)\\], "
        "the model \\[\\(3, 5\\)",
    ):
        check_weights_file(path, mlp(5), "the MLP")
    with pytest.raises(
        ValueError,
        match="2 layer\\(s\\) with 6 weight\\(s\\) where the "
        "model has 1 layer\\(s\\) .*the file's layer #1 "
        "\\(batch_normalization.* in the file\\) is not in the "
        "model\\);",
    ):
        check_weights_file(
            path, keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)]), "the MLP"
        )


@pytest.mark.slow
def test_fusion_imagenet_family_files_reload_as_its_backbone(tmp_path):
    feats = build_features("MobileNetV2", (SIDE, SIDE, 3))
    path = str(tmp_path / "pretrained_2.weights.h5")
    feats.get_layer("backbone").save_weights(path)  # what a fusion pre-training now saves
    assert check_feature_weights(path, "MobileNetV2", (SIDE, SIDE, 3)) == path
    again = build_features("MobileNetV2", (SIDE, SIDE, 3), weights=path)
    for a, b in zip(feats.get_layer("backbone").weights, again.get_layer("backbone").weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    whole = str(tmp_path / "whole.weights.h5")  # the feature model saved whole: not loadable
    feats.save_weights(whole)
    with pytest.raises(
        ValueError,
        match="weights file of MobileNetV2 without its top.*the "
        "model's layer layers/.* is not in the file.*the "
        "file's layer layers/functional/.* is not in the model",
    ):
        check_feature_weights(whole, "MobileNetV2", (SIDE, SIDE, 3))


def _classifier(classes, name, rank3=False):
    inputs = keras.Input((4,))
    x = keras.layers.Dense(classes)(inputs)
    if rank3:
        x = keras.layers.Reshape((1, classes))(x)
    return keras.Model(inputs, x, name=name)


def test_ensemble_of_different_class_counts_is_refused_in_one_line():
    with pytest.raises(ValueError) as error:
        average_ensemble([_classifier(10, "a"), _classifier(7, "b")])
    text = str(error.value)
    assert text == (
        "Expected models with one output shape (batch, classes), received "
        "{'a': (None, 10), 'b': (None, 7)}; give every member a classifier of the "
        "same classes (logits of rank 2)."
    )
    with pytest.raises(ValueError, match="one output shape \\(batch, classes\\)"):
        average_ensemble([_classifier(3, "a", rank3=True), _classifier(3, "b", rank3=True)])
    with pytest.raises(TypeError, match="keras.Model members"):
        average_ensemble([_classifier(3, "a"), np.zeros(3)])
    assert average_ensemble([_classifier(3, "a"), _classifier(3, "b")]).output_shape == (None, 3)
