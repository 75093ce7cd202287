"""Matplotlib figures shared by the experiments (optional ``experiments`` extra).

Every experiment saves its PNGs through these few helpers, so figures look
alike and nothing about styling is repeated in the studies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | os.PathLike) -> str:
    """Saves ``fig`` to ``path`` atomically (temp file + rename) and closes it."""
    from jaxact._src.io import atomic_write

    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    _pyplot().close(fig)
    return os.fspath(path)


def curves(
    path: str | os.PathLike,
    x: np.ndarray,
    series: Mapping[str, np.ndarray],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logy: bool = False,
    band: Mapping[str, np.ndarray] | None = None,
    colorbar: tuple[str, Sequence[float]] | None = None,
) -> str:
    """Line plot of named series over ``x``; ``band[name]`` draws ±band around it.

    ``colorbar=(label, values)`` colours the series by ``values`` (one per
    series, log-scaled when they span more than a decade) and draws a colour
    bar instead of a legend: readable for 2 to 64 curves.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    cmap = plt.get_cmap("viridis")
    norm = None
    if colorbar is not None:
        import matplotlib.colors as mcolors

        cvals = np.asarray(colorbar[1], np.float64)
        if cvals.size != len(series):
            raise ValueError(f"colorbar: {cvals.size} values for {len(series)} series")
        lo, hi = float(np.min(cvals)), float(np.max(cvals))
        if lo > 0 and hi / lo > 10:
            norm = mcolors.LogNorm(lo, hi)
        else:
            norm = mcolors.Normalize(lo, hi if hi > lo else lo + 1)
    for i, (name, y) in enumerate(series.items()):
        if norm is not None:
            color = cmap(norm(colorbar[1][i]))
        else:
            color = cmap(i / max(len(series) - 1, 1))
        ax.plot(x, y, label=name, color=color, lw=1.4)
        if band is not None and name in band:
            ax.fill_between(x, y - band[name], y + band[name], color=color, alpha=0.15, lw=0)
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if norm is not None:
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=ax, label=colorbar[0])
    elif 1 < len(series) <= 12:
        ax.legend(fontsize=7, ncol=2 if len(series) > 6 else 1)
    return save(fig, path)


def spans_decades(x: Sequence[float] | np.ndarray) -> bool:
    """Whether values are all positive and span more than a decade (then plot them on log x).

    Examples:
      >>> spans_decades([1e-3, 3e-3, 1e-2, 3e-2]), spans_decades([0.0, 0.5, 1.0])
      (True, False)
    """
    xa = np.asarray(x, np.float64)
    return bool(xa.size > 1 and np.all(xa > 0) and xa.max() / xa.min() > 10)


def errorbars(
    path: str | os.PathLike,
    x: Sequence[float] | np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    reference: Mapping[str, float] | None = None,
    logx: bool | None = None,
) -> str:
    """Mean ± std against ``x``, with optional labelled horizontal reference lines.

    ``logx=None`` uses a log x axis when every ``x`` is positive and they span
    more than a decade.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.errorbar(x, mean, yerr=std, fmt="o-", capsize=3, lw=1.4, ms=4)
    if logx is None:
        logx = spans_decades(x)
    if logx:
        ax.set_xscale("log")
    for i, (label, y) in enumerate((reference or {}).items()):
        ax.axhline(y, ls="--", lw=1, color=f"C{i + 1}", label=label)
    if reference:
        ax.legend(fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return save(fig, path)
