r"""The core-unit search space of Ramachandran, Zoph & Le (2017).

A candidate activation is the *core unit*

.. math::

   f(x) = b\bigl(u_1(x), u_2(x)\bigr)

with two unary functions :math:`u_1, u_2` and one binary function :math:`b`
from fixed lists (:data:`UNARY`, :data:`BINARY`). A candidate is the integer
triple ``codes = (u1, u2, b)``; :func:`core_unit` evaluates it by *selection*
(every op of the list is computed and the coded ones are picked with
``lax.select_n``), so ``codes`` is an ordinary array input: one compiled
program evaluates any candidate, and ``vmap`` over ``codes`` evaluates many.

Three constants :math:`\beta = (\beta_1, \beta_2, \beta_3)` belong to the unit:
:math:`\beta_1` is the :math:`\beta` of :math:`u_1`, :math:`\beta_2` that of
:math:`u_2`, :math:`\beta_3` that of :math:`b` (ops without :math:`\beta`
ignore theirs). They are meant to be learned.

**Numerical guards.** Every candidate gives a finite output for every finite input ``x`` and every
finite ``beta`` (float16, bfloat16, float32, float64), and finite gradients
with respect to ``x`` and ``beta`` (the tests check every candidate at inputs
up to the float32 maximum), through these guards (the constants are
:data:`GUARDS`):

1. *input*: ``x`` is clipped to :math:`[-R, R]`, :math:`R = 10^4`, before
   any op (so :math:`x^3 \le 10^{12}` and every op's derivative is finite
   where it is evaluated); ``beta`` is clipped to :math:`[-B, B]`,
   :math:`B = 10^3`.
2. *exponentials*: ``exp``, ``sinh`` and ``cosh`` take their argument clipped
   to at most :math:`E = 80` (:math:`e^{80} \approx 5.5 \cdot 10^{34}`), and
   so do the exponentials of the binary ops
   :math:`e^{-\beta(x_1-x_2)^2}`, :math:`e^{-\beta|x_1-x_2|}` (which grow
   when :math:`\beta < 0`).
3. *roots and logs*: :math:`\sqrt{x}` is :math:`\sqrt{|x| + \epsilon}` and
   :math:`\log` is :math:`\log(|x| + \epsilon)`, :math:`\epsilon = 10^{-6}`
   (finite value and derivative at 0).
4. *unary outputs*: each :math:`u_i(x)` is clipped to :math:`[-M, M]`,
   :math:`M = 10^{15}`, so the binary ops stay below :math:`M^2 = 10^{30}`.
5. *division*: :math:`x_1 / (x_2 + \epsilon)` uses the denominator
   :math:`d = x_2 + \epsilon`, replaced by :math:`\epsilon` where
   :math:`|d| < \epsilon`, so :math:`|x_1/d| \le M/\epsilon = 10^{21}`.
6. *dtype*: float16 and bfloat16 inputs are computed in float32 and the
   result clipped to the input dtype's finite range before the cast back
   (float64 is computed in float64).

Inside the guarded ranges (:math:`|x| \le R`, no clip active) every op equals
its textbook formula. The unary :math:`\beta` op is the constant
:math:`\beta` broadcast to the shape of ``x``.

References:
  Ramachandran, Zoph & Le, "Searching for Activation Functions", 2017,
  arXiv:1710.05941.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import re
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

__all__ = [
    "BINARY",
    "GUARDS",
    "NUM_BINARY",
    "NUM_CANDIDATES",
    "NUM_UNARY",
    "UNARY",
    "Op",
    "binary",
    "canonical_codes",
    "core_unit",
    "core_unit_numpy",
    "core_unit_switch",
    "enumerate_candidates",
    "formula",
    "parse_formula",
    "signatures",
    "unary",
]

#: The guard constants of the module docstring.
GUARDS = {
    "input_clip": 1e4,  # R
    "beta_clip": 1e3,  # B
    "exp_arg_max": 80.0,  # E
    "eps": 1e-6,  # epsilon of sqrt, log and division
    "unary_clip": 1e15,  # M
}
_R = GUARDS["input_clip"]
_B = GUARDS["beta_clip"]
_E = GUARDS["exp_arg_max"]
_EPS = GUARDS["eps"]
_M = GUARDS["unary_clip"]


@dataclasses.dataclass(frozen=True)
class Op:
    """One op of the search space.

    Attributes:
      name: short identifier (``"sigmoid"``, ``"add"``).
      text: the formula template; unary ops use ``{x}`` and ``{beta}``, binary
        ops ``{x1}``, ``{x2}`` and ``{beta}``.
      uses_beta: whether the op reads its :math:`\\beta`.
      fn: the guarded JAX function, ``fn(x, beta)`` or ``fn(x1, x2, beta)``.
      np_fn: the same formula and guards in NumPy (float64), used to
        deduplicate candidates.
    """

    name: str
    text: str
    uses_beta: bool
    fn: Callable[..., jax.Array] = dataclasses.field(repr=False)
    np_fn: Callable[..., np.ndarray] = dataclasses.field(repr=False)


def _xp_exp(xp, z):
    return xp.exp(xp.minimum(z, _E))


def _np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _np_sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _np_softplus(x):
    return np.logaddexp(0.0, x)


def _unary_ops() -> tuple[Op, ...]:
    j, n = jnp, np
    spec = [
        # name, text, uses_beta, jax fn, numpy fn
        ("x", "{x}", False, lambda x, b: x, lambda x, b: x),
        ("neg", "-{x}", False, lambda x, b: -x, lambda x, b: -x),
        ("abs", "abs({x})", False, lambda x, b: j.abs(x), lambda x, b: n.abs(x)),
        ("square", "{x}^2", False, lambda x, b: x * x, lambda x, b: x * x),
        ("cube", "{x}^3", False, lambda x, b: x * x * x, lambda x, b: x * x * x),
        (
            "sqrt",
            "sqrt(abs({x}))",
            False,
            lambda x, b: j.sqrt(j.abs(x) + _EPS),
            lambda x, b: n.sqrt(n.abs(x) + _EPS),
        ),
        ("scale", "{beta}*{x}", True, lambda x, b: b * x, lambda x, b: b * x),
        ("shift", "{x} + {beta}", True, lambda x, b: x + b, lambda x, b: x + b),
        (
            "log",
            "log(abs({x}))",
            False,
            lambda x, b: j.log(j.abs(x) + _EPS),
            lambda x, b: n.log(n.abs(x) + _EPS),
        ),
        ("exp", "exp({x})", False, lambda x, b: _xp_exp(j, x), lambda x, b: _xp_exp(n, x)),
        ("sin", "sin({x})", False, lambda x, b: j.sin(x), lambda x, b: n.sin(x)),
        ("cos", "cos({x})", False, lambda x, b: j.cos(x), lambda x, b: n.cos(x)),
        (
            "sinh",
            "sinh({x})",
            False,
            lambda x, b: j.sinh(j.clip(x, -_E, _E)),
            lambda x, b: n.sinh(n.clip(x, -_E, _E)),
        ),
        (
            "cosh",
            "cosh({x})",
            False,
            lambda x, b: j.cosh(j.clip(x, -_E, _E)),
            lambda x, b: n.cosh(n.clip(x, -_E, _E)),
        ),
        ("tanh", "tanh({x})", False, lambda x, b: j.tanh(x), lambda x, b: n.tanh(x)),
        ("asinh", "asinh({x})", False, lambda x, b: j.arcsinh(x), lambda x, b: n.arcsinh(x)),
        ("atan", "atan({x})", False, lambda x, b: j.arctan(x), lambda x, b: n.arctan(x)),
        ("sinc", "sinc({x})", False, lambda x, b: j.sinc(x), lambda x, b: n.sinc(x)),
        (
            "relu",
            "max({x}, 0)",
            False,
            lambda x, b: j.maximum(x, 0.0),
            lambda x, b: n.maximum(x, 0.0),
        ),
        (
            "neg_relu",
            "min({x}, 0)",
            False,
            lambda x, b: j.minimum(x, 0.0),
            lambda x, b: n.minimum(x, 0.0),
        ),
        (
            "sigmoid",
            "sigmoid({x})",
            False,
            lambda x, b: jax.nn.sigmoid(x),
            lambda x, b: _np_sigmoid(x),
        ),
        (
            "softplus",
            "softplus({x})",
            False,
            lambda x, b: jax.nn.softplus(x),
            lambda x, b: _np_softplus(x),
        ),
        (
            "gauss",
            "exp(-{x}^2)",
            False,
            lambda x, b: j.exp(-(x * x)),
            lambda x, b: n.exp(-(x * x)),
        ),
        ("erf", "erf({x})", False, lambda x, b: jax.lax.erf(x), lambda x, b: _np_erf(x)),
        (
            "const",
            "{beta}",
            True,
            lambda x, b: j.broadcast_to(b, x.shape).astype(x.dtype),
            lambda x, b: n.broadcast_to(b, n.shape(x)).astype(n.float64),
        ),
    ]
    return tuple(Op(*s) for s in spec)


def _safe_div(xp, x1, x2):
    d = x2 + _EPS
    d = xp.where(xp.abs(d) < _EPS, _EPS, d)
    return x1 / d


def _binary_ops() -> tuple[Op, ...]:
    j, n = jnp, np
    spec = [
        ("add", "{x1} + {x2}", False, lambda a, c, b: a + c, lambda a, c, b: a + c),
        ("mul", "{x1} * {x2}", False, lambda a, c, b: a * c, lambda a, c, b: a * c),
        ("sub", "{x1} - {x2}", False, lambda a, c, b: a - c, lambda a, c, b: a - c),
        (
            "div",
            "{x1} / ({x2} + eps)",
            False,
            lambda a, c, b: _safe_div(j, a, c),
            lambda a, c, b: _safe_div(n, a, c),
        ),
        (
            "max",
            "max({x1}, {x2})",
            False,
            lambda a, c, b: j.maximum(a, c),
            lambda a, c, b: n.maximum(a, c),
        ),
        (
            "min",
            "min({x1}, {x2})",
            False,
            lambda a, c, b: j.minimum(a, c),
            lambda a, c, b: n.minimum(a, c),
        ),
        (
            "sigmoid_mul",
            "sigmoid({x1}) * {x2}",
            False,
            lambda a, c, b: jax.nn.sigmoid(a) * c,
            lambda a, c, b: _np_sigmoid(a) * c,
        ),
        (
            "gauss_diff",
            "exp(-{beta}*({x1} - {x2})^2)",
            True,
            lambda a, c, b: _xp_exp(j, -b * (a - c) * (a - c)),
            lambda a, c, b: _xp_exp(n, -b * (a - c) * (a - c)),
        ),
        (
            "laplace_diff",
            "exp(-{beta}*abs({x1} - {x2}))",
            True,
            lambda a, c, b: _xp_exp(j, -b * j.abs(a - c)),
            lambda a, c, b: _xp_exp(n, -b * n.abs(a - c)),
        ),
        (
            "blend",
            "{beta}*{x1} + (1 - {beta})*{x2}",
            True,
            lambda a, c, b: b * a + (1.0 - b) * c,
            lambda a, c, b: b * a + (1.0 - b) * c,
        ),
    ]
    return tuple(Op(*s) for s in spec)


#: The unary ops, in code order (code ``i`` is ``UNARY[i]``).
UNARY: tuple[Op, ...] = _unary_ops()
#: The binary ops, in code order.
BINARY: tuple[Op, ...] = _binary_ops()
NUM_UNARY = len(UNARY)
NUM_BINARY = len(BINARY)
#: Size of the whole space, ``NUM_UNARY ** 2 * NUM_BINARY``.
NUM_CANDIDATES = NUM_UNARY * NUM_UNARY * NUM_BINARY


# --------------------------------------------------------------------------- #
# JAX evaluation
# --------------------------------------------------------------------------- #


def _compute_dtype(x: jax.Array):
    if x.dtype == jnp.float64:
        return jnp.float64
    return jnp.float32


def _check_codes(codes: jax.Array) -> None:
    if codes.shape != (3,):
        raise ValueError(
            f"jaxact.search_space.core_unit: codes must have shape (3,) (u1, u2, b), "
            f"got shape {codes.shape}."
        )


def _check_beta(beta: jax.Array) -> None:
    if beta.shape not in ((), (3,)):
        raise ValueError(
            f"jaxact.search_space.core_unit: beta must be a scalar or have shape (3,) "
            f"(beta1, beta2, beta3), got shape {beta.shape}."
        )


def unary(code: int, x: ArrayLike, beta: ArrayLike = 1.0) -> jax.Array:
    r"""Unary op number ``code`` (guarded) applied to ``x``.

    Args:
      code: an index into :data:`UNARY` (a Python int).
      x: input array.
      beta: the op's :math:`\beta` (used by ``scale``, ``shift``, ``const``).

    Returns:
      An array like ``x`` (ints are promoted to float).

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxact import search_space as ss
      >>> [op.name for op in ss.UNARY][:4]
      ['x', 'neg', 'abs', 'square']
      >>> ss.unary(3, jnp.array([-2.0, 3.0]))
      Array([4., 9.], dtype=float32)
    """
    op = _lookup(UNARY, code, "code", "unary")
    x = _as_float(x, "unary")
    out_dtype = x.dtype
    xc = _guard_input(x)
    b = jnp.clip(jnp.asarray(beta, xc.dtype), -_B, _B)
    return _finish(jnp.clip(op.fn(xc, b), -_M, _M), out_dtype)


def binary(code: int, x1: ArrayLike, x2: ArrayLike, beta: ArrayLike = 1.0) -> jax.Array:
    r"""Binary op number ``code`` (guarded) applied to ``x1``, ``x2``.

    Args:
      code: an index into :data:`BINARY` (a Python int).
      x1, x2: input arrays of one shape (the unary outputs).
      beta: the op's :math:`\beta` (used by the ``exp`` ops and ``blend``).

    Returns:
      An array of the inputs' shape.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxact import search_space as ss
      >>> ss.BINARY[3].text
      '{x1} / ({x2} + eps)'
      >>> ss.binary(0, jnp.array([1.0]), jnp.array([2.0]))
      Array([3.], dtype=float32)
    """
    op = _lookup(BINARY, code, "code", "binary")
    x1 = _as_float(x1, "binary")
    x2 = _as_float(x2, "binary")
    if x1.shape != x2.shape:
        raise ValueError(
            f"jaxact.search_space.binary: x1 and x2 must have one shape, got {x1.shape} "
            f"and {x2.shape}."
        )
    out_dtype = jnp.result_type(x1, x2)
    ct = jnp.float64 if out_dtype == jnp.float64 else jnp.float32
    b = jnp.clip(jnp.asarray(beta, ct), -_B, _B)
    return _finish(op.fn(x1.astype(ct), x2.astype(ct), b), out_dtype)


def _lookup(ops, code, arg, kind):
    if isinstance(code, bool) or not isinstance(code, int | np.integer):
        raise TypeError(
            f"jaxact.search_space.{kind}: {arg} must be an int in [0, {len(ops)}), got {code!r}."
        )
    if not 0 <= code < len(ops):
        raise ValueError(
            f"jaxact.search_space.{kind}: {arg} must be in [0, {len(ops)}), got {code}."
        )
    return ops[int(code)]


def _as_float(x, name):
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        if not (jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_):
            raise TypeError(
                f"jaxact.search_space.{name}: x must be a real array, got dtype {x.dtype}."
            )
        x = x.astype(jnp.result_type(float))
    return x


def _guard_input(x: jax.Array) -> jax.Array:
    return jnp.clip(x.astype(_compute_dtype(x)), -_R, _R)


def _finish(y: jax.Array, out_dtype) -> jax.Array:
    if y.dtype != out_dtype:
        big = float(jnp.finfo(out_dtype).max)
        y = jnp.clip(y, -big, big)
    return y.astype(out_dtype)


def core_unit(x: ArrayLike, codes: ArrayLike, beta: ArrayLike = 1.0) -> jax.Array:
    r"""The core unit :math:`b(u_1(x), u_2(x))` chosen by ``codes``.

    .. math::

       f(x) = b_{c_3}\bigl(u_{c_1}(x; \beta_1), u_{c_2}(x; \beta_2); \beta_3\bigr)

    Every unary op is computed once and the two coded ones are selected with
    ``lax.select_n`` (likewise for the binary ops), so ``codes`` may be a
    traced array: one compiled program serves every candidate, and ``vmap``
    over ``codes`` evaluates many candidates at once. Under ``vmap`` this is
    faster than :func:`core_unit_switch` (``lax.switch`` is then lowered to a
    select over every branch anyway); ``python -m experiments.search
    --bench-selection`` times the two.
    The numerical guards are in the module docstring.

    Args:
      x: input array (any shape).
      codes: shape ``(3,)``: ``(u1, u2, b)``, indices into :data:`UNARY`,
        :data:`UNARY`, :data:`BINARY`. Integer or integer-valued float (a
        parameter leaf); rounded, then clipped into range. No gradient flows
        to ``codes``.
      beta: :math:`(\beta_1, \beta_2, \beta_3)`, shape ``(3,)``, or one scalar
        for all three.

    Returns:
      An array of ``x``'s shape and dtype (ints promoted to float).

    Raises:
      ValueError: ``codes`` not of shape ``(3,)``; ``beta`` neither a scalar
        nor of shape ``(3,)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import search_space as ss
      >>> swish = ss.parse_formula("sigmoid(beta1*x) * x")
      >>> swish
      (6, 0, 6)
      >>> x = jnp.array([-1.0, 0.0, 2.0])
      >>> ss.core_unit(x, jnp.array(swish), 1.0)
      Array([-0.26894143,  0.        ,  1.761594  ], dtype=float32)
      >>> codes = jnp.array([swish, ss.parse_formula("max(x, 0) + x")])
      >>> jax.vmap(ss.core_unit, in_axes=(None, 0, None))(x, codes, 1.0).shape
      (2, 3)
    """
    x = _as_float(x, "core_unit")
    out_dtype = x.dtype
    codes = lax.stop_gradient(jnp.asarray(codes))
    _check_codes(codes)
    beta = jnp.asarray(beta)
    _check_beta(beta)
    xc = _guard_input(x)
    ct = xc.dtype
    beta = jnp.clip(jnp.broadcast_to(beta.astype(ct), (3,)), -_B, _B)
    idx = jnp.round(codes).astype(jnp.int32)
    hi = jnp.array([NUM_UNARY - 1, NUM_UNARY - 1, NUM_BINARY - 1], jnp.int32)
    idx = jnp.clip(idx, 0, hi)
    # Ops without beta are computed once for both slots.
    shared = {
        i: jnp.clip(op.fn(xc, beta[0]), -_M, _M) for i, op in enumerate(UNARY) if not op.uses_beta
    }
    u = []
    for slot in range(2):
        outs = [
            jnp.clip(op.fn(xc, beta[slot]), -_M, _M) if op.uses_beta else shared[i]
            for i, op in enumerate(UNARY)
        ]
        u.append(lax.select_n(idx[slot], *outs))
    outs = [op.fn(u[0], u[1], beta[2]) for op in BINARY]
    return _finish(lax.select_n(idx[2], *outs), out_dtype)


def _clipped_unary(fn, v, b):
    return jnp.clip(fn(v, b), -_M, _M)


def core_unit_switch(x: ArrayLike, codes: ArrayLike, beta: ArrayLike = 1.0) -> jax.Array:
    """:func:`core_unit` written with ``lax.switch`` (kept to compare speeds).

    Same contract and values as :func:`core_unit`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxact import search_space as ss
      >>> x, c = jnp.linspace(-3, 3, 7), jnp.array([6, 0, 6])
      >>> bool(jnp.allclose(ss.core_unit_switch(x, c), ss.core_unit(x, c)))
      True
    """
    x = _as_float(x, "core_unit_switch")
    out_dtype = x.dtype
    codes = lax.stop_gradient(jnp.asarray(codes))
    _check_codes(codes)
    beta = jnp.asarray(beta)
    _check_beta(beta)
    xc = _guard_input(x)
    beta = jnp.clip(jnp.broadcast_to(beta.astype(xc.dtype), (3,)), -_B, _B)
    idx = jnp.round(codes).astype(jnp.int32)
    unary_branches = [functools.partial(_clipped_unary, op.fn) for op in UNARY]
    binary_branches = [op.fn for op in BINARY]
    u1 = lax.switch(idx[0], unary_branches, xc, beta[0])
    u2 = lax.switch(idx[1], unary_branches, xc, beta[1])
    return _finish(lax.switch(idx[2], binary_branches, u1, u2, beta[2]), out_dtype)


# --------------------------------------------------------------------------- #
# NumPy float64 twin (deduplication)
# --------------------------------------------------------------------------- #


def core_unit_numpy(
    x: np.ndarray, codes: Sequence[int], beta: Sequence[float] | float = 1.0
) -> np.ndarray:
    """:func:`core_unit` in NumPy float64 (same formulas and guards).

    Examples:
      >>> import numpy as np
      >>> from jaxact import search_space as ss
      >>> ss.core_unit_numpy(np.array([-1.0, 2.0]), (18, 0, 0))  # max(x, 0) + x
      array([-1.,  4.])
    """
    x = np.clip(np.asarray(x, np.float64), -_R, _R)
    b = np.clip(np.broadcast_to(np.asarray(beta, np.float64), (3,)), -_B, _B)
    c1, c2, cb = (int(c) for c in codes)
    u1 = np.clip(UNARY[c1].np_fn(x, b[0]), -_M, _M)
    u2 = np.clip(UNARY[c2].np_fn(x, b[1]), -_M, _M)
    return BINARY[cb].np_fn(u1, u2, b[2])


# --------------------------------------------------------------------------- #
# Formula text
# --------------------------------------------------------------------------- #

_ATOMIC = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*(?:\(.*\))?|[0-9.]+)$")


def _paren(text: str) -> str:
    """Wraps ``text`` in parentheses unless it is a name or one function call."""
    if _ATOMIC.match(text) and _balanced_call(text):
        return text
    return f"({text})"


def _balanced_call(text: str) -> bool:
    # "sin(x)" is one call; "sin(x) * cos(x)" is not, though it matches the regex.
    if "(" not in text:
        return True
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return False
    return True


_INFIX_SLOTS = {"add", "mul", "sub", "div", "sigmoid_mul", "gauss_diff", "laplace_diff", "blend"}


def _unary_text(code: int, slot: int) -> str:
    return UNARY[code].text.format(x="x", beta=f"beta{slot + 1}")


def formula(codes: Sequence[int] | ArrayLike) -> str:
    """The candidate ``codes = (u1, u2, b)`` as formula text.

    The text names :math:`\\beta_1, \\beta_2, \\beta_3` ``beta1``, ``beta2``,
    ``beta3``; ``eps`` is the guard :math:`\\epsilon`. Every candidate has its
    own text, and :func:`parse_formula` maps it back.

    Args:
      codes: three integers (or integer-valued floats).

    Returns:
      The formula, e.g. ``"sigmoid(beta1*x) * x"``.

    Raises:
      ValueError: codes out of range or not three integers.

    Examples:
      >>> from jaxact import search_space as ss
      >>> ss.formula((6, 0, 6))
      'sigmoid(beta1*x) * x'
      >>> ss.formula((11, 0, 2))
      'cos(x) - x'
    """
    c1, c2, cb = _as_codes(codes, "formula")
    op = BINARY[cb]
    a, c = _unary_text(c1, 0), _unary_text(c2, 1)
    if op.name in _INFIX_SLOTS:
        a, c = _paren(a), _paren(c)
    if op.name == "sigmoid_mul":  # sigmoid's argument needs no parentheses
        a = _unary_text(c1, 0)
    elif op.name == "mul" and UNARY[c1].name == "sigmoid":
        # "(sigmoid(x)) * u2" is the product; "sigmoid(x) * u2" is sigmoid_mul of x.
        a = f"({a})"
    return op.text.format(x1=a, x2=c, beta="beta3")


def _as_codes(codes, name) -> tuple[int, int, int]:
    arr = np.asarray(codes)
    if arr.shape != (3,):
        raise ValueError(
            f"jaxact.search_space.{name}: codes must be three integers (u1, u2, b), "
            f"got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr.astype(np.float64))) or np.any(arr != np.round(arr)):
        raise ValueError(f"jaxact.search_space.{name}: codes must be integers, got {arr.tolist()}.")
    c = tuple(int(v) for v in arr)
    if not (0 <= c[0] < NUM_UNARY and 0 <= c[1] < NUM_UNARY and 0 <= c[2] < NUM_BINARY):
        raise ValueError(
            f"jaxact.search_space.{name}: codes must satisfy 0 <= u1, u2 < {NUM_UNARY} and "
            f"0 <= b < {NUM_BINARY}, got {c}."
        )
    return c


def _normalise(text: str) -> str:
    return "".join(text.split())


@functools.cache
def _text_table() -> dict[str, tuple[int, int, int]]:
    table = {}
    for c in itertools.product(range(NUM_UNARY), range(NUM_UNARY), range(NUM_BINARY)):
        table[_normalise(formula(c))] = c
    return table


def parse_formula(text: str) -> tuple[int, int, int]:
    """The codes of a formula written by :func:`formula`.

    Whitespace is ignored; otherwise the text must be exactly as
    :func:`formula` writes it (every candidate's text is distinct, so this
    is the inverse of :func:`formula`).

    Args:
      text: a formula such as ``"max(x, 0) + x"``.

    Returns:
      ``(u1, u2, b)``.

    Raises:
      ValueError: the text is not the formula of any candidate.

    Examples:
      >>> from jaxact import search_space as ss
      >>> ss.parse_formula("max(x,0) + x")
      (18, 0, 0)
      >>> ss.formula(ss.parse_formula("min(x, sin(x))"))
      'min(x, sin(x))'
    """
    if not isinstance(text, str):
        raise TypeError(
            f"jaxact.search_space.parse_formula: text must be a str, got {type(text).__name__}."
        )
    try:
        return _text_table()[_normalise(text)]
    except KeyError:
        raise ValueError(
            f"jaxact.search_space.parse_formula: text must be a formula written by "
            f"jaxact.search_space.formula (e.g. 'sigmoid(beta1*x) * x'), got {text!r}."
        ) from None


# --------------------------------------------------------------------------- #
# Enumeration and deduplication
# --------------------------------------------------------------------------- #

#: The points and :math:`\beta` settings of the deduplication rule.
DEDUP_GRID = np.linspace(-6.0, 6.0, 121)
DEDUP_BETAS = ((0.7, 1.3, 0.45), (1.9, 0.35, 1.6))
DEDUP_RTOL = 1e-9
DEDUP_ATOL = 1e-12


def _all_codes() -> np.ndarray:
    return np.array(
        list(itertools.product(range(NUM_UNARY), range(NUM_UNARY), range(NUM_BINARY))),
        np.int32,
    )


def _signatures(codes: np.ndarray, swap: bool) -> np.ndarray:
    """Outputs of every candidate at every (beta setting, grid point), float64."""
    parts = []
    for betas in DEDUP_BETAS:
        b1, b2, b3 = betas
        if swap:
            b1, b2 = b2, b1
        x = DEDUP_GRID
        u1 = np.stack([np.clip(op.np_fn(x, b1), -_M, _M) for op in UNARY])
        u2 = np.stack([np.clip(op.np_fn(x, b2), -_M, _M) for op in UNARY])
        out = np.empty((len(codes), x.size))
        for k, op in enumerate(BINARY):
            sel = codes[:, 2] == k
            out[sel] = op.np_fn(u1[codes[sel, 0]], u2[codes[sel, 1]], b3)
        parts.append(out)
    return np.concatenate(parts, axis=1)


def signatures(codes: ArrayLike) -> np.ndarray:
    """The deduplication signature of each candidate (rows of ``codes``).

    Returns:
      float64 array ``(len(codes), len(DEDUP_BETAS) * len(DEDUP_GRID))``: each
      candidate's outputs on :data:`DEDUP_GRID` under each :data:`DEDUP_BETAS`.

    Examples:
      >>> from jaxact import search_space as ss
      >>> ss.signatures([(0, 0, 0)]).shape
      (1, 242)
    """
    codes = np.asarray(codes, np.int32).reshape(-1, 3)
    return _signatures(codes, swap=False)


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise: ``a[i]`` equals ``b`` within the dedup tolerance everywhere."""
    tol = DEDUP_ATOL + DEDUP_RTOL * np.maximum(np.abs(a), np.abs(b))
    return np.all(np.abs(a - b) <= tol, axis=-1)


@functools.cache
def _dedup_table() -> tuple[np.ndarray, np.ndarray]:
    """(all codes, index of each candidate's kept representative)."""
    codes = _all_codes()
    sig = _signatures(codes, swap=False)
    sig_swap = _signatures(codes, swap=True)
    n = len(codes)
    # A 1-D projection with positive weights bounds the distance between two
    # signatures from below: |p_i - p_j| <= sum_k w_k |s_ik - s_jk|, so every
    # duplicate of i lies within a window of i's projection in sorted order.
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 1.5, sig.shape[1])
    proj = sig @ w
    order = np.argsort(proj, kind="stable")
    sorted_proj = proj[order]
    scale = np.abs(sig) @ w
    rep = np.arange(n)
    for variant in (sig, sig_swap):
        pv = variant @ w
        slack = DEDUP_ATOL * w.sum() + DEDUP_RTOL * 2.0 * (np.abs(variant) @ w + scale.max())
        lo = np.searchsorted(sorted_proj, pv - slack, side="left")
        hi = np.searchsorted(sorted_proj, pv + slack, side="right")
        for j in range(n):
            if hi[j] - lo[j] <= 1 and variant is sig:
                continue
            cands = order[lo[j] : hi[j]]
            cands = cands[cands < j]
            if cands.size == 0:
                continue
            match = cands[_close(sig[cands], variant[j])]
            if match.size:
                rep[j] = min(rep[j], int(match.min()))
    # Representatives of representatives: keep the earliest of each class.
    for j in range(n):
        rep[j] = rep[rep[j]]
    return codes, rep


def _index(c: tuple[int, int, int]) -> int:
    return (c[0] * NUM_UNARY + c[1]) * NUM_BINARY + c[2]


def canonical_codes(codes: Sequence[int] | ArrayLike) -> tuple[int, int, int]:
    """The candidate that :func:`enumerate_candidates` keeps for ``codes``.

    Examples:
      >>> from jaxact import search_space as ss
      >>> ss.formula(ss.canonical_codes(ss.parse_formula("x + max(x, 0)")))
      'x + max(x, 0)'
      >>> ss.formula(ss.canonical_codes(ss.parse_formula("max(x, 0) + x")))
      'x + max(x, 0)'
    """
    c = _as_codes(codes, "canonical_codes")
    all_codes, rep = _dedup_table()
    return tuple(int(v) for v in all_codes[rep[_index(c)]])


def enumerate_candidates(dedupe: bool = True) -> np.ndarray:
    r"""Every candidate of the space as rows ``(u1, u2, b)``, in code order.

    Code order is lexicographic in ``(u1, u2, b)``. With ``dedupe=True`` a
    candidate is dropped when an earlier one computes the same function. The
    rule: evaluate both (NumPy float64, with the guards) at the 121 points
    ``linspace(-6, 6, 121)`` under each of the two :math:`\beta` settings
    :data:`DEDUP_BETAS`; they are equal when every output agrees within
    ``1e-12 + 1e-9 * max(|a|, |b|)``, either as they are or after exchanging
    :math:`\beta_1` and :math:`\beta_2` in the later one (the two unary slots'
    :math:`\beta` are interchangeable learnable constants, both initialised
    alike, so :math:`\beta_1 x + x` and :math:`x + \beta_2 x` are one family;
    this also merges the two orders of the symmetric ops ``+``, ``*``,
    ``max``, ``min``). The earliest candidate of each class is kept.

    Args:
      dedupe: drop duplicates (``False``: all :data:`NUM_CANDIDATES`).

    Returns:
      int32 array ``(num_candidates, 3)``.

    Examples:
      >>> from jaxact import search_space as ss
      >>> ss.enumerate_candidates(dedupe=False).shape
      (6250, 3)
      >>> c = ss.enumerate_candidates()
      >>> len(c) < 6250, ss.formula(c[0])
      (True, 'x + x')
    """
    all_codes, rep = _dedup_table()
    if not dedupe:
        return all_codes.copy()
    return all_codes[rep == np.arange(len(all_codes))].copy()
