"""experiments.studies.step_untrainable (C10): zero gradients, the rule, the study end to end."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from experiments import data, findings
from experiments.studies import step_untrainable as study
from jaxact import linen


def _data():
    ds = data.load("xor", seed=0)
    return {
        "x_train": jnp.asarray(ds.x_train),
        "y_train": jnp.asarray(ds.y_train),
        "x_test": jnp.asarray(ds.x_test),
        "y_test": jnp.asarray(ds.y_test),
    }


@pytest.mark.parametrize("output_activation", [None, "step"])
def test_gradient_before_a_step_is_exactly_zero(output_activation):
    d = _data()
    model = linen.MLP((16, 16, 2), "step", output_activation=output_activation)
    params = model.init(jax.random.key(0), d["x_train"][:1])["params"]
    apply = lambda p, x: model.apply({"params": p}, x)
    m = study.gradient_metrics(apply, params, d)
    assert float(m["grad_dense_0"]) == 0.0
    assert float(m["grad_dense_1"]) == 0.0
    if output_activation == "step":
        assert float(m["grad_dense_2"]) == 0.0
    else:  # the output layer after the last step does learn
        assert float(m["grad_dense_2"]) > 0.0


def test_sigmoid_gradients_are_not_zero():
    d = _data()
    model = linen.MLP((16, 16, 2), "sigmoid")
    params = model.init(jax.random.key(0), d["x_train"][:1])["params"]
    m = study.gradient_metrics(lambda p, x: model.apply({"params": p}, x), params, d)
    assert all(float(v) > 0 for v in m.values())


def test_step_definition():
    np.testing.assert_array_equal(jaxact.step(jnp.array([-1.0, 0.0, 1e-30, 1.0])), [0, 0, 1, 1])


# -- the rule on hand-made arrays ------------------------------------------------

ZERO = np.zeros((5, 4))
FLAT = np.full((5, 4), 0.6931)
FALLING = np.tile([0.69, 0.6, 0.5, 0.4], (5, 1))


def test_rule_supported_when_every_part_holds():
    assert study.c10_verdict([ZERO, ZERO], FLAT, True, FALLING) == "supported"


@pytest.mark.parametrize(
    "grads, step_loss, unchanged, sigmoid_loss",
    [
        ([ZERO, np.where(np.eye(5, 4) > 0, 1e-12, 0.0)], FLAT, True, FALLING),  # one tiny gradient
        ([ZERO], np.where(np.eye(5, 4) > 0, 0.6930, 0.6931), True, FALLING),  # the loss moved
        ([ZERO], FLAT, False, FALLING),  # a parameter moved
        ([ZERO], FLAT, True, np.vstack([FALLING[:4], [0.69, 0.69, 0.69, 0.688]])),  # 0.3% < 1%
    ],
)
def test_rule_not_supported_when_one_part_fails(grads, step_loss, unchanged, sigmoid_loss):
    assert study.c10_verdict(grads, step_loss, unchanged, sigmoid_loss) == "not supported"


def test_loss_drop_threshold_is_inclusive():
    loss = np.array([[1.0, 0.99], [2.0, 1.5]])
    np.testing.assert_allclose(study.loss_drop(loss), [0.01, 0.25])
    assert study.c10_verdict([ZERO], FLAT, True, loss, min_drop=0.01) == "supported"
    assert study.c10_verdict([ZERO], FLAT, True, loss, min_drop=0.02) == "not supported"


# -- end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("step")
    return out, study.run(out, quick=True)


def test_study_quick_end_to_end(quick):
    out, result = quick
    (c10,) = findings.read(out / "findings.json")
    assert [c10] == result
    assert c10.claim == "C10" and c10.sources == ("002", "003", "004")
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    # The zero-gradient and constant-loss parts are exact; the sigmoid loss falls by ~7%
    # in 100 steps against the rule's 1%.
    assert c10.verdict == "supported"
    assert "identical at every evaluation: True" in c10.numbers
    assert f"n={len(study.SEEDS)})" in c10.headline and "95% CI" in c10.numbers
    assert "reverse" in c10.correction and "[0.0, 0.0, 1.0]" in c10.correction
