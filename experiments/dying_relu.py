r"""Dead hidden units during training, ReLU vs LeakyReLU vs PReLU (claim C6).

``python -m experiments.report --only dying_relu``

An MLP with two hidden layers of 100 units (He-normal init) is trained on
MNIST-1D with Adam at several learning rates; for each activation, every
learning rate × seed is one vmapped run of a single compiled program. At every
evaluation a ``metrics`` hook runs the whole training set through the hidden
layers and counts, per layer, the units that are

* **dead (zero output)**: :math:`f(z_j(x)) = 0` for every training input
  :math:`x` (for ReLU this is the dying-ReLU state);
* **never positive**: :math:`z_j(x) \le 0` for every training input (the
  negative regime; for ReLU the same set as above);
* **gradient-carrying**: :math:`f'(z_j(x)) \ne 0` for at least one input, so
  the unit's incoming weights still receive gradient.

A Leaky/PReLU unit in the negative regime still passes gradient
(:math:`f' = \alpha`), so it is not dead in the sense that matters; the
verdict compares ReLU's dead fraction with the *non*-gradient-carrying fraction
of the others.

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
from experiments import findings
from jaxact import sweep

CLAIMS = ("C6",)
ACTIVATIONS = ("relu", "leaky_relu", "prelu")
LEARNING_RATES = (1e-3, 1e-2, 1e-1, 3e-1)
HIDDEN = (100, 100)
#: ReLU's dead fraction must reach this to count as "dying" at all.
MIN_DEAD = 0.05
#: ...and be at least this many times the others' non-gradient-carrying fraction.
FACTOR = 5.0


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


def run(out: Path, *, quick: bool = False) -> list[findings.Finding]:
    """Runs the study into ``out``; returns the C6 finding."""
    from matplotlib.figure import Figure

    from experiments import data, figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = data.load("mnist1d")
    if quick:
        steps, eval_every, seeds, lrs = 200, 50, [0], (1e-2, 3e-1)
    else:
        steps, eval_every, seeds, lrs = 2000, 100, [0, 1, 2], LEARNING_RATES
    run_seeds = np.tile(seeds, len(lrs))
    run_lrs = np.repeat(lrs, len(seeds))
    hist: dict[str, dict[str, np.ndarray]] = {}
    for act in ACTIVATIONS:
        setup = sweep.Setup(
            model=model(act, ds.num_classes),
            steps=steps,
            batch_size=100,
            optimizer="adam",
            eval_every=eval_every,
            metrics=DeadUnitMetrics(act),
        )
        trainer = sweep.Trainer(setup, ds)
        state = trainer.run(trainer.init(seeds=run_seeds, learning_rate=run_lrs))
        h = state.history
        shape = (len(lrs), len(seeds)) + h["step"].shape[1:]
        hist[act] = {
            "step": h["step"][0],
            # mean over the (equal-width) hidden layers: fraction of all hidden units
            **{
                k: h[k].mean(-1).reshape(shape)
                for k in ("dead_zero_output", "dead_never_positive", "gradient_carrying")
            },
            "dead_by_layer": h["dead_zero_output"][:, -1].reshape(len(lrs), len(seeds), -1),
            "test_accuracy": h["test_accuracy"][:, -1].reshape(len(lrs), len(seeds)),
            "diverged": h["diverged"][:, -1].reshape(len(lrs), len(seeds)),
        }
        if "alpha" in h:  # PReLU's learned slope, mean over layers
            hist[act]["alpha"] = h["alpha"][:, -1].mean(-1).reshape(len(lrs), len(seeds))

    # Figure: dead fraction vs step, one panel per learning rate.
    fig = Figure(figsize=(3.2 * len(lrs), 3.4), layout="constrained")
    axes = fig.subplots(1, len(lrs), squeeze=False, sharey=True)[0]
    for ax, (li, lr) in zip(axes, enumerate(lrs), strict=True):
        for ci, act in enumerate(ACTIVATIONS):
            r = hist[act]
            ax.plot(
                r["step"],
                r["dead_zero_output"][li].mean(0),
                color=f"C{ci}",
                label=f"{act}: zero output",
            )
            ax.plot(
                r["step"],
                r["dead_never_positive"][li].mean(0),
                color=f"C{ci}",
                ls="--",
                label=f"{act}: never positive",
            )
            ax.plot(
                r["step"],
                1 - r["gradient_carrying"][li].mean(0),
                color=f"C{ci}",
                ls=":",
                label=f"{act}: no gradient",
            )
        ax.set(title=f"Adam lr={lr:g}", xlabel="step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"fraction of hidden units (mean of {len(seeds)} seeds)")
    axes[-1].legend(fontsize=6)
    figures.save(fig, out / "dead_units.png")

    from experiments import stats

    pm = lambda a: f"{100 * np.mean(a):.1f} ± {100 * np.std(a, ddof=1 if np.size(a) > 1 else 0):.1f}"
    lines = [
        f"- Hidden units at the end of training (step {steps}), % of units, mean ± sample std "
        f"over {len(seeds)} seeds (95% interval for the zero-output fraction):",
        "",
        "| Adam lr | activation | zero output | never positive | no gradient | test accuracy | "
        "learned α |",
        "|---|---|---|---|---|---|---|",
    ]
    for li, lr in enumerate(lrs):
        for act in ACTIVATIONS:
            r = hist[act]
            dead = r["dead_zero_output"][li, :, -1]
            neg = r["dead_never_positive"][li, :, -1]
            nog = 1 - r["gradient_carrying"][li, :, -1]
            acc = r["test_accuracy"][li]
            div = int(r["diverged"][li].sum())
            lines.append(
                f"| {lr:g} | {act} | {stats.format_ci(stats.summary(dead))} | {pm(neg)} | "
                f"{pm(nog)} | {100 * acc.mean():.1f}%" + (f" ({div} diverged)" if div else "")
                + (f" | {r['alpha'][li].mean():.3f} |" if "alpha" in r else " | — |")
            )
    lines.append("")
    top = len(lrs) - 1
    relu_dead = hist["relu"]["dead_zero_output"][top, :, -1].mean()
    others = {
        a: 1 - hist[a]["gradient_carrying"][top, :, -1].mean() for a in ("leaky_relu", "prelu")
    }
    relu_any = max(hist["relu"]["dead_zero_output"][li, :, -1].mean() for li in range(len(lrs)))
    if relu_dead >= MIN_DEAD and all(v * FACTOR <= relu_dead for v in others.values()):
        verdict = "supported"
    elif relu_any < MIN_DEAD:
        verdict = "not supported"
    else:
        verdict = "depends"
    by_layer = hist["relu"]["dead_by_layer"][top].mean(0)
    lines.append(
        f"- at lr {lrs[top]:g}: relu dead {100 * relu_dead:.1f} % (by hidden layer: "
        + ", ".join(f"{100 * v:.1f} %" for v in by_layer)
        + ") vs no-gradient "
        + ", ".join(f"{a} {100 * v:.1f} %" for a, v in others.items())
    )
    finding = findings.Finding(
        claim="C6",
        statement="ReLU units die (stop updating once their weighted sum is negative); LeakyReLU/PReLU prevent it.",
        sources=("002",),
        numbers="\n".join(lines),
        verdict=verdict,
        condition=(
            f"Rule: supported if, at the highest learning rate, ReLU's dead (zero-output on all "
            f"{ds.num_train} training inputs) fraction is ≥ {100 * MIN_DEAD:g} % and at least "
            f"{FACTOR:g}× the non-gradient-carrying fraction of LeakyReLU and of PReLU; not supported "
            f"if ReLU's dead fraction stays < {100 * MIN_DEAD:g} % at every learning rate; depends "
            "otherwise. Dying is a large-step phenomenon: compare the learning rates. A Leaky/PReLU unit "
            "that is never positive still receives gradient (slope α), so it can recover. The counts are "
            "per unit: a hidden layer that is entirely dead also stops all gradient to the layers "
            "below it."
        ),
        figures=("dead_units.png",),
        headline=_headline(hist, lrs),
    )
    findings.write(out, [finding])
    return [finding]


def _headline(hist: dict, lrs: Sequence[float]) -> str:
    """ReLU's dead fraction at the two highest learning rates, over the seeds."""
    from experiments import stats

    parts = [
        f"lr {lrs[li]:g}: "
        + stats.format_ci(stats.summary(hist["relu"]["dead_zero_output"][li, :, -1]))
        for li in range(len(lrs))[-2:]
    ]
    return "ReLU units dead at the end of training, " + "; ".join(parts)
