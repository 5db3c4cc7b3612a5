"""Every docstring example in the package runs and shows what it claims."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import keras_transfer

MODULES = sorted(m.name for m in pkgutil.walk_packages(keras_transfer.__path__, "keras_transfer."))
# Examples that train several models (half a minute): outside the fast loop.
SLOW = {"keras_transfer.experiments.htcnn.run"}


@pytest.mark.parametrize(
    "name", [pytest.param(m, marks=pytest.mark.slow) if m in SLOW else m for m in MODULES]
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
