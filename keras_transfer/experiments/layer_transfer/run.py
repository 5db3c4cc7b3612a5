"""The layer-transfer experiment's trainings: the source net, then every (k, n, trial) target.

A source LeNet-5 is trained on one set of classes; for every number of
retained levels n and every k samples per new class, a target net copies the
source's bottom n levels (fixed) and trains the rest on k samples of each
target class (`keras_transfer.transfer.layer_transfer.transfer_layers`).
Within a trial every n uses the same k-sample training set and the same
initial weights, so the only difference between the nets compared at one k
is the transfer itself.
"""

import time

import keras
import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import metrics
from keras_transfer import training
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import run_path
from keras_transfer.experiments.layer_transfer.config import target_budget
from keras_transfer.experiments.layer_transfer.report import headline
from keras_transfer.experiments.layer_transfer.report import headline_table
from keras_transfer.experiments.layer_transfer.report import plot_layer_transfer
from keras_transfer.models import coding
from keras_transfer.models.lenet5 import lenet5
from keras_transfer.transfer.layer_transfer import parameter_report
from keras_transfer.transfer.layer_transfer import transfer_layers


def build_net(config, num_classes):
    """An uncompiled LeNet-5 for ``num_classes`` with its output coding.

    Returns:
        ``(model, codes or None, loss, accuracy metric)``; the codes are fixed
        by the class count, so every net for the same classes shares them.

    Example:
    >>> from keras_transfer.experiments.layer_transfer.config import get_preset
    >>> model, codes, loss, metric = build_net(get_preset("quick"), 5)
    >>> model.output_shape, codes.shape
    ((None, 20), (5, 20))
    """
    if config.output == "code":
        codes = coding.random_codes(num_classes, config.code_bits, seed=num_classes)
        model = lenet5((32, 32, 1), config.code_bits, output="code")
        loss, metric = coding.CodeLoss(codes), coding.CodeAccuracy(codes)
    else:
        codes = None
        model = lenet5((32, 32, 1), num_classes, output="softmax")
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metric = "accuracy"
    return model, codes, loss, metric


def _compile(model, loss, metric, config):
    model.compile(
        optimizer=keras.optimizers.SGD(config.learning_rate, momentum=config.momentum),
        loss=loss,
        metrics=[metric],
    )
    return model


def train_net(
    model,
    config,
    train,
    test,
    steps,
    seed,
    run_dir=None,
    tensorboard_dir=None,
    deadline_seconds=None,
):
    """Trains ``model`` on ``train`` for ``steps``; returns the final curve row.

    The row (`keras_transfer.training.train`) holds ``step``, ``wall_seconds``
    (training time), ``train_loss`` and ``test_accuracy`` on ``test``, plus
    ``train_accuracy``: the trained net's accuracy on its own training set
    (how far the budget let it fit, measured after training).
    ``deadline_seconds`` caps its training wall time (`training.Deadline`).
    """
    batch = min(config.batch_size, len(train))
    ds = kt_data.make_dataset(train.x, train.y, batch, shuffle=True, repeat=True, seed=seed)
    test_ds = kt_data.make_dataset(test.x, test.y, 500)
    curve = training.train(
        model,
        ds,
        test_ds,
        epochs=1,
        steps_per_epoch=steps,
        run_dir=run_dir,
        tensorboard_dir=tensorboard_dir,
        eval_at_start=False,
        deadline_seconds=deadline_seconds,
    )
    fit = model.evaluate(kt_data.make_dataset(train.x, train.y, 500), verbose=0, return_dict=True)
    return dict(curve[-1], train_accuracy=float(fit["accuracy"]))


def planned_steps(config):
    """Every optimizer step: the source net, then every (trial, k, n) target net.

    Example:
    >>> from keras_transfer.experiments.layer_transfer.config import get_preset
    >>> planned_steps(get_preset("quick", ks=(1,), levels=(0, 1), trials=1))
    4600
    """
    per_trial = sum(
        len(config.levels) * target_budget(config, k * len(config.target_classes))
        for k in config.ks
    )
    return config.source_steps + config.trials * per_trial


# What the source net depends on: tuning trials agreeing on these share it.
SOURCE_FIELDS = (
    "dataset",
    "source_classes",
    "source_per_class",
    "code_bits",
    "output",
    "learning_rate",
    "momentum",
    "batch_size",
    "source_steps",
)


def run(config, data, context):
    """Trains the source net, then every (k, n, trial) target net; the runner's contract.

    Trial t's k-sample sets and initial weights come from seed
    ``context.seed * 1000 + t + 1`` (the same for every n); every target
    net's training stops at ``context.deadline_seconds`` if set. The source
    net's run files go under ``context.phase_dir("source", ...)`` (shared by
    tuning trials).

    Returns:
        `Result`: the headline (accuracy per k and n on the fixed target test
        set, mean/min/max over trials; the best n per k), every target net's
        curve as ``history``, the source net to export, and in ``summary``
        the source net's accuracies, each net's accuracy on its own k-sample
        set and the paper's Table 1 parameter split per n.

    Example:
    >>> from keras_transfer.experiments.contract import RunContext
    >>> from keras_transfer.experiments.layer_transfer.config import get_preset
    >>> from keras_transfer.experiments.layer_transfer.data import load_data
    >>> cfg = get_preset("quick", dataset="digits", source_per_class=20, ks=(1,), levels=(0, 2),
    ...                  trials=1, source_steps=5, target_epochs=0, target_steps=5,
    ...                  test_examples=50)
    >>> result = run(cfg, load_data(cfg), RunContext(None, log=None))
    >>> sorted(result.headline["accuracy"][1]), sorted({r["run"] for r in result.history})
    ([0, 2], ['k1_n0', 'k1_n2'])
    """
    seed, log = context.seed, context.log
    source_dir = context.phase_dir("source", **fields_of(config, SOURCE_FIELDS))
    t0 = time.perf_counter()
    keras.utils.set_random_seed(seed)
    source, _, loss, metric = build_net(config, len(config.source_classes))
    _compile(source, loss, metric, config)
    source_row = train_net(
        source,
        config,
        data.extra["source"],
        data.extra["source"],
        config.source_steps,
        seed,
        run_path(source_dir, "runs", "source"),
        run_path(context.run_dir, "tensorboard", "source"),
    )
    source_test_acc = source.evaluate(
        kt_data.make_dataset(data.extra["source_test"].x, data.extra["source_test"].y, 500),
        verbose=0,
        return_dict=True,
    )["accuracy"]
    if log:
        log(
            f"source net: training-set accuracy {source_row['test_accuracy']:.4f}, "
            f"test accuracy {source_test_acc:.4f}"
        )
    t1 = time.perf_counter()
    accuracy = {k: {n: [] for n in config.levels} for k in config.ks}
    train_accuracy = {k: {n: [] for n in config.levels} for k in config.ks}
    runs, reports = [], {}
    for trial in range(config.trials):
        trial_seed = seed * 1000 + trial + 1
        for k in config.ks:
            idx = kt_data.per_class_indices(data.train.y, k, seed=trial_seed)
            train = data.train.take(idx)
            for n in config.levels:
                name = f"k{k}_n{n}_trial{trial}"
                keras.utils.set_random_seed(trial_seed)  # same init for every n
                target, _, t_loss, t_metric = build_net(config, len(config.target_classes))
                transfer_layers(source, target, n=n, freeze=True)
                _compile(target, t_loss, t_metric, config)
                reports[n] = parameter_report(target)
                row = train_net(
                    target,
                    config,
                    train,
                    data.test,
                    target_budget(config, len(train)),
                    trial_seed,
                    run_path(context.run_dir, "runs", name),
                    run_path(context.run_dir, "tensorboard", name),
                    context.deadline_seconds,
                )
                accuracy[k][n].append(float(row["test_accuracy"]))
                train_accuracy[k][n].append(row["train_accuracy"])
                runs.append(dict(row, k=k, n=n, trial=trial))
            if log:
                row = "  ".join(f"n={n}: {accuracy[k][n][-1]:.3f}" for n in config.levels)
                log(f"trial {trial} k={k}: {row}")
    phase_seconds = {"source": t1 - t0, "targets": time.perf_counter() - t1}
    head = headline(config, accuracy)
    history = [
        {
            "run": f"k{r['k']}_n{r['n']}",
            "repeat": r["trial"],
            "epoch": r["epoch"],
            "step": r["step"],
            "wall_seconds": r["wall_seconds"],
            "train_loss": r["train_loss"],
            "test_accuracy": r["test_accuracy"],
        }
        for r in runs
    ]
    title = (
        f"Layer transfer on {config.dataset}: {len(config.source_classes)} -> "
        f"{len(config.target_classes)} classes, {config.trials} trials"
    )
    source_data = data.extra["source"]
    return Result(
        headline=head,
        table=headline_table(config, head),
        history=history,
        plot=lambda path: plot_layer_transfer(path, head["accuracy"], title=title),
        models={"source": source},
        export_inputs=data.test.x[:64].astype(np.float32) / 255.0,
        summary={
            "data": {
                "source_train_examples": len(source_data),
                "target_pool_examples": len(data.train),
                "test_examples": len(data.test),
                "source": source_data.info.source,
            },
            # The paper reports the source net's accuracy on its own training set (94.38%);
            # on test images of the source classes: how much it really learned.
            "source_train_accuracy": float(source_row["test_accuracy"]),
            "source_test_accuracy": float(source_test_acc),
            # How far each budget let the nets fit their own k-sample training set.
            "train_accuracy": {
                k: {n: metrics.summarize_runs(v) for n, v in row.items()}
                for k, row in train_accuracy.items()
            },
            "parameters": reports,
        },
        phase_seconds=phase_seconds,
    )
