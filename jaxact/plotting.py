r"""Plots of activations and their derivatives (needs matplotlib: the ``experiments`` extra).

:func:`plot_activation` draws any registry activations beside their
derivatives: the derivative curve is the registry's closed form ``.dfdx``, and
central finite differences of the function, computed in float64, are overlaid
as markers. The markers never go through the activation's derivative rule (its
``custom_jvp``), so every plot is also an independent visual check of the
closed form. :func:`gallery` writes such a plot for
every registry activation, one PNG each or one grid.

matplotlib is imported only inside the functions, so ``import jaxact.plotting``
is cheap and works without it; the figures are ``matplotlib.figure.Figure``
objects created without ``pyplot`` (no global figure state, no GUI backend).

The lines carry a ``gid`` so that code (and the tests) can read the plotted
data back: ``"f:<name>"`` (the function), ``"dfdx:<name>"`` (the closed-form
derivative) and ``"fd:<name>"`` (the finite differences).

The non-elementwise activations are drawn along one coordinate: the first
output of ``f([x, 0])`` against ``x`` (softmax of two logits is the sigmoid,
maxout of two pieces is ``max(x, 0)``), with the derivative
:math:`\partial f_0/\partial x_0` from the closed-form Jacobian-vector product
with :math:`v = e_0`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

import jaxact
from jaxact._src.io import atomic_write

if TYPE_CHECKING:  # matplotlib is imported lazily, inside the functions
    from matplotlib.figure import Figure

__all__ = ["activation_curves", "gallery", "plot_activation"]

_DEFAULT_X = (-6.0, 6.0, 481)
# Parameters of the non-elementwise activations that the 1-D slice fixes.
_SLICE_FIXED = {"axis": -1, "num_pieces": 2}


def _matplotlib():
    """The ``matplotlib.figure`` module, or an ImportError naming the extra."""
    try:
        import matplotlib.figure
    except ImportError as e:
        raise ImportError(
            "jaxact.plotting needs matplotlib, which is not installed; install the "
            "'experiments' extra: pip install 'jaxact[experiments]'"
        ) from e
    return matplotlib.figure


def _as_names(name_or_names: str | Sequence[str]) -> list[str]:
    if isinstance(name_or_names, str):
        names = [name_or_names]
    elif isinstance(name_or_names, Sequence) and all(isinstance(n, str) for n in name_or_names):
        names = list(name_or_names)
    else:
        raise TypeError(
            "name_or_names must be a registry name or a sequence of names (see "
            f"jaxact.names()), got {name_or_names!r}"
        )
    if not names:
        raise ValueError("name_or_names is empty; give at least one registry name")
    return [jaxact.get(n).name for n in names]  # UnknownActivationError is a ValueError


def _as_grid(x: ArrayLike | None) -> np.ndarray:
    if x is None:
        return np.linspace(*_DEFAULT_X, dtype=np.float32)
    try:
        grid = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"x must be a 1-D array of real numbers, got {x!r}") from None
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(f"x must be a 1-D grid of at least 2 points, got shape {grid.shape}")
    if not np.all(np.isfinite(grid)):
        raise ValueError("x must be finite")
    return grid


def _merged_params(record: jaxact.Activation, params: Mapping[str, Any] | None) -> dict[str, Any]:
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of parameter names to values, got {params!r}")
    params = dict(params or {})
    for key, value in params.items():
        if np.ndim(value) != 0:
            raise ValueError(
                f"params: {key} must be a scalar for a plot, got shape {np.shape(value)}"
            )
        params[key] = value.item() if hasattr(value, "item") else value
    unknown = sorted(set(params) - set(record.params))
    if unknown:
        raise ValueError(
            f"params: {record.name} has no parameter(s) {unknown}; its parameters are "
            f"{sorted(record.params) or 'none'}"
        )
    if not record.elementwise:
        fixed = sorted(set(params) & set(_SLICE_FIXED))
        if fixed:
            raise ValueError(
                f"params: {fixed} of {record.name} are fixed by the plot (the first output "
                "of f([x, 0]) along the last axis, 2 pieces)"
            )
        fixed_here = {k: v for k, v in _SLICE_FIXED.items() if k in record.params}
        return {**record.params, **params, **fixed_here}
    return {**record.params, **params}


def activation_curves(
    name: str, x: ArrayLike, *, params: Mapping[str, Any] | None = None
) -> dict[str, np.ndarray]:
    r"""The plotted data of one activation: value, closed-form, autodiff and numerical derivative.

    For an elementwise activation, on the grid :math:`x_i`:

    .. math::

       f(x_i), \qquad f'(x_i) \text{ from } \texttt{.dfdx}, \qquad
       \texttt{vmap(grad(f))}(x_i), \qquad
       \frac{f(x_i + h) - f(x_i - h)}{2h};

    for a non-elementwise one, the same for :math:`x \mapsto f([x, 0])_0`.
    The finite differences are evaluated in float64 with :math:`h = 2^{-20}`
    from the function's values alone; where :math:`f` has a kink or a jump
    inside :math:`[x_i - h, x_i + h]` (the one-sided differences disagree)
    they are NaN.

    Args:
      name: a registry name.
      x: a 1-D grid of finite numbers (float32).
      params: keyword parameters of the activation (registry defaults otherwise).

    Returns:
      ``{"x", "f", "dfdx", "grad", "fd"}``: NumPy arrays of the grid's shape,
      float32 except ``"fd"`` (float64).

    Examples:
      >>> c = activation_curves("sigmoid", [0.0, 2.0])
      >>> [round(float(v), 4) for v in c["dfdx"]]
      [0.25, 0.105]
      >>> bool((c["dfdx"] == c["grad"]).all())
      True
      >>> [round(float(v), 6) for v in c["fd"]]
      [0.25, 0.104994]
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a registry name (str), got {name!r}")
    record = jaxact.get(name)
    grid = _as_grid(x)
    kw = _merged_params(record, params)
    value, closed, auto = _compiled_curves(record.name, tuple(sorted(kw.items())))(grid)
    as_np = lambda a: np.asarray(a, np.float32)
    return {
        "x": grid,
        "f": as_np(value),
        "dfdx": as_np(closed),
        "grad": as_np(auto),
        "fd": _finite_differences(record, kw, grid),
    }


#: Step of the float64 central differences.
_FD_STEP = 2.0**-20
#: One-sided differences further apart than this (relative) mark a kink or jump.
_FD_KINK = 1e-3


def _finite_differences(record: jaxact.Activation, kw: dict[str, Any], grid: np.ndarray):
    """Central differences of ``f`` in float64, NaN at kinks; never uses ``f``'s JVP rule."""
    with jax.enable_x64(True):
        x = jnp.asarray(grid, jnp.float64)
        if record.elementwise:
            f = lambda t: record.fn(t, **kw)
        else:
            pair = lambda s: record.fn(jnp.stack([s, jnp.zeros_like(s)]), **kw)[0]
            f = jax.vmap(pair)
        h = _FD_STEP
        lo, mid, hi = (np.asarray(f(x + d), np.float64) for d in (-h, 0.0, h))
    central = (hi - lo) / (2 * h)
    left, right = (mid - lo) / h, (hi - mid) / h
    kink = np.abs(left - right) > _FD_KINK * np.maximum(1.0, np.abs(central))
    return np.where(kink, np.nan, central)


@functools.lru_cache(maxsize=256)
def _compiled_curves(name: str, items: tuple[tuple[str, Any], ...]):
    """One jitted ``grid -> (f, closed-form f', vmap(grad(f)))`` per activation and parameters."""
    record = jaxact.get(name)
    kw = dict(items)
    if record.elementwise:
        f = lambda t: record.fn(t, **kw)
        closed = lambda xs: record.dfdx(xs, **kw)
    else:  # the first output of f([x, 0]); its derivative is the JVP with v = e_0
        f = lambda t: record.fn(jnp.stack([t, jnp.zeros_like(t)]), **kw)[0]

        def closed(xs):
            pairs = jnp.stack([xs, jnp.zeros_like(xs)], axis=-1)
            return record.dfdx(pairs, jnp.zeros_like(pairs).at[:, 0].set(1.0), **kw)[:, 0]

    def run(xs):
        shape = xs.shape
        return (
            jnp.broadcast_to(jax.vmap(f)(xs), shape),
            jnp.broadcast_to(closed(xs), shape),
            jax.vmap(jax.grad(f))(xs),
        )

    return jax.jit(run)


def _style(ax) -> None:
    """The sources' look: axes through the origin, a light grid."""
    ax.grid(alpha=0.3)
    ax.axhline(0.0, color="0.3", lw=0.8, zorder=0)
    ax.axvline(0.0, color="0.3", lw=0.8, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _label(record: jaxact.Activation) -> str:
    return record.name if record.elementwise else f"{record.name}([x, 0])₀"


def plot_activation(
    name_or_names: str | Sequence[str],
    *,
    x: ArrayLike | None = None,
    params: Mapping[str, Any] | None = None,
    ax: Any = None,
    derivative: bool = True,
) -> Figure:
    r"""Plots activations and their derivatives; returns the matplotlib Figure.

    The function :math:`f` is drawn in the first panel and :math:`f'` in the
    second: the line is the registry's closed form ``.dfdx``, the markers are
    central finite differences of ``f`` in float64 on the same grid (see
    :func:`activation_curves`). Non-elementwise activations
    (softmax family, maxout) are drawn along one coordinate,
    :math:`x \mapsto f([x, 0])_0`.

    Args:
      name_or_names: a registry name, or several (drawn on the same axes).
      x: 1-D grid of the inputs; ``linspace(-6, 6, 481)`` by default.
      params: keyword parameters passed to every named activation (each must
        have them), e.g. ``{"alpha": 0.2}``; the registry defaults otherwise.
      ax: ``None`` (a new figure, the two panels side by side), one Axes (the
        function and its derivative overlaid, the derivative dashed), or a
        pair of Axes ``(function_ax, derivative_ax)``.
      derivative: draw the derivative too.

    Returns:
      The ``matplotlib.figure.Figure`` holding the plot. Lines carry the gids
      ``"f:<name>"``, ``"dfdx:<name>"`` and ``"fd:<name>"``.

    Raises:
      ValueError: an unknown name or parameter, a bad grid or ``ax``.
      ImportError: matplotlib is not installed.

    Examples:
      >>> fig = plot_activation(["sigmoid", "tanh"])
      >>> [a.get_title() for a in fig.axes]
      ['f(x)', "f'(x): closed form (line), finite differences (markers)"]
    """
    names = _as_names(name_or_names)
    grid = _as_grid(x)
    if not isinstance(derivative, bool):
        raise TypeError(f"derivative must be a bool, got {derivative!r}")
    records = [jaxact.get(n) for n in names]
    data = [activation_curves(r.name, grid, params=params) for r in records]

    if ax is None:
        fig = _matplotlib().Figure(figsize=(10.0 if derivative else 5.2, 3.9), layout="constrained")
        axes = fig.subplots(1, 2 if derivative else 1, squeeze=False)[0]
        f_ax, d_ax = axes[0], (axes[1] if derivative else None)
    elif isinstance(ax, (tuple, list)):
        if len(ax) != 2 or not derivative:
            raise ValueError(
                "ax must be None, one Axes, or a pair (function_ax, derivative_ax) "
                f"with derivative=True; got {len(ax)} axes with derivative={derivative}"
            )
        f_ax, d_ax = ax
    elif hasattr(ax, "plot") and hasattr(ax, "figure"):
        f_ax, d_ax = ax, (ax if derivative else None)
    else:
        raise TypeError(f"ax must be a matplotlib Axes, a pair of them, or None; got {ax!r}")
    overlaid = d_ax is f_ax

    every = max(1, grid.size // 40)
    for i, (record, c) in enumerate(zip(records, data, strict=True)):
        color = f"C{i % 10}"
        label = _label(record)
        f_ax.plot(c["x"], c["f"], color=color, lw=1.8, label=label, gid=f"f:{record.name}")
        if d_ax is None:
            continue
        d_ax.plot(
            c["x"],
            c["dfdx"],
            color=color,
            lw=1.4,
            ls="--" if overlaid else "-",
            label=f"{label}′ closed form",
            gid=f"dfdx:{record.name}",
        )
        d_ax.plot(
            c["x"],
            c["fd"],
            color=color,
            ls="none",
            marker="o",
            ms=3.5,
            mfc="none",
            markevery=every,
            label=f"{label}′ finite differences",
            gid=f"fd:{record.name}",
        )
    _style(f_ax)
    f_ax.set_xlabel("x")
    if overlaid:
        f_ax.set_title("f(x) (solid) and f'(x) (dashed: closed form, markers: finite differences)")
    else:
        f_ax.set_title("f(x)")
        if d_ax is not None:
            _style(d_ax)
            d_ax.set_xlabel("x")
            d_ax.set_title("f'(x): closed form (line), finite differences (markers)")
    if len(records) > 1 or overlaid:
        f_ax.legend(fontsize=7, loc="best")
    if d_ax is not None and not overlaid:
        d_ax.legend(fontsize=7, loc="best")
    return f_ax.figure


def _atomic_savefig(fig, path: Path) -> None:
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))


def gallery(path_or_dir: str | os.PathLike, names: Sequence[str] | None = None) -> list[Path]:
    r"""Writes a plot of each activation and its derivative, for the report's gallery.

    A path ending in ``.png`` gets one grid figure (one row of two panels per
    activation); any other path is a directory that gets ``<name>.png`` per
    activation. Each plot is :func:`plot_activation` at the registry defaults
    on :math:`x \in [-6, 6]`; the non-elementwise activations (softmax family,
    maxout) are drawn along one coordinate, :math:`f([x, 0])_0`.

    Args:
      path_or_dir: a ``.png`` file (grid) or a directory (one file each).
      names: registry names; every name in :func:`jaxact.names` by default.

    Returns:
      The paths written (one for a grid).

    Examples:
      >>> import tempfile, pathlib
      >>> d = pathlib.Path(tempfile.mkdtemp())
      >>> [p.name for p in gallery(d, ["relu"])]
      ['relu.png']
    """
    if not isinstance(path_or_dir, (str, os.PathLike)):
        raise TypeError(f"path_or_dir must be a path, got {path_or_dir!r}")
    names = _as_names(list(jaxact.names()) if names is None else names)
    target = Path(path_or_dir)
    if target.suffix.lower() == ".png":
        fig = _matplotlib().Figure(figsize=(10.0, 3.0 * len(names)), layout="constrained")
        rows = fig.subplots(len(names), 2, squeeze=False)
        for name, (f_ax, d_ax) in zip(names, rows, strict=True):
            plot_activation(name, ax=(f_ax, d_ax))
            f_ax.set_title(f"{_label(jaxact.get(name))}")
        _atomic_savefig(fig, target)
        return [target]
    if target.exists() and not target.is_dir():
        raise ValueError(f"path_or_dir must be a directory or a .png path, got the file {target}")
    written = []
    for name in names:
        fig = plot_activation(name)
        fig.suptitle(_label(jaxact.get(name)))
        path = target / f"{name}.png"
        _atomic_savefig(fig, path)
        written.append(path)
    return written
