r"""The logistic tumour example and the stable softmax: claims C12 and C13.

C12 (seed 004): a logistic model :math:`P(\text{spread} \mid s) = \sigma(m s + b)`
of metastasis against tumour size :math:`s` (cm), with :math:`m = 1.87`,
:math:`b = -5.47`, evaluated at 3 cm and 6 cm. Computed with ``jaxact.sigmoid``
(float32) and with NumPy in float64; the 50% size :math:`-b/m` beside them.
Seed 004 shows these two values only as images (captions "3cm일 때 시그모이드
함수 값" and "6cm일 때 …"): its text prints no number to compare with, only the
reading that 3 cm is "about right" and 6 cm is predicted high.
Rule (:func:`c12_verdict`): *supported* if float32 and float64 agree to 1e-6
at both sizes and the model puts 6 cm above 50% (the seed's reading); *not
supported* otherwise.

C13 (seed 003): softmax needs the maximum subtracted to be stable. The naive
:math:`e^{x_i} / \sum_j e^{x_j}` against ``jaxact.softmax`` (max-subtracted) in
float32 on logits :math:`[c, c+1, c+2]`: at :math:`c = \pm 1000`, and over a
sweep of :math:`c` to find where the naive form first fails. Rule
(:func:`c13_verdict`): *supported* if the naive form is not finite at
:math:`c = \pm 1000` while the stable one is finite there and equals the
softmax of the shifted logits :math:`[0, 1, 2]` to 1e-6.

The study is split in three: :func:`measure` computes the values (no training:
``quick`` changes nothing), :func:`c12_verdict` and :func:`c13_verdict` are the
rules, pure functions of those values, and :func:`findings` writes the figures
and the findings.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

import jaxact
from experiments import findings as findings_mod

CLAIMS = ("C12", "C13")

#: Seed 004's fitted slope (per cm) and intercept.
M, B = 1.87, -5.47
SIZES_CM = (3.0, 6.0)
AGREEMENT = 1e-6
LARGE = 1000.0


def tumour_probability(size_cm: ArrayLike, *, m: float = M, b: float = B) -> Array:
    r"""Seed 004's logistic model of metastasis against tumour size, with ``jaxact.sigmoid``.

    .. math::

       P(s) = \sigma(m s + b) = \frac{1}{1 + e^{-(m s + b)}}

    Args:
      size_cm: tumour size(s) in cm.
      m: slope per cm (seed 004: 1.87).
      b: intercept (seed 004: −5.47).

    Returns:
      The probabilities, float32.

    Examples:
      >>> [round(float(p), 4) for p in tumour_probability(jnp.array([3.0, 6.0]))]
      [0.5349, 0.9968]
    """
    s = jnp.asarray(size_cm, jnp.float32)
    return jaxact.sigmoid(jnp.float32(m) * s + jnp.float32(b))


def naive_softmax(x: ArrayLike) -> Array:
    r"""Softmax without the maximum subtracted, :math:`e^{x_i} / \sum_j e^{x_j}` (unstable).

    Args:
      x: logits (last axis).

    Returns:
      The naive softmax; NaN where :math:`e^{x}` overflows or every term underflows.

    Examples:
      >>> naive_softmax(jnp.array([1000.0, 1001.0]))
      Array([nan, nan], dtype=float32)
    """
    e = jnp.exp(jnp.asarray(x, jnp.float32))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def first_failure(offsets: ArrayLike) -> float:
    """The first offset c (in the order given) where naive softmax([c, c+1, c+2]) is not finite.

    Examples:
      >>> first_failure([0.0, 50.0, 100.0])
      100.0
    """
    offsets = np.asarray(offsets, np.float64)
    logits = offsets[:, None].astype(np.float32) + np.arange(3, dtype=np.float32)
    bad = ~np.all(np.isfinite(np.asarray(naive_softmax(jnp.asarray(logits)))), axis=-1)
    return float(offsets[np.argmax(bad)]) if bad.any() else float("nan")


# -- the measurement ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Measured:
    """What :func:`measure` returns.

    Attributes:
      sizes: the tumour sizes (cm); ``p32``/``p64``: P(spread) from
        :func:`tumour_probability` (float32) and from NumPy in float64.
      offsets: the two large offsets c (``±LARGE``); ``naive``/``stable``:
        ``(2, 3)`` naive and max-subtracted softmax of ``[c, c+1, c+2]``;
        ``reference``: softmax of ``[0, 1, 2]``.
      first_up, first_down: the first c (steps of 0.5) where the naive form fails.
      sweep_c: the offsets of the figure; ``naive_bad``/``stable_bad``: not finite there.
    """

    sizes: np.ndarray
    p32: np.ndarray
    p64: np.ndarray
    offsets: np.ndarray
    naive: np.ndarray
    stable: np.ndarray
    reference: np.ndarray
    first_up: float
    first_down: float
    sweep_c: np.ndarray
    naive_bad: np.ndarray
    stable_bad: np.ndarray


def measure(quick: bool = False) -> Measured:
    """Computes C12's probabilities and C13's softmax values (``quick`` changes nothing)."""
    del quick  # a computation, not a training run
    sizes = np.asarray(SIZES_CM)
    shift = jnp.arange(3, dtype=jnp.float32)
    offsets = np.asarray([LARGE, -LARGE])
    logits = jnp.asarray(offsets[:, None], jnp.float32) + shift
    cs = np.arange(-200.0, 200.0, 0.5)
    swept = jnp.asarray(cs[:, None].astype(np.float32)) + shift
    return Measured(
        sizes=sizes,
        p32=np.asarray(tumour_probability(sizes), np.float64),
        p64=1.0 / (1.0 + np.exp(-(M * sizes + B))),
        offsets=offsets,
        naive=np.asarray(naive_softmax(logits)),
        stable=np.asarray(jaxact.softmax(logits)),
        reference=np.asarray(jaxact.softmax(shift)),
        first_up=first_failure(np.arange(0.0, 200.0, 0.5)),
        first_down=first_failure(-np.arange(0.0, 200.0, 0.5)),
        sweep_c=cs,
        naive_bad=~np.all(np.isfinite(np.asarray(naive_softmax(swept))), -1),
        stable_bad=~np.all(np.isfinite(np.asarray(jaxact.softmax(swept))), -1),
    )


# -- the rules -----------------------------------------------------------------------


def c12_verdict(p32: ArrayLike, p64: ArrayLike, agreement: float = AGREEMENT) -> str:
    """C12: float32 within ``agreement`` of float64 at every size, and the last size above 50%.

    Examples:
      >>> c12_verdict([0.5349429, 0.9968273], [0.5349429452, 0.9968273172])
      'supported'
      >>> c12_verdict([0.53, 0.9968273], [0.5349429452, 0.9968273172])
      'not supported'
    """
    a, b = np.asarray(p32, np.float64), np.asarray(p64, np.float64)
    ok = bool(np.max(np.abs(a - b)) <= agreement) and bool(b[-1] > 0.5)
    return "supported" if ok else "not supported"


def c13_verdict(
    naive: ArrayLike, stable: ArrayLike, reference: ArrayLike, agreement: float = AGREEMENT
) -> str:
    """C13: at each large offset (a row) the naive form is not finite while the stable one is
    finite and within ``agreement`` of the softmax of the shifted logits (``reference``).

    Examples:
      >>> ref = [0.09003057, 0.24472848, 0.66524094]
      >>> c13_verdict([[np.nan] * 3], [ref], ref)
      'supported'
      >>> c13_verdict([ref], [ref], ref)  # the naive form did not fail: nothing shown
      'not supported'
    """
    n = np.asarray(naive, np.float64)
    s = np.asarray(stable, np.float64)
    r = np.asarray(reference, np.float64)
    naive_fails = ~np.all(np.isfinite(n), axis=-1)
    stable_ok = np.all(np.isfinite(s), axis=-1) & (np.max(np.abs(s - r), axis=-1) <= agreement)
    return "supported" if bool(np.all(naive_fails & stable_ok)) else "not supported"


# -- the findings ----------------------------------------------------------------------


def _c12(m: Measured, out: Path) -> findings_mod.Finding:
    from matplotlib.figure import Figure

    from experiments import figures

    sizes, p32, p64 = m.sizes, m.p32, m.p64
    gap = float(np.max(np.abs(p32 - p64)))
    half = -B / M
    numbers = "\n".join(
        [
            f"- P(spread | s) = σ({M:g}·s − {-B:g}):",
            "",
            "| size | jaxact.sigmoid (float32) | NumPy float64 | abs difference |",
            "|---|---|---|---|",
            *(
                f"| {s:g} cm | {a:.7f} | {c:.10f} | {abs(a - c):.1e} |"
                for s, a, c in zip(sizes, p32, p64, strict=True)
            ),
            "",
            f"- 50% at s = −b/m = {half:.4f} cm; the logit at 3 cm is {M * 3 + B:.2f} "
            f"({100 * p64[0]:.1f}%), at 6 cm {M * 6 + B:.2f} ({100 * p64[1]:.1f}%).",
            "- Seed 004 shows both values only in images; its text prints no number to compare, "
            "only that 3 cm looks about right and that 6 cm is predicted high.",
        ]
    )
    fig = Figure(figsize=(6.0, 3.8), layout="constrained")
    ax = fig.add_subplot()
    s = np.linspace(0.0, 8.0, 401)
    ax.plot(s, np.asarray(tumour_probability(s)), lw=1.8, label=f"σ({M:g}s − {-B:g})")
    ax.plot(sizes, p32, "o", color="C3", label="3 cm, 6 cm")
    for x, y in zip(sizes, p32, strict=True):
        ax.annotate(f"{y:.4f}", (x, y), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.axhline(0.5, color="0.5", ls=":", lw=1)
    ax.axvline(half, color="0.5", ls=":", lw=1)
    ax.set(xlabel="tumour size (cm)", ylabel="P(spread)", title="seed 004's logistic example")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figures.save(fig, out / "tumour.png")
    return findings_mod.Finding(
        claim="C12",
        statement=(
            "With m = 1.87 and b = −5.47 the logistic model gives the probability of "
            "metastasis for a 3 cm and a 6 cm tumour."
        ),
        sources=("004",),
        numbers=numbers,
        verdict=c12_verdict(p32, p64),
        condition=(
            f"Rule: supported if jaxact's float32 sigmoid agrees with float64 to {AGREEMENT:g} "
            "at both sizes and 6 cm is above 50%."
        ),
        figures=("tumour.png",),
        headline=(
            f"P(spread) at 3 cm {p64[0]:.4f}, at 6 cm {p64[1]:.4f} (float32 within {gap:.0e} "
            "of float64)"
        ),
    )


def _c13(m: Measured, out: Path) -> findings_mod.Finding:
    from matplotlib.figure import Figure

    from experiments import figures

    finfo = np.finfo(np.float32)
    overflow_at = float(np.log(finfo.max))
    underflow_at = float(np.log(finfo.tiny))
    errors = np.max(np.abs(m.stable - m.reference), axis=-1)
    fmt = lambda a: "[" + ", ".join(f"{v:.4g}" for v in a) + "]"
    lines = [
        "| logits | naive e^x/Σe^x | jaxact.softmax | max abs error vs softmax([0, 1, 2]) |",
        "|---|---|---|---|",
    ]
    for c, naive, stable, err in zip(m.offsets, m.naive, m.stable, errors, strict=True):
        lines.append(
            f"| [{c:g}, {c + 1:g}, {c + 2:g}] | {fmt(naive)} | {fmt(stable)} | {err:.1e} |"
        )
    lines += [
        "",
        f"- Sweeping c in steps of 0.5, the naive form first fails at c = {m.first_up:g} (e^x "
        f"overflows float32 above x = ln(max) = {overflow_at:.2f}) and at c = {m.first_down:g} "
        f"(every e^x underflows below x = ln(smallest normal) = {underflow_at:.2f}, XLA "
        "flushing subnormals to zero: 0/0).",
        "- Seed 003's own code, `np.exp(x - x.max())`, is the stable form.",
    ]
    fig = Figure(figsize=(6.4, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(m.sweep_c, m.naive_bad.astype(float), lw=1.6, label="naive e^x/Σe^x")
    ax.plot(m.sweep_c, m.stable_bad.astype(float), lw=1.6, ls="--",
            label="jaxact.softmax (max subtracted)")  # fmt: skip
    ax.set_yticks([0, 1], ["finite", "NaN/inf"])
    ax.set(xlabel="c (logits [c, c+1, c+2], float32)", title="softmax on shifted logits")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center")
    figures.save(fig, out / "softmax_stability.png")
    return findings_mod.Finding(
        claim="C13",
        statement="Softmax needs the maximum subtracted from the logits to be numerically stable.",
        sources=("003",),
        numbers="\n".join(lines),
        verdict=c13_verdict(m.naive, m.stable, m.reference),
        condition=(
            "Rule: supported if the naive form is not finite at c = ±1000 while the stable one "
            f"is finite and equals softmax([0, 1, 2]) to {AGREEMENT:g}. Subtracting the maximum "
            "changes nothing mathematically (softmax is shift-invariant)."
        ),
        figures=("softmax_stability.png",),
        headline=(
            f"naive softmax is not finite from c = {m.first_up:g} (overflow) and c = "
            f"{m.first_down:g} (underflow); with the maximum subtracted, its largest error at "
            f"c = ±{LARGE:g} is {float(errors.max()):.1e}"
        ),
    )


def findings(m: Measured, out: Path) -> list[findings_mod.Finding]:
    """The C12 and C13 findings and their figures from a :func:`measure` result."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = [_c12(m, out), _c13(m, out)]
    findings_mod.write(out, result)
    return result


def run(out: Path, *, quick: bool = False) -> list[findings_mod.Finding]:
    """Runs the study into ``out`` (figures, ``findings.json``); returns the findings.

    Args:
      out: output directory (created).
      quick: accepted for the common study interface; the study is the same (it is
        a computation, not a training run).

    Returns:
      The findings for C12 and C13.
    """
    return findings(measure(quick=quick), Path(out))
