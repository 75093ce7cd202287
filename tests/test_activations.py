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
from hypothesis import given, settings
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
}


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
}


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
        x, x_smooth = grid(HIGHEST), SMOOTH_POINTS.astype(HIGHEST)
    else:
        x, x_smooth = logits(HIGHEST), logits(HIGHEST, large=False)

    def loss(f):
        w = jnp.cos(jnp.arange(x_smooth.size, dtype=HIGHEST)).reshape(x_smooth.shape)
        return lambda x, p: jnp.sum(w * f(x, **static, **p))

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
    atol = tol * np.maximum(1, np.abs(np.asarray(x, np.float64)))
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
        **{p: float(_channel_values(defaults[p])[2]) for p in rec.dfdparams},
    }
    for params in (defaults, alternate):
        if rec.elementwise:
            x = np.linspace(-5.5, 5.5, 45) + 0.0123  # no point within 1e-3 of a kink
            h = 1e-6 * np.maximum(1, np.abs(x))
            fd = _finite_difference(lambda t, pr=params: reference(name, t, **pr), x, h)
            _assert_close(
                rec.dfdx(x.astype(HIGHEST), **params), fd, tol, err_msg=f"{name} {params}"
            )
            for p, dfdp in rec.dfdparams.items():
                hp = 1e-6 * max(1.0, abs(params[p]))
                fd_p = _finite_difference(
                    lambda a, x=x, pr=params, p=p: reference(name, x, **{**pr, p: a}), params[p], hp
                )
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
        jvp_p = {
            p: jax.jvp(lambda a, p=p: f(x, {**pvals, p: a}), (a0,), (jnp.ones_like(a0),))[1]
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
    representable = np.abs(expected) <= float(jnp.finfo(dtype).max)
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
        x = jnp.asarray(grid(dtype))
        static = {k: v for k, v in params.items() if k not in rec.dfdparams}
        # float32 parameters, as a Flax module stores them (cast to x's dtype inside).
        pvals = {p: jnp.asarray(params[p], jnp.float32) for p in rec.dfdparams}
        value, autodiff, jvp_p, closed, closed_p = maybe_jit(_elementwise_transforms(rec, static))(
            x, pvals
        )
        # the reference sees the parameters as the float32 values actually passed
        as_passed = {k: float(np.float32(v)) if k in pvals else v for k, v in params.items()}
        _check_values(name, as_passed, np.asarray(x), value, dtype)
        assert closed.dtype == jnp.dtype(dtype)
        assert np.all(np.isfinite(np.asarray(closed, np.float64)))
        for what, got in autodiff.items():
            assert got.dtype == jnp.dtype(dtype), what
            assert np.all(np.isfinite(np.asarray(got, np.float64))), what
            _assert_close(got, closed, tol, err_msg=f"{name} {what}")
        for p in rec.dfdparams:
            assert jvp_p[p].dtype == closed_p[p].dtype == jnp.dtype(dtype), p
            assert np.all(np.isfinite(np.asarray(jvp_p[p], np.float64))), p
            _assert_close(jvp_p[p], closed_p[p], tol, err_msg=f"{name} d/d{p}")
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
        assert grad_p[p].shape == (3,) and grad_p[p].dtype == jnp.float32
        terms = np.asarray(closed_p[p], np.float64)
        assert terms.shape == x.shape
        err = np.abs(np.asarray(grad_p[p], np.float64) - terms.sum(0))
        # The batch sum runs in x's dtype: its rounding error scales with sum |terms|.
        assert np.all(err <= GRAD_TOL[dtype] * (np.abs(terms).sum(0) + 1)), (p, err)


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
        x = SMOOTH_POINTS.astype(HIGHEST)
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
            # up to rounding: XLA's float32 tanh is not monotone at the ulp level near ±8
            rounding = 4 * float(jnp.finfo(jnp.float32).eps) * np.maximum(1, np.abs(y[1:]))
            assert np.all(np.diff(y) >= -rounding), (name, np.sort(x), y)


@PROPERTY_SETTINGS
@given(x=st.lists(st.floats(-30, 30, allow_nan=False, width=32), min_size=12, max_size=12))
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
    x = jnp.asarray(np.random.default_rng(4).normal(size=(6, 6)) * 3, jnp.float32)

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
        one = rec.fn(x, **{p: float(v[i]) for p, v in values.items()})
        _assert_close(swept[i], one, 1e-6)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16], ids=_dtype_id)
def test_parameters_do_not_upcast_low_precision_inputs(dtype):
    """Python floats, float32 and float64 NumPy parameters are cast to x's dtype."""
    x = jnp.asarray([-1.5, 0.5], dtype)
    for value in (0.3, np.float32(0.3), np.float64(0.3), jnp.asarray([0.3, 0.2], jnp.float32)):
        for name in PARAMETRIC:
            params = {p: value for p in RECORDS[name].dfdparams}
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


@pytest.mark.parametrize("bad", ["abc", ["a", "b"], np.array(["x"]), object()], ids=repr)
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
        (lambda x: jaxact.gelu(x, approximate="yes"), TypeError, "approximate"),
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
