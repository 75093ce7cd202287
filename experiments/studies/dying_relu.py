r"""Dead hidden units during training, ReLU vs LeakyReLU vs PReLU (claim C6).

``python -m experiments.report --only dying_relu``

An MLP with two hidden layers of 100 units (He-normal init) is trained on
MNIST-1D (3,200 training rows, 800 validation rows carved from the training
split, 1,000 test rows) with Adam over a grid of learning rates; for each
activation, every learning rate × seed is one vmapped run of a single
compiled program. At every evaluation a ``metrics`` hook runs the whole
training set through the hidden layers and counts, per layer, the units that
are

* **dead (zero output)**: :math:`f(z_j(x)) = 0` for every training input
  :math:`x` (for ReLU this is the dying-ReLU state);
* **never positive**: :math:`z_j(x) \le 0` for every training input (the
  negative regime; for ReLU the same set as above);
* **gradient-carrying**: :math:`f'(z_j(x)) \ne 0` for at least one input, so
  the unit's incoming weights still receive gradient.

A Leaky/PReLU unit in the negative regime still passes gradient
(:math:`f' = \alpha`), so it is not dead in the sense that matters: the
verdict compares the *no-gradient* fraction (one minus gradient-carrying) of
the three activations, which for ReLU is its dead fraction.

Dying is a large-step phenomenon, and at a large enough step ReLU's network
does not train at all; so the claim is judged twice: at the largest learning
rate at which ReLU still trains above chance (its validation accuracy's 95%
interval above :math:`1/C` + :data:`CHANCE_MARGIN`), and at the grid's
extreme.

The study is split as every claim study (:mod:`experiments.studies`):
:func:`measure` (training), the verdict rules :func:`largest_trainable`,
:func:`dying_at` and :func:`c6_verdict` (pure functions of arrays), and
:func:`findings` (figures and the finding).

Claim C6 (seed 002): "ReLU units die (a node whose weighted sum is negative is
no longer updated); LeakyReLU/PReLU prevent it".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

import jaxact
from experiments import findings as _findings
from experiments import stats
from jaxact import sweep

CLAIMS = ("C6",)
ACTIVATIONS = ("relu", "leaky_relu", "prelu")
LEARNING_RATES = (1e-3, 1e-2, 2e-2, 5e-2, 1e-1, 3e-1)
HIDDEN = (100, 100)
SEEDS = (0, 1, 2, 3, 4)
STEPS = 1500
EVAL_EVERY = 100
BATCH = 100
#: ReLU's no-gradient fraction must exceed another activation's by this margin (paired 95% interval).
MIN_DEAD = 0.05
#: "trains above chance": the validation accuracy's 95% interval lies above 1/C + this.
CHANCE_MARGIN = 0.10


def hidden_preactivations(
    params: Mapping, x: ArrayLike, activation: str, **fixed: ArrayLike
) -> list[jax.Array]:
    r"""Pre-activations :math:`z_i` of every hidden layer of a :class:`jaxact.linen.MLP`.

    .. math::

       h_0 = x,\quad z_{i} = h_i W_i + b_i,\quad h_{i+1} = f(z_i;\ \alpha_i)

    with :math:`\alpha_i` read from ``params["act_i"]`` when the activation is
    learnable there, else from ``fixed`` (else the registry default).

    Args:
      params: the MLP's ``variables["params"]`` (``dense_i``, optional ``act_i``).
      x: inputs, shape ``(N, D)``.
      activation: registry name of the hidden activation.
      **fixed: fixed activation parameters (as ``activation_params`` of the MLP).

    Returns:
      One array ``(N, width_i)`` per hidden layer.

    Raises:
      ValueError: if ``params`` has no ``dense_i`` entries.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> p = linen.MLP((4, 3, 2), "relu").init(jax.random.key(0), jnp.ones((1, 5)))["params"]
      >>> [z.shape for z in hidden_preactivations(p, jnp.ones((7, 5)), "relu")]
      [(7, 4), (7, 3)]
    """
    record = jaxact.get(activation)
    dense = sorted((k for k in params if k.startswith("dense_")), key=lambda k: int(k[6:]))
    if not dense:
        raise ValueError("params must be an MLP params tree with dense_i entries")
    h = jnp.asarray(x)
    zs = []
    for i, name in enumerate(dense[:-1]):
        z = h @ params[name]["kernel"] + params[name]["bias"]
        zs.append(z)
        h = record.fn(z, **_layer_params(record, params, i, fixed))
    return zs


def _layer_params(record, params: Mapping, i: int, fixed: Mapping) -> dict:
    values = {**record.params, **fixed}
    values.update(params.get(f"act_{i}", {}))
    return {k: v for k, v in values.items() if k in record.params}


def dead_unit_fractions(
    params: Mapping, x: ArrayLike, activation: str, **fixed: ArrayLike
) -> dict[str, jax.Array]:
    r"""Per hidden layer: fractions of dead, never-positive and gradient-carrying units.

    .. math::

       \text{dead}_j = \forall x:\ f(z_j(x)) = 0, \qquad
       \text{never positive}_j = \forall x:\ z_j(x) \le 0, \qquad
       \text{carrying}_j = \exists x:\ f'(z_j(x)) \ne 0

    over the rows of ``x`` (use the whole training set).

    Args:
      params: a :class:`jaxact.linen.MLP` params tree.
      x: inputs ``(N, D)``.
      activation: registry name of the hidden activation.
      **fixed: fixed activation parameters.

    Returns:
      ``{"dead_zero_output", "dead_never_positive", "gradient_carrying"}``,
      each of shape ``(hidden_layers,)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> p = {"dense_0": {"kernel": jnp.array([[1.0, -1.0]]), "bias": jnp.zeros(2)},
      ...      "dense_1": {"kernel": jnp.ones((2, 1)), "bias": jnp.zeros(1)}}
      >>> fr = dead_unit_fractions(p, jnp.array([[1.0], [2.0]]), "relu")
      >>> fr["dead_zero_output"].tolist(), fr["gradient_carrying"].tolist()
      ([0.5], [0.5])
    """
    record = jaxact.get(activation)
    zs = hidden_preactivations(params, x, activation, **fixed)
    out: dict[str, list] = {
        "dead_zero_output": [],
        "dead_never_positive": [],
        "gradient_carrying": [],
    }
    for i, z in enumerate(zs):
        p = _layer_params(record, params, i, fixed)
        out["dead_zero_output"].append(jnp.mean(jnp.all(record.fn(z, **p) == 0, axis=0)))
        out["dead_never_positive"].append(jnp.mean(jnp.all(z <= 0, axis=0)))
        out["gradient_carrying"].append(jnp.mean(jnp.any(record.dfdx(z, **p) != 0, axis=0)))
    return {k: jnp.stack(v) for k, v in out.items()}


@dataclasses.dataclass(frozen=True)
class DeadUnitMetrics:
    r"""Engine ``metrics`` hook: :func:`dead_unit_fractions` on the whole training set.

    .. math::

       m(\theta) = \text{dead\_unit\_fractions}(\theta, X_{\text{train}})

    Args:
      activation: registry name of the MLP's hidden activation.

    Returns:
      On call ``(apply, params, data)``, the dict of :func:`dead_unit_fractions`.

    Examples:
      >>> DeadUnitMetrics("relu") == DeadUnitMetrics("relu")
      True
    """

    activation: str

    def __call__(self, apply, params, data) -> dict[str, jax.Array]:
        return dead_unit_fractions(params, data["x_train"], self.activation)


def model(activation: str, num_classes: int):
    r"""The study's MLP (two hidden layers of 100, He-normal): PReLU's α is learned, LeakyReLU's fixed.

    .. math::

       y = W_3 f(W_2 f(W_1 x + b_1) + b_2) + b_3

    Args:
      activation: one of :data:`ACTIVATIONS`.
      num_classes: output width.

    Returns:
      A :class:`jaxact.linen.MLP`.

    Examples:
      >>> model("prelu", 10).learnable
      True
    """
    from jaxact import linen

    return linen.MLP(
        HIDDEN + (num_classes,),
        activation,
        learnable=activation == "prelu",
        kernel_init="he_normal",
    )


@dataclasses.dataclass(frozen=True)
class Measured:
    """What :func:`measure` trained; per-run arrays are ``(L, S, ...)``: learning rate × seed.

    Attributes:
      learning_rates: the Adam learning rates ``(L,)``, increasing.
      seeds: the training seeds ``(S,)``, shared by every activation and learning rate.
      steps: steps trained.
      num_classes: classes of the task (chance is ``1 / num_classes``).
      step: the evaluation steps ``(T,)``.
      runs: activation -> ``{"no_gradient", "dead_zero_output", "never_positive"}``
        (fractions of all hidden units, ``(L, S, T)``), ``"dead_by_layer"`` (the
        final zero-output fraction per hidden layer, ``(L, S, layers)``),
        ``"val_accuracy"``, ``"test_accuracy"``, ``"diverged"`` (final, ``(L, S)``)
        and for PReLU ``"alpha"`` (final, mean over layers, ``(L, S)``).
    """

    learning_rates: tuple[float, ...]
    seeds: tuple[int, ...]
    steps: int
    num_classes: int
    step: np.ndarray
    runs: dict[str, dict[str, np.ndarray]]

    def final(self, act: str, key: str = "no_gradient") -> np.ndarray:
        """``(L, S)``: the value at the end of training."""
        a = self.runs[act][key]
        return a[:, :, -1] if a.ndim == 3 else a


def measure(quick: bool = False) -> Measured:
    """Trains every activation over the learning-rate grid and seeds (one program per activation).

    ``quick`` runs 200 steps, 2 seeds and the learning rates {0.01, 0.3}.
    """
    from experiments import data

    ds = data.load("mnist1d").with_validation()
    if quick:
        steps, eval_every, seeds, lrs = 200, 50, (0, 1), (1e-2, 3e-1)
    else:
        steps, eval_every, seeds, lrs = STEPS, EVAL_EVERY, SEEDS, LEARNING_RATES
    L, S = len(lrs), len(seeds)
    runs: dict[str, dict[str, np.ndarray]] = {}
    step = np.zeros(0)
    for act in ACTIVATIONS:
        setup = sweep.Setup(
            model=model(act, ds.num_classes),
            steps=steps,
            batch_size=BATCH,
            optimizer="adam",
            eval_every=eval_every,
            metrics=DeadUnitMetrics(act),
        )
        trainer = sweep.Trainer(setup, ds)
        state = trainer.init(seeds=np.tile(seeds, L), learning_rate=np.repeat(lrs, S))
        h = trainer.run(state).history
        step = np.asarray(h["step"][0])
        per = lambda a: np.asarray(a).reshape((L, S) + np.shape(a)[1:])  # noqa: E731
        r = {
            # mean over the (equal-width) hidden layers: fractions of all hidden units
            "no_gradient": per(1.0 - np.asarray(h["gradient_carrying"]).mean(-1)),
            "dead_zero_output": per(np.asarray(h["dead_zero_output"]).mean(-1)),
            "never_positive": per(np.asarray(h["dead_never_positive"]).mean(-1)),
            "dead_by_layer": per(np.asarray(h["dead_zero_output"])[:, -1]),
            "val_accuracy": per(np.asarray(h["val_accuracy"])[:, -1]),
            "test_accuracy": per(np.asarray(h["test_accuracy"])[:, -1]),
            "diverged": per(np.asarray(h["diverged"])[:, -1]),
        }
        if "alpha" in h:  # PReLU's learned slope, mean over layers
            r["alpha"] = per(np.asarray(h["alpha"])[:, -1].mean(-1))
        runs[act] = r
    return Measured(tuple(float(v) for v in lrs), tuple(seeds), steps, ds.num_classes, step, runs)


# --- verdict rules: pure functions of arrays ---------------------------------------------------


def trains_above_chance(
    val_accuracy: ArrayLike, num_classes: int, margin: float = CHANCE_MARGIN
) -> bool:
    r"""Whether a network trains: its validation accuracy's 95% interval lies above chance + margin.

    .. math::

       \text{CI}_{\text{low}}\big(\text{acc}^{\text{val}}\big) > \frac{1}{C} + \text{margin}

    Examples:
      >>> trains_above_chance([0.62, 0.65, 0.64, 0.63, 0.66], 10)
      True
      >>> trains_above_chance([0.10, 0.31, 0.10, 0.12, 0.25], 10)  # some seeds at chance
      False
    """
    v = np.asarray(val_accuracy, np.float64)
    if not np.all(np.isfinite(v)):
        return False
    return stats.summary(v).ci_low > 1.0 / num_classes + margin


def largest_trainable(
    learning_rates: Sequence[float],
    val_accuracy: ArrayLike,
    num_classes: int,
    margin: float = CHANCE_MARGIN,
) -> int | None:
    """Index of the largest learning rate at which the network trains above chance (None: none).

    Args:
      learning_rates: increasing, ``(L,)``.
      val_accuracy: final validation accuracy per learning rate and seed, ``(L, S)``.
      num_classes: chance is ``1 / num_classes``.
      margin: see :func:`trains_above_chance`.

    Examples:
      >>> acc = [[0.60, 0.61, 0.62], [0.50, 0.55, 0.52], [0.10, 0.10, 0.11]]
      >>> largest_trainable([0.001, 0.01, 0.1], acc, 10)
      1
      >>> largest_trainable([0.1, 0.3], [[0.1, 0.1], [0.1, 0.1]], 10) is None
      True
    """
    acc = np.asarray(val_accuracy, np.float64)
    if acc.ndim != 2 or acc.shape[0] != len(learning_rates):
        raise ValueError(
            f"val_accuracy: expected shape (L, S) with L = {len(learning_rates)}, got {acc.shape}"
        )
    ok = [i for i in range(len(learning_rates)) if trains_above_chance(acc[i], num_classes, margin)]
    return max(ok) if ok else None


def _compare(a: ArrayLike, b: ArrayLike, threshold: float) -> str:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return "inconclusive"
    return stats.compare(a, b, threshold, paired=True)


def dying_at(
    relu: ArrayLike, leaky_relu: ArrayLike, prelu: ArrayLike, threshold: float = MIN_DEAD
) -> str:
    """C6 at one learning rate, from the per-seed no-gradient fractions ``(S,)`` of the three.

    Each of ReLU − LeakyReLU and ReLU − PReLU (paired over the shared seeds) is
    placed against ``±threshold`` by :func:`experiments.stats.compare`.
    ``"supported"`` when both intervals lie above ``threshold`` (ReLU has more
    dead units and both others prevent it); ``"not supported"`` when neither does
    and neither is inconclusive (no dying to prevent, or the others die as much);
    ``"inconclusive"`` when either interval straddles a bound; ``"depends"``
    when one lies above and the other does not.

    Examples:
      >>> dying_at([0.5, 0.5, 0.49, 0.5, 0.51], [0.0] * 5, [0.0] * 5)
      'supported'
      >>> dying_at([0.0, 0.01, 0.0, 0.0, 0.01], [0.0] * 5, [0.0] * 5)
      'not supported'
      >>> dying_at([0.048, 0.02, 0.08, 0.07, 0.02], [0.0] * 5, [0.0] * 5)  # 4.8% ± 2.7%
      'inconclusive'
      >>> dying_at([0.5] * 5, [0.0] * 5, [0.5] * 5)
      'depends'
    """
    parts = [_compare(relu, other, threshold) for other in (leaky_relu, prelu)]
    if all(p == "greater" for p in parts):
        return "supported"
    if "inconclusive" in parts:
        return "inconclusive"
    return "depends" if "greater" in parts else "not supported"


def c6_verdict(at_trainable: str | None, at_extreme: str) -> str:
    """C6's verdict from :func:`dying_at` at ReLU's largest trainable learning rate and at the extreme.

    The same verdict at both stands; ``"inconclusive"`` at either is
    inconclusive; otherwise (e.g. dying and prevented only at the extreme,
    where ReLU does not train) ``"depends"``. ``at_trainable=None`` (ReLU trains
    at no learning rate of the grid) leaves the extreme to decide.

    Examples:
      >>> c6_verdict("supported", "supported"), c6_verdict("not supported", "supported")
      ('supported', 'depends')
      >>> c6_verdict("inconclusive", "supported"), c6_verdict(None, "supported")
      ('inconclusive', 'supported')
    """
    allowed = ("supported", "not supported", "depends", "inconclusive")
    for arg, v in (("at_trainable", at_trainable), ("at_extreme", at_extreme)):
        if v not in allowed and not (arg == "at_trainable" and v is None):
            raise ValueError(f"{arg}: expected one of {allowed}, got {v!r}")
    if at_trainable is None:
        return at_extreme
    if "inconclusive" in (at_trainable, at_extreme):
        return "inconclusive"
    return at_trainable if at_trainable == at_extreme else "depends"


# --- findings: figures and text -----------------------------------------------------------------


def _pm(a: np.ndarray) -> str:
    a = np.asarray(a, np.float64)
    std = stats.sample_std(a)
    return (
        f"{100 * a.mean():.1f} ± {100 * std:.1f}" if np.isfinite(std) else f"{100 * a.mean():.1f}"
    )


def _evaluated(m: Measured) -> tuple[int | None, int]:
    """Indices of ReLU's largest trainable learning rate (None: none) and of the extreme."""
    trainable = largest_trainable(m.learning_rates, m.final("relu", "val_accuracy"), m.num_classes)
    return trainable, len(m.learning_rates) - 1


def _best_relu(m: Measured) -> int:
    """Index of the learning rate with ReLU's highest mean validation accuracy."""
    return int(np.argmax(m.runs["relu"]["val_accuracy"].mean(1)))


def _figures(m: Measured, out: Path, evaluated: Sequence[int]) -> tuple[str, ...]:
    from matplotlib.figure import Figure

    from experiments import figures

    lrs = np.asarray(m.learning_rates)
    n = len(m.seeds)
    fig = Figure(figsize=(9.6, 3.8), layout="constrained")
    ax_dead, ax_acc = fig.subplots(1, 2)
    for ci, act in enumerate(ACTIVATIONS):
        for ax, values in ((ax_dead, m.final(act)), (ax_acc, m.runs[act]["val_accuracy"])):
            s = [stats.summary(v) for v in values]
            mean = np.array([x.mean for x in s])
            half = np.array([x.half_width if np.isfinite(x.half_width) else 0.0 for x in s])
            ax.errorbar(
                lrs, 100 * mean, yerr=100 * half, fmt="o-", capsize=3, color=f"C{ci}", label=act
            )
    chance = 100 / m.num_classes
    ax_acc.axhline(chance, ls=":", color="gray", label="chance")
    ax_acc.axhline(chance + 100 * CHANCE_MARGIN, ls="--", color="gray", label="chance + margin")
    for ax in (ax_dead, ax_acc):
        ax.set_xscale("log")
        for i in evaluated:
            ax.axvline(lrs[i], color="k", lw=0.6, alpha=0.4)
        ax.grid(alpha=0.3)
        ax.set_xlabel("Adam learning rate")
    ax_dead.set(
        title=f"hidden units with no gradient, end of training (mean, 95% CI, n={n})",
        ylabel="% of hidden units",
    )
    ax_acc.set(title="validation accuracy (mean, 95% CI)", ylabel="%")
    ax_acc.legend(fontsize=7)
    figures.save(fig, out / "dead_vs_lr.png")

    fig = Figure(figsize=(3.4 * len(evaluated), 3.4), layout="constrained")
    axes = fig.subplots(1, len(evaluated), squeeze=False, sharey=True)[0]
    for ax, li in zip(axes, evaluated, strict=True):
        for ci, act in enumerate(ACTIVATIONS):
            r = m.runs[act]
            ax.plot(
                m.step,
                100 * r["no_gradient"][li].mean(0),
                color=f"C{ci}",
                label=f"{act}: no gradient",
            )
            ax.plot(
                m.step,
                100 * r["never_positive"][li].mean(0),
                color=f"C{ci}",
                ls="--",
                label=f"{act}: never positive",
            )
        ax.set(title=f"Adam lr={m.learning_rates[li]:g}", xlabel="step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"% of hidden units (mean of {n} seeds)")
    axes[-1].legend(fontsize=6)
    figures.save(fig, out / "dead_units.png")
    return ("dead_vs_lr.png", "dead_units.png")


def _at_lr_lines(m: Measured, li: int, what: str) -> tuple[str, list[str]]:
    relu = m.final("relu")[li]
    verdict = dying_at(relu, m.final("leaky_relu")[li], m.final("prelu")[li])
    by_layer = m.runs["relu"]["dead_by_layer"][li].mean(0)
    diffs = "; ".join(
        f"ReLU − {name}: "
        + stats.format_difference(
            stats.paired_difference(relu, m.final(act)[li]), pct=True, digits=1
        )
        + f" → {_compare(relu, m.final(act)[li], MIN_DEAD)}"
        for act, name in (("leaky_relu", "LeakyReLU"), ("prelu", "PReLU"))
    )
    layers = ", ".join(f"{100 * v:.0f}%" for v in by_layer)
    return verdict, [
        f"- at Adam lr {m.learning_rates[li]:g} ({what}): ReLU dead "
        f"{stats.format_ci(stats.summary(relu))} (by hidden layer {layers}); no-gradient "
        f"difference {diffs}; C6 here: **{verdict}**",
    ]


def findings(m: Measured, out: Path) -> list[_findings.Finding]:
    """The figures (into ``out``) and the C6 finding of a measurement."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = len(m.seeds)
    trainable, extreme = _evaluated(m)
    evaluated = sorted({i for i in (_best_relu(m), trainable, extreme) if i is not None})
    figs = _figures(m, out, evaluated)
    floor = 1.0 / m.num_classes + CHANCE_MARGIN
    lines = [
        f"Hidden units at the end of training (step {m.steps}), % of units; no gradient = f′(z) = 0 "
        f"on every training input (ReLU: dead). Mean ± sample std, 95% t-interval, n={n} seeds.",
        "",
        "| Adam lr | activation | no gradient (dead) | never positive | validation accuracy | "
        "test accuracy | learned α |",
        "|---|---|---|---|---|---|---|",
    ]
    for li, lr in enumerate(m.learning_rates):
        for act in ACTIVATIONS:
            r = m.runs[act]
            div = int(r["diverged"][li].sum())
            lines.append(
                f"| {lr:g} | {act} | {stats.format_ci(stats.summary(m.final(act)[li]))} | "
                f"{_pm(m.final(act, 'never_positive')[li])} | "
                f"{stats.format_ci(stats.summary(r['val_accuracy'][li]))} | "
                f"{_pm(r['test_accuracy'][li])}"
                + (f" ({div} diverged)" if div else "")
                + (f" | {r['alpha'][li].mean():.3f} |" if "alpha" in r else " | — |")
            )
    lines += [
        "",
        f"- ReLU trains above chance (validation accuracy's 95% interval above 1/{m.num_classes} + "
        f"{CHANCE_MARGIN:g} = {100 * floor:.0f}%) up to Adam lr "
        + (f"{m.learning_rates[trainable]:g}" if trainable is not None else "— (at none)"),
    ]
    at_trainable = None
    if trainable is not None:
        at_trainable, text = _at_lr_lines(m, trainable, "largest lr at which ReLU trains")
        lines += text
    at_extreme, text = _at_lr_lines(m, extreme, "the grid's extreme")
    lines += text
    best = _best_relu(m)
    if best not in (trainable, extreme):
        _, text = _at_lr_lines(m, best, "ReLU's best validation accuracy; context, not in the rule")
        lines += text
    verdict = c6_verdict(at_trainable, at_extreme)
    finding = _findings.Finding(
        claim="C6",
        statement=(
            "ReLU units die (stop updating once their weighted sum is negative); LeakyReLU/PReLU "
            "prevent it."
        ),
        sources=("002",),
        numbers="\n".join(lines),
        verdict=verdict,
        condition=(
            "Rule (fixed before the run): at a learning rate, C6 holds when ReLU's fraction of hidden "
            "units with no gradient on any of the training inputs exceeds LeakyReLU's and PReLU's by "
            f"more than {100 * MIN_DEAD:g} points (paired 95% interval of the difference above "
            f"{100 * MIN_DEAD:g} pp for both); not supported when neither interval lies above it; "
            "depends when one does; inconclusive when an interval straddles ±"
            f"{100 * MIN_DEAD:g} pp. It is judged at the largest learning rate at which ReLU trains "
            f"above chance (validation accuracy's 95% interval above 1/C + {CHANCE_MARGIN:g}) and at "
            "the grid's extreme: the same verdict at both stands, inconclusive at either is "
            "inconclusive, otherwise depends. A Leaky/PReLU unit that is never positive still "
            "receives gradient (slope α), so it can recover; a hidden layer that is entirely dead "
            "also stops all gradient to the layers below it."
        ),
        figures=figs,
        headline=headline(m),
    )
    return [finding]


def headline(m: Measured) -> str:
    """The summary line: ReLU's dead fraction at its largest trainable learning rate, with its interval."""
    trainable, extreme = _evaluated(m)
    li = extreme if trainable is None else trainable
    where = (
        "the largest lr at which ReLU trains" if trainable is not None else "ReLU trains at no lr"
    )
    return f"ReLU units dead at Adam lr {m.learning_rates[li]:g} ({where}): " + stats.format_ci(
        stats.summary(m.final("relu")[li])
    )


def run(out: Path, *, quick: bool = False) -> list[_findings.Finding]:
    """Runs the study into ``out`` (measure → verdict → findings); writes ``findings.json``."""
    found = findings(measure(quick=quick), out)
    _findings.write(out, found)
    return found
