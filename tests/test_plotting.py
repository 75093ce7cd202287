"""jaxact.plotting: figures for every registry name, plotted derivatives equal autodiff."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact import plotting

GRID = np.linspace(-4.0, 4.0, 81, dtype=np.float32)


def _lines(fig):
    return {line.get_gid(): line for ax in fig.axes for line in ax.lines if line.get_gid()}


def _independent_grad(name):
    """jax.grad of the activation itself, written here without the plotting code."""
    rec = jaxact.get(name)
    kw = dict(rec.params)
    if rec.elementwise:
        f = lambda t: rec.fn(t, **kw)
    else:
        f = lambda t: rec.fn(jnp.stack([t, jnp.zeros_like(t)]), **kw)[0]
    return np.asarray(jax.vmap(jax.grad(f))(jnp.asarray(GRID)))


@pytest.mark.parametrize("name", jaxact.names())
def test_every_registry_name_plots_and_its_derivative_equals_autodiff(name):
    fig = plotting.plot_activation(name, x=GRID)
    assert len(fig.axes) == 2
    lines = _lines(fig)
    assert {f"f:{name}", f"dfdx:{name}", f"fd:{name}"} <= set(lines)
    closed = np.asarray(lines[f"dfdx:{name}"].get_ydata())
    np.testing.assert_array_equal(lines[f"dfdx:{name}"].get_xdata(), GRID)
    np.testing.assert_allclose(closed, _independent_grad(name), rtol=1e-6, atol=1e-6)
    # the markers: float64 finite differences of f, NaN only at kinks or outside f's domain
    fd = np.asarray(lines[f"fd:{name}"].get_ydata())
    ok = np.isfinite(fd)
    defined = np.isfinite(np.asarray(lines[f"f:{name}"].get_ydata()))
    assert ok.sum() >= defined.sum() - 2, f"{name}: {np.sum(~ok & defined)} kinks"
    np.testing.assert_allclose(closed[ok], fd[ok], rtol=2e-6, atol=2e-6)


def test_function_data_and_slices_of_the_non_elementwise_ones():
    lines = _lines(plotting.plot_activation(["relu", "softmax", "maxout"], x=GRID))
    np.testing.assert_array_equal(lines["f:relu"].get_ydata(), np.maximum(GRID, 0))
    # softmax([x, 0])_0 is the sigmoid; maxout of the pieces (x, 0) is max(x, 0)
    np.testing.assert_allclose(
        lines["f:softmax"].get_ydata(), 1 / (1 + np.exp(-GRID.astype(np.float64))), atol=1e-6
    )
    np.testing.assert_array_equal(lines["f:maxout"].get_ydata(), np.maximum(GRID, 0))


def test_params_reach_the_function_and_its_derivative():
    c = plotting.activation_curves("elu", GRID, params={"alpha": 0.5})
    neg = GRID <= 0
    np.testing.assert_allclose(c["f"][neg], 0.5 * np.expm1(GRID[neg]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c["dfdx"][neg], 0.5 * np.exp(GRID[neg]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(c["dfdx"], c["grad"])


def test_finite_differences_are_independent_of_the_derivative_rule():
    c = plotting.activation_curves("sigmoid", GRID)
    sig = 1 / (1 + np.exp(-GRID.astype(np.float64)))
    assert c["fd"].dtype == np.float64
    np.testing.assert_allclose(c["fd"], sig * (1 - sig), rtol=0, atol=1e-9)
    # kinks and jumps get no marker; a step's derivative is 0 everywhere else
    relu = plotting.activation_curves("relu", [-1.0, 0.0, 1.0])["fd"]
    np.testing.assert_array_equal(relu, [0.0, np.nan, 1.0])
    step = plotting.activation_curves("step", [-1.0, 0.0, 2.0])["fd"]
    np.testing.assert_array_equal(step, [0.0, np.nan, 0.0])


def test_axes_layouts():
    from matplotlib.figure import Figure

    fig = plotting.plot_activation("tanh", derivative=False)
    assert len(fig.axes) == 1 and set(_lines(fig)) == {"f:tanh"}

    host = Figure()
    ax = host.add_subplot()
    assert plotting.plot_activation("tanh", ax=ax) is host  # overlaid on one Axes
    assert set(_lines(host)) == {"f:tanh", "dfdx:tanh", "fd:tanh"}
    assert _lines(host)["dfdx:tanh"].get_linestyle() == "--"

    pair = Figure().subplots(1, 2)
    fig = plotting.plot_activation(["sigmoid", "tanh"], ax=tuple(pair))
    assert len(pair[1].lines) == 4 + 2  # two curves + two marker sets, plus the axes lines


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"name_or_names": "nope"}, ValueError, "nope"),
        ({"name_or_names": 3}, TypeError, "name_or_names"),
        ({"name_or_names": []}, ValueError, "empty"),
        ({"name_or_names": "relu", "params": {"alpha": 0.1}}, ValueError, "alpha"),
        ({"name_or_names": "elu", "params": {"alpha": [0.1, 0.2]}}, ValueError, "scalar"),
        ({"name_or_names": "softmax", "params": {"axis": 0}}, ValueError, "fixed"),
        ({"name_or_names": "relu", "x": np.zeros((2, 2))}, ValueError, "1-D"),
        ({"name_or_names": "relu", "x": [0.0, np.inf]}, ValueError, "finite"),
        ({"name_or_names": "relu", "ax": "left"}, TypeError, "ax"),
        ({"name_or_names": "relu", "derivative": "yes"}, TypeError, "derivative"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        plotting.plot_activation(**kwargs)


def test_gallery_directory_and_grid(tmp_path):
    written = plotting.gallery(tmp_path / "gallery", ["relu", "softmax"])
    assert [p.name for p in written] == ["relu.png", "softmax.png"]
    grid = plotting.gallery(tmp_path / "all.png", ["sigmoid", "tanh", "maxout"])
    for path in [*written, *grid]:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.rglob(".tmp-*"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="directory"):
        plotting.gallery(tmp_path / "file", ["relu"])
    with pytest.raises(ValueError, match="nope"):
        plotting.gallery(tmp_path / "g2", ["nope"])


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="experiments"):
        plotting.plot_activation("relu")


def test_import_does_not_load_matplotlib():
    code = "import sys, jaxact.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
