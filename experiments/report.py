"""Run every claim study and write ``docs/claims.md``: ``python -m experiments.report``.

Each study (``experiments.<name>``, see :mod:`experiments.findings`) writes
its figures and ``findings.json`` under ``--runs``; the report copies the
figures to ``docs/figures/`` and renders one row per claim C1–C15 with the
measured numbers and a verdict, the sources' known errors with the correct
formulas, and a gallery of every activation and its derivative. C14 (PReLU's
α is learned) is read from a learnable-PReLU sweep's trajectories.

A study whose ``findings.json`` already exists in ``--runs`` is not run again
(``--force`` reruns everything), so an interrupted report loses nothing it
had finished.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from experiments import findings as findings_mod
from experiments.findings import Finding

PROG = "python -m experiments.report"
STUDIES = (
    "linear_collapse",
    "saturation",
    "vanishing",
    "zigzag",
    "convergence",
    "dying_relu",
    "step_untrainable",
    "binary",
    "logistic",
)


def _sweep_config(quick: bool) -> dict:
    from experiments import sweep

    argv = ["--values", "0:1:16", "--seeds", "2", "--quiet"]
    if quick:
        argv = ["--dataset", "xor", "--layers", "8", "--steps", "40", "--eval-every", "10",
                "--batch-size", "32", "--values", "0,0.5,1", "--seeds", "2", "--quiet"]  # fmt: skip
    return sweep.resolve(sweep.build_parser().parse_args(argv))


def prelu_learned(out: Path, *, quick: bool = False) -> list[Finding]:
    """C14 from a learnable-PReLU sweep: does α move away from its initial value?"""
    from experiments import data, sweep

    config = _sweep_config(quick)
    if not (out / "results.csv").exists():
        status = sweep.run(config, data.load(config["dataset"]), out, quiet=True)
        if status != 0:
            raise RuntimeError(f"the C14 sweep failed with status {status}")
    hist = np.load(out / "history.npz")
    alpha = hist["alpha"]  # (runs, evals, layers)
    start, end = alpha[:, 0, :], alpha[:, -1, :]
    moved = np.abs(end - start)
    values = hist["values"]
    spread_start = np.ptp(start.mean(-1))
    spread_end = np.ptp(end.mean(-1))
    # Rule: supported if every run's α moved by more than 0.01 from its start.
    supported = bool(np.all(moved > 0.01))
    numbers = (
        f"{len(values)} runs ({config['dataset']}, {config['steps']} steps, "
        f"initial α in [{values.min():.2g}, {values.max():.2g}]): |Δα| per layer "
        f"min {moved.min():.3f}, median {np.median(moved):.3f}; learned α (mean over layers) "
        f"{end.mean(-1).mean():.3f} ± {end.mean(-1).std():.3f}; spread of α across runs "
        f"{spread_start:.2f} at step 0 → {spread_end:.3f} at the end"
    )
    sweep_figs = ("param_trajectories.png", "accuracy_vs_value.png")
    return [
        Finding(
            claim="C14",
            statement="PReLU's negative slope α is a parameter learned by backpropagation.",
            sources=("000", "001"),
            numbers=numbers,
            verdict="supported" if supported else "not supported",
            condition=(
                "rule: every run's α moves by > 0.01; the runs converge to similar α "
                "whatever the start"
                if spread_end < spread_start
                else "rule: every run's α moves by > 0.01"
            ),
            figures=sweep_figs,
        )
    ]


def source_errors() -> list[tuple[str, str, str]]:
    """(source, what it says, the correct form with a measured check)."""
    import jax.numpy as jnp

    import jaxact

    x = np.linspace(-6, 6, 1201)
    seed000 = (1 - np.exp(-x)) / (1 + np.exp(-x))
    as_half = np.max(np.abs(seed000 - np.tanh(x / 2)))
    as_tanh = np.max(np.abs(seed000 - np.tanh(x)))
    dsig = np.asarray(jaxact.get("sigmoid").dfdx(jnp.asarray(x, jnp.float32)))
    step = np.asarray(jaxact.step(jnp.asarray([-1.0, 1.0])))
    return [
        (
            "000",
            r"$\tanh(x) = \frac{1 - e^{-x}}{1 + e^{-x}}$",
            r"that expression is $\tanh(x/2)$ (max difference on [−6, 6]: "
            f"{as_half:.1e}; from $\\tanh(x)$: {as_tanh:.2f}); "
            r"$\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = \frac{1 - e^{-2x}}{1 + e^{-2x}}$",
        ),
        (
            "001",
            "the sigmoid derivative ranges over 0–0.025",
            f"$\\sigma'(x) = \\sigma(x)(1-\\sigma(x)) \\in (0, 0.25]$; measured max {dsig.max():.4f} "
            f"at x = {x[np.argmax(dsig)]:.2f}",
        ),
        (
            "002",
            "the step function outputs 0 above the threshold and 1 below",
            f"reversed: $H(x) = 1$ for $x > 0$, $0$ otherwise (`jaxact.step([-1, 1])` = "
            f"{step.tolist()})",
        ),
        (
            "001",
            "SELU trains its two α values",
            r"the SELU paper fixes $\lambda \approx 1.0507$ and $\alpha \approx 1.6733$ "
            "(self-normalising fixed point); jaxact offers both `selu` (fixed) and "
            "`parametric_selu` with learnable `scale` and `alpha`",
        ),
    ]


def machine() -> str:
    import jax

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {jax.default_backend()} backend "
        f"({len(jax.devices())} device(s)), Python {platform.python_version()}, jax {jax.__version__}"
    )


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render(
    all_findings: list[tuple[str, Finding]],
    figures: dict[tuple[str, str], str],
    gallery: list[str],
    *,
    command: str,
    elapsed: float,
    reused: Sequence[str] = (),
) -> str:
    """The Markdown of ``docs/claims.md``."""
    order = {f"C{i}": i for i in range(1, 16)}
    rows = sorted(all_findings, key=lambda sf: (order.get(sf[1].claim, 99), sf[0]))
    lines = [
        "# The sources' claims, measured",
        "",
        f"Generated by `{command}` on {datetime.date.today().isoformat()} "
        f"in {elapsed / 60:.1f} min.  ",
        f"Machine: {machine()}.",
        "",
    ]
    if reused:
        lines += [
            f"Reused from an earlier run of the report in the same `--runs` folder (their "
            f"`findings.json` existed): {', '.join(reused)}; the time above includes the "
            f"time they took then.",
            "",
        ]
    lines += [
        "Each claim of the source notes (seeds 000–004, SPEC section 5) is settled by a "
        "study in `experiments/` built on the one training engine; every number below was "
        "computed by that run (training numbers: mean ± std over seeds). Verdict rules are "
        "stated with each study's code and summarised in the condition column.",
        "",
        "| claim | statement | source | measured | verdict | figures |",
        "|---|---|---|---|---|---|",
    ]
    for study, f in rows:
        srcs = ", ".join(f.sources)
        figs = " ".join(
            f"[{Path(p).stem}](figures/{Path(figures[(study, p)]).name})"
            for p in f.figures
            if (study, p) in figures
        )
        verdict = f"**{f.verdict}**" + (f" — {_cell(f.condition)}" if f.condition else "")
        lines.append(
            f"| {f.claim} | {_cell(f.statement)} | {srcs} | {_cell(f.numbers)} | {verdict} "
            f"| {figs} |"
        )
    missing = [c for c in order if c not in {f.claim for _, f in rows}]
    if missing:
        lines += ["", f"Not settled in this run: {', '.join(missing)}."]
    lines += ["", "## Errors in the sources", "", "| source | says | correct |", "|---|---|---|"]
    for src, says, correct in source_errors():
        lines.append(f"| {src} | {_cell(says)} | {_cell(correct)} |")
    corrections = [(s, f) for s, f in rows if f.correction]
    if corrections:
        lines += ["", "Corrections found by the studies:", ""]
        lines += [f"- {f.claim} ({s}): {_cell(f.correction)}" for s, f in corrections]
    if gallery:
        lines += [
            "",
            "## Gallery: every activation and its derivative",
            "",
            "Solid: the function and its closed-form derivative (`jaxact.get(name).dfdx`); "
            "markers: `jax.grad` of the function.",
            "",
        ]
        lines += [f"![{Path(g).stem}](figures/gallery/{Path(g).name})" for g in gallery]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds per study)")
    parser.add_argument("--docs", default="docs", help="where claims.md and figures/ are written")
    parser.add_argument("--runs", default=None, help="study outputs (default runs/report[-quick])")
    parser.add_argument("--only", default=None, help="comma list of studies to run (default all)")
    parser.add_argument("--force", action="store_true", help="rerun studies that already finished")
    args = parser.parse_args(argv)
    names = STUDIES + ("prelu_learned",)
    only = names if args.only is None else tuple(s.strip() for s in args.only.split(","))
    unknown = [s for s in only if s not in names]
    if unknown:
        print(f"{PROG}: error: --only: unknown studies {unknown}; valid: {list(names)}",
              file=sys.stderr)  # fmt: skip
        return 2
    runs = Path(args.runs or ("runs/report-quick" if args.quick else "runs/report"))
    docs = Path(args.docs)
    figdir = docs / "figures"
    t0 = time.perf_counter()
    collected: list[tuple[str, Finding]] = []
    reused: list[str] = []
    figures: dict[tuple[str, str], str] = {}
    for name in names:
        out = runs / name
        done = out / "findings.json"
        if name in only and (args.force or not done.exists()):
            print(f"[report] {name} ...", file=sys.stderr, flush=True)
            if args.force and out.exists():
                shutil.rmtree(out)
            t = time.perf_counter()
            if name == "prelu_learned":
                found = prelu_learned(out, quick=args.quick)
                findings_mod.write(out, found)
            else:
                found = importlib.import_module(f"experiments.{name}").run(out, quick=args.quick)
                if not done.exists():
                    findings_mod.write(out, found)
            seconds = time.perf_counter() - t
            (out / "seconds.txt").write_text(f"{seconds:.1f}\n")
            print(f"[report] {name}: {seconds:.1f} s", file=sys.stderr)
        elif done.exists():
            reused.append(name)
            t0 -= _recorded_seconds(out)
        if not done.exists():
            continue
        for f in findings_mod.read(done):
            collected.append((name, f))
            for p in f.figures:
                src = out / p
                if src.exists():
                    dst = figdir / f"{name}_{Path(p).name}"
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dst)
                    figures[(name, p)] = str(dst)
    gallery = _gallery(figdir)
    command = PROG + (" --quick" if args.quick else "")
    elapsed = time.perf_counter() - t0
    text = render(collected, figures, gallery, command=command, elapsed=elapsed, reused=reused)
    from experiments.engine import atomic_write

    atomic_write(docs / "claims.md", lambda f: f.write(text), mode="w")
    print(f"wrote {docs / 'claims.md'} ({len(collected)} findings, {len(figures)} figures)")
    return 0


def _recorded_seconds(out: Path) -> float:
    """How long the study in ``out`` took when it ran (0 if not recorded)."""
    try:
        return float((out / "seconds.txt").read_text())
    except (OSError, ValueError):
        return 0.0


def _gallery(figdir: Path) -> list[str]:
    """Plots every activation and its derivative into ``figdir/gallery``."""
    try:
        from jaxact import plotting
    except ImportError as e:  # matplotlib missing: the table still renders
        print(f"[report] gallery skipped: {e}", file=sys.stderr)
        return []
    gdir = figdir / "gallery"
    gdir.mkdir(parents=True, exist_ok=True)
    return sorted(str(p) for p in _as_paths(plotting.gallery(gdir)))


def _as_paths(result) -> list[Path]:
    if result is None:
        return []
    if isinstance(result, (str, os.PathLike)):
        p = Path(result)
        return sorted(p.glob("*.png")) if p.is_dir() else [p]
    return [Path(r) for r in result]


if __name__ == "__main__":
    sys.exit(main())
