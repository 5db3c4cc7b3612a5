"""The Keras callbacks of the training loop: learning curve, backup, deadline, progress lines.

Used by `keras_transfer.training.train` (and importable from there); plain
`keras.callbacks.Callback`s, so they also work in a user's own ``fit``.

Example:
>>> import keras
>>> isinstance(Deadline(60.0), keras.callbacks.Callback)
True
"""

import csv
import glob
import io
import json
import math
import os
import time

import keras

from keras_transfer.files import save_weights
from keras_transfer.files import write_text

CURVE_FIELDS = ("epoch", "step", "wall_seconds", "train_loss", "test_accuracy")


def read_curve(path):
    """Reads a learning-curve CSV written by `LearningCurve` into a list of dicts.

    Example:
    >>> read_curve("/nonexistent/curve.csv")
    []
    """
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        {
            "epoch": int(r["epoch"]),
            "step": int(r["step"]),
            "wall_seconds": float(r["wall_seconds"]),
            "train_loss": float(r["train_loss"]) if r["train_loss"] else float("nan"),
            "test_accuracy": float(r["test_accuracy"]),
        }
        for r in rows
    ]


class LearningCurve(keras.callbacks.Callback):
    """Records test accuracy and cumulative training wall time after every epoch.

    Training time is measured from each epoch's start to the start of its
    validation, so evaluation is not counted. Rows go to ``path`` (rewritten
    every epoch, so a resumed run continues the same curve) and to ``rows``.

    Args:
        path: CSV file for the curve, or ``None``.
        rows: rows already recorded (a resumed run); training time continues
            from the last row's ``wall_seconds``.
        metric: the compiled metric recorded as ``test_accuracy`` (its
            validation value, ``val_<metric>`` in fit's logs).

    Example:
    >>> curve = LearningCurve(None)
    >>> curve.rows
    []
    """

    def __init__(self, path, rows=None, metric="accuracy"):
        super().__init__()
        self.path = path
        self.metric = metric
        self.rows = list(rows or [])
        self.train_seconds = self.rows[-1]["wall_seconds"] if self.rows else 0.0
        self._epoch_start = None
        self._in_epoch = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._in_epoch = True

    def on_test_begin(self, logs=None):
        if self._in_epoch:  # validation inside fit: the epoch's training is over
            self.train_seconds += time.perf_counter() - self._epoch_start
            self._in_epoch = False

    def elapsed(self):
        """Training seconds so far, including the running epoch."""
        running = time.perf_counter() - self._epoch_start if self._in_epoch else 0.0
        return self.train_seconds + running

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._in_epoch:  # no validation ran this epoch
            self.train_seconds += time.perf_counter() - self._epoch_start
            self._in_epoch = False
        self.add_row(
            epoch + 1,
            int(self.model.optimizer.iterations.numpy()),
            logs.get("loss", float("nan")),
            logs.get(f"val_{self.metric}", float("nan")),
        )

    def add_row(self, epoch, step, train_loss, test_accuracy):
        """Appends one evaluation (dropping rows of a redone epoch) and saves."""
        self.rows = [r for r in self.rows if r["epoch"] < epoch]
        self.rows.append(
            {
                "epoch": epoch,
                "step": step,
                "wall_seconds": round(self.train_seconds, 4),
                "train_loss": float(train_loss),
                "test_accuracy": float(test_accuracy),
            }
        )
        if self.path:
            out = io.StringIO(newline="")
            writer = csv.DictWriter(out, CURVE_FIELDS)
            writer.writeheader()
            writer.writerows(self.rows)
            write_text(self.path, out.getvalue())


class Diverged(RuntimeError):
    """A training's loss became NaN or infinite: its model is no result.

    Attributes:
        name: the training (its run folder or model name).
        epoch: the 1-based epoch it diverged in.
        loss: the loss value seen.

    Example:
    >>> str(Diverged("ccnn", 3, float("nan")))
    'training ccnn diverged: loss nan in epoch 3'
    """

    def __init__(self, name, epoch, loss):
        super().__init__(f"training {name} diverged: loss {loss} in epoch {epoch}")
        self.name, self.epoch, self.loss = name, epoch, loss


class DivergenceGuard(keras.callbacks.TerminateOnNaN):
    """`keras.callbacks.TerminateOnNaN` that raises `Diverged` (naming the training and epoch).

    Keras' callback either stops training quietly (the run then reports a
    NaN model as its result) or raises a generic ``RuntimeError``; a typed
    error lets a recipe report the run as diverged and exit with its own code.

    Example:
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(1e30), "mse")
    >>> model.fit(np.ones((8, 1)) * 1e10, np.ones(8), epochs=2, verbose=0,
    ...           callbacks=[DivergenceGuard("demo")])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_transfer.callbacks.Diverged: training demo diverged: loss ... in epoch ...
    """

    def __init__(self, name):
        super().__init__(raise_error=True)
        self.name = name
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise Diverged(self.name, self._epoch, float(loss))


class EpochBackup(keras.callbacks.Callback):
    """Backs the model up (weights and optimizer state) after every epoch; `restore` resumes.

    The job of `keras.callbacks.BackupAndRestore`, safe against a kill at any
    moment. Keras 3.15 writes ``latest.weights.h5`` and then
    ``training_metadata.json`` in place: a ``kill -9`` during either write
    leaves a truncated file (the resume fails on HDF5 or JSON), and one between
    them leaves weights an epoch ahead of the recorded epoch (the resume trains
    that epoch twice). Here each epoch's weights get their own file, written
    under a temporary name, and then one small state file naming the epoch and
    its weights is replaced atomically; older weights are deleted after that.
    The backup stays when training ends (the caller removes it once its final
    weights are safe), so a kill in between loses nothing either.

    Args:
        folder: the backup folder (created on the first epoch).

    Example:
    >>> import tempfile, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> backup = EpochBackup(tempfile.mkdtemp())
    >>> backup.restore(model)  # nothing backed up yet: start at epoch 0
    0
    >>> _ = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, callbacks=[backup], verbose=0)
    >>> backup.restore(model)  # a new fit continues with initial_epoch=2
    2
    """

    STATE = "backup.json"

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def _state(self):
        path = os.path.join(self.folder, self.STATE)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    def restore(self, model):
        """Loads the last backed-up epoch into ``model``; returns fit's ``initial_epoch``."""
        state = self._state()
        if state is None:
            return 0
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # its state is in the file too
        model.load_weights(os.path.join(self.folder, state["weights"]))
        return int(state["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.folder, exist_ok=True)
        name = f"epoch-{epoch + 1:05d}.weights.h5"
        save_weights(self.model, os.path.join(self.folder, name))
        write_text(
            os.path.join(self.folder, self.STATE), json.dumps({"epoch": epoch + 1, "weights": name})
        )
        for old in glob.glob(os.path.join(self.folder, "epoch-*.weights.h5")):
            if os.path.basename(old) != name:
                os.remove(old)


class Deadline(keras.callbacks.Callback):
    """Stops training once the training wall time passes ``seconds``.

    The model reached at that point is kept (no rollback), which is what a
    real-time application with a deadline gets (HTCNN paper Fig. 1). The
    running epoch is cut short and still evaluated.

    Args:
        seconds: training-time budget.
        clock: a `LearningCurve` to read the training time from (so a resumed
            run counts its earlier time); default a clock started at fit.

    Example:
    >>> Deadline(60.0).seconds
    60.0
    """

    def __init__(self, seconds, clock=None):
        super().__init__()
        if seconds is None or seconds <= 0:
            raise ValueError(f"Expected a deadline in seconds > 0, received {seconds!r}.")
        self.seconds = float(seconds)
        self.clock = clock
        self._start = None
        self.stopped = False

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        elapsed = self.clock.elapsed() if self.clock else time.perf_counter() - self._start
        if elapsed >= self.seconds:
            self.model.stop_training = True
            self.stopped = True


class ReportProgress(keras.callbacks.Callback):
    """Reports a training's epochs to a `keras_transfer.progress.ProgressLog`.

    One line when the training ends, and after an epoch when the log's
    ``min_interval`` has passed; each with the epoch, loss and test accuracy.

    Args:
        log: the `ProgressLog`.
        name: what the lines call this training.
        epochs: planned epochs (shown as ``epoch e/epochs``).

    Example:
    >>> from keras_transfer.progress import ProgressLog
    >>> ReportProgress(ProgressLog(), "ccnn", 10).name
    'ccnn'
    """

    def __init__(self, log, name, epochs):
        super().__init__()
        self.log = log
        self.name = name
        self.epochs = epochs
        self._steps = 0
        self._detail = ""

    def on_train_begin(self, logs=None):
        self._steps = int(self.model.optimizer.iterations.numpy())

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        steps = int(self.model.optimizer.iterations.numpy())
        self.log.advance(steps - self._steps)
        self._steps = steps
        self._detail = f"epoch {epoch + 1}/{self.epochs}"
        for key, label in (("loss", "loss"), ("val_accuracy", "acc")):
            if key in logs:
                self._detail += f"  {label} {float(logs[key]):.3f}"
        if epoch + 1 < self.epochs and self.log.due():
            self.log.line(self.name, self._detail)

    def on_train_end(self, logs=None):
        self.log.line(self.name, self._detail)
