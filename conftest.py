"""Test-session set-up shared by the whole suite.

Four host CPU devices, as flax does for its suite, so that the sharded sweep is
tested on several devices on any machine. This must run before JAX is imported.
"""

import importlib.util
import os

_flag = "--xla_force_host_platform_device_count"
if _flag not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" {_flag}=4").strip()
os.environ.setdefault("MPLBACKEND", "Agg")

# Doctests of modules whose optional dependency is absent are not collected.
collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("experiments/bench_torch.py")
