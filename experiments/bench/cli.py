"""The command line of ``python -m experiments.bench`` and the run of its parts."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from experiments.bench import render
from experiments.bench.baselines import train_flops_per_step
from experiments.bench.config import (
    ACTIVATION_PAIRS,
    DATASET,
    DEFAULT_ACCELERATOR_JSON,
    DEFAULT_DOCS,
    DTYPES,
    FULL,
    GPU_PLAN,
    LAYERS,
    PARTS,
    PROFILE_STEPS,
    PROG,
    QUICK,
    ROOT,
    TARGETS,
    TINY_SWEEP,
)
from experiments.bench.workers import run_worker, worker_main
from experiments.cli import (
    Parser,
    UsageError,
    positive_float,
    positive_int,
    positive_int_list,
    run_main,
)


def _name_list(flag: str, valid: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(v.strip() for v in text.split(",") if v.strip())
        unknown = [n for n in names if n not in valid]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"{flag} must be a comma list of {list(valid)}, got {text!r}"
            )
        return names

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m experiments.bench``."""
    from experiments import bench

    p = Parser(prog=PROG, description=(bench.__doc__ or "").split("\n\n")[0].replace("``", ""))
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: tiny sizes (2^12 elements, K=4, 20 steps, K in 1,2, 2 repeats); "
        "explicit flags still override",
    )
    p.add_argument(
        "--gpu-plan",
        action="store_true",
        help="the accelerator's figures: the activation table and the sweep at "
        f"K = {','.join(map(str, GPU_PLAN['scaling_k']))} (needs a GPU or TPU; "
        "under 10 minutes on one)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output directory for bench.json "
        "(default: runs/bench; with --gpu-plan runs/bench-gpu)",
    )
    p.add_argument(
        "--skip",
        type=_name_list("--skip", PARTS),
        default=None,
        help="parts to leave out: a comma list of " + ", ".join(PARTS),
    )
    p.add_argument(
        "--skip-torch", action="store_true", help="leave out the PyTorch baselines (c) and (d)"
    )
    p.add_argument(
        "--devices",
        type=positive_int("--devices"),
        default=None,
        help="XLA host devices for the engine's variants on CPU (default: CPU cores)",
    )
    p.add_argument(
        "--torch-threads",
        type=positive_int("--torch-threads"),
        default=None,
        help="torch.set_num_threads for the PyTorch baselines (default: PyTorch's own)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    a = p.add_argument_group("activations")
    a.add_argument(
        "--size-log2",
        type=positive_int("--size-log2", maximum=30),
        default=None,
        help="array size 2^N elements (default 24; --quick 12)",
    )
    a.add_argument(
        "--dtypes",
        type=_name_list("--dtypes", DTYPES),
        default=None,
        help="comma list of float32, bfloat16 (default both; --quick float32)",
    )
    a.add_argument(
        "--activations",
        type=_name_list("--activations", [row[0] for row in ACTIVATION_PAIRS]),
        default=None,
        help="comma list of activations to time (default: all pairs)",
    )
    a.add_argument(
        "--repeats",
        type=positive_int("--repeats"),
        default=None,
        help="timed calls per function, alternating jaxact/jax.nn; the best counts "
        "(default 7; --quick 2)",
    )
    s = p.add_argument_group("sweep, scaling, compile and profile")
    s.add_argument(
        "--k",
        type=positive_int("--k"),
        default=None,
        help="models in the sweep (default 64; --quick 4)",
    )
    s.add_argument(
        "--steps",
        type=positive_int("--steps"),
        default=None,
        help="Adam steps per model (default 2000; --quick 20)",
    )
    s.add_argument(
        "--batch-size", type=positive_int("--batch-size"), default=100, help="minibatch size"
    )
    s.add_argument("--lr", type=positive_float("--lr"), default=1e-3, help="Adam learning rate")
    s.add_argument(
        "--scaling-k",
        type=positive_int_list("--scaling-k"),
        default=None,
        help="K values of the scaling part (default 1,4,16,64,256; --quick 1,2; "
        "--gpu-plan " + ",".join(map(str, GPU_PLAN["scaling_k"])) + ")",
    )
    s.add_argument(
        "--sweep-repeats",
        type=positive_int("--sweep-repeats"),
        default=None,
        help="timings of every sweep (min and median reported; default 3; --quick 2)",
    )
    s.add_argument(
        "--shared-batches",
        action="store_true",
        help="the engine's runs share minibatches (Setup(shared_batches=True))",
    )
    s.add_argument(
        "--profile",
        default=None,
        metavar="DIR",
        help="keep the profile part's jax.profiler trace (TensorBoard/Perfetto) and the "
        "chunk's HLO text in DIR",
    )
    d = p.add_argument_group("docs")
    d.add_argument(
        "--write-docs",
        action="store_true",
        help="render the docs page from bench.json and print the README table",
    )
    d.add_argument("--docs", default=str(DEFAULT_DOCS), help="docs page written by --write-docs")
    d.add_argument(
        "--accelerator-json",
        default=str(DEFAULT_ACCELERATOR_JSON),
        help="bench.json of a --gpu-plan run, rendered into the docs page's accelerator "
        "section when it exists",
    )
    d.add_argument(
        "--from-json",
        default=None,
        help="measure nothing: report (and with --write-docs, render) an existing bench.json",
    )
    return p


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """The run's configuration: defaults, ``--quick``/``--gpu-plan`` sizes and explicit flags."""
    sizes = dict(QUICK if args.quick else FULL)
    # --quick leaves out the test suite (the suite runs --quick itself).
    parts = tuple(p for p in PARTS if p != "suite") if args.quick else PARTS
    if args.gpu_plan:
        parts = GPU_PLAN["parts"]
        sizes.update(scaling_k=GPU_PLAN["scaling_k"], sweep_repeats=GPU_PLAN["sweep_repeats"])
        if args.quick:
            sizes.update(scaling_k=QUICK["scaling_k"], sweep_repeats=QUICK["sweep_repeats"])

    def pick(value, name):
        return value if value is not None else sizes[name]

    tiny = dict(TINY_SWEEP) if not args.quick else {"k": 2, "steps": 20, "eval_every": 10}
    return {
        "quick": bool(args.quick),
        "gpu_plan": bool(args.gpu_plan),
        "parts": [p for p in parts if p not in (args.skip or ())],
        "torch": not args.skip_torch,
        "torch_threads": args.torch_threads,
        # CPU host devices; an accelerator's devices are JAX's own.
        "devices": args.devices or (1 if args.gpu_plan else os.cpu_count() or 1),
        "size_log2": pick(args.size_log2, "size_log2"),
        "dtypes": list(pick(args.dtypes, "dtypes")),
        "activations": list(args.activations or [row[0] for row in ACTIVATION_PAIRS]),
        "repeats": pick(args.repeats, "repeats"),
        "k": pick(args.k, "k"),
        "steps": pick(args.steps, "steps"),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "layers": list(LAYERS),
        "dataset": DATASET,
        "scaling_k": list(pick(args.scaling_k, "scaling_k")),
        "sweep_repeats": pick(args.sweep_repeats, "sweep_repeats"),
        "shared_batches": bool(args.shared_batches),
        "tiny_sweep": tiny,
        "profile_dir": os.path.abspath(args.profile) if args.profile else None,
        "profile_steps": min(pick(args.steps, "steps"), PROFILE_STEPS),
    }


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("jax", "jaxlib", "flax", "optax", "numpy", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _num_features(dataset: str) -> int:
    from experiments import data

    return data.load(dataset).num_features


def run(cfg: dict, argv: Sequence[str], *, quiet: bool = False) -> dict:
    """Runs every requested part; returns the ``bench.json`` content."""

    def say(msg: str) -> None:
        if not quiet:
            print(f"[bench] {msg}", file=sys.stderr, flush=True)

    devices = cfg["devices"]
    result: dict[str, Any] = {
        "command": " ".join([PROG, *map(shlex.quote, argv)]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "system": f"{platform.system()} {platform.release()}",
            "versions": _versions(),
        },
        "config": cfg,
        "notes": [],
        "targets": TARGETS,
    }
    say(f"machine: copy bandwidth and matmul GFLOP/s ({devices} device(s))")
    result["machine"].update(run_worker("machine", cfg, devices=devices))
    if cfg["gpu_plan"] and result["machine"]["platform"] == "cpu":
        raise RuntimeError(
            "--gpu-plan: JAX found no accelerator (jax.default_backend() is 'cpu'); "
            "install JAX's GPU build (see JAX's installation guide) or run it on a machine "
            "with one"
        )
    if "activations" in cfg["parts"]:
        say(
            f"activations: {len(cfg['activations'])} pairs × {cfg['dtypes']} × fwd, fwd+bwd "
            f"on 2^{cfg['size_log2']} elements"
        )
        result["activations"] = run_worker("activations", cfg, devices=devices)
    if "shapes" in cfg["parts"]:
        from experiments import learnable_shapes

        repeats = 3 if cfg.get("quick") else 7
        say(f"shapes: rational (5, 4) against gelu on 2^{cfg['size_log2']} float32, {repeats} repeats")
        result["shapes"] = {
            "size_log2": cfg["size_log2"],
            "repeats": repeats,
            "seconds": learnable_shapes.speed(size_log2=cfg["size_log2"], repeats=repeats),
        }
    if "sweep" in cfg["parts"]:
        variants: dict[str, dict] = {}
        say(
            f"sweep (a) engine: K={cfg['k']}, {cfg['steps']} steps, {devices} device(s), "
            f"{cfg['sweep_repeats']} timings, with and without the divergence guard"
        )
        variants["engine"] = run_worker("engine", cfg, devices=devices)
        say("sweep (b) plain-JAX loop over one jitted run")
        variants["jax_loop"] = run_worker("jax_loop", cfg, devices=1)
        if cfg["torch"] and _torch_available():
            say("sweep (c) PyTorch eager loop")
            variants["torch_eager"] = run_worker("torch_eager", cfg, devices=None)
            say("sweep (d) PyTorch torch.func + torch.vmap")
            variants["torch_vmap"] = run_worker("torch_vmap", cfg, devices=None)
        elif cfg["torch"]:
            result["notes"].append(
                "PyTorch baselines (c), (d) skipped: torch is not installed "
                "(pip install 'jaxact[bench]')"
            )
        else:
            result["notes"].append("PyTorch baselines (c), (d) skipped: --skip-torch")
        flops = (
            train_flops_per_step(_num_features(cfg["dataset"]), cfg["layers"], cfg["batch_size"])
            * cfg["steps"]
            * cfg["k"]
        )
        peak = result["machine"]["matmul_gflops"]
        for v in [*variants.values(), *variants["engine"]["ablations"].values()]:
            v["seconds_per_model"] = v["run_seconds"] / cfg["k"]
            v["gflops"] = flops / v["run_seconds"] / 1e9
            v["fraction_of_matmul_peak"] = v["gflops"] / peak
        engine_s = variants["engine"]["run_seconds"]
        result["sweep"] = {
            "train_flops": flops,
            "variants": variants,
            "speedup": {
                name: v["run_seconds"] / engine_s
                for name, v in variants.items()
                if name != "engine"
            },
        }
    if "scaling" in cfg["parts"]:
        say(f"scaling: engine sweep at K = {cfg['scaling_k']}")
        result["scaling"] = run_worker("scaling", cfg, devices=devices)
    if "compile" in cfg["parts"]:
        with tempfile.TemporaryDirectory(prefix="jaxact-bench-cache-") as cache:
            say(
                "compile: tiny sweep and K-run sweep, no cache, then cold and warm persistent cache"
            )
            comp = {"none": run_worker("compile", dict(cfg, hlo=True), devices=devices)}
            comp["cold"] = run_worker("compile", dict(cfg, cache_dir=cache), devices=devices)
            comp["warm"] = run_worker("compile", dict(cfg, cache_dir=cache), devices=devices)
        result["compile"] = {
            "tiny_sweep": cfg["tiny_sweep"],
            **{mode: {"tiny": r["tiny"], "sweep": r["sweep"]} for mode, r in comp.items()},
            "chunk_ops": comp["none"]["chunk_ops"],
        }
    if "profile" in cfg["parts"]:
        where = f" (trace kept in {cfg['profile_dir']})" if cfg["profile_dir"] else ""
        say(f"profile: jax.profiler trace of the K={cfg['k']} sweep's chunk{where}")
        result["profile"] = run_worker("profile", cfg, devices=devices)
    if "suite" in cfg["parts"]:
        from experiments.bench import suite

        say("suite: the README's test command (the fast tier), timed once")
        result["suite"] = suite.run_suite()
    return result


def _load_json(path: Path, flag: str) -> dict:
    try:
        res = json.loads(path.read_text())
        render.tables(res)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{flag} {path}: not a readable bench.json ({e})") from None
    return res


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    cfg = resolve(args)
    if not cfg["parts"] and args.from_json is None:
        raise UsageError("--skip leaves nothing to run")
    if cfg["batch_size"] > 4000 and {"sweep", "scaling", "compile", "profile"} & set(cfg["parts"]):
        raise UsageError(
            f"--batch-size {cfg['batch_size']} is larger than the MNIST-1D training set "
            "(4000 samples)"
        )
    if args.gpu_plan and args.write_docs and args.docs == str(DEFAULT_DOCS):
        raise UsageError(
            "--gpu-plan writes the accelerator's bench.json; render it into the docs page "
            "with the CPU run (--accelerator-json PATH), not with --write-docs here"
        )
    from jaxact._src.io import atomic_write

    accel_path = Path(args.accelerator_json)
    accel = None
    if args.write_docs and accel_path.exists():
        accel = _load_json(accel_path, "--accelerator-json")
    if args.from_json is not None:
        json_path = Path(args.from_json)
        res = _load_json(json_path, "--from-json")
        print(render.tables(res))
    else:
        out = args.out or ("runs/bench-gpu" if args.gpu_plan else "runs/bench")
        json_path = Path(out) / "bench.json"
        try:
            res = run(cfg, argv, quiet=args.quiet)
        except RuntimeError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 1
        text = json.dumps(res, indent=2, sort_keys=True) + "\n"
        atomic_write(json_path, lambda f: f.write(text), mode="w")
        print(render.tables(res))
        print(f"\nwrote {json_path}")
    if args.write_docs:
        docs = Path(args.docs)
        previous = docs.read_text() if docs.exists() else None
        page = render.render_docs(
            res, _shown(json_path), previous, accelerator=accel, accelerator_path=_shown(accel_path)
        )
        atomic_write(docs, lambda f: f.write(page), mode="w")
        print(f"wrote {docs}\n\nREADME table:\n\n{render.readme_table(res)}")
    return 0


def _shown(path: Path) -> str:
    full = path.resolve()
    return str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else str(full)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m experiments.bench``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        return worker_main(argv[1:])
    return run_main(_main, argv, prog=PROG)
