"""schedules.incremental: the coarse-to-fine schedule with our loop or a user's own fit."""

import re

import keras
import pytest

from keras_transfer import data
from keras_transfer import training
from keras_transfer.models import table1_net
from keras_transfer.schedules.incremental import Stage
from keras_transfer.schedules.incremental import train_incremental
from keras_transfer.transfer import upscale

STAGES = [Stage(8, 1), Stage(16, 2, lambda m: upscale(m, 2))]


def datasets(resolution):
    return (
        data.load("digits", "train", image_size=resolution, repeat=True, batch_size=32)[0],
        data.load("digits", "test", image_size=resolution, batch_size=200)[0],
    )


def test_default_loop_curve_and_stages():
    keras.utils.set_random_seed(0)
    out = train_incremental(
        table1_net("net-1", (8, 8, 1), 10),
        STAGES,
        datasets,
        steps_per_epoch=5,
        compile_fn=training.compile_classifier,
    )
    assert [(r["resolution"], r["epoch"], r["step"]) for r in out["curve"]] == [
        (8, 0, 0),
        (8, 1, 5),
        (16, 1, 5),
        (16, 2, 10),
        (16, 3, 15),
    ]
    assert out["model"].input_shape == (None, 16, 16, 1)
    # exact upscaling: the accuracy after the transform equals the one before it
    assert out["stages"][1]["accuracy_after_transform"] == pytest.approx(
        out["stages"][1]["accuracy_before_transform"], abs=0.01
    )


def test_a_users_fit_callbacks_and_metric_are_used():
    calls, epochs = [], []

    def my_fit(model, x, **kwargs):
        calls.append(sorted(kwargs))
        return keras.Model.fit(model, x, **kwargs)

    class CountEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs.append(sorted(logs))

    def compile_top3(model):
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseTopKCategoricalAccuracy(3, name="top3")],
        )

    keras.utils.set_random_seed(0)
    out = train_incremental(
        table1_net("net-1", (8, 8, 1), 10),
        STAGES,
        datasets,
        steps_per_epoch=5,
        compile_fn=compile_top3,
        fit=my_fit,
        callbacks=[CountEpochs()],
        metric="top3",
    )
    assert len(calls) == 2 and all("callbacks" in c and "validation_data" in c for c in calls)
    assert len(epochs) == 3 and all("val_top3" in logs for logs in epochs)
    top3 = out["model"].evaluate(datasets(16)[1], verbose=0, return_dict=True)["top3"]
    assert out["curve"][-1]["test_accuracy"] == pytest.approx(top3, abs=1e-6)


def test_a_metric_the_model_lacks_is_refused_before_training():
    with pytest.raises(ValueError, match=r"metric 'top3', received metrics \['accuracy', "):
        train_incremental(
            table1_net("net-1", (8, 8, 1), 10),
            STAGES,
            datasets,
            steps_per_epoch=5,
            compile_fn=training.compile_classifier,
            metric="top3",
        )


def test_the_schedule_is_checked():
    model = table1_net("net-1", (8, 8, 1), 10)
    with pytest.raises(ValueError, match="a transform on every stage but the first"):
        train_incremental(
            model,
            [Stage(8, 1), Stage(16, 1)],
            datasets,
            steps_per_epoch=1,
            compile_fn=training.compile_classifier,
        )
    with pytest.raises(ValueError, match="for 16x16 images"):
        train_incremental(
            model,
            [Stage(16, 1)],
            datasets,
            steps_per_epoch=1,
            compile_fn=training.compile_classifier,
        )


@pytest.mark.parametrize(
    "args,fragment",
    [
        ((0, 1), "resolution to be an integer >= 1, received 0"),
        ((8, -1), "epochs to be an integer >= 0, received -1"),
        ((8.5, 1), "resolution to be an integer >= 1, received 8.5"),
        ((16, 1, "upscale"), "transform to be None or model -> model, received str"),
    ],
)
def test_stage_refuses_bad_values_in_one_line(args, fragment):
    from keras_transfer.schedules.incremental import Stage

    with pytest.raises(ValueError, match=re.escape(fragment)):
        Stage(*args)
