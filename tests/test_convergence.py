"""``experiments.convergence`` (C5, C8, C9): steps-to-threshold, parameter counts, quick run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import convergence, findings
from jaxact import linen


def test_steps_to_threshold_on_synthetic_histories():
    steps = np.array([0, 50, 100, 150])
    err = np.array(
        [
            [0.9, 0.6, 0.25, 0.1],  # reaches 0.25 exactly at 100 (≤ counts)
            [0.9, 0.2, 0.3, 0.1],  # first crossing counts, not a later one
            [0.9, 0.8, 0.7, 0.6],  # never
            [0.2, 0.2, 0.2, 0.2],  # already at step 0
            [np.nan, 0.1, 0.1, 0.1],  # NaN never reaches
        ]
    )
    np.testing.assert_array_equal(
        convergence.steps_to_threshold(steps, err, 0.25), [100, 50, -1, 0, 50]
    )
    acc = 1 - err
    np.testing.assert_array_equal(
        convergence.steps_to_threshold(steps, acc, 0.75, below=False), [100, 50, -1, 0, 50]
    )
    assert int(convergence.steps_to_threshold(steps, err[0], 0.5)) == 100
    per_run_steps = np.stack([steps, steps * 2, steps, steps, steps])
    np.testing.assert_array_equal(
        convergence.steps_to_threshold(per_run_steps, err, 0.25), [100, 100, -1, 0, 50]
    )


@pytest.mark.parametrize(
    "steps, values, threshold",
    [
        ([0, 1], np.zeros((2, 3)), 0.5),
        ([0, 1], np.zeros((2, 2, 2)), 0.5),
        ([0, 1], [0.0, 1.0], np.nan),
    ],
)
def test_steps_to_threshold_rejects_bad_input(steps, values, threshold):
    with pytest.raises(ValueError):
        convergence.steps_to_threshold(steps, values, threshold)


def test_step_ratio_counts_not_reached_as_the_horizon():
    ratio, lower = convergence.step_ratio([600, -1, -1, 300], [100, 250, -1, -1], 1000)
    np.testing.assert_array_equal(ratio[:2], [6.0, 4.0])
    assert np.isnan(ratio[2])  # neither reached: undefined
    assert ratio[3] == 0.3  # only the fast one censored: an upper bound, still a number
    np.testing.assert_array_equal(lower, [False, True, False, False])


@pytest.mark.parametrize("hidden", [(100, 100), (7, 5, 3)])
def test_maxout_mlp_has_exactly_twice_the_hidden_weights(hidden):
    x = jnp.zeros((1, 40))
    shapes = lambda m: jax.eval_shape(lambda x: m.init(jax.random.key(0), x), x)["params"]
    pm = shapes(convergence.model("maxout", "he_normal", 10, hidden))
    pr = shapes(convergence.model("relu", "he_normal", 10, hidden))
    cm, cr = convergence.parameter_counts(pm), convergence.parameter_counts(pr)
    assert cm["hidden"] == 2 * cr["hidden"]
    assert cm["output"] == cr["output"] == hidden[-1] * 10 + 10
    assert cm["total"] == cr["total"] + cr["hidden"]
    for i in range(len(hidden)):  # layer by layer: kernel and bias each doubled
        for leaf in ("kernel", "bias"):
            m_shape = pm[f"maxout_{i}"]["dense"][leaf].shape
            r_shape = pr[f"dense_{i}"][leaf].shape
            assert m_shape[:-1] == r_shape[:-1] and m_shape[-1] == 2 * r_shape[-1]


def test_parameter_counts_counts_learnable_activation_leaves():
    p = linen.MLP((4, 4, 2), "prelu", learnable=True).init(jax.random.key(0), jnp.ones((1, 3)))
    counts = convergence.parameter_counts(p["params"])
    assert counts == {"total": 16 + 20 + 10 + 2, "hidden": 16 + 20 + 2, "output": 10}
    with pytest.raises(ValueError, match="MLP"):
        convergence.parameter_counts({"foo": {"kernel": jnp.ones(2)}})


def test_quick_run_writes_findings_and_figures(tmp_path):
    found = convergence.run(tmp_path, quick=True)
    assert [f.claim for f in found] == list(convergence.CLAIMS)
    assert findings.read(tmp_path / "findings.json") == found
    for f in found:
        assert f.verdict in findings.VERDICTS and f.numbers and f.condition
        for fig in f.figures:
            assert (tmp_path / fig).stat().st_size > 0
    c8 = found[1]
    assert "hidden-layer ratio 2.000" in c8.numbers
