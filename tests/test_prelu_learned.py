"""experiments.studies.prelu_learned (C14): the α rule, the follow-up rule, the study end to end."""

import numpy as np
import pytest

from experiments import findings
from experiments.studies import prelu_learned as pl

STARTS = np.repeat(np.linspace(0.0, 1.0, 5), 2)  # 5 starts × 2 seeds


def _layers(a):
    return np.stack([a, a], axis=-1)  # two layers with the same α


def test_alpha_rule_converging():
    end = _layers(-0.05 + 0.01 * np.cos(np.arange(10)))
    r = pl.alpha_rule(STARTS, _layers(STARTS), end)
    assert r.verdict == "supported" and r.moves and r.converges
    assert r.span_start == pytest.approx(1.0) and r.span_end < 0.25
    assert r.min_move == pytest.approx(np.min(np.abs(end[:, 0] - STARTS)))


def test_alpha_rule_moving_but_not_converging():
    # every α drifts by 0.1 but keeps its start's order: learned, but the start decides
    r = pl.alpha_rule(STARTS, _layers(STARTS), _layers(STARTS - 0.1))
    assert r.verdict == "depends" and r.moves and not r.converges
    assert r.span_end == pytest.approx(1.0)


def test_alpha_rule_converging_span_is_over_starts_not_seeds():
    # seeds disagree (±0.2) but every start's mean is the same: converges
    end = -0.05 + 0.2 * np.tile([1.0, -1.0], 5)
    assert pl.alpha_rule(STARTS, STARTS, end).converges
    # one start's mean lands far away: the span is 0.5 of the initial span, above 0.25
    end2 = end.copy()
    end2[:2] = 0.45
    assert not pl.alpha_rule(STARTS, STARTS, end2).converges


def test_alpha_rule_not_moving():
    end = _layers(STARTS)
    end[3, 1] += 0.005  # one layer of one run moves less than the threshold...
    end[:3] -= 0.5  # ...while the others move
    end[4:] -= 0.5
    r = pl.alpha_rule(STARTS, _layers(STARTS), end)
    assert r.verdict == "not supported" and not r.moves
    assert r.min_move == pytest.approx(0.0)


def test_alpha_rule_one_start_cannot_converge_and_checks_shapes():
    r = pl.alpha_rule(np.full(4, 0.25), np.full(4, 0.25), np.full(4, -0.05))
    assert r.span_start == 0 and not r.converges and r.verdict == "depends"
    with pytest.raises(ValueError, match="alpha_rule"):
        pl.alpha_rule(STARTS, _layers(STARTS), STARTS)


def test_followup_verdicts():
    base = np.array([0.60, 0.62, 0.61, 0.63, 0.60])
    acc = {
        pl.LEARNABLE: base,
        "same": base + np.array([0.001, -0.002, 0.0, 0.002, -0.001]),
        "worse": base - 0.05 + np.array([0.001, -0.002, 0.0, 0.002, -0.001]),
        "better": base + 0.03 + np.array([0.001, -0.002, 0.0, 0.002, -0.001]),
        "noisy": base + np.array([0.03, -0.03, 0.02, -0.01, 0.0]),
    }
    assert pl.followup_verdicts(acc) == {
        "same": "within",
        "worse": "less",
        "better": "greater",
        "noisy": "inconclusive",
    }


def test_sweep_config_is_the_cli_default():
    from experiments import sweep

    config = pl.sweep_config()
    default = sweep.resolve(sweep.build_parser().parse_args([]))
    assert config == default and config.learnable and len(config.values) == 16


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    # what pl.run(out, quick=True) does, keeping the measurement for the checks below
    out = tmp_path_factory.mktemp("prelu_learned")
    m = pl.measure(quick=True, sweep_dir=out / "sweep")
    (finding,) = pl.findings(m, out)
    return out, m, finding


def test_study_quick_end_to_end(quick_run):
    out, _, finding = quick_run
    (c14,) = findings.read(out / "findings.json")
    assert c14 == finding
    assert c14.claim == "C14" and c14.sources == ("000", "001")
    assert c14.verdict in ("supported", "depends", "not supported")
    for fig in c14.figures:
        assert (out / fig).read_bytes()[:4] == b"\x89PNG"
    assert (out / "sweep" / "history.npz").exists()
    assert "python -m experiments.sweep --activation prelu" in c14.numbers
    table = [line for line in c14.numbers.splitlines() if line.startswith("| fixed α")]
    assert len(table) == len(pl.FIXED_ALPHAS)
    # every row has the header's number of cells (the |x| variant's pipes are escaped)
    import re

    header = next(line for line in c14.numbers.splitlines() if line.startswith("| variant"))
    cells = lambda line: len(re.split(r"(?<!\\)\|", line.strip().strip("|")))
    assert {cells(line) for line in table} == {cells(header)}
    assert all("n=5" in line for line in table)
    assert "learned α" in c14.headline and "n=6" in c14.headline
    assert all(len(cell) <= 400 for line in c14.numbers.splitlines() for cell in line.split("|"))


def test_quick_followup_fixes_alpha_and_shares_seeds(quick_run):
    _, m, _ = quick_run
    learnable, *fixed = m.variants
    assert learnable.alpha is None and np.all(learnable.alpha_end != 0.25)
    for v in fixed:
        np.testing.assert_allclose(v.alpha_end, v.alpha)  # frozen at its value
        assert v.test_accuracy.shape == (len(pl.FOLLOWUP_SEEDS),)
    assert [v.alpha for v in fixed] == list(pl.FIXED_ALPHAS)
    # the sweep's runs: every start, both seeds, α recorded from step 0
    np.testing.assert_allclose(m.alpha[:, 0, 0], m.initial)


def test_buys_sentence_follows_the_verdicts():
    undecided = pl._buys({"fixed α = 0": "inconclusive", "fixed α = −1 (|x|)": "inconclusive"})
    assert "worse than it: none" in undecided and "buys no measurable accuracy" in undecided
    worse = pl._buys({"fixed α = 0": "within", "fixed α = −1 (|x|)": "less"})
    assert "The learned slope beats fixed α = −1 (|x|)." in worse
    assert "within ±1 pp: fixed α = 0" in worse
