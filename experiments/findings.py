"""What a claim study returns, and how studies write it.

Every study module ``experiments.studies.<name>`` settling claims of the source
notes (``docs/sources.md``) exposes ``CLAIMS`` (the claim ids it settles) and
``run(out, *, quick=False) -> list[Finding]`` (see :mod:`experiments.studies`); ``python -m experiments.report``
calls them all and renders the findings into ``docs/claims.md``
(``python -m experiments.report --only NAME`` runs one study).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

#: "inconclusive": the rule compares two means and the interval of their
#: difference straddles its threshold (the data cannot decide at this n).
VERDICTS = ("supported", "not supported", "depends", "inconclusive")


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
      headline: the one number that answers the claim, with its interval
        where it is measured over seeds (the report's summary table; one
        line, at most a few dozen words).
    """

    claim: str
    statement: str
    sources: tuple[str, ...]
    numbers: str
    verdict: str
    condition: str = ""
    figures: tuple[str, ...] = ()
    correction: str = ""
    headline: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def write(out: str | os.PathLike, findings: Sequence[Finding]) -> Path:
    """Writes ``findings.json`` into ``out`` atomically; returns its path."""
    from jaxact._src.io import atomic_write

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
