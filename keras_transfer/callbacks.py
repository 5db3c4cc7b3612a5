"""The Keras callbacks of the training loop: learning curve, deadline, progress lines.

Used by `keras_transfer.training.train` (and importable from there); plain
`keras.callbacks.Callback`s, so they also work in a user's own ``fit``.

Example:
>>> import keras
>>> isinstance(Deadline(60.0), keras.callbacks.Callback)
True
"""

import csv
import os
import time

import keras

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
    return [{"epoch": int(r["epoch"]), "step": int(r["step"]),
             "wall_seconds": float(r["wall_seconds"]),
             "train_loss": float(r["train_loss"]) if r["train_loss"] else float("nan"),
             "test_accuracy": float(r["test_accuracy"])} for r in rows]


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
        self.add_row(epoch + 1, int(self.model.optimizer.iterations.numpy()),
                     logs.get("loss", float("nan")), logs.get(f"val_{self.metric}", float("nan")))

    def add_row(self, epoch, step, train_loss, test_accuracy):
        """Appends one evaluation (dropping rows of a redone epoch) and saves."""
        self.rows = [r for r in self.rows if r["epoch"] < epoch]
        self.rows.append({"epoch": epoch, "step": step,
                          "wall_seconds": round(self.train_seconds, 4),
                          "train_loss": float(train_loss), "test_accuracy": float(test_accuracy)})
        if self.path:
            tmp = self.path + ".tmp"
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, CURVE_FIELDS)
                writer.writeheader()
                writer.writerows(self.rows)
            os.replace(tmp, self.path)


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
