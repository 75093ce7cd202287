"""A sweep over two JAX processes on 127.0.0.1 (2 CPU devices each: a 4-device global mesh)."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from experiments import data, multihost, sweep
from experiments.cli import UsageError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "xor", "--layers", "8", "--steps", "40", "--eval-every", "10",
        "--batch-size", "32", "--values", "0.1,0.3,0.5", "--seeds", "2", "--quiet"]  # fmt: skip
LIMIT = 240  # seconds any launched process may live


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env.update(
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        JAX_PLATFORMS="cpu",
        PYTHONUNBUFFERED="1",
    )
    return env


def _launch(outs: list[Path], port: int) -> list[subprocess.CompletedProcess]:
    """Starts one process per --out (process i writes to outs[i]), waits, cleans up."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "experiments.sweep",
                *TINY,
                "--out",
                str(out),
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                str(len(outs)),
                "--process-id",
                str(i),
                "--init-timeout",
                "60",
            ],  # fmt: skip
            cwd=ROOT,
            env=_env(2),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, out in enumerate(outs)
    ]
    results = []
    try:
        deadline = time.monotonic() + LIMIT
        for p in procs:
            stdout, stderr = p.communicate(timeout=max(1, deadline - time.monotonic()))
            results.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


def _numbers(path: Path) -> list[dict]:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [{k: (float(v) if k not in ("activation", "param", "learnable", "diverged") else v)
             for k, v in r.items()} for r in rows]  # fmt: skip


def _assert_same_results(a: Path, b: Path):
    ra, rb = _numbers(a), _numbers(b)
    assert len(ra) == len(rb) == 6
    for x, y in zip(ra, rb, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float):
                np.testing.assert_allclose(x[k], y[k], rtol=1e-5, atol=1e-6, err_msg=k)
            else:
                assert x[k] == y[k], k


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "run"
    assert sweep.main(TINY + ["--out", str(out)]) == 0  # this session: 4 CPU devices
    return out


@pytest.mark.slow
def test_two_processes_write_what_one_process_writes(single, tmp_path):
    out0, out1 = tmp_path / "p0", tmp_path / "p1"
    res = _launch([out0, out1], _free_port())
    for r in res:
        assert r.returncode == 0, r.stderr[-3000:]
        assert "[Gloo]" not in r.stdout  # the runtime's C++ lines go to its log, not stdout
    _assert_same_results(out0 / "results.csv", single / "results.csv")
    for name in sweep.RESULT_FILES:
        assert (out0 / name).exists(), name
    assert not out1.exists()  # the other process writes nothing but logs
    meta = json.loads((out0 / "config.json").read_text())
    assert meta["process_count"] == 2 and meta["num_devices"] == 4
    assert "best" in res[0].stdout and "best" not in res[1].stdout  # process 1: logs only
    assert "wrote " in res[0].stdout and "wrote " not in res[1].stdout


@pytest.mark.slow
def test_two_processes_resume_a_checkpoint(tmp_path):
    out = tmp_path / "resume"
    config = sweep.resolve(sweep.build_parser().parse_args(TINY))
    with pytest.raises(KeyboardInterrupt):
        sweep.run(config, data.load("xor"), out, quiet=True, stop_after_chunks=1)
    assert list(out.glob("checkpoint*.npz")) and not (out / "results.csv").exists()
    res = _launch([out, tmp_path / "p1"], _free_port())
    for r in res:
        assert r.returncode == 0, r.stderr[-3000:]
    resumed = json.loads((out / "config.json").read_text())["timing"]["resumed_from_step"]
    assert resumed and all(step > 0 for step in resumed.values())
    uninterrupted = tmp_path / "full"
    assert sweep.run(config, data.load("xor"), uninterrupted, quiet=True) == 0
    _assert_same_results(out / "results.csv", uninterrupted / "results.csv")


@pytest.mark.slow
def test_unreachable_coordinator_fails_fast_with_a_message(tmp_path):
    port = _free_port()  # nobody listens there
    t0 = time.monotonic()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.sweep",
            *TINY,
            "--out",
            str(tmp_path / "x"),
            "--coordinator",
            f"127.0.0.1:{port}",
            "--num-processes",
            "2",
            "--process-id",
            "1",
            "--init-timeout",
            "3",
        ],  # fmt: skip
        cwd=ROOT,
        env=_env(1),
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    assert r.returncode == 1
    assert f"cannot reach the coordinator at 127.0.0.1:{port} within 3 s" in r.stderr
    assert time.monotonic() - t0 < 60
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--coordinator", "127.0.0.1:1234"], "go together"),
        (["--coordinator", "nohost", "--num-processes", "2", "--process-id", "0"], "HOST:PORT"),
        (["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"], "--process-id"),
    ],
)
def test_bad_distributed_flags(argv, message):
    args = multihost.build_parser().parse_args(argv)
    with pytest.raises(ValueError, match=message):
        multihost.check_flags(args)


# -- failures: one line and a non-zero exit, never a C++ abort ------------------------


def _check(port: int, process_id: int, *extra: str, tmp: Path, num: int = 2) -> subprocess.Popen:
    """``python -m experiments.multihost`` (the cluster check) as one of ``num`` processes.

    Runtime logs go to ``tmp`` (``TMPDIR``).
    """
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.multihost", "--coordinator", f"127.0.0.1:{port}",
         "--num-processes", str(num), "--process-id", str(process_id), *extra],  # fmt: skip
        cwd=ROOT,
        env={**_env(1), "TMPDIR": str(tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(p: subprocess.Popen, text: str) -> list[str]:
    lines = []
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            raise AssertionError(f"ended before {text!r}: {lines} {p.stderr.read()[-2000:]}")
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} within {LIMIT} s")


def _finish(p: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        out, err = p.communicate(timeout=LIMIT)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _one_clean_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr[-3000:]
    assert "Check failure" not in stderr and "Traceback" not in stderr
    assert lines[0].startswith("python -m experiments.multihost: error: ")
    return lines[0]


@pytest.mark.slow
def test_the_cluster_check_passes_and_keeps_gloo_off_stdout(tmp_path):
    port = _free_port()
    procs = [_check(port, i, tmp=tmp_path) for i in range(2)]
    res = [_finish(p) for p in procs]
    for r in res:
        assert r.returncode == 0, r.stderr[-3000:]
        assert "[Gloo]" not in r.stdout and r.stderr == ""
    assert res[0].stdout.splitlines()[-1] == "ok: 2 processes, 2 devices (cpu)"
    assert "process 1: round 2: [0, 1]" in res[1].stdout
    assert not list(tmp_path.iterdir())  # runtime logs are removed after a clean run


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["supervisor of process 1", "process 0"])
def test_a_dead_peer_ends_the_others_with_one_line(victim, tmp_path):
    port = _free_port()
    args = ("--rounds", "100000", "--interval", "0.1", "--heartbeat-timeout", "10")
    procs = [_check(port, i, *args, tmp=tmp_path) for i in range(2)]
    try:
        _wait_for_line(procs[0], "round 3")
        if victim == "process 0":  # the child that runs process 0 (and the coordinator)
            out = subprocess.run(["pgrep", "-P", str(procs[0].pid)], capture_output=True, text=True)
            os.kill(int(out.stdout.split()[0]), signal.SIGKILL)
            survivor = procs[1]
        else:  # the supervisor: its child dies with it
            os.kill(procs[1].pid, signal.SIGKILL)
            survivor = procs[0]
        r = _finish(survivor)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
    assert r.returncode == 1
    line = _one_clean_line(r.stderr)
    assert "another process" in line and "Rerun the same command on every process" in line
    time.sleep(1)
    assert subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"]).returncode == 1  # none left


@pytest.mark.slow
def test_a_frozen_peer_is_given_up_after_the_heartbeat_timeout(tmp_path):
    port = _free_port()
    args = ("--rounds", "100000", "--interval", "0.1", "--heartbeat-timeout", "5")
    procs = [_check(port, i, *args, tmp=tmp_path) for i in range(2)]
    try:
        _wait_for_line(procs[1], "round 3")
        child = int(
            subprocess.run(["pgrep", "-P", str(procs[1].pid)], capture_output=True, text=True)
            .stdout.split()[0]
        )
        os.kill(child, signal.SIGSTOP)  # like a machine that vanished: no FIN, no heartbeat
        r = _finish(procs[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
    assert r.returncode == 1
    line = _one_clean_line(r.stderr)
    assert "another process stopped responding (no heartbeat for 5 s)" in line
    assert "runtime log: " in line
    log = Path(line.rsplit("runtime log: ", 1)[1].rstrip(")"))
    assert log.parent == tmp_path and "heartbeat" in log.read_text()


@pytest.mark.slow
def test_process_0_without_its_peers_gives_up_after_the_init_timeout(tmp_path):
    r = _finish(_check(_free_port(), 0, "--init-timeout", "3", tmp=tmp_path))
    assert r.returncode == 1
    line = _one_clean_line(r.stderr)
    assert "not all 2 processes joined within 3 s" in line and "--process-id 1..1" in line


class _Server:
    """A TCP server on 127.0.0.1 that is not a JAX coordinator: says ``reply`` (or nothing)."""

    def __init__(self, reply: bytes | None, *, hang_up: bool = False):
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply, self.hang_up = reply, hang_up
        self.sock.settimeout(0.2)
        self.conns, self.stopped = [], False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(c)
            try:
                if self.reply is not None:
                    c.sendall(self.reply)
                if self.hang_up:
                    c.close()
            except OSError:
                c.close()

    def close(self):
        self.stopped = True
        self.thread.join(timeout=10)
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize(
    "reply, hang_up, reason",
    [
        (None, False, "no HTTP/2 reply within 2 s"),
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", False, "it speaks HTTP/1"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", False, "it does not speak HTTP/2"),
        (None, True, "it closed the connection"),
    ],
)
def test_a_port_that_is_not_a_jax_coordinator(reply, hang_up, reason):
    server = _Server(reply, hang_up=hang_up)
    try:
        with pytest.raises(multihost.CoordinatorUnreachable) as e:
            multihost.wait_for_coordinator(f"127.0.0.1:{server.port}", 2)
    finally:
        server.close()
    msg = str(e.value)
    assert msg.startswith(f"127.0.0.1:{server.port} answers but is not a JAX coordinator (")
    assert reason in msg


@pytest.mark.slow
def test_a_port_that_is_not_a_jax_coordinator_from_the_command_line(tmp_path):
    server = _Server(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    try:
        r = _finish(_check(server.port, 1, "--init-timeout", "5", tmp=tmp_path))
    finally:
        server.close()
    assert r.returncode == 1
    line = _one_clean_line(r.stderr)
    assert f"127.0.0.1:{server.port} answers but is not a JAX coordinator" in line


def test_process_0_refuses_a_busy_port():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
        with pytest.raises(multihost.CoordinatorUnreachable, match=f"port {port} .* in use"):
            multihost.check_port_free(f"127.0.0.1:{port}")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"JAX_NUM_PROCESSES": "abc"}, "environment variable JAX_NUM_PROCESSES must be an integer, got 'abc'"),
        ({"JAX_PROCESS_ID": "x1"}, "environment variable JAX_PROCESS_ID must be an integer"),
        ({"JAX_COORDINATOR_ADDRESS": "nohost", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "0"},
         "JAX_COORDINATOR_ADDRESS must be HOST:PORT"),
        ({"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "5"},
         r"JAX_PROCESS_ID must be in 0\.\.1, got 5"),
        ({"JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "0", "JAX_PROCESS_ID": "0"},
         "JAX_NUM_PROCESSES must be ≥ 1"),
    ],
)  # fmt: skip
def test_environment_variables_are_named_in_their_errors(monkeypatch, env, message):
    for k in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    args = multihost.build_parser().parse_args([])
    with pytest.raises(UsageError, match=message):
        multihost.check_flags(args)


def test_flags_from_the_environment(monkeypatch):
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.1:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "4")
    monkeypatch.setenv("JAX_PROCESS_ID", "3")
    args = multihost.build_parser().parse_args(["--process-id", "2"])  # a flag beats the variable
    assert multihost.check_flags(args)
    assert (args.coordinator, args.num_processes, args.process_id) == ("10.0.0.1:1234", 4, 2)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--num-processes", "abc"], "--num-processes must be an integer, got 'abc'"),
        (["--process-id", "-1"], "--process-id must be ≥ 0, got -1"),
        (["--heartbeat-timeout", "0"], "--heartbeat-timeout must be > 0"),
        (
            ["--coordinator", "h:99999", "--num-processes", "2", "--process-id", "0"],
            "port in 1..65535",
        ),
    ],
)
def test_bad_flags_name_themselves(monkeypatch, argv, message):
    for k in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(UsageError, match=message):
        multihost.check_flags(multihost.build_parser().parse_args(argv))


def test_a_single_process_is_not_supervised(monkeypatch):
    for k in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(k, raising=False)
    args = multihost.build_parser().parse_args([])
    assert multihost.supervise("experiments.multihost", [], args) is None
    monkeypatch.setenv(multihost.SUPERVISED_ENV, "/nonexistent.log")  # the child itself
    args = multihost.build_parser().parse_args(
        ["--coordinator", "h:1", "--num-processes", "2", "--process-id", "1"]
    )
    assert multihost.supervise("experiments.multihost", [], args) is None


@pytest.mark.parametrize(
    "log, expected",
    [
        ("E1202 coordination_service.cc] UNAVAILABLE: Task 1 heartbeat timeout.", "no heartbeat"),
        ("The following tasks are unhealthy (stopped sending heartbeats):\n1", "no heartbeat"),
        ("DEADLINE_EXCEEDED: Deadline Exceeded\n\nRPC: /xla.coordination.CoordinationService/RegisterTask",
         "not all 2 processes joined within 60 s"),
        ("ValueError: UNKNOWN: Gloo AllGather failed: [pair.cc:547] Connection closed by peer",
         "lost the connection to another process"),
        ("TypeError: unsupported operand", None),
    ],
)  # fmt: skip
def test_explain(log, expected):
    args = multihost.build_parser().parse_args(
        ["--coordinator", "h:1", "--num-processes", "2", "--process-id", "0"]
    )
    got = multihost.explain(log, args)
    assert (got is None) if expected is None else (expected in got)


@pytest.mark.slow
def test_the_search_over_two_processes_matches_one_process(tmp_path):
    from test_search import TINY_ARGS as SEARCH_ARGS  # tests/ is on sys.path under pytest

    from experiments import search

    one = tmp_path / "one"
    assert search.main(SEARCH_ARGS + ["--out", str(one)]) == 0  # this session: 4 CPU devices
    port = _free_port()
    outs = [tmp_path / "p0", tmp_path / "p1"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "experiments.search", *SEARCH_ARGS, "--out", str(out),
             "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
             "--process-id", str(i), "--init-timeout", "60"],  # fmt: skip
            cwd=ROOT, env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for i, out in enumerate(outs)
    ]
    try:
        res = [p.communicate(timeout=LIMIT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], res
    assert not outs[1].exists()  # process 1 writes nothing
    a = search.read_csv(one / "results.csv")
    b = search.read_csv(outs[0] / "results.csv")
    assert [(r["u1"], r["u2"], r["b"]) for r in a] == [(r["u1"], r["u2"], r["b"]) for r in b]
    np.testing.assert_allclose(
        [r["val_accuracy"] for r in a], [r["val_accuracy"] for r in b], atol=1e-6
    )
    assert "[Gloo]" not in res[0][0]
