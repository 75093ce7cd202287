"""The ``suite`` part of ``python -m experiments.bench``: the README's test command, timed.

The fast tier (``pytest -q -m "not slow" -n auto``) runs in a subprocess from
the repository root, with the test session's persistent compilation cache as
earlier runs on this machine left it (``~/.cache/jaxact/jax-tests``); the
figure is its wall time and pytest's own summary line. It is left out of
``--quick`` runs (the test suite runs ``--quick`` itself).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from experiments.bench.config import ROOT

#: The README's test command after its install step (also in ``.ci/run``).
ARGS = ("-m", "pytest", "-q", "-m", "not slow", "-n", "auto")


def parse_summary(text: str) -> dict:
    """pytest's final line as numbers: ``{"passed": .., "failed": .., "seconds": ..}``.

    Examples:
      >>> parse_summary("== 2068 passed, 16 skipped, 26 deselected in 643.73s (0:10:43) ==")
      {'passed': 2068, 'skipped': 16, 'deselected': 26, 'seconds': 643.73}
    """
    lines = [ln for ln in text.strip().splitlines() if " in " in ln and re.search(r"\d+ \w+", ln)]
    if not lines:
        raise ValueError("no pytest summary line in the output")
    last = lines[-1]
    out: dict = {
        k: int(n)
        for n, k in re.findall(
            r"(\d+) (passed|failed|skipped|deselected|errors?|xfailed|xpassed)", last
        )
    }
    m = re.search(r" in ([0-9.]+)s", last)
    out["seconds"] = float(m.group(1)) if m else float("nan")
    return out


#: Set in the timed suite's environment: a bench started from inside it does not
#: start the suite again.
INSIDE = "JAXACT_BENCH_SUITE"


def run_suite() -> dict:
    """Runs the fast tier once; returns its wall time, pytest's summary and the command.

    Raises:
      RuntimeError: when called from inside a suite this part started, or the suite fails.
    """
    if os.environ.get(INSIDE) or os.environ.get("PYTEST_CURRENT_TEST"):
        raise RuntimeError("suite: already inside a test session (it would recurse)")
    cmd = [sys.executable, *ARGS]
    t = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, INSIDE: "1"}
    )
    wall = time.perf_counter() - t
    summary = parse_summary(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"suite: the fast tier failed ({summary}); run it to see why")
    return {
        "command": "python " + " ".join(a if " " not in a else f'"{a}"' for a in ARGS),
        "wall_seconds": wall,
        "summary": summary,
        "workers": os.cpu_count(),
    }
