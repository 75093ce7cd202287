"""experiments.linear_collapse (C1): a deep identity network is one affine map; the study."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import findings, linear_collapse
from jaxact import linen


def test_exact_collapse_is_tight():
    r = linear_collapse.exact_collapse(seed=3)
    assert r["W"].shape == (8, linear_collapse.WIDTHS[-1])
    assert r["layers"] == len(linear_collapse.WIDTHS)
    assert np.any(r["b"] != 0)  # the random biases are exercised
    assert r["max_abs_diff"] <= 1e-5 * max(1.0, r["output_scale"])


def test_collapse_equals_the_network_for_any_depth():
    x = jax.random.normal(jax.random.key(1), (64, 5))
    for widths in [(3,), (7, 3), (6, 6, 6, 3)]:
        model = linen.MLP(widths, "identity", kernel_init="glorot_normal")
        params = model.init(jax.random.key(2), x)["params"]
        params = jax.tree.map(lambda a: a + 0.1, params)  # non-zero biases
        w, b = linear_collapse.collapse(params)
        y = np.asarray(model.apply({"params": params}, x), np.float64)
        np.testing.assert_allclose(y, np.asarray(x, np.float64) @ w + b, rtol=0, atol=1e-5)


def test_collapse_does_not_hold_with_a_nonlinearity():
    x = jax.random.normal(jax.random.key(1), (64, 5))
    model = linen.MLP((16, 16, 2), "relu")
    params = model.init(jax.random.key(2), x)["params"]
    w, b = linear_collapse.collapse({k: v for k, v in params.items() if k.startswith("dense")})
    y = np.asarray(model.apply({"params": params}, x))
    assert np.max(np.abs(y - (np.asarray(x) @ w + b))) > 1e-2


def test_collapse_bad_input():
    with pytest.raises(ValueError, match="Dense"):
        linear_collapse.collapse({"act_0": {"alpha": jnp.ones(())}})


def test_study_quick_end_to_end(tmp_path):
    out = tmp_path / "c1"
    linear_collapse.run(out, quick=True)
    (c1,) = findings.read(out / "findings.json")
    assert c1.claim == "C1" and c1.sources == ("001", "004")
    assert c1.verdict in findings.VERDICTS
    assert c1.figures == ("accuracy.png", "boundaries_xor.png")
    for name in c1.figures:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "| xor |" in c1.numbers and "deep linear" in c1.numbers
    assert "max |leaky_relu(x, α=1) − x| = 0," in c1.numbers
