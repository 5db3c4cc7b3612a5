"""The HTCNN experiment: m shallow CNNs, then HTCNN vs the plain cloud CNN (CCNN).

Paper: htcnn-hierarchical-transfer.txt, section IV. One repeat:

1. train m shallow CNNs (identical setting: all on the whole training set;
   locality setting: shallow j on Table I subset j+1, the cloud on subset 1);
2. build the cloud CNN once from the repeat's seed and copy it, so HTCNN and
   CCNN start from the same weights except the first layer, which HTCNN takes
   from the shallow CNNs (`transfer_first_layer`);
3. train both on the same batches (same shuffling seed), recording test
   accuracy after every epoch of ``steps_per_epoch`` steps;
4. compare the curves: AAG, PBP, gain per epoch, time-to-accuracy with and
   without the shallow CNNs' training time.

The experiment settings are a dataclass, and named presets are registered in
`PRESETS` (TF Model Garden's registered experiment configs, in small).
"""

import dataclasses
import os
import time

import keras
import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import metrics
from keras_transfer import models
from keras_transfer import training
from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import run_path
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.transfer.hierarchical import transfer_first_layer

SETTINGS = ("identical", "locality")
ARCHS = {
    # arch: (cloud builder, shallow builder, first-layer names, cloud filters per group)
    "cloud": ("cloud_cnn", "shallow_cnn", ("conv1",), 32),
    "alexnet": ("alexnet", "shallow_alexnet", ("conv1_g0", "conv1_g1"), 48),
}


@dataclasses.dataclass(frozen=True)
class HTCNNConfig:
    """Settings of one HTCNN experiment; defaults are the paper's (section III-A/B, IV-B).

    Attributes:
        dataset: dataset name (see `keras_transfer.data.load_arrays`).
        arch: ``"cloud"`` (Fig. 5 cloud CNN + Fig. 3 shallow CNN) or
            ``"alexnet"`` (Fig. 7 AlexNet + Fig. 4 shallow CNN).
        setting: ``"identical"`` or ``"locality"`` (section IV-B2, Table I).
        num_shallow: m, the number of shallow CNNs (paper: 4; Fig. 10: 2-16).
        dropout: apply the paper's dropout (Fig. 9) to the cloud CNN. The
            paper's "0.8 and 0.5" are read as TensorFlow-1 keep
            probabilities: drop rate 0.2 after convolutions, 0.5 after FC.
        conv_dropout, fc_dropout: the drop rates used when ``dropout``.
        learning_rate, momentum: SGD settings (0.01, 0.9).
        batch_size: 100 (256 for AlexNet in the paper).
        shallow_steps: training iterations per shallow CNN (10,000).
        epochs: evaluations after the start (Fig. 8 runs 200).
        steps_per_epoch: iterations per epoch (1,000).
        repeats: independent repeats (9).
        num_shards: Table I subsets for the locality setting (5; at least m+1).
        image_size: resize images to this (``None`` keeps the stored size).
        subtract_mean: subtract the per-channel training mean (the paper's
            ImageNet preprocessing, section IV-C1).
        freeze_transferred: freeze the transferred layer (paper prefers
            fine-tuning, section III-A3: default False).
        fc_units: hidden dense width of AlexNet (fc6/fc7); the cloud CNN uses 512.
        max_train_examples: optional cap on the training set (quick runs).

    Example:
    >>> cfg = HTCNNConfig(dataset="digits", num_shallow=8).validate()
    >>> cfg.first_filters
    4
    """

    dataset: str = "cifar10"
    arch: str = "cloud"
    setting: str = "identical"
    num_shallow: int = 4
    dropout: bool = False
    conv_dropout: float = 0.2
    fc_dropout: float = 0.5
    learning_rate: float = 0.01
    momentum: float = 0.9
    batch_size: int = 100
    shallow_steps: int = 10_000
    epochs: int = 200
    steps_per_epoch: int = 1_000
    repeats: int = 9
    num_shards: int = 5
    image_size: int = None
    subtract_mean: bool = False
    freeze_transferred: bool = False
    fc_units: int = 4096
    max_train_examples: int = None

    def validate(self):
        """Raises ValueError for settings that cannot run; returns self.

        Example:
        >>> HTCNNConfig(num_shallow=4).validate().num_shallow
        4
        """
        if self.arch not in ARCHS:
            raise ValueError(f"Expected arch in {sorted(ARCHS)}, received {self.arch!r}.")
        if self.setting not in SETTINGS:
            raise ValueError(f"Expected setting in {SETTINGS}, received {self.setting!r}.")
        filters = ARCHS[self.arch][3]
        if not isinstance(self.num_shallow, int) or self.num_shallow < 1 or filters % self.num_shallow:
            divisors = [d for d in range(1, filters + 1) if filters % d == 0]
            raise ValueError(
                f"Expected num_shallow (m) to divide the cloud's {filters} first-layer filters "
                f"(m in {divisors}), received {self.num_shallow!r}."
            )
        check_positive_ints(self, ("batch_size", "shallow_steps", "epochs", "steps_per_epoch",
                                   "repeats"))
        if self.learning_rate <= 0:
            raise ValueError(f"Expected learning_rate > 0, received {self.learning_rate!r}.")
        for name in ("conv_dropout", "fc_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"Expected {name} in [0, 1), received {getattr(self, name)!r}.")
        if self.setting == "locality" and self.shards_needed > self.num_shards:
            raise ValueError(
                f"Expected num_shards >= m + 1 = {self.shards_needed} for the locality setting, "
                f"received num_shards={self.num_shards}."
            )
        return self

    @property
    def shards_needed(self):
        return self.num_shallow + 1

    @property
    def first_filters(self):
        """Filters of each shallow CNN's first layer (per group): cloud filters / m."""
        return ARCHS[self.arch][3] // self.num_shallow


PRESETS = {}


def register_preset(name, config):
    """Registers a named `HTCNNConfig` preset (per dataset overrides go in the recipe).

    Example:
    >>> "quick" in PRESETS and "paper" in PRESETS
    True
    """
    PRESETS[name] = config
    return config


# Paper settings, section III-A1 / IV-B: 1,000-iteration epochs, 10,000 shallow
# iterations, 9 repeats; 200 epochs as in Fig. 8.
register_preset("paper", HTCNNConfig())
# Minutes on 2 CPU cores (about 20 for CIFAR-10): 60-step epochs, 600 shallow
# steps, 3 repeats.
register_preset("quick", HTCNNConfig(epochs=10, steps_per_epoch=60, shallow_steps=600,
                                     repeats=3))


def get_preset(name, **overrides):
    """The preset ``name`` with ``overrides`` (``None`` values ignored), validated.

    Example:
    >>> get_preset("quick", dataset="digits", epochs=None).dataset
    'digits'
    """
    config = select_preset(PRESETS, name, overrides)
    if config.arch == "alexnet" and overrides.get("batch_size") is None:
        config = dataclasses.replace(config, batch_size=256)  # paper section III-A1
    return config


@dataclasses.dataclass
class HTCNNData:
    """Training/test arrays of one experiment, loaded once for all repeats.

    Example:
    >>> d = load_data(get_preset("quick", dataset="digits"))
    >>> len(d.train), len(d.test), d.mean is None
    (1437, 360, True)
    """

    train: kt_data.ImageData
    test: kt_data.ImageData
    mean: np.ndarray

    @property
    def input_shape(self):
        return tuple(self.train.x.shape[1:])

    @property
    def num_classes(self):
        return self.train.info.num_classes


def load_data(config, data_dir=None, seed=0):
    """Loads the config's dataset (resized, mean computed on train), before any training.

    Example:
    >>> d = load_data(get_preset("quick", dataset="digits"))
    >>> d.input_shape, d.num_classes
    ((8, 8, 1), 10)
    """
    color = "rgb" if config.arch == "alexnet" else None
    train = kt_data.load_image_data(config.dataset, "train", data_dir=data_dir,
                                    image_size=config.image_size, color=color)
    test = kt_data.load_image_data(config.dataset, "test", data_dir=data_dir,
                                   image_size=config.image_size, color=color)
    if config.max_train_examples and config.max_train_examples < len(train):
        keep = kt_data.shard_indices(train.y, max(1, len(train) // config.max_train_examples),
                                     seed=seed)[0]
        train = train.take(keep)
    mean = kt_data.channel_mean(train.x) if config.subtract_mean else None
    return HTCNNData(train, test, mean)


def split_training_sets(config, train, seed):
    """Training indices of the cloud CNN and of each shallow CNN (Table I for locality).

    Returns:
        ``(cloud_indices, [shallow_indices_j])``.

    Example:
    >>> cfg = get_preset("quick", dataset="digits", setting="locality")
    >>> cloud, shallow = split_training_sets(cfg, np.repeat(np.arange(10), 20), seed=0)
    >>> len(cloud), len(shallow), len(set(cloud) & set(shallow[0]))
    (40, 4, 0)
    """
    y = train.y if hasattr(train, "y") else np.asarray(train)
    everything = np.arange(len(y))
    if config.setting == "identical":
        return everything, [everything] * config.num_shallow
    shards = kt_data.shard_indices(y, max(config.num_shards, config.shards_needed), seed=seed)
    return shards[0], shards[1:1 + config.num_shallow]


def _dataset(config, data, indices, seed):
    return kt_data.make_dataset(data.train.x[indices], data.train.y[indices], config.batch_size,
                                shuffle=True, repeat=True, seed=seed, mean=data.mean)


def eval_dataset(config, data):
    """The test split as a finite batched dataset (evaluated after every epoch).

    Example:
    >>> cfg = get_preset("quick", dataset="digits")
    >>> sum(int(b[1].shape[0]) for b in eval_dataset(cfg, load_data(cfg)))
    360
    """
    return kt_data.make_dataset(data.test.x, data.test.y, max(config.batch_size, 500),
                                mean=data.mean)


def build_cloud(config, data):
    """The cloud CNN (CCNN) for the config, uncompiled.

    Example:
    >>> cfg = get_preset("quick", dataset="digits")
    >>> build_cloud(cfg, load_data(cfg)).name
    'cloud_cnn'
    """
    name = ARCHS[config.arch][0]
    kwargs = dict(input_shape=data.input_shape, num_classes=data.num_classes)
    rate = config.dropout
    if config.arch == "cloud":
        kwargs.update(conv_dropout=config.conv_dropout if rate else 0.0,
                      fc_dropout=config.fc_dropout if rate else 0.0)
    else:
        kwargs.update(fc_units=config.fc_units, dropout=config.fc_dropout if rate else 0.0)
    return models.build(name, **kwargs)


def build_shallow(config, data, index=0):
    """Shallow CNN ``index`` for the config, uncompiled (first layer = cloud filters / m).

    Example:
    >>> cfg = get_preset("quick", dataset="digits", num_shallow=8)
    >>> build_shallow(cfg, load_data(cfg)).get_layer("conv1").filters
    4
    """
    name = ARCHS[config.arch][1]
    return models.build(name, input_shape=data.input_shape, num_classes=data.num_classes,
                        first_filters=config.first_filters, name=f"shallow_cnn_{index}")


def train_shallow_cnns(config, data, seed, runs_dir=None, tensorboard_dir=None, strategy=None):
    """Trains the m shallow CNNs of one repeat.

    Returns:
        ``(models, curves, seconds)``: the trained shallow CNNs, their learning
        curves, and their summed training wall time.

    Example:
    >>> cfg = get_preset("quick", dataset="digits", shallow_steps=10, num_shallow=2)
    >>> shallow, curves, seconds = train_shallow_cnns(cfg, load_data(cfg), seed=0)
    >>> len(shallow), curves[0][-1]["step"]
    (2, 10)
    """
    strategy = strategy or training.get_strategy()
    _, shallow_idx = split_training_sets(config, data.train, seed)
    test_ds = eval_dataset(config, data)
    steps = config.shallow_steps
    per_epoch = config.steps_per_epoch if steps % config.steps_per_epoch == 0 else steps
    shallow_models, curves, seconds = [], [], 0.0
    for j, idx in enumerate(shallow_idx):
        shallow_seed = seed * 1000 + j + 1
        keras.utils.set_random_seed(shallow_seed)
        with strategy.scope():
            model = training.compile_classifier(build_shallow(config, data, j),
                                                config.learning_rate, config.momentum)
        name = f"shallow_{j}"
        curve = training.train(
            model, _dataset(config, data, idx, shallow_seed), test_ds,
            epochs=steps // per_epoch, steps_per_epoch=per_epoch,
            run_dir=runs_dir and os.path.join(runs_dir, name),
            tensorboard_dir=tensorboard_dir and os.path.join(tensorboard_dir, name),
            eval_at_start=False)
        shallow_models.append(model)
        curves.append(curve)
        seconds += curve[-1]["wall_seconds"] if curve else 0.0
    return shallow_models, curves, seconds


def build_pair(config, data, shallow_models, seed, strategy=None):
    """HTCNN and CCNN from the same initial weights except the transferred first layer.

    Both are compiled with SGD + momentum (section III-B).

    Returns:
        ``(htcnn, ccnn)``.

    Example:
    >>> cfg = get_preset("quick", dataset="digits", num_shallow=2)
    >>> d = load_data(cfg)
    >>> htcnn, ccnn = build_pair(cfg, d, [build_shallow(cfg, d, j) for j in range(2)], seed=0)
    >>> bool(np.all(htcnn.get_layer("conv2").kernel.numpy() == ccnn.get_layer("conv2").kernel.numpy()))
    True
    """
    strategy = strategy or training.get_strategy()
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        ccnn = build_cloud(config, data)
        htcnn = build_cloud(config, data)
        htcnn.set_weights(ccnn.get_weights())
        transfer_first_layer(htcnn, shallow_models, list(ARCHS[config.arch][2]),
                             trainable=not config.freeze_transferred)
        for model in (htcnn, ccnn):
            training.compile_classifier(model, config.learning_rate, config.momentum)
    return htcnn, ccnn


def compare_curves(htcnn_curve, ccnn_curve, shallow_seconds):
    """The headline numbers of one repeat (HTCNN paper section IV-A, plus time-to-accuracy).

    Example:
    >>> h = [{"epoch": e, "wall_seconds": 10.0 * e, "test_accuracy": a}
    ...      for e, a in enumerate([0.1, 0.5, 0.6])]
    >>> c = [{"epoch": e, "wall_seconds": 10.0 * e, "test_accuracy": a}
    ...      for e, a in enumerate([0.1, 0.3, 0.6])]
    >>> r = compare_curves(h, c, shallow_seconds=5.0)
    >>> r["aag"], r["pbp"], r["htcnn_time_to_ccnn_final"]["seconds"]
    (0.1, 0.5, 20.0)
    """
    n = min(len(htcnn_curve), len(ccnn_curve))
    h = np.asarray([r["test_accuracy"] for r in htcnn_curve[:n]])
    c = np.asarray([r["test_accuracy"] for r in ccnn_curve[:n]])
    epochs = [r["epoch"] for r in htcnn_curve[:n]]
    h_wall = [r["wall_seconds"] for r in htcnn_curve[:n]]
    c_wall = [r["wall_seconds"] for r in ccnn_curve[:n]]
    after = slice(1, n) if n > 1 else slice(0, n)  # eq. 2 sums epochs 1..N
    target = float(c[-1])
    return {
        "aag": metrics.aag(h[after], c[after]),
        "pbp": metrics.pbp(h[after], c[after]),
        "gain_per_epoch": [float(v) for v in h - c],
        "epoch1_gain": float(h[1] - c[1]) if n > 1 else None,
        "htcnn_final_accuracy": float(h[-1]), "ccnn_final_accuracy": float(c[-1]),
        "htcnn_best_accuracy": float(h.max()), "ccnn_best_accuracy": float(c.max()),
        "target_accuracy": target,
        "htcnn_time_to_ccnn_final": metrics.time_to_accuracy(h, h_wall, target, epochs),
        "htcnn_time_to_ccnn_final_with_shallow": metrics.time_to_accuracy(
            h, h_wall, target, epochs, offset_seconds=shallow_seconds),
        "ccnn_time_to_ccnn_final": metrics.time_to_accuracy(c, c_wall, target, epochs),
        "shallow_seconds": float(shallow_seconds),
    }


def run_repeat(config, data, seed, runs_dir=None, tensorboard_dir=None, strategy=None,
               deadline_seconds=None, shallow_runs_dir=None):
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
    >>> cfg = get_preset("quick", dataset="digits", epochs=1, steps_per_epoch=5,
    ...                  shallow_steps=5)
    >>> out = run_repeat(cfg, load_data(cfg), seed=0)
    >>> sorted(out["curves"]), 0 <= out["comparison"]["pbp"] <= 1
    (['ccnn', 'htcnn'], True)
    """
    t0 = time.perf_counter()
    shallow_models, shallow_curves, shallow_seconds = train_shallow_cnns(
        config, data, seed, shallow_runs_dir or runs_dir, tensorboard_dir, strategy)
    t1 = time.perf_counter()
    htcnn, ccnn = build_pair(config, data, shallow_models, seed, strategy)
    cloud_idx, _ = split_training_sets(config, data.train, seed)
    test_ds = eval_dataset(config, data)
    curves = {}
    for name, model in (("htcnn", htcnn), ("ccnn", ccnn)):
        keras.utils.set_random_seed(seed)  # same dropout masks and batches for both
        curves[name] = training.train(
            model, _dataset(config, data, cloud_idx, seed), test_ds,
            epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
            run_dir=run_path(runs_dir, name), tensorboard_dir=run_path(tensorboard_dir, name),
            deadline_seconds=deadline_seconds)
    t2 = time.perf_counter()
    return {
        "htcnn": htcnn, "ccnn": ccnn, "curves": curves, "shallow_curves": shallow_curves,
        "comparison": compare_curves(curves["htcnn"], curves["ccnn"], shallow_seconds),
        "phase_seconds": {"shallow": t1 - t0, "cloud": t2 - t1},
    }


def headline(results):
    """Mean/min/max over repeats of every per-repeat number (`compare_curves` dicts).

    Example:
    >>> h = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .5])]
    >>> c = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .3])]
    >>> headline([compare_curves(h, c, 1.0)])["aag"]["mean"]
    0.2
    """
    def across(key):
        return metrics.summarize_runs([r[key] for r in results])

    def seconds(key):
        return metrics.summarize_runs([(r[key] or {}).get("seconds") for r in results])

    gains = [r["gain_per_epoch"] for r in results]
    n = min(len(g) for g in gains)
    out = {key: across(key) for key in (
        "aag", "pbp", "epoch1_gain", "htcnn_final_accuracy", "ccnn_final_accuracy",
        "htcnn_best_accuracy", "ccnn_best_accuracy", "shallow_seconds")}
    out["gain_per_epoch_mean"] = [round(float(np.mean([g[i] for g in gains])), 6)
                                  for i in range(n)]
    for key in ("htcnn_time_to_ccnn_final", "htcnn_time_to_ccnn_final_with_shallow",
                "ccnn_time_to_ccnn_final"):
        out[key.replace("time_to", "seconds_to")] = seconds(key)
    return out


def run_experiment(config, data, output_dir, seed=0, strategy=None, deadline_seconds=None,
                   log=print, shallow_dir=None):
    """Every repeat of the experiment.

    ``shallow_dir`` is the root of the shallow CNNs' run files (default
    ``output_dir``; `RunContext.phase_dir` while tuning).

    Repeat r uses seed ``seed + r``; its trainings keep their files under
    ``output_dir/runs/repeat<r>/`` (so a killed experiment resumes) and their
    TensorBoard logs under ``output_dir/tensorboard/repeat<r>/``.

    Returns:
        dict with ``runs`` (per-repeat `compare_curves` results), ``headline``
        (`headline`), ``phase_seconds``, ``curves`` (name -> per-repeat rows),
        ``history`` (every evaluation, `report.HISTORY_FIELDS`) and ``last``
        (the last repeat's `run_repeat` output, with its models).

    Example:
    >>> import tempfile
    >>> cfg = get_preset("quick", dataset="digits", epochs=1, steps_per_epoch=5,
    ...                  shallow_steps=5, repeats=1)
    >>> out = run_experiment(cfg, load_data(cfg), tempfile.mkdtemp(), log=None)
    >>> out["headline"]["aag"]["n"]
    1
    """
    history, results = [], []
    phases = {"shallow": 0.0, "cloud": 0.0}
    series = {"HTCNN": [], "CCNN": []}
    out = None
    for r in range(config.repeats):
        out = run_repeat(
            config, data, seed + r, runs_dir=os.path.join(output_dir, "runs", f"repeat{r}"),
            tensorboard_dir=os.path.join(output_dir, "tensorboard", f"repeat{r}"),
            strategy=strategy, deadline_seconds=deadline_seconds,
            shallow_runs_dir=os.path.join(shallow_dir or output_dir, "runs", f"repeat{r}"))
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
            log(f"repeat {r}: AAG {c['aag']:.3f}  PBP {c['pbp']:.2f}  epoch-1 gain {gain}  "
                f"final HTCNN {c['htcnn_final_accuracy']:.3f} CCNN "
                f"{c['ccnn_final_accuracy']:.3f}")
    return {"runs": results, "headline": headline(results), "phase_seconds": phases,
            "curves": series, "history": history, "last": out}


def headline_table(head):
    """The headline as an aligned table (mean, min-max over repeats).

    Example:
    >>> h = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .5])]
    >>> c = [{"epoch": e, "wall_seconds": e, "test_accuracy": a} for e, a in enumerate([.1, .3])]
    >>> print(headline_table(headline([compare_curves(h, c, 1.0)])).splitlines()[2])
    | AAG (eq. 2)                      | 0.200 (0.200-0.200) |
    """
    def stat(s, fmt=".3f"):
        if not s or s.get("n", 0) == 0:
            return "not reached"
        return f"{s['mean']:{fmt}} ({s['min']:{fmt}}-{s['max']:{fmt}})"

    rows = [("AAG (eq. 2)", stat(head["aag"])), ("PBP (eq. 3)", stat(head["pbp"], ".2f")),
            ("epoch-1 gain", stat(head["epoch1_gain"])),
            ("final accuracy HTCNN", stat(head["htcnn_final_accuracy"])),
            ("final accuracy CCNN", stat(head["ccnn_final_accuracy"])),
            ("s to CCNN final: HTCNN", stat(head["htcnn_seconds_to_ccnn_final"], ".1f")),
            ("s to CCNN final: HTCNN + shallow",
             stat(head["htcnn_seconds_to_ccnn_final_with_shallow"], ".1f")),
            ("s to CCNN final: CCNN", stat(head["ccnn_seconds_to_ccnn_final"], ".1f"))]
    from keras_transfer.report import text_table

    return text_table(["measure", "mean (min-max)"], rows)


def plot_curves(path, config, curves):
    """Fig. 8-style test accuracy per epoch of HTCNN and CCNN (mean and range over repeats).

    Example:
    >>> import tempfile
    >>> rows = [{"epoch": e, "test_accuracy": a} for e, a in enumerate([0.1, 0.5])]
    >>> plot_curves(tempfile.mkdtemp() + "/c.png", get_preset("quick"), {"HTCNN": [rows]})
    """
    from keras_transfer import report

    report.plot_curves(
        path, curves,
        title=f"HTCNN vs CCNN on {config.dataset} ({config.setting}, m={config.num_shallow}, "
              f"{config.repeats} repeats)",
        xlabel=f"Epoch ({config.steps_per_epoch} iterations)")


def planned_steps(config):
    """Every optimizer step of the experiment: m shallow CNNs and two clouds per repeat.

    Example:
    >>> planned_steps(get_preset("quick", dataset="digits"))  # 3 x (4 x 600 + 2 x 10 x 60)
    10800
    """
    return config.repeats * (config.num_shallow * config.shallow_steps
                             + 2 * config.epochs * config.steps_per_epoch)


def run(config, data, context):
    """The experiment under the runner's contract (`keras_transfer.experiments.contract`).

    Example:
    >>> import tempfile
    >>> from keras_transfer.experiments.contract import RunContext
    >>> cfg = get_preset("quick", dataset="digits", epochs=1, steps_per_epoch=5,
    ...                  shallow_steps=5, repeats=1)
    >>> result = run(cfg, load_data(cfg), RunContext(tempfile.mkdtemp(), log=None))
    >>> sorted(result.models), result.headline["pbp"]["n"]
    (['ccnn', 'htcnn'], 1)
    """
    from keras_transfer.experiments.contract import Result

    out = run_experiment(config, data, context.run_dir, seed=context.seed,
                         strategy=context.strategy, deadline_seconds=context.deadline_seconds,
                         log=context.log,
                         shallow_dir=context.phase_dir("shallow", **fields_of(config,
                                                                               SHALLOW_FIELDS)))

    x = data.test.x[:64].astype(np.float32) / 255.0
    last = out["last"]
    return Result(
        headline=out["headline"], table=headline_table(out["headline"]), runs=out["runs"],
        history=out["history"], plot=lambda path: plot_curves(path, config, out["curves"]),
        models={"htcnn": last["htcnn"], "ccnn": last["ccnn"]},
        export_inputs=x - data.mean if data.mean is not None else x,
        summary={"data": {"train_examples": len(data.train), "test_examples": len(data.test),
                          "image_shape": list(data.input_shape),
                          "num_classes": data.num_classes, "source": data.train.info.source}},
        phase_seconds=out["phase_seconds"])


# What the shallow CNNs depend on: trials agreeing on these share them (tuning).
SHALLOW_FIELDS = ("dataset", "arch", "setting", "num_shallow", "learning_rate", "momentum",
                  "batch_size", "shallow_steps", "steps_per_epoch", "num_shards", "image_size",
                  "subtract_mean", "max_train_examples")


def search_space():
    """The HTCNN design factors (section III-A1): learning rate, m, shallow steps, dropout.

    The objective is the mean validation accuracy of HTCNN over its curve
    (epochs 1..N, the area under it: HTCNN is about accuracy early in
    training, the paper's AAG), one repeat per trial.

    Example:
    >>> space = search_space()
    >>> space.choices(get_preset("quick", dataset="digits"))["shallow_steps"]
    (150, 300, 600)
    """
    from keras_transfer.experiments.contract import SearchSpace

    def choices(config):
        filters = ARCHS[config.arch][3]
        base = config.shallow_steps
        return {"learning_rate": (0.003, 0.01, 0.03),
                "num_shallow": tuple(m for m in (2, 4, 8, 16) if filters % m == 0),
                "shallow_steps": tuple(sorted({max(1, base // 4), max(1, base // 2), base})),
                "dropout": (False, True)}

    def validation(data, seed):
        train, val = kt_data.split_validation(data.train, 0.1, seed)
        return dataclasses.replace(data, train=train, test=val)

    def objective(result):
        acc = [row["test_accuracy"] for row in result.history
               if row["run"] == "htcnn" and row["epoch"] >= 1]
        return float(np.mean(acc))

    return SearchSpace(choices=choices, shared={"shallow": SHALLOW_FIELDS},
                            validation=validation, objective=objective,
                            trial_config=lambda c: dataclasses.replace(c, repeats=1))


EXPERIMENT = register_experiment(Experiment(
    name="htcnn", config_class=HTCNNConfig, get_preset=get_preset, presets=PRESETS,
    load_data=load_data, run=run, planned_steps=planned_steps,
    tuning=search_space()))
