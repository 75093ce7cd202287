"""``python -m experiments.sweep``: the end-to-end CLI, its files, resume and bad input."""

import csv
import json
import os
import shlex
import stat
import subprocess
import sys

import numpy as np
import pytest

from experiments import data, sweep

TINY = [
    "--dataset",
    "xor",
    "--layers",
    "8",
    "--steps",
    "40",
    "--eval-every",
    "10",
    "--batch-size",
    "32",
    "--values",
    "0.1,0.5",
    "--seeds",
    "2",
    "--quiet",
]


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_tiny_sweep_writes_every_file(tmp_path, capsys):
    out = tmp_path / "run"
    assert sweep.main(TINY + ["--out", str(out)]) == 0
    for name in sweep.RESULT_FILES:
        assert (out / name).exists(), name
    assert not list(out.glob("checkpoint*"))  # removed at the end (no --keep-checkpoint)
    for name in sweep.RESULT_FILES:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name
    rows = _rows(out / "results.csv")
    assert len(rows) == 4
    assert [(r["initial_value"], r["seed"]) for r in rows] == [
        ("0.1", "0"),
        ("0.1", "1"),
        ("0.5", "0"),
        ("0.5", "1"),
    ]
    assert {
        "train_loss",
        "val_accuracy",
        "test_accuracy",
        "learning_rate",
        "learned_alpha_layer0",
        "learned_alpha_mean",
        "diverged",
    } <= set(rows[0])
    meta = json.loads((out / "config.json").read_text())
    assert meta["sweep"]["activations"] == ["prelu"] and meta["num_runs"] == 4
    assert meta["timing"]["compile_seconds"] >= 0 and meta["versions"]["jax"]
    assert meta["versions"]["jaxact"] and "git_commit" in meta["versions"]
    hist = np.load(out / "history.npz")
    assert hist["test_accuracy"].shape == (4, 5) and hist["learned_alpha"].shape == (4, 5, 1)
    assert hist["val_accuracy"].shape == (4, 5)
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "best on validation: prelu alpha=" in printed


def test_recorded_command_reproduces_the_config():
    argv = TINY + ["--values=0.1,0.30000000000000004,-0.05", "--lr", "0.003,0.01"]
    config = sweep.resolve(sweep.build_parser().parse_args(argv))
    again = shlex.split(sweep.command_line(config))[3:]
    assert sweep.resolve(sweep.build_parser().parse_args(again + ["--quiet"])) == config


def test_several_activations_and_learning_rates_in_one_table(tmp_path, capsys):
    out = tmp_path / "multi"
    argv = [a for a in TINY if a != "--quiet"]
    argv += ["--activation", "prelu,relu", "--lr", "0.003,0.03", "--out", str(out)]
    assert sweep.main(argv) == 0
    rows = _rows(out / "results.csv")
    # prelu: 2 values x 2 lrs x 2 seeds; relu: 1 x 2 x 2
    assert len(rows) == 12
    assert [r["activation"] for r in rows] == ["prelu"] * 8 + ["relu"] * 4
    assert {r["learning_rate"] for r in rows} == {"0.003", "0.03"}
    assert all(r["initial_value"] == "" for r in rows if r["activation"] == "relu")
    printed = capsys.readouterr()
    assert "compiling 4 programs" in printed.err
    assert "relu: step 40/40" in printed.err and "\r" not in printed.err  # plain lines off a terminal
    assert "best on validation" in printed.out


def test_same_command_gives_identical_numbers_and_resume_matches(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    config = sweep.resolve(sweep.build_parser().parse_args(TINY))
    ds = data.load("xor")
    assert sweep.run(config, ds, a, quiet=True) == 0
    # An interrupted run (stopped between chunks) resumed by the same command.
    with pytest.raises(KeyboardInterrupt):
        sweep.run(config, ds, b, quiet=True, stop_after_chunks=1)
    assert (b / "checkpoint-prelu.npz").exists() and not (b / "results.csv").exists()
    assert sweep.run(config, ds, b, quiet=True) == 0
    assert json.loads((b / "config.json").read_text())["timing"]["resumed_from_step"]["prelu"] > 0
    assert _rows(a / "results.csv") == _rows(b / "results.csv")
    ha, hb = np.load(a / "history.npz"), np.load(b / "history.npz")
    for k in ha.files:
        np.testing.assert_array_equal(ha[k], hb[k])


def test_different_config_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert sweep.main(TINY + ["--out", str(out)]) == 0
    changed = TINY[:-3] + ["--seeds", "1", "--quiet"]
    assert sweep.main(changed + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "different config" in err and "seeds" in err and err.count("\n") == 1
    assert sweep.main(changed + ["--out", str(out), "--overwrite"]) == 0
    assert len(_rows(out / "results.csv")) == 2


def test_foreign_or_garbage_checkpoint_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    config = sweep.resolve(sweep.build_parser().parse_args(TINY))
    ds = data.load("xor")
    with pytest.raises(KeyboardInterrupt):
        sweep.run(config, ds, out, quiet=True, stop_after_chunks=1)
    (out / "checkpoint-prelu.npz").write_bytes(b"not a zip file")
    assert sweep.run(config, ds, out, quiet=True) == 2
    err = capsys.readouterr().err
    assert "not a readable checkpoint" in err and "--overwrite" in err and err.count("\n") == 1
    assert sweep.run(config, ds, out, quiet=True, overwrite=True) == 0


def test_locked_output_folder_is_refused(tmp_path, capsys):
    from experiments.outdir import OutputDir

    out = tmp_path / "run"
    with OutputDir(out):
        assert sweep.main(TINY + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "in use by another run" in err and f"pid {os.getpid()}" in err


def test_fixed_mode_keeps_parameter(tmp_path):
    out = tmp_path / "fixed"
    assert sweep.main(TINY + ["--out", str(out), "--fixed"]) == 0
    rows = _rows(out / "results.csv")
    assert not any(k.startswith("learned_") for k in rows[0])
    assert all(r["learnable"] == "False" for r in rows)
    hist = np.load(out / "history.npz")
    np.testing.assert_allclose(hist["param_alpha"][..., 0], np.repeat([0.1, 0.5], 2)[:, None] * np.ones((1, 5)), rtol=1e-6)
    assert not (out / "param_trajectories.png").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--activation", "prelux"], "prelu"),
        (["--activation", "relu", "--values", "0.1"], "no continuous parameter"),
        (["--values=1e40"], "float32"),
        (["--lr", "1e39"], "float32"),
        (["--values=1,,2"], "empty"),
        (["--values=0.5,0.5"], "appears 2 times"),
        (["--seeds", "5000000000"], "--seeds"),
        (["--layers", "100000000000"], "--layers"),
        (["--layers", "5000000,5000000"], "memory"),
        (["--activation", "prelu,prelu"], "twice"),
        (["--param", "beta"], "valid: ['alpha']"),
        (["--values", ""], "--values is empty"),
        (["--values", "a,b"], "--values"),
        (["--values", "0:1"], "--values"),
        (["--steps", "0"], "--steps"),
        (["--steps", "-3"], "--steps"),
        (["--batch-size", "100000"], "larger than the xor training set"),
        (["--eval-every", "7"], "must divide --steps"),
        (["--init", "zeros"], "--init 'zeros' is unknown"),
        (
            ["--activation", "parametric_selu", "--param", "scale", "--values=-1,1"],
            "must be > 0",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    assert sweep.main(TINY + argv + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_missing_idx_file_names_it(tmp_path, capsys):
    out = tmp_path / "never"
    argv = ["--dataset", "mnist", "--data-dir", str(tmp_path / "empty"), "--out", str(out)]
    assert sweep.main(argv) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and err.count("\n") == 1
    assert not out.exists()


def test_help_documents_every_flag():
    text = subprocess.run(
        [sys.executable, "-m", "experiments.sweep", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in [
        "--activation",
        "--param",
        "--values",
        "--learnable",
        "--fixed",
        "--seeds",
        "--dataset",
        "--data-dir",
        "--steps",
        "--batch-size",
        "--lr",
        "--optimizer",
        "--layers",
        "--init",
        "--out",
        "--overwrite",
    ]:
        assert flag in text
    assert "default" in text


def test_parse_values():
    np.testing.assert_allclose(sweep.parse_values("0:1:5"), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(sweep.parse_values("0.1, 0.25"), [0.1, 0.25])
    np.testing.assert_allclose(sweep.parse_values("-0.1,0.1"), [-0.1, 0.1])
    with pytest.raises(sweep.UsageError):
        sweep.parse_values("1:2:0")
    with pytest.raises(sweep.UsageError):
        sweep.parse_values("nan")


def test_help_shows_one_default_per_flag_and_none_for_switches():
    text = sweep.build_parser().format_help()
    assert "(default: True)" not in text and "(default: False)" not in text
    for flag, default in (("--seeds", "2"), ("--values", "0:1:16"), ("--lr", "0.01"), ("--out", "runs/sweep")):
        body = text.split("options:", 1)[1]
        block = body.split(f"\n  {flag} ", 1)[1].split("\n  --", 1)[0]
        assert block.count("default") == 1 and f"(default: {default})" in block, block


def test_plots_use_a_colour_bar_and_log_x(tmp_path, monkeypatch):
    from experiments import figures

    calls = []
    real_curves = figures.curves
    monkeypatch.setattr(
        figures, "curves", lambda *a, **k: calls.append(("curves", k)) or real_curves(*a, **k)
    )
    out = tmp_path / "cb"
    argv = TINY + ["--values", "0:1:12", "--lr", "0.001,0.01,0.1", "--out", str(out)]
    assert sweep.main(argv) == 0
    traj = [k for name, k in calls if k["ylabel"].startswith("learned")][0]
    assert traj["colorbar"][0] == "initial alpha" and len(traj["colorbar"][1]) == 12
    assert "xor" in traj["title"] and "40 steps" in traj["title"]
    loss = [k for name, k in calls if k["ylabel"] == "cross-entropy"][0]
    assert loss["colorbar"] == ("learning rate", [0.001, 0.01, 0.1])
    assert figures.spans_decades([0.001, 0.01, 0.1]) and not figures.spans_decades([0.0, 1.0])
    with pytest.raises(ValueError, match="colorbar: 2 values for 1 series"):
        figures.curves(tmp_path / "x.png", np.arange(3), {"a": np.ones(3)}, title="t",
                       xlabel="x", ylabel="y", colorbar=("c", [1, 2]))


def test_progress_bar_on_a_terminal_shows_loss_accuracy_and_eta(monkeypatch):
    import io
    import types

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    progress = sweep._Progress(quiet=False, total=40, label="prelu")
    for step in (20, 40):
        hist = {
            "batch_loss": np.array([[np.nan, 0.5], [np.nan, 0.7]]),
            "val_accuracy": np.array([[0.1, 0.8], [0.1, 0.6]]),
        }
        progress(types.SimpleNamespace(step=step, history=hist))
    text = err.getvalue()
    assert "prelu" in text and "loss=0.6000" in text and "val_acc=70.00%" in text
    assert "40/40" in text and "<" in text  # tqdm's elapsed<remaining (ETA)
