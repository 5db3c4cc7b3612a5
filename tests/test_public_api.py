"""The public API: `keras_transfer.<name>` for every technique, each documented with an example."""

import inspect
import pathlib
import re
import subprocess
import sys

import pytest

import keras_transfer as kt

FUNCTIONS = [name for name in kt.__all__ if name not in kt._MODULES]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_public_name_has_a_docstring_with_a_runnable_example(name):
    obj = getattr(kt, name)
    assert inspect.isfunction(obj) or inspect.isclass(obj), name
    doc = inspect.getdoc(obj) or ""
    assert ">>> " in doc, f"{name}: no example in its docstring"
    # the example runs: the doctest suite collects the defining module
    assert obj.__module__.startswith("keras_transfer.")


@pytest.mark.parametrize("name", kt._MODULES)
def test_public_modules_are_documented(name):
    module = getattr(kt, name)
    assert inspect.ismodule(module) and (module.__doc__ or "").strip()


def test_namespace():
    assert set(kt.__all__) <= set(dir(kt))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        kt.nope
    assert kt.fuse is kt.transfer.fusion.fuse and kt.Stage is kt.schedules.incremental.Stage


def test_importing_the_package_does_not_load_tensorflow():
    code = "import sys, keras_transfer; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_readme_examples_import_public_names_only():
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks
    imports = [
        line
        for block in blocks
        for line in block.splitlines()
        if re.match(r"\s*(from|import) keras_transfer", line)
    ]
    for line in imports:
        m = re.match(r"\s*from keras_transfer import (.+)", line)
        assert line.strip() == "import keras_transfer as kt" or (
            m and set(n.strip() for n in m.group(1).split(",")) <= set(kt.__all__)
        ), line
