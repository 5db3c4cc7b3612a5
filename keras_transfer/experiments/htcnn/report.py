"""The HTCNN experiment's headline (per repeat, over repeats, table, plot) and benchmark section.

Reads the learning curves of `keras_transfer.experiments.htcnn.run`, or kept
runs' summaries; no training, no files.
"""

import numpy as np

from keras_transfer import metrics
from keras_transfer import report


def compare_curves(htcnn_curve, ccnn_curve, shallow_seconds):
    """The headline numbers of one repeat (HTCNN paper section IV-A, plus time-to-accuracy).

    Example:
    >>> h = [{"epoch": e, "wall_seconds": 10.0 * e, "test_accuracy": a}
    ...      for e, a in enumerate([0.1, 0.5, 0.6])]
    >>> c = [{"epoch": e, "wall_seconds": 10.0 * e, "test_accuracy": a}
    ...      for e, a in enumerate([0.1, 0.3, 0.6])]
    >>> r = compare_curves(h, c, shallow_seconds=5.0)
    >>> r["aag"], r["pbp"], r["htcnn_time_to_ccnn_final"]["seconds"]
    (0.1, 0.5, 20.0)
    """
    n = min(len(htcnn_curve), len(ccnn_curve))
    h = np.asarray([r["test_accuracy"] for r in htcnn_curve[:n]])
    c = np.asarray([r["test_accuracy"] for r in ccnn_curve[:n]])
    epochs = [r["epoch"] for r in htcnn_curve[:n]]
    h_wall = [r["wall_seconds"] for r in htcnn_curve[:n]]
    c_wall = [r["wall_seconds"] for r in ccnn_curve[:n]]
    after = slice(1, n) if n > 1 else slice(0, n)  # eq. 2 sums epochs 1..N
    target = float(c[-1])
    return {
        "aag": metrics.aag(h[after], c[after]),
        "pbp": metrics.pbp(h[after], c[after]),
        "gain_per_epoch": [float(v) for v in h - c],
        "epoch1_gain": float(h[1] - c[1]) if n > 1 else None,
        "htcnn_final_accuracy": float(h[-1]),
        "ccnn_final_accuracy": float(c[-1]),
        "htcnn_best_accuracy": float(h.max()),
        "ccnn_best_accuracy": float(c.max()),
        "target_accuracy": target,
        "htcnn_time_to_ccnn_final": metrics.time_to_accuracy(h, h_wall, target, epochs),
        "htcnn_time_to_ccnn_final_with_shallow": metrics.time_to_accuracy(
            h, h_wall, target, epochs, offset_seconds=shallow_seconds
        ),
        "ccnn_time_to_ccnn_final": metrics.time_to_accuracy(c, c_wall, target, epochs),
        "shallow_seconds": float(shallow_seconds),
    }


def headline(results):
    """Mean/min/max over repeats of every per-repeat number (`compare_curves` dicts).

    Example:
    >>> h = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .5])]
    >>> c = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .3])]
    >>> headline([compare_curves(h, c, 1.0)])["aag"]["mean"]
    0.2
    """

    def across(key):
        return metrics.summarize_runs([r[key] for r in results])

    def seconds(key):
        return metrics.summarize_runs([(r[key] or {}).get("seconds") for r in results])

    gains = [r["gain_per_epoch"] for r in results]
    n = min(len(g) for g in gains)
    out = {
        key: across(key)
        for key in (
            "aag",
            "pbp",
            "epoch1_gain",
            "htcnn_final_accuracy",
            "ccnn_final_accuracy",
            "htcnn_best_accuracy",
            "ccnn_best_accuracy",
            "shallow_seconds",
        )
    }
    out["gain_per_epoch_mean"] = [round(float(np.mean([g[i] for g in gains])), 6) for i in range(n)]
    for key in (
        "htcnn_time_to_ccnn_final",
        "htcnn_time_to_ccnn_final_with_shallow",
        "ccnn_time_to_ccnn_final",
    ):
        out[key.replace("time_to", "seconds_to")] = seconds(key)
    return out


def headline_table(head):
    """The headline as an aligned table (mean, min-max over repeats).

    Example:
    >>> h = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .5])]
    >>> c = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .3])]
    >>> print(headline_table(headline([compare_curves(h, c, 1.0)])).splitlines()[2])
    | AAG (eq. 2)                      | 0.200 (0.200-0.200) |
    """
    from keras_transfer.report import mean_range
    from keras_transfer.report import text_table

    def stat(s, digits=3):
        if not s or s.get("n", 0) == 0:
            return "not reached"
        return mean_range(s, digits)

    rows = [
        ("AAG (eq. 2)", stat(head["aag"])),
        ("PBP (eq. 3)", stat(head["pbp"], 2)),
        ("epoch-1 gain", stat(head["epoch1_gain"])),
        ("final accuracy HTCNN", stat(head["htcnn_final_accuracy"])),
        ("final accuracy CCNN", stat(head["ccnn_final_accuracy"])),
        ("s to CCNN final: HTCNN", stat(head["htcnn_seconds_to_ccnn_final"], 1)),
        (
            "s to CCNN final: HTCNN + shallow",
            stat(head["htcnn_seconds_to_ccnn_final_with_shallow"], 1),
        ),
        ("s to CCNN final: CCNN", stat(head["ccnn_seconds_to_ccnn_final"], 1)),
    ]
    return text_table(["measure", "mean (min-max)"], rows)


def plot_curves(path, config, curves):
    """Fig. 8-style test accuracy per epoch of HTCNN and CCNN (mean and range over repeats).

    Example:
    >>> import tempfile
    >>> rows = [{"epoch": e, "test_accuracy": a} for e, a in enumerate([0.1, 0.5])]
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> plot_curves(tempfile.mkdtemp() + "/c.png", get_preset("quick"), {"HTCNN": [rows]})
    """
    from keras_transfer import report

    report.plot_curves(
        path,
        curves,
        title=f"HTCNN vs CCNN on {config.dataset} ({config.setting}, m={config.num_shallow}, "
        f"{config.repeats} repeats)",
        xlabel=f"Epoch ({config.steps_per_epoch} iterations)",
    )


def epoch_means(history):
    """Per epoch: HTCNN and CCNN test accuracy and the gain, means over repeats.

    ``history``: a run's history rows (``run`` ``"htcnn"``/``"ccnn"``,
    ``repeat``, ``epoch``, ``test_accuracy``; other runs are skipped). Only
    epochs that every repeat of both reached are kept.

    Example:
    >>> rows = [{"run": run, "repeat": r, "epoch": e, "test_accuracy": a + r / 10 + e / 10}
    ...         for run, a in (("htcnn", 0.3), ("ccnn", 0.1), ("shallow_0", 0.5))
    ...         for r in range(2) for e in range(2)]
    >>> [[round(v, 4) for v in row] for row in epoch_means(rows)]
    [[0, 0.35, 0.15, 0.2], [1, 0.45, 0.25, 0.2]]
    """
    acc = {}
    for row in history:
        if row["run"] in ("htcnn", "ccnn"):
            acc[(row["run"], int(row["repeat"]), int(row["epoch"]))] = row["test_accuracy"]
    repeats = sorted({r for _, r, _ in acc})
    epochs = sorted({e for _, _, e in acc})
    rows = []
    for e in epochs:
        pairs = [(acc.get(("htcnn", r, e)), acc.get(("ccnn", r, e))) for r in repeats]
        if pairs and all(h is not None and c is not None for h, c in pairs):
            h, c = (float(np.mean(v)) for v in zip(*pairs))
            rows.append([e, h, c, float(np.mean([a - b for a, b in pairs]))])
    return rows


def markdown(summaries, paper=None, paper_source="", results_dir="results/htcnn_cifar10"):
    """The benchmark's RESULTS.md section: per-epoch tables per run, a summary, the paper's.

    Args:
        summaries: run name (one per data setting) -> the run's
            ``summary.json`` dict with its ``history`` rows and (if kept)
            ``ran_on`` (command, date, machine).
        paper: data setting -> ``{"aag", "pbp"}`` as the paper gives them
            (``None``: no paper table).
        paper_source: what the paper's numbers are (shown above them).
        results_dir: the runs' kept folders relative to RESULTS.md, where
            each run's ``curves.png`` is.

    Example:
    >>> h = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .5])]
    >>> c = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .3])]
    >>> import dataclasses
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> summary = {"settings": dataclasses.asdict(get_preset("quick", dataset="digits")),
    ...            "dataset": "digits", "preset": "quick", "seed": 0, "repeats": 1,
    ...            "precision": "float32", "deterministic": True,
    ...            "data": {"train_examples": 1437, "test_examples": 360},
    ...            "headline": headline([compare_curves(h, c, 1.0)]),
    ...            "history": [dict(r, run="htcnn", repeat=0) for r in h]
    ...                       + [dict(r, run="ccnn", repeat=0) for r in c]}
    >>> text = markdown({"identical": summary}, {"identical": {"aag": "0.12", "pbp": "1.0"}})
    >>> [line for line in text.splitlines() if line.startswith("| 1 ")]  # epoch 1
    ['| 1 | 0.5000 | 0.3000 | +0.2000 |']
    >>> "![identical](results/htcnn_cifar10/identical/curves.png)" in text
    True
    """
    from keras_transfer.report import markdown_table

    first = next(iter(summaries.values()))
    cfg, d = first["settings"], first["data"]
    network = "the cloud CNN of Fig. 5" if cfg["arch"] == "cloud" else f"{cfg['arch']} network"
    lines = [
        f'HTCNN vs CCNN ({network}) on {first["dataset"]}, "{first["preset"]}" preset: m = '
        f"{cfg['num_shallow']} shallow CNNs of {cfg['shallow_steps']:,} iterations each, "
        f"{cfg['epochs']} epochs of {cfg['steps_per_epoch']:,} iterations, batch "
        f"{cfg['batch_size']}, SGD lr {cfg['learning_rate']} momentum {cfg['momentum']}, "
        f"dropout {'on' if cfg['dropout'] else 'off'}; {d['train_examples']:,} training / "
        f"{d['test_examples']:,} test images"
        + (
            " (**capped: a test of the script, not a benchmark result**)"
            if cfg["max_train_examples"]
            else ""
        )
        + ".",
        "",
        "Accuracies are test accuracies, means over repeats; times are training wall seconds "
        "(evaluation excluded). AAG and PBP (paper eqs. 2-4) average over "
        f"epochs 1..{cfg['epochs']} of each run.",
    ]
    for name, s in summaries.items():
        rows = [
            [e, f"{h:.4f}", f"{c:.4f}", f"{g:+.4f}"] for e, h, c, g in epoch_means(s["history"])
        ]
        lines += [
            "",
            f"### {name}",
            "",
            f"{_training_sets(s)} Curves: ![{name}]({results_dir}/{name}/curves.png).",
            f"{_run_line(s)}",
            "",
            markdown_table(["epoch", "HTCNN acc", "CCNN acc", "gain"], rows),
        ]
    lines += ["", "### Summary (these runs)", "", _summary_table(summaries)]
    shown = [s["settings"]["setting"] for s in summaries.values()]
    if any(setting in shown for setting in paper or {}):
        lines += [
            "",
            "### The paper's numbers (for reference, not from these runs)",
            "",
            *([paper_source, ""] if paper_source else []),
            markdown_table(
                ["setting", "AAG (paper)", "PBP (paper)"],
                [[k, v["aag"], v["pbp"]] for k, v in paper.items() if k in shown],
            ),
        ]
    return "\n".join(lines)


def _training_sets(summary):
    """What the cloud and the shallow CNNs train on (`data.split_training_sets`)."""
    cfg, data = summary["settings"], summary["data"]
    n = data["train_examples"]
    if cfg["setting"] == "identical":
        return f"Identical data: the cloud CNNs and each shallow CNN train on all {n:,} images."
    k = max(cfg["num_shards"], cfg["num_shallow"] + 1)
    shallow = ", ".join(f"{s:,}" for s in data["shallow_train_examples"])
    return (
        f"Data locality (Table I): the {n:,} training images split into {k} disjoint "
        f"class-stratified shards; the cloud CNNs train on one ({data['cloud_train_examples']:,} "
        f"images), each shallow CNN on another ({shallow})."
    )


def _run_line(summary):
    """Seeds, precision, determinism and (if kept) when and where the run ran."""
    seed, n = summary["seed"], summary["repeats"]
    where = report.ran_on(summary, command=False)
    where = f"{where}; " if where else ""
    return (
        f"{where}{n} repeat(s), seeds {seed}..{seed + n - 1}, precision {summary['precision']}, "
        f"deterministic ops {'on' if summary['deterministic'] else 'off'}."
    )


_SUMMARY_HEADER = (
    "setting|AAG|PBP|epoch-1 gain|HTCNN final|CCNN final|shallow training s|"
    "HTCNN s to CCNN final|HTCNN s to CCNN final (+ shallow)|CCNN s to its final"
).split("|")


def _summary_table(summaries):
    """One row per run: the headline, mean (min-max) over repeats."""
    from keras_transfer.report import markdown_table
    from keras_transfer.report import mean_range

    def seconds(stat, repeats):
        text = mean_range(stat, 1, missing="not reached")
        if 0 < stat["n"] < repeats:
            text += f" (reached in {stat['n']}/{repeats} repeats)"
        return text

    rows = []
    for name, s in summaries.items():
        h, n = s["headline"], s["repeats"]
        rows.append(
            [
                name,
                mean_range(h["aag"], signed=True, missing="n/a"),
                mean_range(h["pbp"], 2, missing="n/a"),
                mean_range(h["epoch1_gain"], signed=True, missing="n/a"),
                mean_range(h["htcnn_final_accuracy"]),
                mean_range(h["ccnn_final_accuracy"]),
                mean_range(h["shallow_seconds"], 1),
                seconds(h["htcnn_seconds_to_ccnn_final"], n),
                seconds(h["htcnn_seconds_to_ccnn_final_with_shallow"], n),
                seconds(h["ccnn_seconds_to_ccnn_final"], n),
            ]
        )
    return markdown_table(_SUMMARY_HEADER, rows)
