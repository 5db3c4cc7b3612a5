"""The fusion recipe end to end (tiny settings on digits) and its input checks."""

import json

import conftest
import pytest

from keras_transfer.experiments.fusion.nets import check_feature_weights

pytestmark = pytest.mark.slow  # runs recipes (docs/design.md, Tests)

TINY = conftest.TINY["fusion"]


RUNS = {
    "single_1_frozen",
    "single_2_frozen",
    "single_1_finetuned",
    "single_2_finetuned",
    "hybrid_paper_all",
    "hybrid_paper_new",
    "hybrid_gated_all",
    "hybrid_gated_new",
    "ensemble_frozen",
    "ensemble_finetuned",
}


def test_recipe_runs_every_protocol_and_baseline(tmp_path):
    out = tmp_path / "run"
    proc = conftest.run_here(
        "fusion", *TINY, f"--output_dir={out}", f"--export_dir={tmp_path / 'saved'}"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    runs, head = summary["runs"], summary["headline"]
    matched = summary["matched"]
    assert set(runs) == RUNS | {f"single_{matched['model']}_matched"}
    assert matched["steps"] == round(10 * matched["ratio"]) and matched["ratio"] >= 0.25
    for name, rows in runs.items():
        assert len(rows) == 1 and all(0 <= r["accuracy"] <= 1 for r in rows), name
        assert head["runs"][name]["accuracy"]["n"] == 1
    # train="new" and the frozen protocol train only the new layers.
    trainable = {name: rows[0]["trainable_params"] for name, rows in runs.items()}
    assert trainable["hybrid_paper_new"] < trainable["single_1_finetuned"]
    assert trainable["hybrid_gated_new"] == trainable["hybrid_paper_new"] + 2 * len(
        runs["hybrid_gated_new"][0]["gates"]
    )
    assert trainable["single_1_frozen"] < trainable["single_1_finetuned"]
    # The ensemble costs its members; the hybrid computes both networks.
    e, s1, s2 = (runs[n][0] for n in ("ensemble_frozen", "single_1_frozen", "single_2_frozen"))
    assert e["train_seconds"] == s1["train_seconds"] + s2["train_seconds"]
    flops = summary["flops"]
    assert flops["hybrid_paper_all"] > max(flops["single_1_finetuned"], flops["single_2_finetuned"])
    # Gates moved off zero in training; the paper's sums have none.
    gates = runs["hybrid_gated_all"][0]["gates"]
    assert gates and all(abs(g) > 0 for ex in gates.values() for g in ex.values())
    assert all(
        g == 1.0 for ex in runs["hybrid_paper_all"][0]["gates"].values() for g in ex.values()
    )
    # Table 3-shaped: a frozen and a fine-tuned row.
    assert head["table"].count("\n") == 3 and "| frozen (new) | custom | custom |" in head["table"]
    assert set(head["hybrid_vs"]) == {n for n in RUNS if n.startswith("hybrid")}
    assert set(summary["pretrain"]) == {"1", "2"}
    (best,) = summary["exports"]
    assert best.startswith("hybrid_") and summary["exports"][best]["max_abs_diff"] < 1e-4
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    # The pre-trained nets are saved as files the recipe loads instead of pre-training
    # (--weights_1/2; the mirrored smoke test runs the recipe from such files).
    for k in ("1", "2"):
        path = str(out / f"pretrained_{k}.weights.h5")
        assert check_feature_weights(path, "custom", (32, 32, 3), 4, 4) == path


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model_1=AlexNet"], "network among"),
        (["--pretrain_examples=100000"], "pretrain_examples (the digits split"),
        (["--retrain_steps=0"], "retrain_steps to be an integer >= 1"),
        (["--weights_1=/nonexistent.weights.h5"], "existing weights file"),
        (["--hybrids=sum/all"], "hybrids to be distinct values among"),
        (["--hybrids=gated/head"], "hybrids to be distinct values among"),
        (["--single_protocols=linear"], "single_protocols to be distinct values among"),
        (["--single_protocols=frozen"], "'finetuned' in single_protocols and a hybrid"),
    ],
)
def test_bad_input_fails_before_training(args, message, tmp_path):
    conftest.assert_refused_before_training("fusion", TINY, args, message, tmp_path / "out")


def test_recipe_exits_with_the_refusal(tmp_path):
    argv = [a for a in TINY if not a.startswith("--model_1=")] + ["--model_1=AlexNet"]
    conftest.assert_recipe_refuses("fusion", argv, "network among", tmp_path / "out")
