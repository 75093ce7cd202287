"""Constants of ``python -m experiments.bench``: what is measured, at which sizes."""

from __future__ import annotations

from pathlib import Path

PROG = "python -m experiments.bench"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DOCS = ROOT / "docs" / "performance.md"
#: The accelerator run's figures, rendered into the docs page when present.
DEFAULT_ACCELERATOR_JSON = ROOT / "docs" / "gpu" / "bench.json"
ANALYSIS_BEGIN = "<!-- analysis:begin (hand-written; kept by --write-docs) -->"
ANALYSIS_END = "<!-- analysis:end -->"

PARTS = ("activations", "shapes", "sweep", "scaling", "compile", "profile", "suite")

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
    "fraction_of_matmul_peak": 0.5,
    "tiny_compile_cold_seconds": 8.0,
    "tiny_compile_warm_seconds": 2.0,
    "per_model_rise_k16_to_k256": 0.15,
    "gpu_k1024_over_k1": 3.0,
}

# The sweep's model and training, as the benchmark fixes them.
LAYERS = (100, 100, 10)
DATASET = "mnist1d"
ALPHA0 = 0.25

#: The "tiny sweep" of the compile-time measurement: the benchmark's model,
#: a few runs and a few hundred steps in several evaluation blocks.
TINY_SWEEP = {"k": 4, "steps": 300, "eval_every": 100}

#: Steps of the profiled sweep (the K-run sweep's program, one evaluation at the end).
PROFILE_STEPS = 200

#: Sizes of a full run and of ``--quick`` (explicit flags override either).
FULL = {
    "size_log2": 24,
    "dtypes": DTYPES,
    "repeats": 7,
    "k": 64,
    "steps": 2000,
    "scaling_k": (1, 4, 16, 64, 256),
    "sweep_repeats": 3,
}
QUICK = {
    "size_log2": 12,
    "dtypes": ("float32",),
    "repeats": 2,
    "k": 4,
    "steps": 20,
    "scaling_k": (1, 2),
    "sweep_repeats": 2,
}
#: ``--gpu-plan``: the accelerator's activation table and K = 1 … 1024 scaling.
GPU_PLAN = {
    "parts": ("activations", "scaling"),
    "scaling_k": (1, 4, 16, 64, 256, 1024),
    "sweep_repeats": 3,
}
