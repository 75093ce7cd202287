r"""One registry of activation metadata: formula, derivatives, properties, references.

``names()`` lists the catalogue, ``get(name)`` returns its :class:`Activation`
record, and ``registry_markdown()`` renders all records as the Markdown table
that the README embeds verbatim.

Property fields are claims about the function *at its default parameters*,
and ``tests/test_registry.py`` checks each one numerically:

- ``output_range``: ``(inf f, sup f)``, with ``±inf`` where unbounded. Whether
  an end is attained (``relu`` reaches 0, ``sigmoid`` does not) is stated in
  the activation's docstring, not here.
- ``zero_centred``: for a standard normal input :math:`z`,
  :math:`|\mathbb{E} f(z)| \le 0.01 \sqrt{\mathbb{E} f(z)^2}` (the outputs of a
  layer fed with normalised inputs have mean about zero). ELU only moves the
  mean towards zero (0.16 against ReLU's 0.40) and is not zero-centred by this
  definition; SELU is, by construction.
- ``monotonic``: non-decreasing (for the non-elementwise ones: in each input
  coordinate, every output coordinate that depends on it non-decreasing).
- ``smooth``: continuously differentiable everywhere (no kink, no jump).
- ``domain``: the open interval where :math:`f` is defined; the properties
  above hold on it (:math:`(-\infty, \infty)` for all but ``log1mexp``).
- ``saturating``: the sides (``"negative"``, ``"positive"``) where
  :math:`f'(x) \to 0` as :math:`x \to \mp\infty`. For the softmax family: the
  side towards which one logit must move, all else fixed, for the whole
  Jacobian to vanish (``softmax`` when one logit dominates).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import types
from collections.abc import Callable, Mapping
from typing import Any

from jaxact._src import activations as _a
from jaxact._src import activations_extra as _x
from jaxact._src import derivatives as _d
from jaxact._src import learnable_shapes as _ls

_INF = math.inf


class UnknownActivationError(KeyError, ValueError):
    """Raised by :func:`get` for a name that is not in :func:`names`.

    A subclass of both ``KeyError`` (a failed lookup) and ``ValueError`` (a bad
    argument value), so either ``except`` clause catches it.
    """

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0]) if self.args else ""


@dataclasses.dataclass(frozen=True)
class Activation:
    """Registry record of one activation (claims are for the default parameters).

    Attributes:
      name: registry name, also the name of the public function.
      fn: the activation, ``fn(x, **params)``.
      dfdx: closed-form derivative. Elementwise: ``dfdx(x, **params)`` is
        :math:`f'(x)`; otherwise ``dfdx(x, v, **params)`` is :math:`J(x)\\,v`.
      dfdparams: parameter name -> closed-form ``(x, **params) ->``
        :math:`\\partial f/\\partial p` elementwise (empty when none).
      params: every parameter of ``fn`` after ``x`` -> its default, except
        those whose default is ``None`` (aliases such as ``negative_slope``,
        masks such as ``where``, ``rrelu``'s ``training``); ``threshold`` and
        ``maxout``, whose functions require them, get 0.0/0.0 and 2 here.
      learnable: the continuous, differentiable parameters worth learning.
      constraints: parameter -> ``"positive"``, ``"non-negative"`` or
        ``"positive integer"``; concrete violations raise ``ValueError``.
      elementwise: whether ``fn`` acts on each entry separately.
      formula: LaTeX of :math:`f`.
      derivative_formula: LaTeX of :math:`f'` (and :math:`\\partial f/\\partial p`).
      output_range: ``(inf f, sup f)``, ``±math.inf`` where unbounded.
      zero_centred: mean about 0 under a standard normal input (see module doc).
      monotonic: non-decreasing.
      smooth: continuously differentiable everywhere.
      saturating: sides where :math:`f' \\to 0`, a subset of
        ``("negative", "positive")``.
      reference: the paper or source of the definition.
      domain: ``(lo, hi)``, the open interval of inputs where ``fn`` is defined
        (``(-math.inf, math.inf)`` except for ``log1mexp``).
    """

    name: str
    fn: Callable[..., Any]
    dfdx: Callable[..., Any]
    dfdparams: Mapping[str, Callable[..., Any]]
    params: Mapping[str, Any]
    learnable: tuple[str, ...]
    constraints: Mapping[str, str]
    elementwise: bool
    formula: str
    derivative_formula: str
    output_range: tuple[float, float]
    zero_centred: bool
    monotonic: bool
    smooth: bool
    saturating: tuple[str, ...]
    reference: str
    domain: tuple[float, float] = (-math.inf, math.inf)

    def __hash__(self) -> int:  # the Mapping fields are not hashable; names are unique
        return hash(self.name)


def _keyword_defaults(fn: Callable[..., Any], required: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``fn`` after ``x`` with its default (``required`` fills the rest).

    Positional-or-keyword and keyword-only parameters count; those whose
    default is ``None`` (aliases, masks, optional keys) do not.
    """
    out = {}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.kind not in kinds or (p.default is None):
            continue
        out[p.name] = required[p.name] if p.default is inspect.Parameter.empty else p.default
    return out


def _record(
    fn: Callable[..., Any],
    *,
    formula: str,
    derivative: str,
    output_range: tuple[float, float],
    zero_centred: bool,
    monotonic: bool,
    smooth: bool,
    saturating: tuple[str, ...],
    reference: str,
    domain: tuple[float, float] = (-_INF, _INF),
    learnable: tuple[str, ...] = (),
    required: Mapping[str, Any] = types.MappingProxyType({}),
    extra_constraints: Mapping[str, str] = types.MappingProxyType({}),
    elementwise: bool = True,
) -> Activation:
    name = fn.__name__
    params = _keyword_defaults(fn, required)
    if name in _d.SPECIAL_DFDX:
        dfdx = _d.SPECIAL_DFDX[name]
    else:
        dfdx = _d.elementwise(name, _d.DX_KERNELS[name], "x", params)
    dfdparams = {
        p: _d.elementwise(name, kernel, p, params)
        for p, kernel in _d.DPARAM_KERNELS.get(name, {}).items()
    }
    dfdparams.update(_d.SPECIAL_DFDPARAMS.get(name, {}))
    constraints = {**_a.CONSTRAINTS.get(name, {}), **extra_constraints}
    return Activation(
        name=name,
        fn=fn,
        dfdx=dfdx,
        dfdparams=types.MappingProxyType(dfdparams),
        params=types.MappingProxyType(params),
        learnable=learnable,
        constraints=types.MappingProxyType(constraints),
        elementwise=elementwise,
        formula=formula,
        derivative_formula=derivative,
        output_range=output_range,
        zero_centred=zero_centred,
        monotonic=monotonic,
        smooth=smooth,
        saturating=saturating,
        reference=reference,
        domain=domain,
    )


_BOTH = ("negative", "positive")
_NEG = ("negative",)
_POS = ("positive",)
_SELU_MIN = -_a.SELU_SCALE * _a.SELU_ALPHA
# Global minima of the non-monotonic gated units (value; argmin in the docstrings).
_SWISH_MIN = -0.27846454276107385
_GELU_MIN = -0.1699712074799037
_MISH_MIN = -0.30884341301725043

_LEAKY_F = r"f(x) = \max(0, x) + \alpha \min(0, x)"
_LEAKY_D = (
    r"f'(x) = \mathbb{1}[x > 0] + \alpha\,\mathbb{1}[x \le 0],\quad "
    r"\partial_\alpha f = \min(0, x)"
)
_SELU_D = r"f'(x) = \lambda\,\mathbb{1}[x > 0] + \lambda \alpha e^{x}\,\mathbb{1}[x \le 0]"
_SELU_REF = (
    "Klambauer, Unterthiner, Mayr & Hochreiter (2017), Self-normalizing neural "
    "networks, NeurIPS, arXiv:1706.02515"
)
_SOFTMAX_REF = (
    "Bridle (1990), Probabilistic interpretation of feedforward classification "
    "network outputs, with relationships to statistical pattern recognition"
)

_CATALOGUE: tuple[Activation, ...] = (
    _record(
        _a.identity,
        formula=r"f(x) = x",
        derivative=r"f'(x) = 1",
        output_range=(-_INF, _INF),
        zero_centred=True,
        monotonic=True,
        smooth=True,
        saturating=(),
        reference="The linear unit; without a nonlinearity stacked layers collapse to one linear map",
    ),
    _record(
        _a.step,
        formula=r"f(x) = \mathbb{1}[x > 0]",
        derivative=r"f'(x) = 0",
        output_range=(0.0, 1.0),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=_BOTH,
        reference="McCulloch & Pitts (1943); Rosenblatt (1958), the perceptron",
    ),
    _record(
        _a.threshold,
        formula=r"f(x) = x\,\mathbb{1}[x > \theta] + v\,\mathbb{1}[x \le \theta]",
        derivative=(
            r"f'(x) = \mathbb{1}[x > \theta],\quad \partial_v f = \mathbb{1}[x \le \theta],"
            r"\quad \partial_\theta f = 0"
        ),
        output_range=(0.0, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=_NEG,
        reference="torch.nn.Threshold (PyTorch documentation)",
        required={"threshold": 0.0, "value": 0.0},
    ),
    _record(
        _a.sigmoid,
        formula=r"f(x) = \frac{1}{1 + e^{-x}}",
        derivative=r"f'(x) = f(x)\,(1 - f(x))",
        output_range=(0.0, 1.0),
        zero_centred=False,
        monotonic=True,
        smooth=True,
        saturating=_BOTH,
        reference=(
            "Rumelhart, Hinton & Williams (1986), Learning representations by "
            "back-propagating errors, Nature 323"
        ),
    ),
    _record(
        _a.tanh,
        formula=r"f(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
        derivative=r"f'(x) = 1 - f(x)^{2}",
        output_range=(-1.0, 1.0),
        zero_centred=True,
        monotonic=True,
        smooth=True,
        saturating=_BOTH,
        reference="LeCun, Bottou, Orr & Müller (1998), Efficient BackProp",
    ),
    _record(
        _a.relu,
        formula=r"f(x) = \max(0, x)",
        derivative=r"f'(x) = \mathbb{1}[x > 0]",
        output_range=(0.0, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=_NEG,
        reference=(
            "Nair & Hinton (2010), Rectified linear units improve restricted Boltzmann "
            "machines, ICML; Glorot, Bordes & Bengio (2011), AISTATS"
        ),
    ),
    _record(
        _a.leaky_relu,
        formula=_LEAKY_F,
        derivative=_LEAKY_D,
        output_range=(-_INF, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=(),
        reference=(
            "Maas, Hannun & Ng (2013), Rectifier nonlinearities improve neural network "
            "acoustic models, ICML workshop"
        ),
        learnable=("alpha",),
    ),
    _record(
        _a.prelu,
        formula=_LEAKY_F,
        derivative=_LEAKY_D,
        output_range=(-_INF, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=(),
        reference=(
            "He, Zhang, Ren & Sun (2015), Delving deep into rectifiers, ICCV, arXiv:1502.01852"
        ),
        learnable=("alpha",),
    ),
    _record(
        _a.elu,
        formula=r"f(x) = x\,\mathbb{1}[x > 0] + \alpha (e^{x} - 1)\,\mathbb{1}[x \le 0]",
        derivative=(
            r"f'(x) = \mathbb{1}[x > 0] + \alpha e^{x}\,\mathbb{1}[x \le 0],\quad "
            r"\partial_\alpha f = (e^{x} - 1)\,\mathbb{1}[x \le 0]"
        ),
        output_range=(-1.0, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=True,  # C^1 at the default alpha = 1 only
        saturating=_NEG,
        reference=(
            "Clevert, Unterthiner & Hochreiter (2016), Fast and accurate deep network "
            "learning by exponential linear units (ELUs), ICLR, arXiv:1511.07289"
        ),
        learnable=("alpha",),
    ),
    _record(
        _a.selu,
        formula=(
            r"f(x) = \lambda \left(x\,\mathbb{1}[x > 0] + \alpha (e^{x} - 1)\,"
            r"\mathbb{1}[x \le 0]\right),\ \lambda \approx 1.0507,\ \alpha \approx 1.6733"
        ),
        derivative=_SELU_D,
        output_range=(_SELU_MIN, _INF),
        zero_centred=True,
        monotonic=True,
        smooth=False,
        saturating=_NEG,
        reference=_SELU_REF,
    ),
    _record(
        _a.parametric_selu,
        formula=(
            r"f(x) = \lambda \left(x\,\mathbb{1}[x > 0] + \alpha (e^{x} - 1)\,"
            r"\mathbb{1}[x \le 0]\right)"
        ),
        derivative=(
            _SELU_D + r",\quad \partial_\lambda f = f(x) / \lambda,\quad "
            r"\partial_\alpha f = \lambda (e^{x} - 1)\,\mathbb{1}[x \le 0]"
        ),
        output_range=(_SELU_MIN, _INF),
        zero_centred=True,
        monotonic=True,
        smooth=False,
        saturating=_NEG,
        reference=_SELU_REF + " (with lambda = scale and alpha trained)",
        learnable=("scale", "alpha"),
    ),
    _record(
        _a.swish,
        formula=r"f(x) = x\,\sigma(\beta x)",
        derivative=(
            r"f'(x) = \sigma(\beta x) + \beta x\,\sigma(\beta x)\,(1 - \sigma(\beta x)),\quad "
            r"\partial_\beta f = x^{2}\,\sigma(\beta x)\,(1 - \sigma(\beta x))"
        ),
        output_range=(_SWISH_MIN, _INF),
        zero_centred=False,
        monotonic=False,
        smooth=True,
        saturating=_NEG,
        reference=(
            "Ramachandran, Zoph & Le (2017), Searching for activation functions, arXiv:1710.05941"
        ),
        learnable=("beta",),
    ),
    _record(
        _a.silu,
        formula=r"f(x) = x\,\sigma(x)",
        derivative=r"f'(x) = \sigma(x)\,\left(1 + x\,(1 - \sigma(x))\right)",
        output_range=(_SWISH_MIN, _INF),
        zero_centred=False,
        monotonic=False,
        smooth=True,
        saturating=_NEG,
        reference=(
            "Elfwing, Uchibe & Doya (2018), Sigmoid-weighted linear units for neural "
            "network function approximation in reinforcement learning, arXiv:1702.03118"
        ),
    ),
    _record(
        _a.maxout,
        formula=r"f(x)_i = \max_{0 \le j < k} x_{ik + j}",
        derivative=r"(J(x)\,v)_i = v_{ik + j^*_i},\ j^*_i = \text{first } \arg\max_j x_{ik + j}",
        output_range=(-_INF, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=(),
        reference=(
            "Goodfellow, Warde-Farley, Mirza, Courville & Bengio (2013), Maxout networks, "
            "ICML, arXiv:1302.4389"
        ),
        required={"num_pieces": 2},
        extra_constraints={"num_pieces": "positive integer"},
        elementwise=False,
    ),
    _record(
        _a.softmax,
        formula=r"f(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}",
        derivative=r"J(x)\,v = f(x) \odot \left(v - \langle f(x), v \rangle\right)",
        output_range=(0.0, 1.0),
        zero_centred=False,
        monotonic=False,
        smooth=True,
        saturating=_POS,
        reference=_SOFTMAX_REF,
        elementwise=False,
    ),
    _record(
        _a.softmin,
        formula=r"f(x)_i = \frac{e^{-x_i}}{\sum_j e^{-x_j}}",
        derivative=r"J(x)\,v = -f(x) \odot \left(v - \langle f(x), v \rangle\right)",
        output_range=(0.0, 1.0),
        zero_centred=False,
        monotonic=False,
        smooth=True,
        saturating=_NEG,
        reference="torch.nn.Softmin; the softmax of -x",
        elementwise=False,
    ),
    _record(
        _a.log_softmax,
        formula=r"f(x)_i = x_i - \log \sum_j e^{x_j}",
        derivative=r"J(x)\,v = v - \langle \operatorname{softmax}(x), v \rangle",
        output_range=(-_INF, 0.0),
        zero_centred=False,
        monotonic=False,
        smooth=True,
        saturating=(),
        reference=_SOFTMAX_REF,
        elementwise=False,
    ),
    _record(
        _a.gelu,
        formula=r"f(x) = x\,\Phi(x)",
        derivative=r"f'(x) = \Phi(x) + x\,\varphi(x)",
        output_range=(_GELU_MIN, _INF),
        zero_centred=False,
        monotonic=False,
        smooth=True,
        saturating=_NEG,
        reference="Hendrycks & Gimpel (2016), Gaussian error linear units (GELUs), arXiv:1606.08415",
    ),
    _record(
        _a.softplus,
        formula=r"f(x) = \log(1 + e^{x})",
        derivative=r"f'(x) = \sigma(x)",
        output_range=(0.0, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=True,
        saturating=_NEG,
        reference=(
            "Dugas, Bengio, Bélisle, Nadeau & Garcia (2001), Incorporating second-order "
            "functional knowledge for better option pricing, NeurIPS"
        ),
    ),
    _record(
        _a.mish,
        formula=r"f(x) = x \tanh(\operatorname{softplus}(x))",
        derivative=(
            r"f'(x) = \tanh(\operatorname{softplus}(x)) + x\,\sigma(x)\,"
            r"\operatorname{sech}^{2}(\operatorname{softplus}(x))"
        ),
        output_range=(_MISH_MIN, _INF),
        zero_centred=False,
        monotonic=False,
        smooth=True,
        saturating=_NEG,
        reference=(
            "Misra (2019), Mish: a self regularized non-monotonic activation function, "
            "arXiv:1908.08681"
        ),
    ),
    _record(
        _a.celu,
        formula=r"f(x) = \max(0, x) + \min\left(0, \alpha (e^{x/\alpha} - 1)\right)",
        derivative=(
            r"f'(x) = \mathbb{1}[x > 0] + e^{x/\alpha}\,\mathbb{1}[x \le 0],\quad "
            r"\partial_\alpha f = \left(e^{x/\alpha} - 1 - \tfrac{x}{\alpha} e^{x/\alpha}\right)"
            r"\mathbb{1}[x \le 0]"
        ),
        output_range=(-1.0, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=True,
        saturating=_NEG,
        reference=(
            "Barron (2017), Continuously differentiable exponential linear units, arXiv:1704.07483"
        ),
        learnable=("alpha",),
    ),
    _record(
        _a.hard_sigmoid,
        formula=r"f(x) = \frac{\min(\max(0, x + 3), 6)}{6}",
        derivative=r"f'(x) = \tfrac{1}{6}\,\mathbb{1}[-3 < x \le 3]",
        output_range=(0.0, 1.0),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=_BOTH,
        reference=(
            "jax.nn.hard_sigmoid (relu6(x + 3) / 6), as in Howard et al. (2019), "
            "Searching for MobileNetV3, arXiv:1905.02244"
        ),
    ),
    _record(
        _a.hard_tanh,
        formula=r"f(x) = \max(-1, \min(1, x))",
        derivative=r"f'(x) = \mathbb{1}[-1 < x \le 1]",
        output_range=(-1.0, 1.0),
        zero_centred=True,
        monotonic=True,
        smooth=False,
        saturating=_BOTH,
        reference=(
            "Collobert, Weston, Bottou, Karlen, Kavukcuoglu & Kuksa (2011), Natural "
            "language processing (almost) from scratch, JMLR"
        ),
    ),
    _record(
        _a.relu6,
        formula=r"f(x) = \min(\max(0, x), 6)",
        derivative=r"f'(x) = \mathbb{1}[0 < x \le 6]",
        output_range=(0.0, 6.0),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=_BOTH,
        reference="Krizhevsky (2010), Convolutional deep belief networks on CIFAR-10",
    ),
    _record(
        _a.softsign,
        formula=r"f(x) = \frac{x}{1 + \lvert x \rvert}",
        derivative=r"f'(x) = \frac{1}{(1 + \lvert x \rvert)^{2}}",
        output_range=(-1.0, 1.0),
        zero_centred=True,
        monotonic=True,
        smooth=True,
        saturating=_BOTH,
        reference=(
            "Glorot & Bengio (2010), Understanding the difficulty of training deep "
            "feedforward neural networks, AISTATS"
        ),
    ),
    _record(
        _a.log_sigmoid,
        formula=r"f(x) = -\log(1 + e^{-x})",
        derivative=r"f'(x) = \sigma(-x)",
        output_range=(-_INF, 0.0),
        zero_centred=False,
        monotonic=True,
        smooth=True,
        saturating=_POS,
        reference="log sigma(x) = -softplus(-x); jax.nn.log_sigmoid",
    ),
    _record(
        _x.glu,
        formula=r"f(x) = a \odot \sigma(b),\ x = [a, b]",
        derivative=r"J(x)\,v = v_a \odot \sigma(b) + a \odot \sigma'(b) \odot v_b",
        output_range=(-_INF, _INF),
        zero_centred=True,
        monotonic=False,
        smooth=True,
        saturating=(),
        reference=(
            "Dauphin, Fan, Auli & Grangier (2017), Language modeling with gated "
            "convolutional networks, ICML, arXiv:1612.08083"
        ),
        elementwise=False,
    ),
    _record(
        _x.hard_silu,
        formula=r"f(x) = x\,\frac{\min(\max(0, x + 3), 6)}{6}",
        derivative=r"f'(x) = \tfrac{2x + 3}{6}\,\mathbb{1}[-3 < x \le 3] + \mathbb{1}[x > 3]",
        output_range=(-0.375, _INF),
        zero_centred=False,
        monotonic=False,
        smooth=False,
        saturating=_NEG,
        reference="Howard et al. (2019), Searching for MobileNetV3, arXiv:1905.02244",
    ),
    _record(
        _x.squareplus,
        formula=r"f(x) = \frac{x + \sqrt{x^{2} + b}}{2}",
        derivative=(
            r"f'(x) = \frac{1}{2}\left(1 + \frac{x}{\sqrt{x^{2} + b}}\right),\quad "
            r"\partial_b f = \frac{1}{4\sqrt{x^{2} + b}}"
        ),
        output_range=(0.0, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=True,
        saturating=_NEG,
        reference="Barron (2021), Squareplus: a softplus-like algebraic rectifier, arXiv:2112.11687",
        learnable=("b",),
    ),
    _record(
        _x.sparse_plus,
        formula=r"f(x) = \tfrac{(x + 1)^{2}}{4}\,\mathbb{1}[-1 < x < 1] + x\,\mathbb{1}[x \ge 1]",
        derivative=r"f'(x) = \tfrac{1}{2}\operatorname{clip}(x + 1, 0, 2)",
        output_range=(0.0, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=True,
        saturating=_NEG,
        reference=(
            "Blondel, Martins & Niculae (2020), Learning with Fenchel-Young losses, "
            "JMLR, arXiv:1901.02324"
        ),
    ),
    _record(
        _x.sparse_sigmoid,
        formula=r"f(x) = \tfrac{1}{2}\operatorname{clip}(x + 1, 0, 2)",
        derivative=r"f'(x) = \tfrac{1}{2}\,\mathbb{1}[-1 < x \le 1]",
        output_range=(0.0, 1.0),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=_BOTH,
        reference=(
            "Blondel, Martins & Niculae (2020), Learning with Fenchel-Young losses, "
            "JMLR, arXiv:1901.02324"
        ),
    ),
    _record(
        _x.log1mexp,
        formula=r"f(x) = \log(1 - e^{-x}),\ x > 0",
        derivative=r"f'(x) = \frac{1}{e^{x} - 1}",
        output_range=(-_INF, 0.0),
        zero_centred=False,
        monotonic=True,
        smooth=True,
        saturating=_POS,
        reference=(
            "Mächler (2012), Accurately computing log(1 - exp(-a)), Rmpfr vignette; jax.nn.log1mexp"
        ),
        domain=(0.0, _INF),
    ),
    _record(
        _x.hardshrink,
        formula=r"f(x) = x\,\mathbb{1}[\lvert x \rvert > \lambda]",
        derivative=r"f'(x) = \mathbb{1}[\lvert x \rvert > \lambda],\quad \partial_\lambda f = 0",
        output_range=(-_INF, _INF),
        zero_centred=True,
        monotonic=True,
        smooth=False,
        saturating=(),
        reference="torch.nn.Hardshrink (PyTorch documentation)",
    ),
    _record(
        _x.softshrink,
        formula=r"f(x) = \operatorname{sign}(x)\max(\lvert x \rvert - \lambda, 0)",
        derivative=(
            r"f'(x) = \mathbb{1}[\lvert x \rvert > \lambda],\quad "
            r"\partial_\lambda f = -\operatorname{sign}(x)\,\mathbb{1}[\lvert x \rvert > \lambda]"
        ),
        output_range=(-_INF, _INF),
        zero_centred=True,
        monotonic=True,
        smooth=False,
        saturating=(),
        reference="torch.nn.Softshrink; Donoho (1995), De-noising by soft-thresholding",
        learnable=("lambd",),
    ),
    _record(
        _x.tanhshrink,
        formula=r"f(x) = x - \tanh x",
        derivative=r"f'(x) = \tanh^{2} x",
        output_range=(-_INF, _INF),
        zero_centred=True,
        monotonic=True,
        smooth=True,
        saturating=(),
        reference="torch.nn.Tanhshrink (PyTorch documentation)",
    ),
    _record(
        _x.rrelu,
        formula=(
            r"f(x) = \max(0, x) + a \min(0, x),\ a = \tfrac{l + u}{2}"
            r"\ (a \sim \mathcal{U}(l, u) \text{ in training})"
        ),
        derivative=(
            r"f'(x) = \mathbb{1}[x > 0] + \tfrac{l + u}{2}\,\mathbb{1}[x \le 0],\quad "
            r"\partial_l f = \partial_u f = \tfrac{1}{2}\min(0, x)"
        ),
        output_range=(-_INF, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=(),
        reference=(
            "Xu, Wang, Chen & Li (2015), Empirical evaluation of rectified activations "
            "in convolutional network, arXiv:1505.00853; torch.nn.RReLU"
        ),
    ),
)

# Learnable-shape activations: coefficient-array parameters (last axis = coefficient).
_CATALOGUE = _CATALOGUE + (
    _record(
        _ls.rational,
        formula=(
            r"f(x) = \frac{\sum_{j=0}^{m} a_j x^{j}}{1 + \lvert \sum_{k=1}^{n} b_k x^{k} \rvert},"
            r"\ (m, n) = (5, 4)"
        ),
        derivative=(
            r"f'(x) = \frac{P'(x) - f(x)\,\operatorname{sign}(s(x))\,s'(x)}{Q(x)},\quad "
            r"\partial_{a_j} f = \frac{x^{j}}{Q(x)},\quad "
            r"\partial_{b_k} f = -\frac{f(x)\,\operatorname{sign}(s(x))\,x^{k}}{Q(x)},"
            r"\ s = \sum_k b_k x^{k},\ \operatorname{sign}(0) = 0"
        ),
        output_range=(-_INF, _INF),
        zero_centred=False,
        monotonic=False,  # the default (a least-squares fit of leaky_relu) dips near 0
        smooth=True,
        saturating=(),
        reference=(
            "Molina, Schramowski & Kersting (2020), Pade activation units: end-to-end "
            "learning of flexible activation functions in deep networks, ICLR, arXiv:1907.06732"
        ),
        learnable=("numerator", "denominator"),
    ),
    _record(
        _ls.apl,
        formula=r"f(x) = \max(0, x) + \sum_{s=1}^{S} a_s \max(0, -x + b_s)",
        derivative=(
            r"f'(x) = \mathbb{1}[x > 0] - \sum_s a_s\,\mathbb{1}[x \le b_s],\quad "
            r"\partial_{a_s} f = \max(0, b_s - x),\quad "
            r"\partial_{b_s} f = a_s\,\mathbb{1}[x < b_s]"
        ),
        output_range=(-_INF, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=(),
        reference=(
            "Agostinelli, Hoffman, Sadowski & Baldi (2015), Learning activation functions "
            "to improve deep neural networks, ICLR workshop, arXiv:1412.6830"
        ),
        learnable=("slopes", "hinges"),
    ),
    _record(
        _ls.blend,
        formula=(
            r"f(x) = \sum_{i} \pi_i f_i(x),\ \pi = w\ \text{or}\ \operatorname{softmax}(w)"
            r"\ (f_i = \text{identity, relu, tanh by default})"
        ),
        derivative=(
            r"f'(x) = \sum_i \pi_i f_i'(x),\quad \partial_{w_i} f = f_i(x)\ \text{or}\ "
            r"\pi_i\,(f_i(x) - f(x))"
        ),
        output_range=(-_INF, _INF),
        zero_centred=False,
        monotonic=True,
        smooth=False,
        saturating=(),
        reference=(
            "Manessi & Rozza (2018), Learning combinations of activation functions, ICPR, "
            "arXiv:1801.09403"
        ),
        learnable=("weights",),
    ),
)

_BY_NAME: Mapping[str, Activation] = types.MappingProxyType({a.name: a for a in _CATALOGUE})


def names() -> tuple[str, ...]:
    """Names of every registered activation, in catalogue order.

    Returns:
      A tuple of names accepted by :func:`get`; each is also ``jaxact.<name>``.

    Examples:
      >>> import jaxact
      >>> jaxact.names()[:4]
      ('identity', 'step', 'threshold', 'sigmoid')
    """
    return tuple(_BY_NAME)


def get(name: str) -> Activation:
    """The registry record of an activation.

    Args:
      name: one of :func:`names`.

    Returns:
      The frozen :class:`Activation` record.

    Raises:
      UnknownActivationError: (a ``KeyError`` and a ``ValueError``) for an
        unknown name; the message lists close matches.
      TypeError: if ``name`` is not a string.

    Examples:
      >>> import jaxact
      >>> rec = jaxact.get("prelu")
      >>> rec.learnable, dict(rec.params)
      (('alpha',), {'alpha': 0.25})
    """
    if not isinstance(name, str):
        raise TypeError(f"jaxact.get: `name` must be a str, got {type(name).__name__} {name!r}.")
    try:
        return _BY_NAME[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_BY_NAME), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownActivationError(
            f"jaxact.get: unknown activation `name` {name!r}.{hint} "
            f"See jaxact.names() for the {len(_BY_NAME)} registered names."
        ) from None


def _fmt_bound(v: float) -> str:
    if v == _INF:
        return r"\infty"
    if v == -_INF:
        return r"-\infty"
    return f"{v:.5g}"


def registry_markdown() -> str:
    r"""All registry records as a Markdown table (deterministic; catalogue order).

    Columns: name, formula, derivative, range (inf ... sup, at the default
    parameters), zero-centred, monotonic, smooth, saturating. Formulas are
    inline math ``$...$`` and contain no ``|``.

    Returns:
      The table, one header row, one separator row and one row per name,
      ending with a newline.

    Examples:
      >>> import jaxact
      >>> print(jaxact.registry_markdown().splitlines()[0])
      | name | formula | derivative | range | zero-centred | monotonic | smooth | saturating |
    """
    yes_no = {True: "yes", False: "no"}
    lines = [
        "| name | formula | derivative | range | zero-centred | monotonic | smooth | saturating |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in _CATALOGUE:
        lo, hi = (_fmt_bound(v) for v in a.output_range)
        lines.append(
            f"| `{a.name}` | ${a.formula}$ | ${a.derivative_formula}$ | ${lo} \\ldots {hi}$ "
            f"| {yes_no[a.zero_centred]} | {yes_no[a.monotonic]} | {yes_no[a.smooth]} "
            f"| {', '.join(a.saturating) or '—'} |"
        )
    return "\n".join(lines) + "\n"
