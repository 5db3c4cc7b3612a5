"""The transferred-fusion experiment: pre-train two nets, fuse them, retrain; single-net baselines.

Paper: transferred-fusion-skipped-networks.txt, Tables 2 and 3. Model 1 is
pre-trained on dataset 1 and model 2 on dataset 2; the hybrid (`fuse`, skip
exchanges between their blocks) is retrained on a third dataset, and each
model alone is transfer-learned on it (new head, fine-tuned) with the same
number of steps, the paper's Table 3 comparison. Repeats vary the retraining
seed; the two pre-trained nets are shared by the repeats.
"""

import dataclasses
import os
import time

import keras
import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import metrics
from keras_transfer import training
from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.models import backbone as bb
from keras_transfer.models.fusion_nets import residual_cnn
from keras_transfer.models.fusion_nets import squeezenet
from keras_transfer.transfer import fusion

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


def build_features(name, input_shape, custom_width=16, weights=None):
    """A feature extractor (pooled features) for network ``name``.

    ``"custom"`` is the paper's 16-block residual CNN (`residual_cnn`),
    ``"squeezenet"`` SqueezeNet v1.1, anything else a `keras.applications`
    family (its preprocessing inside, images on [0, 1]).

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
    clf = bb.backbone_classifier(name, input_shape, 2, weights=weights, dropout=0.0)
    return keras.Model(clf.input, clf.get_layer("dropout").output, name=name.lower())


def classifier(features, num_classes, name):
    """``features`` + a float32 logits layer.

    Example:
    >>> f = build_features("custom", (32, 32, 3), custom_width=4)
    >>> classifier(f, 5, "c").output_shape
    (None, 5)
    """
    inputs = keras.Input(features.input_shape[1:], name="image")
    outputs = keras.layers.Dense(num_classes, dtype="float32", name="logits")(features(inputs))
    return keras.Model(inputs, outputs, name=name)


@dataclasses.dataclass(frozen=True)
class FusionConfig:
    """Settings of the transferred-fusion experiment.

    Attributes:
        model_1, model_2: ``"custom"``, ``"squeezenet"`` or a keras.applications family.
        dataset_1, dataset_2: pre-training datasets of model 1 and model 2.
        retrain_dataset: the dataset the hybrid and the single nets are retrained on.
        image_size: side every image is resized to (paper: 100, section 3.1).
        custom_width: first-stage filters of the custom model.
        pretrain_steps, retrain_steps: SGD steps (momentum 0.9) per net.
        pretrain_lr, retrain_lr: learning rates.
        batch_size: batch size of every phase.
        pretrain_examples: pre-training examples per dataset (``0``: all).
        weights_1, weights_2: a weights file of model 1 / model 2's feature
            extractor (saved by an earlier run as ``pretrained_<k>.weights.h5``,
            or ``"imagenet"`` for a keras.applications family): the model is
            loaded instead of pre-trained.
        pairs: ``"auto"`` or ``((layer of 1, layer of 2), ...)``.
        head_units: hidden units of the hybrid's head.
        repeats: retraining repeats (seeds).
    """

    model_1: str = "custom"
    model_2: str = "custom"
    dataset_1: str = "mnist"
    dataset_2: str = "cifar100"
    retrain_dataset: str = "natural_images"
    image_size: int = 100
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
        for name in ("pretrain_examples", "head_units"):
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
        return self


PRESETS = {
    "paper": FusionConfig(),
    # 10 minutes on 2 CPU cores (measured, benchmarks/RESULTS.md section
    # fusion): 32x32 images, the custom model 8 filters wide, 2,000
    # pre-training steps on 20,000 examples, 500 retraining steps.
    "quick": FusionConfig(image_size=32, custom_width=8, pretrain_steps=2000, retrain_steps=500,
                          pretrain_examples=20000, head_units=128),
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

    Example:
    >>> cfg = get_preset("quick", dataset_1="digits", dataset_2="digits",
    ...                  retrain_dataset="digits", pretrain_examples=100)
    >>> d = load_data(cfg)
    >>> d["1"][0].x.shape, d["retrain"][0].info.num_classes
    ((100, 32, 32, 3), 10)
    """
    out = {}
    for key, name in (("1", config.dataset_1), ("2", config.dataset_2),
                      ("retrain", config.retrain_dataset)):
        if key != "retrain" and getattr(config, f"weights_{key}") is not None:
            continue  # model loaded, its pre-training data not needed
        train, test = (kt_data.load_image_data(name, split, data_dir=data_dir,
                                               image_size=config.image_size, color="rgb")
                       for split in ("train", "test"))
        if key != "retrain" and config.pretrain_examples:
            n = config.pretrain_examples
            if n > len(train):
                raise ValueError(f"Expected pretrain_examples <= {len(train)} (the {name} "
                                 f"training set), received {n}.")
            idx = kt_data.per_class_indices(train.y, n // train.info.num_classes, seed=seed)
            train = train.take(np.sort(idx))
        out[key] = (train, test)
    return out


def _fit(model, train, test, steps, lr, batch, seed, run_dir):
    training.compile_classifier(model, learning_rate=lr)
    ds = kt_data.make_dataset(train.x, train.y, batch, shuffle=True, repeat=True, seed=seed)
    curve = training.train(model, ds, kt_data.make_dataset(test.x, test.y, 500), epochs=1,
                           steps_per_epoch=steps, run_dir=run_dir, eval_at_start=False)
    return curve[-1]["test_accuracy"]


def run_experiment(config, data, output_dir=None, seed=0, log=print):
    """Pre-trains the two nets, then per repeat retrains the hybrid and each net alone.

    Returns:
        dict with ``pretrain_accuracy`` (per net), ``hybrid``, ``single_1``,
        ``single_2`` (retraining test accuracy per repeat), ``seconds`` and
        ``models`` (the last repeat's retrained models).
    """
    def sub(*parts):
        return os.path.join(output_dir, *parts) if output_dir else None

    shape = data["retrain"][0].x.shape[1:]
    t0, seconds, pretrained, pre_acc = time.perf_counter(), {}, {}, {}
    for key, net in (("1", config.model_1), ("2", config.model_2)):
        keras.utils.set_random_seed(seed + int(key))
        weights = getattr(config, f"weights_{key}")
        feats = build_features(net, shape, config.custom_width, weights=weights)
        pretrained[key] = feats
        if weights is not None:  # loaded, not pre-trained
            pre_acc[key] = None
            continue
        train, test = data[key]
        clf = classifier(feats, train.info.num_classes, f"pretrain_{key}")
        pre_acc[key] = _fit(clf, train, test, config.pretrain_steps, config.pretrain_lr,
                            config.batch_size, seed, sub("runs", f"pretrain_{key}"))
        if output_dir:  # reusable with weights_<key>=... (never overwritten)
            path = os.path.join(output_dir, f"pretrained_{key}.weights.h5")
            if not os.path.exists(path):
                feats.save_weights(path)
        if log:
            log(f"model {key} ({net}) pre-trained on {getattr(config, 'dataset_' + key)}: "
                f"test accuracy {pre_acc[key]:.4f}")
    seconds["pretrain"] = time.perf_counter() - t0
    train, test = data["retrain"]
    classes = train.info.num_classes
    results = {"hybrid": [], "single_1": [], "single_2": []}
    models = {}
    t0 = time.perf_counter()
    for r in range(config.repeats):
        s = seed * 1000 + r + 1
        for run in results:
            keras.utils.set_random_seed(s)
            if run == "hybrid":
                model = fusion.fuse(pretrained["1"], pretrained["2"], classes,
                                    pairs=config.pairs, head_units=config.head_units)
            else:
                key = run[-1]
                feats = fusion.copy_model(pretrained[key])
                model = classifier(feats, classes, run)
            results[run].append(_fit(model, train, test, config.retrain_steps,
                                     config.retrain_lr, config.batch_size, s,
                                     sub("runs", f"{run}_{r}")))
            models[run] = model
        if log:
            log(f"repeat {r}: hybrid {results['hybrid'][-1]:.4f}, model 1 alone "
                f"{results['single_1'][-1]:.4f}, model 2 alone {results['single_2'][-1]:.4f}")
    seconds["retrain"] = time.perf_counter() - t0
    return {"pretrain_accuracy": pre_acc, **results, "seconds": seconds, "models": models}


def headline(results, config):
    """Hybrid and single-net accuracy (mean/min/max) and a markdown table like Tables 2 and 3.

    Example:
    >>> h = headline({"hybrid": [0.6, 0.7], "single_1": [0.5, 0.5], "single_2": [0.4, 0.6]},
    ...              FusionConfig())
    >>> round(h["hybrid_minus_best_single"], 6)
    0.15
    """
    summary = {run: metrics.summarize_runs(results[run])
               for run in ("hybrid", "single_1", "single_2")}
    best = max(summary["single_1"]["mean"], summary["single_2"]["mean"])

    def cell(s):
        return f"{100 * s['mean']:.2f}% ({100 * s['min']:.2f}-{100 * s['max']:.2f})"

    table = "\n".join([
        "| Model 1 | Model 2 | Dataset 1 | Dataset 2 | Retraining dataset | Model 1 transfer "
        "| Model 2 transfer | Hybrid |",
        "|---|---|---|---|---|---|---|---|",
        f"| {config.model_1} | {config.model_2} | {config.dataset_1} | {config.dataset_2} | "
        f"{config.retrain_dataset} | {cell(summary['single_1'])} | {cell(summary['single_2'])} "
        f"| {cell(summary['hybrid'])} |"])
    return {"hybrid_accuracy": summary["hybrid"], "single_1_accuracy": summary["single_1"],
            "single_2_accuracy": summary["single_2"],
            "hybrid_minus_best_single": summary["hybrid"]["mean"] - best, "table": table}
