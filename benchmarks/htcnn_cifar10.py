r"""Benchmark: HTCNN vs the plain cloud CNN (CCNN) on CIFAR-10, paper settings, both data settings.

Run from the repository root (the full benchmark; writes section
"htcnn_cifar10" of benchmarks/RESULTS.md). Estimated 4-5 hours on 2 CPU cores
(per setting: 4 x 10,000 shallow steps, then 2 x 10 x 1,000 cloud steps at
~330 images/s, plus 11 evaluations of the 10,000 test images per cloud CNN):
    python benchmarks/htcnn_cifar10.py
    python benchmarks/htcnn_cifar10.py --epochs=10 --steps_per_epoch=1000 --shallow_steps=10000 \
        --repeats=1 --settings=identical,locality --output_dir=benchmarks/runs/htcnn_cifar10
Continue a killed run (every training resumes from its last finished epoch):
    python benchmarks/htcnn_cifar10.py --resume            # same flags as the killed run
Quick check (a minute, writes nothing to RESULTS.md):
    python benchmarks/htcnn_cifar10.py --epochs=2 --steps_per_epoch=5 --shallow_steps=5 \
        --max_train_examples=500 --max_test_examples=500 --output_dir=/tmp/bench_test --nowrite

For each setting (identical data, Table I data locality) and repeat r, runs
`keras_transfer.experiments.htcnn.run_repeat` on the "paper" preset (m = 4
shallow CNNs of --shallow_steps iterations, batch 100, SGD 0.01 + momentum
0.9, no dropout) with seed --seed + r, and compares the learning curves (test
accuracy after every epoch of --steps_per_epoch iterations; training time
excludes evaluation).

Writes into --output_dir (new, or unfinished with --resume):
    <setting>/runs/repeat<r>/   per-training run files (what --resume continues from)
    <setting>/tensorboard/repeat<r>/
    <setting>/curves.png, <setting>/summary.json, <setting>/history.csv
    summary.json                (all settings; marks the run as finished)
"""

import dataclasses
import os
import shutil
import sys
import time
import warnings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("epochs", 10, "Epochs (evaluations after step 0) of HTCNN and CCNN.")
flags.DEFINE_integer("steps_per_epoch", 1000, "Iterations per epoch (paper: 1,000).")
flags.DEFINE_integer("shallow_steps", 10000, "Iterations per shallow CNN (paper: 10,000).")
flags.DEFINE_integer("repeats", 1, "Independent repeats per setting (paper: 9).")
flags.DEFINE_list(
    "settings", ["identical", "locality"], "Comma-separated data settings (paper section IV-B2)."
)
flags.DEFINE_integer("seed", 0, "Seed of repeat 0; repeat r uses seed + r.")
flags.DEFINE_string(
    "output_dir",
    os.path.join(REPO_ROOT, "benchmarks", "runs", "htcnn_cifar10"),
    "Folder for the run; must be new or empty, or unfinished with --resume.",
)
flags.DEFINE_boolean("resume", False, "Continue the unfinished run in --output_dir.")
flags.DEFINE_string("data_dir", None, "Folder of cifar10/ (default $KERAS_TRANSFER_DATA).")
flags.DEFINE_integer(
    "max_train_examples",
    None,
    "Cap the training set (stratified; for testing the script, not for benchmark numbers).",
)
flags.DEFINE_integer(
    "max_test_examples",
    None,
    "Cap the test set (stratified; for testing the script, not for benchmark numbers).",
)
flags.DEFINE_boolean("deterministic", True, "Deterministic TensorFlow ops, as the recipe.")
flags.DEFINE_enum(
    "precision",
    "float32",
    ["float32", "mixed_bfloat16"],
    "Keras dtype policy (mixed_bfloat16 about halves the time on this CPU).",
)
flags.DEFINE_boolean(
    "write", True, "Write the tables into benchmarks/RESULTS.md (--nowrite to only print them)."
)

DATASET = "cifar10"
SECTION = "htcnn_cifar10"
# The HTCNN paper's own results on CIFAR-10 (htcnn-hierarchical-transfer.txt,
# section IV-B3: 200 epochs of 1,000 iterations, 9 repeats, m = 4, no dropout).
# Shown only as the paper's reference, next to (never mixed with) this run's numbers.
PAPER = {
    "identical": {"aag": "0.12", "pbp": "1.0"},
    "locality": {
        "aag": "0.04",
        "pbp": 'not given as a number ("HTCNN outperforms CCNN in the entire learning processes")',
    },
}


def make_configs():
    """One validated `HTCNNConfig` per --settings entry (checked before any training)."""
    from keras_transfer.experiments import htcnn
    from keras_transfer.experiments.htcnn.config import SETTINGS

    settings = [s.strip() for s in FLAGS.settings if s.strip()]
    unknown = [s for s in settings if s not in SETTINGS]
    if not settings or unknown or len(set(settings)) != len(settings):
        raise app.UsageError(
            f"--settings must be distinct names among {SETTINGS}, received {FLAGS.settings}."
        )
    for name in ("max_train_examples", "max_test_examples"):
        if getattr(FLAGS, name) is not None and getattr(FLAGS, name) < 1:
            raise app.UsageError(f"--{name} must be >= 1.")
    return {
        s: htcnn.get_preset(
            "paper",
            dataset=DATASET,
            setting=s,
            epochs=FLAGS.epochs,
            steps_per_epoch=FLAGS.steps_per_epoch,
            shallow_steps=FLAGS.shallow_steps,
            repeats=FLAGS.repeats,
            max_train_examples=FLAGS.max_train_examples,
        )
        for s in settings
    }


def load_data(config):
    """CIFAR-10 once for all settings (the data do not depend on the setting)."""
    from keras_transfer import data as kt_data
    from keras_transfer.experiments import htcnn

    data = htcnn.load_data(config, FLAGS.data_dir, seed=FLAGS.seed)
    n = FLAGS.max_test_examples
    if n and n < len(data.test):
        keep = kt_data.shard_indices(data.test.y, max(1, len(data.test) // n), seed=FLAGS.seed)[0]
        data = dataclasses.replace(data, test=data.test.take(keep))
    return data


def run_setting(setting, config, data, output_dir):
    """All repeats of one setting; writes curves.png, history.csv and summary.json."""
    from keras_transfer import report
    from keras_transfer.experiments.contract import RunContext
    from keras_transfer.experiments.htcnn import run as htcnn_run
    from keras_transfer.experiments.htcnn.data import split_training_sets

    folder = os.path.join(output_dir, setting)
    os.makedirs(folder, exist_ok=True)
    result = htcnn_run.run(
        config,
        data,
        RunContext(
            folder, seed=FLAGS.seed, log=lambda line: print(f"{setting} {line}", flush=True)
        ),
    )
    results = result.runs
    series = {
        name.upper(): [
            [row for row in result.history if row["run"] == name and row["repeat"] == r]
            for r in range(config.repeats)
        ]
        for name in ("htcnn", "ccnn")
    }
    report.write_history(os.path.join(folder, "history.csv"), result.history)
    result.plot(os.path.join(folder, "curves.png"))
    epochs, h_acc = report.curve_matrix(series["HTCNN"])
    _, c_acc = report.curve_matrix(series["CCNN"])
    n = min(h_acc.shape[1], c_acc.shape[1])

    cloud_idx, shallow_idx = split_training_sets(config, data.train, FLAGS.seed)
    summary = {
        "benchmark": SECTION,
        "setting": setting,
        "seed": FLAGS.seed,
        "repeats": config.repeats,
        "config": dataclasses.asdict(config),
        "data": {
            "train_examples": len(data.train),
            "test_examples": len(data.test),
            "cloud_train_examples": int(len(cloud_idx)),
            "shallow_train_examples": [int(len(i)) for i in shallow_idx],
            "image_shape": list(data.input_shape),
            "num_classes": data.num_classes,
        },
        "per_epoch": {
            "epoch": [int(e) for e in epochs[:n]],
            "htcnn_accuracy_mean": [float(v) for v in h_acc[:, :n].mean(axis=0)],
            "ccnn_accuracy_mean": [float(v) for v in c_acc[:, :n].mean(axis=0)],
            "gain_mean": [float(v) for v in (h_acc[:, :n] - c_acc[:, :n]).mean(axis=0)],
        },
        "headline": result.headline,
        "runs": results,
        "process_wall_seconds": result.phase_seconds,  # this invocation only
        "curves_png": _publish_figure(os.path.join(folder, "curves.png"), setting),
    }
    report.write_json(os.path.join(folder, "summary.json"), summary)
    return summary


def _publish_figure(path, setting):
    """Copies a run's curves.png to benchmarks/figures/ (tracked; runs/ is not) when writing."""
    if not FLAGS.write:
        return path
    figures = os.path.join(REPO_ROOT, "benchmarks", "figures")
    os.makedirs(figures, exist_ok=True)
    target = os.path.join(figures, f"{SECTION}_{setting}.png")
    shutil.copyfile(path, target)
    return target


def _shown_path(path, results_dir):
    """``path`` relative to RESULTS.md's folder when inside the repository, else absolute."""
    path = os.path.abspath(path)
    inside = os.path.commonpath([path, REPO_ROOT]) == REPO_ROOT
    return os.path.relpath(path, results_dir) if inside else path


def _num(x, digits=4):
    return "n/a" if x is None else f"{x:.{digits}f}"


def _mean(stat, digits=4, repeats=None):
    """A summarize_runs dict as its mean, saying how many repeats had a value."""
    if not stat["n"]:
        return "not reached" if repeats else "n/a"
    text = _num(stat["mean"], digits)
    if repeats and stat["n"] < repeats:
        text += f" (reached in {stat['n']}/{repeats} repeats)"
    return text


def build_report(summaries, results_dir):
    """Markdown for RESULTS.md: per-epoch tables, the headline table, the paper's numbers."""
    from keras_transfer.report import markdown_table

    first = next(iter(summaries.values()))
    cfg, d = first["config"], first["data"]
    capped = cfg["max_train_examples"] or FLAGS.max_test_examples
    lines = [
        f'HTCNN vs CCNN (cloud CNN of Fig. 5) on CIFAR-10, "paper" preset: m = '
        f"{cfg['num_shallow']} shallow CNNs of {cfg['shallow_steps']:,} iterations each, "
        f"{cfg['epochs']} epochs of {cfg['steps_per_epoch']:,} iterations, batch "
        f"{cfg['batch_size']}, SGD lr {cfg['learning_rate']} momentum {cfg['momentum']}, "
        f"dropout {'on' if cfg['dropout'] else 'off'}; {cfg['repeats']} repeat(s) per setting "
        f"(seeds {FLAGS.seed}..{FLAGS.seed + cfg['repeats'] - 1}); "
        f"{d['train_examples']:,} training / {d['test_examples']:,} test images"
        + (" (**capped: a test of the script, not a benchmark result**)" if capped else "")
        + f"; deterministic ops {'on' if FLAGS.deterministic else 'off'}; "
        f"precision {FLAGS.precision}.",
        "",
        "Accuracies are test accuracies, means over repeats; times are training wall seconds "
        "(evaluation excluded) on this machine. AAG and PBP (paper eqs. 2-4) average over "
        f"epochs 1..{cfg['epochs']} of this run.",
    ]
    for setting, s in summaries.items():
        sd = s["data"]
        p = s["per_epoch"]
        rows = [
            [e, _num(h), _num(c), f"{g:+.4f}"]
            for e, h, c, g in zip(
                p["epoch"], p["htcnn_accuracy_mean"], p["ccnn_accuracy_mean"], p["gain_mean"]
            )
        ]
        lines += [
            "",
            f"### {setting}",
            "",
            f"Cloud CNNs trained on {sd['cloud_train_examples']:,} images, each shallow CNN on "
            f"{', '.join(f'{n:,}' for n in sorted(set(sd['shallow_train_examples'])))}. "
            f"Curves: ![{setting}]({_shown_path(s['curves_png'], results_dir)}).",
            "",
            markdown_table(["epoch", "HTCNN acc", "CCNN acc", "gain"], rows),
        ]
    header = [
        "setting",
        "AAG",
        "PBP",
        "epoch-1 gain",
        "HTCNN final",
        "CCNN final",
        "shallow training s",
        "HTCNN s to CCNN final",
        "HTCNN s to CCNN final (+ shallow)",
        "CCNN s to its final",
    ]
    rows = []
    for setting, s in summaries.items():
        h, n = s["headline"], s["repeats"]
        rows.append(
            [
                setting,
                _mean(h["aag"]),
                _mean(h["pbp"], 2),
                _mean(h["epoch1_gain"]),
                _mean(h["htcnn_final_accuracy"]),
                _mean(h["ccnn_final_accuracy"]),
                _mean(h["shallow_seconds"], 1),
                _mean(h["htcnn_seconds_to_ccnn_final"], 1, n),
                _mean(h["htcnn_seconds_to_ccnn_final_with_shallow"], 1, n),
                _mean(h["ccnn_seconds_to_ccnn_final"], 1, n),
            ]
        )
    lines += ["", "### Summary (this run)", "", markdown_table(header, rows)]
    lines += [
        "",
        "### The paper's numbers (for reference, not from this run)",
        "",
        "HTCNN paper, section IV-B3 (CIFAR-10, m = 4, no dropout, 200 epochs of 1,000 "
        "iterations, 9 repeats, on a GPU):",
        "",
        markdown_table(
            ["setting", "AAG (paper)", "PBP (paper)"],
            [[s, PAPER[s]["aag"], PAPER[s]["pbp"]] for s in summaries],
        ),
    ]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    # Keras warns that fit's default shuffle=True is ignored for a tf.data input
    # (the pipeline shuffles itself), once per fit: noise in the output.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
    # Everything that can be wrong with the input is checked before training.
    configs = make_configs()
    from keras_transfer import report
    from keras_transfer import run_folder

    output_dir = run_folder.prepare_output_dir(FLAGS.output_dir, FLAGS.resume)

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(FLAGS.seed)
    keras.mixed_precision.set_dtype_policy(FLAGS.precision)
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()

    t0 = time.perf_counter()
    data = load_data(next(iter(configs.values())))
    print(
        f"{DATASET}: {len(data.train)} training, {len(data.test)} test images; settings "
        f"{list(configs)}; output {output_dir}",
        flush=True,
    )
    summaries = {s: run_setting(s, config, data, output_dir) for s, config in configs.items()}

    results_path = os.path.join(REPO_ROOT, "benchmarks", "RESULTS.md")
    markdown = build_report(summaries, os.path.dirname(results_path))
    report.write_json(
        os.path.join(output_dir, "summary.json"),
        {
            "benchmark": SECTION,
            "argv": sys.argv,
            "resumed": FLAGS.resume,
            "process_wall_seconds": time.perf_counter() - t0,
            "settings": {s: summaries[s]["headline"] for s in summaries},
        },
    )
    from benchmarks.results import publish

    print()
    publish(SECTION, markdown, FLAGS.write, results_path)


if __name__ == "__main__":
    app.run(main)
