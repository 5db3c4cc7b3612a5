"""The coarse-to-fine experiment: incremental 8 -> 16 -> 32 training vs. 32 from scratch.

Paper: coarse2fine-incremental-training.txt, Figs. 5-6 and 10. A Table I
network (net-2) is trained on 8x8 images, upscaled (section III-A/B) to
16x16, given the filters and units of net-3 (section III-C, IV-D), trained
on, upscaled to 32x32 and trained on. The baseline is the same final network
trained on 32x32 images from scratch for the same number of optimizer steps
(images), which takes longer in wall time, so its curve also gives its
accuracy at the incremental run's total time. Images are the
dataset's, downscaled with area averaging to each resolution. The headline:
final accuracy of both, how soon the incremental run reaches the baseline's
final accuracy (and the ratio of times), and the accuracy dip at each
transform.
"""

import dataclasses

import keras
import numpy as np

from keras_transfer import data as kt_data
from keras_transfer import metrics
from keras_transfer import training
from keras_transfer.experiments.config import check_positive_ints
from keras_transfer.experiments.config import select_preset
from keras_transfer.experiments.contract import Experiment
from keras_transfer.experiments.contract import SearchSpace
from keras_transfer.experiments.contract import fields_of
from keras_transfer.experiments.contract import run_path
from keras_transfer.experiments.contract import register_experiment
from keras_transfer.incremental import Stage
from keras_transfer.incremental import train_incremental
from keras_transfer.models.coarse2fine import TABLE1
from keras_transfer.models.coarse2fine import table1_model
from keras_transfer.transfer import coarse2fine as c2f

NETS = tuple(TABLE1)


@dataclasses.dataclass(frozen=True)
class Coarse2FineConfig:
    """Settings of the coarse-to-fine experiment.

    Attributes:
        dataset: images (``tiny_imagenet50``: 64x64 ImageNet images;
            ``cifar10``: 32x32).
        net: start network, a Table I row (``"net-1"`` .. ``"net-4"``,
            ``"alexnet-8"`` for the 2^5-scaled AlexNet, ...), built for
            ``resolutions[0]``.
        resolutions: image side of each stage; each is an integer multiple
            (>= 2) of the previous one (paper: 8, 16, 32).
        stage_epochs: epochs of each stage.
        widen_at: resolution of the stage that also widens the network (0:
            never).
        widen_to: the Table I network whose filter and unit counts the
            widened network gets (net-2 -> net-3: section IV-D, Fig. 10).
        widen_init: initialisation of the new filters (`widen`; the paper
            prefers Gaussian N(0, 1/100), section IV-D).
        upscale_mode: ``"paper"`` (new taps and dense positions get small
            Gaussian noise, section III-B) or ``"exact"`` (zeros).
        noise_stddev: standard deviation of that noise and of ``widen_init``.
        steps_per_epoch, batch_size, learning_rate: SGD (momentum 0.9) with
            Caffe's default rate 0.01 (the paper used Caffe's defaults).
        dropout: drop rate after L6 (Caffe's AlexNet: 0.5).
        baseline_epochs: the baseline's epochs (0: the sum of
            ``stage_epochs``, the same optimizer steps and images as the
            incremental run). A step budget, not a wall-clock one, so the
            same seed gives the same numbers.
        train_examples, test_examples: subsets (0: all).
        repeats: independent repeats (seeds).
    """

    dataset: str = "tiny_imagenet50"
    net: str = "net-2"
    resolutions: tuple = (8, 16, 32)
    stage_epochs: tuple = (30, 20, 40)
    widen_at: int = 16
    widen_to: str = "net-3"
    widen_init: str = "gaussian"
    upscale_mode: str = "paper"
    noise_stddev: float = 0.01
    steps_per_epoch: int = 250
    batch_size: int = 100
    learning_rate: float = 0.01
    dropout: float = 0.5
    baseline_epochs: int = 0
    train_examples: int = 0
    test_examples: int = 0
    repeats: int = 3

    def validate(self):
        """Raises ValueError for settings that cannot run; returns self.

        Example:
        >>> Coarse2FineConfig().validate().resolutions
        (8, 16, 32)
        """
        if self.net not in NETS:
            raise ValueError(f"Expected net in {NETS}, received {self.net!r}.")
        res = tuple(self.resolutions)
        if not res or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in res):
            raise ValueError(f"Expected resolutions to be positive integers, received {res!r}.")
        for a, b in zip(res, res[1:]):
            if b % a or b // a < 2:
                raise ValueError(f"Expected each resolution to be an integer factor >= 2 of "
                                 f"the previous one (upscale needs an integer factor >= 2), "
                                 f"received {a} -> {b}.")
        if len(tuple(self.stage_epochs)) != len(res):
            raise ValueError(f"Expected one stage_epochs entry per resolution ({len(res)}), "
                             f"received {tuple(self.stage_epochs)!r}.")
        for e in self.stage_epochs:
            if isinstance(e, bool) or not isinstance(e, int) or e < 1:
                raise ValueError(f"Expected stage_epochs to be integers >= 1, received "
                                 f"{tuple(self.stage_epochs)!r}.")
        if self.widen_at:
            if self.widen_at not in res[1:]:
                raise ValueError(f"Expected widen_at to be 0 or one of the later resolutions "
                                 f"{res[1:]}, received {self.widen_at!r}.")
            if self.widen_to not in TABLE1:
                raise ValueError(f"Expected widen_to among {sorted(TABLE1)}, received "
                                 f"{self.widen_to!r}.")
            start, target = TABLE1[self.net], TABLE1[self.widen_to]
            if len(start[0]) != len(target[0]):
                raise ValueError(f"Expected widen_to with as many convolutions as {self.net} "
                                 f"({len(start[0])}), received {self.widen_to!r} with "
                                 f"{len(target[0])}.")
            for (old, _, _), (new, _, _) in zip(start[0], target[0]):
                if new < old:
                    raise ValueError(f"Expected widen_to to have at least {self.net}'s filters "
                                     f"(widen only adds), received {self.widen_to!r} with {new} "
                                     f"< {old}.")
            if target[1] < start[1]:
                raise ValueError(f"Expected widen_to to have at least {start[1]} L6 units, "
                                 f"received {self.widen_to!r} with {target[1]}.")
        if self.widen_init not in c2f.WIDEN_INITS:
            raise ValueError(f"Expected widen_init in {c2f.WIDEN_INITS}, received "
                             f"{self.widen_init!r}.")
        if self.upscale_mode not in c2f.UPSCALE_MODES:
            raise ValueError(f"Expected upscale_mode in {c2f.UPSCALE_MODES}, received "
                             f"{self.upscale_mode!r}.")
        check_positive_ints(self, ("steps_per_epoch", "batch_size", "repeats"))
        for name in ("train_examples", "test_examples", "baseline_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Expected {name} to be an integer >= 0, received {value!r}.")
        if not self.learning_rate > 0 or not 0 <= self.dropout < 1 or self.noise_stddev < 0:
            raise ValueError(f"Expected learning_rate > 0, 0 <= dropout < 1 and noise_stddev "
                             f">= 0, received {self.learning_rate!r}, {self.dropout!r}, "
                             f"{self.noise_stddev!r}.")
        return self


PRESETS = {
    "paper": Coarse2FineConfig(),
    # Half the paper preset's epochs at 16 and 32 px: 30 minutes on 2 CPU cores for
    # tiny_imagenet50 (measured, 1,812 s; benchmarks/RESULTS.md section coarse2fine). Earlier runs with a wall-clock baseline budget (the incremental
    # run's time; not reproducible to the step): (10, 4, 8) epochs, 2 repeats, 6.0 min,
    # incremental 0.233 vs baseline 0.248; (20, 10, 20), 3 repeats, 19.9 min, 0.229 vs 0.230.
    "quick": Coarse2FineConfig(stage_epochs=(20, 10, 20)),
}


def get_preset(name, **overrides):
    """The preset ``name`` with ``overrides`` (``None`` values ignored), validated.

    Example:
    >>> get_preset("quick", net="net-4", widen_at=0).net
    'net-4'
    """
    overrides = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items()}
    return select_preset(PRESETS, name, overrides)


def load_data(config, data_dir=None, seed=0):
    """``{resolution: (train, test)}``: the dataset area-downscaled to each resolution (RGB).

    Raises ValueError when a resolution is above the dataset's own size (it
    would be upsampled, not coarse-to-fine) or a subset is too large.

    Example:
    >>> d = load_data(get_preset("quick", dataset="digits", resolutions=(2, 4, 8), widen_at=4))
    >>> sorted(d), d[4][0].x.shape[1:]
    ([2, 4, 8], (4, 4, 3))
    """
    # Each split is decoded once at its own size, subset, then area-downscaled per resolution.
    splits = [kt_data.load_image_data(config.dataset, split, data_dir=data_dir, color="rgb")
              for split in ("train", "test")]
    native = splits[1].x.shape[1]
    if max(config.resolutions) > native:
        raise ValueError(f"Expected resolutions up to {config.dataset}'s image size {native}, "
                         f"received {max(config.resolutions)}.")
    for i, name in enumerate(("train_examples", "test_examples")):
        n = getattr(config, name)
        if not n:
            continue
        if n > len(splits[i]):
            raise ValueError(f"Expected {name} <= {len(splits[i])}, received {n}.")
        splits[i] = splits[i].take(np.sort(np.random.default_rng(seed).permutation(
            len(splits[i]))[:n]))
    out = {}
    for res in config.resolutions:
        out[res] = tuple(
            kt_data.ImageData(x, d.y, dataclasses.replace(d.info, image_shape=x.shape[1:]))
            for d in splits for x in [kt_data.prepare_images(d.x, res)])
    return out


def build_start_net(config, num_classes):
    """The first stage's network at ``resolutions[0]``.

    Example:
    >>> build_start_net(get_preset("quick"), 50).input_shape
    (None, 8, 8, 3)
    """
    res = config.resolutions[0]
    return table1_model(config.net, (res, res, 3), num_classes, dropout=config.dropout)


def make_stages(config):
    """The schedule: train at each resolution, upscaling (and widening once) in between.

    Example:
    >>> [(s.resolution, s.epochs) for s in make_stages(get_preset("quick"))]
    [(8, 20), (16, 10), (32, 20)]
    """
    stages = [Stage(config.resolutions[0], config.stage_epochs[0])]
    start = TABLE1[config.net]
    target = TABLE1.get(config.widen_to)

    def transform_for(factor, widen_here, seed):
        def transform(model):
            model = c2f.upscale(model, factor, mode=config.upscale_mode,
                                stddev=config.noise_stddev, seed=seed)
            if widen_here:
                for i, ((old, _, _), (new, _, _)) in enumerate(zip(start[0], target[0]), 1):
                    if new > old:
                        model = c2f.widen(model, f"conv{i}", new, init=config.widen_init,
                                          stddev=config.noise_stddev, seed=seed + i)
                if target[1] > start[1]:
                    model = c2f.widen(model, "fc6", target[1], init=config.widen_init,
                                      stddev=config.noise_stddev, seed=seed)
            return model
        return transform

    for i in range(1, len(config.resolutions)):
        res, prev = config.resolutions[i], config.resolutions[i - 1]
        stages.append(Stage(res, config.stage_epochs[i],
                                transform_for(res // prev, res == config.widen_at, 1000 * i)))
    return stages


def _datasets(config, data, seed):
    cache = {}

    def datasets(res):
        if res not in cache:
            train, test = data[res]
            mean = kt_data.channel_mean(train.x)
            cache[res] = (kt_data.make_dataset(train.x, train.y, config.batch_size, shuffle=True,
                                               repeat=True, seed=seed, mean=mean),
                          kt_data.make_dataset(test.x, test.y, 500, mean=mean))
        return cache[res]

    return datasets


def replication_check(data, n=200):
    """``check`` for `train_incremental`: max |logit change| on pixel-replicated test images.

    The transformed model sees the previous resolution's test images
    replicated (eq. 5); 0 (up to float rounding) means the transform kept the
    function exactly (exact mode), a small number is paper mode's noise.

    Example:
    >>> cfg = get_preset("quick", dataset="digits", resolutions=(4, 8), widen_at=0,
    ...                  stage_epochs=(1, 1))
    >>> d = load_data(cfg)
    >>> small = build_start_net(cfg, 10)
    >>> s4, s8 = make_stages(cfg)
    >>> check = replication_check(d, n=20)
    >>> check(small, c2f.upscale(small, 2), s4, s8) < 1e-5
    True
    """
    def check(old, new, old_stage, new_stage):
        x = data[old_stage.resolution][1].x[:n].astype(np.float32) / 255.0
        x = x - kt_data.channel_mean(data[old_stage.resolution][0].x)
        factor = new_stage.resolution // old_stage.resolution
        big = new.predict(c2f.replicate(x, factor), verbose=0, batch_size=100)
        return float(np.abs(big - old.predict(x, verbose=0, batch_size=100)).max())
    return check


def run_experiment(config, data, output_dir=None, seed=0, log=print, deadline_seconds=None,
                   first_stage_dir=None):
    """Per repeat: the incremental run, then the baseline with the same number of steps.

    ``deadline_seconds`` is the wall-time budget of the whole incremental
    schedule and of the baseline alike. ``first_stage_dir``: root of the
    first (lowest-resolution) stage's files (default ``output_dir``; shared by
    tuning trials).

    Returns:
        dict with ``incremental`` and ``baseline`` (per repeat: ``curve``
        rows, ``final_accuracy``, ``seconds``; incremental also ``stages``)
        and ``models`` (the last repeat's final models).

    Example:
    >>> cfg = get_preset("quick", dataset="digits", resolutions=(4, 8), widen_at=0,
    ...                  stage_epochs=(1, 1), steps_per_epoch=5, repeats=1)
    >>> out = run_experiment(cfg, load_data(cfg), log=None)
    >>> [s["resolution"] for s in out["incremental"][0]["stages"]], len(out["baseline"])
    ([4, 8], 1)
    """
    num_classes = data[config.resolutions[0]][0].info.num_classes
    final_res = config.resolutions[-1]
    out = {"incremental": [], "baseline": [], "models": {}}
    for r in range(config.repeats):
        s = seed * 1000 + r
        datasets = _datasets(config, data, s)

        def compile_fn(model):
            return training.compile_classifier(model, learning_rate=config.learning_rate)

        keras.utils.set_random_seed(s)
        def stage_dir(i, stage, r=r):
            root = first_stage_dir if i == 0 and first_stage_dir else output_dir
            return run_path(root, "runs", f"repeat{r}", f"stage{i}-{stage.resolution}px")

        inc = train_incremental(build_start_net(config, num_classes), make_stages(config),
                                    datasets, steps_per_epoch=config.steps_per_epoch,
                                    compile_fn=compile_fn, run_dir=stage_dir,
                                    check=replication_check(data),
                                    deadline_seconds=deadline_seconds)
        keras.utils.set_random_seed(s + 500)
        # The same final architecture, freshly initialised (clone_model re-creates the layers).
        base = compile_fn(keras.models.clone_model(inc["model"]))
        train_ds, test_ds = datasets(final_res)
        curve = training.train(base, train_ds, test_ds,
                               epochs=config.baseline_epochs or sum(config.stage_epochs),
                               steps_per_epoch=config.steps_per_epoch,
                               run_dir=run_path(output_dir, "runs", f"repeat{r}",
                                                f"baseline-{final_res}px"),
                               deadline_seconds=deadline_seconds)
        curve = [dict(row, stage=0, resolution=final_res) for row in curve]
        out["incremental"].append({"curve": inc["curve"], "stages": inc["stages"],
                                   "final_accuracy": inc["curve"][-1]["test_accuracy"],
                                   "seconds": inc["seconds"]})
        out["baseline"].append({"curve": curve, "final_accuracy": curve[-1]["test_accuracy"],
                                "seconds": curve[-1]["wall_seconds"]})
        out["models"] = {"incremental": inc["model"], "baseline": base}
        if log:
            log(f"repeat {r}: incremental {out['incremental'][-1]['final_accuracy']:.3f} in "
                f"{inc['seconds']:.0f}s, baseline {out['baseline'][-1]['final_accuracy']:.3f} "
                f"in {out['baseline'][-1]['seconds']:.0f}s")
    return out


def headline(results, config):
    """Final accuracies, time for the incremental run to reach the baseline's final accuracy.

    Per repeat the incremental curve's first wall time at or above that
    repeat's baseline final accuracy, and its ratio to the baseline's total
    time (``< 1``: incremental is that much sooner); ``None`` if never
    reached. Also the baseline's accuracy at its last evaluation within the
    incremental run's total time (same wall time; depends on measured times)
    and each run's best accuracy. The dip at each transform is the accuracy
    right after it minus the accuracy right before it (on the previous
    resolution's test set).

    Example:
    >>> inc = {"curve": [{"test_accuracy": a, "wall_seconds": t, "epoch": e} for e, (a, t) in
    ...        enumerate([(0.1, 0), (0.3, 5), (0.5, 10)])], "final_accuracy": 0.5,
    ...        "seconds": 10, "stages": [{"stage": 0, "resolution": 8, "accuracy_before_transform":
    ...        None, "accuracy_after_transform": 0.1, "check": None}]}
    >>> base = {"curve": [{"test_accuracy": 0.2, "wall_seconds": 9}], "final_accuracy": 0.3,
    ...         "seconds": 20}
    >>> h = headline({"incremental": [inc], "baseline": [base]}, Coarse2FineConfig())
    >>> h["time_ratio"]["mean"], h["incremental_reached_baseline"]
    (0.25, 1)
    >>> h["baseline_accuracy_at_incremental_time"]["mean"]
    0.2
    """
    inc, base = results["incremental"], results["baseline"]
    reach, ratios, same_time = [], [], []
    for i, b in zip(inc, base):
        within = [row["test_accuracy"] for row in b["curve"]
                  if row["wall_seconds"] <= i["seconds"]]
        same_time.append(within[-1] if within else None)
        hit = metrics.time_to_accuracy([row["test_accuracy"] for row in i["curve"]],
                                       [row["wall_seconds"] for row in i["curve"]],
                                       b["final_accuracy"])
        reach.append(None if hit is None else hit["seconds"])
        ratios.append(None if hit is None else hit["seconds"] / b["seconds"])
    dips = {}
    for run in inc:
        for st in run["stages"][1:]:
            key = f"{st['resolution']}px"
            dips.setdefault(key, []).append(st["accuracy_after_transform"]
                                            - st["accuracy_before_transform"])
    checks = {f"{st['resolution']}px": max(
        run["stages"][k]["check"] for run in inc) for k, st in enumerate(inc[0]["stages"])
        if k > 0}
    summary = {
        "incremental_final_accuracy": metrics.summarize_runs([r["final_accuracy"] for r in inc]),
        "baseline_final_accuracy": metrics.summarize_runs([r["final_accuracy"] for r in base]),
        "baseline_accuracy_at_incremental_time": metrics.summarize_runs(same_time),
        "incremental_best_accuracy": metrics.summarize_runs(
            [max(row["test_accuracy"] for row in r["curve"]) for r in inc]),
        "baseline_best_accuracy": metrics.summarize_runs(
            [max((row["test_accuracy"] for row in r["curve"]), default=None) for r in base]),
        "incremental_seconds": metrics.summarize_runs([r["seconds"] for r in inc]),
        "baseline_seconds": metrics.summarize_runs([r["seconds"] for r in base]),
        "seconds_to_baseline_final": reach,
        "time_ratio": metrics.summarize_runs(ratios),
        "incremental_reached_baseline": sum(t is not None for t in reach),
        "dip_at_transform": {k: metrics.summarize_runs(v) for k, v in dips.items()},
        "max_logit_change_on_replicated_images": checks,
    }
    summary["table"] = table(summary, config)
    return summary


def table(h, config):
    """A markdown table of the headline numbers (one row per measure).

    Example:
    >>> acc = {"mean": 0.5, "min": 0.4, "max": 0.6, "n": 2}
    >>> h = {"incremental_final_accuracy": acc, "baseline_final_accuracy": acc,
    ...      "baseline_accuracy_at_incremental_time": acc, "incremental_best_accuracy": acc,
    ...      "baseline_best_accuracy": acc,
    ...      "incremental_seconds": acc, "baseline_seconds": acc, "time_ratio": acc,
    ...      "incremental_reached_baseline": 2, "dip_at_transform": {"16px": acc}}
    >>> print(table(h, Coarse2FineConfig()).splitlines()[-1])
    | accuracy dip at the transform to 16px | +0.5000 (+0.4000 to +0.6000) |
    """
    def acc(s):
        return f"{s['mean']:.4f} ({s['min']:.4f}-{s['max']:.4f})"

    ratio = h["time_ratio"]
    reached = (f"{ratio['mean']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f}), reached in "
               f"{h['incremental_reached_baseline']} of {config.repeats}"
               if ratio["n"] else f"never reached (0 of {config.repeats})")
    steps = " -> ".join(f"{r}px" for r in config.resolutions)
    rows = [
        ("schedule", f"{config.net} {steps}"
         + (f", widened to {config.widen_to} at {config.widen_at}px" if config.widen_at else "")
         + f", epochs {tuple(config.stage_epochs)} x {config.steps_per_epoch} steps"),
        ("incremental final accuracy", acc(h["incremental_final_accuracy"])),
        (f"baseline ({config.resolutions[-1]}px from scratch, same number of steps) final "
         f"accuracy", acc(h["baseline_final_accuracy"])),
        ("baseline accuracy at the incremental run's total wall time",
         acc(h["baseline_accuracy_at_incremental_time"])),
        ("best accuracy (incremental / baseline)",
         f"{acc(h['incremental_best_accuracy'])} / {acc(h['baseline_best_accuracy'])}"),
        ("wall seconds (incremental / baseline)",
         f"{h['incremental_seconds']['mean']:.0f} / {h['baseline_seconds']['mean']:.0f}"),
        ("incremental time to the baseline's final accuracy / baseline time", reached),
    ] + [(f"accuracy dip at the transform to {k}", f"{v['mean']:+.4f} ({v['min']:+.4f} to "
          f"{v['max']:+.4f})") for k, v in h["dip_at_transform"].items()]
    lines = ["| measure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


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
    from keras_transfer.data import channel_mean
    from keras_transfer.experiments.contract import Result

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
        export_inputs=test.x[:64].astype(np.float32) / 255.0 - channel_mean(train.x),
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
        out["upscale_mode"] = tuple(dict.fromkeys((config.upscale_mode,) + c2f.UPSCALE_MODES))
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
