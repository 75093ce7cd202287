"""jaxact as a drop-in for jax.nn: the same call forms give the same values.

Every jax.nn activation has a jaxact function of the same name that accepts
jax.nn's positional parameters and parameter names. The one deliberate
difference in defaults (gelu: exact in jaxact, tanh-approximated in jax.nn) is
tested here and listed in the README's migration table.
"""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact

# Every activation jax.nn exports (its other functions, such as logsumexp,
# standardize, one_hot or dot_product_attention, are not activations).
JAX_NN_ACTIVATIONS = (
    "celu", "elu", "gelu", "glu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "identity", "leaky_relu", "log1mexp", "log_sigmoid", "log_softmax", "mish", "relu",
    "relu6", "selu", "sigmoid", "silu", "soft_sign", "softmax", "softplus", "sparse_plus",
    "sparse_sigmoid", "squareplus", "swish", "tanh",
)  # fmt: skip

X = np.linspace(-5.0, 5.0, 24, dtype=np.float32).reshape(4, 6) + np.float32(0.013)
MASK = np.arange(24).reshape(4, 6) % 3 != 1

# (name, positional parameters after x, keyword parameters): jax.nn's call forms.
CALLS = [
    *((name, (), {}) for name in JAX_NN_ACTIVATIONS if name != "gelu"),
    ("leaky_relu", (0.2,), {}),
    ("leaky_relu", (), {"negative_slope": 0.2}),
    ("elu", (0.5,), {}),
    ("elu", (), {"alpha": 0.5}),
    ("celu", (0.5,), {}),
    ("celu", (), {"alpha": 0.5}),
    ("gelu", (True,), {}),
    ("gelu", (False,), {}),
    ("gelu", (), {"approximate": True}),
    ("gelu", (), {"approximate": False}),
    ("glu", (0,), {}),
    ("glu", (), {"axis": -1}),
    ("squareplus", (2.0,), {}),
    ("squareplus", (), {"b": 2.0}),
    ("softmax", (0,), {}),
    ("softmax", (), {"axis": (0, 1)}),
    ("softmax", (), {"axis": None}),
    ("softmax", (), {"where": MASK}),
    ("softmax", (-1, MASK), {}),
    ("softmax", (), {"axis": 0, "where": MASK}),
    ("log_softmax", (0,), {}),
    ("log_softmax", (), {"axis": (0, 1)}),
    ("log_softmax", (), {"axis": None}),
    ("log_softmax", (), {"where": MASK}),
    ("log_softmax", (-1, MASK), {}),
]


def _input(name: str) -> np.ndarray:
    return np.abs(X) + np.float32(0.1) if name == "log1mexp" else X  # log1mexp: x > 0


def _call_id(call) -> str:
    name, args, kwargs = call
    shown = [repr(a) if not isinstance(a, np.ndarray) else "mask" for a in args]
    shown += [f"{k}={'mask' if isinstance(v, np.ndarray) else v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


def test_every_jax_nn_activation_has_a_jaxact_function():
    for name in JAX_NN_ACTIVATIONS:
        assert callable(getattr(jax.nn, name)), name
        assert callable(getattr(jaxact, name)), name
        assert name in jaxact.__all__, name
    assert jaxact.hard_swish is jaxact.hard_silu
    assert jaxact.soft_sign is jaxact.softsign


@pytest.mark.parametrize("call", CALLS, ids=[_call_id(c) for c in CALLS])
def test_jax_nn_call_forms(call):
    name, args, kwargs = call
    x = _input(name)
    want = getattr(jax.nn, name)(x, *args, **kwargs)
    got = getattr(jaxact, name)(x, *args, **kwargs)
    assert got.shape == want.shape and got.dtype == want.dtype
    # jax.nn's masked log_softmax is -inf off the mask, as jaxact's.
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("call", CALLS, ids=[_call_id(c) for c in CALLS])
def test_jax_nn_call_forms_under_jit_and_grad(call):
    name, args, kwargs = call
    x = _input(name)
    array_args = [a for a in args if isinstance(a, np.ndarray)]
    static_args = [a for a in args if not isinstance(a, np.ndarray)]

    def loss(module):
        fn = getattr(module, name)

        def f(t):
            y = fn(t, *static_args, *array_args, **kwargs)
            return jnp.sum(
                jnp.where(jnp.isfinite(y), y, 0) * jnp.cos(jnp.arange(y.size)).reshape(y.shape)
            )

        return jax.jit(jax.grad(f))

    np.testing.assert_allclose(loss(jaxact)(x), loss(jax.nn)(x), rtol=1e-5, atol=1e-5)


def test_gelu_default_differs_from_jax_nn_on_purpose():
    """jaxact.gelu is exact by default (torch's default); jax.nn.gelu is the tanh form."""
    # (jax.nn's tanh form cancels for x << 0: an absolute tolerance there)
    tol = {"rtol": 1e-6, "atol": 2e-6}
    np.testing.assert_allclose(jaxact.gelu(X), jax.nn.gelu(X, approximate=False), **tol)
    np.testing.assert_allclose(jaxact.gelu(X, approximate=True), jax.nn.gelu(X), **tol)
    assert not np.allclose(jaxact.gelu(X), jax.nn.gelu(X), **tol)


def test_torch_spellings_of_gelu():
    np.testing.assert_array_equal(jaxact.gelu(X, approximate="tanh"), jaxact.gelu(X, True))
    np.testing.assert_array_equal(jaxact.gelu(X, "none"), jaxact.gelu(X, False))
    with pytest.raises(ValueError, match="jaxact.gelu: `approximate`"):
        jaxact.gelu(X, approximate="erf")
    with pytest.raises(TypeError, match="jaxact.gelu: `approximate`"):
        jaxact.gelu(X, approximate=1)


def test_leaky_relu_alias_and_its_conflict():
    np.testing.assert_array_equal(
        jaxact.leaky_relu(X, negative_slope=0.3), jaxact.leaky_relu(X, alpha=0.3)
    )
    with pytest.raises(TypeError, match="jaxact.leaky_relu: give `alpha` or its alias"):
        jaxact.leaky_relu(X, 0.2, negative_slope=0.3)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: jaxact.softmax(X, axis=(0, 0)), ValueError, "`axis`"),
        (lambda: jaxact.softmax(X, axis=()), ValueError, "`axis`"),
        (lambda: jaxact.softmax(X, axis=(0, 2)), ValueError, "`axis`"),
        (lambda: jaxact.log_softmax(X, where=np.ones(5, bool)), ValueError, "`where`"),
        (lambda: jaxact.softmin(X, where="all"), TypeError, "`where`"),
        (lambda: jaxact.softmax(X, where=np.ones((4, 6))), TypeError, "`where`"),
    ],
)
def test_bad_axis_and_where_raise_with_the_argument_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_softmin_takes_the_same_forms():
    np.testing.assert_allclose(jaxact.softmin(X, (0, 1)), jax.nn.softmax(-X, axis=(0, 1)), 1e-6)
    np.testing.assert_allclose(
        jaxact.softmin(X, where=MASK), jax.nn.softmax(-X, where=MASK), rtol=1e-6, atol=1e-7
    )


def test_masked_softmax_gradient_ignores_the_masked_entries():
    """The closed-form JVP of the masked softmax family: no gradient reaches an entry off the mask."""
    for fn in (jaxact.softmax, jaxact.log_softmax, jaxact.softmin):
        g = jax.grad(lambda t, fn=fn: jnp.sum(jnp.where(MASK, fn(t, where=MASK), 0) ** 2))(X)
        assert np.all(np.asarray(g)[~MASK] == 0)
        assert np.all(np.isfinite(g))


def test_readme_migration_table_lists_every_jax_nn_activation():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Migrating from jax.nn", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `jax\.nn\.(\w+)", section, flags=re.MULTILINE))
    assert listed == set(JAX_NN_ACTIVATIONS)
