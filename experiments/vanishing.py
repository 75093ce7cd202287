r"""Per-layer gradient norms vs depth, and activation statistics through deep SELU nets (C3, C7).

``python -m experiments.report --only vanishing``

**C3** (seeds 000, 001, 002: "with many hidden layers, sigmoid gradients
reaching the early layers go to 0"). A :class:`DeepMLP` of ``depth`` hidden
layers of width 64 is built for each activation and depth (5, 10, 20, 50) on
MNIST-1D, with the initialisation each activation is meant for: Glorot-normal
for sigmoid and tanh, He-normal for relu, leaky_relu, elu and swish,
LeCun-normal for selu. For every layer :math:`l` (the input layer is 1, the
output layer ``depth + 1``) it records the Frobenius norm
:math:`\lVert \partial L / \partial W_l \rVert` on a fixed batch of 500
training examples:

* at initialisation for every (activation, depth), over seeds;
* through training, with the engine's ``metrics`` hook
  (:func:`gradient_norm_metrics`): every activation at depth 20 and sigmoid,
  relu and selu at depth 50 (Adam, lr 1e-3, seeds vmapped).

**C7** (seed 001: "SELU keeps the activations' variance constant, so deep nets
can be trained"). Pure forward passes, no training: inputs drawn from
:math:`\mathcal N(0, s^2)` go through 64 random square layers (width 256,
zero biases); after each layer the mean and the variance of the activations
are recorded (:func:`forward_statistics`), for SELU with LeCun-normal weights
(the initialisation its derivation assumes), SELU with He-normal weights (a
control), relu with He-normal, tanh and sigmoid with Glorot-normal, and from
input scale :math:`s = 2` for SELU and relu.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from jax.typing import ArrayLike

import jaxact
from experiments import findings
from experiments.stats import sample_std
from jaxact import sweep
from jaxact import initializers

CLAIMS = ("C3", "C7")

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "swish")
#: The initialisation each activation is meant for.
INIT = {
    "sigmoid": "glorot_normal",
    "tanh": "glorot_normal",
    "relu": "he_normal",
    "leaky_relu": "he_normal",
    "elu": "he_normal",
    "selu": "lecun_normal",
    "swish": "he_normal",
}
DEPTHS = (5, 10, 20, 50)
WIDTH = 64
GRAD_BATCH = 500
#: C3: sigmoid's first/output-layer gradient-norm ratio must be below this ...
VANISHED = 1e-3
#: ... and at least this many times smaller than relu's.
FAR_BELOW = 100.0
#: C7: "constant variance" band.
BAND = (0.5, 2.0)
#: C7: (label, activation, kernel init, input std).
C7_CONFIGS = (
    ("selu, LeCun-normal", "selu", "lecun_normal", 1.0),
    ("selu, LeCun-normal, input std 2", "selu", "lecun_normal", 2.0),
    ("selu, He-normal (control)", "selu", "he_normal", 1.0),
    ("relu, He-normal", "relu", "he_normal", 1.0),
    ("relu, He-normal, input std 2", "relu", "he_normal", 2.0),
    ("tanh, Glorot-normal", "tanh", "glorot_normal", 1.0),
    ("sigmoid, Glorot-normal", "sigmoid", "glorot_normal", 1.0),
)
C7_DEPTH = 64
#: C7 "→ deep nets": SELU's deep training accuracy within this many pp of the best.
DEEP_PP = 5.0


def _check_positive(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


class _Block(nn.Module):
    width: int
    activation: str
    kernel_init: str

    @nn.compact
    def __call__(self, x, _):
        z = nn.Dense(self.width, kernel_init=initializers.get(self.kernel_init), name="dense")(x)
        return jaxact.get(self.activation).fn(z), None


class DeepMLP(nn.Module):
    r"""A deep MLP of equal-width hidden layers whose compile time does not grow with depth.

    .. math::

       h_1 = f(x W_1 + b_1),\quad h_{l} = f(h_{l-1} W_l + b_l)\ (2 \le l \le D),\quad
       y = h_D W_{D+1} + b_{D+1}

    Hidden layers 2..D are one ``nn.scan`` over a Dense + activation block, so
    their kernels are stacked: ``params["hidden"]["dense"]["kernel"]`` has
    shape ``(D - 1, width, width)``; the first and output layers are
    ``params["input"]`` and ``params["output"]``.

    Args:
      depth: number of hidden layers :math:`D \ge 1`.
      width: hidden width.
      activation: registry name of :math:`f` (its default parameters).
      kernel_init: a name from :func:`jaxact.initializers.names`.
      num_classes: output width.

    Returns:
      On call, logits of shape ``x.shape[:-1] + (num_classes,)``.

    Raises:
      ValueError: ``depth``, ``width`` or ``num_classes`` not an integer >= 1,
        or an unknown activation or initialisation.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> m = DeepMLP(depth=4, width=8, activation="tanh", kernel_init="glorot_normal", num_classes=3)
      >>> v = m.init(jax.random.key(0), jnp.ones((2, 5)))
      >>> v["params"]["hidden"]["dense"]["kernel"].shape, m.apply(v, jnp.ones((2, 5))).shape
      ((3, 8, 8), (2, 3))
    """

    depth: int
    width: int
    activation: str
    kernel_init: str
    num_classes: int

    def __post_init__(self) -> None:
        for name in ("depth", "width", "num_classes"):
            _check_positive(getattr(self, name), name)
        jaxact.get(self.activation)
        initializers.get(self.kernel_init)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: ArrayLike) -> jax.Array:
        init = initializers.get(self.kernel_init)
        f = jaxact.get(self.activation).fn
        h = f(nn.Dense(self.width, kernel_init=init, name="input")(jnp.asarray(x)))
        if self.depth > 1:
            stack = nn.scan(
                _Block,
                variable_axes={"params": 0},
                split_rngs={"params": True},
                length=self.depth - 1,
            )
            h, _ = stack(self.width, self.activation, self.kernel_init, name="hidden")(h, None)
        return nn.Dense(self.num_classes, kernel_init=init, name="output")(h)


def layer_gradient_norms(grads) -> jax.Array:
    r"""Frobenius norm of each layer's kernel gradient of a :class:`DeepMLP`, input to output.

    .. math::

       n_l = \Big\lVert \frac{\partial L}{\partial W_l} \Big\rVert_F, \qquad l = 1, \dots, D + 1

    Args:
      grads: a gradient tree shaped like the :class:`DeepMLP` params.

    Returns:
      Array of shape ``(depth + 1,)``: one entry per layer, the input layer first.

    Examples:
      >>> import jax.numpy as jnp
      >>> g = {"input": {"kernel": jnp.full((2, 2), 0.5)}, "output": {"kernel": jnp.ones((2, 1))},
      ...      "hidden": {"dense": {"kernel": jnp.ones((3, 2, 2))}}}
      >>> layer_gradient_norms(g).tolist()
      [1.0, 2.0, 2.0, 2.0, 1.4142135381698608]
    """
    first = jnp.linalg.norm(grads["input"]["kernel"])[None]
    last = jnp.linalg.norm(grads["output"]["kernel"])[None]
    if "hidden" in grads:
        k = grads["hidden"]["dense"]["kernel"]
        middle = jnp.sqrt(jnp.sum(jnp.square(k), axis=(1, 2)))
        return jnp.concatenate([first, middle, last])
    return jnp.concatenate([first, last])


def _jit(fun: Callable, **kwargs) -> Callable:
    """``jax.jit``; on CPU without XLA's slow LLVM optimisations (these graphs are small)."""
    if jax.default_backend() == "cpu":
        kwargs["compiler_options"] = {"xla_backend_optimization_level": 0}
    return jax.jit(fun, **kwargs)


def _loss(logits: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def gradient_norm_metrics(apply, params, data) -> dict[str, jax.Array]:
    r"""Engine ``metrics`` hook: per-layer gradient norms on the first 500 training examples.

    .. math::

       m(\theta) = \big(\lVert \partial L_{\text{batch}} / \partial W_l \rVert_F\big)_{l=1}^{D+1}

    Args:
      apply: ``apply(params, x) -> logits``.
      params: a :class:`DeepMLP`'s params.
      data: the engine's data dict (``x_train``, ``y_train``, ...).

    Returns:
      ``{"grad_norm": array of shape (depth + 1,)}``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> m = DeepMLP(depth=3, width=4, activation="relu", kernel_init="he_normal", num_classes=2)
      >>> p = m.init(jax.random.key(0), jnp.ones((1, 5)))["params"]
      >>> d = {"x_train": jnp.ones((10, 5)), "y_train": jnp.zeros(10, int)}
      >>> hook = jax.jit(lambda p: gradient_norm_metrics(lambda p, x: m.apply({"params": p}, x), p, d))
      >>> hook(p)["grad_norm"].shape
      (4,)
    """
    x, y = data["x_train"][:GRAD_BATCH], data["y_train"][:GRAD_BATCH]
    grads = jax.grad(lambda p: _loss(apply(p, x), y))(params)
    return {"grad_norm": layer_gradient_norms(grads)}


def init_gradient_norms(
    activation: str,
    depth: int,
    x: ArrayLike,
    y: ArrayLike,
    *,
    seeds: Sequence[int],
    width: int = WIDTH,
    kernel_init: str | None = None,
    num_classes: int = 10,
) -> np.ndarray:
    r"""Per-layer gradient norms of freshly initialised :class:`DeepMLP` s, one per seed.

    .. math::

       n_{s,l} = \Big\lVert \frac{\partial L(\theta_s; x, y)}{\partial W_l} \Big\rVert_F,
       \qquad \theta_s \sim \text{init}(\text{key}(s))

    Args:
      activation: registry name.
      depth: hidden layers.
      x: inputs ``(B, D)``; y: integer labels ``(B,)``.
      seeds: initialisation seeds (vmapped).
      width: hidden width.
      kernel_init: initialisation name; default :data:`INIT` of the activation.
      num_classes: output width.

    Returns:
      Host array of shape ``(len(seeds), depth + 1)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> init_gradient_norms("relu", 3, jnp.ones((4, 5)), jnp.zeros(4, int), seeds=[0, 1], width=8).shape
      (2, 4)
    """
    kinit = kernel_init if kernel_init is not None else INIT.get(activation, "he_normal")
    m = DeepMLP(depth, width, activation, kinit, num_classes)
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y)

    def one(seed):
        params = m.init(jax.random.key(seed), x[:1])["params"]
        grads = jax.grad(lambda p: _loss(m.apply({"params": p}, x), y))(params)
        return layer_gradient_norms(grads)

    return np.asarray(_jit(jax.vmap(one))(jnp.asarray(seeds)))


def forward_statistics(
    x: ArrayLike, kernels: ArrayLike, activation: Callable[[jax.Array], jax.Array]
) -> tuple[jax.Array, jax.Array]:
    r"""Mean and variance of the activations after each layer of a bias-free square network.

    .. math::

       h_0 = x,\quad h_l = f(h_{l-1} W_l),\qquad
       \mu_l = \frac{1}{Nn}\sum_{b,j} h_{l,bj},\qquad
       \nu_l = \frac{1}{n}\sum_j \operatorname{Var}_b\, h_{l,bj}

    (:math:`\nu_l` is the per-unit variance over the :math:`N` samples,
    averaged over the :math:`n` units.)

    Args:
      x: inputs ``(N, n)``.
      kernels: ``(L, n, n)``, one square kernel per layer.
      activation: :math:`f`, e.g. ``jaxact.selu``.

    Returns:
      ``(mean, var)``, each of shape ``(L,)``.

    Raises:
      ValueError: if the shapes do not fit.

    Examples:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[1.0, -1.0], [3.0, 1.0]])
      >>> mean, var = forward_statistics(x, jnp.stack([jnp.eye(2)] * 3), lambda h: h)
      >>> mean.tolist(), var.tolist()
      ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    """
    x = jnp.asarray(x)
    kernels = jnp.asarray(kernels)
    if x.ndim != 2 or kernels.ndim != 3 or kernels.shape[1:] != (x.shape[1], x.shape[1]):
        raise ValueError(
            f"x must be (N, n) and kernels (L, n, n); got x {x.shape} and kernels {kernels.shape}"
        )

    def layer(h, w):
        h = activation(h @ w)
        return h, (jnp.mean(h), jnp.mean(jnp.var(h, axis=0)))

    _, (mean, var) = jax.lax.scan(layer, x, kernels)
    return mean, var


def random_forward_statistics(
    seed: ArrayLike,
    *,
    activation: str,
    init: str,
    depth: int,
    width: int,
    samples: int,
    input_std: ArrayLike = 1.0,
) -> tuple[jax.Array, jax.Array]:
    r""":func:`forward_statistics` of random weights and Gaussian inputs.

    .. math::

       x \sim \mathcal N(0, s^2)^{N \times n}, \quad W_l \sim \text{init}, \quad
       (\mu_l, \nu_l) = \text{forward\_statistics}(x, W, f)

    Args:
      seed: random seed.
      activation: registry name of :math:`f`.
      init: a name from :func:`jaxact.initializers.names`.
      depth: number of layers :math:`L`.
      width: :math:`n`.
      samples: :math:`N`.
      input_std: :math:`s`.

    Returns:
      ``(mean, var)``, each of shape ``(depth,)``.

    Examples:
      >>> m, v = random_forward_statistics(0, activation="selu", init="lecun_normal",
      ...                                  depth=3, width=32, samples=64)
      >>> v.shape
      (3,)
    """
    for name, value in (("depth", depth), ("width", width), ("samples", samples)):
        _check_positive(value, name)
    fn = _forward_program(jaxact.get(activation).name, init, depth, width, samples)
    return fn(jnp.asarray(seed), jnp.asarray(input_std, jnp.float32))


@functools.lru_cache(maxsize=64)
def _forward_program(activation: str, init: str, depth: int, width: int, samples: int):
    draw = initializers.get(init)
    f = jaxact.get(activation).fn

    def program(seed, input_std):
        kx, kw = jax.random.split(jax.random.key(seed))
        x = input_std * jax.random.normal(kx, (samples, width))
        # One draw per layer: a (depth, n, n) draw would count depth into variance_scaling's fans.
        kernels = jax.vmap(lambda k: draw(k, (width, width)))(jax.random.split(kw, depth))
        return forward_statistics(x, kernels, f)

    return _jit(program)


def _log_ratio(r: np.ndarray) -> str:
    zero = int(np.sum(r == 0))
    pos = r[r > 0]
    if pos.size == 0:
        return f"0 (underflow) in all {r.size} seeds"
    lg = np.log10(pos)
    text = f"10^({lg.mean():.1f} ± {sample_std(lg):.1f})"
    return text + (f", exactly 0 in {zero}/{r.size} seeds" if zero else "")


def _accs(h: dict) -> str:
    """Final training accuracy per learning rate, mean ± std over seeds."""
    return "train accuracy " + ", ".join(
        f"{100 * a.mean():.1f} ± {100 * sample_std(a):.1f} % (lr {lr:g})"
        for lr, a in zip(h["lrs"], h["acc_by_lr"], strict=True)
    )


def _grad_figure(path: Path, norms: dict, depths: Sequence[int], title: str) -> str:
    from matplotlib.figure import Figure

    from experiments import figures

    fig = Figure(figsize=(3.4 * len(depths), 3.6), layout="constrained")
    axes = fig.subplots(1, len(depths), squeeze=False)[0]
    floor = 1e-30
    for ax, depth in zip(axes, depths, strict=True):
        for i, act in enumerate(ACTIVATIONS):
            if (act, depth) not in norms:
                continue
            n = np.asarray(norms[(act, depth)], np.float64).mean(0)
            ax.plot(
                np.arange(1, n.size + 1), np.maximum(n, floor), label=act, color=f"C{i}", lw=1.3
            )
        ax.set_yscale("log")
        ax.set(title=f"depth {depth}", xlabel="layer (1 = input, last = output)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"‖∂L/∂W_l‖ (mean of seeds; 0 drawn at {floor:g})")
    axes[-1].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return figures.save(fig, path)


def run(out: Path, *, quick: bool = False) -> list[findings.Finding]:
    """Runs the study into ``out``; returns the C3 and C7 findings."""
    from experiments import data, figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = data.load("mnist1d")
    # trained: (activation, depth, steps, learning rates); each is one compiled program
    # whose runs are seeds × learning rates; a config is reported at its best rate.
    if quick:
        depths, seeds = (5, 10), [0, 1]
        activations: tuple[str, ...] = ("sigmoid", "relu")
        trained = [("sigmoid", 5, 100, (1e-3,))]
        c7 = {"depth": C7_DEPTH, "width": 128, "samples": 256, "seeds": (0,)}
    else:
        depths, seeds = DEPTHS, [0, 1, 2]
        activations = ACTIVATIONS
        trained = [(a, 20, 1000, (1e-3,)) for a in ("sigmoid", "tanh", "relu", "elu", "selu")]
        trained += [(a, 50, 500, (1e-4, 1e-3)) for a in ("sigmoid", "relu", "selu")]
        c7 = {"depth": C7_DEPTH, "width": 256, "samples": 1024, "seeds": (0, 1, 2)}

    # -- C3 at initialisation: every activation and depth ---------------------------
    xb, yb = ds.x_train[:GRAD_BATCH], ds.y_train[:GRAD_BATCH]
    at_init = {
        (a, d): init_gradient_norms(a, d, xb, yb, seeds=seeds, num_classes=ds.num_classes)
        for a in activations
        for d in depths
    }
    # -- C3 through training: the engine with the gradient-norm hook ----------------
    history: dict[tuple[str, int], dict] = {}
    for act, depth, steps, lrs in trained:
        setup = sweep.Setup(
            model=DeepMLP(depth, WIDTH, act, INIT[act], ds.num_classes),
            steps=steps,
            batch_size=100,
            optimizer="adam",
            eval_every=steps // 10,
            metrics=gradient_norm_metrics,
        )
        trainer = sweep.Trainer(setup, ds)
        state = trainer.init(
            seeds=np.tile(seeds, len(lrs)), learning_rate=np.repeat(lrs, len(seeds))
        )
        h = trainer.run(state).history
        acc = h["train_accuracy"][:, -1].reshape(len(lrs), len(seeds))
        best = int(np.argmax(acc.mean(1)))
        rows = slice(best * len(seeds), (best + 1) * len(seeds))
        history[(act, depth)] = {
            "lr": lrs[best],
            "lrs": lrs,
            "acc_by_lr": acc,
            **{k: v[rows] for k, v in h.items()},
        }
    trained_depths = sorted({d for _, d, _, _ in trained})
    figs = [
        _grad_figure(
            out / "grad_norms_init.png",
            at_init,
            depths,
            "per-layer gradient norm at initialisation",
        ),
        _grad_figure(
            out / "grad_norms_trained.png",
            {k: h["grad_norm"][:, -1] for k, h in history.items()},
            trained_depths,
            "per-layer gradient norm after training (Adam, best learning rate)",
        ),
    ]
    figs = [Path(f).name for f in figs]

    ratio = lambda n: n[..., 0] / n[..., -1]
    lines = []
    for d in depths:
        lines.append(
            f"- depth {d}, ‖∂L/∂W_1‖ / ‖∂L/∂W_out‖ at init: "
            + "; ".join(f"{a} {_log_ratio(ratio(at_init[(a, d)]))}" for a in activations)
        )
    for (a, d), h in history.items():
        lines.append(
            f"- trained, depth {d}, {a} (Adam lr {h['lr']:g}): ratio at step "
            f"{int(h['step'][0, -1])} {_log_ratio(ratio(h['grad_norm'][:, -1]))}; {_accs(h)}"
        )
    sig = {d: ratio(at_init[("sigmoid", d)]) for d in depths}
    usable = [d for d in depths if np.all(sig[d] > 0)]
    if usable:
        d = max(usable)
        factor = float(np.exp(np.mean(np.log(sig[d])) / d))
        lines.append(
            f"- sigmoid: the ratio shrinks by ×{factor:.3f} per layer (geometric mean over "
            f"{d} layers); at depth {max(depths)} the early layers' gradients are "
            + (
                "exactly 0 in float32 (underflow)"
                if np.any(at_init[("sigmoid", max(depths))] == 0)
                else f"{_log_ratio(sig[max(depths)])} of the output layer's"
            )
        )
    deep = [d for d in depths if d >= 20] or [max(depths)]
    sig_max = max(float(ratio(at_init[("sigmoid", d)]).max()) for d in deep)
    relu_min = min(float(ratio(at_init[("relu", d)]).min()) for d in deep)
    if sig_max >= VANISHED:
        v3 = "not supported"
    elif relu_min >= FAR_BELOW * sig_max:
        v3 = "supported"
    else:
        v3 = "depends"
    f3 = findings.Finding(
        claim="C3",
        statement=(
            "With many hidden layers, the sigmoid gradients reaching the early layers vanish "
            "(go to 0)."
        ),
        sources=("000", "001", "002"),
        numbers="\n".join(lines),
        verdict=v3,
        condition=(
            f"Rule: at depth {', '.join(map(str, deep))}, supported if sigmoid's first-layer/output-layer "
            f"gradient-norm ratio at initialisation is < {VANISHED:g} in every seed and relu's is at "
            f"least {FAR_BELOW:g}× larger in every seed; not supported if sigmoid's is ≥ {VANISHED:g}; "
            f"depends otherwise. Width {WIDTH}, MNIST-1D batch of {GRAD_BATCH}; inits: Glorot-normal "
            "(sigmoid, tanh), He-normal (relu, leaky_relu, elu, swish), LeCun-normal (selu). "
            "Sigmoid′ ≤ 1/4 multiplies the backpropagated signal by about 1/4 per layer at this "
            "init; tanh′(0) = 1 does not."
        ),
        figures=tuple(figs),
        headline=_c3_headline(at_init, depths),
    )

    # -- C7: forward statistics through deep random nets ----------------------------
    stats = {}
    for label, act, init, std in C7_CONFIGS:
        ms, vs = [], []
        for s in c7["seeds"]:
            m, v = random_forward_statistics(
                s,
                activation=act,
                init=init,
                depth=c7["depth"],
                width=c7["width"],
                samples=c7["samples"],
                input_std=std,
            )
            ms.append(np.asarray(m))
            vs.append(np.asarray(v))
        stats[label] = (np.stack(ms), np.stack(vs))
    layers = np.arange(1, c7["depth"] + 1)
    figures.curves(
        out / "selu_variance.png",
        layers,
        {k: v.mean(0) for k, (_, v) in stats.items()},
        title=f"activation variance through {c7['depth']} random layers (width {c7['width']})",
        xlabel="layer",
        ylabel="variance (mean over units and seeds)",
        logy=True,
    )
    lo, hi = BAND
    in_band = {k: bool(np.all((v >= lo) & (v <= hi))) for k, (_, v) in stats.items()}
    lines = []
    for k, (m, v) in stats.items():
        vm = v.mean(0)
        lines.append(
            f"- {k}: variance at layer 1 / 8 / {c7['depth']}: {vm[0]:.3g} / {vm[7]:.3g} / {vm[-1]:.3g} "
            f"(range over layers and seeds {v.min():.3g}–{v.max():.3g}); mean at layer "
            f"{c7['depth']}: {m[:, -1].mean():.3f}; within [{lo:g}, {hi:g}] at every layer: {in_band[k]}"
        )
    deepest = max(trained_depths)
    deep_runs = {a: h for (a, d), h in history.items() if d == deepest}
    lines.append(
        f"- trained at depth {deepest} (Adam, {int(next(iter(deep_runs.values()))['step'][0, -1])} "
        "steps): " + "; ".join(f"{a}: {_accs(h)}" for a, h in deep_runs.items())
    )
    best_acc = {a: float(h["acc_by_lr"].mean(1).max()) for a, h in deep_runs.items()}
    # "→ deep nets": SELU's best deep training accuracy is within DEEP_PP of the best activation's.
    deep_ok = "selu" in best_acc and 100 * (max(best_acc.values()) - best_acc["selu"]) <= DEEP_PP
    selu_ok = in_band["selu, LeCun-normal"]
    back = stats["selu, LeCun-normal, input std 2"][1][:, -1]
    returns = bool(np.all((back >= lo) & (back <= hi)))
    others = [k for k, _, _, std in C7_CONFIGS if std == 1.0 and k != "selu, LeCun-normal"]
    drift = [k for k in others if not in_band[k]]
    if selu_ok and returns and len(drift) == len(others) and deep_ok:
        v7 = "supported"
    elif selu_ok:
        v7 = "depends"
    else:
        v7 = "not supported"
    f7 = findings.Finding(
        claim="C7",
        statement="SELU keeps the activations' variance constant, so deep networks can be trained.",
        sources=("001",),
        numbers="\n".join(lines),
        verdict=v7,
        condition=(
            f"Rule: supported if SELU with LeCun-normal weights keeps the variance within "
            f"[{lo:g}, {hi:g}] at every one of {c7['depth']} layers in every seed, returns into that "
            "band by the last layer from inputs of std 2, every other configuration from std-1 "
            f"inputs leaves the band, and SELU's best training accuracy at depth {deepest} (over the "
            f"learning rates tried) is within {DEEP_PP:g} pp of the best activation's; depends if "
            "SELU stays in the band but another part fails; not supported if it leaves the band. "
            "It holds for SELU with LeCun-normal weights (the setting of its derivation), not "
            "for SELU in general: see the He-normal control. "
            f"Bias-free random layers, width {c7['width']}, {c7['samples']} samples; the variance "
            "is each unit's variance over the samples, averaged over units (for relu and tanh it "
            "shrinks with depth as the representations of different inputs become alike)."
        ),
        figures=("selu_variance.png",),
        headline=_c7_headline(stats, c7["depth"]),
        correction=(
            "Seed 001 says SELU trains two α values. In SELU (Klambauer et al. 2017) λ ≈ 1.0507 and "
            "α ≈ 1.6733 are fixed constants, chosen so that (mean, variance) = (0, 1) is an attracting "
            "fixed point of the layer map when the weights have Σw = 0 and Σw² = 1 (LeCun-normal, "
            "Var w = 1/fan_in); a trained-λ/α variant is jaxact.parametric_selu. The seed's "
            "statement that SELU cannot be stacked deep has it backwards."
        ),
    )
    found = [f3, f7]
    findings.write(out, found)
    return found


def _c3_headline(at_init: dict, depths: Sequence[int]) -> str:
    """log10 of the first/output-layer gradient-norm ratio at init, sigmoid vs relu, over seeds."""
    from experiments import stats as st

    ratio = lambda a, d: at_init[(a, d)][..., 0] / at_init[(a, d)][..., -1]
    usable = [d for d in depths if np.all(ratio("sigmoid", d) > 0) and np.all(ratio("relu", d) > 0)]
    d = 20 if 20 in usable else max(usable)
    parts = [
        f"{a} {st.format_ci(st.summary(np.log10(ratio(a, d))), pct=False)}"
        for a in ("sigmoid", "relu")
    ]
    return f"depth {d}, log10(‖∂L/∂W₁‖ / ‖∂L/∂W_out‖) at init: " + "; ".join(parts)


def _c7_headline(forward: dict, depth: int) -> str:
    """The last layer's variance over seeds: SELU with LeCun-normal weights and its control."""
    from experiments import stats as st

    v = lambda k: forward[k][1][:, -1]
    return (
        f"variance at layer {depth}: selu, LeCun-normal "
        f"{st.format_ci(st.summary(v('selu, LeCun-normal')), pct=False, digits=3)}; "
        f"He-normal control {float(np.mean(v('selu, He-normal (control)'))):.3g}"
    )
