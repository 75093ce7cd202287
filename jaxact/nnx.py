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
from typing import Any, ClassVar

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
    "activation_params",
    "replace_activation_params",
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

    The same arguments as :class:`jaxact.linen.Activation` (``activation``,
    ``params`` as a mapping, ``dtype``); the fixed parameters may also be
    given as keywords.

    Args:
      activation: a name from ``jaxact.names()``.
      params: fixed parameters of the activation, a mapping (registry defaults
        for the rest).
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype.
      **kwargs: more fixed parameters, as keywords.

    Returns:
      On call, ``f(x, **params)``.

    Raises:
      ValueError: unknown ``activation``, a parameter it does not have, or one
        given both in ``params`` and as a keyword.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxact import nnx
      >>> nnx.Activation("leaky_relu", alpha=0.5)(jnp.array([-2.0, 3.0]))
      Array([-1.,  3.], dtype=float32)
      >>> nnx.Activation("leaky_relu", {"alpha": 0.5})(jnp.array([-2.0, 3.0]))
      Array([-1.,  3.], dtype=float32)
    """

    def __init__(
        self,
        activation: str,
        /,
        params: Mapping[str, Any] | None = None,
        *,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        record = _mc.lookup(activation)
        items = _mc.as_items(params, arg="params")
        both = {k for k, _ in items} & set(kwargs)
        if both:
            raise ValueError(f"params: {sorted(both)} given both in params and as keywords.")
        items = items + _mc.as_items(kwargs, arg="params")
        _mc.check_fixed(record, items)
        self.activation = activation
        self.params = _store_fixed(items)
        self.dtype = _mc.check_dtype(dtype, arg="dtype")

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = _mc.cast_input(x, self.dtype)
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
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameters (float32).

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

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

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
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        leaf_names: Mapping[str, str] | None = None,
    ) -> None:
        record = _mc.lookup(activation)
        names = _mc.resolve_learnable(record, learnable)
        self.dtype = _mc.check_dtype(dtype, arg="dtype")
        param_dtype = _mc.check_dtype(param_dtype, arg="param_dtype", allow_none=False)
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
        self.leaf_names = tuple((leaf_names or {}).items())
        leaf = dict(self.leaf_names)
        for n in names:
            value = _mc.initializer(init[n], constraints[n], param_dtype)(None, shape)
            setattr(self, leaf.get(n, n), nnx.Param(value))

    def parameter_values(self) -> dict[str, jax.Array]:
        r"""The learned parameter values after the constraint.

        Returns:
          ``{name: softplus(raw)}`` for constrained parameters, the value otherwise.

        Examples:
          >>> from jaxact import nnx
          >>> nnx.ELU(0.5, constraint="positive").parameter_values()["alpha"].round(4)
          Array(0.5, dtype=float32)
        """
        leaf = dict(self.leaf_names)
        return {
            n: _mc.constrain(getattr(self, leaf.get(n, n))[...], c) for n, c in self.constraints
        }

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = _mc.cast_input(x, self.dtype)
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

    Differences from ``flax.linen.PReLU``: the parameter is called ``alpha``
    (Flax: ``negative_slope``), it starts at 0.25 (Flax: 0.01), and the
    derivative at 0 is :math:`\alpha` (Flax's is 1). ``flax_compatible=True``
    gives Flax's name and initial value.

    Args:
      alpha_init: initial :math:`\alpha`; ``None`` (default) takes 0.25, as in
        He et al. 2015 (0.01 with ``flax_compatible=True``).
      channelwise: one :math:`\alpha` per feature of the last axis.
      num_features: that axis' size, required with ``channelwise=True``.
      constraint: ``None`` or ``"positive"`` (the ``alpha`` attribute then holds the raw value).
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameters (float32).
      flax_compatible: name the parameter ``negative_slope`` and start it at
        0.01, as ``flax.linen.PReLU`` does.

    Returns:
      On call, ``jaxact.prelu(x, alpha=alpha)``; the parameter ``self.alpha``
      (``self.negative_slope`` with ``flax_compatible=True``).

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxact import nnx
      >>> nnx.PReLU(channelwise=True, num_features=3).alpha.shape
      (3,)
      >>> nnx.PReLU(flax_compatible=True).negative_slope[...]
      Array(0.01, dtype=float32)

    References:
      He, Zhang, Ren, Sun. Delving Deep into Rectifiers. ICCV 2015.
    """

    def __init__(
        self,
        alpha_init: ArrayLike | None = None,
        *,
        channelwise: bool = False,
        num_features: int | None = None,
        constraint: str | None = None,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        flax_compatible: bool = False,
    ) -> None:
        super().__init__(
            "prelu",
            learnable=("alpha",),
            init_values={"alpha": _mc.prelu_init(alpha_init, flax_compatible)},
            channelwise=channelwise,
            num_features=num_features,
            constraint=constraint,
            dtype=dtype,
            param_dtype=param_dtype,
            leaf_names={"alpha": "negative_slope"} if flax_compatible else None,
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
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameters (float32).

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
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
    ) -> None:
        super().__init__(
            "swish",
            learnable=("beta",),
            init_values={"beta": beta_init},
            channelwise=channelwise,
            num_features=num_features,
            constraint=constraint,
            dtype=dtype,
            param_dtype=param_dtype,
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
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameters (float32).

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
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
    ) -> None:
        super().__init__(
            "elu",
            learnable=("alpha",),
            init_values={"alpha": alpha_init},
            channelwise=channelwise,
            num_features=num_features,
            constraint=constraint,
            dtype=dtype,
            param_dtype=param_dtype,
        )


class ParametricSELU(LearnableActivation):
    r"""SELU with learned :math:`\lambda` (``scale``) and :math:`\alpha`.

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
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameters (float32).

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
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
    ) -> None:
        init = {k: v for k, v in (("scale", scale_init), ("alpha", alpha_init)) if v is not None}
        super().__init__(
            "parametric_selu",
            learnable=("scale", "alpha"),
            init_values=init,
            channelwise=channelwise,
            num_features=num_features,
            constraint=constraint,
            dtype=dtype,
            param_dtype=param_dtype,
        )


def _activation_leaves(model: nnx.Module) -> list[tuple[tuple[str, ...], str, nnx.Param]]:
    """``(module path, attribute name, Param)`` of every parameter owned by a jaxact
    activation module inside ``model``, in natural layer order."""
    from jaxact._src import params as _params

    found = []
    for path, node in nnx.iter_graph(model):
        if not _params.is_activation_module(node):
            continue
        where = tuple(str(p) for p in path)
        for attr, value in vars(node).items():
            if isinstance(value, nnx.Param):
                found.append((where, attr, value))
    return sorted(found, key=lambda item: _params.natural_key((*item[0], item[1])))


def activation_params(model: nnx.Module) -> dict[str, list[jax.Array]]:
    r"""The parameters of every jaxact activation module in ``model``, in layer order.

    The NNX twin of :func:`jaxact.linen.activation_params`: modules are found
    by type (jaxact's activation modules), never by a parameter's name, so a
    ``LayerNorm``'s ``scale`` is not collected. Layers are ordered by their
    path with numbers compared as numbers (``act_2`` before ``act_10``).
    Constrained parameters are returned raw.

    Args:
      model: an NNX module (or graph of modules).

    Returns:
      ``{attribute name: [value, ...]}`` (``alpha``, ``beta``, ``scale``, ...).

    Examples:
      >>> from flax import nnx as fnnx
      >>> from jaxact import nnx
      >>> mlp = nnx.MLP((8, 8, 1), "prelu", in_features=6, learnable=True, rngs=fnnx.Rngs(0))
      >>> nnx.activation_params(mlp)
      {'alpha': [Array(0.25, dtype=float32), Array(0.25, dtype=float32)]}
    """
    out: dict[str, list[jax.Array]] = {}
    for _, attr, param in _activation_leaves(model):
        out.setdefault(attr, []).append(param[...])
    return out


def replace_activation_params(model: nnx.Module, **values: ArrayLike) -> nnx.Module:
    r"""Set every jaxact activation parameter called ``name`` to ``values[name]``, in place.

    .. math::

       \text{param} \leftarrow \texttt{jnp.full\_like(param, value)}

    The NNX twin of :func:`jaxact.linen.replace_activation_params` (NNX modules
    are mutable: the model is updated and returned). For a constrained
    parameter this sets the raw value.

    Args:
      model: an NNX module.
      **values: parameter name -> scalar value, e.g. ``alpha=0.1``.

    Returns:
      ``model``, updated.

    Raises:
      ValueError: a name that no jaxact activation module of ``model`` has.

    Examples:
      >>> from flax import nnx as fnnx
      >>> from jaxact import nnx
      >>> model = fnnx.Sequential(nnx.PReLU(), nnx.Swish())
      >>> nnx.activation_params(nnx.replace_activation_params(model, alpha=0.1))
      {'alpha': [Array(0.1, dtype=float32)], 'beta': [Array(1., dtype=float32)]}
    """
    leaves = _activation_leaves(model)
    present = {attr for _, attr, _ in leaves}
    missing = sorted(set(values) - present)
    if missing:
        raise ValueError(
            f"values: no jaxact activation module of the model has a parameter named "
            f"{missing}; present: {sorted(present) or 'none'}."
        )
    for _, attr, param in leaves:
        if attr in values:
            param[...] = jnp.full_like(param[...], values[attr])
    return model


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
      dtype: the dtype of the computation, as ``flax.nnx.Linear``'s (``None``:
        inferred from the input and the parameters).
      param_dtype: the dtype of the kernel and bias (float32).

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
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
    ) -> None:
        in_features = _mc.check_positive_int(in_features, arg="in_features")
        dtype = _mc.check_dtype(dtype, arg="dtype")
        param_dtype = _mc.check_dtype(param_dtype, arg="param_dtype", allow_none=False)
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
            dtype=dtype,
            param_dtype=param_dtype,
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
      use_bias: whether the Linear layers have biases.
      dropout_rate: ``nnx.Dropout`` after each hidden activation (0: none),
        drawing from ``rngs``; active in training mode (``model.train()``),
        off after ``model.eval()`` or with ``deterministic=True`` at call.
      normalization: ``None``, ``"layer_norm"`` or ``"rms_norm"`` on each
        hidden layer's pre-activations (``norm_i``; not with ``"maxout"``).
      dtype: the dtype of the computation of every layer (``None``: Flax's
        inference from inputs and parameters).
      param_dtype: the dtype of every parameter (float32).

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
        use_bias: bool = True,
        dropout_rate: float = 0.0,
        normalization: str | None = None,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
    ) -> None:
        _mc.check_mlp_options(
            activation,
            use_bias=use_bias,
            dropout_rate=dropout_rate,
            normalization=normalization,
            dtype=dtype,
            param_dtype=param_dtype,
        )
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
        dtypes = {"dtype": dtype, "param_dtype": param_dtype}
        dense = {"kernel_init": kinit, "use_bias": use_bias, "rngs": rngs, **dtypes}
        norms = {"layer_norm": nnx.LayerNorm, "rms_norm": nnx.RMSNorm}
        order: list[str] = []
        last = len(sizes) - 1
        for i, size in enumerate(sizes[:-1]):
            if record.name == "maxout":
                setattr(self, f"maxout_{i}", Maxout(width, size, num_pieces, **dense))
                order.append(f"maxout_{i}")
            else:
                setattr(self, f"dense_{i}", nnx.Linear(width, size, **dense))
                order.append(f"dense_{i}")
                if normalization is not None:
                    setattr(self, f"norm_{i}", norms[normalization](size, rngs=rngs, **dtypes))
                    order.append(f"norm_{i}")
                if names:
                    act: nnx.Module = LearnableActivation(
                        activation,
                        learnable=names,
                        init_values=dict(init),
                        params=dict(fixed),
                        channelwise=channelwise,
                        num_features=size if channelwise else None,
                        **dtypes,
                    )
                else:
                    act = Activation(activation, dict(fixed), dtype=dtype)
                setattr(self, f"act_{i}", act)
                order.append(f"act_{i}")
            if dropout_rate > 0:
                setattr(self, f"dropout_{i}", nnx.Dropout(float(dropout_rate), rngs=rngs))
                order.append(f"dropout_{i}")
            width = size
        setattr(self, f"dense_{last}", nnx.Linear(width, sizes[-1], **dense))
        order.append(f"dense_{last}")
        if output_activation is not None:
            self.act_out = Activation(output_activation, dtype=dtype)
            order.append("act_out")
        self.layer_order = tuple(order)

    def __call__(self, x: ArrayLike, *, deterministic: bool | None = None) -> jax.Array:
        x = jnp.asarray(x)
        for name in self.layer_order:
            if name.startswith("dropout_"):
                x = getattr(self, name)(x, deterministic=deterministic)
            else:
                x = getattr(self, name)(x)
        return x


# The core unit of the activation search space (jaxact.search_space).
from jaxact._src.core_unit_modules import Codes as Codes  # noqa: E402
from jaxact._src.core_unit_modules import NNXCoreUnit as CoreUnit  # noqa: E402

__all__ += ["Codes", "CoreUnit"]


# ----------------------------------------------------------------------------
# Learnable-shape activations: rational (PAU), adaptive piecewise linear, blend.
# Their parameters are coefficient arrays: an nnx.Param of shape (K,) shared by
# the layer, or (num_features, K) with channelwise=True (last axis = coefficient).
# ----------------------------------------------------------------------------

from jaxact._src import learnable_shapes as _ls  # noqa: E402


def _coefficient_prefix(channelwise: bool, num_features: int | None) -> tuple[int, ...]:
    if channelwise:
        if num_features is None:
            raise ValueError(
                "num_features: channelwise=True needs the size of the last axis "
                "(NNX creates parameters at construction)."
            )
        return (_mc.check_positive_int(num_features, arg="num_features"),)
    if num_features is not None:
        raise ValueError("num_features: only used with channelwise=True.")
    return ()


def _check_features(module: Any, x: jax.Array) -> None:
    if module.channelwise and (x.ndim == 0 or x.shape[-1] != module.num_features):
        raise ValueError(
            f"x: this channelwise {type(module).__name__} has num_features="
            f"{module.num_features} but x has shape {x.shape} (last axis must match)."
        )


class Rational(nnx.Module):
    r"""Rational activation (safe PAU) with learned coefficients (Molina et al., 2020).

    .. math::

       f(x) = \frac{\sum_{j=0}^{m} a_j x^j}{1 + \left|\sum_{k=1}^{n} b_k x^k\right|}
       \quad (\texttt{jaxact.rational}).

    The twin of :class:`jaxact.linen.Rational`: ``nnx.Param`` attributes
    ``numerator`` (shape ``(m + 1,)``) and ``denominator`` (``(n,)``), float32,
    or ``(num_features, K)`` with ``channelwise=True``.

    Args:
      init_target: the catalogue activation whose least-squares fit on
        ``interval`` gives the initial coefficients (``"leaky_relu"``).
      degrees: :math:`(m, n)` for the fit.
      interval: the fit interval.
      numerator_init, denominator_init: explicit initial coefficients (both or
        neither), shape ``(K,)`` or ``(num_features, K)``.
      channelwise: one coefficient set per feature of the last axis.
      num_features: that axis' size, required with ``channelwise=True``.

    Returns:
      On call, ``jaxact.rational(x, numerator=a, denominator=b)``.

    Examples:
      >>> from jaxact import nnx
      >>> layer = nnx.Rational("tanh", degrees=(3, 2), channelwise=True, num_features=5)
      >>> layer.numerator.shape, layer.denominator.shape
      ((5, 4), (5, 2))
    """

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

    def __init__(
        self,
        init_target: str | None = "leaky_relu",
        degrees: tuple[int, int] = (5, 4),
        interval: tuple[float, float] = (-3.0, 3.0),
        *,
        numerator_init: Any = None,
        denominator_init: Any = None,
        channelwise: bool = False,
        num_features: int | None = None,
    ) -> None:
        prefix = _coefficient_prefix(channelwise, num_features)
        num, den = _ls.rational_module_init(
            init_target,
            degrees,
            interval,
            _ls.coefficients_arg(numerator_init, arg="numerator_init"),
            _ls.coefficients_arg(denominator_init, arg="denominator_init"),
        )
        self.channelwise = bool(channelwise)
        self.num_features = num_features
        self.numerator = nnx.Param(_ls.coefficient_leaf(num, prefix, arg="numerator_init"))
        self.denominator = nnx.Param(_ls.coefficient_leaf(den, prefix, arg="denominator_init"))

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        _check_features(self, x)
        return _ls.rational(x, numerator=self.numerator[...], denominator=self.denominator[...])


class APL(nnx.Module):
    r"""Adaptive piecewise linear unit with learned hinges (Agostinelli et al., 2015).

    .. math::

       f(x) = \max(0, x) + \sum_{s=1}^{S} a_s \max(0, -x + b_s)
       \quad (\texttt{jaxact.apl}).

    The twin of :class:`jaxact.linen.APL`: ``nnx.Param`` attributes ``slopes``
    and ``hinges``, shape ``(S,)`` or ``(num_features, S)``; by default the
    unit starts as PReLU(0.25) (:math:`a = (-0.25, 0, \dots)`,
    :math:`b = (0, -1, \dots)`).

    Args:
      num_hinges: :math:`S`.
      slopes_init, hinges_init: explicit initial values.
      channelwise: one set per feature of the last axis.
      num_features: that axis' size, required with ``channelwise=True``.

    Returns:
      On call, ``jaxact.apl(x, slopes=a, hinges=b)``.

    Examples:
      >>> from jaxact import nnx
      >>> nnx.APL(3).hinges[...]
      Array([ 0., -1., -2.], dtype=float32)
    """

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

    def __init__(
        self,
        num_hinges: int = 1,
        *,
        slopes_init: Any = None,
        hinges_init: Any = None,
        channelwise: bool = False,
        num_features: int | None = None,
    ) -> None:
        prefix = _coefficient_prefix(channelwise, num_features)
        slopes, hinges = _ls.apl_module_init(
            num_hinges,
            _ls.coefficients_arg(slopes_init, arg="slopes_init"),
            _ls.coefficients_arg(hinges_init, arg="hinges_init"),
        )
        self.channelwise = bool(channelwise)
        self.num_features = num_features
        self.slopes = nnx.Param(_ls.coefficient_leaf(slopes, prefix, arg="slopes_init"))
        self.hinges = nnx.Param(_ls.coefficient_leaf(hinges, prefix, arg="hinges_init"))

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        _check_features(self, x)
        return _ls.apl(x, slopes=self.slopes[...], hinges=self.hinges[...])


class Blend(nnx.Module):
    r"""A learned combination of catalogue activations (Manessi & Rozza, 2018).

    .. math::

       f(x) = \sum_i \pi_i f_i(x), \quad \pi = w \text{ or } \operatorname{softmax}(w)
       \quad (\texttt{jaxact.blend}).

    The twin of :class:`jaxact.linen.Blend`: an ``nnx.Param`` attribute
    ``weights``, shape ``(K,)`` or ``(num_features, K)``.

    Args:
      activations: elementwise catalogue names :math:`f_i`.
      weights_init: explicit initial weights (default: the equal mix).
      normalize: use :math:`\operatorname{softmax}(w)`.
      channelwise: one set of weights per feature of the last axis.
      num_features: that axis' size, required with ``channelwise=True``.

    Returns:
      On call, ``jaxact.blend(x, activations=..., weights=w, normalize=...)``.

    Examples:
      >>> from jaxact import nnx
      >>> nnx.Blend(("relu", "tanh")).weights[...]
      Array([0.5, 0.5], dtype=float32)
    """

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

    def __init__(
        self,
        activations: Sequence[str] = ("identity", "relu", "tanh"),
        *,
        weights_init: Any = None,
        normalize: bool = False,
        channelwise: bool = False,
        num_features: int | None = None,
    ) -> None:
        prefix = _coefficient_prefix(channelwise, num_features)
        activations = tuple(activations) if isinstance(activations, list) else activations
        w0 = _ls.blend_module_init(
            activations, _ls.coefficients_arg(weights_init, arg="weights_init"), normalize
        )
        self.activations = tuple(activations)
        self.normalize = bool(normalize)
        self.channelwise = bool(channelwise)
        self.num_features = num_features
        self.weights = nnx.Param(_ls.coefficient_leaf(w0, prefix, arg="weights_init"))

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        _check_features(self, x)
        return _ls.blend(
            x, activations=self.activations, weights=self.weights[...], normalize=self.normalize
        )


__all__ += ["APL", "Blend", "Rational"]
