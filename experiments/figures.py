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
    from experiments.engine import atomic_write

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
) -> str:
    """Line plot of named series over ``x``; ``band[name]`` draws ±band around it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    cmap = plt.get_cmap("viridis")
    for i, (name, y) in enumerate(series.items()):
        color = cmap(i / max(len(series) - 1, 1))
        ax.plot(x, y, label=name, color=color, lw=1.4)
        if band is not None and name in band:
            ax.fill_between(x, y - band[name], y + band[name], color=color, alpha=0.15, lw=0)
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if 1 < len(series) <= 20:
        ax.legend(fontsize=7, ncol=2 if len(series) > 8 else 1)
    return save(fig, path)


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
) -> str:
    """Mean ± std against ``x``, with optional labelled horizontal reference lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.errorbar(x, mean, yerr=std, fmt="o-", capsize=3, lw=1.4, ms=4)
    for i, (label, y) in enumerate((reference or {}).items()):
        ax.axhline(y, ls="--", lw=1, color=f"C{i + 1}", label=label)
    if reference:
        ax.legend(fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return save(fig, path)
