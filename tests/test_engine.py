"""The training engine: vmapped runs equal separate runs, sharding, compile-once, resume, divergence."""

import jax
import numpy as np
import pytest

from experiments import data
from jaxact import linen
from jaxact import sweep as engine
from jaxact._src import engine as engine_impl


@pytest.fixture(scope="module")
def xor():
    return data.load("xor", seed=0)


def _setup(**kw):
    base = dict(
        model=linen.MLP((16, 2), "prelu", learnable=True),
        steps=60,
        batch_size=32,
        optimizer="adam",
        eval_every=10,
        chunk_evals=2,
    )
    base.update(kw)
    return engine.Setup(**base)


class CompileCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            self.count += 1

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self)


def _run(trainer, seeds, **kw):
    return trainer.run(trainer.init(seeds, **kw))


def test_vmapped_runs_equal_separate_runs(xor):
    trainer = engine.Trainer(_setup(), xor)
    seeds, alphas = [0, 1, 2], [0.05, 0.25, 0.7]
    together = _run(trainer, seeds, learning_rate=1e-2, values={"alpha": alphas})
    for i, (seed, alpha) in enumerate(zip(seeds, alphas, strict=True)):
        alone = _run(trainer, [seed], learning_rate=1e-2, values={"alpha": [alpha]})
        for name in ("test_accuracy", "train_loss", "alpha"):
            np.testing.assert_allclose(
                together.history[name][i], alone.history[name][0], rtol=2e-5, atol=1e-6
            )
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b[0], rtol=2e-5, atol=1e-6),
            together.params(),
            alone.params(),
        )


@pytest.mark.parametrize("n, runs_per_group", [(2, None), (4, None), (2, 1)])
def test_sharded_over_devices_equals_one_device(xor, n, runs_per_group):
    if len(jax.devices()) < n:
        pytest.skip(f"needs {n} devices")
    kw = dict(learning_rate=1e-2, values={"alpha": [0.1, 0.2, 0.3, 0.4, 0.5]})
    one = _run(engine.Trainer(_setup(), xor, devices=jax.devices()[:1]), range(5), **kw)
    many_trainer = engine.Trainer(
        _setup(), xor, devices=jax.devices()[:n], runs_per_group=runs_per_group
    )
    many = _run(many_trainer, range(5), **kw)
    assert many.arrays["diverged"].shape[0] == many_trainer.padded(5)
    assert many.history["test_accuracy"].shape == one.history["test_accuracy"].shape == (5, 7)
    for name in one.history:
        np.testing.assert_allclose(many.history[name], one.history[name], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("runs_per_group", [1, 2])
def test_runs_trained_in_groups_equal_runs_trained_together(xor, runs_per_group):
    kw = dict(learning_rate=1e-2, values={"alpha": [0.1, 0.2, 0.3, 0.4, 0.5]})
    devices = jax.devices()[:1]
    together = _run(
        engine.Trainer(_setup(), xor, devices=devices, runs_per_group=64), range(5), **kw
    )
    trainer = engine.Trainer(_setup(), xor, devices=devices, runs_per_group=runs_per_group)
    grouped = _run(trainer, range(5), **kw)
    # 5 runs in groups of at most 2: 3 groups of 2, one padding run.
    assert (
        grouped.arrays["diverged"].shape[0]
        == trainer.padded(5)
        == (5 if runs_per_group == 1 else 6)
    )
    for name in together.history:
        np.testing.assert_allclose(
            grouped.history[name], together.history[name], rtol=2e-5, atol=1e-6
        )


@pytest.mark.parametrize(
    "n, runs_per_group, groups",
    [(8, None, 1), (8, 8, 1), (8, 4, 2), (9, 4, 3), (12, 5, 3), (7, 3, 7), (13, 4, 13)],
)
def test_group_count_divides_the_runs(n, runs_per_group, groups):
    assert engine_impl._group_count(n, runs_per_group) == groups


@pytest.mark.parametrize("k, runs_per_group, padded", [(5, 8, 5), (50, 16, 52), (17, 4, 20)])
def test_padding_makes_equal_groups_with_the_fewest_extra_runs(xor, k, runs_per_group, padded):
    trainer = engine.Trainer(
        _setup(), xor, devices=jax.devices()[:1], runs_per_group=runs_per_group
    )
    per_device = trainer.padded(k)
    assert per_device == padded
    groups = engine_impl._group_count(per_device, runs_per_group)
    assert per_device % groups == 0 and per_device // groups <= runs_per_group


def test_default_groups_on_cpu_follow_the_parameter_bytes(xor):
    trainer = engine.Trainer(_setup(), xor)
    if jax.devices()[0].platform != "cpu":
        assert trainer.runs_per_group is None
        return
    expected = engine_impl.GROUP_PARAM_BYTES // trainer._programs.model.param_bytes
    assert trainer.runs_per_group == max(1, expected)
    # MLP (16, 2) on 2 features with PReLU: 2*16 + 16 + 16*2 + 2 weights and biases, one α.
    assert trainer._programs.model.param_bytes == 4 * (2 * 16 + 16 + 16 * 2 + 2 + 1)


def test_parameter_bytes_of_an_nnx_model():
    from flax import nnx

    from jaxact import nnx as jn

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.dense = nnx.Linear(4, 32, rngs=rngs)
            self.act = jn.PReLU()
            self.out = nnx.Linear(32, 2, rngs=rngs)

        def __call__(self, x):
            return self.out(self.act(self.dense(x)))

    x0 = jax.ShapeDtypeStruct((1, 4), np.float32)
    model = engine_impl._model_for(engine.Setup(Net, steps=100, batch_size=5), x0)
    assert model.param_bytes == 4 * (4 * 32 + 32 + 32 * 2 + 2 + 1)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4"])
def test_trainer_rejects_bad_runs_per_group(xor, bad):
    with pytest.raises(ValueError, match="runs_per_group: expected an integer >= 1"):
        engine.Trainer(_setup(), xor, runs_per_group=bad)


def test_changing_swept_values_does_not_recompile(xor):
    trainer = engine.Trainer(_setup(), xor)
    _run(trainer, [0, 1], learning_rate=1e-2, values={"alpha": [0.1, 0.2]})
    with CompileCounter() as counter:
        state = _run(trainer, [5, 6], learning_rate=[3e-3, 1e-1], values={"alpha": [0.9, 0.0]})
    assert counter.count == 0
    assert state.step == 60


@pytest.mark.parametrize("runs_per_group", [None, 2])
def test_interrupted_and_resumed_equals_uninterrupted(xor, tmp_path, runs_per_group):
    trainer = engine.Trainer(_setup(), xor, runs_per_group=runs_per_group)
    seeds = [0, 1, 2]
    kw = dict(learning_rate=1e-2, values={"alpha": [0.1, 0.6, 0.3]})
    full = _run(trainer, seeds, **kw)

    class Killed(Exception):
        pass

    def kill_after_first_chunk(state):
        raise Killed

    ckpt = tmp_path / "ckpt.npz"
    with pytest.raises(Killed):
        trainer.run(trainer.init(seeds, **kw), checkpoint=ckpt, on_chunk=kill_after_first_chunk)
    fresh = engine.Trainer(_setup(), xor, runs_per_group=runs_per_group)  # as a new process would
    restored = fresh.restore(ckpt, fresh.init(seeds, **kw))
    assert restored.step == fresh.setup.steps_per_chunk == 20
    resumed = fresh.run(restored)
    for name in full.history:
        np.testing.assert_array_equal(resumed.history[name], full.history[name])
    jax.tree.map(np.testing.assert_array_equal, resumed.params(), full.params())


def test_diverging_run_is_flagged_and_leaves_others_identical(xor):
    trainer = engine.Trainer(_setup(optimizer="sgd"), xor)
    calm = _run(trainer, [0, 1, 2], learning_rate=[0.1, 0.1, 0.1])
    wild = _run(trainer, [0, 1, 2], learning_rate=[0.1, 1e38, 0.1])
    assert wild.final()["diverged"].tolist() == [False, True, False]
    assert not calm.final()["diverged"].any()
    for i in (0, 2):
        for name in ("test_accuracy", "train_loss", "alpha"):
            np.testing.assert_array_equal(wild.history[name][i], calm.history[name][i])
    # The diverged run stopped updating: its parameters stay finite.
    assert all(np.isfinite(leaf[1]).all() for leaf in jax.tree.leaves(wild.params()))


def test_without_the_guard_a_diverged_run_is_flagged_and_the_others_are_unchanged(xor):
    guarded = _run(engine.Trainer(_setup(optimizer="sgd"), xor), [0, 1, 2], learning_rate=0.1)
    trainer = engine.Trainer(_setup(optimizer="sgd", divergence_guard=False), xor)
    calm = _run(trainer, [0, 1, 2], learning_rate=[0.1, 0.1, 0.1])
    wild = _run(trainer, [0, 1, 2], learning_rate=[0.1, 1e38, 0.1])
    assert wild.final()["diverged"].tolist() == [False, True, False]
    for i in (0, 2):
        for name in ("test_accuracy", "train_loss", "alpha"):
            np.testing.assert_array_equal(wild.history[name][i], calm.history[name][i])
            np.testing.assert_array_equal(calm.history[name][i], guarded.history[name][i])
    # Unguarded, the diverged run kept updating: its parameters are no longer finite.
    assert not all(np.isfinite(leaf[1]).all() for leaf in jax.tree.leaves(wild.params()))


def test_frozen_parameter_stays_and_learnable_one_moves(xor):
    learn = _run(engine.Trainer(_setup(), xor), [0], learning_rate=1e-2, values={"alpha": [0.3]})
    fixed = _run(
        engine.Trainer(_setup(frozen=("alpha",)), xor),
        [0],
        learning_rate=1e-2,
        values={"alpha": [0.3]},
    )
    np.testing.assert_allclose(fixed.history["alpha"][0], 0.3, rtol=1e-6)
    assert np.abs(learn.history["alpha"][0, -1] - 0.3).max() > 1e-3
    np.testing.assert_allclose(learn.history["alpha"][0, 0], 0.3, rtol=1e-6)


def test_epoch_sampling_visits_every_sample_once_per_epoch(xor):
    programs = engine.Trainer(_setup(sampling="epoch", batch_size=100), xor)._programs
    n = xor.num_train
    per_epoch = n // 100
    key = jax.random.key(3)
    # A chunk that starts mid-epoch begins from that epoch's order and carries it on.
    start = per_epoch // 2
    order = programs._epoch_order(key, start, n)
    idx = []
    for s in range(start, 2 * per_epoch + 1):
        i, order = programs._batch_indices(key, s, n, order)
        idx.append(np.asarray(i))
    first = np.concatenate(idx[per_epoch - start : 2 * per_epoch - start])
    assert len(set(first.tolist())) == first.size == per_epoch * 100
    # Each step's rows are the slice of its own epoch's permutation (drawn independently).
    for s, i in zip(range(start, 2 * per_epoch + 1), idx, strict=True):
        e, pos = divmod(s, per_epoch)
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, e), n))
        np.testing.assert_array_equal(i, perm[pos * 100 : (pos + 1) * 100])
    assert not np.array_equal(idx[-1], first[:100])


def test_epoch_sampling_does_not_depend_on_where_chunks_start(xor):
    # xor: 600 training rows, batch 32 -> 18 steps an epoch; chunks of 10 and of 30
    # steps start mid-epoch at different places.
    a = _run(engine.Trainer(_setup(sampling="epoch", chunk_evals=1), xor), [0, 1])
    b = _run(engine.Trainer(_setup(sampling="epoch", chunk_evals=3), xor), [0, 1])
    np.testing.assert_array_equal(a.history["train_loss"], b.history["train_loss"])
    np.testing.assert_array_equal(a.history["batch_loss"], b.history["batch_loss"])


def test_history_starts_at_step_zero_and_records_steps(xor):
    state = _run(engine.Trainer(_setup(), xor), [0])
    np.testing.assert_array_equal(state.history["step"][0], np.arange(0, 70, 10))
    assert np.isnan(state.history["batch_loss"][0, 0])
    assert np.isfinite(state.history["batch_loss"][0, 1:]).all()


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(steps=0), "steps: expected a positive integer"),
        (dict(eval_every=7), "eval_every"),
        (dict(optimizer="adagrad9"), "optimizer: expected one of"),
        (dict(loss="hinge"), "loss: expected one of"),
        (dict(sampling="stratified"), "sampling: expected one of"),
        (dict(chunk_evals=4), "chunk_evals"),
    ],
)
def test_setup_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        _setup(**kw)


def test_trainer_rejects_bad_runs(xor):
    with pytest.raises(ValueError, match="batch_size"):
        engine.Trainer(_setup(batch_size=10_000), xor)
    trainer = engine.Trainer(_setup(), xor)
    with pytest.raises(ValueError, match="selects no parameter"):
        trainer.init([0], values={"beta": 1.0})
    with pytest.raises(ValueError, match="one value per run"):
        trainer.init([0, 1], values={"alpha": [0.1, 0.2, 0.3]})
    with pytest.raises(ValueError, match="seeds"):
        trainer.init([])
    with pytest.raises(ValueError, match="finite"):
        trainer.init([0], learning_rate=float("nan"))
