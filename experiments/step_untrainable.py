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

Rule: *supported* if, in every seed and at every evaluation, the gradient of
every Dense layer that feeds a step is exactly 0, the step-everywhere loss is
bit-identical across training with parameters equal to their initial values,
and the sigmoid network's training loss falls by at least 1% in every seed;
*not supported* otherwise.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxact
from experiments import data, findings
from experiments.stats import sample_std
from jaxact import sweep
from jaxact import linen

CLAIMS = ("C10",)

SEEDS = (0, 1, 2, 3)
HIDDEN = (16, 16)
LEARNING_RATE = 1e-2
#: The sigmoid network's loss must fall by at least this fraction.
MIN_DROP = 0.01


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
            (*hidden, f"dense_{len(HIDDEN)}"),
        ),
        "step hidden": (linen.MLP(layers, "step"), hidden),
        "sigmoid everywhere": (linen.MLP(layers, "sigmoid", output_activation="sigmoid"), ()),
    }
    if quick:
        del models["step hidden"]
    return models


def _train(model, ds, steps: int, eval_every: int):
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
    final = trainer.run(start)
    return initial, final


def _unchanged(initial, final, layers) -> bool:
    return all(
        np.array_equal(a, b)
        for layer in layers
        for a, b in zip(
            jax.tree.leaves(initial[layer]), jax.tree.leaves(final.params()[layer]), strict=True
        )
    )


def run(out: Path, *, quick: bool = False) -> list[findings.Finding]:
    """Runs the study into ``out`` (``loss.png``, ``findings.json``); returns the findings.

    Args:
      out: output directory (created).
      quick: 100 training steps instead of 2,000, without the "step hidden" network.

    Returns:
      The finding for C10.
    """
    from experiments import figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps, eval_every = (100, 25) if quick else (2000, 100)
    ds = data.load("xor", seed=0)
    results = {}
    for name, (model, before_step) in _models(quick).items():
        initial, state = _train(model, ds, steps, eval_every)
        hist = state.history
        layers = sorted(k[len("grad_") :] for k in hist if k.startswith("grad_"))
        results[name] = {
            "hist": hist,
            "before_step": before_step,
            "grad": {layer: hist[f"grad_{layer}"] for layer in layers},
            "frozen_unchanged": _unchanged(initial, state, before_step),
        }

    every = results["step everywhere"]
    hidden = results.get("step hidden")
    sigm = results["sigmoid everywhere"]
    stepped = [r for r in (every, hidden) if r is not None]
    zero_grads = all(np.all(r["grad"][layer] == 0) for r in stepped for layer in r["before_step"])
    loss_e = every["hist"]["train_loss"]
    constant = bool(np.all(loss_e == loss_e[:, :1]))
    loss_s = sigm["hist"]["train_loss"]
    drop = 1.0 - loss_s[:, -1] / loss_s[:, 0]
    moves = bool(np.all(drop >= MIN_DROP))
    unchanged = all(r["frozen_unchanged"] for r in stepped)
    verdict = "supported" if zero_grads and constant and unchanged and moves else "not supported"

    out_layer = f"dense_{len(HIDDEN)}"
    acc = {k: r["hist"]["test_accuracy"][:, -1] for k, r in results.items()}
    step_vals = np.asarray(jaxact.step(jnp.array([-1.0, 0.0, 1.0])))
    pm = lambda a, scale=1.0, fmt=".3f": f"{scale * np.mean(a):{fmt}} ± {scale * sample_std(a):{fmt}}"
    max_grad = lambda r, layers: max(float(np.max(r["grad"][layer])) for layer in layers)
    numbers = "\n".join(
        [
            f"- XOR, MLP{(*HIDDEN, 2)}, Adam lr {LEARNING_RATE:g}, batch 64, {steps} steps, "
            f"{len(SEEDS)} seeds vmapped; gradients of the full training-set loss at each of "
            f"{loss_e.shape[1]} evaluations.",
            f"- step everywhere: max |gradient| over all layers, seeds and evaluations = "
            f"{max_grad(every, every['before_step']):g}; train loss at step 0 and after training "
            f"{pm(loss_e[:, 0], fmt='.6f')} → {pm(loss_e[:, -1], fmt='.6f')}, identical at every "
            f"evaluation: {constant}; parameters equal to their initial values: "
            f"{every['frozen_unchanged']}; test accuracy {pm(acc['step everywhere'], 100, '.1f')}%.",
            *(
                [
                    f"- step hidden: max |gradient| of the layers before a step = "
                    f"{max_grad(hidden, hidden['before_step']):g} (weights unchanged: "
                    f"{hidden['frozen_unchanged']}), of the output layer = "
                    f"{max_grad(hidden, [out_layer]):.3g}; train loss "
                    f"{pm(hidden['hist']['train_loss'][:, 0])} → "
                    f"{pm(hidden['hist']['train_loss'][:, -1])}, test accuracy "
                    f"{pm(acc['step hidden'], 100, '.1f')}% (only the read-out of fixed random "
                    "step features learns)."
                ]
                if hidden is not None
                else []
            ),
            f"- sigmoid everywhere: train loss {pm(loss_s[:, 0])} → {pm(loss_s[:, -1])} "
            f"(drop {pm(drop, 100, '.1f')}%), test accuracy "
            f"{pm(acc['sigmoid everywhere'], 100, '.1f')}%.",
            f"- jaxact.step([−1, 0, 1]) = {step_vals.tolist()}.",
        ]
    )
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
        f"jaxact.step([−1, 0, 1]) = {step_vals.tolist()})."
    )
    steps_axis = every["hist"]["step"][0]
    figures.curves(
        out / "loss.png",
        steps_axis,
        {k: r["hist"]["train_loss"].mean(0) for k, r in results.items()},
        band={k: r["hist"]["train_loss"].std(0) for k, r in results.items()},
        title=f"XOR, MLP{(*HIDDEN, 2)}: training loss (mean ± std over {len(SEEDS)} seeds)",
        xlabel="step",
        ylabel="cross-entropy (training set)",
    )
    finding = findings.Finding(
        claim="C10",
        statement="The step function is not trainable by gradient descent.",
        sources=("002", "003", "004"),
        numbers=numbers,
        verdict=verdict,
        condition=condition,
        figures=("loss.png",),
        correction=correction,
        headline=(
            f"max |gradient| before a step = {max_grad(every, every['before_step']):g} in every "
            "seed; sigmoid network's training-loss drop "
            + _format_drop(drop)
        ),
    )
    findings.write(out, [finding])
    return [finding]


def _format_drop(drop: np.ndarray) -> str:
    from experiments import stats

    return stats.format_ci(stats.summary(np.asarray(drop, np.float64)))
