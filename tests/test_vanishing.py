"""``experiments.vanishing`` (C3, C7): per-layer gradients, forward statistics, SELU's fixed point."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from experiments import findings, vanishing
from jaxact import initializers


@pytest.mark.parametrize("depth", [1, 5])
def test_one_gradient_norm_per_layer(depth):
    x = jax.random.normal(jax.random.key(0), (32, 40))
    y = jnp.arange(32) % 10
    norms = vanishing.init_gradient_norms("tanh", depth, x, y, seeds=[0, 1], width=8)
    assert norms.shape == (2, depth + 1)
    assert np.all(norms > 0)
    m = vanishing.DeepMLP(depth, 8, "tanh", "glorot_normal", 10)
    p = m.init(jax.random.key(0), x[:1])["params"]
    n_kernels = sum(
        leaf.shape[0] if leaf.ndim == 3 else 1
        for path, leaf in jax.tree_util.tree_leaves_with_path(p)
        if path[-1].key == "kernel"
    )
    assert n_kernels == depth + 1


def test_hook_matches_direct_gradient_norms_at_init():
    """The metrics hook and the direct computation agree on the same parameters."""
    x = jax.random.normal(jax.random.key(0), (600, 40))
    y = jnp.arange(600) % 10
    m = vanishing.DeepMLP(4, 16, "sigmoid", "glorot_normal", 10)
    p = m.init(jax.random.key(5), x[:1])["params"]
    apply = lambda p, x: m.apply({"params": p}, x)
    hook = jax.jit(
        lambda p: vanishing.gradient_norm_metrics(apply, p, {"x_train": x, "y_train": y})
    )(p)["grad_norm"]
    direct = vanishing.init_gradient_norms(
        "sigmoid", 4, x[: vanishing.GRAD_BATCH], y[: vanishing.GRAD_BATCH], seeds=[5], width=16
    )[0]
    np.testing.assert_allclose(hook, direct, rtol=1e-4)
    # and the layer order is input → output: the chain rule through sigmoid shrinks it.
    assert hook[0] < hook[-1]


def test_layer_norms_are_frobenius_norms_in_order():
    g = {
        "input": {"kernel": jnp.full((3, 2), 2.0)},
        "hidden": {"dense": {"kernel": jnp.arange(2 * 2 * 2, dtype=jnp.float32).reshape(2, 2, 2)}},
        "output": {"kernel": jnp.ones((2, 4))},
    }
    expected = [np.sqrt(24.0), np.sqrt(0 + 1 + 4 + 9), np.sqrt(16 + 25 + 36 + 49), np.sqrt(8.0)]
    np.testing.assert_allclose(vanishing.layer_gradient_norms(g), expected, rtol=1e-6)


def test_linear_orthogonal_network_preserves_variance():
    """Identity activation, orthogonal weights: the per-unit variance summed over units is
    trace(Qᵀ C Q) = trace(C) at every layer, whatever the input."""
    n, layers = 16, 12
    x = 3.0 + 2.0 * jax.random.normal(jax.random.key(0), (200, n))
    qs = jnp.stack(
        [
            jnp.linalg.qr(jax.random.normal(k, (n, n)))[0]
            for k in jax.random.split(jax.random.key(1), layers)
        ]
    )
    mean, var = vanishing.forward_statistics(x, qs, lambda h: h)
    v0 = jnp.mean(jnp.var(x, axis=0))
    assert var.shape == mean.shape == (layers,)
    np.testing.assert_allclose(var, jnp.full(layers, v0), rtol=1e-5)


def test_forward_statistics_rejects_bad_shapes():
    with pytest.raises(ValueError, match="kernels"):
        vanishing.forward_statistics(jnp.ones((4, 3)), jnp.ones((2, 3, 4)), jaxact.relu)


def test_selu_fixed_point_one_layer():
    """LeCun-normal weights and N(0, 1) inputs: after one SELU layer mean ≈ 0, var ≈ 1."""
    n = 1024
    x = jax.random.normal(jax.random.key(0), (n, n))
    w = initializers.get("lecun_normal")(jax.random.key(1), (n, n))
    mean, var = vanishing.forward_statistics(x, w[None], jaxact.selu)
    # sampling error: about sqrt(2/n) ≈ 0.044 per unit, averaged over n units
    assert abs(float(mean[0])) < 0.02
    assert abs(float(var[0]) - 1.0) < 0.02
    # the same with He-normal weights (variance 2/n) is not a fixed point
    w2 = initializers.get("he_normal")(jax.random.key(1), (n, n))
    _, var2 = vanishing.forward_statistics(x, w2[None], jaxact.selu)
    assert float(var2[0]) > 1.5


def test_random_forward_statistics_draws_each_layer_at_its_fan_in():
    _, var = vanishing.random_forward_statistics(
        0, activation="identity", init="lecun_normal", depth=3, width=512, samples=512
    )
    np.testing.assert_allclose(var, 1.0, atol=0.15)  # Var w = 1/n per layer, not 1/(n·depth)
    with pytest.raises(ValueError, match="depth"):
        vanishing.random_forward_statistics(
            0, activation="selu", init="lecun_normal", depth=0, width=4, samples=4
        )


@pytest.mark.parametrize("bad", [dict(depth=0), dict(width=-1), dict(depth=2.5)])
def test_deep_mlp_rejects_bad_sizes(bad):
    kw = dict(depth=3, width=4, activation="relu", kernel_init="he_normal", num_classes=2) | bad
    with pytest.raises(ValueError):
        vanishing.DeepMLP(**kw)


def test_quick_run_writes_findings_and_figures(tmp_path):
    found = vanishing.run(tmp_path, quick=True)
    assert [f.claim for f in found] == list(vanishing.CLAIMS)
    assert findings.read(tmp_path / "findings.json") == found
    for f in found:
        assert f.verdict in findings.VERDICTS and f.numbers
        for fig in f.figures:
            assert (tmp_path / fig).stat().st_size > 0
    assert found[1].correction
