"""experiments.stats: t quantiles, intervals, paired and Welch differences, verdicts."""

import math

import numpy as np
import pytest

from experiments import stats


@pytest.mark.parametrize(
    "df, expected",
    # two-sided 95% critical values from a t table
    [(1, 12.706205), (2, 4.302653), (4, 2.776445), (9, 2.262157), (29, 2.045230), (120, 1.979930)],
)
def test_t_quantile_matches_the_table(df, expected):
    assert stats.t_quantile(0.975, df) == pytest.approx(expected, abs=2e-6)


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_closed_forms(p):
    # df = 1 is the Cauchy distribution; df = 2 has t = (2p − 1) / sqrt(2p(1 − p))
    assert stats.t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
    assert stats.t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)))
    assert stats.t_quantile(1 - p, 7) == pytest.approx(-stats.t_quantile(p, 7))


def test_summary_is_the_t_interval_with_sample_std():
    s = stats.summary([1.0, 2.0, 3.0])
    assert (s.mean, s.std, s.n) == (2.0, 1.0, 3)
    half = 4.302653 / math.sqrt(3)
    assert s.ci_low == pytest.approx(2 - half, abs=1e-6)
    assert s.ci_high == pytest.approx(2 + half, abs=1e-6)
    assert s.half_width == pytest.approx(half, abs=1e-6)
    # five seeds: std with ddof = 1, not the population std
    v = [67.5, 68.2, 68.0, 68.4, 67.9]
    s5 = stats.summary(v)
    assert s5.std == pytest.approx(np.std(v, ddof=1))
    assert s5.std != pytest.approx(np.std(v))
    assert s5.half_width == pytest.approx(2.776445 * s5.std / math.sqrt(5), rel=1e-6)


def test_summary_edge_cases():
    one = stats.summary([0.7])
    assert one.n == 1 and math.isnan(one.std)
    assert (one.ci_low, one.ci_high) == (-math.inf, math.inf)
    flat = stats.summary([0.5, 0.5, 0.5])
    assert (flat.std, flat.ci_low, flat.ci_high) == (0.0, 0.5, 0.5)


@pytest.mark.parametrize(
    "values, error, match",
    [
        ([], ValueError, "non-empty"),
        ([[1.0, 2.0]], ValueError, "1-D"),
        ([1.0, float("nan")], ValueError, "finite"),
        ([1.0, float("inf")], ValueError, "finite"),
        (["a", 1.0], TypeError, "numbers"),
    ],
)
def test_summary_bad_input(values, error, match):
    with pytest.raises(error, match=f"experiments.stats.summary: values must .*{match}"):
        stats.summary(values)


def test_paired_difference_removes_the_shared_seed_noise():
    a = np.array([61.0, 64.0, 58.0, 66.0, 60.0])
    b = a - 2.0 + np.array([0.1, -0.1, 0.0, 0.05, -0.05])
    paired = stats.paired_difference(a, b)
    welch = stats.welch_difference(a, b)
    assert paired.mean == pytest.approx(welch.mean) == pytest.approx(2.0)
    assert paired.half_width < 0.2 < welch.half_width
    assert stats.compare(a, b, threshold=1.0, paired=True) == "greater"
    assert stats.compare(a, b, threshold=1.0, paired=False) == "inconclusive"
    with pytest.raises(ValueError, match="paired_difference: a and b must hold one value"):
        stats.paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])


def test_welch_difference_against_a_hand_computation():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0]
    qa, qb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 3
    se = math.sqrt(qa + qb)
    df = (qa + qb) ** 2 / (qa**2 / 3 + qb**2 / 2)
    d = stats.welch_difference(a, b)
    assert d.mean == pytest.approx(-1.5)
    assert d.std == pytest.approx(se)
    assert d.half_width == pytest.approx(stats.t_quantile(0.975, df) * se)


def _diff(low, high):
    return stats.Summary((low + high) / 2, 1.0, 5, low, high)


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (2.5, 4.0, "greater"),  # wholly above +2
        (-4.0, -2.5, "less"),  # wholly below −2
        (-1.5, 1.9, "within"),  # wholly inside [−2, 2]
        (-2.0, 2.0, "within"),  # the margin itself counts as within
        (1.0, 3.0, "inconclusive"),  # straddles +2
        (-3.0, 0.0, "inconclusive"),  # straddles −2
        (-3.0, 3.0, "inconclusive"),  # straddles both
    ],
)
def test_verdict_rule(low, high, expected):
    assert stats.verdict(_diff(low, high), 2.0) == expected


def test_inconclusive_within_noise():
    # a 2.17 pp gap against a 2 pp margin with a 1.6 pp std over 3 seeds decides nothing
    relu = [59.6, 61.2, 62.8]
    swish = [63.2, 63.4, 63.6]
    assert abs(np.mean(swish) - np.mean(relu)) > 2.0
    assert stats.compare(swish, relu, threshold=2.0, paired=False) == "inconclusive"
    assert stats.compare(swish, relu, threshold=2.0, paired=True) == "inconclusive"
    # the same gap, measured tightly over 5 seeds, is decided
    relu5 = [61.2, 61.3, 61.1, 61.25, 61.15]
    swish5 = [63.4, 63.45, 63.35, 63.4, 63.3]
    assert stats.compare(swish5, relu5, threshold=2.0, paired=False) == "greater"
    # one seed bounds nothing
    assert stats.compare([63.4], [61.2], threshold=2.0, paired=True) == "inconclusive"


def test_verdict_and_compare_bad_input():
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0"):
        stats.verdict(_diff(0, 1), -1.0)
    with pytest.raises(TypeError, match="paired must be a bool"):
        stats.compare([1.0, 2.0], [1.0, 2.0], 1.0, paired="yes")
    with pytest.raises(ValueError, match="t_quantile: p must be in"):
        stats.t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="t_quantile: df must be > 0"):
        stats.t_quantile(0.975, 0)


def test_formatting():
    s = stats.Summary(0.68, 0.003, 5, 0.676, 0.684)
    assert stats.format_ci(s) == "68.0% ± 0.3% (95% CI 67.6–68.4, n=5)"
    assert stats.format_ci(s, pct=False, digits=3) == "0.680 ± 0.003 (95% CI 0.676–0.684, n=5)"
    d = stats.Summary(-0.0217, 0.01, 3, -0.061, 0.018)
    assert stats.format_difference(d, pct=True) == "−2.17 pp (95% CI −6.10 to 1.80, n=3)"
    assert stats.format_ci(stats.summary([3.0]), pct=False) == "3.0 (n=1, no interval)"
    neg = stats.Summary(-6.4, 0.1, 3, -7.0, -5.8)
    assert stats.format_ci(neg, pct=False) == "−6.4 ± 0.1 (95% CI −7.0 to −5.8, n=3)"
