"""The coarse-to-fine experiment: incremental 8 -> 16 -> 32 training vs. 32 from scratch.

Paper: coarse2fine-incremental-training.txt, Figs. 5-6 and 10. A Table I
network is trained at a low resolution, upscaled (and widened once) and
trained on at each higher resolution; the baseline is the same final
network trained at the final resolution from scratch for the same number of
optimizer steps (images), which takes longer in wall time, so its curve also
gives its accuracy at the incremental run's total time. The headline: final
accuracy of both, how soon the incremental run reaches the baseline's final
accuracy (and the ratio of times), and the accuracy dip at each transform.

This module is the experiment as the runner sees it (`run`, `planned_steps`,
`search_space`, the registered `EXPERIMENT`); its parts are

- `keras_transfer.experiments.coarse2fine_config`: `Coarse2FineConfig` and the presets;
- `keras_transfer.experiments.coarse2fine_data`: `load_data` and the datasets per stage;
- `keras_transfer.experiments.coarse2fine_runs`: the schedule and the trainings;
- `keras_transfer.experiments.coarse2fine_report`: the headline and its table.

Their public names are importable from here too.
"""

import dataclasses

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer.experiments.coarse2fine_config import NETS
from keras_transfer.experiments.coarse2fine_config import PRESETS
from keras_transfer.experiments.coarse2fine_config import Coarse2FineConfig
from keras_transfer.experiments.coarse2fine_config import get_preset
from keras_transfer.experiments.coarse2fine_data import load_data
from keras_transfer.experiments.coarse2fine_data import stage_datasets
from keras_transfer.experiments.coarse2fine_report import headline
from keras_transfer.experiments.coarse2fine_report import table
from keras_transfer.experiments.coarse2fine_runs import build_start_net
from keras_transfer.experiments.coarse2fine_runs import make_stages
from keras_transfer.experiments.coarse2fine_runs import replication_check
from keras_transfer.experiments.coarse2fine_runs import run_experiment
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.transfer import upscaling

__all__ = [
    "EXPERIMENT", "FIRST_STAGE_FIELDS", "NETS", "PRESETS", "Coarse2FineConfig",
    "build_start_net", "get_preset", "headline", "load_data", "make_stages", "planned_steps",
    "replication_check", "run", "run_experiment", "search_space", "stage_datasets", "table",
]


def planned_steps(config):
    """Every optimizer step: the incremental schedule and the baseline, per repeat.

    Example:
    >>> planned_steps(get_preset("quick"))
    75000
    """
    epochs = sum(config.stage_epochs) + (config.baseline_epochs or sum(config.stage_epochs))
    return config.repeats * epochs * config.steps_per_epoch


def run(config, data, context):
    """The experiment under the runner's contract; exports both final models."""
    from keras_transfer import report

    first = context.phase_dir("first_stage", epochs=config.stage_epochs[0],
                              **fields_of(config, FIRST_STAGE_FIELDS))
    out = run_experiment(config, data, context.run_dir, seed=context.seed, log=context.log,
                         deadline_seconds=context.deadline_seconds, first_stage_dir=first)
    head = headline(out, config)
    final_res = config.resolutions[-1]
    train, test = data[final_res]
    history = [dict(row, run=run, repeat=r) for run in ("incremental", "baseline")
               for r, rep in enumerate(out[run]) for row in rep["curve"]]
    markers = [(st["start_seconds"], f"{st['resolution']}px")
               for st in out["incremental"][0]["stages"][1:]]

    def plot(path):
        report.plot_time_curves(
            path, {"incremental " + " -> ".join(str(r) for r in config.resolutions):
                   [rep["curve"] for rep in out["incremental"]],
                   f"{final_res}px from scratch": [rep["curve"] for rep in out["baseline"]]},
            markers, title=f"Coarse-to-fine, {config.net}, {config.dataset} "
                           f"({config.repeats} repeats)")

    def without_curve(reps):
        return [{k: v for k, v in rep.items() if k != "curve"} for rep in reps]

    return Result(
        headline=head, table=head["table"], history=history, plot=plot, models=out["models"],
        export_inputs=test.x[:64].astype(np.float32) / 255.0 - kt_data.channel_mean(train.x),
        summary={"incremental": without_curve(out["incremental"]),
                 "baseline": without_curve(out["baseline"])},
        phase_seconds={"first_stage": sum(rep["stages"][0]["train_seconds"]
                                          for rep in out["incremental"]),
                       "incremental": sum(rep["seconds"] for rep in out["incremental"]),
                       "baseline": sum(rep["seconds"] for rep in out["baseline"])})


# What the first (lowest-resolution) stage depends on, besides its epochs.
FIRST_STAGE_FIELDS = ("dataset", "net", "resolutions", "steps_per_epoch", "batch_size",
                      "learning_rate", "dropout", "train_examples")


def search_space():
    """Epochs per stage, upscale mode and (when widening) the new filters' initialisation.

    One repeat per trial; the objective is the incremental run's final
    validation accuracy (10% of the training images). The baseline trains
    one epoch only in a trial (it is not part of the objective). Trials with
    the same first-stage epochs share the first stage.

    Example:
    >>> sorted(search_space().choices(get_preset("quick")))
    ['stage_epochs_0', 'stage_epochs_1', 'stage_epochs_2', 'upscale_mode', 'widen_init']
    """
    def choices(config):
        out = {f"stage_epochs_{i}": tuple(dict.fromkeys((e, max(1, e // 2))))
               for i, e in enumerate(config.stage_epochs)}
        out["upscale_mode"] = tuple(dict.fromkeys((config.upscale_mode,) + upscaling.UPSCALE_MODES))
        if config.widen_at:
            out["widen_init"] = tuple(dict.fromkeys((config.widen_init, "net2wider")))
        return out

    def apply(config, values):
        epochs = tuple(values[f"stage_epochs_{i}"] for i in range(len(config.stage_epochs)))
        rest = {k: v for k, v in values.items() if not k.startswith("stage_epochs_")}
        return dict(rest, stage_epochs=epochs)

    def validation(data, seed):
        out = {}
        for res, (train, _) in data.items():
            out[res] = kt_data.split_validation(train, 0.1, seed)  # same labels, same split
        return out

    return SearchSpace(
        choices=choices, apply=apply, validation=validation,
        shared={"first_stage": FIRST_STAGE_FIELDS + ("stage_epochs[0]",)},
        objective=lambda r: float(r.headline["incremental_final_accuracy"]["mean"]),
        trial_config=lambda c: dataclasses.replace(c, repeats=1, baseline_epochs=1))


EXPERIMENT = register_experiment(Experiment(
    name="coarse2fine", config_class=Coarse2FineConfig, get_preset=get_preset,
    presets=PRESETS, load_data=load_data, run=run, planned_steps=planned_steps,
    tuning=search_space()))
