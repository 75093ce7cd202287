"""experiments.studies.logistic (C12, C13): the tumour probabilities, naive vs stable softmax."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from experiments import findings
from experiments.studies import logistic

REF = np.exp(np.arange(3.0)) / np.exp(np.arange(3.0)).sum()


def test_tumour_probabilities_match_float64():
    sizes = np.array([3.0, 6.0])
    p64 = 1.0 / (1.0 + np.exp(-(1.87 * sizes - 5.47)))
    p32 = np.asarray(logistic.tumour_probability(sizes), np.float64)
    np.testing.assert_allclose(p32, p64, rtol=0, atol=1e-6)
    np.testing.assert_allclose(p64, [0.5349429452, 0.9968273172], atol=1e-9)


@pytest.mark.parametrize("c", [1000.0, -1000.0])
def test_naive_softmax_fails_and_stable_softmax_equals_the_shifted_one(c):
    logits = jnp.float32(c) + jnp.arange(3, dtype=jnp.float32)
    assert not np.all(np.isfinite(np.asarray(logistic.naive_softmax(logits))))
    stable = np.asarray(jaxact.softmax(logits))
    assert np.all(np.isfinite(stable))
    shifted = np.asarray(jaxact.softmax(jnp.arange(3, dtype=jnp.float32)))
    np.testing.assert_allclose(stable, shifted, rtol=0, atol=1e-6)
    np.testing.assert_allclose(stable, REF, atol=1e-6)


def test_naive_softmax_is_fine_on_small_logits():
    x = jnp.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(logistic.naive_softmax(x), jaxact.softmax(x), atol=1e-6)


def test_first_failure_finds_the_overflow_edge():
    assert logistic.first_failure(np.arange(80.0, 90.0, 0.5)) == 87.0
    assert np.isnan(logistic.first_failure(np.arange(0.0, 10.0)))


def test_c12_rule():
    p64 = [0.5349429452, 0.9968273172]
    assert logistic.c12_verdict([0.5349430, 0.9968273], p64) == "supported"
    # float32 off by more than the agreement
    assert logistic.c12_verdict([0.53494, 0.9968273], p64) == "not supported"
    # agreement alone is not enough: the larger tumour must be predicted above 50%
    assert logistic.c12_verdict([0.2, 0.4], [0.2, 0.4]) == "not supported"


def test_c13_rule():
    nan = [np.nan] * 3
    assert logistic.c13_verdict([nan, nan], [REF, REF], REF) == "supported"
    # the naive form works at one offset: the claim is not shown there
    assert logistic.c13_verdict([nan, REF], [REF, REF], REF) == "not supported"
    # the stable form is finite but wrong
    assert logistic.c13_verdict([nan, nan], [REF, REF + 1e-3], REF) == "not supported"
    # the stable form is not finite
    assert logistic.c13_verdict([nan, nan], [REF, nan], REF) == "not supported"


def test_study_end_to_end(tmp_path):
    out = tmp_path / "logistic"
    logistic.run(out, quick=True)
    c12, c13 = findings.read(out / "findings.json")
    assert (c12.claim, c13.claim) == ("C12", "C13")
    assert c12.verdict == "supported" and c13.verdict == "supported"
    assert "0.5349430" in c12.numbers and "0.9968273" in c12.numbers
    assert "first fails at c = 87" in c13.numbers and "at c = -89.5" in c13.numbers
    for f in (c12, c13):
        assert (out / f.figures[0]).read_bytes()[:4] == b"\x89PNG"
