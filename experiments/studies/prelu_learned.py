r"""PReLU learns its negative slope: claim C14, and what the learned slope buys.

Notes 000 and 001 say that PReLU, :math:`\max(0, x) + \alpha \min(0, x)`,
trains :math:`\alpha` together with the weights by backpropagation. The study
runs the learnable-PReLU sweep of ``python -m experiments.sweep`` (its
defaults: an MLP 40-100-100-10 on MNIST-1D, Adam lr 0.01, 6,000 steps, 16
initial :math:`\alpha` in [0, 1] × 2 seeds, every run one vmapped program)
and reads the trajectories of :math:`\alpha` in both hidden layers.

Rule (:func:`alpha_rule`): :math:`\alpha` *moves* if every run's
:math:`\alpha` ends more than :data:`ALPHA_MOVES` from its start in every
layer; the runs *converge whatever the start* if the span across starts of
the learned :math:`\alpha` (each start's mean over its seeds and layers) is at
most :data:`ALPHA_CONVERGES` times the span of the initial values.
*Supported* if both hold, *depends* if :math:`\alpha` moves but the runs do
not converge, *not supported* if some :math:`\alpha` does not move. The
learned :math:`\alpha` over the runs is given with its 95% t-interval.

Follow-up: what does the learned (negative) slope buy? The same model is
trained with :math:`\alpha` learnable from the default start 0.25 and with
:math:`\alpha` fixed (a frozen activation parameter) at 0.25 (He et al.'s
start), 0 (ReLU), −0.05 (about where learning takes it) and −1 (the unit
:math:`|x|`), :data:`FOLLOWUP_SEEDS` shared by every variant. Each variant
gets its own Adam learning rate, chosen on the validation split from a grid
widened until the choice is off its edge
(:func:`experiments.studies.analysis.choose_learning_rate`); the test accuracy
of that choice is reported, and each fixed variant is compared with the
learnable one by the paired difference over the shared seeds
(:func:`followup_verdicts`: within ±\ :data:`FOLLOWUP_MARGIN` is "within",
an interval straddling the margin "inconclusive").

The study is split in three: :func:`measure` (the runs, as arrays),
:func:`alpha_rule` and :func:`followup_verdicts` (the rules, pure functions),
and :func:`findings` (figures and the finding).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from experiments import findings as findings_mod
from experiments import stats
from experiments.studies.analysis import LearningRateChoice, choose_learning_rate

CLAIMS = ("C14",)

#: A run's α "moves" if it ends more than this from its start (every layer).
ALPHA_MOVES = 0.01
#: The runs "converge whatever the start" if the span of the learned α across starts
#: is at most this fraction of the span of the initial values.
ALPHA_CONVERGES = 0.25
#: The sweep: ``python -m experiments.sweep`` with these arguments (its defaults).
SWEEP_ARGS = ("--values", "0:1:16", "--seeds", "2", "--quiet")
QUICK_SWEEP_ARGS = (
    "--dataset", "xor", "--layers", "8", "--steps", "40", "--eval-every", "10",
    "--batch-size", "32", "--values", "0,0.5,1", "--seeds", "2", "--quiet",
)  # fmt: skip
#: Follow-up: the fixed slopes compared with the learnable one (−1 is |x|).
FIXED_ALPHAS = (0.25, 0.0, -0.05, -1.0)
FOLLOWUP_SEEDS = (0, 1, 2, 3, 4)
#: Follow-up: the starting Adam learning-rate grid (widened while the choice is on its edge).
FOLLOWUP_LRS = (0.003, 0.01, 0.03)
QUICK_FOLLOWUP_LRS = (0.01, 0.03)
FOLLOWUP_MAX_WIDEN = 1
#: Follow-up: a paired difference of test accuracy within ±1 pp counts as no difference.
FOLLOWUP_MARGIN = 0.01
LEARNABLE = "learnable α"


def sweep_config(quick: bool = False):
    """The sweep's :class:`experiments.sweep.SweepConfig`, through the CLI's own parser."""
    from experiments import sweep

    args = QUICK_SWEEP_ARGS if quick else SWEEP_ARGS
    return sweep.resolve(sweep.build_parser().parse_args(list(args)))


def variant_name(alpha: float | None) -> str:
    """The follow-up's name for a variant: learnable (``None``) or a fixed α.

    Examples:
      >>> variant_name(None), variant_name(0.0), variant_name(-1.0)
      ('learnable α', 'fixed α = 0', 'fixed α = −1 (|x|)')
    """
    if alpha is None:
        return LEARNABLE
    text = f"fixed α = {alpha:g}".replace("-", "−")
    return text + (" (|x|)" if alpha == -1 else "")


# -- the measurement ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Variant:
    """One follow-up variant over :data:`FOLLOWUP_SEEDS`.

    Attributes:
      name: :func:`variant_name`; ``alpha``: the fixed value (``None``: learnable).
      choice: its validation-chosen learning rate (grid, scores, every run).
      val_accuracy, test_accuracy: ``(S,)`` at the chosen learning rate.
      alpha_end: ``(S, layers)``: α at the end (equal to ``alpha`` when fixed).
    """

    name: str
    alpha: float | None
    choice: LearningRateChoice
    val_accuracy: np.ndarray
    test_accuracy: np.ndarray
    alpha_end: np.ndarray


@dataclasses.dataclass(frozen=True)
class Measured:
    """What :func:`measure` returns.

    Attributes:
      command: the sweep's command line; ``dataset``: its data; ``steps``: steps per run.
      initial: ``(R,)`` each run's initial α; ``seed``: ``(R,)`` its seed.
      step: ``(T,)`` the evaluation steps; ``alpha``: ``(R, T, layers)`` α along training.
      test_accuracy: ``(R,)`` final test accuracy of the sweep's runs.
      variants: the follow-up, learnable first; ``followup_steps``: steps per follow-up run.
      seconds: wall time of the sweep and of the follow-up.
    """

    command: str
    dataset: str
    steps: int
    initial: np.ndarray
    seed: np.ndarray
    step: np.ndarray
    alpha: np.ndarray
    test_accuracy: np.ndarray
    variants: tuple[Variant, ...]
    followup_steps: int
    seconds: tuple[float, float]


def _followup_setup(config, learnable: bool, num_classes: int):
    """The sweep's model with α a leaf: trained (``learnable``) or frozen at its initial value.

    Every fixed variant shares this setup (its α is an initial value of the runs), so
    they share one compiled program.
    """
    from jaxact import linen, sweep

    model = linen.MLP(
        tuple(config.layers) + (num_classes,),
        "prelu",
        learnable=True,  # a leaf either way: a fixed α is frozen below
        kernel_init=config.init,
    )
    return sweep.Setup(
        model=model,
        steps=config.steps,
        batch_size=config.batch_size,
        optimizer=config.optimizer,
        eval_every=config.eval_every,
        frozen=() if learnable else ("alpha",),
    )


def _variant(config, ds, alpha: float | None, lrs, max_widen: int) -> Variant:
    choice = choose_learning_rate(
        _followup_setup(config, alpha is None, ds.num_classes),
        ds,
        FOLLOWUP_SEEDS,
        lrs,
        metric="val_accuracy",
        max_widen=max_widen,
        values=None if alpha is None else {"alpha": alpha},
    )
    final = choice.final[choice.learning_rate]
    return Variant(
        name=variant_name(alpha),
        alpha=alpha,
        choice=choice,
        val_accuracy=np.asarray(final["val_accuracy"], np.float64),
        test_accuracy=np.asarray(final["test_accuracy"], np.float64),
        alpha_end=np.asarray(choice.history[choice.learning_rate]["alpha"][:, -1], np.float64),
    )


def measure(quick: bool = False, *, sweep_dir: Path | None = None) -> Measured:
    """Runs the learnable-PReLU sweep and the follow-up; returns their arrays.

    Args:
      quick: a small sweep on the XOR data (:data:`QUICK_SWEEP_ARGS`) and a
        two-value learning-rate grid, not widened.
      sweep_dir: where the sweep writes its outputs (``config.json``,
        ``results.csv``, ``history.npz``, its own plots); a finished sweep there is
        reused. A temporary folder when ``None``.
    """
    from experiments import sweep

    config = sweep_config(quick)
    ds = sweep.load_data(config)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(sweep_dir) if sweep_dir is not None else Path(tmp) / "sweep"
        if not (where / "history.npz").exists():
            status = sweep.run(config, ds, where, quiet=True)
            if status != 0:
                raise RuntimeError(f"the C14 sweep failed with status {status}")
        with np.load(where / "history.npz") as h:
            hist = {k: h[k] for k in ("learned_alpha", "value", "seed", "step", "test_accuracy")}
    t1 = time.perf_counter()
    lrs = QUICK_FOLLOWUP_LRS if quick else FOLLOWUP_LRS
    widen = 0 if quick else FOLLOWUP_MAX_WIDEN
    variants = tuple(_variant(config, ds, a, lrs, widen) for a in (None, *FIXED_ALPHAS))
    t2 = time.perf_counter()
    return Measured(
        command=sweep.command_line(config),
        dataset=config.dataset,
        steps=config.steps,
        initial=np.asarray(hist["value"], np.float64),
        seed=np.asarray(hist["seed"]),
        step=np.asarray(hist["step"][0]),
        alpha=np.asarray(hist["learned_alpha"], np.float64),
        test_accuracy=np.asarray(hist["test_accuracy"][:, -1], np.float64),
        variants=variants,
        followup_steps=config.steps,
        seconds=(t1 - t0, t2 - t1),
    )


# -- the rules -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AlphaRule:
    """The outcome of :func:`alpha_rule`.

    Attributes:
      min_move: the smallest ``|α_end − α_start|`` over runs and layers.
      span_start, span_end: the span across starts of each start's mean α
        (over its seeds and layers), at the start and at the end.
      moves, converges: the two parts of the rule; ``verdict``: the verdict.
    """

    min_move: float
    span_start: float
    span_end: float
    moves: bool
    converges: bool
    verdict: str


def alpha_rule(
    initial: ArrayLike,
    start: ArrayLike,
    end: ArrayLike,
    *,
    moves: float = ALPHA_MOVES,
    converges: float = ALPHA_CONVERGES,
) -> AlphaRule:
    """C14's rule: does α move from its start, and do the runs converge across starts?

    Args:
      initial: ``(R,)`` the initial α each run was given (runs sharing it are its seeds).
      start, end: ``(R, layers)`` (or ``(R,)``) α at the first and the last evaluation.
      moves: the smallest move that counts (every run, every layer).
      converges: the largest final span across starts, as a fraction of the initial span.

    Examples:
      >>> r = alpha_rule([0.0, 0.5, 1.0], [0.0, 0.5, 1.0], [-0.05, -0.06, -0.04])
      >>> r.verdict, round(r.span_end, 3)
      ('supported', 0.02)
      >>> alpha_rule([0.0, 0.5, 1.0], [0.0, 0.5, 1.0], [0.02, 0.52, 1.02]).verdict
      'depends'
    """
    init = np.asarray(initial, np.float64)
    s = np.asarray(start, np.float64)
    e = np.asarray(end, np.float64)
    s = s[:, None] if s.ndim == 1 else s
    e = e[:, None] if e.ndim == 1 else e
    if init.ndim != 1 or s.shape != e.shape or s.shape[0] != init.shape[0]:
        raise ValueError(
            "alpha_rule: expected initial (R,) and start, end (R, layers) of one shape, got "
            f"{init.shape}, {s.shape}, {e.shape}"
        )
    min_move = float(np.min(np.abs(e - s)))
    groups = [init == v for v in np.unique(init)]
    span_start = float(np.ptp([s[g].mean() for g in groups]))
    span_end = float(np.ptp([e[g].mean() for g in groups]))
    does_move = min_move > moves
    does_converge = span_start > 0 and span_end <= converges * span_start
    if does_move and does_converge:
        verdict = "supported"
    elif does_move:
        verdict = "depends"
    else:
        verdict = "not supported"
    return AlphaRule(min_move, span_start, span_end, does_move, bool(does_converge), verdict)


def followup_verdicts(
    test_accuracy: Mapping[str, ArrayLike],
    reference: str = LEARNABLE,
    margin: float = FOLLOWUP_MARGIN,
) -> dict[str, str]:
    """Each variant against ``reference`` by the paired difference over shared seeds.

    ``"greater"``/``"less"``: the variant is better/worse by more than ``margin``;
    ``"within"``: the difference's interval lies inside ``±margin``;
    ``"inconclusive"``: it straddles the margin (see :func:`experiments.stats.verdict`).

    Examples:
      >>> acc = {"learnable α": [0.60, 0.62, 0.61], "fixed α = 0": [0.60, 0.62, 0.61],
      ...        "fixed α = −1 (|x|)": [0.50, 0.53, 0.51]}
      >>> followup_verdicts(acc)
      {'fixed α = 0': 'within', 'fixed α = −1 (|x|)': 'less'}
    """
    ref = test_accuracy[reference]
    return {
        name: stats.compare(acc, ref, threshold=margin, paired=True)
        for name, acc in test_accuracy.items()
        if name != reference
    }


# -- the finding ---------------------------------------------------------------------


def _ci(values: ArrayLike, pct: bool = True, digits: int = 1) -> str:
    return stats.format_ci(stats.summary(values), pct=pct, digits=digits)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: its pipes escaped (the variant ``|x|``)."""
    return text.replace("|", "\\|")


def _num(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}".replace("-", "−")


def _followup_table(m: Measured, verdicts: Mapping[str, str]) -> list[str]:
    ref = m.variants[0]
    lines = [
        "| variant | Adam lr (validation) | α at the end, per layer | val accuracy | "
        "test accuracy | test − learnable, paired |",
        "|---|---|---|---|---|---|",
    ]
    for v in m.variants:
        alpha = ", ".join(_num(a) for a in v.alpha_end.mean(0))
        if v is ref:
            diff = "reference"
        else:
            d = stats.paired_difference(v.test_accuracy, ref.test_accuracy)
            diff = f"{stats.format_difference(d, pct=True, digits=1)}: {verdicts[v.name]}"
        lr = f"{v.choice.learning_rate:g}" + (
            f" ({v.choice.on_edge} edge)" if v.choice.on_edge else ""
        )
        lines.append(
            f"| {_cell(v.name)} | {lr} | {alpha} | {_ci(v.val_accuracy)} | {_ci(v.test_accuracy)} | "
            f"{diff} |"
        )
    return lines


def _buys(verdicts: Mapping[str, str]) -> str:
    """What the learned slope buys, from the paired verdicts of :func:`followup_verdicts`."""
    margin = f"±{100 * FOLLOWUP_MARGIN:g} pp"
    groups = {k: [n for n, v in verdicts.items() if v == k] for k in stats.VERDICTS}
    labels = {
        "less": "worse than it",
        "greater": "better than it",
        "within": f"within {margin}",
        "inconclusive": "undecided at this n",
    }
    parts = [f"{labels[k]}: {', '.join(groups[k]) or 'none'}" for k in labels]
    if groups["less"]:
        tail = f"The learned slope beats {', '.join(groups['less'])}."
    else:
        tail = "No fixed slope is shown worse: at this n the learned slope buys no measurable accuracy."
    if groups["greater"]:
        tail += f" {', '.join(groups['greater'])} beat the learned slope."
    return (
        f"- Against the learnable α (paired test-accuracy difference, margin {margin}): "
        + "; ".join(parts)
        + ". "
        + tail
    )


def _trajectory_figure(m: Measured, path: Path) -> None:
    from experiments import figures

    starts = np.unique(m.initial)
    traj = {f"α₀={v:.3g}": m.alpha[m.initial == v].mean(axis=(0, 2)) for v in starts}
    figures.curves(
        path,
        m.step,
        traj,
        title=f"PReLU: learned α, mean over layers and seeds ({m.dataset}, {m.steps} steps)",
        xlabel="step",
        ylabel="α",
        colorbar=("initial α", list(starts)),
    )


def _followup_figure(m: Measured, path: Path) -> None:
    from matplotlib.figure import Figure

    from experiments import figures

    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for i, v in enumerate(m.variants):
        for j, (key, acc) in enumerate((("validation", v.val_accuracy), ("test", v.test_accuracy))):
            s = stats.summary(acc)
            ax.errorbar(
                [i + (j - 0.5) * 0.25], [100 * s.mean],
                yerr=[[100 * (s.mean - s.ci_low)], [100 * (s.ci_high - s.mean)]],
                fmt="o" if j else "s", color=f"C{j}", capsize=3, label=key if i == 0 else None,
            )  # fmt: skip
    ax.set_xticks(range(len(m.variants)), [v.name for v in m.variants], fontsize=8)
    ax.set(ylabel="accuracy (%), mean and 95% CI",
           title=f"PReLU slope variants, n={len(FOLLOWUP_SEEDS)} seeds each")  # fmt: skip
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    figures.save(fig, path)


def findings(m: Measured, out: Path) -> list[findings_mod.Finding]:
    """The C14 finding and its figures from a :func:`measure` result."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start, end = m.alpha[:, 0, :], m.alpha[:, -1, :]
    rule = alpha_rule(m.initial, start, end)
    learned_by_run = end.mean(-1)
    learned = stats.summary(learned_by_run)
    layers = end.shape[-1]
    verdicts = followup_verdicts({v.name: v.test_accuracy for v in m.variants})
    rows = [
        "| initial α | learned α (mean over layers), per seed | test accuracy |",
        "|---|---|---|",
    ]
    for v in np.unique(m.initial):
        sel = m.initial == v
        rows.append(
            f"| {v:.3g} | {', '.join(_num(a) for a in learned_by_run[sel])} | "
            f"{_ci(m.test_accuracy[sel])} |"
        )
    negative = int(np.sum(learned_by_run < 0))
    shape = (
        ": with α < 0 the unit computes |α|·|x| for x < 0, a V-shaped, |x|-like unit rather "
        "than a leaky ReLU."
        if learned.ci_high < 0
        else "."
    )
    ref = m.variants[0]
    numbers = "\n".join(
        [
            f"- {len(m.initial)} runs ({m.dataset}, {m.steps} steps, {layers} PReLU "
            f"layer{'s' if layers != 1 else ''}, initial α in [{m.initial.min():.2g}, "
            f"{m.initial.max():.2g}]): |Δα| per layer min {rule.min_move:.3f}, median "
            f"{float(np.median(np.abs(end - start))):.3f}.",
            f"- Learned α, mean over layers, over all runs: {_ci(learned_by_run, False, 3)}; "
            "per layer: " + ", ".join(f"{_ci(end[:, i], False, 3)}" for i in range(layers)) + ".",
            f"- Span across starts of the mean learned α: {rule.span_start:.2f} at step 0 → "
            f"{rule.span_end:.3f} at the end ({rule.span_end / rule.span_start:.2f}× the "
            "initial span)."
            if rule.span_start > 0
            else "- One start only: no span.",
            "",
            *rows,
            "",
            f"- The learned α is negative in {negative} of {len(learned_by_run)} runs"
            + (", from every start" if negative == len(learned_by_run) else "")
            + shape,
            f"- Sweep: `{m.command}` ({m.seconds[0]:.0f} s).",
            "",
            "**Follow-up: what the learned slope buys.** The same model with α learnable (from "
            "0.25) or fixed, each variant at its own Adam lr chosen on validation, "
            f"{m.followup_steps} steps, seeds {FOLLOWUP_SEEDS[0]}–{FOLLOWUP_SEEDS[-1]} shared "
            f"by every variant ({m.seconds[1]:.0f} s):",
            "",
            *_followup_table(m, verdicts),
            "",
            _buys(verdicts),
            "- Learning rates tried: "
            + "; ".join(f"{v.name}: {v.choice.describe()}" for v in m.variants)
            + ".",
        ]
    )
    _trajectory_figure(m, out / "alpha_trajectories.png")
    _followup_figure(m, out / "alpha_variants.png")
    condition = (
        f"Rule: α moves if every run's α ends more than {ALPHA_MOVES:g} from its start in every "
        "layer; the runs converge whatever the start if the span across starts of the mean "
        f"learned α is at most {ALPHA_CONVERGES:g}× the span of the initial α (here "
        f"{rule.span_end:.3f} against {rule.span_start:.2f}: "
        f"{'converges' if rule.converges else 'does not converge'}; α "
        f"{'moves' if rule.moves else 'does not move'}). Supported if both hold, depends if α "
        "moves but the runs do not converge, not supported if some α does not move. "
        "Follow-up rule: a fixed α differs from the learnable one if the paired 95% interval "
        f"of the test-accuracy difference lies beyond ±{100 * FOLLOWUP_MARGIN:g} pp; within "
        "if inside; inconclusive if it straddles the margin."
    )
    headline = (
        f"learned α {_ci(learned_by_run, False, 3)} from starts in "
        f"[{m.initial.min():.2g}, {m.initial.max():.2g}]; span across starts "
        f"{rule.span_start:.2f} → {rule.span_end:.3f}; test accuracy learnable "
        f"{100 * ref.test_accuracy.mean():.1f}% vs fixed: "
        + ", ".join(
            f"{v.alpha:g} {100 * v.test_accuracy.mean():.1f}%".replace("-", "−")
            for v in m.variants[1:]
        )
    )
    finding = findings_mod.Finding(
        claim="C14",
        statement="PReLU's negative slope α is a parameter learned by backpropagation.",
        sources=("000", "001"),
        numbers=numbers,
        verdict=rule.verdict,
        condition=condition,
        figures=("alpha_trajectories.png", "alpha_variants.png"),
        headline=headline,
    )
    findings_mod.write(out, [finding])
    return [finding]


def run(out: Path, *, quick: bool = False) -> list[findings_mod.Finding]:
    """Runs the study into ``out`` (the sweep in ``out/sweep``, figures, ``findings.json``).

    Args:
      out: output directory (created).
      quick: the small sweep and follow-up of :func:`measure`.

    Returns:
      The finding for C14.
    """
    out = Path(out)
    return findings(measure(quick=quick, sweep_dir=out / "sweep"), out)
