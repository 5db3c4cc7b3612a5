"""The experiment contract: what an experiment provides and what its run returns.

An experiment (one per paper) is

- a frozen config dataclass with named fields only (its docstring's
  ``Attributes:`` section documents every field; the runner turns each field
  into a command-line flag with that text as help) and named presets;
- ``load_data(config, data_dir, seed) -> Splits``: reads and checks
  everything the run needs before any training;
- ``run(config, data, context) -> Result``: trains and measures. It keeps its
  per-training files under ``context.run_dir`` (so a killed run resumes) and
  returns what the runner writes and prints.

An experiment is a package ``keras_transfer/experiments/<name>/`` whose
``__init__.py`` registers it (`register_experiment`); `get_experiment` imports
that package by name, so no list of experiments exists anywhere.

`keras_transfer.experiments.runner` does everything else, once for every
experiment: flags, seeding and determinism, the output folder and resume,
the strategy scope, progress, ``summary.json`` / ``history.csv`` /
``curves.png``, export with a reload check, tuning, and the headline table.
"""

import dataclasses
import hashlib
import importlib
import json
import os
import pkgutil
from typing import Any
from typing import Callable

EXPERIMENTS = {}


@dataclasses.dataclass(frozen=True)
class Splits:
    """The data of one run, as named splits (what ``load_data`` returns).

    Attributes:
        train: the training split of the compared models (an
            `keras_transfer.data.ImageData`).
        test: the split they are evaluated on.
        extra: further named splits or values the run needs (a source
            task's data, a training mean, ...); validation carving leaves
            them as they are.
        variants: name -> `Splits` holding the same examples in another form
            (coarse-to-fine: each stage's resolution); carved exactly like
            ``train`` and ``test``.

    Example:
    >>> from keras_transfer import data
    >>> splits = Splits(*data.load_splits("digits"))
    >>> len(splits.train), len(splits.test), splits.input_shape, splits.num_classes
    (1437, 360, (8, 8, 1), 10)
    >>> tuned = splits.with_validation(0.1, seed=0)
    >>> len(tuned.train), len(tuned.test)
    (1293, 144)
    """

    train: Any
    test: Any
    extra: dict = dataclasses.field(default_factory=dict)
    variants: dict = dataclasses.field(default_factory=dict)

    @property
    def input_shape(self):
        """The training images' shape without the batch axis."""
        return tuple(self.train.x.shape[1:])

    @property
    def num_classes(self):
        """The training split's number of classes."""
        return self.train.info.num_classes

    def with_validation(self, fraction, seed):
        """These splits with ``test`` replaced by a validation split carved from ``train``.

        The one way every experiment's tuning holds out data
        (`keras_transfer.data.split_validation`, stratified by label): the
        test split is never seen while searching. Variants share the train
        split's labels, so they are carved at the same indices.
        """
        from keras_transfer.data import split_validation

        train, val = split_validation(self.train, fraction, seed)
        variants = {
            name: variant.with_validation(fraction, seed) for name, variant in self.variants.items()
        }
        return dataclasses.replace(self, train=train, test=val, variants=variants)


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
        folder = os.path.join(
            self.shared_root, f"{phase}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"
        )
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
        load_data: ``load_data(config, data_dir, seed) -> Splits``.
        run: ``run(config, data, context) -> Result``.
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
    repeats_field: str = "repeats"
    planned_steps: Callable = None
    tuning: Any = None

    @property
    def default_dataset(self):
        """``--dataset`` when the flag is not given: the config's ``dataset`` default."""
        return self.config_class.dataset


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
        validation_fraction: the share of the training split held out to
            score trials (`Splits.with_validation`).
        objective: ``Result -> float`` to maximise (read on validation data).
        trial_config: ``config -> config`` applied to every trial (e.g. one
            repeat, no baselines).
        phase_seconds: ``Result -> {phase: seconds}`` of the shared phases.

    Example:
    >>> space = SearchSpace(choices=lambda c: {"dropout": (False, True)}, shared={},
    ...                     objective=lambda r: 0.0)
    >>> space.trial_config("config"), space.apply(None, {"dropout": True})
    ('config', {'dropout': True})
    """

    choices: Callable
    shared: dict
    objective: Callable
    validation_fraction: float = 0.1
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
    """The registered `Experiment` called ``name``.

    An experiment not registered yet is imported as the package
    ``keras_transfer.experiments.<name>`` (its ``__init__`` registers it).

    Example:
    >>> get_experiment("coarse2fine").default_dataset
    'tiny_imagenet50'
    """
    if name not in EXPERIMENTS and name in experiment_names():
        importlib.import_module(f"{__package__}.{name}")
    if name not in EXPERIMENTS:
        raise ValueError(f"Expected an experiment among {experiment_names()}, received {name!r}.")
    return EXPERIMENTS[name]


def experiment_names():
    """The packaged experiments (subpackages of `keras_transfer.experiments`) and any registered.

    Example:
    >>> experiment_names()
    ['coarse2fine', 'compact_transfer', 'fusion', 'htcnn', 'layer_transfer']
    """
    package = importlib.import_module(__package__)
    packaged = {m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg}
    return sorted(packaged | set(EXPERIMENTS))
