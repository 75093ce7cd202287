"""Tests of jaxact.search_space and the CoreUnit modules."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxact import linen
from jaxact import nnx as jnnx
from jaxact import search_space as ss

EPS = 1e-6


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


_erf = np.vectorize(math.erf, otypes=[np.float64])

# Independent float64 references: the textbook formulas with the documented guards.
UNARY_REF = {
    "x": lambda x, b: x,
    "neg": lambda x, b: -x,
    "abs": lambda x, b: np.abs(x),
    "square": lambda x, b: x**2,
    "cube": lambda x, b: x**3,
    "sqrt": lambda x, b: np.sqrt(np.abs(x) + EPS),
    "scale": lambda x, b: b * x,
    "shift": lambda x, b: x + b,
    "log": lambda x, b: np.log(np.abs(x) + EPS),
    "exp": lambda x, b: np.exp(x),
    "sin": lambda x, b: np.sin(x),
    "cos": lambda x, b: np.cos(x),
    "sinh": lambda x, b: np.sinh(x),
    "cosh": lambda x, b: np.cosh(x),
    "tanh": lambda x, b: np.tanh(x),
    "asinh": lambda x, b: np.arcsinh(x),
    "atan": lambda x, b: np.arctan(x),
    "sinc": lambda x, b: np.where(
        x == 0, 1.0, np.sin(np.pi * x) / (np.pi * np.where(x == 0, 1, x))
    ),
    "relu": lambda x, b: np.maximum(x, 0),
    "neg_relu": lambda x, b: np.minimum(x, 0),
    "sigmoid": lambda x, b: _expit(x),
    "softplus": lambda x, b: np.log1p(np.exp(x)),
    "gauss": lambda x, b: np.exp(-(x**2)),
    "erf": lambda x, b: _erf(x),
    "const": lambda x, b: np.full_like(x, b),
}
BINARY_REF = {
    "add": lambda a, c, b: a + c,
    "mul": lambda a, c, b: a * c,
    "sub": lambda a, c, b: a - c,
    "div": lambda a, c, b: a / (c + EPS),
    "max": lambda a, c, b: np.maximum(a, c),
    "min": lambda a, c, b: np.minimum(a, c),
    "sigmoid_mul": lambda a, c, b: _expit(a) * c,
    "gauss_diff": lambda a, c, b: np.exp(-b * (a - c) ** 2),
    "laplace_diff": lambda a, c, b: np.exp(-b * np.abs(a - c)),
    "blend": lambda a, c, b: b * a + (1 - b) * c,
}
ALL_CODES = np.array(
    list(itertools.product(range(ss.NUM_UNARY), range(ss.NUM_UNARY), range(ss.NUM_BINARY))),
    np.int32,
)
# Inputs inside every guard: |x| <= 5, no x2 + eps near 0 on this grid.
X = np.linspace(-5.0, 5.0, 101).astype(np.float32) + np.float32(0.013)


def _assert_close32(actual, expected):
    actual = np.asarray(actual, np.float64)
    tol = 1e-6 + 2e-5 * np.abs(expected)
    assert np.all(np.abs(actual - expected) <= tol), np.max(np.abs(actual - expected) - tol)


def test_op_lists_match_the_space():
    assert [op.name for op in ss.UNARY] == list(UNARY_REF)
    assert [op.name for op in ss.BINARY] == list(BINARY_REF)
    assert ss.NUM_CANDIDATES == 25 * 25 * 10


@pytest.mark.parametrize("code", range(ss.NUM_UNARY), ids=[op.name for op in ss.UNARY])
def test_unary_against_numpy(code):
    beta = 0.7
    got = ss.unary(code, X, beta)
    assert got.dtype == jnp.float32
    _assert_close32(got, UNARY_REF[ss.UNARY[code].name](X.astype(np.float64), beta))


@pytest.mark.parametrize("code", range(ss.NUM_BINARY), ids=[op.name for op in ss.BINARY])
def test_binary_against_numpy(code):
    rng = np.random.default_rng(code)
    a = rng.uniform(-3, 3, 64).astype(np.float32)
    c = rng.uniform(0.5, 3, 64).astype(np.float32) * rng.choice([-1, 1], 64)
    beta = 0.6
    got = ss.binary(code, a, c, beta)
    _assert_close32(got, BINARY_REF[ss.BINARY[code].name](a.astype(np.float64), c, beta))


def test_core_unit_selects_every_candidate():
    x = X[::5]
    beta = np.array([0.7, 1.3, 0.45])
    u1 = np.stack([f(x.astype(np.float64), beta[0]) for f in UNARY_REF.values()])
    u2 = np.stack([f(x.astype(np.float64), beta[1]) for f in UNARY_REF.values()])
    expected = np.stack(
        [list(BINARY_REF.values())[b](u1[i], u2[j], beta[2]) for i, j, b in ALL_CODES]
    )
    # The reference division has no guard: leave out the points where x2 + eps ~ 0.
    ok = np.all(np.isfinite(expected), axis=1) & (
        (ALL_CODES[:, 2] != 3) | np.all(np.abs(u2[ALL_CODES[:, 1]] + EPS) > 1e-2, axis=1)
    )
    f = jax.jit(jax.vmap(ss.core_unit, in_axes=(None, 0, None)))
    got = np.asarray(f(x, ALL_CODES[ok].astype(np.float32), beta.astype(np.float32)), np.float64)
    exp = expected[ok]
    tol = 1e-5 + 1e-4 * np.abs(exp)
    bad = np.abs(got - exp) > tol
    assert not bad.any(), [ss.formula(c) for c in ALL_CODES[ok][bad.any(1)]][:5]


def test_switch_and_numpy_twins_agree_with_core_unit():
    x = X[::4]
    beta = jnp.array([0.7, 1.3, 0.45])
    codes = ALL_CODES[::7]
    a = jax.vmap(ss.core_unit, in_axes=(None, 0, None))(x, codes, beta)
    b = jax.vmap(ss.core_unit_switch, in_axes=(None, 0, None))(x, codes, beta)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    c = np.stack([ss.core_unit_numpy(x, k, np.asarray(beta)) for k in codes])
    np.testing.assert_allclose(np.asarray(a), c, rtol=1e-4, atol=1e-5)


def test_float_codes_are_rounded_and_clipped():
    x = jnp.linspace(-2, 2, 5)
    ref = ss.core_unit(x, jnp.array([6, 0, 6]))
    np.testing.assert_array_equal(ss.core_unit(x, jnp.array([6.2, -0.3, 5.8])), ref)
    top = ss.core_unit(x, jnp.array([24, 24, 9]))
    np.testing.assert_array_equal(ss.core_unit(x, jnp.array([99.0, 40.0, 30.0])), top)


def test_core_unit_dtypes_and_scalar_beta():
    for dtype in (jnp.float16, jnp.bfloat16, jnp.float32):
        y = ss.core_unit(jnp.ones(4, dtype), jnp.array([6, 0, 6]), 1.0)
        assert y.dtype == dtype
    assert ss.core_unit(jnp.arange(3), jnp.array([0, 0, 0])).dtype == jnp.float32


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"jaxact.search_space.core_unit: codes must have shape"):
        ss.core_unit(jnp.ones(3), jnp.array([1, 2]))
    with pytest.raises(ValueError, match=r"jaxact.search_space.core_unit: beta"):
        ss.core_unit(jnp.ones(3), jnp.array([1, 2, 3]), jnp.ones(2))
    with pytest.raises(ValueError, match=r"jaxact.search_space.formula: codes must satisfy"):
        ss.formula((25, 0, 0))
    with pytest.raises(ValueError, match=r"jaxact.search_space.formula: codes must be integers"):
        ss.formula((1.5, 0, 0))
    with pytest.raises(ValueError, match=r"jaxact.search_space.parse_formula: text must be"):
        ss.parse_formula("relu(x)")
    with pytest.raises(TypeError, match=r"jaxact.search_space.unary: code must be an int"):
        ss.unary(1.0, jnp.ones(2))
    with pytest.raises(ValueError, match=r"jaxact.search_space.binary: code must be in"):
        ss.binary(10, jnp.ones(2), jnp.ones(2))


# --------------------------------------------------------------------------- #
# Formula text
# --------------------------------------------------------------------------- #


def test_formula_round_trip_for_every_candidate():
    texts = [ss.formula(c) for c in ALL_CODES]
    assert len(set(texts)) == len(texts)
    for c, t in zip(ALL_CODES, texts, strict=True):
        assert ss.parse_formula(t) == tuple(int(v) for v in c)
        assert ss.parse_formula(" ".join(t)) == tuple(int(v) for v in c)  # whitespace-free


def test_formula_texts_of_known_functions():
    assert ss.formula((6, 0, 6)) == "sigmoid(beta1*x) * x"
    assert ss.formula((0, 20, 4)) == "max(x, sigmoid(x))"
    assert ss.formula((11, 0, 2)) == "cos(x) - x"
    assert ss.formula((20, 0, 1)) == "(sigmoid(x)) * x"
    assert ss.formula(np.array([0.0, 1.0, 2.0])) == "x - (-x)"


# --------------------------------------------------------------------------- #
# Guards
# --------------------------------------------------------------------------- #

_finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
_extremes = np.array(
    [
        0.0,
        -0.0,
        1e-45,
        -1e-45,
        1e-38,
        1.0,
        -1.0,
        88.0,
        89.0,
        -104.0,
        1e4,
        -1e4,
        1e5,
        1e19,
        -1e19,
        3.4028235e38,
        -3.4028235e38,
    ],
    np.float32,
)
_all_candidates = jax.jit(jax.vmap(ss.core_unit, in_axes=(None, 0, None)))
_all_candidates_by_beta = jax.jit(jax.vmap(ss.core_unit, in_axes=(None, 0, 0)))


def test_every_candidate_is_finite_at_float32_extremes():
    for beta in (1.0, -1.0, 0.0, 3.4e38, -3.4e38):
        y = _all_candidates(_extremes, ALL_CODES, jnp.float32(beta))
        assert bool(jnp.all(jnp.isfinite(y))), beta


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_every_candidate_is_finite_in_low_precision(dtype):
    big = float(jnp.finfo(dtype).max)
    x = jnp.array([0.0, 1.0, -3.0, 11.0, 300.0, big, -big], dtype)
    y = _all_candidates(x, ALL_CODES, jnp.asarray(1.0, dtype))
    assert y.dtype == dtype and bool(jnp.all(jnp.isfinite(y)))


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(np.float32, 8, elements=_finite_f32),
    beta=hnp.arrays(np.float32, 3, elements=_finite_f32),
)
def test_no_nan_or_inf_for_finite_float32_input(x, beta):
    y = _all_candidates(x, ALL_CODES, beta)
    assert bool(jnp.all(jnp.isfinite(y)))


def test_gradients_are_finite_for_every_candidate():
    x = jnp.array([-50.0, -3.0, -1e-3, 0.0, 1e-3, 0.5, 2.0, 50.0], jnp.float32)

    def loss(beta, codes, x):
        return jnp.sum(ss.core_unit(x, codes, beta))

    grads = jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 2)), in_axes=(None, 0, None)))
    gb, gx = grads(jnp.array([0.7, 1.3, 0.45]), ALL_CODES.astype(np.float32), x)
    assert bool(jnp.all(jnp.isfinite(gb))) and bool(jnp.all(jnp.isfinite(gx)))
    gb, gx = grads(jnp.ones(3), ALL_CODES.astype(np.float32), _extremes)
    assert bool(jnp.all(jnp.isfinite(gb))) and bool(jnp.all(jnp.isfinite(gx)))


def test_no_gradient_reaches_codes():
    g = jax.grad(lambda c: jnp.sum(ss.core_unit(jnp.linspace(-1, 1, 5), c)))(
        jnp.array([6.0, 0.0, 6.0])
    )
    np.testing.assert_array_equal(g, np.zeros(3))


def test_beta_gradient_matches_closed_form_for_swish():
    x = jnp.linspace(-3, 3, 13)
    b = 1.3
    g = jax.grad(lambda beta: jnp.sum(ss.core_unit(x, jnp.array([6, 0, 6]), beta)))(
        jnp.array([b, 1.0, 1.0])
    )
    s = _expit(b * np.asarray(x, np.float64))
    expected = np.sum(np.asarray(x, np.float64) ** 2 * s * (1 - s))
    np.testing.assert_allclose(g, [expected, 0.0, 0.0], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- #
# Enumeration and deduplication
# --------------------------------------------------------------------------- #


def _swapped_signature(codes):
    """Signature with beta1 and beta2 exchanged, from the NumPy twin."""
    rows = []
    for c in codes:
        parts = [
            ss.core_unit_numpy(ss.DEDUP_GRID, c, (b2, b1, b3)) for b1, b2, b3 in ss.DEDUP_BETAS
        ]
        rows.append(np.concatenate(parts))
    return np.array(rows)


def _equal(a, b):
    return np.all(np.abs(a - b) <= 1e-12 + 1e-9 * np.maximum(np.abs(a), np.abs(b)), axis=-1)


def test_enumeration_order_and_size():
    full = ss.enumerate_candidates(dedupe=False)
    np.testing.assert_array_equal(full, ALL_CODES)
    kept = ss.enumerate_candidates()
    assert 1000 < len(kept) < len(full)
    index = (kept[:, 0] * 25 + kept[:, 1]) * 10 + kept[:, 2]
    assert np.all(np.diff(index) > 0)  # a subset, in code order


def test_dropped_candidates_equal_an_earlier_kept_one():
    kept = {tuple(c) for c in ss.enumerate_candidates().tolist()}
    rng = np.random.default_rng(0)
    dropped = [c for c in ALL_CODES.tolist() if tuple(c) not in kept]
    for c in rng.permutation(np.array(dropped))[:300]:
        rep = ss.canonical_codes(c)
        assert rep in kept and rep < tuple(c)
        sig = ss.signatures([c])[0]
        rep_sig = ss.signatures([rep])[0]
        assert _equal(rep_sig, sig) or _equal(rep_sig, _swapped_signature([c])[0])


def test_kept_candidates_are_pairwise_different():
    kept = ss.enumerate_candidates()
    sig = ss.signatures(kept)
    swapped = _swapped_signature(kept[::13])
    for i, j in enumerate(range(0, len(kept), 13)):
        same = _equal(sig, sig[j]) | _equal(sig, swapped[i])
        same[j] = False
        assert not same.any(), (ss.formula(kept[j]), [ss.formula(c) for c in kept[same]])


def test_documented_dedup_cases():
    p = ss.parse_formula
    # Symmetric op: x + max(x, 0) and max(x, 0) + x are one candidate.
    assert ss.canonical_codes(p("max(x, 0) + x")) == p("x + max(x, 0)")
    # beta1 and beta2 are exchangeable: beta1*x + x is x + beta2*x.
    assert ss.canonical_codes(p("x + (beta2*x)")) == ss.canonical_codes(p("(beta1*x) + x"))
    # (beta1 - beta2) * x is not the zero function x - x.
    assert ss.canonical_codes(p("(beta1*x) - (beta2*x)")) != ss.canonical_codes(p("x - x"))
    # Swish is kept as written.
    assert ss.canonical_codes(p("sigmoid(beta1*x) * x")) == p("sigmoid(beta1*x) * x")
    # Plain identities are merged: max(x, x) = x * 1 ... = min(x, x).
    assert ss.canonical_codes(p("min(x, x)")) == ss.canonical_codes(p("max(x, x)"))


# --------------------------------------------------------------------------- #
# Flax modules
# --------------------------------------------------------------------------- #


def test_linen_core_unit_applies_and_trains_beta():
    swish = ss.parse_formula("sigmoid(beta1*x) * x")
    unit = linen.CoreUnit(swish, beta_init=0.5)
    x = jnp.linspace(-3, 3, 7)
    v = unit.init(jax.random.key(0), x)
    assert v["params"]["codes"].dtype == jnp.float32
    np.testing.assert_array_equal(v["params"]["codes"], swish)
    np.testing.assert_array_equal(v["params"]["beta"], [0.5] * 3)
    np.testing.assert_allclose(unit.apply(v, x), ss.core_unit(x, jnp.array(swish), 0.5))
    g = jax.grad(lambda p: jnp.sum(unit.apply({"params": p}, x) ** 2))(v["params"])
    assert bool(jnp.all(jnp.isfinite(g["beta"]))) and float(jnp.abs(g["beta"][0])) > 0
    np.testing.assert_array_equal(g["codes"], np.zeros(3))


def test_linen_codes_leaf_selects_the_candidate():
    unit = linen.CoreUnit()
    x = jnp.linspace(-2, 2, 5)
    v = unit.init(jax.random.key(0), x)
    p = dict(v["params"], codes=jnp.array([11.0, 0.0, 2.0]))
    np.testing.assert_allclose(unit.apply({"params": p}, x), np.cos(x) - x, rtol=1e-6)


def test_nnx_core_unit_applies_and_trains_beta():
    swish = ss.parse_formula("sigmoid(beta1*x) * x")
    unit = jnnx.CoreUnit(swish, beta_init=0.5)
    x = jnp.linspace(-3, 3, 7)
    np.testing.assert_allclose(unit(x), ss.core_unit(x, jnp.array(swish), 0.5))
    assert isinstance(unit.codes, jnnx.Codes) and isinstance(unit.codes, nnx.Param)
    trainable = nnx.All(nnx.Param, nnx.Not(jnnx.Codes))
    assert set(nnx.state(unit, trainable).keys()) == {"beta"}

    def loss(m):
        return jnp.sum(m(x) ** 2)

    grads = nnx.grad(loss)(unit)
    assert bool(jnp.all(jnp.isfinite(grads["beta"][...])))
    assert float(jnp.abs(grads["beta"][...][0])) > 0


def test_module_arguments_are_checked():
    with pytest.raises(ValueError, match=r"jaxact.linen.CoreUnit: codes must satisfy"):
        linen.CoreUnit((0, 0, 10))
    with pytest.raises(ValueError, match=r"jaxact.nnx.CoreUnit: codes must be three"):
        jnnx.CoreUnit((0, 0))
    with pytest.raises(ValueError, match=r"jaxact.nnx.CoreUnit: beta_init must be finite"):
        jnnx.CoreUnit(beta_init=float("nan"))
