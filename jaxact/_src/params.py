"""The one parameter lookup: which leaves of a model are activation parameters.

Everything that needs "the activation parameters" of a model — the sweep
engine's initial values, frozen leaves and history, and the Linen/NNX helpers
``activation_params``/``replace_activation_params`` — goes through
:func:`find`. A leaf is chosen by its *path* (``("layers_1", "alpha")``) or by
the module that owns it, never by its bare name, so a ``LayerNorm``'s
``scale`` is never taken for a parametric SELU's ``scale``.

By default the selection is every parameter owned directly by one of
jaxact's activation modules (a module class with ``is_jaxact_activation =
True``: ``PReLU``, ``Swish``, ``ELU``,
``ParametricSELU``, ``LearnableActivation``, ``Rational``, ``APL``, ``Blend``
and ``CoreUnit``, in Linen and NNX).

A *selector* is one of:

* ``None``: the default (jaxact's activation parameters);
* a string: a glob pattern over the ``/``-joined path (``"layers_1/alpha"``,
  ``"*/alpha"``, ``"encoder/**"``) matched against the whole path; a string
  with no ``/`` and no wildcard is a parameter *name* and selects, among the
  default selection only, the leaves with that name (so ``"alpha"`` means
  "every jaxact activation's alpha");
* a callable ``predicate(path: tuple[str, ...]) -> bool`` over all leaves;
* for NNX models, a subclass of ``nnx.Variable`` (leaves of that type);
* a sequence of the above (their union).

Paths come back in natural layer order: numbers in names compare as numbers,
so ``layers_2`` comes before ``layers_10``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax

Path = tuple[str, ...]
Selector = Any


def natural_key(path: Sequence[str]) -> tuple:
    """Sort key so that ``act_2`` comes before ``act_10``.

    Examples:
      >>> sorted([("act_10",), ("act_2",)], key=natural_key)
      [('act_2',), ('act_10',)]
    """
    return tuple(
        tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", p)) for p in path
    )


def key_name(k: Any) -> str:
    """One path entry (a ``DictKey``, ``GetAttrKey``, ``SequenceKey``, ...) as text."""
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def path_of(path: Sequence[Any]) -> Path:
    """A pytree key path as a tuple of strings."""
    return tuple(key_name(k) for k in path)


def leaf_paths(tree: Any) -> list[Path]:
    """Every leaf path of ``tree``, in natural order."""
    paths = [path_of(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
    return sorted(paths, key=natural_key)


def is_activation_module(module: Any) -> bool:
    """Whether ``module`` is one of jaxact's activation modules (Linen or NNX)."""
    return bool(getattr(type(module), "is_jaxact_activation", False))


def linen_activation_modules(model: Any, *args: Any, **kwargs: Any) -> list[Path]:
    """Paths of the jaxact activation modules inside a Linen ``model``.

    The model is initialised abstractly (``jax.eval_shape``) with ``args``
    while every module call is intercepted and its path recorded.
    """
    import flax.linen as nn

    found: set[Path] = set()

    def interceptor(next_fun, call_args, call_kwargs, context):
        module = context.module
        if is_activation_module(module) and getattr(module, "scope", None) is not None:
            found.add(tuple(str(p) for p in module.path))
        return next_fun(*call_args, **call_kwargs)

    def init():
        with nn.intercept_methods(interceptor):
            return model.init(jax.random.key(0), *args, **kwargs)

    jax.eval_shape(init)
    return sorted(found, key=natural_key)


def nnx_activation_modules(model: Any) -> list[Path]:
    """Paths of the jaxact activation modules inside an NNX ``model``."""
    from flax import nnx

    return sorted(
        (
            tuple(str(p) for p in path)
            for path, node in nnx.iter_graph(model)
            if is_activation_module(node)
        ),
        key=natural_key,
    )


def _glob(pattern: str) -> Callable[[Path], bool]:
    # "**" may span "/", "*" may not; "?" one character.
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    compiled = re.compile(regex + r"\Z")
    return lambda path: compiled.match("/".join(path)) is not None


def _is_name(selector: str) -> bool:
    return "/" not in selector and not any(c in selector for c in "*?[")


def _describe(selector: Selector) -> str:
    if isinstance(selector, str):
        return repr(selector)
    return getattr(selector, "__name__", repr(selector))


def find(
    paths: Iterable[Path],
    selector: Selector = None,
    *,
    default: Iterable[Path] = (),
    types: Mapping[Path, type] | None = None,
    arg: str = "select",
    allow_empty: bool = False,
) -> list[Path]:
    """The paths among ``paths`` that ``selector`` chooses, in natural order.

    Args:
      paths: every leaf path of the parameter tree.
      selector: see the module docstring.
      default: the default selection (jaxact's activation parameters).
      types: NNX only: path -> variable type, for type selectors.
      arg: the argument name used in error messages.
      allow_empty: if false, a selector that chooses nothing raises.

    Raises:
      ValueError: a selector of an unknown kind, or one that selects nothing.

    Examples:
      >>> ps = [("layers_10", "alpha"), ("layers_2", "alpha"), ("norm", "scale")]
      >>> find(ps, default=ps[:2])
      [('layers_2', 'alpha'), ('layers_10', 'alpha')]
      >>> find(ps, "alpha", default=ps[:2])
      [('layers_2', 'alpha'), ('layers_10', 'alpha')]
      >>> find(ps, "norm/*")
      [('norm', 'scale')]
    """
    paths = list(paths)
    default = [tuple(p) for p in default]
    if selector is None:
        chosen = set(default)
    elif isinstance(selector, str):
        if _is_name(selector):
            chosen = {p for p in default if p[-1] == selector}
        else:
            match = _glob(selector)
            chosen = {p for p in paths if match(p)}
    elif isinstance(selector, type):
        if types is None:
            raise ValueError(
                f"{arg}: a type selector ({selector.__name__}) only applies to NNX models."
            )
        chosen = {p for p in paths if issubclass(types.get(p, object), selector)}
    elif callable(selector):
        chosen = {p for p in paths if selector(p)}
    elif isinstance(selector, Sequence):
        chosen = set()
        for s in selector:
            chosen |= set(
                find(paths, s, default=default, types=types, arg=arg, allow_empty=allow_empty)
            )
    else:
        raise ValueError(
            f"{arg}: expected None, a path pattern, a parameter name, a predicate over paths "
            f"or an nnx.Variable type, got {selector!r}"
        )
    if not chosen and not allow_empty and not (isinstance(selector, Sequence) and not selector):
        shown = ", ".join("/".join(p) for p in sorted(paths, key=natural_key)[:12])
        raise ValueError(
            f"{arg}: {_describe(selector)} selects no parameter of the model; its parameters "
            f"are: {shown}{' …' if len(paths) > 12 else ''}"
        )
    return sorted(chosen, key=natural_key)


def under(modules: Iterable[Path], paths: Iterable[Path]) -> list[Path]:
    """The paths owned directly by one of ``modules`` (its own leaves), naturally ordered."""
    mods = {tuple(m) for m in modules}
    return sorted((p for p in paths if tuple(p[:-1]) in mods), key=natural_key)


def get(tree: Any, path: Path) -> Any:
    """The leaf of a nested mapping/NNX state at ``path``."""
    node = tree
    for k in path:
        try:
            node = node[k]
        except (KeyError, TypeError, IndexError):
            node = node[int(k)]
    return node


def replace(tree: Any, new: Mapping[Path, Callable[[Any], Any]]) -> Any:
    """``tree`` with the leaf at each path in ``new`` replaced by ``new[path](leaf)``."""

    def visit(path, leaf):
        fn = new.get(path_of(path))
        return leaf if fn is None else fn(leaf)

    return jax.tree_util.tree_map_with_path(visit, tree)
