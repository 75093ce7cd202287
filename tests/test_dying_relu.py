"""``experiments.dying_relu`` (C6): the dead-unit metric on hand-built params, and a quick run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import dying_relu, findings
from jaxact import linen

# Inputs are all positive; hidden unit 0 has negative weights and bias (z < 0 on every
# input), unit 1 positive (z > 0 everywhere), unit 2 changes sign between the inputs,
# unit 3 is exactly 0 on every input (zero weights and bias).
X = jnp.array([[1.0, 2.0], [3.0, 0.5], [0.5, 0.5]])
KERNEL = jnp.array([[-1.0, 1.0, 1.0, 0.0], [-1.0, 1.0, -2.0, 0.0]])
BIAS = jnp.array([-0.5, 0.1, 0.0, 0.0])


def _params(alpha=None):
    p = {
        "dense_0": {"kernel": KERNEL, "bias": BIAS},
        "dense_1": {"kernel": jnp.ones((4, 2)), "bias": jnp.zeros(2)},
    }
    if alpha is not None:
        p["act_0"] = {"alpha": jnp.asarray(alpha)}
    return p


def test_dead_units_relu_exact():
    fr = dying_relu.dead_unit_fractions(_params(), X, "relu")
    # units 0 and 3 output 0 on every input; unit 2 is positive on one input.
    assert fr["dead_zero_output"].tolist() == [0.5]
    assert fr["dead_never_positive"].tolist() == [0.5]
    assert fr["gradient_carrying"].tolist() == [0.5]  # relu'(0) = 0


def test_dead_units_leaky_exact():
    fr = dying_relu.dead_unit_fractions(_params(), X, "leaky_relu")
    assert fr["dead_zero_output"].tolist() == [0.25]  # only the unit with z == 0 exactly
    assert fr["dead_never_positive"].tolist() == [0.5]
    assert fr["gradient_carrying"].tolist() == [1.0]  # slope α = 0.01 everywhere below 0


@pytest.mark.parametrize("alpha, zero, carrying", [(0.25, 0.25, 1.0), (0.0, 0.5, 0.5)])
def test_dead_units_prelu_uses_the_learned_alpha(alpha, zero, carrying):
    fr = dying_relu.dead_unit_fractions(_params(alpha), X, "prelu")
    assert fr["dead_zero_output"].tolist() == [zero]
    assert fr["dead_never_positive"].tolist() == [0.5]
    assert fr["gradient_carrying"].tolist() == [carrying]


@pytest.mark.parametrize("act", dying_relu.ACTIVATIONS)
def test_preactivations_reproduce_the_model(act):
    m = dying_relu.model(act, 10)
    x = jax.random.normal(jax.random.key(1), (16, 40))
    params = m.init(jax.random.key(0), x)["params"]
    if act == "prelu":  # a non-default α, to see that the learned leaf is used
        params = linen.replace_activation_params(params, alpha=0.6)
    zs = dying_relu.hidden_preactivations(params, x, act)
    assert [z.shape for z in zs] == [(16, 100), (16, 100)]
    fixed = {"alpha": 0.6} if act == "prelu" else {}
    import jaxact

    h = jaxact.get(act).fn(zs[-1], **fixed)
    logits = h @ params["dense_2"]["kernel"] + params["dense_2"]["bias"]
    np.testing.assert_allclose(logits, m.apply({"params": params}, x), rtol=1e-5, atol=1e-5)


def test_metrics_hook_is_hashable_and_reads_the_training_set():
    hook = dying_relu.DeadUnitMetrics("relu")
    assert hash(hook) == hash(dying_relu.DeadUnitMetrics("relu"))
    out = hook(None, _params(), {"x_train": X})
    assert out["dead_zero_output"].tolist() == [0.5]
    with pytest.raises(ValueError, match="dense_i"):
        dying_relu.hidden_preactivations({"foo": {}}, X, "relu")


def test_quick_run_writes_findings_and_figure(tmp_path):
    found = dying_relu.run(tmp_path, quick=True)
    assert [f.claim for f in found] == ["C6"]
    assert findings.read(tmp_path / "findings.json") == found
    assert (tmp_path / "dead_units.png").stat().st_size > 0
    assert found[0].verdict in findings.VERDICTS and "lr 0.3" in found[0].numbers
