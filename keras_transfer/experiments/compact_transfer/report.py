"""Compact-CNN transfer's headline: accuracy per student width, gap closed, size and latency.

Reads `keras_transfer.experiments.compact_transfer.run_experiment`'s result
and the trained models (exported to TFLite for their size and latency); no
training.
"""

import os

from keras_transfer import export as kt_export
from keras_transfer import metrics
from keras_transfer.experiments.compact_transfer.students import student_name
from keras_transfer.models.compact import count_flops


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
    """
    out = {}
    for name, model in models.items():
        row = {"parameters": int(model.count_params()), "flops": count_flops(model)}
        for quant in kt_export.TFLITE_QUANTIZATIONS:
            path = kt_export.export_tflite(
                model, os.path.join(directory, f"{name}_{quant}.tflite"), quantization=quant
            )
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
    from keras_transfer.report import mean_range
    from keras_transfer.report import text_table

    def stat(s):
        return mean_range(s, 3)

    rows = [
        [
            "teacher",
            f"{head['teacher_accuracy']:.3f}",
            "",
            "",
            f"{deployment['teacher']['parameters']:,}",
            f"{deployment['teacher']['latency_seconds'] * 1e3:.3f}",
        ]
    ]
    for w in config.student_widths:
        h, dep = head["widths"][str(w)], deployment[student_name("distilled", w)]
        gap = "-" if h["gap_closed"] is None else f"{h['gap_closed']:+.2f}"
        rows.append(
            [
                f"student w{w}",
                stat(h["student_alone_accuracy"]),
                stat(h["student_distilled_accuracy"]),
                gap,
                f"{dep['parameters']:,}",
                f"{dep['latency_seconds'] * 1e3:.3f}",
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
