"""BLEU against a set of references, and self-BLEU, computed from count tables.

Both follow NLTK's ``sentence_bleu`` with ``SmoothingFunction().method1`` (the Texygen convention used
by "Language GANs Falling Short"), averaged over hypotheses: clipped n-gram precisions where a
hypothesis n-gram counts at most as often as in the reference that has it most, a brevity penalty
against the closest reference length, and 0.1 in place of a zero count. Calling NLTK once per
hypothesis rescans every reference each time (minutes for a thousand sentences); the same numbers
come from tables of the most frequent count of each n-gram built once.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

EPSILON = 0.1  # NLTK's method1

_WORDS = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks: how hypotheses and references are compared."""
    return _WORDS.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _sentence_score(tokens: Sequence[str], max_count, closest_length: int, order: int) -> float:
    c = len(tokens)
    log_total, any_unigram = 0.0, False
    for n in range(1, order + 1):
        counts = _ngrams(tokens, n)
        total = sum(counts.values())
        clipped = sum(min(k, max_count(g)) for g, k in counts.items())
        if n == 1:
            any_unigram = clipped > 0
        denominator = max(1, total)
        log_total += math.log((clipped if clipped else EPSILON) / denominator) / order
    if not any_unigram:  # NLTK: no unigram in common scores 0
        return 0.0
    penalty = 1.0 if c > closest_length else (0.0 if c == 0 else math.exp(1 - closest_length / c))
    return penalty * math.exp(log_total)


def _closest(lengths: Counter, c: int, skip: int | None = None) -> int:
    """The reference length nearest ``c`` (the shorter on ties), one reference of length ``skip`` left out."""
    best = None
    for length, k in lengths.items():
        if k - (1 if length == skip else 0) <= 0:
            continue
        if best is None or (abs(length - c), length) < (abs(best - c), best):
            best = length
    return best if best is not None else 0


class ReferenceSet:
    """References tokenized once, with the most frequent count of every n-gram up to ``order``."""

    def __init__(self, references: Sequence[str], order: int = 4):
        self.order = order
        tokenized = [words(r) for r in references]
        self.lengths = Counter(len(t) for t in tokenized)
        self.max_counts: dict[tuple, int] = {}
        for tokens in tokenized:
            for n in range(1, order + 1):
                for g, k in _ngrams(tokens, n).items():
                    if k > self.max_counts.get(g, 0):
                        self.max_counts[g] = k

    def bleu(self, hypotheses: Sequence[str]) -> float:
        """Mean sentence BLEU of ``hypotheses`` against every reference."""
        if not hypotheses:
            return 0.0
        get = self.max_counts.get
        scores = []
        for text in hypotheses:
            tokens = words(text)
            scores.append(_sentence_score(tokens, lambda g: get(g, 0), _closest(self.lengths, len(tokens)), self.order))
        return sum(scores) / len(scores)


def self_bleu(texts: Sequence[str], order: int = 4) -> float:
    """Mean BLEU of each text against all the others: high when the texts repeat each other."""
    if len(texts) < 2:
        return 0.0
    tokenized = [words(t) for t in texts]
    lengths = Counter(len(t) for t in tokenized)
    # per n-gram, the two largest counts and which text has the largest, so "the others" is one lookup
    top: dict[tuple, list] = {}
    per_text = []
    for i, tokens in enumerate(tokenized):
        grams = [_ngrams(tokens, n) for n in range(1, order + 1)]
        per_text.append(grams)
        for counts in grams:
            for g, k in counts.items():
                entry = top.get(g)
                if entry is None:
                    top[g] = [k, i, 0]
                elif k > entry[0]:
                    entry[2], entry[0], entry[1] = entry[0], k, i
                elif k > entry[2]:
                    entry[2] = k
    scores = []
    for i, tokens in enumerate(tokenized):
        def others(g, i=i):
            entry = top.get(g)
            if entry is None:
                return 0
            return entry[2] if entry[1] == i else entry[0]

        scores.append(_sentence_score(tokens, others, _closest(lengths, len(tokens), skip=len(tokens)), order))
    return sum(scores) / len(scores)
