"""Pipelines of augmenters: ``sequential``, ``one-of`` (weighted) and ``sometimes`` (with a probability).

Children are any augmenters, from this plugin or another, named in the spec and built first. Each
child gets its own generator seeded from the parent's stream, so a pipeline's output depends only on
its seed and the text, never on the batch.
"""
from __future__ import annotations

import random
from typing import Annotated

from nlpzoo import Augmenter, ConfigError, Range, SequentialAugmenter

from .base import Rate, SeededAugmenter
from nlpzoo.rng import child as child_rng


def _check_children(augmenters, loc: str = "augmenters") -> list[Augmenter]:
    augmenters = list(augmenters)
    for i, a in enumerate(augmenters):
        if not hasattr(a, "augment_one"):
            raise ConfigError(f"expected an augmenter, got {type(a).__name__}", f"{loc}.{i}")
    return augmenters


class Sequential(SequentialAugmenter, SeededAugmenter):
    """Apply every augmenter in order, each to the output of the previous one (what a recipe's
    ``augment:`` list does: the same implementation, the same texts)."""

    def __init__(self, augmenters: list[Augmenter]):
        if not augmenters:
            raise ConfigError("expected at least one augmenter", "augmenters")
        super().__init__(_check_children(augmenters))


class OneOf(SeededAugmenter):
    """Apply one augmenter, chosen at random with the given weights (equal by default)."""

    def __init__(self, augmenters: list[Augmenter], weights: list[Annotated[float, Range(0)]] | None = None):
        if not augmenters:
            raise ConfigError("expected at least one augmenter", "augmenters")
        self.augmenters = _check_children(augmenters)
        if weights is None:
            weights = [1.0] * len(self.augmenters)
        if len(weights) != len(self.augmenters):
            raise ConfigError(f"expected one weight per augmenter ({len(self.augmenters)}), got {len(weights)}", "weights")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError(f"weights must be 0 or more and not all 0, got {weights!r}", "weights")
        total = float(sum(weights))
        self.weights = [w / total for w in weights]
        self._cumulative = []
        acc = 0.0
        for w in self.weights:
            acc += w
            self._cumulative.append(acc)

    def augment_one(self, text: str, rng: random.Random) -> tuple[str, list[str]]:
        u = rng.random()
        sub = child_rng(rng)
        for child, edge in zip(self.augmenters, self._cumulative):
            if u < edge:
                break
        else:
            child = next(c for c, w in zip(reversed(self.augmenters), reversed(self.weights)) if w > 0)
        return child.augment_one(text, sub)


class Sometimes(SeededAugmenter):
    """Apply ``augmenter`` with probability ``p``; otherwise leave the text as it is."""

    def __init__(self, augmenter: Augmenter, p: Rate = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"expected a probability between 0 and 1, got {p!r}", "p")
        self.augmenter = _check_children([augmenter], "augmenter")[0]
        self.p = float(p)

    def augment_one(self, text: str, rng: random.Random) -> tuple[str, list[str]]:
        u = rng.random()
        sub = child_rng(rng)
        if u < self.p:
            return self.augmenter.augment_one(text, sub)
        return text, []
