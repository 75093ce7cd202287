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
(``f(x)``) and forward+backward (``y, vjp(g)`` of ``f``) time per call under
``jax.jit`` on float32 arrays of ``2**22`` elements (``2**14`` in quick
mode), every activation timed in the same run, interleaved (the order rotates
each repeat), so the ratios to ReLU are measured side by side; the bare
``jnp.exp`` is timed beside them. Each call's time is summarised by the
minimum of its repeats (the least disturbed by other work on the machine) and
by their median. Rule (:func:`c15_verdict`, on the ratios of the minima):
*supported* if sigmoid and tanh are both at least 1.5× slower than ReLU in both
passes, *not supported* if all four ratios are at most 1.1, *depends* otherwise
(the ratio is a property of the device: a vectorised ``exp`` on a memory-bound
CPU or GPU hides most of it). The report states whether the medians' ratios
give the same verdict.

The study is split into :func:`measure` (the measurements, as arrays), the rules
:func:`c2_verdict` and :func:`c15_verdict` (pure functions of those arrays) and
:func:`findings` (text and figures).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
from experiments import findings as _findings

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
PASSES = ("forward", "forward_backward")
#: Timed rounds at full size.
REPEATS = 50

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


def time_activations(n: int, repeats: int, *, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Wall-clock seconds per call of each timed activation, forward and forward+backward.

    All functions are compiled and run once first; then ``repeats`` rounds
    time each function once per round, in an order that rotates every round,
    so every activation is timed under the same conditions as ReLU. (The
    process's CPU time is no substitute on a loaded machine: XLA's worker
    threads are accounted only at scheduler ticks, which undercounts short calls.)

    Args:
      n: elements of the float32 input.
      repeats: timed rounds (>= 1).
      seed: seed of the standard-normal input.

    Returns:
      name -> ``{"forward": s, "forward_backward": s}``, arrays of shape ``(repeats,)``.
    """
    if n < 1 or repeats < 1:
        raise ValueError(f"n and repeats must be >= 1, got n={n}, repeats={repeats}")
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal(n, dtype=np.float32))
    g = jnp.ones_like(x)
    calls = []
    for name, (fwd, both) in _timed_functions(n).items():
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
    result: dict[str, dict[str, np.ndarray]] = {}
    for (name, kind), ts in times.items():
        result.setdefault(name, {})[kind] = np.asarray(ts)
    return result


def timing_ratios(
    times: Mapping[str, Mapping[str, np.ndarray]], statistic: str = "min"
) -> dict[str, dict[str, float]]:
    """Each activation's time over ReLU's, per pass, from the ``min`` or ``median`` of the repeats.

    Examples:
      >>> t = {"relu": {"forward": np.array([1.0, 3.0])}, "tanh": {"forward": np.array([2.0, 4.0])}}
      >>> timing_ratios(t), timing_ratios(t, "median")
      ({'relu': {'forward': 1.0}, 'tanh': {'forward': 2.0}}, {'relu': {'forward': 1.0}, 'tanh': {'forward': 1.5}})
    """
    if statistic not in ("min", "median"):
        raise ValueError(f"statistic must be 'min' or 'median', got {statistic!r}")
    stat = np.min if statistic == "min" else np.median
    base = {p: float(stat(v)) for p, v in times["relu"].items()}
    return {a: {p: float(stat(v)) / base[p] for p, v in by.items()} for a, by in times.items()}


# -- measurement -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Measured:
    """What :func:`measure` returns.

    Attributes:
      maxima: ``"sigmoid"``/``"tanh"`` -> :func:`derivative_maximum`.
      rows: per elementwise activation, its thresholds on each side and the
        registry's ``saturating`` field (see :func:`saturation_threshold`).
      at_source: f′ at the sources' thresholds 6 (sigmoid) and 4 (tanh).
      coarse: the positive-side thresholds at ε = 1e-2.
      seed000_slope, half_tanh_gap: slope at 0 of seed 000's "tanh", and its
        largest distance from tanh(x/2) on [−5, 5].
      times: :func:`time_activations`; n, repeats: its sizes; device: where it ran.
    """

    maxima: dict[str, tuple[float, float, float]]
    rows: list[dict]
    at_source: dict[str, float]
    coarse: dict[str, float]
    seed000_slope: float
    half_tanh_gap: float
    times: dict[str, dict[str, np.ndarray]]
    n: int
    repeats: int
    device: str

    def thresholds(self) -> dict[str, dict[str, float]]:
        """name -> side -> threshold."""
        return {r["name"]: {s: r[s] for s in ("negative", "positive")} for r in self.rows}


def measure(quick: bool = False) -> Measured:
    """The derivative maxima and saturation thresholds (C2), and the timings (C15).

    Args:
      quick: tiny timing arrays (2**14 elements, 3 repeats) instead of 2**22 and :data:`REPEATS`.
    """
    seed000_tanh = lambda x: (1 - jnp.exp(-x)) / (1 + jnp.exp(-x))
    xs = jnp.linspace(-5.0, 5.0, 101)
    n = 2**14 if quick else 2**22
    repeats = 3 if quick else REPEATS
    device = jax.devices()[0]
    return Measured(
        maxima={k: derivative_maximum(k) for k in ("sigmoid", "tanh")},
        rows=_threshold_table(),
        at_source={
            k: float(jaxact.get(k).dfdx(jnp.float32(t))) for k, t in SOURCE_THRESHOLDS.items()
        },
        coarse={k: saturation_threshold(k, "positive", eps=1e-2) for k in SOURCE_THRESHOLDS},
        seed000_slope=float(jax.grad(seed000_tanh)(0.0)),
        half_tanh_gap=float(jnp.max(jnp.abs(seed000_tanh(xs) - jnp.tanh(xs / 2)))),
        times=time_activations(n, repeats),
        n=n,
        repeats=repeats,
        device=f"{jax.default_backend()} ({device.device_kind}, {jax.device_count()} device(s))",
    )


# -- the rules -------------------------------------------------------------------


def c2_verdict(
    maxima: Mapping[str, tuple[float, ...]],
    thresholds: Mapping[str, Mapping[str, float]],
    *,
    tolerance: float = THRESHOLD_TOLERANCE,
) -> str:
    """C2's verdict from the derivative maxima and the saturation thresholds.

    Args:
      maxima: ``"sigmoid"`` and ``"tanh"`` -> ``(max f′, argmax, ...)``.
      thresholds: ``"sigmoid"`` and ``"tanh"`` -> side -> threshold.
      tolerance: how far a threshold may lie from the sources' 6 and 4.

    Returns:
      ``"supported"`` if the peaks are 0.25 and 1 (±1e-6) at |x| ≤ 1e-4 and all four
      thresholds lie within ``tolerance`` of the sources', else ``"not supported"``.
      Closed forms, no seeds: no part compares two means.

    Examples:
      >>> m = {"sigmoid": (0.25, 0.0), "tanh": (1.0, 0.0)}
      >>> t = {"sigmoid": {"negative": 6.9, "positive": 6.9}, "tanh": {"negative": 4.2, "positive": 4.2}}
      >>> c2_verdict(m, t), c2_verdict({**m, "sigmoid": (0.025, 0.0)}, t)
      ('supported', 'not supported')
    """
    peaks = (
        abs(maxima["sigmoid"][0] - 0.25) <= 1e-6
        and abs(maxima["tanh"][0] - 1.0) <= 1e-6
        and all(abs(maxima[k][1]) <= _MAX_STEP for k in ("sigmoid", "tanh"))
    )
    near = all(
        abs(thresholds[k][side] - src) <= tolerance
        for k, src in SOURCE_THRESHOLDS.items()
        for side in ("negative", "positive")
    )
    return "supported" if peaks and near else "not supported"


def c15_verdict(
    ratios: Mapping[str, Mapping[str, float]],
    *,
    supported: float = SUPPORTED_RATIO,
    no_gap: float = NO_GAP_RATIO,
) -> str:
    """C15's verdict from sigmoid's and tanh's time over ReLU's in both passes.

    Returns:
      ``"supported"`` if all four ratios are ≥ ``supported``, ``"not supported"``
      if all are ≤ ``no_gap``, ``"depends"`` otherwise.

    Examples:
      >>> r = lambda f, b: {"forward": f, "forward_backward": b}
      >>> c15_verdict({"sigmoid": r(2.0, 1.6), "tanh": r(1.5, 3.0)})
      'supported'
      >>> c15_verdict({"sigmoid": r(1.0, 1.05), "tanh": r(0.9, 1.1)})
      'not supported'
      >>> c15_verdict({"sigmoid": r(1.0, 1.3), "tanh": r(0.8, 1.6)})
      'depends'
    """
    key = [float(ratios[a][p]) for a in ("sigmoid", "tanh") for p in PASSES]
    if min(key) >= supported:
        return "supported"
    if max(key) <= no_gap:
        return "not supported"
    return "depends"


# -- the findings ----------------------------------------------------------------


def _c2_numbers(m: Measured) -> str:
    by = m.thresholds()
    disagree = [r["name"] for r in m.rows if not r["agrees"]]
    table = [
        "| activation | saturates for x < −t | saturates for x > t | registry `saturating` |",
        "|---|---|---|---|",
    ]
    for r in m.rows:
        table.append(
            f"| {r['name']} | {_fmt_t(r['negative'])} | {_fmt_t(r['positive'])} | "
            f"{', '.join(r['registry']) or '—'} |"
        )
    mx = m.maxima
    return "\n".join(
        [
            f"- max sigmoid′ = {mx['sigmoid'][0]:.6g} at x = {mx['sigmoid'][1]:g}; "
            f"max tanh′ = {mx['tanh'][0]:.6g} at x = {mx['tanh'][1]:g} "
            f"(closed-form `.dfdx`, float32, on a {_MAX_STEP:g} grid of [−10, 10]; float32 "
            f"rounds the peak flat for |x| ≤ {mx['sigmoid'][2]:.4f} and "
            f"{mx['tanh'][2]:.4f} respectively).",
            f"- |sigmoid′| < {EPS:g} for x < −{by['sigmoid']['negative']:.2f} and x > "
            f"{by['sigmoid']['positive']:.2f} (sources: about ±{SOURCE_THRESHOLDS['sigmoid']:g}, "
            f"where sigmoid′ = {m.at_source['sigmoid']:.2e}); |tanh′| < {EPS:g} for x < "
            f"−{by['tanh']['negative']:.2f} and x > {by['tanh']['positive']:.2f} (sources: about "
            f"±{SOURCE_THRESHOLDS['tanh']:g}, where tanh′ = {m.at_source['tanh']:.2e}). At "
            f"ε = 1e-2 the thresholds are {m.coarse['sigmoid']:.2f} (sigmoid) and "
            f"{m.coarse['tanh']:.2f} (tanh).",
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


def _saturation_figure(path: Path, m: Measured) -> None:
    from experiments import figures
    from jaxact import plotting

    by = m.thresholds()
    grid = np.linspace(-8, 8, 641, dtype=np.float32)
    fig = plotting.plot_activation(["sigmoid", "tanh"], x=grid)
    d_ax = fig.axes[1]
    d_ax.axhline(EPS, color="0.4", ls=":", lw=1)
    for i, name in enumerate(("sigmoid", "tanh")):
        for sign, side in ((-1.0, "negative"), (1.0, "positive")):
            if np.isfinite(by[name][side]):
                d_ax.axvline(sign * by[name][side], color=f"C{i}", ls=":", lw=1)
    fig.suptitle(f"sigmoid and tanh: saturation thresholds (|f′| < {EPS:g}, dotted)")
    figures.save(fig, path)


def _c2(m: Measured, out: Path) -> _findings.Finding:
    _saturation_figure(out / "saturation.png", m)
    _threshold_figure(out / "thresholds.png", [r for r in m.rows if r["name"] != "identity"])
    by = m.thresholds()
    condition = (
        f"Rule: supported if the peaks are 0.25 and 1 (±1e-6) at |x| ≤ {_MAX_STEP:g} and "
        f"both thresholds lie within {THRESHOLD_TOLERANCE:g} of the sources' 6 and 4 at "
        f'ε = {EPS:g}. "Saturates" depends on ε: the derivative decays like e^(−|x|) '
        "(sigmoid) and 4e^(−2|x|) (tanh), never exactly 0."
    )
    correction = (
        "Seed 001 gives the sigmoid derivative's range as 0–0.025; it is (0, 0.25]: "
        "σ′(x) = σ(x)(1 − σ(x)) ≤ 1/4 with equality at x = 0 (measured max "
        f"{m.maxima['sigmoid'][0]:g}). Seed 000 writes tanh(x) = (1 − e^−x)/(1 + e^−x), which "
        f"is tanh(x/2) (max difference {m.half_tanh_gap:.1e} on [−5, 5]) with slope "
        f"{m.seed000_slope:g} at 0, not 1; tanh(x) = (e^x − e^−x)/(e^x + e^−x)."
    )
    return _findings.Finding(
        claim="C2",
        statement=(
            "sigmoid′ peaks at 0.25 at x = 0 and tanh′ at 1; both go to 0 away from 0, "
            "sigmoid saturating beyond about ±6 and tanh beyond about ±4."
        ),
        sources=("000", "001", "002"),
        numbers=_c2_numbers(m),
        verdict=c2_verdict(m.maxima, by),
        condition=condition,
        figures=("saturation.png", "thresholds.png"),
        correction=correction,
        headline=(
            f"max sigmoid′ = {m.maxima['sigmoid'][0]:.6g}, max tanh′ = {m.maxima['tanh'][0]:.6g}; "
            f"|f′| < {EPS:g} beyond ±{by['sigmoid']['positive']:.2f} (sigmoid) and "
            f"±{by['tanh']['positive']:.2f} (tanh)"
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
        xlabel=f't (grid step {_SAT_STEP:g}; "never": |f′| ≥ ε at ±{_SAT_RANGE:g})',
    )
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2)
    figures.save(fig, path)


def _c15_numbers(m: Measured, low: dict, mid: dict) -> str:
    lines = [
        f"- Device: {m.device}; float32 arrays of {m.n:,} elements; {m.repeats} interleaved "
        "repeats under `jax.jit` (every activation timed in each round, the order rotating); "
        "the minimum and the median of the repeats, and their ratios to ReLU's.",
        "",
        "| activation | forward min / median (ms) | ×ReLU min / median | "
        "forward+backward min / median (ms) | ×ReLU min / median |",
        "|---|---|---|---|---|",
    ]
    for a, by in m.times.items():
        cells = []
        for p in PASSES:
            t = by[p]
            cells.append(f"{1e3 * np.min(t):.3f} / {1e3 * np.median(t):.3f}")
            cells.append(f"{low[a][p]:.2f} / {mid[a][p]:.2f}")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _throughput_figure(path: Path, m: Measured, low: dict, mid: dict) -> None:
    from experiments import figures

    names = list(m.times)
    fig, ax = _axes((7.2, 4.0))
    xs = np.arange(len(names))
    for i, (p, label) in enumerate(zip(PASSES, ("forward", "forward+backward"), strict=True)):
        dx = -0.2 if i == 0 else 0.2
        ax.bar(xs + dx, [low[a][p] for a in names], 0.4, label=f"{label} (min)", color=f"C{i}")
        ax.scatter(
            xs + dx,
            [mid[a][p] for a in names],
            marker="_",
            s=80,
            color="k",
            zorder=3,
            label="median" if i == 0 else None,
        )
    ax.axhline(1.0, color="0.3", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(xs, names, rotation=40, ha="right", fontsize=8)
    ax.set(
        title=f"time / ReLU time ({jax.default_backend()}, {m.n:,} float32, {m.repeats} repeats)",
        ylabel="time / ReLU time (log scale)",
    )
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    figures.save(fig, path)


def _c15(m: Measured, out: Path) -> _findings.Finding:
    low, mid = timing_ratios(m.times, "min"), timing_ratios(m.times, "median")
    verdict, by_median = c15_verdict(low), c15_verdict(mid)
    same = lambda v: "the same" if v == verdict else repr(v)
    _throughput_figure(out / "throughput.png", m, low, mid)
    r = lambda d, a: f"{d[a]['forward']:.2f}×/{d[a]['forward_backward']:.2f}×"
    condition = (
        "Rule, on the ratios of the minima (the repeat least disturbed by other work on the "
        "machine): supported if sigmoid and tanh are ≥ "
        f"{SUPPORTED_RATIO:g}× ReLU's time in both passes, not supported if all four ratios are ≤ "
        f"{NO_GAP_RATIO:g}, depends otherwise. Measured on {m.device} (forward/forward+backward, "
        f"min): sigmoid {r(low, 'sigmoid')}, tanh {r(low, 'tanh')}; the medians give "
        f"sigmoid {r(mid, 'sigmoid')}, tanh {r(mid, 'tanh')}, verdict "
        f"{same(by_median)}. The gap is a property of the "
        "hardware and of the array size: elementwise activations are memory-bound on "
        "accelerators, and in a network the matrix products dominate (seed 001 itself notes "
        "that convolutions cost more)."
    )
    return _findings.Finding(
        claim="C15",
        statement="The exp in sigmoid and tanh makes them slower to compute than ReLU.",
        sources=("001",),
        numbers=_c15_numbers(m, low, mid),
        verdict=verdict,
        condition=condition,
        figures=("throughput.png",),
        headline=(
            f"time / ReLU's on {jax.default_backend()}, forward and forward+backward (min of "
            f"{m.repeats}; median in brackets): sigmoid {low['sigmoid']['forward']:.2f}× "
            f"({mid['sigmoid']['forward']:.2f}×) and {low['sigmoid']['forward_backward']:.2f}× "
            f"({mid['sigmoid']['forward_backward']:.2f}×), tanh {low['tanh']['forward']:.2f}× "
            f"({mid['tanh']['forward']:.2f}×) and {low['tanh']['forward_backward']:.2f}× "
            f"({mid['tanh']['forward_backward']:.2f}×)"
        ),
    )


def findings(m: Measured, out: Path) -> list[_findings.Finding]:
    """The C2 and C15 findings and their figures (written into ``out``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [_c2(m, out), _c15(m, out)]


def run(out: Path, *, quick: bool = False) -> list[_findings.Finding]:
    """Runs the study into ``out`` (figures and ``findings.json``); returns the findings.

    Args:
      out: output directory (created).
      quick: tiny timing arrays (2**14 elements, 3 repeats) instead of 2**22 and :data:`REPEATS`.

    Returns:
      The findings for C2 and C15.
    """
    result = findings(measure(quick), Path(out))
    _findings.write(out, result)
    return result
