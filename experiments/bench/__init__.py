r"""Benchmarks of jaxact and its training engine: ``python -m experiments.bench``.

Every figure is a ratio of things timed side by side in one run, or a time
with its spread (the machines are shared and noisy):

1. *activations*: forward and forward+backward time under ``jax.jit`` of every
   registry activation that ``jax.nn`` also has, jaxact vs ``jax.nn``, on
   :math:`2^{24}`-element float32 and bfloat16 arrays (alternating A/B calls,
   best of ``--repeats``), plus GB/s against the machine's copy bandwidth;
2. *sweep*: K = 64 learnable-PReLU MLPs (40-100-100-10) on MNIST-1D, batch
   100, Adam 1e-3, 2000 steps: (a) the engine (``jaxact.sweep``), with and
   without its divergence guard; (b) the plain-JAX alternative, a Python loop
   calling one jitted ``lax.scan`` training run K times; (c) PyTorch eager,
   looped K times; (d) ``torch.func.stack_module_state`` + ``torch.vmap``.
   Each timed ``--sweep-repeats`` times (median and min); GFLOP/s against the
   measured large-matmul rate; peak memory;
3. *scaling*: the engine's sweep time for K = 1, 4, 16, 64, 256;
4. *compile*: compile time of a tiny sweep and of the K = 64 sweep, without
   JAX's persistent compilation cache, with an empty one (cold) and with it
   filled (warm, a second process), and the op counts of the K = 64 sweep's
   compiled chunk program;
5. *profile*: a ``jax.profiler`` trace of the K = 64 sweep, its op time per
   category (matmul, elementwise, optimizer, data gathering, evaluation,
   divergence guard); ``--profile DIR`` keeps the trace.

Every measured variant runs in its own Python process
(:mod:`experiments.bench.workers`). The engine's variants run with
``--xla_force_host_platform_device_count`` = ``--devices`` (default: the
number of CPU cores) on CPU; the plain-JAX loop runs on one device, as a
user's script would. ``--gpu-plan`` measures the activation table and the
sweep at K = 1 … 1024 on an accelerator.

Writes ``bench.json`` into ``--out`` and prints a table; ``--write-docs``
also renders ``docs/performance.md`` from that JSON (keeping its hand-written
analysis section) and prints a short table for the README.

Modules: :mod:`~experiments.bench.cli` (command line, the run),
:mod:`~experiments.bench.workers` (the worker process protocol),
:mod:`~experiments.bench.baselines` (machine rates, activations, the
plain-JAX and PyTorch baselines), :mod:`~experiments.bench.measure` (the
engine's measurements), :mod:`~experiments.bench.hlo` (op counts and time per
category), :mod:`~experiments.bench.render` (tables and the docs page),
:mod:`~experiments.bench.config` (constants).
"""

from experiments.bench.baselines import train_flops_per_step
from experiments.bench.cli import build_parser, main, resolve, run
from experiments.bench.config import (
    ACTIVATION_PAIRS,
    ANALYSIS_BEGIN,
    ANALYSIS_END,
    DTYPES,
    PROG,
    TARGETS,
)
from experiments.bench.render import readme_table, render_docs, tables

__all__ = [
    "ACTIVATION_PAIRS",
    "ANALYSIS_BEGIN",
    "ANALYSIS_END",
    "DTYPES",
    "PROG",
    "TARGETS",
    "build_parser",
    "main",
    "readme_table",
    "render_docs",
    "resolve",
    "run",
    "tables",
    "train_flops_per_step",
]
