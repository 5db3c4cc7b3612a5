"""The package's layers: no module imports from a layer above its own (README, Layout)."""

import ast
import pathlib

import pytest

import keras_transfer

ROOT = pathlib.Path(keras_transfer.__file__).parent
# Lowest first. A module may import its own layer and the layers below it.
LAYERS = [
    (
        "callbacks",
        "checks",
        "files",
        "locks",
        "graph",
        "compat",
        "progress",
        "metrics",
        "report",
        "run_folder",
        "export",
        "data",
    ),
    ("layers",),
    ("models",),
    ("transfer",),
    ("_registration",),  # imports (by name) the modules that register Keras objects
    ("training",),
    ("schedules",),
    ("experiments",),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def layer_of(dotted):
    """``keras_transfer.transfer.fusion`` -> its layer's rank; None outside the layer map."""
    parts = dotted.split(".")
    if parts[0] != "keras_transfer" or len(parts) < 2:
        return None
    return RANK.get(parts[1])


def imports_of(path):
    """Every keras_transfer module imported anywhere in ``path`` (function bodies included)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "keras_transfer":  # from keras_transfer import data
                names += [f"keras_transfer.{alias.name}" for alias in node.names]
            else:
                names.append(node.module)
    return [n for n in names if n.startswith("keras_transfer.")]


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


def test_every_module_has_a_layer():
    dotted = {
        ".".join(("keras_transfer",) + p.relative_to(ROOT).with_suffix("").parts) for p in MODULES
    }
    assert {d for d in dotted if layer_of(d) is None} == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_from_a_layer_above(path):
    own = layer_of(".".join(("keras_transfer",) + path.relative_to(ROOT).with_suffix("").parts))
    above = [name for name in imports_of(path) if (layer_of(name) or 0) > own]
    assert above == [], f"{path.relative_to(ROOT)} imports from a layer above it: {above}"


def test_the_check_catches_an_upward_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from keras_transfer import training\n")
    assert imports_of(module) == ["keras_transfer.training"]
    assert layer_of("keras_transfer.training") > layer_of("keras_transfer.transfer.fusion")
