"""The layer-transfer experiment: keep a source LeNet-5's bottom n levels, learn k-shot classes.

Paper: lenet5-knowledge-transfer-nist.txt, "Experiments". A source net is
trained on one set of classes (400 samples each); for every number of
retained levels n in 0..5 and every k in {1, 5, 10, 20, 40} samples per new
class, a target net copies the source's bottom n levels (fixed) and trains
the rest on k samples of each target class; each is tested on a fixed test
set of the target classes, over several trials (paper: 5).

This module is the experiment as the runner sees it (`run`, `planned_steps`,
`search_space`, the registered `EXPERIMENT`); its parts are

- `keras_transfer.experiments.layer_transfer_config`: `LayerTransferConfig`, the presets;
- `keras_transfer.experiments.layer_transfer_data`: `load_data`;
- `keras_transfer.experiments.layer_transfer_runs`: the source and target trainings;
- `keras_transfer.experiments.layer_transfer_report`: the headline and its table.

Their public names are importable from here too.
"""

import dataclasses

import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import metrics
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.experiments.layer_transfer_config import PRESETS
from keras_transfer.experiments.layer_transfer_config import LayerTransferConfig
from keras_transfer.experiments.layer_transfer_config import get_preset
from keras_transfer.experiments.layer_transfer_config import target_budget
from keras_transfer.experiments.layer_transfer_data import LayerTransferData
from keras_transfer.experiments.layer_transfer_data import load_data
from keras_transfer.experiments.layer_transfer_report import headline
from keras_transfer.experiments.layer_transfer_report import headline_table
from keras_transfer.experiments.layer_transfer_runs import build_net
from keras_transfer.experiments.layer_transfer_runs import run_experiment
from keras_transfer.experiments.layer_transfer_runs import train_net

__all__ = [
    "EXPERIMENT", "PRESETS", "SOURCE_FIELDS", "LayerTransferConfig", "LayerTransferData",
    "build_net", "get_preset", "headline", "headline_table", "load_data", "planned_steps", "run",
    "run_experiment", "search_space", "target_budget", "train_net",
]


def planned_steps(config):
    """Every optimizer step: the source net, then every (trial, k, n) target net.

    Example:
    >>> planned_steps(get_preset("quick", ks=(1,), levels=(0, 1), trials=1))
    4600
    """
    per_trial = sum(len(config.levels)
                    * target_budget(config, k * len(config.target_classes)) for k in config.ks)
    return config.source_steps + config.trials * per_trial


def run(config, data, context):
    """The experiment under the runner's contract (`keras_transfer.experiments.contract`)."""
    from keras_transfer import report

    source_dir = context.phase_dir("source", **fields_of(config, SOURCE_FIELDS))
    out = run_experiment(config, data, context.run_dir, seed=context.seed, log=context.log,
                         deadline_seconds=context.deadline_seconds, source_dir=source_dir)
    head = headline(config, out["accuracy"])
    history = [{"run": f"k{r['k']}_n{r['n']}", "repeat": r["trial"], "epoch": r["epoch"],
                "step": r["step"], "wall_seconds": r["wall_seconds"],
                "train_loss": r["train_loss"], "test_accuracy": r["test_accuracy"]}
               for r in out["runs"]]

    def plot(path):
        report.plot_layer_transfer(path, head["accuracy"],
                                   title=f"Layer transfer on {config.dataset}: "
                                         f"{len(config.source_classes)} -> "
                                         f"{len(config.target_classes)} classes, "
                                         f"{config.trials} trials")

    return Result(
        headline=head, table=headline_table(config, head), history=history, plot=plot,
        models={"source": out["source_model"]},
        export_inputs=data.test.x[:64].astype(np.float32) / 255.0,
        summary={
            "data": {"source_train_examples": len(data.source),
                     "target_pool_examples": len(data.target_pool),
                     "test_examples": len(data.test), "source": data.source.info.source},
            "source_train_accuracy": out["source_train_accuracy"],
            "source_test_accuracy": out["source_test_accuracy"],
            # How far each budget let the nets fit their own k-sample training set.
            "train_accuracy": {k: {n: metrics.summarize_runs(v) for n, v in row.items()}
                               for k, row in out["train_accuracy"].items()},
            "parameters": out["parameters"]},
        phase_seconds=out["phase_seconds"])


# What the source net depends on: tuning trials agreeing on these share it.
SOURCE_FIELDS = ("dataset", "source_classes", "source_per_class", "code_bits", "output",
                 "learning_rate", "momentum", "batch_size", "source_steps")


def search_space():
    """Retained levels n, learning rate and target passes; one trial per n, one trial each.

    The objective is the mean validation accuracy over ``ks`` at the trial's
    n; the validation images are carved from the target classes' training
    pool (20%), the k samples are drawn from the rest.

    Example:
    >>> sorted(search_space().choices(get_preset("quick")))
    ['learning_rate', 'n', 'target_epochs']
    """
    def choices(config):
        return {"learning_rate": (0.005, 0.01, 0.02),
                "target_epochs": tuple(sorted({max(1, config.target_epochs // 2),
                                               max(1, config.target_epochs)})),
                "n": tuple(config.levels)}

    def apply(config, values):
        values = dict(values)
        return dict(values, levels=(values.pop("n"),)) if "n" in values else values

    def validation(data, seed):
        pool, val = kt_data.split_validation(data.target_pool, 0.2, seed)
        return dataclasses.replace(data, target_pool=pool, test=val)

    def objective(result):
        return float(np.mean([by_n[n]["mean"] for by_n in result.headline["accuracy"].values()
                              for n in by_n]))

    return SearchSpace(choices=choices, shared={"source": SOURCE_FIELDS}, apply=apply,
                       validation=validation, objective=objective,
                       trial_config=lambda c: dataclasses.replace(c, trials=1),
                       phase_seconds=lambda r: {"source": r.phase_seconds["source"]})


EXPERIMENT = register_experiment(Experiment(
    name="layer_transfer", config_class=LayerTransferConfig, get_preset=get_preset,
    presets=PRESETS, load_data=load_data, run=run, repeats_field="trials",
    planned_steps=planned_steps, tuning=search_space()))
