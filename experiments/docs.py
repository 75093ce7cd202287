"""Refresh the generated blocks of README.md: ``python -m experiments.docs``.

Blocks sit between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers;
each is produced by code, never typed by hand (a test checks they are current):

* ``registry``: the activation table, from :func:`jaxact.registry_markdown`;
* ``kinks``: derivatives at every kink, jaxact beside jax.nn and PyTorch
  (:func:`experiments.accuracy.kink_table`);
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
    return meta, rows


def _sweep() -> str:
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
            sweep.summary_table(sweep.SweepConfig.from_json(meta["sweep"]), rows),
            "```",
            "",
        ]
    best = []
    for d in sorted(p for p in SWEEPS.iterdir() if (p / "results.csv").exists()):
        meta, rows = _read_sweep(d)
        config = sweep.SweepConfig.from_json(meta["sweep"])
        for act in config.activations:
            mine = [r for r in rows if r["activation"] == act]
            b = sweep.best_configuration(config, mine)
            best.append((b, config, sweep.command_line(config), d.name))
    if best:
        out += [
            "Best configuration of each activation in each kept sweep (`docs/sweeps/`) on "
            "MNIST-1D, **chosen on validation** (800 of the standard 4,000 training samples "
            "held out; the 1,000 test samples untouched): its final test accuracy, mean ± "
            "sample std over seeds with the 95% t-interval, beside the published MLP figure "
            "(68%, trained on all 4,000) and the dataset notebook's rerun (65.1%). The "
            "commands are in each sweep's `config.json`.",
            "",
            "| sweep | activation | chosen value | chosen lr | val accuracy | test accuracy |",
            "|---|---|---|---|---|---|",
        ]
        for b, config, command, name in sorted(best, key=lambda x: -x[0]["val"].mean):
            mode = "learnable" if config.learnable else "fixed"
            what = f"{b['activation']} ({mode} {b['param']})" if b["param"] else b["activation"]
            value = "—" if b["value"] is None else f"{b['value']:.3g}"
            t, v = b["test"], b["val"]
            edge = (
                " (grid edge)"
                if b["learning_rate"] in (min(config.lrs), max(config.lrs)) and len(config.lrs) > 1
                else ""
            )
            out.append(
                f"| [{name}](docs/sweeps/{name}/config.json) | {what} | {value} | "
                f"{b['learning_rate']:g}{edge} | {100 * v.mean:.2f}% | "
                f"{100 * t.mean:.2f}% ± {100 * t.std:.2f}% "
                f"(95% CI {100 * t.ci_low:.1f}–{100 * t.ci_high:.1f}, n={t.n}) |"
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


def _kinks() -> str:
    from experiments import accuracy

    return accuracy.kink_table().strip()


BLOCKS: dict[str, Callable[[], str]] = {
    "registry": _registry,
    "kinks": _kinks,
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
