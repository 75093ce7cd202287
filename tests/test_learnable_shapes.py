"""Tests of the learnable-shape activations (rational, apl, blend), the rational fit
and their Flax modules.

The registry-wide checks in ``tests/test_activations.py`` also run on these
entries at their defaults; here: non-default and per-channel coefficient sets,
grad/jvp/vjp against the closed forms for ``x`` and every coefficient (float32
here, float64 in a subprocess with ``jax_enable_x64``), the convention where the
rational's denominator sum vanishes, extremes of every dtype, properties
(hypothesis), the fit, and training of the Linen and NNX modules.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxact
from jaxact import linen
from jaxact import nnx as jnnx
from jaxact._src import learnable_shapes as ls

GRAD_TOL = 2e-3  # float32 gradients, as jax's tests


def _close(got, want, tol, msg=""):
    np.testing.assert_allclose(
        np.asarray(got, np.float64), np.asarray(want, np.float64), rtol=tol, atol=tol, err_msg=msg
    )


# ----------------------------------------------------------------------------
# Independent float64 NumPy references
# ----------------------------------------------------------------------------


def np_rational(x, a, b):
    x = np.asarray(x, np.float64)[..., None]
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    p = np.sum(a * x ** np.arange(a.shape[-1]), -1)
    s = np.sum(b * x ** np.arange(1, b.shape[-1] + 1), -1)
    return p / (1 + np.abs(s))


def np_rational_partials(x, a, b):
    """(f', df/da, df/db) from the formula, with sign(0) = 0."""
    x = np.asarray(x, np.float64)[..., None]
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    j, k = np.arange(a.shape[-1]), np.arange(1, b.shape[-1] + 1)
    p, dp = np.sum(a * x**j, -1), np.sum(a[..., 1:] * j[1:] * x ** (j[1:] - 1), -1)
    s, ds = np.sum(b * x**k, -1), np.sum(b * k * x ** (k - 1), -1)
    q, sg = 1 + np.abs(s), np.sign(s)
    f = p / q
    dfdx = (dp - f * sg * ds) / q
    return dfdx, x**j / q[..., None], -(f * sg / q)[..., None] * x**k


# Coefficient sets: the default, a gelu fit, one whose denominator has real roots
# away from 0 (s = x (x - 1)(x + 2) / 2), and an odd-degree pair (3, 3).
RATIONAL_SETS = {
    "default": (ls.RATIONAL_NUMERATOR, ls.RATIONAL_DENOMINATOR),
    "gelu": tuple(np.asarray(c) for c in jaxact.rational_init("gelu")),
    "roots": ((0.1, 1.0, -0.5, 0.2, 0.3, 0.05), (-1.0, 0.5, 0.5, 0.0)),
    "odd": ((0.0, 1.0, 0.0, 0.3), (0.2, 0.0, 0.4)),
}
APL_SETS = {
    "default": (ls.APL_SLOPES, ls.APL_HINGES),
    "three": ((-0.3, 0.5, -0.2), (0.25, -1.0, 2.0)),
}
BLEND_SETS = {
    "plain": (("identity", "relu", "tanh"), (0.3, -0.7, 1.2), False),
    "softmax": (("silu", "gelu", "elu", "sigmoid"), (0.1, 0.5, -1.0, 2.0), True),
}
# Off every kink (0, 1, -2, the hinges) by more than the finite-difference step.
X_SMOOTH = np.linspace(-5.3, 5.3, 53) + 0.0137


# ----------------------------------------------------------------------------
# Values and closed forms against NumPy
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", sorted(RATIONAL_SETS))
def test_rational_values_and_closed_forms_match_numpy(which):
    a, b = RATIONAL_SETS[which]
    x = np.concatenate([X_SMOOTH, [0.0, 1.0, -2.0, 1e3, -1e3, 1e4, -1e4]])
    xf = jnp.asarray(x, jnp.float32)
    rec = jaxact.get("rational")
    # the reference sees the float32 coefficients that are actually used
    a32, b32 = np.float32(a).astype(np.float64), np.float32(b).astype(np.float64)
    want = np_rational(np.float32(x), a32, b32)
    _close(jaxact.rational(xf, numerator=a, denominator=b), want, 1e-5, which)
    dfdx, dfda, dfdb = np_rational_partials(np.float32(x), a32, b32)
    scale = np.maximum(1, np.abs(want))[..., None]
    _close(rec.dfdx(xf, numerator=a, denominator=b), dfdx, GRAD_TOL, "dfdx")
    got_a = np.asarray(rec.dfdparams["numerator"](xf, numerator=a, denominator=b), np.float64)
    got_b = np.asarray(rec.dfdparams["denominator"](xf, numerator=a, denominator=b), np.float64)
    assert got_a.shape == x.shape + (len(a),) and got_b.shape == x.shape + (len(b),)
    # x^5 / Q grows like x: relative tolerance against the size of f
    np.testing.assert_allclose(got_a / scale, dfda / scale, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_b / scale, dfdb / scale, rtol=1e-5, atol=1e-5)


def test_apl_and_blend_values_match_numpy():
    x = np.linspace(-4, 4, 81)
    a, b = APL_SETS["three"]
    want = np.maximum(x, 0) + sum(ai * np.maximum(bi - x, 0) for ai, bi in zip(a, b, strict=True))
    _close(jaxact.apl(jnp.asarray(x, jnp.float32), slopes=a, hinges=b), want, 1e-6)
    names, w, _ = BLEND_SETS["softmax"]
    pi = np.exp(w) / np.sum(np.exp(w))
    xf = jnp.asarray(x, jnp.float32)
    parts = [np.asarray(jaxact.get(n).fn(xf), np.float64) for n in names]
    want = sum(p * f for p, f in zip(pi, parts, strict=True))
    _close(jaxact.blend(xf, activations=names, weights=w, normalize=True), want, 1e-6)


def test_rational_reduces_to_known_functions():
    x = jnp.linspace(-5, 5, 41, dtype=jnp.float32)
    # a = (0, 1), b = (1,): softsign; a = (0, 1, 1), b = (0, 1): x (1 + x) / (1 + x^2)
    _close(jaxact.rational(x, numerator=[0.0, 1.0], denominator=[1.0]), jaxact.softsign(x), 1e-6)
    xn = np.asarray(x, np.float64)
    _close(
        jaxact.rational(x, numerator=[0.0, 1.0, 1.0], denominator=[0.0, 1.0]),
        xn * (1 + xn) / (1 + xn**2),
        1e-6,
    )


# ----------------------------------------------------------------------------
# Autodiff (grad / jvp / vjp) against the closed forms, per layer and per channel
# ----------------------------------------------------------------------------

CASES = (
    [("rational", ("numerator", "denominator"), k, v) for k, v in sorted(RATIONAL_SETS.items())]
    + [("apl", ("slopes", "hinges"), k, v) for k, v in sorted(APL_SETS.items())]
    + [("blend", ("weights",), k, v) for k, v in sorted(BLEND_SETS.items())]
)


def _split(name, values):
    """(static keywords, coefficient arrays) of a case."""
    if name == "blend":
        names, w, normalize = values
        return {"activations": names, "normalize": normalize}, {"weights": np.asarray(w)}
    keys = {"rational": ("numerator", "denominator"), "apl": ("slopes", "hinges")}[name]
    return {}, {k: np.asarray(v, np.float64) for k, v in zip(keys, values, strict=True)}


def _autodiff_vs_closed(name, static, coeffs, x, dtype):
    rec = jaxact.get(name)
    coeffs = {k: jnp.asarray(v, dtype) for k, v in coeffs.items()}
    x = jnp.asarray(x, dtype)
    rng = np.random.default_rng(0)
    u = jnp.asarray(rng.normal(size=x.shape), dtype)
    directions = {k: jnp.asarray(rng.normal(size=v.shape), dtype) for k, v in coeffs.items()}

    @jax.jit
    def run(x, coeffs):
        def f(x, c):
            return rec.fn(x, **static, **c)

        out = {
            "grad_x": jax.grad(lambda t: jnp.sum(u * f(t, coeffs)))(x),
            "jvp_x": jax.jvp(lambda t: f(t, coeffs), (x,), (jnp.ones_like(x),))[1],
            "vjp_x": jax.vjp(lambda t: f(t, coeffs), x)[1](u)[0],
            "grad_c": jax.grad(lambda c: jnp.sum(u * f(x, c)))(coeffs),
            "vjp_c": jax.vjp(lambda c: f(x, c), coeffs)[1](u)[0],
            "jvp_c": jax.jvp(lambda c: f(x, c), (coeffs,), (directions,))[1],
            "dfdx": rec.dfdx(x, **static, **coeffs),
            "dfdp": {k: rec.dfdparams[k](x, **static, **coeffs) for k in coeffs},
        }
        return out

    return run(x, coeffs), u, directions


@pytest.mark.parametrize("channelwise", [False, True], ids=["shared", "channelwise"])
@pytest.mark.parametrize("name,params,which,values", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_autodiff_matches_closed_forms_float32(name, params, which, values, channelwise):
    """jax.grad/jvp/vjp w.r.t. x and every coefficient equal the closed forms
    (coefficients shared, or one set per channel against x of shape (B, 3))."""
    static, coeffs = _split(name, values)
    x = np.stack([X_SMOOTH, X_SMOOTH[::-1] * 0.7, X_SMOOTH * 0.3], 1)  # (B, 3)
    if channelwise:  # three different coefficient sets, one per channel
        coeffs = {k: np.stack([v, 0.5 * v + 0.1, 1.5 * v]) for k, v in coeffs.items()}
    out, u, directions = _autodiff_vs_closed(name, static, coeffs, x, jnp.float32)
    u = np.asarray(u, np.float64)
    dfdx = np.asarray(out["dfdx"], np.float64)
    _close(out["grad_x"], u * dfdx, GRAD_TOL, "grad x")
    _close(out["vjp_x"], u * dfdx, GRAD_TOL, "vjp x")
    _close(out["jvp_x"], dfdx, GRAD_TOL, "jvp x")
    for k in params:
        partial = np.asarray(out["dfdp"][k], np.float64)  # (B, 3, K)
        assert partial.shape == x.shape + (coeffs[k].shape[-1],)
        want = np.einsum("bc,bck->ck" if channelwise else "bc,bck->k", u, partial)
        scale = np.einsum("bc,bck->ck" if channelwise else "bc,bck->k", np.abs(u), np.abs(partial))
        for what in ("grad_c", "vjp_c"):
            got = np.asarray(out[what][k], np.float64)
            assert got.shape == coeffs[k].shape, (what, k)
            assert np.all(np.abs(got - want) <= GRAD_TOL * (scale + 1)), (what, k, got, want)
    subscripts = "bck,ck->bc" if channelwise else "bck,k->bc"
    jvp_want = sum(
        np.einsum(subscripts, np.asarray(out["dfdp"][k], np.float64), np.asarray(directions[k]))
        for k in params
    )
    _close(out["jvp_c"], jvp_want, GRAD_TOL, "jvp coefficients")


_X64_SCRIPT = textwrap.dedent(
    r"""
    import jax, jax.numpy as jnp, numpy as np
    import jaxact
    from jaxact._src import learnable_shapes as ls
    assert jax.config.jax_enable_x64
    x = np.linspace(-5.3, 5.3, 53) + 0.0137
    sets = {
        "rational": [dict(numerator=ls.RATIONAL_NUMERATOR, denominator=ls.RATIONAL_DENOMINATOR),
                     dict(numerator=(0.1, 1.0, -0.5, 0.2, 0.3, 0.05),
                          denominator=(-1.0, 0.5, 0.5, 0.0))],
        "apl": [dict(slopes=(-0.3, 0.5, -0.2), hinges=(0.25, -1.0, 2.0))],
        "blend": [dict(activations=("silu", "gelu", "elu"), weights=(0.1, 0.5, -1.0),
                       normalize=True),
                  dict(activations=("identity", "relu", "tanh"), weights=(0.3, -0.7, 1.2))],
    }
    worst = 0.0
    for name, cases in sets.items():
        rec = jaxact.get(name)
        for params in cases:
            coeffs = {k: jnp.asarray(v, jnp.float64) for k, v in params.items()
                      if k in rec.dfdparams}
            static = {k: v for k, v in params.items() if k not in rec.dfdparams}
            xs = jnp.asarray(x, jnp.float64)
            f = lambda t, c: rec.fn(t, **static, **c)
            g = jax.grad(lambda t: jnp.sum(f(t, coeffs)))(xs)
            jv = jax.jvp(lambda t: f(t, coeffs), (xs,), (jnp.ones_like(xs),))[1]
            vj = jax.vjp(lambda t: f(t, coeffs), xs)[1](jnp.ones_like(xs))[0]
            d = rec.dfdx(xs, **params)
            assert d.dtype == jnp.float64
            for got in (g, jv, vj):
                worst = max(worst, float(jnp.max(jnp.abs(got - d) / (1 + jnp.abs(d)))))
            # closed forms against central differences of the function itself (float64)
            h = 1e-6
            fd = (f(xs + h, coeffs) - f(xs - h, coeffs)) / (2 * h)
            worst = max(worst, 1e-4 * float(jnp.max(jnp.abs(fd - d) / (1 + jnp.abs(d)))))
            for k, c in coeffs.items():
                closed = rec.dfdparams[k](xs, **params)
                gc = jax.grad(lambda c2: jnp.sum(f(xs, {**coeffs, k: c2})))(c)
                worst = max(worst, float(jnp.max(jnp.abs(gc - closed.sum(0))
                                                 / (1 + jnp.abs(closed).sum(0)))))
                for j in range(c.shape[-1]):
                    e = jnp.zeros_like(c).at[j].set(h)
                    fdj = (f(xs, {**coeffs, k: c + e}) - f(xs, {**coeffs, k: c - e})) / (2 * h)
                    err = jnp.max(jnp.abs(fdj - closed[:, j]) / (1 + jnp.abs(closed[:, j])))
                    worst = max(worst, 1e-4 * float(err))
    print(worst)
    """
)


def test_autodiff_matches_closed_forms_float64():
    """float64 (a subprocess with jax_enable_x64): autodiff equals the closed forms to
    1e-12, and the closed forms equal central differences to 1e-8 (reported x 1e-4)."""
    env = {**os.environ, "JAX_ENABLE_X64": "1", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", _X64_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(done.stdout.strip().splitlines()[-1]) < 1e-12


# ----------------------------------------------------------------------------
# Conventions at s(x) = 0 and at the hinges
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "eager"])
def test_rational_derivative_where_denominator_sum_vanishes(jit):
    """sign(0) = 0: at x = 0, f'(0) = a_1 and df/db = 0; at the root x = 1 of
    s(x) = -x + x^2, f'(1) = P'(1) / Q(1) (the |s| term does not contribute)."""
    a, b = (0.3, 0.7, -0.2, 0.1), (-1.0, 1.0)
    maybe_jit = jax.jit if jit else (lambda f: f)
    rec = jaxact.get("rational")

    def grads(x):
        return jax.grad(
            lambda t, a, b: jaxact.rational(t, numerator=a, denominator=b), argnums=(0, 1, 2)
        )(x, jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32))

    gx, ga, gb = maybe_jit(grads)(jnp.float32(0.0))
    assert gx == np.float32(0.7)
    np.testing.assert_array_equal(ga, [1, 0, 0, 0])
    np.testing.assert_array_equal(gb, [0, 0])
    gx, ga, gb = maybe_jit(grads)(jnp.float32(1.0))
    np.testing.assert_allclose(gx, 0.7 - 0.4 + 0.3, rtol=1e-6)  # P'(1), Q(1) = 1
    np.testing.assert_allclose(ga, [1, 1, 1, 1], rtol=1e-6)
    np.testing.assert_array_equal(gb, [0, 0])
    np.testing.assert_allclose(rec.dfdx(jnp.float32(1.0), numerator=a, denominator=b), 0.6)


def test_apl_left_derivative_at_kinks():
    a, b = (0.5, -0.3), (1.0, 0.0)
    g = jax.grad(lambda x: jaxact.apl(x, slopes=a, hinges=b))
    # x = 0: no ReLU part (relu'(0) = 0); both hinges active (x <= b_s)
    np.testing.assert_allclose(g(jnp.float32(0.0)), -(0.5 - 0.3), rtol=1e-6)
    # x = 1 = b_1: the first hinge counts (left derivative), the ReLU part too
    np.testing.assert_allclose(g(jnp.float32(1.0)), 1 - 0.5, rtol=1e-6)
    gb = jax.grad(lambda h: jaxact.apl(jnp.float32(1.0), slopes=a, hinges=h))(
        jnp.asarray(b, jnp.float32)
    )
    np.testing.assert_array_equal(gb, [0, 0])  # left derivative in b_1 at b_1 = x: 0


# ----------------------------------------------------------------------------
# Extremes of every dtype
# ----------------------------------------------------------------------------


def _extremes(dtype):
    if jnp.dtype(dtype) == jnp.dtype(jnp.float32):
        return [1e4, -1e4, 1e30, -1e30]
    big = float(jnp.finfo(dtype).max)
    return [big, -big, 1e4, -1e4]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16, jnp.bfloat16], ids=str)
@pytest.mark.parametrize("name", ["rational", "apl", "blend"])
def test_values_and_x_gradients_finite_at_extremes(name, dtype):
    """Values and df/dx finite (and of the right size) at ±1e4 and beyond in float32 and
    at ±finfo.max in float16/bfloat16, for the defaults and for a per-channel set."""
    rec = jaxact.get(name)
    x = jnp.asarray(_extremes(dtype), dtype)
    y = rec.fn(x)
    g = jax.vmap(jax.grad(lambda t: rec.fn(t)))(x)
    assert y.dtype == g.dtype == jnp.dtype(dtype)
    assert np.all(np.isfinite(np.asarray(y, np.float64)))
    assert np.all(np.isfinite(np.asarray(g, np.float64)))
    _close(g, rec.dfdx(x), 1e-2)
    if name == "rational":  # f ~ (a_5 / |b_4|) x far out; f' -> a_5 / |b_4|
        slope = ls.RATIONAL_NUMERATOR[5] / abs(ls.RATIONAL_DENOMINATOR[3])
        _close(np.asarray(y, np.float64) / np.asarray(x, np.float64), slope, 1e-2)
        _close(g, slope, 1e-2)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16], ids=str)
def test_rational_coefficient_gradients_finite_at_extremes(dtype):
    """With float32 coefficients (as modules store them), df/da and df/db are finite at
    ±1e4 (float32) and ±finfo.max (float16), where x^5 overflows float16."""
    x = jnp.asarray(_extremes(dtype)[:2] if dtype == jnp.float16 else [1e4, -1e4], dtype)
    a = jnp.asarray(ls.RATIONAL_NUMERATOR, jnp.float32)
    b = jnp.asarray(ls.RATIONAL_DENOMINATOR, jnp.float32)
    ga, gb = jax.grad(
        lambda a, b: jnp.sum(jaxact.rational(x, numerator=a, denominator=b).astype(jnp.float32)),
        argnums=(0, 1),
    )(a, b)
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))
    xs = np.asarray(x, np.float64)
    _, dfda, dfdb = np_rational_partials(xs, a, b)
    np.testing.assert_allclose(ga, dfda.sum(0), rtol=1e-3)
    np.testing.assert_allclose(gb, dfdb.sum(0), rtol=1e-3)


def test_naive_rational_gradient_is_not_finite_where_jaxact_is():
    """P(x) / (1 + |s(x)|) written directly overflows x^5 in float16 at finfo.max."""
    a, b = ls.RATIONAL_NUMERATOR, ls.RATIONAL_DENOMINATOR
    x = jnp.float16(jnp.finfo(jnp.float16).max)

    def naive(x):
        p = sum(jnp.float16(c) * x**j for j, c in enumerate(a))
        s = sum(jnp.float16(c) * x ** (k + 1) for k, c in enumerate(b))
        return p / (1 + jnp.abs(s))

    assert not np.isfinite(jax.grad(naive)(x))
    g = jax.grad(jaxact.rational)(x)
    assert np.isfinite(g) and abs(float(g) - a[5] / b[3]) < 1e-2


# ----------------------------------------------------------------------------
# Properties (hypothesis)
# ----------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, database=None, derandomize=True)
# No subnormals: XLA on CPU flushes them to zero (sign(s) would differ from NumPy's).
_coef = st.floats(-2, 2, allow_nan=False, allow_subnormal=False, width=32)
_xs = st.lists(
    st.floats(-50, 50, allow_nan=False, allow_subnormal=False, width=32), min_size=8, max_size=8
)


@jax.jit
def _rational_and_grads(x, a, b):
    f = jaxact.rational(x, numerator=a, denominator=b)
    gx = jax.vmap(jax.grad(lambda t: jaxact.rational(t, numerator=a, denominator=b)))(x)
    return f, gx, jaxact.rational(x, numerator=2 * a, denominator=b)


@PROPERTY_SETTINGS
@given(x=_xs, a=st.lists(_coef, min_size=6, max_size=6), b=st.lists(_coef, min_size=4, max_size=4))
def test_rational_properties(x, a, b):
    """f Q = P; f is linear in the numerator; f' equals the formula (sign(0) = 0);
    f(x) / x tends to a_5 / |b_4| (for |x| large and b_4 not small)."""
    x = np.asarray(x, np.float32)
    a32, b32 = np.asarray(a, np.float32), np.asarray(b, np.float32)
    f, gx, f2 = (np.asarray(v, np.float64) for v in _rational_and_grads(x, a32, b32))
    want = np_rational(x, a32, b32)
    size = np.maximum(1, np.abs(want))
    assert np.all(np.abs(f - want) <= 1e-4 * size), (f, want)
    assert np.all(np.abs(f2 - 2 * f) <= 1e-5 * size)
    dfdx = np_rational_partials(x, a32, b32)[0]
    assert np.all(np.abs(gx - dfdx) <= 1e-3 * np.maximum(1, np.abs(dfdx))), (gx, dfdx)


@jax.jit
def _apl_and_grads(x, a, b):
    f = jaxact.apl(x, slopes=a, hinges=b)
    gx = jax.vmap(jax.grad(lambda t: jaxact.apl(t, slopes=a, hinges=b)))(x)
    return f, gx


@PROPERTY_SETTINGS
@given(x=_xs, a=st.lists(_coef, min_size=3, max_size=3), b=st.lists(_coef, min_size=3, max_size=3))
def test_apl_properties(x, a, b):
    """f - relu = sum of hinges; f' is 1[x > 0] - sum a_s 1[x <= b_s]; f is continuous
    piecewise linear: its slope at x equals the secant on a small step to the left."""
    x = np.asarray(x, np.float32)
    a32, b32 = np.asarray(a, np.float32), np.asarray(b, np.float32)
    f, gx = (np.asarray(v, np.float64) for v in _apl_and_grads(x, a32, b32))
    xs = x.astype(np.float64)[:, None]
    hinges = np.sum(a32 * np.maximum(b32 - xs, 0), -1)
    np.testing.assert_allclose(f - np.maximum(x, 0), hinges, rtol=1e-5, atol=1e-4)
    slope = (x > 0).astype(np.float64) - np.sum(np.where(xs <= b32, a32, 0), -1)
    np.testing.assert_allclose(gx, slope, rtol=1e-6, atol=1e-6)


@jax.jit
def _blend_pair(x, w1, w2):
    def g(w, normalize=False):
        return jaxact.blend(
            x, activations=("identity", "relu", "tanh"), weights=w, normalize=normalize
        )

    return g(w1), g(w2), g(w1 + w2), g(w1, True)


@PROPERTY_SETTINGS
@given(
    x=_xs,
    w1=st.lists(_coef, min_size=3, max_size=3),
    w2=st.lists(_coef, min_size=3, max_size=3),
)
def test_blend_properties(x, w1, w2):
    """Linear in the weights; with normalize=True a convex combination (between the
    smallest and the largest f_i)."""
    x = np.asarray(x, np.float32)
    w1, w2 = np.asarray(w1, np.float32), np.asarray(w2, np.float32)
    f1, f2, f12, fn = (np.asarray(v, np.float64) for v in _blend_pair(x, w1, w2))
    np.testing.assert_allclose(f12, f1 + f2, rtol=1e-5, atol=1e-4)
    parts = np.stack([x, np.maximum(x, 0), np.tanh(x)]).astype(np.float64)
    tol = 1e-5 * np.maximum(1, np.abs(parts).max(0))
    assert np.all(fn >= parts.min(0) - tol) and np.all(fn <= parts.max(0) + tol)


# ----------------------------------------------------------------------------
# The fit
# ----------------------------------------------------------------------------

# Max error on [-3, 3] that the (5, 4) fit must reach, per target.
FIT_BOUNDS = {"leaky_relu": 0.05, "relu": 0.05, "gelu": 2e-3, "swish": 1e-5, "tanh": 1e-5}


@pytest.mark.parametrize("target", sorted(FIT_BOUNDS))
def test_fit_reproduces_target(target):
    fit = jaxact.fit_rational(target)
    assert fit.numerator.shape == (6,) and fit.denominator.shape == (4,)
    assert fit.max_error < FIT_BOUNDS[target] and fit.rms_error <= fit.max_error
    # the errors are those of jaxact.rational with the fitted coefficients
    x = np.linspace(-3, 3, 2001)
    got = np.asarray(
        jaxact.rational(jnp.asarray(x), numerator=fit.numerator, denominator=fit.denominator),
        np.float64,
    )
    ref = np.asarray(jaxact.get(target).fn(jnp.asarray(x)), np.float64)
    assert abs(np.max(np.abs(got - ref)) - fit.max_error) < 1e-5
    # a least-squares minimum: no small coordinate step lowers the squared error
    theta = np.concatenate([fit.numerator, fit.denominator])
    base = np.sum((np_rational(x, fit.numerator, fit.denominator) - ref) ** 2)
    for i in range(theta.size):
        for step in (1e-4, -1e-4):
            t = theta.copy()
            t[i] += step * max(1.0, abs(t[i]))
            cost = np.sum((np_rational(x, t[:6], t[6:]) - ref) ** 2)
            assert cost >= base * (1 - 1e-6), (i, step, cost, base)


def test_fit_recovers_an_exact_rational():
    """A target that is itself a safe rational of degrees (2, 2) is recovered exactly."""

    def target(x):
        return (0.2 + x - 0.5 * x**2) / (1 + np.abs(0.3 * x + 0.4 * x**2))

    fit = jaxact.fit_rational(target, degrees=(2, 2), interval=(-3, 3))
    np.testing.assert_allclose(fit.numerator, [0.2, 1.0, -0.5], atol=1e-7)
    np.testing.assert_allclose(fit.denominator, [0.3, 0.4], atol=1e-7)
    assert fit.max_error < 1e-9


def test_default_coefficients_are_the_leaky_relu_fit():
    fit = jaxact.fit_rational("leaky_relu")
    np.testing.assert_allclose(fit.numerator, ls.RATIONAL_NUMERATOR, rtol=1e-5, atol=1e-6)
    # b_1 and b_3 (below 2e-8 in the fit) are 0 in the default
    np.testing.assert_allclose(fit.denominator, ls.RATIONAL_DENOMINATOR, rtol=1e-5, atol=1e-6)
    assert ls.RATIONAL_DENOMINATOR[0] == ls.RATIONAL_DENOMINATOR[2] == 0.0
    x = np.linspace(-3, 3, 2001)
    err = np_rational(x, ls.RATIONAL_NUMERATOR, ls.RATIONAL_DENOMINATOR) - np.where(
        x > 0, x, 0.01 * x
    )
    assert abs(np.max(np.abs(err)) - fit.max_error) < 1e-6


def test_fit_errors_and_init():
    fit = jaxact.fit_rational("tanh", degrees=(3, 2), interval=(-2, 2))
    mx, rms = jaxact.fit_errors(fit.numerator, fit.denominator, "tanh", (-2, 2))
    assert mx == pytest.approx(fit.max_error, abs=1e-12)
    assert rms == pytest.approx(fit.rms_error, abs=1e-12)
    mx10, _ = jaxact.fit_errors(fit.numerator, fit.denominator, "tanh", (-10, 10))
    assert mx10 > mx
    num, den = jaxact.rational_init("tanh", (3, 2), (-2, 2))
    np.testing.assert_allclose(num, fit.numerator)
    np.testing.assert_allclose(den, fit.denominator)
    # a parametrised target
    leaky = jaxact.fit_rational("leaky_relu", params={"alpha": 0.2})
    assert leaky.max_error < 0.05 and abs(leaky.numerator[1] - 0.6) < 0.01  # slope (1 + 0.2) / 2


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: jaxact.fit_rational("nope"), KeyError, "nope"),
        (lambda: jaxact.fit_rational("softmax"), ValueError, "elementwise"),
        (lambda: jaxact.fit_rational(3), TypeError, "target"),
        (lambda: jaxact.fit_rational("relu", degrees=(0, 2)), ValueError, "degrees"),
        (lambda: jaxact.fit_rational("relu", degrees=5), TypeError, "degrees"),
        (lambda: jaxact.fit_rational("relu", interval=(1, -1)), ValueError, "interval"),
        (lambda: jaxact.fit_rational("relu", num_points=3), ValueError, "num_points"),
        (lambda: jaxact.fit_rational(lambda x: x / 0), ValueError, "finite"),
    ],
)
def test_fit_bad_arguments(call, error, match):
    with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(error, match=match):
        call()


# ----------------------------------------------------------------------------
# Bad input to the functions
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda x: jaxact.rational(x, numerator=1.0), ValueError, "`numerator`"),
        (lambda x: jaxact.rational(x, denominator=[]), ValueError, "`denominator`"),
        (lambda x: jaxact.rational(x, numerator=np.ones((4, 6))), ValueError, "broadcast"),
        (lambda x: jaxact.rational(x, numerator="a"), TypeError, "`numerator`"),
        (lambda x: jaxact.apl(x, slopes=[1.0, 2.0]), ValueError, "same number"),
        (lambda x: jaxact.blend(x, activations="relu"), TypeError, "`activations`"),
        (lambda x: jaxact.blend(x, activations=()), ValueError, "`activations`"),
        (lambda x: jaxact.blend(x, activations=("relu", "nope")), ValueError, "nope"),
        (lambda x: jaxact.blend(x, activations=("relu", "softmax")), ValueError, "elementwise"),
        (lambda x: jaxact.blend(x, activations=("relu", "blend")), ValueError, "blend"),
        (lambda x: jaxact.blend(x, weights=[1.0, 2.0]), ValueError, "`weights`"),
        (lambda x: jaxact.blend(x, normalize=1), TypeError, "normalize"),
        (lambda x: jaxact.get("rational").dfdx(x, alpha=1.0), TypeError, "alpha"),
    ],
)
def test_bad_arguments_raise_with_the_argument_name(call, error, match):
    x = jnp.ones((3, 2), jnp.float32)
    with pytest.raises(error, match=match):
        call(x)


def test_blend_of_parametric_and_learnable_shapes():
    """Any elementwise entry can be blended, rational and apl included (at their defaults)."""
    x = jnp.linspace(-3, 3, 13, dtype=jnp.float32)
    got = jaxact.blend(x, activations=("rational", "apl"), weights=[0.5, 0.5])
    _close(got, 0.5 * jaxact.rational(x) + 0.5 * jaxact.apl(x), 1e-6)


# ----------------------------------------------------------------------------
# Flax modules: shapes, initial values, training (loss falls), errors
# ----------------------------------------------------------------------------

_TASK_X = np.linspace(-3, 3, 64, dtype=np.float32)[:, None]
_TASK_Y = np.sin(2 * _TASK_X) + 0.3 * np.abs(_TASK_X)


def _linen_model(act):
    import flax.linen as nn

    class Net(nn.Module):
        act: nn.Module

        @nn.compact
        def __call__(self, x):
            x = nn.Dense(16, kernel_init=nn.initializers.normal(1.0))(x)
            x = self.act(x)
            return nn.Dense(1)(x)

    return Net(act)


LINEN_ACTS = {
    "rational": lambda: linen.Rational(channelwise=True),
    "apl": lambda: linen.APL(2),
    "blend": lambda: linen.Blend(("identity", "relu", "tanh", "silu"), normalize=True),
}


@pytest.mark.parametrize("name", sorted(LINEN_ACTS))
def test_linen_modules_train(name):
    """A Dense-act-Dense net fits a 1-D curve: the loss falls and the activation's
    coefficients move (their gradients are non-zero)."""
    model = _linen_model(LINEN_ACTS[name]())
    params = model.init(jax.random.key(0), _TASK_X)["params"]
    tx = optax.adam(1e-2)
    opt = tx.init(params)

    def loss(p):
        return jnp.mean((model.apply({"params": p}, _TASK_X) - _TASK_Y) ** 2)

    @jax.jit
    def steps(p, o):
        def body(carry, _):
            p, o = carry
            value, g = jax.value_and_grad(loss)(p)
            updates, o = tx.update(g, o, p)
            return (optax.apply_updates(p, updates), o), value

        return jax.lax.scan(body, (p, o), None, length=300)

    (trained, _), losses = steps(params, opt)
    assert np.all(np.isfinite(losses))
    assert float(losses[-1]) < 0.5 * float(losses[0]), (losses[0], losses[-1])
    act = [k for k in params if not k.startswith("Dense")][0]
    for leaf, leaf0 in zip(
        jax.tree.leaves(trained[act]), jax.tree.leaves(params[act]), strict=True
    ):
        assert float(jnp.max(jnp.abs(leaf - leaf0))) > 1e-4


NNX_ACTS = {
    "rational": lambda: jnnx.Rational("gelu", channelwise=True, num_features=16),
    "apl": lambda: jnnx.APL(2, channelwise=True, num_features=16),
    "blend": lambda: jnnx.Blend(("identity", "relu", "tanh")),
}


@pytest.mark.parametrize("name", sorted(NNX_ACTS))
def test_nnx_modules_train(name):
    class Net(nnx.Module):
        def __init__(self, rngs):
            self.l1 = nnx.Linear(1, 16, kernel_init=nnx.initializers.normal(1.0), rngs=rngs)
            self.act = NNX_ACTS[name]()
            self.l2 = nnx.Linear(16, 1, rngs=rngs)

        def __call__(self, x):
            return self.l2(self.act(self.l1(x)))

    model = Net(nnx.Rngs(0))
    before = jax.tree.map(jnp.array, nnx.state(model.act, nnx.Param))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer):
        def loss(m):
            return jnp.mean((m(_TASK_X) - _TASK_Y) ** 2)

        value, grads = nnx.value_and_grad(loss)(model)
        optimizer.update(model, grads)
        return value

    losses = [float(step(model, optimizer)) for _ in range(300)]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
    after = nnx.state(model.act, nnx.Param)
    moved = jax.tree.map(lambda u, v: float(jnp.max(jnp.abs(u - v))), after, before)
    assert min(jax.tree.leaves(moved)) > 1e-4


def test_modules_agree_between_linen_and_nnx():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 4)) * 2, jnp.float32)
    pairs = [
        (linen.Rational("swish", channelwise=True), jnnx.Rational("swish", channelwise=True,
                                                                   num_features=4)),
        (linen.APL(3, hinges_init=(0.5, -0.5, 1.0)), jnnx.APL(3, hinges_init=(0.5, -0.5, 1.0))),
        (linen.Blend(("relu", "elu"), normalize=True), jnnx.Blend(("relu", "elu"), normalize=True)),
    ]
    for lin, nx in pairs:
        v = lin.init(jax.random.key(0), x)
        _close(lin.apply(v, x), nx(x), 1e-6, type(nx).__name__)


def test_module_initial_values():
    x = jnp.ones((2, 3), jnp.float32)
    v = linen.Rational().init(jax.random.key(0), x)["params"]
    fit = jaxact.fit_rational("leaky_relu")
    np.testing.assert_allclose(v["numerator"], fit.numerator, rtol=1e-6)
    v = linen.Rational(numerator_init=[[0.0, 1.0]] * 3, denominator_init=[1.0],
                       channelwise=True).init(jax.random.key(0), x)["params"]
    assert v["numerator"].shape == (3, 2) and v["denominator"].shape == (3, 1)
    _close(linen.Rational(numerator_init=[0.0, 1.0], denominator_init=[1.0]).apply(
        {"params": {"numerator": jnp.array([0.0, 1.0]), "denominator": jnp.array([1.0])}}, x),
        jaxact.softsign(x), 1e-6)
    assert jnnx.Blend(normalize=True).weights.shape == (3,)
    np.testing.assert_array_equal(jnnx.Blend(normalize=True).weights[...], 0.0)
    np.testing.assert_array_equal(jnnx.APL(2).slopes[...], [-0.25, 0.0])
    # the default APL is PReLU(0.25)
    _close(jnnx.APL()(x * -2), jaxact.prelu(x * -2, alpha=0.25), 0)


def test_sweep_over_initial_coefficient_sets_is_one_vmap():
    """Initial coefficient sets are arrays: a sweep over init targets vmaps over them."""
    x = jnp.linspace(-3, 3, 7, dtype=jnp.float32)[:, None]
    layer = linen.Rational()
    targets = ("leaky_relu", "gelu", "tanh")
    nums = jnp.asarray([jaxact.rational_init(t)[0] for t in targets], jnp.float32)
    dens = jnp.asarray([jaxact.rational_init(t)[1] for t in targets], jnp.float32)
    out = jax.vmap(
        lambda a, b: layer.apply({"params": {"numerator": a, "denominator": b}}, x)
    )(nums, dens)
    assert out.shape == (3, 7, 1)
    for i, t in enumerate(targets):
        _close(out[i], jaxact.get(t).fn(x), 0.05, t)
    replaced = linen.replace_activation_params(
        layer.init(jax.random.key(0), x)["params"], numerator=nums[1], denominator=dens[1]
    )
    _close(layer.apply({"params": replaced}, x), out[1], 1e-6)


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: linen.Rational(init_target="softmax"), "init_target"),
        (lambda: linen.Rational(init_target="nope"), "init_target"),
        (lambda: linen.Rational(degrees=(0, 2)), "degrees"),
        (lambda: linen.Rational(numerator_init=[1.0, 2.0]), "both"),
        (lambda: linen.Rational(numerator_init=[[[1.0]]], denominator_init=[1.0]), "shape"),
        (lambda: linen.APL(0), "num_hinges"),
        (lambda: linen.APL(2, slopes_init=[1.0]), "num_hinges"),
        (lambda: linen.Blend(("relu", "nope")), "activations"),
        (lambda: linen.Blend(("relu",), weights_init=[1.0, 2.0]), "weights_init"),
        (lambda: jnnx.Rational(channelwise=True), "num_features"),
        (lambda: jnnx.APL(2, num_features=3), "num_features"),
        (lambda: jnnx.Blend(("relu", "softmax")), "activations"),
        (lambda: jnnx.Rational(numerator_init=np.ones((2, 6)), denominator_init=np.ones(4),
                               channelwise=True, num_features=3), "numerator_init"),
    ],
)
def test_module_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_channelwise_nnx_checks_the_feature_axis():
    layer = jnnx.Rational(channelwise=True, num_features=4)
    with pytest.raises(ValueError, match="num_features=4"):
        layer(jnp.ones((2, 3)))


# ----------------------------------------------------------------------------
# experiments.learnable_shapes: claim C16's verdict rule, the generated tables
# ----------------------------------------------------------------------------

from experiments import learnable_shapes as study  # noqa: E402

_BASE_TEST = {
    "relu": [0.800, 0.810, 0.790, 0.805, 0.795],
    "swish": [0.820, 0.830, 0.815, 0.825, 0.822],
}
_BASE_VAL = {"relu": [0.80] * 5, "swish": [0.82] * 5}


def _rational(test, val=None):
    return {"rational-leaky_relu": test}, {"rational-leaky_relu": val or [0.9] * 5}


@pytest.mark.parametrize(
    "rational_test,verdict,beats",
    [
        # clearly better than swish (the validation-best baseline): supported, beats
        ([0.850, 0.861, 0.844, 0.856, 0.852], "supported", True),
        # equal to swish within a fraction of the margin: supported (matches)
        ([0.821, 0.829, 0.816, 0.824, 0.823], "supported", False),
        # 3 points worse on every seed: not supported
        ([0.790, 0.800, 0.785, 0.795, 0.792], "not supported", False),
        # 1 point worse on average with seed noise: the interval contains -margin
        ([0.800, 0.835, 0.790, 0.830, 0.797], "inconclusive", False),
    ],
)
def test_c16_verdict_rule(rational_test, verdict, beats):
    rt, rv = _rational(rational_test)
    v = study.c16_verdict(rt, rv, _BASE_TEST, _BASE_VAL)
    assert (v.verdict, v.beats) == (verdict, beats)
    assert v.baseline == "swish" and v.rational == "rational-leaky_relu"
    diff = np.asarray(rational_test) - np.asarray(_BASE_TEST["swish"])
    assert v.difference.mean == pytest.approx(diff.mean())
    assert v.difference.n == 5


def test_c16_chooses_on_validation_not_test():
    """The baseline with the best test mean (relu here) is not chosen when swish has the
    better validation mean; likewise among rational variants."""
    base_test = {"relu": [0.9] * 5, "swish": [0.8, 0.81, 0.79, 0.8, 0.8]}
    rat_test = {"init leaky_relu": [0.95] * 5, "init gelu": [0.801, 0.811, 0.791, 0.8, 0.8]}
    rat_val = {"init leaky_relu": [0.5] * 5, "init gelu": [0.9] * 5}
    v = study.c16_verdict(rat_test, rat_val, base_test, _BASE_VAL)
    assert (v.baseline, v.rational) == ("swish", "init gelu")
    assert v.verdict == "supported" and not v.beats
    # a larger margin turns a small loss into a match
    worse = {"init gelu": [0.79, 0.80, 0.78, 0.79, 0.79]}
    assert study.c16_verdict(worse, {"init gelu": [0.9] * 5}, base_test, _BASE_VAL).verdict == (
        "not supported"
    )
    assert (
        study.c16_verdict(worse, {"init gelu": [0.9] * 5}, base_test, _BASE_VAL, margin=0.02)
        .verdict
        == "supported"
    )


@pytest.mark.parametrize(
    "args,match",
    [
        (({"r": [0.8] * 4}, {"r": [0.8] * 4}, _BASE_TEST, _BASE_VAL), ">= 5"),
        (({"r": [1.2] * 5}, {"r": [0.8] * 5}, _BASE_TEST, _BASE_VAL), r"\[0, 1\]"),
        (({"r": [0.8] * 5}, {"q": [0.8] * 5}, _BASE_TEST, _BASE_VAL), "same activations"),
        (({"r": [0.8] * 6}, {"r": [0.8] * 6}, _BASE_TEST, _BASE_VAL), "same seeds"),
        (({}, {}, _BASE_TEST, _BASE_VAL), "per-seed"),
    ],
)
def test_c16_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        study.c16_verdict(*args)


def test_fit_and_speed_tables(tmp_path):
    rows = study.fit_rows(targets=("tanh",), degrees=(3, 2))
    table = study.fit_table(rows)
    assert table.count("`tanh`") == 2 and "max error [−10, 10]" in table
    assert rows[0]["max(-3.0, 3.0)"] < rows[0]["max(-10.0, 10.0)"]
    result = study.speed(size_log2=8, repeats=2)
    assert set(result) >= {"rational fwd", "gelu fwd", "rational fwd+bwd", "gelu fwd+bwd"}
    assert all(t["min"] <= t["median"] for t in result.values())
    text = study.speed_table(result, 8, 2)
    assert "rational / gelu" in text and text.count("| fwd") == 2
    assert "| grad(sum) |" in text
    doc = tmp_path / "doc.md"
    doc.write_text("a\n<!-- fit-table:start -->\nold\n<!-- fit-table:end -->\nb\n")
    doc.write_text(study.replace_block(doc.read_text(), "fit-table", "new"))
    assert doc.read_text() == "a\n<!-- fit-table:start -->\nnew\n<!-- fit-table:end -->\nb\n"
    with pytest.raises(ValueError, match="speed"):
        study.replace_block(doc.read_text(), "speed", "x")
