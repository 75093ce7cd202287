"""Run the claim studies and write ``docs/claims.md``: ``python -m experiments.report``.

Each study (``experiments.studies.<name>``, see :mod:`experiments.studies`) writes
its figures and ``findings.json`` under ``--runs``; the report copies the
figures to ``docs/figures/`` and renders ``docs/claims.md``: one summary table
(claim, verdict, headline number, link), then one section per claim C1–C15
with its statement, the source's words in translation, the verdict rule, the
measured numbers, the figures and the command that reproduces it; then the
errors found in the sources and a gallery of every activation and its
derivative. The source notes themselves are summarised in ``docs/sources.md``.

A study whose ``findings.json`` already exists in ``--runs`` is not run again
(``--force`` reruns everything), so an interrupted report loses nothing it
had finished. ``--only NAME[,NAME]`` reruns just those studies and updates
their sections; the sections of claims whose studies are not in ``--runs``
are carried over from the existing ``claims.md``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import re
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
    "prelu_learned",
    "rational_study",
)
CLAIM_IDS = tuple(f"C{i}" for i in range(1, 17))
#: Longest table cell the report writes (GitHub renders longer ones, but unreadably).
MAX_CELL = 400

#: A short title per claim: the summary table's second column and the section heading.
TITLES = {
    "C1": "Without a nonlinearity, depth adds nothing",
    "C2": "Where sigmoid and tanh saturate",
    "C3": "Sigmoid gradients vanish with depth",
    "C4": "Non-zero-centred outputs make updates zig-zag",
    "C5": "ReLU converges about 6x faster",
    "C6": "ReLU units die; LeakyReLU and PReLU prevent it",
    "C7": "SELU keeps the variance constant",
    "C8": "Swish matches ReLU; Maxout is best at twice the weights",
    "C9": "Initialisation decides the ranking",
    "C10": "The step function cannot be trained by gradient",
    "C11": "Sigmoid and BCE learn the binary task",
    "C12": "The logistic tumour example",
    "C13": "Softmax needs the maximum subtracted",
    "C14": "PReLU learns its negative slope",
    "C15": "exp makes sigmoid and tanh slower than ReLU",
    "C16": "Learnable rational activations match or beat the best fixed one",
}

#: The sources' own words for each claim, translated from the Korean notes
#: (see docs/sources.md): claim -> ((note, translation), ...).
SOURCE_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "C1": (
        ("001", "If the layers are not made non-linear because no activation function sits "
                "between them, then however deep the layers are stacked, the result is the same "
                "as training with one w and one b."),
        ("004", "If h(x) = cx is used as the activation function of a three-layer network, "
                "y(x) = h(h(h(x))) = c·c·c·x, which is really the same as y(x) = a·x: a network "
                "without hidden layers."),
    ),
    "C2": (
        ("000", "When the input is 0, the derivative of the sigmoid reaches its maximum of 0.25. "
                "As the input moves away from 0 in either direction, the derivative approaches "
                "0. [...] As the input approaches 0, the derivative of tanh approaches its "
                "maximum of 1."),
        ("001", "The points where the slope of the tangent becomes 0 already begin at −6 and "
                "+6."),
        ("002", "When the input is greater than 4, the output converges to 1 and the gradient "
                "vanishes. (tanh)"),
    ),
    "C3": (
        ("000", "When there are many hidden layers, the gradients (derivatives) computed during "
                "backpropagation approach 0, so the weights W are not learned. This is called "
                "the vanishing gradient."),
        ("002", "As the layers become more numerous, the values converge to 0 and performance "
                "drops."),
    ),
    "C4": (
        ("001", "The output of sigmoid (0–1) and its derivative (0–0.025) are both positive, so "
                "the update of w2 always comes out all + or all −; choosing the update direction "
                "becomes an inefficient zigzag and updates slow down. [...] ReLU's output is 0 "
                "or positive and its derivative 0 or 1, both positive like sigmoid's, so the "
                "zigzag happens too."),
        ("002", "Because the centre of the output is not 0, if the input data are always "
                "positive the gradients are all positive or all negative, so training moves in a "
                "zigzag and its efficiency drops."),
    ),
    "C5": (
        ("001", "[ReLU's] loss converges nearly 6 times faster than sigmoid's and tanh's."),
    ),
    "C6": (
        ("002", "If the weighted sum becomes negative, the node no longer updates its value and "
                "becomes a dead neuron (Dying ReLU). [LeakyReLU] is used to prevent the dead "
                "neuron by controlling the negative slope."),
    ),
    "C7": (
        ("001", "With two alpha values as parameters, training makes the variance of the "
                "activation function's output constant, and performance is known to improve."),
    ),
    "C8": (
        ("001", "The performance of the blue ReLU and the yellow Swish is almost the same. "
                "[...] [Maxout's] actual performance is also the best, but because it needs two "
                "weights it is inefficient."),
    ),
    "C9": (
        ("001", "Assuming the weights were initialised well: ReLU and Swish perform almost the "
                "same; identity (no activation) and sigmoid end up similar. With badly "
                "initialised weights, sigmoid shows the highest performance, and ReLU and Swish "
                "come next, alike."),
    ),
    "C10": (
        ("002", "It has a point of discontinuity at the threshold, so it cannot be "
                "differentiated and cannot be trained; it is not used in deep-learning models."),
    ),
    "C11": (
        ("002", "Binary classification in PyTorch on the book's binary.csv (True when x, y and "
                "z are all at least 40 and their mean is at least 60): Linear(3, 1) + Sigmoid, "
                "BCELoss, SGD lr 0.0001, batch 64, 10,000 epochs. Printed: 'Epoch : 1000 [...] "
                "Cost : 0.680' [...] 'Epoch : 10000 [...] Cost : 0.576'."),
    ),
    "C12": (
        ("004", "Using m = 1.87 and b = −5.47 gives [the fitted sigmoid]. With the tumour size "
                "set to 3 cm, one sees that it is intuitively about right. With 6 cm, the model "
                "predicts a high value."),
    ),
    "C13": (
        ("003", "Softmax implemented in code: e_x = np.exp(x - x.max()); return e_x / "
                "e_x.sum()."),
    ),
    "C14": (
        ("000", "pReLU(x) = max(0, x) + α min(0, x), a modification of ReLU that reduces the "
                "chance of this problem."),
        ("001", "Parametric ReLU: when x is negative, it multiplies by an alpha instead of 0.01, "
                "and trains and updates it together with w by backpropagation."),
    ),
    "C15": (
        ("001", "The third drawback of sigmoid: it contains the np.exp operation, so it is slow "
                "to compute (in fact the convolution takes longer). [tanh] has more exp "
                "operations, so it takes even longer."),
    ),
}  # fmt: skip


def source_errors() -> list[tuple[str, str, str]]:
    """(source, what it says, the correct form with a measured check).

    The one place where the report states the sources' errors.
    """
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
            r"the SELU paper fixes $\lambda \approx 1.0507$ and $\alpha \approx 1.6733$ so that "
            "(mean, variance) = (0, 1) is an attracting fixed point under LeCun-normal weights "
            "(C7); jaxact offers both `selu` (fixed) and `parametric_selu` with learnable "
            "`scale` and `alpha`",
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


# -- rendering -------------------------------------------------------------------

_NOTE = re.compile(r"\b([Ss])eeds? (00[0-4])(?:[–-](00[0-4]))?\b")


def note_link(note: str) -> str:
    """``[note 001](sources.md#note-001)``: a source note, as a link into docs/sources.md."""
    return f"[note {note}](sources.md#note-{note})"


def _link_notes(text: str) -> str:
    """Turns "seed 002" (the notes' old name) into a link to the note in docs/sources.md."""

    def sub(m: re.Match) -> str:
        first, last = m.group(2), m.group(3)
        if last:
            return f"notes {first}–{last} ([sources](sources.md))"
        return note_link(first)

    return _NOTE.sub(sub, text)


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped, at most :data:`MAX_CELL` characters."""
    cell = " ".join(str(text).split()).replace("|", "\\|")
    if len(cell) > MAX_CELL:
        raise ValueError(
            f"{PROG}: a table cell is {len(cell)} characters (at most {MAX_CELL}): {cell[:80]}…"
        )
    return cell


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def _heading(claim: str) -> str:
    return f"{claim}: {TITLES.get(claim, claim)}"


def _blocks(markdown: str) -> str:
    """A study's Markdown with blank lines around its tables, so that they render as tables."""
    out: list[str] = []
    for line in markdown.splitlines():
        is_row = line.lstrip().startswith("|")
        if out and out[-1].strip():
            was_row = out[-1].lstrip().startswith("|")
            if is_row != was_row and line.strip():
                out.append("")
        out.append(line.strip() if is_row else line)
    return "\n".join(out).strip()


def _check_tables(markdown: str) -> None:
    for line in markdown.splitlines():
        if line.lstrip().startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
            for c in cells:
                if len(c.strip()) > MAX_CELL:
                    raise ValueError(
                        f"{PROG}: a table cell is {len(c.strip())} characters (at most "
                        f"{MAX_CELL}): {c.strip()[:80]}…"
                    )


def _rule(condition: str) -> str:
    """The verdict rule's text without its leading "Rule:", starting with a capital.

    Examples:
      >>> _rule("Rule, on paired intervals: x")
      'On paired intervals: x'
      >>> _rule("Rule (fixed before the run): not supported unless y")
      'Fixed before the run: not supported unless y'
    """
    m = re.match(r"^\s*rule\b\s*(?:\(([^)]*)\))?\s*[:,]?\s*", condition, flags=re.I)
    text = condition[m.end() :].strip() if m else condition.strip()
    if m and m.group(1):
        text = f"{m.group(1)}: {text}"
    return (text[:1].upper() if text[:1].isascii() else text[:1]) + text[1:]


def _section(study: str, found: list[Finding], figures: dict[tuple[str, str], str]) -> list[str]:
    """The Markdown of one claim's section (several findings of a claim are stacked)."""
    f0 = found[0]
    lines = [f"<!-- {f0.claim} -->", f"## {_heading(f0.claim)}", ""]
    for f in found:
        lines += [f"**Claim.** {f.statement}", ""]
        if f.sources:
            srcs = ", ".join(note_link(s) for s in f.sources)
            lines += [f"**Sources:** {srcs}.", ""]
        else:
            lines += ["**Sources:** none of the notes; the paper named in the claim.", ""]
        for note, words in SOURCE_WORDS.get(f.claim, ()):
            if note in f.sources:
                lines += [f"> {words} ({note_link(note)}, translated)", ""]
        lines += [f"**Verdict: {f.verdict}.**" + (f" {f.headline}" if f.headline else ""), ""]
        if f.condition:
            lines += [f"**Rule.** {_link_notes(_rule(f.condition))}", ""]
        lines += ["**Measured.**", ""]
        numbers = _blocks(_link_notes(f.numbers))
        _check_tables(numbers)
        lines += [numbers, ""]
        figs = [(p, figures[(study, p)]) for p in f.figures if (study, p) in figures]
        for p, path in figs:
            lines += [f"![{f.claim}: {Path(p).stem}](figures/{Path(path).name})", ""]
    where = f"study `experiments/studies/{study}.py`"
    lines += [
        f"Reproduce: `{PROG} --only {study}` ({where}).",
        "",
        f"<!-- /{f0.claim} -->",
    ]
    return lines


def _summary_row(claim: str, found: list[Finding]) -> str:
    verdict = "; ".join(dict.fromkeys(f.verdict for f in found))
    headline = "; ".join(f.headline for f in found if f.headline) or "see the section"
    link = f"[{claim}](#{anchor(_heading(claim))})"
    return f"| {link} | {_cell(TITLES.get(claim, ''))} | **{verdict}** | {_cell(headline)} |"


def _previous_parts(previous: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Summary rows and sections of an earlier ``claims.md``, by claim."""
    rows: dict[str, str] = {}
    sections: dict[str, str] = {}
    if not previous:
        return rows, sections
    for m in re.finditer(r"^\| \[(C\d+)\]\(#[^)]*\) \|.*$", previous, re.M):
        rows[m.group(1)] = m.group(0)
    for m in re.finditer(r"^<!-- (C\d+) -->\n.*?^<!-- /\1 -->$", previous, re.M | re.S):
        sections[m.group(1)] = m.group(0)
    return rows, sections


def render(
    all_findings: list[tuple[str, Finding]],
    figures: dict[tuple[str, str], str],
    gallery: list[str],
    *,
    command: str,
    elapsed: float,
    reused: Sequence[str] = (),
    previous: str | None = None,
) -> str:
    """The Markdown of ``docs/claims.md``.

    Claims with no finding in ``all_findings`` keep their summary row and
    section from ``previous`` (an earlier ``claims.md``) when it has them.
    """
    by_claim: dict[str, list[tuple[str, Finding]]] = {}
    for study, f in all_findings:
        by_claim.setdefault(f.claim, []).append((study, f))
    old_rows, old_sections = _previous_parts(previous)
    carried = [c for c in CLAIM_IDS if c not in by_claim and c in old_rows and c in old_sections]
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
    if carried:
        lines += [
            f"Carried over unchanged from the previous `claims.md` (their studies were not in "
            f"`--runs` this time): {', '.join(carried)}.",
            "",
        ]
    lines += [
        "The claims come from five short notes on activation functions, written in Korean; "
        "[sources.md](sources.md) summarises each note, lists the claims it makes and the "
        "errors found in it. Each claim is settled by a study in `experiments/studies/` built on one "
        "training engine, and every number on this page was computed by the command given in "
        "its section. Each claim's headline (the summary table and the verdict line of its "
        "section) gives a figure measured over training seeds as mean ± sample standard "
        "deviation with a 95% Student-t interval for the mean and the number of seeds n "
        "(`experiments/stats.py`); the detailed numbers below it give mean ± sample standard "
        "deviation over the seeds, with the interval and n where a rule compares them. "
        "Studies that compare activations give each its own learning rate, chosen on a "
        "validation split from a grid widened until the choice is not on its edge; each "
        "section says which value won.",
        "",
        "## Summary",
        "",
        "| claim | in short | verdict | headline |",
        "|---|---|---|---|",
    ]
    missing = []
    for claim in CLAIM_IDS:
        if claim in by_claim:
            lines.append(_summary_row(claim, [f for _, f in by_claim[claim]]))
        elif claim in carried:
            lines.append(old_rows[claim])
        else:
            missing.append(claim)
    extra = sorted(set(by_claim) - set(CLAIM_IDS))
    for claim in extra:
        lines.append(_summary_row(claim, [f for _, f in by_claim[claim]]))
    if missing:
        lines += ["", f"Not settled in this run: {', '.join(missing)}."]
    for claim in (*CLAIM_IDS, *extra):
        if claim in by_claim:
            studies = list(dict.fromkeys(s for s, _ in by_claim[claim]))
            for study in studies:
                found = [f for s, f in by_claim[claim] if s == study]
                lines += ["", *_section(study, found, figures)]
        elif claim in carried:
            lines += ["", old_sections[claim]]
    lines += [
        "",
        "## Errors in the sources",
        "",
        "What the notes state wrongly, with the correct form and a check computed by the "
        "report itself; [sources.md](sources.md) puts each error in its note's context.",
        "",
        "| note | says | correct |",
        "|---|---|---|",
    ]
    for src, says, correct in source_errors():
        lines.append(f"| {note_link(src)} | {_cell(says)} | {_cell(correct)} |")
    if gallery:
        lines += [
            "",
            "## Gallery: every activation and its derivative",
            "",
            "Lines: the function and its closed-form derivative (`jaxact.get(name).dfdx`); "
            "markers: central finite differences of the function's values in float64 "
            "(`jaxact.plotting`), which never use the activation's derivative rule, so a wrong "
            "closed form would show as markers off the line. No marker where the function has "
            "a kink or a jump.",
            "",
        ]
        lines += [f"![{Path(g).stem}](figures/gallery/{Path(g).name})" for g in gallery]
    return "\n".join(lines) + "\n"


# -- command line ------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds per study)")
    parser.add_argument("--docs", default="docs", help="where claims.md and figures/ are written")
    parser.add_argument("--runs", default=None, help="study outputs (default runs/report[-quick])")
    parser.add_argument(
        "--only",
        default=None,
        help="comma list of studies to (re)run; the other claims' sections are reused "
        f"(studies: {', '.join(STUDIES)})",
    )
    parser.add_argument("--force", action="store_true", help="rerun studies that already finished")
    args = parser.parse_args(argv)
    only = STUDIES if args.only is None else tuple(s.strip() for s in args.only.split(","))
    unknown = [s for s in only if s not in STUDIES]
    if unknown:
        print(f"{PROG}: error: --only: unknown studies {unknown}; valid: {list(STUDIES)}",
              file=sys.stderr)  # fmt: skip
        return 2
    force = args.force or args.only is not None
    runs = Path(args.runs or ("runs/report-quick" if args.quick else "runs/report"))
    docs = Path(args.docs)
    figdir = docs / "figures"
    t0 = time.perf_counter()
    collected: list[tuple[str, Finding]] = []
    reused: list[str] = []
    figures: dict[tuple[str, str], str] = {}
    for name in STUDIES:
        out = runs / name
        done = out / "findings.json"
        if name in only and (force or not done.exists()):
            print(f"[report] {name} ...", file=sys.stderr, flush=True)
            if force and out.exists():
                shutil.rmtree(out)
            t = time.perf_counter()
            found = importlib.import_module(f"experiments.studies.{name}").run(
                out, quick=args.quick
            )
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
        written = set()
        for f in findings_mod.read(done):
            collected.append((name, f))
            for p in f.figures:
                src = out / p
                if src.exists():
                    dst = figdir / f"{name}_{Path(p).name}"
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dst)
                    figures[(name, p)] = str(dst)
                    written.add(dst.name)
        # A figure the study no longer makes would be left behind, unreferenced.
        for stale in figdir.glob(f"{name}_*.png"):
            if stale.name not in written:
                stale.unlink()
    gallery = _gallery(figdir)
    command = PROG + (" --quick" if args.quick else "")
    elapsed = time.perf_counter() - t0
    target = docs / "claims.md"
    previous = target.read_text() if target.exists() else None
    text = render(
        collected,
        figures,
        gallery,
        command=command,
        elapsed=elapsed,
        reused=reused,
        previous=previous,
    )
    from jaxact._src.io import atomic_write

    atomic_write(target, lambda f: f.write(text), mode="w")
    print(f"wrote {target} ({len(collected)} findings, {len(figures)} figures)")
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
