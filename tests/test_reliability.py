"""``python -m experiments.sweep`` under failure, end to end (docs/reliability.md).

Every test runs the real command in subprocesses. A process is stopped at an
exact moment with the fault-injection hook ``JAXACT_PAUSE_AT=point[:N]``
(:func:`jaxact._src.engine.pause_point`: the process prints ``paused at
point`` and stops itself), then killed with ``SIGKILL`` (``kill -9``) or let go
on with ``SIGCONT``. Points: ``locked`` (output folder locked, before any
work), ``chunk`` (a chunk computed, its checkpoint not yet written),
``checkpoint-write`` (the checkpoint's temporary file written, not renamed),
``final-write`` (results.csv written, history.npz's temporary file written,
not renamed).

The sweep: 2 α values × 2 seeds = 4 runs, 40 steps in 4 chunks of 10.
"""

import csv
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.test_multihost import _env, _free_port

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "xor", "--layers", "8", "--steps", "40", "--eval-every", "10",
        "--batch-size", "32", "--values", "0.1,0.5", "--seeds", "2", "--quiet"]  # fmt: skip
CHECKPOINT = "checkpoint-prelu.npz"
LIMIT = 300  # seconds any launched process may live
PROG = "python -m experiments.sweep"


# -- launching, pausing and killing ---------------------------------------------------


def _start(out: Path, *extra: str, devices: int = 1, pause: str | None = None,
           argv: list[str] = TINY) -> subprocess.Popen:  # fmt: skip
    """``python -m experiments.sweep`` on ``devices`` CPU devices, umask 022."""
    env = _env(devices)
    if pause is not None:
        env["JAXACT_PAUSE_AT"] = pause
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.sweep", *argv, "--out", str(out), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        umask=0o022,
    )


def _finish(p: subprocess.Popen, timeout: float = LIMIT) -> subprocess.CompletedProcess:
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _sweep(out: Path, *extra: str, devices: int = 1, argv: list[str] = TINY):
    return _finish(_start(out, *extra, devices=devices, argv=argv))


def _wait_paused(p: subprocess.Popen, point: str) -> None:
    """Reads ``p``'s stderr until it says it paused at ``point``."""
    timer = threading.Timer(LIMIT, p.kill)
    timer.start()
    lines = []
    try:
        while True:
            line = p.stderr.readline()
            if not line:
                raise AssertionError(
                    f"ended (rc {p.wait()}) before pausing at {point}: {''.join(lines)[-3000:]}"
                )
            lines.append(line)
            if line.startswith(f"paused at {point}"):
                return
    finally:
        timer.cancel()


def _continue(p: subprocess.Popen) -> None:
    """SIGCONT once ``p`` has stopped itself (it prints before it stops: wait for the stop)."""
    _, status = os.waitpid(p.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"ended instead of pausing (wait status {status})"
    p.send_signal(signal.SIGCONT)


def _kill_9(*procs: subprocess.Popen) -> None:
    """SIGKILL for each process and its children (a supervisor's child first)."""
    for p in procs:
        if p.poll() is not None and p.stdout.closed:
            continue  # already reaped
        children = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True)
        for pid in children.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        if p.poll() is None:
            p.kill()
        p.communicate()


def _interrupt(out: Path, pause: str, *, devices: int = 1) -> None:
    """Runs the sweep into ``out`` and kills it with SIGKILL at ``pause``."""
    p = _start(out, devices=devices, pause=pause)
    try:
        _wait_paused(p, pause.split(":")[0])
    finally:
        _kill_9(p)
    assert p.returncode == -signal.SIGKILL


# -- comparing results ------------------------------------------------------------


def _members(path: Path) -> list[tuple[str, bytes]]:
    """An .npz's members and their bytes (the zip's own timestamps left aside)."""
    with zipfile.ZipFile(path) as z:
        return [(name, z.read(name)) for name in z.namelist()]


def _assert_identical(a: Path, b: Path) -> None:
    """results.csv byte for byte, and every array of history.npz byte for byte."""
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
    assert _members(a / "history.npz") == _members(b / "history.npz")


def _assert_same_numbers(a: Path, b: Path) -> None:
    """The same runs and numbers up to float32 rounding (another device layout)."""
    with open(a / "results.csv") as f, open(b / "results.csv") as g:
        ra, rb = list(csv.DictReader(f)), list(csv.DictReader(g))
    assert len(ra) == len(rb) == 4 and ra[0].keys() == rb[0].keys()
    for x, y in zip(ra, rb, strict=True):
        for k in x:
            try:
                np.testing.assert_allclose(float(x[k]), float(y[k]), rtol=1e-5, atol=1e-6)
            except ValueError:
                assert x[k] == y[k], k
    ha, hb = np.load(a / "history.npz"), np.load(b / "history.npz")
    assert ha.files == hb.files
    for k in ha.files:
        if ha[k].dtype.kind == "f":
            np.testing.assert_allclose(ha[k], hb[k], rtol=1e-5, atol=1e-6, err_msg=k)
        else:
            np.testing.assert_array_equal(ha[k], hb[k], err_msg=k)


def _resumed_from(out: Path) -> int:
    import json

    return json.loads((out / "config.json").read_text())["timing"]["resumed_from_step"]["prelu"]


def _assert_finished_cleanly(out: Path) -> None:
    """No checkpoint, no temporary file; every file 0644 (umask 022)."""
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".tmp-") or n.startswith("checkpoint")], names
    assert "results.csv" in names and "history.npz" in names
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, (p.name, oct(p.stat().st_mode))


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr[-3000:]
    assert "Traceback" not in stderr and "Check failure" not in stderr
    assert lines[0].startswith(f"{PROG}: error: "), lines[0]
    return lines[0]


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted sweep on one device."""
    out = tmp_path_factory.mktemp("reference") / "out"
    r = _sweep(out)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def killed_in_a_chunk(tmp_path_factory) -> Path:
    """A sweep on one device killed -9 while its second chunk was in flight (pristine: copy it)."""
    out = tmp_path_factory.mktemp("killed") / "out"
    _interrupt(out, "chunk:2")
    assert (out / "config.json").exists() and (out / CHECKPOINT).exists()
    assert not (out / "results.csv").exists()
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# -- kill -9 and rerun: identical files -----------------------------------------------


@pytest.mark.slow
def test_kill_9_during_a_chunk_then_rerun_gives_identical_files(
    reference, killed_in_a_chunk, tmp_path
):
    out = _copy(killed_in_a_chunk, tmp_path / "out")
    r = _sweep(out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 0 < _resumed_from(out) < 40
    _assert_identical(out, reference)
    _assert_finished_cleanly(out)


@pytest.mark.slow
def test_kill_9_during_the_checkpoint_write_then_rerun_gives_identical_files(reference, tmp_path):
    out = tmp_path / "out"
    _interrupt(out, "checkpoint-write:2")
    leftovers = list(out.glob(".tmp-*" + CHECKPOINT))
    assert len(leftovers) == 1  # the write in flight; the previous checkpoint is whole:
    with np.load(out / CHECKPOINT) as z:
        assert int(z["step"]) == 10
    r = _sweep(out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _resumed_from(out) == 10
    _assert_identical(out, reference)
    _assert_finished_cleanly(out)  # the leftover temporary file is gone


@pytest.mark.slow
def test_kill_9_during_the_final_write_then_rerun_gives_identical_files(reference, tmp_path):
    out = tmp_path / "out"
    _interrupt(out, "final-write")
    assert (out / "results.csv").exists() and not (out / "history.npz").exists()
    assert list(out.glob(".tmp-*history.npz"))
    r = _sweep(out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _resumed_from(out) == 40  # nothing left to train: the outputs are written again
    _assert_identical(out, reference)
    _assert_finished_cleanly(out)


@pytest.mark.slow
def test_an_uninterrupted_sweep_leaves_only_0644_files(reference):
    _assert_finished_cleanly(reference)


# -- one sweep per output folder ------------------------------------------------------


@pytest.mark.slow
def test_a_second_sweep_into_a_locked_folder_exits_2_at_once_naming_the_holder(reference, tmp_path):
    out = tmp_path / "out"
    first = _start(out, pause="locked")  # holds the lock, before loading data or config.json
    try:
        _wait_paused(first, "locked")
        before = sorted(p.name for p in out.iterdir())
        for argv in (TINY, TINY[:-3] + ["--seeds", "3", "--quiet"]):  # same and other config
            r = _sweep(out, argv=argv)
            assert r.returncode == 2
            line = _one_line(r.stderr)
            assert f"--out {out} is in use by another run (pid {first.pid} on host " in line
            assert socket.gethostname() in line and "started " in line
            assert r.stdout == ""
            assert sorted(p.name for p in out.iterdir()) == before
        _continue(first)
        r = _finish(first)
    finally:
        if first.poll() is None:
            _kill_9(first)
    assert r.returncode == 0, r.stderr[-3000:]
    _assert_identical(out, reference)


# -- checkpoints that are not this sweep's -----------------------------------------------


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda data: b"\x00garbage" * 100, "not a readable checkpoint"),
        (_truncated, "not a readable checkpoint"),
        (lambda data: b"", "not a readable checkpoint"),
    ],
    ids=["garbage", "truncated", "empty"],
)
def test_an_unreadable_checkpoint_exits_2_with_one_line_and_the_options(
    killed_in_a_chunk, tmp_path, damage, expected
):
    out = _copy(killed_in_a_chunk, tmp_path / "out")
    bad = damage((out / CHECKPOINT).read_bytes())
    (out / CHECKPOINT).write_bytes(bad)
    r = _sweep(out)
    assert r.returncode == 2
    line = _one_line(r.stderr)
    assert expected in line and "--overwrite" in line and "away" in line
    assert (out / CHECKPOINT).read_bytes() == bad  # untouched: nothing lost
    assert not (out / "results.csv").exists()


@pytest.mark.slow
def test_another_sweeps_checkpoint_is_never_resumed(killed_in_a_chunk, tmp_path):
    """A 4-run checkpoint in a folder without config.json, offered to a 3 × 3 sweep."""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(killed_in_a_chunk / CHECKPOINT, out / CHECKPOINT)
    other = TINY[:-5] + ["--values", "0.1,0.3,0.5", "--seeds", "3", "--quiet"]
    r = _sweep(out, argv=other)
    assert r.returncode == 2
    line = _one_line(r.stderr)
    assert "belongs to another sweep" in line and "--overwrite" in line and "away" in line
    assert (out / CHECKPOINT).read_bytes() == (killed_in_a_chunk / CHECKPOINT).read_bytes()
    assert not (out / "results.csv").exists()


# -- resume on another device count or process count -----------------------------------


@pytest.mark.slow
def test_resume_on_2_devices_of_a_sweep_killed_on_1(reference, killed_in_a_chunk, tmp_path):
    out = _copy(killed_in_a_chunk, tmp_path / "out")
    r = _sweep(out, devices=2)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 0 < _resumed_from(out) < 40
    _assert_same_numbers(out, reference)
    _assert_finished_cleanly(out)


@pytest.mark.slow
def test_resume_on_1_device_of_a_sweep_killed_on_2(reference, tmp_path):
    out = tmp_path / "out"
    _interrupt(out, "chunk:2", devices=2)
    assert (out / CHECKPOINT).exists() and not (out / "results.csv").exists()
    r = _sweep(out, devices=1)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 0 < _resumed_from(out) < 40
    _assert_same_numbers(out, reference)
    _assert_finished_cleanly(out)


def _start_processes(outs: list[Path], port: int, pauses: list[str | None]):
    flags = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(len(outs)),
             "--init-timeout", "60", "--heartbeat-timeout", "10"]  # fmt: skip
    return [
        _start(out, *flags, "--process-id", str(i), pause=pause)
        for i, (out, pause) in enumerate(zip(outs, pauses, strict=True))
    ]


@pytest.mark.slow
def test_resume_on_1_process_of_a_sweep_killed_on_2(reference, tmp_path):
    out0, out1 = tmp_path / "p0", tmp_path / "p1"
    procs = _start_processes([out0, out1], _free_port(), ["chunk:2", "chunk:2"])
    try:
        for p in procs:
            _wait_paused(p, "chunk")
    finally:
        _kill_9(*procs)
    assert (out0 / CHECKPOINT).exists() and not (out0 / "results.csv").exists()
    r = _sweep(out0, devices=1)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 0 < _resumed_from(out0) < 40
    _assert_same_numbers(out0, reference)
    _assert_finished_cleanly(out0)


@pytest.mark.slow
def test_a_dead_peer_ends_the_sweep_with_one_line_in_bounded_time(reference, tmp_path):
    """Process 1 is killed while process 0 waits for it in a collective (gathering a
    checkpoint); process 0 ends with one line, within the heartbeat timeout and a margin."""
    out0, out1 = tmp_path / "p0", tmp_path / "p1"
    procs = _start_processes([out0, out1], _free_port(), [None, "chunk:2"])
    try:
        _wait_paused(procs[1], "chunk")
        time.sleep(1)  # process 0 reaches the checkpoint's gather and waits there
        _kill_9(procs[1])
        r = _finish(procs[0], timeout=10 + 60)  # --heartbeat-timeout 10, and a margin
    finally:
        _kill_9(*procs)
    assert r.returncode == 1
    line = _one_line(r.stderr)
    assert "another process" in line and "Rerun the same command" in line
    assert "[Gloo]" not in r.stdout
    # The sweep stays resumable, here on one process.
    r = _sweep(out0, devices=1)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 0 < _resumed_from(out0) < 40
    _assert_same_numbers(out0, reference)


def test_the_pause_hook_is_off_unless_asked_and_stops_at_the_nth_pass():
    code = (
        "from jaxact._src.engine import pause_point\n"
        "for i in range(3):\n"
        "    pause_point('p'); pause_point('q'); print('passed', i, flush=True)\n"
    )
    run = lambda env: subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env={**_env(1), **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    r = _finish(run({}))
    assert r.returncode == 0 and r.stdout.count("passed") == 3 and r.stderr == ""
    p = run({"JAXACT_PAUSE_AT": "q:2"})
    try:
        _wait_paused(p, "q")
        assert p.stdout.readline() == "passed 0\n"  # the first pass went by
        _continue(p)
        r = _finish(p)
    finally:
        _kill_9(p)
    assert r.returncode == 0 and r.stdout == "passed 1\npassed 2\n"


def test_every_test_named_in_the_reliability_doc_exists():
    import re

    doc = (ROOT / "docs" / "reliability.md").read_text()
    named = set(re.findall(r"`(?:tests/\w+\.py::)?(test_\w+)", doc))
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)\(", path.read_text(), re.M))
    assert len(named) > 20 and named <= defined, sorted(named - defined)
