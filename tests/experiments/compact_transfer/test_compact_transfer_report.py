"""The compact_transfer and teacher_size RESULTS.md sections: pure functions of summaries."""

import dataclasses

import pytest
from conftest import kept

from keras_transfer.experiments.compact_transfer import report
from keras_transfer.experiments.compact_transfer.config import get_preset


def compact_summary(side=96, widths=(4, 8)):
    cfg = get_preset("quick", teacher_image_size=side, student_widths=widths, repeats=2)
    students = {str(w): {"alone": [0.5, 0.52], "distilled": [0.53, 0.55]} for w in widths}
    measured = {"teacher_accuracy": {"head": 0.7783, "finetune": 0.8616}, "students": students}
    dep = {"teacher": (3425834, 1.657e-3)}
    dep.update({f"student_distilled_w{w}": (100 * w, 1e-5 * w) for w in widths})
    dep = {
        name: {
            "parameters": p,
            "flops": 10 * p,
            "tflite_float32_bytes": 4 * p,
            "tflite_dynamic_range_bytes": p,
            "latency_seconds": s,
        }
        for name, (p, s) in dep.items()
    }
    wall = {"load_data": 0.1, "pretrain": 0.0, "finetune": 184.0, "feature_cache": 26.0}
    wall.update(teacher_logits=5.0, students={"alone": 276.0, "distilled": 280.0})
    wall.update(deployment=30.0, total=991.0)
    return {
        "preset": "quick",
        "dataset": "cifar10",
        "seed": 0,
        "repeats": 2,
        "settings": dataclasses.asdict(cfg),
        "data": {"target_train_examples": 10000, "test_examples": 10000},
        "source_test_accuracy": None,
        **measured,
        "headline": report.headline(measured, dep),
        "deployment": dep,
        "wall_seconds": wall,
    }


def test_compact_transfer_sections():
    one = report.markdown({"quick": kept(compact_summary(), "python recipes/x.py")})
    assert not one.startswith("###")  # one run: no heading
    assert "| 8 | 800 | 0.5100 (0.5000-0.5200) | 0.5400 (0.5300-0.5500) | +0.0300 | 2 of 2 |" in one
    assert "| deployment (TFLite files and latency) | 30 |" in one
    assert one.endswith("Whole recipe 16.5 min (target < 40 min: met).")
    two = report.markdown({"a": compact_summary(), "b": compact_summary(widths=(4,))})
    assert two.startswith("### a\n\nTarget cifar10") and "\n\n### b\n\nTarget cifar10" in two


def test_a_run_without_deployment_is_refused_by_the_section():
    summary = compact_summary()
    summary["deployment"] = {}
    with pytest.raises(ValueError, match="received one with deployment=False"):
        report.markdown({"quick": kept(summary)})


def test_teacher_size_section():
    runs = {str(s): kept(compact_summary(s), f"python recipes/x.py --s={s}") for s in (64, 128)}
    lines = report.teacher_size_markdown(runs).splitlines()
    assert lines[0].startswith("Teacher phase of the compact-transfer quick preset on cifar10")
    assert "| 128 | 0.7783 | 0.8616 | 26 | 184 | 1.657 |" in lines
    assert lines[-1].startswith("- 128 px: Ran 2026-12-03 10:48 UTC on 2 CPUs")
    assert lines[-1].endswith("`python recipes/x.py --s=128`")


def test_reads_no_files_and_no_clock(request):
    runs = {"quick": compact_summary()}
    expected = report.markdown(runs)

    request.getfixturevalue("no_files_no_clock")
    assert report.markdown(runs) == expected
    assert report.teacher_size_markdown(runs)


def test_headline_table_without_deployment_shows_dashes():
    # A run with deployment=False (--nodeployment) measured no TFLite sizes or latency.
    config = get_preset("quick", student_widths=(4, 8), deployment=False)
    head = report.headline(
        {
            "teacher_accuracy": {"finetune": 0.8},
            "students": {
                4: {"alone": [0.6], "distilled": [0.65]},
                8: {"alone": [0.7], "distilled": [0.72]},
            },
        }
    )
    assert "size_ratio_teacher_over_student" not in head["widths"]["4"]
    lines = report.headline_table(config, head, {}).splitlines()
    assert len(lines) == 5  # header, rule, teacher, two students
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[-2:] == ["-", "-"], line
