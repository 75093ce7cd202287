"""Argument checks shared by every activation and every closed-form derivative.

Each public function funnels its input through :func:`as_float_array` (the one
place where ``x`` is validated and promoted) and its parameters through
:func:`as_param` and :func:`broadcast`, so every function reports bad input the
same way: a ``TypeError`` or ``ValueError`` whose message starts with
``jaxact.<function>:`` and names the offending argument.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike


def _describe(value: Any) -> str:
    """A short description of ``value`` for an error message."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    dtype = getattr(value, "dtype", None)
    suffix = f" with dtype {dtype}" if dtype is not None else ""
    return f"{type(value).__name__} {text}{suffix}"


def _has_text(seq: list | tuple) -> bool:
    """Whether a (nested) list/tuple holds strings (``jnp.asarray`` would warn, not raise)."""
    return any(
        isinstance(v, (str, bytes)) or (isinstance(v, (list, tuple)) and _has_text(v)) for v in seq
    )


def default_float_dtype() -> np.dtype:
    """float64 when ``jax_enable_x64`` is on, float32 otherwise."""
    return jnp.result_type(float)


def as_float_array(x: Any, fn: str, arg: str = "x") -> Array:
    """Validate ``x`` and return it as a real floating JAX array.

    Floating dtypes (float16, bfloat16, float32, float64) are kept; integer and
    bool inputs are promoted to the default float dtype. Strings, objects and
    complex numbers raise ``TypeError`` naming ``arg``.
    """
    if isinstance(x, (str, bytes)) or (isinstance(x, (list, tuple)) and _has_text(x)):
        raise TypeError(f"jaxact.{fn}: `{arg}` must be a real numeric array, got {_describe(x)}.")
    try:
        arr = jnp.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"jaxact.{fn}: `{arg}` must be a real numeric array, got {_describe(x)}."
        ) from e
    dtype = arr.dtype
    if jnp.issubdtype(dtype, jnp.complexfloating):
        raise TypeError(
            f"jaxact.{fn}: `{arg}` must be real; complex input ({dtype}) is not supported."
        )
    if jnp.issubdtype(dtype, jnp.floating):
        return arr
    if jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.bool_):
        return arr.astype(default_float_dtype())
    raise TypeError(f"jaxact.{fn}: `{arg}` must be a real numeric array, got {_describe(x)}.")


def as_param(value: Any, name: str, fn: str, dtype: Any) -> Array:
    """Validate a continuous parameter and cast it to ``dtype`` (the dtype of ``x``).

    Casting to ``x``'s dtype means a float32 (or Python float) parameter never
    upcasts a bfloat16/float16 input. Bools, strings and complex numbers raise
    ``TypeError`` naming the parameter.
    """
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(
            f"jaxact.{fn}: `{name}` must be a real number or array, got {_describe(value)}."
        )
    try:
        arr = jnp.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"jaxact.{fn}: `{name}` must be a real number or array, got {_describe(value)}."
        ) from e
    if not (jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)):
        raise TypeError(
            f"jaxact.{fn}: `{name}` must be a real number or array, got {_describe(value)}."
        )
    return arr.astype(dtype)


def concrete(value: Any) -> np.ndarray | None:
    """``value`` as a NumPy array when it is concrete, ``None`` when it is a tracer."""
    try:
        return np.asarray(value)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def check_constraint(value: Any, constraint: str, name: str, fn: str) -> None:
    """Raise ``ValueError`` if a concrete ``value`` violates ``constraint``.

    ``constraint`` is ``"positive"`` or ``"non-negative"``. Traced values (under
    ``jit``/``grad`` with the parameter as an argument) cannot be checked and
    are let through.
    """
    if isinstance(value, (str, bytes, bool, np.bool_)):
        return  # as_param reports the type error
    v = concrete(value)
    if v is None or not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)):
        return
    if constraint == "positive":
        bad = ~(v > 0)
    elif constraint == "non-negative":
        bad = ~(v >= 0)
    else:  # pragma: no cover - the constraint tables are internal
        raise AssertionError(f"unknown constraint {constraint!r}")
    if np.any(bad):
        shown = v if v.ndim == 0 else v[bad]
        raise ValueError(f"jaxact.{fn}: `{name}` must be {constraint}, got {shown}.")


def broadcast(fn: str, x: Array, params: dict[str, Array]) -> tuple[Array, ...]:
    """Broadcast ``x`` and the parameters to their common shape, explicitly.

    Explicit ``broadcast_to`` keeps the functions usable under
    ``jax_numpy_rank_promotion="raise"`` with per-channel parameters.
    """
    shapes = [x.shape, *(p.shape for p in params.values())]
    try:
        shape = jnp.broadcast_shapes(*shapes)
    except ValueError as e:
        got = ", ".join(f"`{k}` {p.shape}" for k, p in params.items())
        raise ValueError(
            f"jaxact.{fn}: parameters do not broadcast against `x` of shape {x.shape}: {got}."
        ) from e
    return tuple(jnp.broadcast_to(a, shape) for a in (x, *params.values()))


def check_int(value: Any, name: str, fn: str, *, minimum: int | None = None) -> int:
    """``value`` as a Python int; ``TypeError`` if it is not an integer, ``ValueError`` below ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"jaxact.{fn}: `{name}` must be an int, got {_describe(value)}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"jaxact.{fn}: `{name}` must be >= {minimum}, got {value}.")
    return value


def check_axis(axis: Any, ndim: int, fn: str) -> int:
    """``axis`` normalised to ``0 <= axis < ndim``; ``TypeError``/``ValueError`` otherwise."""
    axis = check_int(axis, "axis", fn)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"jaxact.{fn}: `axis` {axis} is out of range for `x` with {ndim} dimension(s)."
        )
    return axis % ndim


def check_bool(value: Any, name: str, fn: str) -> bool:
    """``value`` as a Python bool; ``TypeError`` for anything else (including tracers)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"jaxact.{fn}: `{name}` must be a Python bool, got {_describe(value)}.")
    return bool(value)


def as_tangent(v: ArrayLike, x: Array, fn: str) -> Array:
    """The direction ``v`` of a Jacobian-vector product: same shape as ``x``, cast to its dtype."""
    v = as_float_array(v, fn, arg="v")
    if v.shape != x.shape:
        raise ValueError(f"jaxact.{fn}: `v` must have the shape of `x` {x.shape}, got {v.shape}.")
    return v.astype(x.dtype)
