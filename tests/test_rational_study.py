"""C16's study (experiments/studies/rational_study.py): models, the rule, an end-to-end quick run."""

import numpy as np
import pytest

from experiments import findings
from experiments.studies import rational_study as study


def test_every_variant_builds_and_unknown_is_named():
    import jax
    import jax.numpy as jnp

    x = jnp.ones((2, 4))
    for v in study.VARIANTS:
        model = study.make_model(v, (3,), 2)
        params = model.init(jax.random.key(0), x)["params"]
        assert model.apply({"params": params}, x).shape == (2, 2)
    with pytest.raises(ValueError, match="variant: expected one of"):
        study.activation("softmaxx")


def test_metrics_hook_round_trips_every_activation_parameter():
    import jax
    import jax.numpy as jnp

    x = jnp.ones((2, 4))
    for v in study.VARIANTS:
        params = study.make_model(v, (3, 3), 2).init(jax.random.key(0), x)["params"]
        learned = study.activation_metrics(None, params, {})
        assert all(k.startswith("act:act_") for k in learned)
        for layer in ("act_0", "act_1"):
            want = params.get(layer, {})
            got = study.layer_params(learned, layer)
            assert jax.tree.structure(got) == jax.tree.structure(dict(want))
            for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(dict(want)), strict=True):
                np.testing.assert_array_equal(a, b)


# -- the rule on hand-made accuracies ------------------------------------------------

BASE = np.array([0.80, 0.81, 0.79, 0.80, 0.82])


def _measured(rational_test, relu_test=BASE, swish_test=BASE - 0.05, rational_val=None):
    def variant(test, val=None):
        return study.Variant((1e-3, 1e-2), 1e-2, "", test if val is None else val, test, {}, 0, 0)

    v = {
        "relu": variant(relu_test),
        "swish": variant(swish_test),
        "rational_leaky_relu": variant(rational_test, rational_val),
        "rational_gelu": variant(rational_test - 0.1),
    }
    return study.Measured(v, (8,), 10, "hand-made")


def test_rule_supported_and_beats():
    v = study.verdict_of(_measured(BASE + 0.03))
    assert (v.verdict, v.beats, v.rational, v.baseline) == (
        "supported",
        True,
        "rational_leaky_relu",
        "relu",
    )
    v = study.verdict_of(_measured(BASE - 0.005))  # matches within the 1 pp margin
    assert v.verdict == "supported" and not v.beats


def test_rule_not_supported():
    assert study.verdict_of(_measured(BASE - 0.04)).verdict == "not supported"


def test_rule_inconclusive_within_seed_noise():
    """rational − relu averages −1.2 pp but its paired interval straddles −1 pp."""
    from experiments import stats

    rational = BASE + np.array([-0.04, 0.01, -0.03, 0.01, -0.01])
    d = stats.paired_difference(rational, BASE)
    assert d.ci_low < -0.01 < d.ci_high
    assert study.verdict_of(_measured(rational)).verdict == "inconclusive"


def test_rule_picks_on_validation_not_test():
    # gelu-init has the better validation accuracy, so it is compared even with a worse test
    m = _measured(BASE + 0.03, rational_val=BASE - 0.2)
    assert study.verdict_of(m).rational == "rational_gelu"


# -- end to end ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("c16")
    return out, study.run(out, quick=True)


@pytest.mark.slow
def test_quick_run_writes_the_finding_and_figure(quick):
    out, (f,) = quick
    assert findings.read(out / "findings.json") == [f]
    assert f.claim == "C16" and f.verdict in findings.VERDICTS
    assert (out / "rational_shapes.png").read_bytes()[:4] == b"\x89PNG"
    table = [line for line in f.numbers.splitlines() if line.startswith("| ") and "% ±" in line]
    assert len(table) == len(study.VARIANTS)
    assert "paired" in f.headline and "n=5" in f.headline
