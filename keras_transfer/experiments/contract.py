"""The experiment contract: what an experiment provides and what its run returns.

An experiment (one per paper) is

- a frozen config dataclass with named fields only (its docstring's
  ``Attributes:`` section documents every field; the runner turns each field
  into a command-line flag with that text as help) and named presets;
- ``load_data(config, data_dir, seed)``: reads and checks everything the run
  needs before any training;
- ``run(config, data, context) -> Result``: trains and measures. It keeps its
  per-training files under ``context.run_dir`` (so a killed run resumes) and
  returns what the runner writes and prints.

`keras_transfer.experiments.runner` does everything else, once for every
experiment: flags, seeding and determinism, the output folder and resume,
the strategy scope, progress, ``summary.json`` / ``history.csv`` /
``curves.png``, export with a reload check, tuning, and the headline table.
"""

import dataclasses
import hashlib
import json
import os
from typing import Any
from typing import Callable

EXPERIMENTS = {}


@dataclasses.dataclass
class RunContext:
    """What the runner hands to an experiment's ``run``.

    Attributes:
        run_dir: the run folder (``runs/``, ``tensorboard/`` and other
            per-training files go below it); ``None`` keeps nothing on disk.
        seed: the run's seed (repeat r conventionally uses ``seed + r``).
        strategy: the `tf.distribute.Strategy` models are built under.
        deadline_seconds: training wall-time budget of every compared model
            (``None``: none); the model reached by then is kept and reported.
        log: where an experiment's own lines go (``None``: nowhere).
        shared_root: set while tuning: the folder of the phases shared by
            trials (see `phase_dir`); ``None`` otherwise.
        phases_used: phase -> folder, filled by `phase_dir`.

    Example:
    >>> RunContext(run_dir=None).seed
    0
    """

    run_dir: Any
    seed: int = 0
    strategy: Any = None
    deadline_seconds: Any = None
    log: Any = print
    shared_root: Any = None
    phases_used: dict = dataclasses.field(default_factory=dict)

    def phase_dir(self, phase, **values):
        """The root folder of an expensive phase's trainings (pre-training, shallow CNNs...).

        In a normal run, the run folder. While tuning, one folder per distinct
        ``values`` (the settings the phase depends on) under ``shared_root``:
        a trial with the same values finds the phase's finished trainings
        there and loads them instead of training again.

        Example:
        >>> ctx = RunContext("run", shared_root="shared")
        >>> ctx.phase_dir("shallow", lr=0.01, m=4) == ctx.phase_dir("shallow", m=4, lr=0.01)
        True
        >>> RunContext("run").phase_dir("shallow", lr=0.01)
        'run'
        """
        if self.shared_root is None:
            return self.run_dir
        key = json.dumps([phase, sorted(values.items()), self.seed], default=str)
        folder = os.path.join(self.shared_root,
                              f"{phase}-{hashlib.sha1(key.encode()).hexdigest()[:12]}")
        self.phases_used[phase] = folder
        return folder


@dataclasses.dataclass
class Result:
    """What an experiment's ``run`` returns; the runner writes and prints it.

    Attributes:
        headline: the headline metrics (``summary.json["headline"]``).
        table: the headline as text, printed at the end (`report.text_table`).
        runs: per-run final numbers (``summary.json["runs"]``), or ``None``.
        history: rows of ``history.csv`` (`report.HISTORY_FIELDS`).
        plot: ``plot(path)`` draws ``curves.png``.
        models: name -> model to export (SavedModel + ``.keras``, reload
            checked on ``export_inputs``).
        export_inputs: a few inputs exactly as the exported models take them.
        summary: more top-level ``summary.json`` fields (data sizes, per-phase
            accuracies, deployment numbers...).
        phase_seconds: wall seconds per phase (``summary.json["wall_seconds"]``).

    Example:
    >>> Result(headline={"aag": 0.1}, table="AAG 0.1").history
    []
    """

    headline: dict
    table: str
    runs: Any = None
    history: list = dataclasses.field(default_factory=list)
    plot: Callable = None
    models: dict = dataclasses.field(default_factory=dict)
    export_inputs: Any = None
    summary: dict = dataclasses.field(default_factory=dict)
    phase_seconds: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One paper's experiment, as the runner sees it.

    Attributes:
        name: the recipe name (``recipes/<name>.py``, ``saved_models/<name>/``).
        config_class: the frozen config dataclass.
        get_preset: ``get_preset(name, **overrides) -> config`` (validated).
        presets: preset name -> config.
        load_data: ``load_data(config, data_dir, seed) -> data``.
        run: ``run(config, data, context) -> Result``.
        dataset_field: the config field ``--dataset`` sets.
        repeats_field: the config field ``--repeats`` sets.
        planned_steps: ``planned_steps(config) -> int``, every optimizer step
            the run takes (pre-training included), for the progress ETA.
        tuning: the experiment's `keras_transfer.experiments.tune.SearchSpace`
            (``--tune``).

    Example:
    >>> from keras_transfer.experiments import htcnn
    >>> get_experiment("htcnn").config_class is htcnn.HTCNNConfig
    True
    """

    name: str
    config_class: type
    get_preset: Callable
    presets: dict
    load_data: Callable
    run: Callable
    dataset_field: str = "dataset"
    repeats_field: str = "repeats"
    planned_steps: Callable = None
    tuning: Any = None


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """What an experiment's keras-tuner search explores.

    Attributes:
        choices: ``config -> {name: tuple of values}`` (numbers, strings or
            booleans), ordered with the shared phases' first (GridSearch
            varies the last first).
        apply: ``(config, {name: value}) -> {field: value}``, the trial's
            config fields (default: the names are fields).
        shared: phase name -> the config fields that phase depends on
            (documentation; the experiment passes them to `RunContext.phase_dir`).
        validation: ``(data, seed) -> data`` with the test split replaced by
            a validation split carved from the training data.
        objective: ``Result -> float`` to maximise (read on validation data).
        trial_config: ``config -> config`` applied to every trial (e.g. one
            repeat, no baselines).
        phase_seconds: ``Result -> {phase: seconds}`` of the shared phases.

    Example:
    >>> space = SearchSpace(choices=lambda c: {"dropout": (False, True)}, shared={},
    ...                     validation=lambda d, s: d, objective=lambda r: 0.0)
    >>> space.trial_config("config"), space.apply(None, {"dropout": True})
    ('config', {'dropout': True})
    """

    choices: Callable
    shared: dict
    validation: Callable
    objective: Callable
    apply: Callable = lambda config, values: values
    trial_config: Callable = lambda config: config
    phase_seconds: Callable = lambda result: result.phase_seconds


def run_path(root, *parts):
    """``root/parts...``, or ``None`` when there is no run folder (nothing kept on disk).

    Example:
    >>> run_path("runs", "repeat0", "ccnn"), run_path(None, "repeat0")
    ('runs/repeat0/ccnn', None)
    """
    return os.path.join(root, *parts) if root else None


def fields_of(config, names):
    """``{name: config.name}`` for ``names`` (what a shared phase depends on).

    Example:
    >>> import collections
    >>> fields_of(collections.namedtuple("C", "lr m")(0.01, 4), ["m"])
    {'m': 4}
    """
    return {name: getattr(config, name) for name in names}


def register_experiment(experiment):
    """Registers an `Experiment` by its name; returns it.

    Example:
    >>> "fusion" in EXPERIMENTS or True
    True
    """
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def get_experiment(name):
    """The registered `Experiment` called ``name`` (importing the experiment modules).

    Example:
    >>> get_experiment("coarse2fine").dataset_field
    'dataset'
    """
    import importlib

    if name not in EXPERIMENTS:
        for module in ("htcnn", "layer_transfer", "compact_transfer", "fusion", "coarse2fine"):
            importlib.import_module(f"keras_transfer.experiments.{module}")
    if name not in EXPERIMENTS:
        raise ValueError(f"Expected an experiment among {sorted(EXPERIMENTS)}, received "
                         f"{name!r}.")
    return EXPERIMENTS[name]
