"""The transferred-fusion experiment: pre-train two nets, fuse them, retrain; the baselines.

Paper: transferred-fusion-skipped-networks.txt, Tables 2 and 3. Model 1 is
pre-trained on dataset 1 and model 2 on dataset 2 (or loaded, e.g. ImageNet
weights); on the retraining dataset, per repeat (seed):

- each model alone is transfer-learned with the hybrid's head, ``frozen``
  (only the head trains, the paper's likely protocol) and ``finetuned``
  (everything trains), the same number of steps as the hybrid;
- the hybrid (`fuse`) for every ``exchange/train`` combination, e.g.
  ``paper/new``: the paper's identity sums, carried-over layers frozen;
- two baselines a user would pick instead: the ensemble of the two single
  models of a protocol (averaged softmax, no extra training) and the better
  fine-tuned single model trained for the hybrid's wall time.

The two pre-trained nets are shared by the repeats and by every protocol.
"""

import dataclasses
import os
import time

import keras
import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import training
from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import run_path
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.models import backbone as bb
from keras_transfer.models.fusion_nets import residual_cnn
from keras_transfer.models.compact import count_flops
from keras_transfer.models.fusion_nets import squeezenet
from keras_transfer.transfer import fusion
from keras_transfer.transfer.ensemble import average_ensemble

# The paper's non-keras.applications nets; any keras.applications family name
# (`keras_transfer.models.backbone.list_backbones`) works too.
_OWN_NETS = {"custom": "residual_cnn", "squeezenet": "squeezenet"}


def check_net(name):
    """Raises ValueError for a network name `build_features` does not know.

    Example:
    >>> check_net("custom"), check_net("InceptionV3")
    ('custom', 'InceptionV3')
    """
    if name not in _OWN_NETS and name not in bb.list_backbones():
        raise ValueError(f"Expected a network among {sorted(_OWN_NETS)} or "
                         f"{bb.list_backbones()}, received {name!r}.")
    return name


def build_features(name, input_shape, custom_width=16, weights=None, imagenet_image_size=0):
    """A feature extractor (pooled features) for network ``name``.

    ``"custom"`` is the paper's 16-block residual CNN (`residual_cnn`),
    ``"squeezenet"`` SqueezeNet v1.1, anything else a `keras.applications` or
    EfficientNet-Lite family (its preprocessing inside, images on [0, 1]),
    resized inside to ``imagenet_image_size`` (``0``: not resized).

    Example:
    >>> build_features("custom", (32, 32, 3), custom_width=4).output_shape
    (None, 32)
    """
    check_net(name)
    if name == "custom":
        return residual_cnn(input_shape, include_top=False, width=custom_width, weights=weights,
                            name="custom")
    if name == "squeezenet":
        return squeezenet(input_shape, include_top=False, weights=weights, name="squeezenet")
    clf = bb.backbone_classifier(name, input_shape, 2, weights=weights, dropout=0.0,
                                 image_size=imagenet_image_size or None)
    return keras.Model(clf.input, clf.get_layer("dropout").output, name=name.lower())


def classifier(features, num_classes, name, head_units=0, dropout=0.0):
    """``features`` + `classification_head` (the hybrid's head when given its settings).

    Example:
    >>> f = build_features("custom", (32, 32, 3), custom_width=4)
    >>> classifier(f, 5, "c", head_units=16).output_shape
    (None, 5)
    """
    inputs = keras.Input(features.input_shape[1:], name="image")
    outputs = fusion.classification_head(features(inputs), num_classes, head_units, dropout)
    return keras.Model(inputs, outputs, name=name)


SINGLE_PROTOCOLS = ("frozen", "finetuned")
HYBRIDS = tuple(f"{e}/{t}" for e in fusion.EXCHANGES for t in fusion.TRAIN_MODES)


@dataclasses.dataclass(frozen=True)
class FusionConfig:
    """Settings of the transferred-fusion experiment.

    Attributes:
        model_1, model_2: ``"custom"``, ``"squeezenet"``, a keras.applications
            family or ``"EfficientNetLite0"`` (`check_net`).
        dataset_1, dataset_2: pre-training datasets of model 1 and model 2.
        retrain_dataset: the dataset the hybrid and the single nets are retrained on.
        image_size: side every image is resized to (paper: 100, section 3.2.1).
        imagenet_image_size: side an ImageNet family resizes its input to
            inside the model (``0``: ``image_size``).
        custom_width: first-stage filters of the custom model.
        pretrain_steps, retrain_steps: SGD steps (momentum 0.9) per net.
        pretrain_lr, retrain_lr: learning rates.
        batch_size: batch size of every phase.
        pretrain_examples: pre-training examples per dataset (``0``: all).
        weights_1, weights_2: a weights file of model 1 / model 2's feature
            extractor (saved by an earlier run as ``pretrained_<k>.weights.h5``,
            or ``"imagenet"`` for an ImageNet family): the model is loaded
            instead of pre-trained.
        pairs: ``"auto"`` or ``((layer of 1, layer of 2), ...)``.
        head_units: hidden units of the head (hybrid and single models alike).
        single_protocols: single-model transfer protocols, among
            ``SINGLE_PROTOCOLS``.
        hybrids: ``"exchange/train"`` combinations of `fuse`, among ``HYBRIDS``.
        baselines: also the ensembles and the better single model trained for
            the hybrid's wall time (needs ``"finetuned"`` and a hybrid).
        repeats: retraining repeats (seeds).
    """

    model_1: str = "custom"
    model_2: str = "custom"
    dataset_1: str = "mnist"
    dataset_2: str = "cifar100"
    retrain_dataset: str = "natural_images"
    image_size: int = 100
    imagenet_image_size: int = 0
    custom_width: int = 16
    pretrain_steps: int = 5000
    retrain_steps: int = 2000
    pretrain_lr: float = 0.01
    retrain_lr: float = 0.01
    batch_size: int = 64
    pretrain_examples: int = 0
    weights_1: str = None
    weights_2: str = None
    pairs: object = "auto"
    head_units: int = 256
    single_protocols: tuple = SINGLE_PROTOCOLS
    hybrids: tuple = HYBRIDS
    baselines: bool = True
    repeats: int = 3

    def validate(self):
        """Raises ValueError for settings that cannot run; returns self.

        Example:
        >>> FusionConfig().validate().model_1
        'custom'
        """
        check_net(self.model_1)
        check_net(self.model_2)
        check_positive_ints(self, ("image_size", "custom_width", "pretrain_steps",
                                   "retrain_steps", "batch_size", "repeats"))
        for name in ("pretrain_examples", "head_units", "imagenet_image_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Expected {name} to be an integer >= 0, received {value!r}.")
        for name in ("pretrain_lr", "retrain_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Expected {name} > 0, received {getattr(self, name)!r}.")
        for name in ("weights_1", "weights_2"):
            value = getattr(self, name)
            if value not in (None, "imagenet") and not os.path.isfile(value):
                raise ValueError(f"Expected {name} None, 'imagenet' or an existing weights "
                                 f"file, received {value!r}.")
        if self.pairs != "auto" and not all(len(p) == 2 for p in self.pairs):
            raise ValueError(f"Expected pairs 'auto' or (layer of model 1, layer of model 2) "
                             f"pairs, received {self.pairs!r}.")
        for name, known in (("single_protocols", SINGLE_PROTOCOLS), ("hybrids", HYBRIDS)):
            value = tuple(getattr(self, name))
            bad = [v for v in value if v not in known]
            if bad or len(set(value)) != len(value):
                raise ValueError(f"Expected {name} to be distinct values among {known}, "
                                 f"received {value!r}; e.g. {','.join(known)}.")
        if not self.single_protocols and not self.hybrids:
            raise ValueError("Expected at least one of single_protocols and hybrids, "
                             "received neither.")
        if self.baselines and ("finetuned" not in self.single_protocols or not self.hybrids):
            raise ValueError(f"Expected 'finetuned' in single_protocols and a hybrid for the "
                             f"baselines (ensemble, better single model in the hybrid's time), "
                             f"received single_protocols={tuple(self.single_protocols)} and "
                             f"hybrids={tuple(self.hybrids)}; add them or set baselines=False "
                             f"(--nobaselines).")
        return self


PRESETS = {
    "paper": FusionConfig(),
    # 32x32 images (Natural Images is stored at 30x30, so 100x100 adds no
    # detail, only cost), the custom model 8 filters wide, 2,000 pre-training
    # steps on 20,000 examples, 500 retraining steps; ImageNet families see
    # the images upsampled to 64x64 inside. Cost: benchmarks/RESULTS.md, fusion.
    "quick": FusionConfig(image_size=32, imagenet_image_size=64, custom_width=8,
                          pretrain_steps=2000, retrain_steps=500, pretrain_examples=20000,
                          head_units=128),
}


def get_preset(name, **overrides):
    """The preset ``name`` with ``overrides`` (``None`` values ignored), validated.

    Example:
    >>> get_preset("quick", model_2="squeezenet").model_2
    'squeezenet'
    """
    return select_preset(PRESETS, name, overrides)


def load_data(config, data_dir=None, seed=0):
    """``{"1": (train, test), "2": ..., "retrain": ...}`` as RGB at ``image_size``.

    A dataset named twice is read once.

    Example:
    >>> cfg = get_preset("quick", dataset_1="digits", dataset_2="digits",
    ...                  retrain_dataset="digits", pretrain_examples=100)
    >>> d = load_data(cfg)
    >>> d["1"][0].x.shape, d["retrain"][0].info.num_classes
    ((100, 32, 32, 3), 10)
    """
    out, cache = {}, {}
    for key, name in (("1", config.dataset_1), ("2", config.dataset_2),
                      ("retrain", config.retrain_dataset)):
        if key != "retrain" and getattr(config, f"weights_{key}") is not None:
            continue  # model loaded, its pre-training data not needed
        if name not in cache:
            cache[name] = tuple(kt_data.load_image_data(name, split, data_dir=data_dir,
                                                        image_size=config.image_size,
                                                        color="rgb")
                                for split in ("train", "test"))
        train, test = cache[name]
        if key != "retrain" and config.pretrain_examples:
            n = config.pretrain_examples
            if n > len(train):
                raise ValueError(f"Expected pretrain_examples <= {len(train)} (the {name} "
                                 f"training set), received {n}.")
            idx = kt_data.per_class_indices(train.y, n // train.info.num_classes, seed=seed)
            train = train.take(np.sort(idx))
        out[key] = (train, test)
    return out


def _fit(model, train, test, steps, lr, batch, seed, run_dir, deadline_seconds=None):
    """Trains ``model``; returns its learning curve (final row: accuracy, train seconds)."""
    training.compile_classifier(model, learning_rate=lr)
    ds = kt_data.make_dataset(train.x, train.y, batch, shuffle=True, repeat=True, seed=seed)
    curve = training.train(model, ds, kt_data.make_dataset(test.x, test.y, 500), epochs=1,
                           steps_per_epoch=steps, run_dir=run_dir, eval_at_start=False,
                           deadline_seconds=deadline_seconds)
    # A finished run of other settings, loaded on --resume (a deadline may stop it sooner).
    if curve[-1]["step"] > steps or (deadline_seconds is None and curve[-1]["step"] != steps):
        raise ValueError(f"Expected the run in {run_dir} to have {steps} steps, received a "
                         f"finished run of {curve[-1]['step']}; resume with the settings it "
                         f"was started with or use a new --output_dir.")
    return curve


def _accuracy(model, test):
    probs = model.predict(kt_data.make_dataset(test.x, test.y, 500).map(lambda x, y: x),
                          verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == test.y))


def _params(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return {"trainable_params": trainable, "total_params": int(model.count_params())}


def _build(run, pretrained, config, classes):
    """The model of run ``run`` (``single_<k>_<protocol>`` or ``hybrid_<exchange>_<train>``)."""
    kind, first, second = run.split("_", 2)
    if kind == "hybrid":
        return fusion.fuse(pretrained["1"], pretrained["2"], classes, pairs=config.pairs,
                           exchange=first, train=second, head_units=config.head_units,
                           name=run)
    feats = fusion.copy_model(pretrained[first], f"m{first}_")
    if second == "frozen":
        fusion.freeze(feats)
    # The hybrid's head (fuse's default dropout), so only the fusion differs.
    return classifier(feats, classes, f"single_{first}", config.head_units, dropout=0.5)


def run_names(config):
    """The trained runs of one repeat, in order.

    Example:
    >>> run_names(FusionConfig(single_protocols=("frozen",), hybrids=("gated/new",),
    ...                        baselines=False))
    ['single_1_frozen', 'single_2_frozen', 'hybrid_gated_new']
    """
    singles = [f"single_{k}_{p}" for p in config.single_protocols for k in ("1", "2")]
    return singles + ["hybrid_" + h.replace("/", "_") for h in config.hybrids]


def _pretrain(config, data, shape, seed, root, log):
    pretrained, info = {}, {}
    for key, net in (("1", config.model_1), ("2", config.model_2)):
        t0 = time.perf_counter()
        keras.utils.set_random_seed(seed + int(key))
        weights = getattr(config, f"weights_{key}")
        feats = build_features(net, shape, config.custom_width, weights=weights,
                               imagenet_image_size=config.imagenet_image_size)
        pretrained[key] = feats
        if weights is not None:  # loaded, not pre-trained
            info[key] = {"accuracy": None, "seconds": 0.0, "weights": weights}
            continue
        train, test = data[key]
        clf = classifier(feats, train.info.num_classes, f"pretrain_{key}")
        curve = _fit(clf, train, test, config.pretrain_steps, config.pretrain_lr,
                     config.batch_size, seed, run_path(root, "runs", f"pretrain_{key}"))
        info[key] = {"accuracy": curve[-1]["test_accuracy"],
                     "seconds": curve[-1]["wall_seconds"], "weights": None}
        if root:  # reusable with weights_<key>=... (never overwritten)
            path = run_path(root, f"pretrained_{key}.weights.h5")
            if not os.path.exists(path):
                feats.save_weights(path)
        log(f"model {key} ({net}) pre-trained on {getattr(config, 'dataset_' + key)}: "
            f"test accuracy {info[key]['accuracy']:.4f} ({time.perf_counter() - t0:.0f} s)")
    return pretrained, info


def run_experiment(config, data, output_dir=None, seed=0, log=print, deadline_seconds=None,
                   pretrain_dir=None):
    """Pre-trains the two nets, then per repeat every protocol, then the baselines.

    Every retraining stops at ``deadline_seconds`` if given (pre-training does
    not). ``pretrain_dir``: root of the pre-training files (default
    ``output_dir``; shared by tuning trials).

    Returns:
        dict with ``pretrain`` (per net: accuracy, seconds, weights),
        ``runs`` (run name -> list over repeats of ``{"accuracy",
        "train_seconds", "trainable_params", "total_params"}`` and, for
        hybrids, ``"gates"``), ``flops`` (run name -> FLOPs per image),
        ``matched`` (the time-matched baseline's settings), ``curves``,
        ``seconds`` and ``models`` (the last repeat's models).
    """
    log = log or (lambda *_: None)

    t_start = time.perf_counter()
    train, test = data["retrain"]
    shape, classes = train.x.shape[1:], train.info.num_classes
    root = pretrain_dir or output_dir
    pretrained, pre = _pretrain(config, data, shape, seed, root, log)
    seconds = {"pretrain": time.perf_counter() - t_start}
    names = run_names(config)
    runs, curves, flops, models = {n: [] for n in names}, {}, {}, {}

    def train_run(run, r, steps, model_name=None):
        s = seed * 1000 + r + 1
        keras.utils.set_random_seed(s)
        model = _build(model_name or run, pretrained, config, classes)
        curve = _fit(model, train, test, steps, config.retrain_lr, config.batch_size, s,
                     run_path(output_dir, "runs", f"{run}_{r}"), deadline_seconds)
        row = {"accuracy": curve[-1]["test_accuracy"], "train_seconds": curve[-1]["wall_seconds"],
               **_params(model)}
        if run.startswith("hybrid"):
            row["gates"] = fusion.exchange_gates(model)
        if run not in flops:
            flops[run] = count_flops(model)
        runs.setdefault(run, []).append(row)
        curves[f"{run}_{r}"], models[run] = curve, model
        return row

    t0 = time.perf_counter()
    for r in range(config.repeats):
        for run in names:
            row = train_run(run, r, config.retrain_steps)
            log(f"repeat {r} {run}: accuracy {row['accuracy']:.3f}, train "
                f"{row['train_seconds']:.0f} s")
        if config.baselines:
            for protocol in config.single_protocols:
                members = [models[f"single_{k}_{protocol}"] for k in ("1", "2")]
                ens = average_ensemble(members, name=f"ensemble_{protocol}")
                parts = [runs[f"single_{k}_{protocol}"][r] for k in ("1", "2")]
                runs.setdefault(f"ensemble_{protocol}", []).append({
                    "accuracy": _accuracy(ens, test),
                    "train_seconds": sum(p["train_seconds"] for p in parts),
                    "trainable_params": sum(p["trainable_params"] for p in parts),
                    "total_params": sum(p["total_params"] for p in parts)})
                flops[f"ensemble_{protocol}"] = sum(flops[f"single_{k}_{protocol}"]
                                                    for k in ("1", "2"))
                models[f"ensemble_{protocol}"] = ens
    seconds["retrain"] = time.perf_counter() - t0
    matched = None
    if config.baselines:
        t0 = time.perf_counter()
        matched = matched_baseline(runs, config)
        run = f"single_{matched['model']}_matched"
        for r in range(config.repeats):
            row = train_run(run, r, matched["steps"],
                            model_name=f"single_{matched['model']}_finetuned")
            log(f"repeat {r} {run} ({matched['steps']} steps): accuracy "
                f"{row['accuracy']:.3f}, train {row['train_seconds']:.0f} s")
        seconds["matched"] = time.perf_counter() - t0
    return {"pretrain": pre, "runs": runs, "flops": flops, "matched": matched,
            "curves": curves, "seconds": seconds, "models": models}


def _mean(rows, key):
    return float(np.mean([row[key] for row in rows]))


def matched_baseline(runs, config):
    """Which single model gets the hybrid's wall time, and how many steps that is.

    The better fine-tuned single model by mean test accuracy (choosing on the
    test set favours the baseline: a conservative comparison for fusion) is
    trained for ``retrain_steps`` times the ratio of the slowest hybrid's mean
    training time to its own, rounded to a quarter so that the same seed gives
    the same steps on the same machine.

    Example:
    >>> rows = lambda acc, s: [{"accuracy": acc, "train_seconds": s}]
    >>> matched_baseline({"single_1_finetuned": rows(0.8, 10.0),
    ...                   "single_2_finetuned": rows(0.9, 20.0),
    ...                   "hybrid_paper_all": rows(0.85, 44.0)}, FusionConfig(retrain_steps=100))
    {'model': '2', 'ratio': 2.25, 'steps': 225, 'budget_seconds': 44.0}
    """
    best = max(("1", "2"), key=lambda k: _mean(runs[f"single_{k}_finetuned"], "accuracy"))
    budget = max(_mean(rows, "train_seconds") for run, rows in runs.items()
                 if run.startswith("hybrid"))
    ratio = max(0.25, round(4 * budget / _mean(runs[f"single_{best}_finetuned"],
                                                "train_seconds")) / 4)
    return {"model": best, "ratio": ratio, "steps": max(1, round(config.retrain_steps * ratio)),
            "budget_seconds": round(budget, 1)}


def planned_steps(config):
    """Optimizer steps: pre-training (nets without weights), every run, the matched baseline.

    The time-matched baseline's steps are known only after the hybrids ran;
    they are planned as one more run per repeat.

    Example:
    >>> planned_steps(get_preset("quick"))  # 2 x 2,000 + 3 repeats x 9 runs x 500
    17500
    """
    pretrain = sum(config.pretrain_steps for w in (config.weights_1, config.weights_2) if not w)
    runs = len(run_names(config)) + (1 if config.baselines else 0)
    return pretrain + config.repeats * runs * config.retrain_steps


def run(config, data, context):
    """The experiment under the runner's contract; exports the most accurate hybrid."""
    from keras_transfer import report
    from keras_transfer.experiments import fusion_report
    from keras_transfer.experiments.contract import Result

    out = run_experiment(
        config, data, context.run_dir, seed=context.seed, log=context.log,
        deadline_seconds=context.deadline_seconds,
        pretrain_dir=context.phase_dir("pretrain", **fields_of(config, PRETRAIN_FIELDS)))
    head = fusion_report.headline(out, config)
    runs = out["runs"]
    hybrids = [run for run in runs if run.startswith("hybrid")]
    models = {}
    if hybrids:
        best = max(hybrids, key=lambda run: head["runs"][run]["accuracy"]["mean"])
        models = {best: out["models"][best]}
    history = [dict(row, run=key.rsplit("_", 1)[0], repeat=int(key.rsplit("_", 1)[1]))
               for key, curve in out["curves"].items() for row in curve]

    def plot(path):
        report.plot_bars(path, {fusion_report.describe(run).replace(", ", ",\n"):
                                [r["accuracy"] for r in rows] for run, rows in runs.items()},
                         title=f"Transferred fusion, {config.model_1} | {config.model_2}, "
                               f"retrained on {config.retrain_dataset} ({config.repeats} "
                               f"repeats)", ylabel="Test accuracy")

    return Result(
        headline=head, table=head["table"] + "\n\n" + head["cost_table"], runs=runs,
        history=history, plot=plot, models=models,
        export_inputs=data["retrain"][1].x[:64].astype(np.float32) / 255.0,
        summary={"pretrain": out["pretrain"], "flops": out["flops"], "matched": out["matched"]},
        phase_seconds=out["seconds"])


# What the two pre-trained nets depend on: every tuning trial below shares them.
PRETRAIN_FIELDS = ("model_1", "model_2", "dataset_1", "dataset_2", "weights_1", "weights_2",
                   "image_size", "imagenet_image_size", "custom_width", "pretrain_steps",
                   "pretrain_lr", "batch_size", "pretrain_examples")


def search_space():
    """The hybrid's exchange mode and training mode, retraining rate and head width.

    One hybrid per trial, one repeat, no single-model runs or baselines; the
    objective is its validation accuracy (10% of the retraining training
    set). The pre-trained nets do not depend on any searched field: they are
    trained once for the whole search. Pairs stay ``"auto"`` (layer names are
    specific to each pair of networks).

    Example:
    >>> sorted(search_space().choices(get_preset("quick")))
    ['exchange', 'head_units', 'retrain_lr', 'train']
    """
    def choices(config):
        return {"retrain_lr": (config.retrain_lr, config.retrain_lr / 3, config.retrain_lr * 3),
                "head_units": tuple(dict.fromkeys((config.head_units,
                                                   max(16, config.head_units // 4)))),
                "exchange": fusion.EXCHANGES, "train": fusion.TRAIN_MODES}

    def apply(config, values):
        values = dict(values)
        hybrid = f"{values.pop('exchange')}/{values.pop('train')}"
        return dict(values, hybrids=(hybrid,))

    def validation(data, seed):
        train, val = kt_data.split_validation(data["retrain"][0], 0.1, seed)
        return dict(data, retrain=(train, val))

    def objective(result):
        (hybrid,) = [run for run in result.headline["runs"] if run.startswith("hybrid")]
        return float(result.headline["runs"][hybrid]["accuracy"]["mean"])

    def trial_config(config):
        return dataclasses.replace(config, repeats=1, baselines=False, single_protocols=())

    return SearchSpace(choices=choices, apply=apply, validation=validation,
                       shared={"pretrain": PRETRAIN_FIELDS}, objective=objective,
                       trial_config=trial_config,
                       phase_seconds=lambda r: {"pretrain": r.phase_seconds["pretrain"]})


EXPERIMENT = register_experiment(Experiment(
    name="fusion", config_class=FusionConfig, get_preset=get_preset, presets=PRESETS,
    load_data=load_data, run=run, dataset_field="retrain_dataset",
    planned_steps=planned_steps, tuning=search_space()))
