"""The coarse-to-fine recipe end to end (tiny settings on digits) and its input checks."""

import csv
import json

import conftest
import pytest

pytestmark = pytest.mark.slow  # runs recipes (docs/design.md, Tests)

# digits are 8x8: stages at 2x2, 4x4 and 8x8 (area-downscaled), net-2 widened to net-3 at 4x4.
TINY = conftest.TINY["coarse2fine"]


def test_recipe_writes_headline_curves_and_exports(tmp_path):
    out = tmp_path / "run"
    proc = conftest.run_here(
        "coarse2fine",
        *TINY,
        "--upscale_mode=exact",
        f"--output_dir={out}",
        f"--export_dir={tmp_path / 'saved'}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    head = summary["headline"]
    # Both runs learn the real digits (10 classes, chance 0.1).
    assert head["incremental_final_accuracy"]["mean"] > 0.3
    assert head["baseline_final_accuracy"]["mean"] > 0.3
    # Exact mode: the transforms keep the function on replicated images.
    assert set(head["max_logit_change_on_replicated_images"]) == {"4px", "8px"}
    assert max(head["max_logit_change_on_replicated_images"].values()) <= 1e-5
    assert set(head["dip_at_transform"]) == {"4px", "8px"}
    stages = summary["incremental"][0]["stages"]
    assert [s["resolution"] for s in stages] == [2, 4, 8]
    for before, after in zip(stages, stages[1:]):  # the dip is measured at each transform
        assert after["accuracy_before_transform"] == before["final_accuracy"]
        assert after["start_seconds"] >= before["start_seconds"] + before["train_seconds"]
    # The baseline trains as many steps as the incremental run, all at 8x8 (final stage).
    rows = list(csv.DictReader((out / "history.csv").open()))
    last = {r["run"]: int(r["step"]) for r in rows}
    assert last == {"incremental": 3 * 2 * 25, "baseline": 3 * 2 * 25}
    ratio = head["time_ratio"]
    assert (ratio["n"] == 1) == (head["seconds_to_baseline_final"][0] is not None)
    assert {r["run"] for r in rows} == {"incremental", "baseline"}
    times = [float(r["wall_seconds"]) for r in rows if r["run"] == "incremental"]
    assert times == sorted(times)
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("incremental", "baseline"):
        assert summary["exports"][name]["max_abs_diff"] < 1e-4
    assert "| incremental final accuracy |" in head["table"]


def test_same_seed_same_numbers(tmp_path):
    args = [
        *TINY,
        "--stage_epochs=1,1,1",
        "--steps_per_epoch=10",
        "--noexport",
        "--seed=3",
        "--upscale_mode=paper",
    ]
    finals = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        proc = conftest.run_here("coarse2fine", *args, f"--output_dir={out}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        summary = json.loads((out / "summary.json").read_text())
        finals.append(
            [
                (s["accuracy_after_transform"], s["final_accuracy"], s["check"])
                for s in summary["incremental"][0]["stages"]
            ]
        )
    assert finals[0] == finals[1]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--resolutions=2,3,8"], "integer factor >= 2 of the previous one"),
        (["--resolutions=4,4,8"], "integer factor >= 2 of the previous one"),
        (["--resolutions=2,4,x"], "comma-separated integers"),
        (["--stage_epochs=1,1"], "one stage_epochs entry per resolution"),
        (["--widen_to=net-1"], "widen only adds"),
        (["--widen_at=8", "--widen_to=net-4"], "as many convolutions as net-2"),
        (["--net=net-9"], "Expected net in"),
        (["--widen_init=uniform"], "Expected widen_init in"),
        (["--resolutions=4,8,16", "--widen_at=8"], "up to digits's image size 8"),
        (["--train_examples=100000"], "train_examples <= "),
    ],
)
def test_bad_input_fails_before_training(args, message, tmp_path):
    conftest.assert_refused_before_training("coarse2fine", TINY, args, message, tmp_path / "out")


def test_recipe_exits_with_the_refusal(tmp_path):
    argv = [a for a in TINY if not a.startswith("--resolutions=")] + ["--resolutions=2,3,8"]
    conftest.assert_recipe_refuses(
        "coarse2fine", argv, "integer factor >= 2 of the previous one", tmp_path / "out"
    )
