"""The training engine behind :mod:`jaxact.sweep`.

A *sweep* is K independent training runs of one model (Flax Linen or NNX)
that share shapes: different seeds, initial activation-parameter values and
optimiser hyperparameters. The engine stacks the K runs on a leading "runs"
axis and trains them as one jit-compiled program:

* one training step is ``jax.vmap`` over the runs of: draw a minibatch on
  device, ``value_and_grad``, an optax update;
* ``jax.lax.scan`` runs ``eval_every`` steps (a *block*), then applies the
  divergence guard and evaluates every run on the training, validation and
  test arrays inside the program;
* a *chunk* is a ``scan`` over several such blocks; the host sees results only
  between chunks, where progress is reported and checkpoints are written;
* the runs axis is laid out over a ``Mesh`` of all devices (every process's
  devices under ``jax.distributed``) with ``jax.shard_map``; K is padded to a
  multiple of the device count and the padding dropped from the results;
* on a CPU a device's runs are trained in groups (``lax.map`` over groups,
  ``vmap`` within one): each group runs a whole chunk while its parameters and
  optimiser state stay in the cache, instead of every step sweeping the state
  of all the device's runs (see :data:`GROUP_PARAM_BYTES`).

Everything that differs between runs (seed, initial parameter values,
hyperparameters) is an array input, so a new grid never recompiles, and the
compiled programs are kept per (setup, devices, data shapes): a second
:class:`Trainer` with the same setup reuses them.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxact._src import io as _io
from jaxact._src import params as _params

try:  # jax >= 0.7 has the stable name; older releases only the experimental one.
    _shard_map = jax.shard_map
except AttributeError:  # pragma: no cover
    from jax.experimental.shard_map import shard_map as _shard_map

RUNS = "runs"
#: Checkpoint format; bumped when the layout changes.
CHECKPOINT_FORMAT = 2
#: Fault injection for the reliability tests (see :func:`pause_point`); unset by default.
PAUSE_ENV = "JAXACT_PAUSE_AT"
_pauses_seen: dict[str, int] = {}

OPTIMIZERS: Mapping[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": lambda learning_rate=1e-3: optax.sgd(learning_rate),
    "momentum": lambda learning_rate=1e-3: optax.sgd(learning_rate, momentum=0.9),
    "nesterov": lambda learning_rate=1e-3: optax.sgd(learning_rate, momentum=0.9, nesterov=True),
    "adam": lambda learning_rate=1e-3: optax.adam(learning_rate),
    "adamw": lambda learning_rate=1e-3, weight_decay=1e-4: optax.adamw(
        learning_rate, weight_decay=weight_decay
    ),
    "rmsprop": lambda learning_rate=1e-3: optax.rmsprop(learning_rate),
}
LOSSES = ("cross_entropy", "bce", "mse")
SAMPLING = ("uniform", "epoch")
SPLITS = ("train", "val", "test")
#: On a CPU, a device's runs are trained in groups of at most this many bytes
#: of parameters (their gradients and optimiser state take about three times
#: more). On a 2-core EPYC (docs/performance.md, "Runs in groups") the K = 64
#: benchmark sweep of 15k-parameter MLPs took 5.23 s in groups of 8 against
#: 7.21 s with all 32 of a device's runs in one vmap, whose state outgrows the
#: cache. Accelerators train all of a device's runs at once.
GROUP_PARAM_BYTES = 512 * 1024


# -- data ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Data:
    """Training, validation and test arrays (validation and test optional).

    ``x_*`` are float arrays ``(samples, ...features)``; ``y_*`` are integer
    class labels ``(samples,)`` for classification losses, or float targets
    ``(samples, ...)`` for ``mse`` and user losses. Any object with these
    attributes (such as the experiments' ``Dataset``) can be given instead.
    """

    x_train: Any
    y_train: Any
    x_val: Any = None
    y_val: Any = None
    x_test: Any = None
    y_test: Any = None


def _as_data(data: Any, classification: bool) -> dict[str, np.ndarray]:
    """The arrays of ``data`` checked and converted; raises ``ValueError`` naming the field."""
    if isinstance(data, Mapping):
        get = lambda k: data.get(k)
    else:
        get = lambda k: getattr(data, k, None)
    out: dict[str, np.ndarray] = {}
    for split in SPLITS:
        x, y = get(f"x_{split}"), get(f"y_{split}")
        if (x is None) != (y is None):
            raise ValueError(f"data: x_{split} and y_{split} must be given together")
        if x is None:
            if split == "train":
                raise ValueError("data: x_train and y_train are required")
            continue
        try:
            xa = np.asarray(x)
            ya = np.asarray(y)
        except Exception as e:
            raise ValueError(f"data.x_{split}/y_{split}: not arrays ({e})") from None
        if xa.ndim < 1 or xa.shape[0] == 0:
            raise ValueError(
                f"data.x_{split}: expected (samples, ...) with samples > 0, got shape {xa.shape}"
            )
        if not (np.issubdtype(xa.dtype, np.floating) or np.issubdtype(xa.dtype, np.integer)):
            raise ValueError(f"data.x_{split}: expected numbers, got dtype {xa.dtype}")
        xa = xa.astype(np.float32) if not np.issubdtype(xa.dtype, np.floating) else xa
        if xa.dtype == np.float64:
            xa = xa.astype(np.float32)
        if not np.all(np.isfinite(xa)):
            bad = int(np.size(xa) - np.count_nonzero(np.isfinite(xa)))
            raise ValueError(f"data.x_{split}: {bad} entries are NaN or infinite")
        if ya.shape[:1] != xa.shape[:1]:
            raise ValueError(
                f"data.y_{split}: expected {xa.shape[0]} targets (as x_{split} has samples), "
                f"got shape {ya.shape}"
            )
        if classification:
            if not np.issubdtype(ya.dtype, np.integer):
                if np.issubdtype(ya.dtype, np.floating) and np.all(ya == np.round(ya)):
                    ya = ya.astype(np.int32)
                else:
                    raise ValueError(
                        f"data.y_{split}: a classification loss needs integer labels, got {ya.dtype}"
                    )
            if ya.ndim != 1:
                raise ValueError(
                    f"data.y_{split}: expected labels of shape (samples,), got {ya.shape}"
                )
            ya = ya.astype(np.int32)
        else:
            ya = ya.astype(np.float32) if not np.issubdtype(ya.dtype, np.floating) else ya
            if ya.dtype == np.float64:
                ya = ya.astype(np.float32)
            if not np.all(np.isfinite(ya)):
                raise ValueError(f"data.y_{split}: entries are NaN or infinite")
        out[f"x_{split}"], out[f"y_{split}"] = xa, ya
    shapes = {out[f"x_{s}"].shape[1:] for s in SPLITS if f"x_{s}" in out}
    if len(shapes) > 1:
        raise ValueError(f"data: x_train, x_val and x_test must share feature shapes, got {shapes}")
    return out


# -- the model, functionally -----------------------------------------------------


class _Model:
    """A Linen module or an NNX factory as ``init(key, x0)`` and ``apply(params, rest, x)``."""

    def __init__(self, model: Any, x0: jax.ShapeDtypeStruct):
        import flax.linen as nn

        self.x0 = x0
        if isinstance(model, nn.Module):
            self.kind = "linen"
            self.model = model
            shapes = jax.eval_shape(
                lambda: model.init(jax.random.key(0), jnp.zeros(x0.shape, x0.dtype))
            )
            if "params" not in shapes:
                raise ValueError("model: the Linen module has no 'params' collection")
            self.types = None
            param_paths = _params.leaf_paths(shapes["params"])
            abstract_params = shapes["params"]
            modules = _params.linen_activation_modules(model, jnp.zeros(x0.shape, x0.dtype))
        else:
            from flax import nnx

            if isinstance(model, nnx.Module):
                raise ValueError(
                    "model: an nnx.Module instance cannot be re-initialised for each seed; pass "
                    "a function rngs -> module instead, e.g. lambda rngs: Net(rngs=rngs)"
                )
            if not callable(model):
                raise ValueError(
                    f"model: expected a flax.linen Module or a function rngs -> nnx.Module, "
                    f"got {type(model).__name__}"
                )
            self.kind = "nnx"
            self.model = model
            abstract = nnx.eval_shape(lambda: model(nnx.Rngs(0)))
            if not isinstance(abstract, nnx.Module):
                raise ValueError(
                    f"model: the function must return an nnx.Module, got {type(abstract).__name__}"
                )
            self.graphdef, p_state, _ = nnx.split(abstract, nnx.Param, ...)
            self.types = {
                tuple(str(k) for k in path): type(node)
                for path, node in nnx.iter_graph(abstract)
                if isinstance(node, nnx.Variable)
            }
            param_paths = sorted(
                {
                    self.norm(_params.path_of(p))
                    for p, _ in jax.tree_util.tree_flatten_with_path(p_state)[0]
                },
                key=_params.natural_key,
            )
            modules = _params.nnx_activation_modules(abstract)
            abstract_params = p_state
        self.param_paths = param_paths
        #: Bytes of one run's parameters.
        self.param_bytes = sum(
            math.prod(leaf.shape) * np.dtype(leaf.dtype).itemsize
            for leaf in jax.tree.leaves(abstract_params)
        )
        self.default_paths = _params.under(modules, param_paths)

    def norm(self, path: tuple[str, ...]) -> tuple[str, ...]:
        if self.kind == "nnx" and path and path[-1] == "value":
            return path[:-1]
        return path

    def init(self, key: jax.Array) -> tuple[Any, Any]:
        x0 = jnp.zeros(self.x0.shape, self.x0.dtype)
        if self.kind == "linen":
            variables = dict(self.model.init(key, x0))
            params = variables.pop("params")
            return params, variables
        from flax import nnx

        _, params, rest = nnx.split(self.model(nnx.Rngs(key)), nnx.Param, ...)
        return params, rest

    def apply(self, params: Any, rest: Any, x: jax.Array) -> jax.Array:
        if self.kind == "linen":
            return self.model.apply({"params": params, **rest}, x)
        from flax import nnx

        return nnx.merge(self.graphdef, params, rest)(x)

    def replace(self, params: Any, new: Mapping[tuple[str, ...], Callable[[Any], Any]]) -> Any:
        def visit(path, leaf):
            fn = new.get(self.norm(_params.path_of(path)))
            return leaf if fn is None else fn(leaf)

        return jax.tree_util.tree_map_with_path(visit, params)

    def leaves(self, params: Any) -> dict[tuple[str, ...], Any]:
        return {
            self.norm(_params.path_of(p)): leaf
            for p, leaf in jax.tree_util.tree_flatten_with_path(params)[0]
        }


# -- the setup -----------------------------------------------------------------------


def _optimizer_hparams(optimizer: Any) -> tuple[tuple[str, Any], ...] | None:
    """(name, default) of each per-run hyperparameter the optimiser takes; None if fixed."""
    if isinstance(optimizer, str):
        optimizer = OPTIMIZERS[optimizer]
    if isinstance(optimizer, optax.GradientTransformation):
        return None
    out = []
    for p in inspect.signature(optimizer).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ValueError(
                "optimizer: a function of hyperparameters must name each one (no *args/**kwargs)"
            )
        out.append((p.name, None if p.default is p.empty else p.default))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class Setup:
    """Everything about a sweep that fixes the compiled program's shape.

    Attributes:
      model: a Flax Linen module, or a function ``rngs -> nnx.Module`` (NNX
        modules are built once per run from that run's seed).
      steps: optimisation steps per run.
      batch_size: minibatch size, drawn on device.
      optimizer: a name in :data:`OPTIMIZERS` (hyperparameter
        ``learning_rate``; ``adamw`` also ``weight_decay``), an
        ``optax.GradientTransformation`` (the same for every run), or a function
        of per-run hyperparameters returning one, e.g.
        ``lambda learning_rate, weight_decay: optax.adamw(learning_rate, weight_decay=weight_decay)``.
        Each hyperparameter is an array input (one value per run).
      loss: ``"cross_entropy"`` (softmax, integer labels), ``"bce"`` (sigmoid
        binary cross-entropy on one logit, labels 0/1), ``"mse"``, or a function
        ``loss(outputs, targets) -> scalar``.
      eval_every: steps between evaluations; must divide ``steps``.
      chunk_evals: evaluations per compiled chunk (host round trip); ``None``
        picks a divisor of ``steps // eval_every`` giving about 20 chunks.
      select: the activation parameters that are reported and sweepable
        (see :mod:`jaxact._src.params`); ``None`` means jaxact's activation
        modules' parameters.
      frozen: leaves kept at their initial values (same selector forms; a
        bare name means that name within ``select``); ``()`` freezes none.
      sampling: ``"uniform"`` (indices with replacement) or ``"epoch"`` (a
        fresh permutation each epoch, last partial batch dropped).
      shared_batches: every run sees the same minibatch at a step.
      divergence_guard: checked once per evaluation block (``eval_every``
        steps): a run that met a non-finite loss in the block, or whose
        parameters are not finite at its end, returns to its parameters and
        optimiser state at the start of the block, is flagged ``diverged`` and is
        not updated again. ``False`` flags from the loss alone and lets a
        diverged run go on (to NaN). Either way the other runs are unaffected.
      eval_train_max: at most this many training samples are used for the
        training-split evaluation (all if ``None``).
      metrics: optional extra metrics, a function
        ``metrics(apply, params, data) -> dict[str, Array]`` where
        ``apply(params, x)`` returns the model's outputs and ``data`` has the
        ``x_train``, ``y_train``, ... arrays.
    """

    model: Any
    steps: int
    batch_size: int
    optimizer: Any = "adam"
    loss: Any = "cross_entropy"
    eval_every: int = 100
    chunk_evals: int | None = None
    select: Any = None
    frozen: Any = ()
    sampling: str = "uniform"
    shared_batches: bool = False
    divergence_guard: bool = True
    eval_train_max: int | None = 10_000
    metrics: Callable[..., Mapping[str, jax.Array]] | None = None

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if self.steps % self.eval_every:
            raise ValueError(f"eval_every: ({self.eval_every}) must divide steps ({self.steps})")
        if isinstance(self.optimizer, str):
            if self.optimizer not in OPTIMIZERS:
                raise ValueError(
                    f"optimizer: expected one of {sorted(OPTIMIZERS)}, an optax "
                    f"GradientTransformation or a function of hyperparameters, got {self.optimizer!r}"
                )
        elif not (
            isinstance(self.optimizer, optax.GradientTransformation) or callable(self.optimizer)
        ):
            raise ValueError(
                f"optimizer: expected a name, an optax GradientTransformation or a function of "
                f"hyperparameters, got {type(self.optimizer).__name__}"
            )
        _optimizer_hparams(self.optimizer)
        if isinstance(self.loss, str):
            if self.loss not in LOSSES:
                raise ValueError(f"loss: expected one of {LOSSES} or a function, got {self.loss!r}")
        elif not callable(self.loss):
            raise ValueError(f"loss: expected one of {LOSSES} or a function, got {self.loss!r}")
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling: expected one of {SAMPLING}, got {self.sampling!r}")
        if self.chunk_evals is not None and (
            not isinstance(self.chunk_evals, (int, np.integer))
            or self.chunk_evals <= 0
            or self.num_evals % self.chunk_evals
        ):
            raise ValueError(
                f"chunk_evals: ({self.chunk_evals}) must be a positive divisor of "
                f"steps // eval_every ({self.num_evals})"
            )

    @property
    def classification(self) -> bool:
        return self.loss in ("cross_entropy", "bce")

    @property
    def hparams(self) -> tuple[tuple[str, Any], ...] | None:
        """(name, default) of each per-run hyperparameter; ``None`` for a fixed transformation."""
        return _optimizer_hparams(self.optimizer)

    @property
    def num_evals(self) -> int:
        return self.steps // self.eval_every

    @property
    def evals_per_chunk(self) -> int:
        if self.chunk_evals is not None:
            return int(self.chunk_evals)
        n = self.num_evals
        target = max(1, math.ceil(n / 20))
        return min(d for d in range(1, n + 1) if n % d == 0 and d >= target)

    @property
    def steps_per_chunk(self) -> int:
        return self.evals_per_chunk * self.eval_every


@dataclasses.dataclass
class State:
    """K stacked runs between chunks.

    Attributes:
      step: steps done so far (the same for every run).
      arrays: the runs' device state with a leading (padded) runs axis:
        ``params``, ``rest`` (non-parameter variables, constant), ``opt_state``,
        ``key`` (raw key data), ``diverged``.
      history: host arrays ``(num_runs, evaluations_so_far, ...)``, starting
        with the evaluation at step 0 (schema: :data:`jaxact.sweep.HISTORY_SCHEMA`).
      num_runs: K, the number of real runs (the padding is dropped).
    """

    step: int
    arrays: dict[str, Any]
    history: dict[str, np.ndarray]
    num_runs: int

    def final(self) -> dict[str, np.ndarray]:
        """Each history entry's last value, one row per run."""
        return {k: v[:, -1] for k, v in self.history.items()}

    def params(self) -> Any:
        """The runs' parameters on the host, padding dropped."""
        return jax.tree.map(lambda a: _to_host(a)[: self.num_runs], self.arrays["params"])


def _to_host(x: jax.Array) -> np.ndarray:
    """A global array as one host array, in every process."""
    if jax.process_count() > 1 and not x.is_fully_addressable:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def _tree_all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def _global(host: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """A global array from a host array every process holds in full."""
    host = np.asarray(host)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


# -- the compiled programs, shared by every Trainer with the same static description -------


class _Programs:
    """The jitted init, evaluation and chunk functions of one (setup, devices, data shape)."""

    def __init__(
        self, setup: Setup, devices: tuple, model: _Model, selected, frozen, hp_names, group
    ):
        self.setup = setup
        self.runs_per_group = group
        self.model = model
        self.selected = tuple(selected)
        self.frozen = frozenset(frozen)
        self.hp_names = hp_names
        self.mesh = Mesh(np.asarray(devices), (RUNS,))
        self.runs = NamedSharding(self.mesh, P(RUNS))
        self.replicated = NamedSharding(self.mesh, P())
        # Initialisation is a loop (lax.map), not a vmap, over a device's runs:
        # it runs once per sweep, and XLA compiles vmapped random initialisers
        # several times slower than one run's. The step-0 evaluation is part of
        # the same program (one compilation fewer per sweep).
        self.init_fn = jax.jit(
            _shard_map(
                self._init_runs,
                mesh=self.mesh,
                in_specs=(P(RUNS), P(RUNS), P(RUNS), P()),
                out_specs=P(RUNS),
            )
        )
        self.eval_fn = jax.jit(
            _shard_map(
                jax.vmap(self._evaluate, in_axes=(0, 0, None)),
                mesh=self.mesh,
                in_specs=(P(RUNS), P(RUNS), P()),
                out_specs=P(RUNS),
            )
        )
        self.chunk_fn = jax.jit(
            _shard_map(
                self._chunk_runs,
                mesh=self.mesh,
                in_specs=(P(RUNS), P(), P()),
                out_specs=(P(RUNS), P(RUNS)),
            ),
            donate_argnums=0,
        )

    def _chunk_runs(self, arrays, data, start_step):
        """One device's runs through a chunk: ``vmap`` within a group, ``lax.map`` over groups."""
        one = jax.vmap(self._chunk_one, in_axes=(0, None, None))
        n = jax.tree.leaves(arrays)[0].shape[0]
        groups = _group_count(n, self.runs_per_group)
        if groups == 1:
            return one(arrays, data, start_step)
        split = lambda a: a.reshape((groups, n // groups) + a.shape[1:])
        merge = lambda a: a.reshape((n,) + a.shape[2:])
        out = jax.lax.map(lambda a: one(a, data, start_step), jax.tree.map(split, arrays))
        return jax.tree.map(merge, out)

    # one run each; vmapped over runs --------------------------------------------------

    def _optimizer(self, hparams: Mapping[str, Any]) -> optax.GradientTransformation:
        opt = self.setup.optimizer
        make = OPTIMIZERS[opt] if isinstance(opt, str) else opt
        frozen = self.frozen
        model = self.model

        def wrap(inner):
            if not frozen:
                return inner

            def labels(params):
                return jax.tree_util.tree_map_with_path(
                    lambda path, _: (
                        "frozen" if model.norm(_params.path_of(path)) in frozen else "train"
                    ),
                    params,
                )

            return optax.multi_transform({"train": inner, "frozen": optax.set_to_zero()}, labels)

        if isinstance(make, optax.GradientTransformation):
            return wrap(make)

        def factory(**hp):
            return wrap(make(**hp))

        factory.__signature__ = inspect.signature(make)  # what inject_hyperparams reads
        return optax.inject_hyperparams(factory)(**hparams)

    def _loss(self, outputs, y):
        loss = self.setup.loss
        if loss == "bce":
            z = outputs[..., 0]
            value = optax.sigmoid_binary_cross_entropy(z, y.astype(z.dtype)).mean()
            return value, jnp.mean((z > 0).astype(jnp.int32) == y)
        if loss == "cross_entropy":
            value = optax.softmax_cross_entropy_with_integer_labels(outputs, y).mean()
            return value, jnp.mean(jnp.argmax(outputs, -1) == y)
        if loss == "mse":
            return jnp.mean((outputs.reshape(y.shape) - y) ** 2), None
        return jnp.asarray(loss(outputs, y)), None

    def _init_runs(self, seeds, hparams, values, data):
        arrays = jax.lax.map(lambda a: self._init_one(*a), (seeds, hparams, values))
        first = jax.vmap(self._evaluate, in_axes=(0, 0, None))(
            arrays["params"], arrays["rest"], data
        )
        return arrays, first

    def _init_one(self, seed, hparams, values):
        key = jax.random.key(seed)
        init_key, data_key = jax.random.split(key)
        params, rest = self.model.init(init_key)
        new = {
            path: (lambda leaf, v=v: jnp.broadcast_to(v, leaf.shape).astype(leaf.dtype))
            for path, v in ((tuple(k.split("\x1f")), v) for k, v in values.items())
        }
        params = self.model.replace(params, new)
        opt_state = self._optimizer(hparams).init(params)
        return {
            "params": params,
            "rest": rest,
            "opt_state": opt_state,
            "key": jax.random.key_data(data_key),
            "diverged": jnp.array(False),
        }

    def _evaluate(self, params, rest, data):
        apply = lambda p, x: self.model.apply(p, rest, x)
        out = {}
        for split in SPLITS:
            if f"x_{split}" not in data:
                continue
            x, y = data[f"x_{split}"], data[f"y_{split}"]
            if split == "train" and self.setup.eval_train_max is not None:
                x, y = x[: self.setup.eval_train_max], y[: self.setup.eval_train_max]
            loss, acc = self._loss(apply(params, x), y)
            out[f"{split}_loss"] = loss
            if acc is not None:
                out[f"{split}_accuracy"] = acc
        leaves = self.model.leaves(params)
        for path in self.selected:
            out["param:" + "/".join(path)] = jnp.mean(leaves[path])
        if self.setup.metrics is not None:
            out.update(self.setup.metrics(apply, params, data))
        return out

    def _epoch_order(self, key, step, n):
        """The permutation of the training rows for the epoch that ``step`` is in."""
        epoch = step // (n // self.setup.batch_size)
        return jax.random.permutation(jax.random.fold_in(key, epoch), n)

    def _batch_indices(self, key, step, n, order):
        """The minibatch's row indices at ``step``, and the epoch order to carry on.

        ``"epoch"`` sampling draws the epoch's permutation once, at its first
        step (``step`` is the same for every run, so this is a real branch
        under ``vmap``), and slices it at every other step.
        """
        b = self.setup.batch_size
        if self.setup.sampling == "uniform":
            return jax.random.randint(jax.random.fold_in(key, step), (b,), 0, n), order
        pos = step % (n // b)
        order = jax.lax.cond(pos == 0, lambda: self._epoch_order(key, step, n), lambda: order)
        return jax.lax.dynamic_slice(order, (pos * b,), (b,)), order

    def _chunk_one(self, arrays, data, start_step):
        setup = self.setup
        rest = arrays["rest"]
        hp0 = {name: jnp.zeros(()) for name in self.hp_names}
        tx = self._optimizer(hp0)  # the run's own values live in opt_state.hyperparams
        run_key = jax.random.wrap_key_data(arrays["key"])
        shared_key = jax.random.key(0)
        n = data["x_train"].shape[0]

        def loss_fn(params, xb, yb):
            return self._loss(self.model.apply(params, rest, xb), yb)[0]

        key = shared_key if setup.shared_batches else run_key

        def train_step(carry, step):
            params, opt_state, order = carry
            idx, order = self._batch_indices(key, step, n, order)
            xb, yb = data["x_train"][idx], data["y_train"][idx]
            loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, order), loss

        def block(carry, first_step):
            params0, opt0, diverged, order = carry
            steps = first_step + jnp.arange(setup.eval_every)
            (params, opt_state, order), losses = jax.lax.scan(
                train_step, (params0, opt0, order), steps
            )
            finite = jnp.all(jnp.isfinite(losses))
            if setup.divergence_guard:
                # Checked once per block, not per step: a run that met a non-finite
                # loss or ended the block with non-finite parameters returns to the
                # block's start and is not updated again.
                ok = finite & _tree_all_finite(params) & ~diverged
                keep = lambda new, old: jnp.where(ok, new, old)
                params = jax.tree.map(keep, params, params0)
                opt_state = jax.tree.map(keep, opt_state, opt0)
                diverged = diverged | ~ok
            else:
                diverged = diverged | ~finite
            metrics = self._evaluate(params, rest, data)
            metrics["batch_loss"] = jnp.mean(losses)
            metrics["diverged"] = diverged
            metrics["step"] = first_step + setup.eval_every
            return (params, opt_state, diverged, order), metrics

        firsts = start_step + setup.eval_every * jnp.arange(setup.evals_per_chunk)
        # The order of the epoch the chunk starts in (a chunk may start mid-epoch).
        order = (
            self._epoch_order(key, start_step, n)
            if setup.sampling == "epoch"
            else jnp.zeros((0,), jnp.int32)
        )
        carry = (arrays["params"], arrays["opt_state"], arrays["diverged"], order)
        (params, opt_state, diverged, _), history = jax.lax.scan(block, carry, firsts)
        new = dict(arrays, params=params, opt_state=opt_state, diverged=diverged)
        return new, history


def _group_count(n: int, runs_per_group: int | None) -> int:
    """Into how many equal groups of at most ``runs_per_group`` a device's ``n`` runs split.

    :meth:`Trainer.padded` pads K so that ``ceil(n / runs_per_group)`` groups
    divide ``n``; for any other ``n`` the next count that divides it is used.
    """
    if not runs_per_group or n <= runs_per_group:
        return 1
    groups = -(-n // runs_per_group)
    while n % groups:
        groups += 1
    return groups


_PROGRAMS: dict[Any, _Programs] = {}


def _programs(
    setup: Setup, devices: tuple, model: _Model, selected, frozen, group: int | None
) -> _Programs:
    hp = setup.hparams
    hp_names = tuple(n for n, _ in hp) if hp is not None else ()
    key = (
        setup,
        devices,
        model.x0.shape,
        str(model.x0.dtype),
        tuple(selected),
        tuple(frozen),
        group,
    )
    try:
        return _PROGRAMS[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable field (e.g. a mutable user object): no sharing
        return _Programs(setup, devices, model, selected, frozen, hp_names, group)
    programs = _Programs(setup, devices, model, selected, frozen, hp_names, group)
    _PROGRAMS[key] = programs
    return programs


_MODELS: dict[Any, _Model] = {}


def _model_for(setup: Setup, x0: jax.ShapeDtypeStruct) -> _Model:
    key = (setup.model, x0.shape, str(x0.dtype))
    try:
        return _MODELS[key]
    except KeyError:
        pass
    except TypeError:
        return _Model(setup.model, x0)
    model = _MODELS[key] = _Model(setup.model, x0)
    return model


class Trainer:
    """Trains sweeps of runs of one :class:`Setup` on one dataset.

    Args:
      setup: the static description of the runs.
      data: a :class:`Data` (or any object with ``x_train``, ``y_train`` and
        optionally ``x_val``/``y_val``, ``x_test``/``y_test``); copied once to
        every device.
      devices: the devices of the runs axis; all devices of all processes
        (``jax.devices()``) by default.
      runs_per_group: the most runs of one device trained together (``vmap``)
        while the device's groups run one after another; a setting of speed
        only. ``None`` (default): on CPU devices as many as have
        :data:`GROUP_PARAM_BYTES` of parameters in all, elsewhere all of them.

    Attributes:
      param_paths: the selected activation parameters' paths, in layer order.
      param_names: their distinct leaf names (``("alpha",)``), sorted.
      hparam_names: the optimiser's per-run hyperparameters.
      runs_per_group: the group size in use (``None``: no grouping).
    """

    def __init__(
        self,
        setup: Setup,
        data: Any,
        *,
        devices: Sequence[Any] | None = None,
        runs_per_group: int | None = None,
    ):
        if not isinstance(setup, Setup):
            raise ValueError(f"setup: expected a jaxact.sweep.Setup, got {type(setup).__name__}")
        arrays = _as_data(data, setup.classification)
        n = arrays["x_train"].shape[0]
        if setup.batch_size > n:
            raise ValueError(
                f"batch_size: ({setup.batch_size}) is larger than the training set ({n} samples)"
            )
        self.setup = setup
        self.data = data
        self.devices = tuple(devices) if devices is not None else tuple(jax.devices())
        x0 = jax.ShapeDtypeStruct((1,) + arrays["x_train"].shape[1:], arrays["x_train"].dtype)
        self.model = _model_for(setup, x0)
        m = self.model
        self.param_paths = tuple(
            _params.find(
                m.param_paths,
                setup.select,
                default=m.default_paths,
                types=m.types,
                arg="select",
                allow_empty=setup.select is None,
            )
        )
        frozen = ()
        if setup.frozen is not None and not (
            isinstance(setup.frozen, (tuple, list)) and len(setup.frozen) == 0
        ):
            frozen = tuple(
                _params.find(
                    m.param_paths,
                    setup.frozen,
                    default=self.param_paths,
                    types=m.types,
                    arg="frozen",
                )
            )
        self.frozen_paths = frozen
        self.param_names = tuple(sorted({p[-1] for p in self.param_paths}))
        hp = setup.hparams
        self.hparam_names = tuple(n for n, _ in hp) if hp is not None else ()
        self._hparam_defaults = dict(hp) if hp is not None else {}
        self.runs_per_group = self._runs_per_group(runs_per_group)
        self._programs = _programs(
            setup, self.devices, m, self.param_paths, frozen, self.runs_per_group
        )
        self.mesh = self._programs.mesh
        self._data = {k: _global(v, self._programs.replicated) for k, v in arrays.items()}
        self.splits = tuple(s for s in SPLITS if f"x_{s}" in arrays)

    @property
    def num_devices(self) -> int:
        return len(self.devices)

    def _runs_per_group(self, given: int | None) -> int | None:
        if given is not None:
            if isinstance(given, bool) or not isinstance(given, (int, np.integer)) or given < 1:
                raise ValueError(f"runs_per_group: expected an integer >= 1 or None, got {given!r}")
            return int(given)
        if any(d.platform != "cpu" for d in self.devices):
            return None
        return max(1, GROUP_PARAM_BYTES // max(self.model.param_bytes, 1))

    def padded(self, k: int) -> int:
        """K padded to a whole number of runs per device, in equal groups (see ``runs_per_group``)."""
        per_device = -(-k // self.num_devices)
        g = self.runs_per_group
        if g and per_device > g:
            groups = -(-per_device // g)
            per_device = groups * -(-per_device // groups)
        return per_device * self.num_devices

    def _per_run(self, name: str, v: Any, k: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        try:
            a = np.asarray(v, np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected numbers, got {v!r}") from None
        if a.ndim == 0:
            a = np.full((k,), a)
        if a.shape[0] != k:
            raise ValueError(
                f"{name}: expected a scalar or one value per run ({k} runs), got shape {a.shape}"
            )
        try:
            ok = np.broadcast_shapes(a.shape[1:], shape) == tuple(shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"{name}: each run's value must broadcast to the parameter's shape {shape}, "
                f"got {a.shape[1:]}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: expected finite values, got {a.ravel()[:8]}")
        big = np.abs(a) > np.finfo(np.float32).max
        if np.any(big):
            raise ValueError(f"{name}: values overflow float32, got {a[big].ravel()[:4]}")
        return a.astype(np.float32)

    def resolve_values(self, values: Mapping[str, Any] | None) -> dict[tuple[str, ...], str]:
        """Each key of ``values`` -> the selected paths it sets (see :meth:`init`)."""
        out = {}
        for key in values or {}:
            if not isinstance(key, str):
                raise ValueError(
                    f"values: keys must be parameter names or path patterns, got {key!r}"
                )
            paths = _params.find(
                self.model.param_paths,
                key,
                default=self.param_paths,
                types=self.model.types,
                arg=f"values[{key!r}]",
            )
            for p in paths:
                if p in out:
                    raise ValueError(f"values: {'/'.join(p)} is set by both {out[p]!r} and {key!r}")
                out[p] = key
        return out

    def init(
        self,
        seeds: Sequence[int],
        *,
        learning_rate: Any = None,
        hparams: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> State:
        """Initialises K runs, one per seed.

        Args:
          seeds: one integer seed per run (initialisation and minibatches).
          learning_rate: shorthand for ``hparams["learning_rate"]``.
          hparams: the optimiser's hyperparameters by name, a scalar or one
            value per run each; omitted ones take the function's defaults.
          values: initial values of selected parameters: key = a parameter
            name within the selection (``"alpha"``: every layer's α) or a path
            pattern (``"layers_3/alpha"``); value = a scalar, one scalar per
            run, or one array per run that broadcasts to the leaf's shape.

        Returns:
          The runs at step 0, with the step-0 evaluation in ``history``.
        """
        seeds_a = np.asarray(seeds)
        if (
            seeds_a.ndim != 1
            or seeds_a.size == 0
            or not np.issubdtype(seeds_a.dtype, np.integer)
            or np.any(seeds_a < 0)
            or np.any(seeds_a > np.iinfo(np.uint32).max)
        ):
            raise ValueError(
                f"seeds: expected a non-empty 1-D sequence of integers in [0, 2**32), got {seeds!r}"
            )
        k = seeds_a.size
        hparams = dict(hparams or {})
        if learning_rate is not None:
            if "learning_rate" in hparams:
                raise ValueError("learning_rate: given both as an argument and in hparams")
            hparams["learning_rate"] = learning_rate
        unknown = sorted(set(hparams) - set(self.hparam_names))
        if unknown:
            takes = list(self.hparam_names) or "none (a fixed optax transformation)"
            raise ValueError(
                f"hparams: the optimizer does not take {unknown}; its hyperparameters are {takes}"
            )
        hp = {}
        for name in self.hparam_names:
            v = hparams.get(name, self._hparam_defaults.get(name))
            if v is None:
                raise ValueError(f"hparams: {name!r} has no default; give a value for every run")
            hp[name] = self._per_run(name, v, k)
        targets = self.resolve_values(values)
        shapes = self._param_shapes()
        vals = {}
        for path, key in targets.items():
            vals["\x1f".join(path)] = self._per_run(
                f"values[{key!r}]", values[key], k, shapes[path]
            )
        kp = self.padded(k)
        pad = lambda a: np.concatenate([a, np.repeat(a[-1:], kp - k, 0)]) if kp > k else a
        runs = self._programs.runs
        seeds_g = _global(pad(seeds_a.astype(np.uint32)), runs)
        hp_g = {n: _global(pad(v), runs) for n, v in hp.items()}
        vals_g = {n: _global(pad(v), runs) for n, v in vals.items()}
        arrays, first = self._programs.init_fn(seeds_g, hp_g, vals_g, self._data)
        history = {name: _to_host(v)[:k, None] for name, v in first.items()}
        history["batch_loss"] = np.full((k, 1), np.nan, np.float32)
        history["diverged"] = np.zeros((k, 1), bool)
        history["step"] = np.zeros((k, 1), np.int32)
        return State(
            step=0, arrays=arrays, history=_with_param_stacks(history, self.param_paths), num_runs=k
        )

    def _param_shapes(self) -> dict[tuple[str, ...], tuple[int, ...]]:
        m = self.model
        shapes = jax.eval_shape(lambda: m.init(jax.random.key(0))[0])
        return {path: tuple(leaf.shape) for path, leaf in m.leaves(shapes).items()}

    def evaluate(self, state: State) -> dict[str, np.ndarray]:
        """Every metric of every run at the state's parameters, one value per run."""
        out = self._programs.eval_fn(state.arrays["params"], state.arrays["rest"], self._data)
        return {k: _to_host(v)[: state.num_runs] for k, v in out.items()}

    def run_chunk(self, state: State) -> State:
        """Advances every run by one chunk of ``setup.steps_per_chunk`` steps."""
        if state.step >= self.setup.steps:
            return state
        arrays, hist = self._programs.chunk_fn(state.arrays, self._data, jnp.int32(state.step))
        k = state.num_runs
        history = {
            name: np.concatenate([state.history[name], _to_host(v)[:k]], axis=1)
            for name, v in hist.items()
        }
        return State(
            step=state.step + self.setup.steps_per_chunk,
            arrays=arrays,
            history=_with_param_stacks(history, self.param_paths),
            num_runs=k,
        )

    def run(
        self,
        state: State,
        *,
        checkpoint: str | os.PathLike | None = None,
        identity: str = "",
        on_chunk: Callable[[State], None] | None = None,
    ) -> State:
        """Trains until ``setup.steps``, chunk by chunk.

        Args:
          state: from :meth:`init` or :meth:`restore`.
          checkpoint: if given, the state is written there (atomically) after
            every chunk, so that :meth:`restore` continues an interrupted run.
          identity: a string naming the sweep, stored in the checkpoint and
            checked by :meth:`restore`.
          on_chunk: called with the state after each chunk (progress reports).

        Returns:
          The final state.
        """
        while state.step < self.setup.steps:
            state = self.run_chunk(state)
            pause_point("chunk")
            if checkpoint is not None:
                self.save(checkpoint, state, identity=identity)
            if on_chunk is not None:
                on_chunk(state)
        return state

    # -- checkpoints -------------------------------------------------------------

    def save(self, path: str | os.PathLike, state: State, *, identity: str = "") -> None:
        """Writes ``state`` to ``path`` (an ``.npz``) atomically; process 0 writes.

        The padding of the runs axis is dropped, so the checkpoint resumes on
        any device count.
        """
        k = state.num_runs
        leaves = jax.tree.leaves(state.arrays)
        host_leaves = [_to_host(x)[:k] for x in leaves]
        if jax.process_index() != 0:
            return
        payload = {f"leaf_{i}": x for i, x in enumerate(host_leaves)}
        payload.update({f"history_{name}": v for name, v in state.history.items()})
        payload["step"] = np.asarray(state.step)
        payload["num_runs"] = np.asarray(k)
        payload["format"] = np.asarray(CHECKPOINT_FORMAT)
        payload["identity"] = np.asarray(identity)
        payload["num_leaves"] = np.asarray(len(leaves))

        def write(f):
            np.savez(f, **payload)
            pause_point("checkpoint-write")

        _io.atomic_write(path, write)

    def read_checkpoint(self, path: str | os.PathLike) -> dict[str, np.ndarray]:
        """The checkpoint's arrays; ``ValueError`` (one line) if it cannot be read."""
        import zipfile

        where = os.fspath(path)
        if not zipfile.is_zipfile(where):
            raise ValueError(
                f"checkpoint: {where} is not a readable checkpoint (not an .npz archive: empty, "
                "truncated or another kind of file)"
            )
        try:
            with np.load(where, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
            raise ValueError(
                f"checkpoint: {where} is not a readable checkpoint ({type(e).__name__}: {e})"
            ) from None

    def restore(self, path: str | os.PathLike, like: State, *, identity: str = "") -> State:
        """Reads a checkpoint written by :meth:`save` for runs shaped like ``like``.

        With several processes, process 0 reads the file and sends its
        contents to the others, so only process 0 needs to see it.

        Raises:
          ValueError: the file is unreadable, of another format, of another
            sweep (``identity`` differs) or of another shape.
        """
        leaves, treedef = jax.tree.flatten(like.arrays)
        k = like.num_runs
        payload = None
        error = ""
        if jax.process_index() == 0:
            try:
                payload = self.read_checkpoint(path)
                _check_checkpoint(payload, path, identity, k, leaves)
            except ValueError as e:
                error = str(e)
        if int(from_process_0(np.int32(bool(error)))):
            raise ValueError(error or "checkpoint: process 0 could not use the checkpoint")
        if jax.process_count() > 1:
            payload = _broadcast_checkpoint(payload, leaves, like, self.setup)
        kp = self.padded(k)

        def pad(a):
            return np.concatenate([a, np.repeat(a[-1:], kp - k, 0)]) if kp > k else a

        arrays = jax.tree.unflatten(
            treedef,
            [
                _global(pad(payload[f"leaf_{i}"].astype(x.dtype)), x.sharding)
                for i, x in enumerate(leaves)
            ],
        )
        history = {n[len("history_") :]: v for n, v in payload.items() if n.startswith("history_")}
        return State(step=int(payload["step"]), arrays=arrays, history=history, num_runs=k)


def _check_checkpoint(payload, path, identity, k, leaves) -> None:
    where = os.fspath(path)
    for needed in ("format", "identity", "step", "num_runs", "num_leaves"):
        if needed not in payload:
            raise ValueError(
                f"checkpoint: {where} was not written by this version of jaxact (no {needed!r})"
            )
    if int(payload["format"]) != CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint: {where} has format {int(payload['format'])}, expected {CHECKPOINT_FORMAT}"
        )
    if str(payload["identity"]) != identity:
        raise ValueError(f"checkpoint: {where} belongs to another sweep (its identity differs)")
    if int(payload["num_runs"]) != k or int(payload["num_leaves"]) != len(leaves):
        raise ValueError(
            f"checkpoint: {where} holds {int(payload['num_runs'])} runs of another model, "
            f"expected {k} runs"
        )
    for i, x in enumerate(leaves):
        a = payload.get(f"leaf_{i}")
        if a is None or a.shape[1:] != x.shape[1:] or a.shape[0] != k:
            raise ValueError(
                f"checkpoint: {where} does not match this sweep's parameters (leaf {i})"
            )


def _with_param_stacks(history: dict[str, np.ndarray], paths) -> dict[str, np.ndarray]:
    """Adds ``history[name]`` = ``(runs, evals, layers)`` for each selected leaf name."""
    out = {k: v for k, v in history.items() if not k.startswith("param:")}
    by_name: dict[str, list[np.ndarray]] = {}
    for path in paths:
        key = "param:" + "/".join(path)
        out[key] = history[key]
        by_name.setdefault(path[-1], []).append(history[key])
    for name, arrays in by_name.items():
        if name not in out:
            out[name] = np.stack(arrays, axis=-1)
    return out


def pause_point(name: str) -> None:
    """Fault injection for tests: stops this process at the point ``name`` when asked to.

    With the environment variable ``JAXACT_PAUSE_AT=name`` (or ``name:N``: the
    N-th time the point is passed), the process prints ``paused at name`` on
    stderr and stops itself (``SIGSTOP``), so that a test can kill it exactly
    there (``SIGKILL``) or let it go on (``SIGCONT``). Unset, it does nothing.
    Points: ``chunk`` (a chunk computed, its checkpoint not yet written),
    ``checkpoint-write`` (the checkpoint's temporary file written, not yet
    renamed); ``python -m experiments.sweep`` adds ``locked`` (output folder
    locked, before any work) and ``final-write`` (results.csv written,
    history.npz's temporary file written, not yet renamed).
    """
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _pauses_seen[name] = _pauses_seen.get(name, 0) + 1
    if str(_pauses_seen[name]) == (nth or "1"):
        print(f"paused at {name}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)


def from_process_0(value: Any) -> Any:
    """``value`` as process 0 has it, on every process (a no-op for one process)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return jax.tree.map(
        lambda x: x.item() if np.ndim(x) == 0 else x,
        multihost_utils.broadcast_one_to_all(jax.tree.map(np.asarray, value)),
    )


def _broadcast_checkpoint(payload, leaves, like: State, setup: Setup) -> dict:
    """Process 0's checkpoint contents on every process."""
    k = like.num_runs
    step = int(from_process_0(int(payload["step"]) if payload is not None else 0))
    n_hist = step // setup.eval_every + 1
    template = {f"leaf_{i}": np.zeros((k,) + x.shape[1:], x.dtype) for i, x in enumerate(leaves)}
    for name, v in like.history.items():
        template[f"history_{name}"] = np.zeros((v.shape[0], n_hist) + v.shape[2:], v.dtype)
    template["step"] = np.asarray(step)
    template["num_runs"] = np.asarray(k)
    if payload is not None:
        template = {n: np.asarray(payload[n]).astype(v.dtype) for n, v in template.items()}
    from jax.experimental import multihost_utils

    return {n: np.asarray(v) for n, v in multihost_utils.broadcast_one_to_all(template).items()}
