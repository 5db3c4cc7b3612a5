"""The transferred-fusion experiment: pre-train two nets, fuse them, retrain; the baselines.

Paper: transferred-fusion-skipped-networks.txt, Tables 2 and 3. Two nets
pre-trained on two datasets (or loaded) are fused into a hybrid and
retrained; each net alone (frozen and fine-tuned), their ensemble and the
better single net trained for the hybrid's wall time are the comparisons.

This module is the experiment as the runner sees it (`run`, `planned_steps`,
`search_space`, the registered `EXPERIMENT`); its parts are

- `keras_transfer.experiments.fusion_config`: `FusionConfig` and the presets;
- `keras_transfer.experiments.fusion_data`: `load_data`;
- `keras_transfer.experiments.fusion_runs`: the nets and every training;
- `keras_transfer.experiments.fusion_report`: the headline and its tables.

Their public names are importable from here too.
"""

import dataclasses

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.experiments.fusion_config import HYBRIDS
from keras_transfer.experiments.fusion_config import PRESETS
from keras_transfer.experiments.fusion_config import SINGLE_PROTOCOLS
from keras_transfer.experiments.fusion_config import FusionConfig
from keras_transfer.experiments.fusion_config import check_net
from keras_transfer.experiments.fusion_config import get_preset
from keras_transfer.experiments.fusion_data import load_data
from keras_transfer.experiments.fusion_runs import build_features
from keras_transfer.experiments.fusion_runs import classifier
from keras_transfer.experiments.fusion_runs import matched_baseline
from keras_transfer.experiments.fusion_runs import run_experiment
from keras_transfer.experiments.fusion_runs import run_names
from keras_transfer.transfer import fusion

__all__ = [
    "EXPERIMENT", "HYBRIDS", "PRESETS", "PRETRAIN_FIELDS", "SINGLE_PROTOCOLS", "FusionConfig",
    "build_features", "check_net", "classifier", "get_preset", "load_data", "matched_baseline",
    "planned_steps", "run", "run_experiment", "run_names", "search_space",
]


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
