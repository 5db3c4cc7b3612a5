"""The coarse2fine RESULTS.md section: a pure function of the runs' summaries."""

import json

from conftest import kept

from keras_transfer.experiments.coarse2fine import report


def summaries():
    quick = kept(report._example_summary())
    exact = json.loads(json.dumps(quick))
    exact["settings"].update(upscale_mode="exact", repeats=1)
    exact["headline"]["time_ratio"] = {"mean": None, "min": None, "max": None, "n": 0}
    exact["headline"]["incremental_reached_baseline"] = 0
    return {"quick": quick, "exact": exact}


def test_coarse2fine_section():
    text = report.markdown(summaries(), paper="PAPER", time_limit_seconds=2400)
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


def test_reads_no_files_and_no_clock(request):
    expected = report.markdown(summaries(), paper="P", time_limit_seconds=60)

    request.getfixturevalue("no_files_no_clock")
    assert report.markdown(summaries(), paper="P", time_limit_seconds=60) == expected
