"""Shared pieces of the word-level augmenters: how many words to change, and parameter checks."""
from __future__ import annotations

import random
from typing import ClassVar

from nlpzoo.errors import ConfigError
from nlpzoo.kinds import Augmenter

from nlpzoo.rng import HashRandom
from .text import STOP_WORDS, Sentence


def check_rate(value: float, name: str = "rate") -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"expected a rate between 0 and 1, got {value!r}", name)
    return float(value)


def check_min(value: int, name: str = "min_changes") -> int:
    if value < 0:
        raise ConfigError(f"expected a count of 0 or more, got {value!r}", name)
    return int(value)


def count(rate: float, n_words: int, min_changes: int, rng: random.Random) -> int:
    """How many words to change: ``rate * n_words`` rounded up or down at random, so that its expected
    value is exactly ``rate * n_words``, and at least ``min_changes`` (1 in the EDA paper) when
    ``rate > 0``."""
    if rate <= 0.0 or n_words == 0:
        return 0
    x = rate * n_words
    n = int(x)
    if x > n and rng.random() < x - n:
        n += 1
    return min(max(n, min_changes), n_words)


def replaceable(word: str) -> bool:
    """A word whose synonyms are worth looking up: letters (hyphens, apostrophes allowed), not a stop word."""
    return (word.isalpha() or word.replace("-", "").replace("'", "").isalpha()) and word.lower() not in STOP_WORDS


class SeededAugmenter(Augmenter):
    """An augmenter whose texts are seeded by :func:`nlpzoo.rng.seeded`: the same guarantees as
    ``rng_for`` (the output depends on the seed and the text only), a tenth of the seeding cost."""

    def augment(self, texts: list[str], seed: int = 0) -> list[str]:
        one, fast = self.augment_one, self.fast_path
        out = []
        for t in texts:
            key = f"{seed}\x1f\x1f{t}".encode("utf-8")  # the key of seeded(seed, t)
            done = fast(t, key, False) if fast is not None else None
            out.append(done[0] if done is not None else one(t, HashRandom(key))[0])
        return out

    def explain(self, texts: list[str], seed: int = 0) -> list[tuple[str, list[str]]]:
        one, fast = self.augment_one, self.fast_path
        out = []
        for t in texts:
            key = f"{seed}\x1f\x1f{t}".encode("utf-8")
            done = fast(t, key, True) if fast is not None else None
            out.append(done if done is not None else one(t, HashRandom(key)))
        return out

    #: Optional ``fast_path(text, key, explain) -> (text, operations) | None``: exactly what
    #: ``augment_one(text, HashRandom(key))`` returns, computed without building a Sentence or a
    #: generator, for the common cases only (None: not handled here). The operations may be left
    #: empty when ``explain`` is false. Tests check it against augment_one.
    fast_path = None


class WordAugmenter(SeededAugmenter):
    """A word-level operation on a :class:`~nlpzoo_augment.text.Sentence`; subclasses implement :meth:`apply`."""

    op: ClassVar[str] = ""

    def augment_one(self, text: str, rng: random.Random) -> tuple[str, list[str]]:
        sentence = Sentence(text)
        ops = self.apply(sentence, rng) if sentence.words else []
        return (sentence.text() if ops else text), ops

    def apply(self, sentence: Sentence, rng: random.Random) -> list[str]:
        """Edit ``sentence`` in place; return the operations applied (``"op:detail"``)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"
