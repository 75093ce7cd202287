"""C16: do learnable rational activations match or beat the best fixed activation?

Measurement. The same MLP (40-100-100-10, He-normal kernels, Adam, batch 100,
6,000 steps) on MNIST-1D with 800 of the 4,000 training samples held out for
validation, for each hidden activation: ``relu``; ``swish`` with β learned
(the best fixed/parametric activation of the kept sweeps); ``rational`` (safe
PAU, degrees (5, 4), one coefficient set per layer) initialised as the
library's least-squares fit of ``leaky_relu`` and of ``gelu``; ``apl`` (two
hinges); ``blend`` of identity, relu and tanh. Each activation trains at four
learning rates × 5 seeds as one vmapped program (:mod:`jaxact.sweep`); its
learning rate is chosen on mean validation accuracy, and the test accuracies
of that rate are compared.

Verdict (:func:`experiments.learnable_shapes.c16_verdict`, fixed before the
run): the validation-chosen rational variant against the validation-chosen
baseline (relu or swish), paired over seeds; "supported" if the 95% interval
of the test-accuracy difference lies above −1 percentage point (it *beats*
when above +1), "not supported" if it lies below −1, otherwise inconclusive.

Run it with ``python -m experiments.report --only rational_study``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments import findings

CLAIMS = ("C16",)
LEARNING_RATES = (1e-3, 3e-3, 1e-2, 3e-2)
SEEDS = (0, 1, 2, 3, 4)
VARIANTS = (
    "relu",
    "swish",
    "rational_leaky_relu",
    "rational_gelu",
    "apl",
    "blend",
)
BASELINES = ("relu", "swish")
RATIONALS = ("rational_leaky_relu", "rational_gelu")
LABELS = {
    "relu": "relu (fixed)",
    "swish": "swish (β learned)",
    "rational_leaky_relu": "rational (5, 4), init leaky_relu",
    "rational_gelu": "rational (5, 4), init gelu",
    "apl": "apl (2 hinges)",
    "blend": "blend (identity, relu, tanh)",
}


def make_model(variant: str, layers: tuple[int, ...], num_classes: int):
    """The MLP with ``variant`` as its hidden activation (a hashable Linen module)."""
    import flax.linen as nn


    class Net(nn.Module):
        variant: str
        layers: tuple[int, ...]
        num_classes: int

        @nn.compact
        def __call__(self, x):
            init = nn.initializers.he_normal()
            for i, width in enumerate(self.layers):
                x = nn.Dense(width, kernel_init=init, name=f"dense_{i}")(x)
                x = activation(self.variant, f"act_{i}")(x)
            return nn.Dense(self.num_classes, kernel_init=init, name="out")(x)

    return Net(variant, tuple(layers), num_classes)


def activation(variant: str, name: str | None = None):
    """The Linen activation module of ``variant``."""
    import jaxact.linen as jl

    if variant == "relu":
        return jl.Activation("relu", name=name)
    if variant == "swish":
        return jl.Swish(name=name)
    if variant.startswith("rational_"):
        return jl.Rational(variant[len("rational_") :], name=name)
    if variant == "apl":
        return jl.APL(2, name=name)
    if variant == "blend":
        return jl.Blend(("identity", "relu", "tanh"), name=name)
    raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")


def measure(out: Path, *, quick: bool = False) -> dict:
    """Trains every variant; returns per-variant arrays (val/test accuracy per lr × seed)."""
    import optax  # noqa: F401  (the engine's named optimiser is optax.adam)

    from experiments import data
    from jaxact import sweep

    if quick:
        ds = data.load("xor", seed=0).with_validation(0.2)
        layers, steps, eval_every, batch = (8, 8), 60, 20, 32
    else:
        ds = data.load("mnist1d").with_validation(0.2)
        layers, steps, eval_every, batch = (100, 100), 6000, 150, 100
    runs = sweep.grid(learning_rate=list(LEARNING_RATES), seed=list(SEEDS))
    result = {"layers": layers, "steps": steps, "dataset": ds.description, "variants": {}}
    for variant in VARIANTS:
        setup = sweep.Setup(
            make_model(variant, layers, ds.num_classes),
            steps=steps,
            batch_size=batch,
            optimizer="adam",
            eval_every=eval_every,
        )
        res = sweep.run(setup, ds, runs)
        final = res.state.final()
        shape = (len(LEARNING_RATES), len(SEEDS))
        params = res.state.params()
        act_sizes = {
            "/".join(p): int(np.size(_leaf(params, p)[0])) for p in res.trainer.param_paths
        }
        total = int(sum(np.size(leaf[0]) for leaf in _leaves(params)))
        result["variants"][variant] = {
            "val": final["val_accuracy"].reshape(shape),
            "test": final["test_accuracy"].reshape(shape),
            "diverged": final["diverged"].reshape(shape),
            "activation_params": int(sum(act_sizes.values())),
            "total_params": total,
            "params": params,
            "paths": res.trainer.param_paths,
        }
    return result


def _leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def _leaf(tree, path):
    node = tree
    for k in path:
        node = node[k]
    return node


def chosen(variant_result: dict) -> tuple[int, np.ndarray, np.ndarray]:
    """The learning-rate index with the best mean validation accuracy, and its per-seed val/test."""
    val = np.where(variant_result["diverged"], -np.inf, variant_result["val"])
    i = int(np.argmax(val.mean(1)))
    return i, variant_result["val"][i], variant_result["test"][i]


def shapes_figure(path: Path, result: dict) -> None:
    """Learned shapes (per layer, seed 0, chosen learning rate) against their initial shapes."""
    import jax
    import jax.numpy as jnp

    from experiments import figures

    plt = figures._pyplot()
    learned = [v for v in VARIANTS if v not in ("relu",)]
    fig, axes = plt.subplots(1, len(learned), figsize=(3.2 * len(learned), 3.2), squeeze=False)
    x = jnp.linspace(-4.0, 4.0, 401)
    for ax, variant in zip(axes[0], learned, strict=True):
        vr = result["variants"][variant]
        i, _, _ = chosen(vr)
        run = i * len(SEEDS)  # seed 0 of the chosen learning rate
        layer_names = sorted({p[0] for p in vr["paths"]})
        for j, layer in enumerate(layer_names):
            module = activation(variant)
            init = module.init(jax.random.key(0), x)
            p = jax.tree.map(lambda a, run=run: a[run], vr["params"][layer])
            y = module.apply({"params": p}, x)
            if j == 0:
                ax.plot(x, module.apply(init, x), "k--", lw=1.2, label="initial")
            ax.plot(x, y, lw=1.4, label=f"learned, {layer}")
        ax.set_title(LABELS[variant], fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_xlabel("x")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"learned activations vs their initial shapes (seed 0, chosen lr; {result['steps']} steps)",
        fontsize=10,
    )
    figures.save(fig, path)


def run(out: str | Path, *, quick: bool = False) -> list[findings.Finding]:
    """Measures, applies the C16 rule, writes the figure; returns the finding."""
    from experiments import stats
    from experiments.learnable_shapes import c16_verdict

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = measure(out, quick=quick)
    picks = {v: chosen(result["variants"][v]) for v in VARIANTS}
    rows = [
        "| activation | chosen lr (on validation) | val accuracy | test accuracy (95% CI, n=5) | activation parameters | all parameters |",
        "|---|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        i, val, test = picks[v]
        vr = result["variants"][v]
        edge = " (edge of the grid)" if i in (0, len(LEARNING_RATES) - 1) else ""
        rows.append(
            f"| {LABELS[v]} | {LEARNING_RATES[i]:g}{edge} | {100 * val.mean():.2f}% | "
            f"{stats.format_ci(stats.summary(test))} | {vr['activation_params']} | {vr['total_params']} |"
        )
    verdict = c16_verdict(
        {v: picks[v][2] for v in RATIONALS},
        {v: picks[v][1] for v in RATIONALS},
        {v: picks[v][2] for v in BASELINES},
        {v: picks[v][1] for v in BASELINES},
    )
    d = verdict.difference
    headline = (
        f"{LABELS[verdict.rational]} − {LABELS[verdict.baseline]}: "
        f"{100 * d.mean:+.2f} pp test accuracy (95% CI {100 * d.ci_low:+.2f} to {100 * d.ci_high:+.2f}, paired, n={d.n})"
    )
    shapes_figure(out / "rational_shapes.png", result)
    numbers = "\n".join(
        [
            f"MNIST-1D MLP {'-'.join(map(str, result['layers']))}, Adam, {result['steps']} steps, "
            f"learning rate per activation chosen on validation from {list(LEARNING_RATES)}, "
            f"{len(SEEDS)} seeds ({result['dataset']}).",
            "",
            *rows,
            "",
            f"Chosen on validation: rational = {LABELS[verdict.rational]}, baseline = "
            f"{LABELS[verdict.baseline]}. {headline}.",
        ]
    )
    condition = (
        "Fixed before the run: supported if the paired 95% interval of test(rational) − "
        "test(baseline) lies above −1 pp (beats it if above +1 pp); not supported if it lies "
        "below −1 pp; otherwise inconclusive."
    )
    return [
        findings.Finding(
            claim="C16",
            statement=(
                "Learnable rational activations match or beat the best fixed activation "
                "(Molina et al., ICLR 2020)."
            ),
            sources=(),
            numbers=numbers,
            verdict=verdict.verdict,
            condition=condition,
            figures=("rational_shapes.png",),
            headline=headline,
        )
    ]
