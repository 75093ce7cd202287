"""The core-unit activation search space (Ramachandran, Zoph & Le, 2017).

Public names of :mod:`jaxact._src.search_space`; see its docstring for the
ops, the numerical guards and the deduplication rule. The Flax modules are
:class:`jaxact.linen.CoreUnit` and :class:`jaxact.nnx.CoreUnit`.
"""

from jaxact._src.search_space import BINARY as BINARY
from jaxact._src.search_space import DEDUP_BETAS as DEDUP_BETAS
from jaxact._src.search_space import DEDUP_GRID as DEDUP_GRID
from jaxact._src.search_space import GUARDS as GUARDS
from jaxact._src.search_space import NUM_BINARY as NUM_BINARY
from jaxact._src.search_space import NUM_CANDIDATES as NUM_CANDIDATES
from jaxact._src.search_space import NUM_UNARY as NUM_UNARY
from jaxact._src.search_space import UNARY as UNARY
from jaxact._src.search_space import Op as Op
from jaxact._src.search_space import binary as binary
from jaxact._src.search_space import canonical_codes as canonical_codes
from jaxact._src.search_space import core_unit as core_unit
from jaxact._src.search_space import core_unit_numpy as core_unit_numpy
from jaxact._src.search_space import core_unit_switch as core_unit_switch
from jaxact._src.search_space import enumerate_candidates as enumerate_candidates
from jaxact._src.search_space import formula as formula
from jaxact._src.search_space import parse_formula as parse_formula
from jaxact._src.search_space import signatures as signatures
from jaxact._src.search_space import unary as unary

__all__ = [
    "BINARY",
    "DEDUP_BETAS",
    "DEDUP_GRID",
    "GUARDS",
    "NUM_BINARY",
    "NUM_CANDIDATES",
    "NUM_UNARY",
    "UNARY",
    "Op",
    "binary",
    "canonical_codes",
    "core_unit",
    "core_unit_numpy",
    "core_unit_switch",
    "enumerate_candidates",
    "formula",
    "parse_formula",
    "signatures",
    "unary",
]
