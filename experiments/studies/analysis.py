r"""Analysis helpers shared by the claim studies.

* :func:`steps_to_threshold` and :func:`step_ratio`: how many steps a run needs
  to reach a training error or loss, and the ratio between two activations;
* :func:`format_steps`: such step counts as text;
* :func:`choose_learning_rate`: each activation's own learning rate, chosen on
  validation from a grid that is widened until the choice is not on its edge,
  every learning rate and seed of a grid being runs of one compiled program.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from experiments.stats import sample_std

__all__ = [
    "GOOD_INIT",
    "LearningRateChoice",
    "choose_learning_rate",
    "format_steps",
    "lr_score",
    "pick_learning_rate",
    "step_ratio",
    "steps_to_threshold",
]


#: The kernel initialisation each activation is meant to be used with: Glorot for
#: the identity and the sigmoid family, He for the ReLU family, LeCun for SELU.
GOOD_INIT = {
    "identity": "glorot_normal",
    "sigmoid": "glorot_normal",
    "tanh": "glorot_normal",
    "relu": "he_normal",
    "leaky_relu": "he_normal",
    "elu": "he_normal",
    "selu": "lecun_normal",
    "swish": "he_normal",
    "maxout": "he_normal",
}


def steps_to_threshold(
    steps: ArrayLike, values: ArrayLike, threshold: float, *, below: bool = True
) -> np.ndarray:
    r"""First step at which each run's curve reaches a threshold.

    .. math::

       s^\ast_k = \min\{\, s_t : v_{k,t} \le \theta \,\}
       \quad(\text{or } v_{k,t} \ge \theta \text{ with } \texttt{below=False}),

    and :math:`-1` where no evaluation reaches :math:`\theta` (not reached).

    Args:
      steps: the evaluation steps, shape ``(T,)`` (or ``(K, T)``, one row per run).
      values: the curves, shape ``(K, T)`` (or ``(T,)`` for one run).
      threshold: :math:`\theta`.
      below: reached when the value is ``<= threshold`` (errors, losses);
        ``False`` for ``>= threshold`` (accuracies).

    Returns:
      Integer array of shape ``(K,)`` (a scalar array for one curve); ``-1``
      marks a run that never reached the threshold. NaN values never reach it.

    Raises:
      ValueError: if the shapes do not fit or ``threshold`` is not finite.

    Examples:
      >>> steps_to_threshold([0, 10, 20], [[0.9, 0.4, 0.1], [0.9, 0.8, 0.7]], 0.5)
      array([10, -1])
    """
    values = np.asarray(values, np.float64)
    steps = np.asarray(steps)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    single = values.ndim == 1
    values2 = values[None] if single else values
    if values2.ndim != 2:
        raise ValueError(f"values must have shape (K, T) or (T,), got {values.shape}")
    steps2 = np.broadcast_to(steps, values2.shape) if steps.ndim <= 1 else steps
    if steps.ndim > 2 or steps2.shape != values2.shape:
        raise ValueError(
            f"steps must have shape (T,) or (K, T) matching values {values.shape}, got {steps.shape}"
        )
    with np.errstate(invalid="ignore"):
        hit = values2 <= threshold if below else values2 >= threshold
    first = np.argmax(hit, axis=1)
    out = np.where(hit.any(axis=1), steps2[np.arange(len(first)), first], -1).astype(np.int64)
    return out[0] if single else out


def step_ratio(slow: ArrayLike, fast: ArrayLike, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-seed ratios of steps-to-threshold, with "not reached" counted as the horizon.

    .. math::

       r_k = \frac{\tilde s^{\text{slow}}_k}{\tilde s^{\text{fast}}_k}, \qquad
       \tilde s = \begin{cases} s & s \ge 0 \\ N & s = -1 \text{ (not reached)} \end{cases}

    Args:
      slow: steps of the activation expected to be slower, ``(K,)``, ``-1`` = not reached.
      fast: steps of the reference activation, ``(K,)``.
      horizon: :math:`N`, the number of steps trained.

    Returns:
      ``(ratio, lower_bound)``: the ratios and a boolean mask that is true where
      only the slow run was censored (the true ratio is then at least ``ratio``);
      NaN where both runs were censored or the fast one reached it at step 0.

    Examples:
      >>> r, lb = step_ratio([600, -1], [100, 200], 1000)
      >>> r.tolist(), lb.tolist()
      ([6.0, 5.0], [False, True])
    """
    slow = np.asarray(slow, np.int64)
    fast = np.asarray(fast, np.int64)
    s = np.where(slow < 0, horizon, slow).astype(np.float64)
    f = np.where(fast < 0, horizon, fast).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((fast < 0) & (slow < 0) | (f <= 0), np.nan, s / f)
    return ratio, (slow < 0) & (fast >= 0)


def format_steps(steps: ArrayLike, horizon: int) -> str:
    """Steps to a threshold over seeds as text: mean ± sample std of the runs that reached it.

    Examples:
      >>> format_steps([100, 140, -1], 1000)
      '120 ± 28 (1 not reached)'
      >>> format_steps([-1, -1], 1000)
      'not reached within 1000'
    """
    s = np.asarray(steps)
    reached = s[s >= 0]
    if reached.size == 0:
        return f"not reached within {horizon}"
    text = f"{reached.mean():.0f} ± {sample_std(reached):.0f}"
    return text + (f" ({s.size - reached.size} not reached)" if reached.size < s.size else "")


def lr_score(values: ArrayLike, diverged: ArrayLike, *, lower_is_better: bool = False) -> float:
    """One learning rate's score: the mean over seeds, a diverged or non-finite run counting as worst.

    Examples:
      >>> lr_score([0.6, 0.8], [False, False])
      0.7
      >>> lr_score([0.6, 0.8], [False, True])
      -inf
    """
    v = np.asarray(values, np.float64) * (-1.0 if lower_is_better else 1.0)
    v = np.where(np.asarray(diverged, bool) | ~np.isfinite(v), -np.inf, v)
    return float(np.mean(v))


def pick_learning_rate(
    grid: Sequence[float], scores: Sequence[float], *, lower: float = 0.0, upper: float = math.inf
) -> tuple[int, str]:
    """The best learning rate of a grid, and which edge (if any) it sits on.

    The best is the highest score (the smallest learning rate among ties).
    The edge is ``"low"`` or ``"high"`` when the best is the grid's first or
    last value and the grid could still be widened that way (its next value
    would stay inside ``(lower, upper)``), else ``""``. A grid whose every
    score is ``-inf`` (every run diverged) points ``"low"``.

    Args:
      grid: learning rates in increasing order.
      scores: one score per learning rate (higher is better).
      lower, upper: learning rates the grid may not reach.

    Returns:
      ``(index of the best, edge)``.

    Examples:
      >>> pick_learning_rate([0.01, 0.1, 1.0], [0.5, 0.7, 0.6])
      (1, '')
      >>> pick_learning_rate([0.01, 0.1, 1.0], [0.5, 0.6, 0.7])
      (2, 'high')
      >>> pick_learning_rate([0.01, 0.1, 1.0], [0.5, 0.6, 0.7], upper=5.0)
      (2, '')
    """
    g = np.asarray(grid, np.float64)
    s = np.asarray(scores, np.float64)
    if g.ndim != 1 or g.size < 2 or s.shape != g.shape:
        raise ValueError(
            f"grid and scores: expected two 1-D sequences of one equal length >= 2, got {g.shape} "
            f"and {s.shape}"
        )
    if not np.all(np.diff(g) > 0) or g[0] <= 0:
        raise ValueError(
            f"grid: expected positive learning rates in increasing order, got {g.tolist()}"
        )
    if np.all(np.isneginf(s)):
        return 0, ("low" if g[0] / (g[1] / g[0]) > lower else "")
    best = int(np.argmax(s))  # first maximum: the smallest learning rate among ties
    if best == 0 and g[0] / (g[1] / g[0]) > lower:
        return best, "low"
    if best == g.size - 1 and g[-1] * (g[-1] / g[-2]) < upper:
        return best, "high"
    return best, ""


@dataclasses.dataclass(frozen=True)
class LearningRateChoice:
    """The outcome of :func:`choose_learning_rate`.

    Attributes:
      learning_rate: the chosen learning rate.
      grid: every learning rate tried, in increasing order.
      scores: the validation score of each (mean over seeds, diverged = ``-inf``).
      on_edge: ``"low"``/``"high"`` if the choice is still on the grid's edge
        after the allowed widenings (the report must say so), else ``""``.
      final: per learning rate, the final metrics of its seeds (arrays of shape ``(S,)``).
      history: per learning rate, its seeds' history (arrays of shape ``(S, T, ...)``).
    """

    learning_rate: float
    grid: tuple[float, ...]
    scores: tuple[float, ...]
    on_edge: str
    final: dict[float, dict[str, np.ndarray]]
    history: dict[float, dict[str, np.ndarray]]

    def describe(self) -> str:
        """One line for a report: the grid and the chosen value.

        Examples:
          >>> c = LearningRateChoice(0.1, (0.01, 0.1, 1.0), (0.5, 0.7, 0.6), "", {}, {})
          >>> c.describe()
          'lr 0.1 from {0.01, 0.1, 1}'
        """
        grid = ", ".join(f"{g:g}" for g in self.grid)
        edge = f" (on the grid's {self.on_edge} edge)" if self.on_edge else ""
        return f"lr {self.learning_rate:g} from {{{grid}}}{edge}"


def choose_learning_rate(
    setup: Any,
    data: Any,
    seeds: Sequence[int],
    grid: Sequence[float],
    *,
    metric: str | Callable[[dict[str, np.ndarray]], np.ndarray] = "val_accuracy",
    max_widen: int = 3,
    lower: float = 0.0,
    upper: float = math.inf,
    on_grid: Callable[[Sequence[float]], None] | None = None,
    values: dict[str, float] | None = None,
) -> LearningRateChoice:
    r"""A learning rate chosen on validation from a grid widened until it brackets the optimum.

    Every (learning rate, seed) pair of ``grid`` is one run of one compiled
    :func:`jaxact.sweep.run`. The score of a learning rate is its seeds' mean
    final ``metric`` (diverged runs count as worst). While the best lies on
    the grid's first or last value, the grid is extended by one more value in
    that direction (same geometric step), up to ``max_widen`` times; those
    runs reuse one compiled program.

    Args:
      setup: a :class:`jaxact.sweep.Setup` whose optimiser takes ``learning_rate``.
      data: data with a validation split.
      seeds: the training seeds (the same for every learning rate).
      grid: the starting learning rates, increasing, at least two.
      metric: the validation metric (``val_accuracy``; a name ending in
        ``loss`` is minimised), or a function of one learning rate's history
        (arrays ``(S, T)``) returning one score per seed, higher is better
        (e.g. minus the mean validation loss over the evaluations).
      max_widen: how many values may be added beyond the starting grid.
      lower, upper: learning rates the grid may not reach.
      on_grid: called with each batch of learning rates before it trains.
      values: initial parameter values given to every run (e.g. ``{"alpha": -1.0}``,
        see :func:`jaxact.sweep.grid`): setups that differ only in them share a program.

    Returns:
      A :class:`LearningRateChoice`.
    """
    from jaxact import sweep

    lrs = sorted(float(g) for g in grid)
    if len(lrs) < 2 or len(set(lrs)) != len(lrs) or lrs[0] <= 0:
        raise ValueError(
            f"grid: expected at least two distinct positive learning rates, got {grid!r}"
        )
    if not isinstance(max_widen, int) or max_widen < 0:
        raise ValueError(f"max_widen: expected an integer >= 0, got {max_widen!r}")
    seeds = [int(s) for s in seeds]
    final: dict[float, dict[str, np.ndarray]] = {}
    history: dict[float, dict[str, np.ndarray]] = {}

    def train(batch: Sequence[float]) -> None:
        if on_grid is not None:
            on_grid(batch)
        fixed = {k: [v] for k, v in (values or {}).items()}
        res = sweep.run(setup, data, sweep.grid(**fixed, learning_rate=list(batch), seed=seeds))
        fin = res.state.final()
        if not callable(metric) and metric not in fin:
            raise ValueError(f"metric: expected one of {sorted(fin)}, got {metric!r}")
        for cfg, idx in res.groups():
            lr = float(cfg["learning_rate"])
            final[lr] = {k: np.asarray(v)[idx] for k, v in fin.items()}
            history[lr] = {k: np.asarray(v)[idx] for k, v in res.history.items()}

    def scores() -> list[float]:
        if callable(metric):
            return [lr_score(metric(history[g]), final[g]["diverged"]) for g in lrs]
        low = metric.endswith("loss")
        return [lr_score(final[g][metric], final[g]["diverged"], lower_is_better=low) for g in lrs]

    train(lrs)
    for _ in range(max_widen + 1):
        best, edge = pick_learning_rate(lrs, scores(), lower=lower, upper=upper)
        if not edge or len(lrs) - len(grid) >= max_widen:
            break
        new = lrs[0] ** 2 / lrs[1] if edge == "low" else lrs[-1] ** 2 / lrs[-2]
        new = float(f"{new:.3g}")
        lrs = sorted([*lrs, new])
        train([new])
    best, edge = pick_learning_rate(lrs, scores(), lower=lower, upper=upper)
    return LearningRateChoice(
        learning_rate=lrs[best],
        grid=tuple(lrs),
        scores=tuple(scores()),
        on_edge=edge,
        final=final,
        history=history,
    )
