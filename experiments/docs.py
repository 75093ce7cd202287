"""Refresh the generated blocks of README.md: ``python -m experiments.docs``.

Blocks sit between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers;
each is produced by code, never typed by hand (a test checks they are current):

* ``registry``: the activation table, from :func:`jaxact.registry_markdown`;
* ``sweep``: the default sweep's table and the best configuration of every
  sweep kept in ``docs/sweeps/<name>/`` (a sweep's ``config.json`` and
  ``results.csv``, copied from its ``--out`` directory);
* ``performance``: the headline benchmark figures, from ``docs/bench.json``
  (written by ``python -m experiments.bench --out docs --write-docs``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _registry() -> str:
    import jaxact

    return jaxact.registry_markdown().strip()


SWEEPS = README.parent / "docs" / "sweeps"


def _read_sweep(directory: Path) -> tuple[dict, list[dict]]:
    import csv
    import json

    meta = json.loads((directory / "config.json").read_text())
    with open(directory / "results.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            if k in ("learnable", "diverged"):
                r[k] = v == "True"
            elif k not in ("activation", "param"):
                r[k] = float(v) if v != "" else float("nan")
    return meta, rows


def _sweep() -> str:
    import numpy as np

    from experiments import sweep

    if not SWEEPS.is_dir():
        return "(no sweeps kept in docs/sweeps/)"
    out = []
    default = SWEEPS / "default"
    if (default / "results.csv").exists():
        meta, rows = _read_sweep(default)
        t = meta.get("timing", {})
        out += [
            f"Output of `{sweep.PROG}` (the default; {meta['num_runs']} runs on "
            f"{meta['num_devices']} {meta['platform']} device(s), "
            f"{t.get('wall_seconds', float('nan')):.0f} s of which compile "
            f"{t.get('compile_seconds', float('nan')):.0f} s; kept in `docs/sweeps/default/`):",
            "",
            "```",
            sweep.summary_table(meta["sweep"], rows),
            "```",
            "",
        ]
    best = []
    for d in sorted(p for p in SWEEPS.iterdir() if (p / "results.csv").exists()):
        meta, rows = _read_sweep(d)
        config = meta["sweep"]
        by_value = {}
        for r in rows:
            by_value.setdefault(r["value"], []).append(r["test_accuracy"])
        value, accs = max(by_value.items(), key=lambda kv: np.mean(kv[1]))
        command = meta.get("command") or sweep.command_line(config)
        best.append((np.mean(accs), np.std(accs), len(accs), value, config, command, d.name))
    if best:
        out += [
            "Best configuration of each kept sweep on the standard MNIST-1D split "
            "(final test accuracy after the last step, mean ± std over seeds), beside the "
            "published MLP figure (68%) and the dataset notebook's rerun (65.1%):",
            "",
            "| sweep | activation | best value | test accuracy | command |",
            "|---|---|---|---|---|",
        ]
        for mean, std, n, value, config, command, name in sorted(best, key=lambda b: -b[0]):
            mode = "learnable" if config["learnable"] else "fixed"
            out.append(
                f"| {name} | {config['activation']} ({mode} {config['param']}) | {value:g} | "
                f"{100 * mean:.2f}% ± {100 * std:.2f}% ({n} seeds) | `{command}` |"
            )
    return "\n".join(out).strip()


BENCH = README.parent / "docs" / "bench.json"


def _performance() -> str:
    import json

    from experiments import bench

    if not BENCH.exists():
        return "(no docs/bench.json yet: run `python -m experiments.bench --write-docs`)"
    res = json.loads(BENCH.read_text())
    command = res.get("command", "python -m experiments.bench")
    return (
        f"From `docs/bench.json` (`{command}`, {res.get('date', '')[:10]}, "
        f"{res.get('machine', {}).get('cpu', 'CPU') if isinstance(res.get('machine'), dict) else ''}); "
        "details, targets and their analysis: "
        "[docs/performance.md](docs/performance.md).\n\n" + bench.readme_table(res)
    )


BLOCKS: dict[str, Callable[[], str]] = {
    "registry": _registry,
    "sweep": _sweep,
    "performance": _performance,
}


def block(text: str, name: str) -> str:
    """The current content of block ``name`` in ``text``."""
    m = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    if m is None:
        raise ValueError(f"README has no <!-- {name}:start/end --> block")
    return m.group(1).rstrip("\n")


def refresh(text: str) -> str:
    """``text`` with every generated block rewritten."""
    for name, make in BLOCKS.items():
        content = make()
        block(text, name)  # must exist
        text = re.sub(
            rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)",
            lambda m, c=content: m.group(1) + c + "\n" + m.group(2),
            text,
            flags=re.S,
        )
    return text


def main() -> int:
    text = README.read_text()
    new = refresh(text)
    if new != text:
        README.write_text(new)
        print(f"updated {README}")
    else:
        print(f"{README} is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
