r"""Flax Linen modules over the jaxact activation catalogue.

Every module is a thin layer over the pure functions: it looks the activation
up in the registry (``jaxact.get(name).fn``) and never re-implements a formula.

- :class:`Activation`: any registry activation with fixed parameters.
- :class:`LearnableActivation`: makes any of an activation's ``.learnable``
  parameters learnable; :class:`PReLU`, :class:`Swish`, :class:`ELU` and
  :class:`ParametricSELU` are thin specialisations.
- :class:`Maxout`: the "paired Dense" (k affine maps of one input, max over them).
- :class:`MLP`: a Dense stack with an activation (fixed, learnable or maxout).
- :func:`activation_params` / :func:`replace_activation_params`: read and set
  the learnable activation leaves of a params tree (for sweeps under ``vmap``).

Naming contract: a learnable parameter leaf is named exactly as the registry
parameter (``alpha``, ``beta``, ``scale``) in the ``"params"`` collection, is
float32 and has shape ``()`` (shared) or ``(features,)`` (``channelwise=True``).
No other jaxact module uses those names (flax's ``LayerNorm`` does use
``scale``; keep that in mind when reading a mixed model with
:func:`activation_params`).

Constraints are a reparameterisation, not clipping. With
``constraint="positive"`` the leaf (still called e.g. ``alpha``) holds a raw
value :math:`r` and the activation uses

.. math::

   \alpha = \operatorname{softplus}(r) = \log(1 + e^{r}),

initialised at :math:`r = \operatorname{softplus}^{-1}(\alpha_0) =
\alpha_0 + \log(1 - e^{-\alpha_0})` so that the initial value is
:math:`\alpha_0` up to rounding. The default is no constraint (the leaf is the
value itself).

The NNX twins in :mod:`jaxact.nnx` take the same arguments, except that the
input size is given at construction there (``num_features``, ``in_features``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
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

_Items = tuple[tuple[str, Any], ...]


def _set(module: nn.Module, field: str, value: Any) -> None:
    # Normalise a field in __post_init__ (Linen modules are frozen dataclasses).
    object.__setattr__(module, field, value)


def _learnable_forward(
    module: nn.Module,
    x: ArrayLike,
    activation: str,
    init_values: dict[str, Any],
    fixed: _Items,
    channelwise: bool,
    constraints: Mapping[str, str | None],
    *,
    dtype: Any = None,
    param_dtype: Any = jnp.float32,
    leaf_names: Mapping[str, str] | None = None,
) -> jax.Array:
    """Create/read one ``params`` leaf per learnable name and apply the activation.

    ``x`` is cast to ``dtype`` when given (else the computation runs in ``x``'s
    dtype); leaves are created in ``param_dtype``; ``leaf_names`` renames a
    registry parameter's leaf (``flax_compatible`` PReLU: ``negative_slope``).
    """
    x = _mc.cast_input(x, dtype)
    shape = _mc.expected_shape(x, channelwise)
    values = {}
    for name, init in init_values.items():
        leaf = (leaf_names or {}).get(name, name)
        if module.has_variable("params", leaf):
            have = jnp.shape(module.get_variable("params", leaf))
            if have != shape:
                raise ValueError(
                    f"x: {type(module).__name__} parameter {name!r} has shape {have} but an "
                    f"input with last axis {x.shape[-1] if x.ndim else None} needs {shape} "
                    f"(channelwise={channelwise}); was the module built for another feature size?"
                )
        raw = module.param(leaf, _mc.initializer(init, constraints[name], param_dtype), shape)
        values[name] = _mc.as_operand(_mc.constrain(raw, constraints[name]), x, channelwise)
    return _mc.lookup(activation).fn(x, **dict(fixed), **values)


class Activation(nn.Module):
    r"""Any registry activation with fixed parameters, as a Linen module.

    .. math::

       y = f(x; \theta), \qquad f = \texttt{jaxact.get(activation).fn},

    with :math:`\theta` the given ``params`` and the registry defaults for the rest.

    Args:
      activation: a name from ``jaxact.names()``.
      params: fixed keyword parameters of the activation, a mapping (stored as a
        tuple of ``(name, value)`` pairs so the module stays hashable).
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype.

    Returns:
      On call, ``f(x, **params)``, same shape as ``x`` (except for
      non-elementwise activations such as ``maxout``).

    Raises:
      ValueError: unknown ``activation`` or a parameter it does not have.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> layer = linen.Activation("leaky_relu", {"alpha": 0.5})
      >>> layer.apply({}, jnp.array([-2.0, 3.0]))
      Array([-1.,  3.], dtype=float32)
    """

    activation: str
    params: Mapping[str, Any] | _Items = ()
    dtype: Any = None

    def __post_init__(self) -> None:
        _set(self, "params", _mc.as_items(self.params, arg="params"))
        _mc.check_fixed(_mc.lookup(self.activation), self.params)
        _mc.check_dtype(self.dtype, arg="dtype")
        super().__post_init__()

    def __call__(self, x: ArrayLike) -> jax.Array:
        x = _mc.cast_input(x, self.dtype)
        return _mc.lookup(self.activation).fn(x, **dict(self.params))


class _Learnable(nn.Module):
    """Shared call and read-out of the learnable activation modules.

    Subclasses give ``_spec() -> (activation, initial values, fixed params, constraints)``
    and a ``channelwise`` field.
    """

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

    if TYPE_CHECKING:
        channelwise: bool
        dtype: Any
        param_dtype: Any

    def _spec(self) -> tuple[str, dict[str, Any], _Items, dict[str, str | None]]:
        raise NotImplementedError

    def _leaf_names(self) -> dict[str, str]:
        """Registry parameter name -> leaf name, where they differ."""
        return {}

    def __post_init__(self) -> None:
        # Checks constraint names and constrained initial values at construction.
        activation, init, _, constraints = self._spec()
        _mc.resolve_init(_mc.lookup(activation), tuple(init), tuple(init.items()), constraints)
        _mc.check_dtype(self.dtype, arg="dtype")
        _mc.check_dtype(self.param_dtype, arg="param_dtype", allow_none=False)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: ArrayLike) -> jax.Array:
        activation, init, fixed, constraints = self._spec()
        return _learnable_forward(
            self,
            x,
            activation,
            init,
            fixed,
            self.channelwise,
            constraints,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            leaf_names=self._leaf_names(),
        )

    def parameter_values(self) -> dict[str, jax.Array]:
        r"""The learned parameter values after the constraint (call with ``method=``).

        Returns:
          ``{name: softplus(leaf)}`` for constrained parameters, the leaf otherwise.

        Examples:
          >>> import jax, jax.numpy as jnp
          >>> from jaxact import linen
          >>> layer = linen.ELU(0.5, constraint="positive")
          >>> v = layer.init(jax.random.key(0), jnp.ones(2))
          >>> layer.apply(v, method="parameter_values")["alpha"].round(4)
          Array(0.5, dtype=float32)
        """
        _, _, _, constraints = self._spec()
        leaf = self._leaf_names()
        return {
            n: _mc.constrain(self.get_variable("params", leaf.get(n, n)), c)
            for n, c in constraints.items()
        }


class LearnableActivation(_Learnable):
    r"""A registry activation whose continuous parameters are learned.

    .. math::

       y = f(x; \theta_\text{learned}, \theta_\text{fixed}),

    each learned parameter a float32 ``params`` leaf named as in the registry,
    of shape ``()`` or, with ``channelwise=True``, ``(x.shape[-1],)`` (one per
    feature of the last axis, sized at the first call).

    Args:
      activation: a name from ``jaxact.names()``.
      learnable: names from ``jaxact.get(activation).learnable``; ``None``
        (default) makes all of them learnable.
      init_values: initial values of the learnable parameters (registry defaults
        for the ones not given). Named ``init_values`` because ``init`` is
        :meth:`flax.linen.Module.init`.
      params: fixed values of the other parameters.
      channelwise: one value per feature of the last axis instead of one shared.
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameter leaves (float32).
      constraint: ``None`` (default), ``"positive"`` for every learnable
        parameter, or a mapping name -> constraint. See the module docstring:
        the leaf then holds the raw value, ``softplus(raw)`` is used.

    Returns:
      On call, the activation of ``x`` with the current parameter values.

    Raises:
      ValueError: unknown ``activation``; a ``learnable`` name the activation
        does not have (the message lists the valid ones); a channelwise module
        called on an input whose last axis differs from the existing parameters.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> layer = linen.LearnableActivation("leaky_relu", init_values={"alpha": 0.1})
      >>> variables = layer.init(jax.random.key(0), jnp.ones(3))
      >>> variables["params"]["alpha"]
      Array(0.1, dtype=float32)
    """

    activation: str
    learnable: Sequence[str] | None = None
    init_values: Mapping[str, Any] | _Items = ()
    params: Mapping[str, Any] | _Items = ()
    channelwise: bool = False
    dtype: Any = None
    param_dtype: Any = jnp.float32
    constraint: str | Mapping[str, str | None] | _Items | None = None

    def __post_init__(self) -> None:
        record = _mc.lookup(self.activation)
        names = _mc.resolve_learnable(record, self.learnable)
        _set(self, "learnable", names)
        _set(self, "params", _mc.as_items(self.params, arg="params"))
        _set(self, "init_values", _mc.as_items(self.init_values, arg="init_values"))
        if not isinstance(self.constraint, (str, type(None))):
            _set(self, "constraint", _mc.as_items(self.constraint, arg="constraint"))
        _mc.check_fixed(record, self.params)
        both = {k for k, _ in self.params} & set(names)
        if both:
            raise ValueError(
                f"params: {sorted(both)} are learnable here; give their initial values "
                "in init_values instead."
            )
        super().__post_init__()

    def _spec(self) -> tuple[str, dict[str, Any], _Items, dict[str, str | None]]:
        constraints = _mc.resolve_constraints(self.learnable, self.constraint)
        record = _mc.lookup(self.activation)
        init = _mc.resolve_init(record, self.learnable, self.init_values, constraints)
        return self.activation, init, self.params, constraints


class PReLU(_Learnable):
    r"""Parametric ReLU with a learned slope :math:`\alpha` (He et al., 2015).

    .. math::

       \mathrm{prelu}(x) = \max(0, x) + \alpha \min(0, x).

    Differences from ``flax.linen.PReLU``: the leaf is called ``alpha`` (Flax:
    ``negative_slope``), it starts at 0.25 (Flax: 0.01), and the derivative at
    0 is :math:`\alpha` (the left derivative; Flax's is 1).
    ``flax_compatible=True`` gives Flax's name and initial value.

    Args:
      alpha_init: initial :math:`\alpha`; ``None`` (default) takes 0.25, as in
        He et al. 2015 (0.01 with ``flax_compatible=True``).
      channelwise: one :math:`\alpha` per feature of the last axis (sized at
        the first call) instead of one shared.
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameter leaves (float32).
      constraint: ``None`` or ``"positive"`` (softplus reparameterisation; the
        ``alpha`` leaf then holds the raw value).
      flax_compatible: name the leaf ``negative_slope`` and start it at 0.01,
        as ``flax.linen.PReLU`` does.

    Returns:
      On call, ``jaxact.prelu(x, alpha=alpha)``; the leaf ``params["alpha"]``
      (``params["negative_slope"]`` with ``flax_compatible=True``).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> v = linen.PReLU().init(jax.random.key(0), jnp.ones((2, 3)))
      >>> v["params"]["alpha"]
      Array(0.25, dtype=float32)
      >>> linen.PReLU(flax_compatible=True).init(jax.random.key(0), jnp.ones(3))["params"]
      {'negative_slope': Array(0.01, dtype=float32)}

    References:
      He, Zhang, Ren, Sun. Delving Deep into Rectifiers. ICCV 2015.
    """

    alpha_init: ArrayLike | None = None
    _: dataclasses.KW_ONLY
    channelwise: bool = False
    dtype: Any = None
    param_dtype: Any = jnp.float32
    constraint: str | None = None
    flax_compatible: bool = False

    def _spec(self) -> tuple[str, dict[str, Any], _Items, dict[str, str | None]]:
        c = _mc.resolve_constraints(("alpha",), self.constraint)
        init = _mc.prelu_init(self.alpha_init, self.flax_compatible)
        return "prelu", {"alpha": init}, (), c

    def _leaf_names(self) -> dict[str, str]:
        return {"alpha": "negative_slope"} if self.flax_compatible else {}


class Swish(_Learnable):
    r"""Swish with a learned :math:`\beta` (Ramachandran et al., 2017).

    .. math::

       \mathrm{swish}(x) = x \, \sigma(\beta x).

    Args:
      beta_init: initial :math:`\beta` (1.0, where swish is SiLU).
      channelwise: one :math:`\beta` per feature of the last axis.
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameter leaves (float32).
      constraint: ``None`` or ``"positive"`` (the ``beta`` leaf then holds the raw value).

    Returns:
      On call, ``jaxact.swish(x, beta=beta)``; the leaf ``params["beta"]``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> v = linen.Swish().init(jax.random.key(0), jnp.ones(3))
      >>> v["params"]["beta"]
      Array(1., dtype=float32)

    References:
      Ramachandran, Zoph, Le. Searching for Activation Functions. 2017.
    """

    beta_init: ArrayLike = 1.0
    _: dataclasses.KW_ONLY
    channelwise: bool = False
    dtype: Any = None
    param_dtype: Any = jnp.float32
    constraint: str | None = None

    def _spec(self) -> tuple[str, dict[str, Any], _Items, dict[str, str | None]]:
        c = _mc.resolve_constraints(("beta",), self.constraint)
        return "swish", {"beta": self.beta_init}, (), c


class ELU(_Learnable):
    r"""ELU with a learned :math:`\alpha` (Clevert et al., 2016).

    .. math::

       \mathrm{elu}(x) = \begin{cases} x & x > 0 \\ \alpha (e^{x} - 1) & x \le 0 \end{cases}

    Args:
      alpha_init: initial :math:`\alpha` (1.0).
      channelwise: one :math:`\alpha` per feature of the last axis.
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameter leaves (float32).
      constraint: ``None`` or ``"positive"`` (the ``alpha`` leaf then holds the raw value).

    Returns:
      On call, ``jaxact.elu(x, alpha=alpha)``; the leaf ``params["alpha"]``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> v = linen.ELU(0.5).init(jax.random.key(0), jnp.ones(3))
      >>> v["params"]["alpha"]
      Array(0.5, dtype=float32)

    References:
      Clevert, Unterthiner, Hochreiter. Fast and Accurate Deep Network Learning
      by Exponential Linear Units (ELUs). ICLR 2016.
    """

    alpha_init: ArrayLike = 1.0
    _: dataclasses.KW_ONLY
    channelwise: bool = False
    dtype: Any = None
    param_dtype: Any = jnp.float32
    constraint: str | None = None

    def _spec(self) -> tuple[str, dict[str, Any], _Items, dict[str, str | None]]:
        c = _mc.resolve_constraints(("alpha",), self.constraint)
        return "elu", {"alpha": self.alpha_init}, (), c


class ParametricSELU(_Learnable):
    r"""SELU with learned :math:`\lambda` (``scale``) and :math:`\alpha`.

    .. math::

       \mathrm{pselu}(x) = \lambda \begin{cases} x & x > 0 \\
       \alpha (e^{x} - 1) & x \le 0 \end{cases}

    Klambauer et al. fix :math:`\lambda \approx 1.0507`, :math:`\alpha \approx
    1.6733` (``jaxact.selu``); here both start there and are trained.

    Args:
      scale_init: initial :math:`\lambda`; ``None`` takes the registry default
        (the SELU constant).
      alpha_init: initial :math:`\alpha`; ``None`` takes the SELU constant.
      channelwise: one value of each per feature of the last axis.
      dtype: the dtype of the computation (``x`` is cast to it); ``None``
        (default) computes in ``x``'s floating dtype, the parameters cast to it.
      param_dtype: the dtype of the parameter leaves (float32).
      constraint: ``None``, ``"positive"`` for both, or a mapping such as
        ``{"scale": "positive"}``; constrained leaves hold the raw value.

    Returns:
      On call, ``jaxact.parametric_selu(x, scale=scale, alpha=alpha)``; the
      leaves ``params["scale"]`` and ``params["alpha"]``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> v = linen.ParametricSELU().init(jax.random.key(0), jnp.ones(3))
      >>> sorted(v["params"])
      ['alpha', 'scale']

    References:
      Klambauer, Unterthiner, Mayr, Hochreiter. Self-Normalizing Neural
      Networks. NeurIPS 2017.
    """

    scale_init: ArrayLike | None = None
    alpha_init: ArrayLike | None = None
    _: dataclasses.KW_ONLY
    channelwise: bool = False
    dtype: Any = None
    param_dtype: Any = jnp.float32
    constraint: str | Mapping[str, str | None] | _Items | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.constraint, (str, type(None))):
            _set(self, "constraint", _mc.as_items(self.constraint, arg="constraint"))
        super().__post_init__()

    def _spec(self) -> tuple[str, dict[str, Any], _Items, dict[str, str | None]]:
        record = _mc.lookup("parametric_selu")
        c = _mc.resolve_constraints(("scale", "alpha"), self.constraint)
        init = {
            "scale": record.params["scale"] if self.scale_init is None else self.scale_init,
            "alpha": record.params["alpha"] if self.alpha_init is None else self.alpha_init,
        }
        return "parametric_selu", init, (), c


class Maxout(nn.Module):
    r"""Maxout unit: ``num_pieces`` affine maps of the same input, elementwise max.

    .. math::

       y_j = \max_{p < k} \left( x W^{(p)}_{:, j} + b^{(p)}_j \right),
       \qquad j < \text{features}.

    Implemented as one Dense of ``features * num_pieces`` outputs followed by
    ``jaxact.maxout(num_pieces=k)``, which takes the max over consecutive groups:
    kernel column ``j * k + p`` is piece ``p`` of unit ``j``, so piece ``p``'s
    own Dense kernel is ``kernel[:, p::k]``. The params are those of that Dense
    (submodule ``dense``): ``kernel`` of shape ``(in, features * num_pieces)``
    and ``bias`` of shape ``(features * num_pieces,)``, exactly ``num_pieces`` times the parameters
    of ``Dense(features)`` (twice as many for k = 2).

    Args:
      features: number of output units.
      num_pieces: number of affine pieces k (>= 1; k = 1 is a plain Dense).
      use_bias: whether the pieces have biases.
      kernel_init: a name from :func:`jaxact.initializers.names` or an initializer.
      bias_init: bias initializer.
      dtype: the dtype of the computation, as ``flax.linen.Dense``'s (``None``:
        inferred from the input and the parameters).
      param_dtype: the dtype of the kernel and bias (float32).

    Returns:
      On call, an array of shape ``x.shape[:-1] + (features,)``.

    Raises:
      ValueError: ``features`` or ``num_pieces`` not an integer >= 1, or an
        unknown ``kernel_init`` name.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> v = linen.Maxout(4, num_pieces=3).init(jax.random.key(0), jnp.ones((2, 6)))
      >>> v["params"]["dense"]["kernel"].shape, v["params"]["dense"]["bias"].shape
      ((6, 12), (12,))

    References:
      Goodfellow, Warde-Farley, Mirza, Courville, Bengio. Maxout Networks. ICML 2013.
    """

    features: int
    num_pieces: int = 2
    _: dataclasses.KW_ONLY
    use_bias: bool = True
    kernel_init: str | Callable[..., jax.Array] = "lecun_normal"
    bias_init: Callable[..., jax.Array] = nn.initializers.zeros_init()
    dtype: Any = None
    param_dtype: Any = jnp.float32

    def __post_init__(self) -> None:
        _mc.check_positive_int(self.features, arg="features")
        _mc.check_positive_int(self.num_pieces, arg="num_pieces")
        _mc.kernel_initializer(self.kernel_init)
        _mc.check_dtype(self.dtype, arg="dtype")
        _mc.check_dtype(self.param_dtype, arg="param_dtype", allow_none=False)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        width = self.features * self.num_pieces
        y = nn.Dense(
            width,
            use_bias=self.use_bias,
            kernel_init=_mc.kernel_initializer(self.kernel_init),
            bias_init=self.bias_init,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            name="dense",
        )(x)
        return _mc.lookup("maxout").fn(y, num_pieces=self.num_pieces, axis=-1)


class MLP(nn.Module):
    r"""A Dense stack with an activation between layers.

    .. math::

       h_0 = x, \quad h_{i+1} = f(h_i W_i + b_i) \ (i < L - 1), \quad
       y = g(h_{L-1} W_{L-1} + b_{L-1}),

    with :math:`f` = ``activation`` and :math:`g` = ``output_activation``
    (identity when ``None``).

    Submodule names: ``dense_0 ... dense_{L-1}`` for the Dense layers and
    ``act_0 ... act_{L-2}`` for the hidden activations (``act_out`` for the
    output activation). With ``activation="maxout"`` hidden layer ``i`` is one
    :class:`Maxout` named ``maxout_i`` (its Dense is ``maxout_i/dense``) and
    there is no ``act_i`` or ``dense_i``. A hidden layer is
    Dense → ``norm_i`` (with ``normalization``) → activation → ``dropout_i``
    (with ``dropout_rate > 0``).

    Args:
      layer_sizes: output width of each Dense; the last one is the output
        layer. The input width is inferred at the first call.
      activation: a registry name for the hidden activation, or ``"maxout"``.
      activation_params: fixed values of the activation's parameters, or the
        initial values of the learnable ones.
      learnable: ``False`` (fixed), ``True`` (all of the activation's
        ``.learnable``), or a tuple of those names. Each hidden layer gets its
        own parameters.
      kernel_init: a name from :func:`jaxact.initializers.names` or an
        initializer, used for every kernel (biases start at 0).
      output_activation: a registry name applied after the last layer, or None.
      channelwise: with ``learnable``, one value per hidden unit.
      num_pieces: pieces per unit when ``activation="maxout"``.
      use_bias: whether the Dense layers have biases.
      dropout_rate: dropout after each hidden activation (0: none). Active when
        ``deterministic`` is false; it then needs a ``"dropout"`` rng
        (``apply(..., rngs={"dropout": key})``).
      normalization: ``None``, ``"layer_norm"`` or ``"rms_norm"``: a
        normalisation of each hidden layer's pre-activations (``norm_i``; not
        with ``"maxout"``).
      deterministic: disables dropout; may also be given at call (as
        ``flax.linen.Dropout``'s).
      dtype: the dtype of the computation of every layer (``None``: Flax's
        inference from inputs and parameters).
      param_dtype: the dtype of every parameter (float32).

    Returns:
      On call, an array of shape ``x.shape[:-1] + (layer_sizes[-1],)``.

    Raises:
      ValueError: an unknown activation, initialisation or learnable name;
        ``channelwise`` without ``learnable``; ``activation_params`` with
        ``"maxout"`` (use ``num_pieces``); a bad ``num_pieces`` or width; a
        ``dropout_rate`` outside [0, 1), an unknown ``normalization`` or dtype.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> mlp = linen.MLP((8, 8, 1), "prelu", learnable=True)
      >>> v = mlp.init(jax.random.key(0), jnp.ones((4, 6)))
      >>> sorted(v["params"])
      ['act_0', 'act_1', 'dense_0', 'dense_1', 'dense_2']
      >>> mlp.apply(v, jnp.ones((4, 6))).shape
      (4, 1)
    """

    layer_sizes: Sequence[int]
    activation: str
    _: dataclasses.KW_ONLY
    activation_params: Mapping[str, Any] | _Items | None = None
    learnable: bool | Sequence[str] = False
    kernel_init: str | Callable[..., jax.Array] = "he_normal"
    output_activation: str | None = None
    channelwise: bool = False
    num_pieces: int = 2
    use_bias: bool = True
    dropout_rate: float = 0.0
    normalization: str | None = None
    deterministic: bool | None = None
    dtype: Any = None
    param_dtype: Any = jnp.float32

    def __post_init__(self) -> None:
        _mc.check_mlp_options(
            self.activation,
            use_bias=self.use_bias,
            dropout_rate=self.dropout_rate,
            normalization=self.normalization,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
        )
        _set(self, "layer_sizes", _mc.check_layer_sizes(self.layer_sizes))
        _set(
            self,
            "activation_params",
            _mc.as_items(self.activation_params, arg="activation_params"),
        )
        if isinstance(self.learnable, list):
            _set(self, "learnable", tuple(self.learnable))
        _mc.check_mlp(
            self.activation,
            activation_params=self.activation_params,
            learnable=self.learnable,
            kernel_init=self.kernel_init,
            output_activation=self.output_activation,
            channelwise=self.channelwise,
            num_pieces=self.num_pieces,
        )
        super().__post_init__()

    @nn.compact
    def __call__(self, x: ArrayLike, deterministic: bool | None = None) -> jax.Array:
        kinit = _mc.kernel_initializer(self.kernel_init)
        record = _mc.lookup(self.activation)
        names = _mc.mlp_learnable(record, self.learnable)
        init, fixed = _mc.split_activation_params(record, self.activation_params, names)
        dtypes = {"dtype": self.dtype, "param_dtype": self.param_dtype}
        dense = {"kernel_init": kinit, "use_bias": self.use_bias, **dtypes}
        if self.dropout_rate > 0:
            deterministic = nn.merge_param("deterministic", self.deterministic, deterministic)
        last = len(self.layer_sizes) - 1
        for i, width in enumerate(self.layer_sizes[:-1]):
            if record.name == "maxout":
                x = Maxout(width, self.num_pieces, name=f"maxout_{i}", **dense)(x)
            else:
                x = nn.Dense(width, name=f"dense_{i}", **dense)(x)
                if self.normalization == "layer_norm":
                    x = nn.LayerNorm(name=f"norm_{i}", **dtypes)(x)
                elif self.normalization == "rms_norm":
                    x = nn.RMSNorm(name=f"norm_{i}", **dtypes)(x)
                if names:
                    x = LearnableActivation(
                        self.activation,
                        learnable=names,
                        init_values=init,
                        params=fixed,
                        channelwise=self.channelwise,
                        name=f"act_{i}",
                        **dtypes,
                    )(x)
                else:
                    x = Activation(self.activation, fixed, dtype=self.dtype, name=f"act_{i}")(x)
            if self.dropout_rate > 0:
                x = nn.Dropout(self.dropout_rate, name=f"dropout_{i}")(x, deterministic)
        x = nn.Dense(self.layer_sizes[-1], name=f"dense_{last}", **dense)(x)
        if self.output_activation is not None:
            x = Activation(self.output_activation, dtype=self.dtype, name="act_out")(x)
        return x


def _selected_paths(params: Any, model: nn.Module | None, inputs: tuple) -> list[tuple[str, ...]]:
    """The activation-parameter paths of ``params`` (through the one lookup, jaxact._src.params)."""
    from jaxact._src import params as _params

    tree = params["params"] if isinstance(params, Mapping) and "params" in params else params
    prefix = ("params",) if tree is not params else ()
    paths = _params.leaf_paths(tree)
    if model is not None:
        if not inputs:
            raise ValueError("inputs: give an example input with model= (to trace its modules)")
        default = _params.under(_params.linen_activation_modules(model, *inputs), paths)
    else:
        wanted = _mc.all_learnable_names()
        default = [p for p in paths if p[-1] in wanted]
    return [prefix + p for p in default]


def activation_params(params: Any, model: nn.Module | None = None, *inputs: Any) -> dict[str, list[jax.Array]]:
    r"""Collect the learnable activation leaves of a Linen params tree, in layer order.

    With ``model`` (and an example input), a leaf is collected when it belongs
    to one of jaxact's activation modules in ``model`` — found by module, so a
    ``LayerNorm``'s ``scale`` is never taken for a parametric SELU's ``scale``.
    Without it, a leaf is collected when its name is a learnable registry
    parameter (``alpha``, ``beta``, ``scale``, ...), which is only right for
    models whose other layers have no such names (jaxact's ``MLP`` without
    normalisation). Layers are ordered by their path with numbers compared as
    numbers (``act_2`` before ``act_10``). Constrained parameters are returned
    raw (see the module docstring).

    Args:
      params: ``variables["params"]`` (or the whole ``variables``).
      model: the module ``params`` belongs to (recommended).
      *inputs: an example input of ``model`` (its shape is all that is used).

    Returns:
      ``{name: [leaf, ...]}`` for every such name present.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> mlp = linen.MLP((8, 8, 1), "parametric_selu", learnable=True, normalization="layer_norm")
      >>> v = mlp.init(jax.random.key(0), jnp.ones(6))
      >>> {k: len(v) for k, v in linen.activation_params(v["params"], mlp, jnp.ones(6)).items()}
      {'alpha': 2, 'scale': 2}
    """
    from jaxact._src import params as _params

    out: dict[str, list[jax.Array]] = {}
    for path in _selected_paths(params, model, inputs):
        out.setdefault(path[-1], []).append(_params.get(params, path))
    return out


def replace_activation_params(
    params: Any, model: nn.Module | None = None, *inputs: Any, **values: ArrayLike
) -> Any:
    r"""Set every learnable activation leaf called ``name`` to ``values[name]``.

    .. math::

       \text{leaf} \leftarrow \texttt{jnp.full\_like(leaf, value)}

    ``value`` may be a traced scalar, so a sweep can ``vmap`` over it. For a
    constrained parameter this sets the raw leaf. The leaves are those
    :func:`activation_params` selects (pass ``model`` and an example input to
    select by module rather than by name).

    Args:
      params: a Linen params tree (or the whole ``variables``).
      model: the module ``params`` belongs to (recommended).
      *inputs: an example input of ``model``.
      **values: parameter name -> scalar value, e.g. ``alpha=0.1``.

    Returns:
      A tree of the same structure with those leaves replaced.

    Raises:
      ValueError: a name that is not a learnable activation parameter, or that
        has no leaf in ``params``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> p = linen.PReLU().init(jax.random.key(0), jnp.ones(2))["params"]
      >>> jax.vmap(lambda a: linen.replace_activation_params(p, alpha=a))(jnp.arange(3.0))
      {'alpha': Array([0., 1., 2.], dtype=float32)}
    """
    from jaxact._src import params as _params

    wanted = _mc.all_learnable_names()
    for name in values:
        if name not in wanted:
            raise ValueError(
                f"values: {name!r} is not a learnable activation parameter; expected one of "
                f"{', '.join(sorted(wanted))}."
            )
    paths = [p for p in _selected_paths(params, model, inputs) if p[-1] in values]
    missing = [n for n in values if n not in {p[-1] for p in paths}]
    if missing:
        raise ValueError(f"values: params has no activation leaf named {missing}.")
    return _params.replace(
        params, {p: (lambda leaf, v=values[p[-1]]: jnp.full_like(leaf, v)) for p in paths}
    )


# The core unit of the activation search space (jaxact.search_space).
from jaxact._src.core_unit_modules import LinenCoreUnit as CoreUnit  # noqa: E402

__all__ += ["CoreUnit"]


# ----------------------------------------------------------------------------
# Learnable-shape activations: rational (PAU), adaptive piecewise linear, blend.
# Their parameters are coefficient arrays: a leaf of shape (K,) shared by the
# layer, or (features, K) with channelwise=True (last axis = coefficient).
# ----------------------------------------------------------------------------

from jaxact._src import learnable_shapes as _ls  # noqa: E402


class Rational(nn.Module):
    r"""Rational activation (safe PAU) with learned coefficients (Molina et al., 2020).

    .. math::

       f(x) = \frac{\sum_{j=0}^{m} a_j x^j}{1 + \left|\sum_{k=1}^{n} b_k x^k\right|}
       \quad (\texttt{jaxact.rational}).

    Leaves ``params["numerator"]`` (:math:`a`, shape ``(m + 1,)``) and
    ``params["denominator"]`` (:math:`b`, shape ``(n,)``), float32; with
    ``channelwise=True`` one set per feature of the last axis, shapes
    ``(features, m + 1)`` and ``(features, n)`` (sized at the first call).

    Args:
      init_target: the catalogue activation whose least-squares fit
        (:func:`jaxact.fit_rational` on ``interval``) gives the initial
        coefficients; ``"leaky_relu"`` by default, as in Molina et al.
      degrees: :math:`(m, n)` for the fit.
      interval: the fit interval.
      numerator_init, denominator_init: explicit initial coefficients (both or
        neither), shape ``(K,)`` or ``(features, K)``; they replace the fit, so
        a sweep over initial coefficient sets passes arrays here.
      channelwise: one coefficient set per feature instead of one shared.

    Returns:
      On call, ``jaxact.rational(x, numerator=a, denominator=b)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> layer = linen.Rational("gelu", degrees=(3, 2))
      >>> v = layer.init(jax.random.key(0), jnp.ones(4))
      >>> v["params"]["numerator"].shape, v["params"]["denominator"].shape
      ((4,), (2,))
    """

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

    init_target: str | None = "leaky_relu"
    degrees: tuple[int, int] = (5, 4)
    interval: tuple[float, float] = (-3.0, 3.0)
    _: dataclasses.KW_ONLY
    numerator_init: Any = None
    denominator_init: Any = None
    channelwise: bool = False

    def __post_init__(self) -> None:
        numerator = _ls.coefficients_arg(self.numerator_init, arg="numerator_init")
        _set(self, "numerator_init", numerator)
        _set(
            self,
            "denominator_init",
            _ls.coefficients_arg(self.denominator_init, arg="denominator_init"),
        )
        self._initial()  # checks the arguments at construction
        super().__post_init__()

    def _initial(self):
        return _ls.rational_module_init(
            self.init_target,
            self.degrees,
            self.interval,
            self.numerator_init,
            self.denominator_init,
        )

    @nn.compact
    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        prefix = _mc.expected_shape(x, self.channelwise)
        num, den = self._initial()
        a = self.param("numerator", lambda _: _ls.coefficient_leaf(num, prefix, arg="numerator"))
        b = self.param(
            "denominator", lambda _: _ls.coefficient_leaf(den, prefix, arg="denominator")
        )
        return _ls.rational(x, numerator=a, denominator=b)


class APL(nn.Module):
    r"""Adaptive piecewise linear unit with learned hinges (Agostinelli et al., 2015).

    .. math::

       f(x) = \max(0, x) + \sum_{s=1}^{S} a_s \max(0, -x + b_s)
       \quad (\texttt{jaxact.apl}).

    Leaves ``params["slopes"]`` (:math:`a`) and ``params["hinges"]``
    (:math:`b`), float32, shape ``(S,)`` or, with ``channelwise=True``,
    ``(features, S)``. By default :math:`a = (-0.25, 0, \dots, 0)` and
    :math:`b = (0, -1, \dots, -(S-1))`: the unit starts as PReLU(0.25).

    Args:
      num_hinges: :math:`S`.
      slopes_init, hinges_init: explicit initial values, shape ``(S,)`` or
        ``(features, S)``.
      channelwise: one set per feature of the last axis.

    Returns:
      On call, ``jaxact.apl(x, slopes=a, hinges=b)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> v = linen.APL(2).init(jax.random.key(0), jnp.ones(3))
      >>> v["params"]["slopes"], v["params"]["hinges"]
      (Array([-0.25,  0.  ], dtype=float32), Array([ 0., -1.], dtype=float32))
    """

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

    num_hinges: int = 1
    _: dataclasses.KW_ONLY
    slopes_init: Any = None
    hinges_init: Any = None
    channelwise: bool = False

    def __post_init__(self) -> None:
        _set(self, "slopes_init", _ls.coefficients_arg(self.slopes_init, arg="slopes_init"))
        _set(self, "hinges_init", _ls.coefficients_arg(self.hinges_init, arg="hinges_init"))
        _ls.apl_module_init(self.num_hinges, self.slopes_init, self.hinges_init)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        prefix = _mc.expected_shape(x, self.channelwise)
        slopes, hinges = _ls.apl_module_init(self.num_hinges, self.slopes_init, self.hinges_init)
        a = self.param("slopes", lambda k: _ls.coefficient_leaf(slopes, prefix, arg="slopes"))
        b = self.param("hinges", lambda k: _ls.coefficient_leaf(hinges, prefix, arg="hinges"))
        return _ls.apl(x, slopes=a, hinges=b)


class Blend(nn.Module):
    r"""A learned combination of catalogue activations (Manessi & Rozza, 2018).

    .. math::

       f(x) = \sum_i \pi_i f_i(x), \quad \pi = w \text{ or } \operatorname{softmax}(w)
       \quad (\texttt{jaxact.blend}).

    Leaf ``params["weights"]`` (:math:`w`), float32, shape ``(K,)`` or, with
    ``channelwise=True``, ``(features, K)``; by default the equal mix
    (:math:`w_i = 1/K`, or :math:`0` with ``normalize=True``).

    Args:
      activations: elementwise catalogue names :math:`f_i`.
      weights_init: explicit initial weights, shape ``(K,)`` or ``(features, K)``.
      normalize: use :math:`\operatorname{softmax}(w)` (a convex combination).
      channelwise: one set of weights per feature of the last axis.

    Returns:
      On call, ``jaxact.blend(x, activations=..., weights=w, normalize=...)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxact import linen
      >>> layer = linen.Blend(("relu", "tanh"))
      >>> layer.init(jax.random.key(0), jnp.ones(3))["params"]["weights"]
      Array([0.5, 0.5], dtype=float32)
    """

    #: found by the sweep engine's default parameter selection (jaxact._src.params).
    is_jaxact_activation: ClassVar[bool] = True

    activations: tuple[str, ...] = ("identity", "relu", "tanh")
    _: dataclasses.KW_ONLY
    weights_init: Any = None
    normalize: bool = False
    channelwise: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.activations, list):
            _set(self, "activations", tuple(self.activations))
        _set(self, "weights_init", _ls.coefficients_arg(self.weights_init, arg="weights_init"))
        _ls.blend_module_init(self.activations, self.weights_init, self.normalize)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        prefix = _mc.expected_shape(x, self.channelwise)
        w0 = _ls.blend_module_init(self.activations, self.weights_init, self.normalize)
        w = self.param("weights", lambda k: _ls.coefficient_leaf(w0, prefix, arg="weights"))
        return _ls.blend(x, activations=self.activations, weights=w, normalize=self.normalize)


__all__ += ["APL", "Blend", "Rational"]
