"""``python -m experiments.bench``: rendering of stored bench.json files, the op
categories of a real sweep chunk, one smoke run through the worker processes,
the GPU plan and bad input.

No timing thresholds: measured figures only have to be finite, positive and
where the documented structure puts them.
"""

import copy
import json
import math
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import bench
from experiments.bench import cli, hlo, measure, render, workers

ROOT = Path(__file__).resolve().parents[1]
#: A full default run (an older format: one timing per sweep, no compile or profile part).
STORED = ROOT / "docs" / "bench.json"
#: Every part at --quick sizes (`python -m experiments.bench --quick`).
QUICK = Path(__file__).parent / "data" / "bench_quick.json"


def _positive(value, where):
    assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    assert math.isfinite(value) and value > 0, f"{where} = {value!r}"


@pytest.fixture(scope="module")
def stored():
    return json.loads(STORED.read_text())


@pytest.fixture(scope="module")
def quick():
    return json.loads(QUICK.read_text())


def test_stored_full_run_renders(stored):
    text = bench.tables(stored)
    assert text.startswith("Machine: ")
    for name, x in stored["sweep"]["speedup"].items():
        assert render.VARIANT_LABELS[name] in text
        assert f"{x:.2f}×" in text
    for r in stored["scaling"]["rows"]:
        assert f"| {r['k']} | " in text
    rows = stored["activations"]["rows"]
    assert f"{len(rows)} measurements" in text
    repeats = stored["config"].get("sweep_repeats", 1)
    if repeats == 1:
        assert "one timing per sweep" in text
    else:
        assert f"each sweep timed {repeats} times" in text
    for part, heading in (("compile", "### Compile time"), ("profile", "### Profile")):
        assert (heading in text) == (part in stored)


def test_docs_page_keeps_the_analysis_and_says_the_accelerator_is_missing(stored):
    page = bench.render_docs(stored, "docs/bench.json", None)
    assert stored["command"] in page and stored["machine"]["cpu"] in page
    assert bench.ANALYSIS_BEGIN in page and bench.ANALYSIS_END in page
    assert "The accelerator figures are missing" in page
    assert "--gpu-plan" in page
    kept = page.replace("(not written yet)", "hand-written: see bench.json")
    again = bench.render_docs(stored, "docs/bench.json", kept)
    assert "hand-written: see bench.json" in again
    assert "(not written yet)" not in again
    # The committed page's analysis survives a re-render.
    committed = (ROOT / "docs" / "performance.md").read_text()
    analysis = committed[committed.index(bench.ANALYSIS_BEGIN) :]
    assert analysis in bench.render_docs(stored, "docs/bench.json", committed) + "\n"


def test_quick_run_renders_every_part(quick):
    assert set(quick) >= {"activations", "sweep", "scaling", "compile", "profile"}
    text = bench.tables(quick)
    assert "### Compile time" in text and "### Profile" in text
    assert f"each sweep timed {quick['config']['sweep_repeats']} times" in text
    engine = quick["sweep"]["variants"]["engine"]
    lo, hi = min(engine["run_seconds_all"]), max(engine["run_seconds_all"])
    assert f"({render._fmt(lo)}–{render._fmt(hi)})" in text
    assert "no divergence guard" in text
    warm = quick["compile"]["warm"]["tiny"]
    assert f"{render._fmt(warm['compile_seconds'])} ({warm['cache_hits']} of" in text
    assert hlo.summary(quick["compile"]["chunk_ops"]) in text
    prof = quick["profile"]
    assert sum(prof["fraction"].values()) == pytest.approx(1)
    assert sum(prof["sweep_fraction"].values()) == pytest.approx(1)
    for cat in hlo.CATEGORIES:
        assert f"| {cat} | {render._fmt(prof['seconds'][cat])} | " in text


def test_quick_run_figures(quick):
    for name, v in quick["sweep"]["variants"].items():
        for key in (
            "run_seconds",
            "run_seconds_min",
            "seconds_per_model",
            "gflops",
            "peak_rss_mib",
        ):
            _positive(v[key], f"{name} {key}")
        assert len(v["run_seconds_all"]) == quick["config"]["sweep_repeats"]
        assert v["run_seconds_min"] <= v["run_seconds"] <= max(v["run_seconds_all"])
    engine = quick["sweep"]["variants"]["engine"]
    assert engine["recompilations_on_new_values"] == 0
    assert set(engine["ablations"]) >= {"no divergence guard"}
    comp = quick["compile"]
    for mode in ("none", "cold", "warm"):
        for key in ("tiny", "sweep"):
            _positive(comp[mode][key]["compile_seconds"], f"{mode} {key}")
    assert comp["warm"]["sweep"]["cache_hits"] >= 1
    assert comp["none"]["sweep"]["cache_hits"] == 0
    assert comp["chunk_ops"]["by_category"]["matmul"] >= 1


def test_accelerator_run_renders_in_its_own_section(quick):
    accel = copy.deepcopy(quick)
    accel["machine"].update(platform="gpu", device_kind="NVIDIA H200", device_count=1)
    accel["scaling"].update(platform="gpu", device_kind="NVIDIA H200", devices=1)
    rows = accel["scaling"]["rows"]
    rows[-1]["k"] = 1024
    ratio = rows[-1]["run_seconds"] / rows[0]["run_seconds"]
    page = bench.render_docs(
        quick, "x/bench.json", None, accelerator=accel, accelerator_path="docs/gpu/bench.json"
    )
    section = page[page.index("## Accelerator (GPU)") : page.index(bench.ANALYSIS_BEGIN)]
    assert "missing" not in section
    assert "From `docs/gpu/bench.json`" in section and "NVIDIA H200" in section
    assert f"K = 1024 takes {ratio:.2f}× the time of K = 1" in section
    assert "### Activations" in section


def _tiny_trainer(guard: bool):
    from jaxact import sweep

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    cfg = {"layers": [8, 2], "batch_size": 16, "shared_batches": False, "lr": 1e-2}
    setup = measure.engine_setup(cfg, 4, eval_every=2, divergence_guard=guard)
    trainer = sweep.Trainer(setup, sweep.Data(x, y, x_test=x[:16], y_test=y[:16]))
    return trainer, trainer.init([0, 1], learning_rate=1e-2)


@pytest.fixture(scope="module")
def chunk():
    trainer, state = _tiny_trainer(guard=True)
    compiled, args = measure.chunk_program(trainer, state)
    return compiled, args, hlo.parse(compiled.as_text())


def test_every_category_is_found_in_a_sweep_chunk(chunk):
    _, _, module = chunk
    counts = hlo.op_counts(module)
    for cat in hlo.CATEGORIES:
        assert counts["by_category"][cat] >= 1, (cat, counts["by_category"])
    assert counts["top_level"]["while"] >= 2  # the blocks' scan and the steps' scan
    # Without the guard, only the finiteness flag of the losses is left of it.
    trainer, state = _tiny_trainer(guard=False)
    off = hlo.op_counts(hlo.parse(measure.chunk_program(trainer, state)[0].as_text()))
    assert off["by_category"]["divergence guard"] < counts["by_category"]["divergence guard"]
    assert off["by_category"]["matmul"] == counts["by_category"]["matmul"]


def test_time_breakdown_of_a_traced_chunk(chunk, tmp_path):
    compiled, args, module = chunk
    with jax.profiler.trace(str(tmp_path)):
        jax.block_until_ready(compiled(*args))
    events = hlo.trace_events(tmp_path)
    assert events
    out = hlo.time_breakdown(events, module)
    _positive(out["seconds"]["matmul"], "matmul seconds")
    assert sum(out["fraction"].values()) == pytest.approx(1)
    assert out["attributed_seconds"] == pytest.approx(sum(out["seconds"].values()))


@pytest.mark.slow
def test_smoke_run_through_the_workers(tmp_path, capsys):
    docs = tmp_path / "performance.md"
    argv = [
        "--quick", "--quiet", "--skip", "activations,scaling,compile,profile", "--skip-torch",
        "--k", "2", "--steps", "10", "--sweep-repeats", "1", "--devices", "1", "--out", str(tmp_path),
        "--write-docs", "--docs", str(docs), "--accelerator-json", str(tmp_path / "none.json"),
    ]  # fmt: skip
    assert bench.main(argv) == 0
    res = json.loads((tmp_path / "bench.json").read_text())
    assert res["command"].startswith(bench.PROG)
    assert set(res["sweep"]["variants"]) == {"engine", "jax_loop"}
    engine = res["sweep"]["variants"]["engine"]
    assert engine["devices"] == res["config"]["devices"] == 1
    assert set(engine["ablations"]) == {"no divergence guard"}
    for name, v in res["sweep"]["variants"].items():
        _positive(v["run_seconds"], f"{name} run_seconds")
        _positive(v["compile_seconds"], f"{name} compile_seconds")
        assert 0 < v["test_accuracy"] <= 1
    _positive(res["machine"]["matmul_gflops"], "matmul_gflops")
    assert any("--skip-torch" in n for n in res["notes"])
    out = capsys.readouterr().out
    assert "README table:" in out and bench.tables(res) in out
    assert bench.tables(res) in docs.read_text()


def test_gpu_plan_sizes_and_refusal_without_an_accelerator(monkeypatch, tmp_path, capsys):
    cfg = bench.resolve(bench.build_parser().parse_args(["--gpu-plan"]))
    assert cfg["parts"] == ["activations", "scaling"]
    assert cfg["scaling_k"][0] == 1 and cfg["scaling_k"][-1] == 1024
    assert cfg["sweep_repeats"] == 3

    def machine_only(name, cfg, *, devices):
        assert name == "machine"
        return {"platform": "cpu", "copy_gbps": {}, "matmul_gflops": 1.0}

    monkeypatch.setattr(cli, "run_worker", machine_only)
    assert bench.main(["--gpu-plan", "--quiet", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bench.PROG}: error: --gpu-plan: JAX found no accelerator")
    assert not (tmp_path / "bench.json").exists()


def test_worker_environment_controls_devices_and_cache(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4 --xla_foo=1")
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "/tmp/somewhere")
    env = workers.worker_env(3)
    assert env["XLA_FLAGS"].split() == ["--xla_foo=1", "--xla_force_host_platform_device_count=3"]
    assert "JAX_COMPILATION_CACHE_DIR" not in env
    assert str(ROOT) in env["PYTHONPATH"].split(":")
    with pytest.raises(ValueError, match="name: expected one of"):
        workers.run_worker("nope", {}, devices=1)


def test_train_flops_per_step():
    # forward 2·B·15000, weight gradients 2·B·15000, input gradients 2·B·11000.
    assert bench.train_flops_per_step(40, (100, 100, 10), 100) == 2 * 100 * 41_000
    assert bench.train_flops_per_step(3, (2,), 1) == 24  # forward 12 + weight gradient 12


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--k", "0"], "--k must be > 0"),
        (["--steps", "ten"], "--steps must be an integer"),
        (["--skip", "nothing"], "--skip must be a comma list"),
        (["--dtypes", "float16"], "--dtypes must be a comma list"),
        (["--activations", "relu,nope"], "--activations must be a comma list"),
        (["--scaling-k", "1,-4"], "--scaling-k sizes must be > 0"),
        (["--sweep-repeats", "0"], "--sweep-repeats must be > 0"),
        (["--lr", "nan"], "--lr must be a positive number"),
        (["--skip", "activations,shapes,sweep,scaling,compile,profile,suite"], "--skip leaves nothing to run"),
        (["--batch-size", "5000"], "larger than the MNIST-1D training set"),
        (["--gpu-plan", "--write-docs"], "--gpu-plan writes the accelerator's bench.json"),
        (["--from-json", "/nonexistent/bench.json"], "not a readable bench.json"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, expected, capsys, tmp_path):
    assert bench.main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bench.PROG}: error:") and expected in err
    assert err.count("\n") == 1
    assert not (tmp_path / "bench.json").exists()


def test_bad_accelerator_json_is_refused(tmp_path, capsys):
    bad = tmp_path / "gpu.json"
    bad.write_text("{}")
    docs = tmp_path / "performance.md"
    argv = ["--from-json", str(STORED), "--accelerator-json", str(bad), "--write-docs",
            "--docs", str(docs)]  # fmt: skip
    assert bench.main(argv) == 2
    assert "--accelerator-json" in capsys.readouterr().err
    assert not docs.exists()


def test_the_shapes_part_renders_rational_over_gelu_ratios():
    from experiments.bench import render

    t = {
        f"{f} {k}": {"min": m, "median": m * 1.1}
        for f, m in (("rational", 2.0), ("gelu", 1.0))
        for k in ("fwd", "fwd+bwd", "grad(sum)")
    }
    t["rational fwd+bwd (x and coefficients)"] = {"min": 5.0, "median": 5.0}
    lines = render._shapes({"shapes": {"size_log2": 24, "repeats": 7, "seconds": t}})
    text = "\n".join(lines)
    assert "| fwd | 2.00 | 2.00 | yes |" in text
    assert "| fwd+bwd with the coefficients' gradients | 5.00 | 4.55 | no |" in text


def test_suite_part_renders_and_is_left_out_of_quick_runs(quick, monkeypatch):
    from experiments.bench import cli, suite

    res = dict(
        quick,
        suite={
            "command": "python " + " ".join(suite.ARGS),
            "wall_seconds": 200.0,
            "summary": suite.parse_summary("1 failed, 2000 passed, 3 skipped in 199.5s (0:03:19)"),
            "workers": 2,
        },
    )
    assert res["suite"]["summary"] == {"failed": 1, "passed": 2000, "skipped": 3, "seconds": 199.5}
    text = bench.tables(res)
    assert "2,000 passed" in text and "2-core machine: met)" in text
    assert "fast test tier" in bench.readme_table(res)
    cfg = cli.resolve(cli.build_parser().parse_args(["--quick"]))
    assert "suite" not in cfg["parts"]
    assert "suite" in cli.resolve(cli.build_parser().parse_args([]))["parts"]
    with pytest.raises(ValueError, match="summary"):
        suite.parse_summary("no tests ran")
    monkeypatch.setenv(suite.INSIDE, "1")
    with pytest.raises(RuntimeError, match="recurse"):
        suite.run_suite()
    # The part times the README's test command itself.
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert ".venv/bin/python " + " ".join(
        f'"{a}"' if " " in a else a for a in suite.ARGS
    ) in readme
