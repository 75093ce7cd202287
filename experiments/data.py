r"""Datasets for the jaxact experiments, loaded without network access.

Every experiment loads its data through :func:`load`:

- ``mnist1d``: MNIST-1D, generated procedurally by the ``mnist1d`` package at
  its published defaults (4,000/1,000 split, 40 features, 10 classes) and
  cached in ``data_dir/mnist1d_default.npz``.
- ``binary``: the seed-002 task (``binary.csv``), regenerated from its rule:
  label = all of x, y, z >= 40 and their mean >= 60.
- ``spirals``: two interleaved spirals in 2-D (the two-spirals benchmark).
- ``xor``: points uniform in :math:`[-1, 1]^2`, label = :math:`xy > 0`.
- ``mnist`` and ``fashion_mnist``: the standard IDX files the user already
  has on disk.

The generated datasets (``binary``, ``spirals``, ``xor``) are deterministic
functions of ``seed``; ``mnist1d``, ``mnist`` and ``fashion_mnist`` are fixed
datasets with their standard splits and ignore it. :func:`write_idx` writes IDX
files (for test fixtures or converted data).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import math
import os
import pathlib
import random
import warnings
import zipfile
import zlib
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from jaxact._src.io import atomic_write

__all__ = [
    "DATASETS",
    "IDX_FILES",
    "Dataset",
    "binary_rule",
    "default_data_dir",
    "idx_search_dirs",
    "load",
    "load_idx_dataset",
    "make_binary",
    "make_spirals",
    "make_xor",
    "read_idx",
    "write_idx",
]

DATASETS: tuple[str, ...] = ("mnist1d", "binary", "spirals", "xor", "mnist", "fashion_mnist")

#: Environment variable that overrides :func:`default_data_dir`.
DATA_DIR_ENV = "JAXACT_DATA_DIR"

_TRAIN_PERCENT = 80  # train share of the generated datasets (80/20 split)


# --------------------------------------------------------------------------- #
# Dataset container
# --------------------------------------------------------------------------- #


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    r"""A classification dataset split into train and test arrays.

    Attributes:
      name: the name :func:`load` knows it by.
      x_train: float32 features, shape ``(num_train, num_features)``.
      y_train: int32 class indices in ``[0, num_classes)``, shape ``(num_train,)``.
      x_test: float32 features, shape ``(num_test, num_features)``.
      y_test: int32 class indices, shape ``(num_test,)``.
      num_classes: number of classes.
      description: one line: where the data comes from, sizes, generator settings.
      x_val, y_val: the validation split (``None`` until :meth:`with_validation`
        carves it from the training split).

    The constructor checks dtypes, shapes and label ranges and raises
    ``TypeError``/``ValueError`` when they do not fit. Instances compare by
    identity (arrays have no single truth value).

    Examples:
      >>> import numpy as np
      >>> ds = Dataset("toy", np.zeros((3, 2), np.float32), np.array([0, 1, 1], np.int32),
      ...              np.ones((1, 2), np.float32), np.array([1], np.int32), 2, "toy data")
      >>> ds.num_train, ds.num_test, ds.num_features
      (3, 1, 2)
      >>> ds
      Dataset(name='toy', train=(3, 2), test=(1, 2), num_classes=2)
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    description: str
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Dataset name must be a str, got {type(self.name).__name__}.")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int | np.integer):
            raise TypeError(f"num_classes must be an int, got {type(self.num_classes).__name__}.")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}.")
        for field in ("x_train", "x_test"):
            x = getattr(self, field)
            if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 2:
                raise TypeError(
                    f"{field} must be a 2-D float32 numpy array, got {_describe_array(x)}."
                )
        for field in ("y_train", "y_test"):
            y = getattr(self, field)
            if not isinstance(y, np.ndarray) or y.dtype != np.int32 or y.ndim != 1:
                raise TypeError(
                    f"{field} must be a 1-D int32 numpy array, got {_describe_array(y)}."
                )
            if y.size and (y.min() < 0 or y.max() >= self.num_classes):
                raise ValueError(
                    f"{field} must hold class indices in [0, {self.num_classes}), got values "
                    f"in [{y.min()}, {y.max()}]."
                )
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"x_{split} has {x.shape[0]} rows but y_{split} has {y.shape[0]} labels."
                )
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(
                f"x_train has {self.x_train.shape[1]} features but x_test has "
                f"{self.x_test.shape[1]}."
            )

    def with_validation(self, fraction: float = 0.2, *, seed: int = 0) -> Dataset:
        """This dataset with a validation split carved from the training split.

        A fixed permutation (``seed``) of the training rows puts the last
        ``round(fraction * num_train)`` rows in the validation split; the test
        split is untouched (MNIST-1D keeps its standard 4,000/1,000 split, and
        3,200/800 of the 4,000 become train/validation at the default 0.2).

        Examples:
          >>> ds = load("xor", seed=0).with_validation(0.25)
          >>> ds.num_train, ds.num_val, ds.num_test
          (600, 200, 200)
        """
        if not (isinstance(fraction, float | int) and 0 < fraction < 1):
            raise ValueError(f"fraction: expected a number in (0, 1), got {fraction!r}")
        if self.x_val is not None:
            raise ValueError("with_validation: this dataset already has a validation split")
        n_val = int(round(fraction * self.num_train))
        if n_val < 1 or n_val >= self.num_train:
            raise ValueError(f"fraction: {fraction} leaves no training or no validation rows")
        order = np.random.default_rng(seed).permutation(self.num_train)
        tr, va = np.sort(order[:-n_val]), np.sort(order[-n_val:])
        return dataclasses.replace(
            self,
            x_train=self.x_train[tr],
            y_train=self.y_train[tr],
            x_val=self.x_train[va],
            y_val=self.y_train[va],
            description=f"{self.description}; validation: {n_val} of the {self.num_train} training rows (seed {seed})",
        )

    @property
    def num_val(self) -> int:
        """Number of validation examples (0 without a validation split)."""
        return 0 if self.x_val is None else int(self.x_val.shape[0])

    @property
    def num_features(self) -> int:
        """Number of input features ``D``."""
        return int(self.x_train.shape[1])

    @property
    def num_train(self) -> int:
        """Number of training examples."""
        return int(self.x_train.shape[0])

    @property
    def num_test(self) -> int:
        """Number of test examples."""
        return int(self.x_test.shape[0])

    def __repr__(self) -> str:
        val = "" if self.x_val is None else f", val={self.x_val.shape}"
        return (
            f"Dataset(name={self.name!r}, train={self.x_train.shape}{val}, "
            f"test={self.x_test.shape}, num_classes={self.num_classes})"
        )


def _describe_array(a: object) -> str:
    if isinstance(a, np.ndarray):
        return f"a {a.ndim}-D {a.dtype} array of shape {a.shape}"
    return f"an object of type {type(a).__name__}"


# --------------------------------------------------------------------------- #
# Public entry points
# --------------------------------------------------------------------------- #


def default_data_dir() -> pathlib.Path:
    r"""Return the directory datasets are cached in and read from.

    ``$JAXACT_DATA_DIR`` when it is set and non-empty (``~`` is expanded), else
    ``~/.cache/jaxact``. The directory is not created here.

    Returns:
      The data directory as a ``pathlib.Path`` (``~`` expanded).

    Examples:
      >>> isinstance(default_data_dir(), pathlib.Path)
      True
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return pathlib.Path(env).expanduser()
    return pathlib.Path("~/.cache/jaxact").expanduser()


def load(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
) -> Dataset:
    r"""Load one of the experiment datasets by name, without network access.

    - ``"mnist1d"``: MNIST-1D generated by ``mnist1d.data.make_dataset`` at the
      package's default settings (5,000 samples, 4,000/1,000 split, length 40,
      generator seed 42), so results compare with the published table. The
      arrays are cached in ``data_dir/mnist1d_default.npz`` after the first
      generation and read from there afterwards; a corrupt cache is regenerated
      (with a ``RuntimeWarning``). ``seed`` is ignored: the dataset is fixed.
    - ``"binary"``, ``"spirals"``, ``"xor"``: generated by :func:`make_binary`,
      :func:`make_spirals`, :func:`make_xor` with their default sizes
      (1,000 points, 80/20 split); deterministic functions of ``seed``.
    - ``"mnist"``, ``"fashion_mnist"``: the standard IDX files read from disk
      (see :func:`load_idx_dataset` for where they are looked up); the standard
      60,000/10,000 split, 784 features in ``[0, 1]``, 10 classes. ``seed`` is
      ignored.

    Args:
      name: one of :data:`DATASETS`.
      data_dir: directory for caches and IDX files; defaults to
        :func:`default_data_dir`.
      seed: seed of the generated datasets (a non-negative int).

    Returns:
      The :class:`Dataset`.

    Raises:
      ValueError: ``name`` is not one of :data:`DATASETS`, or a file is malformed.
      FileNotFoundError: IDX files of ``mnist``/``fashion_mnist`` are missing.

    Examples:
      >>> ds = load("xor", seed=1)
      >>> ds.num_train, ds.num_test, ds.num_features, ds.num_classes
      (800, 200, 2, 2)
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (one of {', '.join(DATASETS)}), got {name!r}.")
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset name {name!r}; valid names are: {', '.join(DATASETS)}.")
    seed = _check_seed(seed)
    if name == "binary":
        return make_binary(seed=seed)
    if name == "spirals":
        return make_spirals(seed=seed)
    if name == "xor":
        return make_xor(seed=seed)
    directory = _resolve_data_dir(data_dir)
    if name == "mnist1d":
        return _load_mnist1d(directory)
    return load_idx_dataset(name, directory)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}.")
    return int(seed)


def _check_num_samples(num_samples: object) -> int:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
        raise TypeError(f"num_samples must be an int, got {type(num_samples).__name__}.")
    if num_samples < 2:
        raise ValueError(
            f"num_samples must be >= 2 (at least one train and one test point), got {num_samples}."
        )
    return int(num_samples)


def _resolve_data_dir(data_dir: object) -> pathlib.Path:
    if data_dir is None:
        return default_data_dir()
    if not isinstance(data_dir, str | os.PathLike):
        raise TypeError(
            f"data_dir must be a str, an os.PathLike or None, got {type(data_dir).__name__}."
        )
    return pathlib.Path(os.fspath(data_dir)).expanduser()


# --------------------------------------------------------------------------- #
# Generated datasets
# --------------------------------------------------------------------------- #


def _split(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    num_classes: int,
    description: str,
) -> Dataset:
    """Shuffle with ``rng`` and split 80/20 into a :class:`Dataset`."""
    n = x.shape[0]
    order = rng.permutation(n)
    x, y = x[order], y[order]
    num_train = n * _TRAIN_PERCENT // 100
    return Dataset(
        name=name,
        x_train=np.ascontiguousarray(x[:num_train], dtype=np.float32),
        y_train=np.ascontiguousarray(y[:num_train], dtype=np.int32),
        x_test=np.ascontiguousarray(x[num_train:], dtype=np.float32),
        y_test=np.ascontiguousarray(y[num_train:], dtype=np.int32),
        num_classes=num_classes,
        description=description,
    )


def binary_rule(x: np.ndarray) -> np.ndarray:
    r"""The seed-002 labelling rule for rows ``(x, y, z)``.

    .. math::

       \text{label} = [\min(x, y, z) \ge 40] \wedge [(x + y + z)/3 \ge 60]

    evaluated in float64 on the given values.

    Args:
      x: array of shape ``(N, 3)``.

    Returns:
      int32 labels of shape ``(N,)`` (1 = True).

    Examples:
      >>> binary_rule(np.array([[40.0, 70.0, 70.0], [39.9, 90.0, 90.0], [50.0, 60.0, 60.0]]))
      array([1, 0, 0], dtype=int32)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"binary_rule expects an array of shape (N, 3), got shape {x.shape}.")
    return ((x.min(axis=1) >= 40.0) & (x.sum(axis=1) / 3.0 >= 60.0)).astype(np.int32)


def make_binary(*, num_samples: int = 1000, seed: int = 0) -> Dataset:
    r"""Generate the seed-002 binary task (``binary.csv``) from its rule.

    x, y, z are drawn uniform on :math:`[0, 100)` (float32) and labelled

    .. math::

       \text{label} = [\min(x, y, z) \ge 40] \wedge [(x + y + z)/3 \ge 60].

    The positive rate is :math:`0.6^3 \cdot (1 - 1/6) = 0.18`: all three are
    :math:`\ge 40` with probability :math:`0.6^3`, and given that, the shifted
    values :math:`(v - 40)/60` are uniform on the unit cube, whose sum reaches
    1 (mean :math:`\ge 60`) with probability :math:`5/6`. So about 18% of rows
    are positive; a constant "False" classifier scores about 82%.

    Features stay in raw units (not normalised): the seed's run (SGD, lr 1e-4,
    batch 64) uses the raw values and the experiments reproduce it. The split is
    80/20 train/test (the seed splits 80/10/10; its 10% validation part is only
    printed).

    Args:
      num_samples: number of rows (>= 2), 1,000 by default.
      seed: seed of the generator and of the split.

    Returns:
      A :class:`Dataset` with 3 float32 features and 2 classes.

    Examples:
      >>> ds = make_binary(seed=0)
      >>> ds.x_train.shape, ds.num_classes
      ((800, 3), 2)
      >>> bool((binary_rule(ds.x_test) == ds.y_test).all())
      True
    """
    n = _check_num_samples(num_samples)
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)
    # float32 draws times 100 in float32 stay below 100 (max is 99.99999...).
    x = rng.random((n, 3), dtype=np.float32) * np.float32(100.0)
    y = binary_rule(x)  # labels from the float32 values actually stored
    description = (
        f"seed-002 binary task regenerated from its rule: x,y,z ~ U[0,100) raw units, "
        f"label = min>=40 & mean>=60 (about 18% positive), {n} rows, 80/20 split, seed={seed}"
    )
    return _split("binary", x, y, rng, 2, description)


def make_spirals(
    *,
    num_samples: int = 1000,
    noise: float = 0.05,
    turns: float = 1.5,
    seed: int = 0,
) -> Dataset:
    r"""Generate two interleaved spirals (the two-spirals benchmark) in 2-D.

    Point :math:`i` of class :math:`k = i \bmod 2` has radius
    :math:`r = \sqrt{u}`, :math:`u \sim U[0, 1)` (uniform density along the
    area) and angle :math:`\theta = 2\pi \cdot \text{turns} \cdot r`:

    .. math::

       p = (-1)^k \, (r\cos\theta,\; r\sin\theta) + \varepsilon,
       \qquad \varepsilon \sim \mathcal{N}(0, \text{noise}^2 I_2),

    so class 1 is class 0 rotated by :math:`\pi`. The outer radius is 1 and,
    with 1.5 turns, neighbouring arms of the two classes are 1/3 apart along a
    ray; noise 0.05 keeps the classes separable (a 15-nearest-neighbour
    classifier on 20,000 points scores about 99.8%, against about 92% at noise
    0.1), while a linear model scores about 50%.

    Args:
      num_samples: number of points (>= 2), half per class; 1,000 by default.
      noise: standard deviation of the Gaussian noise (>= 0).
      turns: number of revolutions of each spiral (> 0).
      seed: seed of the generator and of the 80/20 split.

    Returns:
      A :class:`Dataset` with 2 float32 features and 2 classes.

    Examples:
      >>> ds = make_spirals(seed=0)
      >>> ds.x_train.shape, ds.x_test.shape, int(ds.y_train.max()) + 1
      ((800, 2), (200, 2), 2)
    """
    n = _check_num_samples(num_samples)
    seed = _check_seed(seed)
    noise = _check_float("noise", noise, allow_zero=True)
    turns = _check_float("turns", turns, allow_zero=False)
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int32)
    r = np.sqrt(rng.random(n))
    theta = 2.0 * np.pi * turns * r
    sign = np.where(y == 0, 1.0, -1.0)
    x = sign[:, None] * np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    x = x + rng.normal(0.0, noise, size=x.shape)
    description = (
        f"two interleaved spirals in 2-D: {turns:g} turns, outer radius 1, Gaussian noise "
        f"std {noise:g}, {n} points (half per class), 80/20 split, seed={seed}"
    )
    return _split("spirals", x, y, rng, 2, description)


def make_xor(*, num_samples: int = 1000, seed: int = 0) -> Dataset:
    r"""Generate the XOR task: points uniform in :math:`[-1, 1]^2`.

    .. math::

       \text{label} = [x \cdot y > 0]

    (1 in the first and third quadrants). The classes are not linearly
    separable: logistic regression scores about 50%, a small MLP about 100%.

    Args:
      num_samples: number of points (>= 2), 1,000 by default.
      seed: seed of the generator and of the 80/20 split.

    Returns:
      A :class:`Dataset` with 2 float32 features and 2 classes.

    Examples:
      >>> ds = make_xor(seed=0)
      >>> bool(((ds.x_test[:, 0] * ds.x_test[:, 1] > 0) == (ds.y_test == 1)).all())
      True
    """
    n = _check_num_samples(num_samples)
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
    y = (x[:, 0].astype(np.float64) * x[:, 1] > 0).astype(np.int32)
    description = (
        f"XOR: points uniform in [-1,1]^2, label = x*y > 0, {n} points, 80/20 split, seed={seed}"
    )
    return _split("xor", x, y, rng, 2, description)


def _check_float(name: str, value: object, *, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}.")
    return value


# --------------------------------------------------------------------------- #
# MNIST-1D
# --------------------------------------------------------------------------- #

MNIST1D_CACHE_NAME = "mnist1d_default.npz"
# The package defaults the published MNIST-1D table was produced with.
_MNIST1D_SETTINGS = {"num_samples": 5000, "train_split": 0.8, "final_seq_length": 40, "seed": 42}
_MNIST1D_SHAPES = {
    "x_train": (4000, 40),
    "y_train": (4000,),
    "x_test": (1000, 40),
    "y_test": (1000,),
}
_MNIST1D_DESCRIPTION = (
    "MNIST-1D generated by mnist1d.data.make_dataset at its defaults: 5000 samples, "
    "4000/1000 split, length 40, generator seed 42, 10 classes (cached in {path})"
)


def _load_mnist1d(data_dir: pathlib.Path) -> Dataset:
    cache = data_dir / MNIST1D_CACHE_NAME
    arrays: dict[str, np.ndarray] | None = None
    if cache.exists():
        try:
            arrays = _read_mnist1d_cache(cache)
        except ValueError as err:
            warnings.warn(
                f"MNIST-1D cache {cache} is unusable ({err}); regenerating it.",
                RuntimeWarning,
                stacklevel=3,
            )
    if arrays is None:
        arrays = _generate_mnist1d()
        _write_npz_atomic(cache, arrays)
    return Dataset(
        name="mnist1d",
        num_classes=10,
        description=_MNIST1D_DESCRIPTION.format(path=cache),
        **arrays,
    )


def _generate_mnist1d() -> dict[str, np.ndarray]:
    """Run ``mnist1d``'s generator (never its downloader) at the default settings."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Generating MNIST-1D needs the 'mnist1d' package: "
            "pip install 'jaxact[experiments]' (or pip install mnist1d)."
        ) from err
    args = get_dataset_args()
    for key, value in _MNIST1D_SETTINGS.items():
        setattr(args, key, value)
    # make_dataset reseeds Python's and NumPy's global generators; restore them.
    with _preserve_global_rng():
        raw = make_dataset(args)
    arrays = {
        "x_train": np.asarray(raw["x"], dtype=np.float32),
        "y_train": np.asarray(raw["y"], dtype=np.int32),
        "x_test": np.asarray(raw["x_test"], dtype=np.float32),
        "y_test": np.asarray(raw["y_test"], dtype=np.int32),
    }
    problem = _mnist1d_problem(arrays)
    if problem is not None:
        raise RuntimeError(f"mnist1d.make_dataset returned unexpected arrays: {problem}.")
    return arrays


@contextlib.contextmanager
def _preserve_global_rng() -> Iterator[None]:
    py_state = random.getstate()
    np_state = np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _mnist1d_problem(arrays: dict[str, np.ndarray]) -> str | None:
    """Why ``arrays`` are not the default MNIST-1D arrays, or None if they are."""
    for key, shape in _MNIST1D_SHAPES.items():
        if key not in arrays:
            return f"array {key!r} is missing"
        a = arrays[key]
        if a.shape != shape:
            return f"{key} has shape {a.shape}, expected {shape}"
        if key.startswith("x"):
            if a.dtype != np.float32 or not np.isfinite(a).all():
                return f"{key} must be finite float32, got {a.dtype}"
        elif a.dtype != np.int32 or a.min() < 0 or a.max() > 9:
            return f"{key} must be int32 labels in [0, 9]"
    return None


def _read_mnist1d_cache(path: pathlib.Path) -> dict[str, np.ndarray]:
    """Read and validate the cache; any problem is raised as ValueError."""
    try:
        # Open the file here: np.load leaks its own handle when the zip is corrupt.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {key: np.array(npz[key]) for key in npz.files if key in _MNIST1D_SHAPES}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(f"cannot read it: {type(err).__name__}: {err}") from err
    problem = _mnist1d_problem(arrays)
    if problem is not None:
        raise ValueError(problem)
    return arrays


def _write_npz_atomic(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically (:func:`jaxact._src.io.atomic_write`).

    A killed process leaves at worst a stray temp file, never a half-written
    cache. If the directory is not writable, warn and go on without a cache.
    """
    try:
        atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as err:
        warnings.warn(
            f"Could not write the dataset cache {path} ({err}); continuing without it.",
            RuntimeWarning,
            stacklevel=4,
        )


# --------------------------------------------------------------------------- #
# IDX files (MNIST, Fashion-MNIST)
# --------------------------------------------------------------------------- #

# IDX type codes (third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES: dict[np.dtype, int] = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}

IDX_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

_IDX_SOURCES = {
    "mnist": "MNIST (LeCun et al.; e.g. https://ossci-datasets.s3.amazonaws.com/mnist/)",
    "fashion_mnist": "Fashion-MNIST (https://github.com/zalandoresearch/fashion-mnist)",
}


def write_idx(path: str | os.PathLike[str], array: npt.ArrayLike) -> pathlib.Path:
    r"""Write ``array`` to ``path`` in the IDX format (gzip-compressed if it ends in ``.gz``).

    The header is the magic number ``0x0000TTNN`` (``TT`` the type code: 0x08
    uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64; ``NN``
    the number of dimensions), then each dimension as a big-endian uint32,
    then the data in big-endian C order.

    Args:
      path: file to write (parent directories are created).
      array: array of one of the six IDX dtypes with 1 to 255 dimensions.

    Returns:
      The path written.

    Examples:
      >>> import tempfile
      >>> d = tempfile.mkdtemp()
      >>> p = write_idx(pathlib.Path(d) / "labels-idx1-ubyte.gz", np.array([3, 1, 4], np.uint8))
      >>> read_idx(p)
      array([3, 1, 4], dtype=uint8)
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    a = np.asarray(array)
    code = _IDX_CODES.get(a.dtype.newbyteorder("=")) if a.dtype.kind in "uif" else None
    if code is None:
        raise TypeError(
            f"array dtype {a.dtype} has no IDX type; use one of uint8, int8, int16, int32, "
            "float32, float64."
        )
    if not 1 <= a.ndim <= 255:
        raise ValueError(f"array must have 1 to 255 dimensions for IDX, got {a.ndim}.")
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"array dimensions must be < 2**32 for IDX, got shape {a.shape}.")
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(a, dtype=_IDX_DTYPES[code]).tobytes()
    p = pathlib.Path(os.fspath(path))
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".gz":
        with gzip.open(p, "wb") as f:
            f.write(payload)
    else:
        p.write_bytes(payload)
    return p


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    r"""Read an IDX file (plain or ``.gz``) into a native-endian numpy array.

    The header (two zero bytes, a known type code, the number of dimensions,
    the dimensions) is validated and the data length must match the
    dimensions exactly.

    Args:
      path: the IDX file.

    Returns:
      The array, with the dtype the file's type code names (native byte order).

    Raises:
      FileNotFoundError: ``path`` does not exist.
      ValueError: the file is not a valid IDX file (the message names it).

    Examples:
      >>> import tempfile
      >>> p = write_idx(pathlib.Path(tempfile.mkdtemp()) / "x-idx2", np.eye(2, dtype=np.float32))
      >>> read_idx(p)
      array([[1., 0.],
             [0., 1.]], dtype=float32)
    """
    p = pathlib.Path(os.fspath(path))
    try:
        if p.suffix == ".gz":
            with gzip.open(p, "rb") as f:
                data = f.read()
        else:
            data = p.read_bytes()
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"Cannot read IDX file {p}: {type(err).__name__}: {err}") from err
    if len(data) < 4:
        raise ValueError(f"Malformed IDX file {p}: {len(data)} bytes, shorter than the header.")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(
            f"Malformed IDX file {p}: magic number 0x{data[:4].hex()} does not start with two "
            "zero bytes (is it an IDX file? a compressed file without a .gz suffix?)."
        )
    if code not in _IDX_DTYPES:
        raise ValueError(f"Malformed IDX file {p}: unknown IDX type code 0x{code:02x}.")
    if ndim == 0:
        raise ValueError(f"Malformed IDX file {p}: zero dimensions in the header.")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(f"Malformed IDX file {p}: truncated header ({ndim} dimensions declared).")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - header_len != expected:
        raise ValueError(
            f"Malformed IDX file {p}: header declares shape {shape} of {dtype.name} "
            f"({expected} bytes) but the file holds {len(data) - header_len} data bytes."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find_idx_file(directory: pathlib.Path, stem: str) -> pathlib.Path | None:
    """``directory/stem`` if it exists, else ``directory/stem.gz``, else None."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def idx_search_dirs(name: str, data_dir: pathlib.Path) -> tuple[pathlib.Path, ...]:
    r"""Directories searched for the IDX files of ``name``, in order.

    ``mnist``: ``data_dir/mnist/`` then ``data_dir/``. ``fashion_mnist``:
    ``data_dir/fashion_mnist/`` only. Fashion-MNIST uses the very same file
    names as MNIST, so IDX files lying directly in ``data_dir`` are taken to be
    MNIST and are never read as Fashion-MNIST.

    Args:
      name: ``"mnist"`` or ``"fashion_mnist"``.
      data_dir: the data directory.

    Returns:
      The directories, most specific first.

    Examples:
      >>> [p.as_posix() for p in idx_search_dirs("mnist", pathlib.Path("data"))]
      ['data/mnist', 'data']
    """
    if name == "mnist":
        return (data_dir / "mnist", data_dir)
    if name == "fashion_mnist":
        return (data_dir / "fashion_mnist",)
    raise ValueError(f"name must be 'mnist' or 'fashion_mnist', got {name!r}.")


def load_idx_dataset(name: str, data_dir: str | os.PathLike[str]) -> Dataset:
    r"""Load MNIST or Fashion-MNIST from the four standard IDX files on disk.

    The files are ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each plain or
    gzip-compressed with a ``.gz`` suffix (plain is preferred when both exist).
    They are looked up in the directories :func:`idx_search_dirs` gives; the
    first directory holding any of the four is used, and it must hold all four.
    Images (uint8, 28×28) are flattened to 784 float32 features

    .. math::

       x = \text{pixel} / 255 \in [0, 1],

    labels (uint8) must lie in ``[0, 9]``.

    Args:
      name: ``"mnist"`` or ``"fashion_mnist"``.
      data_dir: the data directory.

    Returns:
      The :class:`Dataset` (10 classes).

    Raises:
      FileNotFoundError: files are missing; the message names their full paths
        and where to put them.
      ValueError: a file is malformed or does not fit the others (the message
        names it).

    Examples:
      >>> import tempfile
      >>> d = pathlib.Path(tempfile.mkdtemp())
      >>> for split, n in (("train", 3), ("t10k", 2)):
      ...     images = np.zeros((n, 28, 28), np.uint8)
      ...     _ = write_idx(d / "mnist" / f"{split}-images-idx3-ubyte", images)
      ...     labels = np.arange(n, dtype=np.uint8)
      ...     _ = write_idx(d / "mnist" / f"{split}-labels-idx1-ubyte", labels)
      >>> load_idx_dataset("mnist", d)
      Dataset(name='mnist', train=(3, 784), test=(2, 784), num_classes=10)
    """
    directory = _resolve_data_dir(data_dir)
    dirs = idx_search_dirs(name, directory)
    chosen = next(
        (d for d in dirs if any(_find_idx_file(d, stem) is not None for stem in IDX_FILES)),
        dirs[0],
    )
    found = {stem: _find_idx_file(chosen, stem) for stem in IDX_FILES}
    missing = [stem for stem, p in found.items() if p is None]
    if missing:
        missing_paths = ", ".join(str(chosen / stem) + "[.gz]" for stem in missing)
        looked = " and ".join(str(d) for d in dirs)
        raise FileNotFoundError(
            f"{name} IDX file(s) not found: {missing_paths}. Looked in {looked}. "
            f"Download {_IDX_SOURCES[name]} and put the four files "
            f"({', '.join(IDX_FILES)}; plain or .gz) in {dirs[0]}; "
            f"set data_dir= or ${DATA_DIR_ENV} to use another data directory."
        )
    paths = {stem: p for stem, p in found.items() if p is not None}
    splits = {}
    for split in ("train", "t10k"):
        image_path = paths[f"{split}-images-idx3-ubyte"]
        label_path = paths[f"{split}-labels-idx1-ubyte"]
        images = read_idx(image_path)
        labels = read_idx(label_path)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(
                f"Malformed image file {image_path}: expected uint8 images of shape (N, 28, 28), "
                f"got {images.dtype} of shape {images.shape}."
            )
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise ValueError(
                f"Malformed label file {label_path}: expected 1-D uint8 labels, got "
                f"{labels.dtype} of shape {labels.shape}."
            )
        if labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"{label_path} holds {labels.shape[0]} labels but {image_path} holds "
                f"{images.shape[0]} images."
            )
        if labels.size and labels.max() > 9:
            raise ValueError(
                f"Malformed label file {label_path}: labels must be in [0, 9], found "
                f"{int(labels.max())}."
            )
        x = images.reshape(images.shape[0], 28 * 28).astype(np.float32) / np.float32(255.0)
        splits[split] = (x, labels.astype(np.int32))
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["t10k"]
    pretty = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}[name]
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        num_classes=10,
        description=(
            f"{pretty} from IDX files in {chosen}: {x_train.shape[0]}/{x_test.shape[0]} "
            "train/test, 28x28 pixels flattened to 784 float32 in [0, 1], 10 classes"
        ),
    )
