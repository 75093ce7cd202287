"""``experiments.studies.zigzag`` (C4): same-sign gradient rows, the verdict rules, and a quick run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import findings, stats
from experiments.studies import zigzag


def test_same_sign_fraction_on_hand_built_rows():
    # columns (units): all +, mixed, all − with a zero entry, all zero (left out)
    g = jnp.array([[1.0, 1.0, -1.0, 0.0], [2.0, -3.0, 0.0, 0.0], [0.5, 1.0, -2.0, 0.0]])
    assert float(zigzag.same_sign_fraction(g)) == pytest.approx(2 / 3, rel=1e-6)
    stacked = jnp.stack([g, -g, jnp.zeros_like(g)])  # leading axes are pooled
    assert float(zigzag.same_sign_fraction(stacked)) == pytest.approx(2 / 3, rel=1e-6)
    assert np.isnan(float(zigzag.same_sign_fraction(jnp.zeros((3, 2)))))
    with pytest.raises(ValueError, match="fan_in"):
        zigzag.same_sign_fraction(jnp.ones(3))


def _per_example(name, seed=0):
    m = zigzag.model(name, 10)
    x = jax.random.normal(jax.random.key(seed), (64, 40))
    y = jnp.arange(64) % 10
    p = m.init(jax.random.key(seed + 1), x[:1])["params"]
    apply = lambda p, x: m.apply({"params": p}, x)
    return jax.jit(lambda p: zigzag.per_example_kernel_grads(apply, p, x, y))(p)


@pytest.mark.parametrize("name", ["sigmoid", "relu"])
def test_single_example_rows_share_one_sign_exactly(name):
    """a_i ≥ 0 ⇒ ∂L/∂W_ij = a_i δ_j has the sign of δ_j for every i, exactly."""
    g = np.asarray(_per_example(name))
    assert g.shape == (64, 64, 64)
    nonzero = np.any(g != 0, axis=1)
    same = np.all(g >= 0, axis=1) | np.all(g <= 0, axis=1)
    assert nonzero.sum() > 0
    assert np.all(same[nonzero])
    assert float(zigzag.same_sign_fraction(g)) == 1.0


@pytest.mark.parametrize("name", ["tanh", "sigmoid − ½"])
def test_zero_centred_single_example_rows_do_not(name):
    assert float(zigzag.same_sign_fraction(_per_example(name))) < 0.05


def test_centred_sigmoid_is_half_tanh_of_half():
    m = zigzag.OffsetMLP((5, 3), "sigmoid", 0.5)
    x = jnp.linspace(-4, 4, 10)[:, None]
    p = m.init(jax.random.key(0), x)["params"]
    h = jnp.tanh((x @ p["dense_0"]["kernel"] + p["dense_0"]["bias"]) / 2) / 2
    np.testing.assert_allclose(
        m.apply({"params": p}, x), h @ p["dense_1"]["kernel"] + p["dense_1"]["bias"], atol=1e-6
    )


# --- verdict rules on hand-made arrays (no training) --------------------------------------------

FAST = [800, 800, 900, 800, 850]


def test_mechanism_part_needs_exact_one_for_non_negative_inputs():
    exact = {"sigmoid": np.ones((5, 31)), "relu": np.ones((5, 31)), "tanh": np.zeros((5, 31))}
    assert zigzag.mechanism_part(exact) == "holds"
    almost = {**exact, "relu": np.r_[np.ones(30), 0.999][None]}
    assert zigzag.mechanism_part(almost) == "fails"
    assert zigzag.mechanism_part({**exact, "sigmoid − ½": [[0.1, 0.6]]}) == "fails"
    with_nan = {**exact, "sigmoid": [[1.0, np.nan]]}  # NaN: no non-zero row, ignored
    assert zigzag.mechanism_part(with_nan) == "holds"


def test_speed_comparison_greater_within_less_and_inconclusive():
    slow = [1300, 1300, 1400, 1300, 1350]
    assert zigzag.speed_comparison(slow, FAST, 3000) == "greater"
    assert zigzag.speed_comparison(FAST, slow, 3000) == "less"
    assert zigzag.speed_comparison(FAST, FAST, 3000) == "within"
    # mean ratio 1.34, but the seeds disagree: the interval straddles 1.2
    noisy = [1300, 700, 1500, 900, 1300]
    ratio, _ = zigzag.step_ratio(noisy, FAST, 3000)
    assert ratio.mean() > zigzag.SLOWER
    assert stats.summary(ratio).ci_low < zigzag.SLOWER < stats.summary(ratio).ci_high
    assert zigzag.speed_comparison(noisy, FAST, 3000) == "inconclusive"


def test_speed_comparison_censored_runs_decide_only_what_a_bound_can():
    # the slow runs never reached it: ratios are lower bounds; "within" could be overturned
    assert zigzag.speed_comparison([-1] * 5, [2800, 2900, 2800, 2900, 2850], 3000) == "inconclusive"
    assert zigzag.speed_comparison([-1] * 5, FAST, 3000) == "greater"
    # neither reached it in one seed: no ratio there
    assert zigzag.speed_comparison([-1, 1300, 1300], [-1, 800, 800], 3000) == "inconclusive"
    # one seed only: no interval
    assert zigzag.speed_comparison([1300], [800], 3000) == "inconclusive"


def test_sigmoid_and_relu_parts():
    gap = [0.25, 0.24, 0.26, 0.23, 0.25]
    slow = [1300, 1300, 1400, 1300, 1350]
    assert zigzag.sigmoid_part(slow, FAST, gap, [0.0] * 5, 3000) == "holds"
    assert zigzag.sigmoid_part(FAST, FAST, gap, [0.0] * 5, 3000) == "fails"  # not slower
    small_gap = [0.03, 0.02, 0.04, 0.03, 0.03]
    assert zigzag.sigmoid_part(slow, FAST, small_gap, [0.0] * 5, 3000) == "fails"
    noisy_gap = [0.12, 0.05, 0.2, 0.3, 0.01]
    assert zigzag.sigmoid_part(slow, FAST, noisy_gap, [0.0] * 5, 3000) == "inconclusive"
    assert zigzag.relu_part([0.30, 0.31, 0.29, 0.30, 0.32]) == "holds"
    assert zigzag.relu_part([0.03, 0.04, 0.03, 0.02, 0.03]) == "fails"
    assert zigzag.relu_part([0.02, 0.2, 0.05, 0.15, 0.1]) == "inconclusive"
    assert zigzag.relu_part([0.3, np.nan]) == "inconclusive"


@pytest.mark.parametrize(
    "parts, verdict",
    [
        (("holds", "holds", "holds"), "supported"),
        (("holds", "holds", "fails"), "depends"),
        (("holds", "fails", "holds"), "depends"),
        (("holds", "fails", "fails"), "not supported"),
        (("holds", "inconclusive", "fails"), "inconclusive"),
        (("holds", "holds", "inconclusive"), "inconclusive"),
        (("fails", "holds", "holds"), "not supported"),
    ],
)
def test_c4_verdict_table(parts, verdict):
    assert zigzag.c4_verdict(*parts) == verdict
    assert verdict in findings.VERDICTS


def test_c4_verdict_rejects_unknown_parts():
    with pytest.raises(ValueError, match="sigmoid"):
        zigzag.c4_verdict("holds", "greater", "holds")


def test_headline_has_an_interval():
    text = zigzag.headline([1.5, 1.6, 1.7], [False] * 3, 3.0, 10.0)
    assert "(lr 3)" in text and "(lr 10)" in text and "95% CI 1.35–1.85, n=3" in text
    assert "undefined" in zigzag.headline([np.nan, 1.0], [False, False], 1.0, 1.0)
    assert zigzag.headline([1.5, 1.6], [True, False], 1.0, 1.0).split(": ")[1].startswith("≥ ")


def test_learning_rate_is_chosen_by_the_validation_loss_curve(monkeypatch):
    """``validation_speed`` as ``choose_learning_rate``'s metric: lowest mean validation loss wins."""
    from types import SimpleNamespace

    from experiments.studies import analysis
    from jaxact import sweep

    def fake_run(setup, data, runs):
        lr = np.array([r["learning_rate"] for r in runs])
        # the validation loss falls fastest at lr 10 (log-distance from it); it ends equal everywhere
        fall = 1.0 + np.abs(np.log10(lr) - 1.0)[:, None]
        val_loss = np.concatenate(
            [2.0 * np.ones((lr.size, 1)), np.minimum(2.0, fall * [0.5, 0.8, 1.0])], 1
        )
        val_loss[:, -1] = 1.0
        groups = {}
        for i, r in enumerate(runs):
            groups.setdefault(r["learning_rate"], []).append(i)
        final = {"val_accuracy": np.full(lr.size, 0.5), "diverged": np.zeros(lr.size, bool)}
        return SimpleNamespace(
            state=SimpleNamespace(final=lambda: final),
            groups=lambda: [({"learning_rate": k}, v) for k, v in groups.items()],
            history={"val_loss": val_loss},
        )

    monkeypatch.setattr(sweep, "run", fake_run)
    c = analysis.choose_learning_rate(
        None, None, [0, 1], [0.1, 1.0], metric=zigzag.validation_speed, max_widen=3
    )
    assert c.learning_rate == 10.0 and c.grid == (0.1, 1.0, 10.0, 100.0) and c.on_edge == ""
    assert c.scores[2] == pytest.approx(-np.mean([2.0, 0.5, 0.8, 1.0]))


# --- one quick end-to-end run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("zigzag")
    return out, zigzag.run(out, quick=True)


def test_quick_run_writes_findings_and_figures(quick):
    out, found = quick
    assert [f.claim for f in found] == ["C4"]
    assert findings.read(out / "findings.json") == found
    for fig in found[0].figures:
        assert (out / fig).stat().st_size > 0
    assert found[0].verdict in findings.VERDICTS


def test_quick_run_states_the_chosen_rates_and_the_exact_mechanism(quick):
    _, found = quick
    f = found[0]
    # the exact part of the mechanism holds in the run itself, at every evaluation
    assert "| sigmoid | lr " in f.numbers and "| 1.000–1.000 |" in f.numbers
    assert "| sigmoid − ½ | lr " in f.numbers and "| 0.000–0.000 |" in f.numbers
    assert "from {1, 3}" in f.numbers and "sigmoid (lr " in f.headline
    assert "fixed before the run" in f.condition
    cells = [c for line in f.numbers.splitlines() if line.startswith("|") for c in line.split("|")]
    assert max(len(c) for c in cells) <= 400
