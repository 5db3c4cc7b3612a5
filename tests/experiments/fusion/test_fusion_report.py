"""The fusion RESULTS.md section: a pure function of the runs' summaries."""

import dataclasses

from conftest import kept

from keras_transfer.experiments.fusion import report
from keras_transfer.experiments.fusion.config import get_preset


def fusion_summary(weights_2=None):
    model_2 = "EfficientNetLite0" if weights_2 else None
    cfg = get_preset("quick", repeats=2, weights_2=weights_2, model_2=model_2)

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
    "row1": kept(fusion_summary(), "python recipes/fusion.py --preset=quick"),
    "lite0": kept(fusion_summary("imagenet"), "python recipes/fusion.py --weights_2=imagenet"),
}
ROWS = {"row1": ("Table 3 row 1", "Paper, Table 3: hybrid 62.23 %.")}


def test_fusion_section():
    text = report.markdown(FUSION, ROWS)
    assert text.startswith("### Table 3 row 1\n\nRan 2026-12-03 10:48 UTC on 2 CPUs Intel(R)")
    assert "): `python recipes/fusion.py --preset=quick`" in text
    assert "\n\n### lite0\n\n" in text  # a run without a row title is titled by its name
    assert text.count("Paper, Table 3: hybrid 62.23 %.") == 1
    assert "| hybrid, gated exchange, all trained | 87.50% (87.00-88.00) |" in text
    assert "| hybrid_paper_new | -58.00 | -58.00 | - |" in text
    assert "| hybrid_gated_all | exchange_1 | +0.079, +0.079 | -0.010, -0.010 |" in text
    assert "model 2 EfficientNetLite0 loaded (imagenet)" in text
    assert "Whole row 19.4 min (target < 40 min: met)." in text


def test_reads_no_files_and_no_clock(request):
    expected = report.markdown(FUSION, ROWS)

    request.getfixturevalue("no_files_no_clock")
    assert report.markdown(FUSION, ROWS) == expected
