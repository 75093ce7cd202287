r"""Learnable-shape activations: the rational fits, their speed, and claim C16's rule.

``python -m experiments.learnable_shapes`` regenerates the two generated blocks
of ``docs/learnable_shapes.md``:

- ``--fit-table``: for each initial target (leaky_relu, relu, gelu, swish,
  tanh), the least-squares fit of a (5, 4) rational on :math:`[-3, 3]`
  (:func:`jaxact.fit_rational`, 2001 points) and its max and RMS error on
  :math:`[-3, 3]` and on :math:`[-10, 10]` (2001 points each, float64);
- ``--speed``: forward and forward+backward time of ``jaxact.rational``
  (degrees (5, 4), default coefficients) against ``jaxact.gelu`` under
  ``jax.jit`` on :math:`2^{24}` float32 elements, timed in one run,
  interleaved (the order alternates each repeat); min and median over the
  repeats and their ratios. Forward+backward is ``y, vjp(ones)`` w.r.t. ``x``
  (both arrays returned, as the C15 benchmark does), and also ``grad(sum f)``
  w.r.t. ``x`` (the reduction fused into the backward pass); a last row also
  returns the coefficient gradients.

With neither flag, both blocks are refreshed.

Claim C16 ("learnable rational activations match or beat the best fixed
activation", Molina et al. 2020) is settled by :func:`c16_verdict`, a pure
function of per-seed accuracies stated before the run:

1. the best baseline (fixed or parametric activations: relu, swish with a
   learned :math:`\beta`, ...) and the best rational variant (e.g. init
   leaky_relu, init gelu) are each chosen by mean *validation* accuracy;
2. the difference of their *test* accuracies, seed by seed (the runs share
   seeds), gets a two-sided 95% Student-t interval (:mod:`experiments.stats`);
3. *supported* when the interval's lower end is at least ``-margin`` (the
   rational matches, within ``margin``, or beats the best baseline; "beats"
   when the lower end is above ``+margin``); *not supported* when its upper end
   is below ``-margin``; *inconclusive* when it contains ``-margin``.

``margin`` is 0.01 (one percentage point of accuracy) and at least 5 seeds
are required.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[1] / "docs" / "learnable_shapes.md"
TARGETS = ("leaky_relu", "relu", "gelu", "swish", "tanh")
DEGREES = (5, 4)
FIT_INTERVAL = (-3.0, 3.0)
EVAL_INTERVALS = ((-3.0, 3.0), (-10.0, 10.0))
C16_MARGIN = 0.01
C16_MIN_SEEDS = 5


# ----------------------------------------------------------------------------
# Claim C16: the verdict rule (pure; stated before the run)
# ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class C16Verdict:
    """The outcome of :func:`c16_verdict`.

    Attributes:
      verdict: ``"supported"``, ``"not supported"`` or ``"inconclusive"``.
      beats: whether the rational is better by more than the margin.
      rational: the validation-chosen rational variant.
      baseline: the validation-chosen best baseline.
      difference: mean and 95% t-interval of test(rational) - test(baseline), per seed.
    """

    verdict: str
    beats: bool
    rational: str
    baseline: str
    difference: object  # experiments.stats.Summary


def _check_runs(runs: Mapping[str, Sequence[float]], arg: str) -> dict[str, np.ndarray]:
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(f"c16_verdict: {arg} must map a name to per-seed accuracies")
    out = {}
    for name, values in runs.items():
        v = np.asarray(values, np.float64)
        if v.ndim != 1 or v.size < C16_MIN_SEEDS or not np.all(np.isfinite(v)):
            raise ValueError(
                f"c16_verdict: {arg}[{name!r}] must hold >= {C16_MIN_SEEDS} finite per-seed "
                f"accuracies, got {values!r}"
            )
        if np.any((v < 0) | (v > 1)):
            raise ValueError(f"c16_verdict: {arg}[{name!r}] accuracies must lie in [0, 1]")
        out[name] = v
    return out


def _best(validation: Mapping[str, np.ndarray]) -> str:
    """The name with the highest mean validation accuracy (ties: the first given)."""
    names = list(validation)
    means = [float(validation[n].mean()) for n in names]
    return names[int(np.argmax(means))]


def c16_verdict(
    rational_test: Mapping[str, Sequence[float]],
    rational_validation: Mapping[str, Sequence[float]],
    baseline_test: Mapping[str, Sequence[float]],
    baseline_validation: Mapping[str, Sequence[float]],
    *,
    margin: float = C16_MARGIN,
) -> C16Verdict:
    """C16's verdict from per-seed accuracies (fractions in [0, 1]), seed ``i`` shared.

    Args:
      rational_test, rational_validation: rational variant name -> per-seed
        test / validation accuracies (the same seeds, in the same order, as
        the baselines').
      baseline_test, baseline_validation: fixed/parametric activation name ->
        per-seed accuracies.
      margin: the "match" margin in accuracy (0.01 = one percentage point).

    Returns:
      A :class:`C16Verdict` (see the module docstring for the rule).

    Raises:
      ValueError: fewer than 5 seeds, values outside [0, 1], test and
        validation names that differ, or seed counts that differ.

    Examples:
      >>> base = {"relu": [0.80, 0.81, 0.79, 0.80, 0.82]}
      >>> rat = {"rational": [0.83, 0.84, 0.82, 0.83, 0.85]}
      >>> v = c16_verdict(rat, rat, base, base)
      >>> v.verdict, v.beats, v.baseline
      ('supported', True, 'relu')
    """
    if not (isinstance(margin, (int, float)) and np.isfinite(margin) and margin >= 0):
        raise ValueError(f"c16_verdict: margin must be a finite number >= 0, got {margin!r}")
    from experiments import stats

    rt = _check_runs(rational_test, "rational_test")
    rv = _check_runs(rational_validation, "rational_validation")
    bt = _check_runs(baseline_test, "baseline_test")
    bv = _check_runs(baseline_validation, "baseline_validation")
    if set(rt) != set(rv) or set(bt) != set(bv):
        raise ValueError("c16_verdict: test and validation runs must name the same activations")
    sizes = {v.size for v in (*rt.values(), *rv.values(), *bt.values(), *bv.values())}
    if len(sizes) != 1:
        raise ValueError(f"c16_verdict: every run needs the same seeds, got sizes {sorted(sizes)}")
    rational, baseline = _best(rv), _best(bv)
    diff = stats.paired_difference(rt[rational], bt[baseline])
    if diff.ci_low >= -margin:
        verdict = "supported"
    elif diff.ci_high < -margin:
        verdict = "not supported"
    else:
        verdict = "inconclusive"
    return C16Verdict(verdict, bool(diff.ci_low > margin), rational, baseline, diff)


# ----------------------------------------------------------------------------
# The fit table
# ----------------------------------------------------------------------------


def fit_rows(
    targets: Sequence[str] = TARGETS,
    degrees: tuple[int, int] = DEGREES,
    interval: tuple[float, float] = FIT_INTERVAL,
) -> list[dict]:
    """Per target: the fitted coefficients and (max, RMS) error on each evaluation interval."""
    import jaxact

    rows = []
    for target in targets:
        fit = jaxact.fit_rational(target, degrees, interval)
        row = {"target": target, "numerator": fit.numerator, "denominator": fit.denominator}
        for iv in EVAL_INTERVALS:
            row[f"max{iv}"], row[f"rms{iv}"] = jaxact.fit_errors(
                fit.numerator, fit.denominator, target, iv
            )
        rows.append(row)
    return rows


def fit_table(rows: Sequence[dict]) -> str:
    """The Markdown table of :func:`fit_rows` (errors, then the coefficients)."""
    lines = [
        "| target | max error [−3, 3] | RMS [−3, 3] | max error [−10, 10] | RMS [−10, 10] |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        a, b = EVAL_INTERVALS
        lines.append(
            f"| `{r['target']}` | {r[f'max{a}']:.3g} | {r[f'rms{a}']:.3g} "
            f"| {r[f'max{b}']:.3g} | {r[f'rms{b}']:.3g} |"
        )
    lines += [
        "",
        "| target | numerator a₀ … a₅ | denominator b₁ … b₄ | slope at ±∞, a₅/abs(b₄) |",
        "|---|---|---|---|",
    ]
    for r in rows:
        num = ", ".join(f"{v:.6g}" for v in r["numerator"])
        den = ", ".join(f"{v:.6g}" for v in r["denominator"])
        slope = r["numerator"][-1] / abs(r["denominator"][-1])
        lines.append(f"| `{r['target']}` | {num} | {den} | {slope:.3g} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# Speed: rational (5, 4) against gelu
# ----------------------------------------------------------------------------


def _programs() -> dict[str, Callable]:
    import jax
    import jax.numpy as jnp

    import jaxact

    a = jnp.asarray(jaxact.get("rational").params["numerator"], jnp.float32)
    b = jnp.asarray(jaxact.get("rational").params["denominator"], jnp.float32)

    def fwd_bwd(f):
        def run(x, g):
            y, pullback = jax.vjp(f, x)
            return y, pullback(g.astype(y.dtype))[0]

        return jax.jit(run)

    def rational(x):
        return jaxact.rational(x, numerator=a, denominator=b)

    def with_coefficients(x, g):
        def f(x, a, b):
            return jaxact.rational(x, numerator=a, denominator=b)

        y, pullback = jax.vjp(f, x, a, b)
        return y, pullback(g.astype(y.dtype))

    return {
        "rational fwd": jax.jit(lambda x, g: rational(x)),
        "gelu fwd": jax.jit(lambda x, g: jaxact.gelu(x)),
        "rational fwd+bwd": fwd_bwd(rational),
        "gelu fwd+bwd": fwd_bwd(jaxact.gelu),
        "rational grad(sum)": jax.jit(lambda x, g: jax.grad(lambda t: jnp.sum(rational(t)))(x)),
        "gelu grad(sum)": jax.jit(lambda x, g: jax.grad(lambda t: jnp.sum(jaxact.gelu(t)))(x)),
        "rational fwd+bwd (x and coefficients)": jax.jit(with_coefficients),
    }


def speed(size_log2: int = 24, repeats: int = 7, seed: int = 0) -> dict[str, dict[str, float]]:
    """Seconds (min and median over ``repeats``) of each program on ``2**size_log2`` float32.

    Every program is compiled and run once before timing; the repeats run the
    programs one after the other, in an order that alternates each repeat.
    """
    import jax
    import jax.numpy as jnp

    programs = _programs()
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=2**size_log2) * 3, jnp.float32)
    g = jnp.ones_like(x)
    for p in programs.values():
        jax.block_until_ready(p(x, g))
    times: dict[str, list[float]] = {k: [] for k in programs}
    names = list(programs)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            jax.block_until_ready(programs[name](x, g))
            times[name].append(time.perf_counter() - t0)
    return {k: {"min": min(v), "median": float(np.median(v))} for k, v in times.items()}


def _load() -> str:
    """The 1-minute load average and CPU count (timings on a busy machine are noisier)."""
    import os

    try:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    except (AttributeError, OSError):  # pragma: no cover - platforms without getloadavg
        return f"{os.cpu_count()} CPUs"


def speed_table(result: Mapping[str, Mapping[str, float]], size_log2: int, repeats: int) -> str:
    """Markdown: times and the rational/gelu ratios, with the 2x target's outcome."""
    lines = [
        f"{2**size_log2:,} float32 elements (2^{size_log2}), `jax.jit`, {repeats} interleaved "
        f"repeats after one warm-up call; seconds ({_load()} when the table was written).",
        "",
        "| program | min (s) | median (s) |",
        "|---|---|---|",
    ]
    for name, t in result.items():
        lines.append(f"| {name} | {t['min']:.4f} | {t['median']:.4f} |")
    lines += ["", "| pass | rational / gelu (min) | rational / gelu (median) | within 2× |"]
    lines.append("|---|---|---|---|")
    for kind in ("fwd", "fwd+bwd", "grad(sum)"):
        r, g = result[f"rational {kind}"], result[f"gelu {kind}"]
        ratio_min, ratio_med = r["min"] / g["min"], r["median"] / g["median"]
        ok = "yes" if max(ratio_min, ratio_med) <= 2 else "no"
        lines.append(f"| {kind} | {ratio_min:.2f} | {ratio_med:.2f} | {ok} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# The document
# ----------------------------------------------------------------------------


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block between ``<!-- name:start -->`` and ``<!-- name:end -->`` set."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"experiments.learnable_shapes: no {start} ... {end} block in the text")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.learnable_shapes",
        description="Regenerate docs/learnable_shapes.md: rational fit errors and speed.",
    )
    parser.add_argument("--fit-table", action="store_true", help="refresh the fit-error table")
    parser.add_argument("--speed", action="store_true", help="refresh the speed table")
    parser.add_argument("--size-log2", type=int, default=24, help="log2 of the element count")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per program")
    parser.add_argument("--doc", type=Path, default=DOC, help="the document to update")
    args = parser.parse_args(argv)
    if not 1 <= args.size_log2 <= 28 or args.repeats < 1:
        parser.error("--size-log2 must be in 1..28 and --repeats >= 1")
    both = not (args.fit_table or args.speed)
    text = args.doc.read_text()
    if args.fit_table or both:
        text = replace_block(text, "fit-table", fit_table(fit_rows()))
    if args.speed or both:
        result = speed(args.size_log2, args.repeats)
        text = replace_block(text, "speed", speed_table(result, args.size_log2, args.repeats))
        print(speed_table(result, args.size_log2, args.repeats))
    args.doc.write_text(text)
    print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
