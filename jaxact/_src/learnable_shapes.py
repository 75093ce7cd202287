r"""Learnable-shape activations: rational (safe PAU), adaptive piecewise linear, blend.

Each function takes its shape as keyword *coefficient arrays* whose last axis
indexes the coefficient (``numerator[..., j]`` is :math:`a_j`); the leading
axes broadcast against ``x``, so one coefficient set can be shared by a layer
(shape ``(K,)``) or held per channel (shape ``(C, K)`` against ``x`` of shape
``(..., C)``). The closed-form derivatives follow the catalogue's layout
(:mod:`jaxact._src.activations`): ``_<name>_dx`` and ``_<name>_d<param>``
kernels, registered in :mod:`jaxact._src.derivatives`, and a ``jax.custom_jvp``
whose rule evaluates those same closed forms. ``dfdparams[p]`` of a
coefficient array returns the elementwise partial derivatives stacked on a
trailing axis: shape ``broadcast + (K,)``.

Precision: for float16/bfloat16 inputs the value and the derivatives are
computed in float32 (the coefficients too) and rounded once to the input's
dtype; the output dtype is the input's.

:func:`fit_rational` fits a rational's coefficients to a catalogue activation
by least squares, computed here in float64 NumPy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxact._src import validation as _v

# ----------------------------------------------------------------------------
# Defaults. The rational's default coefficients are jaxact's own least-squares
# fit (fit_rational("leaky_relu"), degrees (5, 4), on [-3, 3]); a test checks
# that the fit reproduces them. The fit's odd denominator coefficients b_1, b_3
# (below 2e-8 in size) are set to exactly 0, so that the default denominator
# 1 + b_2 x^2 + b_4 x^4 has no kink and the default is continuously differentiable.
# ----------------------------------------------------------------------------

RATIONAL_NUMERATOR: tuple[float, ...] = (
    0.03357210264310787,
    0.5050000018877405,
    1.6526750978570883,
    2.0081227506199695,
    0.9305755011397366,
    0.1521327635393467,
)
RATIONAL_DENOMINATOR: tuple[float, ...] = (
    0.0,
    3.976480686394315,
    0.0,
    0.30125299864242083,
)
APL_SLOPES: tuple[float, ...] = (-0.25,)
APL_HINGES: tuple[float, ...] = (0.0,)
BLEND_ACTIVATIONS: tuple[str, ...] = ("identity", "relu", "tanh")
BLEND_WEIGHTS: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3)

_HALF = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


def _compute_dtype(dtype: Any) -> Any:
    """float32 for the 16-bit floats, the dtype itself otherwise."""
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype) in _HALF else jnp.dtype(dtype)


def _coefficients(value: Any, name: str, fn: str, dtype: Any, *, size: int | None = None) -> Array:
    """A coefficient array (last axis = coefficient index), cast to ``dtype``."""
    arr = _v.as_param(value, name, fn, dtype)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(
            f"jaxact.{fn}: `{name}` must be an array of coefficients with at least one "
            f"entry on its last axis, got shape {arr.shape}."
        )
    if size is not None and arr.shape[-1] != size:
        raise ValueError(
            f"jaxact.{fn}: `{name}` must have {size} entries on its last axis (one per "
            f"activation), got shape {arr.shape}."
        )
    return arr


def _prepare(fn: str, x: ArrayLike, coefficients: Mapping[str, Any], sizes=None):
    """Validate ``x`` and coefficient arrays; give them one rank (explicit broadcasting).

    Returns ``x`` (its dtype, rank ``r``) and the coefficients in the compute
    dtype with shape ``(rank r batch) + (K,)``, their batch axes broadcasting
    against ``x``.
    """
    x = _v.as_float_array(x, fn)
    cdt = _compute_dtype(x.dtype)
    sizes = sizes or {}
    arrays = {k: _coefficients(v, k, fn, cdt, size=sizes.get(k)) for k, v in coefficients.items()}
    batch = [a.shape[:-1] for a in arrays.values()]
    try:
        shape = jnp.broadcast_shapes(x.shape, *batch)
    except ValueError as e:
        got = ", ".join(f"`{k}` {a.shape}" for k, a in arrays.items())
        raise ValueError(
            f"jaxact.{fn}: the coefficients' leading axes do not broadcast against `x` of "
            f"shape {x.shape}: {got} (the last axis indexes the coefficient)."
        ) from e
    rank = len(shape)
    x = x.reshape((1,) * (rank - x.ndim) + x.shape)
    out = tuple(a.reshape((1,) * (rank + 1 - a.ndim) + a.shape) for a in arrays.values())
    return (x, *out)


def _is_zero(t: Any) -> bool:
    return isinstance(t, SymbolicZero)


# ----------------------------------------------------------------------------
# rational (safe Pade activation unit)
# ----------------------------------------------------------------------------


class _RationalParts(NamedTuple):
    """Shared intermediates of the rational at each point (compute dtype).

    ``big = |x| > 1``. There the polynomials are evaluated in ``z = 1/x``
    (reversed coefficients) and the common power of ``x`` is factored out, so
    no power of ``x`` beyond :math:`x^{m-n}` is ever formed:
    ``f = G * P(z) / D`` with ``G = x^(m-n) sign(x)^n`` and
    ``D = |z|^n + |s_r(z)|``; for ``|x| <= 1``, ``z = x``, ``G = 1`` and
    ``D = 1 + |s(x)|``.
    """

    z: Array
    big: Array
    p: Array  # numerator polynomial (direct or reversed) at z
    sv: Array  # s(x) or s_r(z)
    sg: Array  # sign(sv); sign(0) = 0
    d: Array  # D
    r: Array  # p / D
    g: Array  # G (1 where not big)
    f: Array


def _select(big: Array, arr: Array, i: int, rev: int) -> Array:
    return jnp.where(big, arr[..., rev], arr[..., i])


def _horner(coeffs: Sequence[Array], z: Array, *, derivative: bool = False):
    """sum_i coeffs[i] z^i (and its z-derivative) by Horner's rule."""
    p = coeffs[-1]
    dp = jnp.zeros_like(z)
    for c in coeffs[-2::-1]:
        if derivative:
            dp = dp * z + p
        p = p * z + c
    return (p, dp) if derivative else p


def _num_coeffs(big: Array, a: Array) -> list[Array]:
    m = a.shape[-1] - 1
    return [_select(big, a, i, m - i) for i in range(m + 1)]


def _den_coeffs(big: Array, b: Array) -> list[Array]:
    """Coefficients of T, with s(x) = x T(x) (direct) and s_r(z) = T(z) (reversed)."""
    n = b.shape[-1]
    return [_select(big, b, i, n - 1 - i) for i in range(n)]


def _int_pow(base: Array, k: int) -> Array:
    return jnp.ones_like(base) if k == 0 else jax.lax.integer_pow(base, k)


def _signed_power(x: Array, z: Array, e: int, n: int) -> Array:
    """x^e sign(x)^n for |x| > 1 (x^e = z^-e for e < 0)."""
    out = _int_pow(x, e) if e >= 0 else _int_pow(z, -e)
    return out * jnp.sign(x) if n % 2 else out


def _rational_parts(x: Array, a: Array, b: Array, *, need_dz: bool = False):
    m, n = a.shape[-1] - 1, b.shape[-1]
    big = jnp.abs(x) > 1
    xs = jnp.where(big, x, jnp.ones_like(x))  # finite in the branch not taken
    z = jnp.where(big, 1 / xs, x)
    p = _horner(_num_coeffs(big, a), z, derivative=need_dz)
    t = _horner(_den_coeffs(big, b), z, derivative=need_dz)
    if need_dz:
        (p, dp), (t, dt) = p, t
    sv = jnp.where(big, t, z * t)
    sg = jnp.sign(sv)
    zn = _int_pow(jnp.abs(z), n)
    d = jnp.where(big, zn, jnp.ones_like(zn)) + jnp.abs(sv)
    r = p / d
    g = jnp.where(big, _signed_power(xs, z, m - n, n), jnp.ones_like(z))
    f = g * r
    parts = _RationalParts(z, big, p, sv, sg, d, r, g, f)
    if not need_dz:
        return parts
    ds = jnp.where(big, dt, t + z * dt)  # d sv / dz
    return parts, dp, ds, xs


def _rational_dx_c(x: Array, a: Array, b: Array) -> Array:
    """f'(x) in the compute dtype."""
    return _rational_dx_from(a.shape[-1] - 1, b.shape[-1], *_rational_parts(x, a, b, need_dz=True))


def _rational_dx_from(m: int, n: int, parts: _RationalParts, dp, ds, xs) -> Array:
    z, big, _, _, sg, d, r, _, _ = parts
    dzn = n * _int_pow(jnp.abs(z), n - 1) * jnp.sign(z)  # d|z|^n/dz
    dd = jnp.where(big, dzn, jnp.zeros_like(dzn)) + sg * ds  # dD/dz, with d|s|/ds = sign(s)
    inner = (dp - r * dd) / d  # d(P/D)/dz
    gz = _signed_power(xs, z, m - n - 1, n)  # G z = G / x
    scaled = gz * ((m - n) * r - z * inner)
    return jnp.where(big, scaled, inner)


def _rational_basis(parts: _RationalParts, k: int, rev: int) -> Array:
    z = parts.z
    return jnp.where(parts.big, _int_pow(z, rev), _int_pow(z, k))


def _rational_dnum_c(x: Array, a: Array, b: Array) -> Array:
    """df/da_j = x^j / Q(x), stacked on a last axis."""
    parts = _rational_parts(x, a, b)
    m = a.shape[-1] - 1
    scale = parts.g / parts.d
    return jnp.stack([scale * _rational_basis(parts, j, m - j) for j in range(m + 1)], -1)


def _rational_dden_c(x: Array, a: Array, b: Array) -> Array:
    """df/db_k = -f(x) sign(s(x)) x^k / Q(x), stacked on a last axis (k = 1..n)."""
    parts = _rational_parts(x, a, b)
    n = b.shape[-1]
    scale = -parts.f * parts.sg / parts.d
    return jnp.stack([scale * _rational_basis(parts, k, n - k) for k in range(1, n + 1)], -1)


def _out(value: Array, x: Array) -> Array:
    return value.astype(x.dtype)


def _rational_f(x: Array, a: Array, b: Array) -> Array:
    return _out(_rational_parts(x.astype(a.dtype), a, b).f, x)


def _rational_dx(x: Array, a: Array, b: Array) -> Array:
    return _out(_rational_dx_c(x.astype(a.dtype), a, b), x)


def _rational_dnumerator(x: Array, a: Array, b: Array) -> Array:
    return _out(_rational_dnum_c(x.astype(a.dtype), a, b), x)


def _rational_ddenominator(x: Array, a: Array, b: Array) -> Array:
    return _out(_rational_dden_c(x.astype(a.dtype), a, b), x)


_rational = jax.custom_jvp(_rational_f)


def _rational_rule(primals, tangents):
    x, a, b = primals
    tx, ta, tb = tangents
    xc = x.astype(a.dtype)
    if _is_zero(tx):
        parts = _rational_parts(xc, a, b)
    else:
        parts, dp, ds, xs = _rational_parts(xc, a, b, need_dz=True)
    out = parts.f
    tangent = jnp.zeros_like(out)
    if not _is_zero(tx):
        dfdx = _rational_dx_from(a.shape[-1] - 1, b.shape[-1], parts, dp, ds, xs)
        tangent = tangent + dfdx * tx.astype(a.dtype)
    if not _is_zero(ta):
        # sum_j ta_j x^j / Q: Horner's rule over the tangent coefficients.
        tp = _horner(_num_coeffs(parts.big, ta), parts.z)
        tangent = tangent + parts.g * tp / parts.d
    if not _is_zero(tb):
        tt = _horner(_den_coeffs(parts.big, tb), parts.z)
        ts = jnp.where(parts.big, tt, parts.z * tt)
        tangent = tangent - parts.f * parts.sg * ts / parts.d
    return _out(out, x), _out(tangent, x)


_rational.defjvp(_rational_rule, symbolic_zeros=True)


def rational(
    x: ArrayLike,
    *,
    numerator: ArrayLike = RATIONAL_NUMERATOR,
    denominator: ArrayLike = RATIONAL_DENOMINATOR,
) -> Array:
    r"""Rational activation, the "safe" Padé activation unit (Molina et al., 2020).

    .. math::

       f(x) = \frac{P(x)}{Q(x)} = \frac{\sum_{j=0}^{m} a_j x^j}
                   {1 + \left|\sum_{k=1}^{n} b_k x^k\right|},

    with ``numerator`` :math:`= (a_0, \dots, a_m)` and ``denominator``
    :math:`= (b_1, \dots, b_n)`; the degrees :math:`(m, n)` are the lengths
    of their last axes minus one and the length, (5, 4) by default. The
    closed-form derivatives, with :math:`s(x) = \sum_k b_k x^k`:

    .. math::

       f'(x) = \frac{P'(x) - f(x)\,\operatorname{sign}(s(x))\,s'(x)}{Q(x)}, \quad
       \frac{\partial f}{\partial a_j} = \frac{x^j}{Q(x)}, \quad
       \frac{\partial f}{\partial b_k} = -\frac{f(x)\,\operatorname{sign}(s(x))\,x^k}{Q(x)}.

    **Convention where** :math:`s(x) = 0` (always at :math:`x = 0`, where
    :math:`|s|` has a kink unless :math:`b_1 = 0`): the derivative of
    :math:`|s|` is taken as :math:`\operatorname{sign}(0) = 0`, the mean of
    its one-sided derivatives (and what ``jax.grad`` of ``jnp.abs`` gives).
    So :math:`f'(0) = a_1` and :math:`\partial f/\partial b_k = 0` there.

    For :math:`|x| > 1` the polynomials are evaluated in :math:`1/x` with the
    common power :math:`x^{m-n}` factored out, so values and derivatives are
    finite wherever they are representable: for the default coefficients the
    value and :math:`f'` at :math:`\pm 10^4` in float32 and at ``±finfo.max``
    in float16/bfloat16, and the coefficient gradients at :math:`\pm 10^4`
    (float32) and ``±finfo.max`` (float16, float32 coefficients). At
    bfloat16's ``finfo.max`` (:math:`3.4 \cdot 10^{38}`),
    :math:`\partial f/\partial a_5 = x^5/Q \approx 3.3\,x` exceeds even
    float32 and is ``inf``.
    As :math:`x \to \pm\infty`, :math:`f(x) \sim (a_m/|b_n|)\,x^{m-n}\,
    \operatorname{sign}(x)^{n}`.

    The default coefficients are jaxact's least-squares fit of
    ``leaky_relu`` (``alpha = 0.01``) on :math:`[-3, 3]` (see
    :func:`fit_rational`), the initialisation Molina et al. use.

    Args:
      x: input array.
      numerator: :math:`a_0, \dots, a_m`, an array whose last axis indexes the
        coefficient and whose leading axes broadcast against ``x``.
      denominator: :math:`b_1, \dots, b_n`, likewise.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Raises:
      ValueError: a coefficient array with no last axis (a scalar) or an empty
        one, or leading axes that do not broadcast against ``x``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> x = jnp.array([-1.0, 0.0, 2.0], dtype=jnp.float32)
      >>> jaxact.rational(x, numerator=[0.0, 1.0], denominator=[1.0])  # x / (1 + |x|)
      Array([-0.5      ,  0.       ,  0.6666667], dtype=float32)

    References:
      Molina, Schramowski & Kersting (2020), Padé activation units: end-to-end
      learning of flexible activation functions in deep networks, ICLR,
      arXiv:1907.06732.
    """
    x, a, b = _prepare("rational", x, {"numerator": numerator, "denominator": denominator})
    return _rational(x, a, b)


# ----------------------------------------------------------------------------
# apl (adaptive piecewise linear)
# ----------------------------------------------------------------------------


def _apl_f(x: Array, a: Array, b: Array) -> Array:
    xc = x.astype(a.dtype)
    out = jnp.maximum(xc, 0)
    for s in range(a.shape[-1]):
        out = out + a[..., s] * jnp.maximum(b[..., s] - xc, 0)
    return _out(out, x)


def _apl_dx_c(xc: Array, a: Array, b: Array) -> Array:
    out = (xc > 0).astype(xc.dtype)
    for s in range(a.shape[-1]):
        out = out - jnp.where(xc <= b[..., s], a[..., s], jnp.zeros_like(a[..., s]))
    return out


def _apl_dx(x: Array, a: Array, b: Array) -> Array:
    return _out(jnp.broadcast_to(_apl_dx_c(x.astype(a.dtype), a, b), _apl_shape(x, a)), x)


def _apl_shape(x: Array, a: Array) -> tuple[int, ...]:
    return jnp.broadcast_shapes(x.shape, a.shape[:-1])


def _apl_dslopes(x: Array, a: Array, b: Array) -> Array:
    """df/da_s = max(0, b_s - x), stacked on a last axis."""
    xc = x[..., None].astype(a.dtype)
    full = _apl_shape(x, a) + a.shape[-1:]
    return _out(jnp.broadcast_to(jnp.maximum(b - xc, 0), full), x)


def _apl_dhinges(x: Array, a: Array, b: Array) -> Array:
    """df/db_s = a_s 1[x < b_s] (left derivative in b_s), stacked on a last axis."""
    xc = x[..., None].astype(a.dtype)
    full = _apl_shape(x, a) + a.shape[-1:]
    return _out(jnp.broadcast_to(jnp.where(xc < b, a, jnp.zeros_like(a)), full), x)


_apl = jax.custom_jvp(_apl_f)


def _apl_rule(primals, tangents):
    x, a, b = primals
    tx, ta, tb = tangents
    xc = x.astype(a.dtype)
    out = _apl_f(x, a, b)
    tangent = jnp.zeros(out.shape, a.dtype)
    if not _is_zero(tx):
        tangent = tangent + _apl_dx_c(xc, a, b) * tx.astype(a.dtype)
    for s in range(a.shape[-1]):
        if not _is_zero(ta):
            tangent = tangent + ta[..., s] * jnp.maximum(b[..., s] - xc, 0)
        if not _is_zero(tb):
            active = xc < b[..., s]
            tangent = tangent + jnp.where(active, a[..., s] * tb[..., s], jnp.zeros_like(xc))
    return out, _out(tangent, x)


_apl.defjvp(_apl_rule, symbolic_zeros=True)


def apl(
    x: ArrayLike, *, slopes: ArrayLike = APL_SLOPES, hinges: ArrayLike = APL_HINGES
) -> Array:
    r"""Adaptive piecewise linear unit (Agostinelli et al., 2015).

    .. math::

       f(x) = \max(0, x) + \sum_{s=1}^{S} a_s \max(0, -x + b_s),

    .. math::

       f'(x) = \mathbb{1}[x > 0] - \sum_s a_s\,\mathbb{1}[x \le b_s], \quad
       \frac{\partial f}{\partial a_s} = \max(0, b_s - x), \quad
       \frac{\partial f}{\partial b_s} = a_s\,\mathbb{1}[x < b_s],

    with ``slopes`` :math:`= (a_1, \dots, a_S)` and ``hinges``
    :math:`= (b_1, \dots, b_S)`. At a kink the derivative is the *left*
    derivative in that variable, as everywhere in the catalogue
    (:math:`f'(0)` has no ReLU part; at :math:`x = b_s` the hinge counts).
    The default, one hinge with :math:`a_1 = -0.25, b_1 = 0`, is
    ``prelu(x, alpha=0.25)``.

    Args:
      x: input array.
      slopes: :math:`a_s`, an array whose last axis indexes the hinge and whose
        leading axes broadcast against ``x``.
      hinges: :math:`b_s`, the same number of hinges on its last axis.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Raises:
      ValueError: scalar or empty coefficient arrays, or ``slopes`` and
        ``hinges`` of different lengths.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> x = jnp.array([-2.0, -0.5, 1.0], dtype=jnp.float32)
      >>> jaxact.apl(x, slopes=[-0.25, 0.5], hinges=[0.0, -1.0])
      Array([ 0.   , -0.125,  1.   ], dtype=float32)

    References:
      Agostinelli, Hoffman, Sadowski & Baldi (2015), Learning activation
      functions to improve deep neural networks, ICLR workshop, arXiv:1412.6830.
    """
    x, a, b = _prepare("apl", x, {"slopes": slopes, "hinges": hinges})
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"jaxact.apl: `slopes` and `hinges` must have the same number of hinges on "
            f"their last axis, got {a.shape[-1]} and {b.shape[-1]}."
        )
    return _apl(x, a, b)


# ----------------------------------------------------------------------------
# blend (learned combination of catalogue activations)
# ----------------------------------------------------------------------------

_NOT_BLENDABLE = ("blend",)


def _records(names: tuple[str, ...]):
    from jaxact._src import registry  # late: the registry imports this module

    return [registry.get(n) for n in names]


def _check_blend_names(activations: Any, fn: str = "blend") -> tuple[str, ...]:
    from jaxact._src import registry  # late: the registry imports this module

    if isinstance(activations, str) or not isinstance(activations, (tuple, list)):
        raise TypeError(
            f"jaxact.{fn}: `activations` must be a tuple of activation names, got "
            f"{activations!r}."
        )
    names = tuple(activations)
    if not names:
        raise ValueError(f"jaxact.{fn}: `activations` must name at least one activation.")
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"jaxact.{fn}: `activations` must hold str names, got {n!r}.")
        if n not in registry.names():
            raise ValueError(
                f"jaxact.{fn}: unknown activation {n!r} in `activations`; see jaxact.names()."
            )
        if n in _NOT_BLENDABLE or not registry.get(n).elementwise:
            raise ValueError(
                f"jaxact.{fn}: `activations` must be elementwise catalogue activations "
                f"other than blend, got {n!r}."
            )
    return names


def _blend_weights(w: Array, normalize: bool) -> Array:
    return jax.nn.softmax(w, axis=-1) if normalize else w


def _blend_terms(names, x: Array, cdt) -> list[Array]:
    return [rec.fn(x, **rec.params).astype(cdt) for rec in _records(names)]


def _blend_combine(pi: Array, terms: list[Array]) -> Array:
    out = pi[..., 0] * terms[0]
    for i in range(1, len(terms)):
        out = out + pi[..., i] * terms[i]
    return out


def _blend_value(names, normalize, x, w):
    return _out(_blend_combine(_blend_weights(w, normalize), _blend_terms(names, x, w.dtype)), x)


def _blend_dx_c(names, normalize, x, w):
    pi = _blend_weights(w, normalize)
    slopes = [rec.dfdx(x, **rec.params).astype(w.dtype) for rec in _records(names)]
    return _blend_combine(pi, slopes)


def _blend_dweights_c(names, normalize, x, w):
    pi = _blend_weights(w, normalize)
    terms = _blend_terms(names, x, w.dtype)
    if not normalize:
        full = jnp.broadcast_shapes(x.shape, w.shape[:-1])
        return jnp.stack([jnp.broadcast_to(t, full) for t in terms], -1)
    f = _blend_combine(pi, terms)  # d/dw_i of sum_j softmax(w)_j f_j = pi_i (f_i - f)
    return jnp.stack([pi[..., i] * (t - f) for i, t in enumerate(terms)], -1)


_blend = jax.custom_jvp(_blend_value, nondiff_argnums=(0, 1))


def _blend_rule(names, normalize, primals, tangents):
    x, w = primals
    tx, tw = tangents
    out = _blend_value(names, normalize, x, w)
    tangent = jnp.zeros(out.shape, w.dtype)
    if not _is_zero(tx):
        tangent = tangent + _blend_dx_c(names, normalize, x, w) * tx.astype(w.dtype)
    if not _is_zero(tw):
        d = _blend_dweights_c(names, normalize, x, w)
        tangent = tangent + jnp.sum(d * tw, axis=-1)
    return out, _out(tangent, x)


_blend.defjvp(_blend_rule, symbolic_zeros=True)


def _blend_args(x, activations, weights, normalize):
    names = _check_blend_names(activations)
    normalize = _v.check_bool(normalize, "normalize", "blend")
    x, w = _prepare("blend", x, {"weights": weights}, sizes={"weights": len(names)})
    return names, normalize, x, w


def blend(
    x: ArrayLike,
    *,
    activations: Sequence[str] = BLEND_ACTIVATIONS,
    weights: ArrayLike = BLEND_WEIGHTS,
    normalize: bool = False,
) -> Array:
    r"""A learned combination of catalogue activations (Manessi & Rozza, 2018).

    .. math::

       f(x) = \sum_{i=1}^{K} \pi_i\, f_i(x), \qquad
       \pi = w \ \text{(default)} \quad\text{or}\quad
       \pi = \operatorname{softmax}(w) \ (\texttt{normalize=True}),

    .. math::

       f'(x) = \sum_i \pi_i f_i'(x), \qquad
       \frac{\partial f}{\partial w_i} = f_i(x) \ \text{or} \
       \pi_i\,\bigl(f_i(x) - f(x)\bigr),

    where each :math:`f_i` is the catalogue activation ``activations[i]`` at
    its registry defaults, with its closed-form :math:`f_i'` (and its
    convention at kinks). With ``normalize=True`` the combination is convex.
    The default is the equal mix of identity, ReLU and tanh.

    Args:
      x: input array.
      activations: a tuple of elementwise catalogue names (static).
      weights: :math:`w`, an array whose last axis has one entry per activation
        and whose leading axes broadcast against ``x``.
      normalize: a Python bool; use :math:`\operatorname{softmax}(w)`.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Raises:
      TypeError: ``activations`` not a tuple/list of str; ``normalize`` not a bool.
      ValueError: an unknown or non-elementwise name; ``weights`` whose last
        axis does not match ``activations``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> x = jnp.array([-1.0, 2.0], dtype=jnp.float32)
      >>> jaxact.blend(x, activations=("relu", "identity"), weights=[0.5, 0.5])
      Array([-0.5,  2. ], dtype=float32)

    References:
      Manessi & Rozza (2018), Learning combinations of activation functions,
      ICPR, arXiv:1801.09403.
    """
    names, normalize, x, w = _blend_args(x, activations, weights, normalize)
    return _blend(names, normalize, x, w)


# ----------------------------------------------------------------------------
# Public derivatives (wrapped for the registry)
# ----------------------------------------------------------------------------


def _derivative(fn: str, wrt: str, defaults: Mapping[str, Any], body: Callable[..., Array]):
    def derivative(x: ArrayLike, **params: Any) -> Array:
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(
                f"jaxact.{fn}: unexpected parameter(s) {unknown}; expected {sorted(defaults)}."
            )
        return body(x, **{**defaults, **params})

    derivative.__name__ = derivative.__qualname__ = f"{fn}_dfd{wrt}"
    derivative.__doc__ = (
        f"Closed-form partial derivative of ``jaxact.{fn}`` with respect to ``{wrt}``, "
        "elementwise; for a coefficient array, stacked on a trailing axis."
    )
    return derivative


def _rational_kernel(kernel):
    def body(x, *, numerator, denominator):
        coefficients = {"numerator": numerator, "denominator": denominator}
        return kernel(*_prepare("rational", x, coefficients))

    return body


def _apl_kernel(kernel):
    def body(x, *, slopes, hinges):
        x, a, b = _prepare("apl", x, {"slopes": slopes, "hinges": hinges})
        if a.shape[-1] != b.shape[-1]:
            raise ValueError("jaxact.apl: `slopes` and `hinges` must have the same length.")
        return kernel(x, a, b)

    return body


def _blend_kernel(kernel):
    def body(x, *, activations, weights, normalize):
        names, normalize, x, w = _blend_args(x, activations, weights, normalize)
        return _out(kernel(names, normalize, x, w), x)

    return body


_RATIONAL_DEFAULTS = {"numerator": RATIONAL_NUMERATOR, "denominator": RATIONAL_DENOMINATOR}
_APL_DEFAULTS = {"slopes": APL_SLOPES, "hinges": APL_HINGES}
_BLEND_DEFAULTS = {"activations": BLEND_ACTIVATIONS, "weights": BLEND_WEIGHTS, "normalize": False}


def _public_derivatives():
    dfdx = {
        "rational": _derivative(
            "rational", "x", _RATIONAL_DEFAULTS, _rational_kernel(_rational_dx)
        ),
        "apl": _derivative("apl", "x", _APL_DEFAULTS, _apl_kernel(_apl_dx)),
        "blend": _derivative("blend", "x", _BLEND_DEFAULTS, _blend_kernel(_blend_dx_c)),
    }
    dfdparams = {
        "rational": {
            "numerator": _derivative(
                "rational", "numerator", _RATIONAL_DEFAULTS, _rational_kernel(_rational_dnumerator)
            ),
            "denominator": _derivative(
                "rational",
                "denominator",
                _RATIONAL_DEFAULTS,
                _rational_kernel(_rational_ddenominator),
            ),
        },
        "apl": {
            "slopes": _derivative("apl", "slopes", _APL_DEFAULTS, _apl_kernel(_apl_dslopes)),
            "hinges": _derivative("apl", "hinges", _APL_DEFAULTS, _apl_kernel(_apl_dhinges)),
        },
        "blend": {
            "weights": _derivative(
                "blend", "weights", _BLEND_DEFAULTS, _blend_kernel(_blend_dweights_c)
            ),
        },
    }
    return dfdx, dfdparams


# ----------------------------------------------------------------------------
# Least-squares fit of a rational to an activation
# ----------------------------------------------------------------------------


class RationalFit(NamedTuple):
    """Result of :func:`fit_rational`: ``numerator`` (:math:`a_0 \\ldots a_m`) and
    ``denominator`` (:math:`b_1 \\ldots b_n`) as float64 NumPy arrays, and
    ``max_error`` and ``rms_error``, the maximum and the root mean square of
    the fit's error on the fit grid."""

    numerator: np.ndarray
    denominator: np.ndarray
    max_error: float
    rms_error: float


def _np_rational(x: np.ndarray, a: np.ndarray, b: np.ndarray):
    """f, Q, s on a float64 grid (used only inside the fit, |x| moderate)."""
    p = np.polynomial.polynomial.polyval(x, a)
    s = np.polynomial.polynomial.polyval(x, np.concatenate([[0.0], b]))
    q = 1 + np.abs(s)
    return p / q, q, s


def _target_values(target: Any, x: np.ndarray, params: Mapping[str, Any] | None) -> np.ndarray:
    if callable(target):
        y = np.asarray(target(x), np.float64)
    elif isinstance(target, str):
        from jaxact._src import registry  # late: the registry imports this module

        rec = registry.get(target)
        if not rec.elementwise:
            raise ValueError(f"jaxact.fit_rational: `target` {target!r} is not elementwise.")
        # A fit may be asked for while a model is being traced (a module's
        # initialiser): the target is evaluated eagerly on the host all the same.
        with jax.ensure_compile_time_eval():
            y = np.asarray(
                rec.fn(jnp.asarray(x), **{**rec.params, **(params or {})}), np.float64
            )
    else:
        raise TypeError(
            f"jaxact.fit_rational: `target` must be an activation name or a function, "
            f"got {target!r}."
        )
    if y.shape != x.shape or not np.all(np.isfinite(y)):
        raise ValueError("jaxact.fit_rational: `target` must give finite values on the interval.")
    return y


def _lm(x, y, a, b, *, iterations: int = 200):
    """Levenberg-Marquardt on sum (f(x_i) - y_i)^2 with the closed-form Jacobian."""
    m1, n = a.size, b.size
    powers = np.vander(x, max(m1, n + 1), increasing=True)

    def residual(theta):
        f, q, s = _np_rational(x, theta[:m1], theta[m1:])
        return f - y, f, q, s

    theta = np.concatenate([a, b])
    r, f, q, s = residual(theta)
    cost = r @ r
    lam = 1e-3
    for _ in range(iterations):
        jac = np.concatenate(
            [powers[:, :m1] / q[:, None], -(f * np.sign(s) / q)[:, None] * powers[:, 1 : n + 1]],
            axis=1,
        )
        jtj, jtr = jac.T @ jac, jac.T @ r
        improved = False
        for _ in range(30):
            step = np.linalg.solve(jtj + lam * np.diag(np.diag(jtj) + 1e-12), -jtr)
            cand = theta + step
            r_new, f_new, q_new, s_new = residual(cand)
            c_new = r_new @ r_new
            if np.isfinite(c_new) and c_new < cost:
                theta, r, f, q, s = cand, r_new, f_new, q_new, s_new
                improved = cost - c_new > 1e-15 * cost
                cost = c_new
                lam = max(lam / 3, 1e-12)
                break
            lam *= 4
        if not improved:
            break
    return theta[:m1], theta[m1:], cost


def _linearised(x, y, m, n, sigma, weight):
    """Weighted linear least squares of P(x) - y sigma s(x) = y (Q = 1 + sigma s)."""
    powers = np.vander(x, max(m + 1, n + 1), increasing=True)
    design = np.concatenate([powers[:, : m + 1], -(y * sigma)[:, None] * powers[:, 1 : n + 1]], 1)
    coef, *_ = np.linalg.lstsq(design * weight[:, None], y * weight, rcond=None)
    return coef[: m + 1], coef[m + 1 :]


def fit_rational(
    target: str | Callable[[np.ndarray], np.ndarray],
    degrees: tuple[int, int] = (5, 4),
    interval: tuple[float, float] = (-3.0, 3.0),
    *,
    params: Mapping[str, Any] | None = None,
    num_points: int = 2001,
) -> RationalFit:
    r"""Least-squares fit of a rational activation to a target on an interval.

    Minimises :math:`\sum_i \bigl(f(x_i) - t(x_i)\bigr)^2` over the
    coefficients of :func:`rational`, on ``num_points`` equally spaced points
    of ``interval``, in float64 NumPy:

    1. linearised (Sanathanan-Koerner) iterations: with the signs
       :math:`\sigma_i = \operatorname{sign} s(x_i)` and the denominator
       :math:`Q_i` of the previous iterate held fixed, the residual
       :math:`(P(x_i) - t_i (1 + \sigma_i s(x_i))) / Q_i` is linear in the
       coefficients (a plain least-squares solve), starting from
       :math:`\sigma = 1`, :math:`Q = 1`;
    2. Levenberg-Marquardt on the true residual from the best of those
       iterates and from the polynomial fit (:math:`b = 0`), with the
       closed-form Jacobian (:math:`x^j/Q`, :math:`-f\,\operatorname{sign}(s)\,x^k/Q`).

    The best result on the grid is returned.

    Args:
      target: a catalogue name (evaluated at its registry defaults, updated by
        ``params``) or a function from a float64 NumPy array to one.
      degrees: :math:`(m, n)`, numerator and denominator degrees, each ``>= 1``.
      interval: ``(lo, hi)`` with ``lo < hi``.
      params: parameters of a named target (e.g. ``{"alpha": 0.2}``).
      num_points: grid size (``>= m + n + 2``).

    Returns:
      A :class:`RationalFit`: ``numerator`` (length ``m + 1``), ``denominator``
      (length ``n``), and the max and RMS error on the fit grid.

    Raises:
      TypeError: a ``target`` that is neither a name nor a function, or
        ``degrees``/``interval`` that are not pairs.
      ValueError: an unknown or non-elementwise target name, degrees below 1,
        an empty interval, too few points, or non-finite target values.

    Examples:
      >>> import numpy as np
      >>> import jaxact
      >>> fit = jaxact.fit_rational("tanh", degrees=(3, 2))
      >>> fit.numerator.shape, fit.denominator.shape, bool(fit.max_error < 0.05)
      ((4,), (2,), True)
    """
    fn = "fit_rational"
    if not isinstance(degrees, (tuple, list)) or len(degrees) != 2:
        raise TypeError(f"jaxact.{fn}: `degrees` must be a pair (m, n), got {degrees!r}.")
    m = _v.check_int(degrees[0], "degrees", fn, minimum=1)
    n = _v.check_int(degrees[1], "degrees", fn, minimum=1)
    if not isinstance(interval, (tuple, list)) or len(interval) != 2:
        raise TypeError(f"jaxact.{fn}: `interval` must be a pair (lo, hi), got {interval!r}.")
    lo, hi = (float(v) for v in interval)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"jaxact.{fn}: `interval` must be finite with lo < hi, got {interval!r}.")
    num_points = _v.check_int(num_points, "num_points", fn, minimum=m + n + 2)
    x = np.linspace(lo, hi, num_points)
    y = _target_values(target, x, params)
    return _fit(x, y, m, n)


def _fit(x: np.ndarray, y: np.ndarray, m: int, n: int) -> RationalFit:
    def cost(a, b):
        f, _, _ = _np_rational(x, a, b)
        return float(np.sum((f - y) ** 2)) if np.all(np.isfinite(f)) else np.inf

    starts = []
    sigma, weight = np.ones_like(x), np.ones_like(x)
    for _ in range(10):
        a, b = _linearised(x, y, m, n, sigma, weight)
        starts.append((cost(a, b), a, b))
        _, q, s = _np_rational(x, a, b)
        sigma, weight = np.where(s >= 0, 1.0, -1.0), 1 / q
    poly = np.polynomial.polynomial.polyfit(x, y, m)
    best_start = min(starts, key=lambda t: t[0])
    results = []
    for _, a0, b0 in (best_start, (0.0, poly, np.zeros(n))):
        a, b, _ = _lm(x, y, a0, b0)
        results.append((cost(a, b), a, b))
    _, a, b = min(results, key=lambda t: t[0])
    f, _, _ = _np_rational(x, a, b)
    err = f - y
    return RationalFit(
        numerator=a,
        denominator=b,
        max_error=float(np.max(np.abs(err))),
        rms_error=float(np.sqrt(np.mean(err**2))),
    )


def fit_errors(
    numerator: ArrayLike,
    denominator: ArrayLike,
    target: str | Callable[[np.ndarray], np.ndarray],
    interval: tuple[float, float],
    *,
    params: Mapping[str, Any] | None = None,
    num_points: int = 2001,
) -> tuple[float, float]:
    """Max and RMS of ``rational - target`` on ``num_points`` equally spaced points of ``interval``.

    Evaluated in float64 NumPy (the formula of :func:`rational`).

    Examples:
      >>> import jaxact
      >>> fit = jaxact.fit_rational("relu")
      >>> mx, rms = jaxact.fit_errors(fit.numerator, fit.denominator, "relu", (-3, 3))
      >>> bool(abs(mx - fit.max_error) < 1e-12)
      True
    """
    x = np.linspace(float(interval[0]), float(interval[1]), num_points)
    y = _target_values(target, x, params)
    a, b = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    f, _, _ = _np_rational(x, a, b)
    err = f - y
    return float(np.max(np.abs(err))), float(np.sqrt(np.mean(err**2)))


@functools.lru_cache(maxsize=64)
def _cached_fit(target: str, degrees: tuple[int, int], interval: tuple[float, float]):
    fit = fit_rational(target, degrees, interval)
    return tuple(fit.numerator.tolist()), tuple(fit.denominator.tolist())


def rational_init(
    target: str, degrees: tuple[int, int] = (5, 4), interval: tuple[float, float] = (-3.0, 3.0)
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Initial ``(numerator, denominator)`` fitted to a catalogue activation (cached).

    Examples:
      >>> import jaxact
      >>> num, den = jaxact.rational_init("gelu", (3, 2))
      >>> len(num), len(den)
      (4, 2)
    """
    degrees = (int(degrees[0]), int(degrees[1]))
    interval = (float(interval[0]), float(interval[1]))
    return _cached_fit(target, degrees, interval)


# ----------------------------------------------------------------------------
# Initial coefficients of the Flax modules (jaxact.linen / jaxact.nnx)
# ----------------------------------------------------------------------------


def _nested_tuple(value: np.ndarray) -> Any:
    """A float64 array as nested tuples of floats (hashable, for Linen fields)."""
    return tuple(_nested_tuple(v) for v in value) if value.ndim else float(value)


def coefficients_arg(value: Any, *, arg: str) -> Any:
    """An initial coefficient array (or None) as nested tuples; ValueError naming ``arg``."""
    if value is None:
        return None
    try:
        arr = np.asarray(value, np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{arg}: expected an array of coefficients, got {value!r}.") from e
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{arg}: expected finite coefficients of shape (K,) or (num_features, K), "
            f"got shape {arr.shape}."
        )
    return _nested_tuple(arr)


def rational_module_init(
    init_target: Any, degrees: Any, interval: Any, numerator_init: Any, denominator_init: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Initial (numerator, denominator): the given arrays, else the fit to ``init_target``."""
    if (numerator_init is None) != (denominator_init is None):
        raise ValueError(
            "numerator_init: give both numerator_init and denominator_init, or neither "
            "(then the coefficients are fitted to init_target)."
        )
    if numerator_init is not None:
        return np.asarray(numerator_init, np.float64), np.asarray(denominator_init, np.float64)
    if not isinstance(init_target, str):
        raise ValueError(f"init_target: expected an activation name, got {init_target!r}.")
    from jaxact._src import registry  # late: the registry imports this module

    if init_target not in registry.names() or not registry.get(init_target).elementwise:
        raise ValueError(
            f"init_target: expected an elementwise activation name from jaxact.names(), "
            f"got {init_target!r}."
        )
    if (
        not isinstance(degrees, (tuple, list))
        or len(degrees) != 2
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in degrees)
    ):
        raise ValueError(f"degrees: expected a pair of ints (m, n) >= 1, got {degrees!r}.")
    num, den = rational_init(init_target, tuple(degrees), tuple(interval))
    return np.asarray(num), np.asarray(den)


def apl_module_init(
    num_hinges: Any, slopes_init: Any, hinges_init: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Initial (slopes, hinges): given, else PReLU(0.25) with the other hinges switched off.

    The default for S hinges is :math:`a = (-0.25, 0, \\dots, 0)` and
    :math:`b = (0, -1, \\dots, -(S - 1))`: :math:`f` starts as
    ``prelu(x, alpha=0.25)``; the zero slopes have non-zero gradients
    (:math:`\\max(0, b_s - x)`), so every hinge can be learned.
    """
    if isinstance(num_hinges, bool) or not isinstance(num_hinges, int) or num_hinges < 1:
        raise ValueError(f"num_hinges: expected an integer >= 1, got {num_hinges!r}.")
    slopes = np.zeros(num_hinges)
    slopes[0] = -0.25
    hinges = 0.0 - np.arange(num_hinges, dtype=np.float64)
    if slopes_init is not None:
        slopes = np.asarray(slopes_init, np.float64)
    if hinges_init is not None:
        hinges = np.asarray(hinges_init, np.float64)
    if slopes.shape[-1] != num_hinges or hinges.shape[-1] != num_hinges:
        raise ValueError(
            f"slopes_init: slopes and hinges need num_hinges={num_hinges} entries on their "
            f"last axis, got shapes {slopes.shape} and {hinges.shape}."
        )
    return slopes, hinges


def blend_module_init(activations: Any, weights_init: Any, normalize: Any) -> np.ndarray:
    """Initial weights: given, else the equal mix (1/K each; 0 each, i.e. 1/K after softmax)."""
    try:
        names = _check_blend_names(activations)
        _v.check_bool(normalize, "normalize", "blend")
    except (TypeError, ValueError) as e:
        raise ValueError(f"activations: {e}") from e
    if weights_init is None:
        k = len(names)
        return np.zeros(k) if normalize else np.full(k, 1 / k)
    weights = np.asarray(weights_init, np.float64)
    if weights.shape[-1] != len(names):
        raise ValueError(
            f"weights_init: expected {len(names)} weights on the last axis (one per "
            f"activation), got shape {weights.shape}."
        )
    return weights


def coefficient_leaf(init: np.ndarray, prefix: tuple[int, ...], *, arg: str) -> jax.Array:
    """The float32 parameter of shape ``prefix + (K,)`` filled from ``init`` ((K,) or (F, K))."""
    init = np.asarray(init, np.float64)
    shape = tuple(prefix) + init.shape[-1:]
    if init.ndim == 2 and init.shape != shape:
        raise ValueError(
            f"{arg}: per-channel initial coefficients of shape {init.shape} do not match the "
            f"parameter shape {shape} (channelwise needs (num_features, K))."
        )
    return jnp.broadcast_to(jnp.asarray(init, jnp.float32), shape)
