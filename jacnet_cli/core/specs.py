"""What built a component: its constructor's arguments, read back from the object.

Convention: a component stores each constructor argument under the same name (`eps` as
`self.eps`). Then `arguments(obj)` rebuilds its keyword arguments and `spec(obj)` the config
node (`_target_` and arguments) that `run.build` turns back into the same object, which is
how `jacnet_cli.save` makes a model built in Python self-describing. A class whose
arguments are not all stored that way defines `spec_arguments()`.
"""

from __future__ import annotations

import inspect
from typing import Any

_SKIP = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def arguments(obj: Any) -> dict[str, Any]:
    """The keyword arguments that rebuild obj (those stored under their own names)."""
    custom = getattr(obj, "spec_arguments", None)
    if custom is not None:
        return custom()
    out = {}
    for name, param in inspect.signature(type(obj)).parameters.items():
        if param.kind in _SKIP or name == "self" or not hasattr(obj, name):
            continue
        value = getattr(obj, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def target(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def spec(obj: Any, partial: bool = False) -> dict[str, Any]:
    """The config node of obj: {"_target_": its class, **its arguments}."""
    node = {"_target_": target(obj), **arguments(obj)}
    if partial:
        node["_partial_"] = True
    return node
