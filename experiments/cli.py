"""Command-line plumbing shared by every ``python -m experiments.<command>``.

One home for what each command needs: :class:`UsageError` (bad input: one line
on stderr, exit status 2, nothing written), :class:`Parser` (an argparse
parser that raises it, accepts negative numbers as option values without
``=`` and shows each default once), type functions that name their flag
(:func:`positive_int`, :func:`positive_float`, :func:`float32`),
:func:`parse_values` for value lists, :func:`check_memory` to refuse a run
that cannot fit before anything is allocated, :func:`run_main` for the exit
status, and :class:`CompileTimer` with :func:`compiling_line` for the wait
while XLA compiles.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

import numpy as np

__all__ = [
    "CompileTimer",
    "HelpFormatter",
    "Parser",
    "UsageError",
    "available_memory",
    "check_memory",
    "compiling_line",
    "float32",
    "format_bytes",
    "parse_values",
    "positive_float",
    "positive_int",
    "positive_int_list",
    "run_main",
]

FLOAT32_MAX = float(np.finfo(np.float32).max)

# A negative number, a negative number list (-0.1,0.1) or range (-1:1:5).
_NEGATIVE_VALUE = re.compile(r"^-\.?\d[^\s]*$")


class UsageError(ValueError):
    """Bad command-line input: reported in one line, exit status 2."""


class HelpFormatter(argparse.HelpFormatter):
    """Adds ``(default: X)`` to a flag's help once, and only where it says something.

    Not for switches (``store_true``/``store_false``), ``None`` defaults or
    help that already mentions its default.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default in (None, argparse.SUPPRESS, False, True)
            or action.nargs == 0
        ):
            return text
        default = action.default
        if isinstance(default, list | tuple):
            default = ",".join(map(str, default))
        return f"{text} (default: {default})"


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` for the experiments' commands.

    * Errors raise :class:`UsageError` instead of printing usage and exiting,
      so the command reports them in one line (:func:`run_main`).
    * An option value that starts with a minus and a digit is a value, not a
      flag: ``--values -0.1,0.1`` works as ``--values=-0.1,0.1`` does.
    * :class:`HelpFormatter` is the default formatter.

    Examples:
      >>> p = Parser(prog="demo")
      >>> _ = p.add_argument("--values")
      >>> p.parse_args(["--values", "-0.1,0.1"]).values
      '-0.1,0.1'
      >>> p.parse_args(["--bogus"])
      Traceback (most recent call last):
      ...
      experiments.cli.UsageError: unrecognized arguments: --bogus
    """

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_VALUE

    def error(self, message: str):  # argparse's contract: never returns
        raise UsageError(message)


def _number(flag: str, text: str, kind: type) -> Any:
    try:
        return kind(text)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{flag} must be {what}, got {text!r}") from None


def positive_int(flag: str, *, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer ``> 0`` (and ``<= maximum``), errors naming ``flag``.

    Examples:
      >>> positive_int("--seeds")("3")
      3
      >>> positive_int("--seeds")("0")
      Traceback (most recent call last):
      ...
      argparse.ArgumentTypeError: --seeds must be > 0, got 0
    """

    def parse(text: str) -> int:
        value = _number(flag, text, int)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{flag} must be > 0, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{flag} must be ≤ {maximum}, got {value}")
        return value

    return parse


def positive_int_list(flag: str, *, maximum: int | None = None) -> Callable[[str], tuple[int, ...]]:
    """An argparse type: comma-separated integers ``> 0`` (``<= maximum``), errors naming ``flag``.

    Examples:
      >>> positive_int_list("--layers")("100,50")
      (100, 50)
      >>> positive_int_list("--layers")("100,,50")
      Traceback (most recent call last):
      ...
      argparse.ArgumentTypeError: --layers: item 2 of '100,,50' is empty
    """

    def parse(text: str) -> tuple[int, ...]:
        items = [p.strip() for p in text.split(",")]
        values = []
        for i, item in enumerate(items):
            if not item:
                raise argparse.ArgumentTypeError(f"{flag}: item {i + 1} of {text!r} is empty")
            try:
                values.append(int(item))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{flag} must be comma-separated integers, got {text!r}"
                ) from None
        bad = [v for v in values if v <= 0 or (maximum is not None and v > maximum)]
        if bad:
            limit = "> 0" if maximum is None else f"in 1..{maximum}"
            raise argparse.ArgumentTypeError(f"{flag} sizes must be {limit}, got {bad[0]}")
        return tuple(values)

    return parse


def _check_float32(flag: str, value: float, text: str) -> float:
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{flag} must be a finite number, got {text!r}")
    if abs(value) > FLOAT32_MAX:
        raise argparse.ArgumentTypeError(
            f"{flag}: {text} overflows float32 (largest magnitude {FLOAT32_MAX:.4g}), "
            "the precision the runs compute in"
        )
    return value


def float32(flag: str) -> Callable[[str], float]:
    """An argparse type: a finite number that float32 can hold, errors naming ``flag``.

    Examples:
      >>> float32("--scale")("-2.5")
      -2.5
      >>> float32("--scale")("1e40")
      Traceback (most recent call last):
      ...
      argparse.ArgumentTypeError: --scale: 1e40 overflows float32 (largest magnitude 3.403e+38), the precision the runs compute in
    """

    def parse(text: str) -> float:
        return _check_float32(flag, _number(flag, text, float), text)

    return parse


def positive_float(flag: str, *, float32: bool = True) -> Callable[[str], float]:
    """An argparse type: a number ``> 0``, errors naming ``flag``.

    With ``float32=True`` (the default) the value must also stay finite and
    non-zero in float32, the precision the runs compute in (``1e39`` is
    ``inf`` there and ``1e-50`` is ``0``).

    Examples:
      >>> positive_float("--lr")("3e-3")
      0.003
      >>> positive_float("--lr")("1e-50")
      Traceback (most recent call last):
      ...
      argparse.ArgumentTypeError: --lr: 1e-50 is 0 in float32, the precision the runs compute in
    """

    def parse(text: str) -> float:
        value = _number(flag, text, float)
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{flag} must be a positive number, got {text!r}")
        if float32:
            _check_float32(flag, value, text)
            if np.float32(value) == 0:
                raise argparse.ArgumentTypeError(
                    f"{flag}: {text} is 0 in float32, the precision the runs compute in"
                )
        return value

    return parse


def parse_values(text: str, flag: str = "--values") -> np.ndarray:
    """Parses a list of values: ``"0.1,0.25,1"`` or ``"start:stop:count"`` (inclusive).

    Every value must be finite in float32 (the runs' precision), each item of
    a comma list non-empty, and no value may appear twice (after rounding to
    float32: two runs with the same value would be counted twice in every
    mean over "seeds").

    Returns:
      float64 array of the values, in the order given.

    Raises:
      UsageError: naming ``flag`` and what is wrong.

    Examples:
      >>> parse_values("0:1:5").tolist()
      [0.0, 0.25, 0.5, 0.75, 1.0]
      >>> parse_values("-0.1, 0.1").tolist()
      [-0.1, 0.1]
      >>> parse_values("1,,2")
      Traceback (most recent call last):
      ...
      experiments.cli.UsageError: --values: item 2 of '1,,2' is empty
    """
    form = "a comma list (0.1,0.25) or start:stop:count"
    text = text.strip()
    if not text:
        raise UsageError(f"{flag} is empty; give {form}")
    if ":" in text:
        parts = [p.strip() for p in text.split(":")]
        if len(parts) != 3:
            raise UsageError(f"{flag} must be {form}, got {text!r}")
        try:
            start, stop = float(parts[0]), float(parts[1])
        except ValueError:
            raise UsageError(f"{flag}: start and stop must be numbers, got {text!r}") from None
        try:
            count = int(parts[2])
        except ValueError:
            raise UsageError(f"{flag}: count must be an integer, got {parts[2]!r}") from None
        if count < 1:
            raise UsageError(f"{flag}: count must be ≥ 1, got {count}")
        items = [parts[0], parts[1]]
        numbers = [start, stop]
        values = np.linspace(start, stop, count)
    else:
        items = [p.strip() for p in text.split(",")]
        for i, item in enumerate(items):
            if not item:
                raise UsageError(f"{flag}: item {i + 1} of {text!r} is empty")
        try:
            numbers = [float(p) for p in items]
        except ValueError:
            bad = next(p for p in items if not _is_float(p))
            raise UsageError(f"{flag}: {bad!r} is not a number (in {text!r})") from None
        values = np.asarray(numbers, np.float64)
    for item, number in zip(items, numbers, strict=True):
        if not math.isfinite(number):
            raise UsageError(f"{flag} must be finite numbers, got {item!r}")
        if abs(number) > FLOAT32_MAX:
            raise UsageError(
                f"{flag}: {item} overflows float32 (largest magnitude {FLOAT32_MAX:.4g}), "
                "the precision the runs compute in"
            )
    rounded = values.astype(np.float32)
    uniq, first, counts = np.unique(rounded, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = values[first[np.argmax(counts > 1)]]
        raise UsageError(
            f"{flag}: {dup:g} appears {counts.max()} times"
            + (" (after rounding to float32)" if len(np.unique(values)) == len(values) else "")
            + "; give each value once (--seeds sets the runs per value)"
        )
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def available_memory() -> int | None:
    """Bytes of memory this machine can still give a process, or ``None`` if unknown.

    ``MemAvailable`` of ``/proc/meminfo`` on Linux (free memory plus what the
    kernel can reclaim); elsewhere the free physical pages from ``os.sysconf``.
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def format_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'``.

    Examples:
      >>> format_bytes(3 * 2**30)
      '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


def check_memory(
    bytes_needed: float,
    flag: str,
    *,
    available: int | None = None,
    fraction: float = 0.9,
    where: str = "this machine",
) -> None:
    """Refuses a run whose estimated memory exceeds what is available.

    Args:
      bytes_needed: the caller's estimate of the run's peak memory.
      flag: the flag(s) that make it large, named in the error.
      available: bytes available (default: :func:`available_memory`; pass a
        device's memory for accelerator runs). Unknown: no check.
      fraction: the share of ``available`` a run may use.
      where: what ``available`` describes, for the message.

    Raises:
      UsageError: ``bytes_needed > fraction * available``.

    Examples:
      >>> check_memory(2**20, "--seeds", available=2**30)
      >>> check_memory(2**40, "--seeds", available=2**30)
      Traceback (most recent call last):
      ...
      experiments.cli.UsageError: --seeds: this needs about 1.0 TiB of memory but this machine has 1.0 GiB available; reduce --seeds
    """
    if available is None:
        available = available_memory()
    if available is None or bytes_needed <= fraction * available:
        return
    raise UsageError(
        f"{flag}: this needs about {format_bytes(bytes_needed)} of memory but {where} "
        f"has {format_bytes(available)} available; reduce {flag}"
    )


def run_main(
    fn: Callable[[Sequence[str] | None], int | None],
    argv: Sequence[str] | None = None,
    *,
    prog: str,
    stderr: IO[str] | None = None,
) -> int:
    """Runs a command's ``fn(argv)`` and returns its exit status.

    A :class:`UsageError` raised anywhere in ``fn`` becomes one line,
    ``"<prog>: error: <message>"`` (whitespace collapsed), on stderr and
    status 2; ``fn`` returning ``None`` is status 0.

    Examples:
      >>> def main(argv):
      ...     raise UsageError("--seeds must be > 0,\\n  got 0")
      >>> run_main(main, [], prog="demo", stderr=sys.stdout)
      demo: error: --seeds must be > 0, got 0
      2
    """
    try:
        status = fn(argv)
    except UsageError as e:
        print_usage_error(e, prog=prog, stderr=stderr)
        return 2
    return 0 if status is None else int(status)


def print_usage_error(e: BaseException | str, *, prog: str, stderr: IO[str] | None = None) -> int:
    """Writes ``"<prog>: error: <message>"`` as one line; returns 2."""
    print(f"{prog}: error: {' '.join(str(e).split())}", file=stderr or sys.stderr, flush=True)
    return 2


def compiling_line(count: int, what: str = "program") -> str:
    """The line a command prints before XLA compiles.

    Examples:
      >>> compiling_line(3)
      'compiling 3 programs …'
      >>> compiling_line(1, "sweep program")
      'compiling 1 sweep program …'
    """
    return f"compiling {count} {what}{'' if count == 1 else 's'} …"


class CompileTimer:
    """Sums JAX's own compile-time events (tracing, lowering, XLA compile).

    ``seconds`` is the total, ``count`` the number of XLA compilations
    (persistent-cache hits are not counted as compilations). Use as a context
    manager or call :meth:`close`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> with CompileTimer() as t:
      ...     _ = jax.jit(lambda x: x * 3.0 + 1.0)(jnp.ones(7)).block_until_ready()
      >>> t.count >= 1 and t.seconds > 0
      True
    """

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        import jax

        self.seconds = 0.0
        self.count = 0
        self._closed = False
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, event: str, duration: float, **kwargs: Any) -> None:
        if event in self.EVENTS:
            self.seconds += duration
            self.count += event == self.EVENTS[-1]

    def reset(self) -> tuple[float, int]:
        """Returns ``(seconds, count)`` so far and starts again from zero."""
        seconds, count = self.seconds, self.count
        self.seconds, self.count = 0.0, 0
        return seconds, count

    def close(self) -> None:
        """Stops listening (idempotent)."""
        if self._closed:
            return
        import jax

        jax.monitoring.unregister_event_duration_listener(self._on)
        self._closed = True

    def __enter__(self) -> CompileTimer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
