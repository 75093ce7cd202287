"""Several JAX processes, one global mesh: the flags, start-up and failures of multi-host runs.

A sweep outgrowing one machine runs as N processes of the same command, each
started with ``--coordinator HOST:PORT --num-processes N --process-id I``
(or the environment variables ``JAX_COORDINATOR_ADDRESS``,
``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``), or with ``--cluster-auto`` where
JAX detects the cluster itself (SLURM, TPU pods, ...). :func:`initialize`
calls ``jax.distributed.initialize`` before any other JAX call; after it,
``jax.devices()`` lists every process's devices and the engine lays the runs
axis over all of them. On CPU the cross-process collectives use gloo.
See ``docs/distributed.md``.

Failures end in one line and exit status 1, never in a C++ abort:

* :func:`supervise` runs the command in a child process and watches it. JAX's
  distributed runtime ends a process with ``abort()`` when it loses a peer or
  cannot register; the supervisor turns that into one line saying what
  happened (its C++ log goes to a file named in that line, not to the
  terminal; gloo's connection lines stay off stdout). If the supervisor is
  killed, the child dies with it (Linux).
* A peer that dies is noticed at the next collective (its connections close)
  or, if its machine vanished, after ``--heartbeat-timeout`` seconds (default
  30) without a heartbeat; process 0 waiting for a process that never starts,
  or a process pointed at a port where no JAX coordinator answers, gives up
  after ``--init-timeout`` seconds (default 60).
* Before starting, a process other than 0 checks that the coordinator's port
  answers and speaks gRPC (a JAX coordinator does); process 0 checks that its
  port is free.

``python -m experiments.multihost`` with the same flags checks a cluster
setup: every process joins, exchanges a few values, and process 0 prints
``ok``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence

from experiments.cli import Parser, UsageError, positive_int, print_usage_error

PROG = "python -m experiments.multihost"
DEFAULT_TIMEOUT = 60
DEFAULT_HEARTBEAT = 30
EXIT_FAILURE = 1
SUPERVISED_ENV = "JAXACT_DISTRIBUTED_LOG"  # set in the supervised child: its C++ log file
_PARENT_ENV = "JAXACT_SUPERVISOR_PID"
_PROG_ENV = "JAXACT_SUPERVISOR_PROG"
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(3) + b"\x04" + bytes(5)


class DistributedError(RuntimeError):
    """The distributed runtime could not start or lost a process."""


class CoordinatorUnreachable(DistributedError):
    """The coordinator did not answer, or did not answer as a JAX coordinator."""


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Adds the distributed-runtime flags to a command's parser."""
    g = parser.add_argument_group("several processes (jax.distributed; see docs/distributed.md)")
    g.add_argument(
        "--coordinator",
        default=None,
        metavar="HOST:PORT",
        help="address of process 0's coordinator service "
        "(default: $JAX_COORDINATOR_ADDRESS; unset: a single process)",
    )
    g.add_argument(
        "--num-processes",
        type=positive_int("--num-processes"),
        default=None,
        help="number of processes (default: $JAX_NUM_PROCESSES)",
    )
    g.add_argument(
        "--process-id",
        type=_process_id,
        default=None,
        help="this process's index, 0..N-1 (default: $JAX_PROCESS_ID)",
    )
    g.add_argument(
        "--cluster-auto",
        action="store_true",
        help="let JAX detect the cluster (SLURM, TPU pod, ...) instead of the flags above",
    )
    g.add_argument(
        "--init-timeout",
        type=positive_int("--init-timeout"),
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for the coordinator and the other processes",
    )
    g.add_argument(
        "--heartbeat-timeout",
        type=positive_int("--heartbeat-timeout"),
        default=DEFAULT_HEARTBEAT,
        help="seconds without a heartbeat after which a process counts as dead "
        "and the others stop",
    )


def _process_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--process-id must be an integer, got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--process-id must be ≥ 0, got {value}")
    return value


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(
            f"the environment variable {name} must be an integer, got {value!r}"
        ) from None


def _fill_from_env(args: argparse.Namespace) -> dict[str, str]:
    """Takes unset flags from the environment; returns flag → where it came from."""
    source = {
        "--coordinator": "--coordinator",
        "--num-processes": "--num-processes",
        "--process-id": "--process-id",
    }
    if args.coordinator is None and os.environ.get("JAX_COORDINATOR_ADDRESS"):
        args.coordinator = os.environ["JAX_COORDINATOR_ADDRESS"]
        source["--coordinator"] = "JAX_COORDINATOR_ADDRESS"
    if args.num_processes is None and (n := _env_int("JAX_NUM_PROCESSES")) is not None:
        args.num_processes = n
        source["--num-processes"] = "JAX_NUM_PROCESSES"
    if args.process_id is None and (i := _env_int("JAX_PROCESS_ID")) is not None:
        args.process_id = i
        source["--process-id"] = "JAX_PROCESS_ID"
    return source


def check_flags(args: argparse.Namespace) -> bool:
    """Validates the flags and ``JAX_*`` variables; returns whether this is a multi-process run.

    Raises:
      UsageError: naming the flag or the environment variable at fault.
    """
    for name, default in (
        ("heartbeat_timeout", DEFAULT_HEARTBEAT),
        ("init_timeout", DEFAULT_TIMEOUT),
    ):
        if not hasattr(args, name):
            setattr(args, name, default)
    if args.init_timeout <= 0:
        raise UsageError(f"--init-timeout must be > 0 seconds, got {args.init_timeout}")
    if args.heartbeat_timeout <= 0:
        raise UsageError(f"--heartbeat-timeout must be > 0 seconds, got {args.heartbeat_timeout}")
    if args.cluster_auto:
        return True
    source = _fill_from_env(args)
    given = [
        args.coordinator is not None,
        args.num_processes is not None,
        args.process_id is not None,
    ]
    if not any(given):
        return False
    if not all(given):
        raise UsageError(
            "--coordinator, --num-processes and --process-id go together (or use --cluster-auto)"
        )
    host, _, port = args.coordinator.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(
            f"{source['--coordinator']} must be HOST:PORT with a port in 1..65535, "
            f"got {args.coordinator!r}"
        )
    if args.num_processes < 1:
        raise UsageError(f"{source['--num-processes']} must be ≥ 1, got {args.num_processes}")
    if not 0 <= args.process_id < args.num_processes:
        raise UsageError(
            f"{source['--process-id']} must be in 0..{args.num_processes - 1}, "
            f"got {args.process_id}"
        )
    return True


# -- before jax.distributed.initialize -------------------------------------------


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def wait_for_coordinator(address: str, timeout: float) -> None:
    """Waits until ``address`` accepts connections and answers as a gRPC server.

    The distributed runtime aborts the whole process (no Python exception)
    when it cannot register with the coordinator, so processes other than 0
    check first and fail with a readable message instead.

    Raises:
      CoordinatorUnreachable: nothing answered within ``timeout`` seconds, or
        what answered does not speak gRPC (HTTP/2), as a JAX coordinator does.
    """
    host, port = _split(address)
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=2.0)
            break
        except OSError as e:
            last = e
            if time.monotonic() >= deadline:
                raise CoordinatorUnreachable(
                    f"cannot reach the coordinator at {address} within {timeout:g} s ({last}); "
                    "is process 0 running with the same --coordinator, and is the port open?"
                ) from None
            time.sleep(0.5)
    with sock:
        answer = _h2_settings(sock, min(10.0, max(1.0, deadline - time.monotonic())))
    if answer is not True:
        raise CoordinatorUnreachable(
            f"{address} answers but is not a JAX coordinator ({answer}); "
            "check --coordinator: it must be process 0's HOST:PORT"
        )


def _h2_settings(sock: socket.socket, timeout: float) -> bool | str:
    """Whether the server on ``sock`` opens an HTTP/2 session (gRPC's transport).

    Sends the HTTP/2 client preface with an empty SETTINGS frame; an HTTP/2
    server's first frame is its own SETTINGS frame (type 4 on stream 0).
    Returns ``True`` or a reason.
    """
    sock.settimeout(timeout)
    try:
        sock.sendall(_H2_PREFACE)
        head = b""
        while len(head) < 9:
            chunk = sock.recv(9 - len(head))
            if not chunk:
                return "it closed the connection" if not head else "it sent a short reply"
            head += chunk
    except TimeoutError:
        return f"no HTTP/2 reply within {timeout:.0f} s"
    except (ConnectionResetError, BrokenPipeError):
        return "it closed the connection"
    except OSError as e:
        return f"{e.strerror or e}"
    if head[3] == 0x04 and head[5:9] == bytes(4):
        return True
    if head.startswith(b"HTTP/"):
        return "it speaks HTTP/1"
    return "it does not speak HTTP/2"


def check_port_free(address: str) -> None:
    """Process 0: refuses a coordinator port that something on this machine already uses."""
    _, port = _split(address)
    for family, bind in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((bind, port))
            return
        except OSError as e:
            if e.errno == 98 or "in use" in str(e).lower():  # EADDRINUSE
                raise CoordinatorUnreachable(
                    f"port {port} of --coordinator {address} is already in use on this "
                    "machine (another run?); choose a free port"
                ) from None
            continue  # this address family is unavailable; try the next
    return


# -- start-up ------------------------------------------------------------------


def initialize(args: argparse.Namespace) -> None:
    """Starts the distributed runtime if the flags ask for several processes.

    Raises:
      UsageError: bad flags or ``JAX_*`` variables.
      CoordinatorUnreachable: see :func:`wait_for_coordinator` and
        :func:`check_port_free`.
    """
    if not check_flags(args):
        return
    if not args.cluster_auto:
        if args.process_id == 0:
            check_port_free(args.coordinator)
        else:
            wait_for_coordinator(args.coordinator, args.init_timeout)
    if os.environ.get(SUPERVISED_ENV):
        _die_with_parent()
        _divert_native_output(os.environ[SUPERVISED_ENV])
        sys.excepthook = _excepthook
    import jax

    if "jax_cpu_collectives_implementation" in jax.config.values:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    timeouts = dict(
        initialization_timeout=args.init_timeout,
        heartbeat_timeout_seconds=args.heartbeat_timeout,
    )
    if args.cluster_auto:
        jax.distributed.initialize(**timeouts)
        return
    jax.distributed.initialize(
        coordinator_address=args.coordinator,
        num_processes=args.num_processes,
        process_id=args.process_id,
        **timeouts,
    )


def _divert_native_output(log: str) -> None:
    """Sends what C++ writes to fds 1 and 2 into ``log``; Python's streams keep the terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for stream_name, target in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, stream_name)
        kept = os.dup(target)
        os.set_inheritable(kept, False)
        replacement = open(  # noqa: SIM115 (lives as long as the process)
            kept,
            "w",
            buffering=1,
            encoding=getattr(stream, "encoding", None) or "utf-8",
            errors=getattr(stream, "errors", None) or "backslashreplace",
            closefd=True,
        )
        os.dup2(fd, target)
        setattr(sys, stream_name, replacement)
        if getattr(sys, f"__{stream_name}__", None) is stream:
            setattr(sys, f"__{stream_name}__", replacement)
    os.close(fd)


def _excepthook(kind, value, tb) -> None:
    """In a supervised child: one line for a lost peer, then exit without JAX's shutdown.

    JAX's exit handler waits for every process at a shutdown barrier and
    aborts if one is gone, so the process leaves with ``os._exit``.
    """
    reason = explain(f"{kind.__name__}: {value}", None)
    if reason is not None:
        print_usage_error(reason, prog=os.environ.get(_PROG_ENV, "error"))
    else:
        sys.__excepthook__(kind, value, tb)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_FAILURE if kind is not KeyboardInterrupt else 130)


# -- the supervisor ---------------------------------------------------------------


def supervise(
    module: str,
    argv: Sequence[str] | None,
    args: argparse.Namespace,
    *,
    prog: str | None = None,
) -> int | None:
    """Runs ``python -m module argv`` as a watched child if this is a multi-process run.

    Call it first thing in a command's ``main`` after parsing (and
    :func:`check_flags`); if it returns a status, return that status.

    Returns:
      ``None`` when there is nothing to supervise (a single process, or this
      is the child), else the child's exit status, where an abort of JAX's
      runtime becomes one line on stderr and status 1.
    """
    if os.environ.get(SUPERVISED_ENV) or not check_flags(args):
        return None
    prog = prog or f"python -m {module}"
    pid = "auto" if args.cluster_auto else args.process_id
    log = os.path.join(
        tempfile.gettempdir(),
        f"jaxact-{module.rsplit('.', 1)[-1]}-process{pid}-{os.getpid()}.log",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    env = {**os.environ, SUPERVISED_ENV: log, _PARENT_ENV: str(os.getpid()), _PROG_ENV: prog}
    sys.stdout.flush()
    sys.stderr.flush()
    child = subprocess.Popen([sys.executable, "-m", module, *argv], env=env)
    previous = {}

    def stop(signum, frame):  # JAX takes SIGTERM as a preemption notice and goes on: kill
        child.kill()

    if threading.current_thread() is threading.main_thread():  # signal handlers live there
        # Ctrl-C reaches the child directly (same process group); the supervisor waits for it.
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        for s in (signal.SIGTERM, signal.SIGHUP):
            previous[s] = signal.signal(s, stop)
    try:
        rc = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if child.poll() is None:
            child.kill()
            child.wait()
    if (rc < 0 and rc != -signal.SIGINT) or rc == 128 + signal.SIGABRT:
        # JAX's runtime aborted (or something killed the child): say why, keep the log.
        reason = explain(_read_log(log), args) or (
            "JAX's distributed runtime aborted"
            if rc in (-signal.SIGABRT, 128 + signal.SIGABRT)
            else f"the process was ended by signal {-rc}"
        )
        print_usage_error(f"{reason} (runtime log: {log})", prog=prog)
        return EXIT_FAILURE
    _remove(log)  # the child ended by itself and reported any error
    return 130 if rc == -signal.SIGINT else rc


def _die_with_parent() -> None:
    """In the supervised child: be killed when the supervisor dies (Linux's PR_SET_PDEATHSIG)."""
    parent = os.environ.get(_PARENT_ENV)
    if not sys.platform.startswith("linux") or not parent:
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != parent:  # the supervisor died before prctl took effect
        os._exit(EXIT_FAILURE)


def _read_log(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def explain(text: str, args: argparse.Namespace | None) -> str | None:
    """What a distributed-runtime log or error says happened, in one sentence (or ``None``).

    Examples:
      >>> explain("UNAVAILABLE: Task 1 heartbeat timeout.", None)
      'another process stopped responding (no heartbeat); the others stopped. Rerun the same command on every process to resume from the last checkpoint'
      >>> explain("ValueError: division by zero", None) is None
      True
    """
    rerun = "Rerun the same command on every process to resume from the last checkpoint"
    heartbeat = f" for {args.heartbeat_timeout} s" if args is not None else ""
    if "heartbeat timeout" in text or "stopped sending heartbeats" in text:
        return (
            f"another process stopped responding (no heartbeat{heartbeat}); "
            f"the others stopped. {rerun}"
        )
    if "RegisterTask" in text and ("Deadline" in text or "DEADLINE" in text):
        if args is not None and not args.cluster_auto and args.process_id == 0:
            return (
                f"not all {args.num_processes} processes joined within {args.init_timeout} s; "
                f"start the same command with --process-id 1..{args.num_processes - 1} "
                "(or raise --init-timeout)"
            )
        where = f" at {args.coordinator}" if args is not None and args.coordinator else ""
        return (
            f"the coordinator{where} did not register this process within "
            f"{args.init_timeout if args is not None else '--init-timeout'} s: it is not a JAX "
            "coordinator of this run (wrong --coordinator port, or a different --num-processes)"
        )
    if any(
        s in text
        for s in (
            "Connection closed by peer",
            "Connection reset by peer",
            "Gloo AllGather failed",
            "Gloo AllReduce failed",
            "Gloo Broadcast failed",
            "Socket closed",
            "Connection refused",
            "coordination service",
            "CoordinationService",
        )
    ):
        return f"lost the connection to another process; the others stop too. {rerun}"
    return None


# -- a cluster check ------------------------------------------------------------------


def build_parser() -> Parser:
    p = Parser(
        prog=PROG,
        description="Checks a multi-process setup: every process joins and exchanges values.",
    )
    p.add_argument("--rounds", type=positive_int("--rounds"), default=3, help="exchanges to make")
    p.add_argument(
        "--interval", type=float, default=0.0, help="seconds between exchanges (default: none)"
    )
    add_flags(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m experiments.multihost``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        if not check_flags(args):
            raise UsageError(
                "give --coordinator, --num-processes and --process-id (or --cluster-auto)"
            )
    except UsageError as e:
        return print_usage_error(e, prog=PROG)
    status = supervise("experiments.multihost", argv, args, prog=PROG)
    if status is not None:
        return status
    try:
        initialize(args)
    except UsageError as e:
        return print_usage_error(e, prog=PROG)
    except DistributedError as e:
        print_usage_error(e, prog=PROG)
        return EXIT_FAILURE
    import jax
    import numpy as np
    from jax.experimental import multihost_utils

    me = jax.process_index()
    for r in range(args.rounds):
        got = multihost_utils.process_allgather(np.asarray([me, r]))
        print(f"process {me}: round {r}: {got.reshape(-1, 2)[:, 0].tolist()}", flush=True)
        if args.interval:
            time.sleep(args.interval)
    if me == 0:
        print(
            f"ok: {jax.process_count()} processes, {jax.device_count()} devices "
            f"({jax.default_backend()})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
