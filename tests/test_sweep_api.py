"""jaxact.sweep as a library API: user models (Linen and NNX), path selection, optax, data."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn
from flax import nnx

import jaxact
import jaxact.linen as jl
import jaxact.nnx as jn
from jaxact import sweep


def _xor_data(n=256, seed=0, features=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int32)
    a, b = n // 2, 3 * n // 4
    return sweep.Data(x[:a], y[:a], x_val=x[a:b], y_val=y[a:b], x_test=x[b:], y_test=y[b:])


class LinenNet(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Dense(16)(x)
        x = nn.LayerNorm()(x)
        x = jl.PReLU()(x)
        return nn.Dense(2)(x)


class NnxNet(nnx.Module):
    def __init__(self, rngs):
        self.dense1 = nnx.Linear(4, 16, rngs=rngs)
        self.norm = nnx.LayerNorm(16, rngs=rngs)
        self.act = jn.PReLU()
        self.dense2 = nnx.Linear(16, 2, rngs=rngs)

    def __call__(self, x):
        return self.dense2(self.act(self.norm(self.dense1(x))))


def _adam(learning_rate):
    return optax.adam(learning_rate)


def test_layernorm_scale_untouched_linen():
    data = _xor_data()
    setup = sweep.Setup(LinenNet(), steps=20, batch_size=32, eval_every=10, optimizer=_adam)
    trainer = sweep.Trainer(setup, data)
    assert trainer.param_paths == (("PReLU_0", "alpha"),)
    # "scale" is not a jaxact activation parameter of this model: refused, not zeroed.
    with pytest.raises(ValueError, match="scale"):
        trainer.init([0], learning_rate=1e-2, values={"scale": 0.0})
    state = trainer.init([0, 1], learning_rate=1e-2, values={"alpha": [0.0, 0.5]})
    params = state.params()
    np.testing.assert_array_equal(params["LayerNorm_0"]["scale"], 1.0)
    np.testing.assert_allclose(params["PReLU_0"]["alpha"], [0.0, 0.5])
    assert "scale" not in state.history
    # freezing by name applies within the selection only
    frozen = sweep.Setup(
        LinenNet(), steps=20, batch_size=32, eval_every=10, optimizer=_adam, frozen=("alpha",)
    )
    t2 = sweep.Trainer(frozen, data)
    assert t2.frozen_paths == (("PReLU_0", "alpha"),)
    s2 = t2.run(t2.init([0], learning_rate=1e-1, values={"alpha": 0.3}))
    np.testing.assert_allclose(s2.params()["PReLU_0"]["alpha"], [0.3])
    assert not np.allclose(s2.params()["LayerNorm_0"]["scale"], 1.0)


def test_select_by_path_pattern_and_predicate():
    data = _xor_data()
    s = sweep.Setup(LinenNet(), steps=10, batch_size=32, eval_every=10, select="LayerNorm_0/*")
    t = sweep.Trainer(s, data)
    assert t.param_paths == (("LayerNorm_0", "bias"), ("LayerNorm_0", "scale"))
    s = sweep.Setup(
        LinenNet(), steps=10, batch_size=32, eval_every=10, select=lambda p: p[-1] == "kernel"
    )
    assert sweep.Trainer(s, data).param_paths == (("Dense_0", "kernel"), ("Dense_1", "kernel"))
    s = sweep.Setup(LinenNet(), steps=10, batch_size=32, eval_every=10, select="nothing/*")
    with pytest.raises(ValueError, match="select: 'nothing/\\*' selects no parameter"):
        sweep.Trainer(s, data)


def test_twelve_layer_mlp_reports_layers_in_order():
    data = _xor_data()
    model = jl.MLP((4,) * 12 + (2,), "prelu", learnable=True)
    setup = sweep.Setup(model, steps=10, batch_size=32, eval_every=10)
    trainer = sweep.Trainer(setup, data)
    layer_names = [p[0] for p in trainer.param_paths]
    assert len(layer_names) == 12
    assert [int("".join(c for c in n if c.isdigit())) for n in layer_names] == sorted(
        int("".join(c for c in n if c.isdigit())) for n in layer_names
    )
    values = np.arange(12) / 100.0
    state = trainer.init(
        [0],
        learning_rate=1e-3,
        values={f"{p[0]}/alpha": v for p, v in zip(trainer.param_paths, values)},
    )
    np.testing.assert_allclose(state.history["alpha"][0, 0], values, rtol=1e-6)


def test_nnx_and_linen_give_the_same_numbers():
    data = _xor_data()
    # the same architecture in both APIs, initialised from the same numbers
    lin = sweep.Trainer(
        sweep.Setup(LinenNet(), steps=40, batch_size=32, eval_every=20, optimizer=_adam), data
    )
    nx = sweep.Trainer(
        sweep.Setup(NnxNet, steps=40, batch_size=32, eval_every=20, optimizer=_adam), data
    )
    assert nx.param_paths == (("act", "alpha"),)
    s_l = lin.init([0], learning_rate=1e-2, values={"alpha": 0.1})
    s_n = nx.init([0], learning_rate=1e-2, values={"alpha": 0.1})
    # copy the Linen run's initial weights into the NNX run so both start equal
    pl = s_l.params()
    mapping = {
        ("dense1", "kernel"): pl["Dense_0"]["kernel"],
        ("dense1", "bias"): pl["Dense_0"]["bias"],
        ("norm", "scale"): pl["LayerNorm_0"]["scale"],
        ("norm", "bias"): pl["LayerNorm_0"]["bias"],
        ("dense2", "kernel"): pl["Dense_1"]["kernel"],
        ("dense2", "bias"): pl["Dense_1"]["bias"],
        ("act", "alpha"): pl["PReLU_0"]["alpha"],
    }
    s_n = nx.init([0], learning_rate=1e-2, values={})
    setup_all = sweep.Setup(
        NnxNet, steps=40, batch_size=32, eval_every=20, optimizer=_adam, select=lambda p: True
    )
    nx_all = sweep.Trainer(setup_all, data)
    s_n = nx_all.init([0], learning_rate=1e-2, values={"/".join(k): v for k, v in mapping.items()})
    s_l = lin.run(s_l)
    s_n = nx_all.run(s_n)
    np.testing.assert_allclose(
        s_l.history["test_accuracy"], s_n.history["test_accuracy"], atol=1e-6
    )
    np.testing.assert_allclose(s_l.history["val_loss"], s_n.history["val_loss"], rtol=1e-4)
    np.testing.assert_allclose(
        s_l.history["alpha"][..., 0], s_n.history["alpha"][..., 0], rtol=1e-4, atol=1e-6
    )


def test_nnx_instance_refused():
    with pytest.raises(ValueError, match="model: an nnx.Module instance"):
        sweep.Trainer(
            sweep.Setup(NnxNet(nnx.Rngs(0)), steps=10, batch_size=8, eval_every=10), _xor_data()
        )


def test_optax_chain_with_schedule_and_per_run_weight_decay():
    data = _xor_data()

    def opt(learning_rate, weight_decay, decay_steps=20.0):
        schedule = lambda step: learning_rate * jnp.maximum(0.0, 1.0 - step / decay_steps)
        return optax.chain(
            optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=weight_decay)
        )

    setup = sweep.Setup(LinenNet(), steps=40, batch_size=32, eval_every=20, optimizer=opt)
    runs = sweep.grid(learning_rate=[1e-2], weight_decay=[0.0, 10.0], seed=[0])
    res = sweep.run(setup, data, runs)
    kernels = res.state.params()["Dense_0"]["kernel"]
    # heavy weight decay shrinks the kernel; same seed, same data order otherwise
    assert np.linalg.norm(kernels[1]) < np.linalg.norm(kernels[0])
    with pytest.raises(ValueError, match="runs: 'momentum' is neither a hyperparameter"):
        sweep.run(setup, data, sweep.grid(learning_rate=[1e-2], weight_decay=[0.0], momentum=[0.9]))


def test_fixed_transformation_and_unknown_hparam():
    data = _xor_data()
    setup = sweep.Setup(
        LinenNet(), steps=20, batch_size=32, eval_every=10, optimizer=optax.sgd(0.1)
    )
    res = sweep.run(setup, data, sweep.grid(seed=[0, 1]))
    assert len(res.rows) == 2
    with pytest.raises(
        ValueError,
        match="runs: 'learning_rate' is neither a hyperparameter of the optimizer \\(none",
    ):
        sweep.run(setup, data, sweep.grid(learning_rate=[0.1]))


def test_mse_regression_with_user_arrays_and_user_loss():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = np.sin(x).sum(-1, keepdims=True).astype(np.float32)
    data = sweep.Data(x[:150], y[:150], x_val=x[150:], y_val=y[150:])
    model = nn.Sequential([nn.Dense(32), jl.Swish(), nn.Dense(1)])
    setup = sweep.Setup(
        model, steps=200, batch_size=50, eval_every=100, loss="mse", optimizer=_adam
    )
    res = sweep.run(setup, data, sweep.grid(learning_rate=[1e-2], beta=[0.5, 2.0]))
    h = res.history["val_loss"]
    assert h.shape == (2, 3) and np.all(h[:, -1] < h[:, 0] * 0.5)
    assert "val_accuracy" not in res.history
    assert res.best()["metric"] == "val_loss"
    huber = lambda out, tgt: optax.huber_loss(out, tgt).mean()
    setup2 = sweep.Setup(
        model, steps=200, batch_size=50, eval_every=100, loss=huber, optimizer=_adam
    )
    res2 = sweep.run(setup2, data, sweep.grid(learning_rate=[1e-2]))
    assert res2.history["train_loss"][0, -1] < res2.history["train_loss"][0, 0]


def test_validation_based_best():
    data = _xor_data()
    setup = sweep.Setup(LinenNet(), steps=60, batch_size=32, eval_every=20, optimizer=_adam)
    res = sweep.run(setup, data, sweep.grid(learning_rate=[1e-5, 3e-2], seed=[0, 1]))
    best = res.best()
    assert best["metric"] == "val_accuracy"
    assert best["config"] == {"learning_rate": 3e-2}
    final = res.state.final()
    assert best["test_accuracy"] == pytest.approx(
        float(np.mean(final["test_accuracy"][best["runs"]]))
    )
    no_val = sweep.Data(data.x_train, data.y_train, x_test=data.x_test, y_test=data.y_test)
    res2 = sweep.run(setup, no_val, sweep.grid(learning_rate=[1e-2]))
    with pytest.raises(ValueError, match="no validation split"):
        res2.best()
    text = res.to_csv()
    assert text.splitlines()[0].startswith("learning_rate,seed,val_accuracy,test_accuracy")


@pytest.mark.parametrize(
    "data, match",
    [
        (
            dict(x_train=np.full((8, 2), np.nan, np.float32), y_train=np.zeros(8, int)),
            "x_train: 16 entries are NaN",
        ),
        (
            dict(x_train=np.zeros((8, 2), np.float32), y_train=np.zeros(7, int)),
            "y_train: expected 8 targets",
        ),
        (
            dict(
                x_train=np.zeros((8, 2), np.float32),
                y_train=np.zeros(8, int),
                x_val=np.zeros((4, 3), np.float32),
                y_val=np.zeros(4, int),
            ),
            "share feature shapes",
        ),
        (dict(x_train=np.zeros((8, 2), np.float32), y_train=np.full(8, 0.5)), "integer labels"),
    ],
)
def test_bad_data_is_named(data, match):
    setup = sweep.Setup(nn.Dense(2), steps=10, batch_size=4, eval_every=10)
    with pytest.raises(ValueError, match=match):
        sweep.Trainer(setup, data)


def test_bad_values_and_seeds():
    data = _xor_data()
    t = sweep.Trainer(sweep.Setup(LinenNet(), steps=10, batch_size=8, eval_every=10), data)
    with pytest.raises(ValueError, match="overflow float32"):
        t.init([0], learning_rate=1e-3, values={"alpha": 1e40})
    with pytest.raises(ValueError, match="one value per run \\(2 runs\\)"):
        t.init([0, 1], learning_rate=1e-3, values={"alpha": [0.1, 0.2, 0.3]})
    with pytest.raises(ValueError, match="seeds"):
        t.init([-1], learning_rate=1e-3)
    with pytest.raises(ValueError, match="learning_rate: expected finite"):
        t.init([0], learning_rate=float("nan"))


def test_second_trainer_reuses_compiled_programs():
    data = _xor_data()
    setup = sweep.Setup(LinenNet(), steps=20, batch_size=32, eval_every=10, optimizer=_adam)
    t1 = sweep.Trainer(setup, data)
    t1.run(t1.init([0, 1], learning_rate=1e-2, values={"alpha": 0.1}))
    t2 = sweep.Trainer(setup, data)
    assert t2._programs is t1._programs
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: (
            compiles.append(event)
            if event == "/jax/compilation_cache/compile_requests_use_cache"
            or "backend_compile" in event
            else None
        )
    )
    t2.run(t2.init([3, 4], learning_rate=[3e-2, 1e-3], values={"alpha": [0.2, 0.9]}))
    assert not [e for e in compiles if "backend_compile" in e]


def test_checkpoint_resume_on_another_device_count(tmp_path):
    data = _xor_data()
    setup = sweep.Setup(
        LinenNet(), steps=40, batch_size=32, eval_every=10, chunk_evals=1, optimizer=_adam
    )
    runs = sweep.grid(alpha=[0.1, 0.3, 0.5], seed=[0])
    full = sweep.run(
        setup, data, [dict(r, learning_rate=1e-2) for r in runs], devices=jax.devices()[:1]
    )
    ckpt = tmp_path / "ckpt.npz"
    t1 = sweep.Trainer(setup, data, devices=jax.devices()[:1])
    s = t1.init([0, 0, 0], learning_rate=1e-2, values={"alpha": [0.1, 0.3, 0.5]})
    s = t1.run_chunk(s)
    t1.save(ckpt, s, identity="x")
    t2 = sweep.Trainer(setup, data, devices=jax.devices()[:2])
    like = t2.init([0, 0, 0], learning_rate=1e-2, values={"alpha": [0.1, 0.3, 0.5]})
    with pytest.raises(ValueError, match="another sweep"):
        t2.restore(ckpt, like, identity="y")
    s2 = t2.run(t2.restore(ckpt, like, identity="x"))
    np.testing.assert_allclose(s2.history["val_loss"], full.history["val_loss"], rtol=1e-5)
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        t2.restore(tmp_path / "bad.npz", like, identity="x")


def test_lazy_submodules():
    assert jaxact.sweep is sweep
    assert jaxact.linen is jl


def test_a_sweep_over_rational_init_targets_is_one_program():
    import jaxact

    class RationalNet(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(jl.Rational("leaky_relu")(nn.Dense(8)(x)))

    targets = ("leaky_relu", "gelu", "tanh")
    inits = [jaxact.rational_init(t) for t in targets]
    runs = [
        {"numerator": np.asarray(a), "denominator": np.asarray(b), "seed": 0, "learning_rate": 1e-2}
        for a, b in inits
    ]
    setup = sweep.Setup(RationalNet(), steps=20, batch_size=32, eval_every=10, optimizer=_adam)
    res = sweep.run(setup, _xor_data(), runs)
    assert res.trainer.param_paths == (("Rational_0", "denominator"), ("Rational_0", "numerator"))
    start = res.history["param:Rational_0/numerator"][:, 0]
    np.testing.assert_allclose(start, [np.mean(a) for a, _ in inits], rtol=1e-5)
    assert len(res.rows) == 3 and not any(r["diverged"] for r in res.rows)
