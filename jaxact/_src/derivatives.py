r"""Public closed-form derivatives, reachable through the registry.

For an elementwise activation ``f(x, **params)`` the registry record holds

- ``dfdx(x, **params)``: :math:`f'(x)`, of the broadcast shape of ``x`` and the
  parameters;
- ``dfdparams[p](x, **params)``: :math:`\partial f/\partial p` elementwise, of
  the same broadcast shape (a caller reduces over the broadcast dimensions for
  per-channel parameters, exactly what ``jax.grad`` does).

For the non-elementwise ones (``maxout``, ``softmax``, ``softmin``,
``log_softmax``) ``dfdx(x, v, **params)`` is the Jacobian-vector product
:math:`J(x)\,v`.

Each wrapper validates its arguments like the activation itself and then
calls the very kernel that the activation's ``custom_jvp`` rule calls
(:mod:`jaxact._src.activations`); no formula is written here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jax import Array
from jax.typing import ArrayLike

from jaxact._src import activations as _a
from jaxact._src import activations_extra as _x
from jaxact._src import learnable_shapes as _ls
from jaxact._src import validation as _v


def elementwise(fn: str, kernel: Callable[..., Array], wrt: str, defaults: Mapping[str, Any]):
    """A public derivative ``(x, **params) -> Array`` around ``kernel(x, *params)``.

    ``wrt`` is ``"x"`` or a parameter name; ``defaults`` are the activation's
    keyword defaults (every parameter, in the order ``kernel`` takes them).
    """
    defaults = dict(defaults)

    def derivative(x: ArrayLike, **params: ArrayLike) -> Array:
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(
                f"jaxact.{fn}: unexpected parameter(s) {unknown}; expected "
                f"{sorted(defaults) or 'none'}."
            )
        return kernel(*_a._prepare(fn, x, **{**defaults, **params}))

    derivative.__name__ = derivative.__qualname__ = f"{fn}_dfd{wrt}"
    keywords = ", ".join(f"{k}={v!r}" for k, v in defaults.items()) or "none"
    derivative.__doc__ = (
        f"Closed-form partial derivative of ``jaxact.{fn}`` with respect to ``{wrt}``, "
        f"elementwise (keywords: {keywords})."
    )
    return derivative


def _gelu_dfdx(x: ArrayLike, *, approximate: bool | str = False) -> Array:
    """Closed-form f'(x) of ``jaxact.gelu`` (exact or tanh-approximated)."""
    approximate = _a._gelu_approximate(approximate)
    x = _v.as_float_array(x, "gelu")
    return _a._gelu_tanh_dx(x) if approximate else _a._gelu_dx(x)


def _maxout_dfdx(x: ArrayLike, v: ArrayLike, *, num_pieces: int = 2, axis: int = -1) -> Array:
    """Jacobian-vector product J(x) v of ``jaxact.maxout``: v at each group's first maximiser."""
    x, num_pieces, axis = _a._maxout_args(x, num_pieces, axis)
    return _a._maxout_jvp(x, _v.as_tangent(v, x, "maxout"), num_pieces, axis)


def _glu_dfdx(x: ArrayLike, v: ArrayLike, *, axis: int = -1) -> Array:
    """Jacobian-vector product J(x) v of ``jaxact.glu`` along ``axis``."""
    x, axis = _x._glu_args(x, axis)
    return _x._glu_jvp(x, _v.as_tangent(v, x, "glu"), axis)


def _along_axis(fn: str, kernel: Callable[[Array, Array, int], Array]):
    def derivative(x: ArrayLike, v: ArrayLike, *, axis: int = -1) -> Array:
        x, axis = _a._axis_args(x, axis, fn)
        return kernel(x, _v.as_tangent(v, x, fn), axis)

    derivative.__name__ = derivative.__qualname__ = f"{fn}_dfdx"
    derivative.__doc__ = f"Jacobian-vector product J(x) v of ``jaxact.{fn}`` along ``axis``."
    return derivative


#: Closed-form f'(x) kernels of the elementwise activations (wrapped by the
#: registry with each activation's parameter defaults).
DX_KERNELS: Mapping[str, Callable[..., Array]] = {
    "identity": _a._identity_dx,
    "step": _a._step_dx,
    "threshold": _a._threshold_dx,
    "sigmoid": _a._sigmoid_dx,
    "tanh": _a._tanh_dx,
    "relu": _a._relu_dx,
    "leaky_relu": _a._leaky_relu_dx,
    "prelu": _a._leaky_relu_dx,
    "elu": _a._elu_dx,
    "selu": _a._selu_dx,
    "parametric_selu": _a._parametric_selu_dx,
    "swish": _a._swish_dx,
    "silu": _a._silu_dx,
    "softplus": _a._softplus_dx,
    "mish": _a._mish_dx,
    "celu": _a._celu_dx,
    "hard_sigmoid": _a._hard_sigmoid_dx,
    "hard_tanh": _a._hard_tanh_dx,
    "relu6": _a._relu6_dx,
    "softsign": _a._softsign_dx,
    "log_sigmoid": _a._log_sigmoid_dx,
    "hard_silu": _x._hard_silu_dx,
    "squareplus": _x._squareplus_dx,
    "sparse_plus": _x._sparse_sigmoid_f,
    "sparse_sigmoid": _x._sparse_sigmoid_dx,
    "log1mexp": _x._log1mexp_dx,
    "hardshrink": _x._hardshrink_dx,
    "softshrink": _x._softshrink_dx,
    "tanhshrink": _x._tanhshrink_dx,
    "rrelu": _x._rrelu_dx,
}

#: Closed-form partial-derivative kernels for each parameter.
DPARAM_KERNELS: Mapping[str, Mapping[str, Callable[..., Array]]] = {
    "threshold": {"threshold": _a._threshold_dthreshold, "value": _a._threshold_dvalue},
    "leaky_relu": {"alpha": _a._leaky_relu_dalpha},
    "prelu": {"alpha": _a._leaky_relu_dalpha},
    "elu": {"alpha": _a._elu_dalpha},
    "celu": {"alpha": _a._celu_dalpha},
    "parametric_selu": {
        "scale": _a._parametric_selu_dscale,
        "alpha": _a._parametric_selu_dalpha,
    },
    "swish": {"beta": _a._swish_dbeta},
    "squareplus": {"b": _x._squareplus_db},
    "hardshrink": {"lambd": _x._hardshrink_dlambd},
    "softshrink": {"lambd": _x._softshrink_dlambd},
    "rrelu": {"lower": _x._rrelu_dbound, "upper": _x._rrelu_dbound},
}

#: Derivatives that are not a kernel over validated arrays: gelu (a static
#: ``approximate`` flag) and the Jacobian-vector products.
SPECIAL_DFDX: Mapping[str, Callable[..., Array]] = {
    "gelu": _gelu_dfdx,
    "maxout": _maxout_dfdx,
    "softmax": _along_axis("softmax", _a._softmax_jvp),
    "softmin": _along_axis("softmin", _a._softmin_jvp),
    "log_softmax": _along_axis("log_softmax", _a._log_softmax_jvp),
    "glu": _glu_dfdx,
}

#: Closed-form derivatives of the learnable-shape activations (rational, apl,
#: blend). Their parameters are coefficient arrays (last axis = coefficient), so
#: ``dfdparams[p]`` stacks the partial derivatives on a trailing axis; these are
#: ready functions, not kernels for :func:`elementwise`.
_LEARNABLE_DFDX, SPECIAL_DFDPARAMS = _ls._public_derivatives()
SPECIAL_DFDX = {**SPECIAL_DFDX, **_LEARNABLE_DFDX}
