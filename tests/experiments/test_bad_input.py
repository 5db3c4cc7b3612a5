"""Bad input of every kind is refused in seconds: one line on stderr, exit code 2, nothing written.

Each case runs a recipe's whole command line in this process
(`runner.run_command`, what ``python recipes/<name>.py`` runs), so the
exit code and stderr are the recipe's own; the subprocess tests at the end
check the same through a real ``python recipes/...`` process.
"""

import json
import shutil
import time

import conftest
import numpy as np
import pytest
from conftest import assert_refused
from conftest import command
from conftest import snapshot

# Settings and flags: (recipe, flags, what the error line names).
SETTINGS = {
    "nan_learning_rate": ("htcnn", ["--learning_rate=nan"], "finite"),
    "inf_learning_rate": ("layer_transfer", ["--learning_rate=inf"], "finite"),
    "negative_learning_rate": ("htcnn", ["--learning_rate=-0.1"], "learning_rate > 0"),
    "negative_deadline": ("htcnn", ["--deadline_seconds=-5"], "deadline_seconds must be > 0"),
    "momentum_above_one": ("htcnn", ["--momentum=1.5"], "momentum in [0, 1)"),
    "zero_image_size": ("htcnn", ["--image_size=0"], "image_size >= 8"),
    "zero_epochs": ("htcnn", ["--epochs=0"], "epochs to be an integer >= 1"),
    "fractional_epochs": ("htcnn", ["--epochs=2.5"], "--epochs"),
    "unknown_flag": ("htcnn", ["--epochz=3"], "epochz"),
    "positional_argument": ("htcnn", ["train"], "only --name=value flags"),
    "unknown_preset": ("htcnn", ["--preset=fast"], "--preset must be one of"),
    "non_dividing_m": ("htcnn", ["--num_shallow=3"], "divide"),
    "cap_below_classes": ("htcnn", ["--max_train_examples=5"], "max_train_examples >= 10"),
    "multi_worker_without_tf_config": ("htcnn", ["--strategy=multi_worker"], "TF_CONFIG"),
    "bad_steps_per_execution": ("htcnn", ["--steps_per_execution=0"], "steps_per_execution"),
    "overlapping_classes": (
        "layer_transfer",
        ["--source_classes=0-4", "--target_classes=4-9"],
        "disjoint",
    ),
    "k_above_class_size": ("layer_transfer", ["--ks=1,500"], "k=500"),
    "pretrain_cap_below_classes": ("fusion", ["--pretrain_examples=5"], "pretrain_examples >= 10"),
    "fusion_image_too_small": ("fusion", ["--image_size=1"], "image_size >= 2"),
    "custom_blocks_not_stages": ("fusion", ["--custom_blocks=6"], "multiple of 4"),
    "teacher_image_too_small": (
        "compact_transfer",
        ["--teacher_image_size=4"],
        "teacher_image_size >= 32",
    ),
    "first_resolution_too_small": (
        "coarse2fine",
        ["--resolutions=1,2,4", "--widen_at=0"],
        "first resolution >= 2",
    ),
    "alpha_above_one": ("compact_transfer", ["--alpha=1.5"], "alpha"),
    "zero_temperature": ("compact_transfer", ["--temperature=0"], "temperature"),
    "non_dividing_resolutions": (
        "coarse2fine",
        ["--resolutions=3,8", "--stage_epochs=1,1", "--widen_at=0"],
        "integer factor",
    ),
    "resolution_above_dataset": (
        "coarse2fine",
        ["--resolutions=8,16", "--stage_epochs=1,1", "--widen_at=0"],
        "image size 8",
    ),
    "unknown_dataset": ("htcnn", ["--dataset=no_such_dataset"], "not found"),
    "missing_data_dir": (
        "htcnn",
        ["--dataset=cifar10", "--data_dir=/no/such/data_dir"],
        "does not exist",
    ),
    "negative_seed": ("htcnn", ["--seed=-1"], "--seed"),
    "image_size_beyond_memory": ("htcnn", ["--image_size=100000"], "fit in memory"),
    "seed_beyond_32_bits": ("fusion", ["--seed=4294967296"], "--seed"),
}


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_bad_setting_is_refused_in_one_line(case, tmp_path, capsys, monkeypatch):
    recipe, args, fragment = SETTINGS[case]
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert_refused(recipe, args, fragment, tmp_path / "out", capsys)


def _dataset(root, name, train, test=None, classes=None):
    """Writes ``root/name/{train,test}.npz`` from ``(x, y)`` pairs."""
    folder = root / name
    folder.mkdir(parents=True)
    for split, (x, y) in (("train", train), ("test", test or train)):
        np.savez(folder / f"{split}.npz", x=x, y=y)
    if classes:
        (folder / "classes.txt").write_text("\n".join(classes) + "\n")
    return root


def _digits_like(n=60, size=8, dtype=np.uint8, scale=255):
    rng = np.random.RandomState(0)
    x = (rng.rand(n, size, size, 1) * scale).astype(dtype)
    return x, np.arange(n) % 10


def _data_case(case):
    """(train, test, classes.txt) of a broken dataset, and what the error line names."""
    x, y = _digits_like()
    return {
        "float_pixels_far_outside_0_255": (
            (x.astype(np.float32) * 40, y),
            None,
            None,
            "floats from",
        ),
        "nan_pixels": ((np.full(x.shape, np.nan, np.float32), y), None, None, "finite"),
        "negative_integer_pixels": ((x.astype(np.int16) - 300, y), None, None, "0..255"),
        "string_labels": ((x, y.astype(str)), None, None, "as integers, received dtype"),
        "fractional_labels": ((x, y + 0.5), None, None, "non-integral"),
        "negative_labels": ((x, y - 1), None, None, "[0,"),
        "labels_beyond_classes_txt": ((x, y), None, [str(i) for i in range(5)], "Corrupt"),
        "single_class": ((x, np.zeros_like(y)), None, None, "at least 2 classes"),
        "empty_training_split": ((x[:0], y[:0]), (x, y), None, "at least one image"),
        "label_count_mismatch": ((x, y[:-3]), None, None, "one label per image"),
        "split_shapes_differ": ((x, y), _digits_like(size=6), None, "one shape"),
        "zero_width_images": ((x[:, :, :0], y), None, None, "non-zero H, W, C"),
    }[case]


DATA_CASES = [
    "float_pixels_far_outside_0_255",
    "nan_pixels",
    "negative_integer_pixels",
    "string_labels",
    "fractional_labels",
    "negative_labels",
    "labels_beyond_classes_txt",
    "single_class",
    "empty_training_split",
    "label_count_mismatch",
    "split_shapes_differ",
    "zero_width_images",
]


@pytest.mark.parametrize("case", DATA_CASES)
def test_bad_dataset_is_refused_at_load_in_one_line(case, tmp_path, capsys):
    train, test, classes, fragment = _data_case(case)
    root = _dataset(tmp_path / "data", "broken", train, test, classes)
    assert_refused(
        "htcnn", ["--dataset=broken", f"--data_dir={root}"], fragment, tmp_path / "out", capsys
    )


def test_corrupt_npz_is_refused_in_one_line(tmp_path, capsys):
    folder = tmp_path / "data" / "broken"
    folder.mkdir(parents=True)
    (folder / "train.npz").write_bytes(np.random.RandomState(0).bytes(256))
    (folder / "test.npz").write_bytes(np.random.RandomState(1).bytes(256))
    assert_refused(
        "htcnn",
        ["--dataset=broken", f"--data_dir={tmp_path / 'data'}"],
        "Corrupt npz",
        tmp_path / "out",
        capsys,
    )


def test_unreadable_file_in_an_image_folder_is_refused_in_one_line(tmp_path, capsys):
    from PIL import Image

    for split in ("train", "test"):
        for label in ("a", "b"):
            folder = tmp_path / "data" / "pictures" / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(folder / f"{i}.png")
    (tmp_path / "data" / "pictures" / "train" / "b" / "broken.jpg").write_bytes(b"not a jpeg")
    assert_refused(
        "htcnn",
        ["--dataset=pictures", f"--data_dir={tmp_path / 'data'}"],
        "broken.jpg",
        tmp_path / "out",
        capsys,
    )


def test_float_pixels_in_unit_range_are_accepted(tmp_path):
    from keras_transfer import data

    x, y = _digits_like(dtype=np.float32, scale=1)
    root = _dataset(tmp_path / "data", "unit", (x, y))
    xl, yl, _ = data.load_arrays("unit", data_dir=str(root))
    assert xl.dtype == np.uint8
    np.testing.assert_array_equal(xl, np.round(x * 255).astype(np.uint8))


def test_output_dir_that_is_a_file_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("keep me")
    from keras_transfer.experiments import runner

    capsys.readouterr()
    code = runner.run_command("htcnn", command("htcnn", [], out), "digits")
    assert code == 2
    assert "a folder" in capsys.readouterr().err
    assert out.read_text() == "keep me"


def test_unwritable_location_is_refused(tmp_path, capsys):
    # /proc refuses new files even for root (tests may run as root, which ignores chmod).
    assert_refused("htcnn", [], "writable", "/proc/keras_transfer_test_run", capsys)


def test_unwritable_export_location_is_refused_before_training(tmp_path, capsys):
    # Exports are written last: without this check a run trained to the end, then failed.
    assert_refused(
        "htcnn",
        ["--export", "--export_dir=/proc/keras_transfer_exports"],
        "writable location for --export_dir",
        tmp_path / "out",
        capsys,
    )


def test_full_disk_is_refused(tmp_path, capsys, monkeypatch):
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 2**20, 2**20))
    assert_refused("htcnn", [], "MB free", tmp_path / "out", capsys)


def test_finished_run_folder_is_never_modified(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"status": "finished"}))
    (out / "history.csv").write_text("run,repeat\n")
    before = snapshot(out)
    for extra in ([], ["--resume"]):
        assert_refused("htcnn", extra, "finished run", out, capsys, before=before)


def test_unfinished_run_folder_needs_resume(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run_settings.json").write_text("{}")
    before = snapshot(out)
    assert_refused("htcnn", [], "--resume", out, capsys, before=before)


def test_refusal_traceback_only_under_debug_verbosity(tmp_path, capsys):
    from keras_transfer.experiments import runner

    argv = command("htcnn", ["--learning_rate=nan", "--verbosity=debug"], tmp_path / "out")
    capsys.readouterr()
    assert runner.run_command("htcnn", argv, "digits") == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("error: Expected learning_rate")


@pytest.mark.slow
@pytest.mark.parametrize(
    "recipe,args,fragment",
    [
        # A refused setting: each recipe's test_recipe_exits_with_the_refusal
        # (conftest.assert_recipe_refuses). Here the flag parser's own refusal.
        ("htcnn", ["--epochz=3"], "error: "),
    ],
)
def test_recipe_process_exits_2_with_one_line(recipe, args, fragment, tmp_path):
    out = tmp_path / "out"
    start = time.perf_counter()
    proc = conftest.run_recipe(recipe, *command(recipe, args, out)[1:], timeout=120)
    assert time.perf_counter() - start < conftest.REFUSAL_SECONDS
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(fragment), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not out.exists()
