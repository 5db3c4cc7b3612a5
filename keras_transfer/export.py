"""Export trained models: SavedModel (``model.export``), the native ``.keras`` file and TFLite."""

import json
import os
import time

import numpy as np

from keras_transfer.files import atomic_path
from keras_transfer.files import remove_stale_temporaries


def unique_path(path, taken=()):
    """``path`` if free, else ``path_2``, ``path_3``, ... (never overwrite an export).

    ``taken``: paths to avoid too (planned, not written yet).

    Example:
    >>> unique_path("/nonexistent/model")
    '/nonexistent/model'
    >>> unique_path("/nonexistent/m.keras", taken={"/nonexistent/m.keras"})
    '/nonexistent/m_2.keras'
    """
    root, ext = os.path.splitext(path)
    candidate, i = path, 2
    while os.path.lexists(candidate) or candidate in taken:
        candidate, i = f"{root}_{i}{ext}", i + 1
    return candidate


def plan_exports(names, directory):
    """Free export paths for each name in ``directory``: ``{name: {format: path}}``.

    Never an existing path (``name_2`` ... instead, `unique_path`) and never
    one path for two names. A run records its plan before exporting, so a
    resumed run finishes the same paths instead of adding ``name_2`` copies.

    Example:
    >>> plan_exports(["cloud"], "/nonexistent")["cloud"]["keras"]
    '/nonexistent/cloud.keras'
    """
    plan, taken = {}, set()
    for name in names:
        plan[name] = {
            fmt: unique_path(os.path.join(directory, name + suffix), taken)
            for fmt, suffix in (("saved_model", ""), ("keras", ".keras"))
        }
        taken.update(plan[name].values())
    return plan


def export_model(model, directory, name, formats=("saved_model", "keras"), paths=None):
    """Exports ``model`` into ``directory`` without overwriting anything there.

    Args:
        model: a built Keras model.
        directory: destination folder (created).
        name: base name: ``<name>/`` for the SavedModel (serving endpoint
            ``serve``, via `keras.Model.export`) and ``<name>.keras``.
        formats: any of ``"saved_model"`` and ``"keras"``.
        paths: ``{format: path}`` to write instead (`plan_exports`); a path
            that exists already is kept as it is (a finished export: every
            export appears whole under its name or not at all).

    Returns:
        Mapping format -> path written.

    Example:
    >>> import tempfile
    >>> from keras_transfer import models
    >>> paths = export_model(models.shallow_cnn((8, 8, 1), 10), tempfile.mkdtemp(), "m",
    ...                      formats=("keras",))
    >>> sorted(paths)
    ['keras']
    """
    unknown = set(formats) - {"saved_model", "keras"}
    if unknown:
        raise ValueError(
            f"Expected formats among ('saved_model', 'keras'), received {sorted(unknown)}."
        )
    os.makedirs(directory, exist_ok=True)
    written = {}
    for fmt in ("saved_model", "keras"):
        if fmt not in formats:
            continue
        suffix = ".keras" if fmt == "keras" else ""
        path = paths[fmt] if paths else unique_path(os.path.join(directory, name + suffix))
        if not os.path.exists(path):
            remove_stale_temporaries(path)  # a killed export's half-written folder
            with atomic_path(path) as tmp:  # a killed export leaves no half SavedModel
                if fmt == "keras":
                    model.save(tmp)
                else:
                    model.export(tmp, format="tf_saved_model", verbose=False)
        written[fmt] = path
    return written


def export_and_check(named_models, directory, inputs, plan=None):
    """Exports each model (SavedModel + .keras) and checks the SavedModel reloads identically.

    Args:
        named_models: name -> Keras model.
        directory: export folder.
        inputs: a few inputs exactly as the models take them.
        plan: the paths to write (`plan_exports`); default: free names.

    Returns:
        name -> ``{"saved_model": path, "keras": path, "max_abs_diff": float}``.

    Example:
    >>> import tempfile, keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> out = export_and_check({"tiny": model}, tempfile.mkdtemp(), np.ones((3, 4), "float32"))
    >>> out["tiny"]["max_abs_diff"] < 1e-6
    True
    """
    import tensorflow as tf

    out = {}
    for name, model in named_models.items():
        paths = export_model(model, directory, name, paths=(plan or {}).get(name))
        reloaded = tf.saved_model.load(paths["saved_model"])
        diff = np.max(
            np.abs(reloaded.serve(tf.constant(inputs)).numpy() - model.predict(inputs, verbose=0))
        )
        out[name] = dict(paths, max_abs_diff=float(diff))
    return out


TFLITE_QUANTIZATIONS = ("float32", "dynamic_range")


def export_tflite(model, path, quantization="float32"):
    """Converts ``model`` to a TFLite flatbuffer with `tf.lite.TFLiteConverter`; never overwrites.

    Args:
        model: a Keras model.
        path: destination ``.tflite`` file (a free name is chosen if it exists).
        quantization: ``"float32"`` (no quantization) or ``"dynamic_range"``
            (weights stored as int8, ``tf.lite.Optimize.DEFAULT``).

    Returns:
        The path written.

    Example:
    >>> import tempfile
    >>> from keras_transfer import models
    >>> p = export_tflite(models.shallow_cnn((8, 8, 1), 10), tempfile.mkdtemp() + "/m.tflite")
    >>> os.path.getsize(p) > 0
    True
    """
    return _export_tflite(model, {quantization: path})[quantization]


def export_tflite_files(model, directory, name, quantizations=TFLITE_QUANTIZATIONS):
    """``model`` as one ``<name>_<quantization>.tflite`` per quantization, from one export.

    `export_tflite` for several quantizations at the cost of one SavedModel
    export (which traces and writes the model: most of a conversion's time).

    Returns:
        ``{quantization: path written}``.

    Example:
    >>> import tempfile
    >>> from keras_transfer import models
    >>> paths = export_tflite_files(models.shallow_cnn((8, 8, 1), 10), tempfile.mkdtemp(), "m")
    >>> sorted(os.path.basename(p) for p in paths.values())
    ['m_dynamic_range.tflite', 'm_float32.tflite']
    """
    paths = {q: os.path.join(directory, f"{name}_{q}.tflite") for q in quantizations}
    return _export_tflite(model, paths)


def _export_tflite(model, paths):
    import tensorflow as tf

    for quantization in paths:
        if quantization not in TFLITE_QUANTIZATIONS:
            raise ValueError(
                f"Expected quantization in {TFLITE_QUANTIZATIONS}, received {quantization!r}."
            )
    # Through our own SavedModel export (what `from_keras_model` does in Keras 3,
    # but silently and with the model's `serve` signature).
    import tempfile

    written = {}
    with tempfile.TemporaryDirectory() as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        for quantization, path in paths.items():
            flatbuffer = _convert(tf.lite.TFLiteConverter.from_saved_model(tmp), quantization)
            path = unique_path(path)
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with atomic_path(path) as part:
                with open(part, "wb") as f:
                    f.write(flatbuffer)
            written[quantization] = path
    return written


def _convert(converter, quantization):
    import tensorflow as tf

    if quantization == "dynamic_range":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def tflite_predict(path, images, num_threads=1):
    """Runs a ``.tflite`` model on ``images`` one at a time (batch 1, as on a device).

    Example:
    >>> import tempfile
    >>> from keras_transfer import models
    >>> p = export_tflite(models.shallow_cnn((8, 8, 1), 10), tempfile.mkdtemp() + "/m.tflite")
    >>> tflite_predict(p, np.zeros((3, 8, 8, 1), "float32")).shape
    (3, 10)
    """
    interpreter, run = _interpreter(path, num_threads)
    return np.concatenate([run(x[None]) for x in np.asarray(images, np.float32)])


def tflite_latency(path, image_shape, runs=200, warmup=20, num_threads=1, seed=0):
    """Median wall seconds per image of a ``.tflite`` model in the TFLite interpreter (batch 1).

    One thread by default: the per-image latency of a phone-class CPU core,
    and a number that does not depend on how busy the other cores are.

    Example:
    >>> import tempfile
    >>> from keras_transfer import models
    >>> p = export_tflite(models.shallow_cnn((8, 8, 1), 10), tempfile.mkdtemp() + "/m.tflite")
    >>> tflite_latency(p, (8, 8, 1), runs=5, warmup=1) > 0
    True
    """
    if runs < 1 or warmup < 0:
        raise ValueError(f"Expected runs >= 1 and warmup >= 0, received {runs} and {warmup}.")
    _, run = _interpreter(path, num_threads)
    x = np.random.default_rng(seed).random((1,) + tuple(image_shape), dtype=np.float32)
    for _ in range(warmup):
        run(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _interpreter(path, num_threads):
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=path, num_threads=num_threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]

    def run(batch):
        interpreter.set_tensor(inp["index"], batch)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"]).copy()

    return interpreter, run


def export_run(models, inputs, run_dir, directory):
    """Exports a run's models once: a resumed run reuses or finishes the recorded exports.

    The export paths are planned and recorded in the run folder
    (``exports_plan.json``, `plan_exports`) before the first export, so a run
    killed while exporting finishes the same paths on resume (no ``name_2``
    duplicates) and clears its half-written temporaries; ``exports.json``
    records the finished exports (`export_and_check`), and a run that has it
    exports nothing again.

    Returns:
        ``exports.json``'s content: model name -> its exported paths and checks.

    Example:
    >>> import tempfile
    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> run, out = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> first = export_run({"m": model}, np.zeros((2, 3), "float32"), run, out)
    >>> export_run({"m": model}, np.zeros((2, 3), "float32"), run, out) == first
    True
    """
    from keras_transfer.report import write_json

    record = os.path.join(run_dir, "exports.json")
    if os.path.exists(record):
        with open(record) as f:
            return json.load(f)
    plan_path = os.path.join(run_dir, "exports_plan.json")
    if os.path.exists(plan_path):
        with open(plan_path) as f:
            plan = json.load(f)
    else:
        plan = plan_exports(models, directory)
        write_json(plan_path, plan)
    exports = export_and_check(models, directory, inputs, plan)
    write_json(record, exports)
    return exports
