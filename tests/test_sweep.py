"""``python -m experiments.sweep``: the end-to-end CLI, its files, resume and bad input."""

import csv
import json
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
    for name in sweep.OUTPUT_FILES:
        assert (out / name).exists(), name
    rows = _rows(out / "results.csv")
    assert len(rows) == 4
    assert [(r["value"], r["seed"]) for r in rows] == [
        ("0.1", "0"),
        ("0.1", "1"),
        ("0.5", "0"),
        ("0.5", "1"),
    ]
    assert {
        "final_train_loss",
        "test_accuracy",
        "learned_alpha_layer0",
        "learned_alpha_mean",
        "diverged",
    } <= set(rows[0])
    meta = json.loads((out / "config.json").read_text())
    assert meta["sweep"]["activation"] == "prelu" and meta["num_runs"] == 4
    assert meta["timing"]["compile_seconds"] > 0 and meta["versions"]["jax"]
    hist = np.load(out / "history.npz")
    assert hist["test_accuracy"].shape == (4, 5) and hist["alpha"].shape == (4, 5, 1)
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "best: alpha=" in printed


def test_same_command_gives_identical_numbers_and_resume_matches(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    config = sweep.resolve(sweep.build_parser().parse_args(TINY))
    ds = data.load("xor")
    assert sweep.run(config, ds, a, quiet=True) == 0
    # An interrupted run (stopped between chunks) resumed by the same command.
    with pytest.raises(KeyboardInterrupt):
        sweep.run(config, ds, b, quiet=True, stop_after_chunks=1)
    assert (b / "checkpoint.npz").exists() and not (b / "results.csv").exists()
    assert sweep.run(config, ds, b, quiet=True) == 0
    assert json.loads((b / "config.json").read_text())["timing"]["resumed_from_step"] > 0
    assert _rows(a / "results.csv") == _rows(b / "results.csv")
    ha, hb = np.load(a / "history.npz"), np.load(b / "history.npz")
    for k in ha.files:
        np.testing.assert_array_equal(ha[k], hb[k])


def test_different_config_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert sweep.main(TINY + ["--out", str(out)]) == 0
    changed = TINY[:-3] + ["--seeds", "1", "--quiet"]
    assert sweep.main(changed + ["--out", str(out)]) == 2
    assert "different config" in capsys.readouterr().err
    assert sweep.main(changed + ["--out", str(out), "--overwrite"]) == 0
    assert len(_rows(out / "results.csv")) == 2


def test_fixed_mode_keeps_parameter(tmp_path):
    out = tmp_path / "fixed"
    assert sweep.main(TINY + ["--out", str(out), "--fixed"]) == 0
    rows = _rows(out / "results.csv")
    assert all(float(r["learned_alpha_mean"]) == pytest.approx(float(r["value"])) for r in rows)
    assert all(r["learnable"] == "False" for r in rows)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--activation", "prelux"], "prelu"),
        (["--activation", "relu"], "no continuous parameter"),
        (["--param", "beta"], "valid: ['alpha']"),
        (["--values", ""], "--values is empty"),
        (["--values", "a,b"], "--values must be numbers"),
        (["--values", "0:1"], "--values must be numbers"),
        (["--steps", "0"], "--steps must be > 0"),
        (["--steps", "-3"], "--steps must be > 0"),
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
    with pytest.raises(sweep.UsageError):
        sweep.parse_values("1:2:0")
    with pytest.raises(sweep.UsageError):
        sweep.parse_values("nan")
