"""A sixth experiment, written outside the package, runs through the one runner.

The toy experiment below is what CONTRIBUTING.md's walkthrough builds: a
package with ``config.py``, ``data.py``, ``run.py``, ``report.py`` and an
``__init__.py`` that registers it. Nothing of keras_transfer is edited:
importing the package is all the runner needs (flags from the config's
docstring, ``summary.json``, ``history.csv``, the headline, resume, refusals).
"""

import csv
import importlib
import json
import os
import sys
import textwrap

import pytest

TOY = {
    "__init__.py": '''
        """A toy experiment: a linear classifier on flattened images."""

        from keras_transfer.experiments.contract import Experiment
        from keras_transfer.experiments.contract import register_experiment
        from toy_experiment import run as _run
        from toy_experiment.config import PRESETS
        from toy_experiment.config import ToyConfig
        from toy_experiment.config import get_preset
        from toy_experiment.data import load_data

        EXPERIMENT = register_experiment(Experiment(
            name="toy", config_class=ToyConfig, get_preset=get_preset, presets=PRESETS,
            load_data=load_data, run=_run.run, planned_steps=_run.planned_steps))
    ''',
    "config.py": '''
        """The toy experiment's settings."""

        import dataclasses

        from keras_transfer.experiments.config import check_positive_ints
        from keras_transfer.experiments.config import select_preset


        @dataclasses.dataclass(frozen=True)
        class ToyConfig:
            """A linear classifier trained for a few epochs, several repeats.

            Attributes:
                dataset: dataset name.
                epochs: training epochs.
                steps_per_epoch: optimizer steps per epoch.
                learning_rate: SGD learning rate.
                repeats: independent repeats (seed + r).
            """

            dataset: str = "digits"
            epochs: int = 2
            steps_per_epoch: int = 10
            learning_rate: float = 0.1
            repeats: int = 2

            def validate(self):
                check_positive_ints(self, ["epochs", "steps_per_epoch", "repeats"])
                if self.learning_rate <= 0:
                    raise ValueError(f"Expected learning_rate > 0, received "
                                     f"{self.learning_rate!r}; pass a positive rate.")
                return self


        PRESETS = {"quick": ToyConfig(), "paper": ToyConfig(epochs=5)}


        def get_preset(name, **overrides):
            return select_preset(PRESETS, name, overrides)
    ''',
    "data.py": '''
        """The toy experiment's data: the dataset's train and test splits."""

        from keras_transfer import data as kt_data
        from keras_transfer.experiments.contract import Splits


        def load_data(config, data_dir=None, seed=0):
            return Splits(*kt_data.load_splits(config.dataset, data_dir=data_dir))
    ''',
    "run.py": '''
        """The toy experiment's trainings: one linear classifier per repeat."""

        import keras

        from keras_transfer import data as kt_data
        from keras_transfer import metrics
        from keras_transfer import training
        from keras_transfer.experiments.contract import Result
        from keras_transfer.experiments.contract import run_path
        from toy_experiment.report import headline_table
        from toy_experiment.report import plot

        INTERRUPT_AT_REPEAT = None  # the test's Ctrl-C


        def planned_steps(config):
            return config.repeats * config.epochs * config.steps_per_epoch


        def run(config, data, context):
            finals, history, model = [], [], None
            for r in range(config.repeats):
                if r == INTERRUPT_AT_REPEAT:
                    raise KeyboardInterrupt
                keras.utils.set_random_seed(context.seed + r)
                with (context.strategy or training.get_strategy()).scope():
                    model = keras.Sequential([keras.Input(data.input_shape),
                                              keras.layers.Flatten(),
                                              keras.layers.Dense(data.num_classes)])
                    training.compile_classifier(model, config.learning_rate)
                curve = training.train(
                    model, kt_data.make_dataset(data.train.x, data.train.y, 64, shuffle=True,
                                                repeat=True, seed=context.seed + r),
                    kt_data.make_dataset(data.test.x, data.test.y, 500),
                    epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
                    run_dir=run_path(context.run_dir, "runs", f"repeat{r}"))
                finals.append(curve[-1]["test_accuracy"])
                history += [dict(row, run="linear", repeat=r) for row in curve]
            head = {"final_accuracy": metrics.summarize_runs(finals)}
            return Result(headline=head, table=headline_table(head),
                          runs=[{"repeat": r, "final_accuracy": a} for r, a in enumerate(finals)],
                          history=history, plot=lambda path: plot(path, history),
                          models={"linear": model},
                          export_inputs=data.test.x[:8].astype("float32") / 255.0)
    ''',
    "report.py": '''
        """The toy experiment's headline table, plot and RESULTS.md section."""

        from keras_transfer import report


        def headline_table(head):
            return report.text_table(["measure", "mean (min-max)"],
                                     [["final accuracy",
                                       report.mean_range(head["final_accuracy"], 3)]])


        def plot(path, history):
            curves = {}
            for row in history:
                curves.setdefault(row["repeat"], []).append(row)
            report.plot_curves(path, {"linear": list(curves.values())})


        def markdown(summary):
            return "Toy experiment, final accuracy: " + report.mean_range(
                summary["headline"]["final_accuracy"], 3)
    ''',
}
ARGV = [
    "toy",
    "--dataset=digits",
    "--epochs=2",
    "--steps_per_epoch=10",
    "--repeats=2",
    "--noexport",
]


@pytest.fixture
def toy(tmp_path):
    """The toy package, importable from a temporary folder; unregistered afterwards."""
    from keras_transfer.experiments import contract

    package = tmp_path / "src" / "toy_experiment"
    package.mkdir(parents=True)
    for name, text in TOY.items():
        (package / name).write_text(textwrap.dedent(text).lstrip())
    sys.path.insert(0, str(package.parent))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("toy_experiment")
    finally:
        sys.path.remove(str(package.parent))
        contract.EXPERIMENTS.pop("toy", None)
        for module in [m for m in sys.modules if m.split(".")[0] == "toy_experiment"]:
            del sys.modules[module]


def test_a_toy_experiment_runs_through_the_runner(toy, tmp_path, capsys):
    from keras_transfer.experiments import contract
    from keras_transfer.experiments import runner

    assert contract.get_experiment("toy") is toy.EXPERIMENT
    assert "toy" in contract.experiment_names()
    out = tmp_path / "run"

    code = runner.run_command("toy", [*ARGV, f"--output_dir={out}"])
    printed = capsys.readouterr().out
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["recipe"] == "toy" and summary["repeats"] == 2
    assert summary["settings"]["epochs"] == 2 and summary["settings"]["dataset"] == "digits"
    final = summary["headline"]["final_accuracy"]
    assert final["n"] == 2 and final["mean"] > 0.5  # a linear model on digits, 20 steps
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["run"], r["repeat"]) for r in rows} == {("linear", "0"), ("linear", "1")}
    assert len(rows) == 2 * 3  # epoch 0, 1, 2 of each repeat
    assert (out / "curves.png").stat().st_size > 0
    assert "| final accuracy |" in printed and toy.report.markdown(summary).startswith("Toy")


def test_a_toy_run_resumes_and_refuses_bad_flags(toy, tmp_path, capsys):
    from keras_transfer.experiments import cli
    from keras_transfer.experiments import runner

    out = tmp_path / "run"
    toy.run.INTERRUPT_AT_REPEAT = 1  # Ctrl-C after the first repeat finished
    assert runner.run_command("toy", [*ARGV, f"--output_dir={out}"]) == cli.EXIT_INTERRUPTED
    first = out / "runs" / "repeat0" / "final.weights.h5"
    finished_at = os.stat(first).st_mtime_ns
    assert not (out / "summary.json").exists()

    toy.run.INTERRUPT_AT_REPEAT = None
    capsys.readouterr()
    assert runner.run_command("toy", [*ARGV, f"--output_dir={out}", "--resume"]) == 0
    assert os.stat(first).st_mtime_ns == finished_at  # loaded, not trained again
    assert json.loads((out / "summary.json").read_text())["headline"]["final_accuracy"]["n"] == 2

    capsys.readouterr()
    bad = tmp_path / "bad"
    assert runner.run_command("toy", [*ARGV, "--epochs=0", f"--output_dir={bad}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "epochs" in err[0] and err[0].startswith("error: Expected")
    assert not bad.exists()
