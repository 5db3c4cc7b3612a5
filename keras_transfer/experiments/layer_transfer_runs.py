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

from keras_transfer import coding
from keras_transfer import data as kt_data
from keras_transfer import training
from keras_transfer.experiments.contract import run_path
from keras_transfer.experiments.layer_transfer_config import get_preset  # noqa: F401 (examples)
from keras_transfer.experiments.layer_transfer_config import target_budget
from keras_transfer.experiments.layer_transfer_data import load_data  # noqa: F401 (examples)
from keras_transfer.models.lenet5 import lenet5
from keras_transfer.transfer.layer_transfer import parameter_report
from keras_transfer.transfer.layer_transfer import transfer_layers


def build_net(config, num_classes):
    """An uncompiled LeNet-5 for ``num_classes`` with its output coding.

    Returns:
        ``(model, codes or None, loss, accuracy metric)``; the codes are fixed
        by the class count, so every net for the same classes shares them.

    Example:
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
    model.compile(optimizer=keras.optimizers.SGD(config.learning_rate, momentum=config.momentum),
                  loss=loss, metrics=[metric])
    return model


def train_net(model, config, train, test, steps, seed, run_dir=None, tensorboard_dir=None,
              deadline_seconds=None):
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
    curve = training.train(model, ds, test_ds, epochs=1, steps_per_epoch=steps,
                           run_dir=run_dir, tensorboard_dir=tensorboard_dir, eval_at_start=False,
                           deadline_seconds=deadline_seconds)
    fit = model.evaluate(kt_data.make_dataset(train.x, train.y, 500), verbose=0, return_dict=True)
    return dict(curve[-1], train_accuracy=float(fit["accuracy"]))


def run_experiment(config, data, output_dir=None, seed=0, log=print, deadline_seconds=None,
                   source_dir=None):
    """Trains the source net, then every (k, n, trial) target net.

    Returns:
        dict with ``source_train_accuracy`` (the source net's accuracy on its
        own training set, the number the paper reports: 94.38%),
        ``source_test_accuracy`` (on test images of the source classes: how
        much the source net really learned), ``accuracy`` (``{k: {n:
        [accuracy per trial]}}`` on the fixed target test set),
        ``train_accuracy`` (the same on each net's own k-sample training
        set), ``runs`` (one row per target net: ``k``, ``n``, ``trial`` and
        its final curve row with ``train_accuracy``),
        ``parameters`` (``{n: parameter_report}``, the paper's Table 1 split),
        ``phase_seconds`` (source, targets) and ``source_model``. Every target
        net's training stops at ``deadline_seconds`` if given. ``source_dir``:
        root of the source net's run files (default ``output_dir``; shared by
        tuning trials).

    Example:
    >>> cfg = get_preset("quick", dataset="digits", source_per_class=20, ks=(1,), levels=(0, 2),
    ...                  trials=1, source_steps=5, target_epochs=0, target_steps=5,
    ...                  test_examples=50)
    >>> out = run_experiment(cfg, load_data(cfg), log=None)
    >>> sorted(out["accuracy"][1]), [(r["k"], r["n"]) for r in out["runs"]]
    ([0, 2], [(1, 0), (1, 2)])
    """
    t0 = time.perf_counter()
    keras.utils.set_random_seed(seed)
    source, _, loss, metric = build_net(config, len(config.source_classes))
    _compile(source, loss, metric, config)
    source_row = train_net(source, config, data.source, data.source, config.source_steps, seed,
                           run_path(source_dir or output_dir, "runs", "source"),
                           run_path(output_dir, "tensorboard", "source"))
    source_test_acc = source.evaluate(
        kt_data.make_dataset(data.source_test.x, data.source_test.y, 500), verbose=0,
        return_dict=True)["accuracy"]
    if log:
        log(f"source net: training-set accuracy {source_row['test_accuracy']:.4f}, "
            f"test accuracy {source_test_acc:.4f}")
    t1 = time.perf_counter()
    accuracy = {k: {n: [] for n in config.levels} for k in config.ks}
    train_accuracy = {k: {n: [] for n in config.levels} for k in config.ks}
    runs, reports = [], {}
    for trial in range(config.trials):
        trial_seed = seed * 1000 + trial + 1
        for k in config.ks:
            idx = kt_data.per_class_indices(data.target_pool.y, k, seed=trial_seed)
            train = data.target_pool.take(idx)
            for n in config.levels:
                name = f"k{k}_n{n}_trial{trial}"
                keras.utils.set_random_seed(trial_seed)  # same init for every n
                target, _, t_loss, t_metric = build_net(config, len(config.target_classes))
                transfer_layers(source, target, n=n, freeze=True)
                _compile(target, t_loss, t_metric, config)
                reports[n] = parameter_report(target)
                row = train_net(target, config, train, data.test,
                                target_budget(config, len(train)),
                                trial_seed, run_path(output_dir, "runs", name),
                                run_path(output_dir, "tensorboard", name),
                                deadline_seconds)
                accuracy[k][n].append(float(row["test_accuracy"]))
                train_accuracy[k][n].append(row["train_accuracy"])
                runs.append(dict(row, k=k, n=n, trial=trial))
            if log:
                row = "  ".join(f"n={n}: {accuracy[k][n][-1]:.3f}" for n in config.levels)
                log(f"trial {trial} k={k}: {row}")
    return {"source_train_accuracy": float(source_row["test_accuracy"]),
            "source_test_accuracy": float(source_test_acc), "accuracy": accuracy,
            "train_accuracy": train_accuracy, "runs": runs,
            "parameters": reports, "source_model": source,
            "phase_seconds": {"source": t1 - t0, "targets": time.perf_counter() - t1}}
