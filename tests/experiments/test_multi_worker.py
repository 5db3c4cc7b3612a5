"""MultiWorkerMirroredStrategy with two real worker processes on localhost.

Both workers run `training.train` under `get_strategy("multi_worker")` (TF_CONFIG
with two 127.0.0.1 ports, one CPU device each); each takes half of every global
batch (unshuffled here, so that the reference sees the same batches: Keras' fit
under a strategy draws one batch to build the model and restarts the iterator).
They must end with identical weights, equal to a single process trained on the
global batch. Also: the recipes refuse multi_worker without such a TF_CONFIG.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import conftest
import keras
import numpy as np
import pytest

from keras_transfer import data
from keras_transfer import models
from keras_transfer import training

pytestmark = pytest.mark.slow  # runs recipes (docs/design.md, Tests)

GLOBAL_BATCH, EPOCHS, STEPS = 32, 2, 3
WORKER = textwrap.dedent(f"""
    import json, os, sys
    import keras, numpy as np
    from keras_transfer import data, models, training

    strategy = training.get_strategy("multi_worker")  # first: configures the runtime
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    out = sys.argv[1]
    x, y, _ = data.load_arrays("digits", "train")
    train_ds = data.make_dataset(x, y, {GLOBAL_BATCH}, repeat=True)
    test_ds, info = data.load("digits", "test", batch_size=360)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = training.compile_classifier(models.shallow_cnn(info.image_shape, 10))
    curve = training.train(model, train_ds, test_ds, epochs={EPOCHS}, steps_per_epoch={STEPS},
                           run_dir=os.path.join(out, f"worker{{index}}"))
    np.savez(os.path.join(out, f"weights{{index}}.npz"), *model.get_weights())
    print(json.dumps({{"replicas": strategy.num_replicas_in_sync,
                      "steps": [r["step"] for r in curve]}}))
""")


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _launch_workers(script, out, timeout=400):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        env = dict(
            os.environ,
            CUDA_VISIBLE_DEVICES="",
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONPATH=str(conftest.REPO),
            TF_CONFIG=json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            ),
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), str(out)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.time() + timeout
    try:
        while any(p.poll() is None for p in procs) and time.time() < deadline:
            if any(p.poll() not in (None, 0) for p in procs):
                break  # one failed: the other would wait for it
            time.sleep(0.5)
    finally:
        for p in procs:  # SIGKILL: TF's preemption handler catches SIGTERM
            if p.poll() is None:
                p.kill()
    return [(p.wait(), *p.communicate()) for p in procs]


def test_two_workers_match_one_process_on_the_global_batch(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    results = _launch_workers(script, tmp_path)
    for rc, stdout, stderr in results:
        assert rc == 0, stderr[-3000:]
        report = json.loads(stdout.strip().splitlines()[-1])
        assert report == {"replicas": 2, "steps": [0, STEPS, 2 * STEPS]}
    w0, w1 = (np.load(tmp_path / f"weights{i}.npz") for i in range(2))
    # The reference: one process, the same initial weights and global batches.
    x, y, _ = data.load_arrays("digits", "train")
    train_ds = data.make_dataset(x, y, GLOBAL_BATCH, repeat=True)
    test_ds, info = data.load("digits", "test", batch_size=360)
    keras.utils.set_random_seed(0)
    model = training.compile_classifier(models.shallow_cnn(info.image_shape, 10))
    start = [np.array(w) for w in model.get_weights()]
    training.train(model, train_ds, test_ds, epochs=EPOCHS, steps_per_epoch=STEPS)
    reference = model.get_weights()
    for i, ref in enumerate(reference):
        a, b = w0[f"arr_{i}"], w1[f"arr_{i}"]
        assert np.array_equal(a, b)  # both workers hold the same weights
        assert np.abs(a - ref).max() < 1e-5
    assert max(np.abs(r - s).max() for r, s in zip(reference, start)) > 1e-3  # it trained


def test_recipe_refuses_multi_worker_without_tf_config(tmp_path, capsys, monkeypatch):
    # In this process: the refusal comes before any strategy is made.
    monkeypatch.delenv("TF_CONFIG", raising=False)
    conftest.assert_refused(
        "htcnn",
        ["--strategy=multi_worker"],
        "Expected TF_CONFIG naming >= 2 workers for --strategy=multi_worker",
        tmp_path / "out",
        capsys,
    )
