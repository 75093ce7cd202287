"""Tests of the activation catalogue and its closed-form derivatives.

Most tests are parametrized over the registry, so a new entry is tested
automatically (it only needs a NumPy reference in ``REFERENCE``). Derivatives
are checked three independent ways: autodiff (grad/jvp/vjp) against the
registry's closed forms; the closed forms against central finite differences
of a float64 NumPy reference; and against autodiff of ``jax.nn`` where it has
the function. Tolerances are jax's per-dtype ones.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

import jaxact

X64 = bool(jax.config.jax_enable_x64)
DTYPES = [jnp.float32, jnp.bfloat16, jnp.float16] + ([jnp.float64] if X64 else [])
# jax's test tolerances (jax._src.public_test_util): values and gradients.
VALUE_TOL = {jnp.float64: 1e-15, jnp.float32: 1e-6, jnp.float16: 1e-3, jnp.bfloat16: 1e-2}
GRAD_TOL = {jnp.float64: 1e-5, jnp.float32: 2e-3, jnp.float16: 1e-2, jnp.bfloat16: 1e-1}
NAMES = jaxact.names()
RECORDS = {n: jaxact.get(n) for n in NAMES}
ELEMENTWISE = [n for n in NAMES if RECORDS[n].elementwise]
NON_ELEMENTWISE = [n for n in NAMES if not RECORDS[n].elementwise]
PARAMETRIC = [n for n in NAMES if RECORDS[n].dfdparams]
# Every registry entry at its defaults, plus the non-default static variants.
CASES = [(n, {}) for n in NAMES] + [
    ("gelu", {"approximate": True}),
    ("maxout", {"num_pieces": 3, "axis": 0}),
    ("softmax", {"axis": 0}),
    ("blend", {"normalize": True}),
    ("glu", {"axis": 0}),
]
HIGHEST = jnp.float64 if X64 else jnp.float32

# The SELU constants as printed in Klambauer et al. (2017), independent of jaxact's.
PAPER_SELU_LAMBDA = 1.0507009873554804934193349852946
PAPER_SELU_ALPHA = 1.6732632423543772848170429916717


def _dtype_id(dtype) -> str:
    return jnp.dtype(dtype).name


def _case_id(case) -> str:
    name, overrides = case
    return name + "".join(f"-{k}={v}" for k, v in overrides.items())


def _params(name: str, overrides=None) -> dict:
    return {**RECORDS[name].params, **(overrides or {})}


def _np(a) -> np.ndarray:
    return np.asarray(a, np.float64)


def _assert_close(got, expected, tol, *, err_msg=""):
    """|got - expected| <= tol * (|expected| + 1) elementwise, in float64 (jax's atol = rtol = tol)."""
    got = np.asarray(got, np.float64)
    expected = np.asarray(expected, np.float64)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, err_msg=err_msg)


# ----------------------------------------------------------------------------
# Independent float64 NumPy references
# ----------------------------------------------------------------------------

_np_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _np_elu(x, alpha):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _np_softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_log_softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def _np_maxout(x, num_pieces, axis):
    moved = np.moveaxis(x, axis, -1)
    groups = moved.reshape(moved.shape[:-1] + (moved.shape[-1] // num_pieces, num_pieces))
    return np.moveaxis(groups.max(-1), -1, axis)


def _np_glu(x, axis):
    a, b = np.split(x, 2, axis=axis)
    return a * _np_sigmoid(b)


def _np_squareplus(x, b):
    r = np.sqrt(x * x + b)
    return np.where(x >= 0, (x + r) / 2, b / (2 * (r - np.minimum(x, 0))))  # (x + r)(r - x) = b


def _np_gelu(x, approximate):
    if approximate:  # (1 + tanh u) / 2 = sigmoid(2u), without the cancellation for x << 0
        return x * _np_sigmoid(2 * np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))
    return x * 0.5 * _np_erfc(-x / np.sqrt(2))


REFERENCE = {
    "identity": lambda x: x,
    "step": lambda x: (x > 0).astype(np.float64),
    "threshold": lambda x, threshold, value: np.where(x > threshold, x, value),
    "sigmoid": _np_sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x, alpha: np.where(x >= 0, x, alpha * x),
    "prelu": lambda x, alpha: np.where(x >= 0, x, alpha * x),
    "elu": _np_elu,
    "selu": lambda x: PAPER_SELU_LAMBDA * _np_elu(x, PAPER_SELU_ALPHA),
    "parametric_selu": lambda x, scale, alpha: scale * _np_elu(x, alpha),
    "swish": lambda x, beta: x * _np_sigmoid(beta * x),
    "silu": lambda x: x * _np_sigmoid(x),
    "maxout": _np_maxout,
    "softmax": _np_softmax,
    "softmin": lambda x, axis: _np_softmax(-x, axis),
    "log_softmax": _np_log_softmax,
    "gelu": _np_gelu,
    "softplus": lambda x: np.logaddexp(0, x),
    "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
    "celu": lambda x, alpha: np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha)),
    "hard_sigmoid": lambda x: np.clip((x + 3) / 6, 0, 1),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "relu6": lambda x: np.clip(x, 0, 6),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "log_sigmoid": lambda x: -np.logaddexp(0, -x),
    "glu": _np_glu,
    "hard_silu": lambda x: x * np.clip((x + 3) / 6, 0, 1),
    "squareplus": _np_squareplus,
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda x: np.clip(x + 1, 0, 2) / 2,
    "log1mexp": lambda x: np.log(-np.expm1(-x)),
    "hardshrink": lambda x, lambd: np.where(np.abs(x) > lambd, x, 0),
    "softshrink": lambda x, lambd: np.sign(x) * np.maximum(np.abs(x) - lambd, 0),
    "tanhshrink": lambda x: x - np.tanh(x),
    "rrelu": lambda x, lower, upper: np.where(x >= 0, x, (lower + upper) / 2 * x),
    "rational": lambda x, numerator, denominator: _np_rational(x, numerator, denominator),
    "apl": lambda x, slopes, hinges: _np_apl(x, slopes, hinges),
    "blend": lambda x, activations, weights, normalize: _np_blend(
        x, activations, weights, normalize
    ),
}


# Learnable-shape activations: coefficient-array parameters (last axis = coefficient).
def _np_rational(x, numerator, denominator):
    p = np.polynomial.polynomial.polyval(x, np.asarray(numerator, np.float64))
    s = np.polynomial.polynomial.polyval(x, np.concatenate([[0.0], np.ravel(denominator)]))
    return p / (1 + np.abs(s))


def _np_apl(x, slopes, hinges):
    out = np.maximum(x, 0)
    for a, b in zip(np.ravel(slopes), np.ravel(hinges), strict=True):
        out = out + a * np.maximum(b - x, 0)
    return out


def _np_blend(x, activations, weights, normalize):
    w = np.asarray(weights, np.float64)
    if normalize:
        w = np.exp(w - w.max()) / np.exp(w - w.max()).sum()
    return sum(wi * reference(n, x, **RECORDS[n].params) for wi, n in zip(w, activations))


def _is_coefficients(name, p) -> bool:
    """Whether parameter ``p`` is a coefficient array (its default is a tuple)."""
    return np.ndim(RECORDS[name].params[p]) > 0


def _as_param(value):
    """A float for a scalar, a tuple of floats for a coefficient array."""
    value = np.asarray(value, np.float64)
    return float(value) if value.ndim == 0 else tuple(value.tolist())


def _fd_param(name, x, params, p):
    """Central differences of the reference in ``p`` (per coefficient, stacked last)."""
    value = np.asarray(params[p], np.float64)
    if value.ndim == 0:
        hp = 1e-6 * max(1.0, abs(float(value)))
        return _finite_difference(
            lambda a: reference(name, x, **{**params, p: a}), float(value), hp
        )
    columns = []
    for j in range(value.size):
        e = np.eye(value.size)[j]
        hp = 1e-6 * max(1.0, abs(value[j]))
        shifted = lambda t, e=e: reference(name, x, **{**params, p: value + t * e})  # noqa: E731
        columns.append(_finite_difference(shifted, 0.0, hp))
    return np.stack(columns, -1)


def reference(name, x, **params):
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return REFERENCE[name](np.asarray(x, np.float64), **params)


# jax.nn where it has the function (swish only at beta = 1: jax.nn.swish is silu).
JAX_NN = {
    "identity": lambda x: jax.nn.identity(x),
    "sigmoid": lambda x: jax.nn.sigmoid(x),
    "tanh": lambda x: jax.nn.tanh(x),
    "relu": lambda x: jax.nn.relu(x),
    "leaky_relu": lambda x, alpha: jax.nn.leaky_relu(x, negative_slope=alpha),
    "prelu": lambda x, alpha: jax.nn.leaky_relu(x, negative_slope=alpha),
    "elu": lambda x, alpha: jax.nn.elu(x, alpha=alpha),
    "selu": lambda x: jax.nn.selu(x),
    "swish": lambda x, beta: jax.nn.swish(x),
    "silu": lambda x: jax.nn.silu(x),
    "softmax": lambda x, axis: jax.nn.softmax(x, axis=axis),
    "softmin": lambda x, axis: jax.nn.softmax(-x, axis=axis),
    "log_softmax": lambda x, axis: jax.nn.log_softmax(x, axis=axis),
    "gelu": lambda x, approximate: jax.nn.gelu(x, approximate=approximate),
    "softplus": lambda x: jax.nn.softplus(x),
    "mish": lambda x: jax.nn.mish(x),
    "celu": lambda x, alpha: jax.nn.celu(x, alpha=alpha),
    "hard_sigmoid": lambda x: jax.nn.hard_sigmoid(x),
    "hard_tanh": lambda x: jax.nn.hard_tanh(x),
    "relu6": lambda x: jax.nn.relu6(x),
    "softsign": lambda x: jax.nn.soft_sign(x),
    "log_sigmoid": lambda x: jax.nn.log_sigmoid(x),
    "glu": lambda x, axis: jax.nn.glu(x, axis=axis),
    "hard_silu": lambda x: jax.nn.hard_silu(x),
    "squareplus": lambda x, b: jax.nn.squareplus(x, b),
    "sparse_plus": lambda x: jax.nn.sparse_plus(x),
    "sparse_sigmoid": lambda x: jax.nn.sparse_sigmoid(x),
    "log1mexp": lambda x: jax.nn.log1mexp(x),
}


def in_domain(name, x) -> np.ndarray:
    """The points of a 1-D ``x`` inside the activation's domain (``log1mexp``: x > 0)."""
    lo, hi = RECORDS[name].domain
    x = np.asarray(x)
    return x[(x > lo) & (x < hi)]


def into_domain(name, x) -> np.ndarray:
    """``x`` with every entry outside the domain ``(lo, inf)`` moved to ``lo + |x| + 1``."""
    lo, hi = RECORDS[name].domain
    assert hi == np.inf
    x = np.asarray(x)
    return x if lo == -np.inf else np.where(x > lo, x, lo + np.abs(x) + 1).astype(x.dtype)


# ----------------------------------------------------------------------------
# Grids
# ----------------------------------------------------------------------------

# Kinks of the catalogue (and of the per-channel threshold values 0.25, 0.5).
KINKS = [0.0, 0.25, 0.5, -1.0, 1.0, -3.0, 3.0, 6.0]


def large_values(dtype) -> list[float]:
    """±20, ±100, ±1e4, and ±finfo.max for float16/bfloat16."""
    out = [20.0, 100.0, 1e4]
    if jnp.dtype(dtype) in (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16)):
        out.append(float(jnp.finfo(dtype).max))
    return out + [-v for v in out]


def grid(dtype, *, large: bool = True, n: int = 241) -> np.ndarray:
    """A dense grid over [-6, 6] with the kinks and (optionally) large values, in ``dtype``."""
    values = np.concatenate([np.linspace(-6, 6, n), KINKS, large_values(dtype) if large else []])
    return np.unique(np.asarray(values, dtype=dtype).astype(np.float64)).astype(dtype)


def logits(dtype, rows: int = 18, cols: int = 6, *, large: bool = True) -> np.ndarray:
    """Rows of grid values (with ties and large values) for the non-elementwise functions."""
    rng = np.random.default_rng(0)
    x = rng.choice(grid(dtype, large=False), size=(rows, cols))
    if large:
        big = large_values(dtype)
        x[0] = [big[0], big[-1], 0, 1, -1, 2]
        x[1] = [big[-2], big[-3], big[-4], -big[0], 0, big[2]]
        x[2] = [big[3], big[3], big[-1], big[2], 3, 3]
    return x.astype(dtype)


# Away from every kink (0, ±1, ±3, 6 and the thresholds used below).
SMOOTH_POINTS = np.array([-4.2, -2.3, -0.7, 0.4, 1.9, 4.1, 7.3])


def _channel_values(default: float) -> np.ndarray:
    """Three distinct per-channel values that respect the catalogue's constraints."""
    default = np.asarray(default, np.float64)  # a coefficient array gives (3, K)
    return np.array([default, 0.5 * default + 0.25, 2 * default + 0.5])


# ----------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------


def test_every_entry_has_a_reference():
    assert set(REFERENCE) == set(NAMES)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in JAX_NN], ids=_case_id)
def test_values_and_gradients_match_jax_nn(case):
    name, overrides = case
    rec, params = RECORDS[name], _params(*case)
    ref = JAX_NN[name]
    # jax.nn.swish has no beta: compare at beta = 1, not as a differentiable parameter.
    fixed = {"beta"} if name == "swish" else set()
    static = {k: v for k, v in params.items() if k not in rec.dfdparams or k in fixed}
    traced = {k: jnp.asarray(v, HIGHEST) for k, v in params.items() if k not in static}
    if rec.elementwise:
        x, x_smooth = in_domain(name, grid(HIGHEST)), in_domain(name, SMOOTH_POINTS.astype(HIGHEST))
    else:
        x, x_smooth = logits(HIGHEST), logits(HIGHEST, large=False)

    def loss(f):
        def weighted(x, p):
            y = f(x, **static, **p)  # glu halves an axis: weights of the output's shape
            return jnp.sum(jnp.cos(jnp.arange(y.size, dtype=HIGHEST)).reshape(y.shape) * y)

        return weighted

    @jax.jit
    def both(x, x_smooth, traced):
        # Gradients (w.r.t. x and every parameter) away from kinks, where jax.nn's
        # conventions differ (e.g. jax.nn.leaky_relu'(0) = 1, jaxact's = alpha).
        return (
            (rec.fn(x, **static, **traced), ref(x, **static, **traced)),
            jax.grad(loss(rec.fn), argnums=(0, 1))(x_smooth, traced),
            jax.grad(loss(ref), argnums=(0, 1))(x_smooth, traced),
        )

    (value, ref_value), got, want = both(x, x_smooth, traced)
    # jax.nn's tanh-approximate gelu evaluates 1 + tanh(u), whose cancellation for
    # x << 0 costs an absolute error ~ |x| eps: scale atol with |x|.
    tol = VALUE_TOL[HIGHEST]
    size = np.abs(np.asarray(x, np.float64))
    atol = tol * np.maximum(1, size if size.shape == value.shape else size.max())
    err = np.abs(_np(value) - _np(ref_value))
    assert np.all(err <= atol + tol * np.abs(_np(ref_value))), (name, err.max())
    _assert_close(got[0], want[0], GRAD_TOL[HIGHEST], err_msg=name)
    for p in traced:
        _assert_close(got[1][p], want[1][p], GRAD_TOL[HIGHEST], err_msg=f"{name} d/d{p}")


# ----------------------------------------------------------------------------
# Derivatives: closed forms vs finite differences (independent of jaxact)
# ----------------------------------------------------------------------------


def _finite_difference(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_closed_forms_match_finite_differences(case):
    """dfdx and every dfdparams against central differences of the float64 reference."""
    name, overrides = case
    rec = RECORDS[name]
    # float64 closed forms are checked to the finite-difference error, float32 ones to GRAD_TOL.
    tol = 1e-6 if X64 else GRAD_TOL[jnp.float32]
    defaults = _params(*case)
    alternate = {
        **defaults,
        **{p: _as_param(_channel_values(defaults[p])[2]) for p in rec.dfdparams},
    }
    for params in (defaults, alternate):
        if rec.elementwise:
            x = np.linspace(-5.5, 5.5, 45) + 0.0123  # no point within 1e-3 of a kink
            x = in_domain(name, x)
            h = 1e-6 * np.maximum(1, np.abs(x))
            fd = _finite_difference(lambda t, pr=params: reference(name, t, **pr), x, h)
            _assert_close(
                rec.dfdx(x.astype(HIGHEST), **params), fd, tol, err_msg=f"{name} {params}"
            )
            for p, dfdp in rec.dfdparams.items():
                fd_p = _fd_param(name, x, params, p)
                got = dfdp(x.astype(HIGHEST), **params)
                _assert_close(got, fd_p, tol, err_msg=f"{name} d/d{p} {params}")
        else:
            rng = np.random.default_rng(1)
            x = rng.normal(size=(6, 6)) * 3
            v = rng.normal(size=(6, 6))
            fd = _finite_difference(
                lambda t, x=x, v=v, pr=params: reference(name, x + t * v, **pr), 0.0, 1e-6
            )
            got = rec.dfdx(x.astype(HIGHEST), v.astype(HIGHEST), **params)
            _assert_close(got, fd, tol, err_msg=name)


# ----------------------------------------------------------------------------
# Derivatives: autodiff (grad / jvp / vjp) vs the closed forms
# ----------------------------------------------------------------------------


def _elementwise_transforms(rec, static):
    """Value, jvp/vjp/grad w.r.t. x, jvp w.r.t. each parameter, and the closed forms."""

    def run(x, pvals):
        def f(x, pv):
            return rec.fn(x, **static, **pv)

        ones = jnp.ones_like(x)
        autodiff = {
            "jvp": jax.jvp(lambda t: f(t, pvals), (x,), (ones,))[1],
            "vjp": jax.vjp(lambda t: f(t, pvals), x)[1](ones)[0],
            "grad": jax.grad(lambda t: jnp.sum(f(t, pvals)))(x),
        }
        # a coefficient array's tangent is 1/K per coefficient: the mean partial
        jvp_p = {
            p: jax.jvp(
                lambda a, p=p: f(x, {**pvals, p: a}),
                (a0,),
                (jnp.full_like(a0, 1 / a0.shape[-1]) if a0.ndim else jnp.ones_like(a0),),
            )[1]
            for p, a0 in pvals.items()
        }
        closed = rec.dfdx(x, **static, **pvals)
        closed_p = {p: rec.dfdparams[p](x, **static, **pvals) for p in pvals}
        return f(x, pvals), autodiff, jvp_p, closed, closed_p

    return run


def _jacobian_transforms(rec, params):
    """Value, jvp and vjp (and grad) of a non-elementwise function, and its closed-form J v."""

    def run(x, v):
        def f(t):
            return rec.fn(t, **params)

        y, jv = jax.jvp(f, (x,), (v,))
        u = jnp.cos(jnp.arange(y.size, dtype=y.dtype)).reshape(y.shape)
        (vjp_u,) = jax.vjp(f, x)[1](u)
        grad_u = jax.grad(lambda t: jnp.sum(u * f(t)))(x)
        return y, jv, u, vjp_u, grad_u, rec.dfdx(x, v, **params)

    return run


def _check_values(name, params, x, got, dtype):
    """Against the float64 NumPy reference: finite wherever the exact value is
    representable in ``dtype``; where it is not (selu at +finfo.max, lambda > 1;
    log_softmax of ±finfo.max logits), IEEE overflow to ±inf of the right sign."""
    assert got.dtype == jnp.dtype(dtype)
    got = np.asarray(got, np.float64)
    expected = reference(name, x, **params)
    # representable: rounds to at most finfo.max (within half an ulp of it; ulp = max eps / 2)
    representable = np.abs(expected) < float(jnp.finfo(dtype).max) * (
        1 + float(jnp.finfo(dtype).eps) / 4
    )
    assert np.all(np.isfinite(got[representable])), x[~np.isfinite(got) & representable]
    np.testing.assert_array_equal(got[~representable], expected[~representable] * np.inf)
    _assert_close(got[representable], expected[representable], VALUE_TOL[dtype], err_msg=name)


# jit everywhere; eager (op by op, where float16/bfloat16 intermediates are
# rounded after every op instead of inside a fused kernel) in the 16-bit types and
# float32. float64 eager would add compile time and no case the others miss.
MODES = [
    (case, dtype, jit)
    for case in CASES
    for dtype in DTYPES
    for jit in (True, False)
    if jit or (jnp.dtype(dtype) != jnp.dtype(jnp.float64) and not case[1])
]


@pytest.mark.parametrize(
    "case,dtype,jit",
    MODES,
    ids=[f"{_case_id(c)}-{_dtype_id(d)}-{'jit' if j else 'eager'}" for c, d, j in MODES],
)
def test_values_and_autodiff_match_references(case, dtype, jit):
    """On a dense grid with the kinks, ±20, ±100, ±1e4 and (float16, bfloat16)
    ±finfo.max: values match the NumPy reference; jax.jvp, jax.vjp and jax.grad
    match the closed-form dfdx (and dfdparams); all are finite; dtypes are kept.
    One compilation per (function, dtype, mode)."""
    name, overrides = case
    rec, params = RECORDS[name], _params(*case)
    tol = GRAD_TOL[dtype]
    maybe_jit = jax.jit if jit else (lambda f: f)
    if rec.elementwise:
        x = jnp.asarray(in_domain(name, grid(dtype)))
        static = {k: v for k, v in params.items() if k not in rec.dfdparams}
        # float32 parameters, as a Flax module stores them (cast to x's dtype inside).
        pvals = {p: jnp.asarray(params[p], jnp.float32) for p in rec.dfdparams}
        value, autodiff, jvp_p, closed, closed_p = maybe_jit(_elementwise_transforms(rec, static))(
            x, pvals
        )
        # the reference sees the parameters as the float32 values actually passed
        as_passed = {k: _as_param(np.float32(v)) if k in pvals else v for k, v in params.items()}
        _check_values(name, as_passed, np.asarray(x), value, dtype)
        assert closed.dtype == jnp.dtype(dtype)
        assert np.all(np.isfinite(np.asarray(closed, np.float64)))
        for what, got in autodiff.items():
            assert got.dtype == jnp.dtype(dtype), what
            assert np.all(np.isfinite(np.asarray(got, np.float64))), what
            _assert_close(got, closed, tol, err_msg=f"{name} {what}")
        for p in rec.dfdparams:
            assert jvp_p[p].dtype == closed_p[p].dtype == jnp.dtype(dtype), p
            got, want = np.asarray(jvp_p[p], np.float64), np.asarray(closed_p[p], np.float64)
            if _is_coefficients(name, p):
                # where a partial (x^5 / Q at finfo.max) exceeds the dtype, it is inf;
                # the mean of partials of both signs is compared up to sum |partials|
                ok = np.all(np.isfinite(want), -1)
                got, scale, want = got[ok], np.abs(want[ok]).mean(-1), want[ok].mean(-1)
                assert np.all(np.abs(got - want) <= tol * (scale + 1)), (p, got, want)
            else:
                _assert_close(got, want, tol, err_msg=f"{name} d/d{p}")
            assert np.all(np.isfinite(got)), p
    else:
        x = jnp.asarray(logits(dtype))
        v = jnp.asarray(np.random.default_rng(2).normal(size=x.shape), dtype)
        y, jv, u, vjp_u, grad_u, closed = maybe_jit(_jacobian_transforms(rec, params))(x, v)
        _check_values(name, params, np.asarray(x), y, dtype)
        for got in (jv, vjp_u, grad_u, closed):
            assert got.dtype == jnp.dtype(dtype)
            assert np.all(np.isfinite(np.asarray(got, np.float64)))
        _assert_close(jv, closed, tol, err_msg=f"{name} jvp")
        _assert_close(grad_u, vjp_u, tol, err_msg=f"{name} grad vs vjp")
        # Duality <u, J v> = <J^T u, v>: the vjp against the closed-form J v.
        u64, v64 = np.asarray(u, np.float64), np.asarray(v, np.float64)
        lhs = np.sum(u64 * np.asarray(closed, np.float64))
        rhs = np.sum(np.asarray(vjp_u, np.float64) * v64)
        scale = np.sum(np.abs(u64 * np.asarray(closed, np.float64))) + 1
        assert abs(lhs - rhs) <= tol * scale, (lhs, rhs)


@pytest.mark.parametrize("dtype", DTYPES, ids=_dtype_id)
@pytest.mark.parametrize("name", PARAMETRIC)
def test_per_channel_parameter_gradients(name, dtype):
    """grad w.r.t. a (C,)-shaped parameter against x of shape (B, C) equals the
    closed form summed over the batch axis; grad w.r.t. x is elementwise."""
    rec = RECORDS[name]
    column = grid(dtype, large=False, n=49)
    x = jnp.asarray(np.stack([column] * 3, axis=1))  # (B, 3): every channel sees the whole grid
    pvals = {p: jnp.asarray(_channel_values(rec.params[p]), jnp.float32) for p in rec.dfdparams}

    @jax.jit
    def grads(x, pvals):
        grad = jax.grad(lambda x, pv: jnp.sum(rec.fn(x, **pv)), argnums=(0, 1))(x, pvals)
        closed = {p: dfdp(x, **pvals) for p, dfdp in rec.dfdparams.items()}
        return grad, rec.dfdx(x, **pvals), closed

    (grad_x, grad_p), closed_x, closed_p = grads(x, pvals)
    _assert_close(grad_x, closed_x, GRAD_TOL[dtype], err_msg=name)
    for p in rec.dfdparams:
        coefficients = np.shape(rec.params[p])  # () or (K,)
        assert grad_p[p].shape == (3, *coefficients) and grad_p[p].dtype == jnp.float32
        terms = np.asarray(closed_p[p], np.float64)
        assert terms.shape == x.shape + coefficients
        err = np.abs(np.asarray(grad_p[p], np.float64) - terms.sum(0))
        # The batch sum runs in x's dtype: its rounding error scales with sum |terms|.
        assert np.all(err <= GRAD_TOL[dtype] * (np.abs(terms).sum(0) + 1)), (p, err)


@pytest.mark.slow  # ~1 s a case; first-order checks stay in the fast tier
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_check_grads_second_order(case):
    """jax.test_util.check_grads (fwd and rev, order 2) away from kinks."""
    name, overrides = case
    rec, params = RECORDS[name], _params(*case)
    if name == "threshold":  # perturbing the default threshold 0 would make it negative
        params.update(threshold=0.5, value=0.25)
    diff = list(rec.dfdparams)
    static = {k: v for k, v in params.items() if k not in diff}

    def f(x, *pv):
        return rec.fn(x, **static, **dict(zip(diff, pv, strict=True)))

    if rec.elementwise:
        x = in_domain(name, SMOOTH_POINTS.astype(HIGHEST))
    else:
        x = (np.random.default_rng(3).normal(size=(6, 6)) * 2).astype(HIGHEST)
    args = (jnp.asarray(x), *(jnp.asarray(params[p], HIGHEST) for p in diff))
    if X64:
        check_grads(f, args, order=2, modes=("fwd", "rev"))
    else:
        # float32: a larger step than jax's default 1e-4 (rounding error ~ 1.2e-7 / eps
        # against truncation error ~ eps**2), and 1e-2 tolerance because a second-order
        # check differences vjp outputs that sum terms of size ~10 over the points:
        # 1.2e-7 * 10 / 1e-3 ~ 1e-3 per term, ~1e-2 summed.
        check_grads(f, args, order=2, modes=("fwd", "rev"), eps=1e-3, atol=1e-2, rtol=1e-2)


# ----------------------------------------------------------------------------
# Kinks: the left-derivative convention, exactly
# ----------------------------------------------------------------------------

_LEFT = np.nextafter(np.float32(1.0), np.float32(0.0))  # the float32 just below 1
KINK_CASES = [
    # (name, params, x, f'(x), {param: df/dparam at x})
    ("relu", {}, 0.0, 0.0, {}),
    ("leaky_relu", {"alpha": 0.2}, 0.0, 0.2, {"alpha": 0.0}),
    ("prelu", {"alpha": 0.3}, 0.0, 0.3, {"alpha": 0.0}),
    ("elu", {"alpha": 2.0}, 0.0, 2.0, {"alpha": 0.0}),
    ("celu", {"alpha": 2.0}, 0.0, 1.0, {"alpha": 0.0}),
    ("selu", {}, 0.0, PAPER_SELU_LAMBDA * PAPER_SELU_ALPHA, {}),
    ("parametric_selu", {"scale": 2.0, "alpha": 0.5}, 0.0, 1.0, {"scale": 0.0, "alpha": 0.0}),
    ("relu6", {}, 0.0, 0.0, {}),
    ("relu6", {}, 6.0, 1.0, {}),
    ("hard_tanh", {}, -1.0, 0.0, {}),
    ("hard_tanh", {}, 1.0, 1.0, {}),
    ("hard_sigmoid", {}, -3.0, 0.0, {}),
    ("hard_sigmoid", {}, 3.0, 1 / 6, {}),
    ("step", {}, 0.0, 0.0, {}),
    ("step", {}, 1.0, 0.0, {}),
    ("threshold", {"threshold": 1.0, "value": -2.0}, 1.0, 0.0, {"value": 1.0, "threshold": 0.0}),
    ("threshold", {"threshold": 1.0, "value": -2.0}, float(_LEFT), 0.0, {"value": 1.0}),
    ("threshold", {"threshold": 0.5, "value": -2.0}, 1.0, 1.0, {"value": 0.0}),
]


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "eager"])
@pytest.mark.parametrize(
    "name,params,x,dx,dparams", KINK_CASES, ids=[f"{c[0]}@{c[2]}" for c in KINK_CASES]
)
def test_gradient_at_kinks(name, params, x, dx, dparams, jit):
    rec = RECORDS[name]
    x = jnp.float32(x)
    maybe_jit = jax.jit if jit else (lambda f: f)
    grad_x = maybe_jit(jax.grad(lambda t: rec.fn(t, **params)))(x)
    np.testing.assert_allclose(grad_x, dx, rtol=1e-6)
    np.testing.assert_allclose(rec.dfdx(x, **params), dx, rtol=1e-6)
    for p, expected in dparams.items():
        g = maybe_jit(jax.grad(lambda a, p=p: rec.fn(x, **{**params, p: a})))(
            jnp.float32(params[p])
        )
        np.testing.assert_allclose(g, expected, rtol=1e-6, err_msg=p)
        np.testing.assert_allclose(rec.dfdparams[p](x, **params), expected, rtol=1e-6)


def test_maxout_ties_route_the_gradient_to_the_first_piece():
    x = jnp.array([2.0, 2.0, -1.0, 5.0, 3.0, 3.0], jnp.float32)
    g = jax.grad(lambda t: jnp.sum(jaxact.maxout(t, num_pieces=2)))(x)
    np.testing.assert_array_equal(g, [1, 0, 0, 1, 1, 0])
    v = jnp.arange(6, dtype=jnp.float32)
    np.testing.assert_array_equal(jaxact.get("maxout").dfdx(x, v, num_pieces=2), [0, 3, 4])


def test_step_gradient_is_exactly_zero():
    """Claim C10: a loss through the step function has gradient exactly 0."""
    x = jnp.asarray(grid(jnp.float32))
    w = jnp.float32(0.7)
    g = jax.grad(lambda w: jnp.sum((jaxact.step(w * x) - 1.0) ** 2))(w)
    assert g == 0.0


# ----------------------------------------------------------------------------
# Numerical robustness: custom_jvp vs naive autodiff
# ----------------------------------------------------------------------------


def _naive_elu(x):
    return jnp.where(x > 0, x, jnp.exp(x) - 1)


NAIVE = [
    # (label, naive formula, jaxact function, x): the naive gradient is not finite.
    ("elu via jnp.where", _naive_elu, jaxact.elu, 1e4),
    ("softplus = log(1 + e^x)", lambda x: jnp.log(1 + jnp.exp(x)), jaxact.softplus, 1e4),
    (
        "log_sigmoid = log(1/(1+e^-x))",
        lambda x: jnp.log(1 / (1 + jnp.exp(-x))),
        jaxact.log_sigmoid,
        -1e4,
    ),
    ("sigmoid = 1/(1+e^-x)", lambda x: 1 / (1 + jnp.exp(-x)), jaxact.sigmoid, -1e4),
    (
        "selu via jnp.where",
        lambda x: 1.0507 * jnp.where(x > 0, x, 1.6733 * (jnp.exp(x) - 1)),
        jaxact.selu,
        1e4,
    ),
    (
        "mish = x tanh(log(1 + e^x))",
        lambda x: x * jnp.tanh(jnp.log(1 + jnp.exp(x))),
        jaxact.mish,
        1e4,
    ),
]


@pytest.mark.parametrize("label,naive,fn,x", NAIVE, ids=[n[0] for n in NAIVE])
def test_naive_autodiff_fails_where_closed_form_does_not(label, naive, fn, x):
    x = jnp.float32(x)
    assert not np.isfinite(jax.grad(naive)(x)), label
    g = jax.grad(fn)(x)
    assert np.isfinite(g)
    assert np.isfinite(fn(x))


def test_naive_gelu_tanh_gradient_is_nan_in_float16():
    x = jnp.float16(jnp.finfo(jnp.float16).max)

    def naive(x):
        return 0.5 * x * (1 + jnp.tanh(0.7978846 * (x + 0.044715 * x**3)))

    assert not np.isfinite(jax.grad(naive)(x))
    assert jax.grad(lambda t: jaxact.gelu(t, approximate=True))(x) == 1


def test_swish_gradients_finite_when_beta_x_overflows():
    x = jnp.array([-3e38, 3e38], jnp.float32)
    beta = jnp.float32(10.0)  # beta * x = ±inf
    gx, gb = jax.vmap(jax.grad(lambda x, b: jaxact.swish(x, beta=b), argnums=(0, 1)), (0, None))(
        x, beta
    )
    np.testing.assert_array_equal(gx, [0, 1])
    np.testing.assert_array_equal(gb, [0, 0])


def test_log_softmax_finite_where_naive_log_of_softmax_is_not():
    x = jnp.array([1e4, -1e4, 0.0], jnp.float32)
    naive = jnp.log(jax.nn.softmax(x))
    assert np.isneginf(naive[1])
    np.testing.assert_allclose(jaxact.log_softmax(x), [0.0, -2e4, -1e4])
    g = jax.grad(lambda t: jaxact.log_softmax(t)[1])(x)
    np.testing.assert_allclose(g, [-1, 1, 0])


# ----------------------------------------------------------------------------
# Properties (hypothesis), on fixed shapes and cached jitted functions
# ----------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, database=None, derandomize=True)
_floats = st.floats(-1e4, 1e4, allow_nan=False, width=32)
_vectors = st.lists(_floats, min_size=12, max_size=12).map(lambda v: np.asarray(v, np.float32))
# Every activation at its defaults in one compiled function, so hypothesis
# examples never recompile; (2, 6) suits maxout (pieces of 2) and the softmaxes.
_ALL_AT_DEFAULTS = jax.jit(lambda x: {n: RECORDS[n].fn(x, **RECORDS[n].params) for n in NAMES})


@PROPERTY_SETTINGS
@given(x=_vectors)
def test_range_property(x):
    """Every output lies in the registry's output_range."""
    for name, y in _ALL_AT_DEFAULTS(x.reshape(2, 6)).items():
        lo, hi = RECORDS[name].output_range
        y = np.asarray(y, np.float64)
        if RECORDS[name].elementwise:
            y = y[into_domain(name, x).reshape(2, 6) == x.reshape(2, 6)]
        tol = 1e-6 * np.maximum(1, np.abs(y))
        assert np.all(y >= lo - tol) and np.all(y <= hi + tol), (name, x, y)


@PROPERTY_SETTINGS
@given(x=_vectors)
def test_monotonic_property(x):
    """Activations the registry calls monotonic are non-decreasing on sorted inputs."""
    out = _ALL_AT_DEFAULTS(np.sort(x).reshape(2, 6))
    for name in ELEMENTWISE:
        if RECORDS[name].monotonic:
            y = np.asarray(out[name], np.float64).ravel()
            y = y[into_domain(name, np.sort(x)) == np.sort(x)]
            # up to rounding: XLA's float32 tanh is not monotone at the ulp level near ±8
            rounding = 4 * float(jnp.finfo(jnp.float32).eps) * np.maximum(1, np.abs(y[1:]))
            assert np.all(np.diff(y) >= -rounding), (name, np.sort(x), y)


@PROPERTY_SETTINGS
@given(x=st.lists(st.floats(-30, 30, allow_nan=False, width=32), min_size=12, max_size=12))
# sigma(+-2x) round to 0.5 + ulp and 0.5 - ulp/2: their product rounded above 1/4.
@example(x=[0.0] * 11 + [8.885188407248279e-08])
def test_sigmoid_and_tanh_derivative_identities(x):
    x = jnp.asarray(x, jnp.float32)
    s, t = jaxact.sigmoid(x), jaxact.tanh(x)
    ds, dt = _DERIVATIVES(x)
    np.testing.assert_allclose(ds, s * (1 - s), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dt, 1 - t * t, rtol=1e-5, atol=1e-6)
    assert np.all(ds <= 0.25) and np.all(dt <= 1)


_DERIVATIVES = jax.jit(
    lambda x: (jax.vmap(jax.grad(jaxact.sigmoid))(x), jax.vmap(jax.grad(jaxact.tanh))(x))
)
_logit_rows = st.lists(_floats, min_size=24, max_size=24).map(
    lambda v: np.asarray(v, np.float32).reshape(3, 8)
)


@PROPERTY_SETTINGS
@given(x=_logit_rows)
def test_softmax_family_properties(x):
    s, log_s, smin = _SOFTMAX_FAMILY(x)
    s, log_s, smin = (np.asarray(a, np.float64) for a in (s, log_s, smin))
    for p in (s, smin):
        assert np.all((p >= 0) & (p <= 1))
        np.testing.assert_allclose(p.sum(-1), 1, rtol=1e-5)
    assert np.all(np.isfinite(log_s)) and np.all(log_s <= 0)
    # log_softmax = log(softmax) wherever the softmax has not underflowed.
    ok = s > 1e-30
    np.testing.assert_allclose(log_s[ok], np.log(s[ok]), rtol=1e-5, atol=1e-5)


_SOFTMAX_FAMILY = jax.jit(lambda x: (jaxact.softmax(x), jaxact.log_softmax(x), jaxact.softmin(x)))


# ----------------------------------------------------------------------------
# Transformations, dtypes, array-valued parameters
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_vmap_and_jacfwd(case):
    """vmap over rows equals the batched call; jacfwd equals diag(dfdx) (elementwise)
    or the columns J e_i of the closed form (non-elementwise)."""
    name, overrides = case
    rec, params = RECORDS[name], _params(*case)
    rows_independent = params.get("axis", -1) == -1
    x = jnp.asarray(
        into_domain(name, np.random.default_rng(4).normal(size=(6, 6)) * 3), jnp.float32
    )

    def f(t):
        return rec.fn(t, **params)

    @jax.jit
    def run(x):
        row = x[0] if rows_independent else x[:, 0]
        if rec.elementwise:
            closed = jnp.diag(rec.dfdx(row, **params))
        else:
            closed = jax.vmap(lambda e: rec.dfdx(row, e, **params), out_axes=-1)(jnp.eye(row.size))
        return f(x), jax.vmap(f)(x), jax.jacfwd(f)(row), closed

    y, y_vmap, jac, closed = run(x)
    if rows_independent:
        _assert_close(y_vmap, y, 1e-6)
    _assert_close(jac, closed, 1e-6)


@pytest.mark.parametrize("name", PARAMETRIC)
def test_vmap_over_parameter_values(name):
    """A sweep: vmap over parameter values gives the function at each value."""
    rec = RECORDS[name]
    x = jnp.asarray(grid(jnp.float32, large=False, n=25))
    values = {p: jnp.asarray(_channel_values(rec.params[p]), jnp.float32) for p in rec.dfdparams}
    swept = jax.vmap(lambda pv: rec.fn(x, **pv))(values)
    assert swept.shape == (3, x.size)
    for i in range(3):
        one = rec.fn(x, **{p: v[i] for p, v in values.items()})
        _assert_close(swept[i], one, 1e-6)


def _like(value, default):
    """``value`` as a parameter shaped like ``default`` (a coefficient array repeats it)."""
    if np.ndim(default) == 0:
        return value
    value = np.asarray(value)
    return np.full(np.shape(default), value.ravel()[0], dtype=value.dtype)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16], ids=_dtype_id)
def test_parameters_do_not_upcast_low_precision_inputs(dtype):
    """Python floats, float32 and float64 NumPy parameters are cast to x's dtype."""
    x = jnp.asarray([-1.5, 0.5], dtype)
    for value in (0.3, np.float32(0.3), np.float64(0.3), jnp.asarray([0.3, 0.2], jnp.float32)):
        for name in PARAMETRIC:
            params = {p: _like(value, RECORDS[name].params[p]) for p in RECORDS[name].dfdparams}
            assert RECORDS[name].fn(x, **params).dtype == jnp.dtype(dtype), (name, value)
    assert jaxact.gelu(x, approximate=True).dtype == jnp.dtype(dtype)


@pytest.mark.parametrize("name", NAMES)
def test_int_and_bool_inputs_are_promoted_to_default_float(name):
    rec = RECORDS[name]
    default = jnp.result_type(float)
    ints = np.arange(-6, 6, dtype=np.int32).reshape(2, 6)
    y = rec.fn(ints, **rec.params)
    assert y.dtype == default
    _assert_close(y, rec.fn(ints.astype(default), **rec.params), 0)
    assert rec.fn(ints > 0, **rec.params).dtype == default


def test_per_channel_parameters_broadcast():
    x = jnp.array([[-1.0, -1.0, 2.0], [-2.0, -2.0, 3.0]], jnp.float32)
    y = jaxact.prelu(x, alpha=jnp.array([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(y, [[-0.1, -0.2, 2.0], [-0.2, -0.4, 3.0]], rtol=1e-6)
    # a parameter with more dimensions than x broadcasts the output
    assert jaxact.elu(jnp.float32(-1.0), alpha=jnp.ones((2, 3))).shape == (2, 3)


# ----------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["abc", ["a", "b"], np.array(["x"]), object()], ids=["str", "list", "str_array", "object"]
)
@pytest.mark.parametrize("name", NAMES)
def test_non_numeric_x_raises_type_error(name, bad):
    rec = RECORDS[name]
    with pytest.raises(TypeError, match="`x`"):
        rec.fn(bad, **rec.params)
    with pytest.raises(TypeError, match="`x`"):
        if rec.elementwise:
            rec.dfdx(bad, **rec.params)
        else:
            rec.dfdx(bad, bad, **rec.params)


@pytest.mark.parametrize("name", NAMES)
def test_complex_x_raises_type_error(name):
    rec = RECORDS[name]
    with pytest.raises(TypeError, match="`x`.*complex"):
        rec.fn(jnp.ones((2, 4), jnp.complex64), **rec.params)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda x: jaxact.maxout(x, num_pieces=3), ValueError, "num_pieces"),
        (lambda x: jaxact.maxout(x, num_pieces=0), ValueError, "num_pieces"),
        (lambda x: jaxact.maxout(x, num_pieces=2.0), TypeError, "num_pieces"),
        (lambda x: jaxact.maxout(x, num_pieces=True), TypeError, "num_pieces"),
        (lambda x: jaxact.maxout(x, num_pieces=2, axis=2), ValueError, "axis"),
        (lambda x: jaxact.maxout(x[0, 0], num_pieces=1), ValueError, "`x`"),
        (lambda x: jaxact.threshold(x, threshold=-1.0, value=0.0), ValueError, "`threshold`"),
        (
            lambda x: jaxact.threshold(x, threshold=jnp.array([0.0, -0.5]), value=0.0),
            ValueError,
            "`threshold`",
        ),
        (lambda x: jaxact.threshold(x, threshold="1", value=0.0), TypeError, "`threshold`"),
        (lambda x: jaxact.threshold(x, threshold=True, value=0.0), TypeError, "`threshold`"),
        (lambda x: jaxact.threshold(x, threshold=1.0, value="v"), TypeError, "`value`"),
        (lambda x: jaxact.parametric_selu(x, scale=0.0), ValueError, "`scale`"),
        (lambda x: jaxact.parametric_selu(x, scale=jnp.array([1.0, -2.0])), ValueError, "`scale`"),
        (lambda x: jaxact.celu(x, alpha=0.0), ValueError, "`alpha`"),
        (lambda x: jaxact.elu(x, alpha=1j), TypeError, "`alpha`"),
        (lambda x: jaxact.prelu(x, alpha=jnp.ones(5)), ValueError, "`alpha`"),
        (lambda x: jaxact.gelu(x, approximate="yes"), ValueError, "approximate"),
        (lambda x: jaxact.gelu(x, approximate=1), TypeError, "approximate"),
        (lambda x: jaxact.softmax(x, axis=2), ValueError, "axis"),
        (lambda x: jaxact.softmax(x, axis=1.0), TypeError, "axis"),
        (lambda x: jaxact.get("softmax").dfdx(x, x[:, :1]), ValueError, "`v`"),
        (lambda x: jaxact.get("elu").dfdx(x, beta=1.0), TypeError, "beta"),
    ],
)
def test_bad_arguments_raise_with_the_argument_name(call, error, match):
    x = jnp.ones((3, 2), jnp.float32)
    with pytest.raises(error, match=match):
        call(x)


def test_traced_parameters_are_not_checked():
    """Constraints are checked on concrete values only; a traced scale goes through."""
    x = jnp.array([-1.0, 1.0], jnp.float32)
    y = jax.jit(lambda s: jaxact.parametric_selu(x, scale=s))(jnp.float32(-1.0))
    np.testing.assert_allclose(y, -np.asarray(jaxact.parametric_selu(x, scale=1.0)), rtol=1e-6)
    g = jax.grad(lambda t: jnp.sum(jaxact.threshold(x, threshold=t, value=0.0)))(jnp.float32(-2.0))
    assert g == 0.0


# ----------------------------------------------------------------------------
# Next to every kink, empty axes, 16-bit tails, far tails (float64 references)
# ----------------------------------------------------------------------------

_ALL_DTYPES = [jnp.float64, jnp.float32, jnp.bfloat16, jnp.float16]
# (name, params, kink, f' just below (and at) the kink, f' just above); left derivatives.
SIDES = [
    ("relu", {}, 0.0, 0.0, 1.0),
    ("leaky_relu", {"alpha": 0.25}, 0.0, 0.25, 1.0),
    ("prelu", {"alpha": 0.25}, 0.0, 0.25, 1.0),
    ("elu", {"alpha": 2.0}, 0.0, 2.0, 1.0),
    ("celu", {"alpha": 2.0}, 0.0, 1.0, 1.0),
    ("selu", {}, 0.0, PAPER_SELU_LAMBDA * PAPER_SELU_ALPHA, PAPER_SELU_LAMBDA),
    ("parametric_selu", {"scale": 2.0, "alpha": 0.5}, 0.0, 1.0, 2.0),
    ("relu6", {}, 0.0, 0.0, 1.0),
    ("relu6", {}, 6.0, 1.0, 0.0),
    ("hard_tanh", {}, -1.0, 0.0, 1.0),
    ("hard_tanh", {}, 1.0, 1.0, 0.0),
    ("hard_sigmoid", {}, -3.0, 0.0, 1 / 6),
    ("hard_sigmoid", {}, 3.0, 1 / 6, 0.0),
    ("step", {}, 0.0, 0.0, 0.0),
    ("threshold", {"threshold": 1.0, "value": -2.0}, 1.0, 0.0, 1.0),
    ("threshold", {"threshold": 0.0, "value": 0.0}, 0.0, 0.0, 1.0),
]


_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _step_ulp(x: np.ndarray, up: bool) -> np.ndarray:
    """The adjacent float of a non-zero ``x`` (of its own dtype), towards +inf if ``up``."""
    bits = x.view(_UINT[x.dtype.itemsize])
    away = up == bool(x > 0)  # away from 0 increments the magnitude's bit pattern
    return (bits + 1 if away else bits - 1).astype(bits.dtype).view(x.dtype)


def _neighbours(kink: float, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(the kink and the float just below it, the float just above it) in ``dtype``.
    Next to 0 the nearest *normal* floats: XLA on CPU reads subnormal inputs as 0."""
    dt = jnp.dtype(dtype)
    k = np.asarray([kink], dt)
    if kink == 0:
        tiny = np.asarray([jnp.finfo(dt).tiny], dt)
        return np.concatenate([k, -tiny]), tiny
    return np.concatenate([k, _step_ulp(k, up=False)]), _step_ulp(k, up=True)


def test_neighbours_are_adjacent_floats():
    for dtype in _ALL_DTYPES:
        dt = jnp.dtype(dtype)
        if dt.itemsize == 2:  # every value, sorted: neighbours are adjacent entries
            with np.errstate(invalid="ignore"):  # the NaN patterns
                every = np.arange(1 << 16, dtype=np.uint16).view(dt).astype(np.float64)
            every = np.unique(every[np.isfinite(every)])

            def adjacent(a, b, every=every):
                return np.searchsorted(every, b) - np.searchsorted(every, a) == 1

        else:

            def adjacent(a, b, dt=dt):
                return np.nextafter(np.asarray(a, dt), np.asarray(np.inf, dt)) == b

        for kink in (1.0, -1.0, 3.0, -3.0, 6.0):
            (k, lo), (hi,) = _neighbours(kink, dtype)
            assert adjacent(lo, k) and adjacent(k, hi), (dtype, kink)


@pytest.mark.parametrize("dtype", _ALL_DTYPES, ids=_dtype_id)
@pytest.mark.parametrize(
    "name,params,kink,left,right", SIDES, ids=[f"{s[0]}@{s[2]}" for s in SIDES]
)
def test_derivative_next_to_every_kink(name, params, kink, left, right, dtype):
    """dfdx and jax.grad at the kink and one float below it (left derivative) and one
    float above it (right derivative), in every dtype: the masks compare x itself
    (hard_sigmoid once compared x + 3, which rounds to 6 just above 3)."""
    if jnp.dtype(dtype) == jnp.dtype(jnp.float64) and not X64:
        pytest.skip("float64 needs jax_enable_x64")
    rec = RECORDS[name]
    at_and_below, above = _neighbours(kink, dtype)
    x = jnp.asarray(np.concatenate([at_and_below, above]))
    expected = np.asarray([left, left, right], np.float64)
    grad = jax.vmap(jax.grad(lambda t: rec.fn(t, **params)))(x)
    for got in (rec.dfdx(x, **params), grad):
        assert got.dtype == jnp.dtype(dtype)
        np.testing.assert_allclose(
            np.asarray(got, np.float64), expected, rtol=VALUE_TOL[dtype] * 8, atol=0,
            err_msg=f"{name} at {np.asarray(x, np.float64)}",
        )


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4)], ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_softmax_family_on_an_empty_axis(name, shape):
    """An empty normalised axis gives an empty result, as jax.nn does (its
    testSoftmaxEmptyArray), under jit, grad and the closed-form J v too."""
    rec = RECORDS[name]
    nn = {
        "softmax": jax.nn.softmax,
        "log_softmax": jax.nn.log_softmax,
        "softmin": lambda t: jax.nn.softmax(-t),
    }[name]
    x = jnp.zeros(shape, jnp.float32)
    want = nn(x)
    for got in (rec.fn(x), jax.jit(rec.fn)(x), rec.dfdx(x, x)):
        assert got.shape == want.shape == shape and got.dtype == want.dtype
    g = jax.grad(lambda t: jnp.sum(rec.fn(t)))(x)
    assert g.shape == shape


def _np_dsigmoid(x):
    return _np_sigmoid(x) * _np_sigmoid(-x)


def _np_sech2(x):
    return 1 / np.cosh(x) ** 2


def _np_mish_dx(x):
    sp = np.logaddexp(0, x)
    return np.tanh(sp) + x * _np_sigmoid(x) * _np_sech2(sp)


def _np_gelu_tanh_dx(x):
    c, a = np.sqrt(2 / np.pi), 0.044715
    u2 = 2 * c * (x + a * x**3)
    return _np_sigmoid(u2) + x * _np_dsigmoid(u2) * 2 * c * (1 + 3 * a * x * x)


# float64 derivatives of the functions built on the logistic (and of tanh).
DERIVATIVE = {
    "sigmoid": _np_dsigmoid,
    "softplus": _np_sigmoid,
    "log_sigmoid": lambda x: _np_sigmoid(-x),
    "silu": lambda x: _np_sigmoid(x) + x * _np_dsigmoid(x),
    "swish": lambda x: _np_sigmoid(x) + x * _np_dsigmoid(x),
    "mish": _np_mish_dx,
    "gelu": _np_gelu_tanh_dx,
    "tanh": _np_sech2,
}


def _assert_ulps(got, expected, dtype, ulps, *, err_msg="", subnormal=True):
    """Within ``ulps`` ulps where ``expected`` is a normal number of ``dtype``, and (if
    ``subnormal``) within ``ulps`` of the smallest subnormal where it is below the
    normal range (float32 computations on CPU flush their subnormal results to 0)."""
    info = jnp.finfo(jnp.dtype(dtype))
    got = np.asarray(got, np.float64)
    expected = np.asarray(expected, np.float64)
    normal = np.abs(expected) >= float(info.tiny)
    _, e = np.frexp(np.where(normal, np.abs(expected), 1.0))
    ulp = np.where(normal, np.ldexp(1.0, e - 1 - int(info.nmant)), float(info.smallest_subnormal))
    err = np.abs(got - expected) / ulp
    representable = np.abs(expected) <= float(info.max)
    if not subnormal:
        representable &= normal
    bad = representable & ~(err <= ulps)
    assert not bad.any(), (err_msg, got[bad][:5], expected[bad][:5], np.nonzero(bad)[0][:5])


def _float16_values(lo: float, hi: float) -> np.ndarray:
    x = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    x = x[np.isfinite(x)]
    return np.sort(x[(x >= lo) & (x <= hi)])


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "log_sigmoid", "silu", "swish", "mish", "gelu"])
def test_float16_tails_of_functions_built_on_the_logistic(name):
    """Every float16 in [-24, 24]: value, dfdx and jax.grad within 2 ulps of float64
    (1 smallest subnormal below the normal range). float16's exp overflows from
    11.09, so lax.logistic is 0 below -11.09; mish' had the wrong sign there."""
    rec = RECORDS[name]
    params = {"approximate": True} if name == "gelu" else {}
    x = _float16_values(-24, 24)
    value = rec.fn(jnp.asarray(x), **params)
    dfdx = rec.dfdx(jnp.asarray(x), **params)
    grad = jax.vmap(jax.grad(lambda t: rec.fn(t, **params)))(jnp.asarray(x))
    x64 = x.astype(np.float64)
    _assert_ulps(value, reference(name, x64, **_params(name, params)), jnp.float16, 2, err_msg="f")
    want = DERIVATIVE[name](x64)
    _assert_ulps(dfdx, want, jnp.float16, 2, err_msg="dfdx")
    _assert_ulps(grad, want, jnp.float16, 2, err_msg="grad")


def test_mish_derivative_has_the_right_sign_in_float16_tail():
    x = jnp.float16(-11.1)
    assert jax.grad(jaxact.mish)(x) < 0
    np.testing.assert_allclose(float(jaxact.get("mish").dfdx(x)), _np_mish_dx(-11.1015625), rtol=2e-3)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16], ids=_dtype_id)
def test_tanh_derivative_tails(dtype):
    """tanh' = sech^2 keeps relative accuracy where 1 - tanh^2 is exactly 0 (|x| >= 9 in
    float32); mish', which holds a sech^2, was exactly 1 for x in [8, 16] in float32."""
    x = np.concatenate([np.linspace(-43, -0.5, 300), np.linspace(0.5, 43, 300)]).astype(dtype)
    x64 = np.asarray(x, np.float64)
    want = _np_sech2(x64)
    _assert_ulps(jaxact.get("tanh").dfdx(jnp.asarray(x)), want, dtype, 4, err_msg="dfdx")
    grad = jax.vmap(jax.grad(jaxact.tanh))(jnp.asarray(x))
    _assert_ulps(grad, want, dtype, 4, err_msg="grad")
    if jnp.dtype(dtype) == jnp.dtype(jnp.float32):
        xm = np.linspace(8, 16, 101).astype(np.float32)
        got = jaxact.get("mish").dfdx(jnp.asarray(xm))
        assert float(got[0]) > 1  # 1 + 3.6e-6 at x = 8 (30 ulps above 1)
        _assert_ulps(got, _np_mish_dx(xm.astype(np.float64)), dtype, 4, err_msg="mish")


def _np_celu_dalpha(z):
    """e^z - 1 - z e^z (z <= 0) by its series near 0, where the difference cancels."""
    terms = sum((1 - n) / math.factorial(n) * z**n for n in range(2, 16))
    return np.where(z > -0.1, terms, np.expm1(z) - z * np.exp(z))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16], ids=_dtype_id)
def test_celu_alpha_derivative_near_zero(dtype):
    """d celu / d alpha = e^z - 1 - z e^z ~ -z^2/2 for small z = x / alpha: no cancellation
    (the difference of the two terms was exactly 0 at x = -1e-8 in float32)."""
    x = -np.geomspace(1e-3 if jnp.dtype(dtype) == jnp.dtype(jnp.float16) else 1e-8, 30, 200)
    x = x.astype(dtype)
    for alpha in (1.0, 0.5):
        got = jaxact.get("celu").dfdparams["alpha"](jnp.asarray(x), alpha=alpha)
        a = float(np.asarray(alpha, dtype))
        want = _np_celu_dalpha(np.asarray(x, np.float64) / a)
        _assert_ulps(got, want, dtype, 4, err_msg=f"alpha={alpha}")
    assert float(jaxact.get("celu").dfdparams["alpha"](jnp.float32(-1e-8))) < 0


_CELU_X64 = r"""
import math, jax, jax.numpy as jnp, numpy as np, jaxact
rec = jaxact.get("celu")
x = jnp.asarray([-99.0, -100.0, -150.0, -700.0, -1e4, -jnp.inf], jnp.float64)
d = np.asarray(rec.dfdx(x))
want = np.exp(np.asarray(x))
assert np.allclose(d, want, rtol=1e-14, atol=0), d
g = np.asarray(jax.vmap(jax.grad(jaxact.celu))(x))
assert np.allclose(g, want, rtol=1e-14, atol=0), g
z = -1e-8
got = float(rec.dfdparams["alpha"](jnp.float64(z)))
want = -z * z / 2 - z**3 / 3
assert abs(got - want) <= 4e-16 * abs(want), (got, want)
print("ok")
"""


def test_celu_float64_far_tail_and_small_alpha_derivative():
    """float64 (in a subprocess with jax_enable_x64): celu' = e^(x/alpha) keeps going to 0
    past x/alpha = -100 (a fixed floor there held it at 3.7e-44) and is 0 at -inf;
    d/d alpha at x = -1e-8 to a few ulps (it had relative error 7e-8)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "JAX_ENABLE_X64": "1", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", _CELU_X64], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_exact_gelu_far_left_tail_float32():
    """x Phi(x) is a normal float32 down to x = -13.16, where erfc(-x/sqrt 2)/2 is already
    subnormal (and flushed to 0 on CPU): jaxact's value stays within 8 ulps there."""
    from scipy.special import ndtr

    x = np.linspace(-13.3, -9, 400).astype(np.float32)
    x64 = x.astype(np.float64)
    want = x64 * ndtr(x64)
    got = jaxact.gelu(jnp.asarray(x))
    normal = want <= -float(jnp.finfo(jnp.float32).tiny)
    assert normal.sum() > 350 and np.all(np.asarray(got)[normal] < 0)
    # 8 ulps: erfc(z) / exp(-z^2) and the two exponentials of phi carry XLA's float32
    # rounding (docs/accuracy.md has the measured maximum); before, -0 (inf ulps).
    _assert_ulps(got, want, jnp.float32, 8, err_msg="gelu", subnormal=False)
    assert float(jaxact.gelu(jnp.float32(-12.96))) < -1e-37


def test_float32_stays_float32_with_x64_enabled():
    # Constants must not promote float32 inputs to float64 when JAX_ENABLE_X64 is on.
    import os
    import subprocess
    import sys

    code = """
import jax, jax.numpy as jnp, jaxact
x = jnp.linspace(-30.0, 3.0, 8, dtype=jnp.float32)
bad = []
for name in jaxact.names():
    rec = jaxact.get(name)
    if not rec.elementwise or name in ("log1mexp", "rrelu"):
        continue
    f = lambda t: rec.fn(t, **{k: v for k, v in rec.params.items() if k not in ("key", "training")})
    try:
        y, g = f(x), jax.grad(lambda t: f(t).sum())(x)
    except Exception:
        continue
    if y.dtype != jnp.float32 or g.dtype != jnp.float32:
        bad.append((name, str(y.dtype), str(g.dtype)))
print(bad)
"""
    env = {**os.environ, "JAX_ENABLE_X64": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout
