r"""Sweep an activation parameter's value × seeds: ``python -m experiments.sweep``.

Every (value, seed) pair is one training run of an MLP; all runs of the sweep
are one jit-compiled program (see :mod:`experiments.engine`), vmapped over
the runs and laid out over every local device. With no flags: a
learnable-PReLU sweep on MNIST-1D over 16 initial α values in [0, 1] × 2 seeds.

The output directory receives ``config.json``, ``results.csv`` (one row per
run), ``history.npz`` (trajectories) and PNG plots. Rerunning the same command
after an interruption resumes from the last finished chunk; a different
configuration in an existing directory is refused unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PROG = "python -m experiments.sweep"
OUTPUT_FILES = (
    "config.json",
    "checkpoint.npz",
    "results.csv",
    "history.npz",
    "accuracy_vs_value.png",
    "param_trajectories.png",
    "loss_curves.png",
)
MNIST1D_REFERENCE = {"published MLP (68%)": 0.68, "mnist1d notebook MLP (65.1%)": 0.651}


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line on stderr, exit 2 (argparse's contract)
        raise UsageError(message)


def parse_values(text: str) -> np.ndarray:
    """``"0.1,0.25,1"`` or ``"start:stop:count"`` (inclusive linspace) → values."""
    text = text.strip()
    if not text:
        raise UsageError("--values is empty; give a comma list (0.1,0.25) or start:stop:count")
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
            if count < 1:
                raise UsageError(f"--values count must be ≥ 1, got {count}")
            values = np.linspace(start, stop, count)
        else:
            values = np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise UsageError(
            f"--values must be numbers as a comma list (0.1,0.25) or start:stop:count, got {text!r}"
        ) from None
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise UsageError(f"--values must be finite numbers, got {text!r}")
    return values


def _positive_int(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be > 0, got {value}")
        return value

    return parse


def _positive_float(name):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not np.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be a positive number, got {text!r}")
        return value

    return parse


def _layers(text):
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--layers must be comma-separated integers, got {text!r}"
        ) from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"--layers sizes must be positive, got {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    from experiments import data, engine, multihost

    p = _Parser(
        prog=PROG,
        description=__doc__.split("\n\n")[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("what to sweep")
    g.add_argument(
        "--activation",
        default="prelu",
        help="registry name of the hidden activation (see jaxact.names())",
    )
    g.add_argument(
        "--param",
        default=None,
        help="the activation parameter to sweep (default: its first learnable one, e.g. alpha)",
    )
    g.add_argument(
        "--values",
        default="0:1:16",
        help="values of the parameter: a comma list (0.1,0.25) or start:stop:count (inclusive)",
    )
    mode = g.add_mutually_exclusive_group()
    mode.add_argument(
        "--learnable",
        dest="learnable",
        action="store_true",
        default=True,
        help="the swept value is the initial value of a trained parameter",
    )
    mode.add_argument(
        "--fixed",
        dest="learnable",
        action="store_false",
        help="the swept value stays fixed during training",
    )
    g.add_argument(
        "--seeds",
        type=_positive_int("--seeds"),
        default=2,
        help="runs per value, with seeds 0..N-1",
    )
    d = p.add_argument_group("data and model")
    d.add_argument(
        "--dataset",
        default="mnist1d",
        choices=data.DATASETS,
        help="training data (no downloads: see experiments.data)",
    )
    d.add_argument(
        "--data-dir",
        default=None,
        help="where datasets are cached or IDX files are read (default: $JAXACT_DATA_DIR or ~/.cache/jaxact)",
    )
    d.add_argument(
        "--layers", type=_layers, default=(100, 100), help="hidden layer sizes, comma-separated"
    )
    d.add_argument(
        "--init",
        default="he_normal",
        help="kernel initialisation name (jaxact.initializers.names())",
    )
    t = p.add_argument_group("training")
    t.add_argument(
        "--steps", type=_positive_int("--steps"), default=6000, help="optimisation steps per run"
    )
    t.add_argument(
        "--batch-size", type=_positive_int("--batch-size"), default=100, help="minibatch size"
    )
    t.add_argument("--lr", type=_positive_float("--lr"), default=1e-2, help="learning rate")
    t.add_argument(
        "--optimizer", default="adam", choices=sorted(engine.OPTIMIZERS), help="optax optimiser"
    )
    t.add_argument(
        "--eval-every",
        type=_positive_int("--eval-every"),
        default=None,
        help="steps between evaluations (default: steps/40, rounded to a divisor)",
    )
    o = p.add_argument_group("output")
    o.add_argument("--out", default="runs/sweep", help="output directory")
    o.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output directory whose config differs",
    )
    o.add_argument("--quiet", action="store_true", help="no progress on stderr")
    multihost.add_flags(p)
    return p


def _eval_every(steps: int, requested: int | None) -> int:
    if requested is not None:
        if steps % requested:
            raise UsageError(f"--eval-every ({requested}) must divide --steps ({steps})")
        return requested
    target = max(1, steps // 40)
    return max(d for d in range(1, target + 1) if steps % d == 0)


def resolve(args) -> dict:
    """Checks the arguments against the registry; returns the sweep's config."""
    import jaxact
    from jaxact import initializers

    try:
        act = jaxact.get(args.activation)
    except (KeyError, ValueError) as e:
        raise UsageError(f"--activation: {e.args[0] if e.args else e}") from None
    sweepable = [n for n in jaxact.names() if jaxact.get(n).learnable]
    if not act.learnable:
        raise UsageError(
            f"--activation {args.activation!r} has no continuous parameter to sweep; "
            f"choose one of {sweepable}"
        )
    param = args.param or act.learnable[0]
    if param not in act.learnable:
        raise UsageError(
            f"--param {param!r} is not a parameter of {act.name}; valid: {list(act.learnable)}"
        )
    values = parse_values(args.values)
    if act.constraints.get(param) == "positive" and np.any(values <= 0):
        raise UsageError(f"--values: {param} of {act.name} must be > 0, got {values.tolist()}")
    if act.constraints.get(param) == "nonnegative" and np.any(values < 0):
        raise UsageError(f"--values: {param} of {act.name} must be ≥ 0, got {values.tolist()}")
    if args.init not in initializers.names():
        raise UsageError(f"--init {args.init!r} is unknown; valid: {list(initializers.names())}")
    return {
        "activation": act.name,
        "param": param,
        "values": [float(v) for v in values],
        "learnable": bool(args.learnable),
        "seeds": args.seeds,
        "dataset": args.dataset,
        "layers": list(args.layers),
        "init": args.init,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "eval_every": _eval_every(args.steps, args.eval_every),
    }


def command_line(config: dict) -> str:
    """The command that runs the sweep ``config`` (every flag explicit)."""
    values = ",".join(f"{v:g}" for v in config["values"])
    return (
        f"{PROG} --activation {config['activation']} --param {config['param']} "
        f"--values={values} {'--learnable' if config['learnable'] else '--fixed'} "
        f"--seeds {config['seeds']} --dataset {config['dataset']} "
        f"--layers {','.join(map(str, config['layers']))} --init {config['init']} "
        f"--steps {config['steps']} --batch-size {config['batch_size']} --lr {config['lr']:g} "
        f"--optimizer {config['optimizer']} --eval-every {config['eval_every']}"
    )


def make_setup(config: dict, num_classes: int):
    """The engine setup of a sweep config: every swept parameter is a leaf."""
    from experiments import engine
    from jaxact import linen

    model = linen.MLP(
        tuple(config["layers"]) + (num_classes,),
        config["activation"],
        learnable=True,  # a leaf either way; --fixed freezes it below
        kernel_init=config["init"],
    )
    act_learnable = _learnable_params(config["activation"])
    return engine.Setup(
        model=model,
        steps=config["steps"],
        batch_size=config["batch_size"],
        optimizer=config["optimizer"],
        eval_every=config["eval_every"],
        frozen=() if config["learnable"] else act_learnable,
    )


def _learnable_params(name: str) -> tuple[str, ...]:
    import jaxact

    return tuple(jaxact.get(name).learnable)


def runs_of(config: dict) -> tuple[np.ndarray, np.ndarray]:
    """(value, seed) of every run, value-major."""
    values = np.repeat(np.asarray(config["values"], np.float64), config["seeds"])
    seeds = np.tile(np.arange(config["seeds"]), len(config["values"]))
    return values, seeds


def _versions() -> dict:
    import flax
    import jax
    import optax

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
    }


def _write_json(path: Path, obj) -> None:
    from experiments.engine import atomic_write

    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda f: f.write(text), mode="w")


def results_rows(config: dict, state) -> list[dict]:
    """One row per run: swept value, seed, final metrics, learned parameters."""
    values, seeds = runs_of(config)
    final = state.final()
    rows = []
    for i in range(state.num_runs):
        row = {
            "activation": config["activation"],
            "param": config["param"],
            "value": float(values[i]),
            "seed": int(seeds[i]),
            "learnable": config["learnable"],
            "final_train_loss": float(final["train_loss"][i]),
            "train_accuracy": float(final["train_accuracy"][i]),
            "test_accuracy": float(final["test_accuracy"][i]),
            "best_test_accuracy": float(np.max(state.history["test_accuracy"][i])),
        }
        for name in _learnable_params(config["activation"]):
            if name in final:
                per_layer = np.atleast_1d(final[name][i])
                for layer, v in enumerate(per_layer):
                    row[f"learned_{name}_layer{layer}"] = float(v)
                row[f"learned_{name}_mean"] = float(per_layer.mean())
        row["diverged"] = bool(final["diverged"][i])
        rows.append(row)
    return rows


def summary_table(config: dict, rows: list[dict]) -> str:
    """Final test accuracy and learned parameter per swept value, mean ± std over seeds."""
    param = config["param"]
    learned = f"learned_{param}_mean"
    head = f"{'initial ' + param if config['learnable'] else param:>12} | {'test accuracy':>17} | {'learned ' + param:>17} | diverged"
    lines = [head, "-" * len(head)]
    for v in config["values"]:
        group = [r for r in rows if np.isclose(r["value"], v)]
        acc = np.array([r["test_accuracy"] for r in group])
        lrn = np.array([r.get(learned, np.nan) for r in group])
        div = sum(r["diverged"] for r in group)
        lines.append(
            f"{v:12.4g} | {100 * acc.mean():7.2f}% ± {100 * acc.std():5.2f}% | "
            f"{lrn.mean():7.4f} ± {lrn.std():7.4f} | {div}/{len(group)}"
        )
    best = max(
        config["values"],
        key=lambda v: np.mean([r["test_accuracy"] for r in rows if np.isclose(r["value"], v)]),
    )
    best_acc = [r["test_accuracy"] for r in rows if np.isclose(r["value"], best)]
    lines.append(
        f"best: {param}={best:.4g} ({'learnable' if config['learnable'] else 'fixed'}) "
        f"test accuracy {100 * np.mean(best_acc):.2f}% ± {100 * np.std(best_acc):.2f}% over {len(best_acc)} seeds"
    )
    return "\n".join(lines)


def write_outputs(out: Path, config: dict, state) -> list[dict]:
    """results.csv, history.npz and the plots, each written atomically."""
    from experiments import figures
    from experiments.engine import atomic_write

    rows = results_rows(config, state)
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out / "results.csv", lambda f: f.write(buf.getvalue()), mode="w")

    values, seeds = runs_of(config)
    payload = {k: v for k, v in state.history.items()}
    payload.update(values=values, seeds=seeds)
    atomic_write(out / "history.npz", lambda f: np.savez(f, **payload))

    steps = state.history["step"][0]
    uniq = np.asarray(config["values"], np.float32)
    acc = state.history["test_accuracy"][:, -1].reshape(len(uniq), config["seeds"])
    param, act = config["param"], config["activation"]
    ref = MNIST1D_REFERENCE if config["dataset"] == "mnist1d" else None
    figures.errorbars(
        out / "accuracy_vs_value.png",
        uniq,
        acc.mean(1),
        acc.std(1),
        title=f"{act}: final test accuracy vs {'initial ' if config['learnable'] else ''}{param} "
        f"({config['seeds']} seeds)",
        xlabel=f"{'initial ' if config['learnable'] else ''}{param}",
        ylabel="test accuracy",
        reference=ref,
    )
    if param in state.history:
        traj = state.history[param].mean(-1).reshape(len(uniq), config["seeds"], -1).mean(1)
        figures.curves(
            out / "param_trajectories.png",
            steps,
            {f"{param}₀={v:.3g}": traj[i] for i, v in enumerate(uniq)},
            title=f"{act}: learned {param} (mean over layers and seeds)"
            + ("" if config["learnable"] else " — fixed"),
            xlabel="step",
            ylabel=param,
        )
    loss = state.history["train_loss"].reshape(len(uniq), config["seeds"], -1)
    figures.curves(
        out / "loss_curves.png",
        steps,
        {f"{param}={v:.3g}": loss[i].mean(0) for i, v in enumerate(uniq)},
        title=f"{act}: training loss (mean over seeds)",
        xlabel="step",
        ylabel="cross-entropy",
        logy=True,
    )
    return rows


def _progress(quiet: bool, total: int, t0: float):
    def report(state):
        if quiet:
            return
        frac = state.step / total
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        end = "\n" if state.step >= total or not sys.stderr.isatty() else ""
        print(
            f"\r[{bar}] step {state.step}/{total}  {time.perf_counter() - t0:6.1f} s",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    return report


class _CompileTimer:
    """Sums JAX's own compile-time events (tracing, lowering, XLA compile)."""

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        import jax

        self.seconds = 0.0
        self.count = 0
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, event, duration, **kwargs):
        if event in self.EVENTS:
            self.seconds += duration
            self.count += event == self.EVENTS[-1]

    def close(self):
        import jax

        jax.monitoring.unregister_event_duration_listener(self._on)


def main(argv: Sequence[str] | None = None) -> int:
    from experiments import multihost

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        multihost.check_flags(args)
        config = resolve(args)
    except (UsageError, ValueError) as e:
        return _usage_error(e)
    try:
        multihost.initialize(args)  # before any other JAX call
    except multihost.CoordinatorUnreachable as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    try:
        from experiments import data as data_mod

        ds = data_mod.load(config["dataset"], data_dir=args.data_dir)
        if config["batch_size"] > ds.num_train:
            raise UsageError(
                f"--batch-size {config['batch_size']} is larger than the {config['dataset']} "
                f"training set ({ds.num_train} samples)"
            )
    except (UsageError, FileNotFoundError, ValueError) as e:
        return _usage_error(e)
    return run(config, ds, Path(args.out), overwrite=args.overwrite, quiet=args.quiet)


def _usage_error(e: Exception) -> int:
    print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
    return 2


def run(
    config: dict,
    ds,
    out: Path,
    *,
    overwrite: bool = False,
    quiet: bool = False,
    stop_after_chunks: int | None = None,
) -> int:
    """Runs (or resumes) the sweep ``config`` into ``out``; returns an exit status.

    With several processes every process calls this; process 0 alone reads
    and writes ``out`` and tells the others what it found.
    """
    import jax

    from experiments import engine

    cfg_path, ckpt = out / "config.json", out / "checkpoint.npz"
    main_process = jax.process_index() == 0
    refuse = False
    if main_process and cfg_path.exists() and not overwrite:
        try:
            previous = json.loads(cfg_path.read_text()).get("sweep")
        except (OSError, ValueError):
            previous = None
        refuse = previous != config
    if engine.from_process_0(refuse):
        if main_process:
            print(
                f"{PROG}: error: {out} holds a sweep with a different config; "
                "pass --overwrite to replace it or choose another --out",
                file=sys.stderr,
            )
        return 2
    if overwrite and main_process:
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)

    timer = _CompileTimer()
    t0 = time.perf_counter()
    setup = make_setup(config, ds.num_classes)
    trainer = engine.Trainer(setup, ds)
    values, seeds = runs_of(config)
    state = trainer.init(seeds, learning_rate=config["lr"], values={config["param"]: values})
    resumed_from = 0
    if engine.from_process_0(main_process and ckpt.exists()):
        state = trainer.restore(ckpt, state)
        resumed_from = state.step
    meta = {
        "sweep": config,
        "command": command_line(config),
        "dataset": ds.description,
        "versions": _versions(),
        "devices": [str(d) for d in trainer.devices],
        "num_devices": trainer.num_devices,
        "process_count": jax.process_count(),
        "platform": jax.default_backend(),
        "num_runs": state.num_runs,
        "padded_runs": trainer.padded(state.num_runs),
        "steps_per_chunk": setup.steps_per_chunk,
    }
    if main_process:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(cfg_path, meta)

    report = _progress(quiet or not main_process, config["steps"], t0)
    chunks = 0

    def on_chunk(s):
        nonlocal chunks
        chunks += 1
        report(s)
        if (
            stop_after_chunks is not None
            and chunks >= stop_after_chunks
            and s.step < config["steps"]
        ):
            raise KeyboardInterrupt  # used by tests to stop between chunks, like a kill

    state = trainer.run(state, checkpoint=ckpt, on_chunk=on_chunk)
    wall = time.perf_counter() - t0
    timer.close()
    if not main_process:
        return 0
    rows = write_outputs(out, config, state)
    meta["timing"] = {
        "compile_seconds": round(timer.seconds, 3),
        "compilations": timer.count,
        "run_seconds": round(wall - timer.seconds, 3),
        "wall_seconds": round(wall, 3),
        "resumed_from_step": resumed_from,
    }
    _write_json(cfg_path, meta)
    print(summary_table(config, rows))
    print(
        f"wrote {out}/: config.json results.csv history.npz accuracy_vs_value.png "
        f"param_trajectories.png loss_curves.png  ({wall:.1f} s, compile {timer.seconds:.1f} s, "
        f"{trainer.num_devices} device(s))"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
