"""Several JAX processes, one global mesh: the flags and start-up of multi-host runs.

A sweep outgrowing one machine runs as N processes of the same command, each
started with ``--coordinator HOST:PORT --num-processes N --process-id I``
(or the environment variables ``JAX_COORDINATOR_ADDRESS``,
``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``), or with ``--cluster-auto`` where
JAX detects the cluster itself (SLURM, TPU pods, ...). :func:`initialize`
calls ``jax.distributed.initialize`` before any other JAX call; after it,
``jax.devices()`` lists every process's devices and the engine lays the runs
axis over all of them. On CPU the cross-process collectives use gloo.
See ``docs/distributed.md``.
"""

from __future__ import annotations

import argparse
import os
import socket
import time

DEFAULT_TIMEOUT = 60


class CoordinatorUnreachable(RuntimeError):
    """The coordinator did not answer within the timeout."""


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Adds the distributed-runtime flags to a command's parser."""
    g = parser.add_argument_group("several processes (jax.distributed; see docs/distributed.md)")
    g.add_argument(
        "--coordinator",
        default=os.environ.get("JAX_COORDINATOR_ADDRESS"),
        metavar="HOST:PORT",
        help="address of process 0's coordinator service "
        "(env JAX_COORDINATOR_ADDRESS); unset: a single process",
    )
    g.add_argument(
        "--num-processes",
        type=int,
        default=_env_int("JAX_NUM_PROCESSES"),
        help="number of processes (env JAX_NUM_PROCESSES)",
    )
    g.add_argument(
        "--process-id",
        type=int,
        default=_env_int("JAX_PROCESS_ID"),
        help="this process's index, 0..N-1 (env JAX_PROCESS_ID)",
    )
    g.add_argument(
        "--cluster-auto",
        action="store_true",
        help="let JAX detect the cluster (SLURM, TPU pod, ...) instead of the flags above",
    )
    g.add_argument(
        "--init-timeout",
        type=int,
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for the coordinator and the other processes",
    )


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else None


def check_flags(args: argparse.Namespace) -> bool:
    """Validates the flags; returns whether this is a multi-process run."""
    if args.cluster_auto:
        return True
    given = [
        args.coordinator is not None,
        args.num_processes is not None,
        args.process_id is not None,
    ]
    if not any(given):
        return False
    if not all(given):
        raise ValueError(
            "--coordinator, --num-processes and --process-id go together (or use --cluster-auto)"
        )
    host, _, port = args.coordinator.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--coordinator must be HOST:PORT, got {args.coordinator!r}")
    if args.num_processes < 1:
        raise ValueError(f"--num-processes must be ≥ 1, got {args.num_processes}")
    if not 0 <= args.process_id < args.num_processes:
        raise ValueError(
            f"--process-id must be in 0..{args.num_processes - 1}, got {args.process_id}"
        )
    if args.init_timeout <= 0:
        raise ValueError(f"--init-timeout must be > 0 seconds, got {args.init_timeout}")
    return True


def wait_for_coordinator(address: str, timeout: float) -> None:
    """Connects to ``address`` until it answers; raises after ``timeout`` seconds.

    The distributed runtime aborts the whole process (no Python exception)
    when it cannot register with the coordinator, so processes other than 0
    check reachability first and fail with a readable message instead.
    """
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=2.0):
                return
        except OSError as e:
            last = e
            time.sleep(0.5)
    raise CoordinatorUnreachable(
        f"cannot reach the coordinator at {address} within {timeout:g} s ({last}); "
        "is process 0 running with the same --coordinator, and is the port open?"
    )


def initialize(args: argparse.Namespace) -> None:
    """Starts the distributed runtime if the flags ask for several processes."""
    if not check_flags(args):
        return
    import jax

    if "jax_cpu_collectives_implementation" in jax.config.values:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if args.cluster_auto:
        jax.distributed.initialize(initialization_timeout=args.init_timeout)
        return
    if args.process_id != 0:
        wait_for_coordinator(args.coordinator, args.init_timeout)
    jax.distributed.initialize(
        coordinator_address=args.coordinator,
        num_processes=args.num_processes,
        process_id=args.process_id,
        initialization_timeout=args.init_timeout,
    )
