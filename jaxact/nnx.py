r"""Flax NNX modules over the jaxact activation catalogue.

The twins of :mod:`jaxact.linen`, with the same names, arguments, parameter
names and numerics. The differences are those of NNX: parameters are created
at construction, so the input size is an argument there:

- a channelwise learnable activation takes ``num_features`` (Linen sizes it
  at the first call);
- :class:`Maxout` takes ``in_features`` and ``rngs``;
- :class:`MLP` takes ``in_features`` and ``rngs`` (Linen infers the input
  width at the first call).

Naming contract: each learnable parameter is an ``nnx.Param`` attribute named
exactly as the registry parameter (``alpha``, ``beta``, ``scale``), float32,
of shape ``()`` or ``(num_features,)``. With ``constraint="positive"`` the
attribute holds a raw value :math:`r` and the activation uses
:math:`\operatorname{softplus}(r)`, initialised at
:math:`\operatorname{softplus}^{-1}` of the initial value (see
:mod:`jaxact.linen`); :meth:`LearnableActivation.parameter_values` returns the
constrained values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.typing import ArrayLike

from jaxact._src import modules_common as _mc

__all__ = [
    "ELU",
    "MLP",
    "Activation",
    "LearnableActivation",
    "Maxout",
    "PReLU",
    "ParametricSELU",
    "Swish",
]


_ZEROS = nnx.initializers.zeros_init()


def _store_fixed(items: tuple[tuple[str, Any], ...]) -> Any:
    """Fixed parameter values: static when they are Python values, pytree data when arrays."""
    if any(isinstance(v, (jax.Array, np.ndarray)) for _, v in items):
        return nnx.data(dict(items))
    return items


class Activation(nnx.Module):
    r"""Any registry activation with fixed parameters, as an NNX module.

    .. math::

       y = f(x; \theta), \qquad f = \texttt{jaxact.get(activation).fn}.

    Args:
      activation: a name from ``jaxact.names()``.
      **params: fixed keyword parameters of the activation (registry defaults
        for the rest).

    Returns:
      On call, ``f(x, **params)``.

    Raises:
      ValueError: unknown ``activation`` or a parameter it does not have.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxact import nnx
      >>> nnx.Activation("leaky_relu", alpha=0.5)(jnp.array([-2.0, 3.0]))
      Array([-1.,  3.], dtype=float32)
    """

    def __init__(self, activation: str, /, **params: Any) -> None:
        record = _mc.lookup(activation)
        items = _mc.as_items(params, arg="params")
        _mc.check_fixed(record, items)
        self.activation = activation
        self.params = _store_fixed(items)

    def __call__(self, x: ArrayLike) -> jax.Array:
        return _mc.lookup(self.activation).fn(x, **dict(self.params))


class LearnableActivation(nnx.Module):
    r"""A registry activation whose continuous parameters are ``nnx.Param`` attributes.

    .. math::

       y = f(x; \theta_\text{learned}, \theta_\text{fixed}).

    Args:
      activation: a name from ``jaxact.names()``.
      learnable: names from ``jaxact.get(activation).learnable``; ``None``
        (default) makes all of them learnable.
      init_values: initial values of the learnable parameters (registry
        defaults for the rest).
      params: fixed values of the other parameters.
      channelwise: one value per feature of the last axis instead of one shared.
      num_features: the size of that axis; required with ``channelwise=True``.
      constraint: ``None`` (default), ``"positive"`` for every learnable
        parameter, or a mapping name -> constraint (softplus
        reparameterisation; the attribute holds the raw value).

    Returns:
      On call, the activation of ``x`` with the current parameter values.

    Raises:
      ValueError: unknown ``activation``; a ``learnable`` name the activation
        does not have (the message lists the valid ones); ``channelwise``
        without ``num_features``; at call, ``x.shape[-1] != num_features``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxact import nnx
      >>> layer = nnx.LearnableActivation("leaky_relu", init_values={"alpha": 0.1})
      >>> layer.alpha[...]
      Array(0.1, dtype=float32)
    """

    def __init__(
        self,
        activation: str,
        *,
        learnable: Sequence[str] | None = None,
        init_values: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        channelwise: bool = False,
        num_features: int | None = None,
        constraint: str | Mapping[str, str | None] | None = None,
    ) -> None:
        record = _mc.lookup(activation)
        names = _mc.resolve_learnable(record, learnable)
        fixed = _mc.as_items(params, arg="params")
        _mc.check_fixed(record, fixed)
        both = {k for k, _ in fixed} & set(names)
        if both:
            raise ValueError(
                f"params: {sorted(both)} are learnable here; give their initial values "
                "in init_values instead."
            )
        constraints = _mc.resolve_constraints(names, constraint)
        init = _mc.resolve_init(
            record, names, _mc.as_items(init_values, arg="init_values"), constraints
        )
        if channelwise:
            if num_features is None:
                raise ValueError(
                    "num_features: channelwise=True needs the size of the last axis "
                    "(NNX creates parameters at construction)."
                )
            num_features = _mc.check_positive_int(num_features, arg="num_features")
            shape: tuple[int, ...] = (num_features,)
        else:
            if num_features is not None:
                raise ValueError("num_features: only used with channelwise=True.")
            shape = ()
        self.activation = activation
        self.learnable = names
        self.channelwise = bool(channelwise)
        self.num_features = num_features
        self.constraints = tuple(constraints.items())
        self.params = _store_fixed(fixed)
        for n in names:
            setattr(self, n, nnx.Param(_mc.initializer(init[n], constraints[n])(None, shape)))

    def parameter_values(self) -> dict[str, jax.Array]:
        r"""The learned parameter values after the constraint.

        Returns:
          ``{name: softplus(raw)}`` for constrained parameters, the value otherwise.

        Examples:
          >>> from jaxact import nnx
          >>> nnx.ELU(0.5, constraint="positive").parameter_values()["alpha"].round(4)
          Array(0.5, dtype=float32)
        """
        return {n: _mc.constrain(getattr(self, n)[...], c) for n, c in self.constraints}

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        if self.channelwise and (x.ndim == 0 or x.shape[-1] != self.num_features):
            raise ValueError(
                f"x: this channelwise {type(self).__name__} has num_features="
                f"{self.num_features} but x has shape {x.shape} (last axis must match)."
            )
        values = {
            n: _mc.as_operand(v, x, self.channelwise) for n, v in self.parameter_values().items()
        }
        return _mc.lookup(self.activation).fn(x, **dict(self.params), **values)


class PReLU(LearnableActivation):
    r"""Parametric ReLU with a learned slope :math:`\alpha` (He et al., 2015).

    .. math::

       \mathrm{prelu}(x) = \max(0, x) + \alpha \min(0, x).

    Args:
      alpha_init: initial :math:`\alpha` (0.25, as in He et al. 2015).
      channelwise: one :math:`\alpha` per feature of the last axis.
      num_features: that axis' size, required with ``channelwise=True``.
      constraint: ``None`` or ``"positive"`` (the ``alpha`` attribute then holds the raw value).

    Returns:
      On call, ``jaxact.prelu(x, alpha=alpha)``; the parameter ``self.alpha``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxact import nnx
      >>> nnx.PReLU(channelwise=True, num_features=3).alpha.shape
      (3,)

    References:
      He, Zhang, Ren, Sun. Delving Deep into Rectifiers. ICCV 2015.
    """

    def __init__(
        self,
        alpha_init: ArrayLike = 0.25,
        *,
        channelwise: bool = False,
        num_features: int | None = None,
        constraint: str | None = None,
    ) -> None:
        super().__init__(
            "prelu",
            learnable=("alpha",),
            init_values={"alpha": alpha_init},
            channelwise=channelwise,
            num_features=num_features,
            constraint=constraint,
        )


class Swish(LearnableActivation):
    r"""Swish with a learned :math:`\beta` (Ramachandran et al., 2017).

    .. math::

       \mathrm{swish}(x) = x \, \sigma(\beta x).

    Args:
      beta_init: initial :math:`\beta` (1.0, where swish is SiLU).
      channelwise: one :math:`\beta` per feature of the last axis.
      num_features: that axis' size, required with ``channelwise=True``.
      constraint: ``None`` or ``"positive"``.

    Returns:
      On call, ``jaxact.swish(x, beta=beta)``; the parameter ``self.beta``.

    Examples:
      >>> from jaxact import nnx
      >>> nnx.Swish().beta[...]
      Array(1., dtype=float32)

    References:
      Ramachandran, Zoph, Le. Searching for Activation Functions. 2017.
    """

    def __init__(
        self,
        beta_init: ArrayLike = 1.0,
        *,
        channelwise: bool = False,
        num_features: int | None = None,
        constraint: str | None = None,
    ) -> None:
        super().__init__(
            "swish",
            learnable=("beta",),
            init_values={"beta": beta_init},
            channelwise=channelwise,
            num_features=num_features,
            constraint=constraint,
        )


class ELU(LearnableActivation):
    r"""ELU with a learned :math:`\alpha` (Clevert et al., 2016).

    .. math::

       \mathrm{elu}(x) = \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 \end{cases}

    Args:
      alpha_init: initial :math:`\alpha` (1.0).
      channelwise: one :math:`\alpha` per feature of the last axis.
      num_features: that axis' size, required with ``channelwise=True``.
      constraint: ``None`` or ``"positive"``.

    Returns:
      On call, ``jaxact.elu(x, alpha=alpha)``; the parameter ``self.alpha``.

    Examples:
      >>> from jaxact import nnx
      >>> nnx.ELU(0.5).alpha[...]
      Array(0.5, dtype=float32)

    References:
      Clevert, Unterthiner, Hochreiter. Fast and Accurate Deep Network Learning
      by Exponential Linear Units (ELUs). ICLR 2016.
    """

    def __init__(
        self,
        alpha_init: ArrayLike = 1.0,
        *,
        channelwise: bool = False,
        num_features: int | None = None,
        constraint: str | None = None,
    ) -> None:
        super().__init__(
            "elu",
            learnable=("alpha",),
            init_values={"alpha": alpha_init},
            channelwise=channelwise,
            num_features=num_features,
            constraint=constraint,
        )


class ParametricSELU(LearnableActivation):
    r"""SELU with learned :math:`\lambda` (``scale``) and :math:`\alpha`, as seed 001 describes.

    .. math::

       \mathrm{pselu}(x) = \lambda \begin{cases} x & x > 0 \\
       \alpha (e^{x} - 1) & x \le 0 \end{cases}

    Args:
      scale_init: initial :math:`\lambda`; ``None`` takes the SELU constant.
      alpha_init: initial :math:`\alpha`; ``None`` takes the SELU constant.
      channelwise: one value of each per feature of the last axis.
      num_features: that axis' size, required with ``channelwise=True``.
      constraint: ``None``, ``"positive"`` for both, or a mapping such as
        ``{"scale": "positive"}``.

    Returns:
      On call, ``jaxact.parametric_selu(x, scale=scale, alpha=alpha)``; the
      parameters ``self.scale`` and ``self.alpha``.

    Examples:
      >>> from jaxact import nnx
      >>> layer = nnx.ParametricSELU()
      >>> float(layer.scale[...]), float(layer.alpha[...])  # doctest: +ELLIPSIS
      (1.0507..., 1.6732...)

    References:
      Klambauer, Unterthiner, Mayr, Hochreiter. Self-Normalizing Neural
      Networks. NeurIPS 2017.
    """

    def __init__(
        self,
        scale_init: ArrayLike | None = None,
        alpha_init: ArrayLike | None = None,
        *,
        channelwise: bool = False,
        num_features: int | None = None,
        constraint: str | Mapping[str, str | None] | None = None,
    ) -> None:
        init = {k: v for k, v in (("scale", scale_init), ("alpha", alpha_init)) if v is not None}
        super().__init__(
            "parametric_selu",
            learnable=("scale", "alpha"),
            init_values=init,
            channelwise=channelwise,
            num_features=num_features,
            constraint=constraint,
        )


class Maxout(nnx.Module):
    r"""Maxout unit: ``num_pieces`` affine maps of the same input, elementwise max.

    .. math::

       y_j = \max_{p < k} \left( x W^{(p)}_{:, j} + b^{(p)}_j \right).

    One ``nnx.Linear(in_features, features * num_pieces)`` (attribute
    ``dense``) followed by ``jaxact.maxout(num_pieces=k)``; kernel column
    ``j * k + p`` is piece ``p`` of unit ``j``. Exactly ``num_pieces`` times
    the parameters of ``Linear(in_features, features)``.

    Args:
      in_features: input width.
      features: number of output units.
      num_pieces: number of affine pieces k (>= 1).
      rngs: ``nnx.Rngs`` for the kernel.
      use_bias: whether the pieces have biases.
      kernel_init: a name from :func:`jaxact.initializers.names` or an initializer.
      bias_init: bias initializer.

    Returns:
      On call, an array of shape ``x.shape[:-1] + (features,)``.

    Raises:
      ValueError: ``in_features``, ``features`` or ``num_pieces`` not an
        integer >= 1, or an unknown ``kernel_init`` name.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx as fnnx
      >>> from jaxact import nnx
      >>> layer = nnx.Maxout(6, 4, num_pieces=3, rngs=fnnx.Rngs(0))
      >>> layer.dense.kernel.shape, layer(jnp.ones((2, 6))).shape
      ((6, 12), (2, 4))

    References:
      Goodfellow, Warde-Farley, Mirza, Courville, Bengio. Maxout Networks. ICML 2013.
    """

    def __init__(
        self,
        in_features: int,
        features: int,
        num_pieces: int = 2,
        *,
        rngs: nnx.Rngs,
        use_bias: bool = True,
        kernel_init: str | Callable[..., jax.Array] = "lecun_normal",
        bias_init: Callable[..., jax.Array] = _ZEROS,
    ) -> None:
        in_features = _mc.check_positive_int(in_features, arg="in_features")
        features = _mc.check_positive_int(features, arg="features")
        num_pieces = _mc.check_positive_int(num_pieces, arg="num_pieces")
        self.features = features
        self.num_pieces = num_pieces
        self.dense = nnx.Linear(
            in_features,
            features * num_pieces,
            use_bias=use_bias,
            kernel_init=_mc.kernel_initializer(kernel_init),
            bias_init=bias_init,
            rngs=rngs,
        )

    def __call__(self, x: ArrayLike) -> jax.Array:
        y = self.dense(jnp.asarray(x))
        return _mc.lookup("maxout").fn(y, num_pieces=self.num_pieces, axis=-1)


class MLP(nnx.Module):
    r"""A Linear stack with an activation between layers.

    .. math::

       h_0 = x, \quad h_{i+1} = f(h_i W_i + b_i) \ (i < L - 1), \quad
       y = g(h_{L-1} W_{L-1} + b_{L-1}).

    Same arguments and attribute names as :class:`jaxact.linen.MLP`
    (``dense_i``, ``act_i``, ``maxout_i``, ``act_out``), except that NNX needs
    the input width ``in_features`` and ``rngs`` at construction.

    Args:
      layer_sizes: output width of each Linear; the last is the output layer.
      activation: a registry name for the hidden activation, or ``"maxout"``.
      in_features: input width.
      rngs: ``nnx.Rngs`` for the kernels.
      activation_params: fixed values of the activation's parameters, or the
        initial values of the learnable ones.
      learnable: ``False``, ``True`` (all of the activation's ``.learnable``),
        or a tuple of those names; each hidden layer has its own parameters.
      kernel_init: a name from :func:`jaxact.initializers.names` or an initializer.
      output_activation: a registry name applied after the last layer, or None.
      channelwise: with ``learnable``, one value per hidden unit.
      num_pieces: pieces per unit when ``activation="maxout"``.

    Returns:
      On call, an array of shape ``x.shape[:-1] + (layer_sizes[-1],)``.

    Raises:
      ValueError: as :class:`jaxact.linen.MLP`, plus a bad ``in_features``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx as fnnx
      >>> from jaxact import nnx
      >>> mlp = nnx.MLP((8, 1), "swish", in_features=6, learnable=True, rngs=fnnx.Rngs(0))
      >>> mlp(jnp.ones((4, 6))).shape, mlp.act_0.beta[...]
      ((4, 1), Array(1., dtype=float32))
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str,
        *,
        in_features: int,
        rngs: nnx.Rngs,
        activation_params: Mapping[str, Any] | None = None,
        learnable: bool | Sequence[str] = False,
        kernel_init: str | Callable[..., jax.Array] = "he_normal",
        output_activation: str | None = None,
        channelwise: bool = False,
        num_pieces: int = 2,
    ) -> None:
        sizes = _mc.check_layer_sizes(layer_sizes)
        width = _mc.check_positive_int(in_features, arg="in_features")
        items = _mc.as_items(activation_params, arg="activation_params")
        if isinstance(learnable, list):
            learnable = tuple(learnable)
        _mc.check_mlp(
            activation,
            activation_params=items,
            learnable=learnable,
            kernel_init=kernel_init,
            output_activation=output_activation,
            channelwise=channelwise,
            num_pieces=num_pieces,
        )
        kinit = _mc.kernel_initializer(kernel_init)
        record = _mc.lookup(activation)
        names = _mc.mlp_learnable(record, learnable)
        init, fixed = _mc.split_activation_params(record, items, names)
        order: list[str] = []
        last = len(sizes) - 1
        for i, size in enumerate(sizes[:-1]):
            if record.name == "maxout":
                setattr(
                    self,
                    f"maxout_{i}",
                    Maxout(width, size, num_pieces, kernel_init=kinit, rngs=rngs),
                )
                order.append(f"maxout_{i}")
            else:
                setattr(self, f"dense_{i}", nnx.Linear(width, size, kernel_init=kinit, rngs=rngs))
                if names:
                    act: nnx.Module = LearnableActivation(
                        activation,
                        learnable=names,
                        init_values=dict(init),
                        params=dict(fixed),
                        channelwise=channelwise,
                        num_features=size if channelwise else None,
                    )
                else:
                    act = Activation(activation, **dict(fixed))
                setattr(self, f"act_{i}", act)
                order += [f"dense_{i}", f"act_{i}"]
            width = size
        setattr(self, f"dense_{last}", nnx.Linear(width, sizes[-1], kernel_init=kinit, rngs=rngs))
        order.append(f"dense_{last}")
        if output_activation is not None:
            self.act_out = Activation(output_activation)
            order.append("act_out")
        self.layer_order = tuple(order)

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        for name in self.layer_order:
            x = getattr(self, name)(x)
        return x
