"""experiments.studies.analysis: the learning-rate choice that brackets the optimum."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from experiments.studies import analysis


def _fake_run(optimum, trained, diverge_above=math.inf):
    """A stand-in for ``jaxact.sweep.run``: validation accuracy peaks at ``optimum`` (log scale)."""

    def run(setup, data, runs):
        trained.append(sorted({r["learning_rate"] for r in runs}))
        lr = np.array([r["learning_rate"] for r in runs])
        seed = np.array([r["seed"] for r in runs])
        acc = 0.9 - (np.log10(lr) - math.log10(optimum)) ** 2 / 10 + 0.001 * seed
        final = {
            "val_accuracy": acc,
            "test_accuracy": acc - 0.01,
            "diverged": lr > diverge_above,
        }
        groups = {}
        for i, r in enumerate(runs):
            groups.setdefault(r["learning_rate"], []).append(i)
        return SimpleNamespace(
            state=SimpleNamespace(final=lambda: final),
            groups=lambda: [({"learning_rate": k}, v) for k, v in groups.items()],
            history={"val_accuracy": acc[:, None]},
        )

    return run


@pytest.fixture
def trained(monkeypatch):
    from jaxact import sweep

    log: list[list[float]] = []
    monkeypatch.setattr(sweep, "run", _fake_run(3.0, log))
    return log


def test_the_grid_is_widened_until_the_choice_is_inside(trained):
    c = analysis.choose_learning_rate(None, None, [0, 1, 2], [0.01, 0.1])
    assert c.learning_rate == 1.0 and c.on_edge == ""
    assert c.grid == (0.01, 0.1, 1.0, 10.0)
    # The starting grid is one program; each widening trains only the new value.
    assert trained == [[0.01, 0.1], [1.0], [10.0]]
    assert c.final[1.0]["val_accuracy"].shape == (3,)
    assert "on the grid" not in c.describe()


def test_a_choice_still_on_the_edge_is_reported(trained):
    c = analysis.choose_learning_rate(None, None, [0, 1], [1e-4, 1e-3], max_widen=1)
    assert c.learning_rate == 0.01 and c.on_edge == "high"
    assert "high edge" in c.describe()


def test_the_upper_limit_stops_widening(trained):
    c = analysis.choose_learning_rate(None, None, [0], [0.01, 0.1], upper=0.5)
    assert c.grid == (0.01, 0.1) and c.learning_rate == 0.1 and c.on_edge == ""


def test_diverged_runs_count_as_worst(monkeypatch):
    from jaxact import sweep

    log: list[list[float]] = []
    monkeypatch.setattr(sweep, "run", _fake_run(3.0, log, diverge_above=0.5))
    c = analysis.choose_learning_rate(None, None, [0, 1], [0.01, 0.1, 1.0, 10.0])
    assert c.learning_rate == 0.1  # 1 and 10 diverge; the best finite one wins
    assert c.scores[-1] == -math.inf


@pytest.mark.parametrize(
    "grid,kwargs,message",
    [
        ([0.1], {}, "grid"),
        ([0.1, 0.1], {}, "grid"),
        ([0.0, 0.1], {}, "grid"),
        ([0.01, 0.1], {"max_widen": -1}, "max_widen"),
    ],
)
def test_bad_arguments_are_refused(trained, grid, kwargs, message):
    with pytest.raises(ValueError, match=message):
        analysis.choose_learning_rate(None, None, [0], grid, **kwargs)
    assert trained == []


def test_pick_refuses_unsorted_grids():
    with pytest.raises(ValueError, match="grid"):
        analysis.pick_learning_rate([0.1, 0.01], [1.0, 2.0])
