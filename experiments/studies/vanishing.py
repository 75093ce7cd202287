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

* at initialisation for every (activation, depth), over seeds: one compiled
  program per activation computes every depth (:func:`init_gradient_norms_by_depth`);
* through training, with the engine's ``metrics`` hook
  (:func:`gradient_norm_metrics`): sigmoid, relu and selu at depth 50 (Adam,
  seeds and learning rates vmapped); each activation gets its own learning
  rate, the one with the best mean final validation accuracy (800 of the
  4,000 training rows held out) on a grid starting at 1e-4, 3e-4, 1e-3 and
  widened while the choice sits on its edge; the claim is about training at
  all, so the training accuracy at that rate is what the rule compares.

**C7** (seed 001: "SELU keeps the activations' variance constant, so deep nets
can be trained"). Pure forward passes, no training: inputs drawn from
:math:`\mathcal N(0, s^2)` go through 64 random square layers (width 256,
zero biases); after each layer the mean and the variance of the activations
are recorded (:func:`forward_statistics`), for SELU with LeCun-normal weights
(the initialisation its derivation assumes), SELU with He-normal weights (a
control), relu with He-normal, tanh and sigmoid with Glorot-normal, and from
input scale :math:`s = 2` for SELU and relu.

The study is split into :func:`measure` (the runs, as arrays), the rules
:func:`c3_verdict` and :func:`c7_verdict` (pure functions of those arrays) and
:func:`findings` (text and figures). Figures over seeds are mean, sample std,
n and a 95% t-interval (:mod:`experiments.stats`); ``log10`` ratios are
summarised on the log scale.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from jax.typing import ArrayLike

import jaxact
from experiments import findings as _findings
from experiments import stats
from experiments.studies.analysis import GOOD_INIT
from jaxact import initializers, sweep

CLAIMS = ("C3", "C7")

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "swish")
DEPTHS = (5, 10, 20, 50)
SEEDS = (0, 1, 2, 3, 4)
#: Trained configurations: (activation, depth, steps, learning rates); each is one
#: compiled program whose runs are learning rates × :data:`SEEDS`.
TRAINED = tuple((a, 50, 500, (1e-4, 3e-4, 1e-3)) for a in ("sigmoid", "relu", "selu"))
#: How many learning rates a trained configuration's grid may add while its choice is on an edge.
MAX_WIDEN = 2
#: C7's forward statistics: seeds, width, samples.
C7_SEEDS = (0, 1, 2)
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
#: C7 "→ deep nets": the paired 95% interval of (any other activation − SELU) deep
#: training accuracy must lie below this many percentage points.
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
      kernel_init: initialisation name; default :data:`~experiments.studies.analysis.GOOD_INIT` of the activation.
      num_classes: output width.

    Returns:
      Host array of shape ``(len(seeds), depth + 1)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> init_gradient_norms("relu", 3, jnp.ones((4, 5)), jnp.zeros(4, int), seeds=[0, 1], width=8).shape
      (2, 4)
    """
    kinit = kernel_init if kernel_init is not None else GOOD_INIT.get(activation, "he_normal")
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


def masked_logits(params, x: jax.Array, depth: ArrayLike, activation: Callable) -> jax.Array:
    r"""A :class:`DeepMLP`'s logits using only its first ``depth`` hidden layers.

    Hidden layers :math:`l \ge` ``depth`` pass their input through unchanged
    (``jnp.where``), so the result equals the ``DeepMLP(depth)`` made of the
    input layer, the first ``depth - 1`` stacked layers and the output layer,
    and ``depth`` can be a traced (vmapped) value: one compiled program covers
    every depth up to the stack's.

    Args:
      params: a :class:`DeepMLP`'s params.
      x: inputs ``(B, D)``.
      depth: number of hidden layers used, ``1 <= depth <=`` the model's depth.
      activation: :math:`f`.

    Returns:
      Logits ``(B, num_classes)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> m = DeepMLP(depth=4, width=8, activation="tanh", kernel_init="glorot_normal", num_classes=3)
      >>> p = m.init(jax.random.key(0), jnp.ones((2, 5)))["params"]
      >>> bool(jnp.allclose(masked_logits(p, jnp.ones((2, 5)), 4, jnp.tanh),
      ...                   m.apply({"params": p}, jnp.ones((2, 5))), atol=1e-6))
      True
    """
    h = activation(x @ params["input"]["kernel"] + params["input"]["bias"])
    if "hidden" in params:
        dense = params["hidden"]["dense"]
        index = jnp.arange(dense["kernel"].shape[0])

        def layer(h, kbl):
            k, b, i = kbl
            return jnp.where(i < depth - 1, activation(h @ k + b), h), None

        h, _ = jax.lax.scan(layer, h, (dense["kernel"], dense["bias"], index))
    return h @ params["output"]["kernel"] + params["output"]["bias"]


def init_gradient_norms_by_depth(
    activation: str,
    depths: Sequence[int],
    x: ArrayLike,
    y: ArrayLike,
    *,
    seeds: Sequence[int],
    width: int = WIDTH,
    kernel_init: str | None = None,
    num_classes: int = 10,
) -> dict[int, np.ndarray]:
    r"""Per-layer gradient norms at initialisation for several depths in one compiled program.

    A ``DeepMLP(max(depths))`` is initialised per seed; depth ``d`` uses its
    input layer, its first ``d - 1`` stacked layers and its output layer
    (:func:`masked_logits`), which are distributed as a fresh ``DeepMLP(d)``'s
    (every hidden kernel has fan-in ``width``).

    Args:
      activation: registry name.
      depths: hidden-layer counts (each >= 1).
      x: inputs ``(B, D)``; y: integer labels ``(B,)``.
      seeds: initialisation seeds (vmapped).
      width: hidden width.
      kernel_init: initialisation name; default :data:`~experiments.studies.analysis.GOOD_INIT` of the activation.
      num_classes: output width.

    Returns:
      depth -> host array ``(len(seeds), depth + 1)``, the input layer first.

    Examples:
      >>> import jax.numpy as jnp
      >>> n = init_gradient_norms_by_depth("relu", [2, 3], jnp.ones((4, 5)), jnp.zeros(4, int),
      ...                                  seeds=[0, 1], width=8)
      >>> n[2].shape, n[3].shape
      ((2, 3), (2, 4))
    """
    ds = sorted({int(d) for d in depths})
    if not ds:
        raise ValueError("depths must name at least one depth")
    for d in ds:
        _check_positive(d, "depths")
    top = ds[-1]
    kinit = kernel_init if kernel_init is not None else GOOD_INIT.get(activation, "he_normal")
    m = DeepMLP(top, width, activation, kinit, num_classes)
    f = jaxact.get(activation).fn
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y)

    def one(seed, depth):
        params = m.init(jax.random.key(seed), x[:1])["params"]
        grads = jax.grad(lambda p: _loss(masked_logits(p, x, depth, f), y))(params)
        return layer_gradient_norms(grads)

    program = _jit(jax.vmap(jax.vmap(one, (0, None)), (None, 0)))
    norms = np.asarray(program(jnp.asarray(seeds), jnp.asarray(ds)))  # (depths, seeds, top + 1)
    return {
        d: np.concatenate([norms[i, :, :d], norms[i, :, -1:]], axis=1) for i, d in enumerate(ds)
    }


# -- measurement -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Trained:
    """One trained configuration.

    Attributes:
      lrs: the learning rates tried; lr: the chosen one (best mean validation accuracy).
      accuracy: final training accuracy per learning rate and seed, ``(L, S)``.
      grad_norm: per-layer gradient norms of the chosen rate, ``(S, T, depth + 1)``.
      steps: the evaluation steps, ``(T,)``.
      on_edge: ``"low"``/``"high"`` if the choice is still on the grid's edge.
    """

    lrs: tuple[float, ...]
    lr: float
    accuracy: np.ndarray
    grad_norm: np.ndarray
    steps: np.ndarray
    on_edge: str = ""

    @property
    def chosen_accuracy(self) -> np.ndarray:
        """Final training accuracy per seed at the chosen rate."""
        return self.accuracy[self.lrs.index(self.lr)]


@dataclasses.dataclass(frozen=True)
class Measured:
    """What :func:`measure` returns.

    Attributes:
      depths, seeds, activations: the C3 grid.
      at_init: ``(activation, depth)`` -> gradient norms at init ``(S, depth + 1)``.
      trained: ``(activation, depth)`` -> :class:`Trained`.
      forward: C7 label -> ``(mean, var)``, each ``(seeds, layers)``.
      c7: the forward statistics' sizes (``depth``, ``width``, ``samples``, ``seeds``).
    """

    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    activations: tuple[str, ...]
    at_init: dict[tuple[str, int], np.ndarray]
    trained: dict[tuple[str, int], Trained]
    forward: dict[str, tuple[np.ndarray, np.ndarray]]
    c7: dict

    @property
    def deepest(self) -> int:
        """The deepest trained depth."""
        return max(d for _, d in self.trained)

    def deep_accuracy(self) -> dict[str, np.ndarray]:
        """Activation -> training accuracy per seed at the deepest trained depth (chosen rate)."""
        return {a: t.chosen_accuracy for (a, d), t in self.trained.items() if d == self.deepest}


def _train(ds, act: str, depth: int, steps: int, lrs: Sequence[float], seeds) -> Trained:
    """One configuration at the learning rate with the best mean final validation accuracy.

    The grid is widened (up to :data:`MAX_WIDEN` values) while the choice sits on
    its edge (:func:`experiments.studies.analysis.choose_learning_rate`).
    """
    from experiments.studies.analysis import choose_learning_rate

    setup = sweep.Setup(
        model=DeepMLP(depth, WIDTH, act, GOOD_INIT[act], ds.num_classes),
        steps=steps,
        batch_size=100,
        optimizer="adam",
        eval_every=steps // 10,
        metrics=gradient_norm_metrics,
    )
    if len(lrs) < 2:  # quick mode: one rate, one program
        trainer = sweep.Trainer(setup, ds)
        h = trainer.run(trainer.init(seeds=list(seeds), learning_rate=lrs[0])).history
        h = {k: np.asarray(v) for k, v in h.items()}
        return Trained(
            tuple(lrs), lrs[0], h["train_accuracy"][None, :, -1], h["grad_norm"], h["step"][0], ""
        )
    c = choose_learning_rate(setup, ds, seeds, lrs, metric="val_accuracy", max_widen=MAX_WIDEN)
    acc = np.stack([c.final[lr]["train_accuracy"] for lr in c.grid])
    h = c.history[c.learning_rate]
    return Trained(c.grid, c.learning_rate, acc, h["grad_norm"], h["step"][0], c.on_edge)


def _forward(c7: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for label, act, init, std in C7_CONFIGS:
        runs = [
            random_forward_statistics(
                s,
                activation=act,
                init=init,
                depth=c7["depth"],
                width=c7["width"],
                samples=c7["samples"],
                input_std=std,
            )
            for s in c7["seeds"]
        ]
        out[label] = (
            np.stack([np.asarray(m) for m, _ in runs]),
            np.stack([np.asarray(v) for _, v in runs]),
        )
    return out


def measure(quick: bool = False) -> Measured:
    """Gradient norms at init and through training (C3), forward statistics (C7).

    Args:
      quick: depths 5 and 10, sigmoid and relu, 2 seeds, one short sigmoid run,
        smaller forward statistics.

    Returns:
      A :class:`Measured`.
    """
    from experiments import data

    ds = data.load("mnist1d").with_validation()
    if quick:
        depths, seeds, activations = (5, 10), (0, 1), ("sigmoid", "relu")
        trained = (("sigmoid", 5, 100, (1e-3,)),)
        c7 = {"depth": C7_DEPTH, "width": 128, "samples": 256, "seeds": (0,)}
    else:
        depths, seeds, activations, trained = DEPTHS, SEEDS, ACTIVATIONS, TRAINED
        c7 = {"depth": C7_DEPTH, "width": 256, "samples": 1024, "seeds": C7_SEEDS}
    xb, yb = ds.x_train[:GRAD_BATCH], ds.y_train[:GRAD_BATCH]
    at_init = {}
    for a in activations:
        by_depth = init_gradient_norms_by_depth(
            a, depths, xb, yb, seeds=seeds, num_classes=ds.num_classes
        )
        at_init.update({(a, d): n for d, n in by_depth.items()})
    runs = {(a, d): _train(ds, a, d, steps, lrs, seeds) for a, d, steps, lrs in trained}
    return Measured(
        tuple(depths), tuple(seeds), tuple(activations), at_init, runs, _forward(c7), c7
    )


# -- the rules -------------------------------------------------------------------


def first_to_output(norms: ArrayLike) -> np.ndarray:
    """``‖∂L/∂W₁‖ / ‖∂L/∂W_out‖`` per seed from per-layer norms ``(..., layers)``.

    Examples:
      >>> first_to_output([[1e-6, 1.0, 2.0], [3.0, 1.0, 3.0]]).tolist()
      [5e-07, 1.0]
    """
    n = np.asarray(norms, np.float64)
    return n[..., 0] / n[..., -1]


def c3_verdict(
    sigmoid_ratio: Mapping[int, ArrayLike],
    relu_ratio: Mapping[int, ArrayLike],
    *,
    vanished: float = VANISHED,
    far_below: float = FAR_BELOW,
) -> str:
    """C3's verdict from the first/output-layer gradient-norm ratios at init, per depth and seed.

    Only depths >= 20 count (the deepest depth if none is). *Not supported* if
    sigmoid's ratio is >= ``vanished`` in any seed; *supported* if it is below and
    relu's smallest ratio is at least ``far_below`` times sigmoid's largest;
    *depends* otherwise. Each part holds in every seed, so no part compares two
    means.

    Args:
      sigmoid_ratio, relu_ratio: depth -> ratio per seed.

    Examples:
      >>> c3_verdict({20: [1e-12, 1e-13], 50: [0.0, 0.0]}, {20: [0.3, 0.2], 50: [0.1, 0.2]})
      'supported'
      >>> c3_verdict({20: [1e-12, 2e-3]}, {20: [0.3, 0.2]})
      'not supported'
      >>> c3_verdict({20: [1e-4, 1e-5]}, {20: [1e-3, 0.2]})
      'depends'
    """
    depths = sorted(sigmoid_ratio)
    deep = [d for d in depths if d >= 20] or [depths[-1]]
    sig_max = max(float(np.max(sigmoid_ratio[d])) for d in deep)
    relu_min = min(float(np.min(relu_ratio[d])) for d in deep)
    if sig_max >= vanished:
        return "not supported"
    return "supported" if relu_min >= far_below * sig_max else "depends"


def _near_best(deep_accuracy: Mapping[str, ArrayLike], margin: float) -> str:
    """``"pass"``/``"fail"``/``"undecided"``: is SELU within ``margin`` pp of every other activation?"""
    if "selu" not in deep_accuracy:
        return "fail"
    selu = np.asarray(deep_accuracy["selu"], np.float64) * 100
    parts = []
    for name, acc in deep_accuracy.items():
        if name == "selu":
            continue
        diff = stats.paired_difference(np.asarray(acc, np.float64) * 100, selu)
        if stats.verdict(diff, margin) == "greater":
            parts.append("fail")
        elif diff.ci_low <= margin <= diff.ci_high:
            parts.append("undecided")
        else:
            parts.append("pass")
    return "fail" if "fail" in parts else "undecided" if "undecided" in parts else "pass"


def c7_verdict(
    variance: Mapping[str, ArrayLike],
    deep_accuracy: Mapping[str, ArrayLike],
    *,
    band: tuple[float, float] = BAND,
    margin: float = DEEP_PP,
) -> str:
    """C7's verdict from the forward variances and the deepest trained accuracies.

    Args:
      variance: C7 label (:data:`C7_CONFIGS`) -> variance per seed and layer ``(S, L)``.
      deep_accuracy: activation -> training accuracy (fraction) per seed at the
        deepest trained depth, seed ``i`` shared.
      band: the "constant variance" band.
      margin: percentage points SELU may trail any other activation.

    Returns:
      *supported* if SELU with LeCun-normal weights stays in ``band`` at every layer
      in every seed, returns into it by the last layer from std-2 inputs, every
      other std-1 configuration leaves it, and the paired 95% interval of (other −
      SELU) training accuracy lies below ``margin`` for every other activation;
      *inconclusive* if all that holds except that an interval straddles ``margin``;
      *depends* if SELU stays in the band but another part fails; *not supported*
      if it leaves the band.

    Examples:
      >>> v = {k: np.full((2, 3), 1.0 if k.startswith("selu, LeCun") else 5.0)
      ...      for k, *_ in C7_CONFIGS}
      >>> c7_verdict(v, {"selu": [0.9, 0.91, 0.92], "relu": [0.9, 0.92, 0.91]})
      'supported'
      >>> c7_verdict(v, {"selu": [0.5, 0.52, 0.51], "relu": [0.9, 0.92, 0.91]})
      'depends'
    """
    lo, hi = band
    inside = lambda v: bool(np.all((np.asarray(v) >= lo) & (np.asarray(v) <= hi)))
    if not inside(variance["selu, LeCun-normal"]):
        return "not supported"
    returns = inside(np.asarray(variance["selu, LeCun-normal, input std 2"])[:, -1])
    others = [k for k, _, _, std in C7_CONFIGS if std == 1.0 and k != "selu, LeCun-normal"]
    drift = all(not inside(variance[k]) for k in others)
    near = _near_best(deep_accuracy, margin)
    if returns and drift and near == "pass":
        return "supported"
    if returns and drift and near == "undecided":
        return "inconclusive"
    return "depends"


def verdicts(m: Measured) -> tuple[str, str]:
    """The C3 and C7 verdicts of a :class:`Measured`."""
    ratio = lambda a: {d: first_to_output(m.at_init[(a, d)]) for d in m.depths}
    v3 = c3_verdict(ratio("sigmoid"), ratio("relu"))
    v7 = c7_verdict({k: v for k, (_, v) in m.forward.items()}, m.deep_accuracy())
    return v3, v7


# -- the findings ----------------------------------------------------------------


def _log_ratio(r: np.ndarray) -> str:
    """log10 of a ratio over seeds as mean ± std (95% CI, n); exact zeros (underflow) counted apart."""
    r = np.asarray(r, np.float64)
    zero = int(np.sum(r == 0))
    pos = r[r > 0]
    if pos.size == 0:
        return f"0 (underflow) in all {r.size} seeds"
    text = stats.format_ci(stats.summary(np.log10(pos)), pct=False)
    return text + (f"; exactly 0 in {zero}/{r.size} seeds" if zero else "")


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


def _c3_numbers(m: Measured) -> str:
    lines = [
        "log10(‖∂L/∂W₁‖ / ‖∂L/∂W_out‖) at initialisation, mean ± sample std (95% t-interval, n) "
        "over seeds:",
        "",
        "| activation | " + " | ".join(f"depth {d}" for d in m.depths) + " |",
        "|---|" + "---|" * len(m.depths),
    ]
    for a in m.activations:
        cells = [_log_ratio(first_to_output(m.at_init[(a, d)])) for d in m.depths]
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "After training (Adam, batch 100, each activation's learning rate chosen on mean final "
        "validation accuracy from a grid widened while the choice is on its edge):",
        "",
        "| activation, depth | steps | chosen lr | log10 ratio after training | "
        "training accuracy at each lr |",
        "|---|---|---|---|---|",
    ]
    for (a, d), t in m.trained.items():
        accs = "; ".join(
            f"lr {lr:g}: {stats.format_ci(stats.summary(acc))}"
            for lr, acc in zip(t.lrs, t.accuracy, strict=True)
        )
        edge = f" (on the grid's {t.on_edge} edge)" if t.on_edge else ""
        lines.append(
            f"| {a}, {d} | {int(t.steps[-1])} | {t.lr:g}{edge} | "
            f"{_log_ratio(first_to_output(t.grad_norm[:, -1]))} | {accs} |"
        )
    sig = {d: first_to_output(m.at_init[("sigmoid", d)]) for d in m.depths}
    usable = [d for d in m.depths if np.all(sig[d] > 0)]
    if usable:
        d = max(usable)
        factor = float(np.exp(np.mean(np.log(sig[d])) / d))
        deepest = max(m.depths)
        tail = (
            "exactly 0 in float32 (underflow) in some seed"
            if np.any(m.at_init[("sigmoid", deepest)] == 0)
            else f"10^({np.mean(np.log10(sig[deepest])):.1f}) of the output layer's"
        )
        lines += [
            "",
            f"Sigmoid's ratio shrinks by ×{factor:.3f} per layer (geometric mean over {d} layers "
            f"and the seeds); at depth {deepest} the first layer's gradient is {tail}.",
        ]
    return "\n".join(lines)


def _c3_headline(m: Measured) -> str:
    """log10 of the first/output-layer gradient-norm ratio at init, sigmoid vs relu, over seeds."""
    ratio = lambda a, d: first_to_output(m.at_init[(a, d)])
    usable = [
        d for d in m.depths if np.all(ratio("sigmoid", d) > 0) and np.all(ratio("relu", d) > 0)
    ]
    d = 20 if 20 in usable else max(usable)
    parts = [
        f"{a} {stats.format_ci(stats.summary(np.log10(ratio(a, d))), pct=False)}"
        for a in ("sigmoid", "relu")
    ]
    return f"depth {d}, log10(‖∂L/∂W₁‖ / ‖∂L/∂W_out‖) at init: " + "; ".join(parts)


def _c3(m: Measured, out: Path, verdict: str) -> _findings.Finding:
    figs = [
        _grad_figure(
            out / "grad_norms_init.png",
            m.at_init,
            m.depths,
            "per-layer gradient norm at initialisation",
        ),
        _grad_figure(
            out / "grad_norms_trained.png",
            {k: t.grad_norm[:, -1] for k, t in m.trained.items()},
            sorted({d for _, d in m.trained}),
            "per-layer gradient norm after training (Adam, chosen learning rate)",
        ),
    ]
    deep = ", ".join(str(d) for d in m.depths if d >= 20) or str(max(m.depths))
    return _findings.Finding(
        claim="C3",
        statement=(
            "With many hidden layers, the sigmoid gradients reaching the early layers vanish "
            "(go to 0)."
        ),
        sources=("000", "001", "002"),
        numbers=_c3_numbers(m),
        verdict=verdict,
        condition=(
            f"Rule: at depth {deep}, supported if sigmoid's first-layer/output-layer gradient-norm "
            f"ratio at initialisation is < {VANISHED:g} in every seed and relu's is at least "
            f"{FAR_BELOW:g}× larger in every seed; not supported if sigmoid's is ≥ {VANISHED:g}; "
            f"depends otherwise. Width {WIDTH}, MNIST-1D batch of {GRAD_BATCH}; inits: "
            "Glorot-normal (sigmoid, tanh), He-normal (relu, leaky_relu, elu, swish), LeCun-normal "
            "(selu). Sigmoid′ ≤ 1/4 multiplies the backpropagated signal by about 1/4 per layer at "
            "this init; tanh′(0) = 1 does not."
        ),
        figures=tuple(Path(f).name for f in figs),
        headline=_c3_headline(m),
    )


def _c7_numbers(m: Measured) -> str:
    depth = m.c7["depth"]
    lo, hi = BAND
    fmt = lambda v: stats.format_ci(stats.summary(v), pct=False, digits=3)
    lines = [
        f"Variance and mean of the activations through {depth} random layers, over "
        f"{len(m.c7['seeds'])} seeds: mean ± sample std (95% t-interval, n).",
        "",
        f"| configuration | variance, layer 1 | layer 8 | layer {depth} | mean, layer {depth} | "
        f"in [{lo:g}, {hi:g}] at every layer and seed |",
        "|---|---|---|---|---|---|",
    ]
    for k, (mean, var) in m.forward.items():
        inside = bool(np.all((var >= lo) & (var <= hi)))
        lines.append(
            f"| {k} | {fmt(var[:, 0])} | {fmt(var[:, 7])} | {fmt(var[:, -1])} | "
            f"{fmt(mean[:, -1])} | {'yes' if inside else 'no'} |"
        )
    deep = m.deep_accuracy()
    lines += [
        "",
        f"Training accuracy at depth {m.deepest} (chosen learning rate): "
        + "; ".join(f"{a} {stats.format_ci(stats.summary(acc))}" for a, acc in deep.items())
        + ".",
    ]
    if "selu" in deep:
        selu = np.asarray(deep["selu"], np.float64)
        diffs = [
            f"{a} − selu {stats.format_difference(stats.paired_difference(acc, selu), pct=True, digits=1)}"
            for a, acc in deep.items()
            if a != "selu"
        ]
        lines.append("Paired differences: " + "; ".join(diffs) + ".")
    return "\n".join(lines)


def _c7_headline(m: Measured) -> str:
    """The last layer's variance over seeds: SELU with LeCun-normal weights and its control."""
    v = lambda k: m.forward[k][1][:, -1]
    text = (
        f"variance at layer {m.c7['depth']}: selu, LeCun-normal "
        f"{stats.format_ci(stats.summary(v('selu, LeCun-normal')), pct=False, digits=3)}; "
        f"He-normal control {float(np.mean(v('selu, He-normal (control)'))):.3g}"
    )
    deep = m.deep_accuracy()
    if "selu" in deep and len(deep) > 1:
        # The trainability part: the activation furthest ahead of SELU at the deepest depth.
        selu = np.asarray(deep["selu"], np.float64)
        diffs = {a: stats.paired_difference(acc, selu) for a, acc in deep.items() if a != "selu"}
        a, d = max(diffs.items(), key=lambda kv: kv[1].mean)
        text += (
            f"; depth {m.deepest} training accuracy {a} − selu "
            f"{stats.format_difference(d, pct=True, digits=1)}"
        )
    return text


def _c7(m: Measured, out: Path, verdict: str) -> _findings.Finding:
    from experiments import figures

    c7 = m.c7
    figures.curves(
        out / "selu_variance.png",
        np.arange(1, c7["depth"] + 1),
        {k: v.mean(0) for k, (_, v) in m.forward.items()},
        title=f"activation variance through {c7['depth']} random layers (width {c7['width']})",
        xlabel="layer",
        ylabel="variance (mean over units and seeds)",
        logy=True,
    )
    lo, hi = BAND
    return _findings.Finding(
        claim="C7",
        statement="SELU keeps the activations' variance constant, so deep networks can be trained.",
        sources=("001",),
        numbers=_c7_numbers(m),
        verdict=verdict,
        condition=(
            f"Rule: supported if SELU with LeCun-normal weights keeps the variance within "
            f"[{lo:g}, {hi:g}] at every one of {c7['depth']} layers in every seed, returns into that "
            "band by the last layer from inputs of std 2, every other configuration from std-1 "
            f"inputs leaves the band, and at depth {m.deepest} the paired 95% interval of each other "
            f"activation's training accuracy minus SELU's (each at its own learning rate) lies "
            f"below {DEEP_PP:g} pp; inconclusive if only an interval straddles {DEEP_PP:g} pp; "
            "depends if SELU stays in the band but another part fails; not supported if it leaves "
            "the band. It holds for SELU with LeCun-normal weights (the setting of its derivation), "
            f"not for SELU in general: see the He-normal control. Bias-free random layers, width "
            f"{c7['width']}, {c7['samples']} samples; the variance is each unit's variance over the "
            "samples, averaged over units (for relu and tanh it shrinks with depth as the "
            "representations of different inputs become alike)."
        ),
        figures=("selu_variance.png",),
        headline=_c7_headline(m),
        correction=(
            "Seed 001 says SELU trains two α values. In SELU (Klambauer et al. 2017) λ ≈ 1.0507 and "
            "α ≈ 1.6733 are fixed constants, chosen so that (mean, variance) = (0, 1) is an attracting "
            "fixed point of the layer map when the weights have Σw = 0 and Σw² = 1 (LeCun-normal, "
            "Var w = 1/fan_in); a trained-λ/α variant is jaxact.parametric_selu. The seed's "
            "statement that SELU cannot be stacked deep has it backwards."
        ),
    )


def findings(m: Measured, out: Path) -> list[_findings.Finding]:
    """The C3 and C7 findings and their figures (written into ``out``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    v3, v7 = verdicts(m)
    return [_c3(m, out, v3), _c7(m, out, v7)]


def run(out: Path, *, quick: bool = False) -> list[_findings.Finding]:
    """Runs the study into ``out`` (figures, ``findings.json``); returns the C3 and C7 findings."""
    result = findings(measure(quick), Path(out))
    _findings.write(out, result)
    return result
