r"""Where a compiled sweep chunk spends its ops and its time.

:func:`parse` reads the text of a compiled XLA module
(``jax.jit(f).lower(...).compile().as_text()``), :func:`categorize` puts each
of its instructions in one of :data:`CATEGORIES` from the Python source that
produced it (the stack frames JAX records in the HLO metadata), and
:func:`op_counts` / :func:`time_breakdown` count the ops and sum the time of a
``jax.profiler`` trace per category.

A fused op gets the first category, in this order, of any instruction fused
into it: evaluation, divergence guard, data gathering, optimizer, matmul,
elementwise; ops without Python source (copies, loop control, parameter
plumbing) are "control and copies".
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

CATEGORIES = (
    "evaluation",
    "divergence guard",
    "data gathering",
    "optimizer",
    "matmul",
    "elementwise",
    "control and copies",
)
#: Categories that run once per evaluation block, not once per step.
PER_BLOCK = frozenset({"evaluation", "divergence guard"})
#: Ops that only hold other ops (their trace events include their body's).
CONTAINERS = frozenset({"while", "conditional", "call", "async-start", "async-done"})
MATMUL_OPS = frozenset({"dot", "convolution"})

_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*)$")
_COMP = re.compile(r"^\s*(ENTRY\s+)?%?([\w.\-]+)\s*(?:\(.*\))?\s*(?:->.*)?\{\s*$")
_CALLS = re.compile(
    r"\b(?:calls|body|condition|to_apply|branch_computations)=\{?([^,}]+(?:,\s*%[\w.\-]+)*)\}?"
)
_META = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\d+)')
_TABLE_ROW = re.compile(r"^(\d+)\s+(.*)$")


@dataclasses.dataclass
class Instruction:
    """One HLO instruction: its opcode, where it lives, what it calls, its Python stack."""

    name: str
    opcode: str
    computation: str
    calls: tuple[str, ...] = ()
    op_name: str = ""
    frames: tuple[tuple[str, str, int], ...] = ()  # (file, function, line), innermost first
    custom_call_target: str = ""


@dataclasses.dataclass
class Module:
    """A parsed HLO module."""

    instructions: dict[str, Instruction]
    computations: dict[str, list[str]]
    entry: str
    fused: frozenset[str]  # computations called by a fusion


def _skip_shape(rest: str) -> str:
    """``rest`` after the result shape (a tuple shape has nested parentheses)."""
    rest = rest.lstrip()
    if rest.startswith("("):
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                return rest[i + 1 :].lstrip()
    return rest.split(" ", 1)[1] if " " in rest else ""


def _stack_tables(text: str) -> dict[int, tuple[tuple[str, str, int], ...]]:
    """Stack frame id -> ((file, function, line), ...) innermost first, from the module's tables."""
    tables: dict[str, dict[int, str]] = collections.defaultdict(dict)
    section = None
    for line in text.splitlines():
        s = line.strip()
        if s in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            section = s
            continue
        if section is None:
            continue
        m = _TABLE_ROW.match(s)
        if not m:
            if s:
                section = None
            continue
        tables[section][int(m.group(1))] = m.group(2)

    def fields(row: str) -> dict[str, int]:
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", row)}

    files = {i: v.strip('"') for i, v in tables["FileNames"].items()}
    funcs = {i: v.strip('"') for i, v in tables["FunctionNames"].items()}
    locs = {}
    for i, row in tables["FileLocations"].items():
        f = fields(row)
        locs[i] = (
            files.get(f.get("file_name_id", 0), "?"),
            funcs.get(f.get("function_name_id", 0), "?"),
            f.get("line", 0),
        )
    frames = {i: fields(row) for i, row in tables["StackFrames"].items()}
    out = {}
    for i in frames:
        chain, seen, j = [], set(), i
        while j in frames and j not in seen:  # parent_frame_id is 1 + the parent's id; 0: none
            seen.add(j)
            chain.append(locs.get(frames[j].get("file_location_id", 0), ("?", "?", 0)))
            j = frames[j].get("parent_frame_id", 0) - 1
        out[i] = tuple(chain)
    return out


def parse(text: str) -> Module:
    """Parses the text of a compiled HLO module.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> m = parse(jax.jit(lambda a: jnp.tanh(a @ a)).lower(jnp.ones((4, 4))).compile().as_text())
      >>> any(i.opcode == "dot" for i in m.instructions.values())
      True
    """
    stacks = _stack_tables(text)
    instructions: dict[str, Instruction] = {}
    computations: dict[str, list[str]] = {}
    entry, current = "", None
    for line in text.splitlines():
        if current is None:
            m = _COMP.match(line)
            if m and not line.lstrip().startswith("HloModule"):
                current = m.group(2)
                computations[current] = []
                if m.group(1):
                    entry = current
            continue
        if line.strip() == "}":
            current = None
            continue
        m = _INSTR.match(line)
        if not m:
            continue
        name, rest = m.group(1), _skip_shape(m.group(2))
        op = re.match(r"([\w\-]+)\(", rest)
        if not op:
            continue
        calls: list[str] = []
        for c in _CALLS.findall(rest):
            calls += [x.strip().lstrip("%") for x in c.split(",") if x.strip()]
        meta_at = rest.find("metadata={")
        meta = dict(_META.findall(rest[meta_at:])) if meta_at >= 0 else {}
        target = re.search(r'custom_call_target="([^"]*)"', rest)
        frame = int(meta.get("stack_frame_id", "0"))
        instructions[name] = Instruction(
            name=name,
            opcode=op.group(1),
            computation=current,
            calls=tuple(calls),
            op_name=meta.get("op_name", "").strip('"'),
            frames=stacks.get(frame, ()),
            custom_call_target=target.group(1) if target else "",
        )
        computations[current].append(name)
    fused = frozenset(c for i in instructions.values() if i.opcode == "fusion" for c in i.calls)
    return Module(instructions, computations, entry, fused)


#: Source lines of the engine's divergence guard (in ``_chunk_one``'s ``block``).
_GUARD_LINE = re.compile(r"_tree_all_finite|\bkeep\b|~ok\b|isfinite\(losses\)")


@functools.cache
def _guard_lines(path: str) -> frozenset[int]:
    try:
        with open(path) as f:
            return frozenset(i + 1 for i, line in enumerate(f) if _GUARD_LINE.search(line))
    except OSError:
        return frozenset()


def _own_category(ins: Instruction) -> str:
    """The category of one instruction from its opcode and Python stack."""
    engine = [
        (fn, line, file) for file, fn, line in ins.frames if os.path.basename(file) == "engine.py"
    ]
    names = [fn for fn, _, _ in engine]
    if any(fn.endswith("_evaluate") for fn in names):
        return "evaluation"
    if engine:
        fn, line, file = engine[0]
        in_block = fn.endswith(".block") or ".block.<locals>." in fn
        if fn.endswith("_tree_all_finite") or (in_block and line in _guard_lines(file)):
            return "divergence guard"
    if any(fn.endswith("_batch_indices") for fn in names) or (
        names and names[0].endswith("train_step") and ins.opcode in ("gather", "dynamic-slice")
    ):
        return "data gathering"
    files = [file.replace(os.sep, "/") for file, _, _ in ins.frames]
    if any("/optax/" in f and "/losses/" not in f for f in files):
        return "optimizer"
    if ins.opcode in MATMUL_OPS or any(
        k in ins.custom_call_target.lower() for k in ("matmul", "gemm", "dot")
    ):
        return "matmul"
    if ins.frames and not (
        names and (names[0].endswith(".block") or names[0].endswith("_chunk_one"))
    ):
        return "elementwise"  # the model's and the loss's own code
    return "control and copies"  # loop plumbing, copies, parameters


def categorize(module: Module) -> dict[str, str]:
    """Instruction name -> category, for every instruction outside fused computations."""
    memo: dict[str, set[str]] = {}

    def cats_of(comp: str) -> set[str]:
        if comp not in memo:
            memo[comp] = set()
            out: set[str] = set()
            for n in module.computations.get(comp, ()):
                out |= cats(module.instructions[n])
            memo[comp] = out
        return memo[comp]

    def cats(ins: Instruction) -> set[str]:
        out = {_own_category(ins)}
        if ins.opcode not in CONTAINERS:
            for c in ins.calls:
                out |= cats_of(c)
        return out

    result = {}
    for name, ins in module.instructions.items():
        if ins.computation in module.fused:
            continue
        found = cats(ins)
        result[name] = next(c for c in CATEGORIES if c in found)
    return result


def op_counts(module: Module) -> dict[str, Any]:
    """Op counts of a module: per opcode (top level and inside fusions) and per category.

    Top level means outside fused computations (the ops the runtime launches,
    including those inside loop bodies); ``parameter``, ``constant``,
    ``get-tuple-element``, ``tuple`` and ``bitcast`` are left out.
    """
    plumbing = {"parameter", "constant", "get-tuple-element", "tuple", "bitcast"}
    top: collections.Counter[str] = collections.Counter()
    fused: collections.Counter[str] = collections.Counter()
    for ins in module.instructions.values():
        if ins.opcode in plumbing:
            continue
        (fused if ins.computation in module.fused else top)[ins.opcode] += 1
    cats = categorize(module)
    by_cat: collections.Counter[str] = collections.Counter(
        c for n, c in cats.items() if module.instructions[n].opcode not in plumbing | CONTAINERS
    )
    return {
        "top_level": dict(top.most_common()),
        "inside_fusions": dict(fused.most_common()),
        "by_category": {c: by_cat.get(c, 0) for c in CATEGORIES},
    }


def time_breakdown(events: Iterable[tuple[str, float]], module: Module) -> dict[str, Any]:
    """Seconds per category of a trace's op events ``(name, seconds)``.

    Container ops (``while``: their time is their body's) are left out.
    Events that are not instructions of ``module`` are the runtime's own
    (``ThunkExecutor::Execute`` spans the whole program on a device): their
    total is ``runtime_seconds``, not part of the breakdown.
    """
    cats = categorize(module)
    seconds = dict.fromkeys(CATEGORIES, 0.0)
    runtime = 0.0
    for name, s in events:
        ins = module.instructions.get(name)
        if ins is None or name not in cats:
            runtime += s
        elif ins.opcode not in CONTAINERS:
            seconds[cats[name]] += s
    total = sum(seconds.values())
    return {
        "seconds": seconds,
        "fraction": {c: (s / total if total else 0.0) for c, s in seconds.items()},
        "attributed_seconds": total,
        "runtime_seconds": runtime,
    }


def trace_events(trace_dir: str | os.PathLike) -> list[tuple[str, float]]:
    """``(name, seconds)`` of every XLA op event in a ``jax.profiler`` trace directory."""
    import glob

    import jax

    out = []
    for path in sorted(
        glob.glob(os.path.join(os.fspath(trace_dir), "**", "*.xplane.pb"), recursive=True)
    ):
        data = jax.profiler.ProfileData.from_file(path)
        for plane in data.planes:
            for line in plane.lines:
                if line.name == "python":  # Python and runtime calls, not ops
                    continue
                for e in line.events:
                    if not e.name.startswith("end: "):
                        out.append((e.name, e.duration_ns * 1e-9))
    return out


def summary(
    counts: Mapping[str, Any],
    keys: Iterable[str] = ("dot", "fusion", "reduce", "select", "gather", "while"),
) -> str:
    """One line: the listed opcodes' top-level and fused counts.

    Examples:
      >>> summary({"top_level": {"dot": 2, "fusion": 5}, "inside_fusions": {"dot": 1, "select": 4}})
      'dot 2 (+1 fused), fusion 5, reduce 0, select 0 (+4 fused), gather 0, while 0'
    """
    parts = []
    for k in keys:
        n, f = counts["top_level"].get(k, 0), counts["inside_fusions"].get(k, 0)
        parts.append(f"{k} {n}" + (f" (+{f} fused)" if f else ""))
    return ", ".join(parts)
