r"""Benchmark: what distillation costs per epoch, with and without cached teacher logits.

Run from the repository root (writes section "distillation_speed" of
benchmarks/RESULTS.md; a few minutes on 2 CPU cores):
    python benchmarks/distillation_speed.py
Quick check (seconds, writes nothing):
    python benchmarks/distillation_speed.py --dataset=digits --examples=500 --trials=1 --nowrite
Re-render the section from its kept measurements, or check it (`benchmarks.sweep`):
    python benchmarks/distillation_speed.py --render --check

The teacher and the student are the compact-transfer recipe's (the preset's
backbone at its teacher image size, and its compact CNN; see
`keras_transfer.experiments.compact_transfer`), on --examples training images
of --dataset, batch = the preset's student batch size. One epoch (a pass over
those images) is timed for each path, in one process:

(a) student alone: the compact CNN compiled with cross-entropy, `model.fit`;
(b) ours, cached: `keras_transfer.transfer.distillation.Distiller` trained on
    ``{"label", "teacher_logits"}`` targets, the teacher's logits computed
    once beforehand (that one-time pass is timed and reported separately);
(c) ours, teacher per batch: the same `Distiller` on ``(images, labels)``, the
    teacher run on every batch (what random augmentation requires);
(d) `keras.distillation.Distiller` with `LogitsDistillation` (same
    temperature, the KL loss, student loss weight = alpha), which also runs
    the teacher on every batch.

The teacher's weights are random (the cost of a forward pass does not depend
on them). Every path is warmed up (functions traced) by an untimed epoch of
--warmup_steps steps, then timed by an epoch-only callback (no batch hooks, so
Keras keeps its asynchronous dispatch); trials alternate a, b, c, d, a, ...
The weights and the batch order come from the fixed seed `SEED`.
"""

import gc
import math
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app
from absl import flags

from benchmarks import sweep

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", "cifar10", "Target dataset (see keras_transfer.data).")
flags.DEFINE_string("data_dir", None, "Folder of the datasets (default $KERAS_TRANSFER_DATA).")
flags.DEFINE_string(
    "preset", "quick", "compact_transfer preset whose teacher and student are timed."
)
flags.DEFINE_integer("examples", 10000, "Training images in the timed epoch.")
flags.DEFINE_integer("warmup_steps", 5, "Untimed steps before each timed epoch.")
flags.DEFINE_integer("trials", 3, "Timed epochs per path, alternated.")
for _name in ("examples", "warmup_steps", "trials"):
    flags.register_validator(_name, lambda v: v >= 1, message=f"--{_name} must be >= 1")
sweep.define_flags()

SEED = 0  # of the weights and of the batch order
TARGET_RATIO = 1.2
PATHS = {
    "alone": "(a) student alone",
    "cached": "(b) ours, cached teacher logits",
    "per_batch": "(c) ours, teacher per batch",
    "keras": "(d) keras.distillation.Distiller",
}


class _Bench:
    """Data, teacher, the student's initial weights, and one method per timed path."""

    def __init__(self):
        import keras

        from keras_transfer import data as kt_data
        from keras_transfer.experiments import compact_transfer as ct
        from keras_transfer.experiments.compact_transfer.students import build_student
        from keras_transfer.models.backbone import backbone_classifier

        self.config = ct.get_preset(FLAGS.preset, dataset=FLAGS.dataset)
        train = kt_data.load_image_data(
            FLAGS.dataset, "train", data_dir=FLAGS.data_dir, color="rgb"
        )
        if FLAGS.examples > len(train):
            raise ValueError(
                f"Expected --examples <= {len(train)} (the {FLAGS.dataset} "
                f"training set), received {FLAGS.examples}."
            )
        self.x, self.y = train.x[: FLAGS.examples], train.y[: FLAGS.examples]
        self.shape, self.classes = tuple(self.x.shape[1:]), train.info.num_classes
        self.batch = self.config.student_batch_size
        self.steps = math.ceil(len(self.x) / self.batch)
        keras.utils.set_random_seed(SEED)
        self.teacher = backbone_classifier(
            self.config.backbone,
            self.shape,
            self.classes,
            alpha=self.config.backbone_alpha,
            image_size=self.config.teacher_image_size,
            model_name="teacher",
        )
        self.initial = build_student(self.config, self.shape, self.classes).get_weights()
        self.logits = None

    def info(self):
        """What the section shows of the data and the two nets (JSON-able)."""
        from keras_transfer.models.compact import count_flops

        cfg, student = self.config, self.student()
        return {
            "preset": FLAGS.preset,
            "dataset": FLAGS.dataset,
            "examples": len(self.x),
            "shape": list(self.shape),
            "batch": self.batch,
            "steps": self.steps,
            "student": {"parameters": student.count_params(), "flops": count_flops(student)},
            "teacher": {
                "backbone": cfg.backbone,
                "alpha": cfg.backbone_alpha,
                "image_size": cfg.teacher_image_size,
                "parameters": self.teacher.count_params(),
                "flops": count_flops(self.teacher),
            },
        }

    def dataset(self, targets=None):
        from keras_transfer import data as kt_data

        return kt_data.make_dataset(
            self.x,
            self.y if targets is None else targets,
            self.batch,
            shuffle=True,
            repeat=True,
            seed=SEED,
        )

    def student(self):
        from keras_transfer.experiments.compact_transfer.students import build_student

        s = build_student(self.config, self.shape, self.classes)
        s.set_weights(self.initial)
        return s

    def teacher_pass(self):
        """The one-time teacher pass of (b): seconds, and stores the logits."""
        from keras_transfer import data as kt_data
        from keras_transfer.transfer import distillation

        ds = kt_data.make_dataset(self.x, self.y, 500)
        t0 = time.perf_counter()
        self.logits = distillation.teacher_logits(self.teacher, ds)
        return time.perf_counter() - t0

    def model(self, path):
        """``(compiled model, training dataset)`` for ``path``."""
        import keras

        from keras_transfer.transfer import distillation

        cfg, sce = self.config, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        opt = keras.optimizers.SGD(cfg.student_lr, momentum=0.9)
        if path == "alone":
            m = self.student()
            m.compile(optimizer=opt, loss=sce, metrics=["accuracy"])
            return m, self.dataset()
        if path in ("cached", "per_batch"):
            m = distillation.Distiller(
                teacher=self.teacher,
                student=self.student(),
                alpha=cfg.alpha,
                temperature=cfg.temperature,
            )
            m.compile(optimizer=opt, metrics=["accuracy"])
            if path == "cached":
                return m, self.dataset(distillation.with_teacher_logits(self.y, self.logits))
            return m, self.dataset()
        m = keras.distillation.Distiller(
            teacher=self.teacher,
            student=self.student(),
            distillation_losses=keras.distillation.LogitsDistillation(
                temperature=cfg.temperature, loss=keras.losses.KLDivergence()
            ),
            student_loss_weight=cfg.alpha,
        )
        m.compile(optimizer=opt, loss=sce, metrics=["accuracy"])
        return m, self.dataset()

    def timed(self, path):
        """Seconds of one epoch of ``path`` after an untimed warm-up epoch."""
        from benchmarks.results import epoch_timer

        model, ds = self.model(path)
        model.fit(ds, epochs=1, steps_per_epoch=FLAGS.warmup_steps, verbose=0)
        timer = epoch_timer()
        gc.collect()
        model.fit(ds, epochs=1, steps_per_epoch=self.steps, callbacks=[timer], verbose=0)
        done = int(model.optimizer.iterations.numpy())
        if done != FLAGS.warmup_steps + self.steps:
            raise RuntimeError(
                f"Expected {FLAGS.warmup_steps + self.steps} optimizer steps in "
                f"{path}, counted {done}."
            )
        return timer.seconds


def measure():
    """Times one epoch of every path, ``--trials`` times: everything the section shows.

    Returns a JSON-able dict: the data, student and teacher (`_Bench.info`),
    the settings (warm-up, trials, seed, target), the load average at the
    start, the software versions, the one-time teacher pass's seconds and
    every path's epoch seconds per trial (`markdown` derives the rest).

    Example (seconds on 2 CPU cores; ``digits`` needs no files):
    >>> _ = FLAGS(["distillation_speed", "--dataset=digits", "--examples=200", "--trials=1"])
    >>> sorted(measure()["seconds"])  # doctest: +SKIP
    ['alone', 'cached', 'keras', 'per_batch']
    """
    from benchmarks.results import machine_info

    warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
    load_avg = list(os.getloadavg())
    bench = _Bench()
    teacher_seconds = bench.teacher_pass()
    print(
        f"{FLAGS.dataset}: {len(bench.x)} images, {bench.steps} steps of {bench.batch}; "
        f"teacher pass {teacher_seconds:.2f}s",
        flush=True,
    )
    seconds = {p: [] for p in PATHS}
    for trial in range(FLAGS.trials):
        for path in PATHS:
            seconds[path].append(bench.timed(path))
            print(f"trial {trial + 1} {path}: {seconds[path][-1]:.2f}s", flush=True)
    return {
        **bench.info(),
        "warmup_steps": FLAGS.warmup_steps,
        "trials": FLAGS.trials,
        "seed": SEED,
        "target_ratio": TARGET_RATIO,
        "load_average": load_avg,
        "machine": machine_info(),
        "teacher_seconds": teacher_seconds,
        "seconds": seconds,
    }


def markdown(m):
    """The section from `measure`'s dict only: settings, per-path median/min-max, the verdict.

    Example:
    >>> m = {"preset": "quick", "dataset": "digits", "examples": 1000, "shape": [8, 8, 3],
    ...      "batch": 100, "steps": 10, "warmup_steps": 5, "trials": 1, "target_ratio": 1.2,
    ...      "student": {"parameters": 1830, "flops": 538354},
    ...      "teacher": {"backbone": "EfficientNetLite0", "alpha": None, "image_size": 96,
    ...                  "parameters": 3425834, "flops": 143759402},
    ...      "load_average": [1.0, 1.0, 1.0], "teacher_seconds": 2.0,
    ...      "machine": {"platform": "Linux", "python": "3.11.7", "tensorflow": "2.21.0",
    ...                  "keras": "3.15.1"},
    ...      "seconds": {"alone": [1.0], "cached": [1.1], "per_batch": [10.0], "keras": [9.0]}}
    >>> print(markdown(m).splitlines()[-1].split(";")[0])
    Cached distillation / student alone: 1.10x per epoch (target <= 1.2: met)
    >>> print(markdown(m).splitlines()[-6])
    | (a) student alone | 1.00 | 1.00-1.00 | 1,000 | 1.00 |
    """
    from keras_transfer.report import markdown_table

    seconds = m["seconds"]
    med = {p: statistics.median(s) for p, s in seconds.items()}
    rows = [
        [
            label,
            f"{med[path]:.2f}",
            f"{min(seconds[path]):.2f}-{max(seconds[path]):.2f}",
            f"{m['examples'] / med[path]:,.0f}",
            f"{med[path] / med['alone']:.2f}",
        ]
        for path, label in PATHS.items()
    ]
    ratio = med["cached"] / med["alone"]
    met = "met" if ratio <= m["target_ratio"] else "NOT met"
    student, teacher = m["student"], m["teacher"]
    alpha = "" if teacher["alpha"] is None else f" (alpha {teacher['alpha']})"
    lines = [
        f"One training epoch of the compact-transfer recipe's student ({m['preset']} preset: "
        f"{student['parameters']:,} parameters, {student['flops']:,} FLOPs per image) on "
        f"{m['examples']:,} {m['dataset']} images {'x'.join(map(str, m['shape']))}, batch "
        f"{m['batch']} ({m['steps']} steps); teacher {teacher['backbone']}{alpha} at "
        f"{teacher['image_size']}px ({teacher['parameters']:,} parameters, "
        f"{teacher['flops']:,} FLOPs per image, random weights). {m['trials']} timed "
        f"epoch(s) per path after a {m['warmup_steps']}-step warm-up, alternated a, b, c, d.",
        "",
        f"- Load average (1, 5, 15 min) at the start: "
        f"{', '.join(f'{x:.2f}' for x in m['load_average'])}.",
        f"- (b)'s one-time teacher pass over the {m['examples']:,} images (batch 500): "
        f"{m['teacher_seconds']:.2f} s, paid once for all epochs.",
        "",
        markdown_table(
            ["path", "epoch seconds (median)", "min-max", "images/s", "x student alone"], rows
        ),
        "",
        f"Cached distillation / student alone: {ratio:.2f}x per epoch (target <= "
        f"{m['target_ratio']}: {met}); recomputing the teacher every batch costs "
        f"{med['per_batch'] / med['alone']:.2f}x (ours) and {med['keras'] / med['alone']:.2f}x "
        f"(keras.distillation.Distiller).",
    ]
    return "\n".join(lines)


BENCH = sweep.Measurements("distillation_speed", measure, markdown)

if __name__ == "__main__":
    app.run(lambda argv: sweep.main(BENCH, argv))
