r"""Search the core-unit activation space on MNIST-1D: ``python -m experiments.search``.

Ramachandran, Zoph & Le (2017) searched activations :math:`b(u_1(x), u_2(x))`
built from unary and binary functions (:mod:`jaxact.search_space`). Here a
candidate is the integer triple ``codes = (u1, u2, b)``, held by each hidden
layer's :class:`jaxact.linen.CoreUnit` as a frozen parameter leaf, so every
candidate × seed is one *run* of a single compiled training program
(:mod:`jaxact.sweep`): no candidate is compiled on its own.

Stages:

1. **Ranking.** Every candidate of the deduplicated space
   (:func:`jaxact.search_space.enumerate_candidates`; or a random subset,
   ``--num-candidates``) is trained with ``--seeds`` seeds on 3,000 of
   MNIST-1D's 4,000 training rows and ranked on the mean *validation*
   accuracy over the other 1,000 (the test split is not looked at).
   Candidates that diverged rank last. Candidates are trained
   ``--chunk`` at a time; ``results.csv`` is rewritten after every chunk,
   and a rerun of the same command continues from it.
2. **Retraining.** The ``--top`` best are retrained with ``--retrain-seeds``
   fresh seeds beside relu, swish (learnable β) and gelu (exact) trained the
   same way; their test accuracy is reported (``retrain.csv``).
3. **Report.** ``results.csv`` gains the test columns of the top candidates;
   ``top.png`` plots their shapes; ``search.md`` (and ``--docs PATH``) holds
   the tables, where the Swish-like forms and the paper's other reported
   functions rank, and what the top functions have in common.

Outputs in ``--out``: ``config.json``, ``results.csv`` (one row per candidate:
rank, formula, codes, validation accuracy, test accuracy of the retrained
top, diverged), ``retrain.csv`` (one row per retraining run), ``timing.json``
(seconds, candidates per second), ``top.png`` and ``search.md``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments import cli

PROG = "python -m experiments.search"
OUTPUT_FILES = (
    "config.json",
    "results.csv",
    "retrain.csv",
    "timing.json",
    "top.png",
    "search.md",
)
BASELINES = ("relu", "swish", "gelu")
#: Seeds of the retraining stage start here (fresh, not the ranking seeds).
RETRAIN_SEED0 = 1000
#: Validation rows carved from MNIST-1D's 4,000 training rows.
VAL_FRACTION = 0.25

#: The Swish-like forms x·σ(βx) of the core-unit space.
SWISH_LIKE = {
    "swish x·σ(βx)": "sigmoid(beta1*x) * x",
    "silu x·σ(x)": "sigmoid(x) * x",
}
#: The other functions the paper reports (its Figure 3), as core-unit formulas;
#: None where one core unit cannot express the function.
PAPER_FUNCTIONS: dict[str, str | None] = {
    "max(x, σ(x))": "max(x, sigmoid(x))",
    "cos(x) − x": "cos(x) - x",
    "min(x, sin(x))": "min(x, sin(x))",
    "max(x, tanh(x))": "max(x, tanh(x))",
    "sinc(x) + x": "sinc(x) + x",
    "(tan⁻¹ x)² − x": None,
    "x·(sinh⁻¹ x)²": None,
}

RESULT_FIELDS = (
    "rank",
    "formula",
    "u1",
    "u2",
    "b",
    "val_accuracy",
    "val_accuracy_std",
    "val_seeds",
    "val_accuracies",
    "diverged",
    "test_accuracy",
    "test_accuracy_std",
    "test_ci_low",
    "test_ci_high",
    "test_seeds",
)
RETRAIN_FIELDS = (
    "name",
    "kind",
    "u1",
    "u2",
    "b",
    "seed",
    "val_accuracy",
    "test_accuracy",
    "diverged",
)


# --------------------------------------------------------------------------- #
# Command line and configuration
# --------------------------------------------------------------------------- #


def _layers(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise cli.UsageError(f"--layers must be comma-separated integers, got {text!r}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise cli.UsageError(f"--layers must be positive sizes, got {text!r}")
    return sizes


EPILOG = """\
Each candidate f(x) = b(u1(x), u2(x)) is the integer triple (u1, u2, b) held by
every hidden layer's jaxact.linen.CoreUnit as a frozen parameter leaf, so all
candidates x seeds are runs of ONE compiled training program (jaxact.sweep).

stages:
  1. ranking: every candidate of the deduplicated space (or --num-candidates
     of them) is trained with --seeds seeds on 75% of the training split and
     ranked on mean validation accuracy over the other 25%; the test split is
     not used. Diverged candidates rank last. --chunk candidates per program
     call; results.csv is rewritten after each chunk, and rerunning the same
     command resumes from it.
  2. retraining: the --top best, with --retrain-seeds fresh seeds, beside
     relu, swish (learnable beta) and gelu trained the same way; test
     accuracy (retrain.csv). Resumes per group.
  3. report: results.csv (rank, formula, codes, validation accuracy, test
     accuracy of the retrained top, diverged), top.png (shapes of the top),
     search.md (top table, ranks of the Swish-like forms and the paper's
     functions, common properties), timing.json (candidates per second).

examples:
  python -m experiments.search --num-candidates 200 --out runs/search-200
  python -m experiments.search --docs docs/search.md      # the whole space
  python -m experiments.search --report-only --docs docs/search.md
"""


class _HelpFormatter(cli.HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Flag help with defaults; the epilog keeps its line breaks."""


def _datasets() -> tuple[str, ...]:
    from experiments import data

    return data.DATASETS


def build_parser() -> cli.Parser:
    from jaxact import sweep

    p = cli.Parser(
        prog=PROG,
        description=__doc__.split("\n\n")[0].replace("``", ""),
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    g = p.add_argument_group("candidates")
    g.add_argument(
        "--num-candidates",
        type=cli.positive_int("--num-candidates"),
        default=None,
        help="train a random subset of this many deduplicated candidates (default: all of them)",
    )
    g.add_argument("--sample-seed", type=int, default=0, help="seed of the --num-candidates subset")
    g.add_argument(
        "--no-references",
        dest="references",
        action="store_false",
        help="do not add the Swish-like forms and the paper's functions to a --num-candidates subset",
    )
    g.add_argument(
        "--no-dedupe",
        dest="dedupe",
        action="store_false",
        help="keep candidates that compute the same function (see jaxact.search_space)",
    )
    g.add_argument(
        "--seeds", type=cli.positive_int("--seeds"), default=1, help="ranking seeds per candidate"
    )
    g.add_argument(
        "--chunk",
        type=cli.positive_int("--chunk"),
        default=128,
        help="candidates trained together in one call of the program (memory grows with it)",
    )
    r = p.add_argument_group("retraining")
    r.add_argument("--top", type=cli.positive_int("--top"), default=20, help="candidates retrained")
    r.add_argument(
        "--retrain-seeds",
        type=cli.positive_int("--retrain-seeds"),
        default=5,
        help="seeds per retrained candidate and per baseline",
    )
    t = p.add_argument_group("model and training (both stages)")
    t.add_argument("--layers", type=_layers, default=(64, 64), help="hidden layer sizes")
    t.add_argument("--steps", type=cli.positive_int("--steps"), default=600, help="steps per run")
    t.add_argument(
        "--batch-size", type=cli.positive_int("--batch-size"), default=100, help="minibatch size"
    )
    t.add_argument("--lr", type=cli.positive_float("--lr"), default=1e-2, help="learning rate")
    t.add_argument(
        "--optimizer", default="adam", choices=sorted(sweep.OPTIMIZERS), help="optax optimiser"
    )
    t.add_argument(
        "--dataset",
        default="mnist1d",
        choices=_datasets(),
        help="training data; validation is carved from its training split",
    )
    t.add_argument(
        "--data-dir",
        default=None,
        help="where MNIST-1D is cached (default: $JAXACT_DATA_DIR or ~/.cache/jaxact)",
    )
    o = p.add_argument_group("output")
    o.add_argument("--out", default="runs/search", help="output directory")
    o.add_argument(
        "--docs",
        default=None,
        metavar="PATH",
        help="also write the report to PATH (e.g. docs/search.md) and its figure to "
        "figures/search_top.png beside it",
    )
    o.add_argument(
        "--report-only",
        action="store_true",
        help="regenerate the report from the saved results.csv and retrain.csv; no training",
    )
    o.add_argument(
        "--overwrite", action="store_true", help="replace an --out holding another configuration"
    )
    o.add_argument("--quiet", action="store_true", help="no progress on stderr")
    o.add_argument(
        "--bench-selection",
        action="store_true",
        help="only time core_unit (select over stacked ops) against lax.switch, vmapped, and exit",
    )
    from experiments import multihost

    multihost.add_flags(p)
    return p


def resolve(args) -> dict[str, Any]:
    """The search configuration of parsed arguments (what fixes the results)."""
    return {
        "dataset": args.dataset,
        "val_fraction": VAL_FRACTION,
        "num_candidates": args.num_candidates,
        "sample_seed": args.sample_seed,
        "references": bool(args.references),
        "dedupe": bool(args.dedupe),
        "seeds": args.seeds,
        "top": args.top,
        "retrain_seeds": args.retrain_seeds,
        "layers": list(args.layers),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
    }


def command_line(config: Mapping[str, Any], out: str | None = None) -> str:
    """The command that runs ``config`` (every flag explicit)."""
    parts = [PROG]
    if config["num_candidates"] is not None:
        parts += [
            f"--num-candidates {config['num_candidates']}",
            f"--sample-seed {config['sample_seed']}",
        ]
        if not config["references"]:
            parts.append("--no-references")
    if not config["dedupe"]:
        parts.append("--no-dedupe")
    parts += [
        f"--seeds {config['seeds']}",
        f"--top {config['top']}",
        f"--retrain-seeds {config['retrain_seeds']}",
        f"--layers {','.join(map(str, config['layers']))}",
        f"--steps {config['steps']}",
        f"--batch-size {config['batch_size']}",
        f"--lr {config['lr']:g}",
        f"--optimizer {config['optimizer']}",
    ]
    if config["dataset"] != "mnist1d":
        parts.append(f"--dataset {config['dataset']}")
    if out is not None:
        parts.append(f"--out {out}")
    return " ".join(parts)


# --------------------------------------------------------------------------- #
# Candidates
# --------------------------------------------------------------------------- #


def reference_codes() -> dict[str, tuple[int, int, int]]:
    """The canonical codes of the Swish-like forms and the paper's expressible functions."""
    from jaxact import search_space as ss

    out = {}
    for label, text in {**SWISH_LIKE, **PAPER_FUNCTIONS}.items():
        if text is not None:
            out[label] = ss.canonical_codes(ss.parse_formula(text))
    return out


def candidates_of(config: Mapping[str, Any]) -> np.ndarray:
    """The candidates of a search, ``(K, 3)`` int32 rows in code order.

    All (deduplicated) candidates, or ``num_candidates`` of them drawn without
    replacement with ``sample_seed``, plus (``references``) the canonical
    forms of :data:`SWISH_LIKE` and :data:`PAPER_FUNCTIONS` so that their
    ranks are known.

    Examples:
      >>> c = candidates_of({"dedupe": True, "num_candidates": 5, "sample_seed": 0,
      ...                    "references": True})
      >>> c.shape[1], 5 <= len(c) <= 12
      (3, True)
    """
    from jaxact import search_space as ss

    pool = ss.enumerate_candidates(dedupe=config["dedupe"])
    n = config.get("num_candidates")
    if n is None or n >= len(pool):
        return pool
    rng = np.random.default_rng(config["sample_seed"])
    chosen = pool[np.sort(rng.choice(len(pool), size=n, replace=False))]
    if config.get("references", True):
        refs = np.array(sorted(set(reference_codes().values())), np.int32)
        chosen = np.unique(np.concatenate([chosen, refs]), axis=0)
    return _code_order(chosen)


def _index(codes: np.ndarray) -> np.ndarray:
    from jaxact import search_space as ss

    c = np.asarray(codes, np.int64).reshape(-1, 3)
    return (c[:, 0] * ss.NUM_UNARY + c[:, 1]) * ss.NUM_BINARY + c[:, 2]


def _code_order(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes, np.int32).reshape(-1, 3)
    return codes[np.argsort(_index(codes), kind="stable")]


# --------------------------------------------------------------------------- #
# Training: the only place that calls the sweep engine
# --------------------------------------------------------------------------- #


def _candidate_mlp(layers: Sequence[int], num_classes: int):
    """A Dense stack whose hidden activations are core units (``core_0``, ...)."""
    import flax.linen as nn

    from jaxact import linen

    class CandidateMLP(nn.Module):
        layer_sizes: tuple[int, ...]

        @nn.compact
        def __call__(self, x):
            kinit = nn.initializers.he_normal()
            for i, width in enumerate(self.layer_sizes[:-1]):
                x = nn.Dense(width, kernel_init=kinit, name=f"dense_{i}")(x)
                x = linen.CoreUnit(name=f"core_{i}")(x)
            last = len(self.layer_sizes) - 1
            return nn.Dense(self.layer_sizes[-1], kernel_init=kinit, name=f"dense_{last}")(x)

    return CandidateMLP(tuple(layers) + (num_classes,))


_SETUPS: dict[Any, Any] = {}


def make_setup(config: Mapping[str, Any], num_classes: int, baseline: str | None = None):
    """The (cached) sweep setup of a search: one per model, shared by every chunk."""
    key = (
        tuple(config["layers"]),
        config["steps"],
        config["batch_size"],
        config["optimizer"],
        num_classes,
        baseline,
    )
    if key in _SETUPS:
        return _SETUPS[key]
    from jaxact import linen, sweep

    if baseline is None:
        model = _candidate_mlp(config["layers"], num_classes)
        frozen: Any = "codes"  # each run's candidate stays what it was given
    else:
        model = linen.MLP(
            tuple(config["layers"]) + (num_classes,),
            baseline,
            learnable=baseline == "swish",
            kernel_init="he_normal",
        )
        frozen = ()
    setup = sweep.Setup(
        model=model,
        steps=config["steps"],
        batch_size=config["batch_size"],
        optimizer=config["optimizer"],
        eval_every=config["steps"],
        frozen=frozen,
        eval_train_max=500,
    )
    _SETUPS[key] = setup
    return setup


def train_candidates(
    codes: np.ndarray,
    seeds: Sequence[int],
    *,
    config: Mapping[str, Any],
    data: Any,
    baseline: str | None = None,
) -> dict[str, np.ndarray]:
    """Trains run ``i`` = candidate ``codes[i]`` with seed ``seeds[i]``, all as one program.

    Args:
      codes: ``(K, 3)`` candidate codes (ignored, may be ``None``, for a baseline).
      seeds: ``K`` seeds.
      config: the search configuration (model, steps, batch size, optimiser, lr).
      data: training data with ``x_val``/``y_val`` and optionally ``x_test``/``y_test``.
      baseline: instead of core units, a registry activation (``"relu"``, ...).

    Returns:
      ``val_accuracy``, ``diverged`` and, when the data has a test split,
      ``test_accuracy``: one value per run at the last step.
    """
    from jaxact import sweep

    setup = make_setup(config, int(data.num_classes), baseline)
    trainer = sweep.Trainer(setup, data)
    values = {} if baseline is not None else {"codes": np.asarray(codes, np.float32)}
    state = trainer.init(np.asarray(seeds), learning_rate=config["lr"], values=values)
    final = trainer.run(state).final()
    out = {"val_accuracy": final["val_accuracy"], "diverged": final["diverged"]}
    if "test_accuracy" in final:
        out["test_accuracy"] = final["test_accuracy"]
    return out


# --------------------------------------------------------------------------- #
# Ranking (stage 1)
# --------------------------------------------------------------------------- #


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float | np.floating):
        return repr(float(v))
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    return str(v)


def rank_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows sorted best first and numbered: non-diverged before diverged, then by
    mean validation accuracy (descending), then in code order.

    Examples:
      >>> rows = [dict(u1=0, u2=0, b=0, val_accuracy=0.5, diverged=False),
      ...         dict(u1=0, u2=0, b=1, val_accuracy=0.9, diverged=True),
      ...         dict(u1=0, u2=0, b=2, val_accuracy=0.7, diverged=False)]
      >>> [(r["rank"], r["b"]) for r in rank_rows(rows)]
      [(1, 2), (2, 0), (3, 1)]
    """

    def key(r):
        acc = r.get("val_accuracy")
        acc = -math.inf if acc is None or not math.isfinite(acc) else acc
        return (bool(r["diverged"]), -acc, int(_index(np.array([r["u1"], r["u2"], r["b"]]))[0]))

    out = sorted((dict(r) for r in rows), key=key)
    for i, r in enumerate(out):
        r["rank"] = i + 1
    return out


def candidate_rows(codes: np.ndarray, val: np.ndarray, diverged: np.ndarray) -> list[dict]:
    """One ranking row per candidate from per-seed results ``(K, seeds)``."""
    from jaxact import search_space as ss

    rows = []
    for c, v, d in zip(np.asarray(codes), np.asarray(val), np.asarray(diverged), strict=True):
        v = np.atleast_1d(np.asarray(v, np.float64))
        rows.append(
            {
                "formula": ss.formula(c),
                "u1": int(c[0]),
                "u2": int(c[1]),
                "b": int(c[2]),
                "val_accuracy": float(v.mean()),
                "val_accuracy_std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
                "val_seeds": int(v.size),
                "val_accuracies": " ".join(f"{x:.6g}" for x in v),
                "diverged": bool(np.any(d)),
            }
        )
    return rows


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> None:
    from jaxact._src.io import atomic_write

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(r.get(k)) for k in fields})
    atomic_write(path, lambda f: f.write(buf.getvalue()), mode="w")


_INT_FIELDS = {"rank", "u1", "u2", "b", "val_seeds", "test_seeds", "seed"}
_BOOL_FIELDS = {"diverged"}
_TEXT_FIELDS = {"formula", "val_accuracies", "name", "kind"}


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows written by :func:`write_csv`, with numbers and booleans parsed back."""
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            row: dict[str, Any] = {}
            for k, v in raw.items():
                if k in _TEXT_FIELDS:
                    row[k] = v
                elif v == "":
                    row[k] = None if k in _INT_FIELDS else math.nan
                elif k in _BOOL_FIELDS:
                    row[k] = v == "true"
                elif k in _INT_FIELDS:
                    row[k] = int(v)
                else:
                    row[k] = float(v)
            rows.append(row)
    return rows


@dataclasses.dataclass
class Progress:
    """Progress lines with rate and ETA on stderr."""

    total: int
    quiet: bool = False
    what: str = "candidates"

    def __post_init__(self):
        self.t0 = time.perf_counter()
        self.done0: int | None = None

    def __call__(self, done: int) -> str:
        if self.done0 is None:
            self.done0 = done
            self.t0 = time.perf_counter()
            line = f"ranking: {done}/{self.total} {self.what} already done"
        else:
            dt = time.perf_counter() - self.t0
            rate = (done - self.done0) / dt if dt > 0 else math.nan
            eta = (self.total - done) / rate if rate > 0 else math.nan
            line = (
                f"ranking: {done}/{self.total} {self.what} ({100 * done / self.total:.1f}%), "
                f"{rate:.2f} {self.what}/s, ETA {_duration(eta)}"
            )
        if not self.quiet:
            print(line, file=sys.stderr, flush=True)
        return line


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def rank_stage(
    config: Mapping[str, Any],
    data: Any,
    out: Path,
    *,
    chunk: int,
    quiet: bool = False,
    train: Callable[..., dict[str, np.ndarray]] = train_candidates,
    stop_after_chunks: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Trains the candidates not yet in ``out/results.csv``, ``chunk`` at a time.

    After every chunk ``results.csv`` is rewritten (ranked), so a killed
    search loses at most one chunk. Every chunk has the same number of runs
    (the last is padded with repeats), so one compiled program serves all.

    Returns:
      The ranked rows and ``{"seconds", "candidates"}`` trained in this call.
    """
    candidates = candidates_of(config)
    path = out / "results.csv"
    main_process = _process_index() == 0
    done: dict[tuple[int, int, int], dict] = {}
    if main_process and path.exists():
        for r in read_csv(path):
            done[(r["u1"], r["u2"], r["b"])] = r
    wanted = {tuple(int(v) for v in c) for c in candidates}
    done = {k: v for k, v in done.items() if k in wanted}
    # With several processes, process 0 alone reads results.csv and tells the others
    # which candidates are left (every process computes the same candidate list).
    todo_mask = np.array([tuple(int(v) for v in c) not in done for c in candidates], bool)
    todo_mask = np.asarray(_from_process_0(todo_mask), bool)
    todo = candidates[todo_mask].astype(np.int32)
    quiet = quiet or not main_process
    progress = Progress(len(candidates), quiet=quiet)
    progress(len(done))
    seeds = config["seeds"]
    t0 = time.perf_counter()
    trained = 0
    for n_chunk, start in enumerate(range(0, len(todo), chunk)):
        part = todo[start : start + chunk]
        padded = np.concatenate([part, np.repeat(part[-1:], chunk - len(part), 0)])
        res = train(
            np.repeat(padded, seeds, axis=0),
            np.tile(np.arange(seeds), chunk),
            config=config,
            data=data,
        )
        val = np.asarray(res["val_accuracy"]).reshape(chunk, seeds)[: len(part)]
        div = np.asarray(res["diverged"]).reshape(chunk, seeds)[: len(part)]
        for row in candidate_rows(part, val, div):
            done[(row["u1"], row["u2"], row["b"])] = row
        if main_process:
            write_csv(path, rank_rows(list(done.values())), RESULT_FIELDS)
        trained += len(part)
        progress(len(done) + int((~todo_mask).sum()) * (not main_process))
        if (
            stop_after_chunks is not None
            and n_chunk + 1 >= stop_after_chunks
            and len(done) < len(candidates)
        ):
            raise KeyboardInterrupt  # tests stop here between chunks, as a kill would
    rows = rank_rows(list(done.values()))
    if main_process and (not path.exists() or trained == 0):
        write_csv(path, rows, RESULT_FIELDS)
    return rows, {"seconds": time.perf_counter() - t0, "candidates": trained}


def _process_index() -> int:
    import jax

    return jax.process_index()


def _from_process_0(value: Any) -> Any:
    from jaxact import sweep

    return sweep.from_process_0(value)


# --------------------------------------------------------------------------- #
# Retraining (stage 2)
# --------------------------------------------------------------------------- #


def top_candidates(rows: Sequence[Mapping[str, Any]], top: int) -> np.ndarray:
    """Codes of the ``top`` best non-diverged ranked rows."""
    best = [r for r in rank_rows(rows) if not r["diverged"]][:top]
    return np.array([[r["u1"], r["u2"], r["b"]] for r in best], np.int32).reshape(-1, 3)


def retrain_stage(
    config: Mapping[str, Any],
    data: Any,
    out: Path,
    rows: Sequence[Mapping[str, Any]],
    *,
    train: Callable[..., dict[str, np.ndarray]] = train_candidates,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Retrains the top candidates and the baselines; resumes from ``retrain.csv``."""
    from jaxact import search_space as ss

    path = out / "retrain.csv"
    main_process = _process_index() == 0
    have = read_csv(path) if main_process and path.exists() else []
    # Process 0 holds every ranked row (it read results.csv): its top list is everyone's.
    top = top_candidates(rows, config["top"])
    fixed = np.full((config["top"], 3), -1, np.int32)
    fixed[: len(top)] = top
    fixed = np.asarray(_from_process_0(fixed), np.int32)
    top = fixed[fixed[:, 0] >= 0]
    seeds = RETRAIN_SEED0 + np.arange(config["retrain_seeds"])
    groups: list[tuple[str, Any]] = [("candidates", top)] + [(b, None) for b in BASELINES]
    t0 = time.perf_counter()
    result = list(have)
    for kind, codes in groups:
        if kind == "candidates":
            names = [ss.formula(c) for c in codes]
            if not names:
                continue
        else:
            names = [kind]
        expected = {(n, int(s)) for n in names for s in seeds}
        finished = expected <= {(r["name"], r["seed"]) for r in result}
        if bool(_from_process_0(np.bool_(finished))):
            continue
        result = [r for r in result if r["name"] not in names]
        if kind == "candidates":
            res = train(
                np.repeat(codes, len(seeds), axis=0),
                np.tile(seeds, len(codes)),
                config=config,
                data=data,
            )
            label, cs = "candidate", list(np.repeat(codes, len(seeds), axis=0))
        else:
            res = train(None, seeds, config=config, data=data, baseline=kind)
            label, cs = "baseline", [None] * len(seeds)
        run_names = [n for n in names for _ in seeds]
        run_seeds = np.tile(seeds, len(names))
        for i, (n, s, c) in enumerate(zip(run_names, run_seeds, cs, strict=True)):
            result.append(
                {
                    "name": n,
                    "kind": label,
                    "u1": None if c is None else int(c[0]),
                    "u2": None if c is None else int(c[1]),
                    "b": None if c is None else int(c[2]),
                    "seed": int(s),
                    "val_accuracy": float(res["val_accuracy"][i]),
                    "test_accuracy": float(res["test_accuracy"][i]),
                    "diverged": bool(res["diverged"][i]),
                }
            )
        if main_process:
            write_csv(path, result, RETRAIN_FIELDS)
    return result, {"seconds": time.perf_counter() - t0}


def merge_test(
    rows: Sequence[Mapping[str, Any]], retrain: Sequence[Mapping[str, Any]]
) -> list[dict]:
    """Ranking rows with the test columns of the retrained candidates filled in."""
    from experiments import stats

    by_name: dict[str, list[float]] = {}
    for r in retrain:
        if r["kind"] == "candidate":
            by_name.setdefault(r["name"], []).append(r["test_accuracy"])
    out = []
    for r in rows:
        r = dict(r)
        accs = by_name.get(r["formula"])
        if accs:
            s = stats.summary(accs)
            r.update(
                test_accuracy=s.mean,
                test_accuracy_std=s.std,
                test_ci_low=s.ci_low,
                test_ci_high=s.ci_high,
                test_seeds=s.n,
            )
        out.append(r)
    return out


# --------------------------------------------------------------------------- #
# Report
# --------------------------------------------------------------------------- #


def properties(codes: Sequence[int], beta: Sequence[float] = (1.0, 1.0, 1.0)) -> dict[str, Any]:
    r"""Shape properties of a candidate at fixed :math:`\beta` (NumPy float64).

    - ``monotonic``: ``"increasing"``/``"decreasing"`` if it never falls
      (rises) by more than ``1e-9`` between neighbouring points of
      ``linspace(-6, 6, 1201)``, else ``"no"``;
    - ``negative_side``: at :math:`x = -6`, ``"≈ 0"`` when
      :math:`|f(-6)| \le 0.05`, else ``"negative"`` or ``"positive"``;
    - ``bounded_below`` / ``bounded_above``: on :math:`[-1000, 1000]` the
      function stays within 1 of its minimum (maximum) on :math:`[-10, 10]`.

    Examples:
      >>> properties((18, 18, 4))  # max(x, 0) as max(relu, relu)
      {'monotonic': 'increasing', 'negative_side': '≈ 0', 'bounded_below': True, 'bounded_above': False}
    """
    from jaxact import search_space as ss

    x = np.linspace(-6.0, 6.0, 1201)
    f = ss.core_unit_numpy(x, codes, beta)
    d = np.diff(f)
    mono = "increasing" if np.all(d >= -1e-9) else "decreasing" if np.all(d <= 1e-9) else "no"
    left = f[0]
    side = "≈ 0" if abs(left) <= 0.05 else "negative" if left < 0 else "positive"
    near = ss.core_unit_numpy(np.linspace(-10, 10, 2001), codes, beta)
    far = ss.core_unit_numpy(np.linspace(-1000, 1000, 200001), codes, beta)
    return {
        "monotonic": mono,
        "negative_side": side,
        "bounded_below": bool(far.min() >= near.min() - 1.0),
        "bounded_above": bool(far.max() <= near.max() + 1.0),
    }


def plot_top(path: Path, rows: Sequence[Mapping[str, Any]], top: int) -> Path:
    """A grid of the top candidates' shapes at β = 1 on [−5, 5], ReLU dashed."""
    from experiments import figures
    from jaxact import search_space as ss

    plt = figures._pyplot()
    best = [r for r in rows if not r["diverged"]][:top]
    n = max(1, len(best))
    cols = min(5, n)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), squeeze=False)
    x = np.linspace(-5, 5, 401)
    for ax in axes.ravel()[len(best) :]:
        ax.axis("off")
    for ax, r in zip(axes.ravel(), best, strict=False):
        y = ss.core_unit_numpy(x, (r["u1"], r["u2"], r["b"]), 1.0)
        ax.plot(x, np.maximum(x, 0), "--", color="0.7", lw=1)
        ax.plot(x, y, color="C0", lw=1.8)
        lo, hi = np.percentile(y, [1, 99])
        pad = 0.1 * max(hi - lo, 1.0)
        ax.set_ylim(min(lo, -1) - pad, max(hi, 5) + pad)
        ax.axhline(0, color="0.85", lw=0.8)
        ax.axvline(0, color="0.85", lw=0.8)
        ax.set_title(f"#{r['rank']}: {r['formula']}", fontsize=7.5)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Top {len(best)} core-unit activations (β = 1; ReLU dashed)", fontsize=11)
    fig.tight_layout()
    figures.save(fig, path)
    return path


def _pct(v: float | None, digits: int = 1) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{100 * v:.{digits}f}%"


def report_markdown(
    config: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    retrain: Sequence[Mapping[str, Any]],
    timing: Mapping[str, Any],
    *,
    figure: str,
    command: str = "",
    dataset: str = "",
    machine: str = "",
) -> str:
    """The search report (docs/search.md) from the results arrays."""
    from experiments import stats
    from jaxact import search_space as ss

    command = command or command_line(config)
    n = len(rows)
    n_div = sum(bool(r["diverged"]) for r in rows)
    best = [r for r in rows if not r["diverged"]][: config["top"]]
    by_codes = {(r["u1"], r["u2"], r["b"]): r for r in rows}
    lines = [
        "# Activation search in the core-unit space",
        "",
        "<!-- Generated by experiments/search.py; do not edit by hand. -->",
        "",
        "Candidates are b(u1(x), u2(x)) from the unary and binary sets of "
        "Ramachandran, Zoph & Le (2017) (`jaxact.search_space`); each is a run of one compiled "
        "program, selected by its integer codes.",
        "",
        "Reproduce:",
        "",
        "```",
        command,
        "```",
        "",
        "## Setup",
        "",
        f"- data: {dataset or 'MNIST-1D'}; ranking on validation accuracy, "
        "test accuracy only for the retrained top candidates",
        f"- model: MLP with hidden layers {', '.join(map(str, config['layers']))}, a core unit "
        f"after each hidden Dense (its own β₁, β₂, β₃, initialised to 1 and learned); He-normal init",
        f"- training: {config['optimizer']}, learning rate {config['lr']:g}, {config['steps']} steps "
        f"of batch {config['batch_size']}; the same for the baselines",
        f"- candidates: {n} ranked"
        + (
            f" (a random {config['num_candidates']} of the deduplicated space, seed "
            f"{config['sample_seed']}"
            + (", plus the reference forms below)" if config["references"] else ")")
            if config["num_candidates"] is not None
            else f" ({'the whole deduplicated' if config['dedupe'] else 'the whole'} space of "
            f"{ss.NUM_CANDIDATES})"
        )
        + f", {config['seeds']} seed(s) each; {n_div} diverged (ranked last)",
        f"- retraining: top {config['top']} with {config['retrain_seeds']} fresh seeds "
        f"(from {RETRAIN_SEED0}); mean ± sample std and 95% t interval over seeds",
    ]
    if timing:
        s1 = timing.get("ranking_seconds")
        c1 = timing.get("ranking_candidates")
        if s1 and c1:
            lines.append(
                f"- time: ranking {_duration(s1)} for {c1} candidates "
                f"({c1 / s1:.2f} candidates/s incl. compilation), retraining "
                f"{_duration(timing.get('retrain_seconds', 0.0))}"
                + (f"; {machine}" if machine else "")
            )
    lines += ["", f"## Top {len(best)} (ranked on validation)", ""]
    lines += [
        "| rank | formula | val. accuracy | test accuracy (retrained) | monotonic | x < 0 | bounded below | bounded above |",
        "|---:|---|---:|---|---|---|---|---|",
    ]
    props = []
    for r in best:
        p = properties((r["u1"], r["u2"], r["b"]))
        props.append(p)
        test = "–"
        if r.get("test_seeds"):
            test = stats.format_ci(
                stats.Summary(
                    r["test_accuracy"],
                    r["test_accuracy_std"],
                    int(r["test_seeds"]),
                    r["test_ci_low"],
                    r["test_ci_high"],
                )
            )
        lines.append(
            f"| {r['rank']} | `{r['formula']}` | {_pct(r['val_accuracy'])} | {test} | "
            f"{p['monotonic']} | {p['negative_side']} | {'yes' if p['bounded_below'] else 'no'} | "
            f"{'yes' if p['bounded_above'] else 'no'} |"
        )
    base = {}
    for r in retrain:
        if r["kind"] == "baseline":
            base.setdefault(r["name"], []).append(r["test_accuracy"])
    if base:
        lines += [
            "",
            "## Baselines (trained the same way)",
            "",
            "| activation | test accuracy |",
            "|---|---|",
        ]
        for name in BASELINES:
            if name in base:
                lines.append(f"| {name} | {stats.format_ci(stats.summary(base[name]))} |")
        if best and best[0].get("test_seeds"):
            by_seed = lambda name: {
                r["seed"]: r["test_accuracy"] for r in retrain if r["name"] == name
            }
            top1 = by_seed(best[0]["formula"])
            diffs = []
            for name in BASELINES:
                other = by_seed(name)
                seeds = sorted(set(top1) & set(other))
                if len(seeds) > 1:
                    d = stats.paired_difference([top1[s] for s in seeds], [other[s] for s in seeds])
                    diffs.append(
                        f"- rank 1 − {name}: {stats.format_difference(d, pct=True, digits=2)}"
                    )
            if diffs:
                lines += ["", "Test accuracy of rank 1 minus each baseline, paired by seed:", ""]
                lines += diffs
    lines += ["", "## Where the Swish-like forms and the paper's functions rank", ""]
    lines += [
        "| function | core-unit form (kept candidate) | rank | val. accuracy |",
        "|---|---|---:|---:|",
    ]
    refs = reference_codes()
    for label, text in {**SWISH_LIKE, **PAPER_FUNCTIONS}.items():
        if text is None:
            lines.append(f"| {label} | not one core unit | – | – |")
            continue
        codes = refs[label]
        r = by_codes.get(codes)
        form = ss.formula(codes)
        if r is None:
            lines.append(f"| {label} | `{form}` | not searched | – |")
        else:
            lines.append(
                f"| {label} | `{form}` | {r['rank']} of {n}{' (diverged)' if r['diverged'] else ''} "
                f"| {_pct(r['val_accuracy'])} |"
            )
    if props:
        k = len(props)
        count = lambda pred: sum(1 for p in props if pred(p))
        lines += [
            "",
            f"## What the top {k} have in common",
            "",
            "Properties at β = 1 (the initial value; see `experiments.search.properties` for the "
            "exact tests):",
            "",
            f"- monotonic: {count(lambda p: p['monotonic'] != 'no')} of {k} "
            f"({count(lambda p: p['monotonic'] == 'increasing')} increasing)",
            f"- for x < 0 (value at x = −6): ≈ 0 for {count(lambda p: p['negative_side'] == '≈ 0')}, "
            f"negative for {count(lambda p: p['negative_side'] == 'negative')}, positive for "
            f"{count(lambda p: p['negative_side'] == 'positive')}",
            f"- bounded below: {count(lambda p: p['bounded_below'])} of {k}; bounded above: "
            f"{count(lambda p: p['bounded_above'])} of {k}",
        ]
    lines += ["", f"![top candidates]({figure})", ""]
    return "\n".join(lines)


def write_report(
    out: Path,
    config: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    retrain: Sequence[Mapping[str, Any]],
    timing: Mapping[str, Any],
    *,
    docs: Path | None = None,
    dataset: str = "",
    machine: str = "",
) -> list[Path]:
    """Writes ``results.csv`` (with test columns), ``top.png``, ``search.md`` (and ``docs``)."""
    from jaxact._src.io import atomic_write

    rows = rank_rows(merge_test(rows, retrain))
    write_csv(out / "results.csv", rows, RESULT_FIELDS)
    written = [out / "results.csv", plot_top(out / "top.png", rows, config["top"])]
    text = report_markdown(
        config,
        rows,
        retrain,
        timing,
        figure="top.png",
        command=command_line(config, str(out)),
        dataset=dataset,
        machine=machine,
    )
    atomic_write(out / "search.md", lambda f: f.write(text), mode="w")
    written.append(out / "search.md")
    if docs is not None:
        fig = docs.parent / "figures" / "search_top.png"
        fig.parent.mkdir(parents=True, exist_ok=True)
        written.append(plot_top(fig, rows, config["top"]))
        text = report_markdown(
            config,
            rows,
            retrain,
            timing,
            figure="figures/search_top.png",
            command=command_line(config, str(out)) + f" --docs {docs}",
            dataset=dataset,
            machine=machine,
        )
        atomic_write(docs, lambda f: f.write(text), mode="w")
        written.append(docs)
    return written


# --------------------------------------------------------------------------- #
# Selection benchmark
# --------------------------------------------------------------------------- #


def bench_selection(runs: int = 128, shape: tuple[int, int] = (100, 100), repeats: int = 5) -> dict:
    """Seconds per vmapped value-and-gradient step: select (``core_unit``) vs ``lax.switch``."""
    import jax
    import jax.numpy as jnp

    from jaxact import search_space as ss

    x = jax.random.normal(jax.random.key(0), (runs, *shape))
    pool = ss.enumerate_candidates()
    codes = jnp.asarray(pool[np.linspace(0, len(pool) - 1, runs).astype(int)], jnp.float32)
    beta = jnp.ones((runs, 3))
    out = {}
    for name, f in (("select", ss.core_unit), ("switch", ss.core_unit_switch)):
        loss = lambda b, x, c, f=f: jnp.mean(f(x, c, b) ** 2)
        step = jax.jit(jax.vmap(jax.value_and_grad(loss)))
        jax.block_until_ready(step(beta, x, codes))
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            jax.block_until_ready(step(beta, x, codes))
            times.append(time.perf_counter() - t)
        out[name] = float(np.median(times))
    return out


# --------------------------------------------------------------------------- #
# Main
# --------------------------------------------------------------------------- #


def _machine() -> str:
    import os

    import jax

    return f"{platform.machine()} {os.cpu_count()} CPU(s), jax {jax.__version__} on {jax.default_backend()}"


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run_main(_main, argv, prog=PROG)


def _main(argv: Sequence[str] | None, *, stop_after_chunks: int | None = None) -> int:
    from experiments.outdir import OutputDir

    args = build_parser().parse_args(argv)
    if args.bench_selection:
        t = bench_selection()
        print(
            f"vmapped core unit, 128 runs of (100, 100), value and gradient: select "
            f"{1e3 * t['select']:.1f} ms, lax.switch {1e3 * t['switch']:.1f} ms "
            f"({t['switch'] / t['select']:.1f}x)"
        )
        return 0
    config = resolve(args)
    from experiments import multihost

    multihost.check_flags(args)
    status = multihost.supervise("experiments.search", argv, args, prog=PROG)
    if status is not None:  # a multi-process run: this process watched the real one
        return status
    try:
        multihost.initialize(args)  # before any other JAX call
    except multihost.DistributedError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    out = Path(args.out)
    main_process = _process_index() == 0
    with OutputDir(out) if main_process else _NoFolder(out) as od:
        resumed = od.check_config(config, overwrite=args.overwrite, key="search")
        if args.report_only:
            if not resumed or not (out / "results.csv").exists():
                raise cli.UsageError(
                    f"--report-only: {out} holds no results of this configuration; run the search first"
                )
        elif args.overwrite and not resumed:
            od.remove(OUTPUT_FILES)
        from experiments import data as data_mod

        try:
            ds = data_mod.load(config["dataset"], data_dir=args.data_dir).with_validation(
                VAL_FRACTION, seed=0
            )
        except (FileNotFoundError, ValueError) as e:
            raise cli.UsageError(str(e)) from None
        if config["batch_size"] > ds.num_train:
            raise cli.UsageError(
                f"--batch-size {config['batch_size']} is larger than the training split "
                f"({ds.num_train} rows)"
            )
        meta = {
            "search": config,
            "command": command_line(config, args.out),
            "dataset": ds.description,
            "machine": _machine(),
        }
        od.write_json("config.json", meta)
        timing = _load_json(out / "timing.json") if main_process else {}
        if not args.report_only:
            rank_data = _without_test(ds)
            rows, t1 = rank_stage(
                config,
                rank_data,
                out,
                chunk=args.chunk,
                quiet=args.quiet,
                stop_after_chunks=stop_after_chunks,
            )
            timing["ranking_seconds"] = timing.get("ranking_seconds", 0.0) + t1["seconds"]
            timing["ranking_candidates"] = timing.get("ranking_candidates", 0) + t1["candidates"]
            od.write_json("timing.json", timing)
            retrain, t2 = retrain_stage(config, ds, out, rows)
            timing["retrain_seconds"] = timing.get("retrain_seconds", 0.0) + t2["seconds"]
            od.write_json("timing.json", timing)
        else:
            if not main_process:
                return 0
            rows = read_csv(out / "results.csv")
            retrain = read_csv(out / "retrain.csv") if (out / "retrain.csv").exists() else []
        if not main_process:
            return 0
        written = write_report(
            out,
            config,
            rows,
            retrain,
            timing,
            docs=Path(args.docs) if args.docs else None,
            dataset=ds.description,
            machine=_machine(),
        )
    print("wrote " + " ".join(str(p) for p in written))
    return 0


class _NoFolder:
    """What a process other than 0 holds instead of the output folder: it writes nothing."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> _NoFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def check_config(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def remove(self, names: Any) -> None:
        return None

    def write_json(self, name: str, obj: Any) -> None:
        return None


@dataclasses.dataclass(frozen=True)
class _RankData:
    """Train and validation arrays only: the ranking never evaluates the test split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    num_classes: int


def _without_test(ds) -> _RankData:
    return _RankData(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.num_classes)


if __name__ == "__main__":
    sys.exit(main())
