"""Shared pieces of the word-level augmenters: how many words to change, and parameter checks."""
from __future__ import annotations

import random
from typing import Annotated, ClassVar

from nlpzoo import Augmenter, ConfigError, Range

Rate = Annotated[float, Range(0, 1)]  # a share of the words (or characters)
Changes = Annotated[int, Range(0, 10**6)]  # a least number of changes

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
        return self._seeded(texts, seed, False)

    def explain(self, texts: list[str], seed: int = 0) -> list[tuple[str, list[str]]]:
        return self._seeded(texts, seed, True)

    def _seeded(self, texts: list[str], seed: int, explain: bool) -> list:
        """``augment_one(t, seeded(seed, t))`` for each text (only its text unless ``explain``),
        through :meth:`fast_many` where it can."""
        prefix = f"{seed}\x1f\x1f".encode("utf-8")  # the key of seeded(seed, t) is prefix + t in UTF-8
        one = self.augment_one
        if self.fast_many is None:
            out = [one(t, HashRandom(prefix + t.encode("utf-8"))) for t in texts]
        else:
            out = self.fast_many(texts, prefix, explain)
            if None not in out:
                return out
            out = [done if done is not None else one(t, HashRandom(prefix + t.encode("utf-8")))
                   for t, done in zip(texts, out)]
        return out if explain else [done if done.__class__ is str else done[0] for done in out]

    #: Optional ``fast_many(texts, key, explain, by_text=True) -> list``: for each text, exactly what
    #: ``augment_one(text, HashRandom(key + text in UTF-8))`` returns (keyed by ``key`` alone when
    #: ``by_text`` is false), or only its text unless ``explain``; None where the text is not one of
    #: the common cases handled there. Computed without building a Sentence or a generator per text,
    #: in one loop over the batch. Tests check it against augment_one.
    fast_many = None

    def fast_path(self, text: str, key: bytes, explain: bool = True) -> tuple[str, list[str]] | None:
        """:meth:`fast_many` for one text keyed by ``key``: ``(text, operations)`` or None; the
        operations are left empty unless ``explain``."""
        if self.fast_many is None:
            return None
        done = self.fast_many([text], key, explain, False)[0]
        return (done, []) if done.__class__ is str else done


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
