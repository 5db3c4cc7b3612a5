"""The files every run writes: ``summary.json`` and ``history.csv`` (atomically).

Run folders themselves (checks, claiming, resume) are `keras_transfer.run_folder`.
"""

import csv
import io
import json

import numpy as np

from keras_transfer.files import write_text

HISTORY_FIELDS = ("run", "repeat", "epoch", "step", "wall_seconds", "train_loss", "test_accuracy")


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
