"""``experiments.studies.convergence`` (C5, C8, C9): verdict rules, parameter counts, quick run."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import findings
from experiments.studies import convergence
from experiments.studies.convergence import FAILS, HOLDS, INCONCLUSIVE
from jaxact import linen

SEEDS = 5


def _noisy(mean: float, spread: float, n: int = SEEDS) -> np.ndarray:
    """Hand-made per-seed values: mean ± a fixed symmetric pattern of the given spread."""
    return mean + spread * np.linspace(-1, 1, n)


# -- combine -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parts, expected",
    [
        ({"a": HOLDS, "b": HOLDS}, "supported"),
        ({"a": HOLDS, "b": FAILS}, "depends"),
        ({"a": FAILS, "b": FAILS}, "not supported"),
        ({"a": FAILS, "b": INCONCLUSIVE}, "not supported"),
        ({"a": HOLDS, "b": INCONCLUSIVE}, "inconclusive"),
        ({"a": HOLDS, "b": FAILS, "c": INCONCLUSIVE}, "depends"),
        ({}, "inconclusive"),
    ],
)
def test_combine(parts, expected):
    assert convergence.combine(parts) == expected
    assert expected in findings.VERDICTS


def test_combine_rejects_unknown_outcomes():
    with pytest.raises(ValueError, match="parts"):
        convergence.combine({"a": "yes"})


# -- C5: step ratios ------------------------------------------------------------------


def test_log_ratio_summary_is_a_t_interval_on_log_ratios():
    relu = np.array([100, 110, 90, 100, 120])
    slow = relu * np.array([5.0, 6.0, 7.0, 6.0, 6.5])
    s = convergence.log_ratio_summary(slow.astype(int), relu, 10_000)
    logs = np.log([5.0, 6.0, 7.0, 6.0, 6.5])
    assert s.n == 5 and math.isclose(s.mean, logs.mean())
    h = 2.776445 * logs.std(ddof=1) / math.sqrt(5)
    assert math.isclose(s.ci_low, logs.mean() - h, rel_tol=1e-5)
    assert convergence.log_ratio_summary([-1, 300], [-1, 100], 1000) is None  # both censored


def test_ratio_part_holds_fails_and_inconclusive():
    relu = np.array([100, 110, 90, 100, 105])
    assert convergence.ratio_part(relu * 6, relu, 10_000) == HOLDS
    assert convergence.ratio_part(relu * 4, relu, 10_000) == HOLDS  # within a factor 2 of 6
    assert convergence.ratio_part((relu * 1.5).astype(int), relu, 10_000) == FAILS  # wholly < 3×
    assert convergence.ratio_part(relu * 20, relu, 10_000) == FAILS  # wholly > 12×
    # same mean ratio as "holds" on average but noisy seeds: the interval straddles 3×
    noisy = (relu * np.array([1.5, 9.0, 3.0, 1.5, 6.0])).astype(int)
    assert convergence.ratio_part(noisy, relu, 10_000) == INCONCLUSIVE


def test_ratio_part_censoring_only_decides_what_the_bound_allows():
    relu = np.array([100, 110, 90, 100, 105])
    # sigmoid never reaches the threshold in 600 steps: ratios ≈ 6 are lower bounds only
    assert convergence.ratio_part([-1] * 5, relu, 600) == INCONCLUSIVE
    # ... but a lower bound above 12× is decided
    assert convergence.ratio_part([-1] * 5, relu, 2000) == FAILS
    # relu censored (upper bound on the ratio): a ratio ≤ 3× is still decided
    assert convergence.ratio_part([100, 110, 90, 100, 105], [-1, -1, -1, -1, -1], 200) == FAILS
    assert convergence.ratio_part([-1] * 5, [-1] * 5, 200) == INCONCLUSIVE  # undefined


def test_c5_parts_and_verdict():
    relu = np.array([100, 110, 90, 100, 105])
    parts = convergence.c5_parts(relu, {"sigmoid": relu * 6, "tanh": relu * 2}, 5000)
    assert parts == {"sigmoid/relu about 6×": HOLDS, "tanh/relu about 6×": FAILS}
    assert convergence.combine(parts) == "depends"
    both = convergence.c5_parts(relu, {"sigmoid": relu * 7, "tanh": relu * 5}, 5000)
    assert convergence.combine(both) == "supported"


# -- C8 / C9: accuracies ----------------------------------------------------------------


def test_same_part_is_inconclusive_within_seed_noise():
    relu = _noisy(0.61, 0.01)
    assert convergence.same_part(relu + 0.005, relu) == HOLDS
    assert convergence.same_part(relu + 0.05, relu) == FAILS
    # the old rule's case: a mean gap just over 2 pp but large per-seed noise
    swish = relu + 0.0217 + np.array([0.02, -0.03, 0.01, 0.025, -0.025])
    assert convergence.same_part(swish, relu) == INCONCLUSIVE


def test_best_part():
    others = {"relu": _noisy(0.60, 0.01), "selu": _noisy(0.62, 0.01)}
    assert convergence.best_part(_noisy(0.65, 0.01), others) == HOLDS
    assert convergence.best_part(_noisy(0.55, 0.01), others) == FAILS
    noisy = 0.62 + np.array([0.03, -0.03, 0.02, -0.02, 0.001])
    assert convergence.best_part(noisy, others) == INCONCLUSIVE
    assert convergence.best_part(noisy, {}) == INCONCLUSIVE


def test_c8_rule():
    acc = {
        "relu": _noisy(0.61, 0.01),
        "swish": _noisy(0.615, 0.01),
        "selu": _noisy(0.63, 0.01),
        "maxout": _noisy(0.60, 0.01),
    }
    parts = convergence.c8_parts(acc, 2.0)
    assert parts == {
        "swish ≈ relu": HOLDS,
        "maxout best": FAILS,
        "maxout 2× weights": HOLDS,
    }
    assert convergence.combine(parts) == "depends"
    acc["maxout"] = _noisy(0.70, 0.01)
    assert convergence.combine(convergence.c8_parts(acc, 2.0)) == "supported"
    assert convergence.c8_parts(acc, 1.9)["maxout 2× weights"] == FAILS
    # swish within noise of the margin: the claim cannot be settled
    acc["swish"] = acc["relu"] + 0.0217 + np.array([0.02, -0.03, 0.01, 0.025, -0.025])
    assert convergence.combine(convergence.c8_parts(acc, 2.0)) == "inconclusive"
    # activations not trained: their parts are undecided
    assert convergence.c8_parts({"relu": acc["relu"]}, 2.0)["swish ≈ relu"] == INCONCLUSIVE


def test_c9_rule():
    good = {
        "identity": _noisy(0.32, 0.01),
        "sigmoid": _noisy(0.325, 0.01),
        "relu": _noisy(0.61, 0.01),
        "swish": _noisy(0.615, 0.01),
    }
    sig_best = {
        "identity": _noisy(0.30, 0.01),
        "sigmoid": _noisy(0.49, 0.01),
        "relu": _noisy(0.46, 0.01),
    }
    relu_best = {
        "identity": _noisy(0.30, 0.01),
        "sigmoid": _noisy(0.30, 0.01),
        "relu": _noisy(0.55, 0.01),
    }
    parts = convergence.c9_parts(good, {"uniform_pm1": sig_best})
    assert set(parts.values()) == {HOLDS}
    assert convergence.combine(parts) == "supported"
    parts = convergence.c9_parts(good, {"uniform_pm1": sig_best, "normal_tiny": relu_best})
    assert parts["normal_tiny: sigmoid best"] == FAILS
    assert convergence.combine(parts) == "depends"
    # sigmoid ahead of relu under a bad init but within seed noise: inconclusive
    close = dict(
        sig_best, relu=sig_best["sigmoid"] - 0.005 + np.array([0.03, -0.03, 0.02, -0.02, 0])
    )
    parts = convergence.c9_parts(good, {"uniform_pm1": close})
    assert parts["uniform_pm1: sigmoid best"] == INCONCLUSIVE
    assert convergence.combine(parts) == "inconclusive"
    # good init: sigmoid far above identity fails "sigmoid ≈ identity"
    far = dict(good, sigmoid=_noisy(0.55, 0.01))
    assert convergence.c9_parts(far, {})["good: sigmoid ≈ identity"] == FAILS
    assert convergence.c9_parts({}, {})["good: relu ≈ swish"] == INCONCLUSIVE


# -- models -------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [(100, 100), (7, 5, 3)])
def test_maxout_mlp_has_exactly_twice_the_hidden_weights(hidden):
    x = jnp.zeros((1, 40))
    shapes = lambda m: jax.eval_shape(lambda x: m.init(jax.random.key(0), x), x)["params"]
    pm = shapes(convergence.model("maxout", "he_normal", 10, hidden))
    pr = shapes(convergence.model("relu", "he_normal", 10, hidden))
    cm, cr = convergence.parameter_counts(pm), convergence.parameter_counts(pr)
    assert cm["hidden"] == 2 * cr["hidden"]
    assert cm["output"] == cr["output"] == hidden[-1] * 10 + 10
    assert cm["total"] == cr["total"] + cr["hidden"]
    for i in range(len(hidden)):  # layer by layer: kernel and bias each doubled
        for leaf in ("kernel", "bias"):
            m_shape = pm[f"maxout_{i}"]["dense"][leaf].shape
            r_shape = pr[f"dense_{i}"][leaf].shape
            assert m_shape[:-1] == r_shape[:-1] and m_shape[-1] == 2 * r_shape[-1]


def test_parameter_counts_counts_learnable_activation_leaves():
    p = linen.MLP((4, 4, 2), "prelu", learnable=True).init(jax.random.key(0), jnp.ones((1, 3)))
    counts = convergence.parameter_counts(p["params"])
    assert counts == {"total": 16 + 20 + 10 + 2, "hidden": 16 + 20 + 2, "output": 10}
    with pytest.raises(ValueError, match="MLP"):
        convergence.parameter_counts({"foo": {"kernel": jnp.ones(2)}})


# -- one quick end-to-end run ---------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("convergence")
    return out, convergence.run(out, quick=True)


def test_quick_run_writes_findings_and_figures(quick):
    out, found = quick
    assert [f.claim for f in found] == list(convergence.CLAIMS)
    assert findings.read(out / "findings.json") == found
    for f in found:
        assert f.verdict in findings.VERDICTS and f.numbers and f.condition and f.headline
        for fig in f.figures:
            assert (out / fig).stat().st_size > 0
    assert (out / "lr_choice.png").stat().st_size > 0
    assert "hidden-layer ratio 2.000" in found[1].numbers


def test_quick_run_reports_each_pairs_learning_rate_in_real_tables(quick):
    _, found = quick
    c5, _, c9 = found
    assert "| activation | init | lr chosen (grid) |" in c5.numbers
    for line in c9.numbers.splitlines():
        if line.startswith("| sigmoid | glorot_normal |"):
            cell = line.split("|")[3].strip()
            assert float(cell.split()[0]) in (0.03, 0.3)  # the chosen lr, from the grid
            break
    else:
        pytest.fail("C9's table lacks the sigmoid / glorot_normal row")
    for f in found:
        for line in f.numbers.splitlines():
            if line.startswith("|"):
                assert all(len(c) <= 400 for c in line.split("|"))
