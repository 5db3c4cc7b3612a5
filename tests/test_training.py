"""training.train: learning curve, logs, resume after interruption, deadline, strategies."""

import csv
import json
import math
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_transfer import data
from keras_transfer import models
from keras_transfer import training
from keras_transfer.callbacks import CURVE_FIELDS

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits():
    train_ds, info = data.load("digits", "train", repeat=True, batch_size=32, seed=0)
    test_ds, _ = data.load("digits", "test", batch_size=360)
    return train_ds, test_ds, info


def _model(info, learning_rate=0.01, seed=0):
    keras.utils.set_random_seed(seed)
    return training.compile_classifier(
        models.shallow_cnn(info.image_shape, info.num_classes), learning_rate=learning_rate
    )


class EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []
        self.start_weights = None

    def on_train_begin(self, logs=None):
        self.start_weights = [np.array(w) for w in self.model.get_weights()]

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


class Interrupt(Exception):
    pass


class InterruptAfter(keras.callbacks.Callback):
    """Raises at the end of epoch ``n`` (1-based), like a killed job."""

    def __init__(self, n):
        super().__init__()
        self.n = n
        self.weights = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.n:
            self.weights = [np.array(w) for w in self.model.get_weights()]
            raise Interrupt(f"killed after epoch {self.n}")


def _assert_same_curve(a, b):
    assert len(a) == len(b)
    for r, s in zip(a, b):
        assert set(r) == set(s) == set(CURVE_FIELDS)
        for key in CURVE_FIELDS:
            if isinstance(r[key], float) and math.isnan(r[key]):
                assert math.isnan(s[key]), (key, r, s)
            else:
                assert r[key] == pytest.approx(s[key], rel=1e-6, abs=1e-6), (key, r, s)


def _csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_curve_and_run_dir(digits, tmp_path):
    train_ds, test_ds, info = digits
    run_dir = tmp_path / "run"
    model = _model(info)
    curve = training.train(
        model, train_ds, test_ds, epochs=2, steps_per_epoch=10, run_dir=str(run_dir)
    )
    assert [r["epoch"] for r in curve] == [0, 1, 2]
    assert [r["step"] for r in curve] == [0, 10, 20]
    assert list(curve[0]) == list(CURVE_FIELDS)
    walls = [r["wall_seconds"] for r in curve]
    assert walls[0] == 0.0 and walls == sorted(walls) and walls[-1] > 0
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in curve)
    assert math.isnan(curve[0]["train_loss"])  # no training before step 0
    assert all(math.isfinite(r["train_loss"]) and r["train_loss"] > 0 for r in curve[1:])
    assert int(model.optimizer.iterations.numpy()) == 20

    # the last point is the returned (trained) model's accuracy on the test split
    final = model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]
    assert curve[-1]["test_accuracy"] == pytest.approx(final, abs=1e-6)

    # files
    _assert_same_curve(training.read_curve(str(run_dir / "curve.csv")), curve)
    fit_log = _csv_rows(run_dir / "fit_log.csv")
    assert [int(r["epoch"]) for r in fit_log] == [0, 1]
    assert {"loss", "accuracy", "val_accuracy"} <= set(fit_log[0])
    assert float(fit_log[-1]["val_accuracy"]) == pytest.approx(curve[-1]["test_accuracy"])
    events = [p for p in (run_dir / "tensorboard").rglob("events.out.tfevents.*")]
    assert events, "no TensorBoard event files"


def test_train_learns_digits(digits):
    train_ds, test_ds, info = digits
    model = _model(info, learning_rate=0.05)
    curve = training.train(model, train_ds, test_ds, epochs=3, steps_per_epoch=60)
    assert [r["step"] for r in curve] == [0, 60, 120, 180]
    assert curve[-1]["test_accuracy"] > 0.5  # chance is 0.1
    assert curve[-1]["test_accuracy"] > curve[0]["test_accuracy"]
    assert curve[-1]["train_loss"] < curve[1]["train_loss"]


def test_train_without_eval_at_start(digits):
    train_ds, test_ds, info = digits
    curve = training.train(
        _model(info), train_ds, test_ds, epochs=1, steps_per_epoch=3, eval_at_start=False
    )
    assert [r["epoch"] for r in curve] == [1]


def test_a_new_model_traces_its_training_step_once(digits):
    # Keras alone (no strategy) creates the optimizer's and metrics' variables in the first
    # trace, and TensorFlow then traces the step again; `train` builds them first.
    train_ds, test_ds, info = digits
    model = _model(info)
    traces = []
    train_step = model.train_step
    model.train_step = lambda batch: traces.append(1) or train_step(batch)
    training.train(model, train_ds, test_ds, epochs=2, steps_per_epoch=4, eval_at_start=True)
    assert len(traces) == 1
    assert model.optimizer.built and model.optimizer.iterations.numpy() == 8


def test_resume_after_interruption(digits, tmp_path):
    train_ds, test_ds, info = digits
    run_dir = str(tmp_path / "run")
    steps = 10

    first = _model(info, seed=0)
    killer = InterruptAfter(2)
    with pytest.raises(Interrupt):
        training.train(
            first,
            train_ds,
            test_ds,
            epochs=4,
            steps_per_epoch=steps,
            run_dir=run_dir,
            callbacks=[killer],
        )
    partial = training.read_curve(os.path.join(run_dir, "curve.csv"))
    assert [r["epoch"] for r in partial] == [0, 1, 2]
    assert os.path.isdir(os.path.join(run_dir, "backup"))

    # A fresh process would rebuild the model from scratch: new initial weights.
    second = _model(info, seed=123)
    fresh = [np.array(w) for w in second.get_weights()]
    counter = EpochCounter()
    curve = training.train(
        second,
        train_ds,
        test_ds,
        epochs=4,
        steps_per_epoch=steps,
        run_dir=run_dir,
        callbacks=[counter],
    )
    # resumed from the backup of epoch 2, not restarted
    assert counter.epochs == [2, 3]
    assert any(not np.array_equal(a, b) for a, b in zip(fresh, counter.start_weights))
    for a, b in zip(killer.weights, counter.start_weights):
        np.testing.assert_array_equal(a, b)
    assert int(second.optimizer.iterations.numpy()) == 4 * steps
    assert [r["epoch"] for r in curve] == [0, 1, 2, 3, 4]
    assert [r["step"] for r in curve] == [0, 10, 20, 30, 40]
    _assert_same_curve(curve[:3], partial)  # earlier points kept
    walls = [r["wall_seconds"] for r in curve]
    assert walls == sorted(walls)  # training time continues across the restart
    _assert_same_curve(training.read_curve(os.path.join(run_dir, "curve.csv")), curve)
    assert [int(r["epoch"]) for r in _csv_rows(os.path.join(run_dir, "fit_log.csv"))] == [
        0,
        1,
        2,
        3,
    ]


def test_deadline_stops_early_and_keeps_model(digits):
    train_ds, test_ds, info = digits
    model = _model(info)
    epochs, steps = 200, 20
    curve = training.train(
        model, train_ds, test_ds, epochs=epochs, steps_per_epoch=steps, deadline_seconds=0.5
    )
    last = curve[-1]
    assert 0 < last["step"] < epochs * steps
    assert last["wall_seconds"] >= 0.5
    assert int(model.optimizer.iterations.numpy()) == last["step"]
    # no rollback: the model returned is the one evaluated at the stop
    acc = model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"]
    assert acc == pytest.approx(last["test_accuracy"], abs=1e-6)


def test_bad_arguments(digits):
    train_ds, test_ds, info = digits
    model = _model(info)
    for kwargs in (
        dict(epochs=0, steps_per_epoch=1),
        dict(epochs=1, steps_per_epoch=0),
        dict(epochs=1.5, steps_per_epoch=1),
    ):
        with pytest.raises(ValueError, match="epochs|steps_per_epoch"):
            training.train(model, train_ds, test_ds, **kwargs)
    uncompiled = models.shallow_cnn(info.image_shape, 10)
    with pytest.raises(ValueError, match="compiled"):
        training.train(uncompiled, train_ds, test_ds, epochs=1, steps_per_epoch=1)
    with pytest.raises(ValueError, match="bogus"):
        training.get_strategy("bogus")
    assert training.get_strategy("default").num_replicas_in_sync == 1
    with pytest.raises(ValueError):
        training.compile_classifier(uncompiled, learning_rate=0)
    with pytest.raises(ValueError):
        training.Deadline(0)
    assert training.read_curve("/nonexistent/curve.csv") == []


MIRRORED_SCRIPT = textwrap.dedent("""
    import json, os, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    # Two logical CPU devices, before any op runs.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    import keras
    import numpy as np
    from keras_transfer import data, models, training

    strategy = training.get_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync

    # 1. training.train under the strategy
    keras.utils.set_random_seed(0)
    train_ds, info = data.load("digits", "train", repeat=True, batch_size=64, seed=0)
    test_ds, _ = data.load("digits", "test", batch_size=360)
    with strategy.scope():
        model = training.compile_classifier(models.shallow_cnn(info.image_shape, 10),
                                            learning_rate=0.05)
    curve = training.train(model, train_ds, test_ds, epochs=1, steps_per_epoch=40,
                           run_dir=sys.argv[1])
    print("CURVE " + json.dumps(curve))

    # 2. three momentum-SGD steps, mirrored vs default, same initial weights and batches
    x, y, _ = data.load_arrays("digits", "train")
    x, y = x[:192], y[:192]

    def run(strat, init=None):
        with strat.scope():
            m = models.shallow_cnn((8, 8, 1), 10)
            if init is not None:
                m.set_weights(init)
            training.compile_classifier(m, learning_rate=0.1, momentum=0.9)
        start = [np.array(w) for w in m.get_weights()]
        m.fit(data.make_dataset(x, y, 64), epochs=1, verbose=0)
        return start, m.get_weights(), int(m.optimizer.iterations.numpy())

    keras.utils.set_random_seed(1)
    init, ref, it_ref = run(training.get_strategy("default"))
    _, mirrored, it_mirrored = run(strategy, init)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(init, ref))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, mirrored))
    print("STEP " + json.dumps({"iterations": [it_ref, it_mirrored], "moved": moved,
                                "diff": diff}))
""")


@pytest.mark.slow
def test_mirrored_strategy_two_cpu_replicas(tmp_path):
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(REPO)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
        ),
    )
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(tmp_path / "run")],
        cwd=str(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    lines = {
        line.split(" ", 1)[0]: json.loads(line.split(" ", 1)[1])
        for line in proc.stdout.splitlines()
        if line.startswith(("CURVE ", "STEP "))
    }

    curve = lines["CURVE"]
    assert [r["step"] for r in curve] == [0, 40]
    assert curve[-1]["test_accuracy"] > 0.3  # chance is 0.1
    assert curve[-1]["test_accuracy"] > curve[0]["test_accuracy"]
    assert (tmp_path / "run" / "curve.csv").exists()

    step = lines["STEP"]
    assert step["iterations"] == [3, 3]
    assert step["moved"] > 1e-3  # the steps did change the weights
    assert step["diff"] < 1e-5  # and the two replicas' summed gradients match one device


def test_finished_run_dir_is_loaded_not_retrained(digits, tmp_path):
    train_ds, test_ds, info = digits
    run_dir = str(tmp_path / "done")
    first = _model(info, seed=0)
    curve = training.train(first, train_ds, test_ds, epochs=2, steps_per_epoch=5, run_dir=run_dir)
    assert os.path.exists(os.path.join(run_dir, training.FINAL_WEIGHTS))
    again = _model(info, seed=7)
    counter = EpochCounter()
    same = training.train(
        again, train_ds, test_ds, epochs=2, steps_per_epoch=5, run_dir=run_dir, callbacks=[counter]
    )
    assert counter.epochs == []  # nothing trained
    _assert_same_curve(same, curve)
    for a, b in zip(first.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_steps_per_execution_trains_the_same_steps_and_weights(digits, tmp_path):
    """Several steps per tf.function call: same curve steps, same weights as one step per call."""
    train_ds, test_ds, info = digits
    results = {}
    for spe in (1, "auto"):
        model = _model(info)
        # A fresh dataset from the same seed: the same batches in both runs.
        ds, _ = data.load("digits", "train", repeat=True, batch_size=32, seed=0)
        curve = training.train(
            model,
            ds,
            test_ds,
            epochs=2,
            steps_per_epoch=30,
            steps_per_execution=spe,
            run_dir=str(tmp_path / str(spe)),
        )
        results[spe] = (curve, model.get_weights(), model.steps_per_execution)
    assert results[1][2] == 1 and results["auto"][2] == 30
    assert (
        [r["step"] for r in results[1][0]] == [r["step"] for r in results["auto"][0]] == [0, 30, 60]
    )
    diff = max(float(np.abs(a - b).max()) for a, b in zip(results[1][1], results["auto"][1]))
    assert diff < 1e-5


def test_auto_steps_per_execution_only_for_overhead_bound_models():
    from keras_transfer.models import compact

    cloud = models.build("cloud_cnn", input_shape=(32, 32, 3), num_classes=10)
    small = models.build("shallow_cnn", input_shape=(32, 32, 3), num_classes=10)
    # The estimate agrees with the graph profiler's count (kernels dominate).
    for model in (cloud, small):
        exact = compact.count_flops(model)
        assert 0.9 * exact <= training.forward_flops_estimate(model) <= exact
    assert training.resolve_steps_per_execution("auto", 100, model=cloud) == 1
    assert training.resolve_steps_per_execution("auto", 100, model=small) == 25
    assert training.resolve_steps_per_execution(10, 100, model=cloud) == 10  # asked for
    nested = keras.Sequential([keras.Input((32, 32, 3)), cloud])
    assert training.forward_flops_estimate(nested) == training.forward_flops_estimate(cloud)


def test_options_report_progress_of_every_training(digits, capsys):
    from keras_transfer.progress import ProgressLog

    train_ds, test_ds, info = digits
    log = ProgressLog(total_steps=40, min_interval=0.0)
    with training.options(progress=log, steps_per_execution=4):
        training.train(_model(info), train_ds, test_ds, epochs=2, steps_per_epoch=20)
        assert training.resolve_steps_per_execution(None, 20) == 4
    assert training.resolve_steps_per_execution(None, 20) == 20  # options restored ("auto")
    lines = capsys.readouterr().out.strip().splitlines()
    assert log.done == 40 and len(lines) == 2  # epoch 1 (min_interval 0) and the end
    assert "100%" in lines[-1] and "epoch 2/2" in lines[-1] and "acc " in lines[-1]
    with pytest.raises(ValueError, match="steps_per_execution 'auto' or an integer >= 1"):
        with training.options(steps_per_execution=0):
            pass
