"""The report of ``python -m experiments.bench``: Markdown tables, the README
table and ``docs/performance.md``, all rendered from a ``bench.json``.

Older ``bench.json`` files (one timing per sweep, no compile or profile part)
render too: what they lack is left out.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from experiments.bench.config import ANALYSIS_BEGIN, ANALYSIS_END, GPU_PLAN, PROG, TARGETS

VARIANT_LABELS = {
    "engine": "(a) engine: vmapped + sharded sweep",
    "jax_loop": "(b) plain JAX: loop over one jitted run",
    "torch_eager": "(c) PyTorch eager loop",
    "torch_vmap": "(d) PyTorch torch.func + vmap",
}
GPU_COMMAND = f"{PROG} --gpu-plan --out docs/gpu"


def _fmt(x: float, digits: int = 3) -> str:
    """Three significant digits, whole numbers from 1000 on.

    Examples:
      >>> _fmt(0.012345), _fmt(17.44), _fmt(1234.5)
      ('0.0123', '17.4', '1234')
    """
    return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:.0f}"


def _run(v: dict, key: str = "run_seconds", scale: float = 1.0) -> str:
    """A timing cell: ``median (min … max, n)`` when repeated, else the one value."""
    xs = v.get(f"{key}_all") if key == "run_seconds" else None
    if xs and len(xs) > 1:
        return f"{_fmt(v[key] / scale)} ({_fmt(min(xs) / scale)}–{_fmt(max(xs) / scale)})"
    return _fmt(v[key] / scale)


def _median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def _repeats_note(res: dict) -> str:
    n = res["config"].get("sweep_repeats")
    if not n or n == 1:
        return "one timing per sweep"
    return (
        f"each sweep timed {n} times: median (min–max); the first timing of a sweep is its "
        "first call's wall time minus its compile time"
    )


def _dtypes(res: dict) -> list[str]:
    """The dtypes of the copy bandwidths, in the run's order."""
    have = res["machine"]["copy_gbps"]
    return [d for d in res["config"]["dtypes"] if d in have] + [
        d for d in have if d not in res["config"]["dtypes"]
    ]


def _versions(v: dict) -> str:
    order = ["python", "jax", "jaxlib", "flax", "optax", "numpy", "torch"]
    keys = [k for k in order if k in v] + sorted(k for k in v if k not in order)
    return ", ".join(f"{k} {v[k]}" for k in keys if v[k])


def _machine(res: dict) -> str:
    m = res["machine"]
    where = ""
    if m.get("platform") and m["platform"] != "cpu":
        where = f"; JAX platform {m['platform']} ({m.get('device_kind', '?')} × {m.get('device_count', '?')})"
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores; jax {m['versions']['jax']}{where}; "
        "copy bandwidth "
        + ", ".join(f"{d} {_fmt(m['copy_gbps'][d])} GB/s" for d in _dtypes(res))
        + f"; {m['matmul_size']}² float32 matmul {_fmt(m['matmul_gflops'])} GFLOP/s."
    )


def _activations(res: dict) -> list[str]:
    out = []
    a, m = res["activations"], res["machine"]
    out.append(
        f"\n### Activations: jaxact / jax.nn time under jit "
        f"({a['elements']:,} elements, best of {res['config']['repeats']}, "
        f"alternating calls)\n"
    )
    dtypes = res["config"]["dtypes"]
    out.append(
        "| activation | "
        + " | ".join(f"{d} fwd | {d} fwd+bwd" for d in dtypes)
        + " | GB/s fwd (jaxact, % of copy) |"
    )
    out.append("|" + "---|" * (2 + 2 * len(dtypes)))
    by = {(r["activation"], r["dtype"], r["mode"]): r for r in a["rows"]}
    for name in dict.fromkeys(r["activation"] for r in a["rows"]):
        cells = []
        for d in dtypes:
            for mode in ("fwd", "fwd+bwd"):
                r = by[(name, d, mode)]
                flag = " ✗" if r["ratio"] > TARGETS["activation_max_slowdown"] else ""
                cells.append(f"{r['ratio']:.2f}{flag}")
        r0 = by[(name, dtypes[0], "fwd")]
        pct = 100 * r0["jaxact_gbps"] / m["copy_gbps"][dtypes[0]]
        out.append(
            f"| {name} | " + " | ".join(cells) + f" | {_fmt(r0['jaxact_gbps'])} ({pct:.0f}%) |"
        )
    slow = [r for r in a["rows"] if r["ratio"] > TARGETS["activation_max_slowdown"]]
    out.append(
        f"\nRatio > {TARGETS['activation_max_slowdown']:.2f} (✗): {len(slow)} of "
        f"{len(a['rows'])} measurements."
    )
    return out


def _sweep(res: dict) -> list[str]:
    out = []
    s, c = res["sweep"], res["config"]
    out.append(
        f"\n### Sweep: K = {c['k']} PReLU MLPs 40-{'-'.join(map(str, c['layers']))} on "
        f"MNIST-1D, batch {c['batch_size']}, Adam {c['lr']:g}, {c['steps']} steps\n"
    )
    out.append(f"Run times: {_repeats_note(res)}.\n")
    out.append(
        "| variant | devices/threads | compile s | run s | s per model | "
        "engine speed-up | GFLOP/s (% of matmul) | peak RSS MiB (+ over start) | "
        "test acc |"
    )
    out.append("|" + "---|" * 9)
    for name, v in s["variants"].items():
        dev = v.get("devices", v.get("threads"))
        comp = _fmt(v["compile_seconds"]) if "compile_seconds" in v else "–"
        speed = "1" if name == "engine" else f"{s['speedup'][name]:.2f}×"
        out.append(
            f"| {VARIANT_LABELS[name]} | {dev} | {comp} | {_run(v)} | "
            f"{_fmt(v['seconds_per_model'])} | {speed} | {_fmt(v['gflops'])} "
            f"({100 * v['fraction_of_matmul_peak']:.1f}%) | {v['peak_rss_mib']:.0f} "
            f"(+{v['peak_rss_mib'] - v['rss_before_mib']:.0f}) | {v['test_accuracy']:.3f} |"
        )
    e = s["variants"]["engine"]
    out.append(
        f"\nEngine: {e['compilations']} XLA compilations for the first sweep; "
        f"{e['recompilations_on_new_values']} for the later sweeps with new seeds and α. "
        f"Training FLOPs (matmuls): {s['train_flops'] / 1e12:.3g} TFLOP."
    )
    checks = []
    for name, target in (
        ("jax_loop", "speedup_vs_jax_loop"),
        ("torch_eager", "speedup_vs_torch_eager"),
        ("torch_vmap", "speedup_vs_torch_vmap"),
    ):
        if name in s["speedup"]:
            strict = name == "torch_vmap"
            x = s["speedup"][name]
            ok = x > TARGETS[target] if strict else x >= TARGETS[target]
            checks.append(
                f"vs {name}: {x:.2f}× (target {'>' if strict else '≥'} {TARGETS[target]:g}×: "
                f"{'met' if ok else 'NOT met'})"
            )
    frac = e["fraction_of_matmul_peak"]
    goal = TARGETS["fraction_of_matmul_peak"]
    checks.append(
        f"engine at {100 * frac:.1f}% of the matmul rate (target ≥ {100 * goal:.0f}%: "
        f"{'met' if frac >= goal else 'NOT met'})"
    )
    out.append("Targets — " + "; ".join(checks) + ".")
    if e.get("ablations"):
        loop = s["variants"].get("jax_loop")
        out.append(
            "\nEngine variants: runs grouped or not, with and without the divergence guard "
            "(same sweep; run time = wall minus compile):\n"
        )
        out.append(
            "| engine variant | devices | runs per group | run s | × engine (a) | × loop (b) "
            "| % of matmul |"
        )
        out.append("|---|---|---|---|---|---|---|")
        rows = [("(a) as above (divergence guard on)", e)] + list(e["ablations"].items())
        for label, v in rows:
            vs_loop = f"{v['run_seconds'] / loop['run_seconds']:.2f}" if loop else "–"
            pct = (
                f"{100 * v['fraction_of_matmul_peak']:.1f}%"
                if "fraction_of_matmul_peak" in v
                else "–"
            )
            out.append(
                f"| {label} | {v['devices']} | {_group(v)} | {_run(v)} | "
                f"{v['run_seconds'] / e['run_seconds']:.2f} | {vs_loop} | {pct} |"
            )
    return out


def _group(v: dict) -> str:
    """A variant's runs per group: "all" when a device's runs are one vmap."""
    if "runs_per_group" not in v:  # a bench.json from before groups
        return "–"
    g, n = v["runs_per_group"], v.get("runs_per_device")
    return "all" if g is None or (n is not None and g >= n) else str(g)


def _scaling(res: dict, title: str = "Scaling") -> list[str]:
    out = []
    sc = res["scaling"]
    where = sc.get("device_kind") if sc.get("platform", "cpu") != "cpu" else None
    out.append(
        f"\n### {title}: engine sweep time vs K ({sc['devices']} "
        f"{where or 'device'}{'' if sc['devices'] == 1 else 's'}, {res['config']['steps']} steps)\n"
    )
    if res["config"].get("sweep_repeats", 1) > 1:
        out.append(f"Run times: {_repeats_note(res)}.\n")
    out.append("| K | runs per group | compile s | run s | s per model | compilations | test acc |")
    out.append("|---|---|---|---|---|---|---|")
    for r in sc["rows"]:
        out.append(
            f"| {r['k']} | {_group(r)} | {_fmt(r['compile_seconds'])} | {_run(r)} | "
            f"{_fmt(r['seconds_per_model'])} | {r['compilations']} | "
            f"{r['test_accuracy']:.3f} |"
        )
    by_k = {r["k"]: r for r in sc["rows"]}
    if 16 in by_k and 256 in by_k:
        rise = by_k[256]["seconds_per_model"] / by_k[16]["seconds_per_model"] - 1
        goal = TARGETS["per_model_rise_k16_to_k256"]
        out.append(
            f"\nTime per model from K = 16 to K = 256: {100 * rise:+.0f}% (target ≤ "
            f"+{100 * goal:.0f}%: {'met' if rise <= goal else 'NOT met'})."
        )
    if 1 in by_k and 1024 in by_k:
        ratio = by_k[1024]["run_seconds"] / by_k[1]["run_seconds"]
        goal = TARGETS["gpu_k1024_over_k1"]
        out.append(
            f"\nK = 1024 takes {ratio:.2f}× the time of K = 1 (target ≤ {goal:g}×: "
            f"{'met' if ratio <= goal else 'NOT met'})."
        )
    return out


def _compile(res: dict) -> list[str]:
    out = []
    comp, c = res["compile"], res["config"]
    t = comp["tiny_sweep"]
    out.append(
        "\n### Compile time\n\n"
        f"Tiny sweep: K = {t['k']}, {t['steps']} steps, evaluation every {t['eval_every']}; "
        f"K-run sweep: K = {c['k']}, {c['steps']} steps (as above). Compile time = JAX's "
        "tracing, lowering and XLA compile (or persistent-cache read) events, each sweep's "
        "programs in a fresh process: without the persistent cache, with an empty cache "
        "(cold: it fills it) and with that cache filled (warm, "
        "`jaxact.sweep.enable_compilation_cache`).\n"
    )
    out.append("| sweep | no cache: s (programs) | cold cache: s | warm cache: s (cache hits) |")
    out.append("|---|---|---|---|")
    for key, label in (("tiny", "tiny"), ("sweep", f"K = {c['k']}")):
        n, cold, warm = comp["none"][key], comp["cold"][key], comp["warm"][key]
        out.append(
            f"| {label} | {_fmt(n['compile_seconds'])} ({n['programs']}) | "
            f"{_fmt(cold['compile_seconds'])} | {_fmt(warm['compile_seconds'])} "
            f"({warm['cache_hits']} of {warm['programs']}) |"
        )
    cold_t, warm_t = (
        comp["cold"]["tiny"]["compile_seconds"],
        comp["warm"]["tiny"]["compile_seconds"],
    )
    gc, gw = TARGETS["tiny_compile_cold_seconds"], TARGETS["tiny_compile_warm_seconds"]
    out.append(
        f"\nTargets — tiny sweep cold {_fmt(cold_t)} s (≤ {gc:g} s: "
        f"{'met' if cold_t <= gc else 'NOT met'}); warm {_fmt(warm_t)} s (≤ {gw:g} s: "
        f"{'met' if warm_t <= gw else 'NOT met'})."
    )
    ops = comp.get("chunk_ops")
    if ops:
        from experiments.bench.hlo import summary

        out.append(
            f"\nThe K = {c['k']} sweep's compiled chunk program (per device): "
            + summary(ops)
            + ". Launched ops (outside fusions) by the Python source they come from: "
            + ", ".join(f"{k} {v}" for k, v in ops["by_category"].items())
            + "."
        )
    return out


def _profile(res: dict) -> list[str]:
    p = res["profile"]
    steps, full = p["steps"], p.get("sweep_steps", p["steps"])
    out = [
        f"\n### Profile: where the K = {p['k']} sweep's time goes\n",
        f"One `jax.profiler` trace of the sweep's program at {steps} steps with its one "
        f"evaluation at the end ({p['devices']} device{'s' if p['devices'] != 1 else ''}; "
        f"{_fmt(p['traced_wall_seconds'])} s wall under the profiler, which slows every op "
        "launch). Each XLA op's time, summed over devices, goes to the category of the Python "
        "source its instructions come from (a fused op to the first of: evaluation, divergence "
        "guard, data gathering, optimizer, matmul, elementwise; `experiments/bench/hlo.py`). "
        f"The last column scales the per-step categories to the sweep's {full} steps "
        "(evaluation and guard run once per evaluation block, once in either).\n",
        f"| category | op time s ({steps} steps) | share | share at {full} steps |",
        "|---|---|---|---|",
    ]
    for cat, s in p["seconds"].items():
        at_full = p.get("sweep_fraction", p["fraction"])[cat]
        out.append(
            f"| {cat} | {_fmt(s)} | {100 * p['fraction'][cat]:.1f}% | {100 * at_full:.1f}% |"
        )
    out.append(
        f"\nOp time in all: {_fmt(p['attributed_seconds'])} s over {p['events']:,} trace events."
    )
    return out


def _shapes(res: dict) -> list[str]:
    """rational (5, 4) against gelu: time ratios (target: within 2x)."""
    sh = res["shapes"]
    t = sh["seconds"]
    lines = [
        "",
        f"### Learnable shapes: rational (5, 4) / gelu on 2^{sh['size_log2']} float32 "
        f"(jit, {sh['repeats']} interleaved repeats)",
        "",
        "| pass | ratio (min) | ratio (median) | within 2× |",
        "|---|---|---|---|",
    ]
    for kind in ("fwd", "fwd+bwd", "grad(sum)"):
        r, g = t[f"rational {kind}"], t[f"gelu {kind}"]
        lo, med = r["min"] / g["min"], r["median"] / g["median"]
        lines.append(f"| {kind} | {lo:.2f} | {med:.2f} | {'yes' if max(lo, med) <= 2 else 'no'} |")
    c = t.get("rational fwd+bwd (x and coefficients)")
    if c is not None:
        g = t["gelu fwd+bwd"]
        lines.append(
            f"| fwd+bwd with the coefficients' gradients | {c['min'] / g['min']:.2f} | "
            f"{c['median'] / g['median']:.2f} | {'yes' if c['median'] / g['median'] <= 2 else 'no'} |"
        )
    return lines


def _suite(res: dict) -> list[str]:
    s = res["suite"]
    n = s["summary"]
    return [
        "\n### Test suite\n",
        f"The README's test command (the fast tier), `{s['command']}`, run once from the "
        "repository root with the compilation cache earlier runs on this machine left: "
        f"{n.get('passed', 0):,} passed, {n.get('skipped', 0)} skipped in "
        f"{_fmt(s['wall_seconds'])} s wall ({s['wall_seconds'] / 60:.1f} min; goal ≤ 4 min "
        f"on an idle 2-core machine: {'met' if s['wall_seconds'] <= 240 else 'NOT met'}) "
        f"on {s['workers']} cores.",
    ]


def tables(res: dict) -> str:
    """The report as Markdown tables (also what the command prints)."""
    out = [_machine(res)]
    if "activations" in res:
        out += _activations(res)
    if "shapes" in res:
        out += _shapes(res)
    if "sweep" in res:
        out += _sweep(res)
    if "scaling" in res:
        out += _scaling(res)
    if "compile" in res:
        out += _compile(res)
    if "profile" in res:
        out += _profile(res)
    if "suite" in res:
        out += _suite(res)
    for note in res.get("notes", []):
        out.append(f"\nNote: {note}")
    return "\n".join(out)


def readme_table(res: dict) -> str:
    """A short Markdown table for the README: the headline ratios of one run."""
    lines = ["| measurement | result |", "|---|---|"]
    if "activations" in res:
        rows = res["activations"]["rows"]
        worst = max(rows, key=lambda r: r["ratio"])
        lines.append(
            f"| jaxact / jax.nn time, {len(rows)} activation × dtype × mode cases | "
            f"median {_median([r['ratio'] for r in rows]):.2f}, worst {worst['ratio']:.2f} "
            f"({worst['activation']} {worst['dtype']} {worst['mode']}) |"
        )
    if "sweep" in res:
        s, c = res["sweep"], res["config"]
        for name, x in s["speedup"].items():
            lines.append(
                f"| K={c['k']} sweep, engine speed-up vs {VARIANT_LABELS[name][4:]} | {x:.2f}× |"
            )
    if "scaling" in res:
        rows = res["scaling"]["rows"]
        lines.append(
            "| seconds per model, K = "
            + ", ".join(str(r["k"]) for r in rows)
            + " | "
            + ", ".join(_fmt(r["seconds_per_model"]) for r in rows)
            + " |"
        )
    if "suite" in res:
        s = res["suite"]
        lines.append(
            f"| fast test tier (README's test command), {s['summary'].get('passed', 0):,} tests | "
            f"{_fmt(s['wall_seconds'])} s on {s['workers']} cores |"
        )
    return "\n".join(lines)


def accelerator_section(accel: dict | None, path: str) -> str:
    """The docs page's accelerator section: a ``--gpu-plan`` run's tables, or why there are none."""
    head = "## Accelerator (GPU)\n\n"
    if not accel:
        return head + (
            "**The accelerator figures are missing**: every figure on this page was measured "
            "on the CPU, and no GPU run has been recorded. On a machine with a GPU, "
            f"`{GPU_COMMAND}` (under 10 minutes) writes `docs/gpu/bench.json` with the "
            "activation table and the sweep at K = "
            + ", ".join(map(str, GPU_PLAN["scaling_k"]))
            + "; the next `--write-docs` renders it here."
        )
    m = accel["machine"]
    body = [
        head.rstrip("\n"),
        "",
        f"From `{path}`: `{accel['command']}`, {accel['date']}, JAX platform "
        f"{m.get('platform', '?')} ({m.get('device_kind', '?')} × {m.get('device_count', '?')}).",
        "",
        _machine(accel),
    ]
    if "activations" in accel:
        body += _activations(accel)
    if "scaling" in accel:
        body += _scaling(accel, title="Scaling on the accelerator")
    return "\n".join(body)


def render_docs(
    res: dict,
    json_path: str,
    previous: str | None,
    *,
    accelerator: dict | None = None,
    accelerator_path: str = "docs/gpu/bench.json",
) -> str:
    """``docs/performance.md``: generated figures plus the kept analysis section."""
    analysis = f"{ANALYSIS_BEGIN}\n## Analysis\n\n(not written yet)\n{ANALYSIS_END}"
    if previous and ANALYSIS_BEGIN in previous and ANALYSIS_END in previous:
        start = previous.index(ANALYSIS_BEGIN)
        analysis = previous[start : previous.index(ANALYSIS_END, start) + len(ANALYSIS_END)]
    m = res["machine"]
    v = m["versions"]
    return "\n".join(
        [
            "# Performance",
            "",
            "<!-- Generated by `python -m experiments.bench --write-docs`; edit only the "
            "analysis section. -->",
            "",
            f"Command: `{res['command']}`  ",
            f"Date: {res['date']}  ",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['system']}  ",
            "Versions: " + _versions(v) + "  ",
            f"Raw figures: `{json_path}` (written by the command above).",
            "",
            "Every figure below comes from that one run; ratios were measured side by side "
            "in it. Each variant ran in its own process (see `experiments/bench/`).",
            "",
            tables(res),
            "",
            accelerator_section(accelerator, accelerator_path),
            "",
            analysis,
            "",
        ]
    )
