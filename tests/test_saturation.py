"""experiments.saturation (C2, C15): exact derivative maxima, thresholds, the study end to end."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from experiments import findings, saturation


def test_closed_form_peaks_are_exact():
    assert float(jaxact.get("sigmoid").dfdx(0.0)) == 0.25
    assert float(jaxact.get("tanh").dfdx(0.0)) == 1.0
    assert saturation.derivative_maximum("sigmoid")[:2] == (0.25, 0.0)
    assert saturation.derivative_maximum("tanh")[:2] == (1.0, 0.0)


def test_thresholds_match_the_analytic_solution():
    eps = saturation.EPS
    # sigmoid'(x) = s(1 - s) = eps  ->  s = (1 + sqrt(1 - 4 eps)) / 2, x = logit(s)
    s = (1 + math.sqrt(1 - 4 * eps)) / 2
    sigmoid_x = math.log(s / (1 - s))
    tanh_x = math.atanh(math.sqrt(1 - eps))  # 1 - tanh^2 = eps
    step = 1e-3 + 1e-6  # the grid step, plus float32 rounding of the derivative
    for side in ("negative", "positive"):
        assert abs(saturation.saturation_threshold("sigmoid", side) - sigmoid_x) <= step
        assert abs(saturation.saturation_threshold("tanh", side) - tanh_x) <= step
    assert saturation.saturation_threshold("relu", "negative") == 0.0
    assert saturation.saturation_threshold("relu", "positive") == math.inf
    assert saturation.saturation_threshold("leaky_relu", "negative") == math.inf
    assert saturation.saturation_threshold("relu6", "positive") == pytest.approx(6.0, abs=step)


def test_threshold_bad_input():
    with pytest.raises(ValueError, match="side"):
        saturation.saturation_threshold("relu", "left")
    with pytest.raises(ValueError, match="elementwise"):
        saturation.saturation_threshold("softmax", "positive")
    with pytest.raises(ValueError, match="eps"):
        saturation.saturation_threshold("relu", "positive", eps=0)
    with pytest.raises(ValueError, match="nope"):
        saturation.saturation_threshold("nope", "positive")


def test_timing_returns_every_function_and_both_passes():
    t = saturation.time_activations(256, 1)
    assert set(t) == {*saturation.TIMED, "exp (bare)"}
    assert all(
        set(v) == {"forward", "forward_backward"} and min(v.values()) > 0 for v in t.values()
    )
    with pytest.raises(ValueError, match="repeats"):
        saturation.time_activations(256, 0)


def test_study_quick_end_to_end(tmp_path):
    out = tmp_path / "sat"
    saturation.run(out, quick=True)
    result = findings.read(out / "findings.json")
    assert [f.claim for f in result] == list(saturation.CLAIMS)
    c2, c15 = result
    for f in result:
        for fig in f.figures:
            assert (out / fig).read_bytes()[:4] == b"\x89PNG"
    # C2 rests on closed forms only: its verdict cannot depend on noise.
    assert c2.verdict == "supported"
    assert "0.025" in c2.correction and "0.25" in c2.correction and "tanh(x/2)" in c2.correction
    assert "| sigmoid | 6.91 | 6.91 |" in c2.numbers and "| tanh | 4.15 | 4.15 |" in c2.numbers
    assert c15.verdict in findings.VERDICTS and "| relu |" in c15.numbers


def test_seed000_tanh_is_half_angle():
    x = jnp.linspace(-3, 3, 13)
    np.testing.assert_allclose((1 - jnp.exp(-x)) / (1 + jnp.exp(-x)), jnp.tanh(x / 2), atol=1e-6)
