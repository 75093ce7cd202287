r"""The step function cannot be trained by gradient descent: claim C10.

Seeds 002, 003 and 004 say the step (Heaviside) function has no useful
derivative, so a network using it cannot learn by backpropagation. Measured
on the XOR task through :mod:`jaxact.sweep` (Adam, seeds vmapped), with
the gradient of the training-set cross-entropy taken *inside* the compiled
program at every evaluation (the engine's ``metrics`` hook):

- ``step everywhere``: ``MLP((16, 16, 2), "step", output_activation="step")``,
  every path to the loss through a step. Every gradient is exactly 0, the
  parameters never change, the training loss is the same number at every
  evaluation.
- ``step hidden``: ``MLP((16, 16, 2), "step")``. The Dense layers before a step
  get exactly 0 gradient and keep their initial weights; only the output layer
  learns (a linear read-out of fixed random binary features).
- ``sigmoid everywhere``: the first network with sigmoid in place of step; its
  loss moves.

The study is split into :func:`measure` (the runs, as arrays),
:func:`c10_verdict` (the rule, a pure function of those arrays) and
:func:`findings` (text and figure).

Rule (:func:`c10_verdict`): *supported* if, in every seed and at every
evaluation, the gradient of every Dense layer that feeds a step is exactly 0,
the step-everywhere loss is bit-identical across training with parameters
equal to their initial values, and the sigmoid network's training loss falls
by at least 1% in every seed; *not supported* otherwise. Every part is an
exact test or holds in every seed, so no part compares two means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import ArrayLike

import jaxact
from experiments import data, stats
from experiments import findings as _findings
from jaxact import linen, sweep

CLAIMS = ("C10",)

SEEDS = (0, 1, 2, 3, 4)
HIDDEN = (16, 16)
LEARNING_RATE = 1e-2
#: The sigmoid network's loss must fall by at least this fraction.
MIN_DROP = 0.01
OUTPUT_LAYER = f"dense_{len(HIDDEN)}"


def gradient_metrics(apply, params, data):
    """Max |gradient| of each Dense layer's kernel and bias on the training set.

    An engine ``metrics`` hook: ``apply(params, x)`` gives logits; the loss is
    the mean softmax cross-entropy over ``data["x_train"]``.
    """

    def loss(p):
        logits = apply(p, data["x_train"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, data["y_train"]).mean()

    grads = jax.grad(loss)(params)
    return {
        f"grad_{layer}": jnp.max(jnp.stack([jnp.max(jnp.abs(g)) for g in jax.tree.leaves(sub)]))
        for layer, sub in grads.items()
    }


def _models(quick: bool) -> dict[str, tuple[linen.MLP, tuple[str, ...]]]:
    """name -> (model, the Dense layers whose output goes through a step).

    Quick mode leaves out "step hidden" (one compiled program less).
    """
    layers = (*HIDDEN, 2)
    hidden = tuple(f"dense_{i}" for i in range(len(HIDDEN)))
    models = {
        "step everywhere": (
            linen.MLP(layers, "step", output_activation="step"),
            (*hidden, OUTPUT_LAYER),
        ),
        "step hidden": (linen.MLP(layers, "step"), hidden),
        "sigmoid everywhere": (linen.MLP(layers, "sigmoid", output_activation="sigmoid"), ()),
    }
    if quick:
        del models["step hidden"]
    return models


@dataclasses.dataclass(frozen=True)
class Network:
    """One trained network over the seeds.

    Attributes:
      before_step: the Dense layers whose output goes through a step.
      grads: layer -> max |gradient| per seed and evaluation, shape ``(S, T)``.
      train_loss: training-set loss, ``(S, T)``.
      test_accuracy: final test accuracy per seed (fraction), ``(S,)``.
      unchanged: whether every parameter of ``before_step`` equals its initial value
        in every seed after training.
    """

    before_step: tuple[str, ...]
    grads: dict[str, np.ndarray]
    train_loss: np.ndarray
    test_accuracy: np.ndarray
    unchanged: bool


@dataclasses.dataclass(frozen=True)
class Measured:
    """What :func:`measure` returns: the networks, the evaluation steps, the step's values."""

    networks: dict[str, Network]
    steps: int
    eval_steps: np.ndarray
    step_values: np.ndarray


def _unchanged(initial, final, layers) -> bool:
    return all(
        np.array_equal(a, b)
        for layer in layers
        for a, b in zip(jax.tree.leaves(initial[layer]), jax.tree.leaves(final[layer]), strict=True)
    )


def _train(model, before_step, ds, steps: int, eval_every: int) -> tuple[Network, np.ndarray]:
    setup = sweep.Setup(
        model=model,
        steps=steps,
        batch_size=64,
        optimizer="adam",
        eval_every=eval_every,
        metrics=gradient_metrics,
    )
    trainer = sweep.Trainer(setup, ds)
    start = trainer.init(seeds=list(SEEDS), learning_rate=LEARNING_RATE)
    initial = start.params()
    state = trainer.run(start)
    hist = {k: np.asarray(v) for k, v in state.history.items()}
    grads = {k[len("grad_") :]: v for k, v in hist.items() if k.startswith("grad_")}
    net = Network(
        before_step=before_step,
        grads=dict(sorted(grads.items())),
        train_loss=hist["train_loss"],
        test_accuracy=hist["test_accuracy"][:, -1],
        unchanged=_unchanged(initial, state.params(), before_step),
    )
    return net, hist["step"][0]


def measure(quick: bool = False) -> Measured:
    """Trains the three networks (two in quick mode) over :data:`SEEDS`.

    Args:
      quick: 100 training steps instead of 2,000, without the "step hidden" network.

    Returns:
      A :class:`Measured`.
    """
    steps, eval_every = (100, 25) if quick else (2000, 100)
    ds = data.load("xor", seed=0)
    networks, eval_steps = {}, None
    for name, (model, before_step) in _models(quick).items():
        networks[name], eval_steps = _train(model, before_step, ds, steps, eval_every)
    step_values = np.asarray(jaxact.step(jnp.array([-1.0, 0.0, 1.0])))
    return Measured(networks, steps, np.asarray(eval_steps), step_values)


# -- the rule ------------------------------------------------------------------


def loss_drop(train_loss: ArrayLike) -> np.ndarray:
    """Per seed, the fraction by which the training loss fell: ``1 − last / first``.

    Examples:
      >>> loss_drop([[1.0, 0.5], [0.8, 0.8]]).tolist()
      [0.5, 0.0]
    """
    loss = np.asarray(train_loss, np.float64)
    return 1.0 - loss[:, -1] / loss[:, 0]


def c10_verdict(
    blocked_grads: Sequence[ArrayLike],
    step_loss: ArrayLike,
    step_params_unchanged: bool,
    sigmoid_loss: ArrayLike,
    *,
    min_drop: float = MIN_DROP,
) -> str:
    """C10's verdict from the measured arrays.

    Args:
      blocked_grads: for every Dense layer that feeds a step (of any network),
        its max |gradient| per seed and evaluation.
      step_loss: the step-everywhere network's training loss, ``(S, T)``.
      step_params_unchanged: whether the layers feeding a step kept their initial
        parameters in every seed.
      sigmoid_loss: the sigmoid network's training loss, ``(S, T)``.
      min_drop: the fraction by which the sigmoid loss must fall in every seed.

    Returns:
      ``"supported"`` if every blocked gradient is exactly 0, the step loss is
      bit-identical along training in every seed, the parameters are unchanged
      and the sigmoid loss falls by at least ``min_drop`` in every seed;
      ``"not supported"`` otherwise.

    Examples:
      >>> c10_verdict([np.zeros((2, 3))], np.ones((2, 3)), True, [[1.0, 0.5], [1.0, 0.9]])
      'supported'
      >>> c10_verdict([np.zeros((2, 3))], np.ones((2, 3)), True, [[1.0, 0.5], [1.0, 1.0]])
      'not supported'
    """
    zero = all(np.all(np.asarray(g) == 0) for g in blocked_grads)
    loss = np.asarray(step_loss)
    constant = bool(np.all(loss == loss[:, :1]))
    moves = bool(np.all(loss_drop(sigmoid_loss) >= min_drop))
    ok = zero and constant and bool(step_params_unchanged) and moves
    return "supported" if ok else "not supported"


def verdict_of(m: Measured) -> str:
    """:func:`c10_verdict` applied to a :class:`Measured`."""
    stepped = [n for k, n in m.networks.items() if k.startswith("step")]
    return c10_verdict(
        [n.grads[layer] for n in stepped for layer in n.before_step],
        m.networks["step everywhere"].train_loss,
        all(n.unchanged for n in stepped),
        m.networks["sigmoid everywhere"].train_loss,
    )


# -- the finding ---------------------------------------------------------------


def _pm(values: ArrayLike, *, pct: bool = False, digits: int = 3) -> str:
    return stats.format_ci(stats.summary(np.asarray(values, np.float64)), pct=pct, digits=digits)


def _max_grad(net: Network, layers: Sequence[str]) -> float:
    return max(float(np.max(net.grads[layer])) for layer in layers)


def _numbers(m: Measured) -> str:
    every = m.networks["step everywhere"]
    hidden = m.networks.get("step hidden")
    sigm = m.networks["sigmoid everywhere"]
    loss_e = every.train_loss
    constant = bool(np.all(loss_e == loss_e[:, :1]))
    lines = [
        f"- XOR, MLP{(*HIDDEN, 2)}, Adam lr {LEARNING_RATE:g}, batch 64, {m.steps} steps, "
        f"{len(SEEDS)} seeds vmapped; gradients of the full training-set loss at each of "
        f"{loss_e.shape[1]} evaluations. Figures over seeds: mean ± sample std (95% t-interval, n).",
        f"- step everywhere: max |gradient| over all layers, seeds and evaluations = "
        f"{_max_grad(every, every.before_step):g}; train loss at step 0 "
        f"{_pm(loss_e[:, 0], digits=6)}, after training {_pm(loss_e[:, -1], digits=6)}, "
        f"identical at every evaluation: {constant}; parameters equal to their initial values: "
        f"{every.unchanged}; test accuracy {_pm(every.test_accuracy, pct=True, digits=1)}.",
    ]
    if hidden is not None:
        lines.append(
            f"- step hidden: max |gradient| of the layers before a step = "
            f"{_max_grad(hidden, hidden.before_step):g} (weights unchanged: {hidden.unchanged}), "
            f"of the output layer = {_max_grad(hidden, [OUTPUT_LAYER]):.3g}; train loss "
            f"{_pm(hidden.train_loss[:, 0])} → {_pm(hidden.train_loss[:, -1])}, test accuracy "
            f"{_pm(hidden.test_accuracy, pct=True, digits=1)} (only the read-out of fixed random "
            "step features learns)."
        )
    lines += [
        f"- sigmoid everywhere: train loss {_pm(sigm.train_loss[:, 0])} → "
        f"{_pm(sigm.train_loss[:, -1])}, drop {_pm(loss_drop(sigm.train_loss), pct=True, digits=1)}, "
        f"test accuracy {_pm(sigm.test_accuracy, pct=True, digits=1)}.",
        f"- jaxact.step([−1, 0, 1]) = {m.step_values.tolist()}.",
    ]
    return "\n".join(lines)


def _loss_figure(path: Path, m: Measured) -> None:
    from experiments import figures

    half = {}
    for k, n in m.networks.items():
        s = [stats.summary(col) for col in n.train_loss.T.astype(np.float64)]
        half[k] = np.array([0.0 if not np.isfinite(x.half_width) else x.half_width for x in s])
    figures.curves(
        path,
        m.eval_steps,
        {k: n.train_loss.mean(0) for k, n in m.networks.items()},
        band=half,
        title=f"XOR, MLP{(*HIDDEN, 2)}: training loss (mean, 95% CI over {len(SEEDS)} seeds)",
        xlabel="step",
        ylabel="cross-entropy (training set)",
    )


def findings(m: Measured, out: Path) -> list[_findings.Finding]:
    """The C10 finding and its figure (``loss.png`` in ``out``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _loss_figure(out / "loss.png", m)
    every = m.networks["step everywhere"]
    drop = loss_drop(m.networks["sigmoid everywhere"].train_loss)
    condition = (
        "Rule: supported if every Dense layer feeding a step gets exactly 0 gradient at every "
        "evaluation in every seed, the step-everywhere loss is bit-identical throughout with "
        f"parameters unchanged, and the sigmoid network's loss falls by ≥ {100 * MIN_DROP:g}% "
        "in every seed. A step only blocks the gradient to what lies before it: layers after "
        "the last step still learn."
    )
    correction = (
        "Seed 002 says the step function outputs 0 when the weighted sum exceeds the threshold "
        "and 1 otherwise; it is the reverse: f(x) = 1 for x > 0 and 0 for x ≤ 0 (measured "
        f"jaxact.step([−1, 0, 1]) = {m.step_values.tolist()})."
    )
    return [
        _findings.Finding(
            claim="C10",
            statement="The step function is not trainable by gradient descent.",
            sources=("002", "003", "004"),
            numbers=_numbers(m),
            verdict=verdict_of(m),
            condition=condition,
            figures=("loss.png",),
            correction=correction,
            headline=(
                f"max |gradient| before a step = {_max_grad(every, every.before_step):g} in every "
                f"seed; sigmoid network's training-loss drop {_pm(drop, pct=True, digits=1)}"
            ),
        )
    ]


def run(out: Path, *, quick: bool = False) -> list[_findings.Finding]:
    """Runs the study into ``out`` (``loss.png``, ``findings.json``); returns the findings.

    Args:
      out: output directory (created).
      quick: 100 training steps instead of 2,000, without the "step hidden" network.

    Returns:
      The finding for C10.
    """
    result = findings(measure(quick), Path(out))
    _findings.write(out, result)
    return result
