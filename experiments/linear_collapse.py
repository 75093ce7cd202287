r"""Without a nonlinearity, stacked layers collapse to one linear map: claim C1.

Seeds 001 and 004: with a linear (identity) activation, adding layers adds
nothing; the network is a single linear layer. Two measurements:

1. *Exact collapse.* A deep ``MLP(WIDTHS, "identity")`` with random kernels
   and random biases is one affine map

   .. math::

      f(x) = x W + b, \quad W = W_1 W_2 \cdots W_L, \quad
      b = (\cdots((b_1 W_2 + b_2) W_3 + b_3) \cdots) W_L + b_L,

   computed here in float64 from the parameters; the network's float32 output
   on a batch is compared with :math:`xW + b`.
2. *No extra power.* On the nonlinear ``spirals`` and ``xor`` tasks, trained
   through :mod:`jaxact.sweep` (Adam, seeds vmapped): the deep identity
   network, a logistic regression (one Dense layer, softmax output) and the
   same deep network with ReLU and with tanh. The deep linear and deep ReLU
   networks are one compiled sweep of ``leaky_relu`` with α fixed at 1
   (exactly the identity, checked bit for bit) and at 0 (exactly ReLU).

Rule: *supported* if the collapse error is at most ``1e-5`` relative to the
output scale, and on every task the deep linear network's mean test accuracy
is within ``CLOSE`` (3 points) of logistic regression's while both ReLU and
tanh beat it by at least ``CLEAR`` (10 points); *not supported* otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
from experiments import data, findings
from experiments.stats import sample_std
from jaxact import sweep
from jaxact import linen

CLAIMS = ("C1",)

SEEDS = (0, 1, 2, 3)
#: Layer widths of the deep network (four hidden layers, two outputs).
WIDTHS = (32, 32, 32, 32, 2)
LEARNING_RATE = 3e-3
#: Deep linear within this many accuracy points of logistic regression.
CLOSE = 3.0
#: ReLU and tanh at least this many points above the deep linear network.
CLEAR = 10.0
COLLAPSE_TOLERANCE = 1e-5
MODEL_NAMES = ("deep linear", "logistic regression", "deep relu", "deep tanh")


def collapse(params: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""The single affine map :math:`(W, b)` of a stack of Dense layers without activations.

    .. math::

       W = W_1 W_2 \cdots W_L, \qquad
       b = (\cdots((b_1 W_2 + b_2) W_3 + b_3) \cdots) W_L + b_L.

    Args:
      params: Linen parameters of an ``MLP``: ``dense_0`` ... ``dense_{L-1}``,
        each with ``kernel`` (in, out) and ``bias`` (out,).

    Returns:
      ``(W, b)`` in float64, shapes (in, out) and (out,).

    Examples:
      >>> import numpy as np
      >>> p = {"dense_0": {"kernel": np.eye(2) * 2, "bias": np.ones(2)},
      ...      "dense_1": {"kernel": np.ones((2, 1)), "bias": np.array([0.5])}}
      >>> W, b = collapse(p)
      >>> W.ravel().tolist(), b.tolist()
      ([2.0, 2.0], [2.5])
    """
    names = sorted((k for k in params if k.startswith("dense_")), key=lambda k: int(k[6:]))
    if not names or len(names) != len(params):
        raise ValueError(
            f"params must hold only Dense layers dense_0 ... dense_{{L-1}}, got {sorted(params)}"
        )
    w = np.asarray(params[names[0]]["kernel"], np.float64)
    b = np.asarray(params[names[0]]["bias"], np.float64)
    for name in names[1:]:
        k = np.asarray(params[name]["kernel"], np.float64)
        w, b = w @ k, b @ k + np.asarray(params[name]["bias"], np.float64)
    return w, b


def exact_collapse(*, seed: int = 0, batch: int = 256, features: int = 8) -> dict[str, Any]:
    """Builds a random deep identity network and measures how exactly it is one affine map.

    The kernels are LeCun-normal and the biases are drawn from N(0, 1) (the
    ``MLP`` initialises them to 0, which would leave the bias part untested).

    Args:
      seed: seed of the parameters and of the batch.
      batch: rows of the input batch, drawn from N(0, 1).
      features: input width.

    Returns:
      ``{"W", "b", "max_abs_diff", "output_scale", "layers"}``.
    """
    model = linen.MLP(WIDTHS, "identity", kernel_init="lecun_normal")
    k_init, k_bias, k_x = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(k_x, (batch, features), jnp.float32)
    params = model.init(k_init, x)["params"]
    leaves, treedef = jax.tree.flatten_with_path(params)
    keys = jax.random.split(k_bias, len(leaves))
    params = jax.tree.unflatten(
        treedef,
        [
            jax.random.normal(k, leaf.shape, leaf.dtype) if path[-1].key == "bias" else leaf
            for k, (path, leaf) in zip(keys, leaves, strict=True)
        ],
    )
    with jax.default_matmul_precision("float32"):
        y = np.asarray(model.apply({"params": params}, x), np.float64)
    w, b = collapse(params)
    reference = np.asarray(x, np.float64) @ w + b
    return {
        "W": w,
        "b": b,
        "max_abs_diff": float(np.max(np.abs(y - reference))),
        "output_scale": float(np.max(np.abs(reference))),
        "layers": len(WIDTHS),
    }


def _models(quick: bool) -> dict[str, linen.MLP]:
    """The models trained on each task (one compiled program each); quick leaves out tanh.

    "deep linear" and "deep relu" are one sweep of one program: ``leaky_relu``
    with α fixed at 1 is exactly the identity (``max(0, x) + min(0, x) = x``,
    derivative 1) and at 0 exactly ReLU; the fixed α is an input of the program.
    """
    models = {
        "deep linear | deep relu": linen.MLP(
            WIDTHS, "leaky_relu", learnable=("alpha",), kernel_init="lecun_normal"
        ),
        "logistic regression": linen.MLP((WIDTHS[-1],), "identity", kernel_init="lecun_normal"),
        "deep tanh": linen.MLP(WIDTHS, "tanh", kernel_init="lecun_normal"),
    }
    if quick:
        del models["deep tanh"]
    return models


def _train(model: linen.MLP, ds, steps: int, eval_every: int) -> dict[str, tuple[np.ndarray, Any]]:
    """Trains one model over the seeds; returns name -> (test accuracy per seed, params of seed 0)."""
    two_nets = model.activation == "leaky_relu"
    setup = sweep.Setup(
        model=model,
        steps=steps,
        batch_size=64,
        optimizer="adam",
        eval_every=eval_every,
        frozen=("alpha",) if two_nets else (),
    )
    trainer = sweep.Trainer(setup, ds)
    k = len(SEEDS)
    if two_nets:
        state = trainer.init(
            seeds=list(SEEDS) * 2,
            learning_rate=LEARNING_RATE,
            values={"alpha": [1.0] * k + [0.0] * k},
        )
    else:
        state = trainer.init(seeds=list(SEEDS), learning_rate=LEARNING_RATE)
    state = trainer.run(state)
    acc = 100.0 * state.final()["test_accuracy"]
    params = state.params()
    at = lambda i: jax.tree.map(lambda a: a[i], params)
    if two_nets:
        return {"deep linear": (acc[:k], at(0)), "deep relu": (acc[k:], at(k))}
    return {("deep tanh" if model.activation == "tanh" else "logistic regression"): (acc, at(0))}


def _boundaries(out: Path, ds, trained: dict[str, Any], title: str) -> str:
    """Decision regions of seed 0 of each model on a grid over the data."""
    from matplotlib.figure import Figure

    from experiments import figures

    lo = np.minimum(ds.x_train.min(0), ds.x_test.min(0)) - 0.1
    hi = np.maximum(ds.x_train.max(0), ds.x_test.max(0)) + 0.1
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
    grid = np.stack([g0.ravel(), g1.ravel()], -1).astype(np.float32)
    fig = Figure(figsize=(3.0 * len(trained), 3.2), layout="constrained")
    axes = fig.subplots(1, len(trained), squeeze=False)[0]
    for ax, (name, (model, params)) in zip(axes, trained.items(), strict=True):
        pred = np.asarray(jnp.argmax(model.apply({"params": params}, grid), -1)).reshape(g0.shape)
        ax.contourf(g0, g1, pred, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fdd0a2"])
        ax.scatter(*ds.x_test.T, c=ds.y_test, cmap="coolwarm", s=5, lw=0)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    return figures.save(fig, out)


def run(out: Path, *, quick: bool = False) -> list[findings.Finding]:
    """Runs the study into ``out`` (figures, ``findings.json``); returns the findings.

    Args:
      out: output directory (created).
      quick: only ``xor``, 200 steps (instead of ``spirals`` and ``xor``, 3,000 steps).

    Returns:
      The finding for C1.
    """
    from matplotlib.figure import Figure

    from experiments import figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exact = exact_collapse()
    probe = jnp.linspace(-5.0, 5.0, 1001)
    leaky_gaps = (
        float(jnp.max(jnp.abs(jaxact.leaky_relu(probe, alpha=1.0) - probe))),
        float(jnp.max(jnp.abs(jaxact.leaky_relu(probe, alpha=0.0) - jaxact.relu(probe)))),
        float(
            jnp.max(
                jnp.abs(jax.vmap(jax.grad(lambda t: jaxact.leaky_relu(t, alpha=1.0)))(probe) - 1)
            )
        ),
    )
    relative = exact["max_abs_diff"] / max(1.0, exact["output_scale"])

    tasks = ("xor",) if quick else ("spirals", "xor")
    steps, eval_every = (200, 50) if quick else (3000, 100)
    acc: dict[str, dict[str, np.ndarray]] = {}
    figs = []
    for task in tasks:
        ds = data.load(task, seed=0)
        acc[task] = {}
        trained = {}
        for model in _models(quick).values():
            for name, (a, params) in _train(model, ds, steps, eval_every).items():
                acc[task][name] = a
                trained[name] = (model, params)
        order = [n for n in MODEL_NAMES if n in acc[task]]
        acc[task] = {n: acc[task][n] for n in order}
        trained = {n: trained[n] for n in order}
        figs.append(
            Path(
                _boundaries(
                    out / f"boundaries_{task}.png",
                    ds,
                    trained,
                    f"{task}: decision regions after {steps} steps (seed 0)",
                )
            ).name
        )

    mean = {t: {m: float(np.mean(a)) for m, a in by.items()} for t, by in acc.items()}
    close = {t: abs(m["deep linear"] - m["logistic regression"]) <= CLOSE for t, m in mean.items()}
    nonlinear = [n for n in ("deep relu", "deep tanh") if n in MODEL_NAMES]
    clear = {
        t: min(m[n] for n in nonlinear if n in m) - m["deep linear"] >= CLEAR
        for t, m in mean.items()
    }
    exact_ok = relative <= COLLAPSE_TOLERANCE and max(leaky_gaps) == 0.0
    verdict = (
        "supported" if exact_ok and all(close.values()) and all(clear.values()) else "not supported"
    )

    w = exact["W"]
    lines = [
        f"- Exact collapse: MLP{WIDTHS} with identity activation ({exact['layers']} Dense "
        f"layers, random biases) equals x·W + b with W = W₁⋯W_{exact['layers']} of shape "
        f"{w.shape} (W[0, :] = {np.round(w[0], 4).tolist()}, b = "
        f"{np.round(exact['b'], 4).tolist()}); max |network − (x·W + b)| = "
        f"{exact['max_abs_diff']:.2e} on a batch of 256 with outputs up to "
        f"{exact['output_scale']:.2f} (float32 network, float64 W).",
        f"- Trained deep linear = leaky_relu with α = 1: max |leaky_relu(x, α=1) − x| = "
        f"{leaky_gaps[0]:g}, max |leaky_relu′(x, α=1) − 1| = {leaky_gaps[2]:g}, max "
        f"|leaky_relu(x, α=0) − relu(x)| = {leaky_gaps[1]:g} on 1,001 points of [−5, 5].",
        f"- Test accuracy (%, mean ± std over {len(SEEDS)} seeds; Adam lr {LEARNING_RATE:g}, "
        f"batch 64, {steps} steps):",
        "",
        "| task | " + " | ".join(acc[tasks[0]]) + " |",
        "|---|" + "---|" * len(acc[tasks[0]]),
    ]
    for t in tasks:
        lines.append(
            f"| {t} | "
            + " | ".join(f"{np.mean(a):.1f} ± {sample_std(a):.1f}" for a in acc[t].values())
            + " |"
        )
    condition = (
        f"Rule: supported if max |network − (xW + b)| ≤ {COLLAPSE_TOLERANCE:g} × "
        f"max(1, output scale) and, on every task, the deep linear network is within {CLOSE:g} "
        f"points of logistic regression while ReLU and tanh both beat it by ≥ {CLEAR:g} points. "
        "The collapse is exact algebra: depth changes only the optimisation path of a linear "
        "model, never what it can represent."
    )

    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    names = list(acc[tasks[0]])
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs = np.arange(len(tasks)) + (i - (len(names) - 1) / 2) * width
        ax.bar(
            xs,
            [mean[t][name] for t in tasks],
            width,
            yerr=[np.std(acc[t][name]) for t in tasks],
            capsize=3,
            label=name,
        )
    ax.set_xticks(np.arange(len(tasks)), tasks)
    ax.set(
        ylabel="test accuracy (%)", title=f"C1: mean ± std over {len(SEEDS)} seeds", ylim=(0, 105)
    )
    ax.axhline(50, color="0.4", ls=":", lw=1)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="y")
    figures.save(fig, out / "accuracy.png")

    finding = findings.Finding(
        claim="C1",
        statement=(
            "Without a nonlinearity, stacked layers collapse to one linear map, so a deep "
            "linear network is no better than a single layer."
        ),
        sources=("001", "004"),
        numbers="\n".join(lines),
        verdict=verdict,
        condition=condition,
        figures=("accuracy.png", *figs),
        headline=_headline(acc, tasks[0], exact["max_abs_diff"]),
    )
    findings.write(out, [finding])
    return [finding]


def _headline(acc: dict[str, dict[str, np.ndarray]], task: str, collapse_error: float) -> str:
    """Deep linear − logistic regression on ``task`` (paired by seed), and the collapse error."""
    from experiments import stats

    by = acc[task]
    gap = stats.paired_difference(by["deep linear"], by["logistic regression"])
    return (
        f"{task} test accuracy, deep linear − logistic regression: "
        f"{stats.format_difference(gap, digits=1, unit=' pp')}; "
        f"max |network − xW − b| = {collapse_error:.1e}"
    )
