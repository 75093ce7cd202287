"""Tests of the activation registry: contents, record fields, lookup errors,
the Markdown table, and every claimed property checked numerically."""

from __future__ import annotations

import dataclasses
import inspect
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact

X64 = bool(jax.config.jax_enable_x64)
FLOAT = jnp.float64 if X64 else jnp.float32

CATALOGUE = (
    "identity", "step", "threshold", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu",
    "selu", "parametric_selu", "swish", "silu", "maxout", "softmax", "softmin", "log_softmax",
    "gelu", "softplus", "mish", "celu", "hard_sigmoid", "hard_tanh", "relu6", "softsign",
    "log_sigmoid", "glu", "hard_silu", "squareplus", "sparse_plus", "sparse_sigmoid",
    "log1mexp", "hardshrink", "softshrink", "tanhshrink", "rrelu",
    "rational", "apl", "blend",
)  # fmt: skip
FIELDS = (
    "name", "fn", "dfdx", "dfdparams", "params", "learnable", "constraints", "elementwise",
    "formula", "derivative_formula", "output_range", "zero_centred", "monotonic", "smooth",
    "saturating", "reference", "domain",
)  # fmt: skip
LEARNABLE = {
    "leaky_relu": ("alpha",),
    "prelu": ("alpha",),
    "elu": ("alpha",),
    "celu": ("alpha",),
    "swish": ("beta",),
    "parametric_selu": ("scale", "alpha"),
    "squareplus": ("b",),
    "softshrink": ("lambd",),
    "rational": ("numerator", "denominator"),
    "apl": ("slopes", "hinges"),
    "blend": ("weights",),
}
NON_ELEMENTWISE = {"maxout", "softmax", "softmin", "log_softmax", "glu"}
RECORDS = {n: jaxact.get(n) for n in jaxact.names()}
ELEMENTWISE = [n for n in CATALOGUE if n not in NON_ELEMENTWISE]


def _np(a) -> np.ndarray:
    return np.asarray(a, np.float64)


# ----------------------------------------------------------------------------
# Contents and record fields
# ----------------------------------------------------------------------------


def test_names_are_exactly_the_catalogue_in_order():
    assert jaxact.names() == CATALOGUE


def test_every_name_is_a_public_function():
    for name in CATALOGUE:
        assert getattr(jaxact, name) is RECORDS[name].fn
        assert name in jaxact.__all__
    for extra in ("names", "get", "registry_markdown", "Activation", "UnknownActivationError"):
        assert extra in jaxact.__all__


def test_record_fields_are_exactly_the_documented_ones():
    assert tuple(f.name for f in dataclasses.fields(jaxact.Activation)) == FIELDS


@pytest.mark.parametrize("name", CATALOGUE)
def test_record_contents(name):
    rec = RECORDS[name]
    assert rec.name == name
    assert isinstance(rec.params, types.MappingProxyType)
    assert isinstance(rec.dfdparams, types.MappingProxyType)
    assert isinstance(rec.constraints, types.MappingProxyType)
    # params: every parameter of fn after x, with fn's default where it has one, except
    # those defaulting to None (aliases such as negative_slope, masks such as where)
    signature = list(inspect.signature(rec.fn).parameters.items())[1:]
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    keywords = {k: p for k, p in signature if p.kind in kinds and p.default is not None}
    assert list(rec.params) == list(keywords)
    for k, p in keywords.items():
        if p.default is not inspect.Parameter.empty:
            assert rec.params[k] == p.default
    assert rec.learnable == LEARNABLE.get(name, ())
    assert set(rec.learnable) <= set(rec.dfdparams) <= set(rec.params)
    assert set(rec.constraints) <= set(rec.params)
    assert rec.elementwise == (name not in NON_ELEMENTWISE)
    lo, hi = rec.domain
    assert lo < hi and (rec.domain == (-np.inf, np.inf)) == (name != "log1mexp")
    assert set(rec.saturating) <= {"negative", "positive"}
    lo, hi = rec.output_range
    assert lo < hi
    for text in (rec.formula, rec.derivative_formula, rec.reference):
        assert isinstance(text, str) and text.strip()
    # inline math in a Markdown table cell must not contain a pipe
    assert "|" not in rec.formula and "|" not in rec.derivative_formula
    # the derivative functions accept the registry defaults
    dfdx_params = inspect.signature(rec.dfdx).parameters
    if not rec.elementwise:
        assert list(dfdx_params)[:2] == ["x", "v"]
        for k, p in dfdx_params.items():
            if p.kind is inspect.Parameter.KEYWORD_ONLY:
                assert p.default == rec.params[k]


def test_required_parameters_get_registry_defaults():
    assert dict(RECORDS["threshold"].params) == {"threshold": 0.0, "value": 0.0}
    assert dict(RECORDS["maxout"].params) == {"num_pieces": 2, "axis": -1}
    assert dict(RECORDS["gelu"].params) == {"approximate": False}
    assert RECORDS["threshold"].learnable == ()
    assert dict(RECORDS["parametric_selu"].constraints) == {"scale": "positive"}


def test_records_are_frozen_and_hashable():
    rec = RECORDS["relu"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.name = "other"
    with pytest.raises(TypeError):
        RECORDS["elu"].params["alpha"] = 2.0
    assert len({RECORDS[n] for n in CATALOGUE}) == len(CATALOGUE)


def test_constraints_are_enforced_on_concrete_values():
    for rec in RECORDS.values():
        for p, constraint in rec.constraints.items():
            if constraint not in ("positive", "non-negative"):
                continue
            bad = -1.0 if constraint == "non-negative" else 0.0
            with pytest.raises(ValueError, match=f"`{p}`"):
                rec.fn(jnp.ones(4), **{**rec.params, p: bad})


# ----------------------------------------------------------------------------
# Lookup errors
# ----------------------------------------------------------------------------


def test_unknown_name_lists_close_matches():
    with pytest.raises(KeyError) as info:
        jaxact.get("rleu")
    message = str(info.value)
    assert "'relu'" in message and "jaxact.names()" in message
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, jaxact.UnknownActivationError)
    with pytest.raises(ValueError, match="leaky_relu"):
        jaxact.get("leakyrelu")


def test_unknown_name_without_close_match_points_to_names():
    with pytest.raises(jaxact.UnknownActivationError, match=r"jaxact\.names\(\)") as info:
        jaxact.get("xyzzy")
    assert "Did you mean" not in str(info.value)


def test_non_string_name_raises_type_error():
    with pytest.raises(TypeError, match="`name`"):
        jaxact.get(3)


# ----------------------------------------------------------------------------
# Markdown table
# ----------------------------------------------------------------------------


def test_registry_markdown_has_one_row_per_name():
    table = jaxact.registry_markdown()
    assert table == jaxact.registry_markdown()  # deterministic
    assert table.endswith("\n")
    lines = table.splitlines()
    assert lines[0].startswith("| name | formula | derivative | range |")
    assert set(lines[1]) <= {"|", "-"}
    rows = lines[2:]
    assert [row.split("|")[1].strip().strip("`") for row in rows] == list(CATALOGUE)
    for row, name in zip(rows, CATALOGUE, strict=True):
        assert row.count("|") == 9, row
        rec = RECORDS[name]
        assert f"${rec.formula}$" in row and f"${rec.derivative_formula}$" in row


# ----------------------------------------------------------------------------
# The claimed properties, checked numerically (at the default parameters)
# ----------------------------------------------------------------------------

# Dense over [-8, 8] (spacing 1e-4, all kinks are grid points) plus far tails.
_FINE = np.linspace(-8, 8, 160_001)
_TAILS = np.geomspace(8, 1e4, 200)[1:]
GRID = np.concatenate([-_TAILS[::-1], _FINE, _TAILS])


def _f(name, x):
    rec = RECORDS[name]
    return _np(rec.fn(jnp.asarray(x, FLOAT), **rec.params))


def _dfdx(name, x):
    rec = RECORDS[name]
    return _np(rec.dfdx(jnp.asarray(x, FLOAT), **rec.params))


def _jacobian(name, x):
    """Full Jacobian of a non-elementwise function at one vector, from the closed form."""
    rec = RECORDS[name]
    x = jnp.asarray(x, FLOAT)
    return np.stack([_np(rec.dfdx(x, e, **rec.params)) for e in jnp.eye(x.size, dtype=FLOAT)], -1)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_claims(name):
    rec = RECORDS[name]
    # Within the domain; towards a finite end of it, points down to 1e-30 away.
    start, end = rec.domain
    inside = (GRID > start) & (GRID < end)
    near = start + np.geomspace(1e-30, 1e-5, 26) if start > -np.inf else np.zeros(0)
    grid = np.concatenate([near, GRID[inside]])
    y, dy = _f(name, grid), _dfdx(name, grid)
    lo, hi = rec.output_range
    # output_range: respected, and its ends reached (finite) or exceeded in size (infinite)
    tol = 1e-6 * np.maximum(1, np.abs(y))
    assert np.all(y >= lo - tol) and np.all(y <= hi + tol)
    assert (y.min() < -50) if lo == -np.inf else (abs(y.min() - lo) < 1e-3), y.min()
    assert (y.max() > 50) if hi == np.inf else (abs(y.max() - hi) < 1e-3), y.max()
    # monotonic: non-decreasing on the grid up to rounding (XLA's float32 tanh steps
    # down by an ulp here and there near ±8), and a real decrease where not claimed
    rounding = 4 * float(jnp.finfo(FLOAT).eps) * np.maximum(1, np.abs(y[1:]))
    assert np.all(np.diff(y) >= -rounding) == rec.monotonic, np.diff(y).min()
    # smooth (C^1): no jump in f or f' between neighbours 1e-4 apart; kinks jump by >= 1/6
    fine = np.zeros(len(GRID), bool)
    fine[len(_TAILS) : len(_TAILS) + len(_FINE)] = True
    # (and away from a finite end of the domain, where log1mexp' blows up like 1/x)
    fine = np.concatenate([np.zeros(len(near), bool), fine[inside]]) & (grid > start + 0.5)
    jump = max(np.abs(np.diff(y[fine])).max(), np.abs(np.diff(dy[fine])).max())
    assert (jump < 1e-2) == rec.smooth, jump
    # saturating: |f'| < 1e-3 far out on exactly the claimed sides
    for side, x in (("negative", -1e3), ("positive", 1e3)):
        assert (abs(_dfdx(name, np.array([x]))[0]) < 1e-3) == (side in rec.saturating), side


def _gauss_hermite_moments(f):
    """E f(z) and E f(z)^2 for z ~ N(0, 1), by 200-point Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    weights = weights / weights.sum()
    y = f(nodes)
    return float(weights @ y), float(weights @ y**2)


@pytest.mark.parametrize("name", CATALOGUE)
def test_zero_centred_claim(name):
    """zero_centred <=> |E f(z)| <= 0.01 sqrt(E f(z)^2) for standard normal z (and then
    f(0) = 0 or f changes sign)."""
    rec = RECORDS[name]
    if rec.elementwise:
        mean, second = _gauss_hermite_moments(lambda z: _f(name, z))
    else:
        z = np.random.default_rng(0).normal(size=(20_000, 4))
        y = _f(name, z)
        mean, second = float(y.mean()), float((y**2).mean())
    assert (abs(mean) <= 0.01 * np.sqrt(second)) == rec.zero_centred, (mean, second)
    if rec.zero_centred:
        z = np.linspace(-3, 3, 13)
        y = _f(name, z if rec.elementwise else np.stack([z, z], -1))
        assert y[6] == 0 or (y.min() < 0 < y.max())


@pytest.mark.parametrize("name", sorted(NON_ELEMENTWISE))
def test_non_elementwise_claims(name):
    rec = RECORDS[name]
    lo, hi = rec.output_range
    x = np.array([[1e4, 0.0, -1e4, 2.0], [-3.0, 0.5, 0.25, 7.0], [-1e4, -1e4, 1e4, 1e4], [1e4] * 4])
    y = _f(name, x)
    assert np.all(y >= lo - 1e-6) and np.all(y <= hi + 1e-6)
    assert (y.min() < -50) if lo == -np.inf else (abs(y.min() - lo) < 1e-3)
    assert (y.max() > 50) if hi == np.inf else (abs(y.max() - hi) < 1e-3)
    # monotonic: raising one input never lowers any output (else some output drops)
    base = np.array([0.3, -0.2, 1.1, 0.4])
    lowered = False
    for i in range(4):
        bumped = base.copy()
        bumped[i] += 0.5
        diff = _f(name, bumped) - _f(name, base)
        lowered |= bool(diff.min() < -1e-6)
    assert lowered != rec.monotonic
    # smooth: the Jacobian column J e_0 has no jump along x_0 in [-1, 1] (1e-3 steps)
    path = np.tile([0.0, 0.0, 0.5, -0.3], (2001, 1))
    path[:, 0] = np.linspace(-1, 1, 2001)
    e0 = jnp.zeros(path.shape, FLOAT).at[:, 0].set(1)
    column = _np(jax.vmap(lambda x, v: rec.dfdx(x, v, **rec.params))(jnp.asarray(path, FLOAT), e0))
    assert (np.abs(np.diff(column, axis=0)).max() < 1e-2) == rec.smooth
    # saturating: the whole Jacobian vanishes when x_0 -> ±30, on exactly the claimed sides
    for side, sign in (("negative", -1.0), ("positive", 1.0)):
        norm = np.linalg.norm(_jacobian(name, np.array([30.0 * sign, 0.0, 0.0, 0.0])))
        assert (norm < 1e-3) == (side in rec.saturating), (side, norm)
