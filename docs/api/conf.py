"""Sphinx configuration of the jaxact API reference (built from the docstrings).

Build (offline) from the repository root::

    python -m sphinx -W --keep-going -b html docs/api docs/api/_build/html
"""

from __future__ import annotations

import jaxact

project = "jaxact"
author = "jaxact contributors"
release = version = jaxact.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the docstrings' Google-style Args/Returns/Raises sections
    "sphinx.ext.mathjax",
]
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# "Attributes:" sections as fields of the class, so they do not clash with the
# attributes autodoc documents itself (dataclass and NamedTuple fields).
napoleon_use_ivar = True
exclude_patterns = ["_build"]
html_theme = "alabaster"
# No intersphinx: the build must not need the network.
