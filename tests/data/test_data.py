"""Data sources (npz, JPEG-packed npz, image folder, digits, shared data) and transforms."""

import io
import os
import time

import numpy as np
import pytest
from PIL import Image

from keras_transfer import data

# ---------------------------------------------------------------------------
# helpers


def _write_classes(folder, names):
    (folder / "classes.txt").write_text("".join(f"{n}\n" for n in names))


def _smooth_images(n, size=16, seed=0):
    """Smooth random RGB images (upsampled noise), which JPEG keeps well."""
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(n):
        small = Image.fromarray(rng.randint(0, 256, (4, 4, 3), dtype=np.uint8))
        out.append(np.asarray(small.resize((size, size), Image.BILINEAR)))
    return np.stack(out)


def _pack_jpeg(images, quality=95):
    chunks = []
    for img in images:
        b = io.BytesIO()
        Image.fromarray(img).save(b, format="JPEG", quality=quality, subsampling=0)
        chunks.append(np.frombuffer(b.getvalue(), np.uint8))
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)
    return np.concatenate(chunks), offsets


# ---------------------------------------------------------------------------
# npz sources


def test_npz_plain_x_y(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, (6, 5, 7, 3), dtype=np.uint8)
    y = np.array([0, 1, 2, 0, 1, 2])
    np.savez(folder / "train.npz", x=x, y=y)
    _write_classes(folder, ["ant", "bee", "cow"])

    xl, yl, info = data.load_arrays("tiny", "train", data_dir=str(tmp_path))
    np.testing.assert_array_equal(xl, x)
    np.testing.assert_array_equal(yl, y)
    assert xl.dtype == np.uint8 and yl.dtype == np.int64
    assert info.source == "npz"
    assert info.class_names == ("ant", "bee", "cow")
    assert info.num_classes == 3
    assert info.image_shape == (5, 7, 3)
    assert info.size == 6
    assert "tiny" in data.available(str(tmp_path))


def test_npz_grayscale_gets_channel_axis_and_default_class_names(tmp_path):
    folder = tmp_path / "gray"
    folder.mkdir()
    x = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3)
    np.savez(folder / "test.npz", x=x, y=np.array([0, 1, 1, 0]))
    xl, yl, info = data.load_arrays("gray", "test", data_dir=str(tmp_path))
    assert xl.shape == (4, 3, 3, 1)
    np.testing.assert_array_equal(xl[..., 0], x)
    assert info.class_names == ("0", "1")  # no classes.txt: labels as names


def test_npz_label_beyond_classes_txt_is_corrupt(tmp_path):
    folder = tmp_path / "lab"
    folder.mkdir()
    np.savez(folder / "train.npz", x=np.zeros((2, 2, 2, 1), np.uint8), y=np.array([0, 5]))
    _write_classes(folder, ["a", "b"])
    with pytest.raises(ValueError, match="Corrupt"):
        data.load_arrays("lab", data_dir=str(tmp_path))


def test_npz_jpeg_packed_decodes_close_to_originals_and_caches(tmp_path, cache_dir):
    folder = tmp_path / "packed"
    folder.mkdir()
    images = _smooth_images(5, size=16)
    buf, offsets = _pack_jpeg(images, quality=95)
    y = np.array([1, 0, 1, 1, 0])
    np.savez(folder / "train.npz", jpeg=buf, offsets=offsets, y=y)
    _write_classes(folder, ["neg", "pos"])

    before = set(os.listdir(cache_dir)) if cache_dir.exists() else set()
    x, yl, info = data.load_arrays("packed", "train", data_dir=str(tmp_path))
    assert x.shape == (5, 16, 16, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(yl, y)
    assert info.source == "npz"
    assert info.class_names == ("neg", "pos")
    assert info.image_shape == (16, 16, 3)
    diff = np.abs(x.astype(np.int32) - images.astype(np.int32))
    assert diff.mean() < 2.0, diff.mean()  # lossy, but q95 4:4:4 is close
    assert diff.max() < 40

    # The decoded arrays are cached under $KERAS_TRANSFER_CACHE (not next to the data)...
    new = set(os.listdir(cache_dir)) - before
    assert len(new) == 1 and next(iter(new)).endswith(".npz")
    assert sorted(os.listdir(folder)) == ["classes.txt", "train.npz"]
    # ...and a second load, served from the cache, is identical.
    x2, y2, _ = data.load_arrays("packed", "train", data_dir=str(tmp_path))
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)


# ---------------------------------------------------------------------------
# image folder source


def test_image_folder_labels_follow_class_folders(tmp_path):
    root = tmp_path / "shapes" / "train"
    values = {"circle": 10, "square": 200, "triangle": 90}
    for cls, value in values.items():
        (root / cls).mkdir(parents=True)
        for i in range(3 if cls != "square" else 2):
            img = np.full((6, 6, 3), value + i, np.uint8)
            Image.fromarray(img).save(root / cls / f"{i}.png")
    (root / "circle" / "notes.txt").write_text("not an image")

    x, y, info = data.load_arrays("shapes", "train", data_dir=str(tmp_path))
    assert info.source == "image_folder"
    assert info.class_names == ("circle", "square", "triangle")  # sorted folder names
    assert x.shape == (8, 6, 6, 3)
    np.testing.assert_array_equal(np.bincount(y), [3, 2, 3])
    for img, label in zip(x, y):
        base = values[info.class_names[label]]
        assert base <= img[0, 0, 0] < base + 3
        assert np.all(img == img[0, 0, 0])  # PNG is lossless


def test_image_folder_uses_classes_txt_order(tmp_path):
    root = tmp_path / "ordered"
    for cls, value in (("a", 1), ("b", 2)):
        (root / "test" / cls).mkdir(parents=True)
        Image.fromarray(np.full((4, 4, 3), value, np.uint8)).save(root / "test" / cls / "x.png")
    _write_classes(root, ["b", "a"])
    x, y, info = data.load_arrays("ordered", "test", data_dir=str(tmp_path))
    assert info.class_names == ("b", "a")
    assert dict(zip(y.tolist(), x[:, 0, 0, 0].tolist())) == {0: 2, 1: 1}


# ---------------------------------------------------------------------------
# digits and the shared datasets


def test_digits_splits():
    from sklearn.datasets import load_digits

    xtr, ytr, info = data.load_arrays("digits", "train")
    xte, yte, info_te = data.load_arrays("digits", "test")
    assert xtr.shape[1:] == (8, 8, 1) and xte.shape[1:] == (8, 8, 1)
    assert xtr.dtype == np.uint8 and xtr.max() == 255
    assert info.source == "digits" and info.num_classes == 10
    assert info.class_names == tuple(str(i) for i in range(10))
    assert len(ytr) + len(yte) == 1797
    assert info.size == len(ytr) and info_te.size == len(yte)
    assert set(ytr.tolist()) == set(range(10)) == set(yte.tolist())

    # train and test partition the full set (disjoint, covering): as a multiset
    # of (image, label) rows they equal sklearn's 1797 digits.
    full = load_digits()
    ref = np.concatenate(
        [np.round(full.images * 255 / 16).reshape(-1, 64), full.target[:, None]], axis=1
    ).astype(np.int64)
    got = np.concatenate(
        [np.concatenate([xtr, xte]).reshape(-1, 64), np.concatenate([ytr, yte])[:, None]], axis=1
    ).astype(np.int64)
    ref = ref[np.lexsort(ref.T[::-1])]
    got = got[np.lexsort(got.T[::-1])]
    np.testing.assert_array_equal(got, ref)
    # deterministic
    np.testing.assert_array_equal(data.load_arrays("digits", "train")[1], ytr)


def test_shared_natural_images(shared_data):
    if not (shared_data / "natural_images" / "train.npz").exists():
        pytest.skip(f"natural_images not in {shared_data}")
    x, y, info = data.load_arrays("natural_images", "train", data_dir=str(shared_data))
    assert x.shape == (5519, 30, 30, 3) and x.dtype == np.uint8
    assert info.source == "npz"
    assert info.num_classes == 8 and info.class_names[0] == "airplane"
    assert y.min() == 0 and y.max() == 7
    assert "natural_images" in data.available(str(shared_data))


# ---------------------------------------------------------------------------
# errors


def test_missing_dataset_fails_fast_offline(tmp_path):
    start = time.perf_counter()
    with pytest.raises(ValueError, match="no_such_dataset"):
        data.load_arrays("no_such_dataset", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 10.0


def _bad_folder(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    return folder


def _assert_corrupt(tmp_path):
    with pytest.raises(ValueError, match="Corrupt"):
        data.load_arrays("bad", data_dir=str(tmp_path))


def test_corrupt_npz_random_bytes(tmp_path):
    folder = _bad_folder(tmp_path)
    rng = np.random.RandomState(1)
    for blob in (
        rng.bytes(2000),
        b"PK\x03\x04" + rng.bytes(200),
        b"\x93NUMPY" + rng.bytes(200),
        b"",
    ):
        (folder / "train.npz").write_bytes(blob)
        _assert_corrupt(tmp_path)


def test_corrupt_npz_single_array(tmp_path):
    folder = _bad_folder(tmp_path)
    with open(folder / "train.npz", "wb") as f:
        np.save(f, np.zeros((2, 2)))
    _assert_corrupt(tmp_path)


def test_corrupt_npz_wrong_keys(tmp_path):
    folder = _bad_folder(tmp_path)
    np.savez(folder / "train.npz", images=np.zeros((2, 2, 2, 1), np.uint8), labels=[0, 1])
    _assert_corrupt(tmp_path)
    np.savez(folder / "train.npz", jpeg=np.zeros(4, np.uint8), y=[0])  # no offsets
    _assert_corrupt(tmp_path)


def test_corrupt_npz_x_y_length_mismatch(tmp_path):
    folder = _bad_folder(tmp_path)
    np.savez(folder / "train.npz", x=np.zeros((3, 2, 2, 1), np.uint8), y=[0, 1])
    _assert_corrupt(tmp_path)


@pytest.mark.parametrize("breakage", ["short_end", "nonzero_start", "float", "2d", "garbage"])
def test_corrupt_npz_bad_offsets(tmp_path, breakage):
    folder = _bad_folder(tmp_path)
    buf, offsets = _pack_jpeg(_smooth_images(3, size=8))
    y = np.array([0, 1, 0])
    if breakage == "short_end":
        offsets = offsets.copy()
        offsets[-1] -= 5
    elif breakage == "nonzero_start":
        offsets = offsets + 1
    elif breakage == "float":
        offsets = offsets.astype(np.float64)
    elif breakage == "2d":
        offsets = np.stack([offsets, offsets])
    elif breakage == "garbage":  # offsets fine, the middle image's bytes are not a JPEG
        buf = buf.copy()
        buf[offsets[1] : offsets[2]] = np.random.RandomState(0).randint(
            0, 256, offsets[2] - offsets[1]
        )
    np.savez(folder / "train.npz", jpeg=buf, offsets=offsets, y=y)
    _assert_corrupt(tmp_path)


def test_unknown_split():
    with pytest.raises(ValueError, match="split"):
        data.load_arrays("digits", "validation")
    with pytest.raises(ValueError, match="split"):
        data.load("digits", "val")


# ---------------------------------------------------------------------------
# transforms


def _labels():
    rng = np.random.RandomState(3)
    counts = [17, 9, 23, 5, 14]  # uneven classes, remainders differ
    y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
    return y[rng.permutation(len(y))]


def test_shard_indices_disjoint_covering_stratified():
    y = _labels()
    for n in (1, 2, 3, 5):
        shards = data.shard_indices(y, n, seed=0)
        assert len(shards) == n
        joined = np.concatenate(shards)
        assert len(joined) == len(y)
        np.testing.assert_array_equal(np.sort(joined), np.arange(len(y)))  # once each
        for s in shards:
            assert s.dtype == np.int64
            np.testing.assert_array_equal(s, np.sort(s))
        counts = np.stack([np.bincount(y[s], minlength=5) for s in shards])  # shard x class
        assert np.all(counts.max(axis=0) - counts.min(axis=0) <= 1), counts
        sizes = [len(s) for s in shards]
        assert max(sizes) - min(sizes) <= 1, sizes


def test_shard_indices_seeded():
    y = _labels()
    a = data.shard_indices(y, 3, seed=7)
    b = data.shard_indices(y, 3, seed=7)
    c = data.shard_indices(y, 3, seed=8)
    for s, t in zip(a, b):
        np.testing.assert_array_equal(s, t)
    assert any(not np.array_equal(s, t) for s, t in zip(a, c))


@pytest.mark.parametrize("bad", [0, -1, 2.5, "2", 69])
def test_shard_indices_bad_num_shards(bad):
    y = _labels()  # 68 examples
    with pytest.raises(ValueError, match="num_shards"):
        data.shard_indices(y, bad)


def test_shard_indices_rejects_2d_labels():
    with pytest.raises(ValueError):
        data.shard_indices(np.zeros((4, 2), int), 2)


def test_per_class_indices():
    y = _labels()
    idx = data.per_class_indices(y, 4, seed=1)
    assert len(idx) == 20 and len(np.unique(idx)) == 20
    np.testing.assert_array_equal(np.bincount(y[idx]), [4] * 5)
    np.testing.assert_array_equal(idx, data.per_class_indices(y, 4, seed=1))
    assert not np.array_equal(idx, data.per_class_indices(y, 4, seed=2))
    sub = data.per_class_indices(y, 3, seed=0, classes=[0, 2])
    np.testing.assert_array_equal(np.bincount(y[sub], minlength=5), [3, 0, 3, 0, 0])
    with pytest.raises(ValueError, match="at least k=6"):
        data.per_class_indices(y, 6)  # class 3 has only 5
    with pytest.raises(ValueError):
        data.per_class_indices(y, 0)


def test_select_classes_relabels():
    x = np.arange(6)[:, None, None, None] * np.ones((6, 2, 2, 1))
    y = np.array([3, 5, 3, 7, 5, 1])
    xs, ys = data.select_classes(x, y, [5, 3])
    np.testing.assert_array_equal(ys, [1, 0, 1, 0])
    np.testing.assert_array_equal(xs[:, 0, 0, 0], [0, 1, 2, 4])  # order kept
    with pytest.raises(ValueError, match="unknown"):
        data.select_classes(x, y, [3, 4])
    with pytest.raises(ValueError, match="distinct"):
        data.select_classes(x, y, [3, 3])


def test_prepare_images_area_downscale_is_exact_on_blocks():
    rng = np.random.RandomState(0)
    small = rng.randint(0, 256, (3, 5, 4, 3), dtype=np.uint8)
    big = np.repeat(np.repeat(small, 2, axis=1), 2, axis=2)  # 2x2 constant blocks
    out = data.prepare_images(big, (5, 4))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, small)
    # mean of each 2x2 block when the blocks are not constant
    avg = data.prepare_images(np.array([[[0], [2]], [[4], [6]]], np.uint8)[None], 1)
    assert avg.shape == (1, 1, 1, 1) and avg[0, 0, 0, 0] == 3
    assert data.prepare_images(small, 10).shape == (3, 10, 10, 3)  # enlarge (bilinear)
    np.testing.assert_array_equal(data.prepare_images(small), small)  # no-op


def test_prepare_images_colour_conversions():
    rng = np.random.RandomState(1)
    rgb = rng.randint(0, 256, (4, 3, 3, 3), dtype=np.uint8)
    gray = data.prepare_images(rgb, color="grayscale")
    assert gray.shape == (4, 3, 3, 1) and gray.dtype == np.uint8
    expected = np.round(rgb.astype(np.float64) @ [0.299, 0.587, 0.114])
    assert np.abs(gray[..., 0].astype(int) - expected).max() <= 1
    pil = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in rgb])
    assert np.abs(gray[..., 0].astype(int) - pil.astype(int)).max() <= 1

    one = rng.randint(0, 256, (2, 3, 3, 1), dtype=np.uint8)
    three = data.prepare_images(one, color="rgb")
    assert three.shape == (2, 3, 3, 3)
    for c in range(3):
        np.testing.assert_array_equal(three[..., c], one[..., 0])
    np.testing.assert_array_equal(data.prepare_images(one, color="grayscale"), one)
    np.testing.assert_array_equal(data.prepare_images(rgb, color="rgb"), rgb)
    with pytest.raises(ValueError):
        data.prepare_images(rgb, color="cmyk")
    with pytest.raises(ValueError):
        data.prepare_images(rgb[0])  # not N x H x W x C


def test_load_image_data_resizes_and_converts():
    d = data.load_image_data("digits", "test", image_size=16, color="rgb")
    assert d.x.shape[1:] == (16, 16, 3)
    assert d.info.image_shape == (16, 16, 3)
    assert len(d) == 360
    sub = d.take(np.arange(10))
    assert len(sub) == 10 and sub.info.size == 10


# ---------------------------------------------------------------------------
# tf.data pipeline


def _ids_dataset(n=50):
    x = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 1), np.uint8)
    return x, np.arange(n)


def _label_order(ds, batches):
    out = []
    for _, labels in ds.take(batches):
        out.extend(labels.numpy().tolist())
    return out


def test_make_dataset_same_seed_same_order():
    x, y = _ids_dataset()
    kw = dict(shuffle=True, repeat=True)
    a = _label_order(data.make_dataset(x, y, 8, seed=5, **kw), 14)  # > 2 passes
    b = _label_order(data.make_dataset(x, y, 8, seed=5, **kw), 14)
    c = _label_order(data.make_dataset(x, y, 8, seed=6, **kw), 14)
    assert a == b
    assert a != c
    assert sorted(a[:50]) == list(range(50))  # first pass is a permutation
    assert a[:50] != list(range(50))  # actually shuffled
    assert a[50:100] != a[:50]  # reshuffled each pass


def test_make_dataset_values_mean_and_batches():
    x, y = _ids_dataset(10)
    mean = np.array([0.01], np.float32)
    ds = data.make_dataset(x, y, 4, mean=mean)
    batches = list(ds)
    assert [int(b[0].shape[0]) for b in batches] == [4, 4, 2]
    images = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert images.dtype == np.float32 and labels.dtype == np.int32
    np.testing.assert_allclose(images, x / 255.0 - 0.01, atol=1e-6)
    np.testing.assert_array_equal(labels, y)
    dropped = list(data.make_dataset(x, y, 4, drop_remainder=True))
    assert len(dropped) == 2
    with pytest.raises(ValueError):
        data.make_dataset(x, y, 0)
    with pytest.raises(ValueError):
        data.make_dataset(x, y[:-1], 4)


def test_load_digits_pipeline():
    ds, info = data.load("digits", "train", batch_size=32)
    images, labels = next(iter(ds))
    assert tuple(images.shape) == (32, 8, 8, 1) and tuple(labels.shape) == (32,)
    assert images.dtype.name == "float32" and labels.dtype.name == "int32"
    assert float(images.numpy().min()) >= 0.0 and float(images.numpy().max()) <= 1.0
    assert info.num_classes == 10 and info.image_shape == (8, 8, 1)

    # test split: not shuffled by default, and the *training* mean is subtracted
    xtr, _, _ = data.load_arrays("digits", "train")
    xte, yte, _ = data.load_arrays("digits", "test")
    ds, _ = data.load("digits", "test", batch_size=100, subtract_mean=True, color="rgb")
    images, labels = next(iter(ds))
    assert tuple(images.shape) == (100, 8, 8, 3)
    train_mean = xtr.mean() / 255.0
    np.testing.assert_allclose(
        images.numpy()[..., 1], xte[:100, ..., 0] / 255.0 - train_mean, atol=1e-5
    )
    np.testing.assert_array_equal(labels.numpy(), yte[:100])

    # train split with mean subtraction is centred
    ds, _ = data.load("digits", "train", batch_size=2000, subtract_mean=True)
    images, _ = next(iter(ds))
    assert abs(float(images.numpy().mean())) < 1e-5
