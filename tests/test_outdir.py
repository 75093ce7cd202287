"""experiments.outdir and jaxact._src.io: the output folder's lock, config and checkpoint checks."""

import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from experiments import data, outdir
from experiments.cli import UsageError
from jaxact._src import io as jio

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys, time
from experiments.outdir import OutputDir
d = OutputDir(sys.argv[1])
d.acquire()
print("locked", flush=True)
time.sleep(120)
"""


@contextlib.contextmanager
def _umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@contextlib.contextmanager
def _holder(path):
    """A live process that holds ``path``'s lock."""
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = p.stdout.readline()
        assert line == "locked\n", p.stderr.read()
        yield p
    finally:
        if p.poll() is None:
            p.kill()
        p.communicate()


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# -- the lock -----------------------------------------------------------------


def test_a_live_holder_refuses_a_second_run_and_names_itself(tmp_path):
    out = tmp_path / "run"
    with _holder(out) as p:
        with pytest.raises(UsageError) as e:
            outdir.OutputDir(out).acquire()
        msg = str(e.value)
        assert msg.startswith(f"--out {out} is in use by another run (pid {p.pid} on host ")
        assert socket.gethostname() in msg and "started 20" in msg
        assert "\n" not in msg
    with outdir.OutputDir(out):  # the holder is gone: free again
        pass


def test_a_killed_holder_never_blocks(tmp_path):
    out = tmp_path / "run"
    with _holder(out) as p:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert (out / outdir.LOCK_NAME).exists()  # the stale lock file stays ...
    with outdir.OutputDir(out) as d:  # ... and does not block
        assert d.locked
        info = json.loads((out / outdir.LOCK_NAME).read_text())
        assert info["pid"] == os.getpid()


def test_the_lock_is_released_on_exit_and_on_error(tmp_path):
    out = tmp_path / "run"
    d = outdir.OutputDir(out)
    with d:
        with pytest.raises(UsageError, match="in use by another run"):
            outdir.OutputDir(out).acquire()  # the same process, another open file
    assert not d.locked
    with pytest.raises(RuntimeError, match="boom"), outdir.OutputDir(out):
        raise RuntimeError("boom")
    with outdir.OutputDir(out):
        pass


# -- the folder ---------------------------------------------------------------


def test_out_is_a_regular_file(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(UsageError, match=f"^--out {f}: exists and is not a directory$"):
        outdir.OutputDir(f).acquire()


def test_out_under_a_file(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(UsageError, match=f"^--out {f}/a/b: {f} is a file, not a directory$"):
        outdir.OutputDir(f / "a" / "b").acquire()


def test_out_cannot_be_created():
    with pytest.raises(UsageError, match=r"^--out /sys/jaxact-test/run: cannot create it"):
        outdir.OutputDir("/sys/jaxact-test/run").acquire()


def test_out_not_writable(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere a mode allows nothing; /sys refuses even root
        target = Path("/sys")
        match = r"^--out /sys: (is not writable|cannot create \.lock in it)"
    else:
        target = tmp_path / "ro"
        target.mkdir()
        target.chmod(0o555)
        match = "is not writable"
    with pytest.raises(UsageError, match=match):
        outdir.OutputDir(target, flag="--out").acquire()


def test_leftover_temp_files_are_removed(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".tmp-abc123checkpoint.npz").write_bytes(b"x" * 100)
    (out / ".tmp-def").write_text("y")
    (out / ".tmp-dir").mkdir()
    (out / "results.csv").write_text("keep")
    with outdir.OutputDir(out) as d:
        assert sorted(p.name for p in d.removed) == [".tmp-abc123checkpoint.npz", ".tmp-def"]
    assert sorted(p.name for p in out.iterdir()) == [".lock", ".tmp-dir", "results.csv"]


# -- the config ---------------------------------------------------------------


def test_check_config_lists_the_keys_that_differ(tmp_path):
    config = {"values": [0.1, 0.2], "seeds": 2, "lr": 0.01, "layers": (8,)}
    with outdir.OutputDir(tmp_path / "run") as d:
        assert d.check_config(config, key="sweep") is False  # nothing there yet
        d.write_json("config.json", {"sweep": config, "timing": {}})
        assert d.check_config(dict(config), key="sweep") is True
        other = {**config, "seeds": 3, "lr": 0.003}
        with pytest.raises(UsageError) as e:
            d.check_config(other, key="sweep")
        msg = str(e.value)
        assert "different config (lr: 0.01 → 0.003; seeds: 2 → 3)" in msg
        assert "--overwrite" in msg and "values" not in msg
        assert d.check_config(other, key="sweep", overwrite=True) is False


def test_check_config_unreadable(tmp_path):
    with outdir.OutputDir(tmp_path / "run") as d:
        (d.path / "config.json").write_text("{truncated")
        with pytest.raises(UsageError, match=r"config.json is unreadable \(JSONDecodeError"):
            d.check_config({"seeds": 2})
        assert d.check_config({"seeds": 2}, overwrite=True) is False


def test_config_differences_many_keys():
    diff = outdir.config_differences({f"k{i}": i for i in range(9)}, {})
    assert len(diff) == 9 and diff[0] == "k0: 0 → (absent)"


# -- file permissions -----------------------------------------------------------


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_write_gives_the_usual_permissions(tmp_path, mask, mode):
    with _umask(mask):
        jio.atomic_write(tmp_path / "a.bin", lambda f: f.write(b"1"))
        jio.atomic_write(tmp_path / "b.txt", lambda f: f.write("é"), mode="w")
        with outdir.OutputDir(tmp_path / "run") as d:
            d.write_json("config.json", {"a": 1})
        data._write_npz_atomic(tmp_path / "cache.npz", {"x": np.zeros(2)})
    for name in ("a.bin", "b.txt", "run/config.json", "cache.npz"):
        assert _mode(tmp_path / name) == mode, name
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "é"


def test_the_umask_is_read_without_changing_it():
    with _umask(0o027):
        assert jio.current_umask() == 0o027
        assert jio.default_file_mode() == 0o640
        assert os.umask(0o027) == 0o027


def test_atomic_write_failure_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "x.txt"
    jio.atomic_write(target, lambda f: f.write("old"), mode="w")

    def fail(f):
        f.write("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        jio.atomic_write(target, fail, mode="w")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
    with pytest.raises(ValueError, match="mode must be"):
        jio.atomic_write(target, lambda f: None, mode="a")


# -- checkpoints --------------------------------------------------------------

CONFIG = {"activation": "prelu", "values": [0.1, 0.3, 0.5], "seeds": 3}
IDENT = outdir.sweep_identity(CONFIG, 9)


def _checkpoint(path, identity=IDENT, **extra):
    arrays = {"step": np.asarray(10), "leaf_0": np.ones((9, 2), np.float32), **extra}
    if identity is not None:
        arrays[outdir.IDENTITY_KEY] = outdir.identity_array(identity)
    jio.atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


def test_identity_depends_on_what_fixes_the_runs():
    assert outdir.sweep_identity(dict(reversed(CONFIG.items())), 9) == IDENT
    assert outdir.sweep_identity({**CONFIG, "seeds": 2}, 9) != IDENT
    assert outdir.sweep_identity(CONFIG, 4) != IDENT
    assert outdir.sweep_identity({**CONFIG, "values": [0.1, 0.5, 0.3]}, 9) != IDENT
    assert outdir.sweep_identity({**CONFIG, "values": np.array([0.1, 0.3, 0.5])}, 9) == IDENT
    with pytest.raises(ValueError, match="num_runs"):
        outdir.sweep_identity(CONFIG, 0)
    with pytest.raises(ValueError):
        outdir.sweep_identity({"v": float("nan")}, 1)


def test_a_valid_checkpoint_is_returned(tmp_path):
    arrays = outdir.validate_checkpoint(_checkpoint(tmp_path / "c.npz"), IDENT, required=["step"])
    assert int(arrays["step"]) == 10 and arrays["leaf_0"].shape == (9, 2)


def _garbage(p):
    p.write_bytes(os.urandom(4096))


def _empty(p):
    p.write_bytes(b"")


def _truncated(p):
    _checkpoint(p)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _corrupt_member(p):
    _checkpoint(p)
    raw = bytearray(p.read_bytes())
    i = raw.index(b"\x93NUMPY") + 200  # inside the first array's data
    raw[i : i + 8] = b"\xff" * 8
    p.write_bytes(bytes(raw))


def _pickled(p):
    np.savez(p, obj=np.array([{"a": 1}], dtype=object))


def _npy(p):
    with open(p, "wb") as f:
        np.save(f, np.ones(3))


def _text(p):
    p.write_text("not a checkpoint\n")


def _zip_without_arrays(p):
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("readme.txt", "hello")


@pytest.mark.parametrize(
    "make, reason",
    [
        (_garbage, "unreadable"),
        (_empty, r"unreadable \(the file is empty\)"),
        (_truncated, "unreadable"),
        (_corrupt_member, "unreadable"),
        (_pickled, r"unreadable \(not an .npz archive of arrays\)"),
        (_npy, r"unreadable \(ValueError: a single .npy array"),
        (_text, "unreadable"),
        (_zip_without_arrays, "carries no sweep identity"),
        (lambda p: _checkpoint(p, identity=None), "carries no sweep identity"),
        (
            lambda p: _checkpoint(p, identity=outdir.sweep_identity(CONFIG, 4)),
            "belongs to a different sweep",
        ),
        (
            lambda p: _checkpoint(p, None, **{outdir.IDENTITY_KEY: np.arange(3)}),
            r"belongs to a different sweep \(identity malformed",
        ),
    ],
)
def test_bad_checkpoints_give_one_clear_line(tmp_path, make, reason):
    path = tmp_path / "checkpoint.npz"
    make(path)
    with pytest.raises(UsageError) as e:
        outdir.validate_checkpoint(path, IDENT, required=["step", "leaf_0"])
    msg = str(e.value)
    assert msg.startswith(f"checkpoint {path} ")
    assert re.search(reason, msg), msg
    assert "pass --overwrite to start the sweep again, or move checkpoint.npz away" in msg
    assert "\n" not in msg and len(msg) < 400


def test_an_incomplete_checkpoint(tmp_path):
    path = _checkpoint(tmp_path / "c.npz")
    with pytest.raises(UsageError, match=r"is incomplete \(missing history_loss, num_runs\)"):
        outdir.validate_checkpoint(path, IDENT, required=["step", "num_runs", "history_loss"])


def test_a_missing_checkpoint(tmp_path):
    with pytest.raises(UsageError, match=r"unreadable \(FileNotFoundError"):
        outdir.validate_checkpoint(tmp_path / "none.npz", IDENT)
