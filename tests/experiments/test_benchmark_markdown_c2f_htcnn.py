"""The coarse2fine and htcnn_cifar10 benchmark sections: pure functions of the runs' summaries."""

import dataclasses
import json

import conftest
import pytest

from keras_transfer.experiments.coarse2fine import report as c2f_report
from keras_transfer.experiments.htcnn import report as htcnn_report
from keras_transfer.experiments.htcnn.config import get_preset

RAN_ON = conftest.RAN_ON


def kept(summary):
    """A summary as `benchmarks.sweep.load` gives it: through JSON, with ``ran_on``."""
    return json.loads(json.dumps(dict(summary, ran_on=RAN_ON)))


def c2f_summaries():
    quick = kept(c2f_report._example_summary())
    exact = json.loads(json.dumps(quick))
    exact["settings"].update(upscale_mode="exact", repeats=1)
    exact["headline"]["time_ratio"] = {"mean": None, "min": None, "max": None, "n": 0}
    exact["headline"]["incremental_reached_baseline"] = 0
    return {"quick": quick, "exact": exact}


def htcnn_summary(setting, gain):
    cfg = get_preset("paper", dataset="cifar10", setting=setting, epochs=2, repeats=2)
    history, runs = [], []
    for r in range(2):
        curves = {
            "htcnn": [0.1, 0.5 + gain + r / 10, 0.6 + gain],
            "ccnn": [0.1, 0.3 + r / 10, 0.6],
            "shallow_0": [0.9, 0.9, 0.9],
        }
        rows = {
            run: [
                {"run": run, "repeat": r, "epoch": e, "wall_seconds": 10.0 * e, "test_accuracy": a}
                for e, a in enumerate(acc)
            ]
            for run, acc in curves.items()
        }
        history += [row for run_rows in rows.values() for row in run_rows]
        runs.append(htcnn_report.compare_curves(rows["htcnn"], rows["ccnn"], 5.0))
    return kept(
        {
            "dataset": "cifar10",
            "preset": "paper",
            "seed": 0,
            "repeats": 2,
            "precision": "mixed_bfloat16",
            "deterministic": True,
            "settings": dataclasses.asdict(cfg),
            "data": {
                "train_examples": 50000,
                "cloud_train_examples": 10000,
                "shallow_train_examples": [10000] * 4,
                "test_examples": 10000,
            },
            "headline": htcnn_report.headline(runs),
            "history": history,
        }
    )


HTCNN = {"identical": htcnn_summary("identical", 0.1), "locality": htcnn_summary("locality", 0.0)}
PAPER = {"identical": {"aag": "0.12", "pbp": "1.0"}, "locality": {"aag": "0.04", "pbp": "-"}}


def test_coarse2fine_section():
    text = c2f_report.markdown(c2f_summaries(), paper="PAPER", time_limit_seconds=2400)
    assert "precision float32, deterministic ops on" in text
    assert "Ran 2026-12-03 10:48 UTC on 2 CPUs Intel(R) Xeon(R) Processor (Linux" in text
    assert "\nPAPER\n" in text
    assert "| 0 | 0.5000 | 0.4000 | 0.5000 | 0.4000 | 5 | 10 | 5 | 0.50 | 5 |" in text
    assert "| 1 | 16 | 1 | 2.0 | 0.00 | 0.3000 | 0.2000 | 0.5000 | 1.00e-06 |" in text
    assert "![accuracy vs wall time](results/coarse2fine/quick/curves.png)" in text
    assert "Whole recipe 0.3 min (target < 40 min: met)." in text
    assert "| quick | 1 | 0.5000 (0.5000-0.5000) | 0.4000 (0.4000-0.4000) |" in text
    assert "| exact (`--upscale_mode=exact`) | 1 |" in text
    assert "| - (0 of 1) |" in text
    assert text.endswith(
        "| 16px -0.1000 | 2026-12-03 10:48 UTC on 2 CPUs Intel(R) Xeon(R) Processor |"
    )


def test_htcnn_section():
    text = htcnn_report.markdown(HTCNN, PAPER, "The paper:", results_dir="results/h")
    assert '"paper" preset: m = 4 shallow CNNs of 10,000 iterations each, 2 epochs' in text
    assert "precision mixed_bfloat16, deterministic ops on" in text
    assert "2 repeat(s), seeds 0..1" in text
    assert "![locality](results/h/locality/curves.png)" in text
    assert "5 disjoint class-stratified shards; the cloud CNNs train on one (10,000" in text
    # Epoch 1, means over the two repeats (shallow CNNs' rows left out).
    assert "| 1 | 0.6500 | 0.3500 | +0.3000 |" in text
    assert "| 1 | 0.5500 | 0.3500 | +0.2000 |" in text
    assert "| identical | +0.2000 (+0.2000 to +0.2000) | 1.00 (1.00-1.00) |" in text
    assert "| locality | 0.04 | - |" in text


def test_htcnn_paper_table_only_for_shown_settings():
    text = htcnn_report.markdown({"locality": HTCNN["locality"]}, PAPER)
    assert "| identical | 0.12 |" not in text and "| locality | 0.04 |" in text
    assert "The paper's numbers" not in htcnn_report.markdown(HTCNN)


@pytest.mark.parametrize("name", ["coarse2fine", "htcnn"])
def test_reads_no_files_and_no_clock(request, name):
    def render():
        if name == "coarse2fine":
            return c2f_report.markdown(c2f_summaries(), paper="P", time_limit_seconds=60)
        return htcnn_report.markdown(HTCNN, PAPER)

    expected = render()

    request.getfixturevalue("no_files_no_clock")
    assert render() == expected
