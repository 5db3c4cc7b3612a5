r"""The one runner every recipe uses: flags, seeding, output folder, strategy, progress, files.

A recipe is the name of a registered `Experiment` (its presets, per-dataset
defaults and default dataset live in the experiment's ``config.py``)::

    from keras_transfer.experiments import runner
    runner.main("htcnn")

`main` defines the recipe contract's flags (`recipe_flags`: ``--dataset --preset
--output_dir --seed --repeats --data_dir --strategy --export --resume ...``)
and one flag per config field, then: checks every setting and the output
folder, loads the data (checked too), and only then seeds, enters the
strategy scope, runs (or tunes) the experiment with a progress log and
writes ``summary.json``, ``history.csv``, ``curves.png`` and the exports
(SavedModel + ``.keras``, reloaded and compared), printing the headline
table at the end. TensorFlow's and absl's INFO and warning lines are off
unless ``--verbosity`` is given (absl's flag: ``--verbosity=0`` shows INFO).
"""

import dataclasses
import datetime
import json
import os
import sys
import tempfile
import time
import warnings

from absl import app
from absl import flags

from keras_transfer.experiments import cli
from keras_transfer.experiments.cli import quiet_unless_verbose
from keras_transfer.experiments.contract import RunContext
from keras_transfer.experiments.contract import get_experiment
from keras_transfer.experiments.recipe_flags import config_from_flags
from keras_transfer.experiments.recipe_flags import define_recipe_flags

FLAGS = flags.FLAGS


def check_strategy(name, environ=os.environ):
    """Refuses ``multi_worker`` without a ``TF_CONFIG`` naming at least two workers.

    Example:
    >>> check_strategy("multi_worker", {"TF_CONFIG": json.dumps({"cluster": {"worker": [
    ...     "127.0.0.1:2001", "127.0.0.1:2002"]}, "task": {"type": "worker", "index": 0}})})
    >>> check_strategy("multi_worker", {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected TF_CONFIG naming >= 2 workers ..., received no TF_CONFIG; ...
    """
    if name != "multi_worker":
        return
    text = environ.get("TF_CONFIG")
    try:
        workers = json.loads(text)["cluster"]["worker"] if text else []
    except (ValueError, KeyError, TypeError):
        workers = None
    if not workers or len(workers) < 2:
        got = "no TF_CONFIG" if not text else f"TF_CONFIG={text!r}"
        raise ValueError(
            f"Expected TF_CONFIG naming >= 2 workers for --strategy=multi_worker, "
            f"received {got}; set it on every worker (README, Distribution) or "
            f"use --strategy=mirrored."
        )


def _output_dir_from_flags(recipe, flag_values=FLAGS):
    """``--output_dir``, or a new ``runs/<recipe>-<dataset>-<preset>-<time>`` folder name."""
    if flag_values.output_dir:
        return flag_values.output_dir
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{recipe}-{flag_values.dataset}-{flag_values.preset}-{stamp}")


def _silence_python_noise():
    import absl.logging
    import tensorflow as tf

    warnings.filterwarnings("ignore")
    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel("ERROR")


def _set_up_tensorflow(fv):
    """--cpu_devices, seeds, precision and determinism (before any TensorFlow op runs)."""
    import keras
    import tensorflow as tf

    if fv.cpu_devices:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * fv.cpu_devices
        )
    keras.utils.set_random_seed(fv.seed)
    keras.mixed_precision.set_dtype_policy(fv.precision)
    if fv.deterministic:
        tf.config.experimental.enable_op_determinism()


def _refusing(check, *args):
    """``check(*args)``; a ValueError or OSError it raises becomes `cli.Refused` (exit 2)."""
    try:
        return check(*args)
    except (ValueError, OSError) as error:
        raise cli.Refused(error) from error


class Interrupted(Exception):
    """Ctrl-C (SIGINT) ended a run; ``str()`` is the one line to print (exit code 130)."""


def _run(experiment, fv, argv):
    """Runs ``experiment`` with the parsed flags ``fv``; returns the summary dict."""
    from keras_transfer import run_folder
    from keras_transfer.data import sources

    t0 = time.perf_counter()
    config, output_dir = _refusing(_checked_settings, experiment, fv)
    settings = _run_settings(experiment, config, fv)
    if cli.verbosity(argv) is None:
        _silence_python_noise()
    _set_up_tensorflow(fv)
    from keras_transfer import training

    # Before any TensorFlow op: MultiWorkerMirroredStrategy configures the runtime.
    strategy = training.get_strategy(fv.strategy)
    worker = _worker_index(fv)
    export_dir = fv.export_dir
    if worker:  # every worker trains and exports (collectives); only the chief's files stay
        output_dir = tempfile.mkdtemp(prefix=f"keras_transfer-worker{worker}-")
        export_dir = os.path.join(output_dir, "saved_models")
    with sources.recording_loads() as loaded:  # what the run trains on: resume refuses others
        data = _refusing(experiment.load_data, config, fv.data_dir, fv.seed)  # content checked
    settings["data"] = loaded
    load_seconds = time.perf_counter() - t0
    lock = _refusing(run_folder.claim_output_dir, output_dir, fv.resume, settings)
    try:  # the folder is this process's until it ends: a second one is refused
        if fv.tune:
            return _tune(experiment, config, data, output_dir, strategy, fv)
        return _compare(
            experiment,
            config,
            data,
            output_dir,
            t0,
            load_seconds,
            strategy,
            export_dir if fv.export else None,
            settings,
            fv,
        )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; the run in {output_dir!r} is unfinished: resume it "
            f"with the same flags and --resume"
        ) from None
    finally:
        lock.release()


def _checked_settings(experiment, flag_values=FLAGS):
    """The checks before anything is written: config, strategy, output folder."""
    from keras_transfer import run_folder
    from keras_transfer.data.sources import check_dataset_name

    check_dataset_name(flag_values.dataset)  # before it names the default run folder
    config = config_from_flags(experiment, flag_values)
    check_strategy(flag_values.strategy)
    output_dir = _output_dir_from_flags(experiment.name, flag_values)
    if not _worker_index(flag_values):  # other workers write to a temporary folder
        run_folder.check_output_dir(
            output_dir, flag_values.resume, _run_settings(experiment, config, flag_values)
        )
        if flag_values.export:  # exports come last: a run must not train, then fail to save
            run_folder.check_writable(flag_values.export_dir, "--export_dir")
    return config, output_dir


def _run_settings(experiment, config, fv):
    """What a run's numbers depend on: recipe, data, seed, loop settings and the config.

    Stored in the run folder when a run starts (``run_settings.json``) and at
    the top of its ``summary.json``; ``--resume`` with other values is refused.
    """
    return {
        "recipe": experiment.name,
        "dataset": fv.dataset,
        "preset": fv.preset,
        "seed": fv.seed,
        "repeats": getattr(config, experiment.repeats_field),
        "strategy": fv.strategy,
        "precision": fv.precision,
        "deterministic": fv.deterministic,
        "steps_per_execution": fv.steps_per_execution,
        "deadline_seconds": fv.deadline_seconds,
        "tune": fv.tune,
        "tune_trials": fv.tune_trials if fv.tune else None,
        "settings": dataclasses.asdict(config),
    }


def check_inputs(name, argv, default_dataset=None):
    """What recipe ``name`` checks before it trains, in this process: flags, settings, data.

    Parses ``argv`` (a recipe command line) into fresh flags, builds and
    validates the config, checks the strategy and the output folder, loads
    and checks the data; writes nothing and trains nothing. A recipe run does
    the same checks, then trains.

    Returns:
        ``(config, data)``.

    Raises:
        ValueError: a setting, the output folder or the data is refused.
        absl.flags.Error: a flag does not parse.

    Example:
    >>> config, data = check_inputs("htcnn", ["htcnn", "--dataset=digits", "--epochs=3"])
    >>> config.epochs, len(data.train)
    (3, 1437)
    >>> check_inputs("htcnn", ["htcnn", "--num_shallow=3"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...divide...
    """
    experiment = get_experiment(name)
    flag_values = flags.FlagValues()
    define_recipe_flags(experiment, flag_values, default_dataset)
    flag_values(list(argv))
    config, _ = _checked_settings(experiment, flag_values)
    return config, experiment.load_data(config, flag_values.data_dir, flag_values.seed)


def _worker_index(fv):
    """This process's worker index under --strategy=multi_worker (0: the chief), else 0."""
    if fv.strategy != "multi_worker":
        return 0
    return int(json.loads(os.environ["TF_CONFIG"]).get("task", {}).get("index", 0))


def _steps_per_execution(fv):
    spe = fv.steps_per_execution
    return spe if spe == "auto" else int(spe)


def _tune(experiment, config, data, output_dir, strategy, fv):
    from keras_transfer import training
    from keras_transfer.experiments import tune

    with strategy.scope(), training.options(steps_per_execution=_steps_per_execution(fv)):
        return tune.run_search(
            experiment,
            config,
            data,
            output_dir,
            fv.tune_trials,
            fv.seed,
            preset=fv.preset,
            strategy=strategy,
        )


def _compare(
    experiment, config, data, output_dir, t0, load_seconds, strategy, export_dir, settings, fv
):
    from keras_transfer import export
    from keras_transfer import report
    from keras_transfer import training
    from keras_transfer.callbacks import Diverged
    from keras_transfer.progress import ProgressLog

    progress = ProgressLog(experiment.planned_steps(config) if experiment.planned_steps else None)
    context = RunContext(
        output_dir, fv.seed, strategy, fv.deadline_seconds, log=lambda text: progress.line(text)
    )
    summary_path = os.path.join(output_dir, "summary.json")
    with (
        strategy.scope(),
        training.options(progress=progress, steps_per_execution=_steps_per_execution(fv)),
    ):
        try:
            result = experiment.run(config, data, context)
        except Diverged as error:  # a diverged model is no result: say so, keep no headline
            report.write_json(
                summary_path,
                {
                    **settings,
                    "status": "diverged",
                    "diverged": {
                        "training": error.name,
                        "epoch": error.epoch,
                        "loss": str(error.loss),
                    },
                    "wall_seconds": {"total": time.perf_counter() - t0},
                },
            )
            raise
    phases = {"load_data": load_seconds, **result.phase_seconds}
    report.write_history(os.path.join(output_dir, "history.csv"), result.history)
    if result.plot:
        result.plot(os.path.join(output_dir, "curves.png"))
    exports = {}
    if export_dir and result.models:
        t_export = time.perf_counter()
        exports = export.export_run(
            result.models,
            result.export_inputs,
            output_dir,
            os.path.join(
                export_dir, experiment.name, os.path.basename(os.path.normpath(output_dir))
            ),
        )
        phases["export"] = time.perf_counter() - t_export
    phases["total"] = time.perf_counter() - t0
    summary = {
        **settings,
        "status": "finished",
        "replicas": context.strategy.num_replicas_in_sync,
        **result.summary,
        "headline": result.headline,
    }
    if result.runs is not None:
        summary["runs"] = result.runs
    summary.update(wall_seconds=phases, exports=exports)
    report.write_json(summary_path, summary)
    progress.line("done", f"-> {output_dir}")
    print(result.table)
    return summary


def _exit_code(run, argv):
    """Runs ``run()``; the exit code, with one line on stderr for a refusal or a divergence."""
    from keras_transfer.callbacks import Diverged

    try:
        run()
    except cli.Refused as refused:
        return cli.report_refusal(refused, argv)
    except (Interrupted, KeyboardInterrupt) as error:
        line = str(error) or "interrupted before the run started; nothing was written"
        print(f"error: {line}", file=sys.stderr, flush=True)
        return cli.EXIT_INTERRUPTED
    except Diverged as error:
        print(
            f"error: Expected a finite training loss, received {error}; lower the learning "
            f"rate (summary.json has status 'diverged', no result)",
            file=sys.stderr,
            flush=True,
        )
        return cli.EXIT_DIVERGED
    return cli.EXIT_OK


def _no_positional(argv):
    if len(argv) > 1:
        raise cli.Refused(
            ValueError(
                f"Expected only --name=value flags, received the arguments {argv[1:]}; write "
                f"every setting as a flag (--help lists them)"
            )
        )


def run_command(name, argv, default_dataset=None):
    """Runs recipe ``name`` on the command line ``argv`` in this process; its exit code.

    What ``python recipes/<name>.py ...`` does (`main`), on fresh flags, so
    it can be called repeatedly from Python and tests: 0 finished, 2 an input
    refused (one line on stderr, nothing written), 3 diverged, 130
    interrupted (Ctrl-C); other errors raise.

    Example:
    >>> run_command("htcnn", ["htcnn", "--epochs=0"])
    2
    """
    argv = cli.named_verbosity(list(argv))
    experiment = get_experiment(name)
    fv = flags.FlagValues()
    define_recipe_flags(experiment, fv, default_dataset)
    try:  # absl's --verbosity lives in the global flags; this run reads it from argv
        positional = fv([a for a in argv if a.partition("=")[0] not in ("--verbosity", "-v")])
    except flags.Error as error:
        return cli.report_refusal(error, argv)

    def run():
        _no_positional(positional)
        _run(experiment, fv, argv)

    return _exit_code(run, argv)


def main(name):
    """A recipe's entry point: defines the flags of experiment ``name`` and runs it.

    Exits with the codes of `keras_transfer.experiments.cli` (0 finished, 1
    internal error, 2 refused input, 3 diverged, 130 interrupted).

    Example (a recipe file's whole logic)::

        if __name__ == "__main__":
            runner.main("coarse2fine")
    """
    sys.argv = cli.named_verbosity(sys.argv)
    try:  # Ctrl-C while TensorFlow loads: one line, not an import traceback
        quiet_unless_verbose()
        experiment = get_experiment(name)
    except KeyboardInterrupt:
        print(
            "error: interrupted before the run started; nothing was written",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(cli.EXIT_INTERRUPTED)
    define_recipe_flags(experiment)

    def parse(argv):
        try:
            return FLAGS(argv)
        except flags.Error as error:
            sys.exit(cli.report_refusal(error, argv))

    def run(argv):
        return _exit_code(lambda: (_no_positional(argv), _run(experiment, FLAGS, argv)), argv)

    app.run(run, flags_parser=parse)
