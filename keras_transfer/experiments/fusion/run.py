"""The transferred-fusion experiment's trainings: pre-training, every protocol, the baselines.

Model 1 is pre-trained on dataset 1 and model 2 on dataset 2 (or loaded, e.g.
ImageNet weights); on the retraining dataset, per repeat (seed):

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

import os
import time

import keras
import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import training
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import run_path
from keras_transfer.experiments.fusion.nets import build_features
from keras_transfer.experiments.fusion.nets import classifier
from keras_transfer.experiments.fusion.report import headline
from keras_transfer.experiments.fusion.report import plot_accuracies
from keras_transfer.files import save_weights
from keras_transfer.models.compact import count_flops
from keras_transfer.transfer import fusion
from keras_transfer.transfer.ensemble import average_ensemble


def _fit(model, train, test, steps, lr, batch, seed, run_dir, deadline_seconds=None):
    """Trains ``model``; returns its learning curve (final row: accuracy, train seconds)."""
    training.compile_classifier(model, learning_rate=lr)
    ds = kt_data.make_dataset(train.x, train.y, batch, shuffle=True, repeat=True, seed=seed)
    curve = training.train(
        model,
        ds,
        kt_data.make_dataset(test.x, test.y, 500),
        epochs=1,
        steps_per_epoch=steps,
        run_dir=run_dir,
        eval_at_start=False,
        deadline_seconds=deadline_seconds,
    )
    # A finished run of other settings, loaded on --resume (a deadline may stop it sooner).
    if curve[-1]["step"] > steps or (deadline_seconds is None and curve[-1]["step"] != steps):
        raise ValueError(
            f"Expected the run in {run_dir} to have {steps} steps, received a "
            f"finished run of {curve[-1]['step']}; resume with the settings it "
            f"was started with or use a new --output_dir."
        )
    return curve


def _accuracy(model, test):
    probs = model.predict(kt_data.make_dataset(test.x, test.y, 500).map(lambda x, y: x), verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == test.y))


def _params(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return {"trainable_params": trainable, "total_params": int(model.count_params())}


def _build(run, pretrained, config, classes):
    """The model of run ``run`` (``single_<k>_<protocol>`` or ``hybrid_<exchange>_<train>``)."""
    kind, first, second = run.split("_", 2)
    if kind == "hybrid":
        return fusion.fuse(
            pretrained["1"],
            pretrained["2"],
            classes,
            pairs=config.pairs,
            exchange=first,
            train=second,
            head_units=config.head_units,
            name=run,
        )
    feats = fusion.copy_model(pretrained[first], f"m{first}_")
    if second == "frozen":
        fusion.freeze(feats)
    # The hybrid's head (fuse's default dropout), so only the fusion differs.
    return classifier(feats, classes, f"single_{first}", config.head_units, dropout=0.5)


def run_names(config):
    """The trained runs of one repeat, in order.

    Example:
    >>> from keras_transfer.experiments.fusion.config import FusionConfig
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
        feats = build_features(
            net,
            shape,
            config.custom_width,
            config.custom_blocks,
            weights=weights,
            imagenet_image_size=config.imagenet_image_size,
        )
        pretrained[key] = feats
        if weights is not None:  # loaded, not pre-trained
            info[key] = {"accuracy": None, "seconds": 0.0, "weights": weights}
            continue
        train, test = data.extra[f"pretrain_{key}"]
        clf = classifier(feats, train.info.num_classes, f"pretrain_{key}")
        curve = _fit(
            clf,
            train,
            test,
            config.pretrain_steps,
            config.pretrain_lr,
            config.batch_size,
            seed,
            run_path(root, "runs", f"pretrain_{key}"),
        )
        info[key] = {
            "accuracy": curve[-1]["test_accuracy"],
            "seconds": curve[-1]["wall_seconds"],
            "weights": None,
        }
        if root:  # reusable with weights_<key>=... (never overwritten)
            path = run_path(root, f"pretrained_{key}.weights.h5")
            if not os.path.exists(path):  # an ImageNet family: its backbone, what loads it
                save_weights(
                    feats if net in ("custom", "squeezenet") else feats.get_layer("backbone"), path
                )
        log(
            f"model {key} ({net}) pre-trained on {getattr(config, 'dataset_' + key)}: "
            f"test accuracy {info[key]['accuracy']:.4f} ({time.perf_counter() - t0:.0f} s)"
        )
    return pretrained, info


def planned_steps(config):
    """Optimizer steps: pre-training (nets without weights), every run, the matched baseline.

    The time-matched baseline's steps are known only after the hybrids ran;
    they are planned as one more run per repeat.

    Example:
    >>> from keras_transfer.experiments.fusion.config import get_preset
    >>> planned_steps(get_preset("quick"))  # 2 x 2,000 + 3 repeats x 9 runs x 500
    17500
    """
    pretrain = sum(config.pretrain_steps for w in (config.weights_1, config.weights_2) if not w)
    runs = len(run_names(config)) + (1 if config.baselines else 0)
    return pretrain + config.repeats * runs * config.retrain_steps


# What the two pre-trained nets depend on: every tuning trial below shares them.
PRETRAIN_FIELDS = (
    "model_1",
    "model_2",
    "dataset_1",
    "dataset_2",
    "weights_1",
    "weights_2",
    "image_size",
    "imagenet_image_size",
    "custom_width",
    "custom_blocks",
    "pretrain_steps",
    "pretrain_lr",
    "batch_size",
    "pretrain_examples",
)


def run(config, data, context):
    """Pre-trains the two nets, then per repeat every protocol, then the baselines.

    The runner's contract (`contract.Experiment`). Every retraining stops at
    ``context.deadline_seconds`` if set (pre-training does not); the
    pre-training files go under ``context.phase_dir("pretrain", ...)``
    (shared by tuning trials). Repeat r seeds its runs with
    ``context.seed * 1000 + r + 1``.

    Returns:
        `Result`: ``runs`` (run name -> list over repeats of ``{"accuracy",
        "train_seconds", "trainable_params", "total_params"}`` and, for
        hybrids, ``"gates"``), the headline (`report.headline`), every
        curve as ``history``, the most accurate hybrid to export, and in
        ``summary`` the pre-training (per net: accuracy, seconds, weights),
        FLOPs per image and the time-matched baseline's settings.
    """
    seed, log = context.seed, context.log or (lambda *_: None)
    root = context.phase_dir("pretrain", **fields_of(config, PRETRAIN_FIELDS))

    t_start = time.perf_counter()
    train, test = data.train, data.test
    shape, classes = train.x.shape[1:], train.info.num_classes
    pretrained, pre = _pretrain(config, data, shape, seed, root, log)
    seconds = {"pretrain": time.perf_counter() - t_start}
    names = run_names(config)
    runs, curves, flops, models = {n: [] for n in names}, {}, {}, {}
    flops_by_shape = {}

    def train_run(run, r, steps, model_name=None):
        s = seed * 1000 + r + 1
        keras.utils.set_random_seed(s)
        model = _build(model_name or run, pretrained, config, classes)
        curve = _fit(
            model,
            train,
            test,
            steps,
            config.retrain_lr,
            config.batch_size,
            s,
            run_path(context.run_dir, "runs", f"{run}_{r}"),
            context.deadline_seconds,
        )
        row = {
            "accuracy": curve[-1]["test_accuracy"],
            "train_seconds": curve[-1]["wall_seconds"],
            **_params(model),
        }
        if run.startswith("hybrid"):
            row["gates"] = fusion.exchange_gates(model)
        shape = run.rsplit("_", 1)[0]  # frozen or fine-tuned, all or new: one forward graph
        if shape not in flops_by_shape:
            flops_by_shape[shape] = count_flops(model)
        flops[run] = flops_by_shape[shape]
        runs.setdefault(run, []).append(row)
        curves[f"{run}_{r}"], models[run] = curve, model
        return row

    t0 = time.perf_counter()
    for r in range(config.repeats):
        for run in names:
            row = train_run(run, r, config.retrain_steps)
            log(
                f"repeat {r} {run}: accuracy {row['accuracy']:.3f}, train "
                f"{row['train_seconds']:.0f} s"
            )
        if config.baselines:
            for protocol in config.single_protocols:
                members = [models[f"single_{k}_{protocol}"] for k in ("1", "2")]
                ens = average_ensemble(members, name=f"ensemble_{protocol}")
                parts = [runs[f"single_{k}_{protocol}"][r] for k in ("1", "2")]
                runs.setdefault(f"ensemble_{protocol}", []).append(
                    {
                        "accuracy": _accuracy(ens, test),
                        "train_seconds": sum(p["train_seconds"] for p in parts),
                        "trainable_params": sum(p["trainable_params"] for p in parts),
                        "total_params": sum(p["total_params"] for p in parts),
                    }
                )
                flops[f"ensemble_{protocol}"] = sum(
                    flops[f"single_{k}_{protocol}"] for k in ("1", "2")
                )
                models[f"ensemble_{protocol}"] = ens
    seconds["retrain"] = time.perf_counter() - t0
    matched = None
    if config.baselines:
        t0 = time.perf_counter()
        matched = matched_baseline(runs, config)
        run = f"single_{matched['model']}_matched"
        for r in range(config.repeats):
            row = train_run(
                run, r, matched["steps"], model_name=f"single_{matched['model']}_finetuned"
            )
            log(
                f"repeat {r} {run} ({matched['steps']} steps): accuracy "
                f"{row['accuracy']:.3f}, train {row['train_seconds']:.0f} s"
            )
        seconds["matched"] = time.perf_counter() - t0
    head = headline({"runs": runs, "pretrain": pre, "flops": flops}, config)
    hybrids = [run for run in runs if run.startswith("hybrid")]
    exported = {}
    if hybrids:
        best = max(hybrids, key=lambda run: head["runs"][run]["accuracy"]["mean"])
        exported = {best: models[best]}
    history = [
        dict(row, run=key.rsplit("_", 1)[0], repeat=int(key.rsplit("_", 1)[1]))
        for key, curve in curves.items()
        for row in curve
    ]
    return Result(
        headline=head,
        table=head["table"] + "\n\n" + head["cost_table"],
        runs=runs,
        history=history,
        plot=lambda path: plot_accuracies(path, config, runs),
        models=exported,
        export_inputs=test.x[:64].astype(np.float32) / 255.0,
        summary={"pretrain": pre, "flops": flops, "matched": matched},
        phase_seconds=seconds,
    )


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
    >>> from keras_transfer.experiments.fusion.config import FusionConfig
    >>> rows = lambda acc, s: [{"accuracy": acc, "train_seconds": s}]
    >>> matched_baseline({"single_1_finetuned": rows(0.8, 10.0),
    ...                   "single_2_finetuned": rows(0.9, 20.0),
    ...                   "hybrid_paper_all": rows(0.85, 44.0)}, FusionConfig(retrain_steps=100))
    {'model': '2', 'ratio': 2.25, 'steps': 225, 'budget_seconds': 44.0}
    """
    best = max(("1", "2"), key=lambda k: _mean(runs[f"single_{k}_finetuned"], "accuracy"))
    budget = max(
        _mean(rows, "train_seconds") for run, rows in runs.items() if run.startswith("hybrid")
    )
    ratio = max(
        0.25, round(4 * budget / _mean(runs[f"single_{best}_finetuned"], "train_seconds")) / 4
    )
    return {
        "model": best,
        "ratio": ratio,
        "steps": max(1, round(config.retrain_steps * ratio)),
        "budget_seconds": round(budget, 1),
    }
