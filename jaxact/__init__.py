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
from jaxact._src.activations import softsign as soft_sign
from jaxact._src.activations import softsign as softsign
from jaxact._src.activations import step as step
from jaxact._src.activations import swish as swish
from jaxact._src.activations import tanh as tanh
from jaxact._src.activations import threshold as threshold
from jaxact._src.activations_extra import glu as glu
from jaxact._src.activations_extra import hard_silu as hard_silu
from jaxact._src.activations_extra import hard_silu as hard_swish
from jaxact._src.activations_extra import hardshrink as hardshrink
from jaxact._src.activations_extra import log1mexp as log1mexp
from jaxact._src.activations_extra import rrelu as rrelu
from jaxact._src.activations_extra import softshrink as softshrink
from jaxact._src.activations_extra import sparse_plus as sparse_plus
from jaxact._src.activations_extra import sparse_sigmoid as sparse_sigmoid
from jaxact._src.activations_extra import squareplus as squareplus
from jaxact._src.activations_extra import tanhshrink as tanhshrink
from jaxact._src.learnable_shapes import RationalFit as RationalFit
from jaxact._src.learnable_shapes import apl as apl
from jaxact._src.learnable_shapes import blend as blend
from jaxact._src.learnable_shapes import fit_errors as fit_errors
from jaxact._src.learnable_shapes import fit_rational as fit_rational
from jaxact._src.learnable_shapes import rational as rational
from jaxact._src.learnable_shapes import rational_init as rational_init
from jaxact._src.registry import Activation as Activation
from jaxact._src.registry import UnknownActivationError as UnknownActivationError
from jaxact._src.registry import get as get
from jaxact._src.registry import names as names
from jaxact._src.registry import registry_markdown as registry_markdown

#: The package version (the one place it is written; pyproject.toml reads it).
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Activation",
    "UnknownActivationError",
    "RationalFit",
    "apl",
    "blend",
    "fit_errors",
    "fit_rational",
    "rational",
    "rational_init",
    "celu",
    "elu",
    "gelu",
    "get",
    "glu",
    "hard_silu",
    "hard_swish",
    "hardshrink",
    "log1mexp",
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
    "rrelu",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "soft_sign",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
    "step",
    "swish",
    "tanh",
    "tanhshrink",
    "threshold",
]

_SUBMODULES = ("initializers", "linen", "nnx", "plotting", "sweep")


def __getattr__(name: str):
    # Submodules that import Flax/optax load on first use: `import jaxact` stays light.
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"jaxact.{name}")
    raise AttributeError(f"module 'jaxact' has no attribute {name!r}")
