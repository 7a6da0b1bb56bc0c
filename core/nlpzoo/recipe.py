"""Recipes: one YAML file that names a dataset, a model and how to train it.

Every slot takes a spec, ``{name: ..., <params>}`` or a bare name; presets from the catalogue work
wherever a component does.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from .config import Resolved, check_params, resolve
from .errors import ConfigError, did_you_mean
from .yamlio import load_yaml

#: recipe key -> the kinds a spec there may name
SLOTS: dict[str, tuple[str, ...]] = {
    "dataset": ("dataset",),
    "model": ("language_model", "classifier", "gan", "embedder"),
    "augment": ("augmenter",),
    "optimizer": ("optimizer",),
    "scheduler": ("scheduler",),
    "callbacks": ("callback",),
}
KEYS = ("name", "description", "seed", "train", *SLOTS)


@dataclass
class Recipe:
    """A checked recipe: resolved specs per slot plus the raw mapping it came from."""

    path: str
    raw: dict
    seed: int = 0
    specs: dict[str, Any] = field(default_factory=dict)  # slot -> Resolved, or list[Resolved]
    train: dict = field(default_factory=dict)
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
        out = {k: v for k, v in self.raw.items() if k not in SLOTS}
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
    """``key.path=value`` pairs (values parsed as YAML) applied on a copy of ``data``."""
    data = copy.deepcopy(dict(data))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected KEY.PATH=VALUE, got {item!r}", "--set")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {"name": node[part]} if isinstance(node.get(part), str) else {}
            node = node[part]
        node[parts[-1]] = yaml.safe_load(value)
    return data


def load_recipe(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read and check a recipe; errors carry the file, line and key path."""
    located = load_yaml(path, "recipe")
    data = apply_overrides(located, overrides) if overrides else dict(located)
    try:
        recipe = check_recipe(data, str(path))
    except ConfigError as exc:
        if exc.file:
            raise
        raise located.error(exc) from None
    recipe.located = located
    return recipe


def check_recipe(data: dict, path: str = "<recipe>") -> Recipe:
    for key in data:
        if key not in KEYS:
            raise ConfigError(f"unknown recipe key{did_you_mean(str(key), KEYS)}; keys: {', '.join(KEYS)}", str(key))
    if "model" not in data:
        raise ConfigError("a recipe needs a 'model' (and usually a 'dataset')", "model")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"expected int, got {seed!r}", "seed")
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
    train = data.get("train") or {}
    if not isinstance(train, dict):
        raise ConfigError(f"expected a mapping of training settings, got {train!r}", "train")
    recipe.train = _check_train(train)
    return recipe


def _check_train(train: dict) -> dict:
    try:
        from .training.config import TrainConfig
    except ImportError:  # the training package is optional for recipes that only build
        return dict(train)
    checked = check_params(TrainConfig, train, "train")
    TrainConfig(**checked).check()
    return checked
