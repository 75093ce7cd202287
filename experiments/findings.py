"""What a claim study returns, and how studies write it.

Every study module ``experiments.<name>`` settling claims of SPEC section 5
exposes ``CLAIMS`` (the claim ids it settles) and
``run(out, *, quick=False) -> list[Finding]``; ``python -m experiments.report``
calls them all and renders the findings into ``docs/claims.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

VERDICTS = ("supported", "not supported", "depends")


@dataclasses.dataclass(frozen=True)
class Finding:
    """The measured answer to one claim.

    Attributes:
      claim: the claim id, ``"C1"`` ... ``"C15"``.
      statement: the claim in one sentence, as the sources make it.
      sources: the seed notes that make it, e.g. ``("001", "004")``.
      numbers: the measured numbers, as short Markdown (mean ± std over seeds
        where training is involved), each produced by the study's code.
      verdict: one of :data:`VERDICTS`.
      condition: for ``"depends"`` (or a nuance of the others): when it holds.
      figures: PNG paths relative to the study's output directory.
      correction: where a source states something wrong, the correct form.
    """

    claim: str
    statement: str
    sources: tuple[str, ...]
    numbers: str
    verdict: str
    condition: str = ""
    figures: tuple[str, ...] = ()
    correction: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def write(out: str | os.PathLike, findings: Sequence[Finding]) -> Path:
    """Writes ``findings.json`` into ``out`` atomically; returns its path."""
    from experiments.engine import atomic_write

    path = Path(out) / "findings.json"
    text = json.dumps([dataclasses.asdict(f) for f in findings], indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text), mode="w")
    return path


def read(path: str | os.PathLike) -> list[Finding]:
    """Reads a ``findings.json`` written by :func:`write`."""
    items = json.loads(Path(path).read_text())
    return [
        Finding(**{**d, "sources": tuple(d["sources"]), "figures": tuple(d["figures"])})
        for d in items
    ]


def main(
    prog: str,
    run: Callable[..., Sequence[Finding]],
    argv: Sequence[str] | None,
    *,
    description: str,
    default_out: str,
    quick_help: str = "tiny sizes (a smoke test)",
) -> int:
    """The command line every study shares: ``python -m experiments.<name> [--out DIR] [--quick]``.

    Runs ``run(out, quick=...)``, prints each finding and returns the exit
    status; bad input is one line on stderr and status 2, with nothing written.
    """
    parser = _Parser(prog=prog, description=description)
    parser.add_argument("--out", default=default_out, help="output directory")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    try:
        args = parser.parse_args(argv)
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out} exists and is not a directory")
    except UsageError as e:
        print(f"{prog}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    for f in run(out, quick=args.quick):
        print(f"{f.claim} [{f.verdict}] {f.statement}\n{f.numbers}\n")
    print(f"wrote {out}/findings.json")
    return 0


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)
