"""Every recipe through the one runner: --tune (phase-aware keras-tuner search) and
--strategy=mirrored on 2 logical CPUs, on tiny budgets."""

import json

import conftest
import pytest
from conftest import TINY

pytestmark = pytest.mark.slow  # runs recipes (docs/design.md, Tests)

# The expensive phase each search shares between trials (GridSearch changes the
# last searched field first, so the first two trials agree on it).
# The mirrored smoke test needs every code path once, not every protocol or width: fusion
# starts from weights files (its pre-training is the singles' training path).
MIRRORED_ONLY = {
    "fusion": [
        "--single_protocols=frozen",
        "--hybrids=gated/all",
        "--nobaselines",
        "--dataset_1=no_such_dataset",
        "--dataset_2=no_such_dataset",
    ],
    # A teacher from a backbone weights file (untrained) of the smallest family, cached mode.
    "compact_transfer": [
        "--student_widths=2",
        "--nodeployment",
        "--backbone=MobileNet",
        "--backbone_alpha=0.25",
        "--finetune_from=conv_pw_12_relu",
    ],
    # One transferred level and one width; two stages with a widening (measured alone on
    # 2 CPUs: 45 s -> 26 s and 37 s -> 24 s).
    "layer_transfer": ["--ks=5", "--levels=0,5"],
    "coarse2fine": ["--resolutions=2,4", "--stage_epochs=1,1"],
}
SHARED = {
    "htcnn": "shallow",
    "layer_transfer": "source",
    "compact_transfer": "teacher",
    "fusion": "pretrain",
    "coarse2fine": "first_stage",
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_tune_two_trials_share_the_expensive_phase(name, tmp_path, capsys):
    # In this process (what the recipe runs, without a TensorFlow start-up per search).
    from keras_transfer.experiments import runner

    out = tmp_path / "tune"
    argv = conftest.command(name, ["--tune", "--tune_trials=2"], out)
    assert runner.run_command(name, argv, "digits") == 0, capsys.readouterr().err[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    trials = summary["trials"]
    assert summary["mode"] == "tune" and len(trials) == 2
    assert trials[0]["score"] >= trials[1]["score"]  # best first
    assert trials[0]["hyperparameters"] != trials[1]["hyperparameters"]
    phase = SHARED[name]
    used = [t["shared_phases"][phase] for t in trials]
    # One folder, computed by exactly one trial, its cost split between both.
    assert used[0]["folder"] == used[1]["folder"] and used[0]["users"] == 2
    assert sorted(u["computed"] for u in used) == [False, True]
    assert all(t["cost_seconds"] >= t["shared_phases"][phase]["share_seconds"] > 0 for t in trials)
    assert summary["best_command"].startswith(f"python recipes/{name}.py ")


def _fusion_weights_files(folder):
    """Weights files of TINY fusion's two nets (untrained: only the code path matters)."""
    from keras_transfer.experiments.fusion.nets import build_features

    flags = dict(a.split("=") for a in TINY["fusion"])
    width, blocks = int(flags["--custom_width"]), int(flags["--custom_blocks"])
    paths = [folder / f"net_{k}.weights.h5" for k in (1, 2)]
    for path in paths:
        build_features("custom", (32, 32, 3), width, blocks).save_weights(path)
    return [f"--weights_{k}={path}" for k, path in enumerate(paths, 1)]


def _compact_weights_file(folder):
    """A backbone weights file of MIRRORED_ONLY's compact teacher (untrained)."""
    from keras_transfer.models.backbone import backbone

    path = folder / "mobilenet.weights.h5"
    backbone("MobileNet", (32, 32, 3), alpha=0.25).save_weights(path)
    return [f"--backbone_weights={path}"]


@pytest.mark.parametrize("name", sorted(TINY))
def test_recipe_runs_under_mirrored_strategy_on_two_cpus(name, tmp_path):
    out = tmp_path / "mirrored"
    extra = ["--repeats=1"] + MIRRORED_ONLY.get(name, [])
    if name == "fusion":
        extra += _fusion_weights_files(tmp_path)
    if name == "compact_transfer":
        extra += _compact_weights_file(tmp_path)
    argv = conftest.command(name, [*extra, "--strategy=mirrored", "--cpu_devices=2"], out)
    proc = conftest.run_recipe(*argv, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategy"] == "mirrored" and summary["replicas"] == 2
    assert summary["headline"]
    if name == "fusion":  # from the weights files: nothing pre-trained, datasets 1/2 unread
        assert {k: v["accuracy"] for k, v in summary["pretrain"].items()} == {"1": None, "2": None}
        assert set(summary["runs"]) == {"single_1_frozen", "single_2_frozen", "hybrid_gated_all"}
    assert "[" in proc.stdout and "ETA" in proc.stdout  # progress lines
