"""C16: do learnable rational activations match or beat the best fixed activation?

Measurement (:func:`measure`). The same MLP (40-100-100-10, He-normal kernels,
Adam, batch 100, 3,000 steps) on MNIST-1D with 800 of the 4,000 training
samples held out for validation, for each hidden activation: ``relu``;
``swish`` with β learned (the best fixed/parametric activation of the kept
sweeps); ``rational`` (safe PAU, degrees (5, 4), one coefficient set per layer)
initialised as the library's least-squares fit of ``leaky_relu`` and of
``gelu``; ``apl`` (two hinges); ``blend`` of identity, relu and tanh. Each
activation gets its own learning rate, chosen on mean validation accuracy from
a grid starting at 3e-3, 1e-2, 3e-2 and widened while the choice sits on its
edge (:func:`experiments.studies.analysis.choose_learning_rate`: every learning
rate × 5 seeds of a grid is one vmapped program); the test accuracies of that
rate are compared. The learned activation parameters are recorded by the
engine's ``metrics`` hook (:func:`activation_metrics`).

Verdict (:func:`verdict_of`, applying
:func:`experiments.learnable_shapes.c16_verdict`, fixed before the run): the
validation-chosen rational variant against the validation-chosen baseline (relu
or swish), paired over seeds; "supported" if the 95% interval of the
test-accuracy difference lies above −1 percentage point (it *beats* when above
+1), "not supported" if it lies below −1, otherwise inconclusive.

:func:`findings` writes the table and the learned-shapes figure. Run it with
``python -m experiments.report --only rational_study``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from experiments import findings as _findings
from experiments import stats

CLAIMS = ("C16",)
#: The starting grid of every activation's learning rate (widened while the choice is on an edge).
LEARNING_RATES = (3e-3, 1e-2, 3e-2)
MAX_WIDEN = 2
SEEDS = (0, 1, 2, 3, 4)
STEPS = 3000
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
_PREFIX = "act:"


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


def activation_metrics(apply, params, data) -> dict[str, Any]:
    """Engine ``metrics`` hook: every activation parameter, keyed ``"act:<layer>/<name>"``.

    Examples:
      >>> import jax.numpy as jnp
      >>> p = {"dense_0": {"kernel": jnp.ones((2, 2))}, "act_0": {"beta": jnp.ones(())}}
      >>> list(activation_metrics(None, p, {}))
      ['act:act_0/beta']
    """
    import jax

    out = {}
    for layer, sub in params.items():
        if not layer.startswith("act_"):
            continue
        for path, leaf in jax.tree_util.tree_flatten_with_path(sub)[0]:
            keys = "/".join(str(getattr(k, "key", k)) for k in path)
            out[f"{_PREFIX}{layer}/{keys}"] = leaf
    return out


def layer_params(learned: dict[str, np.ndarray], layer: str) -> dict:
    """The nested parameter dict of one activation layer from :func:`activation_metrics` keys.

    Examples:
      >>> layer_params({"act:act_0/a/x": 1.0, "act:act_0/b": 2.0, "act:act_1/b": 3.0}, "act_0")
      {'a': {'x': 1.0}, 'b': 2.0}
    """
    out: dict = {}
    for key, value in learned.items():
        head, _, rest = key[len(_PREFIX) :].partition("/")
        if head != layer:
            continue
        node = out
        *parents, last = rest.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


# -- measurement -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Variant:
    """One activation's runs.

    Attributes:
      grid: the learning rates tried; lr: the one chosen on validation; on_edge: whether
        the choice is still on the grid's edge (``"low"``/``"high"``) after widening.
      val, test: per seed, the chosen rate's final validation / test accuracy.
      learned: the chosen rate's final activation parameters, key -> ``(S, ...)``.
      activation_params, total_params: parameter counts of one network.
    """

    grid: tuple[float, ...]
    lr: float
    on_edge: str
    val: np.ndarray
    test: np.ndarray
    learned: dict[str, np.ndarray]
    activation_params: int
    total_params: int


@dataclasses.dataclass(frozen=True)
class Measured:
    """What :func:`measure` returns: every variant, the layer widths, steps and the data."""

    variants: dict[str, Variant]
    layers: tuple[int, ...]
    steps: int
    dataset: str


def _count(tree) -> int:
    import jax

    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(tree)))


def _variant(variant: str, ds, layers, steps: int, eval_every: int, batch: int, grid) -> Variant:
    import jax

    from experiments.studies.analysis import choose_learning_rate
    from jaxact import sweep

    model = make_model(variant, layers, ds.num_classes)
    setup = sweep.Setup(
        model,
        steps=steps,
        batch_size=batch,
        optimizer="adam",
        eval_every=eval_every,
        metrics=activation_metrics,
    )
    c = choose_learning_rate(setup, ds, SEEDS, grid, max_widen=MAX_WIDEN)
    fin, hist = c.final[c.learning_rate], c.history[c.learning_rate]
    learned = {k: np.asarray(v)[:, -1] for k, v in hist.items() if k.startswith(_PREFIX)}
    params = model.init(jax.random.key(0), np.asarray(ds.x_train[:1]))["params"]
    act = {k: v for k, v in params.items() if k.startswith("act_")}
    return Variant(
        grid=c.grid,
        lr=c.learning_rate,
        on_edge=c.on_edge,
        val=np.asarray(fin["val_accuracy"], np.float64),
        test=np.asarray(fin["test_accuracy"], np.float64),
        learned=learned,
        activation_params=_count(act),
        total_params=_count(params),
    )


def measure(quick: bool = False) -> Measured:
    """Trains every variant at its validation-chosen learning rate.

    Args:
      quick: XOR, an 8-8 MLP, 60 steps (instead of MNIST-1D, 100-100, 3,000 steps).
    """
    from experiments import data

    if quick:
        ds = data.load("xor", seed=0).with_validation(0.2)
        layers, steps, eval_every, batch = (8, 8), 60, 20, 32
    else:
        ds = data.load("mnist1d").with_validation(0.2)
        layers, steps, eval_every, batch = (100, 100), STEPS, 150, 100
    variants = {
        v: _variant(v, ds, layers, steps, eval_every, batch, LEARNING_RATES) for v in VARIANTS
    }
    return Measured(variants, layers, steps, ds.description)


# -- the rule --------------------------------------------------------------------


def verdict_of(m: Measured):
    """C16's :class:`~experiments.learnable_shapes.C16Verdict` for a :class:`Measured`."""
    from experiments.learnable_shapes import c16_verdict

    v = m.variants
    return c16_verdict(
        {k: v[k].test for k in RATIONALS},
        {k: v[k].val for k in RATIONALS},
        {k: v[k].test for k in BASELINES},
        {k: v[k].val for k in BASELINES},
    )


# -- the finding -----------------------------------------------------------------


def shapes_figure(path: Path, m: Measured) -> None:
    """Learned shapes (per layer, seed 0, chosen learning rate) against their initial shapes."""
    import jax
    import jax.numpy as jnp

    from experiments import figures

    plt = figures._pyplot()
    learned = [v for v in VARIANTS if v != "relu" and v in m.variants]
    fig, axes = plt.subplots(1, len(learned), figsize=(3.2 * len(learned), 3.2), squeeze=False)
    x = jnp.linspace(-4.0, 4.0, 401)
    for ax, variant in zip(axes[0], learned, strict=True):
        vr = m.variants[variant]
        module = activation(variant)
        init = module.init(jax.random.key(0), x)
        ax.plot(x, module.apply(init, x), "k--", lw=1.2, label="initial")
        layers = sorted({k[len(_PREFIX) :].split("/")[0] for k in vr.learned})
        for layer in layers:
            p = jax.tree.map(lambda a: jnp.asarray(a[0]), layer_params(vr.learned, layer))
            ax.plot(x, module.apply({"params": p}, x), lw=1.4, label=f"learned, {layer}")
        ax.set_title(LABELS[variant], fontsize=9)
        ax.grid(alpha=0.3)
        ax.set_xlabel("x")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"learned activations vs their initial shapes (seed 0, chosen lr; {m.steps} steps)",
        fontsize=10,
    )
    figures.save(fig, path)


def _headline(verdict) -> str:
    d = verdict.difference
    return (
        f"{LABELS[verdict.rational]} − {LABELS[verdict.baseline]}: "
        f"{stats.format_difference(d, pct=True)} test accuracy, paired"
    )


def _numbers(m: Measured, verdict) -> str:
    rows = [
        "| activation | learning rate (grid; chosen on validation) | val accuracy | test accuracy "
        "| activation parameters | all parameters |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in m.variants.items():
        grid = ", ".join(f"{g:g}" for g in v.grid)
        edge = f", on the grid's {v.on_edge} edge" if v.on_edge else ""
        rows.append(
            f"| {LABELS[name]} | {v.lr:g} ({{{grid}}}{edge}) | {stats.format_ci(stats.summary(v.val))} "
            f"| {stats.format_ci(stats.summary(v.test))} | {v.activation_params} | {v.total_params} |"
        )
    return "\n".join(
        [
            f"MNIST-1D MLP {'-'.join(map(str, m.layers))}, Adam, {m.steps} steps, each activation's "
            f"learning rate chosen on validation from a grid starting at "
            f"{{{', '.join(f'{g:g}' for g in LEARNING_RATES)}}} (widened while the choice is on its "
            f"edge), {len(SEEDS)} seeds; accuracies: mean ± sample std (95% t-interval, n) "
            f"({m.dataset}).",
            "",
            *rows,
            "",
            f"Chosen on validation: rational = {LABELS[verdict.rational]}, baseline = "
            f"{LABELS[verdict.baseline]}. {_headline(verdict)}.",
        ]
    )


def findings(m: Measured, out: Path) -> list[_findings.Finding]:
    """The C16 finding and ``rational_shapes.png`` (written into ``out``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    verdict = verdict_of(m)
    shapes_figure(out / "rational_shapes.png", m)
    condition = (
        "Fixed before the run: supported if the paired 95% interval of test(rational) − "
        "test(baseline) lies above −1 pp (beats it if above +1 pp); not supported if it lies "
        "below −1 pp; otherwise inconclusive. The rational variant and the baseline are each "
        "the one with the best mean validation accuracy."
    )
    return [
        _findings.Finding(
            claim="C16",
            statement=(
                "Learnable rational activations match or beat the best fixed activation "
                "(Molina et al., ICLR 2020)."
            ),
            sources=(),
            numbers=_numbers(m, verdict),
            verdict=verdict.verdict,
            condition=condition,
            figures=("rational_shapes.png",),
            headline=_headline(verdict),
        )
    ]


def run(out: str | Path, *, quick: bool = False) -> list[_findings.Finding]:
    """Runs the study into ``out`` (the figure, ``findings.json``); returns the finding."""
    result = findings(measure(quick), Path(out))
    _findings.write(out, result)
    return result
