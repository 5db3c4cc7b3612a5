"""The compact-transfer recipe end to end (tiny settings on digits) and its input checks."""

import json

import conftest
import pytest

pytestmark = pytest.mark.slow  # runs recipes (docs/design.md, Tests)

TINY = conftest.TINY["compact_transfer"]
# The earlier offline path: a backbone pre-trained from scratch on the source task. MobileNet
# (v1) at alpha 0.25 has the smallest graph of the families (87 layers): its traces make the
# run 28 % shorter than with MobileNetV2 at alpha 0.35 (measured: 88 s -> 63 s).
SOURCE = [
    "--backbone=MobileNet",
    "--backbone_alpha=0.25",
    "--backbone_weights=source",
    "--source_dataset=digits",
    "--source_steps=10",
    "--finetune_mode=full",
]


def run_compact(*args):
    return conftest.run_here("compact_transfer", *args)


def test_recipe_writes_summary_exports_and_ratios(tmp_path):
    out = tmp_path / "run"
    proc = run_compact(*TINY, f"--output_dir={out}", f"--export_dir={tmp_path / 'saved'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    head = summary["headline"]
    assert summary["settings"]["backbone"] == "EfficientNetLite0"
    assert summary["settings"]["backbone_weights"] == "imagenet"
    assert set(summary["students"]) == set(head["widths"]) == {"2", "4"}
    for row in summary["students"].values():
        assert len(row["alone"]) == len(row["distilled"]) == 2
    h = head["widths"]["4"]
    assert h["student_alone_accuracy"]["min"] <= h["student_alone_accuracy"]["mean"]
    assert h["distillation_gain"] == pytest.approx(
        h["student_distilled_accuracy"]["mean"] - h["student_alone_accuracy"]["mean"]
    )
    assert 0.0 <= head["teacher_accuracy"] <= 1.0
    wall = summary["wall_seconds"]
    assert wall["feature_cache"] > 0 and wall["pretrain"] < 5  # cached path, no pre-training
    dep = summary["deployment"]
    assert set(dep) == {"teacher", "student_distilled_w2", "student_distilled_w4"}
    assert dep["teacher"]["parameters"] > 20 * dep["student_distilled_w4"]["parameters"]
    assert dep["student_distilled_w2"]["parameters"] < dep["student_distilled_w4"]["parameters"]
    assert h["size_ratio_teacher_over_student"] == pytest.approx(
        dep["teacher"]["parameters"] / dep["student_distilled_w4"]["parameters"]
    )
    # Dynamic-range quantisation stores weight tensors of >= 1,024 elements as
    # int8 (the teacher's); this tiny student's are all smaller, so kept float.
    assert (
        dep["teacher"]["tflite_dynamic_range_bytes"] < 0.5 * dep["teacher"]["tflite_float32_bytes"]
    )
    for row in dep.values():
        assert row["tflite_dynamic_range_bytes"] <= row["tflite_float32_bytes"]
        assert row["latency_seconds"] > 0
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("teacher", "student_distilled_w4"):
        assert summary["exports"][name]["max_abs_diff"] < 1e-4


def test_recipe_source_pretraining_path(tmp_path):
    out = tmp_path / "run"
    proc = run_compact(
        *TINY,
        *SOURCE,
        "--student_widths=2",
        "--repeats=1",
        "--noexport",
        "--nodeployment",
        f"--output_dir={out}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert (out / "source_backbone.weights.h5").exists()
    assert 0.0 <= summary["source_test_accuracy"] <= 1.0
    assert summary["wall_seconds"]["feature_cache"] == 0
    assert summary["deployment"] == {} and "deployment" not in summary["wall_seconds"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--backbone=AlexNet"], "backbone name among"),
        (["--alpha=1.5"], "alpha in [0, 1]"),
        (["--temperature=0"], "temperature > 0"),
        (["--backbone_weights=/nonexistent.weights.h5"], "existing file"),
        (["--student_widths=4,x"], "--student_widths to be comma-separated integers"),
        (["--student_widths=4,4"], "distinct integers >= 1"),
        (["--augment"], "augment=False with finetune_mode='cached'"),
        (["--finetune_from=stage9"], "finetune_from to name a layer of EfficientNetLite0"),
        (
            ["--backbone=MobileNet", "--backbone_alpha=0.25", "--finetune_from=stage5"],
            "finetune_from to name a layer of MobileNet (e.g. ",
        ),
        (["--test_examples=100000"], "test_examples (the digits split"),
    ],
)
def test_bad_input_fails_before_training(args, message, tmp_path):
    conftest.assert_refused_before_training(
        "compact_transfer", TINY, args, message, tmp_path / "out"
    )


def test_recipe_exits_with_the_refusal(tmp_path):
    argv = [a for a in TINY if not a.startswith("--backbone=")] + ["--backbone=AlexNet"]
    conftest.assert_recipe_refuses(
        "compact_transfer", argv, "backbone name among", tmp_path / "out"
    )
