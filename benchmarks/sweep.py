r"""One way every benchmark runs: named flag sets through a recipe, then its RESULTS.md section.

A benchmark of an experiment is a `Sweep`: the recipe, its runs (name ->
extra recipe flags) and the function that writes the section's markdown from
their summaries (the experiment's own ``report.markdown``). A speed
benchmark that times code paths in its own process is a `Measurements`.
`main` does the rest, the same for every benchmark:

1. each run is ``python recipes/<recipe>.py <--recipe_flags> <its flags>
   --output_dir=benchmarks/runs/<section>/<run> --noexport`` (the recipe's
   runner: seed, precision, determinism, resume are its flags, passed in
   ``--recipe_flags``); a folder holding a finished run is not run again, an
   unfinished one is resumed;
2. the files the section reads are kept beside RESULTS.md, committed:
   ``benchmarks/results/<section>/<run>/`` holds the run's ``summary.json``,
   ``history.csv``, ``curves.png`` (what a section links to) and
   ``ran_on.json`` (the command, date and machine), and
   ``benchmarks/results/<section>/section.json`` the benchmark's command
   (and a `Measurements` benchmark's numbers, date and machine);
3. the section is rendered from those files only, so ``--render`` re-renders
   it on any machine without training, and ``--check`` fails when the
   rendered section differs from RESULTS.md.

    python benchmarks/coarse2fine.py --recipe_flags='--data_dir=/data --seed=0'
    python benchmarks/coarse2fine.py --render --check   # re-render, compare, change nothing
"""

import csv
import dataclasses
import datetime
import json
import os
import shlex
import subprocess
import sys
import time
from typing import Callable

from benchmarks.results import DEFAULT_PATH
from benchmarks.results import REPO_ROOT
from benchmarks.results import machine_info
from benchmarks.results import read_section
from benchmarks.results import update_section
from keras_transfer import report

RESULTS_ROOT = os.path.join(REPO_ROOT, "benchmarks", "results")
RUNS_ROOT = os.path.join(REPO_ROOT, "benchmarks", "runs")  # whole run folders, not committed
KEPT_FILES = ("summary.json", "history.csv", "curves.png")


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A benchmark: runs of one recipe and the markdown of its RESULTS.md section.

    Attributes:
        section: the section's name in RESULTS.md (also its folders' name).
        recipe: ``recipes/<recipe>.py``.
        runs: run name -> the recipe flags of that run (a list), in order.
        markdown: ``markdown(summaries) -> str``, ``summaries`` the runs'
            summaries by name (each with its ``history`` rows and ``ran_on``).
        default_runs: the runs made when ``--runs`` is not given (default all).

    Example:
    >>> sweep = Sweep("demo", "htcnn", {"quick": ["--preset=quick"]}, lambda s: "x")
    >>> sweep.run_names(None)
    ['quick']
    """

    section: str
    recipe: str
    runs: dict
    markdown: Callable
    default_runs: tuple = ()

    def run_names(self, names):
        """``names`` (a list, or ``None`` for the defaults), checked against the sweep's runs."""
        names = list(names or self.default_runs or self.runs)
        unknown = [n for n in names if n not in self.runs]
        if unknown:
            raise ValueError(
                f"Expected runs among {list(self.runs)}, received {unknown}; pick from those."
            )
        return names


@dataclasses.dataclass(frozen=True)
class Measurements:
    """A benchmark that measures in its own process (speeds): what it measures, its markdown.

    Attributes:
        section: the section's name in RESULTS.md (also its folder's name).
        measure: ``measure() -> dict`` (JSON-able), everything the section shows.
        markdown: ``markdown(measurements) -> str``.

    Example:
    >>> Measurements("demo", lambda: {"a": 1}, lambda m: str(m["a"])).section
    'demo'
    """

    section: str
    measure: Callable
    markdown: Callable


def run_folder(section, name):
    """The whole run folder of run ``name`` (under ``benchmarks/runs/``, not committed)."""
    return os.path.join(RUNS_ROOT, section, name)


def kept_folder(section, name=None):
    """Where the files a section reads are committed: ``benchmarks/results/<section>/<run>``."""
    return os.path.join(RESULTS_ROOT, section, *([name] if name else []))


def run_recipe(sweep, name, recipe_flags=()):
    """Runs (or resumes) run ``name`` through ``recipes/<recipe>.py``; keeps its small files.

    A run whose folder holds ``summary.json`` is not run again. Raises
    `subprocess.CalledProcessError` when the recipe fails.
    """
    folder = run_folder(sweep.section, name)
    if not os.path.exists(os.path.join(folder, "summary.json")):
        flags = [*recipe_flags, *sweep.runs[name], "--noexport"]
        recipe = os.path.join("recipes", f"{sweep.recipe}.py")
        resume = ["--resume"] if os.path.isdir(folder) and os.listdir(folder) else []
        command = [sys.executable, os.path.join(REPO_ROOT, recipe), *flags]
        command += [f"--output_dir={folder}", *resume]  # resume: an earlier, killed benchmark
        print(shlex.join(command), flush=True)
        t0 = time.perf_counter()
        subprocess.run(command, check=True)
        print(f"{sweep.section}/{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        shown = ["python", recipe, *flags, f"--output_dir={os.path.relpath(folder, REPO_ROOT)}"]
        _write_json(os.path.join(folder, "ran_on.json"), {"command": shlex.join(shown), **now()})
    keep(sweep.section, name, folder)


def now():
    """The date and the machine, as stored with every run and measurement."""
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return {"date": date, **machine_info()}


def keep(section, name, folder):
    """Copies the files the section reads from a run folder to ``benchmarks/results/``."""
    target = kept_folder(section, name)
    os.makedirs(target, exist_ok=True)
    for file in KEPT_FILES + ("ran_on.json",):
        source = os.path.join(folder, file)
        if os.path.exists(source):
            with open(source, "rb") as f:
                data = f.read()
            with open(os.path.join(target, file), "wb") as f:
                f.write(data)


def load(section, names):
    """The kept summaries of runs ``names``: ``{name: summary}`` with ``history`` and ``ran_on``.

    Raises:
        ValueError: a run has no kept files (run the benchmark without
            ``--render`` first).
    """
    summaries = {}
    for name in names:
        folder = kept_folder(section, name)
        path = os.path.join(folder, "summary.json")
        if not os.path.exists(path):
            raise ValueError(
                f"Expected the kept summary of run {name!r} at {path}, found none; run the "
                f"benchmark without --render to make it."
            )
        with open(path) as f:
            summary = json.load(f)
        history, summary["history"] = os.path.join(folder, "history.csv"), []
        if os.path.exists(history):
            with open(history) as f:
                summary["history"] = [_row(r) for r in csv.DictReader(f)]
        ran_on = os.path.join(folder, "ran_on.json")
        if os.path.exists(ran_on):
            with open(ran_on) as f:
                summary["ran_on"] = json.load(f)
        summaries[name] = summary
    return summaries


def render(bench, names=()):
    """The section's markdown from the kept files: the benchmark's command, then the body."""
    with open(os.path.join(kept_folder(bench.section), "section.json")) as f:
        kept = json.load(f)
    lines = [f"- Benchmark: `{kept['command']}`"]
    if isinstance(bench, Measurements):
        where = report.ran_on({"ran_on": kept}, command=False)
        lines += [f"- {where}.", "", bench.markdown(kept["measurements"]).strip()]
    else:
        lines += ["", bench.markdown(load(bench.section, names)).strip()]
    return "\n".join(lines)


def define_flags():
    """The flags every sweep benchmark takes (none of them a recipe's own)."""
    from absl import flags

    flags.DEFINE_list("runs", None, "Runs to make and show (default: the benchmark's).")
    flags.DEFINE_string(
        "recipe_flags",
        "",
        "Flags given to the recipe in every run, as on its command line "
        "(e.g. '--data_dir=/data --seed=1 --precision=mixed_bfloat16').",
    )
    flags.DEFINE_boolean("render", False, "Only render the section from the kept files.")
    flags.DEFINE_boolean("write", True, "Write the section into benchmarks/RESULTS.md.")
    flags.DEFINE_boolean(
        "check", False, "Render from the kept files and fail if RESULTS.md's section differs."
    )


def main(bench, argv, path=DEFAULT_PATH):
    """Runs or measures (unless ``--render``/``--check``), then writes or checks the section.

    ``bench`` is a `Sweep` or `Measurements`; the flags are `define_flags`'.
    """
    from absl import app
    from absl import flags

    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    fv = flags.FLAGS
    sweep = isinstance(bench, Sweep)
    names = ()
    if sweep:  # re-rendering: the runs the section was made of, unless --runs says
        names = bench.run_names(fv.runs or (_kept_runs(bench) if fv.render or fv.check else None))
    if not (fv.render or fv.check):
        script = f"benchmarks/{os.path.basename(sys.argv[0])}"
        kept = {"command": shlex.join(["python", script, *sys.argv[1:]])}
        if sweep:
            for name in names:
                run_recipe(bench, name, shlex.split(fv.recipe_flags))
            kept["runs"] = list(names)
        else:
            kept.update(now(), measurements=bench.measure())
        os.makedirs(kept_folder(bench.section), exist_ok=True)
        _write_json(os.path.join(kept_folder(bench.section), "section.json"), kept)
    markdown = render(bench, names)
    if fv.check:
        if read_section(bench.section, path) != markdown.strip():
            print(f"section {bench.section!r} of {path} differs from its kept files")
            sys.exit(1)
        print(f"section {bench.section!r} of {path} re-renders unchanged")
        return
    print(markdown)
    if fv.write:
        written = update_section(bench.section, markdown, path)
        print(f"\nwrote section {bench.section!r} of {written}")


def _kept_runs(sweep):
    """The runs of the section as last made (``section.json``), ``None`` if it was never made."""
    path = os.path.join(kept_folder(sweep.section), "section.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f).get("runs")


def _write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)


def _row(row):
    """A history.csv row with numbers as numbers (empty cells ``None``)."""
    out = {}
    for key, value in row.items():
        try:
            out[key] = int(value) if value.lstrip("-").isdigit() else float(value)
        except (ValueError, AttributeError):
            out[key] = None if value == "" else value
    return out
