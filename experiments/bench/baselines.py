r"""What the engine is compared with, and the machine's own rates.

* :func:`worker_machine`: copy bandwidth per dtype (the roofline of an
  elementwise op) and a large float32 matmul's GFLOP/s;
* :func:`worker_activations`: jaxact vs ``jax.nn`` under ``jax.jit``;
* :func:`worker_jax_loop`: (b) the plain-JAX alternative to a sweep, a Python
  loop calling one jitted ``lax.scan`` training run K times;
* :func:`torch_worker`: (c), (d) PyTorch eager and ``torch.func`` + ``vmap``
  (:mod:`experiments.bench.torch_baselines`).

Each ``worker_*`` runs in its own process (:mod:`experiments.bench.workers`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from experiments.bench.config import ACTIVATION_PAIRS
from experiments.bench.workers import peak_rss_mib, rss_mib, spread, time_best


def train_flops_per_step(num_features: int, layers: Sequence[int], batch_size: int) -> int:
    r"""Matmul FLOPs of one training step of one MLP (forward and backward).

    .. math::

       2B\sum_l n_{l-1} n_l \;(\text{forward}) + 2B\sum_l n_{l-1} n_l
       \;(\partial W) + 2B\sum_{l>1} n_{l-1} n_l \;(\partial x),

    the first layer needing no input gradient. Elementwise work (activations,
    bias, Adam) is left out: it is a few percent of the matmuls here.

    Args:
      num_features: input width :math:`n_0`.
      layers: the widths :math:`n_1, \dots, n_L`.
      batch_size: :math:`B`.

    Returns:
      The FLOP count.

    Examples:
      >>> train_flops_per_step(40, (100, 100, 10), 100)
      8200000
    """
    widths = [num_features, *layers]
    macs = [a * b for a, b in zip(widths[:-1], widths[1:], strict=True)]
    return 2 * batch_size * (2 * sum(macs) + sum(macs[1:]))


def worker_machine(cfg: dict) -> dict:
    """Copy bandwidth per dtype and large-matmul GFLOP/s of this machine."""
    import jax
    import jax.numpy as jnp

    n = 2 ** cfg["size_log2"]
    out: dict[str, Any] = {
        "copy_gbps": {},
        "copy_seconds": {},
        "platform": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "device_count": jax.device_count(),
    }
    neg = jax.jit(jnp.negative)  # read N, write N: the elementwise roofline
    for dtype in cfg["dtypes"]:
        x = jax.random.normal(jax.random.key(0), (n,), jnp.dtype(dtype))
        seconds = time_best({"copy": lambda x=x: neg(x)}, cfg["repeats"])["copy"]
        out["copy_seconds"][dtype] = seconds
        out["copy_gbps"][dtype] = 2 * n * jnp.dtype(dtype).itemsize / seconds / 1e9
    m = 2048 if not cfg["quick"] else 256
    a = jax.random.normal(jax.random.key(1), (m, m), jnp.float32)
    b = jax.random.normal(jax.random.key(2), (m, m), jnp.float32)
    mm = jax.jit(jnp.matmul)
    seconds = time_best({"mm": lambda: mm(a, b)}, max(3, cfg["repeats"]))["mm"]
    out["matmul_size"] = m
    out["matmul_seconds"] = seconds
    out["matmul_gflops"] = 2 * m**3 / seconds / 1e9
    return out


def _pair_fns(name: str):
    import jax

    import jaxact

    row = next(r for r in ACTIVATION_PAIRS if r[0] == name)
    _, reg_name, reg_kw, nn_name, nn_kw = row
    reg_fn, nn_fn = jaxact.get(reg_name).fn, getattr(jax.nn, nn_name)
    return (lambda x: reg_fn(x, **reg_kw)), (lambda x: nn_fn(x, **nn_kw))


def worker_activations(cfg: dict) -> dict:
    """jaxact vs jax.nn, forward and forward+backward, per activation and dtype."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    n = 2 ** cfg["size_log2"]
    shape = (2 ** (cfg["size_log2"] // 2), 2 ** (cfg["size_log2"] - cfg["size_log2"] // 2))
    rows = []
    for dtype in cfg["dtypes"]:
        dt = jnp.dtype(dtype)
        x = (3 * jax.random.normal(jax.random.key(0), shape, jnp.float32)).astype(dt)
        g = jax.random.normal(jax.random.key(1), shape, jnp.float32).astype(dt)
        for name in cfg["activations"]:
            fa, fb = _pair_fns(name)
            diff = float(jnp.max(jnp.abs(fa(x).astype(jnp.float32) - fb(x).astype(jnp.float32))))

            def fwd_bwd(f):
                def run(inputs, cotangents):
                    y, vjp = jax.vjp(f, inputs)
                    return y, vjp(cotangents)[0]

                return jax.jit(run)

            modes = {
                "fwd": (jax.jit(fa), jax.jit(fb), (x,), 2),
                "fwd+bwd": (fwd_bwd(fa), fwd_bwd(fb), (x, g), 4),
            }
            for mode, (ja, jb, args, passes) in modes.items():
                best = time_best(
                    {
                        "jaxact": lambda ja=ja, args=args: ja(*args),
                        "jax.nn": lambda jb=jb, args=args: jb(*args),
                    },
                    cfg["repeats"],
                )
                nbytes = passes * n * dt.itemsize
                rows.append(
                    {
                        "activation": name,
                        "dtype": dtype,
                        "mode": mode,
                        "jaxact_seconds": best["jaxact"],
                        "jax_nn_seconds": best["jax.nn"],
                        "ratio": best["jaxact"] / best["jax.nn"],
                        "jaxact_gbps": nbytes / best["jaxact"] / 1e9,
                        "jax_nn_gbps": nbytes / best["jax.nn"] / 1e9,
                        "bytes": nbytes,
                        "max_abs_diff": diff,
                    }
                )
            del fa, fb
    return {
        "elements": n,
        "shape": list(shape),
        "rows": rows,
        "numpy": np.__version__,
        "platform": jax.default_backend(),
    }


def worker_jax_loop(cfg: dict) -> dict:
    """(b): the plain-JAX alternative, a Python loop over one jitted training run."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from experiments import data
    from jaxact import linen

    ds = data.load(cfg["dataset"])
    model = linen.MLP(tuple(cfg["layers"]), "prelu", learnable=True, kernel_init="he_normal")
    tx = optax.adam(cfg["lr"])
    steps, batch = cfg["steps"], cfg["batch_size"]

    def loss_fn(params, x, y):
        logits = model.apply({"params": params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def train(seed, x_train, y_train, x_test, y_test):
        init_key, data_key = jax.random.split(jax.random.key(seed))
        params = model.init(init_key, x_train[:1])["params"]
        opt_state = tx.init(params)

        def step(carry, i):
            params, opt_state = carry
            idx = jax.random.randint(jax.random.fold_in(data_key, i), (batch,), 0, len(x_train))
            loss, grads = jax.value_and_grad(loss_fn)(params, x_train[idx], y_train[idx])
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, _), losses = jax.lax.scan(step, (params, opt_state), jnp.arange(steps))
        logits = model.apply({"params": params}, x_test)
        return jnp.mean(jnp.argmax(logits, -1) == y_test), losses[-1]

    arrays = [
        jnp.asarray(ds.x_train, jnp.float32),
        jnp.asarray(ds.y_train, jnp.int32),
        jnp.asarray(ds.x_test, jnp.float32),
        jnp.asarray(ds.y_test, jnp.int32),
    ]
    rss_before = rss_mib()
    t0 = time.perf_counter()
    compiled = jax.jit(train).lower(jnp.uint32(0), *arrays).compile()
    compile_seconds = time.perf_counter() - t0
    seconds, results = [], []
    for r in range(cfg["sweep_repeats"]):
        seeds = range(r * cfg["k"], (r + 1) * cfg["k"])
        t0 = time.perf_counter()
        results = [jax.device_get(compiled(jnp.uint32(seed), *arrays)) for seed in seeds]
        seconds.append(time.perf_counter() - t0)
    return {
        "devices": 1,
        "platform": jax.default_backend(),
        "compile_seconds": compile_seconds,
        **spread(seconds),
        "test_accuracy": float(np.mean([r[0] for r in results])),
        "final_batch_loss": float(np.mean([r[1] for r in results])),
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


def torch_worker(train_name: str) -> Callable[[dict], dict]:
    """(c) ``train_eager`` or (d) ``train_vmap`` of :mod:`~experiments.bench.torch_baselines`."""

    def work(cfg: dict) -> dict:
        import numpy as np
        import torch

        from experiments import data
        from experiments.bench import torch_baselines

        if cfg["torch_threads"] is not None:
            torch.set_num_threads(cfg["torch_threads"])
        ds = data.load(cfg["dataset"])
        host = {
            "x_train": np.asarray(ds.x_train),
            "y_train": np.asarray(ds.y_train),
            "x_test": np.asarray(ds.x_test),
            "y_test": np.asarray(ds.y_test),
        }
        rss_before = rss_mib()
        runs = []
        for _ in range(cfg["sweep_repeats"]):
            runs.append(
                getattr(torch_baselines, train_name)(
                    host,
                    k=cfg["k"],
                    steps=cfg["steps"],
                    batch_size=cfg["batch_size"],
                    learning_rate=cfg["lr"],
                    layer_sizes=tuple(cfg["layers"]),
                )
            )
        result = dict(runs[-1])
        result.update(spread([r["run_seconds"] for r in runs]))
        result.update(
            threads=torch.get_num_threads(),
            torch=torch.__version__,
            rss_before_mib=rss_before,
            peak_rss_mib=peak_rss_mib(),
        )
        return result

    return work
