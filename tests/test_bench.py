"""``python -m experiments.bench``: the smoke run's JSON, the docs page, bad input.

No timing thresholds: the quick run only has to produce every figure as a
finite positive number in the documented structure.
"""

import importlib.util
import json
import math

import pytest

from experiments import bench

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _positive(value, where):
    assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    assert math.isfinite(value) and value > 0, f"{where} = {value!r}"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    docs = out / "performance.md"
    code = bench.main(
        ["--quick", "--quiet", "--out", str(out), "--write-docs", "--docs", str(docs)]
    )
    assert code == 0
    return json.loads((out / "bench.json").read_text()), docs.read_text()


def test_quick_run_has_every_part(quick):
    res, _ = quick
    assert set(res) >= {"command", "date", "machine", "config", "activations", "sweep", "scaling"}
    assert res["command"].startswith(bench.PROG)
    assert res["config"]["quick"] is True
    assert res["machine"]["versions"]["jax"]
    for dtype in res["config"]["dtypes"]:
        _positive(res["machine"]["copy_gbps"][dtype], f"copy_gbps[{dtype}]")
    _positive(res["machine"]["matmul_gflops"], "matmul_gflops")


def test_activation_rows_cover_every_pair_and_mode(quick):
    res, _ = quick
    rows = res["activations"]["rows"]
    want = {
        (name, dtype, mode)
        for name, *_ in bench.ACTIVATION_PAIRS
        for dtype in res["config"]["dtypes"]
        for mode in ("fwd", "fwd+bwd")
    }
    assert {(r["activation"], r["dtype"], r["mode"]) for r in rows} == want
    for r in rows:
        where = f"{r['activation']} {r['dtype']} {r['mode']}"
        for key in ("jaxact_seconds", "jax_nn_seconds", "ratio", "jaxact_gbps", "jax_nn_gbps"):
            _positive(r[key], f"{where} {key}")
        assert r["ratio"] == pytest.approx(r["jaxact_seconds"] / r["jax_nn_seconds"])
        # Like is compared with like: the pairs compute the same function.
        assert r["max_abs_diff"] < 1e-5, where


def test_sweep_variants_and_ratios(quick):
    res, _ = quick
    sweep = res["sweep"]
    want = {"engine", "jax_loop"} | ({"torch_eager", "torch_vmap"} if HAS_TORCH else set())
    assert set(sweep["variants"]) == want
    assert set(sweep["speedup"]) == want - {"engine"}
    _positive(sweep["train_flops"], "train_flops")
    for name, v in sweep["variants"].items():
        for key in (
            "run_seconds",
            "seconds_per_model",
            "gflops",
            "fraction_of_matmul_peak",
            "peak_rss_mib",
            "test_accuracy",
            "final_batch_loss",
        ):
            _positive(v[key], f"{name} {key}")
        assert v["seconds_per_model"] == pytest.approx(v["run_seconds"] / res["config"]["k"])
    for name in ("engine", "jax_loop"):
        _positive(sweep["variants"][name]["compile_seconds"], f"{name} compile_seconds")
    for name, x in sweep["speedup"].items():
        _positive(x, f"speedup {name}")
    engine = sweep["variants"]["engine"]
    assert engine["recompilations_on_new_values"] == 0
    assert engine["compilations"] >= 1
    ablations = engine["ablations"]
    assert "no divergence guard" in ablations
    for label, v in ablations.items():
        _positive(v["run_seconds"], f"ablation {label} run_seconds")
        _positive(v["test_accuracy"], f"ablation {label} test_accuracy")
        assert v["devices"] == (1 if "1 device" in label else engine["devices"])
    if not HAS_TORCH:
        assert any("torch is not installed" in n for n in res["notes"])


def test_scaling_rows(quick):
    res, _ = quick
    rows = res["scaling"]["rows"]
    assert [r["k"] for r in rows] == res["config"]["scaling_k"]
    for r in rows:
        for key in ("wall_seconds", "run_seconds", "seconds_per_model"):
            _positive(r[key], f"K={r['k']} {key}")
        assert r["compile_seconds"] >= 0 and r["compilations"] >= 0
    _positive(rows[0]["compile_seconds"], "first K compile_seconds")


def test_docs_page_is_generated_from_the_json(quick):
    res, page = quick
    assert res["command"] in page
    assert res["machine"]["cpu"] in page
    assert bench.ANALYSIS_BEGIN in page and bench.ANALYSIS_END in page
    assert "not measured here" in page
    assert "Engine ablations" in page
    kept = page.replace("(not written yet)", "hand-written: see bench.json")
    again = bench.render_docs(res, "runs/bench/bench.json", kept)
    assert "hand-written: see bench.json" in again
    assert "(not written yet)" not in again


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
        (["--scaling-k", "1,-4"], "--scaling-k must be comma-separated positive integers"),
        (["--lr", "nan"], "--lr must be a positive number"),
        (["--skip", "activations,sweep,scaling"], "--skip leaves nothing to run"),
        (["--batch-size", "5000"], "larger than the MNIST-1D training set"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, expected, capsys, tmp_path):
    assert bench.main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bench.PROG}: error:") and expected in err
    assert err.count("\n") == 1
    assert not (tmp_path / "bench.json").exists()
