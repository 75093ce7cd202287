"""A sweep over two JAX processes on 127.0.0.1 (2 CPU devices each: a 4-device global mesh)."""

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from experiments import data, multihost, sweep

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


def test_two_processes_write_what_one_process_writes(single, tmp_path):
    out0, out1 = tmp_path / "p0", tmp_path / "p1"
    res = _launch([out0, out1], _free_port())
    for r in res:
        assert r.returncode == 0, r.stderr[-3000:]
    _assert_same_results(out0 / "results.csv", single / "results.csv")
    for name in sweep.OUTPUT_FILES:
        assert (out0 / name).exists(), name
    assert not out1.exists()  # the other process writes nothing but logs
    meta = json.loads((out0 / "config.json").read_text())
    assert meta["process_count"] == 2 and meta["num_devices"] == 4
    assert "best:" in res[0].stdout and "best:" not in res[1].stdout  # process 1: logs only


def test_two_processes_resume_a_checkpoint(tmp_path):
    out = tmp_path / "resume"
    config = sweep.resolve(sweep.build_parser().parse_args(TINY))
    with pytest.raises(KeyboardInterrupt):
        sweep.run(config, data.load("xor"), out, quiet=True, stop_after_chunks=1)
    assert (out / "checkpoint.npz").exists() and not (out / "results.csv").exists()
    res = _launch([out, tmp_path / "p1"], _free_port())
    for r in res:
        assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((out / "config.json").read_text())["timing"]["resumed_from_step"] > 0
    uninterrupted = tmp_path / "full"
    assert sweep.run(config, data.load("xor"), uninterrupted, quiet=True) == 0
    _assert_same_results(out / "results.csv", uninterrupted / "results.csv")


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
    args = sweep.build_parser().parse_args(TINY + argv)
    with pytest.raises(ValueError, match=message):
        multihost.check_flags(args)
