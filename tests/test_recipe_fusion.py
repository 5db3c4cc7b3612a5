"""The fusion recipe end to end (tiny settings on digits) and its input checks."""

import json

import pytest

import conftest

TINY = ["--dataset=digits", "--dataset_1=digits", "--dataset_2=digits", "--preset=quick",
        "--custom_width=4", "--pretrain_steps=10", "--retrain_steps=10", "--repeats=2",
        "--pretrain_examples=200", "--head_units=16"]


def test_recipe_writes_table_and_exports(tmp_path):
    out = tmp_path / "run"
    proc = conftest.run_recipe("fusion", *TINY, f"--output_dir={out}",
                               f"--export_dir={tmp_path / 'saved'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    head = summary["headline"]
    for run in ("hybrid", "single_1", "single_2"):
        assert len(summary[run]) == 2 and all(0 <= a <= 1 for a in summary[run])
        assert head[f"{run}_accuracy"]["n"] == 2
    assert head["table"].count("\n") == 2 and "| custom | custom | digits |" in head["table"]
    assert set(summary["pretrain_accuracy"]) == {"1", "2"}
    assert summary["exports"]["hybrid"]["max_abs_diff"] < 1e-4
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    # The pre-trained nets are saved and can be loaded instead of pre-trained
    # (their pre-training datasets are then not even read).
    again = tmp_path / "again"
    proc = conftest.run_recipe(
        "fusion", *TINY, "--dataset_1=no_such_dataset", "--dataset_2=no_such_dataset",
        f"--weights_1={out / 'pretrained_1.weights.h5'}",
        f"--weights_2={out / 'pretrained_2.weights.h5'}", f"--output_dir={again}", "--noexport")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((again / "summary.json").read_text())["pretrain_accuracy"] == {
        "1": None, "2": None}


@pytest.mark.parametrize("args,message", [
    (["--model_1=AlexNet"], "network among"),
    (["--pretrain_examples=100000"], "pretrain_examples <= "),
    (["--retrain_steps=0"], "retrain_steps to be an integer >= 1"),
    (["--weights_1=/nonexistent.weights.h5"], "existing weights file"),
])
def test_bad_input_fails_before_training(args, message, tmp_path):
    conftest.assert_refused_before_training("fusion", TINY, args, message, tmp_path / "out")
