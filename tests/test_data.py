"""Tests for experiments/data.py: generated datasets, the MNIST-1D cache, IDX files."""

from __future__ import annotations

import gzip
import os
import pathlib
import random

import numpy as np
import pytest

from experiments import data

# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def _check_dataset(ds: data.Dataset, *, name: str, shape_train, shape_test, num_classes: int):
    assert ds.name == name
    assert ds.x_train.shape == shape_train and ds.x_test.shape == shape_test
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == np.int32 and ds.y_test.dtype == np.int32
    assert ds.y_train.shape == (shape_train[0],) and ds.y_test.shape == (shape_test[0],)
    assert ds.num_classes == num_classes
    assert ds.num_train == shape_train[0] and ds.num_test == shape_test[0]
    assert ds.num_features == shape_train[1]
    labels = np.concatenate([ds.y_train, ds.y_test])
    # every class occurs, and nothing outside [0, num_classes)
    np.testing.assert_array_equal(np.unique(labels), np.arange(num_classes))
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_test).all()
    assert isinstance(ds.description, str) and ds.description and "\n" not in ds.description


def _same(a: data.Dataset, b: data.Dataset) -> bool:
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("x_train", "y_train", "x_test", "y_test")
    )


def _linear_fit_accuracy(ds: data.Dataset) -> float:
    """Test accuracy of a least-squares linear classifier (a linear baseline)."""

    def design(x):
        return np.concatenate([x.astype(np.float64), np.ones((len(x), 1))], axis=1)

    w, *_ = np.linalg.lstsq(design(ds.x_train), 2.0 * ds.y_train - 1.0, rcond=None)
    return float(((design(ds.x_test) @ w > 0) == (ds.y_test == 1)).mean())


def _nearest_neighbour_accuracy(ds: data.Dataset) -> float:
    d = ((ds.x_test[:, None, :] - ds.x_train[None, :, :]) ** 2).sum(-1)
    return float((ds.y_train[d.argmin(1)] == ds.y_test).mean())


# --------------------------------------------------------------------------- #
# load() dispatch and arguments
# --------------------------------------------------------------------------- #


def test_datasets_tuple():
    assert data.DATASETS == ("mnist1d", "binary", "spirals", "xor", "mnist", "fashion_mnist")


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="'cifar10'") as info:
        data.load("cifar10")
    for name in data.DATASETS:
        assert name in str(info.value)


def test_bad_arguments():
    with pytest.raises(TypeError, match="name"):
        data.load(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        data.load("xor", seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        data.load("xor", seed=True)
    with pytest.raises(ValueError, match="seed"):
        data.load("xor", seed=-1)
    with pytest.raises(TypeError, match="data_dir"):
        data.load("mnist", data_dir=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_samples"):
        data.make_xor(num_samples=1)
    with pytest.raises(ValueError, match="noise"):
        data.make_spirals(noise=-0.1)
    with pytest.raises(ValueError, match="turns"):
        data.make_spirals(turns=0.0)


@pytest.mark.parametrize("name", ["binary", "spirals", "xor"])
def test_load_generated_matches_generator(name):
    make = {"binary": data.make_binary, "spirals": data.make_spirals, "xor": data.make_xor}[name]
    assert _same(data.load(name, seed=3), make(seed=3))


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXACT_DATA_DIR", str(tmp_path / "d"))
    assert data.default_data_dir() == tmp_path / "d"
    monkeypatch.delenv("JAXACT_DATA_DIR")
    assert data.default_data_dir() == pathlib.Path.home() / ".cache" / "jaxact"
    monkeypatch.setenv("JAXACT_DATA_DIR", "")
    assert data.default_data_dir() == pathlib.Path.home() / ".cache" / "jaxact"


def test_load_uses_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXACT_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "mnist")):
        data.load("mnist")


# --------------------------------------------------------------------------- #
# Dataset container
# --------------------------------------------------------------------------- #


def _toy(**overrides):
    fields = dict(
        name="toy",
        x_train=np.zeros((3, 2), np.float32),
        y_train=np.array([0, 1, 1], np.int32),
        x_test=np.zeros((2, 2), np.float32),
        y_test=np.array([1, 0], np.int32),
        num_classes=2,
        description="toy",
    )
    fields.update(overrides)
    return data.Dataset(**fields)


def test_dataset_validation():
    assert _toy().num_features == 2
    with pytest.raises(TypeError, match="x_train"):
        _toy(x_train=np.zeros((3, 2), np.float64))
    with pytest.raises(TypeError, match="y_test"):
        _toy(y_test=np.array([1, 0], np.int64))
    with pytest.raises(ValueError, match=r"y_train.*\[0, 2\)"):
        _toy(y_train=np.array([0, 1, 2], np.int32))
    with pytest.raises(ValueError, match="x_train has 3 rows"):
        _toy(y_train=np.array([0, 1], np.int32))
    with pytest.raises(ValueError, match="features"):
        _toy(x_test=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="num_classes"):
        _toy(num_classes=0)
    ds = _toy()
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- #
# binary (seed 002)
# --------------------------------------------------------------------------- #


def test_binary_shapes_and_rule():
    ds = data.load("binary", seed=0)
    _check_dataset(ds, name="binary", shape_train=(800, 3), shape_test=(200, 3), num_classes=2)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.min() >= 0.0 and x.max() < 100.0  # raw units, U[0, 100)
        x64 = x.astype(np.float64)
        rule = (x64.min(axis=1) >= 40.0) & (x64.mean(axis=1) >= 60.0)
        np.testing.assert_array_equal(y, rule.astype(np.int32))


def test_binary_rule_boundaries():
    x = np.array([[40.0, 70.0, 70.0], [39.99, 99.0, 99.0], [60.0, 60.0, 60.0], [59.0, 60.0, 60.0]])
    np.testing.assert_array_equal(data.binary_rule(x), [1, 0, 1, 0])
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        data.binary_rule(np.zeros((2, 2)))


def test_binary_class_balance_matches_theory():
    # P(positive) = 0.6**3 * 5/6 = 0.18; with 20,000 rows the standard error is 0.0027.
    ds = data.make_binary(num_samples=20_000, seed=1)
    rate = np.concatenate([ds.y_train, ds.y_test]).mean()
    assert abs(rate - 0.18) < 0.015


def test_binary_deterministic_per_seed():
    assert _same(data.make_binary(seed=5), data.make_binary(seed=5))
    assert not _same(data.make_binary(seed=5), data.make_binary(seed=6))


# --------------------------------------------------------------------------- #
# xor and spirals
# --------------------------------------------------------------------------- #


def test_xor():
    ds = data.load("xor", seed=0)
    _check_dataset(ds, name="xor", shape_train=(800, 2), shape_test=(200, 2), num_classes=2)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert np.abs(x).max() <= 1.0
        np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] > 0).astype(np.int32))
    # not linearly separable: a linear classifier is near chance, nearest neighbour is not
    assert _linear_fit_accuracy(ds) < 0.65
    assert _nearest_neighbour_accuracy(ds) > 0.9


@pytest.mark.parametrize("make", [data.make_xor, data.make_spirals])
def test_generated_deterministic_per_seed(make):
    a, b, c = make(seed=11), make(seed=11), make(seed=12)
    assert _same(a, b)
    assert a.description == b.description
    assert not _same(a, c)
    assert not np.array_equal(a.x_train[:, 0], c.x_train[:, 0])


def test_spirals():
    ds = data.load("spirals", seed=0)
    _check_dataset(ds, name="spirals", shape_train=(800, 2), shape_test=(200, 2), num_classes=2)
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert (labels == 0).sum() == (labels == 1).sum() == 500
    assert _linear_fit_accuracy(ds) < 0.7
    assert _nearest_neighbour_accuracy(ds) > 0.9


def test_spirals_geometry_without_noise():
    turns = 1.5
    ds = data.make_spirals(num_samples=400, noise=0.0, turns=turns, seed=2)
    x = np.concatenate([ds.x_train, ds.x_test]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_test])
    r = np.hypot(x[:, 0], x[:, 1])
    assert r.max() <= 1.0 + 1e-6
    # class 0 lies on angle = 2*pi*turns*r, class 1 on the same curve turned by pi
    expected = 2 * np.pi * turns * r + np.pi * y
    diff = np.angle(np.exp(1j * (np.arctan2(x[:, 1], x[:, 0]) - expected)))
    np.testing.assert_allclose(diff, 0.0, atol=1e-4)


# --------------------------------------------------------------------------- #
# MNIST-1D
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def mnist1d_dir(tmp_path_factory):
    """A data_dir where the real generator has run once (about 3 s)."""
    directory = tmp_path_factory.mktemp("mnist1d")
    np.random.seed(1234)
    random.seed(1234)
    before = (np.random.get_state()[1].copy(), random.getstate())
    ds = data.load("mnist1d", data_dir=directory)
    after = (np.random.get_state()[1].copy(), random.getstate())
    return directory, ds, before, after


def test_mnist1d_published_defaults(mnist1d_dir):
    _, ds, _, _ = mnist1d_dir
    _check_dataset(
        ds, name="mnist1d", shape_train=(4000, 40), shape_test=(1000, 40), num_classes=10
    )
    x = np.concatenate([ds.x_train, ds.x_test]).astype(np.float64)
    # make_dataset standardises the whole set to mean 0, std 1
    assert abs(x.mean()) < 1e-4 and abs(x.std() - 1.0) < 1e-4
    # 500 examples per class over the 5,000 samples
    labels = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
    # first training labels of mnist1d 0.0.2.post1's make_dataset at its defaults (seed 42)
    np.testing.assert_array_equal(ds.y_train[:10], [2, 6, 4, 5, 6, 6, 6, 0, 3, 1])


def test_mnist1d_generation_restores_global_rng(mnist1d_dir):
    _, _, before, after = mnist1d_dir
    np.testing.assert_array_equal(before[0], after[0])
    assert before[1] == after[1]


def test_mnist1d_cache_is_written_and_reused(mnist1d_dir, monkeypatch):
    directory, first, _, _ = mnist1d_dir
    cache = directory / "mnist1d_default.npz"
    assert cache.is_file()
    assert [p.name for p in directory.iterdir()] == ["mnist1d_default.npz"]  # no temp files

    def fail(*args, **kwargs):
        raise AssertionError("make_dataset must not be called when the cache is valid")

    monkeypatch.setattr("mnist1d.data.make_dataset", fail)
    second = data.load("mnist1d", data_dir=directory, seed=7)  # seed is ignored
    assert _same(first, second)


def _fake_make_dataset(calls):
    """A stand-in for mnist1d.data.make_dataset with the right shapes (fast)."""

    def make_dataset(args):
        calls.append(args)
        np.random.seed(args.seed)  # the real one reseeds the global generator too
        rng = np.random.default_rng(0)
        return {
            "x": rng.normal(size=(4000, 40)),
            "x_test": rng.normal(size=(1000, 40)),
            "y": np.arange(4000) % 10,
            "y_test": np.arange(1000) % 10,
        }

    return make_dataset


def test_mnist1d_generator_called_with_defaults(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("mnist1d.data.make_dataset", _fake_make_dataset(calls))
    state = np.random.get_state()[1].copy()
    ds = data.load("mnist1d", data_dir=tmp_path / "new" / "dir")
    assert len(calls) == 1
    args = calls[0]
    assert (args.num_samples, args.train_split, args.final_seq_length, args.seed) == (
        5000,
        0.8,
        40,
        42,
    )
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    np.testing.assert_array_equal(ds.y_test, (np.arange(1000) % 10).astype(np.int32))
    assert (tmp_path / "new" / "dir" / "mnist1d_default.npz").is_file()


def _write_bad_cache(kind: str, path: pathlib.Path) -> None:
    good = {
        "x_train": np.zeros((4000, 40), np.float32),
        "y_train": np.zeros(4000, np.int32),
        "x_test": np.zeros((1000, 40), np.float32),
        "y_test": np.zeros(1000, np.int32),
    }
    if kind == "garbage":
        path.write_bytes(b"not an npz file at all")
    elif kind == "truncated":
        np.savez(path, **good)
        path.write_bytes(path.read_bytes()[:5000])
    elif kind == "wrong_shape":
        np.savez(path, **{**good, "x_train": np.zeros((4000, 39), np.float32)})
    elif kind == "missing_key":
        np.savez(path, **{k: v for k, v in good.items() if k != "y_test"})
    elif kind == "bad_labels":
        np.savez(path, **{**good, "y_train": np.full(4000, 10, np.int32)})
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["garbage", "truncated", "wrong_shape", "missing_key", "bad_labels"]
)
def test_mnist1d_corrupt_cache_regenerates(tmp_path, monkeypatch, kind):
    cache = tmp_path / "mnist1d_default.npz"
    _write_bad_cache(kind, cache)
    calls = []
    monkeypatch.setattr("mnist1d.data.make_dataset", _fake_make_dataset(calls))
    with pytest.warns(RuntimeWarning, match="regenerating"):
        ds = data.load("mnist1d", data_dir=tmp_path)
    assert len(calls) == 1
    assert ds.x_train.shape == (4000, 40)
    # the cache was rewritten and is now valid: a second load does not regenerate
    again = data.load("mnist1d", data_dir=tmp_path)
    assert len(calls) == 1
    assert _same(ds, again)


def test_mnist1d_interrupted_write_leaves_no_cache(tmp_path, monkeypatch):
    monkeypatch.setattr("mnist1d.data.make_dataset", _fake_make_dataset([]))

    def half_write(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(data.np, "savez", half_write)
    with pytest.warns(RuntimeWarning, match="Could not write"):
        ds = data.load("mnist1d", data_dir=tmp_path)
    assert ds.num_train == 4000
    assert list(tmp_path.iterdir()) == []  # neither a half cache nor a temp file


# --------------------------------------------------------------------------- #
# IDX files
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    p = data.write_idx(tmp_path / f"a-idx3{suffix}", a)
    b = data.read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == (2, 3, 4)
    np.testing.assert_array_equal(a, b)


def test_idx_header_bytes(tmp_path):
    p = data.write_idx(tmp_path / "labels", np.array([7, 2, 1], np.uint8))
    # magic 0x00000801 (ubyte, 1 dimension), count 3 big-endian, then the bytes
    assert p.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])
    p = data.write_idx(tmp_path / "ints", np.array([[1, -2]], np.int32))
    assert (
        p.read_bytes()
        == bytes([0, 0, 0x0C, 2, 0, 0, 0, 1, 0, 0, 0, 2]) + np.array([1, -2], ">i4").tobytes()
    )
    p = data.write_idx(tmp_path / "g.gz", np.array([5], np.uint8))
    assert gzip.decompress(p.read_bytes()) == bytes([0, 0, 8, 1, 0, 0, 0, 1, 5])


def test_write_idx_rejects_bad_arrays(tmp_path):
    with pytest.raises(TypeError, match="IDX type"):
        data.write_idx(tmp_path / "b", np.array([True]))
    with pytest.raises(TypeError, match="IDX type"):
        data.write_idx(tmp_path / "c", np.array([1], np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        data.write_idx(tmp_path / "s", np.array(3, np.uint8))
    with pytest.raises(TypeError, match="path"):
        data.write_idx(3, np.array([1], np.uint8))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("magic", bytes([1, 0, 8, 1, 0, 0, 0, 1, 5]), "two zero bytes"),
        ("code", bytes([0, 0, 7, 1, 0, 0, 0, 1, 5]), "type code"),
        ("ndim0", bytes([0, 0, 8, 0]), "zero dimensions"),
        ("short", bytes([0, 0]), "shorter than the header"),
        ("header", bytes([0, 0, 8, 2, 0, 0, 0, 1]), "truncated header"),
        ("truncated", bytes([0, 0, 8, 1, 0, 0, 0, 3, 5]), "1 data bytes"),
        ("extra", bytes([0, 0, 8, 1, 0, 0, 0, 1, 5, 6]), "2 data bytes"),
    ],
)
def test_read_idx_malformed(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        data.read_idx(p)
    assert str(p) in str(info.value)


def test_read_idx_bad_gzip(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(b"\x00\x00\x08\x01 this is not gzip")
    with pytest.raises(ValueError, match="Cannot read") as info:
        data.read_idx(p)
    assert str(p) in str(info.value)


def _write_mnist(directory: pathlib.Path, *, suffix: str = "", n_train=5, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, a in arrays.items():
        data.write_idx(directory / f"{stem}{suffix}", a)
    return arrays


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_dataset_round_trip(tmp_path, name, suffix):
    arrays = _write_mnist(tmp_path / name, suffix=suffix)
    ds = data.load(name, data_dir=tmp_path)
    assert ds.name == name and ds.num_classes == 10
    assert ds.x_train.shape == (5, 784) and ds.x_test.shape == (3, 784)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    np.testing.assert_allclose(
        ds.x_train, arrays["train-images-idx3-ubyte"].reshape(5, 784) / 255.0, rtol=1e-6
    )
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"])


def test_mnist_falls_back_to_data_dir_but_fashion_does_not(tmp_path):
    arrays = _write_mnist(tmp_path)
    ds = data.load("mnist", data_dir=str(tmp_path))
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"])
    with pytest.raises(FileNotFoundError, match="fashion_mnist"):
        data.load("fashion_mnist", data_dir=tmp_path)


def test_mnist_subdirectory_takes_precedence(tmp_path):
    _write_mnist(tmp_path, seed=0)
    sub = _write_mnist(tmp_path / "mnist", seed=1, n_train=4)
    ds = data.load("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(ds.y_train, sub["train-labels-idx1-ubyte"])


def test_mixed_plain_and_gz(tmp_path):
    arrays = _write_mnist(tmp_path / "mnist")
    plain = tmp_path / "mnist" / "t10k-labels-idx1-ubyte"
    data.write_idx(plain.with_name(plain.name + ".gz"), arrays["t10k-labels-idx1-ubyte"])
    os.remove(plain)
    ds = data.load("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_missing_idx_file_names_it(tmp_path):
    _write_mnist(tmp_path / "mnist")
    os.remove(tmp_path / "mnist" / "t10k-images-idx3-ubyte")
    with pytest.raises(FileNotFoundError) as info:
        data.load("mnist", data_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "mnist" / "t10k-images-idx3-ubyte") in message
    assert "train-images" not in message.split("Looked in")[0]  # only the missing one is named
    assert "put the four files" in message


def test_no_idx_files_names_all(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        data.load("fashion_mnist", data_dir=tmp_path)
    for stem in data.IDX_FILES:
        assert str(tmp_path / "fashion_mnist" / stem) in str(info.value)


def test_idx_dataset_inconsistent_files(tmp_path):
    d = tmp_path / "mnist"
    arrays = _write_mnist(d)
    data.write_idx(d / "train-images-idx3-ubyte", np.zeros((5, 28, 27), np.uint8))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte"):
        data.load("mnist", data_dir=tmp_path)
    data.write_idx(d / "train-images-idx3-ubyte", arrays["train-images-idx3-ubyte"])
    data.write_idx(d / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="4 labels"):
        data.load("mnist", data_dir=tmp_path)
    data.write_idx(d / "train-labels-idx1-ubyte", np.full(5, 10, np.uint8))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.*\[0, 9\]"):
        data.load("mnist", data_dir=tmp_path)
    data.write_idx(d / "train-labels-idx1-ubyte", np.zeros(5, np.int32))
    with pytest.raises(ValueError, match="uint8 labels"):
        data.load("mnist", data_dir=tmp_path)
    (d / "train-labels-idx1-ubyte").write_bytes(b"garbage!")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte"):
        data.load("mnist", data_dir=tmp_path)
