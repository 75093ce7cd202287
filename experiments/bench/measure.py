"""The engine's measurements (``jaxact.sweep``), each run in its own process.

* :func:`worker_engine`: (a) the K-run sweep, timed ``sweep_repeats`` times
  (new seeds and α each time, so a recompilation would show), and the same
  sweep without the divergence guard and, with several devices, on one device;
* :func:`worker_scaling`: the sweep at each K of ``scaling_k``;
* :func:`worker_compile`: compile time of a tiny sweep and of the K-run sweep,
  with JAX's persistent compilation cache in ``cfg["cache_dir"]`` (the parent
  runs it twice: cold, then warm), and the op counts of the K-run sweep's
  compiled chunk (:mod:`experiments.bench.hlo`);
* :func:`worker_profile`: a ``jax.profiler`` trace of the K-run sweep's
  program at ``profile_steps`` steps (the profiler slows every op launch, and
  a 2000-step trace holds millions of events) and its op time per category
  (matmul, elementwise, optimizer, ...), also scaled to the sweep's steps.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Any

from experiments.bench.config import ALPHA0
from experiments.bench.workers import peak_rss_mib, rss_mib, spread


def engine_setup(cfg: dict, steps: int, *, eval_every: int | None = None, **overrides):
    """The benchmark's :class:`jaxact.sweep.Setup`: one evaluation at the end by default."""
    from jaxact import linen, sweep

    model = linen.MLP(tuple(cfg["layers"]), "prelu", learnable=True, kernel_init="he_normal")
    return sweep.Setup(
        model=model,
        steps=steps,
        batch_size=cfg["batch_size"],
        optimizer="adam",
        eval_every=eval_every or steps,  # one evaluation, at the end, as the baselines do
        shared_batches=cfg["shared_batches"],
        **overrides,
    )


class _Events:
    """Persistent-cache hits and misses, from JAX's monitoring events."""

    def __init__(self):
        import jax

        self.hits = self.misses = 0
        jax.monitoring.register_event_listener(self._on)

    def _on(self, event: str, **kwargs: Any) -> None:
        self.hits += event == "/jax/compilation_cache/cache_hits"
        self.misses += event == "/jax/compilation_cache/cache_misses"

    def close(self) -> None:
        import jax

        jax.monitoring.unregister_event_listener(self._on)


def _sweep_once(trainer, k: int, cfg: dict, seed0: int, timer) -> dict:
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
        "run_seconds": wall - compile_seconds,
        "test_accuracy": float(final["test_accuracy"].mean()),
        "final_batch_loss": float(final["batch_loss"].mean()),
    }


def _repeated(trainer, k: int, cfg: dict, timer) -> dict:
    """``sweep_repeats`` sweeps of ``k`` runs with new seeds and α each time.

    The first includes compilation (its run time is wall minus compile time);
    the others must compile nothing.
    """
    runs = [_sweep_once(trainer, k, cfg, r * k, timer) for r in range(cfg["sweep_repeats"])]
    first, rest = runs[0], runs[1:]
    return {
        "devices": trainer.num_devices,
        "runs_per_group": trainer.runs_per_group,
        "runs_per_device": trainer.padded(k) // trainer.num_devices,
        "compile_seconds": first["compile_seconds"],
        "compilations": first["compilations"],
        "first_wall_seconds": first["wall_seconds"],
        "recompilations_on_new_values": sum(r["compilations"] for r in rest),
        **spread([r["run_seconds"] for r in runs]),
        "test_accuracy": runs[-1]["test_accuracy"],
        "final_batch_loss": runs[-1]["final_batch_loss"],
    }


def worker_engine(cfg: dict) -> dict:
    """(a): the engine's sweep of K runs, repeated; with and without the divergence guard."""
    import jax

    from experiments import data
    from experiments.cli import CompileTimer
    from jaxact import sweep

    ds = data.load(cfg["dataset"])
    timer = CompileTimer()
    rss_before = rss_mib()
    trainer = sweep.Trainer(engine_setup(cfg, cfg["steps"]), ds)
    result = _repeated(trainer, cfg["k"], cfg, timer)
    peak = peak_rss_mib()
    # Where the engine's time goes: the same sweep with all of a device's runs
    # in one vmap (no groups), without the divergence guard, then also on a
    # single device (no split of K over devices).
    ablations = {}
    if trainer.runs_per_group is not None and trainer.runs_per_group < trainer.padded(cfg["k"]):
        t = sweep.Trainer(engine_setup(cfg, cfg["steps"]), ds, runs_per_group=cfg["k"])
        ablations["runs not grouped (one vmap over a device's runs)"] = _repeated(
            t, cfg["k"], cfg, timer
        )
    variants = [("no divergence guard", trainer.devices)]
    if trainer.num_devices > 1:
        variants.append(("no divergence guard, 1 device", trainer.devices[:1]))
    for label, devices in variants:
        t = sweep.Trainer(
            engine_setup(cfg, cfg["steps"], divergence_guard=False), ds, devices=devices
        )
        ablations[label] = _repeated(t, cfg["k"], cfg, timer)
    timer.close()
    return {
        **result,
        "platform": jax.default_backend(),
        "padded_runs": trainer.padded(cfg["k"]),
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak,
        "ablations": ablations,
    }


def worker_scaling(cfg: dict) -> dict:
    """The engine's sweep at each K of ``scaling_k``, each timed ``sweep_repeats`` times."""
    import jax

    from experiments import data
    from experiments.cli import CompileTimer
    from jaxact import sweep

    ds = data.load(cfg["dataset"])
    timer = CompileTimer()
    trainer = sweep.Trainer(engine_setup(cfg, cfg["steps"]), ds)
    rows = []
    for k in cfg["scaling_k"]:
        r = _repeated(trainer, k, cfg, timer)
        r["k"] = k
        r["seconds_per_model"] = r["run_seconds"] / k
        r["seconds_per_model_min"] = r["run_seconds_min"] / k
        r["wall_seconds"] = r.pop("first_wall_seconds")
        rows.append(r)
    timer.close()
    return {
        "devices": trainer.num_devices,
        "runs_per_group": trainer.runs_per_group,
        "platform": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "rows": rows,
    }


def chunk_program(trainer, state):
    """The trainer's compiled chunk program and its arguments at ``state``.

    The bench reads the engine's own jitted chunk function, so that what is
    counted and traced is exactly what a sweep runs.
    """
    import jax.numpy as jnp

    fn = trainer._programs.chunk_fn
    args = (state.arrays, trainer._data, jnp.int32(state.step))
    return fn.lower(*args).compile(), args


def _compile_one(trainer, k: int, cfg: dict, timer, events) -> tuple[dict, Any, Any]:
    """Compiles (or reads from the cache) every program of a sweep of ``k`` runs; runs nothing
    but the initialisation and the step-0 evaluation."""
    timer.reset()
    hits, misses = events.hits, events.misses
    t0 = time.perf_counter()
    state = trainer.init(list(range(k)), learning_rate=cfg["lr"], values={"alpha": ALPHA0})
    compiled, args = chunk_program(trainer, state)
    wall = time.perf_counter() - t0
    seconds, count = timer.reset()
    return (
        {
            "k": k,
            "steps": trainer.setup.steps,
            "eval_every": trainer.setup.eval_every,
            "devices": trainer.num_devices,
            "compile_seconds": seconds,
            "programs": count,
            "cache_hits": events.hits - hits,
            "cache_misses": events.misses - misses,
            "wall_seconds": wall,
        },
        compiled,
        state,
    )


def worker_compile(cfg: dict) -> dict:
    """Compile time of the tiny sweep and of the K-run sweep; the K-run chunk's op counts.

    With ``cfg["cache_dir"]`` JAX's persistent compilation cache is on
    (:func:`jaxact.sweep.enable_compilation_cache`): the first process to use
    a directory fills it (cold), the next reads it (warm).
    """
    from experiments import data
    from experiments.bench import hlo
    from experiments.cli import CompileTimer
    from jaxact import sweep

    if cfg.get("cache_dir"):
        sweep.enable_compilation_cache(cfg["cache_dir"])
    ds = data.load(cfg["dataset"])
    timer, events = CompileTimer(), _Events()
    tiny = cfg["tiny_sweep"]
    t_tiny = sweep.Trainer(engine_setup(cfg, tiny["steps"], eval_every=tiny["eval_every"]), ds)
    tiny_row, _, _ = _compile_one(t_tiny, tiny["k"], cfg, timer, events)
    t_full = sweep.Trainer(engine_setup(cfg, cfg["steps"]), ds)
    full_row, compiled, _ = _compile_one(t_full, cfg["k"], cfg, timer, events)
    timer.close()
    events.close()
    out = {"tiny": tiny_row, "sweep": full_row, "cache": bool(cfg.get("cache_dir"))}
    if cfg.get("hlo"):
        module = hlo.parse(compiled.as_text())
        out["chunk_ops"] = hlo.op_counts(module)
    return out


def worker_profile(cfg: dict) -> dict:
    """A ``jax.profiler`` trace of the K-run sweep's chunk, and its time per category."""
    import jax

    from experiments import data
    from experiments.bench import hlo
    from jaxact import sweep

    ds = data.load(cfg["dataset"])
    steps = cfg["profile_steps"]
    trainer = sweep.Trainer(engine_setup(cfg, steps), ds)
    state = trainer.init(list(range(cfg["k"])), learning_rate=cfg["lr"], values={"alpha": ALPHA0})
    compiled, args = chunk_program(trainer, state)
    module = hlo.parse(compiled.as_text())
    keep = cfg.get("profile_dir")
    trace_dir = keep or tempfile.mkdtemp(prefix="jaxact-bench-trace-")
    try:
        t0 = time.perf_counter()
        with jax.profiler.trace(trace_dir):
            jax.block_until_ready(compiled(*args))
        traced = time.perf_counter() - t0
        events = hlo.trace_events(trace_dir)
    finally:
        if not keep:
            shutil.rmtree(trace_dir, ignore_errors=True)
    breakdown = hlo.time_breakdown(events, module)
    # The sweep runs ``steps`` steps and one block (evaluation, guard) at its end, as
    # the traced chunk does with ``profile_steps`` steps: per-step categories scale
    # by steps / profile_steps, per-block ones by 1.
    scale = {c: 1.0 if c in hlo.PER_BLOCK else cfg["steps"] / steps for c in hlo.CATEGORIES}
    sweep_s = {c: s * scale[c] for c, s in breakdown["seconds"].items()}
    total = sum(sweep_s.values())
    out = {
        "k": cfg["k"],
        "steps": steps,
        "sweep_steps": cfg["steps"],
        "sweep_fraction": {c: (s / total if total else 0.0) for c, s in sweep_s.items()},
        "devices": trainer.num_devices,
        "platform": jax.default_backend(),
        "traced_wall_seconds": traced,
        "events": len(events),
        **breakdown,
    }
    if keep:
        out["trace_dir"] = os.path.abspath(keep)
        with open(os.path.join(keep, "chunk.hlo.txt"), "w") as f:
            f.write(compiled.as_text())
    return out
