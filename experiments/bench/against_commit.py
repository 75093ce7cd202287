"""The engine against an earlier commit's engine, same sweep, same process, interleaved.

``python -m experiments.bench.against_commit 109ead3`` (the last commit with
``experiments/engine.py``) times the bench's K = 64 sweep (PReLU MLP
40-100-100-10 on MNIST-1D, Adam 1e-3, batch 100, 2000 steps, 2 XLA host
devices) with that commit's engine and with :mod:`jaxact.sweep`, alternating
the order over 3 repeats after one compiling run each, and prints min and
median run times and their ratio. It reads the old file with ``git show`` and
needs a git checkout.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time

K, STEPS, REPEATS = 64, 2000, 3


def _old_engine(commit: str, path: str = "experiments/engine.py"):
    try:
        source = subprocess.run(
            ["git", "show", f"{commit}:{path}"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"python -m experiments.bench.against_commit: error: {e}") from None
    tmp = os.path.join(tempfile.mkdtemp(), "engine_at_commit.py")
    with open(tmp, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("engine_at_commit", tmp)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m experiments.bench.against_commit COMMIT", file=sys.stderr)
        return 2
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    import jax
    import numpy as np

    from experiments import data
    from jaxact import linen, sweep

    old = _old_engine(argv[0])
    ds = data.load("mnist1d")
    model = linen.MLP((100, 100, 10), "prelu", learnable=True, kernel_init="he_normal")
    kw = dict(model=model, steps=STEPS, batch_size=100, optimizer="adam", eval_every=100)
    trainers = {
        "old": old.Trainer(old.Setup(**kw), ds),
        "new": sweep.Trainer(sweep.Setup(**kw), ds),
    }
    alpha = 0.25 + 1e-3 * np.arange(K)

    def go(t, seed0):
        s = t.init(list(range(seed0, seed0 + K)), learning_rate=1e-3, values={"alpha": alpha})
        jax.block_until_ready(s.arrays["params"])
        t0 = time.perf_counter()
        s = t.run(s)
        jax.block_until_ready(s.arrays["params"])
        return time.perf_counter() - t0, float(s.final()["test_accuracy"].mean())

    for t in trainers.values():
        go(t, 0)  # compiles
    times: dict[str, list[float]] = {"old": [], "new": []}
    for r in range(REPEATS):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for name in order:
            sec, acc = go(trainers[name], 100 * (r + 1))
            times[name].append(sec)
            print(f"repeat {r} {name}: {sec:.2f} s (mean test accuracy {acc:.3f})", flush=True)
    for name, v in times.items():
        print(f"{name}: min {min(v):.2f} s, median {np.median(v):.2f} s, "
              f"{np.median(v) / K:.3f} s per model")  # fmt: skip
    print(
        f"new / old: median {np.median(times['new']) / np.median(times['old']):.3f}, "
        f"min {min(times['new']) / min(times['old']):.3f} ({jax.device_count()} devices)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
