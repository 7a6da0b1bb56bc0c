"""Recipes: one YAML file that names a dataset, a model and how to train it.

Every slot takes a spec, ``{name: ..., <params>}`` or a bare name; presets from the catalogue work
wherever a component does.
"""
from __future__ import annotations

import copy
import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any

from .config import Resolved, check_params, resolve
from .constraints import SEED_RANGE
from .errors import ConfigError, did_you_mean
from .yamlio import load_yaml, parse_yaml

#: recipe key -> the kinds a spec there may name
SLOTS: dict[str, tuple[str, ...]] = {
    "dataset": ("dataset",),
    "model": ("language_model", "classifier", "multilabel_classifier", "regressor", "tagger", "gan", "embedder"),
    "augment": ("augmenter",),
    "optimizer": ("optimizer",),
    "scheduler": ("scheduler",),
    "callbacks": ("callback",),
}
KEYS = ("name", "description", "seed", "train", *SLOTS, "sweep")
NOT_TRAINED = ("sweep",)  # read by other commands (nlpzoo sweep), left out of a run's recipe


@dataclass
class Recipe:
    """A checked recipe: resolved specs per slot plus the raw mapping it came from."""

    path: str
    raw: dict
    seed: int = 0
    specs: dict[str, Any] = field(default_factory=dict)  # slot -> Resolved, or list[Resolved]
    train: dict = field(default_factory=dict)
    #: section name -> its settings object, built and checked once by the plugin's dataclass (``train``: TrainConfig)
    settings: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    located: Any = field(default=None, repr=False, compare=False)  # the YAML it was read from: lines for errors

    def build(self, slot: str):
        """The slot's component (a list for list slots); a constructor's error points at the recipe line."""
        from .config import build

        value = self.specs[slot]
        try:
            if isinstance(value, list):
                return [build(v, loc=f"{slot}.{i}") for i, v in enumerate(value)]
            return build(value, loc=slot)
        except ConfigError as exc:
            if exc.file or self.located is None:
                raise
            raise self.located.error(exc) from None

    def resolved_dict(self) -> dict:
        """The recipe with every spec pinned to its provider, as written into a run directory."""
        out = {k: v for k, v in self.raw.items() if k not in SLOTS and k not in NOT_TRAINED}
        out["seed"] = self.seed
        for slot, value in self.specs.items():
            out[slot] = [v.to_spec() for v in value] if isinstance(value, list) else value.to_spec()
        return out

    def tree(self) -> list[str]:
        lines = [f"recipe {self.path} (seed {self.seed})"]
        for slot in SLOTS:
            value = self.specs.get(slot)
            if value is None:
                continue
            for item in value if isinstance(value, list) else [value]:
                sub = item.tree()
                lines.append(f"{slot}: {sub[0]}")
                lines += ["  " + s for s in sub[1:]]
        if self.train:
            lines.append("train: " + ", ".join(f"{k}={v!r}" for k, v in self.train.items()))
        return lines


def apply_overrides(data: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """``key.path=value`` pairs (values parsed as YAML) applied on a copy of ``data``.

    A malformed pair or value is one ConfigError naming the ``--set`` option it came from.
    """
    data = copy.deepcopy(dict(data))
    for item in overrides:
        key, sep, value = item.partition("=")
        option = f"--set {_clip(item)}"
        if not sep or not key:
            raise ConfigError(f"expected KEY.PATH=VALUE, got {_clip(item)!r}", "--set")
        parts = key.split(".")
        if any(not p.strip() for p in parts):
            raise ConfigError(f"expected a key path like train.epochs, got {_clip(key)!r}", file=option)
        try:
            parsed = parse_yaml(value, option)
        except ConfigError as exc:  # a line number inside one option's value says nothing
            raise ConfigError(exc.message, key, file=option) from None
        node = data
        for depth, part in enumerate(parts[:-1]):
            here = ".".join(parts[:depth + 1])
            if isinstance(node, list):
                node = node[_index(node, part, here, option)]
                continue
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {"name": node[part]} if isinstance(node.get(part), str) else {}
            node = node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[_index(node, last, key, option)] = parsed
        else:
            node[last] = parsed
    return data


def _index(items: list, part: str, loc: str, option: str) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise ConfigError(f"expected an index from 0 to {len(items) - 1} into the list, got {_clip(part)!r}", loc, file=option)
    return int(part)


def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def load_recipe(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read and check a recipe; errors carry the file, line and key path (or the ``--set`` option)."""
    located = load_yaml(path, "recipe")
    data = apply_overrides(located, overrides) if overrides else dict(located)
    try:
        recipe = check_recipe(data, str(path))
    except ConfigError as exc:
        if exc.file:
            raise
        option = _override_of(exc.loc, overrides)
        if option is not None:
            raise ConfigError(exc.message, exc.loc, file=f"--set {_clip(option)}") from None
        raise located.error(exc) from None
    recipe.located = located
    return recipe


def _override_of(loc: str, overrides) -> str | None:
    """The last ``--set`` that wrote ``loc`` (or a key above or below it)."""
    for item in reversed(list(overrides)):
        key = item.partition("=")[0]
        if loc == key or loc.startswith(key + ".") or key.startswith(loc + ".") and loc:
            return item
    return None


def check_recipe(data: dict, path: str = "<recipe>") -> Recipe:
    from .plugins import get_manager

    keys = (*KEYS, *(name for name in get_manager().sections if name not in KEYS))  # plugins' own sections too
    for key in data:
        if key not in keys:
            raise ConfigError(f"unknown recipe key{did_you_mean(str(key), keys)}; keys: {', '.join(keys)}", str(key))
    if data.get("model") is None:
        got = "a 'model:' with nothing after it" if "model" in data else "none"
        raise ConfigError(f"a recipe needs a 'model' (a component name or {{name: ..., <params>}}), got {got}", "model")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"expected int, got {seed!r}"[:200], "seed")
    if not SEED_RANGE.contains(seed):
        raise ConfigError(f"expected {SEED_RANGE.describe('seed')}, got {seed if seed.bit_length() < 100 else 'a number of ' + str(len(str(abs(seed)))) + ' digits'}", "seed")
    recipe = Recipe(path, data, seed)
    for slot, kinds in SLOTS.items():
        value = data.get(slot)
        if value is None:
            continue
        if isinstance(value, list):
            if slot not in ("augment", "callbacks"):
                raise ConfigError("expected one spec, got a list", slot)
            recipe.specs[slot] = [resolve(v, kinds, f"{slot}.{i}") for i, v in enumerate(value)]
        else:
            resolved: Resolved = resolve(value, kinds, slot)
            recipe.specs[slot] = [resolved] if slot == "callbacks" else resolved
    for name in ("train", *keys[len(KEYS):]):
        values = data.get(name) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"expected a mapping of settings, got {values!r}"[:200], name)
        checked, built = check_section(name, values)
        if name == "train":
            recipe.train = checked
        if built is not None:
            recipe.settings[name] = built
    _check_metric(recipe)
    return recipe


def _check_metric(recipe: Recipe) -> None:
    """``train.metric`` must be one the model reports (when its class says which: ``validation_metrics``)."""
    metric = recipe.train.get("metric", "loss")
    model = recipe.specs["model"]
    from .plugins import get_manager

    cls = get_manager().registry.get(model.kind, f"{model.provider}:{model.name}").load()
    names = tuple(getattr(cls, "validation_metrics", ()) or ())
    if not names or any(fnmatch.fnmatchcase(metric, pattern) for pattern in names):
        return
    shown = [n.replace("*", "<label>") for n in names]
    raise ConfigError(f"{metric!r} is not a validation metric of {model.name}{did_you_mean(metric, shown)}; "
                      f"it reports: {', '.join(shown)}", "train.metric")


def check_section(name: str, values: dict) -> tuple[dict, Any]:
    """A recipe section checked by the dataclass a plugin registered for it (``register_sections``): the checked
    values, and the dataclass built from them (None when no plugin reads the section and it is empty)."""
    from .plugins import get_manager

    settings = get_manager().sections.get(name, (None,))[0]
    if settings is None:
        if values:
            raise ConfigError(f"no installed plugin reads the {name}: section (nlpzoo's training engine reads "
                              "train:); see nlpzoo plugins for one that failed to load", name)
        return values, None
    checked = check_params(settings, values, name)
    built = settings(**checked)
    if callable(getattr(built, "check", None)):
        built.check()
    return checked, built
