"""C16's study (experiments/rational_study.py): model construction and an end-to-end quick run."""

import numpy as np
import pytest

from experiments import findings, rational_study


def test_every_variant_builds_and_unknown_is_named():
    import jax
    import jax.numpy as jnp

    x = jnp.ones((2, 4))
    for v in rational_study.VARIANTS:
        model = rational_study.make_model(v, (3,), 2)
        params = model.init(jax.random.key(0), x)["params"]
        assert model.apply({"params": params}, x).shape == (2, 2)
    with pytest.raises(ValueError, match="variant: expected one of"):
        rational_study.activation("softmaxx")


def test_chosen_learning_rate_ignores_diverged_runs():
    val = np.array([[0.9, 0.9], [0.5, 0.5]])
    vr = {"val": val, "test": val - 0.1, "diverged": np.array([[True, False], [False, False]])}
    i, v, t = rational_study.chosen(vr)
    assert i == 1 and np.allclose(v, 0.5) and np.allclose(t, 0.4)


@pytest.mark.slow
def test_quick_run_writes_the_finding_and_figure(tmp_path):
    (f,) = rational_study.run(tmp_path, quick=True)
    assert f.claim == "C16" and f.verdict in findings.VERDICTS
    assert (tmp_path / "rational_shapes.png").exists()
    table = [line for line in f.numbers.splitlines() if line.startswith("| ") and "% ±" in line]
    assert len(table) == len(rational_study.VARIANTS)
    assert "paired" in f.headline
