"""The fusion, compact_transfer and teacher_size sections are pure functions of summaries."""

import dataclasses
import json

import conftest

from keras_transfer.experiments.compact_transfer import report as compact
from keras_transfer.experiments.compact_transfer.config import get_preset as compact_preset
from keras_transfer.experiments.fusion import report as fusion
from keras_transfer.experiments.fusion.config import get_preset as fusion_preset

RAN_ON = conftest.RAN_ON


def loaded(summary, command):
    """``summary`` as `benchmarks.sweep.load` gives it: through JSON, with history and ran_on."""
    return json.loads(json.dumps(dict(summary, history=[], ran_on=dict(RAN_ON, command=command))))


def fusion_summary(weights_2=None):
    model_2 = "EfficientNetLite0" if weights_2 else None
    cfg = fusion_preset("quick", repeats=2, weights_2=weights_2, model_2=model_2)

    def rows(acc, gates=False):
        row = {"train_seconds": 8.0, "trainable_params": 9352, "total_params": 185272}
        gate = {"exchange_1": {"b_to_a": 0.079, "a_to_b": -0.01}}
        return [dict(row, accuracy=a, **({"gates": gate} if gates else {})) for a in acc]

    runs = {
        "single_1_frozen": rows([0.6, 0.62]),
        "single_2_frozen": rows([0.83, 0.83]),
        "single_1_finetuned": rows([0.84, 0.85]),
        "single_2_finetuned": rows([0.88, 0.89]),
        "hybrid_paper_all": rows([0.85, 0.86]),
        "hybrid_paper_new": rows([0.2, 0.3]),
        "hybrid_gated_all": rows([0.87, 0.88], gates=True),
        "hybrid_gated_new": rows([0.83, 0.84], gates=True),
        "ensemble_frozen": rows([0.83, 0.83]),
        "ensemble_finetuned": rows([0.88, 0.9]),
        "single_2_matched": rows([0.86, 0.87]),
    }
    pre = {"1": {"weights": None, "accuracy": 0.9876, "seconds": 105.0}}
    pre["2"] = {"weights": weights_2, "accuracy": 0.2215, "seconds": 0.0 if weights_2 else 104.0}
    return {
        "settings": dataclasses.asdict(cfg),
        "repeats": 2,
        "runs": runs,
        "pretrain": pre,
        "flops": {run: 16.8e6 for run in runs},
        "matched": {"model": "2", "steps": 875, "ratio": 1.75, "budget_seconds": 47.4},
        "wall_seconds": {"load_data": 12.0, "pretrain": 217.0, "retrain": 783.0, "total": 1162.0},
    }


FUSION = {
    "row1": loaded(fusion_summary(), "python recipes/fusion.py --preset=quick"),
    "lite0": loaded(fusion_summary("imagenet"), "python recipes/fusion.py --weights_2=imagenet"),
}
ROWS = {"row1": ("Table 3 row 1", "Paper, Table 3: hybrid 62.23 %.")}


def compact_summary(side=96, widths=(4, 8)):
    cfg = compact_preset("quick", teacher_image_size=side, student_widths=widths, repeats=2)
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
        "headline": compact.headline(measured, dep),
        "deployment": dep,
        "wall_seconds": wall,
    }


def test_fusion_section():
    text = fusion.markdown(FUSION, ROWS)
    assert text.startswith("### Table 3 row 1\n\nRan 2026-12-03 10:48 UTC on 2 CPUs Intel(R)")
    assert "): `python recipes/fusion.py --preset=quick`" in text
    assert "\n\n### lite0\n\n" in text  # a run without a row title is titled by its name
    assert text.count("Paper, Table 3: hybrid 62.23 %.") == 1
    assert "| hybrid, gated exchange, all trained | 87.50% (87.00-88.00) |" in text
    assert "| hybrid_paper_new | -58.00 | -58.00 | - |" in text
    assert "| hybrid_gated_all | exchange_1 | +0.079, +0.079 | -0.010, -0.010 |" in text
    assert "model 2 EfficientNetLite0 loaded (imagenet)" in text
    assert "Whole row 19.4 min (target < 40 min: met)." in text


def test_compact_transfer_sections():
    one = compact.markdown({"quick": loaded(compact_summary(), "python recipes/x.py")})
    assert not one.startswith("###")  # one run: no heading
    assert "| 8 | 800 | 0.5100 (0.5000-0.5200) | 0.5400 (0.5300-0.5500) | +0.0300 | 2 of 2 |" in one
    assert "| deployment (TFLite files and latency) | 30 |" in one
    assert one.endswith("Whole recipe 16.5 min (target < 40 min: met).")
    two = compact.markdown({"a": compact_summary(), "b": compact_summary(widths=(4,))})
    assert two.startswith("### a\n\nTarget cifar10") and "\n\n### b\n\nTarget cifar10" in two


def test_teacher_size_section():
    runs = {str(s): loaded(compact_summary(s), f"python recipes/x.py --s={s}") for s in (64, 128)}
    lines = compact.teacher_size_markdown(runs).splitlines()
    assert lines[0].startswith("Teacher phase of the compact-transfer quick preset on cifar10")
    assert "| 128 | 0.7783 | 0.8616 | 26 | 184 | 1.657 |" in lines
    assert lines[-1].startswith("- 128 px: Ran 2026-12-03 10:48 UTC on 2 CPUs")
    assert lines[-1].endswith("`python recipes/x.py --s=128`")


def test_reads_no_files_and_no_clock(request):
    compact_runs = {"quick": compact_summary()}
    expected = (fusion.markdown(FUSION, ROWS), compact.markdown(compact_runs))

    request.getfixturevalue("no_files_no_clock")
    assert (fusion.markdown(FUSION, ROWS), compact.markdown(compact_runs)) == expected
    assert compact.teacher_size_markdown(compact_runs)
