"""Shared pytest setup: quiet TensorFlow, an isolated decode cache, the shared data folder."""

import os
import pathlib
import runpy
import shutil
import subprocess
import sys
import tempfile

# Before anything imports TensorFlow (the package modules import it at load time).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The JPEG-packed npz decode cache goes to a throw-away folder for the whole
# session (set at import time so subprocesses started by tests inherit it too),
# never to ~/.cache/keras_transfer.
_CACHE_DIR = tempfile.mkdtemp(prefix="keras_transfer_test_cache_")
os.environ["KERAS_TRANSFER_CACHE"] = _CACHE_DIR

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def run_recipe(name, *args, env=None, timeout=300):
    """Runs ``recipes/<name>.py`` with ``args`` in a subprocess from the repository root.

    Example: ``proc = run_recipe("htcnn", "--dataset=digits"); proc.returncode``.
    """
    return subprocess.run([sys.executable, str(REPO / "recipes" / f"{name}.py"), *args],
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})), cwd=str(REPO))


def recipe_defaults(name):
    """``DATASET_DEFAULTS`` of ``recipes/<name>.py`` (``None`` when it has none)."""
    return runpy.run_path(str(REPO / "recipes" / f"{name}.py"),
                          run_name="recipe_defaults").get("DATASET_DEFAULTS")


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
        runner.check_inputs(name, [name, *argv, *args, f"--output_dir={out}", "--noexport"],
                            "digits", recipe_defaults(name))
    assert message in str(refused.value)
    assert "\n" not in str(refused.value).strip(), str(refused.value)
    assert not out.exists()


def assert_recipe_refuses(name, argv, message, out):
    """Runs recipe ``name`` with ``argv``: non-zero exit, ``message`` on stderr, no ``out``."""
    proc = run_recipe(name, *argv, f"--output_dir={out}", "--noexport", timeout=120)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-2000:]
    assert not out.exists()


def pytest_configure(config):
    # train() passes tf.data datasets to fit(), whose default shuffle=True Keras ignores.
    config.addinivalue_line(
        "filterwarnings", "ignore:`shuffle=True` was passed:UserWarning")


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
    pytest.skip("shared datasets not found: set $KERAS_TRANSFER_DATA or provide "
                f"<repo>/../shared/data (looked in {[str(c) for c in candidates]})")
