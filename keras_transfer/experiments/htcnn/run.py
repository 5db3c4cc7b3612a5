"""The HTCNN experiment's trainings: shallow CNNs, then HTCNN and CCNN, per repeat.

One repeat (paper section IV):

1. train m shallow CNNs (identical setting: all on the whole training set;
   locality setting: shallow j on Table I subset j+1, the cloud on subset 1)
   with `keras_transfer.schedules.shallow_cnns.train_shallow_cnns`;
2. build the cloud CNN once from the repeat's seed and copy it, so HTCNN and
   CCNN start from the same weights except the first layer, which HTCNN takes
   from the shallow CNNs (`transfer_first_layer`);
3. train both on the same batches (same shuffling seed), recording test
   accuracy after every epoch of ``steps_per_epoch`` steps;
4. compare the curves (`keras_transfer.experiments.htcnn.report`).
"""

import time

import keras
import numpy as np

from keras_transfer import models
from keras_transfer import training
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import run_path
from keras_transfer.experiments.htcnn.config import ARCHS
from keras_transfer.experiments.htcnn.data import eval_dataset
from keras_transfer.experiments.htcnn.data import split_training_sets
from keras_transfer.experiments.htcnn.data import train_dataset
from keras_transfer.experiments.htcnn.report import compare_curves
from keras_transfer.experiments.htcnn.report import headline
from keras_transfer.experiments.htcnn.report import headline_table
from keras_transfer.experiments.htcnn.report import plot_curves
from keras_transfer.schedules import shallow_cnns
from keras_transfer.transfer.hierarchical import transfer_first_layer


def build_cloud(config, data):
    """The cloud CNN (CCNN) for the config, uncompiled.

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> from keras_transfer.experiments.htcnn.data import load_data
    >>> cfg = get_preset("quick", dataset="digits")
    >>> build_cloud(cfg, load_data(cfg)).name
    'cloud_cnn'
    """
    name = ARCHS[config.arch][0]
    kwargs = dict(input_shape=data.input_shape, num_classes=data.num_classes)
    rate = config.dropout
    if config.arch == "cloud":
        kwargs.update(
            conv_dropout=config.conv_dropout if rate else 0.0,
            fc_dropout=config.fc_dropout if rate else 0.0,
        )
    else:
        kwargs.update(fc_units=config.fc_units, dropout=config.fc_dropout if rate else 0.0)
    return models.build(name, **kwargs)


def build_shallow(config, data, index=0):
    """Shallow CNN ``index`` for the config, uncompiled (first layer = cloud filters / m).

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> from keras_transfer.experiments.htcnn.data import load_data
    >>> cfg = get_preset("quick", dataset="digits", num_shallow=8)
    >>> build_shallow(cfg, load_data(cfg)).get_layer("conv1").filters
    4
    """
    name = ARCHS[config.arch][1]
    return models.build(
        name,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        first_filters=config.first_filters,
        name=f"shallow_cnn_{index}",
    )


def train_shallow_cnns(config, data, seed, runs_dir=None, tensorboard_dir=None, strategy=None):
    """Trains the m shallow CNNs of one repeat (`schedules.shallow_cnns.train_shallow_cnns`).

    Shallow CNN j trains on its `split_training_sets` shard with the config's
    SGD settings, evaluated on the test split every ``steps_per_epoch`` steps
    (once, at the end, when that does not divide ``shallow_steps``).

    Returns:
        ``(models, curves, seconds)``: the trained shallow CNNs, their learning
        curves, and their summed training wall time.

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> from keras_transfer.experiments.htcnn.data import load_data
    >>> cfg = get_preset("quick", dataset="digits", shallow_steps=10, num_shallow=2)
    >>> shallow, curves, seconds = train_shallow_cnns(cfg, load_data(cfg), seed=0)
    >>> len(shallow), curves[0][-1]["step"]
    (2, 10)
    """
    _, shallow_idx = split_training_sets(config, data.train, seed)
    steps, per_epoch = config.shallow_steps, config.steps_per_epoch
    return shallow_cnns.train_shallow_cnns(
        lambda j: build_shallow(config, data, j),
        ((data.train.x[idx], data.train.y[idx]) for idx in shallow_idx),  # one at a time
        eval_dataset(config, data),
        steps=steps,
        batch_size=config.batch_size,
        seed=seed,
        steps_per_epoch=per_epoch if steps % per_epoch == 0 else None,
        mean=data.extra["mean"],
        compile_fn=lambda model: training.compile_classifier(
            model, config.learning_rate, config.momentum
        ),
        strategy=strategy,
        runs_dir=runs_dir,
        tensorboard_dir=tensorboard_dir,
    )


def build_pair(config, data, shallow_models, seed, strategy=None):
    """HTCNN and CCNN from the same initial weights except the transferred first layer.

    Both are compiled with SGD + momentum (section III-B).

    Returns:
        ``(htcnn, ccnn)``.

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> from keras_transfer.experiments.htcnn.data import load_data
    >>> cfg = get_preset("quick", dataset="digits", num_shallow=2)
    >>> d = load_data(cfg)
    >>> htcnn, ccnn = build_pair(cfg, d, [build_shallow(cfg, d, j) for j in range(2)], seed=0)
    >>> kernels = [model.get_layer("conv2").kernel.numpy() for model in (htcnn, ccnn)]
    >>> bool((kernels[0] == kernels[1]).all())
    True
    """
    strategy = strategy or training.get_strategy()
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        ccnn = build_cloud(config, data)
        htcnn = build_cloud(config, data)
        htcnn.set_weights(ccnn.get_weights())
        transfer_first_layer(
            htcnn,
            shallow_models,
            list(ARCHS[config.arch][2]),
            trainable=not config.freeze_transferred,
        )
        for model in (htcnn, ccnn):
            training.compile_classifier(model, config.learning_rate, config.momentum)
    return htcnn, ccnn


def run_repeat(
    config,
    data,
    seed,
    runs_dir=None,
    tensorboard_dir=None,
    strategy=None,
    deadline_seconds=None,
    shallow_runs_dir=None,
):
    """One full repeat: shallow CNNs, then HTCNN and CCNN on the same batches.

    Args:
        config: a validated `HTCNNConfig`.
        data: `HTCNNData` from `load_data`.
        seed: the repeat's seed (weights, shallow seeds, batch order).
        runs_dir: folder for each training's run files (resumable), or None.
        tensorboard_dir: folder for TensorBoard logs, or None.
        strategy: a `tf.distribute.Strategy`; default none.
        deadline_seconds: training-time budget per cloud model.
        shallow_runs_dir: folder for the shallow CNNs' run files (default
            ``runs_dir``; tuning trials share it between trials).

    Returns:
        dict with ``htcnn``, ``ccnn`` (models), ``curves`` (name -> rows),
        ``shallow_curves``, ``comparison`` (`compare_curves`) and ``phase_seconds``.

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> from keras_transfer.experiments.htcnn.data import load_data
    >>> cfg = get_preset("quick", dataset="digits", epochs=1, steps_per_epoch=5,
    ...                  shallow_steps=5, num_shallow=2)
    >>> out = run_repeat(cfg, load_data(cfg), seed=0)
    >>> sorted(out["curves"]), 0 <= out["comparison"]["pbp"] <= 1
    (['ccnn', 'htcnn'], True)
    """
    t0 = time.perf_counter()
    shallow_models, shallow_curves, shallow_seconds = train_shallow_cnns(
        config, data, seed, shallow_runs_dir or runs_dir, tensorboard_dir, strategy
    )
    t1 = time.perf_counter()
    htcnn, ccnn = build_pair(config, data, shallow_models, seed, strategy)
    cloud_idx, _ = split_training_sets(config, data.train, seed)
    test_ds = eval_dataset(config, data)
    curves = {}
    for name, model in (("htcnn", htcnn), ("ccnn", ccnn)):
        keras.utils.set_random_seed(seed)  # same dropout masks and batches for both
        curves[name] = training.train(
            model,
            train_dataset(config, data, cloud_idx, seed),
            test_ds,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch,
            run_dir=run_path(runs_dir, name),
            tensorboard_dir=run_path(tensorboard_dir, name),
            deadline_seconds=deadline_seconds,
        )
    t2 = time.perf_counter()
    return {
        "htcnn": htcnn,
        "ccnn": ccnn,
        "curves": curves,
        "shallow_curves": shallow_curves,
        "comparison": compare_curves(curves["htcnn"], curves["ccnn"], shallow_seconds),
        "phase_seconds": {"shallow": t1 - t0, "cloud": t2 - t1},
    }


def planned_steps(config):
    """Every optimizer step of the experiment: m shallow CNNs and two clouds per repeat.

    Example:
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> planned_steps(get_preset("quick", dataset="cifar10"))  # 3 x (4 x 600 + 2 x 10 x 60)
    10800
    """
    return config.repeats * (
        config.num_shallow * config.shallow_steps + 2 * config.epochs * config.steps_per_epoch
    )


# What the shallow CNNs depend on: tuning trials agreeing on these share them.
SHALLOW_FIELDS = (
    "dataset",
    "arch",
    "setting",
    "num_shallow",
    "learning_rate",
    "momentum",
    "batch_size",
    "shallow_steps",
    "steps_per_epoch",
    "num_shards",
    "image_size",
    "subtract_mean",
    "max_train_examples",
)


def run(config, data, context):
    """Every repeat of the experiment, under the runner's contract (`contract.Experiment`).

    Repeat r uses seed ``context.seed + r``; its trainings keep their files
    under ``<run_dir>/runs/repeat<r>/`` (so a killed run resumes) and their
    TensorBoard logs under ``<run_dir>/tensorboard/repeat<r>/``; the shallow
    CNNs' files go under ``context.phase_dir("shallow", ...)`` (shared by
    tuning trials).

    Returns:
        `Result`: per-repeat `compare_curves` numbers as ``runs``, their
        `headline`, every evaluation as ``history``, and the last repeat's
        HTCNN and CCNN to export.

    Example:
    >>> from keras_transfer.experiments.contract import RunContext
    >>> from keras_transfer.experiments.htcnn.config import get_preset
    >>> from keras_transfer.experiments.htcnn.data import load_data
    >>> import tempfile
    >>> cfg = get_preset("quick", dataset="digits", epochs=1, steps_per_epoch=5,
    ...                  shallow_steps=5, repeats=1, num_shallow=2)
    >>> result = run(cfg, load_data(cfg), RunContext(tempfile.mkdtemp(), log=None))
    >>> sorted(result.models), result.headline["pbp"]["n"]
    (['ccnn', 'htcnn'], 1)
    """
    seed, log = context.seed, context.log
    shallow_dir = context.phase_dir("shallow", **fields_of(config, SHALLOW_FIELDS))
    history, results = [], []
    phases = {"shallow": 0.0, "cloud": 0.0}
    series = {"HTCNN": [], "CCNN": []}
    out = None
    for r in range(config.repeats):
        out = run_repeat(
            config,
            data,
            seed + r,
            runs_dir=run_path(context.run_dir, "runs", f"repeat{r}"),
            tensorboard_dir=run_path(context.run_dir, "tensorboard", f"repeat{r}"),
            strategy=context.strategy,
            deadline_seconds=context.deadline_seconds,
            shallow_runs_dir=run_path(shallow_dir, "runs", f"repeat{r}"),
        )
        for phase, sec in out["phase_seconds"].items():
            phases[phase] += sec
        for name, curve in out["curves"].items():
            series[name.upper()].append(curve)
            history += [dict(row, run=name, repeat=r) for row in curve]
        for j, curve in enumerate(out["shallow_curves"]):
            history += [dict(row, run=f"shallow_{j}", repeat=r) for row in curve]
        c = dict(out["comparison"], repeat=r, seed=seed + r)
        results.append(c)
        if log:
            gain = "n/a" if c["epoch1_gain"] is None else f"{c['epoch1_gain']:.3f}"
            log(
                f"repeat {r}: AAG {c['aag']:.3f}  PBP {c['pbp']:.2f}  epoch-1 gain {gain}  "
                f"final HTCNN {c['htcnn_final_accuracy']:.3f} CCNN "
                f"{c['ccnn_final_accuracy']:.3f}"
            )
    summary = headline(results)
    mean = data.extra["mean"]
    x = data.test.x[:64].astype(np.float32) / 255.0
    cloud_idx, shallow_idx = split_training_sets(config, data.train, seed)  # repeat 0's
    return Result(
        headline=summary,
        table=headline_table(summary),
        runs=results,
        history=history,
        plot=lambda path: plot_curves(path, config, series),
        models={"htcnn": out["htcnn"], "ccnn": out["ccnn"]},
        export_inputs=x - mean if mean is not None else x,
        summary={
            "data": {
                "train_examples": len(data.train),
                "cloud_train_examples": len(cloud_idx),
                "shallow_train_examples": [len(idx) for idx in shallow_idx],
                "test_examples": len(data.test),
                "image_shape": list(data.input_shape),
                "num_classes": data.num_classes,
                "source": data.train.info.source,
            }
        },
        phase_seconds=phases,
    )
