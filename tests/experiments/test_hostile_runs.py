"""Hostile files, paths, concurrent and changed-data resumes, Ctrl-C and kills during export.

Each refusal asserts the recipe's exit code 2, its one ``error: Expected ...;
fix`` line and that nothing was written or changed (`test_bad_input.assert_refused`).
The run tests start real recipe processes and act on them while they run.
"""

import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import conftest
import numpy as np
import pytest
from conftest import assert_refused
from conftest import command
from conftest import snapshot

TINY = conftest.TINY["htcnn"]

# A run of a few seconds' training: long enough to act on while it runs.
SLOW = ["--epochs=6", "--steps_per_epoch=30", "--repeats=1"]


def _digits_dataset(root, name="mine"):
    """``root/name/{train,test}.npz`` holding the embedded digits (a real dataset on disk)."""
    from keras_transfer.data import load_arrays

    folder = root / name
    folder.mkdir(parents=True)
    for split in ("train", "test"):
        x, y, _ = load_arrays("digits", split)
        np.savez(folder / f"{split}.npz", x=x, y=y)
    return folder


def _npy_bytes(shape, payload=b"\0" * 64):
    """An ``.npy`` member whose header claims ``shape`` (uint8) and holds ``payload``."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    return out.getvalue() + payload


def test_npz_header_claiming_a_trillion_elements_is_refused_before_allocating(tmp_path, capsys):
    folder = tmp_path / "data" / "bomb"
    folder.mkdir(parents=True)
    for split in ("train", "test"):
        with zipfile.ZipFile(folder / f"{split}.npz", "w") as archive:
            archive.writestr("x.npy", _npy_bytes((10**6, 10**6, 1, 1)))
            archive.writestr("y.npy", _npy_bytes((10,), bytes(10)))
    args = ["--dataset=bomb", f"--data_dir={tmp_path / 'data'}"]
    assert_refused(
        "htcnn", args, "1,000,000,000,000 elements its header claims", tmp_path / "out", capsys
    )
    from keras_transfer.experiments import runner  # the library path: a ValueError too

    with pytest.raises(ValueError, match="header claims"):
        runner.check_inputs("htcnn", command("htcnn", args, tmp_path / "out"), "digits")


def _png(width, height):
    """A valid PNG header claiming ``width`` x ``height`` grey pixels, with one tiny row."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _jpeg(width, height):
    """A real 8x8 JPEG whose frame header is patched to claim ``width`` x ``height``."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")  # baseline frame: length(2) precision(1) height(2) width(2)
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("kind", ["png", "jpg"])
def test_decompression_bomb_in_an_image_folder_is_refused_in_one_line(kind, tmp_path, capsys):
    from PIL import Image

    make = _png if kind == "png" else _jpeg
    side = 40000 if kind == "png" else 60000  # 1.6 and 3.6 gigapixels
    root = tmp_path / "data"
    for split in ("train", "test"):
        for cls in ("a", "b"):
            folder = root / "pics" / split / cls
            folder.mkdir(parents=True)
            Image.new("RGB", (8, 8)).save(folder / "ok.png")
    (root / "pics" / "train" / "b" / f"bomb.{kind}").write_bytes(make(side, side))
    assert_refused(
        "htcnn", ["--dataset=pics", f"--data_dir={root}"], "pixels under", tmp_path / "out", capsys
    )


@pytest.mark.parametrize("name", ["../../../../x", "a/b", "..", ".hidden", ""])
def test_dataset_names_are_names_not_paths(name, tmp_path, capsys, monkeypatch):
    from keras_transfer.experiments import runner

    monkeypatch.chdir(tmp_path)  # the default run folder would be ./runs/htcnn-<dataset>-...
    capsys.readouterr()
    argv = ["htcnn", *TINY[1:], f"--dataset={name}", "--noexport"]
    assert runner.run_command("htcnn", argv, "digits") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "to be a plain name" in err[0] and "; " in err[0], err
    assert os.listdir(tmp_path) == []  # no runs/ and nothing outside it


def test_other_dataset_fields_are_names_too(tmp_path, capsys):
    from keras_transfer.data import load_arrays

    with pytest.raises(ValueError, match="plain name"):
        load_arrays("../mnist", "train", data_dir=str(tmp_path))


def test_dangling_symlink_as_output_dir_is_refused(tmp_path, capsys):
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "missing")
    from keras_transfer.experiments import runner

    capsys.readouterr()
    assert runner.run_command("htcnn", command("htcnn", [], link), "digits") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symbolic link to the missing" in err[0], err
    assert link.is_symlink() and not (tmp_path / "missing").exists()


@pytest.mark.parametrize("extra", [[], ["--resume"]])
def test_folder_of_unrelated_files_is_refused_as_such(extra, tmp_path, capsys):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"not mine")
    (out / "notes.txt").write_text("keep")
    before = snapshot(out)
    assert_refused(
        "htcnn", extra, "2 entries that are not a run of this package", out, capsys, before=before
    )


def _settings_of(out):
    return json.loads((out / "run_settings.json").read_text())


@pytest.mark.slow
def test_resume_after_the_dataset_changed_is_refused(tmp_path, capsys):
    from keras_transfer.experiments import runner

    folder = _digits_dataset(tmp_path / "data")
    out = tmp_path / "out"
    argv = command(
        "htcnn", ["--dataset=mine", f"--data_dir={tmp_path / 'data'}", "--repeats=1"], out
    )
    assert runner.run_command("htcnn", argv, "digits") == 0
    recorded = _settings_of(out)["data"]
    assert sorted(recorded) == ["mine/test", "mine/train"]
    assert recorded["mine/train"]["examples"] == 1437
    (out / "summary.json").unlink()  # as if killed before the end
    original = (folder / "train.npz").read_bytes()
    with np.load(folder / "train.npz") as d:
        x, y = d["x"].copy(), d["y"]
    x[0, 0, 0, 0] ^= 1  # one pixel of 92,000
    np.savez(folder / "train.npz", x=x, y=y)
    before = snapshot(out)
    assert_refused(
        "htcnn",
        ["--dataset=mine", f"--data_dir={tmp_path / 'data'}", "--repeats=1", "--resume"],
        "changed data: dataset 'mine', split 'train'",
        out,
        capsys,
        before=before,
    )
    # The same content in a rewritten file (new time, same arrays) resumes and finishes.
    (folder / "train.npz").write_bytes(original)
    assert runner.run_command("htcnn", argv + ["--resume"], "digits") == 0
    assert json.loads((out / "summary.json").read_text())["status"] == "finished"


def _start(out, *args, length=SLOW):
    """Starts the htcnn recipe on ``out``: ``TINY`` with ``length``'s flags and ``args``."""
    return subprocess.Popen(
        [
            sys.executable,
            str(conftest.REPO / "recipes" / "htcnn.py"),
            *[a for a in TINY if a.split("=")[0] not in {s.split("=")[0] for s in length}],
            *length,
            f"--output_dir={out}",
            *args,
        ],
        cwd=str(out.parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # pytest-xdist's workers ignore SIGINT, and an ignored signal stays ignored in a child
        # (Python then installs no KeyboardInterrupt handler): give the recipe a terminal's.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(proc, condition, timeout=240):
    start = time.monotonic()
    while not condition():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() - start < timeout
        time.sleep(0.02)


def _curve_rows(out):
    return sum(
        len(open(os.path.join(root, "curve.csv")).read().splitlines()) - 1
        for root, _, names in os.walk(out)
        if "curve.csv" in names
    )


@pytest.mark.slow
def test_a_second_process_on_a_running_folder_is_refused_and_the_first_finishes(tmp_path, capsys):
    from keras_transfer.experiments import runner

    out = tmp_path / "out"
    first = _start(out, "--noexport")
    try:
        _wait_for(first, lambda: _curve_rows(out) >= 1)  # training, its folder claimed
        for extra in ([], ["--resume"]):
            capsys.readouterr()
            code = runner.run_command("htcnn", command("htcnn", [*SLOW, *extra], out), "digits")
            err = capsys.readouterr().err.strip().splitlines()
            assert first.poll() is None, "the first run ended before the second was refused"
            assert code == 2 and len(err) == 1, err
            assert f"process {first.pid} is running in now" in err[0], err
        _, stderr = first.communicate(timeout=600)
    finally:
        first.kill()
    assert first.returncode == 0, stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["status"] == "finished"
    history = (out / "history.csv").read_text().splitlines()
    assert sum(line.startswith("run,") for line in history) == 1  # one header
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    # Once the first process has ended the folder is free again (a finished run: refused
    # as finished, not as in use).
    assert_refused("htcnn", ["--resume"], "finished run", out, capsys, before=snapshot(out))


@pytest.mark.slow
def test_ctrl_c_then_a_kill_during_export_then_resume_leaves_one_clean_run(tmp_path):
    out, exports = tmp_path / "out", tmp_path / "exports"
    args = ["--export", f"--export_dir={exports}", "--epochs=3"]
    # Ctrl-C while training: one line, exit code 130, the run folder kept for --resume.
    proc = _start(out, *args)
    _wait_for(proc, lambda: _curve_rows(out) >= 1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-3000:]
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted;"), stderr[-3000:]
    assert "--resume" in lines[0] and "Traceback" not in stderr
    assert not (out / "summary.json").exists()
    # Resumed, then killed as soon as it starts exporting.
    proc = _start(out, *args, "--resume")
    try:
        _wait_for(proc, lambda: (out / "exports_plan.json").exists())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    plan = json.loads((out / "exports_plan.json").read_text())
    assert not (out / "summary.json").exists(), "finished before the kill"
    # Resumed again: the planned exports, whole, no name_2 copies, no temporaries.
    resumed = _start(out, *args, "--resume")
    _, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr[-3000:]
    folder = exports / "htcnn" / "out"
    assert sorted(os.listdir(folder)) == ["ccnn", "ccnn.keras", "htcnn", "htcnn.keras"]
    summary = json.loads((out / "summary.json").read_text())
    for name, paths in plan.items():
        assert {k: summary["exports"][name][k] for k in paths} == paths
    history = (out / "history.csv").read_text().splitlines()
    assert sum(line.startswith("run,") for line in history) == 1


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_a_hand_edited_run_settings_file_is_refused_on_resume(content, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run_settings.json").write_text(content)
    (out / "history.csv").write_text("run\n")
    assert_refused(
        "htcnn",
        ["--resume"],
        "to hold the settings the run started with",
        out,
        capsys,
        before=snapshot(out),
    )


def test_dangling_symlink_as_export_dir_is_refused_before_training(tmp_path, capsys):
    # It used to train the whole run, then fail with FileNotFoundError at the export.
    link = tmp_path / "exports"
    link.symlink_to(tmp_path / "missing")
    assert_refused(
        "htcnn",
        ["--export", f"--export_dir={link}"],
        "symbolic link to the missing",
        tmp_path / "out",
        capsys,
    )


def test_names_longer_than_the_file_system_takes_are_refused(tmp_path, capsys):
    assert_refused("htcnn", [], "names of at most 255 bytes", tmp_path / ("b" * 300), capsys)
    assert_refused(
        "htcnn", ["--dataset=" + "a" * 300], "at most 100 characters", tmp_path / "out", capsys
    )


def test_data_dir_that_is_a_file_is_named_as_a_file(tmp_path, capsys):
    data = tmp_path / "data"
    data.write_text("not a folder")
    assert_refused(
        "htcnn",
        ["--dataset=cifar10", f"--data_dir={data}"],
        "which is a file",
        tmp_path / "out",
        capsys,
    )


def test_binary_classes_txt_is_refused_in_one_line(tmp_path, capsys):
    folder = _digits_dataset(tmp_path / "data")
    (folder / "classes.txt").write_bytes(b"\xff\xfe\x00bad\n" * 10)
    assert_refused(
        "htcnn",
        ["--dataset=mine", f"--data_dir={tmp_path / 'data'}"],
        "UTF-8 text",
        tmp_path / "out",
        capsys,
    )


def test_a_damaged_decode_cache_is_decoded_again(tmp_path, cache_dir):
    from PIL import Image

    from keras_transfer.data import load_arrays
    from keras_transfer.data import readers

    x = np.random.RandomState(0).randint(0, 255, (6, 8, 8, 3)).astype(np.uint8)
    blobs = []
    for image in x:
        out = io.BytesIO()
        Image.fromarray(image).save(out, "JPEG", quality=95)
        blobs.append(np.frombuffer(out.getvalue(), np.uint8))
    folder = tmp_path / "packed"
    folder.mkdir()
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])])
    for split in ("train", "test"):
        np.savez(
            folder / f"{split}.npz", jpeg=np.concatenate(blobs), offsets=offsets, y=np.arange(6) % 2
        )
    first, _, _ = load_arrays("packed", "train", data_dir=str(tmp_path))
    cache = readers._cache_path(str(folder / "train.npz"))
    for damage in (b"garbage", None):
        if damage:
            open(cache, "wb").write(damage)  # truncated or overwritten
        else:
            np.savez(cache, x=np.zeros((2, 8, 8, 3), np.uint8))  # the wrong images
        again, _, _ = load_arrays("packed", "train", data_dir=str(tmp_path))
        np.testing.assert_array_equal(again, first)
