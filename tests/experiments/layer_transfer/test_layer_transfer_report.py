"""The layer_transfer RESULTS.md section: a pure function of the runs' summaries."""

import dataclasses

import pytest
from conftest import kept

from keras_transfer.experiments.layer_transfer.config import get_preset
from keras_transfer.experiments.layer_transfer.report import headline
from keras_transfer.experiments.layer_transfer.report import markdown


def summary(dataset, flags, shift=0.0):
    """A finished run's summary.json dict as `benchmarks.sweep.load` gives it."""
    cfg = get_preset("quick", dataset=dataset, ks=(1, 5, 40), levels=(0, 3, 5), trials=2)
    acc = {
        k: {n: [0.3 + 0.01 * k + 0.02 * n + shift, 0.32 + 0.01 * k + shift] for n in cfg.levels}
        for k in cfg.ks
    }
    acc[40][5] = [0.2, 0.3]
    command = f"python recipes/layer_transfer.py --seed=0 --dataset={dataset} --preset=quick"
    fit = {
        k: {n: {"mean": 1.0, "min": 1.0, "max": 1.0, "n": 2} for n in cfg.levels} for k in cfg.ks
    }
    summary = {
        "dataset": dataset,
        "settings": dataclasses.asdict(cfg),
        "headline": headline(cfg, acc),
        "source_train_accuracy": 1.0,
        "source_test_accuracy": 0.99,
        "train_accuracy": fit,
        "wall_seconds": {"load_data": 1.0, "total": 189.4},
    }
    return kept(summary, " ".join([command, *flags, "--noexport"]))


SUMMARIES = {
    "mnist": summary("mnist", []),
    "mnist-target_epochs_100": summary("mnist", ["--target_epochs=100"], 0.01),
    "cifar100": summary("cifar100", []),
    "cifar100-source_steps_16000": summary("cifar100", ["--source_steps=16000"]),
    "cifar100-source_classes_40-99-source_steps_16000": summary(
        "cifar100", ["--source_classes=40-99", "--source_steps=16000"]
    ),
}


def test_sections_tables_and_comparisons():
    text = markdown(SUMMARIES)
    assert "### mnist, --target_epochs=100 (output code)" in text
    assert "| 1 | 0.320 (0.310-0.330) |" in text  # mean (min-max) by mean_range
    assert "Ran 2026-12-03 10:48 UTC on 2 CPUs Intel(R) Xeon(R) Processor" in text
    assert "recipe wall time 189 s" in text
    assert "- mnist, --target_epochs=100 against the preset: " in text
    assert (
        "- cifar100, --source_classes=40-99 --source_steps=16000 against "
        "--source_steps=16000: " in text
    )
    assert "| cifar100 | --source_steps=16000 | 1.00 / 0.99 |" in text
    assert text.endswith("about 10 samples.")


def test_reads_no_files_and_no_clock(request):
    expected = markdown(SUMMARIES)

    request.getfixturevalue("no_files_no_clock")
    assert markdown(SUMMARIES) == expected


def test_an_unfinished_summary_is_refused():
    with pytest.raises(KeyError):
        markdown({"mnist": {"settings": {}, "wall_seconds": {}}})
