"""Plots: learning curves (mean and min-max band), accuracy against time, bars; atomic saves.

Matplotlib is imported when a plot is drawn, on the non-interactive Agg backend.
"""

import os

import numpy as np

from keras_transfer.files import atomic_path


def curve_matrix(curves):
    """Stacks per-repeat curves (lists of rows) into epochs and an accuracy matrix.

    Repeats cut short (a deadline) are truncated to the shortest.

    Example:
    >>> rows = [{"epoch": 0, "test_accuracy": 0.1}, {"epoch": 1, "test_accuracy": 0.5}]
    >>> curve_matrix([rows, rows])[1].shape
    (2, 2)
    """
    n = min(len(c) for c in curves)
    epochs = np.asarray([r["epoch"] for r in curves[0][:n]])
    acc = np.asarray([[r["test_accuracy"] for r in c[:n]] for c in curves], np.float64)
    return epochs, acc


def save_figure(fig, path, dpi=120):
    """``fig.savefig(path)`` atomically (the format from the suffix, e.g. ``.png``).

    Example:
    >>> import tempfile
    >>> fig, ax = _new_axes(); p = tempfile.mkdtemp() + "/f.png"; save_figure(fig, p)
    >>> os.path.getsize(p) > 0
    True
    """
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=os.path.splitext(path)[1].lstrip(".") or None)


def _new_axes():
    """A figure and axes on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 4.5))


def _save(fig, ax, path, title, xlabel, ylabel):
    """Labels, grid and legend, then writes ``path`` and closes the figure."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def plot_curves(path, series, title="", xlabel="Epoch", ylabel="Testing accuracy"):
    """Saves a learning-curve plot like the HTCNN paper's Figs. 8-11.

    Each series is drawn as its mean over repeats with a min/max band.

    Args:
        path: PNG file to write.
        series: mapping label -> list of per-repeat curves (lists of rows with
            ``epoch`` and ``test_accuracy``).

    Example:
    >>> import tempfile
    >>> rows = [{"epoch": 0, "test_accuracy": 0.1}, {"epoch": 1, "test_accuracy": 0.5}]
    >>> plot_curves(tempfile.mkdtemp() + "/c.png", {"CCNN": [rows]})
    """
    fig, ax = _new_axes()
    for label, curves in series.items():
        epochs, acc = curve_matrix(curves)
        (line,) = ax.plot(epochs, acc.mean(axis=0), marker="o", markersize=3, label=label)
        ax.fill_between(epochs, acc.min(axis=0), acc.max(axis=0), alpha=0.2, color=line.get_color())
    _save(fig, ax, path, title, xlabel, ylabel)


def plot_time_curves(
    path, series, markers=(), title="", xlabel="Training wall time (s)", ylabel="Testing accuracy"
):
    """Saves accuracy against wall time, like the coarse-to-fine paper's Figs. 5-6 and 10.

    Repeats take different times, so each repeat is its own line (one colour
    per series) instead of a mean.

    Args:
        path: PNG file to write.
        series: mapping label -> list of per-repeat curves (rows with
            ``wall_seconds`` and ``test_accuracy``).
        markers: ``(seconds, text)`` pairs drawn as dotted vertical lines
            (e.g. the transforms between resolutions).

    Example:
    >>> import tempfile
    >>> rows = [{"wall_seconds": 0, "test_accuracy": 0.1},
    ...         {"wall_seconds": 9, "test_accuracy": 0.5}]
    >>> plot_time_curves(tempfile.mkdtemp() + "/t.png", {"incremental": [rows]}, [(4.0, "16px")])
    """
    fig, ax = _new_axes()
    for k, (label, curves) in enumerate(series.items()):
        color = f"C{k}"
        for r, rows in enumerate(curves):
            ax.plot(
                [row["wall_seconds"] for row in rows],
                [row["test_accuracy"] for row in rows],
                color=color,
                marker="o",
                markersize=2,
                alpha=0.85,
                label=label if r == 0 else None,
            )
    for seconds, text in markers:
        ax.axvline(seconds, color="gray", linestyle=":", linewidth=1)
        ax.annotate(
            text,
            (seconds, 0),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=8,
            color="gray",
            xycoords=("data", "axes fraction"),
        )
    _save(fig, ax, path, title, xlabel, ylabel)


def plot_bars(path, groups, title="", ylabel="Testing accuracy"):
    """Bar chart of the mean per group with min-max error bars and every run as a dot.

    Args:
        path: PNG file to write.
        groups: mapping label -> list of values (one per run/repeat).

    Example:
    >>> import tempfile
    >>> plot_bars(tempfile.mkdtemp() + "/b.png", {"alone": [0.6, 0.62], "distilled": [0.65]})
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(groups)
    values = [np.asarray(groups[k], float) for k in labels]
    means = [v.mean() for v in values]
    err = np.array(
        [[m - v.min() for m, v in zip(means, values)], [v.max() - m for m, v in zip(means, values)]]
    )
    fig, ax = plt.subplots(figsize=(1.8 * len(labels) + 2, 4))
    ax.bar(labels, means, yerr=err, capsize=6, color="#9ecae1", edgecolor="#3182bd")
    for i, v in enumerate(values):
        ax.plot(np.full(len(v), i), v, "o", color="#08519c", ms=4)
    low = min(v.min() for v in values)
    ax.set_ylim(max(0.0, low - 0.1), min(1.0, max(v.max() for v in values) + 0.05))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
