"""keras-tuner search spaces for the recipes.

HTCNN: learning rate, number of shallow CNNs m, shallow training steps and
dropout (the design factors of the HTCNN paper, section III-A1). A trial
trains m shallow CNNs, transfers their first layers into the cloud CNN and
trains it, all inside `keras_tuner.HyperModel.fit`. The objective is the mean
validation accuracy over the trial's learning curve, i.e. the area under it,
because HTCNN is about accuracy early in training (the paper's AAG), not only
at the end. Validation data is a stratified slice of the training set, never
the test set.
"""

import dataclasses

import keras_tuner as kt
import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import training
from keras_transfer.transfer.hierarchical import transfer_first_layer

OBJECTIVE = "val_accuracy_mean"


class HTCNNHyperModel(kt.HyperModel):
    """Search space over the HTCNN design factors (paper section III-A1).

    Args:
        config: base `keras_transfer.experiments.htcnn.HTCNNConfig` (epochs,
            steps, batch size, dataset...); tuned fields override it.
        data: `HTCNNData` whose ``train`` is the tuning-training split.
        val: `ImageData` used for the objective.
        seed: seed of the shallow CNNs and of the batch order.

    Example:
    >>> from keras_transfer.experiments import htcnn
    >>> cfg = htcnn.get_preset("quick", dataset="digits")
    >>> hm = HTCNNHyperModel(cfg, htcnn.load_data(cfg), None)
    >>> hm.config_for(kt.HyperParameters()).num_shallow
    4
    """

    def __init__(self, config, data, val, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.data = data
        self.val = val
        self.seed = seed

    def config_for(self, hp):
        """The trial's `HTCNNConfig`: the base config with the tuned values."""
        from keras_transfer.experiments import htcnn

        filters = htcnn.ARCHS[self.config.arch][3]
        ms = [m for m in (2, 4, 8, 16) if filters % m == 0]
        base = self.config.shallow_steps
        steps = sorted({max(1, base // 4), max(1, base // 2), base})
        return dataclasses.replace(
            self.config,
            learning_rate=hp.Float("learning_rate", 1e-3, 1e-1, sampling="log",
                                   default=self.config.learning_rate),
            num_shallow=hp.Choice("num_shallow", ms, default=4 if 4 in ms else ms[0]),
            shallow_steps=hp.Choice("shallow_steps", steps, default=base),
            dropout=hp.Boolean("dropout", default=self.config.dropout),
        ).validate()

    def build(self, hp):
        from keras_transfer.experiments import htcnn

        cfg = self.config_for(hp)
        return training.compile_classifier(htcnn.build_cloud(cfg, self.data), cfg.learning_rate,
                                           cfg.momentum)

    def fit(self, hp, model, *args, **kwargs):
        """Trains the shallow CNNs, transfers, trains the cloud; returns the objective.

        The tuner's own callbacks (checkpointing the best epoch by a per-epoch
        metric) are not used: the objective is a whole-curve value.
        """
        from keras_transfer.experiments import htcnn

        cfg = self.config_for(hp)
        shallow, _, shallow_seconds = htcnn.train_shallow_cnns(cfg, self.data, self.seed)
        transfer_first_layer(model, shallow, list(htcnn.ARCHS[cfg.arch][2]),
                             trainable=not cfg.freeze_transferred)
        if cfg.freeze_transferred:  # trainable changed after build(): compile again
            training.compile_classifier(model, cfg.learning_rate, cfg.momentum)
        cloud_idx, _ = htcnn.split_training_sets(cfg, self.data.train, self.seed)
        train_ds = kt_data.make_dataset(self.data.train.x[cloud_idx], self.data.train.y[cloud_idx],
                                        cfg.batch_size, shuffle=True, repeat=True,
                                        seed=self.seed, mean=self.data.mean)
        val_ds = kt_data.make_dataset(self.val.x, self.val.y, 500, mean=self.data.mean)
        curve = training.train(model, train_ds, val_ds, epochs=cfg.epochs,
                               steps_per_epoch=cfg.steps_per_epoch)
        acc = np.asarray([r["test_accuracy"] for r in curve[1:]])
        return {OBJECTIVE: float(acc.mean()), "val_accuracy": float(acc[-1]),
                "shallow_seconds": float(shallow_seconds)}


def split_validation(train, fraction=0.1, seed=0):
    """Stratified ``(train, validation)`` split of an `ImageData`.

    Example:
    >>> d = kt_data.load_image_data("digits", "train")
    >>> tr, va = split_validation(d, 0.1)
    >>> len(tr) + len(va) == len(d)
    True
    """
    if not 0 < fraction < 1:
        raise ValueError(f"Expected a validation fraction in (0, 1), received {fraction!r}.")
    shards = kt_data.shard_indices(train.y, max(2, int(round(1 / fraction))), seed=seed)
    return train.take(np.concatenate(shards[1:])), train.take(shards[0])


def htcnn_tuner(config, data, directory, max_trials=6, seed=0):
    """A `keras_tuner.RandomSearch` over the HTCNN design factors, stored in ``directory``.

    Args:
        config: base `HTCNNConfig`.
        data: `HTCNNData`; 10% of its training split becomes the validation set.
        directory: where keras-tuner keeps its trials (resumes if present).
        max_trials: number of trials.
        seed: search and training seed.

    Example:
    >>> tuner = htcnn_tuner(cfg, data, "runs/tune", max_trials=4)  # doctest: +SKIP
    >>> tuner.search()  # doctest: +SKIP
    """
    train, val = split_validation(data.train, 0.1, seed)
    tuning_data = dataclasses.replace(data, train=train)
    return kt.RandomSearch(
        HTCNNHyperModel(config, tuning_data, val, seed),
        objective=kt.Objective(OBJECTIVE, direction="max"),
        max_trials=max_trials, seed=seed, directory=directory, project_name="htcnn",
        overwrite=False)


def trial_table(tuner):
    """Every finished trial's hyperparameters and metrics, best first.

    Example:
    >>> trial_table(tuner)[0]["score"]  # doctest: +SKIP
    0.91
    """
    rows = []
    for trial in tuner.oracle.get_best_trials(num_trials=len(tuner.oracle.trials)):
        metrics = {name: trial.metrics.get_last_value(name)
                   for name in trial.metrics.metrics}
        rows.append({"trial_id": trial.trial_id, "score": trial.score,
                     "hyperparameters": trial.hyperparameters.values, "metrics": metrics})
    return rows
