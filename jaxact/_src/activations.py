r"""The activation catalogue: pure ``jax.numpy``/``jax.lax`` functions.

Layout of this module, per activation ``name``:

- ``_name_f(x, *params)``: the value, on arrays that are already validated,
  cast to one floating dtype and broadcast to one shape;
- ``_name_dx`` and ``_name_d<param>``: the closed-form partial derivatives,
  written by hand from the formula (never with ``jax.grad``);
- ``_name = _closed_form_jvp(_name_f, _name_dx, ...)``: a ``jax.custom_jvp``
  whose rule *is* those closed forms, so ``jax.grad``/``jvp``/``vjp`` and the
  registry's ``dfdx``/``dfdparams`` (built in :mod:`jaxact._src.derivatives`
  from the same kernels) can never disagree about the formula;
  piecewise-linear ones (relu, relu6, hard_tanh, hard_sigmoid) use
  ``_masked_jvp(_name_f, _name_mask)`` instead, which selects the tangent
  where ``_name_dx`` is 1 (the same derivative, one select instead of a
  multiply);
- ``name(x, *, params)``: the public function, which validates its arguments
  (:mod:`jaxact._src.validation`) and calls ``_name``.

Parameters are ordinary (differentiable) arguments of the inner
``custom_jvp`` function, so ``jax.grad`` with respect to ``alpha``, ``beta`` or
``scale`` goes through the closed-form :math:`\partial f/\partial\alpha`.
Only integer/bool configuration (``axis``, ``num_pieces``, ``approximate``) is
static.

Conventions shared by the whole catalogue:

- at a kink the derivative is the *left* derivative (``relu'(0) = 0``);
  ``step' = 0`` everywhere;
- output dtype = input dtype for float16/bfloat16/float32/float64; integer and
  bool inputs are promoted to the default float dtype; parameters are cast to
  the input's dtype (a float32 ``alpha`` never upcasts a bfloat16 ``x``);
- the kernels built on ``exp``, ``log`` and ``erfc`` evaluate float16 and
  bfloat16 inputs in float32 and round once (``_in_float32``), and avoid
  cancellation and subnormal intermediates, so that values and derivatives
  stay within a few ulps of the truth (``python -m experiments.accuracy``
  measures every entry; ``docs/accuracy.md``);
- every value (when representable) and every derivative is finite at
  :math:`\pm 10^4` in float32, at :math:`\pm` ``finfo.max`` in float16 and
  bfloat16, and at 0: the kernels clamp the arguments of ``exp`` and of
  polynomial factors where a branch of ``jnp.where`` would otherwise produce
  ``inf * 0``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax
from jax.typing import ArrayLike

from jaxact._src import validation as _v

# SELU constants (Klambauer et al. 2017, eq. 14), to float64 precision.
SELU_SCALE = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772

#: An axis argument of the softmax family: one axis, several, or ``None`` (all).
Axis = int | tuple[int, ...] | None

_LEAKY_ALPHA = 0.01  # leaky_relu's default slope (also jax.nn's negative_slope)


def _alias(fn: str, name: str, value, default, alias: str, alias_value):
    """``value``, or ``alias_value`` when the caller used the alias (jax.nn's name)."""
    if alias_value is None:
        return value
    if value is not default:
        raise TypeError(f"jaxact.{fn}: give `{name}` or its alias `{alias}`, not both.")
    return alias_value


#: Constraints on parameter values, by function then parameter; checked when the
#: value is concrete and mirrored in the registry's ``constraints`` field.
CONSTRAINTS: dict[str, dict[str, str]] = {
    "threshold": {"threshold": "non-negative"},
    "parametric_selu": {"scale": "positive"},
    "celu": {"alpha": "positive"},
    "squareplus": {"b": "non-negative"},
    "hardshrink": {"lambd": "non-negative"},
    "softshrink": {"lambd": "non-negative"},
}


def _prepare(fn: str, x: ArrayLike, **params: ArrayLike) -> tuple[Array, ...]:
    """Validate ``x`` and ``params``; return them cast to x's float dtype and broadcast."""
    x = _v.as_float_array(x, fn)
    cast = {}
    for name, value in params.items():
        cast[name] = _v.as_param(value, name, fn, x.dtype)
        constraint = CONSTRAINTS.get(fn, {}).get(name)
        if constraint is not None:
            _v.check_constraint(value, constraint, name, fn)
    return _v.broadcast(fn, x, cast)


def _closed_form_jvp(value: Callable[..., Array], *partials: Callable[..., Array]):
    """``jax.custom_jvp`` of ``value`` whose JVP is ``sum_i partials[i](*args) * tangent_i``.

    ``partials`` has one closed-form partial derivative per positional argument
    of ``value`` (the input first, then each parameter). Every partial must be
    finite wherever the value is, so that multiplying it by a zero tangent
    never produces NaN.
    """
    f = jax.custom_jvp(value)

    def rule(primals, tangents):
        out = value(*primals)
        tangent_out = partials[0](*primals) * tangents[0]
        for partial, tangent in zip(partials[1:], tangents[1:], strict=True):
            tangent_out = tangent_out + partial(*primals) * tangent
        return out, tangent_out

    f.defjvp(rule)
    return f


def _masked_jvp(value: Callable[[Array], Array], mask: Callable[[Array], Array], scale=None):
    """``jax.custom_jvp`` of a piecewise-linear ``value`` with ``f'(x) = scale * 1[mask(x)]``.

    The JVP selects the tangent where the mask holds (``jnp.where``) rather than
    multiplying it by the indicator: one select instead of a convert and a
    multiply, which matters in bfloat16 on CPU, where XLA computes the multiply
    through float32. The result equals ``dfdx(x) * t`` wherever ``t`` is finite.
    """
    f = jax.custom_jvp(value)

    def rule(primals, tangents):
        (x,), (t,) = primals, tangents
        if scale is not None:
            t = t * _const(scale, t)
        return value(x), jnp.where(mask(x), t, jnp.zeros_like(t))

    f.defjvp(rule)
    return f


def _const(value: float, like: Array) -> Array:
    """A Python/NumPy constant as a scalar of ``like``'s dtype (never upcasts)."""
    return jnp.asarray(value, dtype=like.dtype)


def _indicator(condition: Array, like: Array) -> Array:
    return condition.astype(like.dtype)


def _zero_if_inf(t: Array) -> Array:
    """``t`` with ±inf replaced by 0, for products ``t * g`` where ``g`` is then exactly 0."""
    return jnp.where(jnp.isinf(t), jnp.zeros_like(t), t)


_LOW_PRECISION = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


def _in_float32(kernel: Callable[..., Array]) -> Callable[..., Array]:
    """``kernel`` evaluated in float32 for float16/bfloat16 arrays, rounded once at the end.

    float16 ends at 65504: ``exp`` overflows from 11.09 (``lax.logistic`` is 0
    below -11.09) and intermediates go subnormal long before the result does;
    bfloat16 keeps 8 bits of every intermediate. One rounding of the float32
    result keeps each kernel within about half an ulp of the truth in both.
    """

    @functools.wraps(kernel)
    def wrapped(x: Array, *params: Array) -> Array:
        if x.dtype in _LOW_PRECISION:
            up = [a.astype(jnp.float32) for a in (x, *params)]
            return kernel(*up).astype(x.dtype)
        return kernel(x, *params)

    return wrapped


def _sigmoid_prime(x: Array) -> Array:
    """sigma'(x) = sigma(x) sigma(-x) = sigma(x)(1 - sigma(x)), without the cancellation
    of 1 - sigma(x) for large x (relative accuracy in the tails). Near 0 the two
    roundings of sigma(+-x) to 0.5 + ulp and 0.5 - ulp/2 can round their product above
    its bound 1/4; it is clipped there."""
    return jnp.minimum(lax.logistic(x) * lax.logistic(-x), _const(0.25, x))


def _expm1_neg(x: Array) -> Array:
    """e^x - 1 for x <= 0, within about 1.5 ulps (XLA's float32 expm1 reaches 4.9).

    Above -0.35 its Taylor polynomial (10 terms in float32, 16 in float64);
    below, e^x - 1, which cancels by at most a factor 3.4 there.
    """
    terms = 16 if x.dtype == jnp.dtype(jnp.float64) else 10
    xs = jnp.maximum(x, -0.35)
    poly = jnp.zeros_like(x)
    for c in _EXP_SERIES[1 : terms + 1][::-1]:
        poly = poly * xs + _const(c, x)
    return jnp.where(x > -0.35, xs * poly, jnp.exp(x) - 1)


def _tanh_value(x: Array) -> Array:
    """tanh x = -m / (2 + m) with m = e^{-2|x|} - 1, signed: within about 2.5 ulps
    (XLA's float32 tanh reaches 4.3)."""
    m = _expm1_neg(-2 * jnp.abs(x))
    return jnp.sign(x) * (-m / (2 + m))


_TAIL = -64.0
_E_TAIL = float(np.exp(_TAIL))


def _times_exp(a: Array, t: Array) -> Array:
    """``a * exp(t)`` for ``t <= 0``, not flushed through a subnormal ``exp(t)``.

    In float32 ``exp(t)`` is subnormal below t = -87.3 (and flushed to 0 on CPU)
    while ``a * exp(t)`` may still be a normal number (``x sigma(x)`` down to
    x = -92): below t = -64 it is ``(a * exp(t + 64)) * e^-64``, with ``t + 64``
    exact for t >= -128 (and ``exp(t) = 0`` below). float64 needs no shift.
    """
    if t.dtype != jnp.dtype(jnp.float32):
        return a * jnp.exp(t)
    tail = jnp.exp(jnp.clip(t, 2 * _TAIL, _TAIL) - _TAIL)
    tail = jnp.where(t < 2 * _TAIL, jnp.zeros_like(tail), tail)
    return jnp.where(t < _TAIL, (a * tail) * _const(_E_TAIL, t), a * jnp.exp(t))


def _sech2(x: Array) -> Array:
    """tanh'(x) = sech^2 x = 4 sigma(2x) sigma(-2x): relative accuracy in the tails,
    where (1 - tanh x)(1 + tanh x) is exactly 0 from |x| = 9 (float32)."""
    t = -2 * jnp.abs(x)
    # below t = -64, 4 sigma(2x) sigma(-2x) = 4 e^t to float32's precision.
    # (4 * the clipped sigma'(2x) is at most 1 exactly: 4 is a power of two.)
    return jnp.where(t < _TAIL, _times_exp(_const(4, x), t), 4 * _sigmoid_prime(2 * x))


_EXP_SERIES = np.array([1 / float(np.prod(np.arange(1, n + 1))) for n in range(14)])


def _normal_pdf_factors(x: Array) -> tuple[Array, Array]:
    """(q, r) with phi(x) = q * q * r: q = exp(-x_h^2 / 4), r = exp(-(x^2 - x_h^2) / 2) / sqrt(2 pi).

    x_h is x with the low half of its significand cleared, so x_h^2 / 4 is exact
    (exp(-x*x/2) would cost x^2/2 ulps for the rounding of x^2), and q stays a
    normal number where phi(x) alone is subnormal (x near -13 in float32).
    """
    if x.dtype == jnp.dtype(jnp.float64):
        bits, keep = jnp.uint64, np.uint64(~np.uint64((1 << 27) - 1))
    else:
        bits, keep = jnp.uint32, np.uint32(~np.uint32((1 << 12) - 1))
    h = lax.bitcast_convert_type(lax.bitcast_convert_type(x, bits) & keep, x.dtype)
    q = jnp.exp(-(h * h) / 4)
    # exp(-b) for the small b = (x - h)(x + h) / 2 (|b| < 0.4 for |x| <= 40) as its
    # Taylor polynomial: XLA rewrites exp(a) * exp(b) as exp(a + b), whose rounded
    # argument would undo the split.
    b = -((x - h) * (x + h)) / 2
    r = jnp.zeros_like(x)
    for c in _EXP_SERIES[::-1]:
        r = r * b + _const(c, x)
    return q, r * _const(1 / np.sqrt(2 * np.pi), x)


# Phi(x) / phi(x) = sum_n (-1)^n (2n - 1)!! / |x|^(2n+1) for x -> -inf, used below
# _NORMAL_TAIL (20 terms: below 2e-16 relative error there).
_NORMAL_TAIL = -10.0
_MILLS_SERIES = np.array([(-1) ** n * float(np.prod(np.arange(1, 2 * n, 2))) for n in range(20)])
_NORMAL_NEAR = float(-2 * np.sqrt(2))  # erfc(-x / sqrt 2) is accurate for x above
_NORMAL_FLOOR = -40.0  # x phi(x) < 1e-345 below: 0 in float64 too


def _normal_parts(x: Array) -> tuple[Array, Array, Array, Array]:
    """(Phi(x) for x >= -2 sqrt 2, q, r, R(x) for x < -2 sqrt 2), with phi = q * q * r
    and the Mills ratio R = Phi / phi, so that x Phi(x) and Phi(x) + x phi(x) keep
    their relative accuracy for x << 0 and are not flushed through a subnormal.

    erfc(-x / sqrt 2) loses x^2 ulps below -2 sqrt 2 to the rounding of x / sqrt 2
    (and to the exponential inside erfc): there R = sqrt(pi/2) erfc(z) / exp(-z^2)
    with the same rounded z in both (whose rounding cancels), and below -10 the
    asymptotic series.
    """
    q, r = _normal_pdf_factors(x)
    z = -x * _const(1 / np.sqrt(2), x)
    near = lax.erfc(z) / 2
    zc = jnp.clip(z, float(-_NORMAL_NEAR / np.sqrt(2)), float(-_NORMAL_TAIL / np.sqrt(2)))
    mid = lax.erfc(zc) / jnp.exp(-(zc * zc)) * _const(np.sqrt(np.pi / 2), x)
    xt = jnp.minimum(x, _NORMAL_TAIL)
    y = 1 / (xt * xt)
    series = jnp.zeros_like(x)
    for c in _MILLS_SERIES[::-1]:
        series = series * y + _const(c, x)
    mills = jnp.where(x >= _NORMAL_TAIL, mid, series / -xt)
    return near, q, r, mills


# ----------------------------------------------------------------------------
# identity, step, threshold: plain jnp (autodiff already gives the closed form)
# ----------------------------------------------------------------------------


def identity(x: ArrayLike) -> Array:
    r"""Identity (linear) activation.

    .. math::

       f(x) = x, \qquad f'(x) = 1.

    A network whose activations are all the identity collapses to one linear
    map.

    Args:
      x: input array (float, or int/bool which is promoted to float).

    Returns:
      ``x`` as a floating array of the same shape.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.identity(jnp.array([-2.0, 0.5], dtype=jnp.float32))
      Array([-2. ,  0.5], dtype=float32)
    """
    return _v.as_float_array(x, "identity")


def _identity_dx(x: Array) -> Array:
    return jnp.ones_like(x)


def step(x: ArrayLike) -> Array:
    r"""Heaviside step function.

    .. math::

       f(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases},
       \qquad f'(x) = 0.

    The derivative is 0 everywhere it exists and jaxact also uses 0 at
    ``x = 0``, so ``jax.grad`` of a loss through ``step`` is exactly 0: the step
    function is not trainable by gradient descent.
    NaN maps to 0 (``NaN > 0`` is false).

    Args:
      x: input array.

    Returns:
      An array of 0s and 1s, of ``x``'s shape and floating dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.step(jnp.array([-1.0, 0.0, 3.0], dtype=jnp.float32))
      Array([0., 0., 1.], dtype=float32)

    References:
      McCulloch & Pitts (1943); Rosenblatt (1958), the perceptron.
    """
    x = _v.as_float_array(x, "step")
    return _indicator(x > 0, x)


def _step_dx(x: Array) -> Array:
    return jnp.zeros_like(x)


def threshold(x: ArrayLike, *, threshold: ArrayLike, value: ArrayLike) -> Array:
    r"""Threshold: pass ``x`` above ``threshold``, replace it by ``value`` otherwise.

    .. math::

       f(x) = \begin{cases} x & x > \theta \\ v & x \le \theta \end{cases}

    Derivatives: :math:`f'(x) = 1` for :math:`x > \theta` and 0 at or below it
    (left derivative at the jump), :math:`\partial f/\partial v = 1` for
    :math:`x \le \theta` and 0 above, :math:`\partial f/\partial\theta = 0`
    (almost everywhere: the jump at :math:`x = \theta` is not represented).
    NaN inputs map to ``value``. As in ``torch.nn.Threshold``.

    Args:
      x: input array.
      threshold: :math:`\theta \ge 0` (a non-negative number or an array that
        broadcasts against ``x``). A concrete negative value raises
        ``ValueError``; a bool or string raises ``TypeError``.
      value: :math:`v`, the replacement value (broadcasts against ``x``).

    Returns:
      An array of the broadcast shape of ``x``, ``threshold`` and ``value``,
      with ``x``'s floating dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.threshold(jnp.array([-1.0, 0.5, 2.0], dtype=jnp.float32), threshold=1.0, value=-5.0)
      Array([-5., -5.,  2.], dtype=float32)
    """
    x, theta, v = _prepare("threshold", x, threshold=threshold, value=value)
    return jnp.where(x > theta, x, v)


def _threshold_dx(x: Array, theta: Array, v: Array) -> Array:
    return _indicator(x > theta, x)


def _threshold_dthreshold(x: Array, theta: Array, v: Array) -> Array:
    return jnp.zeros_like(x)


def _threshold_dvalue(x: Array, theta: Array, v: Array) -> Array:
    return 1 - _indicator(x > theta, x)


# ----------------------------------------------------------------------------
# sigmoid, tanh, softplus, log_sigmoid, softsign
# ----------------------------------------------------------------------------


@_in_float32
def _sigmoid_f(x: Array) -> Array:
    return lax.logistic(x)


@_in_float32
def _sigmoid_dx(x: Array) -> Array:
    return _sigmoid_prime(x)


_sigmoid = _closed_form_jvp(_sigmoid_f, _sigmoid_dx)


def sigmoid(x: ArrayLike) -> Array:
    r"""Logistic sigmoid.

    .. math::

       \sigma(x) = \frac{1}{1 + e^{-x}}, \qquad
       \sigma'(x) = \sigma(x)\,(1 - \sigma(x)) = \sigma(x)\,\sigma(-x).

    :math:`\sigma'` peaks at 0.25 at ``x = 0``. The value uses ``lax.logistic`` and the derivative is the closed form
    :math:`\sigma(x)\sigma(-x)`, finite at :math:`\pm 10^4` where the naive
    ``1 / (1 + exp(-x))`` has a NaN gradient (``inf / inf``).

    Args:
      x: input array.

    Returns:
      :math:`\sigma(x)`, in :math:`(0, 1)` (rounding reaches 0 and 1).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.sigmoid(jnp.array([0.0], dtype=jnp.float32))
      Array([0.5], dtype=float32)

    References:
      Rumelhart, Hinton & Williams (1986), Learning representations by
      back-propagating errors, Nature 323.
    """
    return _sigmoid(_v.as_float_array(x, "sigmoid"))


def tanh(x: ArrayLike) -> Array:
    r"""Hyperbolic tangent.

    .. math::

       \tanh x = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}, \qquad
       \tanh'(x) = 1 - \tanh^2 x.

    (:math:`(1 - e^{-x})/(1 + e^{-x})` is :math:`\tanh(x/2)`, not
    :math:`\tanh x`.) The value is :math:`-m/(2 + m)`, :math:`m = e^{-2|x|} - 1`
    (signed), within about 2.5 ulps where ``jnp.tanh`` reaches 4.3 in float32;
    the derivative is the closed
    form :math:`\operatorname{sech}^2 x = 4e^{-2|x|}/(1 + e^{-2|x|})^2`, accurate in
    the tails where autodiff's :math:`1 - \tanh^2 x` is exactly 0 (from
    :math:`|x| = 9` in float32).

    Args:
      x: input array.

    Returns:
      :math:`\tanh x`, in :math:`(-1, 1)`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.tanh(jnp.array([0.0], dtype=jnp.float32))
      Array([0.], dtype=float32)

    References:
      LeCun, Bottou, Orr & Müller (1998), Efficient BackProp.
    """
    return _tanh(_v.as_float_array(x, "tanh"))


@_in_float32
def _tanh_dx(x: Array) -> Array:
    return _sech2(x)


@_in_float32
def _tanh_f(x: Array) -> Array:
    return _tanh_value(x)


_tanh = _closed_form_jvp(_tanh_f, _tanh_dx)


@_in_float32
def _softplus_f(x: Array) -> Array:
    # log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): no overflow, NaN propagates.
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


@_in_float32
def _softplus_dx(x: Array) -> Array:
    return lax.logistic(x)


_softplus = _closed_form_jvp(_softplus_f, _softplus_dx)


def softplus(x: ArrayLike) -> Array:
    r"""Softplus, a smooth ReLU.

    .. math::

       f(x) = \log(1 + e^{x}), \qquad f'(x) = \sigma(x).

    Computed as :math:`\max(x, 0) + \log(1 + e^{-|x|})`; the derivative is the
    closed form :math:`\sigma(x)`, finite at :math:`\pm 10^4` where autodiff of
    ``log(1 + exp(x))`` gives NaN.

    Args:
      x: input array.

    Returns:
      :math:`f(x) > 0`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.softplus(jnp.array([-1e4, 1e4], dtype=jnp.float32))
      Array([    0., 10000.], dtype=float32)

    References:
      Dugas, Bengio, Bélisle, Nadeau & Garcia (2001), Incorporating
      second-order functional knowledge for better option pricing, NeurIPS.
    """
    return _softplus(_v.as_float_array(x, "softplus"))


@_in_float32
def _log_sigmoid_f(x: Array) -> Array:
    return -_softplus_f(-x)


@_in_float32
def _log_sigmoid_dx(x: Array) -> Array:
    return lax.logistic(-x)


_log_sigmoid = _closed_form_jvp(_log_sigmoid_f, _log_sigmoid_dx)


def log_sigmoid(x: ArrayLike) -> Array:
    r"""Logarithm of the sigmoid.

    .. math::

       f(x) = \log \sigma(x) = -\log(1 + e^{-x}), \qquad f'(x) = \sigma(-x).

    Computed as :math:`-\operatorname{softplus}(-x)`; finite values and
    derivatives at :math:`\pm 10^4`, where ``log(sigmoid(x))`` is ``-inf``.

    Args:
      x: input array.

    Returns:
      :math:`f(x) < 0`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.log_sigmoid(jnp.array([-1e4], dtype=jnp.float32))
      Array([-10000.], dtype=float32)

    References:
      ``jax.nn.log_sigmoid``; the log-likelihood of logistic regression.
    """
    return _log_sigmoid(_v.as_float_array(x, "log_sigmoid"))


@_in_float32
def _softsign_f(x: Array) -> Array:
    return x / (1 + jnp.abs(x))


@_in_float32
def _softsign_dx(x: Array) -> Array:
    r = 1 / (1 + jnp.abs(x))
    return r * r  # not (1 + |x|)^-2: the square of 1 + |x| overflows first


_softsign = _closed_form_jvp(_softsign_f, _softsign_dx)


def softsign(x: ArrayLike) -> Array:
    r"""Softsign.

    .. math::

       f(x) = \frac{x}{1 + |x|}, \qquad f'(x) = \frac{1}{(1 + |x|)^2}.

    The closed-form derivative avoids the cancellation of autodiff's
    :math:`1/(1+|x|) - |x|/(1+|x|)^2` for large :math:`|x|`.

    Args:
      x: input array.

    Returns:
      :math:`f(x) \in (-1, 1)`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.softsign(jnp.array([-1.0, 3.0], dtype=jnp.float32))
      Array([-0.5 ,  0.75], dtype=float32)

    References:
      Glorot & Bengio (2010), Understanding the difficulty of training deep
      feedforward neural networks, AISTATS.
    """
    return _softsign(_v.as_float_array(x, "softsign"))


# ----------------------------------------------------------------------------
# Piecewise-linear: relu, leaky_relu / prelu, relu6, hard_tanh, hard_sigmoid
# ----------------------------------------------------------------------------


def _relu_f(x: Array) -> Array:
    return jnp.maximum(x, 0)


def _relu_mask(x: Array) -> Array:
    return x > 0


def _relu_dx(x: Array) -> Array:
    return _indicator(_relu_mask(x), x)


_relu = _masked_jvp(_relu_f, _relu_mask)


def relu(x: ArrayLike) -> Array:
    r"""Rectified linear unit.

    .. math::

       f(x) = \max(0, x), \qquad
       f'(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0 \end{cases}.

    Kink convention: :math:`f'(0) = 0`, the left derivative (also
    ``jax.nn.relu``'s choice).

    Args:
      x: input array.

    Returns:
      :math:`\max(0, x)`; NaN propagates.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.relu(jnp.array([-1.0, 0.0, 2.0], dtype=jnp.float32))
      Array([0., 0., 2.], dtype=float32)

    References:
      Nair & Hinton (2010), Rectified linear units improve restricted Boltzmann
      machines, ICML; Glorot, Bordes & Bengio (2011), Deep sparse rectifier
      neural networks, AISTATS.
    """
    return _relu(_v.as_float_array(x, "relu"))


def _leaky_relu_f(x: Array, alpha: Array) -> Array:
    return jnp.where(x > 0, x, alpha * x)


def _leaky_relu_dx(x: Array, alpha: Array) -> Array:
    return jnp.where(x > 0, jnp.ones_like(x), alpha)


def _leaky_relu_dalpha(x: Array, alpha: Array) -> Array:
    return jnp.where(x > 0, jnp.zeros_like(x), x)


_leaky_relu = _closed_form_jvp(_leaky_relu_f, _leaky_relu_dx, _leaky_relu_dalpha)


def leaky_relu(
    x: ArrayLike, alpha: ArrayLike = _LEAKY_ALPHA, *, negative_slope: ArrayLike | None = None
) -> Array:
    r"""Leaky ReLU with a fixed negative slope.

    .. math::

       f(x) = \max(0, x) + \alpha \min(0, x), \qquad
       f'(x) = \begin{cases} 1 & x > 0 \\ \alpha & x \le 0 \end{cases}, \qquad
       \frac{\partial f}{\partial \alpha} = \min(0, x).

    Kink convention: :math:`f'(0) = \alpha` (left derivative). Same function as
    :func:`prelu`, with the small fixed slope of Maas et al. as default.

    Args:
      x: input array.
      alpha: negative-side slope; a number or an array broadcasting against
        ``x`` (e.g. per channel).
      negative_slope: ``jax.nn``'s and ``torch``'s name for ``alpha`` (give one
        of the two).

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.leaky_relu(jnp.array([-2.0, 3.0], dtype=jnp.float32), alpha=0.5)
      Array([-1.,  3.], dtype=float32)

    References:
      Maas, Hannun & Ng (2013), Rectifier nonlinearities improve neural network
      acoustic models, ICML workshop.
    """
    alpha = _alias("leaky_relu", "alpha", alpha, _LEAKY_ALPHA, "negative_slope", negative_slope)
    return _leaky_relu(*_prepare("leaky_relu", x, alpha=alpha))


def prelu(x: ArrayLike, *, alpha: ArrayLike = 0.25) -> Array:
    r"""Parametric ReLU: leaky ReLU whose slope :math:`\alpha` is learned.

    .. math::

       f(x) = \max(0, x) + \alpha \min(0, x), \qquad
       f'(x) = \begin{cases} 1 & x > 0 \\ \alpha & x \le 0 \end{cases}, \qquad
       \frac{\partial f}{\partial \alpha} = \min(0, x).

    Kink convention: :math:`f'(0) = \alpha` (left derivative). Pass ``alpha``
    as a traced array (shared, or per channel of shape ``(C,)`` against ``x``
    of shape ``(..., C)``) and ``jax.grad`` returns
    :math:`\sum \partial f/\partial\alpha` over the broadcast dimensions; the
    default 0.25 is He et al.'s initial value.

    Args:
      x: input array.
      alpha: negative-side slope, a number or an array broadcasting against ``x``.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> x = jnp.array([-2.0, -1.0, 3.0], dtype=jnp.float32)
      >>> jax.grad(lambda a: jaxact.prelu(x, alpha=a).sum())(jnp.float32(0.25))
      Array(-3., dtype=float32)

    References:
      He, Zhang, Ren & Sun (2015), Delving deep into rectifiers, ICCV,
      arXiv:1502.01852.
    """
    return _leaky_relu(*_prepare("prelu", x, alpha=alpha))


def _relu6_f(x: Array) -> Array:
    return jnp.minimum(jnp.maximum(x, 0), 6)


def _relu6_mask(x: Array) -> Array:
    return (x > 0) & (x <= 6)


def _relu6_dx(x: Array) -> Array:
    return _indicator(_relu6_mask(x), x)


_relu6 = _masked_jvp(_relu6_f, _relu6_mask)


def relu6(x: ArrayLike) -> Array:
    r"""ReLU capped at 6.

    .. math::

       f(x) = \min(\max(0, x), 6), \qquad f'(x) = \mathbb{1}[0 < x \le 6].

    Kink convention: left derivatives, :math:`f'(0) = 0` and :math:`f'(6) = 1`
    (``jax.nn.relu6`` uses 0 at both kinks).

    Args:
      x: input array.

    Returns:
      :math:`f(x) \in [0, 6]`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.relu6(jnp.array([-1.0, 3.0, 9.0], dtype=jnp.float32))
      Array([0., 3., 6.], dtype=float32)

    References:
      Krizhevsky (2010), Convolutional deep belief networks on CIFAR-10.
    """
    return _relu6(_v.as_float_array(x, "relu6"))


def _hard_tanh_f(x: Array) -> Array:
    return jnp.minimum(jnp.maximum(x, -1), 1)


def _hard_tanh_mask(x: Array) -> Array:
    return (x > -1) & (x <= 1)


def _hard_tanh_dx(x: Array) -> Array:
    return _indicator(_hard_tanh_mask(x), x)


_hard_tanh = _masked_jvp(_hard_tanh_f, _hard_tanh_mask)


def hard_tanh(x: ArrayLike) -> Array:
    r"""Hard tanh: the identity clipped to :math:`[-1, 1]`.

    .. math::

       f(x) = \max(-1, \min(1, x)), \qquad f'(x) = \mathbb{1}[-1 < x \le 1].

    Kink convention: left derivatives, :math:`f'(-1) = 0`, :math:`f'(1) = 1`.

    Args:
      x: input array.

    Returns:
      :math:`f(x) \in [-1, 1]`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.hard_tanh(jnp.array([-3.0, 0.5, 2.0], dtype=jnp.float32))
      Array([-1. ,  0.5,  1. ], dtype=float32)

    References:
      Collobert et al. (2011), Natural language processing (almost) from
      scratch, JMLR.
    """
    return _hard_tanh(_v.as_float_array(x, "hard_tanh"))


def _hard_sigmoid_f(x: Array) -> Array:
    return _relu6_f(x + 3) / 6


def _hard_sigmoid_mask(x: Array) -> Array:
    # On x itself, not on x + 3: x + 3 rounds to 6 for the floats just above 3.
    return (x > -3) & (x <= 3)


def _hard_sigmoid_dx(x: Array) -> Array:
    return _indicator(_hard_sigmoid_mask(x), x) / 6


_hard_sigmoid = _masked_jvp(_hard_sigmoid_f, _hard_sigmoid_mask, scale=1 / 6)


def hard_sigmoid(x: ArrayLike) -> Array:
    r"""Hard sigmoid, with ``jax.nn``'s definition :math:`\operatorname{relu6}(x+3)/6`.

    .. math::

       f(x) = \frac{\min(\max(0, x + 3), 6)}{6}, \qquad
       f'(x) = \tfrac{1}{6}\,\mathbb{1}[-3 < x \le 3].

    This is the definition of ``jax.nn.hard_sigmoid`` (and of MobileNetV3);
    other libraries use slope 0.2 (Keras 2) or 1/4. Kink convention: left
    derivatives, :math:`f'(-3) = 0`, :math:`f'(3) = 1/6`.

    Args:
      x: input array.

    Returns:
      :math:`f(x) \in [0, 1]`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.hard_sigmoid(jnp.array([-4.0, 0.0, 4.0], dtype=jnp.float32))
      Array([0. , 0.5, 1. ], dtype=float32)

    References:
      Howard et al. (2019), Searching for MobileNetV3, arXiv:1905.02244;
      ``jax.nn.hard_sigmoid``.
    """
    return _hard_sigmoid(_v.as_float_array(x, "hard_sigmoid"))


# ----------------------------------------------------------------------------
# Exponential family: elu, celu, selu, parametric_selu
# ----------------------------------------------------------------------------


@_in_float32
def _elu_f(x: Array, alpha: Array) -> Array:
    # exp only ever sees min(x, 0) <= 0: no e^{+1e4} = inf in the unused branch.
    return jnp.where(x > 0, x, alpha * _expm1_neg(jnp.minimum(x, 0)))


@_in_float32
def _elu_dx(x: Array, alpha: Array) -> Array:
    return jnp.where(x > 0, jnp.ones_like(x), _times_exp(alpha, jnp.minimum(x, 0)))


@_in_float32
def _elu_dalpha(x: Array, alpha: Array) -> Array:
    return jnp.where(x > 0, jnp.zeros_like(x), _expm1_neg(jnp.minimum(x, 0)))


_elu = _closed_form_jvp(_elu_f, _elu_dx, _elu_dalpha)


def elu(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    r"""Exponential linear unit.

    .. math::

       f(x) = \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 \end{cases},
       \quad
       f'(x) = \begin{cases} 1 & x > 0 \\ \alpha e^{x} & x \le 0 \end{cases},
       \quad
       \frac{\partial f}{\partial \alpha} = \begin{cases} 0 & x > 0 \\ e^{x} - 1 & x \le 0 \end{cases}.

    Kink convention: :math:`f'(0) = \alpha` (left derivative; with the default
    :math:`\alpha = 1` ELU is continuously differentiable). The exponential
    only sees :math:`\min(x, 0)`, so values and derivatives are finite at
    :math:`x = +10^4`, where autodiff of ``jnp.where(x > 0, x, alpha *
    (jnp.exp(x) - 1))`` returns NaN (``inf * 0`` in the unused branch).

    Args:
      x: input array.
      alpha: saturation value :math:`-\alpha` of the negative side; a number or
        an array broadcasting against ``x``.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.elu(jnp.array([-1e4, 0.0, 2.0], dtype=jnp.float32), alpha=2.0)
      Array([-2.,  0.,  2.], dtype=float32)

    References:
      Clevert, Unterthiner & Hochreiter (2016), Fast and accurate deep network
      learning by exponential linear units (ELUs), ICLR, arXiv:1511.07289.
    """
    return _elu(*_prepare("elu", x, alpha=alpha))


def _celu_z(x: Array, alpha: Array) -> Array:
    # x/alpha on the negative side, floored where e^z rounds to 0 in x's dtype (one
    # below the log of the smallest subnormal): the floor changes no value or
    # derivative, and keeps z * e^z finite when x/alpha overflows to -inf.
    floor = float(np.log(jnp.finfo(x.dtype).smallest_subnormal)) - 1
    return jnp.maximum(jnp.minimum(x, 0) / alpha, _const(floor, x))


# (e^u - 1 - u) / u^2 = sum_n u^n / (n + 2)!, 23 terms: below 1e-17 relative error for u < 2.
_EXPM1_MINUS_ID = np.array([1 / float(np.prod(np.arange(1, n + 3))) for n in range(23)])


def _expm1_minus_z_exp_z(z: Array) -> Array:
    """e^z - 1 - z e^z for z <= 0, without cancellation.

    Near 0 both terms are about z and the result is -z^2/2: there it is
    -e^z (e^u - 1 - u) with u = -z and a series of positive terms; from u = 2 on
    the direct difference loses at most a couple of bits.
    """
    u = jnp.minimum(-z, 2)
    series = jnp.zeros_like(z)
    for c in _EXPM1_MINUS_ID[::-1]:
        series = series * u + _const(c, z)
    near = -jnp.exp(-u) * ((u * u) * series)
    far = _expm1_neg(z) - z * jnp.exp(z)
    return jnp.where(z > -2, near, far)


@_in_float32
def _celu_f(x: Array, alpha: Array) -> Array:
    return jnp.where(x > 0, x, alpha * _expm1_neg(_celu_z(x, alpha)))


@_in_float32
def _celu_dx(x: Array, alpha: Array) -> Array:
    return jnp.where(x > 0, jnp.ones_like(x), jnp.exp(_celu_z(x, alpha)))


@_in_float32
def _celu_dalpha(x: Array, alpha: Array) -> Array:
    return jnp.where(x > 0, jnp.zeros_like(x), _expm1_minus_z_exp_z(_celu_z(x, alpha)))


_celu = _closed_form_jvp(_celu_f, _celu_dx, _celu_dalpha)


def celu(x: ArrayLike, alpha: ArrayLike = 1.0) -> Array:
    r"""Continuously differentiable exponential linear unit.

    .. math::

       f(x) = \max(0, x) + \min\bigl(0, \alpha (e^{x/\alpha} - 1)\bigr),

    .. math::

       f'(x) = \begin{cases} 1 & x > 0 \\ e^{x/\alpha} & x \le 0 \end{cases},
       \qquad
       \frac{\partial f}{\partial \alpha} = \begin{cases} 0 & x > 0 \\
       e^{x/\alpha} - 1 - \frac{x}{\alpha} e^{x/\alpha} & x \le 0 \end{cases}.

    :math:`f'` is continuous for every :math:`\alpha > 0` (both one-sided
    derivatives are 1 at 0).

    Args:
      x: input array.
      alpha: :math:`\alpha > 0` (a concrete non-positive value raises
        ``ValueError``); a number or an array broadcasting against ``x``.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.celu(jnp.array([-1e4, 2.0], dtype=jnp.float32), alpha=0.5)
      Array([-0.5,  2. ], dtype=float32)

    References:
      Barron (2017), Continuously differentiable exponential linear units,
      arXiv:1704.07483.
    """
    return _celu(*_prepare("celu", x, alpha=alpha))


@_in_float32
def _parametric_selu_f(x: Array, scale: Array, alpha: Array) -> Array:
    return scale * _elu_f(x, alpha)


@_in_float32
def _parametric_selu_dx(x: Array, scale: Array, alpha: Array) -> Array:
    # (scale * alpha) e^x in one product, not scale * (alpha e^x): the latter is
    # subnormal (flushed) where the derivative is not, just above x = -88 in float32.
    return jnp.where(x > 0, scale, _times_exp(scale * alpha, jnp.minimum(x, 0)))


@_in_float32
def _parametric_selu_dscale(x: Array, scale: Array, alpha: Array) -> Array:
    return _elu_f(x, alpha)


@_in_float32
def _parametric_selu_dalpha(x: Array, scale: Array, alpha: Array) -> Array:
    return scale * _elu_dalpha(x, alpha)


_parametric_selu = _closed_form_jvp(
    _parametric_selu_f, _parametric_selu_dx, _parametric_selu_dscale, _parametric_selu_dalpha
)


def parametric_selu(
    x: ArrayLike, *, scale: ArrayLike = SELU_SCALE, alpha: ArrayLike = SELU_ALPHA
) -> Array:
    r"""SELU with learnable :math:`\lambda` (``scale``) and :math:`\alpha`.

    .. math::

       f(x) = \lambda \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 \end{cases},

    .. math::

       f'(x) = \lambda \begin{cases} 1 & x > 0 \\ \alpha e^{x} & x \le 0 \end{cases},
       \quad
       \frac{\partial f}{\partial \lambda} = \frac{f(x)}{\lambda},
       \quad
       \frac{\partial f}{\partial \alpha} = \lambda \begin{cases} 0 & x > 0 \\ e^{x} - 1 & x \le 0 \end{cases}.

    The SELU paper fixes :math:`\lambda` and :math:`\alpha` (that is
    :func:`selu`). This function offers the trainable variant, initialised at
    the paper's constants. Kink convention: :math:`f'(0) = \lambda\alpha`
    (left derivative).

    Args:
      x: input array.
      scale: :math:`\lambda > 0`; a concrete non-positive value raises
        ``ValueError`` (traced values are not checked).
      alpha: :math:`\alpha`; numbers or arrays broadcasting against ``x``.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.parametric_selu(jnp.array([-1e4, 1.0], dtype=jnp.float32), scale=2.0, alpha=0.5)
      Array([-1.,  2.], dtype=float32)

    References:
      Klambauer, Unterthiner, Mayr & Hochreiter (2017), Self-normalizing neural
      networks, NeurIPS, arXiv:1706.02515.
    """
    return _parametric_selu(*_prepare("parametric_selu", x, scale=scale, alpha=alpha))


@_in_float32
def _selu_f(x: Array) -> Array:
    return _parametric_selu_f(x, _const(SELU_SCALE, x), _const(SELU_ALPHA, x))


@_in_float32
def _selu_dx(x: Array) -> Array:
    return _parametric_selu_dx(x, _const(SELU_SCALE, x), _const(SELU_ALPHA, x))


_selu = _closed_form_jvp(_selu_f, _selu_dx)


def selu(x: ArrayLike) -> Array:
    r"""Scaled exponential linear unit with the paper's fixed constants.

    .. math::

       f(x) = \lambda \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 \end{cases},
       \qquad
       f'(x) = \lambda \begin{cases} 1 & x > 0 \\ \alpha e^{x} & x \le 0 \end{cases},

    with :math:`\lambda = 1.0507009873554805` and
    :math:`\alpha = 1.6732632423543772`, the constants for which zero mean and
    unit variance is a fixed point of a LeCun-normal layer. Kink
    convention: :math:`f'(0) = \lambda\alpha` (left derivative). The value at
    ``+finfo.max`` overflows to ``inf`` because :math:`\lambda > 1`.

    Args:
      x: input array.

    Returns:
      :math:`f(x) > -\lambda\alpha \approx -1.7581`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.selu(jnp.array([0.0, 1.0], dtype=jnp.float32))
      Array([0.      , 1.050701], dtype=float32)

    References:
      Klambauer, Unterthiner, Mayr & Hochreiter (2017), Self-normalizing neural
      networks, NeurIPS, arXiv:1706.02515.
    """
    return _selu(_v.as_float_array(x, "selu"))


# ----------------------------------------------------------------------------
# Gated: swish / silu, mish, gelu
# ----------------------------------------------------------------------------


@_in_float32
def _swish_f(x: Array, beta: Array) -> Array:
    t = beta * x
    # sigma(t) = e^t below t = -64 (to 1e-28): x e^t without a subnormal e^t.
    return jnp.where(t < _TAIL, _times_exp(_zero_if_inf(x), t), x * lax.logistic(t))


def _swish_parts(x: Array, beta: Array) -> tuple[Array, Array, Array]:
    t = beta * x
    return t, lax.logistic(t), _sigmoid_prime(t)  # t, sigma(t), sigma'(t)


@_in_float32
def _swish_dx(x: Array, beta: Array) -> Array:
    t, s, ds = _swish_parts(x, beta)
    # beta*x can overflow to inf (float16, bfloat16) exactly where sigma'(t) = 0.
    # Below t = -64: sigma(t) + t sigma'(t) = (1 + t) e^t, not flushed through e^t.
    tail = _times_exp(1 + jnp.maximum(t, 2 * _TAIL), t)
    return jnp.where(t < _TAIL, tail, s + _zero_if_inf(t) * ds)


@_in_float32
def _swish_dbeta(x: Array, beta: Array) -> Array:
    t, _, ds = _swish_parts(x, beta)
    # |t| > 64: sigma'(t) = e^-|t|, and x^2 e^-|t| is not flushed through e^-|t|
    # (x is taken as 0 where e^-|t| is 0, so that x^2 cannot overflow there).
    nt = -jnp.abs(t)
    xt = jnp.where(nt < 2 * _TAIL, jnp.zeros_like(x), x)
    tail = _times_exp(xt * xt, nt)
    # not x**2 * ds: x**2 overflows where ds is already 0
    return jnp.where(nt < _TAIL, tail, x * (x * ds))


_swish = _closed_form_jvp(_swish_f, _swish_dx, _swish_dbeta)


def swish(x: ArrayLike, *, beta: ArrayLike = 1.0) -> Array:
    r"""Swish with a (learnable) temperature :math:`\beta`.

    .. math::

       f(x) = x\,\sigma(\beta x),

    .. math::

       f'(x) = \sigma(\beta x) + \beta x\,\sigma'(\beta x), \qquad
       \frac{\partial f}{\partial \beta} = x^2\,\sigma'(\beta x), \qquad
       \sigma'(t) = \sigma(t)\,\sigma(-t).

    ``beta = 1`` is :func:`silu`; :math:`\beta \to \infty` approaches ReLU and
    :math:`\beta = 0` gives :math:`x/2`. The closed forms stay finite for large
    :math:`\beta x`, where :math:`\beta x` itself may overflow.

    Args:
      x: input array.
      beta: :math:`\beta`, a number or an array broadcasting against ``x``.

    Returns:
      :math:`f(x)`, of the broadcast shape and ``x``'s dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.swish(jnp.array([0.0, 1e4], dtype=jnp.float32), beta=2.0)
      Array([    0., 10000.], dtype=float32)

    References:
      Ramachandran, Zoph & Le (2017), Searching for activation functions,
      arXiv:1710.05941.
    """
    return _swish(*_prepare("swish", x, beta=beta))


@_in_float32
def _silu_f(x: Array) -> Array:
    return _swish_f(x, _const(1, x))


@_in_float32
def _silu_dx(x: Array) -> Array:
    return _swish_dx(x, _const(1, x))


_silu = _closed_form_jvp(_silu_f, _silu_dx)


def silu(x: ArrayLike) -> Array:
    r"""Sigmoid-weighted linear unit, :math:`x\,\sigma(x)` (swish with :math:`\beta = 1`).

    .. math::

       f(x) = x\,\sigma(x), \qquad f'(x) = \sigma(x)\,\bigl(1 + x\,(1 - \sigma(x))\bigr).

    Args:
      x: input array.

    Returns:
      :math:`f(x) \ge -0.27846` (minimum at :math:`x \approx -1.27846`).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.silu(jnp.array([0.0, 1e4], dtype=jnp.float32))
      Array([    0., 10000.], dtype=float32)

    References:
      Elfwing, Uchibe & Doya (2018), Sigmoid-weighted linear units for neural
      network function approximation in reinforcement learning, Neural
      Networks, arXiv:1702.03118; Hendrycks & Gimpel (2016).
    """
    return _silu(_v.as_float_array(x, "silu"))


@_in_float32
def _mish_f(x: Array) -> Array:
    # tanh(softplus(x)) = e^x below x = -64 (to 1e-28): x e^x without a subnormal e^x.
    return jnp.where(x < _TAIL, _times_exp(_zero_if_inf(x), x), x * _tanh_value(_softplus_f(x)))


@_in_float32
def _mish_dx(x: Array) -> Array:
    sp = _softplus_f(x)
    # x * sigma(x) first: it is finite (or exactly 0) where sech^2 underflows to 0.
    # sech^2 in closed form, not (1 - t)(1 + t), which is exactly 0 from x = 9 (float32).
    main = _tanh_value(sp) + (x * lax.logistic(x)) * _sech2(sp)
    # Below x = -64: (1 + x) e^x, not flushed through e^x.
    return jnp.where(x < _TAIL, _times_exp(1 + jnp.maximum(x, 2 * _TAIL), x), main)


_mish = _closed_form_jvp(_mish_f, _mish_dx)


def mish(x: ArrayLike) -> Array:
    r"""Mish.

    .. math::

       f(x) = x \tanh(\operatorname{softplus}(x)), \qquad
       f'(x) = \tanh(\operatorname{softplus}(x))
             + x\,\sigma(x)\,\operatorname{sech}^2(\operatorname{softplus}(x)).

    Args:
      x: input array.

    Returns:
      :math:`f(x) \ge -0.30884` (minimum at :math:`x \approx -1.19243`).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.mish(jnp.array([0.0, 1e4], dtype=jnp.float32))
      Array([    0., 10000.], dtype=float32)

    References:
      Misra (2019), Mish: a self regularized non-monotonic activation function,
      arXiv:1908.08681.
    """
    return _mish(_v.as_float_array(x, "mish"))


@_in_float32
def _gelu_f(x: Array) -> Array:
    # x * Phi(x); for x << 0 as (x R(x)) phi(x), accurate and never flushed to 0
    # through a subnormal Phi(x) (x near -13 in float32).
    xl = jnp.clip(x, _NORMAL_FLOOR, -_NORMAL_FLOOR)
    cdf, q, r, mills = _normal_parts(xl)
    return jnp.where(x >= _NORMAL_NEAR, x * cdf, ((xl * mills) * q) * (q * r))


@_in_float32
def _gelu_dx(x: Array) -> Array:
    # Phi(x) + x phi(x); for x << 0 as phi(x) (R(x) + x): no cancellation there.
    xl = jnp.clip(x, _NORMAL_FLOOR, -_NORMAL_FLOOR)  # phi = 0 beyond: keeps x * phi finite
    cdf, q, r, mills = _normal_parts(xl)
    return jnp.where(
        x >= _NORMAL_NEAR, cdf + (xl * q) * (q * r), ((mills + xl) * q) * (q * r)
    )


_gelu = _closed_form_jvp(_gelu_f, _gelu_dx)

_GELU_C = np.sqrt(2 / np.pi)
_GELU_A = 0.044715


def _gelu_tanh_u(x: Array) -> Array:
    return _const(_GELU_C, x) * (x + _const(_GELU_A, x) * (x * x * x))


@_in_float32
def _gelu_tanh_f(x: Array) -> Array:
    # (1 + tanh u) / 2 = sigmoid(2u): no cancellation for x << 0, and no 2x overflow;
    # below 2u = -64, x e^{2u} without a subnormal e^{2u} (x near -10 in float32).
    two_u = 2 * _gelu_tanh_u(x)
    tail = _times_exp(jnp.maximum(x, -20), two_u)
    return jnp.where(two_u < _TAIL, tail, x * lax.logistic(two_u))


@_in_float32
def _gelu_tanh_dx(x: Array) -> Array:
    c, a = _const(_GELU_C, x), _const(_GELU_A, x)
    two_u = 2 * _gelu_tanh_u(x)
    s, s_neg = lax.logistic(two_u), lax.logistic(-two_u)
    # (1 - tanh^2 u) / 2 = 2 sigmoid(2u) sigmoid(-2u). For |x| > 20, 2u > 600 and that
    # factor is below 1e-260 (0 outside float64); the clamp keeps the polynomial
    # factor finite there (x**2 overflows float16).
    xc = jnp.clip(x, -20, 20)
    main = s + (xc * (2 * s * s_neg)) * (c * (1 + 3 * a * (xc * xc)))
    # below 2u = -64: e^{2u} (1 + 2 x c (1 + 3 a x^2)), not flushed through e^{2u}
    tail = _times_exp(1 + (2 * xc) * (c * (1 + 3 * a * (xc * xc))), two_u)
    return jnp.where(two_u < _TAIL, tail, main)


_gelu_tanh = _closed_form_jvp(_gelu_tanh_f, _gelu_tanh_dx)


def _gelu_approximate(approximate: bool | str, fn: str = "gelu") -> bool:
    """``approximate`` as a bool: a Python bool, or torch's ``"tanh"`` / ``"none"``."""
    if isinstance(approximate, str):
        if approximate in ("tanh", "none"):
            return approximate == "tanh"
        raise ValueError(
            f"jaxact.{fn}: `approximate` must be a bool, 'tanh' or 'none', got {approximate!r}."
        )
    if not isinstance(approximate, (bool, np.bool_)):
        raise TypeError(
            f"jaxact.{fn}: `approximate` must be a bool, 'tanh' or 'none', got "
            f"{_v._describe(approximate)}."
        )
    return bool(approximate)


def gelu(x: ArrayLike, approximate: bool | str = False) -> Array:
    r"""Gaussian error linear unit, exact or tanh-approximated.

    Exact (``approximate=False``, the default, like ``torch.nn.GELU``):

    .. math::

       f(x) = x\,\Phi(x), \qquad f'(x) = \Phi(x) + x\,\varphi(x),

    with :math:`\Phi`, :math:`\varphi` the standard normal CDF and density.
    Approximate (``approximate=True``):

    .. math::

       f(x) = \tfrac{x}{2}\bigl(1 + \tanh u\bigr) = x\,\sigma(2u), \quad
       u = \sqrt{2/\pi}\,(x + 0.044715\,x^3), \quad
       f'(x) = \tfrac{1}{2}(1 + \tanh u) + \tfrac{x}{2}\,(1 - \tanh^2 u)\,
               \sqrt{2/\pi}\,(1 + 3 \cdot 0.044715\,x^2).

    Note ``jax.nn.gelu`` defaults to ``approximate=True``. Exact: below
    :math:`x = -2\sqrt{2}`, :math:`\Phi(x)` is :math:`\varphi(x)` times the Mills
    ratio (``erfc(z) / exp(-z^2)``, whose roundings of :math:`z` cancel; an
    asymptotic series below -10), so :math:`x\Phi(x)` and :math:`f'` keep their
    relative accuracy, and are not flushed through a subnormal :math:`\Phi`, down
    to the underflow of the dtype. The closed forms are
    finite at ``±finfo.max`` in float16, where autodiff of the approximation
    gives NaN (:math:`x^2` overflows while :math:`1 - \tanh^2 u = 0`).

    Args:
      x: input array.
      approximate: a Python bool choosing the tanh approximation, or
        ``torch.nn.GELU``'s spelling ``"tanh"`` / ``"none"``.

    Returns:
      :math:`f(x) \ge -0.16997` (exact; minimum at :math:`x \approx -0.75179`).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.gelu(jnp.array([0.0, 1e4], dtype=jnp.float32))
      Array([    0., 10000.], dtype=float32)

    References:
      Hendrycks & Gimpel (2016), Gaussian error linear units (GELUs),
      arXiv:1606.08415.
    """
    approximate = _gelu_approximate(approximate)
    x = _v.as_float_array(x, "gelu")
    return _gelu_tanh(x) if approximate else _gelu(x)


# ----------------------------------------------------------------------------
# Non-elementwise: maxout and the softmax family (closed form = J(x) v)
# ----------------------------------------------------------------------------


def _maxout_groups(x: Array, num_pieces: int, axis: int) -> Array:
    """Split ``axis`` (size n*k) into (n, k): consecutive groups of ``num_pieces``."""
    n = x.shape[axis] // num_pieces
    return x.reshape(x.shape[:axis] + (n, num_pieces) + x.shape[axis + 1 :])


def _maxout_f(x: Array, num_pieces: int, axis: int) -> Array:
    return jnp.max(_maxout_groups(x, num_pieces, axis), axis=axis + 1)


def _maxout_jvp(x: Array, v: Array, num_pieces: int, axis: int) -> Array:
    groups = _maxout_groups(x, num_pieces, axis)
    winner = jnp.argmax(groups, axis=axis + 1, keepdims=True)  # first maximiser
    picked = jnp.take_along_axis(_maxout_groups(v, num_pieces, axis), winner, axis=axis + 1)
    return jnp.squeeze(picked, axis=axis + 1)


_maxout = jax.custom_jvp(_maxout_f, nondiff_argnums=(1, 2))


@_maxout.defjvp
def _maxout_rule(num_pieces, axis, primals, tangents):
    (x,), (v,) = primals, tangents
    return _maxout_f(x, num_pieces, axis), _maxout_jvp(x, v, num_pieces, axis)


def _maxout_args(x: ArrayLike, num_pieces: int, axis: int, fn: str = "maxout"):
    x = _v.as_float_array(x, fn)
    num_pieces = _v.check_int(num_pieces, "num_pieces", fn, minimum=1)
    if x.ndim == 0:
        raise ValueError(f"jaxact.{fn}: `x` must have at least one dimension, got a scalar.")
    axis = _v.check_axis(axis, x.ndim, fn)
    if x.shape[axis] % num_pieces:
        raise ValueError(
            f"jaxact.{fn}: the size {x.shape[axis]} of `x` along `axis` {axis} is not "
            f"divisible by `num_pieces` {num_pieces}."
        )
    return x, num_pieces, axis


def maxout(x: ArrayLike, *, num_pieces: int, axis: int = -1) -> Array:
    r"""Maxout: the maximum over consecutive groups of ``num_pieces`` entries.

    .. math::

       f(x)_i = \max_{0 \le j < k} x_{ik + j}, \qquad
       (J(x)\,v)_i = v_{ik + j^*_i}, \quad j^*_i = \text{first } \arg\max_j x_{ik + j}.

    An axis of size :math:`n k` becomes :math:`n`. Fed with :math:`k` affine
    maps of the same input laid out consecutively (``jaxact.linen.Maxout``), this
    is the maxout unit of Goodfellow et al. The derivative routes the whole
    tangent to the winning piece; on ties the first maximiser wins (a valid
    subgradient, like ``relu'(0) = 0``).

    Args:
      x: input array with at least one dimension.
      num_pieces: :math:`k \ge 1`, an int dividing ``x.shape[axis]``.
      axis: the axis holding the pieces.

    Returns:
      An array with ``x.shape[axis] // num_pieces`` entries along ``axis``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.maxout(jnp.array([1.0, 5.0, -2.0, -3.0], dtype=jnp.float32), num_pieces=2)
      Array([ 5., -2.], dtype=float32)

    References:
      Goodfellow, Warde-Farley, Mirza, Courville & Bengio (2013), Maxout
      networks, ICML, arXiv:1302.4389.
    """
    x, num_pieces, axis = _maxout_args(x, num_pieces, axis)
    return _maxout(x, num_pieces, axis)


def _axis_args(x: ArrayLike, axis: Axis, fn: str) -> tuple[Array, int | tuple[int, ...]]:
    """``x`` validated and ``axis`` normalised: an int, or a sorted tuple (``None``: all axes)."""
    x = _v.as_float_array(x, fn)
    if x.ndim == 0:
        raise ValueError(f"jaxact.{fn}: `x` must have at least one dimension, got a scalar.")
    if axis is None:
        return x, tuple(range(x.ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(_v.check_axis(a, x.ndim, fn) for a in axis)
        if not axes or len(set(axes)) != len(axes):
            raise ValueError(
                f"jaxact.{fn}: `axis` must be an int, None or a non-empty tuple of distinct "
                f"axes, got {axis!r}."
            )
        return x, tuple(sorted(axes))
    return x, _v.check_axis(axis, x.ndim, fn)


def _shifted(x: Array, axis: int) -> Array:
    """``x - max(x)`` along ``axis`` (the max replaced by 0 where it is not finite)."""
    # initial=-inf: an empty axis has no maximum (the result is empty anyway).
    m = jnp.max(x, axis=axis, keepdims=True, initial=-jnp.inf)
    return x - jnp.where(jnp.isfinite(m), m, jnp.zeros_like(m))


def _up(x: Array) -> Array:
    """float16/bfloat16 as float32 (the softmax kernels round once, at the end)."""
    return x.astype(jnp.float32) if x.dtype in _LOW_PRECISION else x


def _centred(x: Array, v: Array, axis) -> Array:
    """``v`` minus its mean over the entries where ``x`` is largest along ``axis``.

    ``J v`` is unchanged by a constant shift of ``v`` (the softmax sums to 1), and
    the shift removes the cancellation of ``v_k - <s, v>`` when ``s_k`` is about 1:
    softmax'([x, 0]) e_0 is then ``s_0 s_1``, accurate, not ``s_0 (1 - s_0)``.
    """
    if x.size == 0:
        return v
    top = x == jnp.max(x, axis=axis, keepdims=True)
    count = jnp.sum(top, axis=axis, keepdims=True).astype(v.dtype)
    c = jnp.sum(jnp.where(top, v, jnp.zeros_like(v)), axis=axis, keepdims=True) / count
    return v - jnp.where(count > 0, c, jnp.zeros_like(c))


def _softmax_f(x: Array, axis: int) -> Array:
    e = jnp.exp(_shifted(_up(x), axis))
    return (e / jnp.sum(e, axis=axis, keepdims=True)).astype(x.dtype)


def _softmax_jvp(x: Array, v: Array, axis: int) -> Array:
    xu, vu = _up(x), _up(v)
    s = _softmax_f(xu, axis)
    w = _centred(xu, vu, axis)
    return (s * (w - jnp.sum(s * w, axis=axis, keepdims=True))).astype(v.dtype)


_softmax = jax.custom_jvp(_softmax_f, nondiff_argnums=(1,))


@_softmax.defjvp
def _softmax_rule(axis, primals, tangents):
    (x,), (v,) = primals, tangents
    return _softmax_f(x, axis), _softmax_jvp(x, v, axis)


def softmax(x: ArrayLike, axis: Axis = -1, where: ArrayLike | None = None) -> Array:
    r"""Softmax along ``axis``, with the maximum subtracted first.

    .. math::

       f(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \quad m = \max_j x_j,
       \qquad J(x)\,v = f(x) \odot \bigl(v - \langle f(x), v\rangle\bigr).

    Subtracting :math:`m` changes nothing mathematically and keeps
    :math:`e^{x}` from overflowing on large logits.

    Args:
      x: input array with at least one dimension.
      axis: the axis to normalise over: an int, a tuple of ints, or ``None``
        (all axes), as in ``jax.nn``.
      where: optional boolean mask broadcasting against ``x``: only the
        entries where it holds take part; the others come out as 0 (``-inf``
        for ``log_softmax``), as in ``jax.nn``.

    Returns:
      Probabilities along ``axis`` (in :math:`[0, 1]`, summing to 1).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.softmax(jnp.array([1e4, 1e4], dtype=jnp.float32))
      Array([0.5, 0.5], dtype=float32)

    References:
      Bridle (1990), Probabilistic interpretation of feedforward classification
      network outputs, with relationships to statistical pattern recognition.
    """
    x, axis = _axis_args(x, axis, "softmax")
    if where is not None:
        return _masked_softmax(x, _where_arg(where, x, "softmax"), axis)
    return _softmax(x, axis)


def _softmin_f(x: Array, axis: int) -> Array:
    return _softmax_f(-x, axis)


def _softmin_jvp(x: Array, v: Array, axis: int) -> Array:
    return _softmax_jvp(-x, -v, axis)  # softmin(x) = softmax(-x), chain rule


_softmin = jax.custom_jvp(_softmin_f, nondiff_argnums=(1,))


@_softmin.defjvp
def _softmin_rule(axis, primals, tangents):
    (x,), (v,) = primals, tangents
    return _softmin_f(x, axis), _softmin_jvp(x, v, axis)


def softmin(x: ArrayLike, axis: Axis = -1, where: ArrayLike | None = None) -> Array:
    r"""Softmin along ``axis``: the softmax of :math:`-x`.

    .. math::

       f(x)_i = \frac{e^{-x_i}}{\sum_j e^{-x_j}}, \qquad
       J(x)\,v = -f(x) \odot \bigl(v - \langle f(x), v\rangle\bigr).

    Args:
      x: input array with at least one dimension.
      axis: the axis to normalise over: an int, a tuple of ints, or ``None``
        (all axes), as in ``jax.nn``.
      where: optional boolean mask broadcasting against ``x``: only the
        entries where it holds take part; the others come out as 0 (``-inf``
        for ``log_softmax``), as in ``jax.nn``.

    Returns:
      Probabilities along ``axis``, largest for the smallest input.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.softmin(jnp.array([0.0, 1e4], dtype=jnp.float32))
      Array([1., 0.], dtype=float32)

    References:
      ``torch.nn.Softmin``.
    """
    x, axis = _axis_args(x, axis, "softmin")
    if where is not None:
        return _masked_softmin(x, _where_arg(where, x, "softmin"), axis)
    return _softmin(x, axis)


def _log_softmax_f(x: Array, axis: int) -> Array:
    xu = _up(x)
    if not x.size:
        return _shifted(xu, axis).astype(x.dtype)
    m = jnp.max(xu, axis=axis, keepdims=True)
    finite = jnp.isfinite(m)
    shifted = xu - jnp.where(finite, m, jnp.zeros_like(m))
    e = jnp.exp(shifted)
    # log(1 + sum of the others): log of a sum that is 1 + small rounds the small
    # part away (log_softmax([x, 0])_0 = -log1p(e^-x), not -log(1 + e^-x)).
    top = xu == m
    rest = jnp.sum(jnp.where(top, jnp.zeros_like(e), e), axis=axis, keepdims=True)
    rest = rest + (jnp.sum(top, axis=axis, keepdims=True) - 1).astype(e.dtype)
    # A row whose maximum is not finite has log(sum(exp(shifted))) = m itself:
    # +inf (an exp overflows), -inf (every entry is -inf: the sum is 0) or NaN.
    lse = jnp.where(finite, jnp.log1p(rest), m)
    return (shifted - lse).astype(x.dtype)


def _log_softmax_jvp(x: Array, v: Array, axis: int) -> Array:
    xu, vu = _up(x), _up(v)
    w = _centred(xu, vu, axis)
    s = _softmax_f(xu, axis)
    return (w - jnp.sum(s * w, axis=axis, keepdims=True)).astype(v.dtype)


_log_softmax = jax.custom_jvp(_log_softmax_f, nondiff_argnums=(1,))


@_log_softmax.defjvp
def _log_softmax_rule(axis, primals, tangents):
    (x,), (v,) = primals, tangents
    return _log_softmax_f(x, axis), _log_softmax_jvp(x, v, axis)


def log_softmax(x: ArrayLike, axis: Axis = -1, where: ArrayLike | None = None) -> Array:
    r"""Logarithm of the softmax, computed without forming the softmax.

    .. math::

       f(x)_i = x_i - m - \log \sum_j e^{x_j - m}, \quad m = \max_j x_j,
       \qquad J(x)\,v = v - \langle \operatorname{softmax}(x), v\rangle.

    Finite on logits of :math:`\pm 10^4`, where ``log(softmax(x))`` is ``-inf``.

    Args:
      x: input array with at least one dimension.
      axis: the axis to normalise over: an int, a tuple of ints, or ``None``
        (all axes), as in ``jax.nn``.
      where: optional boolean mask broadcasting against ``x``: only the
        entries where it holds take part; the others come out as 0 (``-inf``
        for ``log_softmax``), as in ``jax.nn``.

    Returns:
      Log-probabilities along ``axis`` (:math:`\le 0`).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxact
      >>> jaxact.log_softmax(jnp.array([1e4, -1e4], dtype=jnp.float32))
      Array([     0., -20000.], dtype=float32)

    References:
      Bridle (1990); the log-likelihood of multinomial logistic regression.
    """
    x, axis = _axis_args(x, axis, "log_softmax")
    if where is not None:
        return _masked_log_softmax(x, _where_arg(where, x, "log_softmax"), axis)
    return _log_softmax(x, axis)


# ----------------------------------------------------------------------------
# The softmax family with a ``where`` mask (jax.nn's argument)
# ----------------------------------------------------------------------------


def _where_arg(where: ArrayLike, x: Array, fn: str) -> Array:
    """``where`` as a bool array of ``x``'s shape (it must broadcast against ``x``)."""
    if isinstance(where, (str, bytes)):
        raise TypeError(f"jaxact.{fn}: `where` must be a boolean array, got {_v._describe(where)}.")
    try:
        mask = jnp.asarray(where)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"jaxact.{fn}: `where` must be a boolean array, got {_v._describe(where)}."
        ) from e
    if not (jnp.issubdtype(mask.dtype, jnp.bool_) or jnp.issubdtype(mask.dtype, jnp.integer)):
        raise TypeError(f"jaxact.{fn}: `where` must be a boolean array, got dtype {mask.dtype}.")
    try:
        return jnp.broadcast_to(mask.astype(bool), x.shape)
    except ValueError as e:
        raise ValueError(
            f"jaxact.{fn}: `where` of shape {mask.shape} does not broadcast against `x` "
            f"of shape {x.shape}."
        ) from e


def _masked_exp(x: Array, where: Array, axis) -> tuple[Array, Array]:
    """``exp(x - max)`` over the entries ``where`` holds, 0 elsewhere."""
    m = jnp.max(x, axis=axis, keepdims=True, where=where, initial=-jnp.inf)
    m = jnp.where(jnp.isfinite(m), m, jnp.zeros_like(m))
    shifted = jnp.where(where, x, m) - m
    return jnp.where(where, jnp.exp(shifted), jnp.zeros_like(x)), shifted


def _masked_softmax_f(x: Array, where: Array, axis) -> Array:
    e, _ = _masked_exp(x, where, axis)
    total = jnp.sum(e, axis=axis, keepdims=True)
    # A row with no entry selected is all 0 (as jax.nn), not 0/0.
    safe = jnp.where(total > 0, total, jnp.ones_like(total))
    return e / safe


def _masked_softmax_jvp(x: Array, where: Array, v: Array, axis) -> Array:
    s = _masked_softmax_f(x, where, axis)
    return s * (v - jnp.sum(s * v, axis=axis, keepdims=True))


_masked_softmax = jax.custom_jvp(_masked_softmax_f, nondiff_argnums=(2,))


@_masked_softmax.defjvp
def _masked_softmax_rule(axis, primals, tangents):
    (x, where), (v, _) = primals, tangents
    return _masked_softmax_f(x, where, axis), _masked_softmax_jvp(x, where, v, axis)


def _masked_softmin_f(x: Array, where: Array, axis) -> Array:
    return _masked_softmax_f(-x, where, axis)


_masked_softmin = jax.custom_jvp(_masked_softmin_f, nondiff_argnums=(2,))


@_masked_softmin.defjvp
def _masked_softmin_rule(axis, primals, tangents):
    (x, where), (v, _) = primals, tangents
    return _masked_softmin_f(x, where, axis), _masked_softmax_jvp(-x, where, -v, axis)


def _masked_log_softmax_f(x: Array, where: Array, axis) -> Array:
    e, shifted = _masked_exp(x, where, axis)
    out = shifted - jnp.log(jnp.sum(e, axis=axis, keepdims=True))
    return jnp.where(where, out, jnp.full_like(out, -jnp.inf))


def _masked_log_softmax_jvp(x: Array, where: Array, v: Array, axis) -> Array:
    s = _masked_softmax_f(x, where, axis)
    out = v - jnp.sum(s * v, axis=axis, keepdims=True)
    return jnp.where(where, out, jnp.zeros_like(out))


_masked_log_softmax = jax.custom_jvp(_masked_log_softmax_f, nondiff_argnums=(2,))


@_masked_log_softmax.defjvp
def _masked_log_softmax_rule(axis, primals, tangents):
    (x, where), (v, _) = primals, tangents
    return _masked_log_softmax_f(x, where, axis), _masked_log_softmax_jvp(x, where, v, axis)
