r"""PyTorch baselines of :mod:`experiments.bench` (the optional ``bench`` extra).

The same sweep as the engine's — K learnable-PReLU MLPs (40-100-100-10, one
shared :math:`\alpha` per hidden layer, initial value 0.25, He-normal kernels,
zero biases), trained with Adam on uniformly drawn minibatches of MNIST-1D —
written the two ways a PyTorch user would:

* :func:`train_eager`: a plain eager training loop, run once per model;
* :func:`train_vmap`: all K models at once, with
  ``torch.func.stack_module_state`` and ``torch.vmap`` over
  ``torch.func.functional_call`` (the PyTorch "model ensembling" recipe).

This module imports ``torch`` at import time; :mod:`experiments.bench.baselines`
imports it only in the worker process of a PyTorch variant, after checking
that ``torch`` is installed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def make_model(layer_sizes: Sequence[int], num_features: int) -> nn.Module:
    r"""The benchmark MLP in PyTorch: Linear/PReLU stack with He-normal kernels.

    Args:
      layer_sizes: output width of each Linear layer; the last one is the output.
      num_features: input width.

    Returns:
      An ``nn.Sequential`` of ``Linear`` and ``PReLU`` (one shared
      :math:`\alpha = 0.25` per hidden layer, as ``jaxact.linen.PReLU``).

    Examples:
      >>> m = make_model((8, 3), 5)
      >>> m(torch.zeros(2, 5)).shape
      torch.Size([2, 3])
    """
    layers: list[nn.Module] = []
    width = num_features
    for i, out in enumerate(layer_sizes):
        linear = nn.Linear(width, out)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(layer_sizes) - 1:
            layers.append(nn.PReLU(num_parameters=1, init=0.25))
        width = out
    return nn.Sequential(*layers)


def _tensors(data: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {
        "x_train": torch.as_tensor(np.asarray(data["x_train"], np.float32)),
        "y_train": torch.as_tensor(np.asarray(data["y_train"], np.int64)),
        "x_test": torch.as_tensor(np.asarray(data["x_test"], np.float32)),
        "y_test": torch.as_tensor(np.asarray(data["y_test"], np.int64)),
    }


def train_eager(
    data: dict[str, np.ndarray],
    *,
    k: int,
    steps: int,
    batch_size: int,
    learning_rate: float,
    layer_sizes: Sequence[int],
) -> dict[str, float]:
    r"""Trains ``k`` models one after another with a plain eager PyTorch loop.

    Args:
      data: ``x_train``, ``y_train``, ``x_test``, ``y_test`` host arrays.
      k: number of models (seeds ``0 .. k-1``).
      steps: Adam steps per model.
      batch_size: minibatch size (indices drawn uniformly with replacement).
      learning_rate: Adam's learning rate.
      layer_sizes: the MLP's layer widths.

    Returns:
      ``run_seconds`` (all ``k`` trainings), ``test_accuracy`` (mean over
      models) and ``final_batch_loss`` (mean over models).

    Examples:
      >>> rng = np.random.default_rng(0)
      >>> d = {"x_train": rng.normal(size=(32, 4)), "y_train": rng.integers(0, 2, 32),
      ...      "x_test": rng.normal(size=(8, 4)), "y_test": rng.integers(0, 2, 8)}
      >>> r = train_eager(d, k=2, steps=3, batch_size=4, learning_rate=1e-3, layer_sizes=(5, 2))
      >>> sorted(r)
      ['final_batch_loss', 'run_seconds', 'test_accuracy']
    """
    t = _tensors(data)
    n = t["x_train"].shape[0]
    accuracies, losses = [], []
    start = time.perf_counter()
    for seed in range(k):
        torch.manual_seed(seed)
        model = make_model(layer_sizes, t["x_train"].shape[1])
        opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
        loss = torch.zeros(())
        for _ in range(steps):
            idx = torch.randint(n, (batch_size,))
            loss = F.cross_entropy(model(t["x_train"][idx]), t["y_train"][idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = model(t["x_test"]).argmax(-1)
            accuracies.append(float((pred == t["y_test"]).float().mean()))
        losses.append(float(loss.detach()))
    seconds = time.perf_counter() - start
    return {
        "run_seconds": seconds,
        "test_accuracy": float(np.mean(accuracies)),
        "final_batch_loss": float(np.mean(losses)),
    }


def train_vmap(
    data: dict[str, np.ndarray],
    *,
    k: int,
    steps: int,
    batch_size: int,
    learning_rate: float,
    layer_sizes: Sequence[int],
) -> dict[str, float]:
    r"""Trains ``k`` models at once: ``torch.vmap`` over ``functional_call``.

    The ``k`` models' parameters are stacked with
    ``torch.func.stack_module_state``; each step draws one minibatch per model,
    evaluates all models with ``torch.vmap(functional_call)``, and
    back-propagates the sum of the per-model mean losses (the models are
    independent, so each stacked slice gets its own model's gradient). One
    ``torch.optim.Adam`` over the stacked tensors is ``k`` independent Adams,
    since Adam is elementwise.

    Args:
      data: ``x_train``, ``y_train``, ``x_test``, ``y_test`` host arrays.
      k: number of models (initialised from seed 0 onwards).
      steps: Adam steps.
      batch_size: minibatch size per model.
      learning_rate: Adam's learning rate.
      layer_sizes: the MLP's layer widths.

    Returns:
      ``run_seconds``, ``test_accuracy`` (mean over models) and
      ``final_batch_loss`` (mean over models).

    Examples:
      >>> rng = np.random.default_rng(0)
      >>> d = {"x_train": rng.normal(size=(32, 4)), "y_train": rng.integers(0, 2, 32),
      ...      "x_test": rng.normal(size=(8, 4)), "y_test": rng.integers(0, 2, 8)}
      >>> r = train_vmap(d, k=2, steps=3, batch_size=4, learning_rate=1e-3, layer_sizes=(5, 2))
      >>> r["test_accuracy"] <= 1.0
      True
    """
    from torch.func import functional_call, stack_module_state

    t = _tensors(data)
    n, num_features = t["x_train"].shape
    num_classes = layer_sizes[-1]
    start = time.perf_counter()
    models = []
    for seed in range(k):
        torch.manual_seed(seed)
        models.append(make_model(layer_sizes, num_features))
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def forward(p, b, x):
        return functional_call(base, (p, b), (x,))

    batched = torch.vmap(forward)
    opt = torch.optim.Adam(list(params.values()), lr=learning_rate)
    per_model = torch.zeros(k)
    for _ in range(steps):
        idx = torch.randint(n, (k, batch_size))
        logits = batched(params, buffers, t["x_train"][idx])
        per_model = (
            F.cross_entropy(
                logits.reshape(-1, num_classes), t["y_train"][idx].reshape(-1), reduction="none"
            )
            .view(k, batch_size)
            .mean(1)
        )
        opt.zero_grad(set_to_none=True)
        per_model.sum().backward()
        opt.step()
    with torch.no_grad():
        x_test = t["x_test"].expand(k, *t["x_test"].shape)
        pred = batched(params, buffers, x_test).argmax(-1)
        accuracy = (pred == t["y_test"]).float().mean(1)
    seconds = time.perf_counter() - start
    return {
        "run_seconds": seconds,
        "test_accuracy": float(accuracy.mean()),
        "final_batch_loss": float(per_model.detach().mean()),
    }
