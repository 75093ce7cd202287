"""The one training engine every jaxact experiment uses.

A *sweep* is K independent training runs of one Flax Linen model (different
seeds, initial activation-parameter values, learning rates) that share shapes.
The engine stacks the K runs on a leading "runs" axis and trains them as one
jit-compiled program:

* one training step is ``jax.vmap`` over the runs of: draw a minibatch on
  device, ``value_and_grad``, an optax update, a divergence guard;
* ``jax.lax.scan`` runs ``eval_every`` steps, then evaluates every run on the
  held-out split (and on the training split) inside the program;
* a *chunk* is a ``scan`` over several such blocks; the host sees results only
  between chunks, where progress is reported and checkpoints are written;
* the runs axis is laid out over a ``Mesh`` of all devices (every process's
  devices under ``jax.distributed``) with ``jax.shard_map``; K is padded to a
  multiple of the device count and the padding dropped from the results.

Everything that differs between runs (seed, initial parameter values,
learning rate) is an array input, so changing those values never recompiles.

Example:
  >>> import numpy as np
  >>> from experiments import data, engine
  >>> from jaxact import linen
  >>> ds = data.load("xor", seed=0)
  >>> setup = engine.Setup(model=linen.MLP((8, 2), "relu"), steps=20,
  ...                      batch_size=16, eval_every=10)
  >>> trainer = engine.Trainer(setup, ds)
  >>> state = trainer.run(trainer.init(seeds=[0, 1]))
  >>> state.history["test_accuracy"].shape  # (runs, evaluations incl. step 0)
  (2, 3)
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jaxact
from experiments.data import Dataset

try:  # jax >= 0.7 has the stable name; older releases only the experimental one.
    _shard_map = jax.shard_map
except AttributeError:  # pragma: no cover
    from jax.experimental.shard_map import shard_map as _shard_map

RUNS = "runs"

OPTIMIZERS: Mapping[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": optax.sgd,
    "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
    "nesterov": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9, nesterov=True),
    "adam": optax.adam,
    "adamw": optax.adamw,
    "rmsprop": optax.rmsprop,
}
LOSSES = ("cross_entropy", "bce")
SAMPLING = ("uniform", "epoch")


def activation_param_names() -> frozenset[str]:
    """Names of every learnable activation parameter in the registry."""
    return frozenset(p for n in jaxact.names() for p in jaxact.get(n).learnable)


@dataclasses.dataclass(frozen=True)
class Setup:
    """Everything about a sweep that fixes the compiled program's shape.

    Attributes:
      model: a Flax Linen module mapping ``(batch, features)`` to logits
        (``(batch, num_classes)``, or ``(batch, 1)`` for ``loss="bce"``).
      steps: optimisation steps per run.
      batch_size: minibatch size, drawn on device.
      optimizer: a name in :data:`OPTIMIZERS`; the learning rate is per run.
      loss: ``"cross_entropy"`` (softmax, integer labels) or ``"bce"``
        (sigmoid binary cross-entropy on a single logit, labels 0/1).
      eval_every: steps between evaluations; must divide ``steps``.
      chunk_evals: evaluations per compiled chunk (host round trip); ``None``
        picks a divisor of ``steps // eval_every`` giving about 20 chunks.
      frozen: parameter leaf names (e.g. ``("alpha",)``) kept at their initial
        values: a *fixed* activation parameter is still an array input, so
        sweeping it does not recompile.
      sampling: ``"uniform"`` (indices with replacement, as the MNIST-1D
        reference training loop does) or ``"epoch"`` (a fresh permutation each
        epoch, last partial batch dropped, as a PyTorch ``DataLoader`` with
        ``shuffle=True, drop_last=True``).
      shared_batches: every run sees the same minibatch at a step (runs then
        differ only by initialisation and hyperparameters).
      divergence_guard: at every step, a run whose loss or new parameters are
        not finite keeps its last finite parameters and optimiser state and is
        flagged ``diverged``. ``False`` drops the per-step check of every
        parameter (a reduction and a select per leaf): the flag then comes from
        the loss alone and a diverged run keeps updating (to NaN); the other
        runs are unaffected either way.
      eval_train_max: at most this many training samples are used for the
        training-split evaluation (all if ``None``).
      metrics: optional extra metrics evaluated with the others, a hashable
        function ``metrics(apply, params, data) -> dict[str, Array]`` where
        ``apply(params, x)`` returns logits and ``data`` has ``x_train``,
        ``y_train``, ``x_test``, ``y_test``.
    """

    model: nn.Module
    steps: int
    batch_size: int
    optimizer: str = "adam"
    loss: str = "cross_entropy"
    eval_every: int = 100
    chunk_evals: int | None = None
    frozen: tuple[str, ...] = ()
    sampling: str = "uniform"
    shared_batches: bool = False
    divergence_guard: bool = True
    eval_train_max: int | None = 10_000
    metrics: Callable[..., Mapping[str, jax.Array]] | None = None

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.steps % self.eval_every:
            raise ValueError(f"eval_every ({self.eval_every}) must divide steps ({self.steps})")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {self.sampling!r}")
        if self.chunk_evals is not None and (
            self.chunk_evals <= 0 or self.num_evals % self.chunk_evals
        ):
            raise ValueError(
                f"chunk_evals ({self.chunk_evals}) must be a positive divisor of "
                f"steps // eval_every ({self.num_evals})"
            )

    @property
    def num_evals(self) -> int:
        return self.steps // self.eval_every

    @property
    def evals_per_chunk(self) -> int:
        if self.chunk_evals is not None:
            return self.chunk_evals
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
        ``params``, ``opt_state``, ``key`` (raw key data), ``diverged``.
      history: host arrays ``(num_runs, evaluations_so_far, ...)``, starting
        with the evaluation at step 0.
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


def _param_leaves(params, names: frozenset[str]) -> dict[str, list[Any]]:
    """Every leaf whose name is in ``names``, by name, in layer order."""
    found: dict[str, list[Any]] = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        name = getattr(path[-1], "key", None)
        if name in names:
            found.setdefault(name, []).append(leaf)
    return found


def _param_means(params, names: frozenset[str]) -> dict[str, jax.Array]:
    """Per-layer means of every activation-parameter leaf: name -> (layers,)."""
    found = _param_leaves(params, names)
    return {k: jnp.stack([jnp.mean(x) for x in v]) for k, v in found.items()}


class Trainer:
    """Compiles a :class:`Setup` once and trains sweeps of runs with it.

    Args:
      setup: the static description of the runs.
      data: the dataset; copied once to every device.
      devices: the devices of the runs axis; all devices of all processes
        (``jax.devices()``) by default.
    """

    def __init__(self, setup: Setup, data: Dataset, *, devices: Sequence[Any] | None = None):
        if setup.batch_size > data.num_train:
            raise ValueError(
                f"batch_size ({setup.batch_size}) is larger than the training set "
                f"({data.num_train} samples)"
            )
        if setup.sampling == "epoch" and data.num_train // setup.batch_size < 1:
            raise ValueError("sampling='epoch' needs at least one full batch per epoch")
        self.setup = setup
        self.data = data
        self.devices = list(devices) if devices is not None else jax.devices()
        self.mesh = Mesh(np.asarray(self.devices), (RUNS,))
        self._runs_sharding = NamedSharding(self.mesh, P(RUNS))
        self._replicated = NamedSharding(self.mesh, P())
        x0 = jnp.zeros((1, data.num_features), jnp.float32)
        shapes = jax.eval_shape(lambda: setup.model.init(jax.random.key(0), x0))["params"]
        #: names of the activation parameters the model has (e.g. ``("alpha",)``).
        self.param_names = tuple(sorted(_param_leaves(shapes, activation_param_names())))
        host = {
            "x_train": np.asarray(data.x_train, np.float32),
            "y_train": np.asarray(data.y_train, np.int32),
            "x_test": np.asarray(data.x_test, np.float32),
            "y_test": np.asarray(data.y_test, np.int32),
        }
        self._data = {k: self._global(v, self._replicated) for k, v in host.items()}
        # Initialisation is a loop (lax.map), not a vmap, over a device's runs:
        # it runs once per sweep, and XLA compiles the vmapped random
        # initialisers several times slower than one run's (docs/performance.md).
        self._init_fn = jax.jit(
            _shard_map(
                self._init_runs,
                mesh=self.mesh,
                in_specs=(P(RUNS), P(RUNS), P(RUNS)),
                out_specs=P(RUNS),
            )
        )
        self._eval_fn = jax.jit(
            _shard_map(
                jax.vmap(self._evaluate, in_axes=(0, None)),
                mesh=self.mesh,
                in_specs=(P(RUNS), P()),
                out_specs=P(RUNS),
            )
        )
        self._chunk_fn = jax.jit(
            _shard_map(
                jax.vmap(self._chunk_one, in_axes=(0, None, None)),
                mesh=self.mesh,
                in_specs=(P(RUNS), P(), P()),
                out_specs=(P(RUNS), P(RUNS)),
            ),
            donate_argnums=0,
        )

    # -- pieces of the compiled program (one run each; vmapped over runs) ------

    def _optimizer(self, learning_rate) -> optax.GradientTransformation:
        make = OPTIMIZERS[self.setup.optimizer]
        frozen = set(self.setup.frozen)

        def build(learning_rate):
            inner = make(learning_rate=learning_rate)
            if not frozen:
                return inner

            def labels(params):
                return jax.tree_util.tree_map_with_path(
                    lambda path, _: (
                        "frozen" if getattr(path[-1], "key", None) in frozen else "train"
                    ),
                    params,
                )

            return optax.multi_transform({"train": inner, "frozen": optax.set_to_zero()}, labels)

        return optax.inject_hyperparams(build)(learning_rate=learning_rate)

    def _apply(self, params, x):
        return self.setup.model.apply({"params": params}, x)

    def _loss(self, logits, y):
        if self.setup.loss == "bce":
            z = logits[..., 0]
            loss = optax.sigmoid_binary_cross_entropy(z, y.astype(z.dtype)).mean()
            acc = jnp.mean((z > 0).astype(jnp.int32) == y)
        else:
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            acc = jnp.mean(jnp.argmax(logits, -1) == y)
        return loss, acc

    def _init_runs(self, seeds, learning_rates, values):
        return jax.lax.map(lambda a: self._init_one(*a), (seeds, learning_rates, values))

    def _init_one(self, seed, learning_rate, values):
        key = jax.random.key(seed)
        init_key, data_key = jax.random.split(key)
        x0 = jnp.zeros((1, self.data.num_features), jnp.float32)
        params = self.setup.model.init(init_key, x0)["params"]

        def override(path, leaf):
            name = getattr(path[-1], "key", None)
            if name in values:
                return jnp.full_like(leaf, values[name])
            return leaf

        params = jax.tree_util.tree_map_with_path(override, params)
        opt_state = self._optimizer(learning_rate).init(params)
        return {
            "params": params,
            "opt_state": opt_state,
            "key": jax.random.key_data(data_key),
            "diverged": jnp.array(False),
        }

    def _evaluate(self, params, data):
        test_loss, test_acc = self._loss(self._apply(params, data["x_test"]), data["y_test"])
        n = self.setup.eval_train_max
        x_tr, y_tr = data["x_train"][:n], data["y_train"][:n]
        train_loss, train_acc = self._loss(self._apply(params, x_tr), y_tr)
        out = {
            "train_loss": train_loss,
            "train_accuracy": train_acc,
            "test_loss": test_loss,
            "test_accuracy": test_acc,
        }
        out.update(_param_means(params, frozenset(self.param_names)))
        if self.setup.metrics is not None:
            out.update(self.setup.metrics(self._apply, params, data))
        return out

    def _batch_indices(self, key, step):
        n, b = self.data.num_train, self.setup.batch_size
        if self.setup.sampling == "uniform":
            return jax.random.randint(jax.random.fold_in(key, step), (b,), 0, n)
        per_epoch = n // b
        epoch, pos = step // per_epoch, step % per_epoch
        perm = jax.random.permutation(jax.random.fold_in(key, epoch), n)
        return jax.lax.dynamic_slice(perm, (pos * b,), (b,))

    def _chunk_one(self, arrays, data, start_step):
        setup = self.setup
        tx = self._optimizer(0.0)  # the run's own rate lives in opt_state.hyperparams
        run_key = jax.random.wrap_key_data(arrays["key"])
        shared_key = jax.random.key(0)

        def loss_fn(params, xb, yb):
            return self._loss(self._apply(params, xb), yb)[0]

        def train_step(carry, step):
            params, opt_state, diverged = carry
            key = shared_key if setup.shared_batches else run_key
            idx = self._batch_indices(key, step)
            xb, yb = data["x_train"][idx], data["y_train"][idx]
            loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
            updates, new_opt_state = tx.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            if not setup.divergence_guard:
                return (new_params, new_opt_state, diverged | ~jnp.isfinite(loss)), loss
            ok = jnp.isfinite(loss) & _tree_all_finite(new_params) & ~diverged
            keep = lambda new, old: jnp.where(ok, new, old)
            params = jax.tree.map(keep, new_params, params)
            opt_state = jax.tree.map(keep, new_opt_state, opt_state)
            return (params, opt_state, diverged | ~ok), loss

        def block(carry, first_step):
            steps = first_step + jnp.arange(setup.eval_every)
            carry, losses = jax.lax.scan(train_step, carry, steps)
            metrics = self._evaluate(carry[0], data)
            metrics["batch_loss"] = jnp.mean(losses)
            metrics["diverged"] = carry[2]
            metrics["step"] = first_step + setup.eval_every
            return carry, metrics

        firsts = start_step + setup.eval_every * jnp.arange(setup.evals_per_chunk)
        carry = (arrays["params"], arrays["opt_state"], arrays["diverged"])
        (params, opt_state, diverged), history = jax.lax.scan(block, carry, firsts)
        new = {"params": params, "opt_state": opt_state, "key": arrays["key"], "diverged": diverged}
        return new, history

    # -- host side --------------------------------------------------------------

    def _global(self, host: np.ndarray, sharding: NamedSharding) -> jax.Array:
        """A global array from a host array every process holds in full."""
        host = np.asarray(host)
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    @property
    def num_devices(self) -> int:
        return len(self.devices)

    def padded(self, k: int) -> int:
        return -(-k // self.num_devices) * self.num_devices

    def init(
        self,
        seeds: Sequence[int],
        *,
        learning_rate: float | Sequence[float] = 1e-3,
        values: Mapping[str, float | Sequence[float]] | None = None,
    ) -> State:
        """Initialises K runs, one per seed.

        Args:
          seeds: one integer seed per run (initialisation and minibatches).
          learning_rate: one rate for all runs, or one per run.
          values: initial values of parameter leaves by name (e.g.
            ``{"alpha": [0.1, 0.2]}``), a scalar or one per run; every leaf with
            that name (every layer's α) starts at the value.

        Returns:
          The runs at step 0, with the step-0 evaluation in ``history``.
        """
        seeds = np.asarray(seeds)
        if seeds.ndim != 1 or seeds.size == 0 or not np.issubdtype(seeds.dtype, np.integer):
            raise ValueError(f"seeds must be a non-empty 1-D sequence of integers, got {seeds!r}")
        k = seeds.size
        values = dict(values or {})
        unknown = set(values) - set(self.param_names)
        if unknown:
            raise ValueError(
                f"values names parameters the model does not have: {sorted(unknown)}; "
                f"its activation parameters are {list(self.param_names)}"
            )

        def per_run(name, v):
            a = np.asarray(v, np.float32)
            if a.ndim == 0:
                a = np.full((k,), a, np.float32)
            if a.shape != (k,):
                raise ValueError(
                    f"{name} must be a scalar or have one value per run ({k}), got shape {a.shape}"
                )
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be finite, got {a}")
            return a

        lrs = per_run("learning_rate", learning_rate)
        vals = {n: per_run(n, v) for n, v in values.items()}
        kp = self.padded(k)
        pad = lambda a: np.concatenate([a, np.repeat(a[-1:], kp - k, 0)]) if kp > k else a
        seeds_g = self._global(pad(seeds.astype(np.uint32)), self._runs_sharding)
        lrs_g = self._global(pad(lrs), self._runs_sharding)
        vals_g = {n: self._global(pad(v), self._runs_sharding) for n, v in vals.items()}
        arrays = self._init_fn(seeds_g, lrs_g, vals_g)
        first = self._eval_fn(arrays["params"], self._data)
        history = {name: _to_host(v)[:k, None] for name, v in first.items()}
        history["batch_loss"] = np.full((k, 1), np.nan, np.float32)
        history["diverged"] = np.zeros((k, 1), bool)
        history["step"] = np.zeros((k, 1), np.int32)
        return State(step=0, arrays=arrays, history=history, num_runs=k)

    def run_chunk(self, state: State) -> State:
        """Advances every run by one chunk of ``setup.steps_per_chunk`` steps."""
        if state.step >= self.setup.steps:
            return state
        arrays, hist = self._chunk_fn(state.arrays, self._data, jnp.int32(state.step))
        k = state.num_runs
        history = {
            name: np.concatenate([state.history[name], _to_host(v)[:k]], axis=1)
            for name, v in hist.items()
        }
        return State(
            step=state.step + self.setup.steps_per_chunk,
            arrays=arrays,
            history=history,
            num_runs=k,
        )

    def run(
        self,
        state: State,
        *,
        checkpoint: str | os.PathLike | None = None,
        on_chunk: Callable[[State], None] | None = None,
    ) -> State:
        """Trains until ``setup.steps``, chunk by chunk.

        Args:
          state: from :meth:`init` or :meth:`restore`.
          checkpoint: if given, the state is written there (atomically) after
            every chunk, so that :meth:`restore` continues an interrupted run.
          on_chunk: called with the state after each chunk (progress reports).

        Returns:
          The final state.
        """
        while state.step < self.setup.steps:
            state = self.run_chunk(state)
            if checkpoint is not None:
                self.save(checkpoint, state)
            if on_chunk is not None:
                on_chunk(state)
        return state

    # -- checkpoints -------------------------------------------------------------

    def save(self, path: str | os.PathLike, state: State) -> None:
        """Writes ``state`` to ``path`` (an ``.npz``) atomically; process 0 writes."""
        leaves = jax.tree.leaves(state.arrays)
        host_leaves = [_to_host(x) for x in leaves]
        if jax.process_index() != 0:
            return
        payload = {f"leaf_{i}": x for i, x in enumerate(host_leaves)}
        payload.update({f"history_{k}": v for k, v in state.history.items()})
        payload["step"] = np.asarray(state.step)
        payload["num_runs"] = np.asarray(state.num_runs)
        atomic_write(path, lambda f: np.savez(f, **payload))

    def restore(self, path: str | os.PathLike, like: State) -> State:
        """Reads a checkpoint written by :meth:`save` for runs shaped like ``like``.

        With several processes, process 0 reads the file and sends its
        contents to the others, so only process 0 needs to see it.
        """
        leaves, treedef = jax.tree.flatten(like.arrays)
        payload = None
        if jax.process_index() == 0:
            with np.load(path) as z:
                payload = {k: z[k] for k in z.files}
        if jax.process_count() > 1:
            payload = _broadcast_checkpoint(payload, leaves, like, self.setup)
        arrays = jax.tree.unflatten(
            treedef,
            [
                self._global(payload[f"leaf_{i}"].astype(x.dtype), x.sharding)
                for i, x in enumerate(leaves)
            ],
        )
        history = {k[len("history_") :]: v for k, v in payload.items() if k.startswith("history_")}
        return State(
            step=int(payload["step"]),
            arrays=arrays,
            history=history,
            num_runs=int(payload["num_runs"]),
        )


def from_process_0(value: Any) -> Any:
    """``value`` as process 0 has it, on every process (a no-op for one process).

    Decisions taken from files (resume or not, refuse a config) are made by
    process 0, which alone reads and writes the output directory.
    """
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return jax.tree.map(
        lambda x: x.item() if np.ndim(x) == 0 else x,
        multihost_utils.broadcast_one_to_all(jax.tree.map(np.asarray, value)),
    )


def _broadcast_checkpoint(payload, leaves, like: State, setup: Setup) -> dict:
    """Process 0's checkpoint contents on every process."""
    step = int(from_process_0(int(payload["step"]) if payload is not None else 0))
    n_hist = step // setup.eval_every + 1
    template = {f"leaf_{i}": np.zeros(x.shape, x.dtype) for i, x in enumerate(leaves)}
    for k, v in like.history.items():
        template[f"history_{k}"] = np.zeros((v.shape[0], n_hist) + v.shape[2:], v.dtype)
    template["step"] = np.asarray(step)
    template["num_runs"] = np.asarray(like.num_runs)
    if payload is not None:
        template = {k: np.asarray(payload[k]).astype(v.dtype) for k, v in template.items()}
    from jax.experimental import multihost_utils

    return {k: np.asarray(v) for k, v in multihost_utils.broadcast_one_to_all(template).items()}


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Writes a file through ``write(f)`` to a temp file, then renames it."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
