"""keras-tuner search for every experiment: one search space per config, phase-aware trials.

A `SearchSpace` names, per experiment, the config fields searched (each a
list of choices), the expensive *shared phases* (source pre-training, the
shallow CNNs, teacher fine-tuning, the first low-resolution stage) with the
fields each depends on, how the validation split is carved from the training
data (the test set is never seen while tuning) and the objective read from
the trial's `Result`.

A trial is the experiment's own ``run`` on the validation data, with the
trial's config. Each shared phase trains under a folder keyed by the values
of the fields it depends on (`RunContext.phase_dir`), and `training.train`
loads a finished training instead of repeating it: a phase is computed once
per distinct setting and reused by every trial with that setting.
`keras_tuner.GridSearch` orders the trials (the last field changes first):
fields are listed with the shared phases' fields first, so consecutive
trials share their expensive phases. keras-tuner itself has no notion of a
two-phase workflow (keras-team/keras-tuner#629, #1043), hence this layer.

Each trial reports its cost: its own seconds plus its share of every shared
phase (the phase's seconds divided by the trials that used it).
"""

import dataclasses
import json
import os
import time

import keras_tuner as kt

from keras_transfer.files import write_text

OBJECTIVE = "objective"
PHASE_FILE = "phase.json"


class ExperimentTuner(kt.GridSearch):
    """A `keras_tuner.GridSearch` whose trial is one run of an experiment on validation data.

    Args:
        experiment: the registered `Experiment` (with a ``tuning`` space).
        config: the base config; each trial replaces the searched fields.
        data: the experiment's data (the validation split is carved here).
        directory: keras-tuner's folder; trials run under ``trials/`` and
            shared phases under ``shared/`` inside it.
        max_trials: number of trials.
        seed: seed of the validation split and of every trial's training.
        strategy: `tf.distribute.Strategy` the trials build under.

    Example:
    >>> from keras_transfer.experiments.contract import get_experiment
    >>> tuner = ExperimentTuner(get_experiment("htcnn"), cfg, data, "runs/t")  # doctest: +SKIP
    >>> tuner.search()  # doctest: +SKIP
    """

    def __init__(
        self, experiment, config, data, directory, max_trials=6, seed=0, strategy=None, **kwargs
    ):
        super().__init__(
            objective=kt.Objective(OBJECTIVE, direction="max"),
            max_trials=max_trials,
            seed=seed,
            directory=directory,
            project_name=experiment.name,
            overwrite=False,
            **kwargs,
        )
        self.experiment = experiment
        self.space = experiment.tuning
        self.base = self.space.trial_config(config)
        self.val_data = data.with_validation(self.space.validation_fraction, seed)
        self.root = directory
        self.tune_seed = seed
        self.strategy = strategy

    def trial_config(self, hp):
        """The base config with the trial's values of the searched fields."""
        values = {}
        for name, options in self.space.choices(self.base).items():
            default = getattr(self.base, name, None)
            default = default if default in options else options[0]
            if all(isinstance(v, bool) for v in options):  # Choice would store 0/1
                values[name] = hp.Boolean(name, default=bool(default))
            else:
                values[name] = hp.Choice(name, list(options), default=default)
        return dataclasses.replace(self.base, **self.space.apply(self.base, values)).validate()

    def run_trial(self, trial, *args, **kwargs):
        from keras_transfer.callbacks import Diverged
        from keras_transfer.experiments.contract import RunContext

        config = self.trial_config(trial.hyperparameters)
        context = RunContext(
            os.path.join(self.root, "trials", trial.trial_id),
            seed=self.tune_seed,
            strategy=self.strategy,
            log=None,
            shared_root=os.path.join(self.root, "shared"),
        )
        os.makedirs(context.run_dir, exist_ok=True)
        fresh = {}
        t0 = time.perf_counter()
        try:
            result = self.experiment.run(config, self.val_data, context)
        except Diverged as error:  # a diverged trial scores 0, recorded as such, not a crash
            seconds = time.perf_counter() - t0
            write_text(
                os.path.join(context.run_dir, "trial.json"),
                json.dumps(
                    {"phases": {}, "computed": {}, "own_seconds": seconds, "diverged": str(error)}
                ),
            )
            return {OBJECTIVE: 0.0, "seconds": seconds}
        seconds = time.perf_counter() - t0
        phase_seconds = self.space.phase_seconds(result)
        for phase, folder in context.phases_used.items():
            marker = os.path.join(folder, PHASE_FILE)
            fresh[phase] = not os.path.exists(marker)
            if fresh[phase]:  # computed in this trial: its cost is shared by later users
                write_text(
                    marker,
                    json.dumps(
                        {
                            "trial_id": trial.trial_id,
                            "seconds": float(phase_seconds.get(phase, 0.0)),
                        }
                    ),
                )
        own = seconds - sum(phase_seconds.get(p, 0.0) for p, new in fresh.items() if new)
        write_text(
            os.path.join(context.run_dir, "trial.json"),
            json.dumps(
                {
                    "phases": {p: os.path.basename(d) for p, d in context.phases_used.items()},
                    "computed": fresh,
                    "own_seconds": own,
                }
            ),
        )
        return {OBJECTIVE: float(self.space.objective(result)), "seconds": seconds}


def trial_table(tuner):
    """Every finished trial's values, objective and cost (its share of shared phases), best first.

    Example:
    >>> trial_table(tuner)[0]["score"]  # doctest: +SKIP
    0.91
    """
    infos, users = {}, {}
    for trial in tuner.oracle.trials.values():
        path = os.path.join(tuner.root, "trials", trial.trial_id, "trial.json")
        if os.path.exists(path):
            with open(path) as f:
                infos[trial.trial_id] = json.load(f)
            for phase, key in infos[trial.trial_id]["phases"].items():
                users[key] = users.get(key, 0) + 1
    rows = []
    for trial in tuner.oracle.get_best_trials(num_trials=len(tuner.oracle.trials)):
        metrics = {name: trial.metrics.get_last_value(name) for name in trial.metrics.metrics}
        info = infos.get(trial.trial_id, {"phases": {}, "computed": {}, "own_seconds": None})
        shares = {}
        for phase, key in info["phases"].items():
            with open(os.path.join(tuner.root, "shared", key, PHASE_FILE)) as f:
                shares[phase] = json.load(f)["seconds"] / users[key]
        cost = None if info["own_seconds"] is None else info["own_seconds"] + sum(shares.values())
        rows.append(
            {
                "trial_id": trial.trial_id,
                "score": trial.score,
                "hyperparameters": trial.hyperparameters.values,
                "metrics": metrics,
                "shared_phases": {
                    p: {
                        "folder": k,
                        "computed": info["computed"].get(p),
                        "users": users[k],
                        "share_seconds": shares[p],
                    }
                    for p, k in info["phases"].items()
                },
                "cost_seconds": cost,
                "diverged": info.get("diverged"),
            }
        )
    return rows


def run_search(
    experiment, config, data, output_dir, max_trials, seed=0, preset=None, strategy=None
):
    """Runs the experiment's search; writes ``summary.json`` with the trials table.

    Returns:
        the summary dict: best hyperparameters, the trials (best first, each
        with its cost) and the best configuration as a command line.
    """
    from keras_transfer.report import text_table
    from keras_transfer.report import write_json

    if experiment.tuning is None:
        raise ValueError(
            f"Expected an experiment with a search space, received "
            f"{experiment.name!r} which has none."
        )
    tuner = ExperimentTuner(
        experiment,
        config,
        data,
        os.path.join(output_dir, "tuner"),
        max_trials=max_trials,
        seed=seed,
        strategy=strategy,
    )
    tuner.search()
    best = tuner.get_best_hyperparameters(1)[0].values
    flags = " ".join(f"--{k}={_flag_value(v)}" for k, v in best.items())
    trials = trial_table(tuner)
    command = (
        f"python recipes/{experiment.name}.py --dataset={config.dataset} --preset={preset} {flags}"
    )
    summary = {
        "recipe": experiment.name,
        "mode": "tune",
        "dataset": config.dataset,
        "preset": preset,
        "seed": seed,
        "settings": dataclasses.asdict(config),
        "best_hyperparameters": best,
        "trials": trials,
        "best_command": command,
    }
    write_json(os.path.join(output_dir, "summary.json"), summary)
    names = list(best)
    print(
        text_table(
            ["trial"] + names + ["objective", "cost s"],
            [
                [t["trial_id"]]
                + [_flag_value(t["hyperparameters"].get(n)) for n in names]
                + [t["score"], f"{t['cost_seconds']:.1f}"]
                for t in trials
            ],
        )
    )
    print(f"best: {command}")
    return summary


def _flag_value(value):
    return ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
