"""What the registry-parametrised tests in test_activations.py do not cover for
glu, hard_silu, squareplus, sparse_plus, sparse_sigmoid, log1mexp, hardshrink,
softshrink, tanhshrink and rrelu: kinks, the log1mexp domain, rrelu's random
slopes in training (as torch.nn.RReLU), and their argument errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact

LOWER, UPPER = 1 / 8, 1 / 3

KINK_CASES = [
    # (name, params, x, f'(x), {param: df/dparam at x}): left derivatives; at a jump,
    # the derivative of the piece that holds the point.
    ("hard_silu", {}, -3.0, 0.0, {}),
    ("hard_silu", {}, 3.0, 1.5, {}),
    ("sparse_sigmoid", {}, -1.0, 0.0, {}),
    ("sparse_sigmoid", {}, 1.0, 0.5, {}),
    ("sparse_plus", {}, -1.0, 0.0, {}),
    ("sparse_plus", {}, 1.0, 1.0, {}),
    ("hardshrink", {"lambd": 0.5}, 0.5, 0.0, {"lambd": 0.0}),
    ("hardshrink", {"lambd": 0.5}, -0.5, 0.0, {"lambd": 0.0}),
    ("softshrink", {"lambd": 0.5}, 0.5, 0.0, {"lambd": 0.0}),
    ("softshrink", {"lambd": 0.5}, -0.5, 1.0, {"lambd": 0.0}),
    ("rrelu", {"lower": LOWER, "upper": UPPER}, 0.0, (LOWER + UPPER) / 2, {"lower": 0.0}),
    ("tanhshrink", {}, 0.0, 0.0, {}),
]


@pytest.mark.parametrize(
    "name,params,x,dx,dparams", KINK_CASES, ids=[f"{c[0]}@{c[2]}" for c in KINK_CASES]
)
def test_gradient_at_kinks(name, params, x, dx, dparams):
    rec = jaxact.get(name)
    x = jnp.float32(x)
    np.testing.assert_allclose(jax.grad(lambda t: rec.fn(t, **params))(x), dx, rtol=1e-6)
    np.testing.assert_allclose(rec.dfdx(x, **params), dx, rtol=1e-6)
    for p, expected in dparams.items():
        g = jax.grad(lambda a, p=p: rec.fn(x, **{**params, p: a}))(jnp.float32(params[p]))
        np.testing.assert_allclose(g, expected, rtol=1e-6, err_msg=p)
        np.testing.assert_allclose(rec.dfdparams[p](x, **params), expected, rtol=1e-6)


def test_hard_swish_is_hard_silu():
    assert jaxact.hard_swish is jaxact.hard_silu


def test_glu_splits_the_axis_and_checks_its_size():
    x = jnp.arange(12.0).reshape(3, 4)
    assert jaxact.glu(x).shape == (3, 2)
    np.testing.assert_allclose(jaxact.glu(x), x[:, :2] * jax.nn.sigmoid(x[:, 2:]), rtol=1e-6)
    with pytest.raises(ValueError, match="jaxact.glu: the size 3 of `x` along `axis` 0"):
        jaxact.glu(x, axis=0)
    with pytest.raises(ValueError, match="jaxact.glu: `x` must have at least one dimension"):
        jaxact.glu(jnp.float32(1.0))


# ----------------------------------------------------------------------------
# log1mexp: domain x > 0
# ----------------------------------------------------------------------------


def test_log1mexp_domain_and_its_ends():
    x = jnp.array([-1.0, 0.0, 1e-30, 1e-6, np.log(2), 50.0, 1e4], jnp.float32)
    y = np.asarray(jaxact.log1mexp(x), np.float64)
    assert np.isnan(y[0]) and y[1] == -np.inf
    x64 = np.asarray(x[2:], np.float64)  # float64 Maechler: exact to rounding here
    with np.errstate(divide="ignore"):
        exact = np.where(x64 < np.log(2), np.log(-np.expm1(-x64)), np.log1p(-np.exp(-x64)))
    np.testing.assert_allclose(y[2:], exact, rtol=1e-6, atol=1e-30)
    dfdx = np.asarray(jaxact.get("log1mexp").dfdx(x), np.float64)
    assert np.isnan(dfdx[0]) and dfdx[1] == np.inf
    # the derivative keeps its relative accuracy near 0 (1/x) and in the tail (e^-x)
    with np.errstate(over="ignore"):  # expm1(1e4) = inf: the derivative underflows to 0
        want = 1 / np.expm1(x64)
    np.testing.assert_allclose(dfdx[2:], want, rtol=1e-6)
    assert jaxact.get("log1mexp").domain == (0.0, np.inf)


# ----------------------------------------------------------------------------
# squareplus: accuracy where x + sqrt(x^2 + b) cancels or x^2 overflows
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16, jnp.bfloat16])
def test_squareplus_tails(dtype):
    big = float(jnp.finfo(dtype).max) if dtype != jnp.float32 else 1e30
    x = jnp.array([-big, -1e3, 1e3, big], dtype)
    y = np.asarray(jaxact.squareplus(x, b=4.0), np.float64)
    x64 = np.asarray(x, np.float64)
    np.testing.assert_allclose(y[1:3], [4 / (2 * 2e3), 1e3], rtol=1e-2)
    assert y[-1] == x64[-1] and 0 <= y[0] <= 4 / x64[-1]
    g = jax.vmap(jax.grad(lambda t, b: jaxact.squareplus(t, b), argnums=(0, 1)), (0, None))(
        x, jnp.asarray(4.0, dtype)
    )
    assert all(np.all(np.isfinite(np.asarray(a, np.float64))) for a in g)


def test_squareplus_with_b_zero_is_relu():
    x = jnp.array([-2.0, 0.0, 3.0], jnp.float32)
    np.testing.assert_array_equal(jaxact.squareplus(x, 0.0), [0.0, 0.0, 3.0])
    assert np.all(np.isfinite(jaxact.get("squareplus").dfdx(x, b=0.0)))


# ----------------------------------------------------------------------------
# rrelu: torch.nn.RReLU's training and evaluation modes
# ----------------------------------------------------------------------------

X = jnp.linspace(-4.0, 4.0, 4001, dtype=jnp.float32)


def test_rrelu_evaluation_uses_the_mean_slope():
    mean = (LOWER + UPPER) / 2
    np.testing.assert_allclose(jaxact.rrelu(X), jaxact.leaky_relu(X, mean), rtol=1e-6)
    np.testing.assert_allclose(jaxact.rrelu(X, 0.1, 0.3), jaxact.leaky_relu(X, 0.2), rtol=1e-6)
    # a key with training=False is ignored: evaluation mode, as torch's rrelu(training=False)
    np.testing.assert_array_equal(
        jaxact.rrelu(X, training=False, key=jax.random.key(0)), jaxact.rrelu(X)
    )


def test_rrelu_training_draws_one_slope_per_entry_from_the_key():
    y = jaxact.rrelu(X, key=jax.random.key(1))
    neg = np.asarray(X) < 0
    slopes = np.asarray(y)[neg] / np.asarray(X)[neg]
    assert np.all((slopes >= LOWER - 1e-6) & (slopes <= UPPER + 1e-6))
    np.testing.assert_array_equal(np.asarray(y)[~neg], np.asarray(X)[~neg])
    # uniform on [lower, upper]: mean and spread (2000 draws; 5 standard errors)
    sd = (UPPER - LOWER) / np.sqrt(12)
    assert abs(slopes.mean() - (LOWER + UPPER) / 2) < 5 * sd / np.sqrt(slopes.size)
    assert abs(slopes.std() - sd) < 0.1 * sd
    # the same key gives the same slopes, another key others; explicit training=True agrees
    np.testing.assert_array_equal(y, jaxact.rrelu(X, training=True, key=jax.random.key(1)))
    assert not np.array_equal(y, jaxact.rrelu(X, key=jax.random.key(2)))
    # also with a raw uint32 key and under jit
    raw = jax.random.PRNGKey(1)
    y_jit = jax.jit(lambda x, k: jaxact.rrelu(x, key=k))(X, raw)
    assert y_jit.shape == X.shape


def test_rrelu_training_gradients_follow_the_drawn_slopes():
    key = jax.random.key(3)
    y = jaxact.rrelu(X, LOWER, UPPER, key=key)
    neg = np.asarray(X) <= 0
    slope = np.where(neg, np.asarray(y) / np.where(neg, np.asarray(X), 1), 1.0)
    xi = (slope - LOWER) / (UPPER - LOWER)  # the uniform draw behind each slope

    def total(x, lo, hi):
        return jnp.sum(jaxact.rrelu(x, lo, hi, key=key))

    gx, glo, ghi = jax.grad(total, argnums=(0, 1, 2))(X, jnp.float32(LOWER), jnp.float32(UPPER))
    x64 = np.asarray(X, np.float64)
    # X has an entry at exactly 0: its slope is not recoverable from y, but it adds 0 below.
    ok = x64 != 0
    np.testing.assert_allclose(np.asarray(gx)[ok], slope[ok], rtol=1e-4)
    np.testing.assert_allclose(glo, np.sum(((1 - xi) * x64)[neg & ok]), rtol=1e-3)
    np.testing.assert_allclose(ghi, np.sum((xi * x64)[neg & ok]), rtol=1e-3)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: jaxact.rrelu(X, training=True), ValueError, "`key` is required"),
        (lambda: jaxact.rrelu(X, key=3), TypeError, "`key` must be a jax.random key"),
        (lambda: jaxact.rrelu(X, 0.5, 0.2), ValueError, "`lower` must be <= `upper`"),
        (lambda: jaxact.rrelu(X, training="yes"), TypeError, "`training`"),
        (lambda: jaxact.squareplus(X, -1.0), ValueError, "jaxact.squareplus: `b`"),
        (lambda: jaxact.hardshrink(X, -0.5), ValueError, "jaxact.hardshrink: `lambd`"),
        (lambda: jaxact.softshrink(X, lambd="a"), TypeError, "jaxact.softshrink: `lambd`"),
        (lambda: jaxact.glu(X[:5]), ValueError, "jaxact.glu: the size 5"),
    ],
)
def test_bad_arguments_raise_with_the_argument_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_torch_positional_forms():
    """torch.nn.functional's positional order: hardshrink(x, lambd), rrelu(x, lower, upper, training)."""
    np.testing.assert_array_equal(jaxact.hardshrink(X, 0.3), jaxact.hardshrink(X, lambd=0.3))
    np.testing.assert_array_equal(jaxact.softshrink(X, 0.3), jaxact.softshrink(X, lambd=0.3))
    np.testing.assert_array_equal(
        jaxact.rrelu(X, 0.1, 0.2, False), jaxact.rrelu(X, lower=0.1, upper=0.2)
    )
