"""The experiment runner's pieces: config flags from dataclass fields, progress lines, tables."""

import dataclasses

import pytest
from absl import flags

from keras_transfer.experiments import config_flags
from keras_transfer.experiments import contract
from keras_transfer.experiments import recipe_flags
from keras_transfer.progress import ProgressLog
from keras_transfer.report import text_table

EXPERIMENTS = ("htcnn", "layer_transfer", "compact_transfer", "fusion", "coarse2fine")


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_config_field_gets_a_flag_with_its_documented_help(name):
    experiment = contract.get_experiment(name)
    helps = config_flags.field_help(experiment.config_class)
    fields = [f.name for f in dataclasses.fields(experiment.config_class)]
    assert set(fields) <= set(helps), set(fields) - set(helps)  # every field documented
    fv = flags.FlagValues()
    skip = recipe_flags.flagless_fields(experiment)
    config_flags.define_config_flags(
        experiment.config_class, experiment.presets, skip=skip, flag_values=fv
    )
    assert set(fv) == set(fields) - set(skip)
    fv(["prog"])
    assert (
        config_flags.config_overrides(
            experiment.config_class, experiment.presets["quick"], fv, skip=skip
        )
        == {}
    )
    some = next(f for f in fields if f not in skip)
    assert helps[some] in fv[some].help and "quick: " in fv[some].help


def test_flags_parse_to_the_field_types_and_refuse_bad_items():
    from keras_transfer.experiments.coarse2fine.config import PRESETS
    from keras_transfer.experiments.coarse2fine.config import Coarse2FineConfig

    fv = flags.FlagValues()
    config_flags.define_config_flags(Coarse2FineConfig, PRESETS, skip=("dataset",), flag_values=fv)
    fv(
        [
            "prog",
            "--resolutions=8,16",
            "--stage_epochs=2,3",
            "--noise_stddev=0.5",
            "--widen_at=0",
            "--upscale_mode=exact",
        ]
    )
    got = config_flags.config_overrides(Coarse2FineConfig, PRESETS["quick"], fv, skip=("dataset",))
    assert got == {
        "resolutions": (8, 16),
        "stage_epochs": (2, 3),
        "noise_stddev": 0.5,
        "widen_at": 0,
        "upscale_mode": "exact",
    }
    fv["stage_epochs"].parse("2,x")
    with pytest.raises(
        ValueError, match="Expected --stage_epochs to be comma-separated integers, received '2,x'"
    ):
        config_flags.config_overrides(Coarse2FineConfig, PRESETS["quick"], fv, skip=("dataset",))


def test_progress_eta_extrapolates_trained_steps_only():
    now = [0.0]
    log = ProgressLog(total_steps=100, clock=lambda: now[0])
    log.advance(50, trained=False)  # a finished training loaded on resume
    assert log.eta() is None
    now[0] = 10.0
    log.advance(10)
    assert log.eta() == pytest.approx(10.0 / 10 * 40)
    assert not log.due() or log._last_line is None


def test_text_table_aligns_columns():
    lines = text_table(["a", "value"], [["x", 0.5], ["longer", "12"]]).splitlines()
    assert len({len(line) for line in lines}) == 1
    assert lines[1].endswith(":|")  # numbers right-aligned
