"""Saved models load in a new process after ``import keras_transfer``, computing the same function.

Every kind of model the package builds is saved here as ``.keras``, then loaded
by ``keras.models.load_model`` in a new Python process that imports only
``keras`` and ``keras_transfer`` (in either order, or only a submodule), and
its outputs (the teachers' too, and ``evaluate`` of compiled models, which
rebuilds the code loss and metric) are compared with the saved process's.
The custom objects resolve only if ``import keras_transfer`` registered them
(`keras_transfer._registration`); one child process per import order loads
the models, so the file stays well under a minute and a half on 2 cores.
"""

import ast
import importlib
import inspect
import json
import os
import pathlib
import pkgutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_transfer as kt
from keras_transfer import _registration
from keras_transfer import models
from keras_transfer.models import coding

ROOT = pathlib.Path(kt.__file__).parent
ATOL = 1e-5


def probe(model, x, y):
    """What a loaded model must reproduce: outputs, teachers' outputs, ``evaluate``, classes.

    Defined once and run in both processes (its source is sent to the child).
    """
    import keras

    def run(net):  # eager: no tf.function to trace, for a handful of images
        return keras.ops.convert_to_numpy(net(keras.ops.convert_to_tensor(x), training=False))

    arrays = {"output": run(model)}
    for i, teacher in enumerate(getattr(model, "teachers", [])):
        arrays[f"teacher{i}"] = run(teacher)
    if model.compiled and y is not None:
        scores = model.evaluate(x, y, verbose=0, return_dict=True)
        arrays["evaluate"] = np.array([float(scores[k]) for k in sorted(scores)])

    def walk(layer):
        yield layer
        for sub in getattr(layer, "layers", []):
            yield from walk(sub)

    ours = sorted(
        {
            type(obj).__name__
            for obj in [*walk(model), getattr(model, "loss", None)]
            if type(obj).__module__.startswith("keras_transfer.")
        }
    )
    info = {
        "class": type(model).__name__,
        "custom": ours,
        "loss": type(getattr(model, "loss", None)).__name__,
        "evaluate_keys": sorted(scores) if "evaluate" in arrays else [],
    }
    assert isinstance(model, keras.Model)
    return arrays, info


CHILD = f"""
import json, sys
order, folder = sys.argv[1], sys.argv[2]
names = sys.argv[3].split(",")
if order == "kt-first":
    import keras_transfer as kt
    import keras
elif order == "keras-first":
    import keras
    import keras_transfer as kt
else:  # "submodule-first": keras is first imported in the middle of keras_transfer.layers
    from keras_transfer.layers import SkipExchange
    import keras
import numpy as np

{inspect.getsource(probe)}

data = np.load(f"{{folder}}/inputs.npz")
report = {{"finder_left": [type(f).__name__ for f in sys.meta_path
                            if type(f).__module__.startswith("keras_transfer")],
          "keras_loader": type(keras.__loader__).__name__, "models": {{}}}}
out = {{}}
for name in names:
    try:
        model = keras.models.load_model(f"{{folder}}/{{name}}.keras")
        y = data[name + ".y"] if name + ".y" in data else None
        arrays, info = probe(model, data[name + ".x"], y)
    except Exception as exc:
        report["models"][name] = {{"error": f"{{type(exc).__name__}}: {{exc}}"[-3000:]}}
        continue
    report["models"][name] = info
    out.update({{f"{{name}}/{{k}}": v for k, v in arrays.items()}})
np.savez(f"{{folder}}/{{order}}.npz", **out)
print(json.dumps(report))
"""


def _images(shape, n=4, seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


def _distiller(teachers):
    student = models.compact_cnn((16, 16, 3), 5, width=4, depth=2, name="student")
    return kt.Distiller(teacher=teachers, student=student, alpha=0.3, temperature=3.0)


def _teacher(name, width):
    return models.compact_cnn((16, 16, 3), 5, width=width, depth=2, name=name)


def build_models():
    """name -> (model, inputs, labels or None): each kind of model the package saves, tiny."""
    keras.utils.set_random_seed(0)
    built = {}

    one = _distiller(_teacher("teacher", 6))
    one.compile(optimizer="sgd", metrics=["accuracy"])
    built["distiller_one_teacher"] = (one, _images((16, 16, 3)), np.arange(4) % 5)
    built["distiller_two_teachers"] = (
        _distiller([_teacher("t1", 6), _teacher("t2", 8)]),
        _images((16, 16, 3)),
        None,
    )

    a = models.residual_cnn(
        (16, 16, 3), include_top=False, blocks=4, blocks_per_stage=2, width=4, name="a"
    )
    b = models.residual_cnn(
        (16, 16, 3), include_top=False, blocks=4, blocks_per_stage=2, width=8, name="b"
    )
    fused = kt.fuse(
        a, b, 5, pairs=[("block2", "block2"), ("block4", "stage1_add")], exchange="gated"
    )
    for layer in fused.layers:  # open the gates (0 at creation), so the exchanges count
        for w in layer.weights:
            if "gate" in w.path:
                w.assign(0.7)
    built["fused"] = (fused, _images((16, 16, 3)), None)

    codes = coding.random_codes(5, 20)
    lenet = models.lenet5()
    lenet.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=coding.CodeLoss(codes),
        metrics=[coding.CodeAccuracy(codes)],
    )
    built["lenet5_code_loss"] = (lenet, _images((32, 32, 1)), np.arange(4) % 5)

    up = kt.upscale(models.table1_net("net-4", (8, 8, 3), 5), 2, mode="paper", seed=0)
    built["upscaled"] = (up, kt.replicate(_images((8, 8, 3))), None)
    built["alexnet_grouped_conv"] = (
        models.alexnet((64, 64, 3), 5, fc_units=16),
        _images((64, 64, 3)),
        None,
    )
    built["backbone_classifier"] = (
        models.backbone_classifier("MobileNetV2", (32, 32, 3), 5, alpha=0.35, image_size=40),
        _images((32, 32, 3)),
        None,
    )
    net2net = kt.deepen(
        kt.widen(models.table1_net("net-4", (8, 8, 3), 5), "conv1", 9, init="flip_central"), "pool2"
    )
    built["widened_deepened"] = (net2net, _images((8, 8, 3)), None)
    members = [
        models.shallow_cnn((16, 16, 3), 5, first_filters=2, second_filters=4, name=n)
        for n in ("m1", "m2")
    ]
    built["average_ensemble"] = (kt.average_ensemble(members), _images((16, 16, 3)), None)
    cloud = models.cloud_cnn((16, 16, 3), 5, filters=(4, 4, 8, 8, 8, 8), fc_units=16)
    kt.transfer_first_layer(cloud, members)
    built["htcnn_cloud"] = (cloud, _images((16, 16, 3)), None)
    return built


# The package's classes in each model (sorted): what the child must rebuild from the file.
EXPECTED_CUSTOM = {
    "distiller_one_teacher": ["Distiller"],
    "distiller_two_teachers": ["Distiller"],
    "fused": ["SkipExchange"],
    "lenet5_code_loss": ["CodeLoss", "ConnectionTableConv2D", "Subsampling2D"],
    "upscaled": ["DilatedPooling2D"],
    "alexnet_grouped_conv": ["GroupedConv2D"],
    "backbone_classifier": ["ImagenetPreprocessing", "ResizeImages"],
    "widened_deepened": [],
    "average_ensemble": [],
    "htcnn_cloud": [],
}
SUBSET = ["distiller_two_teachers", "fused", "lenet5_code_loss"]  # for the other import orders
ORDERS = {"kt-first": list(EXPECTED_CUSTOM), "keras-first": SUBSET, "submodule-first": SUBSET}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every model saved in a folder with its inputs; its probe in this process."""
    folder = tmp_path_factory.mktemp("saved")
    inputs, wants, infos = {}, {}, {}
    for name, (model, x, y) in build_models().items():
        model.save(folder / f"{name}.keras")
        inputs[f"{name}.x"] = x
        if y is not None:
            inputs[f"{name}.y"] = y
        wants[name], infos[name] = probe(model, x, y)
    np.savez(folder / "inputs.npz", **inputs)
    return folder, wants, infos


def check_in_a_new_process(saved, order):
    """Loads ORDERS[order] in a child process importing in that order; checks every model.

    One child per test (not per model: most of its time is importing TensorFlow),
    so pytest-xdist never runs a child twice. Its working directory is outside
    the repository: the installed package is what loads.
    """
    folder, wants, infos = saved
    names = ORDERS[order]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, order, str(folder), ",".join(names)],
        cwd=str(folder),
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["finder_left"] == []  # the hook removed itself once it fired
    assert report["keras_loader"] == "SourceFileLoader"  # and keras kept its own loader
    problems = []
    with np.load(folder / f"{order}.npz") as arrays:
        for name in names:
            got = report["models"][name]
            if "error" in got:
                problems.append(f"{name}: {got['error']}")
                continue
            if got != infos[name]:  # class, custom classes, loss, evaluate's metrics
                problems.append(f"{name}: loaded as {got}, saved as {infos[name]}")
            for key, want in wants[name].items():
                value = arrays[f"{name}/{key}"]
                if value.shape != want.shape or not np.allclose(value, want, atol=ATOL):
                    problems.append(f"{name} {key}: max |diff| {np.max(np.abs(value - want))}")
    assert problems == []


def test_the_test_models_hold_the_package_s_custom_objects(saved):
    assert {name: info["custom"] for name, info in saved[2].items()} == EXPECTED_CUSTOM


@pytest.mark.slow
def test_every_model_loads_in_a_new_process_importing_keras_transfer_first(saved):
    check_in_a_new_process(saved, "kt-first")


@pytest.mark.slow
def test_models_load_in_a_new_process_importing_keras_first(saved):
    check_in_a_new_process(saved, "keras-first")


@pytest.mark.slow
def test_models_load_in_a_new_process_importing_only_a_submodule(saved):
    # Keras is first imported in the middle of keras_transfer.layers' own import: the
    # registration waits until that import is done (no half-defined names).
    check_in_a_new_process(saved, "submodule-first")


def _registering_modules():
    found = set()
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text())
        if any(
            isinstance(node, ast.Attribute) and node.attr == "register_keras_serializable"
            for node in ast.walk(tree)
        ):
            found.add(".".join(("keras_transfer",) + path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_every_registering_module_is_imported_at_registration():
    assert _registering_modules() == set(_registration.MODULES)
    assert _registration.registered()  # keras is imported in this process


def test_every_custom_object_of_the_package_is_registered():
    # Every public Layer (Model included), Loss, Metric, Initializer, ... class the package
    # defines must be registered under its own name (experiments excepted: they only use them).
    bases = (
        keras.layers.Layer,
        keras.losses.Loss,
        keras.metrics.Metric,
        keras.initializers.Initializer,
        keras.optimizers.schedules.LearningRateSchedule,
        keras.constraints.Constraint,
        keras.regularizers.Regularizer,
    )
    custom = {}
    for info in pkgutil.walk_packages(kt.__path__, "keras_transfer."):
        if info.name.startswith("keras_transfer.experiments"):
            continue
        module = importlib.import_module(info.name)
        for attr, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, bases)
                and obj.__module__ == info.name
                and not attr.startswith("_")
            ):
                custom[f"{info.name}.{attr}"] = obj
    assert "keras_transfer.models.coding.CodeLoss" in custom  # the check sees the package's classes
    assert [
        path
        for path, obj in custom.items()
        if keras.saving.get_registered_object(f"keras_transfer>{obj.__name__}") is not obj
    ] == []


def test_importing_the_package_alone_installs_only_the_hook():
    code = (
        "import sys, keras_transfer, keras_transfer._registration as r; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, r.registered(), "
        "[type(f).__name__ for f in sys.meta_path if type(f).__module__ == r.__name__])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False False ['_Finder']"
