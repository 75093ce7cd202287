"""Tests for jaxact.nnx, and agreement with jaxact.linen on the same parameters."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxact
import jaxact.linen as jl
import jaxact.nnx as jn

KEY = jax.random.key(0)


def batch(shape=(16, 6), seed=1):
    """A random batch with negative and positive entries."""
    x = jax.random.normal(jax.random.key(seed), shape)
    assert bool((x < 0).any()) and bool((x > 0).any())
    return x


def n_params(module):
    return sum(
        int(np.prod(v.shape)) for v in jax.tree_util.tree_leaves(nnx.state(module, nnx.Param))
    )


def pure(module):
    return nnx.to_pure_dict(nnx.state(module, nnx.Param))


# --------------------------------------------------------------------------- Activation


def test_activation_is_the_registry_function():
    x = batch()
    np.testing.assert_array_equal(jn.Activation("elu", alpha=0.5)(x), jaxact.elu(x, alpha=0.5))
    np.testing.assert_array_equal(jn.Activation("selu")(x), jaxact.selu(x))
    assert n_params(jn.Activation("elu", alpha=0.5)) == 0


def test_activation_with_array_parameter_under_jit():
    x = -jnp.ones((2, 6))
    layer = jn.Activation("leaky_relu", alpha=jnp.arange(6.0) / 10)
    out = nnx.jit(lambda m, x: m(x))(layer, x)
    np.testing.assert_allclose(out, -jnp.ones((2, 1)) * jnp.arange(6.0) / 10)
    assert n_params(layer) == 0  # fixed values are not trainable parameters


def test_activation_bad_input():
    with pytest.raises(ValueError, match="activation: unknown activation 'relux'"):
        jn.Activation("relux")
    with pytest.raises(ValueError, match="params: .*'relu' has no parameter 'alpha'"):
        jn.Activation("relu", alpha=0.1)


# ----------------------------------------------------------------- learnable activations


def test_prelu_shared_and_channelwise():
    x = batch()
    shared = jn.PReLU()
    assert shared.alpha.shape == () and shared.alpha.dtype == jnp.float32
    assert float(shared.alpha[...]) == 0.25
    np.testing.assert_allclose(shared(x), np.where(x > 0, x, 0.25 * np.asarray(x)), rtol=1e-6)
    g = nnx.grad(lambda m: m(x).sum())(shared)
    np.testing.assert_allclose(g["alpha"][...], jnp.minimum(x, 0).sum(), rtol=1e-5)

    per = jn.PReLU(0.1, channelwise=True, num_features=6)
    assert per.alpha.shape == (6,) and per.alpha.dtype == jnp.float32
    g = nnx.grad(lambda m: m(x).sum())(per)
    np.testing.assert_allclose(g["alpha"][...], jnp.minimum(x, 0).sum(0), rtol=1e-5)
    assert bool((g["alpha"][...] != 0).all())


def test_channelwise_bad_input():
    with pytest.raises(ValueError, match="num_features: channelwise=True needs"):
        jn.PReLU(channelwise=True)
    with pytest.raises(ValueError, match="num_features: only used with channelwise=True"):
        jn.PReLU(num_features=4)
    with pytest.raises(ValueError, match="num_features: expected an integer >= 1"):
        jn.ELU(channelwise=True, num_features=0)
    layer = jn.Swish(channelwise=True, num_features=6)
    with pytest.raises(ValueError, match="x: this channelwise Swish has num_features=6"):
        layer(jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="x: "):
        layer(jnp.float32(1.0))


@pytest.mark.parametrize(
    ("module", "name", "defaults"),
    [
        (jn.Swish, "swish", {"beta": 1.0}),
        (jn.ELU, "elu", {"alpha": 1.0}),
        (
            jn.ParametricSELU,
            "parametric_selu",
            {"scale": 1.0507009873554805, "alpha": 1.6732632423543772},
        ),
    ],
)
def test_named_learnable_modules(module, name, defaults):
    x = batch()
    layer = module()
    assert set(pure(layer)) == set(defaults)
    for k, v in defaults.items():
        assert getattr(layer, k).dtype == jnp.float32
        np.testing.assert_allclose(getattr(layer, k)[...], v, rtol=1e-7)
    np.testing.assert_allclose(layer(x), jaxact.get(name).fn(x, **defaults), rtol=1e-6)
    g = nnx.to_pure_dict(nnx.grad(lambda m: m(x).sum())(layer))
    for k in defaults:
        assert np.isfinite(g[k]) and float(g[k]) != 0.0, k


def test_learnable_activation_generic_subset_and_errors():
    x = batch()
    sub = jn.LearnableActivation("parametric_selu", learnable=("alpha",), params={"scale": 2.0})
    assert set(pure(sub)) == {"alpha"}
    np.testing.assert_allclose(sub(x), jaxact.parametric_selu(x, scale=2.0), rtol=1e-6)
    with pytest.raises(
        ValueError, match="learnable: 'beta' is not a learnable parameter of 'prelu'; valid: alpha"
    ):
        jn.LearnableActivation("prelu", learnable=("beta",))
    with pytest.raises(ValueError, match="activation: unknown activation"):
        jn.LearnableActivation("prelux")
    with pytest.raises(ValueError, match="constraint: unknown constraint"):
        jn.ELU(constraint="bounded")
    with pytest.raises(ValueError, match="init_values: 'alpha' has constraint 'positive'"):
        jn.PReLU(-0.25, constraint="positive")


def test_positive_constraint_reparameterisation():
    x = batch()
    layer = jn.ParametricSELU(constraint={"scale": "positive"})
    np.testing.assert_allclose(jax.nn.softplus(layer.scale[...]), 1.0507009873554805, rtol=1e-6)
    np.testing.assert_allclose(layer.parameter_values()["scale"], 1.0507009873554805, rtol=1e-6)
    np.testing.assert_allclose(layer(x), jaxact.selu(x), rtol=1e-5)
    layer.scale[...] = jnp.float32(-8.0)  # raw far below 0: the scale stays positive
    assert bool((layer(jnp.ones(3)) > 0).all())


def test_vmap_initialisation_over_eight_alphas():
    alphas = jnp.linspace(-0.5, 0.5, 8)
    stacked = nnx.vmap(lambda a: jn.PReLU(a))(alphas)
    assert stacked.alpha.shape == (8,)
    np.testing.assert_allclose(stacked.alpha[...], alphas)
    assert len(set(np.asarray(stacked.alpha[...]).tolist())) == 8
    # The stacked module runs vmapped over its parameters.
    x = batch()
    out = nnx.vmap(lambda m: m(x))(stacked)
    assert out.shape == (8, 16, 6)
    np.testing.assert_allclose(out[3], jaxact.prelu(x, alpha=alphas[3]), rtol=1e-6)


def test_jit_and_vmap_over_parameters_by_split_merge():
    x = batch()
    graphdef, state = nnx.split(
        jn.MLP((8, 8, 1), "swish", in_features=6, learnable=True, rngs=nnx.Rngs(0))
    )
    betas = jnp.linspace(0.5, 2.0, 8)

    def with_beta(b):
        return jax.tree_util.tree_map_with_path(
            lambda path, v: jnp.full_like(v, b) if "beta" in str(path) else v, state
        )

    @jax.jit
    def run(b):
        return nnx.merge(graphdef, with_beta(b))(x)

    out = jax.vmap(run)(betas)
    assert out.shape == (8, 16, 1)
    np.testing.assert_allclose(
        out[2], nnx.merge(graphdef, with_beta(betas[2]))(x), rtol=1e-5, atol=1e-6
    )
    assert len({float(o.sum()) for o in out}) == 8


# ------------------------------------------------------------------------------ Maxout


@pytest.mark.parametrize("k", [1, 3])
def test_maxout_equals_paired_linear_layers(k):
    x = batch()
    layer = jn.Maxout(6, 4, num_pieces=k, rngs=nnx.Rngs(0))
    layer.dense.bias[...] = jax.random.normal(jax.random.key(5), (4 * k,), jnp.float32)
    kernel, bias = layer.dense.kernel[...], layer.dense.bias[...]
    pieces = []
    for p in range(k):
        lin = nnx.Linear(6, 4, rngs=nnx.Rngs(1))
        lin.kernel[...], lin.bias[...] = kernel[:, p::k], bias[p::k]
        pieces.append(lin(x))
    np.testing.assert_allclose(layer(x), jnp.max(jnp.stack(pieces), 0), rtol=1e-6, atol=1e-6)
    assert n_params(layer) == k * n_params(nnx.Linear(6, 4, rngs=nnx.Rngs(0)))


@pytest.mark.parametrize(
    ("arg", "kwargs"),
    [
        ("num_pieces", {"num_pieces": 0}),
        ("num_pieces", {"num_pieces": 1.5}),
        ("num_pieces", {"num_pieces": True}),
        ("features", {"features": -2}),
        ("in_features", {"in_features": 0}),
        ("kernel_init", {"kernel_init": "nope"}),
    ],
)
def test_maxout_bad_input(arg, kwargs):
    args = {"in_features": 6, "features": 4, "rngs": nnx.Rngs(0), **kwargs}
    with pytest.raises(ValueError, match=f"^{arg}: "):
        jn.Maxout(**args)


# ---------------------------------------------------------------------------------- MLP


def test_mlp_structure():
    x = batch()
    mlp = jn.MLP(
        (8, 8, 1),
        "prelu",
        in_features=6,
        learnable=True,
        channelwise=True,
        output_activation="sigmoid",
        rngs=nnx.Rngs(0),
    )
    assert set(pure(mlp)) == {"dense_0", "act_0", "dense_1", "act_1", "dense_2"}
    assert mlp.act_1.alpha.shape == (8,)
    assert n_params(mlp) == (6 * 8 + 8) + 8 + (8 * 8 + 8) + 8 + (8 + 1)
    out = mlp(x)
    assert out.shape == (16, 1) and bool(((out > 0) & (out < 1)).all())
    maxout = jn.MLP((8, 8, 1), "maxout", in_features=6, num_pieces=2, rngs=nnx.Rngs(0))
    assert set(pure(maxout)) == {"maxout_0", "maxout_1", "dense_2"}
    assert maxout(x).shape == (16, 1)


def test_mlp_bad_input():
    r = nnx.Rngs(0)
    with pytest.raises(ValueError, match="activation: unknown activation"):
        jn.MLP((4, 1), "rlu", in_features=3, rngs=r)
    with pytest.raises(ValueError, match="in_features: expected an integer >= 1"):
        jn.MLP((4, 1), "relu", in_features=0, rngs=r)
    with pytest.raises(ValueError, match="kernel_init: unknown initialisation 'kaiming'"):
        jn.MLP((4, 1), "relu", in_features=3, kernel_init="kaiming", rngs=r)
    with pytest.raises(
        ValueError, match="learnable: 'alpha' is not a learnable parameter of 'swish'; valid: beta"
    ):
        jn.MLP((4, 1), "swish", in_features=3, learnable=("alpha",), rngs=r)
    with pytest.raises(ValueError, match="num_pieces: expected an integer >= 1"):
        jn.MLP((4, 1), "maxout", in_features=3, num_pieces=-1, rngs=r)


# --------------------------------------------------- the two namespaces agree exactly


def load(module, params):
    state = nnx.state(module, nnx.Param)
    nnx.replace_by_pure_dict(state, params)
    nnx.update(module, state)


def perturb(params, seed=3):
    """Move every leaf away from its initial value so agreement is not trivial."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return tree.unflatten(
        [v + 0.1 * jax.random.normal(k, v.shape) for v, k in zip(leaves, keys, strict=True)]
    )


def loss(y):
    return jnp.mean(jnp.sin(3 * y) + y**2)


AGREE = {
    "prelu": (
        lambda: jl.PReLU(channelwise=True),
        lambda: jn.PReLU(channelwise=True, num_features=6),
    ),
    "swish": (lambda: jl.Swish(), lambda: jn.Swish()),
    "elu": (lambda: jl.ELU(constraint="positive"), lambda: jn.ELU(constraint="positive")),
    "parametric_selu": (lambda: jl.ParametricSELU(), lambda: jn.ParametricSELU()),
    "maxout": (lambda: jl.Maxout(4, 3), lambda: jn.Maxout(6, 4, 3, rngs=nnx.Rngs(0))),  # (6, 12)
    "mlp": (
        lambda: jl.MLP((8, 8), "elu", learnable=True, output_activation="softmax"),
        lambda: jn.MLP(
            (8, 8),
            "elu",
            in_features=6,
            learnable=True,
            output_activation="softmax",
            rngs=nnx.Rngs(0),
        ),
    ),
    "mlp_maxout": (
        lambda: jl.MLP((8, 1), "maxout", num_pieces=3),
        lambda: jn.MLP((8, 1), "maxout", in_features=6, num_pieces=3, rngs=nnx.Rngs(0)),
    ),
}


@pytest.mark.parametrize("case", sorted(AGREE))
def test_linen_and_nnx_agree(case):
    make_linen, make_nnx = AGREE[case]
    x = batch()
    lmod, nmod = make_linen(), make_nnx()
    params = perturb(jax.jit(lmod.init)(KEY, x)["params"])
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(pure(nmod))
    load(nmod, params)
    np.testing.assert_allclose(nmod(x), lmod.apply({"params": params}, x), rtol=1e-6, atol=1e-7)
    g_linen = jax.jit(jax.grad(lambda p: loss(lmod.apply({"params": p}, x))))(params)
    g_nnx = nnx.to_pure_dict(nnx.jit(nnx.grad(lambda m: loss(m(x))))(nmod))
    jax.tree_util.tree_map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), g_nnx, g_linen
    )
    # Every parameter receives a gradient.
    assert all(bool((g != 0).any()) for g in jax.tree_util.tree_leaves(g_nnx))


def test_nnx_matches_linen_initial_values():
    x = batch()
    for make_linen, make_nnx in (AGREE["prelu"], AGREE["parametric_selu"], AGREE["elu"]):
        lp = make_linen().init(KEY, x)["params"]
        jax.tree_util.tree_map(np.testing.assert_array_equal, pure(make_nnx()), lp)
    lmaxout = jl.Maxout(4, 2, kernel_init="he_normal").init(KEY, x)["params"]
    nmaxout = pure(jn.Maxout(6, 4, 2, kernel_init="he_normal", rngs=nnx.Rngs(0)))
    assert jax.tree_util.tree_map(jnp.shape, nmaxout) == jax.tree_util.tree_map(jnp.shape, lmaxout)
    assert isinstance(jl.Maxout(4), nn.Module)


# --------------------------------------------------------------------- README example


def test_readme_example_nnx():
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    import jaxact.nnx as jn

    x = jax.random.normal(jax.random.key(0), (128, 4))
    y = jnp.sin(x).sum(-1, keepdims=True)

    def train(model, steps=60):
        optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

        @nnx.jit
        def step(model, optimizer):
            loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
            optimizer.update(model, grads)
            return loss

        return [float(step(model, optimizer)) for _ in range(steps)]

    rngs = nnx.Rngs(0)
    model = nnx.Sequential(nnx.Linear(4, 32, rngs=rngs), jn.PReLU(), nnx.Linear(32, 1, rngs=rngs))
    losses = train(model)
    alpha = model.layers[1].alpha[...]  # the learned PReLU slope
    maxout = nnx.Sequential(jn.Maxout(4, 32, num_pieces=2, rngs=rngs), nnx.Linear(32, 1, rngs=rngs))
    maxout_losses = train(maxout)

    assert losses[-1] < 0.5 * losses[0] and maxout_losses[-1] < 0.5 * maxout_losses[0]
    assert abs(float(alpha) - 0.25) > 1e-3  # alpha moved by backprop


# --------------------------------------------------------------------------- same arguments as Linen


def test_activation_takes_linen_arguments():
    x = batch()
    want = jl.Activation("elu", {"alpha": 0.5}, dtype=jnp.bfloat16).apply({}, x)
    for layer in (
        jn.Activation("elu", {"alpha": 0.5}, dtype=jnp.bfloat16),
        jn.Activation("elu", params={"alpha": 0.5}, dtype=jnp.bfloat16),
        jn.Activation("elu", alpha=0.5, dtype=jnp.bfloat16),
    ):
        y = layer(x)
        assert y.dtype == jnp.bfloat16
        np.testing.assert_array_equal(y, want)
    with pytest.raises(ValueError, match="params"):
        jn.Activation("elu", {"alpha": 0.5}, alpha=0.2)
    with pytest.raises(ValueError, match="dtype"):
        jn.Activation("elu", dtype=jnp.int32)


def test_dtype_and_param_dtype():
    x = batch()
    layer = jn.PReLU(dtype=jnp.bfloat16)
    assert layer.alpha.dtype == jnp.float32
    assert layer(x).dtype == jnp.bfloat16
    assert jn.Swish(param_dtype=jnp.float16).beta.dtype == jnp.float16
    assert jn.Swish(param_dtype=jnp.float16)(x).dtype == jnp.float32
    m = jn.Maxout(6, 4, 2, dtype=jnp.bfloat16, param_dtype=jnp.float16, rngs=nnx.Rngs(0))
    assert {v.dtype for v in jax.tree_util.tree_leaves(pure(m))} == {jnp.dtype(jnp.float16)}
    assert m(x).dtype == jnp.bfloat16
    for act in ("prelu", "relu", "maxout"):
        mlp = jn.MLP(
            (8, 3), act, in_features=6, learnable=act == "prelu", dtype=jnp.bfloat16,
            param_dtype=jnp.float16, rngs=nnx.Rngs(0),
        )  # fmt: skip
        assert {v.dtype for v in jax.tree_util.tree_leaves(pure(mlp))} == {jnp.dtype(jnp.float16)}
        assert mlp(x).dtype == jnp.bfloat16, act


def test_flax_compatible_prelu():
    layer = jn.PReLU(flax_compatible=True)
    assert list(pure(layer)) == ["negative_slope"]
    assert layer.negative_slope[...] == jnp.float32(0.01)
    x = batch()
    v = nn.PReLU().init(KEY, x)
    np.testing.assert_allclose(layer(x), nn.PReLU().apply(v, x), rtol=1e-6)
    assert list(pure(jn.PReLU())) == ["alpha"] and jn.PReLU().alpha[...] == 0.25


# --------------------------------------------------------------------------- MLP options


def test_mlp_options_agree_with_linen():
    x = batch()
    kw = {"learnable": True, "use_bias": False, "normalization": "layer_norm"}
    lmod = jl.MLP((8, 8, 2), "prelu", **kw)
    nmod = jn.MLP((8, 8, 2), "prelu", in_features=6, rngs=nnx.Rngs(0), **kw)
    params = perturb(lmod.init(KEY, x)["params"])
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(pure(nmod))
    load(nmod, params)
    np.testing.assert_allclose(nmod(x), lmod.apply({"params": params}, x), rtol=1e-5, atol=1e-6)


def test_mlp_dropout_train_and_eval():
    x = batch((64, 6))
    mlp = jn.MLP((32, 32, 2), "relu", in_features=6, dropout_rate=0.5, rngs=nnx.Rngs(0))
    assert mlp.layer_order == (
        "dense_0", "act_0", "dropout_0", "dense_1", "act_1", "dropout_1", "dense_2"
    )  # fmt: skip
    h = x
    for i in range(2):  # the same layers without dropout
        h = jaxact.relu(getattr(mlp, f"dense_{i}")(h))
    plain = mlp.dense_2(h)
    np.testing.assert_allclose(mlp(x, deterministic=True), plain, rtol=1e-6)
    assert not np.allclose(mlp(x), plain)  # training mode by default, as nnx.Dropout
    mlp.eval()
    np.testing.assert_allclose(mlp(x), plain, rtol=1e-6)
    with pytest.raises(ValueError, match="dropout_rate"):
        jn.MLP((4, 2), "relu", in_features=6, dropout_rate=1.5, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="normalization"):
        jn.MLP((4, 2), "maxout", in_features=6, normalization="rms_norm", rngs=nnx.Rngs(0))


# --------------------------------------------------------------------------- parameter helpers


def test_activation_params_by_type_in_layer_order():
    mlp = jn.MLP(
        (4,) * 12 + (1,), "parametric_selu", in_features=3, learnable=True,
        normalization="layer_norm", rngs=nnx.Rngs(0),
    )  # fmt: skip
    for i in range(12):
        getattr(mlp, f"act_{i}").scale[...] = jnp.float32(i)
    found = jn.activation_params(mlp)
    assert sorted(found) == ["alpha", "scale"]  # not the LayerNorms' scale
    assert [float(v) for v in found["scale"]] == list(range(12))
    assert len(found["alpha"]) == 12


def test_replace_activation_params_in_place_and_errors():
    model = nnx.Sequential(jn.PReLU(), nnx.LayerNorm(6, rngs=nnx.Rngs(0)), jn.ELU())
    out = jn.replace_activation_params(model, alpha=0.1)
    assert out is model
    assert [float(a) for a in jn.activation_params(model)["alpha"]] == pytest.approx([0.1, 0.1])
    np.testing.assert_array_equal(model.layers[1].scale[...], np.ones(6))
    with pytest.raises(ValueError, match="scale"):
        jn.replace_activation_params(model, scale=2.0)
    # linen and nnx report the same values for the same model
    lmod = jl.MLP((8, 8, 1), "prelu", learnable=True)
    nmod = jn.MLP((8, 8, 1), "prelu", in_features=6, learnable=True, rngs=nnx.Rngs(0))
    lp = jl.activation_params(lmod.init(KEY, batch())["params"])
    assert jax.tree_util.tree_map(float, lp) == jax.tree_util.tree_map(
        float, jn.activation_params(nmod)
    )
