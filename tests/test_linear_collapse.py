"""experiments.studies.linear_collapse (C1): a deep identity network is one affine map; the rule; the study."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import findings
from experiments.studies import linear_collapse
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


# -- the rule on hand-made arrays ---------------------------------------------------

LIN = np.array([50.0, 52.0, 49.0, 51.0, 50.0])
EXACT = (1e-8, (0.0, 0.0, 0.0))


def _acc(linear=LIN, logistic=LIN + 0.5, relu=LIN + 45, tanh=LIN + 40):
    return {
        "xor": {
            "deep linear": linear,
            "logistic regression": logistic,
            "deep relu": relu,
            "deep tanh": tanh,
        }
    }


def test_rule_supported():
    assert linear_collapse.c1_verdict(*EXACT, _acc()) == "supported"
    assert linear_collapse.c1_verdict(*EXACT, {**_acc(), "spirals": _acc()["xor"]}) == "supported"


def test_rule_not_supported():
    assert linear_collapse.c1_verdict(1e-3, (0.0, 0.0, 0.0), _acc()) == "not supported"
    assert linear_collapse.c1_verdict(1e-8, (0.0, 1e-7, 0.0), _acc()) == "not supported"
    # deep linear 10 points above logistic regression in every seed: not "no better"
    assert linear_collapse.c1_verdict(*EXACT, _acc(logistic=LIN - 10)) == "not supported"
    # tanh only 2 points above the linear network
    assert linear_collapse.c1_verdict(*EXACT, _acc(tanh=LIN + 2)) == "not supported"


def test_rule_deep_linear_worse_than_one_layer_is_no_objection():
    """The claim is "no better than one layer": 10 points worse (optimisation) still supports it."""
    assert linear_collapse.c1_verdict(*EXACT, _acc(logistic=LIN + 10)) == "supported"


def test_rule_inconclusive_within_seed_noise():
    """Deep linear − logistic regression averages 2 pp but its interval straddles the 3 pp margin."""
    from experiments import stats

    logistic = LIN - np.array([0.0, 4.0, 1.0, 4.0, 1.0])
    d = stats.paired_difference(LIN, logistic)
    assert d.ci_low < linear_collapse.CLOSE < d.ci_high
    assert linear_collapse.c1_verdict(*EXACT, _acc(logistic=logistic)) == "inconclusive"
    # and a nonlinear network whose gain straddles the 10 pp margin
    relu = LIN + np.array([5.0, 15.0, 8.0, 14.0, 9.0])
    d = stats.paired_difference(relu, LIN)
    assert d.ci_low < linear_collapse.CLEAR < d.ci_high
    assert linear_collapse.c1_verdict(*EXACT, _acc(relu=relu)) == "inconclusive"


# -- end to end --------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("c1")
    return out, linear_collapse.run(out, quick=True)


def test_study_quick_end_to_end(quick):
    out, result = quick
    (c1,) = findings.read(out / "findings.json")
    assert [c1] == result
    assert c1.claim == "C1" and c1.sources == ("001", "004")
    assert c1.verdict in findings.VERDICTS
    assert c1.figures == ("accuracy.png", "boundaries_xor.png")
    for name in c1.figures:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "| xor |" in c1.numbers and "deep linear" in c1.numbers
    assert f"n={len(linear_collapse.SEEDS)})" in c1.numbers and "95% CI" in c1.headline
    assert "max |leaky_relu(x, α=1) − x| = 0," in c1.numbers
