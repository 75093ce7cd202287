"""experiments.binary (C11): the seed-002 model, its cost curve, the study end to end."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from experiments import binary, findings


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
    assert binary._falls(down, 10) == (
        True,
        float(np.max(np.diff(down[0].reshape(10, 20).mean(1)))),
    )
    assert binary._falls(down[:, ::-1], 10)[0] is False
    noisy = down + 0.0005 * np.cos(np.arange(200))[None]  # wiggles below the tolerance
    assert binary._falls(noisy, 10)[0] is True


def test_study_quick_end_to_end(tmp_path):
    out = tmp_path / "binary"
    binary.run(out, quick=True)
    (c11,) = findings.read(out / "findings.json")
    assert c11.claim == "C11" and c11.sources == ("002",)
    assert c11.verdict in findings.VERDICTS
    assert (out / "cost.png").read_bytes()[:4] == b"\x89PNG"
    assert f"{binary.QUICK_EPOCHS:,} epochs × 12 batches of 64" in c11.numbers
    assert "majority-class rate" in c11.numbers and "wall time" in c11.numbers


def test_learned_needs_the_interval_above_the_majority_rate():
    assert binary._learned(np.array([0.90, 0.91, 0.92, 0.90]), 0.805) == "learned"
    # every seed at the majority rate: the bias alone, not the task
    assert binary._learned(np.array([0.805, 0.805, 0.805, 0.805]), 0.805) == "not learned"
    # float32 rounding of the same accuracy does not count as beating it
    assert binary._learned(np.full(4, np.float32(0.805)), 1 - 0.195) == "not learned"
    # a mean above the rate inside seed noise decides nothing
    assert binary._learned(np.array([0.78, 0.84, 0.80, 0.83]), 0.805) == "inconclusive"


def test_standardising_fixes_the_conditioning():
    from experiments import data

    ds = data.load("binary", seed=0)
    std = binary._standardised(ds)
    np.testing.assert_allclose(std.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(std.x_train.std(0), 1, atol=1e-5)
    assert std.x_test.shape == ds.x_test.shape and (std.y_test == ds.y_test).all()
    assert binary._condition(ds) > 1000 > 10 > binary._condition(std)
