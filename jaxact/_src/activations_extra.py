r"""More of the catalogue: jax.nn's and torch.nn's remaining activations.

``glu``, ``hard_silu`` (``hard_swish``), ``squareplus``, ``sparse_plus``,
``sparse_sigmoid`` and ``log1mexp`` (as in ``jax.nn``), ``hardshrink``,
``softshrink``, ``tanhshrink`` and ``rrelu`` (as in ``torch.nn``). The layout
and conventions are those of :mod:`jaxact._src.activations`: a value kernel
``_name_f``, closed-form partial derivatives ``_name_dx``/``_name_d<param>``,
a ``custom_jvp`` whose rule is those closed forms, and a public function that
validates its arguments. At a kink the derivative is the left one; at a jump
(``hardshrink``) it is the derivative of the piece that holds the point.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax
from jax.typing import ArrayLike

from jaxact._src import validation as _v
from jaxact._src.activations import (
    _closed_form_jvp,
    _const,
    _hard_sigmoid_f,
    _indicator,
    _leaky_relu,
    _masked_jvp,
    _prepare,
)

# ----------------------------------------------------------------------------
# glu: gated linear unit (non-elementwise, closed form = J(x) v)
# ----------------------------------------------------------------------------


def _glu_f(x: Array, axis: int) -> Array:
    a, b = jnp.split(x, 2, axis=axis)
    return a * lax.logistic(b)


def _glu_jvp(x: Array, v: Array, axis: int) -> Array:
    a, b = jnp.split(x, 2, axis=axis)
    va, vb = jnp.split(v, 2, axis=axis)
    s = lax.logistic(b)
    # a * sigma'(b) first: finite (sigma' <= 1/4) wherever a is.
    return va * s + (a * (s * lax.logistic(-b))) * vb


_glu = jax.custom_jvp(_glu_f, nondiff_argnums=(1,))


@_glu.defjvp
def _glu_rule(axis, primals, tangents):
    (x,), (v,) = primals, tangents
    return _glu_f(x, axis), _glu_jvp(x, v, axis)


def _glu_args(x: ArrayLike, axis: int) -> tuple[Array, int]:
    x = _v.as_float_array(x, "glu")
    if x.ndim == 0:
        raise ValueError("jaxact.glu: `x` must have at least one dimension, got a scalar.")
    axis = _v.check_axis(axis, x.ndim, "glu")
    if x.shape[axis] % 2:
        raise ValueError(
            f"jaxact.glu: the size {x.shape[axis]} of `x` along `axis` {axis} must be even "
            "(the first half is gated by the sigmoid of the second)."
        )
    return x, axis


def glu(x: ArrayLike, axis: int = -1) -> Array:
    r"""Gated linear unit: the first half of ``axis`` gated by the sigmoid of the second.

    .. math::

       f(x) = a \odot \sigma(b), \quad x = [a, b] \text{ along } \texttt{axis},
       \qquad J(x)\,v = v_a \odot \sigma(b) + a \odot \sigma'(b) \odot v_b.

    As ``jax.nn.glu`` and ``torch.nn.GLU``; an axis of size :math:`2n` becomes :math:`n`.

    Args:
      x: input array with at least one dimension.
      axis: an int, the axis to split; its size must be even.

    Returns:
      An array with half of ``x``'s entries along ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.glu(jnp.array([2.0, -4.0, 0.0, 1e4], dtype=jnp.float32))
      Array([ 1., -4.], dtype=float32)

    References:
      Dauphin, Fan, Auli & Grangier (2017), Language modeling with gated
      convolutional networks, ICML, arXiv:1612.08083.
    """
    return _glu(*_glu_args(x, axis))


# ----------------------------------------------------------------------------
# hard_silu (hard_swish), sparse_plus, sparse_sigmoid
# ----------------------------------------------------------------------------


def _hard_silu_f(x: Array) -> Array:
    return x * _hard_sigmoid_f(x)


def _hard_silu_dx(x: Array) -> Array:
    xc = jnp.clip(x, -3, 3)  # the middle piece only ever sees [-3, 3]: no overflow
    middle = (2 * xc + 3) / 6
    return jnp.where(x > 3, jnp.ones_like(x), jnp.where(x > -3, middle, jnp.zeros_like(x)))


_hard_silu = _closed_form_jvp(_hard_silu_f, _hard_silu_dx)


def hard_silu(x: ArrayLike) -> Array:
    r"""Hard SiLU (hard swish): :math:`x` times the hard sigmoid.

    .. math::

       f(x) = x\,\frac{\min(\max(0, x + 3), 6)}{6}, \qquad
       f'(x) = \begin{cases} 0 & x \le -3 \\ (2x + 3)/6 & -3 < x \le 3 \\
       1 & x > 3 \end{cases}.

    ``jax.nn.hard_silu``/``hard_swish`` and ``torch.nn.Hardswish``;
    ``jaxact.hard_swish`` is the same function. :math:`f'` jumps at both kinks
    (from 0 to -1/2 at -3, from 3/2 to 1 at 3); jaxact takes the left
    derivatives, :math:`f'(-3) = 0` and :math:`f'(3) = 3/2`.

    Args:
      x: input array.

    Returns:
      :math:`f(x) \ge -0.375` (minimum at :math:`x = -1.5`).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.hard_silu(jnp.array([-4.0, -1.5, 4.0], dtype=jnp.float32))
      Array([-0.   , -0.375,  4.   ], dtype=float32)

    References:
      Howard et al. (2019), Searching for MobileNetV3, arXiv:1905.02244.
    """
    return _hard_silu(_v.as_float_array(x, "hard_silu"))


def _sparse_plus_f(x: Array) -> Array:
    xc = jnp.clip(x, -1, 1)
    middle = (xc + 1) * (xc + 1) / 4
    return jnp.where(x >= 1, x, jnp.where(x > -1, middle, jnp.zeros_like(x)))


def _sparse_sigmoid_f(x: Array) -> Array:
    return jnp.clip(x + 1, 0, 2) / 2


_sparse_plus = _closed_form_jvp(_sparse_plus_f, _sparse_sigmoid_f)


def sparse_plus(x: ArrayLike) -> Array:
    r"""Sparse plus: a softplus that is exactly 0 below -1 and exactly :math:`x` above 1.

    .. math::

       f(x) = \begin{cases} 0 & x \le -1 \\ (x + 1)^2 / 4 & -1 < x < 1 \\
       x & x \ge 1 \end{cases}, \qquad
       f'(x) = \operatorname{sparse\_sigmoid}(x) = \tfrac{1}{2}\operatorname{clip}(x + 1, 0, 2).

    As ``jax.nn.sparse_plus``; continuously differentiable.

    Args:
      x: input array.

    Returns:
      :math:`f(x) \ge 0`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.sparse_plus(jnp.array([-2.0, 0.0, 3.0], dtype=jnp.float32))
      Array([0.  , 0.25, 3.  ], dtype=float32)

    References:
      Blondel, Martins & Niculae (2020), Learning with Fenchel-Young losses,
      JMLR, arXiv:1901.02324.
    """
    return _sparse_plus(_v.as_float_array(x, "sparse_plus"))


def _sparse_sigmoid_mask(x: Array) -> Array:
    return (x > -1) & (x <= 1)


def _sparse_sigmoid_dx(x: Array) -> Array:
    return _indicator(_sparse_sigmoid_mask(x), x) / 2


_sparse_sigmoid = _masked_jvp(_sparse_sigmoid_f, _sparse_sigmoid_mask, scale=0.5)


def sparse_sigmoid(x: ArrayLike) -> Array:
    r"""Sparse sigmoid: the derivative of :func:`sparse_plus`.

    .. math::

       f(x) = \tfrac{1}{2}\operatorname{clip}(x + 1, 0, 2), \qquad
       f'(x) = \tfrac{1}{2}\,\mathbb{1}[-1 < x \le 1].

    As ``jax.nn.sparse_sigmoid``. Kink convention: left derivatives,
    :math:`f'(-1) = 0`, :math:`f'(1) = 1/2`.

    Args:
      x: input array.

    Returns:
      :math:`f(x) \in [0, 1]`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.sparse_sigmoid(jnp.array([-2.0, 0.0, 3.0], dtype=jnp.float32))
      Array([0. , 0.5, 1. ], dtype=float32)

    References:
      Blondel, Martins & Niculae (2020), Learning with Fenchel-Young losses,
      JMLR, arXiv:1901.02324.
    """
    return _sparse_sigmoid(_v.as_float_array(x, "sparse_sigmoid"))


# ----------------------------------------------------------------------------
# squareplus (learnable b)
# ----------------------------------------------------------------------------


def _squareplus_r(x: Array, b: Array) -> Array:
    # sqrt(x^2 + b) without overflowing x^2 (hypot rescales).
    return jnp.hypot(x, jnp.sqrt(b))


def _squareplus_f(x: Array, b: Array) -> Array:
    r = _squareplus_r(x, b)
    # x < 0: (x + r) / 2 = b / (2 (r - x)), without the cancellation of x + r.
    negative = (b / 4) / (r / 2 - x / 2)
    return jnp.where(x >= 0, x / 2 + r / 2, negative)


def _squareplus_dx(x: Array, b: Array) -> Array:
    r = _squareplus_r(x, b)
    safe_r = jnp.where(r > 0, r, jnp.ones_like(r))
    # x < 0: (1 + x/r) / 2 = b / (2 r (r - x)); x = r = 0 (only with b = 0): 1/2.
    positive = (1 + x / safe_r) / 2
    negative = ((b / 2) / safe_r) / (safe_r - x)
    return jnp.where(x >= 0, positive, negative)


def _squareplus_db(x: Array, b: Array) -> Array:
    return (1 / _squareplus_r(x, b)) / 4


_squareplus = _closed_form_jvp(_squareplus_f, _squareplus_dx, _squareplus_db)


def squareplus(x: ArrayLike, b: ArrayLike = 4.0) -> Array:
    r"""Squareplus, a softplus-like curve made of a square root (:math:`b` learnable).

    .. math::

       f(x) = \frac{x + \sqrt{x^2 + b}}{2}, \qquad
       f'(x) = \frac{1}{2}\left(1 + \frac{x}{\sqrt{x^2 + b}}\right), \qquad
       \frac{\partial f}{\partial b} = \frac{1}{4\sqrt{x^2 + b}}.

    As ``jax.nn.squareplus`` (default :math:`b = 4`). For :math:`x < 0` it is
    evaluated as :math:`b / (2(\sqrt{x^2+b} - x))` and :math:`\sqrt{x^2 + b}`
    as a ``hypot``, so values and derivatives keep their relative accuracy for
    large :math:`|x|` and do not overflow at ``finfo.max``. :math:`b = 0` is ReLU.

    Args:
      x: input array.
      b: :math:`b \ge 0` (a concrete negative value raises ``ValueError``); a
        number or an array broadcasting against ``x``.

    Returns:
      :math:`f(x) > 0` (for :math:`b > 0`), of the broadcast shape and ``x``'s dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.squareplus(jnp.array([-1e4, 0.0, 1e4], dtype=jnp.float32))
      Array([1.e-04, 1.e+00, 1.e+04], dtype=float32)

    References:
      Barron (2021), Squareplus: a softplus-like algebraic rectifier,
      arXiv:2112.11687.
    """
    return _squareplus(*_prepare("squareplus", x, b=b))


# ----------------------------------------------------------------------------
# log1mexp (domain x > 0)
# ----------------------------------------------------------------------------

_LN2 = float(np.log(2.0))


def _log1mexp_f(x: Array) -> Array:
    # Maechler (2012): log(-expm1(-x)) below log 2, log1p(-exp(-x)) above.
    small = jnp.log(-jnp.expm1(-jnp.minimum(x, _const(_LN2, x))))
    large = jnp.log1p(-jnp.exp(-jnp.maximum(x, _const(_LN2, x))))
    return jnp.where(x < _const(_LN2, x), small, large)


def _log1mexp_dx(x: Array) -> Array:
    # 1 / expm1(x); NaN outside the domain x >= 0, like the value.
    inside = 1 / jnp.expm1(jnp.maximum(x, 0))
    return jnp.where(x >= 0, inside, jnp.full_like(x, jnp.nan))


_log1mexp = _closed_form_jvp(_log1mexp_f, _log1mexp_dx)


def log1mexp(x: ArrayLike) -> Array:
    r""":math:`\log(1 - e^{-x})`, accurately, for :math:`x > 0`.

    .. math::

       f(x) = \log(1 - e^{-x}), \qquad f'(x) = \frac{e^{-x}}{1 - e^{-x}} = \frac{1}{e^{x} - 1}.

    As ``jax.nn.log1mexp``: ``log(-expm1(-x))`` below :math:`\log 2` and
    ``log1p(-exp(-x))`` above (Mächler 2012). Defined on :math:`x > 0` only
    (the registry's ``domain``): :math:`f(0) = -\infty` with
    :math:`f'(0) = +\infty`, and value and derivative are NaN for :math:`x < 0`.

    Args:
      x: input array.

    Returns:
      :math:`f(x) < 0` for :math:`x > 0`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.log1mexp(jnp.array([1e-6, 1.0, 1e4], dtype=jnp.float32))
      Array([-13.815511  ,  -0.45867515,  -0.        ], dtype=float32)

    References:
      Mächler (2012), Accurately computing ``log(1 - exp(-|a|))``, the Rmpfr
      package vignette.
    """
    return _log1mexp(_v.as_float_array(x, "log1mexp"))


# ----------------------------------------------------------------------------
# torch.nn shrinkage: hardshrink, softshrink, tanhshrink
# ----------------------------------------------------------------------------


def _hardshrink_f(x: Array, lambd: Array) -> Array:
    return jnp.where(jnp.abs(x) > lambd, x, jnp.zeros_like(x))


def _hardshrink_dx(x: Array, lambd: Array) -> Array:
    return _indicator(jnp.abs(x) > lambd, x)


def _hardshrink_dlambd(x: Array, lambd: Array) -> Array:
    return jnp.zeros_like(x)


_hardshrink = _closed_form_jvp(_hardshrink_f, _hardshrink_dx, _hardshrink_dlambd)


def hardshrink(x: ArrayLike, lambd: ArrayLike = 0.5) -> Array:
    r"""Hard shrinkage: :math:`x` where :math:`|x| > \lambda`, 0 elsewhere.

    .. math::

       f(x) = x\,\mathbb{1}[|x| > \lambda], \qquad
       f'(x) = \mathbb{1}[|x| > \lambda], \qquad
       \frac{\partial f}{\partial \lambda} = 0.

    As ``torch.nn.Hardshrink`` (parameter name ``lambd`` as there). The jumps
    at :math:`\pm\lambda` are not represented: at :math:`|x| = \lambda`
    (which maps to 0) the derivative is the zero piece's, and
    :math:`\partial f / \partial \lambda = 0` almost everywhere, so
    :math:`\lambda` is not learnable by gradient.

    Args:
      x: input array.
      lambd: :math:`\lambda \ge 0` (a concrete negative value raises
        ``ValueError``); a number or an array broadcasting against ``x``.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.hardshrink(jnp.array([-1.0, 0.5, 0.7], dtype=jnp.float32))
      Array([-1. ,  0. ,  0.7], dtype=float32)

    References:
      ``torch.nn.Hardshrink``; Donoho & Johnstone (1994), Ideal spatial
      adaptation by wavelet shrinkage, Biometrika 81.
    """
    return _hardshrink(*_prepare("hardshrink", x, lambd=lambd))


def _softshrink_f(x: Array, lambd: Array) -> Array:
    zero = jnp.zeros_like(x)
    return jnp.where(x > lambd, x - lambd, jnp.where(x < -lambd, x + lambd, zero))


def _softshrink_dx(x: Array, lambd: Array) -> Array:
    return _indicator((x > lambd) | (x <= -lambd), x)


def _softshrink_dlambd(x: Array, lambd: Array) -> Array:
    one, zero = jnp.ones_like(x), jnp.zeros_like(x)
    return jnp.where(x > lambd, -one, jnp.where(x < -lambd, one, zero))


_softshrink = _closed_form_jvp(_softshrink_f, _softshrink_dx, _softshrink_dlambd)


def softshrink(x: ArrayLike, lambd: ArrayLike = 0.5) -> Array:
    r"""Soft shrinkage (soft thresholding) towards 0 by :math:`\lambda` (learnable).

    .. math::

       f(x) = \operatorname{sign}(x)\max(|x| - \lambda, 0), \qquad
       f'(x) = \mathbb{1}[|x| > \lambda], \qquad
       \frac{\partial f}{\partial \lambda} = -\operatorname{sign}(x)\,\mathbb{1}[|x| > \lambda].

    As ``torch.nn.Softshrink``. Kink convention: left derivatives in
    :math:`x`, :math:`f'(\lambda) = 0`, :math:`f'(-\lambda) = 1`; in
    :math:`\lambda`, 0 at :math:`|x| = \lambda`.

    Args:
      x: input array.
      lambd: :math:`\lambda \ge 0` (a concrete negative value raises
        ``ValueError``); a number or an array broadcasting against ``x``.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.softshrink(jnp.array([-2.0, 0.25, 1.5], dtype=jnp.float32))
      Array([-1.5,  0. ,  1. ], dtype=float32)

    References:
      ``torch.nn.Softshrink``; Donoho (1995), De-noising by soft-thresholding,
      IEEE Transactions on Information Theory 41.
    """
    return _softshrink(*_prepare("softshrink", x, lambd=lambd))


def _tanhshrink_f(x: Array) -> Array:
    return x - jnp.tanh(x)


def _tanhshrink_dx(x: Array) -> Array:
    t = jnp.tanh(x)
    return t * t


_tanhshrink = _closed_form_jvp(_tanhshrink_f, _tanhshrink_dx)


def tanhshrink(x: ArrayLike) -> Array:
    r""":math:`x - \tanh x`.

    .. math::

       f(x) = x - \tanh x, \qquad f'(x) = \tanh^2 x.

    As ``torch.nn.Tanhshrink``. The closed-form derivative is exact near 0,
    where autodiff's :math:`1 - (1 - \tanh^2 x)` loses all relative accuracy.

    Args:
      x: input array.

    Returns:
      :math:`f(x)`, odd and non-decreasing.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.tanhshrink(jnp.array([0.0, 1e4], dtype=jnp.float32))
      Array([   0., 9999.], dtype=float32)

    References:
      ``torch.nn.Tanhshrink``.
    """
    return _tanhshrink(_v.as_float_array(x, "tanhshrink"))


# ----------------------------------------------------------------------------
# rrelu: randomised leaky ReLU
# ----------------------------------------------------------------------------


def _rrelu_f(x: Array, lower: Array, upper: Array) -> Array:
    slope = (lower + upper) / 2
    return jnp.where(x > 0, x, slope * x)


def _rrelu_dx(x: Array, lower: Array, upper: Array) -> Array:
    return jnp.where(x > 0, jnp.ones_like(x), (lower + upper) / 2)


def _rrelu_dbound(x: Array, lower: Array, upper: Array) -> Array:
    return jnp.where(x > 0, jnp.zeros_like(x), x / 2)


_rrelu = _closed_form_jvp(_rrelu_f, _rrelu_dx, _rrelu_dbound, _rrelu_dbound)


def _check_bounds(lower: ArrayLike, upper: ArrayLike) -> None:
    lo, hi = _v.concrete(lower), _v.concrete(upper)
    if lo is None or hi is None:
        return
    if not (np.issubdtype(lo.dtype, np.number) and np.issubdtype(hi.dtype, np.number)):
        return  # as_param reports the type error
    try:
        bad = np.any(np.asarray(lo) > np.asarray(hi))
    except ValueError:
        return  # shapes that do not broadcast: reported by _prepare
    if bad:
        raise ValueError(f"jaxact.rrelu: `lower` must be <= `upper`, got {lo} and {hi}.")


def rrelu(
    x: ArrayLike,
    lower: ArrayLike = 1 / 8,
    upper: ArrayLike = 1 / 3,
    training: bool | None = None,
    *,
    key: ArrayLike | None = None,
) -> Array:
    r"""Randomised leaky ReLU: a random negative slope in training, its mean otherwise.

    .. math::

       f(x) = \begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases}, \qquad
       a \sim \mathcal{U}(l, u) \text{ per entry (training)}, \quad
       a = \tfrac{l + u}{2} \text{ (evaluation)}.

    As ``torch.nn.RReLU`` (defaults :math:`l = 1/8`, :math:`u = 1/3`). In
    evaluation it is a leaky ReLU with slope :math:`(l + u)/2`, with
    :math:`f'(x) = \mathbb{1}[x > 0] + \tfrac{l+u}{2}\mathbb{1}[x \le 0]` and
    :math:`\partial f/\partial l = \partial f/\partial u = \min(0, x)/2`
    (the registry's closed forms). In training the slope is drawn from ``key``
    and the gradient flows through :math:`a = l + (u - l)\,\xi`,
    :math:`\xi \sim \mathcal{U}(0, 1)`. Kink convention: :math:`f'(0) = a`.

    Args:
      x: input array.
      lower: :math:`l`, a number or an array broadcasting against ``x``.
      upper: :math:`u \ge l` (concrete values with :math:`l > u` raise ``ValueError``).
      training: ``True`` draws the slopes from ``key`` (required then);
        ``False`` uses the mean slope; ``None`` (default) means training exactly
        when a ``key`` is given.
      key: a ``jax.random`` key, used in training only.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Raises:
      ValueError: ``training=True`` without a ``key``; ``lower > upper``.
      TypeError: a ``key`` that is not a ``jax.random`` key; a non-bool ``training``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import jaxact
      >>> x = jnp.array([-24.0, 2.0], dtype=jnp.float32)
      >>> jaxact.rrelu(x)  # evaluation: slope (1/8 + 1/3) / 2 = 11/48
      Array([-5.5,  2. ], dtype=float32)
      >>> y = jaxact.rrelu(x, key=jax.random.key(0))  # training
      >>> bool(-8.0 <= y[0] <= -3.0)
      True

    References:
      Xu, Wang, Chen & Li (2015), Empirical evaluation of rectified activations
      in convolutional network, arXiv:1505.00853; ``torch.nn.RReLU``.
    """
    if training is not None:
        training = _v.check_bool(training, "training", "rrelu")
    else:
        training = key is not None
    _check_bounds(lower, upper)
    x, lower, upper = _prepare("rrelu", x, lower=lower, upper=upper)
    if not training:
        return _rrelu(x, lower, upper)
    if key is None:
        raise ValueError("jaxact.rrelu: `key` is required with training=True (a jax.random key).")
    try:
        xi = jax.random.uniform(key, x.shape, dtype=x.dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"jaxact.rrelu: `key` must be a jax.random key, got {_v._describe(key)}."
        ) from e
    return _leaky_relu(x, lower + (upper - lower) * xi)
