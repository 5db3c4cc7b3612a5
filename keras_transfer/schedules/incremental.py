"""Coarse-to-fine incremental schedule: train, transform, train on (paper Fig. 1).

Paper: coarse2fine-incremental-training.txt (Liu et al.). The transforms
(`upscale` in `keras_transfer.transfer.upscaling`, `widen` and `deepen` in
`keras_transfer.transfer.net2net`) know nothing about training; this module
runs a schedule of `Stage`s with the package's training loop
(`keras_transfer.training.train`, which takes a user's own ``fit``,
callbacks and metric), so it sits above both.
"""

import dataclasses
import time

from keras_transfer import training


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of a coarse-to-fine schedule (paper Figs. 1, 5-6, 10).

    Attributes:
        resolution: image side trained on in this stage.
        epochs: epochs (of ``steps_per_epoch`` steps) in this stage.
        transform: ``model -> model`` applied before the stage (e.g.
            ``lambda m: upscale(m, 2)``); ``None`` for the first stage.

    Example:
    >>> Stage(16, 5, lambda m: upscale(m, 2)).resolution
    16
    """

    resolution: int
    epochs: int
    transform: object = None

    def __post_init__(self):
        for name, low in (("resolution", 1), ("epochs", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"Expected Stage {name} to be an integer >= {low}, received "
                    f"{value!r}; e.g. Stage(16, 5, lambda m: upscale(m, 2))."
                )
        if self.transform is not None and not callable(self.transform):
            raise ValueError(
                f"Expected Stage transform to be None or model -> model, received "
                f"{type(self.transform).__name__}; e.g. lambda m: upscale(m, 2)."
            )


def train_incremental(
    model,
    stages,
    datasets,
    *,
    steps_per_epoch,
    compile_fn,
    run_dir=None,
    check=None,
    verbose=0,
    deadline_seconds=None,
    fit=None,
    callbacks=(),
    metric="accuracy",
):
    """Trains ``model`` stage by stage, transforming it in between (coarse-to-fine, Fig. 1).

    Records test accuracy against cumulative wall time: training time
    (evaluation excluded, see `keras_transfer.training.train`) plus the time
    spent in the transforms. Each stage starts with an evaluation of the
    transformed model, so the accuracy dip at a transform (Figs. 5-6) is in
    the curve.

    Args:
        model: the model for ``stages[0].resolution``.
        stages: list of `Stage`; the first has no transform, every later one
            has one returning a model for its resolution.
        datasets: ``resolution -> (repeating train dataset, test dataset)``.
        steps_per_epoch: optimizer steps per epoch.
        compile_fn: compiles a model for training (a fresh optimizer per
            stage, as the paper re-runs Caffe with its defaults).
        run_dir: folder for each stage's run (``stage<i>-<resolution>px``),
            or a callable ``(i, stage) -> folder``; finished stages are loaded
            instead of retrained (resume).
        check: optional ``(old_model, new_model, old_stage, new_stage) ->
            number`` called at each transform (e.g. the largest logit change
            on replicated images), stored as ``check``.
        verbose: passed to ``fit``.
        deadline_seconds: wall-time budget of the whole schedule (training and
            transforms). A stage stops when it runs out; the later stages are
            still transformed (cheap) and evaluated but not trained, so the
            model returned is always for the last resolution.
        fit: the training call of every stage, with `keras.Model.fit`'s
            signature (e.g. a wrapper adding class weights); default
            ``keras.Model.fit`` inside the package's loop
            (`keras_transfer.training.train`: curve, deadline, resume).
        callbacks: plain Keras callbacks added to every stage's ``fit``.
        metric: the compiled metric recorded in the curve (as
            ``test_accuracy``); ``compile_fn`` must compile it.

    Returns:
        dict: ``model`` (final), ``curve`` (rows with ``stage``,
        ``resolution``, global ``epoch``/``step``, cumulative
        ``wall_seconds``, ``test_accuracy``), ``stages`` (per stage: start
        time, transform seconds, accuracy before/after the transform, final
        accuracy, ``check``) and ``seconds`` (total).

    Raises:
        ValueError: an empty schedule, a first stage with a transform or a
            model of another resolution, a later stage without a transform,
            or a transform returning a model for another resolution.

    Example:
    >>> from keras_transfer import data, training
    >>> from keras_transfer.models import table1_net
    >>> from keras_transfer.transfer import upscale
    >>> def datasets(res):
    ...     return (data.load("digits", "train", image_size=res, repeat=True, batch_size=32)[0],
    ...             data.load("digits", "test", image_size=res, batch_size=200)[0])
    >>> out = train_incremental(
    ...     table1_net("net-1", (8, 8, 1), 10),
    ...     [Stage(8, 1), Stage(16, 1, lambda m: upscale(m, 2))], datasets,
    ...     steps_per_epoch=5, compile_fn=training.compile_classifier)
    >>> [(r["resolution"], r["epoch"]) for r in out["curve"]]
    [(8, 0), (8, 1), (16, 1), (16, 2)]
    """
    stages = list(stages)
    if not stages:
        raise ValueError("Expected at least one stage, received an empty schedule.")
    for i, stage in enumerate(stages):
        if not isinstance(stage, Stage):
            raise ValueError(f"Expected Stage objects, received {type(stage).__name__} at {i}.")
        if (stage.transform is None) != (i == 0):
            raise ValueError(
                f"Expected a transform on every stage but the first, received "
                f"stage {i} ({stage.resolution}px) "
                f"{'without' if stage.transform is None else 'with'} one."
            )
    side = tuple(model.input_shape[1:3])
    if side != (stages[0].resolution, stages[0].resolution):
        raise ValueError(
            f"Expected a model for {stages[0].resolution}x"
            f"{stages[0].resolution} images (the first stage), received input "
            f"{side}."
        )
    rows, records = [], []
    seconds, epochs_done, steps_done, previous = 0.0, 0, 0, None
    for i, stage in enumerate(stages):
        transform_seconds, checked = 0.0, None
        if stage.transform is not None:
            t0 = time.perf_counter()
            new = stage.transform(model)
            transform_seconds = time.perf_counter() - t0
            side = tuple(new.input_shape[1:3])
            if side != (stage.resolution, stage.resolution):
                raise ValueError(
                    f"Expected stage {i}'s transform to return a model for "
                    f"{stage.resolution}x{stage.resolution} images, received "
                    f"input {side}."
                )
            if check is not None:
                checked = check(model, new, stages[i - 1], stage)
            model = new
        seconds += transform_seconds
        compile_fn(model)
        train_ds, test_ds = datasets(stage.resolution)
        if callable(run_dir):
            stage_dir = run_dir(i, stage)
        else:
            stage_dir = None if run_dir is None else f"{run_dir}/stage{i}-{stage.resolution}px"
        left = None if deadline_seconds is None else deadline_seconds - seconds
        if left is not None and left <= 0:  # out of time: evaluate the transformed model only
            accuracy = model.evaluate(test_ds, verbose=0, return_dict=True)[metric]
            curve = [
                {
                    "epoch": 0,
                    "step": 0,
                    "wall_seconds": 0.0,
                    "train_loss": float("nan"),
                    "test_accuracy": float(accuracy),
                }
            ]
        else:
            curve = training.train(
                model,
                train_ds,
                test_ds,
                epochs=stage.epochs,
                steps_per_epoch=steps_per_epoch,
                run_dir=stage_dir,
                verbose=verbose,
                deadline_seconds=left,
                fit=fit,
                callbacks=callbacks,
                metric=metric,
            )
        for row in curve:
            rows.append(
                dict(
                    row,
                    stage=i,
                    resolution=stage.resolution,
                    epoch=row["epoch"] + epochs_done,
                    step=row["step"] + steps_done,
                    wall_seconds=round(row["wall_seconds"] + seconds, 4),
                )
            )
        records.append(
            {
                "stage": i,
                "resolution": stage.resolution,
                "epochs": stage.epochs,
                "start_seconds": round(seconds - transform_seconds, 4),
                "transform_seconds": round(transform_seconds, 4),
                "accuracy_before_transform": previous,
                "accuracy_after_transform": curve[0]["test_accuracy"],
                "final_accuracy": curve[-1]["test_accuracy"],
                "train_seconds": curve[-1]["wall_seconds"],
                "check": checked,
            }
        )
        seconds += curve[-1]["wall_seconds"]
        epochs_done += stage.epochs
        steps_done += curve[-1]["step"]
        previous = curve[-1]["test_accuracy"]
    return {"model": model, "curve": rows, "stages": records, "seconds": round(seconds, 4)}
