r"""Saturation and cost of the activations: claims C2 and C15.

C2 (seeds 000, 001, 002): sigmoid′ peaks at 0.25 at x = 0 and tanh′ at 1;
both go to 0 away from 0, sigmoid saturating beyond about ±6 and tanh beyond
about ±4. Measured with the registry's closed-form ``.dfdx``:

- the maximum and argmax of :math:`f'` on the grid
  :math:`\{k \cdot 10^{-4}\} \cap [-10, 10]` (which contains 0 exactly);
- for every elementwise registry activation (default parameters) and each
  side, the saturation threshold: the smallest grid point :math:`t \ge 0`
  (step :math:`10^{-3}`) with :math:`|f'(x)| <` ``EPS`` :math:`= 10^{-3}` for
  every grid point beyond it, :math:`|x| \in [t, 60]`; "never" when
  :math:`|f'(\pm 60)| \ge` ``EPS``. Compared with the registry's
  ``saturating`` field.

Rule for C2: *supported* if max sigmoid′ = 0.25 and max tanh′ = 1 (to 1e-6) at
:math:`|x| \le 10^{-4}`, and the sigmoid and tanh thresholds are within 1 of
the sources' 6 and 4 on both sides; otherwise *not supported*.

C15 (seed 001): "exp makes sigmoid/tanh slower than ReLU". Forward
(``f(x)``) and forward+backward (``y, vjp(g)`` of ``f``) throughput under
``jax.jit`` on float32 arrays of ``2**22`` elements (``2**14`` in quick
mode), every activation timed in the same run, interleaved (the order rotates
each repeat), the median of the repeats, relative to ReLU; the bare
``jnp.exp`` is timed beside them. Rule: *supported* if sigmoid and tanh are
both at least 1.5× slower than ReLU in both passes, *not supported* if all four
ratios are at most 1.1, *depends* otherwise (the ratio is a property of the
device: a vectorised ``exp`` on a memory-bound CPU or GPU hides most of it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
from experiments import findings

CLAIMS = ("C2", "C15")

#: |f'| below this counts as saturated.
EPS = 1e-3
#: The sources' "about ±6" (sigmoid, seed 001) and "about ±4" (tanh, seed 002).
SOURCE_THRESHOLDS = {"sigmoid": 6.0, "tanh": 4.0}
#: How far (in x) a measured threshold may be from the sources' for "about".
THRESHOLD_TOLERANCE = 1.0
#: The activations timed for C15 (plus the bare ``exp``).
TIMED = ("relu", "leaky_relu", "sigmoid", "tanh", "elu", "selu", "silu", "gelu", "softplus")
SUPPORTED_RATIO = 1.5
NO_GAP_RATIO = 1.1

_MAX_STEP = 1e-4
_SAT_STEP = 1e-3
_SAT_RANGE = 60.0


def derivative_maximum(name: str) -> tuple[float, float, float]:
    r"""Maximum of the closed-form :math:`f'` on a grid of :math:`[-10, 10]`, where it is reached.

    Args:
      name: an elementwise registry name (default parameters).

    Returns:
      ``(max f', argmax, plateau)`` over the float32 grid
      :math:`x = k \cdot 10^{-4}`, :math:`|x| \le 10`: the argmax closest to 0
      and the largest :math:`|x|` where the float32 value still equals the
      maximum (rounding makes the top of a smooth peak flat).

    Examples:
      >>> derivative_maximum("sigmoid")[:2]
      (0.25, 0.0)
    """
    record = jaxact.get(name)
    if not record.elementwise:
        raise ValueError(f"name must be an elementwise activation, got {name!r}")
    k = np.arange(-100_000, 100_001)
    x = (k * _MAX_STEP).astype(np.float32)
    d = np.asarray(record.dfdx(jnp.asarray(x)))
    top = d.max()
    at = np.abs(x[d == top])
    return float(top), float(at.min()), float(at.max())


def saturation_threshold(name: str, side: str, *, eps: float = EPS) -> float:
    r"""The :math:`|x|` beyond which :math:`|f'(x)| <` ``eps`` on one side (``inf``: never).

    Evaluated with the closed-form ``.dfdx`` at the default parameters on the
    grid :math:`|x| = k \cdot 10^{-3} \le 60`: the smallest grid point
    :math:`t` with :math:`|f'| < \varepsilon` at every grid point from
    :math:`t` to 60 on that side; ``inf`` if :math:`|f'(\pm 60)| \ge \varepsilon`.

    Args:
      name: an elementwise registry name.
      side: ``"negative"`` or ``"positive"``.
      eps: the saturation level (> 0).

    Returns:
      The threshold :math:`t` (0 when the derivative is below ``eps`` on the
      whole side, e.g. ReLU's negative side), or ``inf``.

    Examples:
      >>> round(saturation_threshold("sigmoid", "positive"), 2)
      6.91
      >>> saturation_threshold("relu", "negative"), saturation_threshold("relu", "positive")
      (0.0, inf)
    """
    if side not in ("negative", "positive"):
        raise ValueError(f"side must be 'negative' or 'positive', got {side!r}")
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    record = jaxact.get(name)
    if not record.elementwise:
        raise ValueError(f"name must be an elementwise activation, got {name!r}")
    mag = np.arange(0, round(_SAT_RANGE / _SAT_STEP) + 1) * _SAT_STEP
    x = (mag if side == "positive" else -mag).astype(np.float32)
    d = np.abs(np.asarray(record.dfdx(jnp.asarray(x))))
    above = np.flatnonzero(d >= eps)
    if above.size == 0:
        return 0.0
    if above[-1] == mag.size - 1:
        return float("inf")
    return float(mag[above[-1] + 1])


def _threshold_table() -> list[dict]:
    rows = []
    for name in jaxact.names():
        record = jaxact.get(name)
        if not record.elementwise:
            continue
        row = {"name": name, "registry": tuple(record.saturating)}
        for side in ("negative", "positive"):
            row[side] = saturation_threshold(name, side)
        measured = tuple(s for s in ("negative", "positive") if np.isfinite(row[s]))
        row["measured"] = measured
        row["agrees"] = measured == row["registry"]
        rows.append(row)
    return rows


def _axes(figsize: tuple[float, float]):
    """A new matplotlib Figure (no pyplot state) and its single Axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _fmt_t(t: float) -> str:
    return "never" if not np.isfinite(t) else f"{t:.2f}"


# -- C15: timing ---------------------------------------------------------------


def _timed_functions(n: int) -> dict[str, tuple[Callable, Callable]]:
    fns: dict[str, Callable] = {name: jaxact.get(name).fn for name in TIMED}
    fns["exp (bare)"] = jnp.exp
    out = {}
    for name, f in fns.items():

        def both(x, g, f=f):
            y, pull = jax.vjp(f, x)
            return y, pull(g)[0]

        out[name] = (jax.jit(f), jax.jit(both))
    return out


def time_activations(n: int, repeats: int, *, seed: int = 0) -> dict[str, dict[str, float]]:
    """Median seconds per call of each timed activation, forward and forward+backward.

    All functions are compiled and run once first; then ``repeats`` rounds
    time each function once per round, in an order that rotates every round.

    Args:
      n: elements of the float32 input.
      repeats: timed rounds (>= 1).
      seed: seed of the standard-normal input.

    Returns:
      name -> ``{"forward": s, "forward_backward": s}`` (medians).
    """
    if n < 1 or repeats < 1:
        raise ValueError(f"n and repeats must be >= 1, got n={n}, repeats={repeats}")
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal(n, dtype=np.float32))
    g = jnp.ones_like(x)
    fns = _timed_functions(n)
    calls = []
    for name, (fwd, both) in fns.items():
        calls.append((name, "forward", lambda fwd=fwd: fwd(x)))
        calls.append((name, "forward_backward", lambda both=both: both(x, g)))
    for _, _, call in calls:  # compile and warm up
        jax.block_until_ready(call())
    times: dict[tuple[str, str], list[float]] = {(a, p): [] for a, p, _ in calls}
    for r in range(repeats):
        shift = r % len(calls)
        for name, kind, call in calls[shift:] + calls[:shift]:
            t0 = time.perf_counter()
            jax.block_until_ready(call())
            times[(name, kind)].append(time.perf_counter() - t0)
    result: dict[str, dict[str, float]] = {}
    for (name, kind), ts in times.items():
        result.setdefault(name, {})[kind] = float(np.median(ts))
    return result


# -- the study -----------------------------------------------------------------


def _c2(out: Path) -> findings.Finding:
    from experiments import figures
    from jaxact import plotting

    maxima = {n: derivative_maximum(n) for n in ("sigmoid", "tanh")}
    rows = _threshold_table()
    by_name = {r["name"]: r for r in rows}
    at_source = {n: float(jaxact.get(n).dfdx(jnp.float32(t))) for n, t in SOURCE_THRESHOLDS.items()}
    coarse = {n: saturation_threshold(n, "positive", eps=1e-2) for n in SOURCE_THRESHOLDS}

    peaks_ok = (
        abs(maxima["sigmoid"][0] - 0.25) <= 1e-6
        and abs(maxima["tanh"][0] - 1.0) <= 1e-6
        and all(abs(m[1]) <= _MAX_STEP for m in maxima.values())
    )
    thresholds_ok = all(
        abs(by_name[n][side] - src) <= THRESHOLD_TOLERANCE
        for n, src in SOURCE_THRESHOLDS.items()
        for side in ("negative", "positive")
    )
    verdict = "supported" if peaks_ok and thresholds_ok else "not supported"

    # Seed 000's tanh, (1 - e^-x)/(1 + e^-x) = tanh(x/2): its slope at 0.
    seed000_tanh = lambda x: (1 - jnp.exp(-x)) / (1 + jnp.exp(-x))
    seed000_slope = float(jax.grad(seed000_tanh)(0.0))
    xs = jnp.linspace(-5.0, 5.0, 101)
    half_tanh_gap = float(jnp.max(jnp.abs(seed000_tanh(xs) - jnp.tanh(xs / 2))))

    disagree = [r["name"] for r in rows if not r["agrees"]]
    table = [
        "| activation | saturates for x < −t | saturates for x > t | registry `saturating` |",
        "|---|---|---|---|",
    ]
    for r in rows:
        table.append(
            f"| {r['name']} | {_fmt_t(r['negative'])} | {_fmt_t(r['positive'])} | "
            f"{', '.join(r['registry']) or '—'} |"
        )
    s_neg, s_pos = by_name["sigmoid"]["negative"], by_name["sigmoid"]["positive"]
    t_neg, t_pos = by_name["tanh"]["negative"], by_name["tanh"]["positive"]
    numbers = "\n".join(
        [
            f"- max sigmoid′ = {maxima['sigmoid'][0]:.6g} at x = {maxima['sigmoid'][1]:g}; "
            f"max tanh′ = {maxima['tanh'][0]:.6g} at x = {maxima['tanh'][1]:g} "
            f"(closed-form `.dfdx`, float32, on a {_MAX_STEP:g} grid of [−10, 10]; float32 "
            f"rounds the peak flat for |x| ≤ {maxima['sigmoid'][2]:.4f} and "
            f"{maxima['tanh'][2]:.4f} respectively).",
            f"- |sigmoid′| < {EPS:g} for x < −{s_neg:.2f} and x > {s_pos:.2f} "
            f"(sources: about ±{SOURCE_THRESHOLDS['sigmoid']:g}, where sigmoid′ = "
            f"{at_source['sigmoid']:.2e}); |tanh′| < {EPS:g} for x < −{t_neg:.2f} and "
            f"x > {t_pos:.2f} (sources: about ±{SOURCE_THRESHOLDS['tanh']:g}, where tanh′ = "
            f"{at_source['tanh']:.2e}). At ε = 1e-2 the thresholds are "
            f"{coarse['sigmoid']:.2f} (sigmoid) and {coarse['tanh']:.2f} (tanh).",
            f"- Thresholds t with |f′| < {EPS:g} beyond them (grid step {_SAT_STEP:g}, "
            f'|x| ≤ {_SAT_RANGE:g}; "never": not below ε at ±{_SAT_RANGE:g}), default '
            "parameters. Measured sides "
            + (
                "agree with the registry's `saturating` field for every activation."
                if not disagree
                else f"disagree with the registry for: {', '.join(disagree)}."
            ),
            "",
            *table,
        ]
    )
    condition = (
        f"Rule: supported if the peaks are 0.25 and 1 (±1e-6) at |x| ≤ {_MAX_STEP:g} and "
        f"both thresholds lie within {THRESHOLD_TOLERANCE:g} of the sources' 6 and 4 at "
        f'ε = {EPS:g}. "Saturates" depends on ε: the derivative decays like e^(−|x|) '
        "(sigmoid) and 4e^(−2|x|) (tanh), never exactly 0."
    )
    correction = (
        "Seed 001 gives the sigmoid derivative's range as 0–0.025; it is (0, 0.25]: "
        "σ′(x) = σ(x)(1 − σ(x)) ≤ 1/4 with equality at x = 0 (measured max "
        f"{maxima['sigmoid'][0]:g}). Seed 000 writes tanh(x) = (1 − e^−x)/(1 + e^−x), which "
        f"is tanh(x/2) (max difference {half_tanh_gap:.1e} on [−5, 5]) with slope "
        f"{seed000_slope:g} at 0, not 1; tanh(x) = (e^x − e^−x)/(e^x + e^−x)."
    )

    grid = np.linspace(-8, 8, 641, dtype=np.float32)
    fig = plotting.plot_activation(["sigmoid", "tanh"], x=grid)
    d_ax = fig.axes[1]
    d_ax.axhline(EPS, color="0.4", ls=":", lw=1)
    for i, name in enumerate(("sigmoid", "tanh")):
        for sign, side in ((-1.0, "negative"), (1.0, "positive")):
            if np.isfinite(by_name[name][side]):
                d_ax.axvline(sign * by_name[name][side], color=f"C{i}", ls=":", lw=1)
    fig.suptitle(f"sigmoid and tanh: saturation thresholds (|f′| < {EPS:g}, dotted)")
    figures.save(fig, out / "saturation.png")

    _threshold_figure(out / "thresholds.png", [r for r in rows if r["name"] != "identity"])

    return findings.Finding(
        claim="C2",
        statement=(
            "sigmoid′ peaks at 0.25 at x = 0 and tanh′ at 1; both go to 0 away from 0, "
            "sigmoid saturating beyond about ±6 and tanh beyond about ±4."
        ),
        sources=("000", "001", "002"),
        numbers=numbers,
        verdict=verdict,
        condition=condition,
        figures=("saturation.png", "thresholds.png"),
        correction=correction,
        headline=(
            f"max sigmoid′ = {maxima['sigmoid'][0]:.6g}, max tanh′ = {maxima['tanh'][0]:.6g}; "
            f"|f′| < {EPS:g} beyond ±{s_pos:.2f} (sigmoid) and ±{t_pos:.2f} (tanh)"
        ),
    )


def _threshold_figure(path: Path, rows: list[dict]) -> None:
    """Each activation's saturation thresholds as points: further left = saturates sooner.

    One row per activation, sorted by its smaller threshold; a side whose
    derivative never falls below ``EPS`` within ``±_SAT_RANGE`` sits in a
    separate "never" column on the right.
    """
    from experiments import figures

    finite = [r[side] for r in rows for side in ("negative", "positive") if np.isfinite(r[side])]
    top = float(np.ceil(max(finite + [1.0]) / 5) * 5)
    never = top * 1.12
    rows = sorted(rows, key=lambda r: (min(r["negative"], r["positive"]), r["name"]))
    fig, ax = _axes((7.0, 0.28 * len(rows) + 1.4))
    ys = np.arange(len(rows))
    for side, marker, color, dy in (("negative", "<", "C0", -0.12), ("positive", ">", "C1", 0.12)):
        t = np.array([r[side] for r in rows])
        shown = np.where(np.isfinite(t), t, never)
        ax.scatter(
            shown,
            ys + dy,
            marker=marker,
            color=color,
            s=28,
            label=f"{side} side: |f′(x)| < {EPS:g} for all {'x < −t' if side == 'negative' else 'x > t'}",
            zorder=3,
        )
    ax.axvline(top * 1.06, color="0.6", lw=0.8, ls="--")
    ax.set_yticks(ys, [r["name"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ticks = [v for v in np.linspace(0, top, 6)]
    ax.set_xticks([*ticks, never], [f"{v:g}" for v in ticks] + ["never"])
    ax.set_xlim(-0.5, never + top * 0.05)
    ax.set(
        title=f"saturation threshold t (smaller = saturates sooner; ε = {EPS:g})",
        xlabel=f"t (grid step {_SAT_STEP:g}; \"never\": |f′| ≥ ε at ±{_SAT_RANGE:g})",
    )
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2)
    figures.save(fig, path)


def _c15(out: Path, quick: bool) -> tuple[findings.Finding, dict]:
    from experiments import figures

    n = 2**14 if quick else 2**22
    repeats = 3 if quick else 25
    medians = time_activations(n, repeats)
    passes = ("forward", "forward_backward")
    ratio = {a: {p: medians[a][p] / medians["relu"][p] for p in passes} for a in medians}
    key = [ratio[a][p] for a in ("sigmoid", "tanh") for p in passes]
    if min(key) >= SUPPORTED_RATIO:
        verdict = "supported"
    elif max(key) <= NO_GAP_RATIO:
        verdict = "not supported"
    else:
        verdict = "depends"
    device = jax.devices()[0]
    where = f"{jax.default_backend()} ({device.device_kind}, {jax.device_count()} device(s))"
    lines = [
        f"- Device: {where}; float32 arrays of {n:,} elements; median of {repeats} interleaved "
        "repeats under `jax.jit`.",
        "",
        "| activation | forward (ms) | ×ReLU | forward+backward (ms) | ×ReLU | Gelem/s fwd |",
        "|---|---|---|---|---|---|",
    ]
    for a in medians:
        m = medians[a]
        lines.append(
            f"| {a} | {1e3 * m['forward']:.3f} | {ratio[a]['forward']:.2f} | "
            f"{1e3 * m['forward_backward']:.3f} | {ratio[a]['forward_backward']:.2f} | "
            f"{n / m['forward'] / 1e9:.2f} |"
        )
    condition = (
        f"Rule: supported if sigmoid and tanh are ≥ {SUPPORTED_RATIO:g}× ReLU's time in both "
        f"passes, not supported if all four ratios are ≤ {NO_GAP_RATIO:g}, depends otherwise. "
        f"Measured on {where}: sigmoid {ratio['sigmoid']['forward']:.2f}×/"
        f"{ratio['sigmoid']['forward_backward']:.2f}×, tanh {ratio['tanh']['forward']:.2f}×/"
        f"{ratio['tanh']['forward_backward']:.2f}× (forward/forward+backward). The gap is a "
        "property of the hardware and of the array size: elementwise activations are "
        "memory-bound on accelerators, and in a network the matrix products dominate "
        "(seed 001 itself notes that convolutions cost more)."
    )
    names = list(medians)
    fig, ax = _axes((7.2, 4.0))
    xs = np.arange(len(names))
    ax.bar(xs - 0.2, [ratio[a]["forward"] for a in names], 0.4, label="forward")
    ax.bar(xs + 0.2, [ratio[a]["forward_backward"] for a in names], 0.4, label="forward+backward")
    ax.axhline(1.0, color="0.3", lw=0.8)
    ax.set_xticks(xs, names, rotation=40, ha="right", fontsize=8)
    ax.set(
        title=f"time / ReLU time ({jax.default_backend()}, {n:,} float32, median of {repeats})",
        ylabel="time / ReLU time",
    )
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    figures.save(fig, out / "throughput.png")
    finding = findings.Finding(
        claim="C15",
        statement="The exp in sigmoid and tanh makes them slower to compute than ReLU.",
        sources=("001",),
        numbers="\n".join(lines),
        verdict=verdict,
        condition=condition,
        figures=("throughput.png",),
        headline=(
            f"time / ReLU's on {jax.default_backend()}, forward and forward+backward: sigmoid "
            f"{ratio['sigmoid']['forward']:.2f}× and {ratio['sigmoid']['forward_backward']:.2f}×, "
            f"tanh {ratio['tanh']['forward']:.2f}× and {ratio['tanh']['forward_backward']:.2f}× "
            f"(medians of {repeats})"
        ),
    )
    return finding, {"n": n, "repeats": repeats, "medians": medians, "ratio": ratio}


def run(out: Path, *, quick: bool = False) -> list[findings.Finding]:
    """Runs the study into ``out`` (figures and ``findings.json``); returns the findings.

    Args:
      out: output directory (created).
      quick: tiny timing arrays (2**14 elements, 3 repeats) instead of 2**22 and 25.

    Returns:
      The findings for C2 and C15.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c2 = _c2(out)
    c15, _ = _c15(out, quick)
    result = [c2, c15]
    findings.write(out, result)
    return result
