"""Tests of ``python -m experiments.accuracy``: its float64 references against
50-digit mpmath, its ulp arithmetic, its coverage of the registry, the
exhaustive 16-bit accuracy of the functions built on exp/logistic/tanh, and
the README's table of derivatives at kinks."""

from __future__ import annotations

import re
from pathlib import Path

import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import jaxact
from experiments import accuracy as acc

ROOT = Path(__file__).resolve().parents[1]
mp.mp.dps = 50

# ----------------------------------------------------------------------------
# The float64 references against mpmath
# ----------------------------------------------------------------------------


def _s(x):
    return 1 / (1 + mp.exp(-x))


def _sp(x):
    return mp.log1p(mp.exp(x))


def _sech2(x):
    return 1 / mp.cosh(x) ** 2


def _gelu_tanh_u2(x):
    return 2 * mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3)


LAM, ALPHA = mp.mpf(acc.SELU_LAMBDA), mp.mpf(acc.SELU_ALPHA)

# (name, params, quantity, mpmath function of x): quantity "f", "dx" or a parameter.
MP = [
    ("sigmoid", {}, "f", _s),
    ("sigmoid", {}, "dx", lambda x: _s(x) * _s(-x)),
    ("tanh", {}, "f", mp.tanh),
    ("tanh", {}, "dx", _sech2),
    ("softplus", {}, "f", _sp),
    ("log_sigmoid", {}, "f", lambda x: -_sp(-x)),
    ("silu", {}, "f", lambda x: x * _s(x)),
    ("silu", {}, "dx", lambda x: _s(x) + x * _s(x) * _s(-x)),
    ("swish", {"beta": 1.0}, "beta", lambda x: x * x * _s(x) * _s(-x)),
    ("mish", {}, "f", lambda x: x * mp.tanh(_sp(x))),
    ("mish", {}, "dx", lambda x: mp.tanh(_sp(x)) + x * _s(x) * _sech2(_sp(x))),
    ("gelu", {"approximate": False}, "f", lambda x: x * mp.ncdf(x)),
    ("gelu", {"approximate": False}, "dx", lambda x: mp.ncdf(x) + x * mp.npdf(x)),
    ("gelu", {"approximate": True}, "f", lambda x: x * _s(_gelu_tanh_u2(x))),
    (
        "gelu",
        {"approximate": True},
        "dx",
        lambda x: mp.diff(lambda t: t * _s(_gelu_tanh_u2(t)), x),
    ),
    ("elu", {"alpha": 1.0}, "f", lambda x: x if x > 0 else mp.expm1(x)),
    ("elu", {"alpha": 1.0}, "alpha", lambda x: 0 if x > 0 else mp.expm1(x)),
    ("selu", {}, "f", lambda x: LAM * (x if x > 0 else ALPHA * mp.expm1(x))),
    ("celu", {"alpha": 1.0}, "alpha", lambda x: 0 if x > 0 else mp.expm1(x) - x * mp.exp(x)),
    (
        "celu",
        {"alpha": 0.5},
        "alpha",
        lambda x: 0 if x > 0 else mp.expm1(2 * x) - 2 * x * mp.exp(2 * x),
    ),
    ("softsign", {}, "dx", lambda x: 1 / (1 + abs(x)) ** 2),
]
# Points: tails, near 0 and near the zeros of the derivatives (where float64
# cancels) of silu (-1.27846), gelu (-0.75179) and mish (-1.19243).
POINTS = (
    np.concatenate(
        [
            [-85.0, -60.0, -30.0, -13.0, -9.5, -5.0, -2.9, -1.0, -0.3, -1e-3, -1e-8, 1e-8],
            [1e-3, 0.3, 1.0, 2.9, 5.0, 9.5, 13.0, 30.0],
            -1.2784645427610738 + np.array([-1e-4, -1e-7, 1e-7, 1e-4]),
            -0.7517915241769 + np.array([-1e-4, -1e-7, 1e-7, 1e-4]),
            -1.1924 + np.array([-1e-4, 1e-4]),
        ]
    )
    .astype(np.float32)
    .astype(np.float64)
)  # float32 inputs, as measured


@pytest.mark.parametrize(
    "name,params,quantity,exact", MP, ids=[f"{m[0]}-{m[2]}-{m[1]}" for m in MP]
)
def test_float64_references_agree_with_mpmath(name, params, quantity, exact):
    """Each reference (float64, refined with mpmath near the zeros of f') is within
    1e-12 relative of 50 digits (float32's ulp is 6e-8: the reference contributes
    under 1e-4 ulp to any measured error)."""
    kw = {**jaxact.get(name).params, **params}
    label = "gelu(approximate=True)" if params.get("approximate") else name
    q = {"f": "f", "dx": "f′"}.get(quantity, f"∂f/∂{quantity}")
    got = acc.reference_values(label, name, kw, POINTS)[q]
    for x, g in zip(POINTS, got, strict=True):
        want = exact(mp.mpf(float(x)))
        if abs(want) < mp.mpf("1e-300"):
            continue
        rel = abs((mp.mpf(float(g)) - want) / want)
        assert rel < 1e-12, (name, quantity, x, g, mp.nstr(want, 20))


# ----------------------------------------------------------------------------
# ulps and inputs
# ----------------------------------------------------------------------------


def test_ulp_errors_count_only_normal_references():
    eps32 = float(np.finfo(np.float32).eps)
    ref = np.array([1.0, 1.0, 2.0, 1e-40, 0.0, 1e39, 1.5])
    got = np.array([1.0 + eps32, 1.0 + 3 * eps32, 2.0, 0.0, 5.0, 1e39, np.inf])
    err, counted = acc.ulp_errors(got, ref, "float32")
    np.testing.assert_array_equal(counted, [True, True, True, False, False, False, True])
    np.testing.assert_allclose(err[:3], [1.0, 3.0, 0.0])
    assert np.isinf(err[6])
    # bfloat16 has 8 significand bits: 1 + 2^-7 is one ulp above 1.
    err, _ = acc.ulp_errors(np.array([1 + 2.0**-7]), np.array([1.0]), "bfloat16")
    np.testing.assert_allclose(err, [1.0])


def test_inputs_cover_every_16_bit_value_and_a_million_float32():
    for dtype in ("float16", "bfloat16"):
        x = acc.inputs(dtype)
        finite = acc.every_value(dtype)
        tiny = float(jnp.finfo(jnp.dtype(dtype)).tiny)
        normal_or_zero = finite[
            (finite.astype(np.float64) == 0) | (np.abs(finite.astype(np.float64)) >= tiny)
        ]
        assert x.size == normal_or_zero.size
    x32 = acc.inputs("float32")
    assert x32.dtype == np.float32 and x32.size >= 1_000_000
    assert np.isfinite(x32).all()
    magnitudes = np.abs(x32[x32 != 0]).astype(np.float64)
    assert magnitudes.min() < 1e-30 and magnitudes.max() > 1e30  # the whole range
    assert np.nextafter(np.float32(3), np.float32(4)) in x32  # next to the kinks


def test_every_registry_entry_is_measured():
    for name in jaxact.names():
        rec = jaxact.get(name)
        table = acc.REFERENCES if rec.elementwise else acc.PAIRS
        assert name in table, f"experiments/accuracy.py has no reference for {name}"
        if rec.elementwise:
            assert set(acc.REFERENCES[name].dparams) == set(rec.dfdparams), name


# ----------------------------------------------------------------------------
# Exhaustive 16-bit accuracy (the regression test of the float32-inside kernels)
# ----------------------------------------------------------------------------

SMOOTH = [
    "sigmoid", "tanh", "softplus", "log_sigmoid", "silu", "swish", "mish", "gelu",
    "elu", "selu", "parametric_selu", "celu", "softsign", "softmax", "softmin", "log_softmax",
]  # fmt: skip


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_every_16_bit_value_within_4_ulps_and_not_worse_than_jax_nn(dtype):
    """Every float16 / bfloat16 input, value and every derivative: within 4 ulps of the
    float64 reference and never worse than jax.nn (ties to 0.01 ulp)."""
    cells, skipped = acc.measure([dtype], names=SMOOTH, log=lambda m: None)
    assert not skipped
    labels = {c.label for c in cells}
    assert set(SMOOTH) <= labels and "gelu(approximate=True)" in labels
    bad = [(c.label, c.quantity, c.ulp, c.at, c.jax_nn_ulp) for c in cells if not c.ok]
    assert not bad, bad


# ----------------------------------------------------------------------------
# The README's table of derivatives at kinks, and the generated document
# ----------------------------------------------------------------------------


def test_readme_kink_table_is_current():
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- kinks:start -->\n(.*?)<!-- kinks:end -->", readme, re.S)
    assert m is not None, "README has no kinks block"
    assert m.group(1) == acc.kink_table(), "rerun python -m experiments.accuracy and update README"
    # It sits right after the paragraph on conventions.
    assert readme.index("Conventions:") < readme.index("## Derivatives at kinks") < m.start()


def test_kink_table_values():
    rows = {(n, k): (ours, nn, torch) for n, k, ours, nn, torch in acc.kink_values()}
    assert rows[("relu6", 6.0)] == (1.0, 0.0, 0.0)
    assert rows[("hard_sigmoid", 3.0)][0] == pytest.approx(1 / 6)
    assert rows[("hard_sigmoid", 3.0)][1:] == (0.0, 0.0)
    assert rows[("hard_tanh", -1.0)][:2] == (0.0, 1.0)
    assert rows[("leaky_relu", 0.0)] == (pytest.approx(0.01), 1.0, 0.01)


def test_accuracy_document_is_generated_by_the_command():
    text = (ROOT / "docs" / "accuracy.md").read_text()
    assert "Generated by `python -m experiments.accuracy" in text
    assert re.search(r"on \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", text)
    assert "cells are within 4 ulp" in text
    for name in jaxact.names():
        assert f"| {name} |" in text, name
