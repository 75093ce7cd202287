"""Argument checking and parameter plumbing shared by ``jaxact.linen`` and ``jaxact.nnx``.

Private: the public surface is the two module namespaces. Nothing here knows
an activation formula; every value goes through ``jaxact.get(name).fn``.
"""

from __future__ import annotations

import functools
import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxact import initializers

#: Constraint name -> (raw -> value, value -> raw). The stored leaf is ``raw``.
_CONSTRAINTS: dict[
    str, tuple[Callable[[jax.Array], jax.Array], Callable[[jax.Array], jax.Array]]
] = {
    "positive": (
        jax.nn.softplus,
        # Inverse of softplus, stable for small and large v: v + log(1 - e^-v).
        lambda v: v + jnp.log(-jnp.expm1(-v)),
    ),
}

CONSTRAINT_NAMES: tuple[str, ...] = tuple(_CONSTRAINTS)


def _registry():
    import jaxact  # late: jaxact/__init__ may be importing while this module loads

    return jaxact


def lookup(name: Any, *, arg: str = "activation") -> Any:
    """Return the registry record of ``name`` or raise a ValueError naming ``arg``."""
    jaxact = _registry()
    if not isinstance(name, str):
        raise ValueError(f"{arg}: expected an activation name (str), got {name!r}.")
    try:
        return jaxact.get(name)
    except (KeyError, ValueError, LookupError) as e:
        raise ValueError(
            f"{arg}: unknown activation {name!r}; expected one of {', '.join(jaxact.names())}."
        ) from e


@functools.cache
def all_learnable_names() -> frozenset[str]:
    """Every parameter name that some registry activation declares learnable."""
    jaxact = _registry()
    return frozenset(p for n in jaxact.names() for p in jaxact.get(n).learnable)


def as_items(mapping: Mapping[str, Any] | tuple | None, *, arg: str) -> tuple[tuple[str, Any], ...]:
    """A mapping (or an items tuple, or None) as a tuple of ``(name, value)`` pairs.

    Linen modules must be hashable, so mappings are stored this way. Order is
    kept as given.
    """
    if mapping is None:
        return ()
    if isinstance(mapping, Mapping):
        items = tuple(mapping.items())
    elif isinstance(mapping, tuple) and all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in mapping
    ):
        items = mapping
    else:
        raise ValueError(
            f"{arg}: expected a mapping from parameter name to value, got {mapping!r}."
        )
    for k, _ in items:
        if not isinstance(k, str):
            raise ValueError(f"{arg}: parameter names must be str, got {k!r}.")
    return items


def check_fixed(record: Any, params: tuple[tuple[str, Any], ...], *, arg: str = "params") -> None:
    """Every fixed parameter name must be a keyword of the activation."""
    valid = tuple(record.params)
    for k, _ in params:
        if k not in valid:
            raise ValueError(
                f"{arg}: activation {record.name!r} has no parameter {k!r}; "
                f"its parameters are: {', '.join(valid) or '(none)'}."
            )


def resolve_learnable(record: Any, learnable: Any, *, arg: str = "learnable") -> tuple[str, ...]:
    """``None``/``True`` -> all of ``record.learnable``; a name or names -> checked subset."""
    valid = tuple(record.learnable)
    if learnable is None or learnable is True:
        names = valid
        if not names:
            raise ValueError(
                f"{arg}: activation {record.name!r} has no learnable parameters; "
                "use a fixed activation instead."
            )
        return names
    if isinstance(learnable, str):
        learnable = (learnable,)
    if not isinstance(learnable, (tuple, list)) or not learnable:
        raise ValueError(
            f"{arg}: expected True or a non-empty tuple of parameter names, got {learnable!r}."
        )
    for n in learnable:
        if n not in valid:
            raise ValueError(
                f"{arg}: {n!r} is not a learnable parameter of {record.name!r}; "
                f"valid: {', '.join(valid) or '(none)'}."
            )
    if len(set(learnable)) != len(learnable):
        raise ValueError(f"{arg}: repeated parameter names in {learnable!r}.")
    return tuple(learnable)


def resolve_constraints(
    names: tuple[str, ...], constraint: Any, *, arg: str = "constraint"
) -> dict[str, str | None]:
    """``None``, one constraint name for all, or a per-parameter mapping/items tuple."""
    if constraint is None or isinstance(constraint, str):
        out = {n: constraint for n in names}
    else:
        items = dict(as_items(constraint, arg=arg))
        for k in items:
            if k not in names:
                raise ValueError(f"{arg}: {k!r} is not one of the learnable parameters {names!r}.")
        out = {n: items.get(n) for n in names}
    for n, c in out.items():
        if c is not None and c not in _CONSTRAINTS:
            raise ValueError(
                f"{arg}: unknown constraint {c!r} for {n!r}; expected None or one of "
                f"{', '.join(CONSTRAINT_NAMES)}."
            )
    return out


def resolve_init(
    record: Any,
    names: tuple[str, ...],
    init_values: tuple[tuple[str, Any], ...],
    constraints: Mapping[str, str | None],
    *,
    arg: str = "init_values",
) -> dict[str, Any]:
    """Initial value of every learnable parameter: given, or the registry default."""
    given = dict(init_values)
    for k in given:
        if k not in names:
            raise ValueError(f"{arg}: {k!r} is not one of the learnable parameters {names!r}.")
    out = {n: given.get(n, record.params[n]) for n in names}
    for n, v in out.items():
        if constraints.get(n) == "positive" and isinstance(v, numbers.Real) and not v > 0:
            raise ValueError(f"{arg}: {n!r} has constraint 'positive' but initial value {v!r}.")
    return out


def initializer(
    value: Any, constraint: str | None, dtype: Any = jnp.float32
) -> Callable[..., jax.Array]:
    """Initializer ``(key, shape) -> dtype`` filling ``shape`` with the raw value of ``value``.

    The raw value (the inverse of the constraint) is computed in float32 and
    then cast to ``dtype`` (the module's ``param_dtype``).
    """

    def init(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
        del key
        v = jnp.broadcast_to(jnp.asarray(value, jnp.float32), shape)
        if constraint is not None:
            v = _CONSTRAINTS[constraint][1](v)
        return v.astype(dtype)

    return init


def prelu_init(alpha_init: Any, flax_compatible: bool) -> Any:
    """PReLU's initial slope: given, or 0.25 (He et al.), or 0.01 (``flax.linen.PReLU``)."""
    if not isinstance(flax_compatible, (bool, np.bool_)):
        raise ValueError(f"flax_compatible: expected a bool, got {flax_compatible!r}.")
    if alpha_init is not None:
        return alpha_init
    return 0.01 if flax_compatible else 0.25


def check_dtype(dtype: Any, *, arg: str, allow_none: bool = True) -> Any:
    """A floating dtype (or ``None`` where allowed) as ``jnp.dtype``; ValueError otherwise."""
    if dtype is None:
        if allow_none:
            return None
        raise ValueError(f"{arg}: expected a floating dtype, got None.")
    try:
        d = jnp.dtype(dtype)
    except TypeError as e:
        raise ValueError(f"{arg}: expected a floating dtype, got {dtype!r}.") from e
    if not jnp.issubdtype(d, jnp.floating):
        raise ValueError(f"{arg}: expected a floating dtype, got {dtype!r}.")
    return d


def cast_input(x: Any, dtype: Any) -> jax.Array:
    """``x`` as an array, cast to the module's ``dtype`` when one is given."""
    x = jnp.asarray(x)
    return x if dtype is None else x.astype(dtype)


#: Normalisation layers offered by the MLPs (``normalization=``), applied to
#: each hidden layer's pre-activations.
NORMALIZATIONS: tuple[str, ...] = ("layer_norm", "rms_norm")


def check_mlp_options(
    activation: Any,
    *,
    use_bias: Any,
    dropout_rate: Any,
    normalization: Any,
    dtype: Any,
    param_dtype: Any,
) -> None:
    """Checks of the MLP options shared by Linen and NNX."""
    if normalization is not None and activation == "maxout":
        raise ValueError(
            "normalization: not available with activation='maxout' (the pieces are "
            "combined before any activation)."
        )
    if not isinstance(use_bias, (bool, np.bool_)):
        raise ValueError(f"use_bias: expected a bool, got {use_bias!r}.")
    if (
        isinstance(dropout_rate, bool)
        or not isinstance(dropout_rate, (int, float, np.floating, np.integer))
        or not 0 <= dropout_rate < 1
    ):
        raise ValueError(f"dropout_rate: expected a number in [0, 1), got {dropout_rate!r}.")
    if normalization is not None and normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization: expected None or one of {', '.join(NORMALIZATIONS)}, "
            f"got {normalization!r}."
        )
    check_dtype(dtype, arg="dtype")
    check_dtype(param_dtype, arg="param_dtype", allow_none=False)


def constrain(raw: jax.Array, constraint: str | None) -> jax.Array:
    """Map a stored raw leaf to the parameter value (identity when unconstrained)."""
    return raw if constraint is None else _CONSTRAINTS[constraint][0](raw)


def compute_dtype(x: jax.Array) -> Any:
    return x.dtype if jnp.issubdtype(x.dtype, jnp.inexact) else jnp.result_type(float)


def as_operand(value: jax.Array, x: jax.Array, channelwise: bool) -> jax.Array:
    """Cast a parameter to the input's dtype; a channelwise one is shaped to broadcast on the last axis."""
    value = value.astype(compute_dtype(x))
    if channelwise:
        value = value.reshape((1,) * (x.ndim - 1) + (-1,))
    return value


def expected_shape(x: jax.Array, channelwise: bool) -> tuple[int, ...]:
    if not channelwise:
        return ()
    if x.ndim == 0:
        raise ValueError(
            "x: channelwise=True needs an input with a feature (last) axis, got a scalar."
        )
    return (x.shape[-1],)


def check_positive_int(value: Any, *, arg: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{arg}: expected an integer >= 1, got {value!r}.")
    return int(value)


def check_layer_sizes(layer_sizes: Any, *, arg: str = "layer_sizes") -> tuple[int, ...]:
    if isinstance(layer_sizes, (int, str)) or not hasattr(layer_sizes, "__iter__"):
        raise ValueError(
            f"{arg}: expected a non-empty sequence of layer widths, got {layer_sizes!r}."
        )
    sizes = tuple(layer_sizes)
    if not sizes:
        raise ValueError(
            f"{arg}: expected a non-empty sequence of layer widths, got {layer_sizes!r}."
        )
    return tuple(check_positive_int(s, arg=arg) for s in sizes)


def kernel_initializer(kernel_init: Any, *, arg: str = "kernel_init") -> Callable[..., jax.Array]:
    """A name from ``jaxact.initializers.names()`` or an initializer callable."""
    if isinstance(kernel_init, str):
        try:
            return initializers.get(kernel_init)
        except ValueError as e:
            raise ValueError(
                f"{arg}: unknown initialisation {kernel_init!r}; expected one of "
                f"{', '.join(initializers.names())} or an initializer function."
            ) from e
    if callable(kernel_init):
        return kernel_init
    raise ValueError(f"{arg}: expected an initialisation name or function, got {kernel_init!r}.")


def mlp_learnable(record: Any, learnable: Any, *, arg: str = "learnable") -> tuple[str, ...]:
    """MLP's ``learnable``: False -> (), True -> all, a tuple -> checked subset."""
    if learnable is False or learnable is None:
        return ()
    return resolve_learnable(record, learnable, arg=arg)


def split_activation_params(
    record: Any, activation_params: tuple[tuple[str, Any], ...], learnable: tuple[str, ...]
) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]]:
    """Split ``activation_params`` into (initial values of learnable, fixed values)."""
    check_fixed(record, activation_params, arg="activation_params")
    init = tuple((k, v) for k, v in activation_params if k in learnable)
    fixed = tuple((k, v) for k, v in activation_params if k not in learnable)
    return init, fixed


def check_mlp(
    activation: Any,
    *,
    activation_params: tuple[tuple[str, Any], ...],
    learnable: Any,
    kernel_init: Any,
    output_activation: Any,
    channelwise: bool,
    num_pieces: Any,
) -> None:
    """Argument checks shared by the Linen and the NNX MLP."""
    record = lookup(activation)
    if output_activation is not None:
        lookup(output_activation, arg="output_activation")
    kernel_initializer(kernel_init)
    names = mlp_learnable(record, learnable)
    if record.name == "maxout":
        check_positive_int(num_pieces, arg="num_pieces")
        if activation_params:
            raise ValueError(
                "activation_params: not used with activation='maxout'; give num_pieces instead."
            )
    else:
        init, _ = split_activation_params(record, activation_params, names)
        if names:
            resolve_init(record, names, init, dict.fromkeys(names))
    if channelwise and not names:
        raise ValueError("channelwise: only applies with learnable=True (or a tuple of names).")


def natural_key(path: tuple[str, ...]) -> tuple:
    """Sort key so that ``act_2`` comes before ``act_10``."""
    return tuple(tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p)) for p in path)
