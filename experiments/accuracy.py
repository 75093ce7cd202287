r"""Accuracy of the catalogue in ulps: ``python -m experiments.accuracy``.

For every registry entry (``jaxact.names()``) at its default parameters, and
for ``gelu(approximate=True)``, this measures the largest error, in units in
the last place (ulps) of the dtype, of

- the value ``f(x)``,
- the closed-form derivative ``dfdx`` (which ``jax.grad`` uses), and
- each closed-form ``dfdparams[p]`` (every component of a vector parameter),

against a float64 reference written here from the formulas (NumPy/SciPy,
independent of jaxact; ``tests/test_accuracy.py`` holds these references
against 50-digit mpmath), over

- every finite float16 value that is not subnormal (61,442 of them),
- every finite bfloat16 value that is not subnormal (65,026),
- :math:`2^{20}` float32 values spread over the whole range (half drawn
  uniformly over the bit patterns of finite floats, so every binade is hit;
  a quarter uniform on [-20, 20]; a quarter log-uniform in magnitude on
  [1e-4, 1e4]), plus the floats next to every kink;

subnormal inputs are left out: XLA on CPU reads them as 0 (``relu'(1e-40)`` is
0 there), a platform convention rather than the function's.

Only points where the reference is a *normal* number of the dtype count (a
reference that is 0, subnormal or beyond the largest finite value is
skipped). Derivatives are not compared at a kink itself, where the value is a
convention (the README's "Derivatives at kinks" lists them); the floats next
to each kink are compared. Parameters are the defaults as the function
receives them: rounded to the dtype of ``x``.

Where ``jax.nn`` has the function, its value and its autodiff derivative
(``jax.jvp``) are measured on the same points and shown beside jaxact's.

The non-elementwise entries are measured through a two-entry axis whose
outputs are elementwise functions: ``softmax([x, 0])_0 = sigmoid(x)``,
``softmin([x, 0])_0 = sigmoid(-x)``, ``log_softmax([x, 0])_0 = log_sigmoid(x)``,
``glu([1, x]) = sigmoid(x)``, ``maxout([x, 0]) = relu(x)``; the derivative is
the first entry of :math:`J(x)\,e_0` (``e_1`` for glu).

Writes ``docs/accuracy.md`` (``--out``) and prints the table. Runs in a few
minutes on two CPU cores. Needs mpmath and SciPy (``pip install -e .[test]``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
from scipy import special

import jaxact

PROG = "python -m experiments.accuracy"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "accuracy.md"
DTYPES = ("float16", "bfloat16", "float32")
GOAL_ULP = 4.0
CHUNK = 1 << 18

SELU_LAMBDA = 1.0507009873554804934193349852946  # Klambauer et al. (2017), as printed
SELU_ALPHA = 1.6732632423543772848170429916717

# ----------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------

#: Kinks of the entries at their defaults (and of the derivatives' case splits).
KINKS = (0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0)


def every_value(dtype: str) -> np.ndarray:
    """Every finite value of a 16-bit dtype, as that dtype."""
    bits = np.arange(1 << 16, dtype=np.uint16)
    x = bits.view(jnp.dtype(dtype))
    with np.errstate(invalid="ignore"):  # the NaN patterns
        return x[np.isfinite(x.astype(np.float32))]


def float32_sample(n: int = 1 << 20, seed: int = 0) -> np.ndarray:
    """``n`` float32 values over the whole range, plus the floats next to each kink."""
    rng = np.random.default_rng(seed)
    half, quarter = n // 2, n // 4
    bits = rng.integers(0, 1 << 32, size=4 * half, dtype=np.uint64).astype(np.uint32)
    anywhere = bits.view(np.float32)
    anywhere = anywhere[np.isfinite(anywhere)][:half]
    central = rng.uniform(-20, 20, size=quarter)
    sign = rng.choice([-1.0, 1.0], size=n - half - quarter)
    scaled = sign * np.exp(rng.uniform(np.log(1e-4), np.log(1e4), size=sign.size))
    near_kinks = []
    for k in KINKS:
        up = down = np.float32(k)
        near_kinks.append(up)
        for _ in range(3):
            up = np.nextafter(up, np.float32(np.inf))
            down = np.nextafter(down, np.float32(-np.inf))
            near_kinks += [up, down]
    parts = [anywhere, central.astype(np.float32), scaled.astype(np.float32)]
    return np.concatenate(parts + [np.asarray(near_kinks, np.float32)])


def inputs(dtype: str, n32: int = 1 << 20) -> np.ndarray:
    """The measured inputs of ``dtype``: finite and not subnormal (XLA on CPU treats a
    subnormal input as 0, so ``relu'(1e-40)`` is 0 there; a platform convention, not
    the function's)."""
    x = float32_sample(n32) if dtype == "float32" else every_value(dtype)
    x64 = np.abs(x.astype(np.float64))
    return x[(x64 == 0) | (x64 >= float(jnp.finfo(jnp.dtype(dtype)).tiny))]


# ----------------------------------------------------------------------------
# ulps
# ----------------------------------------------------------------------------


def ulp_errors(got: np.ndarray, ref: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(errors in ulps, mask of the counted points): |got - ref| / ulp(ref) in ``dtype``
    where ``ref`` is a normal number of ``dtype``; a non-finite ``got`` there is inf."""
    info = jnp.finfo(jnp.dtype(dtype))
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    mag = np.abs(ref)
    counted = np.isfinite(ref) & (mag >= float(info.tiny)) & (mag <= float(info.max))
    _, e = np.frexp(np.where(counted, mag, 1.0))
    ulp = np.ldexp(1.0, e - 1 - int(info.nmant))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got - ref) / ulp
    err = np.where(np.isfinite(got), err, np.inf)
    return np.where(counted, err, 0.0), counted


# ----------------------------------------------------------------------------
# float64 references (independent of jaxact)
# ----------------------------------------------------------------------------


def _sigmoid(x):
    return special.expit(x)


def _dsigmoid(x):
    return special.expit(x) * special.expit(-x)


def _softplus(x):
    return np.logaddexp(0, x)


def _sech2(x):
    return 1 / np.cosh(x) ** 2


def _step(x, lo, hi):
    """1 on (lo, hi] (the left-derivative convention), 0 elsewhere."""
    return ((x > lo) & (x <= hi)).astype(np.float64)


def _elu(x, alpha):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _expm1_minus_z_exp_z(z):
    """e^z - 1 - z e^z for z <= 0: a series near 0, where the difference cancels."""
    z = np.minimum(z, 0)
    series = np.zeros_like(z)
    for n in range(14, 1, -1):
        series = series * z + (1 - n) / math.factorial(n)
    near = series * z * z  # the loop leaves the coefficient of z^2 outermost
    far = np.expm1(z) - z * np.exp(z)
    return np.where(z > -0.1, near, far)


def _gelu_tanh_parts(x):
    c, a = math.sqrt(2 / math.pi), 0.044715
    u2 = 2 * c * (x + a * x**3)
    return u2, c, a


def _gelu_tanh(x):
    u2, _, _ = _gelu_tanh_parts(x)
    return x * _sigmoid(u2)


def _gelu_tanh_dx(x):
    u2, c, a = _gelu_tanh_parts(x)
    return _sigmoid(u2) + x * _dsigmoid(u2) * 2 * c * (1 + 3 * a * x * x)


def _mish_dx(x):
    sp = _softplus(x)
    return np.tanh(sp) + x * _sigmoid(x) * _sech2(sp)


def _log1mexp(x):
    return np.where(x < math.log(2), np.log(-np.expm1(-x)), np.log1p(-np.exp(-x)))


def _tanhshrink(x):
    # x - tanh x = x^3/3 - 2x^5/15 + 17x^7/315 - ... near 0, where it cancels.
    coeffs = [1 / 3, -2 / 15, 17 / 315, -62 / 2835, 1382 / 155925, -21844 / 6081075]
    x2 = x * x
    series = np.zeros_like(x)
    for c in coeffs[::-1]:
        series = series * x2 + c
    return np.where(np.abs(x) < 0.05, x * x2 * series, x - np.tanh(x))


def _rational_parts(x, numerator, denominator):
    p = sum(a * x**j for j, a in enumerate(numerator))
    dp = sum(j * a * x ** (j - 1) for j, a in enumerate(numerator) if j)
    s = sum(b * x ** (k + 1) for k, b in enumerate(denominator))
    ds = sum((k + 1) * b * x**k for k, b in enumerate(denominator))
    return p, dp, s, ds, 1 + np.abs(s)


def _rational(x, numerator, denominator):
    p, _, _, _, q = _rational_parts(x, numerator, denominator)
    return p / q


def _rational_dx(x, numerator, denominator):
    p, dp, s, ds, q = _rational_parts(x, numerator, denominator)
    return (dp - (p / q) * np.sign(s) * ds) / q


def _rational_dnum(x, numerator, denominator):
    q = _rational_parts(x, numerator, denominator)[4]
    return np.stack([x**j / q for j in range(len(numerator))], axis=-1)


def _rational_dden(x, numerator, denominator):
    p, _, s, _, q = _rational_parts(x, numerator, denominator)
    f = p / q
    return np.stack([-f * np.sign(s) * x ** (k + 1) / q for k in range(len(denominator))], -1)


_BLEND_PARTS = {
    "identity": (lambda x: x, lambda x: np.ones_like(x)),
    "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(np.float64)),
    "tanh": (np.tanh, _sech2),
    "sigmoid": (_sigmoid, _dsigmoid),
}


def _blend_mix(weights, normalize):
    w = np.asarray(weights, np.float64)
    return np.exp(w - w.max()) / np.exp(w - w.max()).sum() if normalize else w


def _blend(x, activations, weights, normalize):
    pi = _blend_mix(weights, normalize)
    return sum(p * _BLEND_PARTS[a][0](x) for p, a in zip(pi, activations, strict=True))


def _blend_dx(x, activations, weights, normalize):
    pi = _blend_mix(weights, normalize)
    return sum(p * _BLEND_PARTS[a][1](x) for p, a in zip(pi, activations, strict=True))


def _blend_dw(x, activations, weights, normalize):
    parts = np.stack([_BLEND_PARTS[a][0](x) for a in activations], axis=-1)
    if not normalize:
        return parts
    pi = _blend_mix(weights, normalize)
    return pi * (parts - _blend(x, activations, weights, normalize)[..., None])


@dataclasses.dataclass(frozen=True)
class Reference:
    """float64 value, f'(x), and each parameter's partial derivative; ``kinks(params)``
    lists the points where f' is a convention (not compared)."""

    value: Callable[..., np.ndarray]
    dx: Callable[..., np.ndarray]
    dparams: Mapping[str, Callable[..., np.ndarray]] = dataclasses.field(default_factory=dict)
    kinks: Callable[..., Sequence[float]] = lambda **p: ()


def _zero(x, **p):
    return np.zeros_like(x)


def _one(x, **p):
    return np.ones_like(x)


_AT_0 = lambda **p: (0.0,)  # noqa: E731

REFERENCES: dict[str, Reference] = {
    "identity": Reference(lambda x: x, _one),
    "step": Reference(lambda x: (x > 0).astype(np.float64), _zero, kinks=_AT_0),
    "threshold": Reference(
        lambda x, threshold, value: np.where(x > threshold, x, value),
        lambda x, threshold, value: (x > threshold).astype(np.float64),
        {
            "threshold": lambda x, threshold, value: np.zeros_like(x),
            "value": lambda x, threshold, value: (x <= threshold).astype(np.float64),
        },
        kinks=lambda threshold, value: (threshold,),
    ),
    "sigmoid": Reference(_sigmoid, _dsigmoid),
    "tanh": Reference(np.tanh, _sech2),
    "relu": Reference(lambda x: np.maximum(x, 0), lambda x: _step(x, 0, np.inf), kinks=_AT_0),
    "leaky_relu": Reference(
        lambda x, alpha: np.where(x > 0, x, alpha * x),
        lambda x, alpha: np.where(x > 0, 1.0, alpha),
        {"alpha": lambda x, alpha: np.minimum(x, 0)},
        kinks=lambda alpha: (0.0,),
    ),
    "elu": Reference(
        _elu,
        lambda x, alpha: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))),
        {"alpha": lambda x, alpha: np.expm1(np.minimum(x, 0))},
        kinks=lambda alpha: (0.0,),
    ),
    "selu": Reference(
        lambda x: SELU_LAMBDA * _elu(x, SELU_ALPHA),
        lambda x: SELU_LAMBDA * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0))),
        kinks=_AT_0,
    ),
    "parametric_selu": Reference(
        lambda x, scale, alpha: scale * _elu(x, alpha),
        lambda x, scale, alpha: scale * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))),
        {
            "scale": lambda x, scale, alpha: _elu(x, alpha),
            "alpha": lambda x, scale, alpha: scale * np.expm1(np.minimum(x, 0)),
        },
        kinks=lambda scale, alpha: (0.0,),
    ),
    "swish": Reference(
        lambda x, beta: x * _sigmoid(beta * x),
        lambda x, beta: _sigmoid(beta * x) + beta * x * _dsigmoid(beta * x),
        {"beta": lambda x, beta: x * x * _dsigmoid(beta * x)},
    ),
    "silu": Reference(lambda x: x * _sigmoid(x), lambda x: _sigmoid(x) + x * _dsigmoid(x)),
    "gelu": Reference(
        lambda x, approximate: _gelu_tanh(x) if approximate else x * special.ndtr(x),
        lambda x, approximate: (
            _gelu_tanh_dx(x)
            if approximate
            else special.ndtr(x) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        ),
    ),
    "softplus": Reference(_softplus, _sigmoid),
    "mish": Reference(lambda x: x * np.tanh(_softplus(x)), _mish_dx),
    "celu": Reference(
        lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)),
        lambda x, alpha: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / alpha)),
        {
            "alpha": lambda x, alpha: np.where(
                x > 0, 0.0, _expm1_minus_z_exp_z(np.minimum(x, 0) / alpha)
            )
        },
        kinks=lambda alpha: (0.0,),
    ),
    "hard_sigmoid": Reference(
        lambda x: np.clip((x + 3) / 6, 0, 1),
        lambda x: _step(x, -3, 3) / 6,
        kinks=lambda: (-3.0, 3.0),
    ),
    "hard_tanh": Reference(
        lambda x: np.clip(x, -1, 1), lambda x: _step(x, -1, 1), kinks=lambda: (-1.0, 1.0)
    ),
    "relu6": Reference(
        lambda x: np.clip(x, 0, 6), lambda x: _step(x, 0, 6), kinks=lambda: (0.0, 6.0)
    ),
    "softsign": Reference(lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2),
    "log_sigmoid": Reference(lambda x: -_softplus(-x), lambda x: _sigmoid(-x)),
    "hard_silu": Reference(
        lambda x: x * np.clip((x + 3) / 6, 0, 1),
        lambda x: np.where(x > 3, 1.0, (2 * x + 3) / 6 * _step(x, -3, 3)),
        kinks=lambda: (-3.0, 3.0),
    ),
    "squareplus": Reference(
        lambda x, b: np.where(
            x >= 0, (x + np.hypot(x, np.sqrt(b))) / 2, b / (2 * (np.hypot(x, np.sqrt(b)) - x))
        ),
        lambda x, b: np.where(
            x >= 0,
            (1 + x / np.hypot(x, np.sqrt(b))) / 2,
            b / (2 * np.hypot(x, np.sqrt(b)) * (np.hypot(x, np.sqrt(b)) - x)),
        ),
        {"b": lambda x, b: 1 / (4 * np.hypot(x, np.sqrt(b)))},
    ),
    "sparse_plus": Reference(
        lambda x: np.where(x >= 1, x, np.where(x > -1, (x + 1) ** 2 / 4, 0.0)),
        lambda x: np.clip(x + 1, 0, 2) / 2,
    ),
    "sparse_sigmoid": Reference(
        lambda x: np.clip(x + 1, 0, 2) / 2, lambda x: _step(x, -1, 1) / 2, kinks=lambda: (-1.0, 1.0)
    ),
    "log1mexp": Reference(_log1mexp, lambda x: np.where(x >= 0, 1 / np.expm1(x), np.nan)),
    "hardshrink": Reference(
        lambda x, lambd: np.where(np.abs(x) > lambd, x, 0.0),
        lambda x, lambd: (np.abs(x) > lambd).astype(np.float64),
        {"lambd": lambda x, lambd: np.zeros_like(x)},
        kinks=lambda lambd: (-lambd, lambd),
    ),
    "softshrink": Reference(
        lambda x, lambd: np.sign(x) * np.maximum(np.abs(x) - lambd, 0),
        lambda x, lambd: (np.abs(x) > lambd).astype(np.float64),
        {"lambd": lambda x, lambd: -np.sign(x) * (np.abs(x) > lambd)},
        kinks=lambda lambd: (-lambd, lambd),
    ),
    "tanhshrink": Reference(_tanhshrink, lambda x: np.tanh(x) ** 2),
    "rrelu": Reference(
        lambda x, lower, upper: np.where(x > 0, x, (lower + upper) / 2 * x),
        lambda x, lower, upper: np.where(x > 0, 1.0, (lower + upper) / 2),
        {
            "lower": lambda x, lower, upper: np.minimum(x, 0) / 2,
            "upper": lambda x, lower, upper: np.minimum(x, 0) / 2,
        },
        kinks=lambda lower, upper: (0.0,),
    ),
    "rational": Reference(
        _rational,
        _rational_dx,
        {"numerator": _rational_dnum, "denominator": _rational_dden},
        kinks=lambda numerator, denominator: (0.0,),
    ),
    "apl": Reference(
        lambda x, slopes, hinges: (
            np.maximum(x, 0)
            + sum(a * np.maximum(b - x, 0) for a, b in zip(slopes, hinges, strict=True))
        ),
        lambda x, slopes, hinges: (
            (x > 0) - sum(a * (x <= b) for a, b in zip(slopes, hinges, strict=True))
        ),
        {
            "slopes": lambda x, slopes, hinges: np.stack(
                [np.maximum(b - x, 0) for b in hinges], -1
            ),
            "hinges": lambda x, slopes, hinges: np.stack(
                [a * (x < b) for a, b in zip(slopes, hinges, strict=True)], -1
            ),
        },
        kinks=lambda slopes, hinges: (0.0, *hinges),
    ),
    "blend": Reference(_blend, _blend_dx, {"weights": _blend_dw}, kinks=lambda **p: (0.0,)),
}
REFERENCES["prelu"] = REFERENCES["leaky_relu"]

#: Non-elementwise entries, as (rows of two built from x, the tangent v, the
#: reference of output entry 0, the reference of (J v) entry 0, kinks).
PAIRS: dict[str, tuple[Callable, tuple[float, float], Callable, Callable, tuple[float, ...]]] = {
    "softmax": (lambda x: (x, 0 * x), (1.0, 0.0), _sigmoid, _dsigmoid, ()),
    "softmin": (
        lambda x: (x, 0 * x),
        (1.0, 0.0),
        lambda x: _sigmoid(-x),
        lambda x: -_dsigmoid(x),
        (),
    ),
    "log_softmax": (
        lambda x: (x, 0 * x),
        (1.0, 0.0),
        lambda x: -_softplus(-x),
        lambda x: _sigmoid(-x),
        (),
    ),
    "glu": (lambda x: (1 + 0 * x, x), (0.0, 1.0), _sigmoid, _dsigmoid, ()),
    "maxout": (
        lambda x: (x, 0 * x),
        (1.0, 0.0),
        lambda x: np.maximum(x, 0),
        lambda x: (x >= 0).astype(np.float64),
        (0.0,),
    ),
}

# Near the zero of a derivative the float64 formula cancels (relative error
# ~1e-16 / |f'|, half a float32 ulp for the float32 input nearest the zero):
# there (|f'| < 1e-3 and |x| < 4) the reference is recomputed with 40-digit mpmath.
_MP_DIGITS = 40
_REFINE_BELOW = 1e-3


def _mp_s(t):
    return 1 / (1 + mpmath.exp(-t))


def _mp_silu_dx(t):
    return _mp_s(t) + t * _mp_s(t) * _mp_s(-t)


def _mp_mish_dx(t):
    sp = mpmath.log1p(mpmath.exp(t))
    return mpmath.tanh(sp) + t * _mp_s(t) / mpmath.cosh(sp) ** 2


def _mp_gelu_tanh_dx(t):
    c, a = mpmath.sqrt(2 / mpmath.pi), mpmath.mpf("0.044715")
    u2 = 2 * c * (t + a * t**3)
    return _mp_s(u2) + t * _mp_s(u2) * _mp_s(-u2) * 2 * c * (1 + 3 * a * t * t)


#: (label, quantity) -> the mpmath function used where the float64 reference is small.
MP_REFINE: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("silu", "f′"): _mp_silu_dx,
    ("swish", "f′"): _mp_silu_dx,  # at the default beta = 1
    ("mish", "f′"): _mp_mish_dx,
    ("gelu", "f′"): lambda t: mpmath.ncdf(t) + t * mpmath.npdf(t),
    ("gelu(approximate=True)", "f′"): _mp_gelu_tanh_dx,
}


def reference_values(
    label: str, name: str, params: Mapping[str, Any], x64: np.ndarray
) -> dict[str, np.ndarray]:
    """float64 references of ``f``, ``f′`` and each ``∂f/∂p`` at ``x64`` (``params``
    as the function receives them), refined with mpmath near zeros of ``f′``."""
    ref = REFERENCES[name]
    with np.errstate(all="ignore"):
        want = {"f": ref.value(x64, **params), "f′": ref.dx(x64, **params)}
        for p, d in ref.dparams.items():
            tail = np.shape(d(x64[:1], **params))[1:]
            want[f"∂f/∂{p}"] = np.broadcast_to(d(x64, **params), x64.shape + tail)
    for q in list(want):
        exact = MP_REFINE.get((label, q))
        if exact is None:
            continue
        small = np.isfinite(want[q]) & (np.abs(want[q]) < _REFINE_BELOW) & (np.abs(x64) < 4)
        if small.any():
            refined = np.array(want[q], np.float64)
            with mpmath.workdps(_MP_DIGITS):
                refined[small] = [float(exact(mpmath.mpf(float(t)))) for t in x64[small]]
            want[q] = refined
    return want


# ----------------------------------------------------------------------------
# jax.nn counterparts
# ----------------------------------------------------------------------------

JAX_NN: dict[str, Callable[..., Any]] = {
    "identity": lambda x: jax.nn.identity(x),
    "sigmoid": lambda x: jax.nn.sigmoid(x),
    "tanh": lambda x: jax.nn.tanh(x),
    "relu": lambda x: jax.nn.relu(x),
    "leaky_relu": lambda x, alpha: jax.nn.leaky_relu(x, negative_slope=alpha),
    "prelu": lambda x, alpha: jax.nn.leaky_relu(x, negative_slope=alpha),
    "elu": lambda x, alpha: jax.nn.elu(x, alpha=alpha),
    "selu": lambda x: jax.nn.selu(x),
    "silu": lambda x: jax.nn.silu(x),
    "swish": lambda x, beta: jax.nn.swish(x),  # jax.nn.swish is silu: beta = 1 only
    "gelu": lambda x, approximate: jax.nn.gelu(x, approximate=approximate),
    "softplus": lambda x: jax.nn.softplus(x),
    "mish": lambda x: jax.nn.mish(x),
    "celu": lambda x, alpha: jax.nn.celu(x, alpha=alpha),
    "hard_sigmoid": lambda x: jax.nn.hard_sigmoid(x),
    "hard_tanh": lambda x: jax.nn.hard_tanh(x),
    "relu6": lambda x: jax.nn.relu6(x),
    "softsign": lambda x: jax.nn.soft_sign(x),
    "log_sigmoid": lambda x: jax.nn.log_sigmoid(x),
    "hard_silu": lambda x: jax.nn.hard_silu(x),
    "squareplus": lambda x, b: jax.nn.squareplus(x, b=b),
    "sparse_plus": lambda x: jax.nn.sparse_plus(x),
    "sparse_sigmoid": lambda x: jax.nn.sparse_sigmoid(x),
    "log1mexp": lambda x: jax.nn.log1mexp(x),
    "softmax": lambda x, axis: jax.nn.softmax(x, axis=axis),
    "softmin": lambda x, axis: jax.nn.softmax(-x, axis=axis),
    "log_softmax": lambda x, axis: jax.nn.log_softmax(x, axis=axis),
    "glu": lambda x, axis: jax.nn.glu(x, axis=axis),
}
#: jax.nn's name for a jaxact parameter, where jax.nn has it as an argument.
JAX_NN_PARAMS = {
    "leaky_relu": {"alpha"},
    "prelu": {"alpha"},
    "elu": {"alpha"},
    "celu": {"alpha"},
    "squareplus": {"b"},
}

# ----------------------------------------------------------------------------
# Why a cell misses the goal (keyed by (label, quantity); dtype-independent)
# ----------------------------------------------------------------------------

_ROOT = (
    "f′ has a zero at x ≈ {x0}: near it f′ is a difference of O(1) terms, so its "
    "relative error (in ulps of a tiny result) is unbounded in any fixed-precision "
    "formula; its absolute error stays within 1.3 ulps of 1 (2^-23 in float32), "
    "as jax.nn's autodiff's does"
)
_XLA = "XLA's float32 {op}, up to {ulp} ulps on this machine"
REASONS: dict[tuple[str, str], str] = {
    ("silu", "f′"): _ROOT.format(x0="-1.2785"),
    ("swish", "f′"): _ROOT.format(x0="-1.2785"),
    ("mish", "f′"): _ROOT.format(x0="-1.1924"),
    ("gelu", "f′"): _ROOT.format(x0="-0.7518"),
    ("gelu(approximate=True)", "f′"): _ROOT.format(x0="-0.7524"),
    ("gelu", "f"): (
        "XLA's float32 erfc(z) for z < 1 is 1 - erf(z), which loses about 3 bits near "
        "z = 1 (x near -1.4); jax.nn.gelu(approximate=False) evaluates the same erfc "
        "(and is flushed to 0 near x = -13)"
    ),
    ("gelu(approximate=True)", "f"): (
        "x σ(2u), u = c (x + 0.044715 x^3): in the left tail |2u| reaches 87 and the "
        "float32 rounding of the cubic u costs |2u| ε relative in e^{2u}; exact only with "
        "double-float arithmetic. jax.nn's (1 + tanh u) x / 2 cancels there"
    ),
    ("softmax", "J e"): (
        "J e₀ = s₀ s₁, the product of two softmax entries, each through "
        + _XLA.format(op="exp and divide", ulp="2.4")
        + "; jax.nn's s₀ (1 - s₀) cancels"
    ),
    ("softmin", "J e"): ("J e₀ = -s₀ s₁, the product of two softmin entries (see softmax)"),
    ("swish", "∂f/∂beta"): (
        "x² σ(x) σ(-x): four roundings and two calls of " + _XLA.format(op="logistic", ulp="2.4")
    ),
    ("mish", "f"): (
        "x tanh(softplus(x)): the rounding of softplus(x) (log1p, exp) passes through tanh"
    ),
    ("tanhshrink", "f"): "x - tanh x cancels for small |x| (it is x³/3 there): needs a series",
    ("tanhshrink", "f′"): "tanh² x, with " + _XLA.format(op="tanh", ulp="4.3"),
    ("rational", "f"): "P(x) / Q(x) has relative error unbounded near the zeros of P",
    ("rational", "f′"): "P′ - f sign(s) s′ cancels near the zeros of f′",
    ("rational", "∂f/∂numerator"): "x^j overflows for large |x| where x^j / Q(x) does not",
    ("rational", "∂f/∂denominator"): (
        "f x^k / Q(x) overflows for large |x| (and cancels near the zeros of f)"
    ),
    ("blend", "f"): ("w_i f_i(x) is subnormal (flushed to 0 on CPU) next to the smallest normal x"),
    ("squareplus", "f′"): "b / (2 r (r - x)) with r = hypot(x, √b): five roundings",
    ("log1mexp", "f′"): "1 / expm1(x), with " + _XLA.format(op="expm1", ulp="4.9"),
    ("log1mexp", "f"): (
        "log(-expm1(-x)) and log1p(-exp(-x)), with " + _XLA.format(op="expm1/log", ulp="4.9")
    ),
}

# ----------------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------------


@dataclasses.dataclass
class Cell:
    """Largest error of one quantity in one dtype: jaxact's and jax.nn's (None if absent)."""

    label: str
    quantity: str
    dtype: str
    points: int
    ulp: float
    at: float
    jax_nn_ulp: float | None = None
    jax_nn_at: float | None = None

    @property
    def within_goal(self) -> bool:
        return self.ulp <= GOAL_ULP

    @property
    def worse_than_jax_nn(self) -> bool:
        return self.jax_nn_ulp is not None and self.ulp > self.jax_nn_ulp + 0.01

    @property
    def ok(self) -> bool:
        return self.within_goal and not self.worse_than_jax_nn


def _chunked(fn: Callable[[jax.Array], Any], x: np.ndarray) -> list[np.ndarray]:
    """Apply a jitted ``fn`` (returning a tuple of arrays of x's leading length) in
    fixed-size chunks (one compilation), and concatenate as float64."""
    n = x.shape[0]
    size = min(CHUNK, n)
    outs: list[list[np.ndarray]] = []
    for start in range(0, n, size):
        piece = x[start : start + size]
        pad = size - piece.shape[0]
        if pad:
            piece = np.concatenate([piece, np.repeat(piece[-1:], pad, axis=0)])
        res = fn(jnp.asarray(piece))
        outs.append([np.asarray(r, np.float64)[: size - pad] for r in res])
    return [np.concatenate(parts) for parts in zip(*outs, strict=True)]


def _worst(err: np.ndarray, counted: np.ndarray, x: np.ndarray) -> tuple[int, float, float]:
    if err.ndim > 1:  # vector parameter: the worst component at each x
        counted = counted.any(axis=-1)
        err = err.max(axis=-1)
    if not counted.any():
        return 0, 0.0, math.nan
    i = int(np.argmax(np.where(counted, err, -1.0)))
    return int(counted.sum()), float(err[i]), float(x[i])


def _as_dtype_params(params: Mapping[str, Any], dtype: str) -> dict[str, Any]:
    """Numeric parameters rounded to ``dtype`` (as the functions cast them), as float64."""
    out = {}
    for k, v in params.items():
        if isinstance(v, bool) or isinstance(v, str) or v is None:
            out[k] = v
        elif isinstance(v, (tuple, list)) and v and isinstance(v[0], str):
            out[k] = v
        elif isinstance(v, (int, float, tuple, list, np.ndarray)):
            a = np.asarray(np.asarray(v, np.float64).astype(jnp.dtype(dtype)), np.float64)
            out[k] = float(a) if a.ndim == 0 else tuple(a.tolist())
        else:
            out[k] = v
    return out


def measure_elementwise(
    label: str, name: str, params: Mapping[str, Any], dtype: str, x: np.ndarray
) -> list[Cell]:
    rec = jaxact.get(name)
    ref = REFERENCES[name]
    pref = _as_dtype_params(params, dtype)
    x64 = x.astype(np.float64)
    want = reference_values(label, name, pref, x64)
    kinks = np.isin(x64, np.asarray(ref.kinks(**pref), np.float64))

    tails = {p: want[f"∂f/∂{p}"].shape[1:] for p in ref.dparams}  # () or (components,)

    def ours(t):
        out = [rec.fn(t, **params), rec.dfdx(t, **params)]
        out += [
            jnp.broadcast_to(rec.dfdparams[p](t, **params), t.shape + tails[p]) for p in ref.dparams
        ]
        return tuple(out)

    got = dict(zip(want, _chunked(jax.jit(ours), x), strict=True))

    theirs = None
    if name in JAX_NN:
        nn = JAX_NN[name]
        nn_params = {k: v for k, v in params.items()}
        diff = sorted(JAX_NN_PARAMS.get(name, set()))

        def theirs_fn(t):
            pv = {k: jnp.asarray(nn_params[k], t.dtype) for k in diff}
            static = {k: v for k, v in nn_params.items() if k not in diff}
            f = lambda u: nn(u, **static, **pv)  # noqa: E731
            y, dy = jax.jvp(f, (t,), (jnp.ones_like(t),))
            out = [y, dy]
            for k in diff:
                out.append(
                    jax.jvp(
                        lambda a, k=k: nn(t, **static, **{**pv, k: a}),
                        (pv[k],),
                        (jnp.ones_like(pv[k]),),
                    )[1]
                )
            return tuple(out)

        keys = ["f", "f′"] + [f"∂f/∂{k}" for k in diff]
        theirs = dict(zip(keys, _chunked(jax.jit(theirs_fn), x), strict=True))

    cells = []
    for q, w in want.items():
        err, counted = ulp_errors(got[q], w, dtype)
        if q != "f":
            mask = ~kinks if err.ndim == 1 else ~kinks[:, None]
            counted = counted & mask
        n, worst, at = _worst(err, counted, x64)
        cell = Cell(label, q, dtype, n, worst, at)
        if theirs is not None and q in theirs:
            e2, c2 = ulp_errors(theirs[q], w, dtype)
            if q != "f":
                c2 = c2 & ~kinks
            _, cell.jax_nn_ulp, cell.jax_nn_at = _worst(e2, c2 & counted, x64)
        cells.append(cell)
    return cells


def measure_pairs(name: str, params: Mapping[str, Any], dtype: str, x: np.ndarray) -> list[Cell]:
    rec = jaxact.get(name)
    build, v, ref_f, ref_jv, kink_points = PAIRS[name]
    x64 = x.astype(np.float64)
    axis_params = {k: val for k, val in params.items()}
    tangent = np.asarray(v, np.float64)

    def rows(t):
        a, b = build(t)
        return jnp.stack([a, b], axis=-1)

    def ours(t):
        r = rows(t)
        vv = jnp.broadcast_to(jnp.asarray(tangent, t.dtype), r.shape)
        return rec.fn(r, **axis_params)[:, 0], rec.dfdx(r, vv, **axis_params)[:, 0]

    got = _chunked(jax.jit(ours), x)
    with np.errstate(all="ignore"):
        want = [ref_f(x64), ref_jv(x64)]
    theirs = None
    if name in JAX_NN:
        nn = JAX_NN[name]
        nn_params = {k: val for k, val in params.items() if k == "axis"}

        def theirs_fn(t):
            r = rows(t)
            vv = jnp.broadcast_to(jnp.asarray(tangent, t.dtype), r.shape)
            y, jv = jax.jvp(lambda u: nn(u, **nn_params), (r,), (vv,))
            return y[:, 0], jv[:, 0]

        theirs = _chunked(jax.jit(theirs_fn), x)
    kinks = np.isin(x64, np.asarray(kink_points, np.float64))
    cells = []
    for i, q in enumerate(("f", "J e")):
        err, counted = ulp_errors(got[i], want[i], dtype)
        if i:
            counted &= ~kinks
        n, worst, at = _worst(err, counted, x64)
        cell = Cell(name, q, dtype, n, worst, at)
        if theirs is not None:
            e2, c2 = ulp_errors(theirs[i], want[i], dtype)
            _, cell.jax_nn_ulp, cell.jax_nn_at = _worst(e2, c2 & counted, x64)
        cells.append(cell)
    return cells


def cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(label, registry name, parameters): every entry at its defaults, and gelu's
    tanh approximation (jax.nn.gelu's default)."""
    out = [(n, n, dict(jaxact.get(n).params)) for n in jaxact.names()]
    out.append(("gelu(approximate=True)", "gelu", {"approximate": True}))
    return out


def measure(
    dtypes: Sequence[str] = DTYPES,
    n32: int = 1 << 20,
    names: Sequence[str] | None = None,
    log=print,
) -> tuple[list[Cell], dict[str, str]]:
    """All cells, and the entries skipped (name -> reason)."""
    cells: list[Cell] = []
    skipped: dict[str, str] = {}
    for dtype in dtypes:
        x = inputs(dtype, n32)
        t0 = time.perf_counter()
        for label, name, params in cases():
            if names is not None and name not in names:
                continue
            rec = jaxact.get(name)
            if rec.elementwise and name in REFERENCES:
                cells += measure_elementwise(label, name, params, dtype, x)
            elif not rec.elementwise and name in PAIRS:
                cells += measure_pairs(name, params, dtype, x)
            elif rec.elementwise:
                skipped[name] = "no float64 reference in experiments/accuracy.py yet"
            else:
                skipped[name] = (
                    "non-elementwise, with no two-entry reduction to an elementwise function"
                )
        log(f"{dtype}: {x.size} points, {time.perf_counter() - t0:.0f} s")
    return cells, skipped


# ----------------------------------------------------------------------------
# Derivatives at kinks: jaxact, jax.nn (jax.grad), PyTorch (its documented formulas)
# ----------------------------------------------------------------------------

_LS = 0.5 * (0.125 + 1 / 3)  # rrelu's evaluation slope (lower + upper) / 2
#: (registry name, parameters, kink, PyTorch's derivative there or None, jax.nn call or None).
#: PyTorch's values follow its backward formulas (ATen ``threshold_backward``:
#: ``x <= t ? 0 : g``; ``leaky_relu_backward`` and ``prelu``: ``x > 0 ? g : a g``;
#: ``elu_backward``: ``x <= 0 ? g a e^x (times lambda for selu, x/a for celu) : g``;
#: ``hardtanh_backward`` (relu6 is hardtanh(0, 6)): 0 where ``x <= lo or x >= hi``;
#: ``hardsigmoid_backward``: ``|x| < 3 ? g/6 : 0``; ``hardswish_backward``:
#: ``x <= -3 ? 0 : x >= 3 ? g : g (x/3 + 1/2)``; ``hardshrink_backward`` and
#: ``softshrink_backward``: 0 where ``-l <= x <= l``; ``rrelu`` in eval mode is
#: leaky_relu with slope (lower + upper)/2). torch is not a dependency: these are
#: read from its kernels, not run.
KINK_ROWS: tuple[tuple[str, dict, float, float | None, Callable | None], ...] = (
    ("relu", {}, 0.0, 0.0, jax.nn.relu),
    ("leaky_relu", {}, 0.0, 0.01, lambda x: jax.nn.leaky_relu(x, negative_slope=0.01)),
    ("prelu", {}, 0.0, 0.25, lambda x: jax.nn.leaky_relu(x, negative_slope=0.25)),
    ("rrelu", {}, 0.0, _LS, None),
    ("elu", {}, 0.0, 1.0, jax.nn.elu),
    ("selu", {}, 0.0, SELU_LAMBDA * SELU_ALPHA, jax.nn.selu),
    ("parametric_selu", {}, 0.0, None, None),
    ("celu", {}, 0.0, 1.0, jax.nn.celu),
    ("relu6", {}, 0.0, 0.0, jax.nn.relu6),
    ("relu6", {}, 6.0, 0.0, jax.nn.relu6),
    ("hard_tanh", {}, -1.0, 0.0, jax.nn.hard_tanh),
    ("hard_tanh", {}, 1.0, 0.0, jax.nn.hard_tanh),
    ("hard_sigmoid", {}, -3.0, 0.0, jax.nn.hard_sigmoid),
    ("hard_sigmoid", {}, 3.0, 0.0, jax.nn.hard_sigmoid),
    ("hard_silu", {}, -3.0, 0.0, jax.nn.hard_silu),
    ("hard_silu", {}, 3.0, 1.0, jax.nn.hard_silu),
    ("sparse_sigmoid", {}, -1.0, None, jax.nn.sparse_sigmoid),
    ("sparse_sigmoid", {}, 1.0, None, jax.nn.sparse_sigmoid),
    ("hardshrink", {}, -0.5, 0.0, None),
    ("hardshrink", {}, 0.5, 0.0, None),
    ("softshrink", {}, -0.5, 0.0, None),
    ("softshrink", {}, 0.5, 0.0, None),
    ("threshold", {}, 0.0, 0.0, None),
    ("step", {}, 0.0, None, None),
)


def kink_values() -> list[tuple[str, float, float, float | None, float | None]]:
    """(name, kink, jaxact's dfdx, jax.nn's jax.grad or None, PyTorch's or None), float32,
    for the rows whose function is in the registry."""
    out = []
    names = set(jaxact.names())
    for name, params, k, torch_value, nn in KINK_ROWS:
        if name not in names:
            continue
        rec = jaxact.get(name)
        x = jnp.float32(k)
        ours = float(rec.dfdx(x, **{**rec.params, **params}))
        theirs = None if nn is None else float(jax.grad(nn)(x))
        out.append((name, k, ours, theirs, torch_value))
    return out


def _fmt_d(v: float | None) -> str:
    if v is None:
        return "–"
    for text, value in (("1/6", 1 / 6), ("λα", SELU_LAMBDA * SELU_ALPHA)):
        if abs(v - value) < 1e-6:
            return text
    return f"{v:.6g}"


def kink_table() -> str:
    """The Markdown table of derivatives at the kinks (the README embeds it)."""
    lines = [
        "| function | x | jaxact | jax.nn | PyTorch |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, k, ours, theirs, torch_value in kink_values():
        cells = [
            _fmt_d(v) if v is None or abs(v - ours) < 1e-6 else f"**{_fmt_d(v)}**"
            for v in (theirs, torch_value)
        ]
        lines.append(f"| {name} | {k:g} | {_fmt_d(ours)} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------


def _fmt_ulp(u: float | None) -> str:
    if u is None:
        return "–"
    if math.isinf(u):
        return "inf"
    return f"{u:.2f}" if u < 100 else f"{u:.3g}"


def _fmt_x(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.6g}"


def headline(cells: Sequence[Cell]) -> str:
    total = len(cells)
    within = sum(c.within_goal for c in cells)
    compared = [c for c in cells if c.jax_nn_ulp is not None]
    worse = [c for c in compared if c.worse_than_jax_nn]
    return (
        f"{within} of {total} (function, quantity, dtype) cells are within {GOAL_ULP:g} ulp; "
        f"jaxact is worse than jax.nn in {len(worse)} of the {len(compared)} cells where jax.nn "
        f"has the function."
    )


def render(
    cells: Sequence[Cell], skipped: Mapping[str, str], *, argv: Sequence[str], elapsed: float
) -> str:
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join([PROG, *argv])
    lines = [
        "# Accuracy of the catalogue, in ulps",
        "",
        f"Generated by `{command}` on {date} (jax {jax.__version__}, "
        f"{jax.default_backend()}, Python {platform.python_version()}, {elapsed:.0f} s). "
        "Do not edit by hand: rerun the command.",
        "",
        f"**{headline(cells)}**",
        "",
        "What is measured (see the module docstring of `experiments/accuracy.py`): the largest "
        "error, in ulps of the dtype, of each value `f`, closed-form derivative `f′` (what "
        "`jax.grad` uses) and parameter derivative `∂f/∂p` at the default parameters, against "
        "a float64 reference (itself held against 50-digit mpmath by `tests/test_accuracy.py`), "
        "over every finite float16 and bfloat16 value and 2^20 float32 values spread over the "
        "whole range plus the floats next to each kink. Only points where the reference is a "
        "normal number of the dtype count; derivatives are not compared at a kink itself "
        '(see the README\'s "Derivatives at kinks"). `jax.nn` columns: the same measurement of '
        "`jax.nn`'s value and autodiff derivative, where `jax.nn` has the function. "
        "`worst x`: an input where the maximum is reached. Non-elementwise entries are measured "
        "through a two-entry axis (`softmax([x, 0])₀ = σ(x)`, `glu([1, x]) = σ(x)`, ...); `J e` "
        "is the first entry of the Jacobian times the first unit vector (the second for glu).",
        "",
        f"Status: ✓ within {GOAL_ULP:g} ulp and not worse than jax.nn; otherwise the reason.",
        "",
        "| function | quantity | dtype | points | jaxact max ulp | worst x | jax.nn max ulp "
        "| jax.nn worst x | status |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in cells:
        if c.ok:
            status = "✓"
        else:
            parts = []
            if not c.within_goal:
                parts.append(REASONS.get((c.label, c.quantity), "over the goal: not analysed yet"))
            if c.worse_than_jax_nn:
                parts.append("worse than jax.nn")
            status = "; ".join(parts)
        lines.append(
            f"| {c.label} | {c.quantity} | {c.dtype} | {c.points} | {_fmt_ulp(c.ulp)} "
            f"| {_fmt_x(c.at)} | {_fmt_ulp(c.jax_nn_ulp)} | {_fmt_x(c.jax_nn_at)} | {status} |"
        )
    lines += [
        "",
        "## Derivatives at kinks",
        "",
        "float32 `dfdx` of jaxact (the left derivative), `jax.grad` of jax.nn, and PyTorch's "
        "backward formulas as its kernels write them (PyTorch is not run; see `KINK_ROWS` in "
        "`experiments/accuracy.py`). Bold: differs from jaxact.",
        "",
        kink_table().rstrip("\n"),
    ]
    if skipped:
        lines += ["", "Not measured:", ""]
        lines += [f"- `{n}`: {why}" for n, why in sorted(skipped.items())]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown file to write")
    parser.add_argument(
        "--float32-points",
        type=int,
        default=1 << 20,
        help="size of the float32 sample (default 2^20)",
    )
    parser.add_argument("--names", nargs="*", default=None, help="only these registry entries")
    parser.add_argument("--dtypes", nargs="*", default=list(DTYPES), choices=DTYPES)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    cells, skipped = measure(
        args.dtypes, args.float32_points, args.names, log=lambda m: print(m, file=sys.stderr)
    )
    shown = [a for a in (argv if argv is not None else sys.argv[1:]) if not a.startswith("--out")]
    text = render(cells, skipped, argv=shown, elapsed=time.perf_counter() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
