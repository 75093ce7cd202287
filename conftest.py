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
    collect_ignore.append("experiments/bench/torch_baselines.py")

# JAX's persistent compilation cache for the test session: identical programs
# compiled by different tests (and by earlier runs on this machine) are read
# back instead of recompiled. JAXACT_TEST_CACHE=0 turns it off.
# Under pytest-xdist (`-n 2`) each worker has its own folder: JAX writes cache
# entries in place, and a worker reading an entry another is writing would fail.
if os.environ.get("JAXACT_TEST_CACHE", "1") != "0":
    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR",
        os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
            "jaxact",
            "jax-tests",
            os.environ.get("PYTEST_XDIST_WORKER", "main"),
        ),
    )
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
