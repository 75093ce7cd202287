r"""Sweeps: K training runs of one Flax model as one compiled, vmapped program.

A sweep trains the same model K times — over seeds, initial activation
parameters and optimiser hyperparameters — as one ``jax.jit`` program, vmapped
over the runs and laid out over every device (and, under
``jax.distributed``, every process). Every per-run value is an array input,
so a new grid never recompiles, and programs are shared by every
:class:`Trainer` with the same :class:`Setup` and data shapes.

Which parameters are swept, frozen and reported is chosen by *path* or
module type (:mod:`jaxact._src.params`); by default the parameters of
jaxact's own activation modules, in layer order.

Example (a user's own Linen model with a LayerNorm and a learnable PReLU):

  >>> import flax.linen as nn, numpy as np, optax
  >>> import jaxact.linen as jl
  >>> from jaxact import sweep
  >>> class Net(nn.Module):
  ...     @nn.compact
  ...     def __call__(self, x):
  ...         x = jl.PReLU()(nn.LayerNorm()(nn.Dense(16)(x)))
  ...         return nn.Dense(2)(x)
  >>> rng = np.random.default_rng(0)
  >>> x = rng.normal(size=(256, 4)).astype(np.float32)
  >>> y = (x[:, 0] * x[:, 1] > 0).astype(np.int32)
  >>> data = sweep.Data(x[:192], y[:192], x_val=x[192:], y_val=y[192:])
  >>> setup = sweep.Setup(Net(), steps=40, batch_size=32, eval_every=20,
  ...                     optimizer=lambda learning_rate: optax.adam(learning_rate))
  >>> runs = sweep.grid(alpha=[0.0, 0.25], learning_rate=[1e-2, 3e-2], seed=[0, 1])
  >>> result = sweep.run(setup, data, runs)
  >>> len(result.rows), result.trainer.param_paths
  (8, (('PReLU_0', 'alpha'),))
  >>> sorted(result.best()["config"])
  ['alpha', 'learning_rate']
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from jaxact._src.engine import LOSSES as LOSSES
from jaxact._src.engine import OPTIMIZERS as OPTIMIZERS
from jaxact._src.engine import Data as Data
from jaxact._src.engine import Setup as Setup
from jaxact._src.engine import State as State
from jaxact._src.engine import Trainer as Trainer
from jaxact._src.engine import from_process_0 as from_process_0
from jaxact._src.params import find as find_params
from jaxact._src.params import natural_key as natural_key

__all__ = [
    "HISTORY_SCHEMA",
    "LOSSES",
    "OPTIMIZERS",
    "Data",
    "Results",
    "Setup",
    "State",
    "Trainer",
    "enable_compilation_cache",
    "find_params",
    "from_process_0",
    "grid",
    "natural_key",
    "run",
]

#: The arrays of ``State.history`` / ``Results.history``: each is
#: ``(runs, evaluations)`` (evaluation 0 is step 0) unless noted.
HISTORY_SCHEMA: Mapping[str, str] = {
    "step": "int32: steps done at the evaluation",
    "batch_loss": "float32: mean training minibatch loss over the steps since the last evaluation (NaN at step 0)",
    "diverged": "bool: the run has met a non-finite loss or parameter (its parameters froze then)",
    "train_loss": "float32: loss on (at most eval_train_max samples of) the training split",
    "train_accuracy": "float32: accuracy on the training split (classification losses)",
    "val_loss": "float32: loss on the validation split (when given)",
    "val_accuracy": "float32: accuracy on the validation split (classification, when given)",
    "test_loss": "float32: loss on the test split (when given)",
    "test_accuracy": "float32: accuracy on the test split (classification, when given)",
    "param:<path>": "float32: mean of the selected parameter leaf at <path> (e.g. param:PReLU_0/alpha)",
    "<name>": "float32 (runs, evaluations, layers): the selected leaves called <name>, stacked in layer order",
}


def grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, as a list of runs (last axis fastest).

    Keys are ``seed``, the optimiser's hyperparameters (``learning_rate``,
    ...) and initial parameter values (a parameter name or a path pattern).

    Examples:
      >>> grid(alpha=[0.0, 0.5], seed=[0, 1])
      [{'alpha': 0.0, 'seed': 0}, {'alpha': 0.0, 'seed': 1}, {'alpha': 0.5, 'seed': 0}, {'alpha': 0.5, 'seed': 1}]
    """
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
            raise ValueError(f"grid: {name} must be a sequence of values, got {values!r}")
        if len(values) == 0:
            raise ValueError(f"grid: {name} is empty")
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes.values())]


def _columns(trainer: Trainer, runs: Sequence[Mapping[str, Any]]):
    if isinstance(runs, Mapping) or not isinstance(runs, Sequence) or len(runs) == 0:
        raise ValueError(
            "runs: expected a non-empty list of runs (dicts), e.g. jaxact.sweep.grid(...)"
        )
    keys = list(dict.fromkeys(k for r in runs for k in r))
    for i, r in enumerate(runs):
        if not isinstance(r, Mapping):
            raise ValueError(f"runs[{i}]: expected a dict, got {type(r).__name__}")
        missing = [k for k in keys if k not in r]
        if missing:
            raise ValueError(f"runs[{i}]: missing {missing} (every run must give the same keys)")
    seeds = [int(r.get("seed", 0)) for r in runs]
    hp = {k: np.asarray([r[k] for r in runs]) for k in keys if k in trainer.hparam_names}
    values = {k: np.asarray([r[k] for r in runs]) for k in keys if k != "seed" and k not in hp}
    for k in values:
        try:
            trainer.resolve_values({k: None})
        except ValueError:
            hps = ", ".join(trainer.hparam_names) or "none: a fixed optax transformation"
            sel = ", ".join("/".join(p) for p in trainer.param_paths) or "none selected"
            raise ValueError(
                f"runs: {k!r} is neither a hyperparameter of the optimizer ({hps}) nor a selected "
                f"parameter ({sel})"
            ) from None
    return keys, seeds, hp, values


@dataclasses.dataclass
class Results:
    """The outcome of :func:`run`.

    Attributes:
      runs: the runs as given (one dict per run).
      rows: one dict per run: its settings, the final metrics
        (``val_accuracy``, ``test_accuracy``, losses, ``diverged``) and each
        selected parameter's final mean (``final:<path>``).
      history: the state's history (see :data:`HISTORY_SCHEMA`).
      state: the final :class:`State` (parameters of every run).
      trainer: the :class:`Trainer` used.
    """

    runs: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    history: dict[str, np.ndarray]
    state: State
    trainer: Trainer

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """The rows as CSV text (written to ``path`` atomically when given)."""
        from jaxact._src.io import atomic_write

        fields = list(dict.fromkeys(k for r in self.rows for k in r))
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: _fmt(v) for k, v in r.items()})
        text = buf.getvalue()
        if path is not None:
            atomic_write(path, lambda f: f.write(text), mode="w")
        return text

    def groups(self) -> list[tuple[dict[str, Any], list[int]]]:
        """Runs grouped by their settings other than ``seed``: (settings, run indices)."""
        out: dict[tuple, tuple[dict[str, Any], list[int]]] = {}
        for i, r in enumerate(self.runs):
            cfg = {k: v for k, v in r.items() if k != "seed"}
            key = tuple((k, _hashable(v)) for k, v in cfg.items())
            out.setdefault(key, (cfg, []))[1].append(i)
        return list(out.values())

    def best(self, metric: str | None = None) -> dict[str, Any]:
        """The settings whose mean ``metric`` over seeds is best (chosen on validation).

        ``metric`` defaults to ``val_accuracy`` (or ``-val_loss`` for losses
        without accuracy). Diverged runs count as the worst value. Returns
        ``{"config", "runs", "metric", "value", "test_accuracy"/"test_loss" (means)}``.

        Raises:
          ValueError: no validation split was given and ``metric`` is None.
        """
        final = self.state.final()
        if metric is None:
            if "val_accuracy" in final:
                metric = "val_accuracy"
            elif "val_loss" in final:
                metric = "val_loss"
            else:
                raise ValueError(
                    "metric: the data has no validation split; give x_val/y_val (selection on "
                    "test data would be biased) or name a metric"
                )
        if metric not in final:
            raise ValueError(f"metric: expected one of {sorted(final)}, got {metric!r}")
        sign = -1.0 if metric.endswith("loss") else 1.0
        scores = []
        for cfg, idx in self.groups():
            v = np.asarray(final[metric][idx], np.float64) * sign
            v = np.where(np.asarray(final["diverged"][idx]) | ~np.isfinite(v), -np.inf, v)
            scores.append((float(np.mean(v)), cfg, idx))
        value, cfg, idx = max(scores, key=lambda s: s[0])
        out = {"config": cfg, "runs": idx, "metric": metric, "value": value * sign}
        for name in ("test_accuracy", "test_loss", "val_accuracy", "val_loss"):
            if name in final:
                out[name] = float(np.mean(final[name][idx]))
        return out


def _hashable(v: Any) -> Any:
    a = np.asarray(v)
    return a.item() if a.ndim == 0 else tuple(a.ravel().tolist())


def _fmt(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return repr(float(v)) if math.isfinite(v) else str(float(v))
    if isinstance(v, np.ndarray):
        return " ".join(repr(float(x)) for x in v.ravel())
    if isinstance(v, np.generic):
        return v.item()
    return v


def rows_of(
    trainer: Trainer, runs: Sequence[Mapping[str, Any]], state: State
) -> list[dict[str, Any]]:
    """One result row per run: its settings, final metrics and final parameter means."""
    final = state.final()
    metrics = [
        k
        for k in (
            "val_accuracy",
            "test_accuracy",
            "train_accuracy",
            "val_loss",
            "test_loss",
            "train_loss",
        )
        if k in final
    ]
    rows = []
    for i, r in enumerate(runs):
        row = {k: _hashable(v) if np.ndim(v) == 0 else np.asarray(v) for k, v in r.items()}
        row.update({k: float(final[k][i]) for k in metrics})
        row["diverged"] = bool(final["diverged"][i])
        for path in trainer.param_paths:
            row["final:" + "/".join(path)] = float(final["param:" + "/".join(path)][i])
        rows.append(row)
    return rows


def run(
    setup: Setup,
    data: Any,
    runs: Sequence[Mapping[str, Any]],
    *,
    checkpoint: str | os.PathLike | None = None,
    on_chunk: Callable[[State], None] | None = None,
    devices: Sequence[Any] | None = None,
    runs_per_group: int | None = None,
) -> Results:
    """Trains every run of ``runs`` (from :func:`grid` or a list of dicts) as one program.

    Each run is a dict: ``seed`` (default 0), optimiser hyperparameters by
    name, and initial parameter values by name or path pattern (see
    :meth:`Trainer.init`). With ``checkpoint`` the state is saved after every
    chunk and an existing checkpoint of the same sweep is resumed.
    ``devices`` and ``runs_per_group`` are passed to :class:`Trainer`; they
    change the speed, not the results (up to rounding in the last bits).

    Raises:
      ValueError: bad runs, a hyperparameter the optimiser does not take, a
        value key that selects no parameter, bad data — before any training.
    """
    trainer = Trainer(setup, data, devices=devices, runs_per_group=runs_per_group)
    runs = [dict(r) for r in runs] if isinstance(runs, Sequence) else runs
    keys, seeds, hp, values = _columns(trainer, runs)
    state = trainer.init(seeds, hparams=hp, values=values)
    identity = ""
    if checkpoint is not None:
        identity = repr((keys, [tuple((k, _hashable(v)) for k, v in r.items()) for r in runs]))
        if os.path.exists(checkpoint):
            state = trainer.restore(checkpoint, state, identity=identity)
    state = trainer.run(state, checkpoint=checkpoint, identity=identity, on_chunk=on_chunk)
    return Results(
        runs=runs,
        rows=rows_of(trainer, runs, state),
        history=state.history,
        state=state,
        trainer=trainer,
    )


def enable_compilation_cache(directory: str | os.PathLike | None = None) -> str:
    """Turns on JAX's persistent compilation cache; returns its directory.

    The default directory is ``$XDG_CACHE_HOME/jaxact/jax`` (``~/.cache/jaxact/jax``).
    Programs that took over 0.5 s to compile are stored, so a second run of
    the same sweep shape skips most of its compilation.
    """
    import jax

    if directory is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        directory = os.path.join(base, "jaxact", "jax")
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory
