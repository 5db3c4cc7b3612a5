"""The README's Python examples run as written, with the step counts cut to a few steps.

Only these literals change (so each example takes seconds): ``steps=10_000``,
``steps_per_epoch=1000``, ``epochs=20`` / ``epochs=10``, the 10,000-image
slice, and the HTCNN example's CIFAR-10 becomes the embedded digits (decoding
50,000 CIFAR-10 images took 100 s of a 2-core CI run); everything else,
ImageNet weights included, is the README's.
"""

import pathlib
import re

import numpy as np
import pytest

from keras_transfer import data

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
TINY = [
    (r"\bsteps=10_000\b", "steps=4"),
    (r"\bsteps_per_epoch=1000\b", "steps_per_epoch=2"),
    (r"\bepochs=(20|10)\b", "epochs=1"),
    (r"\[:10_000\]", "[:64]"),
]


def block(first_line_match, dataset=None):
    found = [b for b in BLOCKS if re.search(first_line_match, b)]
    assert len(found) == 1, first_line_match
    code = found[0]
    for pattern, tiny in TINY:
        code = re.sub(pattern, tiny, code)
    if dataset:
        code = code.replace('"cifar10"', repr(dataset))
    return code


def run(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the README's own code
    return namespace


def needs(name):
    return pytest.mark.skipif(name not in data.available(), reason=f"{name} not in the data dir")


def test_readme_has_the_five_examples():
    assert len(BLOCKS) == 5


def test_fusion_example(tmp_path, monkeypatch):
    ns = run(block(r"kt\.fuse\("), tmp_path, monkeypatch)
    assert ns["fused"].output_shape == (None, 8)
    assert {
        g for gates in ns["kt"].exchange_gates(ns["fused"]).values() for g in gates.values()
    } == {0.0}
    assert ns["ensemble"].output_shape == (None, 8)


def test_coarse2fine_example(tmp_path, monkeypatch):
    ns = run(block(r"kt\.upscale\("), tmp_path, monkeypatch)
    assert ns["gap"] < 1e-5
    assert ns["deeper"].input_shape == (None, 16, 16, 3)
    assert ns["net3"].get_layer("fc6").units == 512


def test_htcnn_example(tmp_path, monkeypatch):
    ns = run(block(r"kt\.train_shallow_cnns\(", dataset="digits"), tmp_path, monkeypatch)
    assert len(ns["shallow"]) == 4 and [r["step"] for r in ns["curve"]] == [0, 2]
    # conv1 filters [8, 16) came from shallow CNN 1 (then trained 2 SGD steps at 0.01)
    kernel = ns["cloud"].get_layer("conv1").kernel.numpy()
    assert (
        np.abs(kernel[..., 8:16] - ns["shallow"][1].get_layer("conv1").kernel.numpy()).max() < 0.01
    )
    assert (tmp_path / "runs" / "cloud" / "curve.csv").exists()


def test_layer_transfer_example(tmp_path, monkeypatch):
    ns = run(block(r"kt\.transfer_layers\("), tmp_path, monkeypatch)
    assert round(ns["kt"].parameter_report(ns["target"])["trainable_fraction"], 3) == 0.967


@pytest.mark.slow
@needs("cifar10")
def test_compact_example(tmp_path, monkeypatch):
    ns = run(block(r"kt\.Distiller\("), tmp_path, monkeypatch)
    assert ns["logits"].shape == (64, 10) and ns["imagenet_net"].output_shape == (None, 1000)
    assert (tmp_path / "saved_models" / "student" / "saved_model.pb").exists()
