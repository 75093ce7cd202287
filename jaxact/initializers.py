r"""Named weight initialisations for the Flax modules and the experiments.

Each name maps to a ``jax.nn.initializers``-style function
``init(key, shape, dtype=None) -> Array``. For a Dense kernel of shape
``(fan_in, fan_out)`` the element variances are:

- ``he_normal``: truncated normal, :math:`\mathrm{Var}[w] = 2/\mathrm{fan\_in}`
  (He et al. 2015, for ReLU-like activations).
- ``he_uniform``: uniform on :math:`\pm\sqrt{6/\mathrm{fan\_in}}`,
  :math:`\mathrm{Var}[w] = 2/\mathrm{fan\_in}`.
- ``lecun_normal``: truncated normal, :math:`\mathrm{Var}[w] = 1/\mathrm{fan\_in}`
  (the initialisation SELU's self-normalisation assumes).
- ``glorot_uniform``: uniform,
  :math:`\mathrm{Var}[w] = 2/(\mathrm{fan\_in} + \mathrm{fan\_out})`.
- ``glorot_normal``: truncated normal,
  :math:`\mathrm{Var}[w] = 2/(\mathrm{fan\_in} + \mathrm{fan\_out})`.
- ``uniform_pm1``: uniform on :math:`[-1, 1]`, :math:`\mathrm{Var}[w] = 1/3`.
- ``normal_1``: standard normal, :math:`\mathrm{Var}[w] = 1`.
- ``normal_tiny``: normal with std 0.01, :math:`\mathrm{Var}[w] = 10^{-4}`.

The truncated normals are jax's own (``jax.nn.initializers.variance_scaling``
with ``distribution="truncated_normal"``): the draw is cut at two standard
deviations and rescaled so that the variance claim above still holds exactly.

``uniform_pm1`` is a "prototype" initialisation (uniform on [-1, 1]) under
which sigmoid can look better than ReLU; ``normal_1`` and ``normal_tiny`` are a too-large
and a too-small fixed-scale initialisation, for the same kind of comparison.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.nn import initializers as _jinit
from jax.typing import DTypeLike

__all__ = ["Initializer", "get", "names"]

Initializer = Callable[..., jax.Array]
"""``init(key, shape, dtype=None) -> Array``, as in ``jax.nn.initializers``."""


def _uniform_pm1(
    key: jax.Array, shape: tuple[int, ...], dtype: DTypeLike | None = None
) -> jax.Array:
    dtype = jnp.result_type(float) if dtype is None else dtype
    return jax.random.uniform(key, shape, dtype, minval=-1.0, maxval=1.0)


_FACTORIES: dict[str, Callable[[], Initializer]] = {
    "he_normal": _jinit.he_normal,
    "he_uniform": _jinit.he_uniform,
    "lecun_normal": _jinit.lecun_normal,
    "glorot_uniform": _jinit.glorot_uniform,
    "glorot_normal": _jinit.glorot_normal,
    "uniform_pm1": lambda: _uniform_pm1,
    "normal_1": lambda: _jinit.normal(1.0),
    "normal_tiny": lambda: _jinit.normal(0.01),
}


def names() -> tuple[str, ...]:
    r"""Return the valid initialisation names, in a fixed order.

    Returns:
      A tuple of names accepted by :func:`get`.

    Examples:
      >>> from jaxact import initializers
      >>> "he_normal" in initializers.names()
      True
    """
    return tuple(_FACTORIES)


def get(name: str) -> Initializer:
    r"""Return the initializer called ``name``.

    The variance of each is listed in the module docstring, e.g. ``he_normal``
    draws with :math:`\mathrm{Var}[w] = 2/\mathrm{fan\_in}` and ``uniform_pm1``
    with :math:`\mathrm{Var}[w] = 1/3`.

    Args:
      name: one of :func:`names`.

    Returns:
      A function ``init(key, shape, dtype=None) -> Array``.

    Raises:
      ValueError: if ``name`` is not a known initialisation.

    Examples:
      >>> import jax
      >>> from jaxact import initializers
      >>> w = initializers.get("uniform_pm1")(jax.random.key(0), (3, 2))
      >>> w.shape, bool((abs(w) <= 1).all())
      ((3, 2), True)
    """
    if not isinstance(name, str) or name not in _FACTORIES:
        raise ValueError(
            f"name: unknown initialisation {name!r}; expected one of {', '.join(names())}."
        )
    return _FACTORIES[name]()
