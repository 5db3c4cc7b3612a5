"""Progress lines for long runs: elapsed time, share done and an ETA for the whole run.

`ProgressLog` counts optimizer steps against the run's planned total (pre-training
included) and prints one short line when a training finishes, and at most every
``min_interval`` seconds in between. The ETA extrapolates the steps trained in
this process (a resumed run's finished trainings count as done, not as speed),
so it is rough where step costs differ (a teacher's step against a student's).

Why not `keras.utils.Progbar`: it draws one bar per ``fit`` call; a recipe runs
tens of trainings and the reader wants the whole run's remaining time.
"""

import sys
import time


def format_seconds(seconds):
    """``75.2 -> '1m15s'``, ``3725 -> '1h02m'``, ``9.4 -> '9s'``.

    Example:
    >>> format_seconds(75.2), format_seconds(3725), format_seconds(9.4)
    ('1m15s', '1h02m', '9s')
    """
    seconds = int(round(max(0.0, seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressLog:
    """Prints ``[elapsed  done%  ETA]  what  detail`` lines for a run of many trainings.

    Args:
        total_steps: every optimizer step the run plans (``None``: no ETA).
        stream: where lines go (default stdout).
        min_interval: seconds between two lines inside one training.
        clock: time source (tests pass a fake one).

    Example:
    >>> now = [0.0]
    >>> log = ProgressLog(100, clock=lambda: now[0], stream=sys.stdout)
    >>> now[0] = 30.0
    >>> log.advance(25)
    >>> log.line("htcnn repeat0/ccnn", "epoch 2/8  acc 0.612")
    [   30s  25%  ETA 1m30s] htcnn repeat0/ccnn  epoch 2/8  acc 0.612
    """

    def __init__(self, total_steps=None, stream=None, min_interval=10.0, clock=time.perf_counter):
        self.total_steps = total_steps
        self.stream = stream
        self.min_interval = min_interval
        self.clock = clock
        self.start = clock()
        self.done = 0  # steps done, including those loaded from a finished training
        self.trained = 0  # steps trained in this process (the ETA's speed)
        self._last_line = None

    def advance(self, steps, trained=True):
        """Counts ``steps`` as done (``trained=False``: loaded, not trained here)."""
        self.done += steps
        if trained:
            self.trained += steps

    def elapsed(self):
        return self.clock() - self.start

    def eta(self):
        """Seconds left by the speed so far, or ``None`` when it cannot be told yet."""
        if not self.total_steps or not self.trained:
            return None
        left = max(0, self.total_steps - self.done)
        return self.elapsed() / self.trained * left

    def due(self):
        """Whether an in-training line may be printed now (``min_interval`` passed)."""
        return self._last_line is None or self.clock() - self._last_line >= self.min_interval

    def line(self, what, detail=""):
        """Prints one progress line."""
        status = f"{format_seconds(self.elapsed()):>6}"
        if self.total_steps:
            status += f" {min(100, round(100 * self.done / self.total_steps)):>3d}%"
            eta = self.eta()
            status += f"  ETA {format_seconds(eta)}" if eta is not None else ""
        text = f"[{status}] {what}" + (f"  {detail}" if detail else "")
        print(text, file=self.stream or sys.stdout, flush=True)
        self._last_line = self.clock()
