r"""The statistics of the claim studies: one place for means, intervals and verdicts.

Every figure reported over seeds is a :class:`Summary`: the mean, the sample
standard deviation (``ddof = 1``), the number of seeds ``n`` and a two-sided
95% Student-t confidence interval for the mean,

.. math::

   \bar x \pm t_{0.975,\,n-1}\, s / \sqrt{n}.

Two activations are compared through the interval of their difference:
:func:`paired_difference` when the runs share seeds (seed ``i`` of ``a``
and of ``b`` start from the same data order and initial weights, so their
difference removes the seed's own noise), :func:`welch_difference`
otherwise. :func:`compare` turns that interval into a verdict against a
margin: ``"greater"`` or ``"less"`` when the whole interval lies beyond
``±threshold``, ``"within"`` when it lies inside, and ``"inconclusive"`` when
it straddles ``threshold`` or ``-threshold``, so no claim is decided inside
seed noise.

The t quantile is ``scipy.special.stdtrit`` (SciPy is a dependency of JAX).

Examples:
  >>> s = summary([0.675, 0.68, 0.678, 0.684, 0.683])
  >>> format_ci(s)
  '68.0% ± 0.4% (95% CI 67.5–68.5, n=5)'
  >>> compare([1.0, 2.0, 3.0], [0.9, 1.8, 3.1], threshold=0.5, paired=True)
  'within'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "LEVEL",
    "VERDICTS",
    "Summary",
    "compare",
    "format_ci",
    "format_difference",
    "paired_difference",
    "sample_std",
    "summaries",
    "summary",
    "t_quantile",
    "verdict",
    "welch_difference",
]

LEVEL = 0.95
VERDICTS = ("greater", "less", "within", "inconclusive")


@dataclasses.dataclass(frozen=True)
class Summary:
    """Mean, sample std (``ddof = 1``), ``n`` and a two-sided 95% t-interval.

    With ``n = 1`` the std is NaN and the interval is ``(-inf, inf)``: one
    seed bounds nothing. With a zero std the interval is the mean itself.
    """

    mean: float
    std: float
    n: int
    ci_low: float
    ci_high: float

    @property
    def half_width(self) -> float:
        """Half the interval's width (``inf`` for ``n = 1``)."""
        return (self.ci_high - self.ci_low) / 2


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom.

    Examples:
      >>> round(t_quantile(0.975, 4), 6)
      2.776445
    """
    if not 0 < p < 1:
        raise ValueError(f"experiments.stats.t_quantile: p must be in (0, 1), got {p!r}")
    if not df > 0:
        raise ValueError(f"experiments.stats.t_quantile: df must be > 0, got {df!r}")
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


def _values(values: ArrayLike, fn: str, arg: str = "values") -> np.ndarray:
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"experiments.stats.{fn}: {arg} must be a 1-D sequence of numbers, got {values!r}"
        ) from None
    if v.ndim != 1 or v.size == 0:
        raise ValueError(
            f"experiments.stats.{fn}: {arg} must be a non-empty 1-D sequence (one value per "
            f"seed), got shape {v.shape}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError(
            f"experiments.stats.{fn}: {arg} must be finite (a run that diverged or never "
            f"reached its target needs its own rule), got {v.tolist()}"
        )
    return v


def _interval(mean: float, se: float, df: float) -> tuple[float, float]:
    if se == 0:
        return mean, mean
    if not math.isfinite(se) or not df > 0:
        return -math.inf, math.inf
    h = t_quantile(0.5 + LEVEL / 2, df) * se
    return mean - h, mean + h


def summary(values: ArrayLike) -> Summary:
    """Mean, sample std, ``n`` and the 95% t-interval of one figure over seeds.

    Examples:
      >>> s = summary([1.0, 2.0, 3.0])
      >>> s.mean, s.std, s.n
      (2.0, 1.0, 3)
      >>> round(s.ci_low, 4), round(s.ci_high, 4)
      (-0.4841, 4.4841)
      >>> format_ci(s, pct=False, digits=2)
      '2.00 ± 1.00 (95% CI −0.48 to 4.48, n=3)'
    """
    v = _values(values, "summary")
    n = v.size
    mean = float(v.mean())
    if n < 2:
        return Summary(mean, math.nan, 1, -math.inf, math.inf)
    std = float(v.std(ddof=1))
    low, high = _interval(mean, std / math.sqrt(n), n - 1)
    return Summary(mean, std, n, low, high)


def paired_difference(a: ArrayLike, b: ArrayLike) -> Summary:
    """The :func:`summary` of ``a[i] - b[i]``, for runs that share seed ``i``."""
    va, vb = _values(a, "paired_difference", "a"), _values(b, "paired_difference", "b")
    if va.shape != vb.shape:
        raise ValueError(
            "experiments.stats.paired_difference: a and b must hold one value per shared "
            f"seed, got {va.size} and {vb.size} values"
        )
    return summary(va - vb)


def welch_difference(a: ArrayLike, b: ArrayLike) -> Summary:
    """``mean(a) - mean(b)`` with Welch's t-interval, for independent runs.

    ``std`` is the standard error of the difference and ``n`` the smaller
    of the two sample sizes; the degrees of freedom are Welch–Satterthwaite's.
    """
    va, vb = _values(a, "welch_difference", "a"), _values(b, "welch_difference", "b")
    mean = float(va.mean() - vb.mean())
    n = min(va.size, vb.size)
    if n < 2:
        return Summary(mean, math.nan, n, -math.inf, math.inf)
    qa, qb = va.var(ddof=1) / va.size, vb.var(ddof=1) / vb.size
    se = math.sqrt(qa + qb)
    df = (qa + qb) ** 2 / (qa**2 / (va.size - 1) + qb**2 / (vb.size - 1)) if se > 0 else math.inf
    low, high = _interval(mean, se, df)
    return Summary(mean, se, n, low, high)


def verdict(difference: Summary, threshold: float) -> str:
    """Where the interval of a difference lies against the margin ``±threshold``.

    ``"greater"``: the whole interval is above ``threshold``; ``"less"``: below
    ``-threshold``; ``"within"``: inside ``[-threshold, threshold]``;
    ``"inconclusive"``: it straddles ``threshold`` or ``-threshold``.

    Examples:
      >>> verdict(Summary(2.17, 1.6, 3, -1.8, 6.1), threshold=2.0)
      'inconclusive'
      >>> verdict(Summary(5.0, 0.5, 5, 4.4, 5.6), threshold=2.0)
      'greater'
    """
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold >= 0):
        raise ValueError(
            f"experiments.stats.verdict: threshold must be a finite number >= 0, got {threshold!r}"
        )
    if difference.ci_low > threshold:
        return "greater"
    if difference.ci_high < -threshold:
        return "less"
    if -threshold <= difference.ci_low and difference.ci_high <= threshold:
        return "within"
    return "inconclusive"


def compare(a: ArrayLike, b: ArrayLike, threshold: float, paired: bool) -> str:
    """The verdict on ``mean(a) - mean(b)`` against the margin ``±threshold``.

    ``paired=True`` uses :func:`paired_difference` (runs sharing seeds),
    ``paired=False`` :func:`welch_difference`. See :func:`verdict`.

    Examples:
      >>> compare([61.2, 59.6, 62.8], [63.4, 63.2, 63.6], threshold=2.0, paired=False)
      'inconclusive'
    """
    if not isinstance(paired, bool):
        raise TypeError(f"experiments.stats.compare: paired must be a bool, got {paired!r}")
    diff = paired_difference(a, b) if paired else welch_difference(a, b)
    return verdict(diff, threshold)


def _num(x: float, digits: int) -> str:
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}f}".replace("-", "−")


def _range(low: float, high: float, digits: int) -> str:
    """``67.6–68.4``, or ``−7.0 to −5.8`` when a bound is negative (a dash would read as minus)."""
    sep = "–" if low >= 0 and high >= 0 else " to "
    return f"{_num(low, digits)}{sep}{_num(high, digits)}"


def format_ci(s: Summary, pct: bool = True, digits: int = 1, unit: str = "") -> str:
    """``"68.0% ± 0.3% (95% CI 67.6–68.4, n=5)"``: mean ± sample std, then the interval.

    Args:
      s: a :class:`Summary`.
      pct: the values are fractions, shown as percentages (× 100, ``%``).
      digits: decimals.
      unit: appended to the mean and the std when ``pct`` is False (e.g. ``" steps"``).

    Examples:
      >>> format_ci(summary([250.0, 250.0, 300.0]), pct=False, digits=0, unit=" steps")
      '267 steps ± 29 steps (95% CI 195–338, n=3)'
      >>> format_ci(summary([0.5]))
      '50.0% (n=1, no interval)'
    """
    k, u = (100.0, "%") if pct else (1.0, unit)
    mean = f"{_num(k * s.mean, digits)}{u}"
    if s.n < 2:
        return f"{mean} (n={s.n}, no interval)"
    return (
        f"{mean} ± {_num(k * s.std, digits)}{u} "
        f"({LEVEL:.0%} CI {_range(k * s.ci_low, k * s.ci_high, digits)}, n={s.n})"
    )


def format_difference(s: Summary, pct: bool = False, digits: int = 2, unit: str = "") -> str:
    """A difference and its interval: ``"+2.17 pp (95% CI −1.8 to 6.1, n=3)"`` style.

    With ``pct`` the values are fractions shown in percentage points (``pp``).

    Examples:
      >>> format_difference(paired_difference([0.70, 0.72, 0.71], [0.68, 0.69, 0.70]), pct=True)
      '+2.00 pp (95% CI −0.48 to 4.48, n=3)'
    """
    k, u = (100.0, " pp") if pct else (1.0, unit)
    mean = f"{k * s.mean:+.{digits}f}".replace("-", "−") + u
    if s.n < 2:
        return f"{mean} (n={s.n}, no interval)"
    low, high = _num(k * s.ci_low, digits), _num(k * s.ci_high, digits)
    return f"{mean} ({LEVEL:.0%} CI {low} to {high}, n={s.n})"


def summaries(rows: Sequence[ArrayLike]) -> list[Summary]:
    """:func:`summary` of each row (e.g. each activation's per-seed values)."""
    return [summary(r) for r in rows]


def sample_std(values: ArrayLike) -> float:
    """The sample standard deviation (``ddof = 1``) of the non-NaN values; NaN for fewer than 2.

    Examples:
      >>> sample_std([1.0, 2.0, 3.0]), sample_std([4.0])
      (1.0, nan)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[~np.isnan(v)]
    return float(np.std(v, ddof=1)) if v.size > 1 else math.nan
