"""The coarse-to-fine experiment's trainings: the incremental schedule and its baseline.

A Table I network (net-2) is trained on 8x8 images, upscaled (paper section
III-A/B) to 16x16, given the filters and units of net-3 (section III-C,
IV-D), trained on, upscaled to 32x32 and trained on
(`keras_transfer.schedules.incremental.train_incremental`). The baseline is the same
final network trained on 32x32 images from scratch for the same number of
optimizer steps.
"""

import keras
import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import training
from keras_transfer.experiments.coarse2fine.data import stage_datasets
from keras_transfer.experiments.coarse2fine.report import headline
from keras_transfer.experiments.coarse2fine.report import plot_curves
from keras_transfer.experiments.contract import Result
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import run_path
from keras_transfer.models.coarse2fine import TABLE1
from keras_transfer.models.coarse2fine import table1_model
from keras_transfer.schedules.incremental import Stage
from keras_transfer.schedules.incremental import train_incremental
from keras_transfer.transfer import net2net
from keras_transfer.transfer import upscaling


def build_start_net(config, num_classes):
    """The first stage's network at ``resolutions[0]``.

    Example:
    >>> from keras_transfer.experiments.coarse2fine.config import get_preset
    >>> build_start_net(get_preset("quick"), 50).input_shape
    (None, 8, 8, 3)
    """
    res = config.resolutions[0]
    return table1_model(config.net, (res, res, 3), num_classes, dropout=config.dropout)


def make_stages(config):
    """The schedule: train at each resolution, upscaling (and widening once) in between.

    Example:
    >>> from keras_transfer.experiments.coarse2fine.config import get_preset
    >>> [(s.resolution, s.epochs) for s in make_stages(get_preset("quick"))]
    [(8, 20), (16, 10), (32, 20)]
    """
    stages = [Stage(config.resolutions[0], config.stage_epochs[0])]
    start = TABLE1[config.net]
    target = TABLE1.get(config.widen_to)

    def transform_for(factor, widen_here, seed):
        def transform(model):
            model = upscaling.upscale(
                model, factor, mode=config.upscale_mode, stddev=config.noise_stddev, seed=seed
            )
            if widen_here:
                for i, ((old, _, _), (new, _, _)) in enumerate(zip(start[0], target[0]), 1):
                    if new > old:
                        model = net2net.widen(
                            model,
                            f"conv{i}",
                            new,
                            init=config.widen_init,
                            stddev=config.noise_stddev,
                            seed=seed + i,
                        )
                if target[1] > start[1]:
                    model = net2net.widen(
                        model,
                        "fc6",
                        target[1],
                        init=config.widen_init,
                        stddev=config.noise_stddev,
                        seed=seed,
                    )
            return model

        return transform

    for i in range(1, len(config.resolutions)):
        res, prev = config.resolutions[i], config.resolutions[i - 1]
        stages.append(
            Stage(
                res,
                config.stage_epochs[i],
                transform_for(res // prev, res == config.widen_at, 1000 * i),
            )
        )
    return stages


def replication_check(data, n=200):
    """``check`` for `train_incremental`: max |logit change| on pixel-replicated test images.

    The transformed model sees the previous resolution's test images
    replicated (eq. 5); 0 (up to float rounding) means the transform kept the
    function exactly (exact mode), a small number is paper mode's noise.

    Example:
    >>> from keras_transfer.experiments.coarse2fine.config import get_preset
    >>> from keras_transfer.experiments.coarse2fine.data import load_data
    >>> cfg = get_preset("quick", dataset="digits", resolutions=(4, 8), widen_at=0,
    ...                  stage_epochs=(1, 1))
    >>> d = load_data(cfg)
    >>> small = build_start_net(cfg, 10)
    >>> s4, s8 = make_stages(cfg)
    >>> check = replication_check(d, n=20)
    >>> check(small, upscaling.upscale(small, 2), s4, s8) < 1e-5
    True
    """

    def check(old, new, old_stage, new_stage):
        old_data = data.variants[old_stage.resolution]
        x = old_data.test.x[:n].astype(np.float32) / 255.0
        x = x - kt_data.channel_mean(old_data.train.x)
        factor = new_stage.resolution // old_stage.resolution
        big = new.predict(upscaling.replicate(x, factor), verbose=0, batch_size=100)
        return float(np.abs(big - old.predict(x, verbose=0, batch_size=100)).max())

    return check


def planned_steps(config):
    """Every optimizer step: the incremental schedule and the baseline, per repeat.

    Example:
    >>> from keras_transfer.experiments.coarse2fine.config import get_preset
    >>> planned_steps(get_preset("quick"))
    75000
    """
    epochs = sum(config.stage_epochs) + (config.baseline_epochs or sum(config.stage_epochs))
    return config.repeats * epochs * config.steps_per_epoch


# What the first (lowest-resolution) stage depends on, besides its epochs.
FIRST_STAGE_FIELDS = (
    "dataset",
    "net",
    "resolutions",
    "steps_per_epoch",
    "batch_size",
    "learning_rate",
    "dropout",
    "train_examples",
)


def run(config, data, context):
    """Per repeat: the incremental run, then the baseline with the same number of steps.

    The runner's contract (`contract.Experiment`). ``context.deadline_seconds``
    is the wall-time budget of the whole incremental schedule and of the
    baseline alike; the first (lowest-resolution) stage's files go under
    ``context.phase_dir("first_stage", ...)`` (shared by tuning trials).

    Returns:
        `Result`: the headline (`report.headline`), every curve as
        ``history``, the last repeat's incremental and baseline models to
        export, and in ``summary`` per repeat the stages, final accuracies
        and seconds.

    Example:
    >>> from keras_transfer.experiments.coarse2fine.config import get_preset
    >>> from keras_transfer.experiments.coarse2fine.data import load_data
    >>> from keras_transfer.experiments.contract import RunContext
    >>> cfg = get_preset("quick", dataset="digits", resolutions=(4, 8), widen_at=0,
    ...                  stage_epochs=(1, 1), steps_per_epoch=5, repeats=1)
    >>> result = run(cfg, load_data(cfg), RunContext(None, log=None))
    >>> [s["resolution"] for s in result.summary["incremental"][0]["stages"]]
    [4, 8]
    >>> sorted(result.models)
    ['baseline', 'incremental']
    """
    seed, log = context.seed, context.log
    first_stage_dir = context.phase_dir(
        "first_stage", epochs=config.stage_epochs[0], **fields_of(config, FIRST_STAGE_FIELDS)
    )
    num_classes = data.num_classes
    final_res = config.resolutions[-1]
    out = {"incremental": [], "baseline": [], "models": {}}
    for r in range(config.repeats):
        s = seed * 1000 + r
        datasets = stage_datasets(config, data, s)

        def compile_fn(model):
            return training.compile_classifier(model, learning_rate=config.learning_rate)

        keras.utils.set_random_seed(s)

        def stage_dir(i, stage, r=r):
            root = first_stage_dir if i == 0 else context.run_dir
            return run_path(root, "runs", f"repeat{r}", f"stage{i}-{stage.resolution}px")

        inc = train_incremental(
            build_start_net(config, num_classes),
            make_stages(config),
            datasets,
            steps_per_epoch=config.steps_per_epoch,
            compile_fn=compile_fn,
            run_dir=stage_dir,
            check=replication_check(data),
            deadline_seconds=context.deadline_seconds,
        )
        keras.utils.set_random_seed(s + 500)
        # The same final architecture, freshly initialised (clone_model re-creates the layers).
        base = compile_fn(keras.models.clone_model(inc["model"]))
        train_ds, test_ds = datasets(final_res)
        curve = training.train(
            base,
            train_ds,
            test_ds,
            epochs=config.baseline_epochs or sum(config.stage_epochs),
            steps_per_epoch=config.steps_per_epoch,
            run_dir=run_path(context.run_dir, "runs", f"repeat{r}", f"baseline-{final_res}px"),
            deadline_seconds=context.deadline_seconds,
        )
        curve = [dict(row, stage=0, resolution=final_res) for row in curve]
        out["incremental"].append(
            {
                "curve": inc["curve"],
                "stages": inc["stages"],
                "final_accuracy": inc["curve"][-1]["test_accuracy"],
                "seconds": inc["seconds"],
            }
        )
        out["baseline"].append(
            {
                "curve": curve,
                "final_accuracy": curve[-1]["test_accuracy"],
                "seconds": curve[-1]["wall_seconds"],
            }
        )
        out["models"] = {"incremental": inc["model"], "baseline": base}
        if log:
            log(
                f"repeat {r}: incremental {out['incremental'][-1]['final_accuracy']:.3f} in "
                f"{inc['seconds']:.0f}s, baseline {out['baseline'][-1]['final_accuracy']:.3f} "
                f"in {out['baseline'][-1]['seconds']:.0f}s"
            )
    head = headline(out, config)
    history = [
        dict(row, run=run, repeat=r)
        for run in ("incremental", "baseline")
        for r, rep in enumerate(out[run])
        for row in rep["curve"]
    ]

    def without_curve(reps):
        return [{k: v for k, v in rep.items() if k != "curve"} for rep in reps]

    return Result(
        headline=head,
        table=head["table"],
        history=history,
        plot=lambda path: plot_curves(path, config, out),
        models=out["models"],
        export_inputs=(
            data.test.x[:64].astype(np.float32) / 255.0 - kt_data.channel_mean(data.train.x)
        ),
        summary={
            "incremental": without_curve(out["incremental"]),
            "baseline": without_curve(out["baseline"]),
        },
        phase_seconds={
            "first_stage": sum(rep["stages"][0]["train_seconds"] for rep in out["incremental"]),
            "incremental": sum(rep["seconds"] for rep in out["incremental"]),
            "baseline": sum(rep["seconds"] for rep in out["baseline"]),
        },
    )
