"""jaxact: activation functions for JAX, with closed-form derivatives and a registry.

Every activation is a pure function ``f(x, *, <params>) -> Array`` (see
:func:`names`), and :func:`get` returns its registry record: formulas,
closed-form derivatives (``dfdx``, ``dfdparams``), parameters and properties.

Flax modules, initialisations and plots live in submodules that are not
imported here: ``from jaxact import linen``, ``from jaxact import nnx``,
``from jaxact import initializers``.
"""

from jaxact._src.activations import celu as celu
from jaxact._src.activations import elu as elu
from jaxact._src.activations import gelu as gelu
from jaxact._src.activations import hard_sigmoid as hard_sigmoid
from jaxact._src.activations import hard_tanh as hard_tanh
from jaxact._src.activations import identity as identity
from jaxact._src.activations import leaky_relu as leaky_relu
from jaxact._src.activations import log_sigmoid as log_sigmoid
from jaxact._src.activations import log_softmax as log_softmax
from jaxact._src.activations import maxout as maxout
from jaxact._src.activations import mish as mish
from jaxact._src.activations import parametric_selu as parametric_selu
from jaxact._src.activations import prelu as prelu
from jaxact._src.activations import relu as relu
from jaxact._src.activations import relu6 as relu6
from jaxact._src.activations import selu as selu
from jaxact._src.activations import sigmoid as sigmoid
from jaxact._src.activations import silu as silu
from jaxact._src.activations import softmax as softmax
from jaxact._src.activations import softmin as softmin
from jaxact._src.activations import softplus as softplus
from jaxact._src.activations import softsign as softsign
from jaxact._src.activations import step as step
from jaxact._src.activations import swish as swish
from jaxact._src.activations import tanh as tanh
from jaxact._src.activations import threshold as threshold
from jaxact._src.registry import Activation as Activation
from jaxact._src.registry import UnknownActivationError as UnknownActivationError
from jaxact._src.registry import get as get
from jaxact._src.registry import names as names
from jaxact._src.registry import registry_markdown as registry_markdown

__all__ = [
    "Activation",
    "UnknownActivationError",
    "celu",
    "elu",
    "gelu",
    "get",
    "hard_sigmoid",
    "hard_tanh",
    "identity",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "maxout",
    "mish",
    "names",
    "parametric_selu",
    "prelu",
    "registry_markdown",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softsign",
    "step",
    "swish",
    "tanh",
    "threshold",
]
