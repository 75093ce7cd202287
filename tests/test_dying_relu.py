"""``experiments.studies.dying_relu`` (C6): the dead-unit metric, the verdict rules, a quick run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import findings
from experiments.studies import dying_relu
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


# --- verdict rules on hand-made arrays (no training) --------------------------------------------

ZERO = [0.0] * 5


def test_trains_above_chance_uses_the_interval_not_the_mean():
    assert dying_relu.trains_above_chance([0.62, 0.65, 0.64, 0.63, 0.66], 10)
    # mean 25% > 20%, but two seeds sit at chance: the interval reaches below 20%
    assert not dying_relu.trains_above_chance([0.10, 0.40, 0.10, 0.40, 0.25], 10)
    assert not dying_relu.trains_above_chance([0.19, 0.19, 0.19], 10)  # below chance + margin
    assert dying_relu.trains_above_chance([0.19, 0.19, 0.19], 10, margin=0.05)
    assert not dying_relu.trains_above_chance([0.6, np.nan], 10)


def test_largest_trainable_learning_rate():
    lrs = [1e-3, 1e-2, 1e-1, 3e-1]
    acc = [[0.58] * 3, [0.64, 0.65, 0.66], [0.15, 0.17, 0.16], [0.1, 0.1, 0.1]]
    assert dying_relu.largest_trainable(lrs, acc, 10) == 1
    assert dying_relu.largest_trainable(lrs, acc, 10, margin=0.02) == 2
    assert dying_relu.largest_trainable(lrs[:2], [[0.1] * 3, [0.1] * 3], 10) is None
    with pytest.raises(ValueError, match="val_accuracy"):
        dying_relu.largest_trainable(lrs, acc[:2], 10)


def test_dying_at_one_learning_rate():
    dead = [0.5, 0.5, 0.49, 0.5, 0.51]
    assert dying_relu.dying_at(dead, ZERO, ZERO) == "supported"
    assert dying_relu.dying_at([0.0, 0.01, 0.0, 0.0, 0.01], ZERO, ZERO) == "not supported"
    assert dying_relu.dying_at(dead, ZERO, dead) == "depends"  # PReLU dies as much
    # ReLU at 4.8% ± 2.7%: the interval of the difference straddles the 5-point margin
    assert dying_relu.dying_at([0.048, 0.02, 0.08, 0.07, 0.02], ZERO, ZERO) == "inconclusive"
    # the same mean with less noise is decided
    assert dying_relu.dying_at([0.02, 0.021, 0.019, 0.02, 0.02], ZERO, ZERO) == "not supported"
    assert dying_relu.dying_at(dead[:1], ZERO[:1], ZERO[:1]) == "inconclusive"  # one seed


@pytest.mark.parametrize(
    "at_trainable, at_extreme, verdict",
    [
        ("supported", "supported", "supported"),
        ("not supported", "supported", "depends"),
        ("depends", "supported", "depends"),
        ("not supported", "not supported", "not supported"),
        ("inconclusive", "supported", "inconclusive"),
        ("supported", "inconclusive", "inconclusive"),
        (None, "supported", "supported"),
        (None, "inconclusive", "inconclusive"),
    ],
)
def test_c6_verdict_table(at_trainable, at_extreme, verdict):
    assert dying_relu.c6_verdict(at_trainable, at_extreme) == verdict


def test_c6_verdict_rejects_unknown_parts():
    with pytest.raises(ValueError, match="at_extreme"):
        dying_relu.c6_verdict("supported", None)
    with pytest.raises(ValueError, match="at_trainable"):
        dying_relu.c6_verdict("greater", "supported")


# --- one quick end-to-end run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("dying_relu")
    return out, dying_relu.run(out, quick=True)


def test_quick_run_writes_findings_and_figures(quick):
    out, found = quick
    assert [f.claim for f in found] == ["C6"]
    assert findings.read(out / "findings.json") == found
    for fig in found[0].figures:
        assert (out / fig).stat().st_size > 0
    assert found[0].verdict in findings.VERDICTS


def test_quick_run_states_both_learning_rates(quick):
    _, found = quick
    f = found[0]
    assert "at Adam lr 0.3 (the grid's extreme)" in f.numbers
    assert "ReLU trains above chance" in f.numbers
    assert "ReLU units dead at Adam lr" in f.headline and "95% CI" in f.headline
    assert "fixed before the run" in f.condition
    cells = [c for line in f.numbers.splitlines() if line.startswith("|") for c in line.split("|")]
    assert max(len(c) for c in cells) <= 400
