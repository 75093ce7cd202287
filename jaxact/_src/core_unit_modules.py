r"""Flax modules of the core unit (:func:`jaxact.search_space.core_unit`).

Public as :class:`jaxact.linen.CoreUnit` and :class:`jaxact.nnx.CoreUnit`.
Both hold two parameter leaves:

- ``codes``: float32, shape ``(3,)``, the integer codes ``(u1, u2, b)`` of the
  candidate as integer-valued floats. It is a parameter (not a static field)
  so that a sweep can give every run its own candidate as an initial value,
  and it is meant to be *frozen*: no gradient reaches it
  (``core_unit`` stops it), but an optimiser with weight decay would still
  move it.
- ``beta``: float32, shape ``(3,)``, :math:`(\beta_1, \beta_2, \beta_3)`,
  learnable.

Both are selected by default by :mod:`jaxact.sweep` (the modules are jaxact
activation modules), so a sweep sets ``values={"codes": (K, 3) array}`` and
freezes ``frozen="codes"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from jaxact._src import search_space as _ss


def _check(codes: Any, beta_init: Any, owner: str) -> tuple[tuple[int, int, int], float]:
    try:
        c = _ss._as_codes(codes, owner)
    except ValueError as e:
        raise ValueError(str(e).replace(f"jaxact.search_space.{owner}", owner)) from None
    if isinstance(beta_init, bool) or not isinstance(beta_init, int | float | np.floating):
        raise TypeError(f"{owner}: beta_init must be a real number, got {beta_init!r}.")
    if not np.isfinite(beta_init):
        raise ValueError(f"{owner}: beta_init must be finite, got {beta_init!r}.")
    return c, float(beta_init)


class LinenCoreUnit(nn.Module):
    r"""The core unit :math:`b(u_1(x), u_2(x))` as a Linen module.

    Args:
      codes: the initial ``(u1, u2, b)`` (see :func:`jaxact.search_space.formula`).
      beta_init: initial value of :math:`\beta_1, \beta_2, \beta_3`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen, search_space
      >>> unit = linen.CoreUnit(search_space.parse_formula("sigmoid(beta1*x) * x"))
      >>> v = unit.init(jax.random.key(0), jnp.ones(3))
      >>> v["params"]["codes"], v["params"]["beta"]
      (Array([6., 0., 6.], dtype=float32), Array([1., 1., 1.], dtype=float32))
      >>> unit.apply(v, jnp.array([0.0, 2.0]))
      Array([0.      , 1.761594], dtype=float32)
    """

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

    codes: Sequence[int] = (0, 0, 0)
    _: dataclasses.KW_ONLY
    beta_init: float = 1.0

    def __post_init__(self) -> None:
        c, b = _check(self.codes, self.beta_init, "jaxact.linen.CoreUnit")
        object.__setattr__(self, "codes", c)
        object.__setattr__(self, "beta_init", b)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: ArrayLike) -> jax.Array:
        codes = self.param("codes", lambda key: jnp.asarray(self.codes, jnp.float32))
        beta = self.param("beta", lambda key: jnp.full((3,), self.beta_init, jnp.float32))
        return _ss.core_unit(x, codes, beta)

    def parameter_values(self) -> dict[str, jax.Array]:
        """``{"codes": ..., "beta": ...}`` (call with ``method=``); marks the module as
        a jaxact activation module, whose leaves sweeps select by default."""
        return {n: self.get_variable("params", n) for n in ("codes", "beta")}


class Codes(nnx.Param):
    """The ``codes`` parameter of :class:`NNXCoreUnit` (a ``Param`` subclass, so
    ``nnx.All(nnx.Param, nnx.Not(Codes))`` selects everything trainable)."""


class NNXCoreUnit(nnx.Module):
    r"""The core unit :math:`b(u_1(x), u_2(x))` as an NNX module.

    Args:
      codes: the initial ``(u1, u2, b)``.
      beta_init: initial value of :math:`\beta_1, \beta_2, \beta_3`.

    Attributes:
      codes: a :class:`Codes` parameter (float32, shape ``(3,)``); freeze it.
      beta: an ``nnx.Param`` (float32, shape ``(3,)``).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from jaxact import nnx as jnnx, search_space
      >>> unit = jnnx.CoreUnit(search_space.parse_formula("max(x, 0) + x"))
      >>> unit(jnp.array([-1.0, 2.0]))
      Array([-1.,  4.], dtype=float32)
      >>> sorted(nnx.state(unit, nnx.Param).keys())
      ['beta', 'codes']
    """

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

    def __init__(self, codes: Sequence[int] = (0, 0, 0), *, beta_init: float = 1.0) -> None:
        c, b = _check(codes, beta_init, "jaxact.nnx.CoreUnit")
        self.codes = Codes(jnp.asarray(c, jnp.float32))
        self.beta = nnx.Param(jnp.full((3,), b, jnp.float32))

    def __call__(self, x: ArrayLike) -> jax.Array:
        return _ss.core_unit(x, self.codes[...], self.beta[...])

    def parameter_values(self) -> dict[str, jax.Array]:
        """``{"codes": ..., "beta": ...}``; marks the module as a jaxact activation
        module, whose leaves sweeps select by default."""
        return {"codes": self.codes[...], "beta": self.beta[...]}
