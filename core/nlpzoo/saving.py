"""Saved components: the constructor's arguments in ``component.json``, the learned state beside them.

A saved model is rebuilt the way a recipe builds it (its constructor is its schema), so plugins write
only what training learned. Nested components are stored as specs of registered names: loading a
folder never imports anything a plugin did not register.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import kinds
from .errors import ConfigError
from .kinds import SAVED_SPEC, Component, constructor_params

FORMAT = 1


def target_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def component_spec(component: Component) -> dict[str, Any]:
    """``{"name": "provider:name", <constructor arguments>}``; nested components become specs too."""
    from .plugins import get_manager

    entry = get_manager().registry.entry_for(type(component))
    name = entry.qualified_name if entry is not None else target_of(type(component))
    from .config import plain

    return {"name": name, **plain(constructor_params(component), type(component).__name__, _saved)}


def _saved(value, where: str):
    """A leaf of a saved spec: a registered component (as its spec) or a JSON scalar; anything else is refused."""
    if isinstance(value, Component):
        from .plugins import get_manager

        if get_manager().registry.entry_for(type(value)) is None:
            raise ConfigError(f"holds a {type(value).__name__}, which no installed plugin registers; "
                              "only registered components can be saved inside another", where)
        return component_spec(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ConfigError(f"holds a {type(value).__name__}, which cannot be written to {SAVED_SPEC} "
                      "(numbers, strings, lists, mappings and components only)", where)


def save_component(component, directory: Path) -> None:
    """Write ``component.json`` and the component's ``save_state``; the spec last, so it marks a whole save."""
    from .yamlio import atomic_write

    record = {"format": FORMAT, "kind": component.kind, "class": target_of(type(component)),
              "spec": component_spec(component)}
    directory.mkdir(parents=True, exist_ok=True)
    component.save_state(directory)
    atomic_write(directory / SAVED_SPEC, json.dumps(record, indent=2) + "\n")


def read_spec(directory: Path) -> dict:
    """The record in ``directory/component.json``, checked; one ConfigError naming the file otherwise."""
    path = directory / SAVED_SPEC
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"not a saved component (no {SAVED_SPEC}); save one with model.save(folder)",
                          file=str(directory)) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"unreadable: {exc}", file=str(path)) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("spec"), dict):
        raise ConfigError(f"expected format {FORMAT} with a 'spec' mapping; was it written by another version?",
                          file=str(path))
    return record


def load_component(cls: type, directory: Path):
    """``cls`` rebuilt from the saved arguments, then its ``load_state(directory)``."""
    from .config import build

    record = read_spec(directory)
    saved = record["class"]
    if saved != target_of(cls) and not any(target_of(c) == saved for c in cls.__mro__):
        raise ConfigError(f"holds a {saved}, not a {target_of(cls)}", file=str(directory / SAVED_SPEC))
    params = {k: v for k, v in record["spec"].items() if k != "name"}
    built = {k: _rebuilt(v, build) for k, v in params.items()}
    for key in cls.initialised_from:
        if key in built:
            built[key] = str(directory)
    component = cls(**built)
    component.load_state(directory)
    return component


def _rebuilt(value, build):
    if isinstance(value, dict) and isinstance(value.get("name"), str) and ":" in value["name"]:
        return build(value)
    if isinstance(value, list):
        return [_rebuilt(v, build) for v in value]
    return value


kinds.persistence = sys.modules[__name__]  # what Trainable.save and Trainable.load call
