"""One way to train: learning curves of test accuracy against steps and wall time.

`train` wraps `keras.Model.fit` (so every Keras feature keeps working) with the
callbacks the papers' comparisons need:

- an "epoch" is ``steps_per_epoch`` optimizer steps on a repeating dataset
  (HTCNN paper section IV-B: 1,000 iterations of batch 100);
- test accuracy is measured at step 0 and after every epoch, with the
  cumulative *training* wall time (evaluation excluded) — `LearningCurve`;
- TensorBoard and CSV logs, an `EpochBackup` so a killed run resumes where it
  stopped (every file written atomically), a `DivergenceGuard` that ends a
  training whose loss became NaN or infinite with `callbacks.Diverged`, and an optional
  wall-clock `Deadline` that stops training and keeps the model reached by then.

Distribution: build and compile the model under ``get_strategy(name).scope()``;
``fit`` then distributes the `tf.data` input itself.

Run-wide settings (a progress log, ``steps_per_execution``) are set once by
the caller with `options` instead of being passed through every experiment.
"""

import contextlib
import math
import os
import shutil

import keras
import tensorflow as tf

# The loop's callbacks live in their own module.
from keras_transfer.callbacks import Deadline
from keras_transfer.callbacks import DivergenceGuard
from keras_transfer.callbacks import EpochBackup
from keras_transfer.callbacks import LearningCurve
from keras_transfer.callbacks import ReportProgress
from keras_transfer.callbacks import read_curve
from keras_transfer.compat import build_training_state
from keras_transfer.compat import is_multi_worker
from keras_transfer.compat import patch_distributed_fit
from keras_transfer.files import save_weights

STRATEGIES = ("default", "mirrored", "multi_worker")
FINAL_WEIGHTS = "final.weights.h5"
# Small models are overhead-bound: one fit step of LeNet-5 at batch 32 costs
# 20 ms on a 2-core CPU, mostly per-step dispatch; running up to this many
# steps per tf.function call removes most of it (benchmarks/throughput.py).
MAX_STEPS_PER_EXECUTION = 32
# Above this many forward FLOPs per example a step is compute-bound and "auto"
# keeps one step per call: the HTCNN cloud CNN (80 MFLOP/image) trains no faster
# with 32 (0.87-1.02x of plain fit over two runs of benchmarks/throughput.py),
# the small models (< 2 MFLOP/image) 1.08-1.48x faster.
COMPUTE_BOUND_FLOPS = 10e6
_OPTIONS = {"progress": None, "steps_per_execution": "auto"}


@contextlib.contextmanager
def options(*, progress=None, steps_per_execution="auto"):
    """Run-wide settings of every `train` call inside the ``with`` block.

    Args:
        progress: a `keras_transfer.progress.ProgressLog` that every training
            reports its epochs to (``None``: silent).
        steps_per_execution: ``"auto"`` (the largest divisor of
            ``steps_per_epoch`` up to `MAX_STEPS_PER_EXECUTION`, so epochs,
            curves and backups stay on the same steps) or an integer (1: one
            step per call, plain ``fit``).

    Example:
    >>> with options(steps_per_execution=1):
    ...     resolve_steps_per_execution(None, 100)
    1
    """
    if steps_per_execution != "auto" and (
        not isinstance(steps_per_execution, int) or steps_per_execution < 1
    ):
        raise ValueError(
            f"Expected steps_per_execution 'auto' or an integer >= 1, received "
            f"{steps_per_execution!r}."
        )
    saved = dict(_OPTIONS)
    _OPTIONS.update(progress=progress, steps_per_execution=steps_per_execution)
    try:
        yield
    finally:
        _OPTIONS.update(saved)


def resolve_steps_per_execution(value, steps_per_epoch, strategy=None, model=None):
    """The steps per ``tf.function`` call `train` uses: ``value`` or the `options` default.

    ``"auto"`` picks the largest divisor of ``steps_per_epoch`` up to
    `MAX_STEPS_PER_EXECUTION` (Keras rounds an epoch up to whole executions,
    so a non-divisor would train extra steps), and 1 for a ``model`` whose
    `forward_flops_estimate` exceeds `COMPUTE_BOUND_FLOPS` (nothing to gain).
    Under a ``strategy`` (default: the current one) with several replicas or
    workers it is 1: Keras' multi-step loop fails there ("You must feed a value
    for placeholder ... while/cond", MirroredStrategy and
    MultiWorkerMirroredStrategy, measured on Keras 3.15).

    Example:
    >>> resolve_steps_per_execution("auto", 60), resolve_steps_per_execution("auto", 1000)
    (30, 25)
    >>> resolve_steps_per_execution(7, 60)
    6
    >>> big = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Conv2D(64, 3)])
    >>> resolve_steps_per_execution("auto", 60, model=big)  # 14 MFLOP per image
    1
    """
    value = _OPTIONS["steps_per_execution"] if value is None else value
    strategy = strategy or tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync > 1 or is_multi_worker(strategy):
        return 1
    if value == "auto" and model is not None:
        if forward_flops_estimate(model) > COMPUTE_BOUND_FLOPS:
            return 1
    limit = MAX_STEPS_PER_EXECUTION if value == "auto" else value
    return max(d for d in range(1, min(limit, steps_per_epoch) + 1) if steps_per_epoch % d == 0)


def forward_flops_estimate(model):
    """Forward FLOPs per example of the layers with a ``kernel`` (multiply-add = 2).

    ``kernel.size`` multiply-adds per output position (convolutions, dense
    layers, nested models included); a cheap, shape-only estimate for choosing
    `resolve_steps_per_execution`. It ignores pooling, BatchNorm and
    activations and layers it cannot see (shared layers, kernels inside custom
    layers); `keras_transfer.models.compact.count_flops` is exact but freezes
    the graph (seconds per call, too slow for every `train`).

    Example:
    >>> m = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, use_bias=False)])
    >>> forward_flops_estimate(m)  # 2 x 2 outputs x 2 filters x 9 taps x 2
    144
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += forward_flops_estimate(layer)
            continue
        kernel = getattr(layer, "kernel", None)
        if kernel is None or not hasattr(kernel, "shape"):
            continue
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):  # shared or never called
            continue
        positions = math.prod(d or 1 for d in shape[1:-1])
        total += 2 * positions * math.prod(kernel.shape)
    return total


def get_strategy(name="default"):
    """A `tf.distribute.Strategy` by name.

    Args:
        name: ``"default"`` (no distribution), ``"mirrored"``
            (`tf.distribute.MirroredStrategy` over all local GPUs, or over the
            logical CPU devices if there are no GPUs) or ``"multi_worker"``
            (`tf.distribute.MultiWorkerMirroredStrategy`, configured by
            ``TF_CONFIG``; every worker runs the same program, README
            "Distribution"). Keras 3's ``fit`` needs two patches for it,
            applied here (`keras_transfer.compat`).

    Example:
    >>> with get_strategy("default").scope():
    ...     model = keras.Sequential([keras.layers.Dense(1)])
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        patch_distributed_fit()  # uneven per-replica batches fail in Keras 3's fit otherwise
        devices = None
        if not tf.config.list_logical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        patch_distributed_fit()  # Keras 3's fit fails with several workers otherwise
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Expected strategy in {STRATEGIES}, received {name!r}.")


def compile_classifier(model, learning_rate=0.01, momentum=0.9):
    """Compiles a logits classifier with SGD + momentum and sparse cross-entropy.

    Defaults are the HTCNN paper's (section III-B: SGD, momentum 0.9; learning
    rate 0.01, section III-A1).

    Example:
    >>> from keras_transfer import models
    >>> model = compile_classifier(models.shallow_cnn((8, 8, 1), 10))
    >>> model.optimizer.learning_rate.numpy().round(3)
    np.float32(0.01)
    """
    if learning_rate <= 0:
        raise ValueError(f"Expected learning_rate > 0, received {learning_rate!r}.")
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _run_name(run_dir, model):
    if not run_dir:
        return model.name
    parts = os.path.normpath(run_dir).split(os.sep)
    return "/".join(parts[-2:] if len(parts) > 1 and parts[-2] != "runs" else parts[-1:])


def train(
    model,
    train_ds,
    test_ds,
    *,
    epochs,
    steps_per_epoch,
    run_dir=None,
    tensorboard_dir=None,
    deadline_seconds=None,
    eval_at_start=True,
    callbacks=(),
    verbose=0,
    steps_per_execution=None,
    metric="accuracy",
    fit=None,
):
    """Trains a compiled model for ``epochs`` x ``steps_per_epoch`` steps, recording the curve.

    Args:
        model: a compiled Keras model with the ``metric`` metric (see
            `compile_classifier`), built under the strategy's scope.
        train_ds: a repeating `tf.data.Dataset` of ``(images, labels)`` batches.
        test_ds: a finite dataset evaluated at step 0 and after every epoch.
        epochs: number of epochs.
        steps_per_epoch: optimizer steps per epoch (HTCNN paper: 1,000).
        run_dir: folder for ``curve.csv``, ``fit_log.csv``, the ``backup/``
            that makes an interrupted run resume, and ``final.weights.h5``
            once finished. A ``run_dir`` holding a finished run is not trained
            again: its weights are loaded and its curve returned. ``None``
            keeps nothing on disk (and cannot resume).
        tensorboard_dir: TensorBoard log folder; default ``run_dir/tensorboard``.
        deadline_seconds: optional training wall-time budget (`Deadline`).
        eval_at_start: evaluate before the first step (the epoch-0 point).
        callbacks: extra Keras callbacks.
        verbose: passed to ``fit``.
        steps_per_execution: steps per ``tf.function`` call while training
            (`resolve_steps_per_execution`; default the `options` setting,
            ``"auto"``). Curves, backups and the deadline see whole
            executions: a deadline may overrun by one execution's steps.
        metric: the compiled metric the curve records as ``test_accuracy``.
        fit: the training call, with `keras.Model.fit`'s signature
            (``fit(model, x, epochs=, steps_per_epoch=, validation_data=,
            callbacks=, verbose=, initial_epoch=)``); default
            ``keras.Model.fit``. It receives this function's callbacks (curve,
            deadline, backup, divergence guard, TensorBoard) and must call them
            as ``fit`` does.

    Raises:
        Diverged: the training loss became NaN or infinite (no final weights
            are saved; the run is no result).

    Returns:
        The learning curve: list of dicts with keys ``callbacks.CURVE_FIELDS``, one per
        evaluation, epoch 0 first.

    Example:
    >>> from keras_transfer import data, models
    >>> train_ds, info = data.load("digits", "train", repeat=True, batch_size=32)
    >>> test_ds, _ = data.load("digits", "test", batch_size=100)
    >>> model = compile_classifier(models.shallow_cnn(info.image_shape, 10))
    >>> curve = train(model, train_ds, test_ds, epochs=2, steps_per_epoch=20)
    >>> [row["step"] for row in curve]
    [0, 20, 40]
    """
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"Expected {name} to be an integer >= 1, received {value!r}.")
    # An uncompiled Keras 3 model has no `optimizer` attribute at all.
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise ValueError(
            "Expected a compiled model (see compile_classifier), received an uncompiled one."
        )
    curve_path = None
    rows = []
    cbs = [DivergenceGuard(_run_name(run_dir, model))]
    if run_dir:
        os.makedirs(run_dir, exist_ok=True)
        curve_path = os.path.join(run_dir, "curve.csv")
        rows = read_curve(curve_path)
        final_weights = os.path.join(run_dir, FINAL_WEIGHTS)
        if os.path.exists(final_weights):
            model.load_weights(final_weights)
            if _OPTIONS["progress"]:
                _OPTIONS["progress"].advance(epochs * steps_per_epoch, trained=False)
            return rows
        cbs += [
            keras.callbacks.CSVLogger(os.path.join(run_dir, "fit_log.csv"), append=True),
            keras.callbacks.TensorBoard(
                tensorboard_dir or os.path.join(run_dir, "tensorboard"),
                update_freq="epoch",
                write_graph=False,
            ),
        ]
    elif tensorboard_dir:
        cbs.append(
            keras.callbacks.TensorBoard(tensorboard_dir, update_freq="epoch", write_graph=False)
        )
    backup = EpochBackup(os.path.join(run_dir, "backup")) if run_dir else None
    initial_epoch = backup.restore(model) if backup else 0
    # Points after the backed-up epoch are redone (a kill came between the two).
    curve = LearningCurve(
        curve_path, [r for r in rows if r["epoch"] <= initial_epoch], metric=metric
    )
    cbs.append(curve)
    if backup:  # after the curve: a kill between the two redoes the epoch, losing no point
        cbs.append(backup)
    if deadline_seconds is not None:
        cbs.append(Deadline(deadline_seconds, clock=curve))
    if _OPTIONS["progress"]:
        cbs.append(ReportProgress(_OPTIONS["progress"], _run_name(run_dir, model), epochs))
    cbs += list(callbacks)
    build_training_state(model, train_ds.element_spec)  # one trace of the step, not two
    spe = resolve_steps_per_execution(
        steps_per_execution, steps_per_epoch, model.distribute_strategy, model
    )
    # Read when Keras builds its train and test functions: set before the first
    # evaluation, so the epoch-0 point and fit's validation share one trace.
    if model.steps_per_execution != spe:
        model.steps_per_execution = spe
        model.train_function = model.test_function = model.predict_function = None
    if eval_at_start and not curve.rows:
        results = model.evaluate(test_ds, verbose=0, return_dict=True)
        if metric not in results:
            raise ValueError(
                f"Expected the model compiled with the metric {metric!r}, "
                f"received metrics {sorted(results)}; compile it with "
                f"metrics=[{metric!r}] or pass metric=."
            )
        curve.add_row(0, 0, float("nan"), results[metric])
    (fit or keras.Model.fit)(
        model,
        train_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=test_ds,
        callbacks=cbs,
        verbose=verbose,
        initial_epoch=initial_epoch,
    )
    if run_dir:
        save_weights(model, os.path.join(run_dir, FINAL_WEIGHTS))
        shutil.rmtree(backup.folder, ignore_errors=True)  # the final weights are safe now
    return curve.rows
