"""experiments.cli: the shared command-line plumbing."""

import argparse
import io

import numpy as np
import pytest

from experiments import cli


def _parser():
    p = cli.Parser(prog="demo")
    p.add_argument("--values", default="0:1:3", help="values")
    p.add_argument("--lr", type=cli.positive_float("--lr"), default=1e-2, help="learning rate")
    p.add_argument("--seeds", type=cli.positive_int("--seeds"), default=2, help="seeds")
    p.add_argument("--fixed", action="store_true", help="keep it fixed")
    p.add_argument("--data-dir", default=None, help="where (default: ~/.cache)")
    return p


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--values", "-0.1,0.1"], "-0.1,0.1"),
        (["--values", "-1:1:5"], "-1:1:5"),
        (["--values", "-.5"], "-.5"),
        (["--values", "-1e-3,2"], "-1e-3,2"),
        (["--values=-0.1,0.1"], "-0.1,0.1"),
    ],
)
def test_negative_values_without_equals(argv, expected):
    assert _parser().parse_args(argv).values == expected


def test_negative_values_need_the_matcher():
    # The same arguments fail with a plain argparse parser: the matcher is what fixes it.
    p = argparse.ArgumentParser(prog="plain", exit_on_error=False)
    p.add_argument("--values")
    with pytest.raises((SystemExit, argparse.ArgumentError)):
        p.parse_args(["--values", "-0.1,0.1"])


def test_a_real_flag_is_still_a_flag():
    with pytest.raises(cli.UsageError, match="expected one argument"):
        _parser().parse_args(["--values", "--lr", "1"])


def test_parser_errors_raise_usage_error():
    with pytest.raises(cli.UsageError, match="unrecognized arguments: --nope"):
        _parser().parse_args(["--nope"])
    with pytest.raises(cli.UsageError, match="--seeds must be > 0, got 0"):
        _parser().parse_args(["--seeds", "0"])
    assert issubclass(cli.UsageError, ValueError)


def test_help_shows_each_default_once():
    text = _parser().format_help()
    assert "(default: 0.01)" in text and "(default: 2)" in text
    assert "(default: False)" not in text and "(default: True)" not in text
    assert text.count("default") == 4  # lr, seeds, values; data-dir's own help once


@pytest.mark.parametrize(
    "text, message",
    [
        ("1e39", "--lr: 1e39 overflows float32"),
        ("1e-50", "--lr: 1e-50 is 0 in float32"),
        ("-1", "--lr must be a positive number"),
        ("nan", "--lr must be a positive number"),
        ("inf", "--lr must be a positive number"),
        ("fast", "--lr must be a number, got 'fast'"),
    ],
)
def test_positive_float_refuses(text, message):
    with pytest.raises(cli.UsageError, match=message):
        _parser().parse_args(["--lr", text])


def test_positive_float_in_float64_when_asked():
    assert cli.positive_float("--x", float32=False)("1e39") == 1e39


def test_float32_type():
    assert cli.float32("--scale")("-3.5") == -3.5
    for text, message in [("1e40", "overflows float32"), ("-inf", "finite"), ("x", "a number")]:
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            cli.float32("--scale")(text)


def test_positive_int_maximum():
    assert cli.positive_int("--k", maximum=4)("4") == 4
    with pytest.raises(argparse.ArgumentTypeError, match="--k must be ≤ 4, got 5"):
        cli.positive_int("--k", maximum=4)("5")
    with pytest.raises(argparse.ArgumentTypeError, match="--k must be an integer, got '1.5'"):
        cli.positive_int("--k")("1.5")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.1,0.25,1", [0.1, 0.25, 1.0]),
        (" 0.5 , -0.5 ", [0.5, -0.5]),
        ("0:1:3", [0.0, 0.5, 1.0]),
        ("-1:1:2", [-1.0, 1.0]),
        ("2:2:1", [2.0]),
        ("3e38", [3e38]),
    ],
)
def test_parse_values(text, expected):
    out = cli.parse_values(text)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "--values is empty"),
        ("1,,2", r"--values: item 2 of '1,,2' is empty"),
        ("1,2,", "item 3 of '1,2,' is empty"),
        (",1", "item 1 of ',1' is empty"),
        ("1e40", "--values: 1e40 overflows float32"),
        ("0,-1e39", "-1e39 overflows float32"),
        ("0:1e40:3", "1e40 overflows float32"),
        ("nan", "must be finite"),
        ("1,inf", "must be finite"),
        ("0.5,0.5", "0.5 appears 2 times; give each value once"),
        ("1,2,1,1", "1 appears 3 times"),
        ("1,1.00000001", r"appears 2 times \(after rounding to float32\)"),
        ("0:1:0", "count must be ≥ 1"),
        ("0:1:2.5", "count must be an integer"),
        ("0:1", "start:stop:count"),
        ("a:1:3", "start and stop must be numbers"),
        ("0.1,abc", "'abc' is not a number"),
    ],
)
def test_parse_values_refuses(text, message):
    with pytest.raises(cli.UsageError, match=message):
        cli.parse_values(text)


def test_parse_values_names_its_flag():
    with pytest.raises(cli.UsageError, match=r"^--lr: item 2"):
        cli.parse_values("1,,2", flag="--lr")


def test_available_memory_is_plausible():
    avail = cli.available_memory()
    assert avail is None or 2**20 < avail < 2**50


def test_check_memory():
    cli.check_memory(10, "--seeds", available=100)
    with pytest.raises(cli.UsageError, match=r"^--seeds, --layers: this needs about 95 B"):
        cli.check_memory(95, "--seeds, --layers", available=100)
    cli.check_memory(95, "--seeds", available=100, fraction=1.0)
    # With the machine's own figure: a petabyte never fits, a kilobyte always does.
    cli.check_memory(1024, "--seeds")
    if cli.available_memory() is not None:
        with pytest.raises(cli.UsageError, match="--layers: this needs about 1024.0 TiB"):
            cli.check_memory(2**50, "--layers")


def test_run_main_turns_usage_errors_into_one_line_and_status_2():
    err = io.StringIO()

    def bad(argv):
        _parser().parse_args(argv)

    assert cli.run_main(bad, ["--values"], prog="demo", stderr=err) == 2
    assert err.getvalue() == "demo: error: argument --values: expected one argument\n"
    assert cli.run_main(lambda argv: None, [], prog="demo") == 0
    assert cli.run_main(lambda argv: 3, [], prog="demo") == 3
    with pytest.raises(KeyError):  # other exceptions are not usage errors
        cli.run_main(lambda argv: {}["x"], [], prog="demo")


def test_compiling_line_and_timer():
    import jax
    import jax.numpy as jnp

    assert cli.compiling_line(2) == "compiling 2 programs …"
    with cli.CompileTimer() as t:
        jax.jit(lambda x: jnp.sin(x) * 41.0)(jnp.ones(13)).block_until_ready()
    assert t.count >= 1 and t.seconds > 0
    seconds, count = t.reset()
    assert (seconds, count) != (0.0, 0) and (t.seconds, t.count) == (0.0, 0)
    t.close()  # idempotent


def test_positive_int_list():
    parse = cli.positive_int_list("--layers", maximum=10**6)
    assert parse("100, 100") == (100, 100)
    for text, message in [
        ("100,,100", "item 2 of '100,,100' is empty"),
        ("", "item 1 of '' is empty"),
        ("8,x", "comma-separated integers"),
        ("8,0", "sizes must be in 1..1000000, got 0"),
        ("100000000000", "sizes must be in 1..1000000, got 100000000000"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(text)
