"""experiments.studies.saturation (C2, C15): derivative maxima, thresholds, the rules, the study."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from experiments import findings
from experiments.studies import saturation


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


def test_timing_returns_every_function_both_passes_and_every_repeat():
    t = saturation.time_activations(256, 2)
    assert set(t) == {*saturation.TIMED, "exp (bare)"}
    for v in t.values():
        assert set(v) == set(saturation.PASSES)
        assert all(a.shape == (2,) and np.all(a > 0) for a in v.values())
    with pytest.raises(ValueError, match="repeats"):
        saturation.time_activations(256, 0)


def test_ratios_use_the_minimum_or_the_median_of_the_repeats():
    t = {
        "relu": {
            "forward": np.array([1.0, 2.0, 9.0]),
            "forward_backward": np.array([2.0, 2.0, 2.0]),
        },
        "tanh": {
            "forward": np.array([3.0, 4.0, 5.0]),
            "forward_backward": np.array([1.0, 6.0, 7.0]),
        },
    }
    low, mid = saturation.timing_ratios(t), saturation.timing_ratios(t, "median")
    assert low["relu"] == {"forward": 1.0, "forward_backward": 1.0}
    assert low["tanh"] == {"forward": 3.0, "forward_backward": 0.5}
    assert mid["tanh"] == {"forward": 2.0, "forward_backward": 3.0}
    with pytest.raises(ValueError, match="statistic"):
        saturation.timing_ratios(t, "mean")


def _r(f, b):
    return {"forward": f, "forward_backward": b}


@pytest.mark.parametrize(
    "sigmoid, tanh, expected",
    [
        (_r(1.5, 2.0), _r(3.0, 1.5), "supported"),  # the 1.5 bound is inclusive
        (_r(1.5, 2.0), _r(3.0, 1.49), "depends"),
        (_r(1.1, 0.9), _r(1.0, 1.1), "not supported"),  # the 1.1 bound is inclusive
        (_r(1.1, 0.9), _r(1.0, 1.11), "depends"),
    ],
)
def test_c15_rule(sigmoid, tanh, expected):
    assert (
        saturation.c15_verdict({"sigmoid": sigmoid, "tanh": tanh, "relu": _r(1.0, 1.0)}) == expected
    )


def test_c2_rule():
    maxima = {"sigmoid": (0.25, 0.0, 0.0), "tanh": (1.0, 0.0, 0.0)}
    near = {
        "sigmoid": {"negative": 6.9, "positive": 6.9},
        "tanh": {"negative": 4.15, "positive": 4.15},
    }
    assert saturation.c2_verdict(maxima, near) == "supported"
    assert saturation.c2_verdict({**maxima, "tanh": (1.0, 0.5, 0.5)}, near) == "not supported"
    far = {**near, "sigmoid": {"negative": 7.2, "positive": 6.9}}
    assert saturation.c2_verdict(maxima, far) == "not supported"
    assert saturation.c2_verdict(maxima, far, tolerance=1.5) == "supported"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("sat")
    return out, saturation.run(out, quick=True)


def test_study_quick_end_to_end(quick):
    out, found = quick
    result = findings.read(out / "findings.json")
    assert result == found
    assert [f.claim for f in result] == list(saturation.CLAIMS)
    c2, c15 = result
    for f in result:
        for fig in f.figures:
            assert (out / fig).read_bytes()[:4] == b"\x89PNG"
    # C2 rests on closed forms only: its verdict cannot depend on noise.
    assert c2.verdict == "supported"
    assert "0.025" in c2.correction and "0.25" in c2.correction and "tanh(x/2)" in c2.correction
    assert "| sigmoid | 6.91 | 6.91 |" in c2.numbers and "| tanh | 4.15 | 4.15 |" in c2.numbers
    assert c15.verdict in findings.VERDICTS and "| relu | " in c15.numbers
    assert "| 1.00 / 1.00 |" in c15.numbers  # ReLU against itself, min and median
    assert "min of 3" in c15.headline and "median in brackets" in c15.headline


def test_seed000_tanh_is_half_angle():
    x = jnp.linspace(-3, 3, 13)
    np.testing.assert_allclose((1 - jnp.exp(-x)) / (1 + jnp.exp(-x)), jnp.tanh(x / 2), atol=1e-6)
