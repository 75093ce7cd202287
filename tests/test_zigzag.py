"""``experiments.zigzag`` (C4): same-sign gradient rows, exact per example, and a quick run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import findings, zigzag


def test_same_sign_fraction_on_hand_built_rows():
    # columns (units): all +, mixed, all − with a zero entry, all zero (left out)
    g = jnp.array([[1.0, 1.0, -1.0, 0.0], [2.0, -3.0, 0.0, 0.0], [0.5, 1.0, -2.0, 0.0]])
    assert float(zigzag.same_sign_fraction(g)) == pytest.approx(2 / 3, rel=1e-6)
    stacked = jnp.stack([g, -g, jnp.zeros_like(g)])  # leading axes are pooled
    assert float(zigzag.same_sign_fraction(stacked)) == pytest.approx(2 / 3, rel=1e-6)
    assert np.isnan(float(zigzag.same_sign_fraction(jnp.zeros((3, 2)))))
    with pytest.raises(ValueError, match="fan_in"):
        zigzag.same_sign_fraction(jnp.ones(3))


def _per_example(name, seed=0):
    m = zigzag.model(name, 10)
    x = jax.random.normal(jax.random.key(seed), (64, 40))
    y = jnp.arange(64) % 10
    p = m.init(jax.random.key(seed + 1), x[:1])["params"]
    apply = lambda p, x: m.apply({"params": p}, x)
    return jax.jit(lambda p: zigzag.per_example_kernel_grads(apply, p, x, y))(p)


@pytest.mark.parametrize("name", ["sigmoid", "relu"])
def test_single_example_rows_share_one_sign_exactly(name):
    """a_i ≥ 0 ⇒ ∂L/∂W_ij = a_i δ_j has the sign of δ_j for every i, exactly."""
    g = np.asarray(_per_example(name))
    assert g.shape == (64, 64, 64)
    nonzero = np.any(g != 0, axis=1)
    same = np.all(g >= 0, axis=1) | np.all(g <= 0, axis=1)
    assert nonzero.sum() > 0
    assert np.all(same[nonzero])
    assert float(zigzag.same_sign_fraction(g)) == 1.0


@pytest.mark.parametrize("name", ["tanh", "sigmoid − ½"])
def test_zero_centred_single_example_rows_do_not(name):
    assert float(zigzag.same_sign_fraction(_per_example(name))) < 0.05


def test_centred_sigmoid_is_half_tanh_of_half():
    m = zigzag.OffsetMLP((5, 3), "sigmoid", 0.5)
    x = jnp.linspace(-4, 4, 10)[:, None]
    p = m.init(jax.random.key(0), x)["params"]
    h = jnp.tanh((x @ p["dense_0"]["kernel"] + p["dense_0"]["bias"]) / 2) / 2
    np.testing.assert_allclose(
        m.apply({"params": p}, x), h @ p["dense_1"]["kernel"] + p["dense_1"]["bias"], atol=1e-6
    )


def test_quick_run_writes_findings_and_figures(tmp_path):
    found = zigzag.run(tmp_path, quick=True)
    assert [f.claim for f in found] == ["C4"]
    assert findings.read(tmp_path / "findings.json") == found
    for fig in found[0].figures:
        assert (tmp_path / fig).stat().st_size > 0
    # the exact part of the mechanism holds in the run itself, at every evaluation
    assert (
        "sigmoid: same-sign rows, single examples 1.000 ± 0.000 (min over training 1.000)"
        in found[0].numbers
    )
