"""Reports: paper-style learning-curve plots, markdown tables, run folders and summary files."""

import csv
import io
import json
import os
import shutil

import numpy as np

from keras_transfer import locks
from keras_transfer.files import atomic_path
from keras_transfer.files import remove_stale
from keras_transfer.files import write_text

HISTORY_FIELDS = ("run", "repeat", "epoch", "step", "wall_seconds", "train_loss", "test_accuracy")


RUN_SETTINGS = "run_settings.json"
MIN_FREE_BYTES = 200 * 2**20  # a run's files and exports take tens of MB; refuse below this


def check_output_dir(path, resume=False, settings=None):
    """Refuses an output folder that would mix, overwrite or fail to hold a run; creates nothing.

    A folder another process is running in (`locks.holder`) is refused; so is
    one holding a finished run (``summary.json``), or files that are not a run
    of this package (no ``run_settings.json``). One holding an unfinished run
    is refused unless ``resume``, and then also if ``settings`` differ from
    the ``run_settings.json`` the run started with (naming the differing
    fields; the data's fingerprints under ``"data"`` are compared when both
    have them, naming the dataset and split). A dangling symbolic link, a
    location that cannot be written, or with less than `MIN_FREE_BYTES`
    free, is refused too.

    Example:
    >>> import tempfile
    >>> check_output_dir(tempfile.mkdtemp() + "/run")
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"Expected --output_dir to be a folder, received the file {path!r}; "
                         f"choose a folder name.")
    if os.path.isdir(path):
        pid = locks.holder(path)
        if pid is not None:
            raise locks.FolderInUse(str(locks._in_use(path, pid)))
        _check_contents(path, resume, settings)
    check_writable(path)


def _check_contents(path, resume, settings):
    entries = sorted(e for e in os.listdir(path) if e != locks.LOCK_NAME)
    if not entries:
        return
    if "summary.json" in entries:
        raise ValueError(
            f"Expected an empty or new --output_dir, received {path!r} which holds a finished "
            "run (summary.json); choose another folder (nothing was overwritten).")
    if RUN_SETTINGS not in entries:
        shown = ", ".join(repr(e) for e in entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ValueError(
            f"Expected an empty or new --output_dir, received {path!r} which holds "
            f"{len(entries)} entries that are not a run of this package ({shown}; no "
            f"{RUN_SETTINGS}); choose an empty or new folder (nothing was touched).")
    if not resume:
        raise ValueError(
            f"Expected an empty or new --output_dir, received {path!r} which holds an "
            "unfinished run; pass --resume to continue it, or choose another folder.")
    if settings is not None:
        _check_same_settings(path, settings)


def _check_same_settings(path, settings):
    stored_path = os.path.join(path, RUN_SETTINGS)
    try:
        with open(stored_path) as f:
            stored = json.load(f)
    except (ValueError, OSError) as error:
        stored = error
    if not isinstance(stored, dict):
        raise ValueError(f"Expected {stored_path} to hold the settings the run started with "
                         f"(a JSON object), received {str(stored)[:80]!r}; the file was changed "
                         f"by hand: restore it or start a new run in another folder.")
    given = json.loads(json.dumps(settings, default=str))
    stored_data, given_data = stored.pop("data", None), given.pop("data", None)
    stored, given = _flat(stored), _flat(given)
    differ = sorted(k for k in set(stored) | set(given) if stored.get(k) != given.get(k))
    if differ:
        shown = ", ".join(f"{k} {stored.get(k)!r} -> {given.get(k)!r}" for k in differ[:6])
        raise ValueError(
            f"Expected --resume with the settings the run in {path!r} started with, received "
            f"different ones ({shown}); resume with the old values or start a new run in "
            f"another folder.")
    if stored_data is not None and given_data is not None:
        _check_same_data(path, stored_data, given_data)


def _check_same_data(path, stored, given):
    """Refuses ``--resume`` on data other than the run's (a mix of two datasets' trainings)."""
    changed = sorted(k for k in set(stored) | set(given) if stored.get(k) != given.get(k))
    if changed:
        key = changed[0]
        was, now = stored.get(key), given.get(key)
        what = (f"{was['examples']} examples (sha256 {was['sha256'][:12]}) -> "
                f"{now['examples']} examples (sha256 {now['sha256'][:12]})" if was and now
                else ("not loaded before" if not was else "not loaded now"))
        name, _, split = key.rpartition("/")
        raise ValueError(
            f"Expected --resume on the data the run in {path!r} started with, received changed "
            f"data: dataset {name!r}, split {split!r} ({what}); restore the old files or start "
            f"a new run in another folder.")


def _flat(settings, prefix=""):
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def check_writable(path, flag="--output_dir"):
    """Refuses ``path`` unless its nearest existing folder accepts a file and has room for a run.

    Creates nothing but a temporary file it removes at once; used before any
    training for every folder a run will write (``--output_dir``,
    ``--export_dir``), so a run cannot train for hours and then fail to save.

    Args:
        path: a folder that may not exist yet.
        flag: the flag that named it, for the error message.

    Example:
    >>> import tempfile
    >>> check_writable(tempfile.mkdtemp() + "/new/run")
    >>> check_writable("/proc/no_such_run", "--export_dir")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected a writable location for --export_dir '/proc/no_such_run', ...
    """
    import tempfile

    _check_path_names(path, flag)
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        if os.path.islink(parent):
            raise ValueError(f"Expected {flag} to be a folder or a new name, received "
                             f"{path!r} through a symbolic link to the missing "
                             f"{os.readlink(parent)!r}; create its target or choose another "
                             f"location.")
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"Expected {flag} {path!r} inside a folder, received a path "
                         f"through the file {parent!r}; choose another location.")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ValueError(f"Expected a writable location for {flag} {path!r}, received "
                         f"{parent!r} which refuses files ({error.strerror}); choose another "
                         f"location.") from None
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise ValueError(f"Expected at least {MIN_FREE_BYTES // 2**20} MB free for "
                         f"{flag} {path!r}, received {free // 2**20} MB free; free "
                         f"space or choose another location.")


def claim_output_dir(path, resume=False, settings=None):
    """Creates ``path`` for a run after `check_output_dir` and locks it; returns the lock.

    The folder is locked (`locks.FolderLock`) before it is checked a second
    time and changed: of two processes started together on one folder, one
    runs and the other is refused. A new run stores ``settings`` (or ``{}``)
    in ``run_settings.json``, which marks the folder as a run; a resumed one
    first drops the temporary files a killed run left (`files.remove_stale`).
    Release the lock (or end the process) when the run ends; a refused
    claim leaves no folder it created.

    Example:
    >>> import tempfile
    >>> with claim_output_dir(tempfile.mkdtemp() + "/run", settings={"seed": 0}) as lock:
    ...     sorted(os.listdir(lock.folder))
    ['.lock', 'run_settings.json']
    """
    check_output_dir(path, resume, settings)
    try:  # one process creates the folder; a refusal removes only what this one made
        os.makedirs(path)
        created = True
    except FileExistsError:
        created = False
    lock = locks.FolderLock(path)  # FolderInUse: another process has it; touch nothing
    try:
        _check_contents(path, resume, settings)  # again: another process may have finished
        remove_stale(path)
        stored = os.path.join(path, RUN_SETTINGS)
        if not os.path.exists(stored):
            write_json(stored, settings or {})
    except BaseException:
        if created and os.listdir(path) == [locks.LOCK_NAME]:
            os.remove(os.path.join(path, locks.LOCK_NAME))
            os.rmdir(path)
        lock.release()
        raise
    return lock


def _check_path_names(path, flag):
    """Refuses a path with a name longer than the file system takes (255 bytes on most)."""
    limit = 255
    longest = max((p for p in os.path.abspath(path).split(os.sep)), key=lambda p: len(p.encode()))
    if len(longest.encode()) > limit:
        raise ValueError(f"Expected {flag} with names of at most {limit} bytes, received a name "
                         f"of {len(longest.encode())} ({longest[:24]!r}...); choose a shorter "
                         f"one.")


def prepare_output_dir(path, resume=False, settings=None):
    """`claim_output_dir` without keeping the lock (a script that runs alone); returns ``path``.

    Example:
    >>> import tempfile
    >>> prepare_output_dir(tempfile.mkdtemp() + "/run", settings={"seed": 0})  # doctest: +ELLIPSIS
    '...run'
    """
    claim_output_dir(path, resume, settings).release()
    return path


def write_json(path, obj):
    """Writes JSON atomically (NaN becomes null).

    Example:
    >>> import tempfile
    >>> write_json(tempfile.mkdtemp() + "/a.json", {"x": float("nan")})
    """

    def clean(o):
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, (np.floating, float)):
            return None if not np.isfinite(o) else float(o)
        if isinstance(o, np.integer):
            return int(o)
        return o

    write_text(path, json.dumps(clean(obj), indent=2))


def write_history(path, rows):
    """Writes the recipe's ``history.csv`` (one row per evaluation of every run).

    Example:
    >>> import tempfile
    >>> write_history(tempfile.mkdtemp() + "/h.csv", [])
    """
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, out.getvalue())


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
        line, = ax.plot(epochs, acc.mean(axis=0), marker="o", markersize=3, label=label)
        ax.fill_between(epochs, acc.min(axis=0), acc.max(axis=0), alpha=0.2,
                        color=line.get_color())
    _save(fig, ax, path, title, xlabel, ylabel)


def plot_time_curves(path, series, markers=(), title="", xlabel="Training wall time (s)",
                     ylabel="Testing accuracy"):
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
    >>> rows = [{"wall_seconds": 0, "test_accuracy": 0.1}, {"wall_seconds": 9, "test_accuracy": 0.5}]
    >>> plot_time_curves(tempfile.mkdtemp() + "/t.png", {"incremental": [rows]}, [(4.0, "16px")])
    """
    fig, ax = _new_axes()
    for k, (label, curves) in enumerate(series.items()):
        color = f"C{k}"
        for r, rows in enumerate(curves):
            ax.plot([row["wall_seconds"] for row in rows], [row["test_accuracy"] for row in rows],
                    color=color, marker="o", markersize=2, alpha=0.85,
                    label=label if r == 0 else None)
    for seconds, text in markers:
        ax.axvline(seconds, color="gray", linestyle=":", linewidth=1)
        ax.annotate(text, (seconds, 0), xytext=(2, 2), textcoords="offset points",
                    fontsize=8, color="gray", xycoords=("data", "axes fraction"))
    _save(fig, ax, path, title, xlabel, ylabel)


def plot_layer_transfer(path, table, title="", detail_ks=(1, 10, 40)):
    """Layer-transfer plots: accuracy vs retained levels per k (paper Fig. 2) and min/mean/max
    for a few k (Figs. 3-5), side by side.

    Args:
        path: PNG file to write.
        table: ``{k: {n: {"mean", "min", "max"}}}`` (see `metrics.summarize_runs`).
        detail_ks: the k shown with their min/mean/max band (those present).

    Example:
    >>> import tempfile
    >>> t = {1: {0: {"mean": .3, "min": .2, "max": .4}, 1: {"mean": .5, "min": .4, "max": .6}}}
    >>> plot_layer_transfer(tempfile.mkdtemp() + "/c.png", t)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    details = [k for k in detail_ks if k in table]
    fig, axes = plt.subplots(1, 1 + len(details), figsize=(5 * (1 + len(details)), 4),
                             squeeze=False)
    ax = axes[0, 0]
    for k in sorted(table, reverse=True):
        levels = sorted(table[k])
        ax.plot(levels, [table[k][n]["mean"] for n in levels], marker="o", label=f"k={k}")
    ax.set_title(title or "Accuracy vs retained levels")
    ax.set_xlabel("Retained levels n")
    ax.set_ylabel("Testing accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    for ax, k in zip(axes[0, 1:], details):
        levels = sorted(table[k])
        for stat, style in (("max", "--"), ("mean", "-"), ("min", ":")):
            ax.plot(levels, [table[k][n][stat] for n in levels], style, marker="o", label=stat)
        ax.set_title(f"{k} sample(s) per class")
        ax.set_xlabel("Retained levels n")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


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
    err = np.array([[m - v.min() for m, v in zip(means, values)],
                    [v.max() - m for m, v in zip(means, values)]])
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
        return "| " + " | ".join(c.rjust(w) if num else c.ljust(w)
                                 for c, w, num in zip(row, widths, numeric)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if num else "-")
                          for w, num in zip(widths, numeric)) + "|"
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
    lines = ["| " + " | ".join(str(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
