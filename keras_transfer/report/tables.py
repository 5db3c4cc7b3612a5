"""Tables for the console and markdown, and the one way numbers over repeats are written."""


def mean_range(stat, digits=4, percent=False, signed=False, missing="-"):
    """A `keras_transfer.metrics.summarize_runs` dict as ``mean (min-max)``.

    Every table of the package and of ``benchmarks/`` writes repeated
    measurements this way.

    Args:
        stat: ``{"mean", "min", "max"}`` (``mean`` ``None``: nothing measured).
        digits: decimals.
        percent: values are fractions written as percentages (``12.50%``).
        signed: a leading sign on every number (differences), the range
            joined by ``to`` so the signs read clearly.
        missing: the text when nothing was measured.

    Example:
    >>> stat = {"mean": 0.1234, "min": 0.1, "max": 0.15, "n": 2}
    >>> mean_range(stat), mean_range(stat, 2, percent=True), mean_range(stat, 3, signed=True)
    ('0.1234 (0.1000-0.1500)', '12.34% (10.00-15.00)', '+0.123 (+0.100 to +0.150)')
    >>> mean_range({"mean": None, "min": None, "max": None, "n": 0})
    '-'
    """
    if stat.get("mean") is None:
        return missing
    scale, unit = (100.0, "%") if percent else (1.0, "")
    spec = f"{'+' if signed else ''}.{digits}f"
    mean, low, high = (format(scale * stat[k], spec) for k in ("mean", "min", "max"))
    return f"{mean}{unit} ({low}{' to ' if signed else '-'}{high})"


def ran_on(summary, command=True, short=False):
    """Where and when a benchmark run ran, from its kept ``ran_on``; ``None`` without one.

    ``summary["ran_on"]`` holds the date, the machine (CPU count and model,
    platform, Python, TensorFlow and Keras versions) and the recipe command
    (`benchmarks.sweep` keeps it beside every run).

    Example:
    >>> info = {"date": "2026-12-06", "cpu_count": "2", "cpu_model": "Xeon",
    ...         "platform": "Linux", "python": "3.11", "tensorflow": "2.21", "keras": "3.15",
    ...         "command": "python r.py"}
    >>> print(ran_on({"ran_on": info}))
    Ran 2026-12-06 on 2 CPUs Xeon (Linux, Python 3.11, TensorFlow 2.21, Keras 3.15): `python r.py`
    >>> ran_on({"ran_on": info}, short=True), ran_on({})
    ('2026-12-06 on 2 CPUs Xeon', None)
    """
    m = summary.get("ran_on")
    if not m:
        return None
    where = f"{m['date']} on {m['cpu_count']} CPUs {m['cpu_model']}"
    if short:
        return where
    software = f"{m['platform']}, Python {m['python']}, TensorFlow {m['tensorflow']}"
    text = f"Ran {where} ({software}, Keras {m['keras']})"
    return text + (f": `{m['command']}`" if command and m.get("command") else "")


def text_table(header, rows):
    """A table for the console and markdown alike: columns padded, numbers right-aligned.

    Floats are rounded to 4 decimals (use strings for other formats).

    Example:
    >>> print(text_table(["run", "accuracy"], [["htcnn", 0.98765], ["ccnn", 0.9]]))
    | run   | accuracy |
    |-------|---------:|
    | htcnn |   0.9877 |
    | ccnn  |   0.9000 |
    """
    cells = [[f"{c:.4f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    header = [str(h) for h in header]
    widths = [max(len(r[i]) for r in [header] + cells) for i in range(len(header))]
    numeric = [all(_is_number(r[i]) for r in cells) and cells for i in range(len(header))]

    def line(row):
        return (
            "| "
            + " | ".join(
                c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric)
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join("-" * (w + 1) + (":" if num else "-") for w, num in zip(widths, numeric))
        + "|"
    )
    return "\n".join([line(header), rule] + [line(r) for r in cells])


def _is_number(text):
    try:
        float(text.replace(",", "").replace("%", "").replace("+", "").split(" ")[0])
        return True
    except ValueError:
        return False


def markdown_table(header, rows):
    """A GitHub-markdown table.

    Example:
    >>> print(markdown_table(["a", "b"], [[1, 2]]))
    | a | b |
    |---|---|
    | 1 | 2 |
    """
    lines = [
        "| " + " | ".join(str(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
