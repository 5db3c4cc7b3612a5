"""The htcnn_cifar10 RESULTS.md section: a pure function of the runs' summaries."""

import dataclasses

from conftest import kept

from keras_transfer.experiments.htcnn import report
from keras_transfer.experiments.htcnn.config import get_preset


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
        runs.append(report.compare_curves(rows["htcnn"], rows["ccnn"], 5.0))
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
            "headline": report.headline(runs),
            "history": history,
        }
    )


HTCNN = {"identical": htcnn_summary("identical", 0.1), "locality": htcnn_summary("locality", 0.0)}
PAPER = {"identical": {"aag": "0.12", "pbp": "1.0"}, "locality": {"aag": "0.04", "pbp": "-"}}


def test_htcnn_section():
    text = report.markdown(HTCNN, PAPER, "The paper:", results_dir="results/h")
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
    text = report.markdown({"locality": HTCNN["locality"]}, PAPER)
    assert "| identical | 0.12 |" not in text and "| locality | 0.04 |" in text
    assert "The paper's numbers" not in report.markdown(HTCNN)


def test_reads_no_files_and_no_clock(request):
    expected = report.markdown(HTCNN, PAPER)

    request.getfixturevalue("no_files_no_clock")
    assert report.markdown(HTCNN, PAPER) == expected
