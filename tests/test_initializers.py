"""Tests for jaxact.initializers: documented variances, means, ranges, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxact import initializers

# Variance of each named initialisation for a kernel (fan_in, fan_out), as documented.
EXPECTED_VAR = {
    "he_normal": lambda fi, fo: 2.0 / fi,
    "he_uniform": lambda fi, fo: 2.0 / fi,
    "lecun_normal": lambda fi, fo: 1.0 / fi,
    "glorot_uniform": lambda fi, fo: 2.0 / (fi + fo),
    "glorot_normal": lambda fi, fo: 2.0 / (fi + fo),
    "uniform_pm1": lambda fi, fo: 1.0 / 3.0,
    "normal_1": lambda fi, fo: 1.0,
    "normal_tiny": lambda fi, fo: 1e-4,
}


def test_names_are_the_documented_ones():
    assert set(initializers.names()) == set(EXPECTED_VAR)


# (1000, 1000) as asked; (500, 2000) separates glorot (2/2500) from lecun (1/500).
@pytest.mark.parametrize("shape", [(1000, 1000), (500, 2000)])
@pytest.mark.parametrize("name", sorted(EXPECTED_VAR))
def test_variance_and_mean_match_documentation(name, shape):
    w = np.asarray(initializers.get(name)(jax.random.key(7), shape, jnp.float32), np.float64)
    assert w.shape == shape
    n = w.size
    var = EXPECTED_VAR[name](*shape)
    # Sampling error of the sample variance is var * sqrt((kurtosis - 1) / n); all
    # of these have kurtosis <= 3 (normal), so 6 standard errors of a normal bound it.
    assert abs(w.var() - var) < 6 * var * math.sqrt(2.0 / n), (w.var(), var)
    assert abs(w.mean()) < 6 * math.sqrt(var / n)


def test_uniform_pm1_is_within_pm1_and_fills_it():
    w = initializers.get("uniform_pm1")(jax.random.key(0), (1000, 1000))
    assert float(w.min()) >= -1.0 and float(w.max()) <= 1.0
    assert float(w.min()) < -0.999 and float(w.max()) > 0.999


@pytest.mark.parametrize("name", ["he_normal", "lecun_normal", "glorot_normal"])
def test_variance_scaling_normals_are_truncated(name):
    # jax draws a normal truncated at +-2 sigma and rescales it: no value beyond
    # 2 / 0.8796 ~ 2.27 of the final std (an untruncated normal of 1e6 draws reaches ~4.9).
    shape = (1000, 1000)
    w = initializers.get(name)(jax.random.key(1), shape)
    std = math.sqrt(EXPECTED_VAR[name](*shape))
    assert float(jnp.abs(w).max()) / std < 2.28


@pytest.mark.parametrize("name", sorted(EXPECTED_VAR))
def test_dtype_and_determinism(name):
    init = initializers.get(name)
    a = init(jax.random.key(3), (4, 5), jnp.bfloat16)
    b = init(jax.random.key(3), (4, 5), jnp.bfloat16)
    assert a.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))
    assert init(jax.random.key(3), (4, 5)).dtype == jnp.result_type(float)


def test_uniform_pm1_under_jit():
    init = initializers.get("uniform_pm1")
    w = jax.jit(init, static_argnums=1)(jax.random.key(0), (3, 4))
    np.testing.assert_array_equal(w, init(jax.random.key(0), (3, 4)))


@pytest.mark.parametrize("bad", ["he", "HE_NORMAL", "", 3, None])
def test_unknown_name_raises_listing_valid_ones(bad):
    with pytest.raises(ValueError, match="name: unknown initialisation.*he_normal.*uniform_pm1"):
        initializers.get(bad)
