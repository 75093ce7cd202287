"""The worker protocol: every measured variant runs in its own Python process.

The parent writes the run's configuration to a JSON file and starts
``python -m experiments.bench _worker NAME CONFIG RESULT``; the worker looks
``NAME`` up in :data:`WORKERS`, measures, and writes its result as JSON. A
fresh process per variant keeps peak memory (``ru_maxrss``), thread pools and
JAX's in-memory caches from leaking between variants, and lets the parent set
the XLA host device count and the persistent compilation cache before JAX
starts.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.bench.config import ROOT

_DEVICE_FLAG = "--xla_force_host_platform_device_count"
#: Environment variables that would turn JAX's persistent compilation cache on
#: behind the bench's back (the compile-time measurement controls it itself).
_CACHE_ENV = (
    "JAX_COMPILATION_CACHE_DIR",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES",
)


def rss_mib() -> float:
    """Current resident memory of this process in MiB (Linux), else the peak so far."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def time_best(fns: Mapping[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds of each ``fn`` (whose result is blocked on), interleaved."""
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


def spread(seconds: Sequence[float]) -> dict[str, Any]:
    """``run_seconds`` (the median), its minimum and every repeat, of repeated timings.

    Examples:
      >>> spread([3.0, 1.0, 2.0])
      {'run_seconds': 2.0, 'run_seconds_min': 1.0, 'run_seconds_all': [3.0, 1.0, 2.0]}
    """
    xs = [float(s) for s in seconds]
    return {
        "run_seconds": statistics.median(xs),
        "run_seconds_min": min(xs),
        "run_seconds_all": xs,
    }


def _registry() -> dict[str, Callable[[dict], dict]]:
    from experiments.bench import baselines, measure

    return {
        "machine": baselines.worker_machine,
        "activations": baselines.worker_activations,
        "jax_loop": baselines.worker_jax_loop,
        "torch_eager": baselines.torch_worker("train_eager"),
        "torch_vmap": baselines.torch_worker("train_vmap"),
        "engine": measure.worker_engine,
        "scaling": measure.worker_scaling,
        "compile": measure.worker_compile,
        "profile": measure.worker_profile,
    }


#: The worker names ``python -m experiments.bench _worker NAME ...`` accepts.
WORKERS = (
    "machine",
    "activations",
    "jax_loop",
    "torch_eager",
    "torch_vmap",
    "engine",
    "scaling",
    "compile",
    "profile",
)


def worker_main(argv: Sequence[str]) -> int:
    """The worker process: ``NAME CONFIG_JSON RESULT_JSON``."""
    name, cfg_path, result_path = argv
    cfg = json.loads(Path(cfg_path).read_text())
    result = _registry()[name](cfg)
    Path(result_path).write_text(json.dumps(result))
    return 0


def worker_env(devices: int | None) -> dict[str, str]:
    """A worker's environment: the repo importable, the XLA host device count set,
    JAX's persistent compilation cache off (unless the worker turns it on)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for name in _CACHE_ENV:
        env.pop(name, None)
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
    if name not in WORKERS:
        raise ValueError(f"name: expected one of {WORKERS}, got {name!r}")
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
            env=worker_env(devices),
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
