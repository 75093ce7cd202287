r"""Sweep activations, parameter values, learning rates and seeds: ``python -m experiments.sweep``.

Every (activation parameter value, learning rate, seed) combination is one
training run of an MLP; all runs of one activation are one jit-compiled
program (:mod:`jaxact.sweep`), vmapped over the runs and laid out over every
local device; several activations (``--activation relu,gelu,prelu``) are one
program each and one results table. With no flags: a learnable-PReLU sweep on
MNIST-1D over 16 initial α values in [0, 1] × 2 seeds.

The best configuration is chosen on a validation split carved from the
training data (``--val-fraction``); its test accuracy is reported.

The output directory receives ``config.json``, ``results.csv`` (one row per
run), ``history.npz`` (trajectories) and PNG plots (docs/outputs.md documents
each). The folder is locked while a sweep runs; rerunning the same command
after an interruption resumes from the last finished chunk; a different
configuration in an existing directory is refused unless ``--overwrite``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments.cli import (
    CompileTimer,
    Parser,
    UsageError,
    check_memory,
    compiling_line,
    parse_values,
    positive_int,
    positive_int_list,
    print_usage_error,
)

PROG = "python -m experiments.sweep"
RESULT_FILES = (
    "config.json",
    "results.csv",
    "history.npz",
    "accuracy_vs_value.png",
    "param_trajectories.png",
    "loss_curves.png",
)
MNIST1D_REFERENCE = {"published MLP (68%)": 0.68, "mnist1d notebook MLP (65.1%)": 0.651}
DEFAULT_VALUES = "0:1:16"


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """What fixes a sweep's runs and their order (recorded in config.json)."""

    activations: tuple[str, ...]
    param: str | None
    values: tuple[float, ...]
    learnable: bool
    seeds: int
    dataset: str
    val_fraction: float
    layers: tuple[int, ...]
    init: str
    steps: int
    batch_size: int
    lrs: tuple[float, ...]
    optimizer: str
    eval_every: int

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_json(cls, d: dict) -> SweepConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = fields - set(d)
        if missing:
            raise ValueError(
                f"config: not a sweep config of this version (missing {sorted(missing)})"
            )
        return cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in fields}
        )

    def identity(self) -> str:
        text = json.dumps(self.to_json(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Family:
    """One activation's runs: one compiled program."""

    activation: str
    param: str | None  # the swept parameter, None for a parameter-free activation
    values: tuple[float, ...]  # (nan,) when param is None


def families(config: SweepConfig) -> list[Family]:
    import jaxact

    out = []
    for name in config.activations:
        rec = jaxact.get(name)
        if rec.learnable:
            param = config.param if config.param in rec.learnable else rec.learnable[0]
            out.append(Family(name, param, config.values))
        else:
            out.append(Family(name, None, (float("nan"),)))
    return out


def runs_of(config: SweepConfig, fam: Family) -> list[dict]:
    """The family's runs, value-major, then learning rate, then seed."""
    return [
        {"value": v, "learning_rate": lr, "seed": s}
        for v in fam.values
        for lr in config.lrs
        for s in range(config.seeds)
    ]


def build_parser() -> Parser:
    from experiments import data, multihost
    from jaxact import sweep

    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0].replace("``", ""))
    g = p.add_argument_group("what to sweep")
    g.add_argument(
        "--activation",
        default="prelu",
        help="registry name(s) of the hidden activation, comma-separated (relu,gelu,prelu,maxout); "
        "each is its own compiled program, all in one results table",
    )
    g.add_argument(
        "--param",
        default=None,
        help="the activation parameter to sweep (default: each activation's first learnable one)",
    )
    g.add_argument(
        "--values",
        default=DEFAULT_VALUES,
        help="values of the parameter: a comma list (0.1,0.25) or start:stop:count (inclusive); "
        "ignored for activations without a parameter",
    )
    mode = g.add_mutually_exclusive_group()
    mode.add_argument(
        "--learnable",
        dest="learnable",
        action="store_true",
        default=True,
        help="the swept value is the initial value of a trained parameter (the default)",
    )
    mode.add_argument(
        "--fixed",
        dest="learnable",
        action="store_false",
        help="the swept value stays fixed during training",
    )
    g.add_argument(
        "--seeds",
        type=positive_int("--seeds", maximum=1_000_000),
        default=2,
        help="runs per configuration, with seeds 0..N-1",
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
        help="where datasets are cached or IDX files are read "
        "(default: $JAXACT_DATA_DIR or ~/.cache/jaxact)",
    )
    d.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="share of the training split held out for validation (selection)",
    )
    d.add_argument(
        "--layers",
        type=positive_int_list("--layers", maximum=10**7),
        default=(100, 100),
        help="hidden layer sizes, comma-separated",
    )
    d.add_argument(
        "--init",
        default="he_normal",
        help="kernel initialisation name (jaxact.initializers.names())",
    )
    t = p.add_argument_group("training")
    t.add_argument(
        "--steps",
        type=positive_int("--steps", maximum=10**9),
        default=6000,
        help="optimisation steps per run",
    )
    t.add_argument(
        "--batch-size",
        type=positive_int("--batch-size", maximum=10**8),
        default=100,
        help="minibatch size",
    )
    t.add_argument(
        "--lr", default="0.01", help="learning rate(s), comma-separated; all in the same program"
    )
    t.add_argument(
        "--optimizer", default="adam", choices=sorted(sweep.OPTIMIZERS), help="optax optimiser"
    )
    t.add_argument(
        "--eval-every",
        type=positive_int("--eval-every"),
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
    o.add_argument(
        "--keep-checkpoint",
        action="store_true",
        help="keep the checkpoint files after a finished sweep",
    )
    o.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not use JAX's persistent compilation cache (~/.cache/jaxact/jax)",
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


def resolve(args) -> SweepConfig:
    """Checks the arguments against the registry; returns the sweep's config."""
    import jaxact
    from jaxact import initializers

    names = [n.strip() for n in args.activation.split(",")]
    if any(not n for n in names):
        raise UsageError(f"--activation has an empty item: {args.activation!r}")
    if len(set(names)) != len(names):
        raise UsageError(f"--activation lists a name twice: {args.activation!r}")
    records = []
    for n in names:
        try:
            records.append(jaxact.get(n))
        except (KeyError, ValueError) as e:
            raise UsageError(f"--activation: {e.args[0] if e.args else e}") from None
    parametric = [r for r in records if r.learnable]
    values = parse_values(args.values, "--values")
    if args.param is not None:
        if not parametric:
            raise UsageError(f"--param {args.param!r}: none of {names} has a parameter")
        for r in parametric:
            if args.param not in r.learnable:
                raise UsageError(
                    f"--param {args.param!r} is not a parameter of {r.name}; valid: {list(r.learnable)}"
                )
    if len(records) == 1 and not parametric and args.values != DEFAULT_VALUES:
        raise UsageError(
            f"--values: {records[0].name} has no continuous parameter to sweep; "
            f"choose one of {[n for n in jaxact.names() if jaxact.get(n).learnable]}"
        )
    for r in parametric:
        param = args.param or r.learnable[0]
        constraint = r.constraints.get(param)
        if constraint == "positive" and np.any(values <= 0):
            raise UsageError(f"--values: {param} of {r.name} must be > 0, got {values.tolist()}")
        if constraint == "non-negative" and np.any(values < 0):
            raise UsageError(f"--values: {param} of {r.name} must be ≥ 0, got {values.tolist()}")
    lrs = parse_values(args.lr, "--lr")
    if np.any(lrs <= 0):
        raise UsageError(f"--lr must be > 0, got {args.lr!r}")
    if not 0 < args.val_fraction < 1:
        raise UsageError(f"--val-fraction must be in (0, 1), got {args.val_fraction}")
    if args.init not in initializers.names():
        raise UsageError(f"--init {args.init!r} is unknown; valid: {list(initializers.names())}")
    return SweepConfig(
        activations=tuple(r.name for r in records),
        param=args.param,
        values=tuple(float(v) for v in values),
        learnable=bool(args.learnable),
        seeds=args.seeds,
        dataset=args.dataset,
        val_fraction=float(args.val_fraction),
        layers=tuple(args.layers),
        init=args.init,
        steps=args.steps,
        batch_size=args.batch_size,
        lrs=tuple(float(v) for v in lrs),
        optimizer=args.optimizer,
        eval_every=_eval_every(args.steps, args.eval_every),
    )


def command_line(config: SweepConfig) -> str:
    """The command that runs ``config`` again exactly (every flag explicit, values lossless)."""
    import jaxact

    parametric = any(jaxact.get(a).learnable for a in config.activations)
    default_values = tuple(float(v) for v in parse_values(DEFAULT_VALUES))
    values = ",".join(repr(v) for v in config.values)
    parts = [
        "--activation", ",".join(config.activations),
        *(["--param", config.param] if config.param else []),
        *([f"--values={values}"] if parametric or config.values != default_values else []),
        "--learnable" if config.learnable else "--fixed",
        "--seeds", str(config.seeds), "--dataset", config.dataset,
        "--val-fraction", repr(config.val_fraction),
        "--layers", ",".join(map(str, config.layers)), "--init", config.init,
        "--steps", str(config.steps), "--batch-size", str(config.batch_size),
        "--lr", ",".join(repr(v) for v in config.lrs), "--optimizer", config.optimizer,
        "--eval-every", str(config.eval_every),
    ]  # fmt: skip
    return " ".join([PROG, *(p if p.startswith("--values=") else shlex.quote(p) for p in parts)])


def make_setup(config: SweepConfig, fam: Family, num_classes: int):
    """The engine setup of one family: the swept parameter is a leaf of jaxact's modules."""
    from jaxact import linen, sweep

    model = linen.MLP(
        tuple(config.layers) + (num_classes,),
        fam.activation,
        learnable=fam.param is not None,  # a leaf either way; --fixed freezes it below
        kernel_init=config.init,
    )
    frozen = () if (config.learnable or fam.param is None) else (fam.param,)
    return sweep.Setup(
        model=model,
        steps=config.steps,
        batch_size=config.batch_size,
        optimizer=config.optimizer,
        eval_every=config.eval_every,
        frozen=frozen,
    )


def _versions() -> dict:
    import flax
    import jax
    import optax

    import jaxact

    return {
        "jaxact": getattr(jaxact, "__version__", None),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
    }


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _memory_estimate(
    config: SweepConfig, num_features: int, num_classes: int, n_data: int
) -> float:
    """Bytes a family's program needs, roughly: per-run parameters × 6 (params, grads,
    Adam moments, guard copies) + per-run activations of a batch and of an evaluation."""
    sizes = (num_features,) + config.layers + (num_classes,)
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    k = len(config.values) * len(config.lrs) * config.seeds
    width = sum(config.layers) + num_classes
    per_run = 4 * (6 * n_params + 3 * width * (config.batch_size + min(n_data, 10_000)))
    return float(k) * per_run


def _num(v: float, digits: int = 6) -> float | str:
    return "" if v is None else (float(f"{v:.{digits}g}") if np.isfinite(v) else str(v))


def results_rows(config: SweepConfig, fam: Family, state) -> list[dict]:
    """One row per run: its settings, final metrics, learned parameter per layer."""
    final = state.final()
    rows = []
    for i, run in enumerate(runs_of(config, fam)):
        row = {
            "activation": fam.activation,
            "param": fam.param or "",
            "initial_value" if config.learnable else "value": (
                "" if fam.param is None else repr(run["value"])
            ),
            "learning_rate": repr(run["learning_rate"]),
            "seed": run["seed"],
            "learnable": bool(config.learnable and fam.param is not None),
            "val_accuracy": _num(final["val_accuracy"][i]),
            "test_accuracy": _num(final["test_accuracy"][i]),
            "train_accuracy": _num(final["train_accuracy"][i]),
            "val_loss": _num(final["val_loss"][i]),
            "test_loss": _num(final["test_loss"][i]),
            "train_loss": _num(final["train_loss"][i]),
        }
        if fam.param is not None and config.learnable and fam.param in final:
            per_layer = np.atleast_1d(final[fam.param][i])
            for layer, v in enumerate(per_layer):
                row[f"learned_{fam.param}_layer{layer}"] = _num(v)
            row[f"learned_{fam.param}_mean"] = _num(per_layer.mean())
        row["diverged"] = bool(final["diverged"][i])
        rows.append(row)
    return rows


def _value_key(config: SweepConfig) -> str:
    return "initial_value" if config.learnable else "value"


def _groups(config: SweepConfig, rows: list[dict]) -> list[tuple[tuple, list[dict]]]:
    """Rows grouped by (activation, value, learning rate), in first-seen order."""
    out: dict[tuple, list[dict]] = {}
    vk = _value_key(config)
    for r in rows:
        out.setdefault((r["activation"], str(r[vk]), str(r["learning_rate"])), []).append(r)
    return list(out.items())


def _floats(group: list[dict], key: str) -> np.ndarray:
    return np.array([float(r[key]) for r in group if r.get(key, "") not in ("", None)])


def best_configuration(config: SweepConfig, rows: list[dict]) -> dict:
    """The configuration with the best mean validation accuracy over seeds (diverged runs
    disqualify theirs), with its test accuracy summary (:mod:`experiments.stats`)."""
    from experiments import stats

    scored = []
    for (act, value, lr), group in _groups(config, rows):
        div = sum(str(r["diverged"]) == "True" or r["diverged"] is True for r in group)
        val = _floats(group, "val_accuracy")
        scored.append((-np.inf if div else float(val.mean()), act, value, lr, group))
    score, act, value, lr, group = max(scored, key=lambda s: s[0])
    return {
        "activation": act,
        "param": group[0]["param"],
        "value": None if value in ("", "nan") else float(value),
        "learning_rate": float(lr),
        "val": stats.summary(_floats(group, "val_accuracy")),
        "test": stats.summary(_floats(group, "test_accuracy")),
    }


def summary_table(config: SweepConfig, rows: list[dict]) -> str:
    """Per configuration: validation and test accuracy and the learned parameter,
    mean ± sample std (ddof = 1) over seeds; the best chosen on validation."""
    head = (
        f"{'activation':>12} | {('initial ' if config.learnable else '') + 'value':>13} | "
        f"{'lr':>7} | {'val accuracy':>17} | {'test accuracy':>17} | {'learned':>17} | diverged"
    )
    lines = [head, "-" * len(head)]
    for (act, value, lr), group in _groups(config, rows):
        val, acc = _floats(group, "val_accuracy"), _floats(group, "test_accuracy")
        lk = next((k for k in group[0] if k.startswith("learned_") and k.endswith("_mean")), None)
        lrn = _floats(group, lk) if lk else np.array([])
        div = sum(str(r["diverged"]) == "True" or r["diverged"] is True for r in group)
        learned_txt = f"{lrn.mean():7.4f} ± {_std(lrn):7.4f}" if lrn.size else f"{'—':>17}"
        shown = "—" if value in ("", "nan") else f"{float(value):.4g}"
        lines.append(
            f"{act:>12} | {shown:>13} | {float(lr):7.2g} | "
            f"{100 * val.mean():7.2f}% ± {100 * _std(val):5.2f}% | "
            f"{100 * acc.mean():7.2f}% ± {100 * _std(acc):5.2f}% | {learned_txt} | {div}/{len(group)}"
        )
    best = best_configuration(config, rows)
    t = best["test"]
    what = "" if best["value"] is None else f" {best['param']}={best['value']:.4g}"
    ci = f"95% CI {100 * t.ci_low:.2f}–{100 * t.ci_high:.2f}, " if np.isfinite(t.ci_low) else ""
    lines.append(
        f"best on validation: {best['activation']}{what} lr={best['learning_rate']:g}"
        f"{(' (learnable)' if config.learnable else ' (fixed)') if best['param'] else ''}: test accuracy "
        f"{100 * t.mean:.2f}% ± {100 * (t.std if np.isfinite(t.std) else 0):.2f}% "
        f"({ci}n={t.n} seeds; ± is the sample std)"
    )
    return "\n".join(lines)


def _std(a: np.ndarray) -> float:
    return float(np.std(a, ddof=1)) if a.size > 1 else 0.0


def write_outputs(out, config: SweepConfig, fams, states, dataset_name: str) -> list[dict]:
    """results.csv, history.npz and the plots, each written atomically."""
    import csv
    import io

    from experiments import figures
    from jaxact._src.engine import pause_point
    from jaxact._src.io import atomic_write

    rows = []
    for fam, state in zip(fams, states, strict=True):
        rows += results_rows(config, fam, state)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(out / "results.csv", lambda f: f.write(buf.getvalue()), mode="w")

    payload: dict[str, np.ndarray] = {}
    metrics = ("step", "batch_loss", "diverged", "train_loss", "train_accuracy", "val_loss",
               "val_accuracy", "test_loss", "test_accuracy")  # fmt: skip
    for m in metrics:
        payload[m] = np.concatenate([s.history[m] for s in states])
    k_total = payload["step"].shape[0]
    start = 0
    for fam, state in zip(fams, states, strict=True):
        k = state.num_runs
        if fam.param is not None and fam.param in state.history:
            name = f"learned_{fam.param}" if config.learnable else f"param_{fam.param}"
            arr = state.history[fam.param]
            full = payload.setdefault(name, np.full((k_total,) + arr.shape[1:], np.nan, np.float32))
            if full.shape[1:] == arr.shape[1:]:
                full[start : start + k] = arr
        start += k
    payload["activation"] = np.asarray([r["activation"] for r in rows])
    payload["value"] = np.asarray(
        [float(r[_value_key(config)]) if r[_value_key(config)] != "" else np.nan for r in rows]
    )
    payload["learning_rate"] = np.asarray([float(r["learning_rate"]) for r in rows])
    payload["seed"] = np.asarray([r["seed"] for r in rows])

    def write_history(f):
        np.savez(f, **payload)
        pause_point("final-write")  # a no-op unless JAXACT_PAUSE_AT asks (tests)

    atomic_write(out / "history.npz", write_history)

    steps = payload["step"][0]
    title_tail = f"{dataset_name}, {config.steps} steps, {config.seeds} seeds"
    ref = MNIST1D_REFERENCE if config.dataset == "mnist1d" else None
    fam0 = next((f for f in fams if f.param is not None), None)
    if fam0 is not None and len(fam0.values) > 1:
        i = fams.index(fam0)
        acc = states[i].history["test_accuracy"][:, -1].reshape(len(fam0.values), -1)
        figures.errorbars(
            out / "accuracy_vs_value.png",
            np.asarray(fam0.values, np.float32),
            acc.mean(1),
            acc.std(1, ddof=1) if acc.shape[1] > 1 else np.zeros(len(fam0.values)),
            title=f"{fam0.activation}: test accuracy vs {'initial ' if config.learnable else ''}"
            f"{fam0.param}\n({title_tail})",
            xlabel=f"{'initial ' if config.learnable else ''}{fam0.param}",
            ylabel="test accuracy",
            reference=ref,
        )
        if config.learnable and fam0.param in states[i].history:
            traj = (
                states[i]
                .history[fam0.param]
                .mean(-1)
                .reshape(len(fam0.values), -1, len(steps))
                .mean(1)
            )
            figures.curves(
                out / "param_trajectories.png",
                steps,
                {f"{fam0.param}₀={v:.3g}": traj[j] for j, v in enumerate(fam0.values)},
                title=f"{fam0.activation}: learned {fam0.param}, mean over layers and runs\n({title_tail})",
                xlabel="step",
                ylabel=f"learned {fam0.param}",
                colorbar=(f"initial {fam0.param}", fam0.values),
            )
    curves, shades = {}, []
    for fam, state in zip(fams, states, strict=True):
        loss = state.history["train_loss"]
        for lr in config.lrs:
            sel = [j for j, r in enumerate(runs_of(config, fam)) if r["learning_rate"] == lr]
            label = fam.activation + (f", lr={lr:g}" if len(config.lrs) > 1 else "")
            curves[label] = loss[sel].mean(0)
            shades.append(lr)
    single = len(fams) == 1 and len(config.lrs) > 1
    figures.curves(
        out / "loss_curves.png",
        steps,
        curves,
        title=f"training loss, mean over runs\n({title_tail})",
        xlabel="step",
        ylabel="cross-entropy",
        logy=True,
        colorbar=("learning rate", shades) if single else None,
    )
    return rows


class _Progress:
    """A tqdm bar with loss, validation accuracy and ETA on a terminal; plain lines otherwise."""

    def __init__(self, quiet: bool, total: int, label: str):
        self.quiet = quiet
        self.total = total
        self.label = label
        self.t0 = time.perf_counter()
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit="step", file=sys.stderr, leave=True)

    def start(self, step: int) -> None:
        if self.bar is not None and step:
            self.bar.update(step)

    def __call__(self, state) -> None:
        if self.quiet:
            return
        loss = float(np.nanmean(state.history["batch_loss"][:, -1]))
        val = float(np.mean(state.history["val_accuracy"][:, -1]))
        if self.bar is not None:
            self.bar.update(state.step - self.bar.n)
            self.bar.set_postfix(loss=f"{loss:.4f}", val_acc=f"{100 * val:.2f}%")
            if state.step >= self.total:
                self.bar.close()
        else:
            el = time.perf_counter() - self.t0
            print(
                f"{self.label}: step {state.step}/{self.total}  loss {loss:.4f}  "
                f"val accuracy {100 * val:.2f}%  {el:.1f} s",
                file=sys.stderr,
                flush=True,
            )


def main(argv: Sequence[str] | None = None) -> int:
    from experiments import multihost

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        multihost.check_flags(args)
        config = resolve(args)
    except (UsageError, ValueError) as e:
        return print_usage_error(e, prog=PROG)
    status = multihost.supervise("experiments.sweep", argv, args, prog=PROG)
    if status is not None:  # a multi-process run: this process watched the real one
        return status
    try:
        multihost.initialize(args)  # before any other JAX call
    except multihost.DistributedError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    return run(
        config,
        None,
        Path(args.out),
        overwrite=args.overwrite,
        quiet=args.quiet,
        data_dir=args.data_dir,
        keep_checkpoint=args.keep_checkpoint,
        compile_cache=not args.no_compile_cache,
    )


def load_data(config: SweepConfig, data_dir=None):
    from experiments import data as data_mod

    ds = data_mod.load(config.dataset, data_dir=data_dir)
    ds = ds.with_validation(config.val_fraction, seed=0)
    if config.batch_size > ds.num_train:
        raise UsageError(
            f"--batch-size {config.batch_size} is larger than the {config.dataset} "
            f"training set ({ds.num_train} samples after the validation split)"
        )
    return ds


def run(
    config: SweepConfig,
    ds,
    out: Path,
    *,
    overwrite: bool = False,
    quiet: bool = False,
    data_dir=None,
    keep_checkpoint: bool = False,
    compile_cache: bool = True,
    stop_after_chunks: int | None = None,
) -> int:
    """Runs (or resumes) the sweep ``config`` into ``out``; returns an exit status.

    With several processes every process calls this; process 0 alone reads
    and writes ``out`` and tells the others what it found.
    """
    import jax

    from experiments.outdir import OutputDir
    from jaxact import sweep

    main_process = jax.process_index() == 0
    existed = out.exists()
    folder = OutputDir(out)
    error = ""
    resume = False
    if main_process:
        try:
            folder.acquire()
            resume = folder.check_config(config.to_json(), overwrite=overwrite, key="sweep")
        except UsageError as e:
            error = str(e)
    if int(sweep.from_process_0(np.int32(bool(error)))):
        if main_process:
            if folder.locked:
                folder.release()
                if not existed:
                    _remove_empty(out)
            print_usage_error(error, prog=PROG)
        return 2
    from jaxact._src.engine import pause_point

    pause_point("locked")  # a no-op unless JAXACT_PAUSE_AT asks (tests)
    try:
        return _run_locked(config, ds, out, folder, resume=resume, overwrite=overwrite,
                           quiet=quiet, data_dir=data_dir, keep_checkpoint=keep_checkpoint,
                           compile_cache=compile_cache, stop_after_chunks=stop_after_chunks,
                           existed=existed)  # fmt: skip
    finally:
        folder.release()


def _remove_empty(out: Path) -> None:
    try:
        (out / ".lock").unlink(missing_ok=True)
        out.rmdir()
    except OSError:
        pass


def _checkpoint(out: Path, fam: Family) -> Path:
    return out / f"checkpoint-{fam.activation}.npz"


def _run_locked(config, ds, out, folder, *, resume, overwrite, quiet, data_dir, keep_checkpoint,
                compile_cache, stop_after_chunks, existed) -> int:  # fmt: skip
    import jax

    from jaxact import sweep

    main_process = jax.process_index() == 0
    fams = families(config)
    try:
        if ds is None:
            ds = load_data(config, data_dir)
        elif ds.x_val is None:
            ds = ds.with_validation(config.val_fraction, seed=0)
        check_memory(
            _memory_estimate(config, ds.num_features, ds.num_classes, ds.num_train),
            "--seeds/--values/--lr/--layers",
        )
    except (UsageError, FileNotFoundError, ValueError) as e:
        if main_process:
            if not existed:
                folder.release()
                _remove_empty(out)
            print_usage_error(e, prog=PROG)
        return 2
    if overwrite and main_process:
        folder.remove(RESULT_FILES)
        folder.remove(p.name for p in out.glob("checkpoint*.npz"))
    if compile_cache:
        sweep.enable_compilation_cache()

    timer = CompileTimer()
    t0 = time.perf_counter()
    meta = {
        "sweep": config.to_json(),
        "command": command_line(config),
        "dataset": ds.description,
        "versions": _versions(),
        "devices": [str(d) for d in jax.devices()],
        "num_devices": jax.device_count(),
        "process_count": jax.process_count(),
        "platform": jax.default_backend(),
        "num_runs": sum(len(runs_of(config, f)) for f in fams),
    }
    if main_process:
        folder.write_json("config.json", meta)
    if not quiet and main_process:
        print(compiling_line(2 * len(fams)), file=sys.stderr, flush=True)
    states = []
    chunks = 0
    resumed_from = {}
    for fam in fams:
        setup = make_setup(config, fam, ds.num_classes)
        trainer = sweep.Trainer(setup, ds)
        runs = runs_of(config, fam)
        values = {} if fam.param is None else {fam.param: [r["value"] for r in runs]}
        state = trainer.init(
            [r["seed"] for r in runs],
            learning_rate=[r["learning_rate"] for r in runs],
            values=values,
        )
        ckpt = _checkpoint(out, fam)
        identity = f"{config.identity()}:{fam.activation}"
        if sweep.from_process_0(main_process and ckpt.exists()):
            try:
                state = trainer.restore(ckpt, state, identity=identity)
            except ValueError as e:
                if main_process:
                    print_usage_error(
                        f"{e}; pass --overwrite to start again or move {ckpt} away", prog=PROG
                    )
                return 2
        resumed_from[fam.activation] = state.step
        progress = _Progress(quiet or not main_process, config.steps, fam.activation)
        progress.start(state.step)

        def on_chunk(s, progress=progress):
            nonlocal chunks
            chunks += 1
            progress(s)
            if (
                stop_after_chunks is not None
                and chunks >= stop_after_chunks
                and s.step < config.steps
            ):
                raise KeyboardInterrupt  # used by tests to stop between chunks, like a kill

        state = trainer.run(state, checkpoint=ckpt, identity=identity, on_chunk=on_chunk)
        states.append(state)
    wall = time.perf_counter() - t0
    timer.close()
    if not main_process:
        return 0
    rows = write_outputs(out, config, fams, states, config.dataset)
    meta["timing"] = {
        "compile_seconds": round(timer.seconds, 3),
        "compilations": timer.count,
        "run_seconds": round(wall - timer.seconds, 3),
        "wall_seconds": round(wall, 3),
        "resumed_from_step": resumed_from,
    }
    folder.write_json("config.json", meta)
    if not keep_checkpoint:
        for fam in fams:
            _checkpoint(out, fam).unlink(missing_ok=True)
    print(summary_table(config, rows))
    written = [n for n in RESULT_FILES if (out / n).exists()]
    print(
        f"wrote {out}/: {' '.join(written)}  ({wall:.1f} s, compile {timer.seconds:.1f} s, "
        f"{jax.device_count()} device(s))"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
