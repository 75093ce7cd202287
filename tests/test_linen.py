"""Tests for jaxact.linen: shapes, parameter counts, gradients, Maxout, MLP, errors."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact import linen as jl

KEY = jax.random.key(0)


def batch(shape=(16, 6), seed=1):
    """A random batch with negative and positive entries."""
    x = jax.random.normal(jax.random.key(seed), shape)
    assert bool((x < 0).any()) and bool((x > 0).any())
    return x


def count(tree):
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(tree))


# --------------------------------------------------------------------------- Activation


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("relu", {}),
        ("leaky_relu", {"alpha": 0.2}),
        ("elu", {"alpha": 0.5}),
        ("swish", {}),
        ("selu", {}),
        ("softmax", {}),
    ],
)
def test_activation_is_the_registry_function(name, params):
    x = batch()
    layer = jl.Activation(name, params)
    out = layer.apply({}, x)
    np.testing.assert_array_equal(out, jaxact.get(name).fn(x, **params))
    assert layer.init(KEY, x) == {}


def test_activation_is_hashable_and_a_jit_static_argument():
    layer = jl.Activation("leaky_relu", {"alpha": 0.5})
    assert hash(layer) == hash(jl.Activation("leaky_relu", {"alpha": 0.5}))
    f = jax.jit(lambda m, x: m.apply({}, x), static_argnums=0)
    np.testing.assert_allclose(f(layer, jnp.array([-2.0, 1.0])), [-1.0, 1.0])


def test_activation_maxout_is_not_elementwise():
    x = jnp.arange(12.0).reshape(2, 6)
    out = jl.Activation("maxout", {"num_pieces": 3}).apply({}, x)
    np.testing.assert_array_equal(out, [[2.0, 5.0], [8.0, 11.0]])


def test_activation_bad_input():
    with pytest.raises(ValueError, match="activation: unknown activation 'relux'"):
        jl.Activation("relux")
    with pytest.raises(ValueError, match="params: .*'relu' has no parameter 'alpha'"):
        jl.Activation("relu", {"alpha": 0.1})


# ----------------------------------------------------------------- learnable activations

PRELU_GRAD = lambda x, p: jnp.minimum(x, 0.0)  # d prelu / d alpha  # noqa: E731


def test_prelu_shared_value_and_alpha_gradient():
    x = batch()
    layer = jl.PReLU()
    params = layer.init(KEY, x)["params"]
    assert set(params) == {"alpha"}
    assert params["alpha"].shape == () and params["alpha"].dtype == jnp.float32
    assert float(params["alpha"]) == 0.25
    out = layer.apply({"params": params}, x)
    np.testing.assert_allclose(out, np.where(x > 0, x, 0.25 * np.asarray(x)), rtol=1e-6)
    g = jax.grad(lambda p: layer.apply({"params": p}, x).sum())(params)
    # d/dalpha sum(prelu) = sum(min(x, 0)): non-zero because x has negatives.
    np.testing.assert_allclose(g["alpha"], jnp.minimum(x, 0).sum(), rtol=1e-5)
    assert float(g["alpha"]) != 0.0


def test_prelu_channelwise_one_alpha_per_feature():
    x = batch((16, 6))
    layer = jl.PReLU(0.1, channelwise=True)
    params = layer.init(KEY, x)["params"]
    assert params["alpha"].shape == (6,) and params["alpha"].dtype == jnp.float32
    np.testing.assert_array_equal(params["alpha"], np.full(6, 0.1, np.float32))
    new = {"alpha": jnp.arange(6.0) / 10}
    np.testing.assert_allclose(
        layer.apply({"params": new}, x), jaxact.prelu(x, alpha=jnp.arange(6.0) / 10), rtol=1e-6
    )
    g = jax.grad(lambda p: layer.apply({"params": p}, x).sum())(params)
    np.testing.assert_allclose(g["alpha"], jnp.minimum(x, 0).sum(0), rtol=1e-5)
    assert bool((g["alpha"] != 0).all())


def test_channelwise_on_other_feature_size_raises():
    layer = jl.PReLU(channelwise=True)
    params = layer.init(KEY, jnp.ones((2, 6)))
    with pytest.raises(ValueError, match="x: .*'alpha' has shape \\(6,\\)"):
        layer.apply(params, jnp.ones((2, 5)))
    # The shared (non-channelwise) module refuses a channelwise tree too.
    with pytest.raises(ValueError, match="x: "):
        jl.PReLU().apply(params, jnp.ones((2, 6)))


@pytest.mark.parametrize(
    ("module", "name", "learnable", "defaults"),
    [
        (jl.Swish, "swish", ("beta",), {"beta": 1.0}),
        (jl.ELU, "elu", ("alpha",), {"alpha": 1.0}),
        (
            jl.ParametricSELU,
            "parametric_selu",
            ("scale", "alpha"),
            {"scale": 1.0507009873554805, "alpha": 1.6732632423543772},
        ),
    ],
)
def test_named_learnable_modules(module, name, learnable, defaults):
    x = batch()
    layer = module()
    params = layer.init(KEY, x)["params"]
    assert tuple(sorted(params)) == tuple(sorted(learnable))
    for k, v in defaults.items():
        assert params[k].shape == () and params[k].dtype == jnp.float32
        np.testing.assert_allclose(params[k], v, rtol=1e-7)
    np.testing.assert_allclose(
        layer.apply({"params": params}, x), jaxact.get(name).fn(x, **defaults), rtol=1e-6
    )
    g = jax.grad(lambda p: layer.apply({"params": p}, x).sum())(params)
    for k in learnable:
        assert np.isfinite(g[k]) and float(g[k]) != 0.0, k


def test_parametric_selu_gradients_closed_form():
    x = batch()
    layer = jl.ParametricSELU(1.5, 0.7)
    params = layer.init(KEY, x)["params"]
    g = jax.grad(lambda p: layer.apply({"params": p}, x).sum())(params)
    elu = np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))
    np.testing.assert_allclose(g["scale"], elu.sum(), rtol=1e-5)
    np.testing.assert_allclose(g["alpha"], 1.5 * np.expm1(np.minimum(x, 0)).sum(), rtol=1e-5)


def test_learnable_activation_generic_and_subset():
    x = batch()
    layer = jl.LearnableActivation("celu", init_values={"alpha": 0.5})
    params = layer.init(KEY, x)["params"]
    assert set(params) == {"alpha"} and float(params["alpha"]) == 0.5
    np.testing.assert_allclose(
        layer.apply({"params": params}, x), jaxact.celu(x, alpha=0.5), rtol=1e-6
    )
    # A subset: alpha learned, scale fixed.
    sub = jl.LearnableActivation("parametric_selu", learnable=("alpha",), params={"scale": 2.0})
    p = sub.init(KEY, x)["params"]
    assert set(p) == {"alpha"}
    np.testing.assert_allclose(
        sub.apply({"params": p}, x),
        jaxact.parametric_selu(x, scale=2.0, alpha=float(p["alpha"])),
        rtol=1e-6,
    )


def test_learnable_activation_bad_input():
    with pytest.raises(
        ValueError, match="learnable: 'beta' is not a learnable parameter of 'prelu'; valid: alpha"
    ):
        jl.LearnableActivation("prelu", learnable=("beta",))
    with pytest.raises(ValueError, match="learnable: .*'relu' has no learnable parameters"):
        jl.LearnableActivation("relu")
    with pytest.raises(ValueError, match="activation: unknown activation"):
        jl.LearnableActivation("prelux")
    with pytest.raises(ValueError, match="params: \\['alpha'\\] are learnable"):
        jl.LearnableActivation("prelu", params={"alpha": 0.1})
    with pytest.raises(ValueError, match="init_values: 'beta'"):
        jl.LearnableActivation("prelu", init_values={"beta": 0.1})
    with pytest.raises(ValueError, match="constraint: unknown constraint 'bounded'"):
        jl.PReLU(constraint="bounded")
    with pytest.raises(ValueError, match="init_values: 'alpha' has constraint 'positive'"):
        jl.LearnableActivation("prelu", init_values={"alpha": -0.1}, constraint="positive")
    with pytest.raises(ValueError, match="init_values: 'alpha' has constraint 'positive'"):
        jl.PReLU(0.0, constraint="positive")
    with pytest.raises(ValueError, match="constraint: 'beta' is not one of the learnable"):
        jl.ParametricSELU(constraint={"beta": "positive"})


@pytest.mark.parametrize("alpha0", [0.25, 1e-3, 30.0])
def test_positive_constraint_is_a_softplus_reparameterisation(alpha0):
    x = batch()
    layer = jl.PReLU(alpha0, constraint="positive")
    params = layer.init(KEY, x)["params"]
    raw = params["alpha"]  # still named alpha, holds the raw value
    np.testing.assert_allclose(jax.nn.softplus(raw), alpha0, rtol=2e-6)
    np.testing.assert_allclose(
        layer.apply({"params": params}, x), jaxact.prelu(x, alpha=alpha0), rtol=2e-6
    )
    # A raw value far below zero still gives a positive slope (no clipping).
    neg = {"alpha": jnp.float32(-5.0)}
    np.testing.assert_allclose(
        layer.apply({"params": neg}, x), jaxact.prelu(x, alpha=jax.nn.softplus(-5.0)), rtol=1e-6
    )
    g = jax.grad(lambda p: layer.apply({"params": p}, x).sum())(params)
    np.testing.assert_allclose(g["alpha"], jnp.minimum(x, 0).sum() * jax.nn.sigmoid(raw), rtol=1e-4)


def test_parameter_values_method_and_per_parameter_constraint():
    layer = jl.ParametricSELU(constraint={"scale": "positive"})
    v = layer.init(KEY, jnp.ones(3))
    vals = layer.apply(v, method="parameter_values")
    np.testing.assert_allclose(vals["scale"], 1.0507009873554805, rtol=1e-6)
    np.testing.assert_allclose(vals["alpha"], v["params"]["alpha"])  # unconstrained: the leaf
    assert abs(float(v["params"]["scale"]) - 1.0507) > 0.1  # the leaf is raw


def test_bfloat16_input_keeps_dtype_and_params_stay_float32():
    x = batch().astype(jnp.bfloat16)
    layer = jl.PReLU(channelwise=True)
    v = layer.init(KEY, x)
    assert v["params"]["alpha"].dtype == jnp.float32
    assert layer.apply(v, x).dtype == jnp.bfloat16


def test_vmap_initialisation_over_eight_alphas():
    x = batch()
    alphas = jnp.linspace(-0.5, 0.5, 8)
    params = jax.vmap(lambda a: jl.PReLU(a).init(KEY, x)["params"])(alphas)
    assert params["alpha"].shape == (8,)
    np.testing.assert_allclose(params["alpha"], alphas)
    assert len(set(np.asarray(params["alpha"]).tolist())) == 8


def test_jit_and_vmap_over_parameters():
    x = batch()
    layer = jl.ELU(channelwise=True)
    stacked = {"alpha": jnp.linspace(0.1, 2.0, 8)[:, None] * jnp.ones((8, 6))}
    out = jax.jit(jax.vmap(lambda p: layer.apply({"params": p}, x)))(stacked)
    assert out.shape == (8, 16, 6)
    for i in (0, 7):
        np.testing.assert_allclose(out[i], jaxact.elu(x, alpha=stacked["alpha"][i]), rtol=1e-6)
    grads = jax.vmap(jax.grad(lambda p: layer.apply({"params": p}, x).sum()))(stacked)
    assert grads["alpha"].shape == (8, 6) and bool((grads["alpha"] != 0).all())


# ------------------------------------------------------------------------------ Maxout


@pytest.mark.parametrize("k", [1, 2, 3])
def test_maxout_equals_paired_dense_layers(k):
    x = batch()
    layer = jl.Maxout(4, num_pieces=k)
    v = layer.init(KEY, x)
    kernel, bias = v["params"]["dense"]["kernel"], v["params"]["dense"]["bias"]
    assert kernel.shape == (6, 4 * k) and bias.shape == (4 * k,)
    # Give the bias non-zero values so the test sees it.
    bias = jax.random.normal(jax.random.key(5), bias.shape)
    v = {"params": {"dense": {"kernel": kernel, "bias": bias}}}
    pieces = [
        nn.Dense(4).apply({"params": {"kernel": kernel[:, p::k], "bias": bias[p::k]}}, x)
        for p in range(k)
    ]
    expected = jnp.max(jnp.stack(pieces), axis=0)
    np.testing.assert_allclose(layer.apply(v, x), expected, rtol=1e-6, atol=1e-6)
    assert layer.apply(v, x).shape == (16, 4)


@pytest.mark.parametrize("k", [2, 3])
def test_maxout_has_k_times_dense_parameters(k):
    x = batch()
    dense = count(nn.Dense(4).init(KEY, x))
    assert count(jl.Maxout(4, num_pieces=k).init(KEY, x)) == k * dense


def test_maxout_gradients_reach_every_piece():
    x = batch()
    layer = jl.Maxout(4, num_pieces=3)
    v = layer.init(KEY, x)
    g = jax.jit(jax.grad(lambda p: layer.apply(p, x).sum()))(v)
    # With a random batch every piece wins for some examples.
    assert bool((jnp.abs(g["params"]["dense"]["kernel"]).sum(0) > 0).all())


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "2"])
def test_maxout_bad_num_pieces(bad):
    with pytest.raises(ValueError, match="num_pieces: expected an integer >= 1"):
        jl.Maxout(4, num_pieces=bad)


def test_maxout_bad_features_and_init():
    with pytest.raises(ValueError, match="features: expected an integer >= 1"):
        jl.Maxout(0)
    with pytest.raises(ValueError, match="kernel_init: unknown initialisation 'he'"):
        jl.Maxout(3, kernel_init="he")


# ---------------------------------------------------------------------------------- MLP


def test_mlp_structure_names_and_counts():
    x = batch()
    mlp = jl.MLP((8, 8, 1), "relu")
    v = mlp.init(KEY, x)
    assert sorted(v["params"]) == ["dense_0", "dense_1", "dense_2"]
    assert count(v) == (6 * 8 + 8) + (8 * 8 + 8) + (8 * 1 + 1)
    assert mlp.apply(v, x).shape == (16, 1)
    # The activation goes between layers only: a one-layer MLP is affine.
    one = jl.MLP((8,), "relu")
    v1 = one.init(KEY, x)
    np.testing.assert_allclose(
        one.apply(v1, -x), -one.apply(v1, x) + 2 * v1["params"]["dense_0"]["bias"]
    )


def test_mlp_applies_activation_after_each_hidden_layer():
    x = batch()
    mlp = jl.MLP((8, 1), "leaky_relu", activation_params={"alpha": 0.3})
    v = mlp.init(KEY, x)
    p = v["params"]
    h = jaxact.leaky_relu(x @ p["dense_0"]["kernel"] + p["dense_0"]["bias"], alpha=0.3)
    np.testing.assert_allclose(
        mlp.apply(v, x), h @ p["dense_1"]["kernel"] + p["dense_1"]["bias"], rtol=1e-5
    )


def test_mlp_output_activation():
    x = batch()
    mlp = jl.MLP((8, 8), "tanh", output_activation="softmax")
    out = mlp.apply(mlp.init(KEY, x), x)
    assert bool((out > 0).all())
    np.testing.assert_allclose(out.sum(-1), np.ones(16), rtol=1e-6)


def test_mlp_learnable_each_layer_own_parameters():
    x = batch()
    mlp = jl.MLP((8, 8, 8, 1), "prelu", learnable=True, activation_params={"alpha": 0.1})
    v = mlp.init(KEY, x)
    assert sorted(v["params"]) == [
        "act_0",
        "act_1",
        "act_2",
        "dense_0",
        "dense_1",
        "dense_2",
        "dense_3",
    ]
    alphas = jl.activation_params(v["params"])["alpha"]
    assert [float(a) for a in alphas] == pytest.approx([0.1] * 3)
    g = jax.grad(lambda p: (mlp.apply(p, x) ** 2).sum())(v)
    ga = [g["params"][f"act_{i}"]["alpha"] for i in range(3)]
    assert all(float(a) != 0.0 for a in ga)
    assert len({float(a) for a in ga}) == 3  # separate parameters, separate gradients


def test_mlp_learnable_subset_and_channelwise():
    x = batch()
    mlp = jl.MLP(
        (8, 1),
        "parametric_selu",
        learnable=("alpha",),
        activation_params={"scale": 1.2},
        channelwise=True,
    )
    v = mlp.init(KEY, x)
    assert set(v["params"]["act_0"]) == {"alpha"}
    assert v["params"]["act_0"]["alpha"].shape == (8,)
    p = v["params"]
    h = jaxact.parametric_selu(
        x @ p["dense_0"]["kernel"] + p["dense_0"]["bias"], scale=1.2, alpha=p["act_0"]["alpha"]
    )
    np.testing.assert_allclose(
        mlp.apply(v, x), h @ p["dense_1"]["kernel"] + p["dense_1"]["bias"], rtol=1e-5, atol=1e-6
    )


def test_mlp_maxout_layers_and_parameter_count():
    x = batch()
    mlp = jl.MLP((8, 8, 1), "maxout", num_pieces=3)
    v = mlp.init(KEY, x)
    assert sorted(v["params"]) == ["dense_2", "maxout_0", "maxout_1"]
    relu = jl.MLP((8, 8, 1), "relu").init(KEY, x)
    hidden = (6 * 8 + 8) + (8 * 8 + 8)
    assert count(v) - count(relu) == 2 * hidden  # hidden layers have 3x the weights
    assert mlp.apply(v, x).shape == (16, 1)


def test_mlp_kernel_init_names_and_functions():
    x = batch()

    def halves(key, shape, dtype=jnp.float32):
        return jnp.full(shape, 0.5, dtype)

    v = jl.MLP((8, 1), "relu", kernel_init=halves).init(KEY, x)["params"]
    for layer in ("dense_0", "dense_1"):
        assert bool((v[layer]["kernel"] == 0.5).all()) and bool((v[layer]["bias"] == 0).all())
    # Variances are tested in test_initializers; here the name reaches every kernel.
    tiny = jl.MLP((8, 1), "relu", kernel_init="normal_tiny").init(KEY, x)["params"]
    he = jl.MLP((8, 1), "relu").init(KEY, x)["params"]  # he_normal, std sqrt(2/6) ~ 0.58
    for layer in ("dense_0", "dense_1"):
        assert float(jnp.abs(tiny[layer]["kernel"]).max()) < 0.1
        assert float(jnp.abs(he[layer]["kernel"]).max()) > 0.1


def test_mlp_bad_input():
    with pytest.raises(ValueError, match="activation: unknown activation 'rlu'"):
        jl.MLP((4, 1), "rlu")
    with pytest.raises(ValueError, match="output_activation: unknown activation"):
        jl.MLP((4, 1), "relu", output_activation="softmx")
    with pytest.raises(ValueError, match="kernel_init: unknown initialisation 'kaiming'"):
        jl.MLP((4, 1), "relu", kernel_init="kaiming")
    with pytest.raises(
        ValueError, match="learnable: 'beta' is not a learnable parameter of 'prelu'; valid: alpha"
    ):
        jl.MLP((4, 1), "prelu", learnable=("beta",))
    with pytest.raises(ValueError, match="learnable: .*'relu' has no learnable parameters"):
        jl.MLP((4, 1), "relu", learnable=True)
    with pytest.raises(ValueError, match="activation_params: .*no parameter 'beta'"):
        jl.MLP((4, 1), "prelu", activation_params={"beta": 1.0})
    with pytest.raises(ValueError, match="num_pieces: expected an integer >= 1"):
        jl.MLP((4, 1), "maxout", num_pieces=0)
    with pytest.raises(ValueError, match="channelwise: only applies with learnable"):
        jl.MLP((4, 1), "prelu", channelwise=True)
    with pytest.raises(ValueError, match="layer_sizes: expected"):
        jl.MLP((), "relu")
    with pytest.raises(ValueError, match="layer_sizes: expected an integer >= 1"):
        jl.MLP((4, 0), "relu")


def test_mlp_jit_and_vmap_over_alpha():
    x = batch()
    mlp = jl.MLP((8, 8, 1), "prelu", learnable=True)
    params = mlp.init(KEY, x)["params"]
    alphas = jnp.linspace(-0.2, 0.6, 8)

    @jax.jit
    def run(a):
        return mlp.apply({"params": jl.replace_activation_params(params, alpha=a)}, x)

    out = jax.vmap(run)(alphas)
    assert out.shape == (8, 16, 1)
    for i in (0, 5):
        p = {**params, "act_0": {"alpha": alphas[i]}, "act_1": {"alpha": alphas[i]}}
        np.testing.assert_allclose(out[i], mlp.apply({"params": p}, x), rtol=1e-5, atol=1e-6)
    assert len({float(o.sum()) for o in out}) == 8


# ----------------------------------------------------------- activation-param helpers


def test_activation_params_are_in_layer_order():
    x = batch()
    mlp = jl.MLP((8,) * 12 + (1,), "swish", learnable=True)
    params = mlp.init(KEY, x)["params"]
    values = jnp.arange(12.0)
    for i in range(12):
        params[f"act_{i}"]["beta"] = values[i]
    got = jl.activation_params(params)
    assert list(got) == ["beta"]
    np.testing.assert_array_equal(jnp.stack(got["beta"]), values)  # act_10 after act_9
    # The whole variables dict works too; Dense leaves are not collected.
    assert len(jl.activation_params({"params": params})["beta"]) == 12


def test_replace_activation_params_keeps_structure_and_works_under_vmap():
    x = batch()
    params = jl.MLP((8, 8, 1), "parametric_selu", learnable=True).init(KEY, x)["params"]
    new = jax.jit(jax.vmap(lambda s: jl.replace_activation_params(params, scale=s)))(
        jnp.arange(3.0)
    )
    assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(params)
    np.testing.assert_array_equal(new["act_1"]["scale"], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(new["act_1"]["alpha"][0], params["act_1"]["alpha"])
    assert new["act_1"]["scale"].dtype == jnp.float32


def test_replace_activation_params_bad_names():
    params = jl.PReLU().init(KEY, jnp.ones(2))["params"]
    with pytest.raises(
        ValueError, match="values: 'kernel' is not a learnable activation parameter"
    ):
        jl.replace_activation_params(params, kernel=1.0)
    with pytest.raises(ValueError, match="values: params has no activation leaf named \\['beta'\\]"):
        jl.replace_activation_params(params, beta=1.0)


def test_activation_params_with_model_leave_layernorm_scale_alone():
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            return jl.ParametricSELU()(nn.LayerNorm()(nn.Dense(4)(x)))

    model, x = Net(), jnp.ones((2, 3))
    params = model.init(KEY, x)["params"]
    by_module = jl.activation_params(params, model, x)
    assert {k: len(v) for k, v in by_module.items()} == {"alpha": 1, "scale": 1}
    new = jl.replace_activation_params(params, model, x, scale=2.0)
    np.testing.assert_array_equal(new["LayerNorm_0"]["scale"], params["LayerNorm_0"]["scale"])
    np.testing.assert_allclose(new["ParametricSELU_0"]["scale"], 2.0)
    # without the model, leaves are found by name: the LayerNorm's scale is taken too
    assert len(jl.activation_params(params)["scale"]) == 2


# --------------------------------------------------------------------- README example


def test_readme_example_linen():
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax

    import jaxact.linen as jl

    x = jax.random.normal(jax.random.key(0), (128, 4))
    y = jnp.sin(x).sum(-1, keepdims=True)

    def train(model, steps=60):
        params = model.init(jax.random.key(1), x)
        tx = optax.adam(1e-2)
        opt_state = tx.init(params)

        @jax.jit
        def step(params, opt_state):
            loss, grads = jax.value_and_grad(lambda p: jnp.mean((model.apply(p, x) - y) ** 2))(
                params
            )
            updates, opt_state = tx.update(grads, opt_state)
            return optax.apply_updates(params, updates), opt_state, loss

        losses = []
        for _ in range(steps):
            params, opt_state, loss = step(params, opt_state)
            losses.append(float(loss))
        return params, losses

    params, losses = train(nn.Sequential([nn.Dense(32), jl.PReLU(), nn.Dense(1)]))
    alpha = params["params"]["layers_1"]["alpha"]  # the learned PReLU slope
    _, maxout_losses = train(nn.Sequential([jl.Maxout(32, num_pieces=2), nn.Dense(1)]))

    assert losses[-1] < 0.5 * losses[0] and maxout_losses[-1] < 0.5 * maxout_losses[0]
    assert abs(float(alpha) - 0.25) > 1e-3  # alpha moved by backprop
    assert jl.activation_params(params)["alpha"] == [alpha]


# --------------------------------------------------------------------------- dtypes


def _dtypes(tree):
    return {jnp.dtype(leaf.dtype) for leaf in jax.tree_util.tree_leaves(tree)}


def test_dtype_is_the_computation_dtype_and_param_dtype_the_leaves():
    x = batch()  # float32
    layer = jl.PReLU(dtype=jnp.bfloat16)
    v = layer.init(KEY, x)
    assert v["params"]["alpha"].dtype == jnp.float32  # param_dtype default, as Flax
    y = layer.apply(v, x)
    assert y.dtype == jnp.bfloat16
    np.testing.assert_allclose(y, jaxact.prelu(x.astype(jnp.bfloat16), alpha=0.25), rtol=0)
    v16 = jl.Swish(param_dtype=jnp.float16).init(KEY, x)
    assert v16["params"]["beta"].dtype == jnp.float16
    # without dtype the computation runs in the input's dtype (parameters cast to it)
    assert jl.Swish(param_dtype=jnp.float16).apply(v16, x).dtype == jnp.float32
    assert jl.Activation("elu", {"alpha": 0.5}, dtype=jnp.float16).apply({}, x).dtype == jnp.float16
    lv = jl.LearnableActivation("parametric_selu", param_dtype=jnp.bfloat16).init(KEY, x)
    assert _dtypes(lv) == {jnp.dtype(jnp.bfloat16)}


def test_maxout_and_mlp_pass_dtypes_to_every_layer():
    x = batch()
    v = jl.Maxout(4, 2, dtype=jnp.bfloat16, param_dtype=jnp.float16).init(KEY, x)
    assert _dtypes(v) == {jnp.dtype(jnp.float16)}
    assert jl.Maxout(4, 2, dtype=jnp.bfloat16).apply(v, x).dtype == jnp.bfloat16
    for act in ("prelu", "relu", "maxout"):
        mlp = jl.MLP((8, 3), act, learnable=act == "prelu", dtype=jnp.bfloat16)
        v = mlp.init(KEY, x)
        assert _dtypes(v) == {jnp.dtype(jnp.float32)}, act
        assert mlp.apply(v, x).dtype == jnp.bfloat16, act
        mlp16 = jl.MLP((8, 3), act, learnable=act == "prelu", param_dtype=jnp.float16)
        assert _dtypes(mlp16.init(KEY, x)) == {jnp.dtype(jnp.float16)}, act


@pytest.mark.parametrize(
    "make",
    [
        lambda: jl.PReLU(dtype=jnp.int32),
        lambda: jl.PReLU(param_dtype=None),
        lambda: jl.Activation("relu", dtype="int32"),
        lambda: jl.Maxout(4, param_dtype=jnp.int8),
        lambda: jl.MLP((4,), "relu", dtype=jnp.complex64),
    ],
)
def test_bad_dtypes_raise(make):
    with pytest.raises(ValueError, match="dtype"):
        make()


# --------------------------------------------------------------------------- flax.linen.PReLU


def test_flax_compatible_prelu_matches_flax_linen_prelu():
    x = batch()
    ours, theirs = jl.PReLU(flax_compatible=True), nn.PReLU()
    v_ours, v_theirs = ours.init(KEY, x), theirs.init(KEY, x)
    assert jax.tree_util.tree_map(np.asarray, v_ours) == jax.tree_util.tree_map(
        np.asarray, v_theirs
    )
    assert list(v_ours["params"]) == ["negative_slope"]
    v = {"params": {"negative_slope": jnp.float32(0.3)}}
    np.testing.assert_allclose(ours.apply(v, x), theirs.apply(v, x), rtol=1e-6)
    # the default jaxact PReLU: leaf alpha, He et al.'s 0.25
    assert jl.PReLU().init(KEY, x)["params"] == {"alpha": jnp.float32(0.25)}
    g = jax.grad(lambda s: ours.apply({"params": {"negative_slope": s}}, x).sum())(0.3)
    np.testing.assert_allclose(g, jnp.minimum(x, 0).sum(), rtol=1e-5)
    assert ours.apply(v, method="parameter_values") == {"alpha": jnp.float32(0.3)}


# --------------------------------------------------------------------------- MLP options


def test_mlp_use_bias_false_has_no_bias():
    v = jl.MLP((8, 8, 2), "relu", use_bias=False).init(KEY, batch())
    assert all("bias" not in layer for layer in v["params"].values())
    v = jl.MLP((8, 2), "maxout", use_bias=False).init(KEY, batch())
    assert "bias" not in v["params"]["maxout_0"]["dense"]


@pytest.mark.parametrize(
    ("normalization", "cls"), [("layer_norm", nn.LayerNorm), ("rms_norm", nn.RMSNorm)]
)
def test_mlp_normalization_before_each_hidden_activation(normalization, cls):
    x = batch()
    mlp = jl.MLP((8, 8, 2), "elu", normalization=normalization)
    v = mlp.init(KEY, x)
    assert {k for k in v["params"] if k.startswith("norm_")} == {"norm_0", "norm_1"}
    p = v["params"]
    h = x
    for i in range(2):
        h = nn.Dense(8).apply({"params": p[f"dense_{i}"]}, h)
        h = jaxact.elu(cls().apply({"params": p[f"norm_{i}"]}, h))
    want = nn.Dense(2).apply({"params": p["dense_2"]}, h)
    np.testing.assert_allclose(mlp.apply(v, x), want, rtol=1e-5, atol=1e-6)


def test_mlp_dropout_follows_deterministic():
    x = batch((64, 6))
    mlp = jl.MLP((32, 32, 2), "relu", dropout_rate=0.5)
    v = mlp.init(KEY, x, deterministic=True)
    plain = jl.MLP((32, 32, 2), "relu").apply(v, x)
    np.testing.assert_array_equal(mlp.apply(v, x, deterministic=True), plain)
    np.testing.assert_array_equal(
        jl.MLP((32, 32, 2), "relu", dropout_rate=0.5, deterministic=True).apply(v, x), plain
    )
    rngs = {"dropout": jax.random.key(5)}
    a = mlp.apply(v, x, deterministic=False, rngs=rngs)
    assert not np.allclose(a, plain)
    np.testing.assert_array_equal(a, mlp.apply(v, x, deterministic=False, rngs=rngs))
    with pytest.raises(ValueError, match="deterministic"):
        mlp.apply(v, x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dropout_rate": 1.0}, "dropout_rate"),
        ({"dropout_rate": -0.1}, "dropout_rate"),
        ({"dropout_rate": True}, "dropout_rate"),
        ({"normalization": "batch_norm"}, "normalization"),
        ({"use_bias": 1}, "use_bias"),
    ],
)
def test_mlp_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jl.MLP((4, 2), "relu", **kwargs)
    with pytest.raises(ValueError, match="normalization"):
        jl.MLP((4, 2), "maxout", normalization="layer_norm")
