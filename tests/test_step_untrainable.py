"""experiments.step_untrainable (C10): exact zero gradients, constant loss, the study end to end."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from experiments import data, findings, step_untrainable
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
    m = step_untrainable.gradient_metrics(apply, params, d)
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
    m = step_untrainable.gradient_metrics(lambda p, x: model.apply({"params": p}, x), params, d)
    assert all(float(v) > 0 for v in m.values())


def test_step_definition():
    np.testing.assert_array_equal(jaxact.step(jnp.array([-1.0, 0.0, 1e-30, 1.0])), [0, 0, 1, 1])


def test_study_quick_end_to_end(tmp_path):
    out = tmp_path / "step"
    step_untrainable.run(out, quick=True)
    (c10,) = findings.read(out / "findings.json")
    assert c10.claim == "C10" and c10.sources == ("002", "003", "004")
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    # The zero-gradient and constant-loss parts are exact; the sigmoid loss falls by ~7%
    # in 100 steps against the rule's 1%.
    assert c10.verdict == "supported"
    assert "identical at every evaluation: True" in c10.numbers
    assert "reverse" in c10.correction and "[0.0, 0.0, 1.0]" in c10.correction
