"""Distillation (compact-cnn-transfer-distillation.txt, stage 2): loss, Distiller, caching."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO
from conftest import predict

from keras_transfer import data as kt_data
from keras_transfer.models.compact import compact_cnn
from keras_transfer.transfer import distillation


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_distillation_loss_matches_hand_computation():
    labels = np.array([0, 2])
    teacher = np.array([[3.0, 1.0, 0.2], [0.5, 0.1, 2.0]])
    student = np.array([[1.0, 2.0, 0.0], [0.0, 0.3, 1.0]])
    alpha, temp = 0.3, 2.5
    hard = -np.log(_softmax(student)[np.arange(2), labels])
    p, q = _softmax(teacher / temp), _softmax(student / temp)
    soft = (p * np.log(p / q)).sum(axis=-1) * temp**2
    total, h, s = distillation.distillation_loss(labels, teacher, student, alpha, temp)
    np.testing.assert_allclose(np.asarray(h), hard, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(s), soft, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(total), alpha * hard + (1 - alpha) * soft, rtol=1e-5)
    # The soft term is keras.distillation's LogitsDistillation (batch mean there),
    # given the KLDivergence instance (its default string loss skips the softmax).
    ref = keras.distillation.LogitsDistillation(
        temperature=temp, loss=keras.losses.KLDivergence()
    ).compute_loss(tf.constant(teacher, tf.float32), tf.constant(student, tf.float32))
    np.testing.assert_allclose(float(ref), soft.mean(), rtol=1e-5)


def _pair(seed=0, classes=3):
    keras.utils.set_random_seed(seed)
    teacher = compact_cnn((8, 8, 1), classes, width=8, depth=2, name="teacher")
    student = compact_cnn((8, 8, 1), classes, width=4, depth=1, name="student")
    return teacher, student


def _digits(n=64, classes=3):
    x, y, _ = kt_data.load_arrays("digits", "train")
    keep = np.flatnonzero(y < classes)[:n]
    return x[keep], y[keep]


def _distiller(teacher, student, lr=0.1):
    d = distillation.Distiller(teacher=teacher, student=student, alpha=0.3, temperature=3.0)
    d.compile(optimizer=keras.optimizers.SGD(lr), metrics=["accuracy"])
    return d


def test_teacher_frozen_and_student_trained():
    teacher, student = _pair()
    t_before = [w.copy() for w in teacher.get_weights()]
    s_before = [w.copy() for w in student.get_weights()]
    x, y = _digits()
    d = _distiller(teacher, student)
    hist = d.fit(kt_data.make_dataset(x, y, 16), epochs=2, verbose=0).history
    assert set(hist) == {"loss", "student_loss", "distillation_loss", "accuracy"}
    for a, b in zip(t_before, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)  # BatchNorm statistics included
    assert max(np.abs(a - b).max() for a, b in zip(s_before, student.get_weights())) > 1e-4
    assert teacher.trainable is False


@pytest.mark.slow
def test_cached_and_uncached_first_step_are_identical():
    x, y = _digits(32)
    results = []
    for cached in (False, True):
        teacher, student = _pair(seed=1)
        d = _distiller(teacher, student)
        targets = y
        if cached:
            logits = distillation.teacher_logits(teacher, kt_data.make_dataset(x, y, 32))
            targets = distillation.with_teacher_logits(y, logits)
        d.fit(kt_data.make_dataset(x, targets, 32), epochs=1, verbose=0)
        assert int(d.optimizer.iterations.numpy()) == 1
        results.append(student.get_weights())
    moved = max(np.abs(a - b).max() for a, b in zip(_pair(seed=1)[1].get_weights(), results[0]))
    assert moved > 1e-4
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_alpha_one_equals_training_on_labels_alone():
    x, y = _digits(32)
    teacher, student = _pair(seed=2)
    d = distillation.Distiller(teacher=teacher, student=student, alpha=1.0, temperature=3.0)
    d.compile(optimizer=keras.optimizers.SGD(0.1))
    d.fit(kt_data.make_dataset(x, y, 32), epochs=1, verbose=0)
    _, plain = _pair(seed=2)
    plain.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    plain.fit(kt_data.make_dataset(x, y, 32), epochs=1, verbose=0)
    for a, b in zip(student.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_distiller_save_load_and_student_export(tmp_path):
    teacher, student = _pair(seed=3)
    x, y = _digits(32)
    d = _distiller(teacher, student)
    d.fit(kt_data.make_dataset(x, y, 16), epochs=1, verbose=0)
    path = str(tmp_path / "distiller.keras")
    d.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, distillation.Distiller)
    assert (loaded.alpha, loaded.temperature) == (0.3, 3.0)
    xf = x.astype("float32") / 255.0
    np.testing.assert_allclose(predict(loaded, xf), predict(student, xf), atol=1e-6)
    np.testing.assert_allclose(predict(loaded.teacher, xf), predict(teacher, xf), atol=1e-6)
    export_dir = str(tmp_path / "student")
    loaded.student.export(export_dir, verbose=False)
    reloaded = tf.saved_model.load(export_dir)
    np.testing.assert_allclose(
        reloaded.serve(tf.constant(xf)).numpy(), predict(student, xf), atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alpha": 1.5}, "alpha in \\[0, 1\\]"),
        ({"alpha": -0.1}, "alpha in \\[0, 1\\]"),
        ({"temperature": 0.0}, "temperature > 0"),
        ({"temperature": -2}, "temperature > 0"),
    ],
)
def test_bad_hyperparameters(kwargs, message):
    teacher, student = _pair()
    with pytest.raises(ValueError, match=message):
        distillation.Distiller(teacher=teacher, student=student, **kwargs)


def test_class_count_mismatch():
    teacher, _ = _pair(classes=3)
    _, student = _pair(classes=4)
    with pytest.raises(ValueError, match="same number of classes.*teacher 3 and student 4"):
        distillation.Distiller(teacher=teacher, student=student)


def test_teacher_and_student_by_keyword_only():
    teacher, student = _pair()
    with pytest.raises(TypeError, match="teacher= and student= by keyword"):
        distillation.Distiller(student, teacher)
    with pytest.raises(TypeError, match="received 1 positional"):
        distillation.Distiller(student, teacher=teacher)
    d = distillation.Distiller(teacher=teacher, student=student)
    assert d.teacher is teacher and d.student is student


def test_bad_cached_targets():
    with pytest.raises(ValueError, match="logits of shape \\(3, classes\\)"):
        distillation.with_teacher_logits(np.zeros(3), np.zeros((2, 5)))
    teacher, _ = _pair()
    ds = (
        tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8, 1), "float32"), np.zeros(4)))
        .batch(2)
        .repeat()
    )
    with pytest.raises(ValueError, match="finite dataset"):
        distillation.teacher_logits(teacher, ds)


MIRRORED_SCRIPT = textwrap.dedent("""
    import json, os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    import keras
    import numpy as np
    from keras_transfer import data, training
    from keras_transfer.models.compact import compact_cnn
    from keras_transfer.transfer.distillation import Distiller

    x, y, _ = data.load_arrays("digits", "train")
    x, y = x[:128], y[:128]

    def small_student():  # no BatchNorm: its batch statistics are per replica
        return keras.Sequential([keras.Input((8, 8, 1)),
                                 keras.layers.Conv2D(4, 3, activation="relu"),
                                 keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])

    keras.utils.set_random_seed(0)
    t_init = compact_cnn((8, 8, 1), 10, width=8, depth=2).get_weights()
    s_init = small_student().get_weights()

    def run(strategy):
        with strategy.scope():
            teacher = compact_cnn((8, 8, 1), 10, width=8, depth=2)
            student = small_student()
            teacher.set_weights(t_init)
            student.set_weights(s_init)
            d = Distiller(teacher=teacher, student=student, alpha=0.3, temperature=3.0)
            d.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
        d.fit(data.make_dataset(x, y, 64), epochs=1, verbose=0)
        return student.get_weights(), strategy.num_replicas_in_sync

    ref, n1 = run(training.get_strategy("default"))
    mirrored, n2 = run(training.get_strategy("mirrored"))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(s_init, ref))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, mirrored))
    print("RESULT " + json.dumps({"replicas": [n1, n2], "moved": moved, "diff": diff}))
""")


def test_distiller_mirrored_two_replicas_matches_one():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT],
        cwd=str(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    line = next(s for s in proc.stdout.splitlines() if s.startswith("RESULT "))
    result = json.loads(line.split(" ", 1)[1])
    assert result["replicas"] == [1, 2]
    assert result["moved"] > 1e-3
    assert result["diff"] < 1e-5  # loss scaled for the replicas: same update as one device


def test_two_teachers_match_hand_computed_loss_run_or_cached(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = _digits(n=32)
    t1 = compact_cnn((8, 8, 1), 3, width=8, depth=2, name="t1")
    t2 = compact_cnn((8, 8, 1), 3, width=4, depth=2, name="t2")
    student = compact_cnn((8, 8, 1), 3, width=4, depth=1, name="student")
    xs = x.astype("float32")[..., :1] / 255.0 if x.ndim == 4 else x
    z1, z2 = (np.asarray(predict(t, xs), np.float64) for t in (t1, t2))
    zs = np.asarray(predict(student, xs), np.float64)
    alpha, temp = 0.3, 3.0
    p_bar = (_softmax(z1 / temp) + _softmax(z2 / temp)) / 2  # averaged softened outputs
    q = _softmax(zs / temp)
    soft = (p_bar * np.log(p_bar / q)).sum(-1) * temp**2
    hard = -np.log(_softmax(zs)[np.arange(len(y)), y])
    expected = {
        "loss": (alpha * hard + (1 - alpha) * soft).mean(),
        "student_loss": hard.mean(),
        "distillation_loss": soft.mean(),
    }
    d = distillation.Distiller(teacher=[t1, t2], student=student, alpha=alpha, temperature=temp)
    d.compile(optimizer="sgd", metrics=["accuracy"])
    run = d.evaluate(xs, y, batch_size=len(y), verbose=0, return_dict=True)
    cached = d.evaluate(
        xs,
        distillation.with_teacher_logits(y, [z1, z2]),
        batch_size=len(y),
        verbose=0,
        return_dict=True,
    )
    for key, value in expected.items():
        np.testing.assert_allclose(run[key], value, rtol=1e-4)
        np.testing.assert_allclose(cached[key], value, rtol=1e-4)
    assert t1.trainable is False and t2.trainable is False
    path = str(tmp_path / "d.keras")
    d.save(path)
    loaded = keras.saving.load_model(path)
    assert [t.name for t in loaded.teachers] == ["t1", "t2"]


def test_keras_distillation_loss_object_as_the_soft_term():
    teacher, student = _pair()
    x, y = _digits(n=32)
    xs = x.astype("float32")
    temp, alpha = 2.0, 0.25
    soft_obj = keras.distillation.LogitsDistillation(
        temperature=temp, loss=keras.losses.KLDivergence()
    )
    d = distillation.Distiller(
        teacher=teacher, student=student, alpha=alpha, temperature=temp, distillation_loss=soft_obj
    )
    d.compile(optimizer="sgd", metrics=["accuracy"])
    got = d.evaluate(xs, y, batch_size=len(y), verbose=0, return_dict=True)
    zt = predict(teacher, xs)
    zs = predict(student, xs)
    ref = float(soft_obj.compute_loss(tf.constant(zt), tf.constant(zs)))
    hard = -np.log(_softmax(zs.astype(np.float64))[np.arange(len(y)), y]).mean()
    np.testing.assert_allclose(got["distillation_loss"], ref, rtol=1e-4)
    np.testing.assert_allclose(got["loss"], alpha * hard + (1 - alpha) * ref, rtol=1e-4)
    # the built-in per-example KL gives the same number for this loss object
    builtin = distillation.Distiller(
        teacher=teacher, student=student, alpha=alpha, temperature=temp
    )
    builtin.compile(optimizer="sgd")
    b = builtin.evaluate(xs, y, batch_size=len(y), verbose=0, return_dict=True)
    np.testing.assert_allclose(b["distillation_loss"], ref, rtol=1e-4)
    hist = d.fit(xs, y, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(hist["loss"][0])
    with pytest.raises(ValueError, match="temperature to equal temperature=4.0, received 2.0"):
        distillation.Distiller(
            teacher=teacher, student=student, temperature=4.0, distillation_loss=soft_obj
        )
    with pytest.raises(ValueError, match="keras.distillation.DistillationLoss, received 'kl'"):
        distillation.Distiller(teacher=teacher, student=student, distillation_loss="kl")
    with pytest.raises(ValueError, match="at least one teacher"):
        distillation.Distiller(teacher=[], student=student)


@pytest.mark.parametrize(
    "case",
    ["bad_second_teacher", "wrong_input_shape", "bad_loss", "not_a_model", "bad_hyperparameters"],
)
def test_refused_distiller_leaves_every_model_as_it_was(case):
    good, student = _pair()
    bad, _ = _pair(classes=4)
    teachers, kwargs = [good, bad], {}
    if case == "wrong_input_shape":
        teachers = [good, compact_cnn((16, 16, 1), 3, width=4, depth=1, name="big")]
    elif case == "bad_loss":
        teachers, kwargs = [good, _pair(seed=1)[0]], {"distillation_loss": "kl"}
    elif case == "not_a_model":
        teachers = [good, np.zeros((8, 8, 1))]
    elif case == "bad_hyperparameters":
        teachers, kwargs = [good], {"alpha": 2.0}
    models = [m for m in teachers + [student] if isinstance(m, keras.Model)]
    student.trainable = False  # a flag the distiller must not touch either
    before = [m.trainable for m in models]
    with pytest.raises((ValueError, TypeError)) as error:
        distillation.Distiller(teacher=teachers, student=student, **kwargs)
    assert "\n" not in str(error.value)
    assert [m.trainable for m in models] == before
    assert all(m.trainable for m in teachers[:1])  # the good teacher was not frozen
    # accepted: the teachers are frozen, the student is left as given
    student.trainable = True
    distillation.Distiller(teacher=[good, _pair(seed=2)[0]], student=student)
    assert not good.trainable and student.trainable


def test_teacher_logits_refuses_what_is_not_a_model_and_a_dataset():
    import keras
    import pytest

    from keras_transfer.transfer.distillation import teacher_logits

    teacher = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    with pytest.raises(TypeError, match="received Sequential and int; batch the data"):
        teacher_logits(teacher, 5)
