"""compact_transfer.run: the teacher's deployment row is measured once per teacher folder."""

import json
import os

import keras

from keras_transfer.experiments.compact_transfer import run


def test_teacher_deployment_is_measured_once_per_teacher_folder(tmp_path, monkeypatch):
    teacher = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    measured = []
    report = run.deployment_report
    monkeypatch.setattr(
        run, "deployment_report", lambda *args: measured.append(args[3]) or report(*args)
    )
    row = run.teacher_deployment(teacher, (4, 4, 1), str(tmp_path), 2)
    assert row["parameters"] == 34 and row["latency_seconds"] > 0
    kept = json.loads((tmp_path / "tflite" / "teacher.json").read_text())
    assert kept == {"latency_runs": 2, "row": row}
    # A second trial sharing the folder (or a resumed run) reads it back.
    assert run.teacher_deployment(teacher, (4, 4, 1), str(tmp_path), 2) == row
    assert measured == [2]
    # Other settings, or a file gone: measured anew.
    assert run.teacher_deployment(teacher, (4, 4, 1), str(tmp_path), 3)["parameters"] == 34
    os.remove(
        json.loads((tmp_path / "tflite" / "teacher.json").read_text())["row"]["tflite_float32_path"]
    )
    run.teacher_deployment(teacher, (4, 4, 1), str(tmp_path), 3)
    assert measured == [2, 3, 3]
