"""Compact-CNN transfer's headline: accuracy per student width, gap closed, size and latency.

Reads `keras_transfer.experiments.compact_transfer.run_experiment`'s result
and the trained models (exported to TFLite for their size and latency), or
runs' summary.json files (`markdown` and `teacher_size_markdown`, the
benchmarks' RESULTS.md sections); no training.
"""

import os

from keras_transfer import export as kt_export
from keras_transfer import metrics
from keras_transfer.experiments.compact_transfer.students import student_name
from keras_transfer.models.compact import count_flops
from keras_transfer.report import markdown_table
from keras_transfer.report import mean_range
from keras_transfer.report import ran_on

TIME_LIMIT_SECONDS = 40 * 60  # the budget for the quick preset on 2 cores


def deployment_report(models, image_shape, directory, latency_runs=200):
    """Parameters, FLOPs, TFLite file sizes and single-thread TFLite latency per image.

    Args:
        models: mapping name -> Keras model.
        image_shape: input image shape.
        directory: where the ``.tflite`` files are written.

    Returns:
        ``{name: {"parameters", "flops", "tflite_float32_bytes",
        "tflite_dynamic_range_bytes", "latency_seconds"}}`` (latency of the
        float32 TFLite model, median over ``latency_runs`` batch-1 runs).

    Example:
    >>> import tempfile
    >>> import keras
    >>> model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(2)])
    >>> row = deployment_report({"m": model}, (4, 4, 1), tempfile.mkdtemp(), latency_runs=2)["m"]
    >>> row["parameters"], row["flops"], row["latency_seconds"] > 0
    (34, 66, True)
    """
    out = {}
    for name, model in models.items():
        row = {"parameters": int(model.count_params()), "flops": count_flops(model)}
        for quant, path in kt_export.export_tflite_files(model, directory, name).items():
            row[f"tflite_{quant}_path"] = path
            row[f"tflite_{quant}_bytes"] = os.path.getsize(path)
        row["latency_seconds"] = kt_export.tflite_latency(
            row["tflite_float32_path"], image_shape, runs=latency_runs
        )
        out[name] = row
    return out


def headline(results, deployment=None):
    """Teacher accuracy; per width alone vs distilled, gain and the fraction of the gap closed.

    ``gap_closed = (distilled - alone) / (teacher - alone)`` (means over
    repeats): 1 means distillation brought the student to the teacher, 0 no
    change, negative a loss; ``None`` where the student alone is already at or
    above the teacher (nothing to close).

    Example:
    >>> h = headline({"teacher_accuracy": {"finetune": 0.8},
    ...               "students": {4: {"alone": [0.6, 0.62], "distilled": [0.65, 0.67]}}})
    >>> round(h["widths"]["4"]["distillation_gain"], 6), round(h["widths"]["4"]["gap_closed"], 4)
    (0.05, 0.2632)
    """
    teacher = results["teacher_accuracy"]["finetune"]
    out = {"teacher_accuracy": teacher, "widths": {}}
    for width, row in results["students"].items():
        alone = metrics.summarize_runs(row["alone"])
        dist = metrics.summarize_runs(row["distilled"])
        gain = dist["mean"] - alone["mean"]
        gap = teacher - alone["mean"]
        entry = {
            "student_alone_accuracy": alone,
            "student_distilled_accuracy": dist,
            "distillation_gain": gain,
            "gap_closed": gain / gap if gap > 0 else None,
            "wins": sum(d > a for a, d in zip(row["alone"], row["distilled"])),
        }
        if deployment:
            t, s = deployment["teacher"], deployment[student_name("distilled", width)]
            entry.update(
                size_ratio_teacher_over_student=t["parameters"] / s["parameters"],
                tflite_size_ratio_teacher_over_student=(
                    t["tflite_float32_bytes"] / s["tflite_float32_bytes"]
                ),
                flops_ratio_teacher_over_student=t["flops"] / s["flops"],
                latency_ratio_teacher_over_student=t["latency_seconds"] / s["latency_seconds"],
            )
        out["widths"][str(width)] = entry
    return out


def headline_table(config, head, deployment):
    """Teacher and students (alone / distilled), gap closed, size and TFLite latency.

    ``deployment`` is `deployment_report`'s rows by model name; a model
    without one (a run with ``deployment=False``) shows ``-`` there.

    Example:
    >>> h = headline({"teacher_accuracy": {"finetune": 0.8},
    ...               "students": {4: {"alone": [0.6], "distilled": [0.65]}}})
    >>> dep = {"teacher": {"parameters": 1000, "latency_seconds": 0.002},
    ...        "student_distilled_w4": {"parameters": 100, "latency_seconds": 0.0001}}
    >>> from keras_transfer.experiments.compact_transfer.config import get_preset
    >>> table = headline_table(get_preset("quick", student_widths=(4,)), h, dep)
    >>> table.splitlines()[3].split("|")[1:5]
    [' student w4 ', ' 0.600 (0.600-0.600) ', ' 0.650 (0.650-0.650) ', ' +0.25      ']
    """
    from keras_transfer.report import text_table

    def stat(s):
        return mean_range(s, 3)

    def deployed(name):  # "-" where the run measured no deployment (deployment=False)
        row = deployment.get(name)
        if not row:
            return ["-", "-"]
        return [f"{row['parameters']:,}", f"{row['latency_seconds'] * 1e3:.3f}"]

    rows = [["teacher", f"{head['teacher_accuracy']:.3f}", "", "", *deployed("teacher")]]
    for w in config.student_widths:
        h = head["widths"][str(w)]
        gap = "-" if h["gap_closed"] is None else f"{h['gap_closed']:+.2f}"
        rows.append(
            [
                f"student w{w}",
                stat(h["student_alone_accuracy"]),
                stat(h["student_distilled_accuracy"]),
                gap,
                *deployed(student_name("distilled", w)),
            ]
        )
    return text_table(
        [
            "model",
            "alone (min-max)",
            "distilled (min-max)",
            "gap closed",
            "parameters",
            "TFLite ms",
        ],
        rows,
    )


def plot_accuracies(path, config, teacher_accuracy, students):
    """Bars of the teacher's and every width's alone/distilled accuracies (mean, min-max).

    Example:
    >>> import tempfile
    >>> from keras_transfer.experiments.compact_transfer.config import get_preset
    >>> plot_accuracies(tempfile.mkdtemp() + "/c.png", get_preset("quick", student_widths=(4,)),
    ...                 {"finetune": 0.9}, {4: {"alone": [0.5, 0.6], "distilled": [0.7, 0.7]}})
    """
    from keras_transfer import report

    groups = {"teacher": [teacher_accuracy["finetune"]]}
    for w in config.student_widths:
        groups[f"w{w} alone"] = students[w]["alone"]
        groups[f"w{w} distilled"] = students[w]["distilled"]
    report.plot_bars(
        path,
        groups,
        title=f"Compact transfer on {config.dataset} ({config.repeats} repeats per width)",
        ylabel="Test accuracy",
    )


def _teacher_text(summary):
    cfg, data = summary["settings"], summary["data"]
    if cfg["backbone_weights"] == "source":
        source = (
            f"pre-trained from scratch on {cfg['source_dataset']} "
            f"({data['source_train_examples']:,} images, {cfg['source_steps']} Adam steps; "
            f"test accuracy {summary['source_test_accuracy']:.4f})"
        )
    else:
        source = f"weights {cfg['backbone_weights']}"
    if cfg["finetune_mode"] == "cached":
        how = (
            f"the frozen layers up to {cfg['finetune_from']} run once over the target images "
            f"(features cached), then {cfg['head_steps']} steps head only (Adam "
            f"{cfg['head_lr']}) and {cfg['finetune_steps']} steps of the layers after "
            f"{cfg['finetune_from']} + head (Adam {cfg['finetune_lr']}) on the cached "
            f"features, BatchNorm in inference mode"
        )
    else:
        how = (
            f"{cfg['head_steps']} steps head only (Adam {cfg['head_lr']}), then "
            f"{cfg['finetune_steps']} steps every layer (Adam {cfg['finetune_lr']}) on images"
        )
    return (
        f"Teacher: {cfg['backbone']} {source}, fine-tuned at {cfg['teacher_image_size']}px: "
        f"{how}, batch {cfg['batch_size']}."
    )


def markdown(summaries):
    """The compact-transfer benchmark's RESULTS.md section from runs' summary.json dicts.

    Per run (a ``###`` heading each when there are several): where it ran,
    the data and settings, the teacher's accuracy, the students per width
    (alone and distilled over seeds, gap closed) and per seed, the deployment
    table (parameters, FLOPs, TFLite sizes and latency) with the
    teacher/student ratios, and the recipe's seconds per phase. Reads
    nothing but ``summaries`` (run name -> summary.json dict with ``ran_on``).

    Example:
    >>> import dataclasses
    >>> from keras_transfer.experiments.compact_transfer.config import get_preset
    >>> dep = {name: {"parameters": p, "flops": 10 * p, "tflite_float32_bytes": 4096 * p,
    ...               "tflite_dynamic_range_bytes": 1024 * p, "latency_seconds": p / 1e6}
    ...        for name, p in (("teacher", 1000), ("student_distilled_w4", 100))}
    >>> measured = {"teacher_accuracy": {"head": 0.7, "finetune": 0.8},
    ...             "students": {"4": {"alone": [0.6], "distilled": [0.65]}}}
    >>> wall = {"load_data": 1.0, "pretrain": 0.0, "finetune": 5.0, "feature_cache": 1.0,
    ...         "teacher_logits": 1.0, "students": {"alone": 2.0, "distilled": 3.0},
    ...         "deployment": 4.0, "total": 17.0}
    >>> summary = {"settings": dataclasses.asdict(get_preset("quick", student_widths=(4,))),
    ...     "dataset": "cifar10", "repeats": 1, "data": {"target_train_examples": 100,
    ...     "test_examples": 50}, **measured, "headline": headline(measured, dep),
    ...     "deployment": dep, "wall_seconds": wall}
    >>> lines = markdown({"quick": summary}).splitlines()
    >>> print("\\n".join(line for line in lines if line.startswith("| 4 |")))
    | 4 | 100 | 0.6000 (0.6000-0.6000) | 0.6500 (0.6500-0.6500) | +0.0500 | 1 of 1 | +0.25 |
    | 4 | 0 | 0.6000 | 0.6500 | +0.0500 |
    >>> lines[-1]
    'Whole recipe 0.3 min (target < 40 min: met).'
    """
    parts = []
    for name, summary in summaries.items():
        heading = [f"### {name}", ""] if len(summaries) > 1 else []
        where = ran_on(summary)
        parts.append("\n".join([*heading, *([where, ""] if where else []), _run(summary)]))
    return "\n\n".join(parts)


def _run(summary):
    """One run's part of `markdown`, after where it ran."""
    cfg, head, dep = summary["settings"], summary["headline"], summary["deployment"]
    if not dep:
        raise ValueError(
            "Expected summaries of runs with deployment numbers (the section's deployment "
            "table), received one with deployment=False; run it without --nodeployment."
        )
    wall, data, repeats = summary["wall_seconds"], summary["data"], summary["repeats"]
    teacher = summary["teacher_accuracy"]
    widths = list(head["widths"])
    logits = "recomputed per batch (augmentation)" if cfg["augment"] else "cached"
    lines = [
        f"Target {summary['dataset']}: {data['target_train_examples']:,} training images, "
        f"{data['test_examples']:,} test images. {_teacher_text(summary)} Students: compact "
        f"CNN depth {cfg['student_depth']}, widths {', '.join(widths)}, {cfg['student_steps']} "
        f"SGD steps of {cfg['student_batch_size']} (lr {cfg['student_lr']}, cosine), the same "
        f"initial weights and batches alone and distilled (alpha {cfg['alpha']}, T "
        f"{cfg['temperature']}, teacher logits {logits}); {repeats} seeds per width.",
        "",
        markdown_table(
            ["teacher", "test accuracy"],
            [["head only", f"{teacher['head']:.4f}"], ["fine-tuned", f"{teacher['finetune']:.4f}"]],
        ),
        "",
        "Students per width (mean, min-max over seeds; gap closed = (distilled - alone) / "
        "(teacher - alone)):",
        "",
        markdown_table(
            ["width", "parameters", "alone", "distilled", "distilled - alone"]
            + ["seeds distilled > alone", "gap closed"],
            [
                [
                    w,
                    f"{dep[student_name('distilled', w)]['parameters']:,}",
                    mean_range(h["student_alone_accuracy"]),
                    mean_range(h["student_distilled_accuracy"]),
                    f"{h['distillation_gain']:+.4f}",
                    f"{h['wins']} of {repeats}",
                    "- (alone >= teacher)"
                    if h["gap_closed"] is None
                    else f"{h['gap_closed']:+.2f}",
                ]
                for w, h in head["widths"].items()
            ],
        ),
        "",
        "Per seed (same seed: same initial weights and batches):",
        "",
        markdown_table(
            ["width", "seed", "alone", "distilled", "distilled - alone"],
            [
                [w, i, f"{a:.4f}", f"{d:.4f}", f"{d - a:+.4f}"]
                for w, row in summary["students"].items()
                for i, (a, d) in enumerate(zip(row["alone"], row["distilled"]))
            ],
        ),
        "",
        "Deployment (TFLite latency: float32 model, batch 1, interpreter on 1 thread, median; "
        "a width's alone and distilled students share the architecture):",
        "",
        markdown_table(
            ["model", "parameters", "FLOPs per image", "TFLite float32 KB"]
            + ["TFLite dynamic-range KB", "latency ms"],
            [
                [
                    name,
                    f"{r['parameters']:,}",
                    f"{r['flops']:,}",
                    f"{r['tflite_float32_bytes'] / 1024:,.0f}",
                    f"{r['tflite_dynamic_range_bytes'] / 1024:,.0f}",
                    f"{r['latency_seconds'] * 1e3:.3f}",
                ]
                for name, r in dep.items()
            ],
        ),
        "",
        markdown_table(
            ["teacher / student", *[f"width {w}" for w in widths]],
            [
                [label, *[f"{head['widths'][w][key]:.1f}x" for w in widths]]
                for label, key in (
                    ("parameters", "size_ratio_teacher_over_student"),
                    ("TFLite file", "tflite_size_ratio_teacher_over_student"),
                    ("FLOPs", "flops_ratio_teacher_over_student"),
                    ("latency", "latency_ratio_teacher_over_student"),
                )
            ],
        ),
        "",
    ]
    students = wall["students"]
    phases = [
        ["load data", wall["load_data"]],
        ["source pre-training", wall["pretrain"]],
        ["teacher fine-tuning (incl. feature caching)", wall["finetune"]],
        [
            "  of which feature caching (lower part, train + test images)",
            wall.get("feature_cache", 0.0),
        ],
        ["teacher logits (once)", wall["teacher_logits"]],
        ["students alone (training, all widths and seeds)", students["alone"]],
        ["students distilled (training, all widths and seeds)", students["distilled"]],
        ["deployment (TFLite files and latency)", wall.get("deployment")],
        ["whole recipe (incl. evaluation, TFLite, export)", wall["total"]],
    ]
    met = "met" if wall["total"] < TIME_LIMIT_SECONDS else "NOT met"
    lines += [
        markdown_table(["phase", "seconds"], [[p, f"{s:.0f}"] for p, s in phases if s is not None]),
        "",
        f"Whole recipe {wall['total'] / 60:.1f} min (target < {TIME_LIMIT_SECONDS // 60} min: "
        f"{met}).",
    ]
    return "\n".join(lines)


def teacher_size_markdown(summaries):
    """The teacher-size benchmark's RESULTS.md section: per teacher side, accuracy and cost.

    ``summaries``: run name -> summary.json dict (with ``ran_on``) of runs
    that differ in ``teacher_image_size`` only; the teacher's numbers are
    read, the (minimal) students' are not. Reads nothing else.

    Example:
    >>> import dataclasses
    >>> from keras_transfer.experiments.compact_transfer.config import get_preset
    >>> summaries = {str(side): {"preset": "quick", "dataset": "cifar10", "seed": 0,
    ...     "settings": dataclasses.asdict(get_preset("quick", teacher_image_size=side)),
    ...     "data": {"target_train_examples": 10000, "test_examples": 10000},
    ...     "teacher_accuracy": {"head": 0.66, "finetune": 0.78},
    ...     "deployment": {"teacher": {"latency_seconds": 0.0012}},
    ...     "wall_seconds": {"feature_cache": 19.0, "finetune": 164.0}} for side in (64, 96)}
    >>> print(teacher_size_markdown(summaries).splitlines()[-1])
    | 96 | 0.6600 | 0.7800 | 19 | 164 | 1.200 |
    """
    first = next(iter(summaries.values()))
    cfg, data = first["settings"], first["data"]
    rows = [
        [
            s["settings"]["teacher_image_size"],
            f"{s['teacher_accuracy']['head']:.4f}",
            f"{s['teacher_accuracy']['finetune']:.4f}",
            f"{s['wall_seconds']['feature_cache']:.0f}",
            f"{s['wall_seconds']['finetune']:.0f}",
            f"{s['deployment']['teacher']['latency_seconds'] * 1e3:.3f}",
        ]
        for s in summaries.values()
    ]
    runs = [
        f"- {s['settings']['teacher_image_size']} px: {ran_on(s)}"
        for s in summaries.values()
        if ran_on(s)
    ]
    return "\n".join(
        [
            f"Teacher phase of the compact-transfer {first['preset']} preset on "
            f"{first['dataset']} ({data['target_train_examples']:,} training, "
            f"{data['test_examples']:,} test images): {cfg['backbone']} "
            f"({cfg['backbone_weights']}), fine-tuning mode {cfg['finetune_mode']} (from "
            f"{cfg['finetune_from']}), {cfg['head_steps']} head + {cfg['finetune_steps']} "
            f"fine-tuning steps of {cfg['batch_size']}; seed {first['seed']}, one recipe run "
            f"per side (its students made minimal: only the teacher's numbers are read). "
            f"Latency: the float32 TFLite teacher, batch 1, 1 thread, median.",
            "",
            markdown_table(
                [
                    "teacher side px",
                    "head-only accuracy",
                    "fine-tuned accuracy",
                    "feature caching s (train + test)",
                    "whole teacher phase s",
                    "teacher TFLite latency ms",
                ],
                rows,
            ),
            *(["", *runs] if runs else []),
        ]
    )
