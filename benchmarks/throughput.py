r"""Benchmark: training throughput of our loop vs plain Keras `fit`, per model the recipes train.

Run from the repository root. Full benchmark (writes section "throughput" of
benchmarks/RESULTS.md; ~12-15 minutes on 2 quiet CPU cores, two thirds of it the cloud
CNN; up to twice that while other work shares the cores; it prints its duration):
    python benchmarks/throughput.py --data_dir=/work/shared/data
Quick check (~4 minutes on 2 busy cores, writes nothing; digits needs no files):
    python benchmarks/throughput.py --dataset=digits --steps=32 --warmup_steps=8 --trials=1 \
        --nowrite
Re-render the section from its kept measurements, or check it (`benchmarks.sweep`):
    python benchmarks/throughput.py --render --check

Compared in one process, per model, at the input and batch its recipe uses:
HTCNN shallow and cloud CNNs (CIFAR-10 32x32x3, batch 100); LeNet-5 with the
layer-transfer recipe's 20-bit code output, `CodeLoss` and `CodeAccuracy`
(MNIST 32x32x1, batch 32); the compact-transfer student `compact_cnn(width=8,
depth=3)` (CIFAR-10, batch 128); Table I net-2 with dropout 0.5 (Tiny-ImageNet-50
at 8x8x3, batch 100). All SGD momentum 0.9 (the CNNs via `compile_classifier`).
--dataset=<name> trains every model on that dataset, resized/colour-converted.

(a) plain: ``model.fit(ds, epochs=1, steps_per_epoch=steps)`` with Keras's defaults
    (steps_per_execution=1), no callbacks but a timer with only epoch hooks
    (which keeps Keras's asynchronous batch dispatch);
(b) ours: ``keras_transfer.training.train(model, ds, test_ds, epochs=1,
    steps_per_epoch=steps, run_dir=<tmp>, eval_at_start=False)``: its default
    "auto" steps_per_execution, all its callbacks and a tiny test set.

Times: *training* (epoch start to the last step's end; ours: the curve's
``wall_seconds``, evaluation excluded) and *whole call* (the ``fit``/``train`` call).
GFLOP/s = 3 x forward FLOPs/image (`count_flops`, multiply-add = 2) x images/s,
against a float32 2048x2048 `tf.linalg.matmul` peak measured at start and end.

Fairness: every timed run uses a fresh model with the same initial weights,
first warmed up through the same path (traces its functions), then reset to
those weights with a zeroed optimizer state; a new dataset object with the same
shuffle seed (same batches); both from the fixed seed `SEED`. Trials alternate
a, b, a, b, ... so drift of the machine affects both alike.

Steps: "auto" takes the largest divisor of the epoch up to
`training.MAX_STEPS_PER_EXECUTION` (32), 1 for models above
`training.COMPUTE_BOUND_FLOPS` per image, so --steps should be a multiple of 32 to
time 32 steps per call; the warm-up is rounded up to a multiple of it, so it traces
the very function the timed run uses. The default 128 (4 calls of 32) bounds the
run time: the cloud CNN trains at only ~100-200 img/s on 2 cores (0.5-1 s a step),
so its 3 x 2 runs of 128 + 32 steps alone take 8-16 minutes. The small models'
runs are short (net-2: ~1 s), hence noisier; e.g. --models=lenet5,net2 --steps=640.
"""

import functools
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

from benchmarks import sweep
from benchmarks.results import epoch_timer
from benchmarks.results import machine_info
from keras_transfer import data as kt_data
from keras_transfer import models
from keras_transfer import training
from keras_transfer.models import coding
from keras_transfer.models.compact import count_flops
from keras_transfer.report import markdown_table

# name -> (label, the recipe's dataset, input shape, batch size)
MODELS = {
    "shallow_cnn": ("HTCNN shallow CNN", "cifar10", (32, 32, 3), 100),
    "cloud_cnn": ("HTCNN cloud CNN", "cifar10", (32, 32, 3), 100),
    "lenet5": ("LeNet-5, 20-bit codes", "mnist", (32, 32, 1), 32),
    "compact_cnn": ("compact CNN w8 d3", "cifar10", (32, 32, 3), 128),
    "net2": ("Table I net-2", "tiny_imagenet50", (8, 8, 3), 100),
}
FLAGS = flags.FLAGS
flags.DEFINE_list("models", list(MODELS), f"Rows to measure, of {list(MODELS)}.")
flags.DEFINE_string(
    "dataset",
    "recipe",
    "'recipe' (each model on its recipe's data) or one "
    "dataset for all models, e.g. digits (needs no files).",
)
flags.DEFINE_string(
    "data_dir",
    None,
    "Folder of <dataset>/ folders (default $KERAS_TRANSFER_DATA), e.g. /work/shared/data.",
)
flags.DEFINE_integer("steps", 128, "Timed training steps per run (a multiple of 32).")
flags.DEFINE_integer(
    "warmup_steps",
    32,
    "Untimed steps before each timed run (rounded up to a multiple of our steps_per_execution).",
)
flags.DEFINE_integer("trials", 3, "Timed runs of each path per model, alternated a, b, a, b.")
flags.DEFINE_integer("test_examples", 100, "Test images our loop evaluates after the epoch.")
for _name in ("steps", "warmup_steps", "trials", "test_examples"):
    flags.register_validator(_name, lambda v: v >= 1, message=f"--{_name} must be >= 1")
flags.register_validator(
    "models",
    lambda v: bool(v) and set(v) <= set(MODELS),
    message=f"--models must be a non-empty subset of {list(MODELS)}",
)
sweep.define_flags()

SEED = 0  # of the initial weights and of the batch order
TARGET_RATIO = 0.97
SMALL_MFLOP = 10.0  # forward MFLOP per image below which ours must be faster than plain
OUR_CALLBACKS = "TensorBoard, CSVLogger, BackupAndRestore, TerminateOnNaN, LearningCurve"


@functools.lru_cache(maxsize=None)
def _load(dataset, split, side, channels):
    return kt_data.load_image_data(
        dataset,
        split,
        data_dir=FLAGS.data_dir,
        image_size=side,
        color="rgb" if channels == 3 else "grayscale",
    )


def _compiled(name, shape, classes):
    """The model ``name`` compiled the way its recipe compiles it."""
    if name == "lenet5":
        codes = coding.random_codes(classes, 20, seed=classes)
        model = models.lenet5(shape, 20, output="code")
        model.compile(
            optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
            loss=coding.CodeLoss(codes),
            metrics=[coding.CodeAccuracy(codes)],
        )
        return model
    model = {
        "shallow_cnn": lambda: models.shallow_cnn(shape, classes),
        "cloud_cnn": lambda: models.cloud_cnn(shape, classes),
        "compact_cnn": lambda: models.compact_cnn(shape, classes, width=8, depth=3),
        "net2": lambda: models.table1_net("net-2", shape, classes, dropout=0.5),
    }[name]()
    return training.compile_classifier(model)


class _Bench:
    """One model: its data, initial weights, FLOPs and the two timed paths."""

    def __init__(self, name, tmp):
        self.name, self.tmp, self.runs = name, tmp, 0
        self.label, recipe_data, self.shape, self.batch = MODELS[name]
        self.dataset = recipe_data if FLAGS.dataset == "recipe" else FLAGS.dataset
        self.train = _load(self.dataset, "train", self.shape[0], self.shape[2])
        test = _load(self.dataset, "test", self.shape[0], self.shape[2])
        self.test_x, self.test_y = test.x[: FLAGS.test_examples], test.y[: FLAGS.test_examples]
        keras.utils.set_random_seed(SEED)
        template = _compiled(name, self.shape, self.train.info.num_classes)
        self.initial_weights, self.params = template.get_weights(), template.count_params()
        self.flops = count_flops(template)
        self.spe = training.resolve_steps_per_execution(None, FLAGS.steps)
        self.warmup = -(-FLAGS.warmup_steps // self.spe) * self.spe

    def info(self):
        """What the section shows of the model (JSON-able)."""
        return {
            "name": self.name,
            "label": self.label,
            "dataset": self.dataset,
            "shape": list(self.shape),
            "batch": self.batch,
            "parameters": self.params,
            "flops": self.flops,
            "warmup": self.warmup,
        }

    def train_ds(self):
        """A new pipeline object: same seed, so the same batches in the same order."""
        return kt_data.make_dataset(
            self.train.x, self.train.y, self.batch, shuffle=True, repeat=True, seed=SEED
        )

    def reset(self, model):
        """Back to the initial weights and a fresh optimizer state (step 0, zero momentum)."""
        model.set_weights(self.initial_weights)
        for v in model.optimizer.variables:
            if v.name != "learning_rate":
                v.assign(np.zeros(v.shape, v.dtype))

    def plain(self, model, steps):
        timer, ds = epoch_timer(), self.train_ds()
        gc.collect()
        t0 = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=steps, callbacks=[timer], verbose=0)
        return timer.seconds, time.perf_counter() - t0

    def ours(self, model, steps):
        ds = self.train_ds()
        test_ds = kt_data.make_dataset(self.test_x, self.test_y, self.batch)
        self.runs += 1
        run_dir = os.path.join(self.tmp, f"{self.name}_run{self.runs}")
        gc.collect()
        t0 = time.perf_counter()
        curve = training.train(
            model,
            ds,
            test_ds,
            epochs=1,
            steps_per_epoch=steps,
            run_dir=run_dir,
            eval_at_start=False,
        )
        call = time.perf_counter() - t0
        if len(curve) != 1 or curve[0]["step"] != steps:
            raise RuntimeError(f"Expected one curve row at step {steps}, received {curve}.")
        return curve[-1]["wall_seconds"], call

    def timed(self, path):
        """One trial of ``path`` ("plain" or "ours"): fresh model, warm-up, reset, timed run."""
        run = getattr(self, path)
        model = _compiled(self.name, self.shape, self.train.info.num_classes)
        model.set_weights(self.initial_weights)
        run(model, self.warmup)
        self.reset(model)
        train_s, call_s = run(model, FLAGS.steps)
        done = int(model.optimizer.iterations.numpy())
        if done != FLAGS.steps:
            raise RuntimeError(
                f"Expected {FLAGS.steps} optimizer steps in the timed {path} "
                f"run of {self.name}, counted {done}."
            )
        return {"train_s": train_s, "call_s": call_s, "spe": int(model.steps_per_execution)}


def _matmul_gflops(n=2048, repeats=5):
    """Best-of-``repeats`` GFLOP/s of a float32 n x n `tf.linalg.matmul` (2 n^3 FLOPs)."""
    a, b = tf.random.normal((n, n), seed=1), tf.random.normal((n, n), seed=2)
    tf.linalg.matmul(a, b)[0, 0].numpy()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        tf.linalg.matmul(a, b)[0, 0].numpy()  # reading an element waits for the product
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def lscpu():
    """The CPU lines of ``lscpu`` that bound the peak: model, cores, caches, SIMD.

    Example:
    >>> "SIMD" in lscpu() or lscpu() == "lscpu not available"
    True
    """
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "lscpu not available"
    info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    info = {k.strip(): v.strip() for k, v in info.items()}
    keys = ("Model name", "Socket(s)", "Core(s) per socket", "Thread(s) per core")
    keys += ("L2 cache", "L3 cache")
    simd = [f for f in ("fma", "avx2", "avx512f") if f in info.get("Flags", "").split()]
    return "; ".join(
        [f"{k} {info[k]}" for k in keys if k in info]
        + [f"SIMD {' '.join(simd) or 'no fma/avx2/avx512f'}"]
    )


def measure():
    """Times both paths for every model of ``--models``: everything the section shows.

    Returns a JSON-able dict: the settings (flags, seed, targets), the
    machine (load average at the start, ``lscpu``, software versions), the
    matmul peak at start and end, and per model its description and every
    trial's raw seconds (`markdown` derives every number from these).

    Example (a few minutes on 2 CPU cores; ``digits`` needs no files):
    >>> _ = FLAGS(["throughput", "--models=net2", "--dataset=digits", "--steps=32",
    ...            "--warmup_steps=1", "--trials=1"])
    >>> m = measure()  # doctest: +SKIP
    >>> [t["ours"]["spe"] for t in m["models"][0]["trials"]]  # doctest: +SKIP
    [32]
    """
    # Keras warns that fit's default shuffle=True is ignored for a tf.data input, once per fit.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
    m = {
        "settings": {
            **{n: FLAGS[n].value for n in ("models", "dataset", "steps", "warmup_steps")},
            **{n: FLAGS[n].value for n in ("trials", "test_examples")},
            "seed": SEED,
            "target_ratio": TARGET_RATIO,
            "small_mflop": SMALL_MFLOP,
            "our_callbacks": OUR_CALLBACKS,
        },
        "load_average": list(os.getloadavg()),
        "lscpu": lscpu(),
        "machine": machine_info(),
        "models": [],
    }
    t_start = time.perf_counter()
    peaks = [_matmul_gflops()]
    print(f"matmul peak {peaks[0]:.1f} GFLOP/s", flush=True)
    with tempfile.TemporaryDirectory(prefix="throughput_") as tmp:
        for name in FLAGS.models:
            b = _Bench(name, tmp)
            print(
                f"{b.label}: {b.dataset} {len(b.train)} images {b.shape}, batch {b.batch}, "
                f"{b.params:,} parameters, {b.flops / 1e6:.2f} forward MFLOP/img; "
                f"{FLAGS.trials} x {FLAGS.steps} steps (+{b.warmup} warm-up)",
                flush=True,
            )
            trials = [{} for _ in range(FLAGS.trials)]
            for i, trial in enumerate(trials):
                for path in ("plain", "ours"):
                    r = trial[path] = b.timed(path)
                    print(
                        f"  trial {i + 1} {path:5s}: training {r['train_s']:.2f}s, whole call "
                        f"{r['call_s']:.2f}s, steps/exec {r['spe']}",
                        flush=True,
                    )
            m["models"].append(dict(b.info(), trials=trials))
    peaks.append(_matmul_gflops())
    m["matmul_gflops"] = peaks
    m["seconds"] = time.perf_counter() - t_start
    print(f"matmul peak {peaks[1]:.1f} GFLOP/s; benchmark took {m['seconds']:.0f} s\n")
    return m


def _fmt(x, digits=1):
    return f"{x:,.{digits}f}"


def _row(model, s, peak):
    """One model's table row and whether it met the target."""
    images = s["steps"] * model["batch"]

    def ips(trial, path, time_key):
        return images / trial[path][time_key]

    trials = model["trials"]
    med = {
        (p, k): statistics.median(ips(t, p, k) for t in trials)
        for p in ("plain", "ours")
        for k in ("train_s", "call_s")
    }
    ratio = med["ours", "train_s"] / med["plain", "train_s"]
    mflop = model["flops"] / 1e6
    gflops = 3 * model["flops"] * med["ours", "train_s"] / 1e9
    small = mflop < s["small_mflop"]
    ok = ratio >= s["target_ratio"] and (ratio > 1.0 or not small)
    row = [
        model["label"],
        f"{model['dataset']} {'x'.join(map(str, model['shape']))}",
        model["batch"],
        f"{model['parameters']:,}",
        _fmt(mflop, 2),
        _fmt(med["plain", "train_s"]),
        f"{_fmt(med['ours', 'train_s'])} ({trials[0]['ours']['spe']})",
        f"**{_fmt(ratio, 3)}**",
        ", ".join(_fmt(ips(t, "ours", "train_s") / ips(t, "plain", "train_s"), 2) for t in trials),
        _fmt(med["ours", "call_s"] / med["plain", "call_s"], 3),
        _fmt(gflops, 2),
        _fmt(100 * gflops / peak, 1),
        ("met" if ok else "NOT met") + (" (small)" if small else ""),
    ]
    return row, ok


HEADER = (
    "model|data, input|batch|parameters|forward MFLOP/img|plain fit img/s|"
    "ours img/s (steps/exec)|ours / plain|per trial|ours / plain (whole call)|ours GFLOP/s|"
    "% of matmul peak|target"
).split("|")


def markdown(m):
    """The section from `measure`'s dict only: settings, one row per model, the verdict.

    img/s are medians over the trials; nothing is measured or read here.

    Example:
    >>> trial = {"plain": {"train_s": 2.0, "call_s": 2.5, "spe": 1},
    ...          "ours": {"train_s": 1.6, "call_s": 2.4, "spe": 32}}
    >>> m = {"settings": {"steps": 32, "warmup_steps": 32, "trials": 1, "test_examples": 100,
    ...                   "target_ratio": 0.97, "small_mflop": 10.0, "our_callbacks": "CSVLogger"},
    ...      "load_average": [2.0, 2.0, 2.0], "lscpu": "SIMD avx2", "matmul_gflops": [300, 290],
    ...      "machine": {"cpu_count": "2", "platform": "Linux", "python": "3.11.7",
    ...                  "tensorflow": "2.21.0", "keras": "3.15.1"},
    ...      "models": [{"label": "Table I net-2", "dataset": "digits", "shape": [8, 8, 3],
    ...                  "batch": 100, "parameters": 88448, "flops": 180000, "warmup": 32,
    ...                  "trials": [trial]}]}
    >>> print(markdown(m).splitlines()[-3][:72])
    | Table I net-2 | digits 8x8x3 | 100 | 88,448 | 0.18 | 1,600.0 | 2,000.0
    >>> print(markdown(m).splitlines()[-1][-29:])
    overhead-bound): met for all.
    """
    s, peaks, mach = m["settings"], m["matmul_gflops"], m["machine"]
    peak = max(peaks)
    rows = [_row(model, s, peak) for model in m["models"]]
    failed = [model["label"] for model, (_, ok) in zip(m["models"], rows) if not ok]
    return "\n".join(
        [
            f"Training throughput per model the recipes train: (a) plain `model.fit` with Keras "
            f"defaults (steps_per_execution=1, no callbacks) vs (b) "
            f"`keras_transfer.training.train` "
            f'with its default "auto" steps_per_execution and its callbacks '
            f"({s['our_callbacks']}) and a {s['test_examples']}-image test set. {s['steps']} "
            f"timed steps per run after a warm-up of {m['models'][0]['warmup']} steps through "
            f"the same path, {s['trials']} trial(s) per path alternated a, b, a, b; fresh models "
            f"with identical initial weights, identical batches. img/s: medians over the trials "
            f"of the *training* time (epoch start to the last step; ours excludes its "
            f"evaluation).",
            "",
            f"- Machine: {mach['cpu_count']} CPUs, lscpu: {m['lscpu']}.",
            f"- Matmul peak: float32 2048x2048 `tf.linalg.matmul`, best of 5, at start / end: "
            f"{' / '.join(_fmt(p) for p in peaks)} GFLOP/s; % of peak uses {_fmt(peak)}.",
            "- ours GFLOP/s = 3 x forward FLOPs per image (`count_flops`, multiply-add = 2) x ours "
            "img/s. *whole call*: the `fit` / `train` call (ours adds set-up, the tiny "
            "evaluation, the backup and saving the final weights).",
            f"- Load average (1, 5, 15 min) at the start: "
            f"{', '.join(f'{x:.2f}' for x in m['load_average'])}.",
            "",
            markdown_table(HEADER, [row for row, _ in rows]),
            "",
            f"Target: ours >= {s['target_ratio']}x plain fit for every model, and faster (> 1x) "
            f"for the small models (< {s['small_mflop']:g} forward MFLOP/image, "
            f"overhead-bound): "
            + ("met for all." if not failed else f"NOT met for {', '.join(failed)}."),
        ]
    )


BENCH = sweep.Measurements("throughput", measure, markdown)

if __name__ == "__main__":
    app.run(lambda argv: sweep.main(BENCH, argv))
