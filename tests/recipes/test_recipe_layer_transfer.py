"""The layer-transfer recipe end to end (tiny settings) and its input checks."""

import csv
import json

import conftest
import pytest

pytestmark = pytest.mark.slow  # runs recipes (docs/design.md, Tests)

TINY = conftest.TINY["layer_transfer"]


def test_recipe_writes_accuracy_table(tmp_path):
    out = tmp_path / "run"
    proc = conftest.run_here(
        "layer_transfer", *TINY, f"--output_dir={out}", f"--export_dir={tmp_path / 'saved'}"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    table = summary["headline"]["accuracy"]
    assert sorted(table) == ["1", "5"] and sorted(table["1"]) == ["0", "3", "5"]
    assert all(0.0 <= table[k][n]["mean"] <= 1.0 for k in table for n in table[k])
    assert set(summary["headline"]["best_n"]) == {"1", "5"}
    # Retaining C1-C3 freezes 156 + 12 + 1,516 parameters (paper Table 1).
    assert summary["parameters"]["3"]["frozen"] == 1684
    assert summary["parameters"]["5"]["trainable"] == 2420
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert summary["exports"]["source"]["max_abs_diff"] < 1e-5
    assert 0.0 <= summary["source_test_accuracy"] <= 1.0
    # Every net's fit of its own k-sample training set, per (k, n).
    fit = summary["train_accuracy"]
    assert sorted(fit) == ["1", "5"] and sorted(fit["5"]) == ["0", "3", "5"]
    assert all(0.0 <= fit[k][n]["mean"] <= 1.0 for k in fit for n in fit[k])
    # history.csv: the contract's columns, one row per (k, n, trial) target net.
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 3
    assert {r["run"] for r in rows} == {f"k{k}_n{n}" for k in (1, 5) for n in (0, 3, 5)}
    assert all(
        int(r["step"]) == 5 and float(r["wall_seconds"]) > 0 and float(r["train_loss"]) >= 0
        for r in rows
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--source_classes=0-4", "--target_classes=4-8"], "disjoint"),
        (["--ks=1,500"], "at least k=500 samples"),
        (["--levels=0,6"], "n = 6 would leave nothing to train"),
        (["--code_bits=2"], "at least 3 bits for 5 classes"),
        (["--target_epochs=-1"], "target_epochs to be an integer >= 0"),
        (["--source_classes=0-4", "--target_classes=5-12"], "class ids in [0, 10)"),
    ],
)
def test_bad_input_fails_before_training(args, message, tmp_path):
    conftest.assert_refused_before_training("layer_transfer", TINY, args, message, tmp_path / "out")


def test_recipe_exits_with_the_refusal(tmp_path):
    argv = [a for a in TINY if not a.startswith("--ks=")] + ["--ks=1,500"]
    conftest.assert_recipe_refuses(
        "layer_transfer", argv, "at least k=500 samples", tmp_path / "out"
    )
