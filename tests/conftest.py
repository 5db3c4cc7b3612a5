"""Shared pytest setup and harnesses: quiet TensorFlow, an isolated decode cache, the shared
data folder, every recipe's tiny settings (`TINY`), running a recipe and asserting a refusal."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

# Before anything imports TensorFlow (the package modules import it at load time).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Under pytest-xdist each worker (and every recipe process it starts) gets its share of the
# cores for TensorFlow's thread pools: with the default pool per process, two workers on
# 2 cores run 4+ busy threads, and the pools' spinning made a pair of recipe processes 15 %
# slower (measured: two tiny htcnn runs side by side, 48.7 s -> 42.2 s with one thread each).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", _threads)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", _threads)

# The JPEG-packed npz decode cache goes to a throw-away folder for the whole
# session (set at import time so subprocesses started by tests inherit it too),
# never to ~/.cache/keras_transfer.
_CACHE_DIR = tempfile.mkdtemp(prefix="keras_transfer_test_cache_")
os.environ["KERAS_TRANSFER_CACHE"] = _CACHE_DIR

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_recipe(name, *args, env=None, timeout=300):
    """Runs ``recipes/<name>.py`` with ``args`` in a subprocess from the repository root.

    Example: ``proc = run_recipe("htcnn", "--dataset=digits"); proc.returncode``.
    """
    return subprocess.run(
        [sys.executable, str(REPO / "recipes" / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
        cwd=str(REPO),
    )


def run_here(name, *args):
    """Recipe ``name`` with ``args`` in this process, as a `subprocess.CompletedProcess`.

    `runner.run_command`: what ``python recipes/<name>.py`` runs, without a
    process and its TensorFlow start-up (about 10 s on the CI machine). For
    tests of what a run writes; process behaviour (exit codes, signals, quiet
    output, logical devices) is tested with `run_recipe`.
    """
    import contextlib
    import io

    from keras_transfer.experiments import runner

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = runner.run_command(name, [name, *args], "digits")
    return subprocess.CompletedProcess([name, *args], code, out.getvalue(), err.getvalue())


def predict(model, x):
    """``model`` on ``x`` in eager mode, as numpy (a list for several outputs).

    For models a test runs once or twice: `keras.Model.predict` first traces a
    predict function, which costs more than the eager call (measured: two fusion
    tests 51 s with ``predict``, 29 s with this).
    """
    import keras

    out = model(x, training=False)
    if isinstance(out, (list, tuple)):
        return [keras.ops.convert_to_numpy(o) for o in out]
    return keras.ops.convert_to_numpy(out)


def assert_refused_before_training(name, tiny, args, message, out):
    """Recipe ``name``'s checks, in this process, refuse ``tiny`` overridden by ``args``.

    Asserts the one-line ``message`` in the error (a setting, flag or data
    refused by `runner.check_inputs`, which a recipe runs before it trains)
    and that ``out`` (the output folder) was never created. One subprocess
    test per recipe checks that the recipe itself exits with that message.
    """
    from absl import flags

    from keras_transfer.experiments import runner

    argv = [a for a in tiny if not any(a.split("=")[0] == b.split("=")[0] for b in args)]
    with pytest.raises((ValueError, flags.Error)) as refused:
        runner.check_inputs(
            name, [name, *argv, *args, f"--output_dir={out}", "--noexport"], "digits"
        )
    assert message in str(refused.value)
    assert "\n" not in str(refused.value).strip(), str(refused.value)
    assert not out.exists()


def assert_recipe_refuses(name, argv, message, out):
    """Runs recipe ``name`` with ``argv`` in its own process: it exits 2 within
    `REFUSAL_SECONDS` with one ``error: ...`` line naming ``message`` (no traceback, none of
    TensorFlow's start-up lines) and creates no ``out``."""
    start = time.perf_counter()
    proc = run_recipe(name, *argv, f"--output_dir={out}", "--noexport", timeout=120)
    assert time.perf_counter() - start < REFUSAL_SECONDS
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    assert message in lines[0], lines[0]
    assert not out.exists()


def pytest_configure(config):
    # train() passes tf.data datasets to fit(), whose default shuffle=True Keras ignores.
    config.addinivalue_line("filterwarnings", "ignore:`shuffle=True` was passed:UserWarning")


def pytest_collection_modifyitems(config, items):
    # `slow` tests (recipe runs, subprocesses: up to two minutes each) first, in their collected
    # order: pytest-xdist's workers then run the long ones early and share out the short ones
    # at the end, instead of one worker finishing a long test alone (longest first keeps the
    # tail short; the work stealing never takes a worker's last queued tests).
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def cache_dir():
    """The session's decode-cache folder (``$KERAS_TRANSFER_CACHE``)."""
    return pathlib.Path(_CACHE_DIR)


@pytest.fixture(scope="session")
def shared_data():
    """The real datasets: ``$KERAS_TRANSFER_DATA`` or ``<repo>/../shared/data``."""
    candidates = []
    if os.environ.get("KERAS_TRANSFER_DATA"):
        candidates.append(pathlib.Path(os.environ["KERAS_TRANSFER_DATA"]))
    candidates.append((REPO / ".." / "shared" / "data").resolve())
    for path in candidates:
        if path.is_dir():
            return path
    pytest.skip(
        "shared datasets not found: set $KERAS_TRANSFER_DATA or provide "
        f"<repo>/../shared/data (looked in {[str(c) for c in candidates]})"
    )


# Every recipe's tiny settings: seconds per run on 2 CPU cores.
TINY = {
    "htcnn": [
        "--dataset=digits",
        "--preset=quick",
        "--epochs=2",
        "--steps_per_epoch=10",
        "--shallow_steps=20",
        "--repeats=2",
    ],
    "layer_transfer": [
        "--dataset=digits",
        "--preset=quick",
        "--source_per_class=30",
        "--ks=1,5",
        "--levels=0,3,5",
        "--trials=1",
        "--source_steps=20",
        "--target_epochs=0",
        "--target_steps=5",
        "--test_examples=100",
    ],
    "compact_transfer": [
        "--dataset=digits",
        "--preset=quick",
        "--teacher_image_size=32",
        "--head_steps=5",
        "--finetune_steps=5",
        "--student_steps=20",
        "--student_widths=2,4",
        "--student_depth=2",
        "--repeats=2",
        "--target_train_examples=0",
        "--test_examples=200",
        "--latency_runs=20",
    ],
    "fusion": [
        "--dataset=digits",
        "--dataset_1=digits",
        "--dataset_2=digits",
        "--preset=quick",
        "--custom_width=4",
        "--custom_blocks=4",
        "--pretrain_steps=10",
        "--retrain_steps=10",
        "--repeats=1",
        "--pretrain_examples=200",
        "--head_units=16",
    ],
    "coarse2fine": [
        "--dataset=digits",
        "--preset=quick",
        "--resolutions=2,4,8",
        "--widen_at=4",
        "--stage_epochs=2,2,2",
        "--steps_per_epoch=25",
        "--repeats=1",
        "--dropout=0",
    ],
}


REFUSAL_SECONDS = 30


def command(recipe, args, out):
    """``TINY[recipe]`` with ``args`` replacing flags of the same name, into ``out``.

    No exports unless ``args`` ask for them (``--export``).
    """
    names = {a.split("=")[0] for a in args}
    base = [a for a in TINY[recipe] if a.split("=")[0] not in names]
    export = [] if "--export" in args else ["--noexport"]
    return [recipe, *base, *args, f"--output_dir={out}", *export]


def assert_refused(recipe, args, fragment, out, capsys, before=None):
    """The recipe exits 2 within 30 s with one ``error: ...`` line naming ``fragment`` (a
    string, or a list of strings that must all appear).

    ``out`` must not exist afterwards (or, given ``before``, hold exactly the
    files it held before).
    """
    from keras_transfer.experiments import runner

    capsys.readouterr()
    start = time.perf_counter()
    code = runner.run_command(recipe, command(recipe, args, out), "digits")
    seconds = time.perf_counter() - start
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert seconds < REFUSAL_SECONDS
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for part in [fragment] if isinstance(fragment, str) else fragment:
        assert part in lines[0], lines[0]
    assert "; " in lines[0], f"no fix given: {lines[0]}"
    if before is None:
        assert not os.path.exists(out), os.listdir(out)
    else:
        assert snapshot(out) == before


def snapshot(folder):
    """Every file below ``folder`` with its bytes."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out


# Where a benchmark run ran, as benchmarks.sweep keeps it (tests of report.markdown).
RAN_ON = {
    "date": "2026-12-03 10:48 UTC",
    "cpu_count": "2",
    "cpu_model": "Intel(R) Xeon(R) Processor",
    "platform": "Linux",
    "python": "3.11.7",
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
}


def kept(summary, command=None):
    """``summary`` as `benchmarks.sweep.load` gives it: through JSON, with ``history`` (default
    none) and ``ran_on`` (`RAN_ON`, with ``command`` if given): a report test's input."""
    ran_on = dict(RAN_ON, **({"command": command} if command else {}))
    return json.loads(json.dumps({"history": [], **summary, "ran_on": ran_on}))


@pytest.fixture
def no_files_no_clock(monkeypatch):
    """Opening a file or reading the clock fails: a section renders from its summaries only."""
    import builtins

    def refuse(*args, **kwargs):
        raise AssertionError("markdown must read no files and no clock")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(time, "time", refuse)
    monkeypatch.setattr(time, "strftime", refuse)
