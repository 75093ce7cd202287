"""experiments.studies.binary (C11): the seed-002 model, the verdict rule, the study end to end."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import data, findings
from experiments.studies import binary

MAJORITY = 0.805


def test_model_is_torch_linear_with_torch_init():
    model = binary._TorchLinear()
    params = model.init(jax.random.key(0), jnp.zeros((1, 3)))["params"]["Dense_0"]
    assert params["kernel"].shape == (3, 1) and params["bias"].shape == (1,)
    bound = 1 / math.sqrt(3)
    for leaf in (params["kernel"], params["bias"]):
        assert np.all(np.abs(leaf) <= bound) and np.any(leaf != 0)
    x = jnp.array([[10.0, 20.0, 30.0]])
    expected = x @ params["kernel"] + params["bias"]
    np.testing.assert_allclose(model.apply({"params": {"Dense_0": params}}, x), expected, rtol=1e-6)


def test_falls_rule():
    down = np.linspace(1.0, 0.5, 200)[None]
    assert binary.falls(down, 10) == (
        True,
        round(float(np.max(np.diff(down[0].reshape(10, 20).mean(1)))), 12),
    )
    assert binary.falls(down[:, ::-1], 10)[0] is False
    noisy = down + 0.0005 * np.cos(np.arange(200))[None]  # wiggles below the tolerance
    assert binary.falls(noisy, 10)[0] is True
    bump = down.copy()
    bump[0, 100:120] += 0.1  # one window rises by far more than the tolerance
    assert binary.falls(bump, 10)[0] is False
    # every run must end below its start
    flat_one = np.stack([down[0], np.full(200, 0.7)])
    assert binary.falls(flat_one, 10)[0] is False


def test_learned_needs_the_interval_above_the_majority_rate():
    assert binary.learned(np.array([0.90, 0.91, 0.92, 0.90, 0.91]), MAJORITY) == "learned"
    # every seed at the majority rate: the bias alone, not the task
    assert binary.learned(np.full(5, MAJORITY), MAJORITY) == "not learned"
    # float32 rounding of the same accuracy does not count as beating it
    assert binary.learned(np.full(5, np.float32(0.805)), 1 - 0.195) == "not learned"
    # a mean above the rate inside seed noise decides nothing
    assert binary.learned(np.array([0.78, 0.84, 0.80, 0.83, 0.81]), MAJORITY) == "inconclusive"


DOWN = np.tile(np.linspace(0.7, 0.5, 100), (5, 1))


@pytest.mark.parametrize(
    "cost, acc, expected",
    [
        (DOWN, [0.90, 0.91, 0.92, 0.90, 0.91], "supported"),
        # the cost falls but the model predicts the majority class: the bias alone
        (DOWN, [MAJORITY] * 5, "not supported"),
        (DOWN, [0.78, 0.84, 0.80, 0.83, 0.81], "inconclusive"),
        # the task is learned but the cost rises
        (DOWN[:, ::-1], [0.90, 0.91, 0.92, 0.90, 0.91], "not supported"),
    ],
)
def test_verdict(cost, acc, expected):
    assert binary.verdict(cost, acc, MAJORITY) == expected


def test_standardising_fixes_the_conditioning():
    ds = data.load("binary", seed=0)
    std = binary.standardised(ds)
    np.testing.assert_allclose(std.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(std.x_train.std(0), 1, atol=1e-5)
    assert std.x_test.shape == ds.x_test.shape and (std.y_test == ds.y_test).all()
    ev_raw, vec_raw = binary.second_moments(ds)
    ev_std, _ = binary.second_moments(std)
    assert ev_raw[-1] / ev_raw[0] > 1000 > 10 > ev_std[-1] / ev_std[0]
    assert abs(vec_raw[-1, 0]) > 0.99  # the flattest direction is the bias


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("binary")
    binary.run(out, quick=True)
    return out


def test_study_quick_end_to_end(quick_run):
    (c11,) = findings.read(quick_run / "findings.json")
    assert c11.claim == "C11" and c11.sources == ("002",)
    assert c11.verdict in findings.VERDICTS
    assert (quick_run / "cost.png").read_bytes()[:4] == b"\x89PNG"
    assert f"{binary.QUICK_EPOCHS:,} epochs × 12 batches of 64" in c11.numbers
    assert "majority-class rate" in c11.numbers and "wall time" in c11.numbers
    assert "learns only the bias" in c11.numbers and "condition number" in c11.numbers
    # the table: the raw row at two epochs, and the two standardised rows
    rows = [line for line in c11.numbers.splitlines() if line.startswith("| raw")]
    assert len(rows) == 2
    rows = [line for line in c11.numbers.splitlines() if line.startswith("| standardised")]
    assert len(rows) == 2 and f"| {binary.FAST_LR:g} | {binary.QUICK_FAST_EPOCHS:,} |" in rows[1]
    assert "n=5" in c11.headline


@pytest.mark.slow
def test_scale_not_budget_decides_whether_the_task_is_learned():
    # the same lr × steps (lr 1e-3, 1,000 epochs): raw inputs (almost) always predict the
    # majority class, standardised inputs learn the task
    ds = data.load("binary", seed=0)
    majority = max(np.mean(ds.y_test), 1 - np.mean(ds.y_test))
    raw = binary._train(ds, "raw", 1e-3, 1000)
    std = binary._train(binary.standardised(ds), "standardised", 1e-3, 1000)
    assert binary.learned(raw.test_accuracy[:, -1], majority) != "learned"
    assert np.all(raw.predicted_positive < 0.02)  # (almost) never says "positive"
    assert binary.learned(std.test_accuracy[:, -1], majority) == "learned"
