"""Shared writer of benchmarks/RESULTS.md: one marked section per benchmark script.

Every number in RESULTS.md is written by a script through `update_section`,
never by hand. A section lives between ``<!-- BEGIN name -->`` and
``<!-- END name -->``; rewriting it leaves the other sections untouched, so
several scripts share the file. Each section records the command line that
produced it, the date and the machine.

Benchmarks write through `benchmarks.sweep` (runs of a recipe, or a
script's own measurements), which renders a section from files kept beside
this one, so every section can be re-rendered identically.
"""

import fcntl
import os
import platform
import re

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PATH = "benchmarks/RESULTS.md"
TITLE = "# Benchmark results"
NOTE = (
    "Every number in this file is written by a script in `benchmarks/` (the command is "
    "given in each section), never by hand."
)


def _resolve(path):
    """Relative paths are taken from the repository root, so any working folder works."""
    return path if os.path.isabs(path) else os.path.join(REPO_ROOT, path)


def machine_info():
    """CPU count, platform, Python, TensorFlow and Keras versions (a dict of strings)."""
    import keras
    import tensorflow as tf

    model = "unknown CPU"
    try:  # what lscpu calls "Model name"; machines differ between sessions
        with open("/proc/cpuinfo") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpu_count": str(os.cpu_count()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def _markers(name):
    return f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"


def replace_section(text, name, body):
    """``text`` with section ``name`` set to ``body`` (appended if absent).

    Example:
    >>> t = replace_section("# T\\n", "a", "one")
    >>> t = replace_section(t, "b", "two")
    >>> print(replace_section(t, "a", "three"))
    # T
    <BLANKLINE>
    <!-- BEGIN a -->
    three
    <!-- END a -->
    <BLANKLINE>
    <!-- BEGIN b -->
    two
    <!-- END b -->
    <BLANKLINE>
    """
    begin, end = _markers(name)
    block = f"{begin}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def update_section(name, markdown, path=DEFAULT_PATH):
    """Rewrites only section ``name`` of RESULTS.md (appending it if absent); returns the path.

    The file is created with its title and note if missing. The section is
    its ``## name`` heading and ``markdown``, nothing added: a section
    re-rendered from its kept files (`benchmarks.sweep`) is byte-identical.
    The write is atomic and locked, so scripts finishing at the same time do
    not lose each other's sections.

    Args:
        name: section name (also its ``##`` heading), e.g. ``"throughput"``.
        markdown: the section's content.
        path: the results file; a relative path is taken from the repository
            root (default ``benchmarks/RESULTS.md``).
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(
            f"Expected a section name of letters, digits, '_', '.', '-', received {name!r}."
        )
    path = _resolve(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    body = f"## {name}\n\n" + markdown.strip()
    # Lock the folder (not a lock file, which would be left behind in the repo).
    lock = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
        else:
            text = f"{TITLE}\n\n{NOTE}\n"
        text = replace_section(text, name, body)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        os.close(lock)  # releases the lock
    return path


def read_section(name, path=DEFAULT_PATH):
    """The markdown of section ``name`` as written by `update_section` (``None`` if absent).

    Example:
    >>> import tempfile
    >>> path = update_section("demo", "| a |", os.path.join(tempfile.mkdtemp(), "R.md"))
    >>> read_section("demo", path), read_section("other", path)
    ('| a |', None)
    """
    path = _resolve(path)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    begin, end = _markers(name)
    match = re.search(re.escape(begin) + r"\n(.*?)\n" + re.escape(end), text, re.DOTALL)
    if not match:
        return None
    return match.group(1).removeprefix(f"## {name}").strip()


def epoch_timer():
    """A Keras callback whose ``seconds`` is the last epoch's wall time (start to end).

    Only epoch hooks: a callback without batch hooks leaves Keras's
    asynchronous batch dispatch on, as with no callbacks at all, so the timer
    does not slow what it measures.

    Example:
    >>> timer = epoch_timer()
    >>> timer.on_epoch_begin(0); timer.on_epoch_end(0); timer.seconds >= 0
    True
    """
    import time

    import keras

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.start

    return EpochTimer()
