r"""Benchmarks of jaxact and its training engine: ``python -m experiments.bench``.

Three measurements, each a ratio of things timed side by side in one run (the
machines are shared and noisy, so absolute seconds matter less than ratios):

1. *activations*: forward and forward+backward time under ``jax.jit`` of every
   registry activation that ``jax.nn`` also has, jaxact vs ``jax.nn``, on
   :math:`2^{24}`-element float32 and bfloat16 arrays (alternating A/B calls,
   best of ``--repeats``), plus GB/s against the machine's measured copy
   bandwidth (the roofline of an elementwise op);
2. *sweep*: K = 64 learnable-PReLU MLPs (40-100-100-10) on MNIST-1D, batch
   100, Adam 1e-3, 2000 steps: (a) the engine's sharded, vmapped sweep;
   (b) the plain-JAX alternative, a Python loop calling one jitted
   ``lax.scan`` training run K times; (c) PyTorch eager on CPU, looped K times;
   (d) PyTorch's ``torch.func.stack_module_state`` + ``torch.vmap``. Compile
   and run time, time per model, the ratios of (a) to the others, achieved
   GFLOP/s against the measured large-matmul GFLOP/s, and peak memory;
3. *scaling*: the engine's sweep time for K = 1, 4, 16, 64, 256.

Every measured variant runs in its own Python process (started by this
command), so that peak memory (``ru_maxrss``) and thread pools do not leak from
one variant to the next, and so that the XLA host device count can be set
before JAX starts: the engine's variants run with
``--xla_force_host_platform_device_count`` = ``--devices`` (default: the
number of CPU cores) on CPU; the plain-JAX loop runs with one device, as a
user's script would.

Writes ``bench.json`` into ``--out`` and prints a table; ``--write-docs``
also renders ``docs/performance.md`` from that JSON (keeping its hand-written
analysis section) and prints a short table for the README.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PROG = "python -m experiments.bench"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DOCS = ROOT / "docs" / "performance.md"
ANALYSIS_BEGIN = "<!-- analysis:begin (hand-written; kept by --write-docs) -->"
ANALYSIS_END = "<!-- analysis:end -->"
_DEVICE_FLAG = "--xla_force_host_platform_device_count"

#: Registry activations that ``jax.nn`` also has, as (bench name, registry
#: name, jaxact keyword arguments, jax.nn name, jax.nn keyword arguments).
#: ``gelu`` is compared like for like: jaxact's default is the exact (erf)
#: form, ``jax.nn.gelu``'s the tanh approximation, so both forms are listed.
ACTIVATION_PAIRS: tuple[tuple[str, str, dict, str, dict], ...] = (
    ("identity", "identity", {}, "identity", {}),
    ("sigmoid", "sigmoid", {}, "sigmoid", {}),
    ("tanh", "tanh", {}, "tanh", {}),
    ("relu", "relu", {}, "relu", {}),
    ("leaky_relu", "leaky_relu", {}, "leaky_relu", {}),
    ("elu", "elu", {}, "elu", {}),
    ("selu", "selu", {}, "selu", {}),
    ("celu", "celu", {}, "celu", {}),
    ("swish", "swish", {}, "swish", {}),
    ("silu", "silu", {}, "silu", {}),
    ("gelu", "gelu", {}, "gelu", {"approximate": False}),
    ("gelu_tanh", "gelu", {"approximate": True}, "gelu", {"approximate": True}),
    ("softplus", "softplus", {}, "softplus", {}),
    ("mish", "mish", {}, "mish", {}),
    ("log_sigmoid", "log_sigmoid", {}, "log_sigmoid", {}),
    ("hard_sigmoid", "hard_sigmoid", {}, "hard_sigmoid", {}),
    ("hard_tanh", "hard_tanh", {}, "hard_tanh", {}),
    ("relu6", "relu6", {}, "relu6", {}),
    ("softmax", "softmax", {}, "softmax", {}),
    ("log_softmax", "log_softmax", {}, "log_softmax", {}),
)
DTYPES = ("float32", "bfloat16")
TARGETS = {
    "activation_max_slowdown": 1.05,
    "speedup_vs_jax_loop": 2.0,
    "speedup_vs_torch_eager": 10.0,
    "speedup_vs_torch_vmap": 1.0,
}

# The sweep's model and training, as the issue fixes them.
LAYERS = (100, 100, 10)
DATASET = "mnist1d"
ALPHA0 = 0.25


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line on stderr, exit 2 (argparse's contract)
        raise UsageError(message)


def _positive_int(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be > 0, got {value}")
        return value

    return parse


def _positive_float(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be a positive number, got {text!r}")
        return value

    return parse


def _int_list(name: str) -> Callable[[str], tuple[int, ...]]:
    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be comma-separated positive integers, got {text!r}"
            ) from None
        if not values or min(values) <= 0:
            raise argparse.ArgumentTypeError(
                f"{name} must be comma-separated positive integers, got {text!r}"
            )
        return values

    return parse


def _name_list(name: str, valid: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(v.strip() for v in text.split(",") if v.strip())
        unknown = [n for n in names if n not in valid]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"{name} must be a comma list of {list(valid)}, got {text!r}"
            )
        return names

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m experiments.bench``."""
    p = _Parser(
        prog=PROG,
        description=__doc__.split("\n\n")[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: tiny sizes (2^12 elements, K=4, 20 steps, K in 1,2); "
        "explicit flags still override",
    )
    p.add_argument("--out", default="runs/bench", help="output directory for bench.json")
    p.add_argument(
        "--skip",
        type=_name_list("--skip", ("activations", "sweep", "scaling")),
        default=(),
        help="parts to leave out: a comma list of activations, sweep, scaling",
    )
    p.add_argument(
        "--skip-torch", action="store_true", help="leave out the PyTorch baselines (c) and (d)"
    )
    p.add_argument(
        "--devices",
        type=_positive_int("--devices"),
        default=None,
        help="XLA host devices for the engine's variants on CPU (default: CPU cores)",
    )
    p.add_argument(
        "--torch-threads",
        type=_positive_int("--torch-threads"),
        default=None,
        help="torch.set_num_threads for the PyTorch baselines (default: PyTorch's own)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    a = p.add_argument_group("activations")
    a.add_argument(
        "--size-log2",
        type=_positive_int("--size-log2"),
        default=None,
        help="array size 2^N elements (default 24; --quick 12)",
    )
    a.add_argument(
        "--dtypes",
        type=_name_list("--dtypes", DTYPES),
        default=None,
        help="comma list of float32, bfloat16 (default both; --quick float32)",
    )
    a.add_argument(
        "--activations",
        type=_name_list("--activations", [row[0] for row in ACTIVATION_PAIRS]),
        default=None,
        help="comma list of activations to time (default: all pairs)",
    )
    a.add_argument(
        "--repeats",
        type=_positive_int("--repeats"),
        default=None,
        help="timed calls per function, alternating jaxact/jax.nn; the best counts "
        "(default 7; --quick 2)",
    )
    s = p.add_argument_group("sweep and scaling")
    s.add_argument(
        "--k",
        type=_positive_int("--k"),
        default=None,
        help="models in the sweep (default 64; --quick 4)",
    )
    s.add_argument(
        "--steps",
        type=_positive_int("--steps"),
        default=None,
        help="Adam steps per model (default 2000; --quick 20)",
    )
    s.add_argument(
        "--batch-size", type=_positive_int("--batch-size"), default=100, help="minibatch size"
    )
    s.add_argument("--lr", type=_positive_float("--lr"), default=1e-3, help="Adam learning rate")
    s.add_argument(
        "--scaling-k",
        type=_int_list("--scaling-k"),
        default=None,
        help="K values of the scaling part (default 1,4,16,64,256; --quick 1,2)",
    )
    s.add_argument(
        "--shared-batches",
        action="store_true",
        help="the engine's runs share minibatches (Setup(shared_batches=True))",
    )
    d = p.add_argument_group("docs")
    d.add_argument(
        "--write-docs",
        action="store_true",
        help="render the docs page from bench.json and print the README table",
    )
    d.add_argument("--docs", default=str(DEFAULT_DOCS), help="docs page written by --write-docs")
    d.add_argument(
        "--from-json",
        default=None,
        help="measure nothing: report (and with --write-docs, render) an existing bench.json",
    )
    return p


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """The run's configuration: defaults, ``--quick`` sizes and explicit flags."""
    quick = args.quick

    def pick(value, full, small):
        return value if value is not None else (small if quick else full)

    return {
        "quick": quick,
        "parts": [p for p in ("activations", "sweep", "scaling") if p not in args.skip],
        "torch": not args.skip_torch,
        "torch_threads": args.torch_threads,
        "devices": args.devices or os.cpu_count() or 1,
        "size_log2": pick(args.size_log2, 24, 12),
        "dtypes": list(pick(args.dtypes, DTYPES, ("float32",))),
        "activations": list(args.activations or [row[0] for row in ACTIVATION_PAIRS]),
        "repeats": pick(args.repeats, 7, 2),
        "k": pick(args.k, 64, 4),
        "steps": pick(args.steps, 2000, 20),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "layers": list(LAYERS),
        "dataset": DATASET,
        "scaling_k": list(pick(args.scaling_k, (1, 4, 16, 64, 256), (1, 2))),
        "shared_batches": bool(args.shared_batches),
    }


# --------------------------------------------------------------------------- #
# Workers: each variant in its own process
# --------------------------------------------------------------------------- #


def _rss_mib() -> float:
    """Current resident memory of this process in MiB (Linux), else the peak so far."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_rss_mib()


def _peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class _CompileTimer:
    """Sums JAX's compile-time events (tracing, lowering, XLA compile)."""

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        import jax

        self.seconds = 0.0
        self.count = 0
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, event, duration, **kwargs):
        if event in self.EVENTS:
            self.seconds += duration
            self.count += event == self.EVENTS[-1]

    def reset(self) -> tuple[float, int]:
        seconds, count = self.seconds, self.count
        self.seconds, self.count = 0.0, 0
        return seconds, count

    def close(self):
        import jax

        jax.monitoring.unregister_event_duration_listener(self._on)


def train_flops_per_step(num_features: int, layers: Sequence[int], batch_size: int) -> int:
    r"""Matmul FLOPs of one training step of one MLP (forward and backward).

    .. math::

       2B\sum_l n_{l-1} n_l \;(\text{forward}) + 2B\sum_l n_{l-1} n_l
       \;(\partial W) + 2B\sum_{l>1} n_{l-1} n_l \;(\partial x),

    the first layer needing no input gradient. Elementwise work (activations,
    bias, Adam) is left out: it is a few percent of the matmuls here.

    Args:
      num_features: input width :math:`n_0`.
      layers: the widths :math:`n_1, \dots, n_L`.
      batch_size: :math:`B`.

    Returns:
      The FLOP count.

    Examples:
      >>> train_flops_per_step(40, (100, 100, 10), 100)
      8200000
    """
    widths = [num_features, *layers]
    macs = [a * b for a, b in zip(widths[:-1], widths[1:], strict=True)]
    return 2 * batch_size * (2 * sum(macs) + sum(macs[1:]))


def _time_best(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds of each ``fn`` (which must block), interleaved."""
    import jax

    names = list(fns)
    for name in names:  # compile and warm up
        jax.block_until_ready(fns[name]())
    best = dict.fromkeys(names, math.inf)
    for r in range(repeats):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            t0 = time.perf_counter()
            jax.block_until_ready(fns[name]())
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def worker_machine(cfg: dict) -> dict:
    """Copy bandwidth per dtype and large-matmul GFLOP/s of this machine."""
    import jax
    import jax.numpy as jnp

    n = 2 ** cfg["size_log2"]
    out: dict[str, Any] = {"copy_gbps": {}, "copy_seconds": {}}
    neg = jax.jit(jnp.negative)  # read N, write N: the elementwise roofline
    for dtype in cfg["dtypes"]:
        x = jax.random.normal(jax.random.key(0), (n,), jnp.dtype(dtype))
        seconds = _time_best({"copy": lambda x=x: neg(x)}, cfg["repeats"])["copy"]
        out["copy_seconds"][dtype] = seconds
        out["copy_gbps"][dtype] = 2 * n * jnp.dtype(dtype).itemsize / seconds / 1e9
    m = 2048 if not cfg["quick"] else 256
    a = jax.random.normal(jax.random.key(1), (m, m), jnp.float32)
    b = jax.random.normal(jax.random.key(2), (m, m), jnp.float32)
    mm = jax.jit(jnp.matmul)
    seconds = _time_best({"mm": lambda: mm(a, b)}, max(3, cfg["repeats"]))["mm"]
    out["matmul_size"] = m
    out["matmul_seconds"] = seconds
    out["matmul_gflops"] = 2 * m**3 / seconds / 1e9
    return out


def _pair_fns(name: str):
    import jax

    import jaxact

    row = next(r for r in ACTIVATION_PAIRS if r[0] == name)
    _, reg_name, reg_kw, nn_name, nn_kw = row
    reg_fn, nn_fn = jaxact.get(reg_name).fn, getattr(jax.nn, nn_name)
    return (lambda x: reg_fn(x, **reg_kw)), (lambda x: nn_fn(x, **nn_kw))


def worker_activations(cfg: dict) -> dict:
    """jaxact vs jax.nn, forward and forward+backward, per activation and dtype."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    n = 2 ** cfg["size_log2"]
    shape = (2 ** (cfg["size_log2"] // 2), 2 ** (cfg["size_log2"] - cfg["size_log2"] // 2))
    rows = []
    for dtype in cfg["dtypes"]:
        dt = jnp.dtype(dtype)
        x = (3 * jax.random.normal(jax.random.key(0), shape, jnp.float32)).astype(dt)
        g = jax.random.normal(jax.random.key(1), shape, jnp.float32).astype(dt)
        for name in cfg["activations"]:
            fa, fb = _pair_fns(name)
            diff = float(jnp.max(jnp.abs(fa(x).astype(jnp.float32) - fb(x).astype(jnp.float32))))

            def fwd_bwd(f):
                def run(inputs, cotangents):
                    y, vjp = jax.vjp(f, inputs)
                    return y, vjp(cotangents)[0]

                return jax.jit(run)

            modes = {
                "fwd": (jax.jit(fa), jax.jit(fb), (x,), 2),
                "fwd+bwd": (fwd_bwd(fa), fwd_bwd(fb), (x, g), 4),
            }
            for mode, (ja, jb, args, passes) in modes.items():
                best = _time_best(
                    {
                        "jaxact": lambda ja=ja, args=args: ja(*args),
                        "jax.nn": lambda jb=jb, args=args: jb(*args),
                    },
                    cfg["repeats"],
                )
                nbytes = passes * n * dt.itemsize
                rows.append(
                    {
                        "activation": name,
                        "dtype": dtype,
                        "mode": mode,
                        "jaxact_seconds": best["jaxact"],
                        "jax_nn_seconds": best["jax.nn"],
                        "ratio": best["jaxact"] / best["jax.nn"],
                        "jaxact_gbps": nbytes / best["jaxact"] / 1e9,
                        "jax_nn_gbps": nbytes / best["jax.nn"] / 1e9,
                        "bytes": nbytes,
                        "max_abs_diff": diff,
                    }
                )
            del fa, fb
    return {"elements": n, "shape": list(shape), "rows": rows, "numpy": np.__version__}


def _engine_setup(cfg: dict, steps: int, **overrides):
    from experiments import engine
    from jaxact import linen

    model = linen.MLP(tuple(cfg["layers"]), "prelu", learnable=True, kernel_init="he_normal")
    return engine.Setup(
        model=model,
        steps=steps,
        batch_size=cfg["batch_size"],
        optimizer="adam",
        eval_every=steps,  # one evaluation, at the end, as the baselines do
        shared_batches=cfg["shared_batches"],
        **overrides,
    )


def _engine_sweep(trainer, k: int, cfg: dict, seed0: int, timer) -> dict:
    """One sweep of ``k`` runs: wall time, compile time in it, compilations."""
    timer.reset()
    t0 = time.perf_counter()
    state = trainer.init(
        list(range(seed0, seed0 + k)),
        learning_rate=cfg["lr"],
        values={"alpha": ALPHA0 + 1e-3 * seed0},
    )
    state = trainer.run(state)
    wall = time.perf_counter() - t0
    compile_seconds, compilations = timer.reset()
    final = state.final()
    return {
        "wall_seconds": wall,
        "compile_seconds": compile_seconds,
        "compilations": compilations,
        "test_accuracy": float(final["test_accuracy"].mean()),
        "final_batch_loss": float(final["batch_loss"].mean()),
    }


def worker_engine(cfg: dict) -> dict:
    """(a): the engine's sweep of K runs; a second sweep with new values is timed warm."""
    import jax

    from experiments import data, engine

    ds = data.load(cfg["dataset"])
    timer = _CompileTimer()
    rss_before = _rss_mib()
    trainer = engine.Trainer(_engine_setup(cfg, cfg["steps"]), ds)
    first = _engine_sweep(trainer, cfg["k"], cfg, 0, timer)
    # New seeds, α and the same shapes: must not compile again.
    warm = _engine_sweep(trainer, cfg["k"], cfg, cfg["k"], timer)
    # Ablations, to see where the engine's time goes: the same sweep without the
    # per-step divergence guard, then also on a single device (no split of K).
    ablations = {}
    variants = [("no divergence guard", trainer.devices)]
    if trainer.num_devices > 1:
        variants.append(("no divergence guard, 1 device", trainer.devices[:1]))
    for label, devices in variants:
        t = engine.Trainer(
            _engine_setup(cfg, cfg["steps"], divergence_guard=False), ds, devices=devices
        )
        r = _engine_sweep(t, cfg["k"], cfg, 0, timer)
        ablations[label] = {
            "devices": t.num_devices,
            "run_seconds": r["wall_seconds"] - r["compile_seconds"],
            "test_accuracy": r["test_accuracy"],
        }
    timer.close()
    return {
        "devices": trainer.num_devices,
        "platform": jax.default_backend(),
        "padded_runs": trainer.padded(cfg["k"]),
        "compile_seconds": first["compile_seconds"],
        "compilations": first["compilations"],
        "first_wall_seconds": first["wall_seconds"],
        "run_seconds": warm["wall_seconds"],
        "recompilations_on_new_values": warm["compilations"],
        "test_accuracy": warm["test_accuracy"],
        "final_batch_loss": warm["final_batch_loss"],
        "rss_before_mib": rss_before,
        "peak_rss_mib": _peak_rss_mib(),
        "ablations": ablations,
    }


def worker_scaling(cfg: dict) -> dict:
    """The engine's sweep at each K: compile time and run time (wall minus compile)."""
    import jax

    from experiments import data, engine

    ds = data.load(cfg["dataset"])
    timer = _CompileTimer()
    trainer = engine.Trainer(_engine_setup(cfg, cfg["steps"]), ds)
    rows = []
    for k in cfg["scaling_k"]:
        r = _engine_sweep(trainer, k, cfg, 0, timer)
        run = r["wall_seconds"] - r["compile_seconds"]
        rows.append(
            {
                "k": k,
                "compile_seconds": r["compile_seconds"],
                "compilations": r["compilations"],
                "wall_seconds": r["wall_seconds"],
                "run_seconds": run,
                "seconds_per_model": run / k,
                "test_accuracy": r["test_accuracy"],
            }
        )
    timer.close()
    return {"devices": trainer.num_devices, "platform": jax.default_backend(), "rows": rows}


def worker_jax_loop(cfg: dict) -> dict:
    """(b): the plain-JAX alternative, a Python loop over one jitted training run."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from experiments import data
    from jaxact import linen

    ds = data.load(cfg["dataset"])
    model = linen.MLP(tuple(cfg["layers"]), "prelu", learnable=True, kernel_init="he_normal")
    tx = optax.adam(cfg["lr"])
    steps, batch = cfg["steps"], cfg["batch_size"]

    def loss_fn(params, x, y):
        logits = model.apply({"params": params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def train(seed, x_train, y_train, x_test, y_test):
        init_key, data_key = jax.random.split(jax.random.key(seed))
        params = model.init(init_key, x_train[:1])["params"]
        opt_state = tx.init(params)

        def step(carry, i):
            params, opt_state = carry
            idx = jax.random.randint(jax.random.fold_in(data_key, i), (batch,), 0, len(x_train))
            loss, grads = jax.value_and_grad(loss_fn)(params, x_train[idx], y_train[idx])
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, _), losses = jax.lax.scan(step, (params, opt_state), jnp.arange(steps))
        logits = model.apply({"params": params}, x_test)
        return jnp.mean(jnp.argmax(logits, -1) == y_test), losses[-1]

    arrays = [
        jnp.asarray(ds.x_train, jnp.float32),
        jnp.asarray(ds.y_train, jnp.int32),
        jnp.asarray(ds.x_test, jnp.float32),
        jnp.asarray(ds.y_test, jnp.int32),
    ]
    rss_before = _rss_mib()
    t0 = time.perf_counter()
    compiled = jax.jit(train).lower(jnp.uint32(0), *arrays).compile()
    compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = [jax.device_get(compiled(jnp.uint32(seed), *arrays)) for seed in range(cfg["k"])]
    run_seconds = time.perf_counter() - t0
    return {
        "devices": 1,
        "platform": jax.default_backend(),
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
        "test_accuracy": float(np.mean([r[0] for r in results])),
        "final_batch_loss": float(np.mean([r[1] for r in results])),
        "rss_before_mib": rss_before,
        "peak_rss_mib": _peak_rss_mib(),
    }


def _torch_worker(train_name: str) -> Callable[[dict], dict]:
    def work(cfg: dict) -> dict:
        import numpy as np
        import torch

        from experiments import bench_torch, data

        if cfg["torch_threads"] is not None:
            torch.set_num_threads(cfg["torch_threads"])
        ds = data.load(cfg["dataset"])
        host = {
            "x_train": np.asarray(ds.x_train),
            "y_train": np.asarray(ds.y_train),
            "x_test": np.asarray(ds.x_test),
            "y_test": np.asarray(ds.y_test),
        }
        rss_before = _rss_mib()
        result = getattr(bench_torch, train_name)(
            host,
            k=cfg["k"],
            steps=cfg["steps"],
            batch_size=cfg["batch_size"],
            learning_rate=cfg["lr"],
            layer_sizes=tuple(cfg["layers"]),
        )
        result.update(
            threads=torch.get_num_threads(),
            torch=torch.__version__,
            rss_before_mib=rss_before,
            peak_rss_mib=_peak_rss_mib(),
        )
        return result

    return work


WORKERS: dict[str, Callable[[dict], dict]] = {
    "machine": worker_machine,
    "activations": worker_activations,
    "engine": worker_engine,
    "jax_loop": worker_jax_loop,
    "torch_eager": _torch_worker("train_eager"),
    "torch_vmap": _torch_worker("train_vmap"),
    "scaling": worker_scaling,
}


def _worker_main(argv: Sequence[str]) -> int:
    name, cfg_path, result_path = argv
    cfg = json.loads(Path(cfg_path).read_text())
    result = WORKERS[name](cfg)
    Path(result_path).write_text(json.dumps(result))
    return 0


def _worker_env(devices: int | None) -> dict[str, str]:
    """The environment of a worker: the repo importable, the XLA device count set."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    flags = re.sub(rf"{_DEVICE_FLAG}=\S+", "", env.get("XLA_FLAGS", "")).split()
    if devices is not None and devices > 1:
        flags.append(f"{_DEVICE_FLAG}={devices}")
    env["XLA_FLAGS"] = " ".join(flags)
    if not env["XLA_FLAGS"]:
        del env["XLA_FLAGS"]
    return env


def run_worker(name: str, cfg: dict, *, devices: int | None) -> dict:
    """Runs one variant in a fresh Python process and returns its JSON result.

    Raises:
      RuntimeError: the worker failed; the message holds the end of its stderr.
    """
    with tempfile.TemporaryDirectory(prefix="jaxact-bench-") as tmp:
        cfg_path, result_path = Path(tmp) / "config.json", Path(tmp) / "result.json"
        cfg_path.write_text(json.dumps(cfg))
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "experiments.bench",
                "_worker",
                name,
                str(cfg_path),
                str(result_path),
            ],
            env=_worker_env(devices),
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not result_path.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"the {name} worker failed (exit {proc.returncode}):\n{tail}")
        result = json.loads(result_path.read_text())
        result["process_seconds"] = time.perf_counter() - t0
        return result


# --------------------------------------------------------------------------- #
# The run
# --------------------------------------------------------------------------- #


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("jax", "jaxlib", "flax", "optax", "numpy", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _num_features(dataset: str) -> int:
    from experiments import data

    return data.load(dataset).num_features


def run(cfg: dict, argv: Sequence[str], *, quiet: bool = False) -> dict:
    """Runs every requested part; returns the ``bench.json`` content."""

    def say(msg: str) -> None:
        if not quiet:
            print(f"[bench] {msg}", file=sys.stderr, flush=True)

    devices = cfg["devices"]
    result: dict[str, Any] = {
        "command": " ".join([PROG, *map(shlex.quote, argv)]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "system": f"{platform.system()} {platform.release()}",
            "versions": _versions(),
        },
        "config": cfg,
        "notes": [],
        "targets": TARGETS,
    }
    say(f"machine: copy bandwidth and matmul GFLOP/s ({devices} device(s))")
    result["machine"].update(run_worker("machine", cfg, devices=devices))
    if "activations" in cfg["parts"]:
        say(
            f"activations: {len(cfg['activations'])} pairs × {cfg['dtypes']} × fwd, fwd+bwd "
            f"on 2^{cfg['size_log2']} elements"
        )
        result["activations"] = run_worker("activations", cfg, devices=devices)
    if "sweep" in cfg["parts"]:
        variants: dict[str, dict] = {}
        say(f"sweep (a) engine: K={cfg['k']}, {cfg['steps']} steps, {devices} device(s)")
        variants["engine"] = run_worker("engine", cfg, devices=devices)
        say("sweep (b) plain-JAX loop over one jitted run")
        variants["jax_loop"] = run_worker("jax_loop", cfg, devices=1)
        if cfg["torch"] and _torch_available():
            say("sweep (c) PyTorch eager loop")
            variants["torch_eager"] = run_worker("torch_eager", cfg, devices=None)
            say("sweep (d) PyTorch torch.func + torch.vmap")
            variants["torch_vmap"] = run_worker("torch_vmap", cfg, devices=None)
        elif cfg["torch"]:
            result["notes"].append(
                "PyTorch baselines (c), (d) skipped: torch is not installed "
                "(pip install 'jaxact[bench]')"
            )
        else:
            result["notes"].append("PyTorch baselines (c), (d) skipped: --skip-torch")
        flops = (
            train_flops_per_step(_num_features(cfg["dataset"]), cfg["layers"], cfg["batch_size"])
            * cfg["steps"]
            * cfg["k"]
        )
        peak = result["machine"]["matmul_gflops"]
        for v in variants.values():
            v["seconds_per_model"] = v["run_seconds"] / cfg["k"]
            v["gflops"] = flops / v["run_seconds"] / 1e9
            v["fraction_of_matmul_peak"] = v["gflops"] / peak
        engine_s = variants["engine"]["run_seconds"]
        result["sweep"] = {
            "train_flops": flops,
            "variants": variants,
            "speedup": {
                name: v["run_seconds"] / engine_s
                for name, v in variants.items()
                if name != "engine"
            },
        }
    if "scaling" in cfg["parts"]:
        say(f"scaling: engine sweep at K = {cfg['scaling_k']}")
        result["scaling"] = run_worker("scaling", cfg, devices=devices)
    return result


# --------------------------------------------------------------------------- #
# Reports
# --------------------------------------------------------------------------- #

VARIANT_LABELS = {
    "engine": "(a) engine: vmapped + sharded sweep",
    "jax_loop": "(b) plain JAX: loop over one jitted run",
    "torch_eager": "(c) PyTorch eager loop",
    "torch_vmap": "(d) PyTorch torch.func + vmap",
}


def _fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:.0f}"


def tables(res: dict) -> str:
    """The report as Markdown tables (also what the command prints)."""
    out = []
    m = res["machine"]
    out.append(
        f"Machine: {m['cpu']}, {m['cores']} cores; jax {m['versions']['jax']}; "
        f"copy bandwidth "
        + ", ".join(f"{d} {_fmt(v)} GB/s" for d, v in m["copy_gbps"].items())
        + f"; {m['matmul_size']}² float32 matmul {_fmt(m['matmul_gflops'])} GFLOP/s."
    )
    if "activations" in res:
        a = res["activations"]
        out.append(
            f"\n### Activations: jaxact / jax.nn time under jit "
            f"({a['elements']:,} elements, best of {res['config']['repeats']}, "
            f"alternating calls)\n"
        )
        dtypes = res["config"]["dtypes"]
        head = (
            "| activation | "
            + " | ".join(f"{d} fwd | {d} fwd+bwd" for d in dtypes)
            + " | GB/s fwd (jaxact, % of copy) |"
        )
        out.append(head)
        out.append("|" + "---|" * (2 + 2 * len(dtypes)))
        by = {(r["activation"], r["dtype"], r["mode"]): r for r in a["rows"]}
        names = list(dict.fromkeys(r["activation"] for r in a["rows"]))
        for name in names:
            cells = []
            for d in dtypes:
                for mode in ("fwd", "fwd+bwd"):
                    r = by[(name, d, mode)]
                    flag = " ✗" if r["ratio"] > TARGETS["activation_max_slowdown"] else ""
                    cells.append(f"{r['ratio']:.2f}{flag}")
            r0 = by[(name, dtypes[0], "fwd")]
            pct = 100 * r0["jaxact_gbps"] / m["copy_gbps"][dtypes[0]]
            out.append(
                f"| {name} | " + " | ".join(cells) + f" | {_fmt(r0['jaxact_gbps'])} ({pct:.0f}%) |"
            )
        slow = [r for r in a["rows"] if r["ratio"] > TARGETS["activation_max_slowdown"]]
        out.append(
            f"\nRatio > {TARGETS['activation_max_slowdown']:.2f} (✗): {len(slow)} of "
            f"{len(a['rows'])} measurements."
        )
    if "sweep" in res:
        s, c = res["sweep"], res["config"]
        out.append(
            f"\n### Sweep: K = {c['k']} PReLU MLPs 40-{'-'.join(map(str, c['layers']))} on "
            f"MNIST-1D, batch {c['batch_size']}, Adam {c['lr']:g}, {c['steps']} steps\n"
        )
        out.append(
            "| variant | devices/threads | compile s | run s | s per model | "
            "engine speed-up | GFLOP/s (% of matmul) | peak RSS MiB (+ over start) | "
            "test acc |"
        )
        out.append("|" + "---|" * 9)
        for name, v in s["variants"].items():
            dev = v.get("devices", v.get("threads"))
            comp = _fmt(v["compile_seconds"]) if "compile_seconds" in v else "–"
            speed = "1" if name == "engine" else f"{s['speedup'][name]:.2f}×"
            out.append(
                f"| {VARIANT_LABELS[name]} | {dev} | {comp} | {_fmt(v['run_seconds'])} | "
                f"{_fmt(v['seconds_per_model'])} | {speed} | {_fmt(v['gflops'])} "
                f"({100 * v['fraction_of_matmul_peak']:.1f}%) | {v['peak_rss_mib']:.0f} "
                f"(+{v['peak_rss_mib'] - v['rss_before_mib']:.0f}) | {v['test_accuracy']:.3f} |"
            )
        e = s["variants"]["engine"]
        out.append(
            f"\nEngine: {e['compilations']} XLA compilations for the first sweep; "
            f"{e['recompilations_on_new_values']} for a second sweep with new seeds and α. "
            f"Training FLOPs (matmuls): {s['train_flops'] / 1e12:.3g} TFLOP."
        )
        checks = []
        for name, target in (
            ("jax_loop", "speedup_vs_jax_loop"),
            ("torch_eager", "speedup_vs_torch_eager"),
            ("torch_vmap", "speedup_vs_torch_vmap"),
        ):
            if name in s["speedup"]:
                ok = (
                    s["speedup"][name] >= TARGETS[target]
                    if name != "torch_vmap"
                    else (s["speedup"][name] > TARGETS[target])
                )
                checks.append(
                    f"vs {name}: {s['speedup'][name]:.2f}× (target "
                    f"{'>' if name == 'torch_vmap' else '≥'} {TARGETS[target]:g}×: "
                    f"{'met' if ok else 'NOT met'})"
                )
        out.append("Targets — " + "; ".join(checks) + ".")
        if e.get("ablations"):
            loop = s["variants"].get("jax_loop")
            out.append(
                "\nEngine ablations (same sweep; run time = wall minus compile): "
                "where the engine's time goes.\n"
            )
            out.append("| engine variant | devices | run s | × engine (a) | × loop (b) |")
            out.append("|---|---|---|---|---|")
            rows = [("(a) as above", e)] + list(e["ablations"].items())
            for label, v in rows:
                vs_loop = f"{v['run_seconds'] / loop['run_seconds']:.2f}" if loop else "–"
                out.append(
                    f"| {label} | {v['devices']} | {_fmt(v['run_seconds'])} | "
                    f"{v['run_seconds'] / e['run_seconds']:.2f} | {vs_loop} |"
                )
    if "scaling" in res:
        sc = res["scaling"]
        out.append(
            f"\n### Scaling: engine sweep time vs K ({sc['devices']} device(s), "
            f"{res['config']['steps']} steps)\n"
        )
        out.append("| K | compile s | run s | s per model | compilations | test acc |")
        out.append("|---|---|---|---|---|---|")
        for r in sc["rows"]:
            out.append(
                f"| {r['k']} | {_fmt(r['compile_seconds'])} | {_fmt(r['run_seconds'])} | "
                f"{_fmt(r['seconds_per_model'])} | {r['compilations']} | "
                f"{r['test_accuracy']:.3f} |"
            )
    for note in res.get("notes", []):
        out.append(f"\nNote: {note}")
    return "\n".join(out)


def readme_table(res: dict) -> str:
    """A short Markdown table for the README: the headline ratios of one run."""
    lines = ["| measurement | result |", "|---|---|"]
    if "activations" in res:
        rows = res["activations"]["rows"]
        worst = max(rows, key=lambda r: r["ratio"])
        lines.append(
            f"| jaxact / jax.nn time, {len(rows)} activation × dtype × mode cases | "
            f"median {_median([r['ratio'] for r in rows]):.2f}, worst {worst['ratio']:.2f} "
            f"({worst['activation']} {worst['dtype']} {worst['mode']}) |"
        )
    if "sweep" in res:
        s, c = res["sweep"], res["config"]
        for name, x in s["speedup"].items():
            lines.append(
                f"| K={c['k']} sweep, engine speed-up vs {VARIANT_LABELS[name][4:]} | {x:.2f}× |"
            )
    if "scaling" in res:
        rows = res["scaling"]["rows"]
        lines.append(
            "| seconds per model, K = "
            + ", ".join(str(r["k"]) for r in rows)
            + " | "
            + ", ".join(_fmt(r["seconds_per_model"]) for r in rows)
            + " |"
        )
    return "\n".join(lines)


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def render_docs(res: dict, json_path: str, previous: str | None) -> str:
    """``docs/performance.md``: generated figures plus the kept analysis section."""
    analysis = f"{ANALYSIS_BEGIN}\n## Analysis\n\n(not written yet)\n{ANALYSIS_END}"
    if previous and ANALYSIS_BEGIN in previous and ANALYSIS_END in previous:
        start = previous.index(ANALYSIS_BEGIN)
        analysis = previous[start : previous.index(ANALYSIS_END, start) + len(ANALYSIS_END)]
    m = res["machine"]
    v = m["versions"]
    return "\n".join(
        [
            "# Performance",
            "",
            "<!-- Generated by `python -m experiments.bench --write-docs`; edit only the "
            "analysis section. -->",
            "",
            f"Command: `{res['command']}`  ",
            f"Date: {res['date']}  ",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['system']}  ",
            "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + "  ",
            f"Raw figures: `{json_path}` (written by the command above).",
            "",
            "Every figure below comes from that one run; ratios were measured side by side "
            "in it. Each variant ran in its own process (see `experiments/bench.py`).",
            "",
            tables(res),
            "",
            "### GPU goal",
            "",
            "K = 1024 in ≤ 3× the time of K = 1: **not measured here** (no GPU in this "
            "session). Command: `python -m experiments.bench --skip activations,sweep "
            "--scaling-k 1,1024`.",
            "",
            analysis,
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m experiments.bench``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        return _worker_main(argv[1:])
    try:
        args = build_parser().parse_args(argv)
        cfg = resolve(args)
        if not cfg["parts"] and args.from_json is None:
            raise UsageError("--skip leaves nothing to run")
        if "sweep" in cfg["parts"] and cfg["batch_size"] > 4000:
            raise UsageError(
                f"--batch-size {cfg['batch_size']} is larger than the MNIST-1D training set "
                "(4000 samples)"
            )
    except UsageError as e:
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    from experiments.engine import atomic_write

    if args.from_json is not None:
        json_path = Path(args.from_json)
        try:
            res = json.loads(json_path.read_text())
            tables(res)
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(
                f"{PROG}: error: --from-json {json_path}: not a readable bench.json ({e})",
                file=sys.stderr,
            )
            return 2
        print(tables(res))
    else:
        json_path = Path(args.out) / "bench.json"
        try:
            res = run(cfg, argv, quiet=args.quiet)
        except RuntimeError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 1
        text = json.dumps(res, indent=2, sort_keys=True) + "\n"
        atomic_write(json_path, lambda f: f.write(text), mode="w")
        print(tables(res))
        print(f"\nwrote {json_path}")
    if args.write_docs:
        docs = Path(args.docs)
        previous = docs.read_text() if docs.exists() else None
        full = json_path.resolve()
        shown = str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else str(full)
        page = render_docs(res, shown, previous)
        atomic_write(docs, lambda f: f.write(page), mode="w")
        print(f"wrote {docs}\n\nREADME table:\n\n{readme_table(res)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
