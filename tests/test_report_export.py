"""Reports (output folders, plots, tables) and model export."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_transfer import models
from keras_transfer import report
from keras_transfer import run_folder
from keras_transfer.export import export_model


def test_prepare_output_dir_never_overwrites(tmp_path):
    fresh = tmp_path / "new"
    assert run_folder.prepare_output_dir(str(fresh)) == str(fresh)
    assert fresh.is_dir() and (fresh / "run_settings.json").exists()
    # An empty folder is fine.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_folder.prepare_output_dir(str(empty)) == str(empty)
    (fresh / "history.csv").write_text("partial")
    with pytest.raises(ValueError, match="unfinished run"):
        run_folder.prepare_output_dir(str(fresh))
    assert run_folder.prepare_output_dir(str(fresh), resume=True) == str(fresh)
    (fresh / "summary.json").write_text("{}")
    with pytest.raises(ValueError, match="finished run"):
        run_folder.prepare_output_dir(str(fresh), resume=True)
    assert (fresh / "summary.json").read_text() == "{}"
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ValueError, match="folder"):
        run_folder.prepare_output_dir(str(afile))


def test_write_json_turns_nan_into_null(tmp_path):
    path = tmp_path / "s.json"
    report.write_json(str(path), {"a": float("nan"), "b": np.float32(0.5), "c": [np.int64(3)]})
    assert json.loads(path.read_text()) == {"a": None, "b": 0.5, "c": [3]}


def test_plot_curves_and_tables(tmp_path):
    rows = [
        [{"epoch": e, "test_accuracy": a} for e, a in enumerate(accs)]
        for accs in ([0.1, 0.5, 0.6], [0.1, 0.4, 0.7, 0.8])
    ]
    epochs, acc = report.curve_matrix(rows)
    assert epochs.tolist() == [0, 1, 2] and acc.shape == (2, 3)  # truncated to the shortest
    path = tmp_path / "curves.png"
    report.plot_curves(str(path), {"HTCNN": rows, "CCNN": rows[:1]})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.markdown_table(["a"], [[1], [2]]).splitlines() == [
        "| a |",
        "|---|",
        "| 1 |",
        "| 2 |",
    ]


def test_export_saved_model_and_keras_same_predictions(tmp_path):
    model = models.cloud_cnn((8, 8, 1), 10)
    x = np.random.RandomState(0).rand(5, 8, 8, 1).astype("float32")
    paths = export_model(model, str(tmp_path), "cloud")
    reloaded = tf.saved_model.load(paths["saved_model"])
    np.testing.assert_allclose(
        reloaded.serve(tf.constant(x)).numpy(), model.predict(x, verbose=0), atol=1e-5
    )
    import keras

    again = keras.saving.load_model(paths["keras"])
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    # A second export with the same name goes next to the first, never over it.
    second = export_model(model, str(tmp_path), "cloud", formats=("keras",))
    assert second["keras"] != paths["keras"] and second["keras"].endswith("cloud_2.keras")
    with pytest.raises(ValueError, match="formats"):
        export_model(model, str(tmp_path), "cloud", formats=("onnx",))


def test_a_claim_refused_by_the_lock_leaves_the_holders_folder(tmp_path, monkeypatch):
    from keras_transfer import locks

    out = tmp_path / "run"
    lock = run_folder.claim_output_dir(str(out), settings={"seed": 0})
    # As if a second process had checked the folder in the same instant as the first.
    monkeypatch.setattr(run_folder, "check_output_dir", lambda *args, **kwargs: None)
    with pytest.raises(locks.FolderInUse, match=f"process {os.getpid()} is running in now"):
        run_folder.claim_output_dir(str(out), settings={"seed": 1})
    assert sorted(os.listdir(out)) == [".lock", "run_settings.json"]
    assert json.loads((out / "run_settings.json").read_text()) == {"seed": 0}
    lock.release()
    assert run_folder.claim_output_dir(str(tmp_path / "other")).folder == str(tmp_path / "other")
