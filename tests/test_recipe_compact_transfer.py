"""The compact-transfer recipe end to end (tiny settings on digits) and its input checks."""

import json

import pytest

import conftest

TINY = ["--dataset=digits", "--source_dataset=digits", "--preset=quick", "--backbone_alpha=0.35",
        "--teacher_image_size=32", "--source_steps=10", "--head_steps=5", "--finetune_steps=5",
        "--student_steps=20", "--student_width=4", "--student_depth=2", "--repeats=2",
        "--target_train_examples=0", "--test_examples=200"]


def run_recipe(*args, timeout=600):
    return conftest.run_recipe("compact_transfer", *args, timeout=timeout)


def test_recipe_writes_summary_exports_and_ratios(tmp_path):
    out = tmp_path / "run"
    proc = run_recipe(*TINY, f"--output_dir={out}", f"--export_dir={tmp_path / 'saved'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    head = summary["headline"]
    assert len(summary["student_alone"]) == len(summary["student_distilled"]) == 2
    assert head["student_alone_accuracy"]["min"] <= head["student_alone_accuracy"]["mean"]
    assert 0.0 <= head["teacher_accuracy"] <= 1.0
    dep = summary["deployment"]
    assert set(dep) == {"teacher", "student_alone", "student_distilled"}
    assert dep["teacher"]["parameters"] > 20 * dep["student_distilled"]["parameters"]
    assert head["size_ratio_teacher_over_student"] == pytest.approx(
        dep["teacher"]["parameters"] / dep["student_distilled"]["parameters"])
    # Dynamic-range quantisation stores weight tensors of >= 1,024 elements as
    # int8 (the teacher's); this tiny student's are all smaller, so kept float.
    assert dep["teacher"]["tflite_dynamic_range_bytes"] < 0.5 * dep["teacher"][
        "tflite_float32_bytes"]
    for row in dep.values():
        assert row["tflite_dynamic_range_bytes"] <= row["tflite_float32_bytes"]
        assert row["latency_seconds"] > 0
    assert (out / "source_backbone.weights.h5").exists()
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("teacher", "student_distilled"):
        assert summary["exports"][name]["max_abs_diff"] < 1e-4


@pytest.mark.parametrize("args,message", [
    (["--backbone=AlexNet"], "backbone name among"),
    (["--alpha=1.5"], "alpha in [0, 1]"),
    (["--temperature=0"], "temperature > 0"),
    (["--backbone_weights=/nonexistent.weights.h5"], "existing file"),
    (["--test_examples=100000"], "test_examples <= "),
])
def test_bad_input_fails_before_training(args, message, tmp_path):
    conftest.assert_refused_before_training("compact_transfer", TINY, args, message, tmp_path / "out")
