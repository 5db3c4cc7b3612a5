"""Shared writer of benchmarks/RESULTS.md: one marked section per benchmark script.

Every number in RESULTS.md is written by a script through `update_section`,
never by hand. A section lives between ``<!-- BEGIN name -->`` and
``<!-- END name -->``; rewriting it leaves the other sections untouched, so
several scripts share the file. Each section records the command line that
produced it, the date and the machine.

Usage (from a benchmark script):
    from benchmarks.results import update_section
    update_section("throughput", table_markdown)
"""

import datetime
import fcntl
import os
import platform
import re
import shlex
import sys

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


def command_line(argv=None):
    """The command that ran the script, as ``python benchmarks/<script>.py <args>``.

    Example:
    >>> command_line(["/x/benchmarks/throughput.py", "--steps=20", "--name=a b"])
    "python benchmarks/throughput.py --steps=20 '--name=a b'"
    """
    argv = list(sys.argv if argv is None else argv)
    script = "benchmarks/" + os.path.basename(argv[0]) if argv else "benchmarks/?"
    return " ".join(["python", script] + [shlex.quote(a) for a in argv[1:]])


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


def section_header(name, argv=None):
    """The lines every section starts with: heading, command, date and machine."""
    m = machine_info()
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return "\n".join(
        [
            f"## {name}",
            "",
            f"- Command: `{command_line(argv)}`",
            f"- Date: {now}",
            f"- Machine: {m['cpu_count']} CPUs (os.cpu_count()) {m['cpu_model']}, {m['platform']}, "
            f"Python {m['python']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}",
        ]
    )


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


def update_section(name, markdown, path=DEFAULT_PATH, argv=None):
    """Rewrites only section ``name`` of RESULTS.md (appending it if absent).

    The file is created with its title and note if missing. The section gets a
    header with the command line (from ``argv``, default ``sys.argv``), the
    date and the machine, followed by ``markdown``. The write is atomic and
    locked, so scripts finishing at the same time do not lose each other's
    sections.

    Args:
        name: section name (also its ``##`` heading), e.g. ``"throughput"``.
        markdown: the section's content.
        path: the results file; a relative path is taken from the repository
            root (default ``benchmarks/RESULTS.md``).
        argv: the command line to record; default ``sys.argv``.

    Returns:
        The path written.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(
            f"Expected a section name of letters, digits, '_', '.', '-', received {name!r}."
        )
    path = _resolve(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    body = section_header(name, argv) + "\n\n" + markdown.strip()
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


def publish(name, markdown, write=True, path=DEFAULT_PATH):
    """Prints a benchmark's section and, if ``write``, stores it with `update_section`.

    The one ending every benchmark script shares (``--write/--nowrite``).

    Example:
    >>> publish("demo", "| a |", write=False)
    | a |
    """
    print(markdown)
    if write:
        print(f"\nwrote section {name!r} of {update_section(name, markdown, path)}")


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


def run_recipe(recipe, folder, args):
    """Runs ``recipes/<recipe>.py --output_dir=folder *args`` unless finished; its summary.json.

    A folder that already holds ``summary.json`` is loaded, not run again, so
    a killed benchmark continues where it stopped and a section can be
    re-rendered from finished runs; a folder with partial output is resumed
    (``--resume``).

    The machine and date of a run made here are stored next to it
    (``machine.json``) and returned as ``summary["benchmark_machine"]``, so a
    section rendered from runs of several sessions can say where each ran.

    Returns:
        The recipe's summary.json as a dict.
    """
    import json
    import subprocess
    import time

    summary_path = os.path.join(folder, "summary.json")
    machine_path = os.path.join(folder, "machine.json")
    if not os.path.exists(summary_path):
        command = [
            sys.executable,
            os.path.join(REPO_ROOT, "recipes", f"{recipe}.py"),
            f"--output_dir={folder}",
            *args,
        ]
        if os.path.isdir(folder) and os.listdir(folder):
            command.append("--resume")  # an unfinished run of an earlier, killed benchmark
        print(" ".join(shlex.quote(c) for c in command), flush=True)
        t0 = time.perf_counter()
        subprocess.run(command, check=True)
        print(f"{recipe} {args}: {time.perf_counter() - t0:.0f} s", flush=True)
        ran_on = dict(
            machine_info(), date=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        )
        with open(machine_path + ".tmp", "w") as f:
            json.dump(ran_on, f, indent=1)
        os.replace(machine_path + ".tmp", machine_path)
    with open(summary_path) as f:
        summary = json.load(f)
    if os.path.exists(machine_path):  # a loaded run may come from another session's machine
        with open(machine_path) as f:
            summary["benchmark_machine"] = json.load(f)
    return summary


def ran_on(summary):
    """``["Ran <date> on <machine>."]`` for a run that stored its machine (`run_recipe`), else [].

    A section may be rendered from runs of several sessions, on different
    machines; each run's own comparisons are side by side on one machine.

    Example:
    >>> ran_on({"benchmark_machine": {"date": "2026-12-02 21:00 UTC", "cpu_count": "2",
    ...                               "cpu_model": "AMD EPYC"}})
    ['Ran 2026-12-02 21:00 UTC on 2 CPUs AMD EPYC.']
    """
    m = summary.get("benchmark_machine")
    return [f"Ran {m['date']} on {m['cpu_count']} CPUs {m['cpu_model']}."] if m else []


def run_folder(parent, preset, args):
    """A recipe run folder under ``parent``: the preset, then the extra flags.

    Example:
    >>> run_folder("runs", "quick", ["--alpha=0.5"])
    'runs/quick-alpha_0.5'
    """
    slug = "-".join(a.lstrip("-").replace("=", "_").replace(",", "_") for a in args)
    return os.path.join(parent, preset + (f"-{slug}" if slug else ""))


def define_recipe_flags(recipe):
    """The flags of a benchmark that renders one run of ``recipes/<recipe>.py``.

    ``--preset``, ``--setting`` (extra recipe flags), ``--seed``, ``--data_dir``,
    ``--output_dir`` (parent of the run folder) and ``--write``; read back by
    `run_preset_recipe`.
    """
    from absl import flags

    flags.DEFINE_string("preset", "quick", "Recipe preset: quick or paper.")
    flags.DEFINE_string("setting", "", "Extra recipe flags, e.g. '--alpha=0.5'.")
    flags.DEFINE_integer("seed", 0, "Seed.")
    flags.DEFINE_string("data_dir", None, "Folder of the datasets (default $KERAS_TRANSFER_DATA).")
    flags.DEFINE_string(
        "output_dir",
        os.path.join(REPO_ROOT, "benchmarks", "runs", recipe),
        "Parent of the run folder; a finished run there is loaded.",
    )
    flags.DEFINE_boolean("write", True, f"Write section '{recipe}' of benchmarks/RESULTS.md.")


def run_preset_recipe(recipe, setting=None):
    """Runs (or loads) ``recipes/<recipe>.py`` as the `define_recipe_flags` flags say; its summary.

    ``setting`` (extra recipe flags) replaces ``--setting`` when given.
    """
    from absl import flags

    f = flags.FLAGS
    args = shlex.split(f.setting if setting is None else setting)
    command = [f"--preset={f.preset}", f"--seed={f.seed}", "--noexport", *args]
    if f.data_dir:
        command.append(f"--data_dir={f.data_dir}")
    return run_recipe(recipe, run_folder(f.output_dir, f.preset, args), command)
