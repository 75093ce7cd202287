"""``python -m experiments.search``: candidates, ranking, resume, report, and a tiny real search."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from experiments import cli, data, search
from jaxact import search_space as ss

# One tiny schedule for every test that trains: the programs compile once and are shared.
TINY = {
    "dataset": "xor",
    "val_fraction": search.VAL_FRACTION,
    "num_candidates": 20,
    "sample_seed": 0,
    "references": False,
    "dedupe": True,
    "seeds": 1,
    "top": 3,
    "retrain_seeds": 2,
    "layers": [8],
    "steps": 20,
    "batch_size": 32,
    "lr": 1.0,
    "optimizer": "sgd",
}
TINY_ARGS = [
    "--dataset", "xor", "--num-candidates", "20", "--no-references", "--seeds", "1",
    "--top", "3", "--retrain-seeds", "2", "--layers", "8", "--steps", "20",
    "--batch-size", "32", "--lr", "1.0", "--optimizer", "sgd", "--chunk", "16", "--quiet",
]  # fmt: skip
CHUNK = 16


def _fake_train(calls):
    """A stand-in for train_candidates: accuracy is a fixed function of the codes."""

    def train(codes, seeds, *, config, data, baseline=None):
        calls.append((None if codes is None else np.array(codes), np.array(seeds), baseline))
        k = len(seeds)
        if baseline is not None:
            acc = np.full(k, 0.5 + 0.01 * search.BASELINES.index(baseline))
            return {"val_accuracy": acc, "test_accuracy": acc - 0.01, "diverged": np.zeros(k, bool)}
        idx = search._index(codes)
        acc = (idx % 97) / 97.0 + 0.001 * np.asarray(seeds)
        return {
            "val_accuracy": acc,
            "test_accuracy": acc - 0.02,
            "diverged": (idx % 11) == 0,
        }

    return train


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #


def test_help_documents_the_command(capsys):
    with pytest.raises(SystemExit) as e:
        search.main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for word in (
        "--num-candidates",
        "--seeds",
        "--top",
        "--retrain-seeds",
        "--chunk",
        "--docs",
        "--report-only",
        "results.csv",
        "validation",
        "resumes",
        "ONE compiled",
    ):
        assert word in text, word


def test_bad_flags_are_one_line_usage_errors(capsys):
    assert search.main(["--num-candidates", "0"]) == 2
    assert "--num-candidates" in capsys.readouterr().err
    assert search.main(["--layers", "8,x"]) == 2
    assert "--layers" in capsys.readouterr().err


def test_command_line_round_trips_through_the_parser():
    args = search.build_parser().parse_args(search.command_line(TINY).split()[3:])
    assert search.resolve(args) == TINY


# --------------------------------------------------------------------------- #
# Candidates and ranking (no training)
# --------------------------------------------------------------------------- #


def test_candidates_of_the_whole_space_and_a_sample():
    full = search.candidates_of(dict(TINY, num_candidates=None))
    np.testing.assert_array_equal(full, ss.enumerate_candidates())
    sample = search.candidates_of(TINY)
    assert sample.shape == (20, 3)
    np.testing.assert_array_equal(sample, search.candidates_of(TINY))  # deterministic
    other = search.candidates_of(dict(TINY, sample_seed=1))
    assert not np.array_equal(sample, other)
    with_refs = search.candidates_of(dict(TINY, references=True))
    have = {tuple(c) for c in with_refs.tolist()}
    assert set(search.reference_codes().values()) <= have
    assert np.all(np.diff(search._index(with_refs)) > 0)


def test_reference_forms_are_the_paper_functions():
    refs = search.reference_codes()
    x = np.linspace(-4, 4, 81)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(ss.core_unit_numpy(x, refs["swish x·σ(βx)"], 1.0), x * sig)
    np.testing.assert_allclose(ss.core_unit_numpy(x, refs["max(x, σ(x))"], 1.0), np.maximum(x, sig))
    np.testing.assert_allclose(ss.core_unit_numpy(x, refs["cos(x) − x"], 1.0), np.cos(x) - x)


def test_rank_rows_orders_diverged_and_nan_last():
    rows = [
        dict(u1=0, u2=0, b=0, val_accuracy=0.4, diverged=False),
        dict(u1=0, u2=0, b=1, val_accuracy=math.nan, diverged=False),
        dict(u1=0, u2=0, b=2, val_accuracy=0.99, diverged=True),
        dict(u1=0, u2=0, b=3, val_accuracy=0.4, diverged=False),
        dict(u1=0, u2=0, b=4, val_accuracy=0.8, diverged=False),
    ]
    ranked = search.rank_rows(rows)
    assert [r["b"] for r in ranked] == [4, 0, 3, 1, 2]
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4, 5]


def test_csv_round_trip(tmp_path):
    rows = search.rank_rows(
        search.candidate_rows(
            np.array([[6, 0, 6], [0, 20, 4]]),
            np.array([[0.5, 0.6], [0.7, 0.8]]),
            np.array([[False, False], [False, True]]),
        )
    )
    search.write_csv(tmp_path / "r.csv", rows, search.RESULT_FIELDS)
    back = search.read_csv(tmp_path / "r.csv")
    assert [r["formula"] for r in back] == [r["formula"] for r in rows]
    assert back[0]["diverged"] is False and back[1]["diverged"] is True
    assert back[0]["val_seeds"] == 2 and math.isnan(back[0]["test_accuracy"])
    assert back[0]["val_accuracy"] == pytest.approx(rows[0]["val_accuracy"])


def test_rank_stage_resumes_where_it_was_stopped(tmp_path):
    cfg = dict(TINY, num_candidates=40, seeds=2)
    calls: list = []
    with pytest.raises(KeyboardInterrupt):
        search.rank_stage(
            cfg, None, tmp_path, chunk=16, quiet=True, train=_fake_train(calls), stop_after_chunks=1
        )
    assert len(calls) == 1 and len(calls[0][1]) == 16 * 2
    partial = search.read_csv(tmp_path / "results.csv")
    assert len(partial) == 16
    rows, t = search.rank_stage(cfg, None, tmp_path, chunk=16, quiet=True, train=_fake_train(calls))
    assert t["candidates"] == 40 - 16 and len(calls) == 3  # two more chunks, 24 candidates
    assert all(len(c[1]) == 32 for c in calls)  # every chunk is padded to one shape
    trained = {tuple(c) for call in calls for c in call[0].tolist()}
    assert trained == {tuple(c) for c in search.candidates_of(cfg).tolist()}
    fresh_calls: list = []
    fresh, _ = search.rank_stage(
        cfg, None, tmp_path / "fresh", chunk=16, quiet=True, train=_fake_train(fresh_calls)
    )
    assert [(r["formula"], r["rank"]) for r in rows] == [(r["formula"], r["rank"]) for r in fresh]
    assert rows[-1]["diverged"] or not any(r["diverged"] for r in rows)
    # A third call trains nothing.
    again, t = search.rank_stage(
        cfg, None, tmp_path, chunk=16, quiet=True, train=_fake_train(calls)
    )
    assert t["candidates"] == 0 and len(calls) == 3


def test_retrain_stage_trains_top_and_baselines_once(tmp_path):
    calls: list = []
    rows, _ = search.rank_stage(
        TINY, None, tmp_path, chunk=16, quiet=True, train=_fake_train(calls)
    )
    calls.clear()
    retrain, _ = search.retrain_stage(TINY, None, tmp_path, rows, train=_fake_train(calls))
    assert [c[2] for c in calls] == [None, *search.BASELINES]
    top = search.top_candidates(rows, 3)
    np.testing.assert_array_equal(calls[0][0], np.repeat(top, 2, axis=0))
    assert set(calls[0][1]) == {search.RETRAIN_SEED0, search.RETRAIN_SEED0 + 1}
    assert len(retrain) == (3 + 3) * 2
    again, _ = search.retrain_stage(TINY, None, tmp_path, rows, train=_fake_train(calls))
    assert len(calls) == 4 and len(again) == len(retrain)
    merged = search.merge_test(rows, retrain)
    tested = [r for r in merged if r.get("test_seeds")]
    assert len(tested) == 3 and all(r["test_seeds"] == 2 for r in tested)


def test_properties_of_known_shapes():
    p = ss.parse_formula
    relu = search.properties(p("max(x, 0) + (-x)"))  # = -min(x, 0): non-increasing
    assert relu["monotonic"] == "decreasing" and relu["bounded_below"]
    swish = search.properties(p("sigmoid(beta1*x) * x"))
    assert swish == {
        "monotonic": "no",
        "negative_side": "≈ 0",
        "bounded_below": True,
        "bounded_above": False,
    }
    sin = search.properties(p("min(x, sin(x))"))
    assert sin["bounded_above"] and not sin["bounded_below"] and sin["negative_side"] == "negative"


def test_report_is_generated_from_results_alone(tmp_path):
    cfg = dict(TINY, num_candidates=40, references=True)
    calls: list = []
    rows, _ = search.rank_stage(cfg, None, tmp_path, chunk=64, quiet=True, train=_fake_train(calls))
    retrain, _ = search.retrain_stage(cfg, None, tmp_path, rows, train=_fake_train(calls))
    docs = tmp_path / "docs" / "search.md"
    written = search.write_report(
        tmp_path, cfg, rows, retrain, {"ranking_seconds": 12.0, "ranking_candidates": 47}, docs=docs
    )
    for path in written:
        assert path.exists(), path
    assert (tmp_path / "docs" / "figures" / "search_top.png").exists()
    text = docs.read_text()
    assert "## Top 3 (ranked on validation)" in text
    assert "swish x·σ(βx)" in text and "not one core unit" in text
    assert "| relu |" in text and "candidates/s" in text
    assert "figures/search_top.png" in text and "--docs" in text
    swish = search.reference_codes()["swish x·σ(βx)"]
    rank = next(
        r["rank"]
        for r in search.read_csv(tmp_path / "results.csv")
        if (r["u1"], r["u2"], r["b"]) == swish
    )
    assert f"| {rank} of {len(rows)}" in text


def test_report_only_needs_a_finished_search(tmp_path, capsys):
    assert search.main(TINY_ARGS + ["--out", str(tmp_path), "--report-only"]) == 2
    assert "--report-only" in capsys.readouterr().err


# --------------------------------------------------------------------------- #
# The real engine
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def xor_ranking_data():
    return search._without_test(data.load("xor").with_validation(search.VAL_FRACTION))


def test_chunks_of_new_candidates_do_not_recompile(xor_ranking_data):
    pool = ss.enumerate_candidates()
    first, second = pool[:CHUNK], pool[CHUNK : 2 * CHUNK]
    search.train_candidates(first, np.zeros(CHUNK, int), config=TINY, data=xor_ranking_data)
    with cli.CompileTimer() as timer:
        res = search.train_candidates(
            second, np.zeros(CHUNK, int), config=TINY, data=xor_ranking_data
        )
    assert timer.count == 0
    assert res["val_accuracy"].shape == (CHUNK,)


def test_a_diverging_candidate_does_not_affect_its_neighbours(xor_ranking_data):
    swish = ss.parse_formula("sigmoid(beta1*x) * x")
    sixth = ss.parse_formula("(x^3) * (x^3)")  # diverges under SGD at lr 1
    tame = ss.parse_formula("max(x, tanh(x))")
    base = np.array([swish] * CHUNK)
    with_div = base.copy()
    with_div[1::2] = sixth
    without = base.copy()
    without[1::2] = tame
    seeds = np.arange(CHUNK) // 2
    a = search.train_candidates(with_div, seeds, config=TINY, data=xor_ranking_data)
    b = search.train_candidates(without, seeds, config=TINY, data=xor_ranking_data)
    assert a["diverged"][1::2].all() and not a["diverged"][0::2].any()
    assert not b["diverged"].any()
    np.testing.assert_array_equal(a["val_accuracy"][0::2], b["val_accuracy"][0::2])


def test_tiny_search_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "search"
    assert search.main(TINY_ARGS + ["--out", str(out)]) == 0
    for name in search.OUTPUT_FILES:
        assert (out / name).exists(), name
    rows = search.read_csv(out / "results.csv")
    assert len(rows) == 20 and [r["rank"] for r in rows] == list(range(1, 21))
    div = [r["diverged"] for r in rows]
    assert div == sorted(div)  # diverged candidates last
    tested = [r for r in rows if r["test_seeds"]]
    assert len(tested) == 3 and all(not r["diverged"] for r in tested)
    assert [r["rank"] for r in tested] == [1, 2, 3]
    retrain = search.read_csv(out / "retrain.csv")
    assert len(retrain) == (3 + len(search.BASELINES)) * 2
    timing = json.loads((out / "timing.json").read_text())
    assert timing["ranking_candidates"] == 20
    config = json.loads((out / "config.json").read_text())
    assert config["search"] == TINY
    # Rerun: nothing left to train; the report is rewritten the same.
    before = (out / "search.md").read_text()
    assert search.main(TINY_ARGS + ["--out", str(out)]) == 0
    assert json.loads((out / "timing.json").read_text())["ranking_candidates"] == 20
    after = (out / "search.md").read_text()
    assert before.split("## Top")[1] == after.split("## Top")[1]
    # Another configuration in the same folder is refused.
    assert search.main(TINY_ARGS + ["--out", str(out), "--steps", "40"]) == 2
    assert "different config" in capsys.readouterr().err
