r"""How fast and how well each activation trains an MLP on MNIST-1D (claims C5, C8, C9).

``python -m experiments.report --only convergence``

Every (activation, initialisation) pair trains an MLP of two hidden layers of
100 units with SGD with momentum 0.9 (as in Krizhevsky et al. 2012), batch
100, on MNIST-1D's 4,000 training rows split 3,200/800 into training and
validation (:meth:`experiments.data.Dataset.with_validation`); the 1,000 test
rows are never used to choose anything.

**Fair comparisons.** Each pair gets its own learning rate, chosen on
validation accuracy (mean over the seeds of the final validation accuracy) by
:func:`experiments.studies.analysis.choose_learning_rate` from the grid
:data:`GRID`, widened by up to :data:`MAX_WIDEN` values while the choice sits
on the grid's edge; every learning rate × seed of a grid is one compiled,
vmapped program. Every pair trains the same seeds :data:`SEEDS`, so differences
between activations are paired by seed (:func:`experiments.stats.paired_difference`).

At the chosen learning rate the study measures

* the steps until the *training* error first falls to 50 % and to 25 % (the
  threshold Krizhevsky et al. use on CIFAR-10); a run that never gets there
  counts as the horizon in the step ratios, which are then lower bounds;
* the final training, validation and test accuracy, per seed;
* the parameter count of each model, from its actual parameter tree (Maxout:
  two affine pieces per hidden unit).

Initialisations: *good* is He-normal for the ReLU family (relu, leaky_relu,
elu, swish, maxout), Glorot-normal for identity, sigmoid and tanh, and
LeCun-normal for selu; *bad* are the source's ``uniform_pm1`` (uniform on
[−1, 1]) and ``normal_tiny`` (std 0.01), run for identity, sigmoid, relu and
swish (the activations C9 is about).

The verdict rules (:func:`c5_parts`, :func:`c8_parts`, :func:`c9_parts`,
combined by :func:`combine`) are pure functions of per-seed arrays.

Claims: C5 "ReLU converges about 6× faster than sigmoid/tanh"; C8 "Swish ≈
ReLU; Maxout best but costs 2× weights"; C9 "with good initialisation ReLU ≈
Swish best, sigmoid ≈ identity; with bad initialisation sigmoid is best".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from experiments import findings as _findings
from experiments import stats
from experiments.studies.analysis import (
    GOOD_INIT,
    LearningRateChoice,
    choose_learning_rate,
    format_steps,
    step_ratio,
    steps_to_threshold,
)

CLAIMS = ("C5", "C8", "C9")

ACTIVATIONS = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "swish",
    "maxout",
)
#: The "good" initialisation of each activation is analysis.GOOD_INIT.
BAD_INITS = ("uniform_pm1", "normal_tiny")
#: The activations C9 is about (also the ones trained under the bad inits).
C9_GROUP = ("identity", "sigmoid", "relu", "swish")
HIDDEN = (100, 100)
BATCH = 100
#: SGD with momentum 0.9: the starting learning-rate grid of every pair.
GRID = (0.01, 0.03, 0.1, 0.3)
#: How many learning rates may be added beyond :data:`GRID` (one at a time, on the edge the choice sits on).
MAX_WIDEN = 3
SEEDS = (0, 1, 2, 3, 4)
STEPS = 1500
EVAL_EVERY = 25
ERROR_THRESHOLDS = (0.5, 0.25)
#: C5's threshold: steps to this training error.
C5_THRESHOLD = 0.25
#: C5: ReLU is "about 6×" faster ...
C5_TARGET = 6.0
#: ... which holds when the ratio's interval lies within a factor of 2 of it (3× to 12×).
C5_FACTOR = 2.0
#: C8/C9: two test accuracies are "about equal" within this margin (a fraction: 2 pp).
SAME = 0.02

#: What a part of a claim's rule found.
HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


# -- the model ---------------------------------------------------------------------


def model(activation: str, init: str, num_classes: int, hidden: Sequence[int] = HIDDEN):
    r"""The study's MLP for one activation and kernel initialisation.

    .. math::

       y = W_3 f(W_2 f(W_1 x + b_1) + b_2) + b_3

    Args:
      activation: registry name, or ``"maxout"`` (two pieces per hidden unit).
      init: kernel initialisation name (:func:`jaxact.initializers.names`).
      num_classes: output width.
      hidden: hidden widths.

    Returns:
      A :class:`jaxact.linen.MLP`.

    Examples:
      >>> model("maxout", "he_normal", 10).layer_sizes
      (100, 100, 10)
    """
    from jaxact import linen

    return linen.MLP(tuple(hidden) + (num_classes,), activation, kernel_init=init)


def parameter_counts(params) -> dict[str, int]:
    r"""Number of scalars in a params tree: total, and of the hidden layers.

    Hidden layers are every top-level entry except the output Dense (the entry
    with the highest index), i.e. ``dense_i``/``maxout_i`` for
    ``i < L - 1`` and the activations' own parameters.

    .. math::

       n = \sum_{\text{leaves}} \prod \text{shape}

    Args:
      params: a Linen :class:`~jaxact.linen.MLP` params tree (``variables["params"]``).

    Returns:
      ``{"total": n, "hidden": n_hidden, "output": n_out}``.

    Raises:
      ValueError: if ``params`` has no ``dense_i``/``maxout_i`` entries.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> p = linen.MLP((3, 2), "relu").init(jax.random.key(0), jnp.ones((1, 4)))["params"]
      >>> parameter_counts(p)
      {'total': 23, 'hidden': 15, 'output': 8}
    """

    def index(name: str) -> int:
        return int(name.rsplit("_", 1)[-1])

    layers = [k for k in params if k.startswith(("dense_", "maxout_"))]
    if not layers:
        raise ValueError("params must be an MLP params tree with dense_i / maxout_i entries")
    last = max(layers, key=index)
    size = lambda tree: int(sum(math.prod(np.shape(x)) for x in jax.tree.leaves(tree)))
    total = size(params)
    output = size(params[last])
    return {"total": total, "hidden": total - output, "output": output}


def _param_shapes(activation: str, init: str, num_features: int, num_classes: int):
    """The model's params tree as shapes only (no initialisation is run)."""
    m = model(activation, init, num_classes)
    x = jax.ShapeDtypeStruct((1, num_features), jnp.float32)
    return jax.eval_shape(lambda x: m.init(jax.random.key(0), x), x)["params"]


# -- measurement ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PairRun:
    """One (activation, initialisation) pair at its validation-chosen learning rate.

    Attributes:
      activation, init: the pair.
      choice: the learning-rate choice (grid, validation scores, edge).
      step: evaluation steps, ``(T,)``.
      train_error: training error of every seed, ``(S, T)``.
      reach: per threshold of :data:`ERROR_THRESHOLDS`, each seed's first step at
        or below it, ``(S,)`` (``-1``: not reached).
      train_acc, val_acc, test_acc: final accuracies, ``(S,)``.
      diverged: whether each seed diverged, ``(S,)``.
      params: :func:`parameter_counts` of the model.
    """

    activation: str
    init: str
    choice: LearningRateChoice
    step: np.ndarray
    train_error: np.ndarray
    reach: dict[float, np.ndarray]
    train_acc: np.ndarray
    val_acc: np.ndarray
    test_acc: np.ndarray
    diverged: np.ndarray
    params: dict[str, int]


@dataclasses.dataclass(frozen=True)
class Measured:
    """Everything :func:`measure` trained: the pairs, and the sizes it used."""

    runs: dict[tuple[str, str], PairRun]
    steps: int
    eval_every: int
    seeds: tuple[int, ...]

    def good(self, activation: str) -> PairRun | None:
        """The pair of ``activation`` with its good initialisation (``None`` if not trained)."""
        return self.runs.get((activation, GOOD_INIT[activation]))


def _pairs(quick: bool) -> list[tuple[str, str]]:
    if quick:
        return [("sigmoid", GOOD_INIT["sigmoid"]), ("relu", GOOD_INIT["relu"])]
    return [(a, GOOD_INIT[a]) for a in ACTIVATIONS] + [(a, b) for b in BAD_INITS for a in C9_GROUP]


def measure(quick: bool = False) -> Measured:
    """Trains every pair at its own validation-chosen learning rate (no verdicts, no prose).

    ``quick`` trains two pairs (sigmoid and relu with their good inits) for
    100 steps, two seeds, grid (0.03, 0.3) not widened.
    """
    from experiments import data
    from jaxact import sweep

    ds = data.load("mnist1d").with_validation()
    if quick:
        steps, eval_every, seeds, grid, widen = 100, 25, (0, 1), (0.03, 0.3), 0
    else:
        steps, eval_every, seeds, grid, widen = STEPS, EVAL_EVERY, SEEDS, GRID, MAX_WIDEN
    runs: dict[tuple[str, str], PairRun] = {}
    for act, init in _pairs(quick):
        setup = sweep.Setup(
            model=model(act, init, ds.num_classes),
            steps=steps,
            batch_size=BATCH,
            optimizer="momentum",
            eval_every=eval_every,
        )
        choice = choose_learning_rate(setup, ds, seeds, grid, max_widen=widen)
        h = choice.history[choice.learning_rate]
        fin = choice.final[choice.learning_rate]
        err = 1.0 - np.asarray(h["train_accuracy"], np.float64)
        step = np.asarray(h["step"][0])
        runs[(act, init)] = PairRun(
            activation=act,
            init=init,
            choice=choice,
            step=step,
            train_error=err,
            reach={th: steps_to_threshold(step, err, th) for th in ERROR_THRESHOLDS},
            train_acc=np.asarray(fin["train_accuracy"], np.float64),
            val_acc=np.asarray(fin["val_accuracy"], np.float64),
            test_acc=np.asarray(fin["test_accuracy"], np.float64),
            diverged=np.asarray(fin["diverged"], bool),
            params=parameter_counts(_param_shapes(act, init, ds.num_features, ds.num_classes)),
        )
    return Measured(runs=runs, steps=steps, eval_every=eval_every, seeds=tuple(seeds))


# -- verdict rules (pure functions of per-seed arrays) -----------------------------


def combine(parts: Mapping[str, str]) -> str:
    """A claim's verdict from its parts' outcomes (``holds``/``fails``/``inconclusive``).

    ``supported`` when every part holds; ``depends`` when some hold and some
    fail; ``not supported`` when some fail and none holds; ``inconclusive``
    otherwise (no part fails, at least one is undecided, or there are none).

    Examples:
      >>> combine({"a": "holds", "b": "holds"}), combine({"a": "holds", "b": "fails"})
      ('supported', 'depends')
      >>> combine({"a": "fails", "b": "inconclusive"}), combine({"a": "holds", "b": "inconclusive"})
      ('not supported', 'inconclusive')
    """
    vals = list(parts.values())
    bad = [v for v in vals if v not in (HOLDS, FAILS, INCONCLUSIVE)]
    if bad:
        raise ValueError(f"parts: expected outcomes in {(HOLDS, FAILS, INCONCLUSIVE)}, got {bad}")
    if vals and all(v == HOLDS for v in vals):
        return "supported"
    if FAILS in vals:
        return "depends" if HOLDS in vals else "not supported"
    return "inconclusive"


def log_ratio_summary(slow: ArrayLike, fast: ArrayLike, horizon: int) -> stats.Summary | None:
    r"""The t-summary of per-seed log step ratios :math:`\log(s^{\text{slow}}_k / s^{\text{fast}}_k)`.

    ``exp`` of its mean is the geometric-mean ratio and ``exp`` of its
    interval bounds that ratio's 95% interval. Not-reached runs count as the
    horizon (:func:`~experiments.studies.analysis.step_ratio`); ``None`` when
    some seed's ratio is undefined (both not reached, or the fast run at step 0).

    Examples:
      >>> s = log_ratio_summary([600, 660, 540], [100, 110, 90], 1000)
      >>> round(math.exp(s.mean), 3), s.n
      (6.0, 3)
    """
    ratio, _ = step_ratio(slow, fast, horizon)
    if ratio.size == 0 or not np.all(np.isfinite(ratio)) or np.any(ratio <= 0):
        return None
    return stats.summary(np.log(ratio))


def ratio_part(slow: ArrayLike, fast: ArrayLike, horizon: int) -> str:
    r"""Whether ``fast`` is "about :data:`C5_TARGET` ×" faster than ``slow``, from paired seeds.

    The interval of the geometric-mean step ratio (a t-interval on the
    per-seed log ratios) is held against :math:`[6/2, 6 \cdot 2]`:
    ``holds`` when it lies inside, ``fails`` when it lies wholly below 3× or
    wholly above 12×, ``inconclusive`` when it straddles a bound. Censored
    runs make a ratio a bound only: a slow run that never reached the
    threshold makes the ratio a lower bound, so only "wholly above 12×" can
    then be decided (and a censored fast run, only "wholly below 3×").
    Undefined ratios (both censored) give ``inconclusive``.

    Examples:
      >>> ratio_part([600, 660, 540, 600, 630], [100, 110, 90, 100, 105], 1000)
      'holds'
      >>> ratio_part([150, 165, 140, 150, 160], [100, 110, 90, 100, 105], 1000)
      'fails'
      >>> ratio_part([150, 900, 300, 150, 600], [100, 110, 90, 100, 105], 1000)
      'inconclusive'
    """
    slow_a, fast_a = np.asarray(slow, np.int64), np.asarray(fast, np.int64)
    s = log_ratio_summary(slow_a, fast_a, horizon)
    if s is None:
        return INCONCLUSIVE
    shifted = dataclasses.replace(
        s,
        mean=s.mean - math.log(C5_TARGET),
        ci_low=s.ci_low - math.log(C5_TARGET),
        ci_high=s.ci_high - math.log(C5_TARGET),
    )
    v = stats.verdict(shifted, math.log(C5_FACTOR))
    if np.any(slow_a < 0) and v != "greater":  # only a lower bound
        return INCONCLUSIVE
    if np.any(fast_a < 0) and v != "less":  # only an upper bound
        return INCONCLUSIVE
    return {"within": HOLDS, "greater": FAILS, "less": FAILS}.get(v, INCONCLUSIVE)


def c5_parts(relu: ArrayLike, others: Mapping[str, ArrayLike], horizon: int) -> dict[str, str]:
    """C5's parts: ``{name: ratio_part(steps[name], relu, horizon)}`` for sigmoid and tanh.

    Args:
      relu: relu's steps to :data:`C5_THRESHOLD` training error per seed (``-1``: not reached).
      others: the same for the slower activations (sigmoid, tanh), same seeds.
      horizon: steps trained.

    Examples:
      >>> c5_parts([100, 110], {"tanh": [150, 160]}, 1000)
      {'tanh/relu about 6×': 'fails'}
    """
    return {f"{a}/relu about 6×": ratio_part(s, relu, horizon) for a, s in others.items()}


def _cmp(a: ArrayLike, b: ArrayLike, threshold: float) -> str:
    return stats.compare(
        np.asarray(a, np.float64), np.asarray(b, np.float64), threshold, paired=True
    )


def same_part(a: ArrayLike, b: ArrayLike, margin: float = SAME) -> str:
    """``a ≈ b``: the paired interval of ``a − b`` lies within ``±margin`` (``holds``),
    wholly outside it (``fails``), or straddles it (``inconclusive``).

    Examples:
      >>> same_part([0.61, 0.62, 0.61], [0.61, 0.615, 0.605])
      'holds'
      >>> same_part([0.60, 0.66, 0.58], [0.61, 0.615, 0.605])
      'inconclusive'
    """
    return {"within": HOLDS, "greater": FAILS, "less": FAILS}.get(_cmp(a, b, margin), INCONCLUSIVE)


def best_part(best: ArrayLike, others: Mapping[str, ArrayLike]) -> str:
    """``best`` beats every one of ``others``: each paired difference's interval lies above 0.

    ``holds`` when every interval lies above 0; ``fails`` when some interval
    lies below 0 (another is significantly better); ``inconclusive`` otherwise
    (also with no ``others``).

    Examples:
      >>> best_part([0.7, 0.72, 0.71], {"a": [0.6, 0.61, 0.6], "b": [0.65, 0.66, 0.64]})
      'holds'
      >>> best_part([0.7, 0.72, 0.71], {"a": [0.6, 0.61, 0.6], "b": [0.75, 0.76, 0.76]})
      'fails'
      >>> best_part([0.7, 0.72, 0.71], {"a": [0.69, 0.74, 0.70]})
      'inconclusive'
    """
    verdicts = [_cmp(best, v, 0.0) for v in others.values()]
    if not verdicts:
        return INCONCLUSIVE
    if "less" in verdicts:
        return FAILS
    return HOLDS if all(v == "greater" for v in verdicts) else INCONCLUSIVE


def c8_parts(test_acc: Mapping[str, ArrayLike], hidden_ratio: float) -> dict[str, str]:
    """C8's parts from each good-init activation's per-seed test accuracy (same seeds).

    * ``swish ≈ relu``: :func:`same_part` with the margin :data:`SAME`;
    * ``maxout best``: :func:`best_part` of maxout against every other activation;
    * ``maxout 2× weights``: its hidden layers hold exactly twice relu's parameters.

    A part whose activations were not trained is ``inconclusive``.

    Examples:
      >>> acc = {"relu": [0.60, 0.61, 0.62], "swish": [0.605, 0.61, 0.615],
      ...        "maxout": [0.70, 0.71, 0.72]}
      >>> c8_parts(acc, 2.0)
      {'swish ≈ relu': 'holds', 'maxout best': 'holds', 'maxout 2× weights': 'holds'}
    """
    parts = {"swish ≈ relu": INCONCLUSIVE, "maxout best": INCONCLUSIVE}
    if "relu" in test_acc and "swish" in test_acc:
        parts["swish ≈ relu"] = same_part(test_acc["swish"], test_acc["relu"])
    if "maxout" in test_acc:
        others = {a: v for a, v in test_acc.items() if a != "maxout"}
        parts["maxout best"] = best_part(test_acc["maxout"], others)
    parts["maxout 2× weights"] = HOLDS if hidden_ratio == 2.0 else FAILS
    return parts


def c9_parts(
    good: Mapping[str, ArrayLike], bad: Mapping[str, Mapping[str, ArrayLike]]
) -> dict[str, str]:
    """C9's parts from per-seed test accuracies of :data:`C9_GROUP` (same seeds).

    Args:
      good: activation → test accuracy under its good initialisation.
      bad: bad initialisation → (activation → test accuracy).

    Returns:
      ``{part: outcome}``: under good init ``relu ≈ swish`` (:func:`same_part`),
      ``relu, swish best`` (each beats identity and sigmoid, :func:`best_part`),
      ``sigmoid ≈ identity``; under each bad init ``<init>: sigmoid best``
      (:func:`best_part` against the others). A part whose activations were
      not trained is ``inconclusive``.

    Examples:
      >>> g = {"identity": [0.3, 0.31, 0.3], "sigmoid": [0.305, 0.31, 0.30],
      ...      "relu": [0.6, 0.61, 0.62], "swish": [0.605, 0.61, 0.615]}
      >>> b = {"uniform_pm1": {"sigmoid": [0.5, 0.49, 0.5], "relu": [0.4, 0.41, 0.4]}}
      >>> combine(c9_parts(g, b))
      'supported'
    """
    parts: dict[str, str] = {}

    def have(*names: str, where: Mapping[str, ArrayLike] = good) -> bool:
        return all(n in where for n in names)

    parts["good: relu ≈ swish"] = (
        same_part(good["relu"], good["swish"]) if have("relu", "swish") else INCONCLUSIVE
    )
    if have("relu", "swish", "identity", "sigmoid"):
        low = {a: good[a] for a in ("identity", "sigmoid")}
        each = [best_part(good[a], low) for a in ("relu", "swish")]
        parts["good: relu, swish best"] = (
            FAILS if FAILS in each else HOLDS if all(e == HOLDS for e in each) else INCONCLUSIVE
        )
    else:
        parts["good: relu, swish best"] = INCONCLUSIVE
    parts["good: sigmoid ≈ identity"] = (
        same_part(good["sigmoid"], good["identity"])
        if have("sigmoid", "identity")
        else INCONCLUSIVE
    )
    for init, accs in bad.items():
        others = {a: v for a, v in accs.items() if a != "sigmoid"}
        parts[f"{init}: sigmoid best"] = (
            best_part(accs["sigmoid"], others) if "sigmoid" in accs else INCONCLUSIVE
        )
    return parts


# -- findings -----------------------------------------------------------------------


def _lr_cell(c: LearningRateChoice) -> str:
    edge = f", on the {c.on_edge} edge" if c.on_edge else ""
    return f"{c.learning_rate:g} ({c.grid[0]:g}–{c.grid[-1]:g}, {len(c.grid)} values{edge})"


def _acc(values: np.ndarray) -> str:
    return stats.format_ci(stats.summary(values))


def _ratio_text(s: stats.Summary | None, censored: bool) -> str:
    if s is None:
        return "undefined (some seed reached the threshold in neither run)"
    bound = "≥ " if censored else ""
    lo, hi = math.exp(s.ci_low), math.exp(s.ci_high)
    return f"{bound}×{math.exp(s.mean):.2f} (95% CI {lo:.2f}–{hi:.2f}, n={s.n})"


def _parts_text(parts: Mapping[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in parts.items())


def _c5(m: Measured, figs: list[str]) -> _findings.Finding:
    rows = [
        "| activation | init | lr chosen (grid) | steps to 50 % | steps to 25 % | final train acc |",
        "|---|---|---|---|---|---|",
    ]
    for a in ACTIVATIONS:
        r = m.good(a)
        if r is None:
            continue
        rows.append(
            f"| {a} | {r.init} | {_lr_cell(r.choice)} | {format_steps(r.reach[0.5], m.steps)} | "
            f"{format_steps(r.reach[0.25], m.steps)} | {_acc(r.train_acc)} |"
        )
    relu = m.good("relu")
    others = {a: r.reach[C5_THRESHOLD] for a in ("sigmoid", "tanh") if (r := m.good(a)) is not None}
    parts = c5_parts(relu.reach[C5_THRESHOLD], others, m.steps) if relu is not None else {}
    lines = ["\n".join(rows), ""]
    headline = []
    for a, s in others.items():
        if relu is None:
            break
        summ = log_ratio_summary(s, relu.reach[C5_THRESHOLD], m.steps)
        text = _ratio_text(summ, bool(np.any(np.asarray(s) < 0)))
        ratio, _ = step_ratio(s, relu.reach[C5_THRESHOLD], m.steps)
        per_seed = ", ".join(f"{v:.2f}" for v in ratio)
        lines.append(f"- {a}/relu steps to 25 % training error: {text}; per seed {per_seed}")
        headline.append(f"{a}/relu {text}")
    lines.append(f"- rule parts: {_parts_text(parts) or 'not measured'}")
    return _findings.Finding(
        claim="C5",
        statement="ReLU converges about 6× faster than sigmoid/tanh.",
        sources=("001",),
        numbers="\n".join(lines),
        verdict=combine(parts) if relu is not None else "inconclusive",
        condition=(
            "Rule, for sigmoid and for tanh: the per-seed ratio of steps to 25 % training error "
            "(theirs / relu's, same seeds, each at its own validation-chosen lr) is summarised as a "
            "geometric mean with a 95% t-interval on the log ratios; the part holds when that interval "
            f"lies within {C5_TARGET / C5_FACTOR:g}×–{C5_TARGET * C5_FACTOR:g}× (6× within a factor 2), "
            "fails when it lies wholly outside, and is inconclusive when it straddles a bound or a "
            f"censored run (not reached within {m.steps} steps, counted as {m.steps}) leaves only a "
            "bound. Supported when both hold, depends when one holds and one fails, not supported "
            "when none holds and one fails. MLP on MNIST-1D with SGD + momentum 0.9, not Krizhevsky "
            "et al.'s CNN on CIFAR-10."
        ),
        figures=tuple(f for f in figs if f.startswith(("train_error_good", "lr_choice"))),
        headline="steps to 25 % training error, " + ("; ".join(headline) or "not measured"),
    )


def _c8(m: Measured, hidden_ratio: float, counts: dict[str, dict[str, int]]) -> _findings.Finding:
    rows = ["| activation | lr chosen (grid) | parameters | test accuracy |", "|---|---|---|---|"]
    acc = {}
    for a in ACTIVATIONS:
        r = m.good(a)
        if r is None:
            continue
        acc[a] = r.test_acc
        rows.append(f"| {a} | {_lr_cell(r.choice)} | {r.params['total']:,} | {_acc(r.test_acc)} |")
    parts = c8_parts(acc, hidden_ratio)
    lines = ["\n".join(rows), ""]
    headline = "not measured"
    if "relu" in acc and "swish" in acc:
        d = stats.paired_difference(acc["swish"], acc["relu"])
        headline = f"test accuracy swish − relu {stats.format_difference(d, pct=True)}"
        lines.append(f"- swish − relu, paired by seed: {stats.format_difference(d, pct=True)}")
    if "maxout" in acc:
        for a in acc:
            if a != "maxout":
                d = stats.paired_difference(acc["maxout"], acc[a])
                lines.append(f"- maxout − {a}: {stats.format_difference(d, pct=True)}")
    pm, pr = counts["maxout"], counts["relu"]
    lines.append(
        f"- parameters (hidden {'/'.join(map(str, HIDDEN))}): maxout {pm['total']:,} (hidden "
        f"layers {pm['hidden']:,}) vs relu {pr['total']:,} (hidden {pr['hidden']:,}): hidden-layer "
        f"ratio {hidden_ratio:.3f}, total ratio {pm['total'] / pr['total']:.3f}"
    )
    lines.append(f"- rule parts: {_parts_text(parts)}")
    return _findings.Finding(
        claim="C8",
        statement="Swish ≈ ReLU; Maxout performs best but costs 2× the weights.",
        sources=("001",),
        numbers="\n".join(lines),
        verdict=combine(parts),
        condition=(
            "Rule on final test accuracy at each activation's validation-chosen lr, differences "
            "paired by seed with 95% t-intervals: swish ≈ relu holds when the interval of swish − relu "
            f"lies within ±{100 * SAME:g} pp (fails wholly outside, inconclusive across the margin); "
            "maxout best holds when maxout − x lies above 0 for every other activation x (fails if one "
            "lies below 0, else inconclusive); 2× weights holds when maxout's hidden layers hold "
            "exactly twice relu's parameters (the output layer is an ordinary Dense, so the total is "
            "less than 2×). Supported when all hold, depends when some hold and some fail."
        ),
        figures=("accuracy_params.png",),
        headline=headline + f"; maxout hidden-layer parameters ×{hidden_ratio:.2f}",
    )


def _c9(m: Measured, figs: list[str]) -> _findings.Finding:
    rows = ["| activation | init | lr chosen (grid) | test accuracy |", "|---|---|---|---|"]
    good = {a: r.test_acc for a in C9_GROUP if (r := m.good(a)) is not None}
    bad: dict[str, dict[str, np.ndarray]] = {}
    for init in BAD_INITS:
        accs = {a: m.runs[(a, init)].test_acc for a in C9_GROUP if (a, init) in m.runs}
        if accs:
            bad[init] = accs
    for (a, init), r in m.runs.items():
        if a not in C9_GROUP:
            continue
        div = f" ({int(r.diverged.sum())} diverged)" if r.diverged.any() else ""
        rows.append(f"| {a} | {init} | {_lr_cell(r.choice)} | {_acc(r.test_acc)}{div} |")
    parts = c9_parts(good, bad)
    lines = ["\n".join(rows), ""]
    if {"sigmoid", "identity"} <= set(good):
        d = stats.paired_difference(good["sigmoid"], good["identity"])
        lines.append(f"- good init, sigmoid − identity: {stats.format_difference(d, pct=True)}")
    if {"relu", "swish"} <= set(good):
        d = stats.paired_difference(good["relu"], good["swish"])
        lines.append(f"- good init, relu − swish: {stats.format_difference(d, pct=True)}")
    headline = []
    for init, accs in bad.items():
        if "sigmoid" not in accs or len(accs) < 2:
            continue
        # the strongest rival is picked on validation, never on test
        val = {a: m.runs[(a, init)].val_acc.mean() for a in accs if a != "sigmoid"}
        rival = max(val, key=val.get)
        d = stats.paired_difference(accs["sigmoid"], accs[rival])
        text = f"{init}: sigmoid − {rival} {stats.format_difference(d, pct=True)}"
        lines.append(f"- {text} ({rival}: best other on validation)")
        headline.append(text)
    lines.append(f"- rule parts: {_parts_text(parts)}")
    return _findings.Finding(
        claim="C9",
        statement=(
            "With good initialisation ReLU ≈ Swish are best and sigmoid ≈ identity; with bad "
            "initialisation sigmoid is best."
        ),
        sources=("001",),
        numbers="\n".join(lines),
        verdict=combine(parts),
        condition=(
            "Rule over identity, sigmoid, relu, swish (final test accuracy at each pair's "
            "validation-chosen lr, differences paired by seed with 95% t-intervals): under good init "
            f"relu ≈ swish and sigmoid ≈ identity hold when the difference lies within ±{100 * SAME:g} pp "
            "(fail wholly outside, else inconclusive), relu and swish are best when each beats identity "
            "and sigmoid (interval above 0); under each bad init sigmoid is best when it beats each "
            "other (interval above 0; fails if one beats it). Supported when all parts hold, depends "
            "when some hold and some fail."
        ),
        figures=tuple(f for f in figs if f.startswith("train_error_")) + ("accuracy_params.png",),
        headline="; ".join(headline) or "not measured",
    )


def _curve_figures(m: Measured, out: Path) -> list[str]:
    from experiments import figures

    names = []
    for kind in ("good",) + BAD_INITS:
        sel = {
            f"{a} (lr {r.choice.learning_rate:g})": r
            for (a, i), r in m.runs.items()
            if i == kind or (kind == "good" and i == GOOD_INIT[a])
        }
        if not sel:
            continue
        name = f"train_error_{kind}.png"
        figures.curves(
            out / name,
            next(iter(sel.values())).step,
            {k: r.train_error.mean(0) for k, r in sel.items()},
            band={k: r.train_error.std(0, ddof=1) for k, r in sel.items()},
            title=(
                f"MNIST-1D MLP, {kind} init, own lr: training error "
                f"(mean ± sample std, {len(m.seeds)} seeds)"
            ),
            xlabel="step",
            ylabel="training error",
        )
        names.append(name)
    return names


def _lr_figure(path: Path, m: Measured) -> str:
    from matplotlib.figure import Figure

    from experiments.figures import save

    kinds = ["good"] + [b for b in BAD_INITS if any(i == b for _, i in m.runs)]
    fig = Figure(figsize=(4.2 * len(kinds), 3.8), layout="constrained")
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    for ax, kind in zip(axes, kinds, strict=True):
        for (a, i), r in m.runs.items():
            if not (i == kind or (kind == "good" and i == GOOD_INIT[a])):
                continue
            c = r.choice
            s = np.where(np.isfinite(c.scores), c.scores, np.nan)
            (line,) = ax.plot(c.grid, 100 * s, marker="o", ms=3, label=a)
            j = c.grid.index(c.learning_rate)
            ax.plot([c.grid[j]], [100 * s[j]], marker="*", ms=11, color=line.get_color())
        ax.set_xscale("log")
        ax.set(title=f"{kind} init", xlabel="learning rate (SGD, momentum 0.9)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel(f"validation accuracy (%), mean of {len(m.seeds)} seeds")
    fig.suptitle("learning-rate choice per pair (star: chosen; missing point: diverged)")
    save(fig, path)
    return path.name


def _accuracy_bars(path: Path, m: Measured) -> str:
    from matplotlib.figure import Figure

    from experiments.figures import save

    runs = list(m.runs.values())
    labels = [f"{r.activation}\n{r.init}" for r in runs]
    summ = [stats.summary(r.test_acc) for r in runs]
    mean = [100 * s.mean for s in summ]
    half = [100 * s.half_width if math.isfinite(s.half_width) else 0.0 for s in summ]
    fig = Figure(figsize=(max(6.4, 0.55 * len(labels)), 4.4), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    ax.bar(x, mean, yerr=half, capsize=2, color="C0", alpha=0.8)
    for xi, r, mu, h in zip(x, runs, mean, half, strict=True):
        ax.text(
            xi,
            mu + h + 1,
            f"{r.params['total']:,}",
            ha="center",
            va="bottom",
            fontsize=6,
            rotation=90,
        )
    ax.set_xticks(x, labels, rotation=90, fontsize=6)
    ax.set(
        title=(
            f"final test accuracy at each pair's own lr (mean, 95% CI, n={len(m.seeds)}); "
            "bar label = parameter count"
        ),
        ylabel="test accuracy (%)",
    )
    ax.grid(alpha=0.3, axis="y")
    save(fig, path)
    return path.name


def findings(m: Measured, out: Path) -> list[_findings.Finding]:
    """The figures and the C5, C8, C9 findings of a measurement, written into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs = _curve_figures(m, out)
    figs.append(_lr_figure(out / "lr_choice.png", m))
    figs.append(_accuracy_bars(out / "accuracy_params.png", m))
    from experiments import data

    ds = data.load("mnist1d")
    counts = {
        a: parameter_counts(_param_shapes(a, GOOD_INIT[a], ds.num_features, ds.num_classes))
        for a in ("relu", "maxout")
    }
    hidden_ratio = counts["maxout"]["hidden"] / counts["relu"]["hidden"]
    return [_c5(m, figs), _c8(m, hidden_ratio, counts), _c9(m, figs)]


def run(out: Path, *, quick: bool = False) -> list[_findings.Finding]:
    """Runs the study into ``out``; returns the C5, C8 and C9 findings (also in ``findings.json``)."""
    found = findings(measure(quick=quick), Path(out))
    _findings.write(out, found)
    return found
