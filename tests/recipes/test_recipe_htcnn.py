"""The HTCNN recipe end to end (tiny settings) and its input checks (before any training)."""

import csv
import json
import os

import conftest
import numpy as np
import pytest

pytestmark = pytest.mark.slow  # runs recipes (docs/design.md, Tests)

TINY = conftest.TINY["htcnn"]


def run_recipe(*args, **kwargs):
    return conftest.run_recipe("htcnn", *args, **kwargs)


def read_history(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("htcnn")
    out = root / "run"
    proc = run_recipe(*TINY, f"--output_dir={out}", f"--export_dir={root / 'saved'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, out, proc.stderr


def test_recipe_writes_the_contract_files(finished_run):
    root, out, _ = finished_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["recipe"] == "htcnn" and summary["repeats"] == 2 and summary["seed"] == 0
    assert summary["settings"]["epochs"] == 2 and summary["settings"]["num_shallow"] == 4
    head = summary["headline"]
    for key in ("aag", "pbp", "epoch1_gain", "htcnn_final_accuracy", "ccnn_final_accuracy"):
        assert head[key]["n"] == 2, key
    assert 0.0 <= head["pbp"]["mean"] <= 1.0
    assert len(head["gain_per_epoch_mean"]) == 3  # epochs 0, 1, 2
    assert head["shallow_seconds"]["mean"] > 0
    # Same initial weights except the first layer: epoch-0 accuracies may differ,
    # but every run has the step-0 point and 2 epochs.
    rows = read_history(out / "history.csv")
    for run in ("htcnn", "ccnn"):
        mine = [r for r in rows if r["run"] == run and r["repeat"] == "0"]
        assert [int(r["step"]) for r in mine] == [0, 10, 20]
    assert {r["run"] for r in rows} >= {"htcnn", "ccnn", "shallow_0", "shallow_3"}
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    events = [f for _, _, fs in os.walk(out / "tensorboard") for f in fs if "tfevents" in f]
    assert len(events) >= 4
    for name in ("htcnn", "ccnn"):
        export = summary["exports"][name]
        assert os.path.isdir(export["saved_model"]) and os.path.isfile(export["keras"])
        assert export["max_abs_diff"] < 1e-5


def test_recipe_output_is_quiet_by_default(finished_run):
    # TensorFlow's C++ INFO lines (oneDNN, Abseil's pre-initialisation notice) are held back.
    _, _, stderr = finished_run
    assert "oneDNN custom operations" not in stderr and "InitializeLog" not in stderr, stderr


def test_recipe_same_seed_same_numbers(finished_run, tmp_path):
    # Repeat 0 again, alone: the same numbers, whatever the number of repeats after it.
    _, out, _ = finished_run
    again = tmp_path / "again"
    proc = conftest.run_here("htcnn", *TINY, "--repeats=1", f"--output_dir={again}", "--noexport")
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = [
        (r["run"], r["repeat"], r["step"], r["test_accuracy"])
        for r in read_history(out / "history.csv")
        if r["repeat"] == "0"
    ]
    second = [
        (r["run"], r["repeat"], r["step"], r["test_accuracy"])
        for r in read_history(again / "history.csv")
    ]
    assert first == second


def test_refuses_output_dir_holding_a_finished_run(finished_run, capsys):
    # In this process: a refusal trains nothing (test_recipe_exits_with_the_refusal
    # checks that the recipe's own process exits with its refusal).
    _, out, _ = finished_run
    conftest.assert_refused("htcnn", [], "finished run", out, capsys, before=conftest.snapshot(out))


def _corrupt_data_dir(tmp_path):
    folder = tmp_path / "data" / "broken"
    folder.mkdir(parents=True)
    (folder / "train.npz").write_bytes(np.random.RandomState(0).bytes(256))
    (folder / "test.npz").write_bytes(np.random.RandomState(1).bytes(256))
    return tmp_path / "data"


@pytest.mark.parametrize("case", ["m", "dataset", "preset", "corrupt", "setting_shards"])
def test_bad_input_fails_before_training(case, tmp_path):
    args, message = {
        "m": (["--num_shallow=3"], "divide"),
        "dataset": (["--dataset=no_such_dataset"], "not found"),
        "preset": (["--preset=fast"], "--preset must be one of"),
        "corrupt": (
            ["--dataset=broken", f"--data_dir={_corrupt_data_dir(tmp_path)}"],
            "Corrupt npz",
        ),
        "setting_shards": (["--setting=locality", "--num_shallow=8"], "num_shards"),
    }[case]
    conftest.assert_refused_before_training("htcnn", TINY, args, message, tmp_path / "out")


def test_recipe_exits_with_the_refusal(tmp_path):
    argv = [a for a in TINY if not a.startswith("--preset=")] + ["--preset=fast"]
    conftest.assert_recipe_refuses("htcnn", argv, "--preset must be one of", tmp_path / "out")


def test_alexnet_arch_on_tiny_imagenet(shared_data, tmp_path):
    """The Fig. 7 path: 4 two-part shallow CNNs fill AlexNet's two first-layer groups."""
    if not (shared_data / "tiny_imagenet50" / "train.npz").exists():
        pytest.skip("tiny_imagenet50 not in the shared data")
    out = tmp_path / "alex"
    proc = conftest.run_here(
        "htcnn",
        "--dataset=tiny_imagenet50",
        "--arch=alexnet",
        "--preset=quick",
        "--epochs=1",
        "--steps_per_epoch=2",
        "--shallow_steps=2",
        "--repeats=1",
        "--batch_size=32",
        "--fc_units=64",
        "--max_train_examples=1000",
        f"--data_dir={shared_data}",
        f"--output_dir={out}",
        "--noexport",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["arch"] == "alexnet"
    assert summary["settings"]["subtract_mean"] is True  # paper section IV-C1
    assert summary["data"]["image_shape"] == [64, 64, 3] and summary["data"]["num_classes"] == 50
    assert summary["data"]["train_examples"] == 1000
    assert (out / "runs" / "repeat0" / "shallow_3" / "final.weights.h5").exists()
