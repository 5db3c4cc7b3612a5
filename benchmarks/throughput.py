r"""Benchmark: training throughput of our loop vs a plain `model.fit`.

Run from the repository root (the full benchmark; writes section "throughput"
of benchmarks/RESULTS.md; roughly 10-15 minutes on 2 CPU cores, from ~330 img/s
measured in a 10-step check):
    python benchmarks/throughput.py
    python benchmarks/throughput.py --dataset=cifar10 --steps=300 --warmup_steps=30 --trials=3
Quick check (seconds, writes nothing):
    python benchmarks/throughput.py --dataset=digits --steps=20 --warmup_steps=5 --trials=1 \
        --nowrite

What is compared, in one process, on the HTCNN cloud CNN (paper Fig. 5,
`keras_transfer.models.cloud_cnn`, compiled by
`keras_transfer.training.compile_classifier`) and the same input pipeline
(`keras_transfer.data.make_dataset` with shuffle + repeat over the real
training set, batch --batch_size):

(a) plain: ``model.fit(ds, epochs=1, steps_per_epoch=steps)``, with only a
    timer callback that has no batch hooks (so Keras keeps its asynchronous
    batch-end dispatch, exactly as with no callbacks);
(b) ours: ``keras_transfer.training.train(model, ds, test_ds, epochs=1,
    steps_per_epoch=steps, run_dir=<tmp>, eval_at_start=False)`` with all its
    callbacks (TensorBoard, CSVLogger, BackupAndRestore, TerminateOnNaN,
    LearningCurve) and a tiny test set (--test_examples).

Two times per run: the *training* time (epoch start to the end of the last
step: for (b) the ``wall_seconds`` our `LearningCurve` records, which excludes
evaluation; for (a) the timer callback's epoch time) and the *whole call* (the
wall time of the ``fit``/``train`` call, including set-up, for (b) the
evaluation of the tiny test set, the backup and the final weights).

Fairness: every timed run uses a fresh model with the same initial weights,
first warmed up through the same path (--warmup_steps, which traces the
functions) and then reset to those weights with a zeroed optimizer state; a
new dataset object with the same shuffle seed (same batches); trials alternate
a, b, a, b, ... so drift of the machine affects both alike.
"""

import gc
import os
import statistics
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", "cifar10", "Dataset name (see keras_transfer.data.load_arrays).")
flags.DEFINE_string("data_dir", None, "Folder of <dataset>/ folders (default "
                    "$KERAS_TRANSFER_DATA).")
flags.DEFINE_integer("steps", 300, "Timed training steps per run.")
flags.DEFINE_integer("warmup_steps", 30, "Untimed steps before each timed run (traces the "
                     "functions).")
flags.DEFINE_integer("batch_size", 100, "Batch size (HTCNN paper: 100).")
flags.DEFINE_integer("trials", 3, "Timed runs of each path, alternated a, b, a, b, ...")
flags.DEFINE_integer("test_examples", 100, "Test images evaluated by our loop after the epoch "
                     "(kept tiny: evaluation is not what is measured).")
flags.DEFINE_integer("seed", 0, "Seed of the initial weights and of the batch order.")
flags.DEFINE_boolean("write", True, "Write the table into benchmarks/RESULTS.md "
                     "(--nowrite to only print it).")
for _name in ("steps", "warmup_steps", "batch_size", "trials", "test_examples"):
    flags.register_validator(_name, lambda v: v >= 1, message=f"--{_name} must be >= 1")

TARGET_RATIO = 0.95
SECTION = "throughput"
OUR_CALLBACKS = "TensorBoard, CSVLogger, BackupAndRestore, TerminateOnNaN, LearningCurve"


class Bench:
    """The data, initial weights and the two timed paths."""

    def __init__(self):
        import keras

        from keras_transfer import data as kt_data
        from keras_transfer import models

        self.train = kt_data.load_image_data(FLAGS.dataset, "train", data_dir=FLAGS.data_dir)
        test = kt_data.load_image_data(FLAGS.dataset, "test", data_dir=FLAGS.data_dir)
        n = min(FLAGS.test_examples, len(test))
        self.test_x, self.test_y = test.x[:n], test.y[:n]
        self.info = self.train.info
        keras.utils.set_random_seed(FLAGS.seed)
        template = models.cloud_cnn(tuple(self.train.x.shape[1:]), self.info.num_classes)
        self.initial_weights = template.get_weights()
        self.tmp = tempfile.TemporaryDirectory(prefix="throughput_")
        self.runs = 0

    def train_ds(self):
        """A new pipeline object: same seed, so the same batches in the same order."""
        from keras_transfer import data as kt_data

        return kt_data.make_dataset(self.train.x, self.train.y, FLAGS.batch_size, shuffle=True,
                                    repeat=True, seed=FLAGS.seed)

    def test_ds(self):
        from keras_transfer import data as kt_data

        return kt_data.make_dataset(self.test_x, self.test_y, FLAGS.batch_size)

    def fresh_model(self):
        from keras_transfer import models
        from keras_transfer import training

        model = models.cloud_cnn(tuple(self.train.x.shape[1:]), self.info.num_classes)
        model.set_weights(self.initial_weights)
        return training.compile_classifier(model)

    def reset(self, model):
        """Back to the initial weights and a fresh optimizer state (step 0, zero momentum)."""
        import numpy as np

        model.set_weights(self.initial_weights)
        for v in model.optimizer.variables:
            if v.name != "learning_rate":
                v.assign(np.zeros(v.shape, v.dtype))

    def run_dir(self):
        self.runs += 1
        return os.path.join(self.tmp.name, f"run{self.runs}")

    def plain(self, model, steps):
        from benchmarks.results import epoch_timer

        timer = epoch_timer()
        ds = self.train_ds()
        gc.collect()
        t0 = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=steps, callbacks=[timer], verbose=0)
        call = time.perf_counter() - t0
        return {"train_seconds": timer.seconds, "call_seconds": call}

    def ours(self, model, steps):
        from keras_transfer import training

        ds, test_ds, run_dir = self.train_ds(), self.test_ds(), self.run_dir()
        gc.collect()
        t0 = time.perf_counter()
        curve = training.train(model, ds, test_ds, epochs=1, steps_per_epoch=steps,
                               run_dir=run_dir, eval_at_start=False)
        call = time.perf_counter() - t0
        if len(curve) != 1 or curve[0]["step"] != steps:
            raise RuntimeError(f"Expected one curve row at step {steps}, received {curve}.")
        return {"train_seconds": curve[-1]["wall_seconds"], "call_seconds": call}

    def timed(self, path):
        """One trial of ``path`` ("plain" or "ours"): fresh model, warm-up, reset, timed run."""
        run = getattr(self, path)
        model = self.fresh_model()
        run(model, FLAGS.warmup_steps)
        self.reset(model)
        result = run(model, FLAGS.steps)
        done = int(model.optimizer.iterations.numpy())
        if done != FLAGS.steps:
            raise RuntimeError(f"Expected {FLAGS.steps} optimizer steps in the timed {path} "
                               f"run, counted {done}.")
        images = FLAGS.steps * FLAGS.batch_size
        return {"train_ips": images / result["train_seconds"],
                "call_ips": images / result["call_seconds"], **result}


def _fmt(x, digits=1):
    return f"{x:,.{digits}f}"


def build_report(bench, trials, load_avg):
    """Markdown: settings, the per-trial table, medians and the ratios ours / plain."""
    med = {path: {k: statistics.median(t[path][k] for t in trials)
                  for k in ("train_ips", "call_ips")} for path in ("plain", "ours")}
    ratio_train = med["ours"]["train_ips"] / med["plain"]["train_ips"]
    ratio_call = med["ours"]["call_ips"] / med["plain"]["call_ips"]
    header = ["trial", "plain img/s (training)", "ours img/s (training)",
              "ours / plain (training)", "plain img/s (whole call)", "ours img/s (whole call)",
              "ours / plain (whole call)"]
    rows = []
    for i, t in enumerate(trials, 1):
        p, o = t["plain"], t["ours"]
        rows.append([i, _fmt(p["train_ips"]), _fmt(o["train_ips"]),
                     _fmt(o["train_ips"] / p["train_ips"], 3), _fmt(p["call_ips"]),
                     _fmt(o["call_ips"]), _fmt(o["call_ips"] / p["call_ips"], 3)])
    rows.append(["**median**", _fmt(med["plain"]["train_ips"]), _fmt(med["ours"]["train_ips"]),
                 f"**{_fmt(ratio_train, 3)}**", _fmt(med["plain"]["call_ips"]),
                 _fmt(med["ours"]["call_ips"]), f"**{_fmt(ratio_call, 3)}**"])
    from keras_transfer.report import markdown_table

    met = "met" if ratio_train >= TARGET_RATIO else "NOT met"
    shape = "x".join(str(d) for d in bench.train.x.shape[1:])
    lines = [
        f"Training throughput of the HTCNN cloud CNN on {FLAGS.dataset} "
        f"({len(bench.train):,} training images {shape}, batch {FLAGS.batch_size}): "
        f"(a) plain `model.fit` vs (b) `keras_transfer.training.train` with its callbacks "
        f"({OUR_CALLBACKS}) and a {len(bench.test_y)}-image test set. "
        f"{FLAGS.steps} timed steps per run after {FLAGS.warmup_steps} warm-up steps, "
        f"{FLAGS.trials} trial(s) per path alternated a, b, a, b; fresh models with identical "
        f"initial weights, identical batches.",
        "",
        "- *training*: epoch start to the end of the last step (ours: the `wall_seconds` "
        "the loop records, evaluation excluded; plain: an epoch-only timer callback).",
        "- *whole call*: wall time of the `fit` / `train` call (ours includes set-up, the "
        "tiny evaluation, the backup and saving the final weights).",
        f"- Load average (1, 5, 15 min) when the benchmark started: "
        f"{', '.join(f'{x:.2f}' for x in load_avg)}.",
        "",
        markdown_table(header, rows),
        "",
        f"Ratio ours / plain of the median images/s: training {ratio_train:.3f} "
        f"(target >= {TARGET_RATIO}: {met}), whole call {ratio_call:.3f}.",
    ]
    return "\n".join(lines), ratio_train, ratio_call


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    # Keras warns that fit's default shuffle=True is ignored for a tf.data input
    # (the pipeline shuffles itself), once per fit: noise in the output.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed")
    load_avg = os.getloadavg()
    bench = Bench()
    print(f"{FLAGS.dataset}: {len(bench.train)} training images {bench.train.x.shape[1:]}, "
          f"{len(bench.test_y)} test images; {FLAGS.trials} trial(s) x {FLAGS.steps} steps "
          f"(+{FLAGS.warmup_steps} warm-up) of batch {FLAGS.batch_size}", flush=True)
    trials = []
    try:
        for i in range(FLAGS.trials):
            trial = {}
            for path in ("plain", "ours"):
                trial[path] = bench.timed(path)
                r = trial[path]
                print(f"trial {i + 1} {path:5s}: training {r['train_seconds']:.2f}s "
                      f"({r['train_ips']:.1f} img/s), whole call {r['call_seconds']:.2f}s "
                      f"({r['call_ips']:.1f} img/s)", flush=True)
            trials.append(trial)
    finally:
        bench.tmp.cleanup()
    markdown, ratio_train, ratio_call = build_report(bench, trials, load_avg)
    from benchmarks.results import publish

    print()
    publish(SECTION, markdown, FLAGS.write)


if __name__ == "__main__":
    app.run(main)
