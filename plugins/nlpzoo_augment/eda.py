"""The four operations of EDA (Wei and Zou, 2019, "EDA: Easy Data Augmentation Techniques for Boosting
Performance on Text Classification Tasks") and ``eda``, which combines them as the paper does.

Each operation changes words and keeps punctuation, spacing and sentence casing in place. Synonyms come
from WordNet 3.0 (:mod:`nlpzoo_augment.wordnet`) in the inflection of the word they replace.
"""
from __future__ import annotations

import math
import random
from hashlib import blake2b as _blake2b
from typing import Annotated

from nlpzoo import ConfigError, Range

from .base import Changes, Rate, WordAugmenter, check_min, check_rate, count, replaceable
from nlpzoo.rng import TO_UNIT, WORDS, block, child, seeded
from .text import (Sentence, delete_words, fix_sentence_case, join_chunks, match_case, split_word, swap_words,
                   word_slots)


def _wordnet():
    from .wordnet import wordnet

    return wordnet()


class SynonymReplacement(WordAugmenter):
    """Replace ``rate`` of the words (at least ``min_changes``) by a WordNet synonym; stop words are kept."""

    op = "synonym-replacement"

    def __init__(self, rate: Rate = 0.1, min_changes: Changes = 1):
        self.rate = check_rate(rate)
        self.min_changes = check_min(min_changes)

    def apply(self, sentence: Sentence, rng: random.Random) -> list[str]:
        n = count(self.rate, len(sentence), self.min_changes, rng)
        if n == 0:
            return []
        wn = _wordnet()
        candidates = [i for i in sentence.words if replaceable(sentence.word(i))]
        rng.shuffle(candidates)
        ops = []
        for i in candidates:
            word = sentence.word(i)
            synonyms = wn.synonyms(word.lower())
            if not synonyms:
                continue
            new = rng.choice(synonyms)
            if not any(c.isupper() for c in new):  # proper nouns keep WordNet's casing
                new = match_case(word, new)
            sentence.set_word(i, new)
            ops.append(f"{self.op}:{word}->{new}")
            if len(ops) == n:
                break
        return ops


class RandomInsertion(WordAugmenter):
    """Insert, ``rate * words`` times (at least ``min_changes``), a synonym of a random non-stop word at a random place."""

    op = "random-insertion"

    def __init__(self, rate: Rate = 0.1, min_changes: Changes = 1, tries: Annotated[int, Range(1, 1000)] = 10):
        self.rate = check_rate(rate)
        self.min_changes = check_min(min_changes)
        self.tries = tries  # the paper gives up on a sentence after 10 words without synonyms

    def apply(self, sentence: Sentence, rng: random.Random) -> list[str]:
        n = count(self.rate, len(sentence), self.min_changes, rng)
        if n == 0:
            return []
        wn = _wordnet()
        candidates = [sentence.word(i) for i in sentence.words]
        candidates = [w for w in candidates if replaceable(w)]
        if not candidates:
            return []
        ops = []
        for _ in range(n):
            for _ in range(self.tries):
                source = candidates[rng.randrange(len(candidates))]
                synonyms = wn.synonyms(source.lower())
                if synonyms:
                    break
            else:
                break
            new = rng.choice(synonyms)
            sentence.insert(rng.randrange(len(sentence) + 1), new)
            ops.append(f"{self.op}:{new}")
        return ops


class RandomSwap(WordAugmenter):
    """Swap two random words, ``rate * words`` times (at least ``min_changes``); punctuation stays in place."""

    op = "random-swap"

    def __init__(self, rate: Rate = 0.1, min_changes: Changes = 1):
        self.rate = check_rate(rate)
        self.min_changes = check_min(min_changes)

    def apply(self, sentence: Sentence, rng: random.Random) -> list[str]:
        words = sentence.words
        nw = len(words)
        if nw < 2 or self.rate <= 0.0:
            return []
        r = rng.random
        x = self.rate * nw  # count(), inlined: this is the hottest loop of the benchmarks
        n = int(x)
        if x > n and r() < x - n:
            n += 1
        if n < self.min_changes:
            n = min(self.min_changes, nw)
        ops = []
        for _ in range(n):
            a = int(r() * nw)
            b = int(r() * (nw - 1))
            if b >= a:
                b += 1
            wa, wb = sentence.swap(words[a], words[b])
            ops.append(f"{self.op}:{wa}<->{wb}")
        return ops

    def fast_many(self, texts: list[str], key: bytes, explain: bool = False, by_text: bool = True) -> list:
        """:meth:`apply` on the chunks of each text, drawing straight from the blocks of its ``HashRandom``."""
        rate, min_changes, op = self.rate, self.min_changes, self.op
        if rate <= 0.0:
            return [None] * len(texts)
        # Lookups hoisted out of the loop: this is the hottest loop of the benchmarks.
        join = " ".join
        start = _blake2b(key, digest_size=64).copy  # key + text is hashed as key, then text on a copy
        out = []
        append = out.append
        for text in texts:
            chunks = text.split()
            # Where the chunks are not single-spaced (about 4% of real snippets), join_chunks() puts
            # their whitespace back at the end.
            spaced = not chunks or join(chunks) != text
            words = word_slots(text, chunks, spaced)  # None: every chunk holds a word
            nw = len(chunks) if words is None else len(words)
            if nw < 2:
                append(None)
                continue
            h = start()
            if by_text:
                h.update(text.encode())  # UTF-8
            # Eight 64-bit words, used from draws[i] down, in the order HashRandom.random() pops them
            # (indexing the tuple spares copying it into a list and a method call per draw).
            draws = WORDS(h.digest())
            i = 7
            x = rate * nw
            n = int(x)
            if x > n:
                i = 6
                if (draws[7] >> 11) * TO_UNIT < x - n:
                    n += 1
            if n < min_changes:
                n = min(min_changes, nw)
            if n == 0:
                append((text, []) if explain else text)
                continue
            blocks = 1
            while 2 * n > i + 1:  # long texts: the following blocks, in the order HashRandom refills
                draws = tuple(block(key + text.encode() if by_text else key, blocks)) + draws[: i + 1]
                i += 8
                blocks += 1
            first = chunks[0] if words is None else chunks[words[0]]
            scale_a, scale_b = TO_UNIT * nw, TO_UNIT * (nw - 1)  # powers of two: the same floats as r() * nw
            ops = []
            for _ in range(n):
                a = int((draws[i] >> 11) * scale_a)
                b = int((draws[i - 1] >> 11) * scale_b)
                i -= 2
                if b >= a:
                    b += 1
                if words is not None:
                    a, b = words[a], words[b]
                ca, cb = chunks[a], chunks[b]
                if ca.isalnum() and cb.isalnum():
                    chunks[a], chunks[b] = cb, ca
                else:
                    ca, cb = swap_words(chunks, a, b)
                if explain:
                    ops.append(f"{op}:{ca}<->{cb}")
            if (chunks[0] if words is None else chunks[words[0]]) != first:
                fix_sentence_case(chunks, range(nw) if words is None else words, first)
            done = join_chunks(text, chunks) if spaced else join(chunks)
            append((done, ops) if explain else done)
        return out


class RandomDeletion(WordAugmenter):
    """Delete each word with probability ``rate``; a one-word text is kept, and one word always survives."""

    op = "random-deletion"

    def __init__(self, rate: Rate = 0.1):
        self.rate = check_rate(rate)

    def apply(self, sentence: Sentence, rng: random.Random) -> list[str]:
        words = sentence.words
        if len(words) < 2 or self.rate <= 0.0:
            return []
        gone = _bernoulli_positions(len(words), self.rate, rng.random)
        if not gone:
            return []
        if len(gone) == len(words):  # as in the paper: keep one random word rather than nothing
            gone.pop(rng.randrange(len(gone)))
        gone = [words[k] for k in gone]
        ops = [f"{self.op}:{sentence.word(i)}" for i in gone]
        sentence.delete(set(gone))
        return ops

    def fast_many(self, texts: list[str], key: bytes, explain: bool = False, by_text: bool = True) -> list:
        """:meth:`apply` on the chunks of each text, drawing straight from the blocks of its ``HashRandom``."""
        p, op = self.rate, self.op
        if not 0.0 < p < 1.0:
            return [None] * len(texts)
        # Lookups hoisted out of the loop, as in RandomSwap.fast_many.
        join = " ".join
        log_q, log = math.log1p(-p), math.log
        start = _blake2b(key, digest_size=64).copy
        out = []
        append = out.append
        for text in texts:
            chunks = text.split()
            h = start()
            if by_text:
                h.update(text.encode())  # UTF-8
            draws = WORDS(h.digest())  # used from the end, as in RandomSwap.fast_many
            k = int(log(1.0 - (draws[7] >> 11) * TO_UNIT) / log_q)  # as _bernoulli_positions draws
            if k >= len(chunks):
                # The first deletion falls past the last chunk, so past the last word: the text comes
                # back unchanged (as from the general path, one word or many), and the checks below are
                # spared for these texts (about one in seven here).
                append((text, []) if explain else text)
                continue
            spaced = join(chunks) != text  # as in RandomSwap.fast_many
            words = word_slots(text, chunks, spaced)
            n = len(chunks) if words is None else len(words)
            if n < 2:
                append(None)
                continue
            i = 6
            blocks = 1
            gone = []
            while k < n:
                gone.append(k)
                if i < 0:
                    draws = block(key + text.encode() if by_text else key, blocks)
                    i = 7
                    blocks += 1
                k += 1 + int(log(1.0 - (draws[i] >> 11) * TO_UNIT) / log_q)
                i -= 1
            if not gone:
                append((text, []) if explain else text)
                continue
            if len(gone) == n:
                append(None)  # one word must survive: the general path draws which
                continue
            if words is not None:
                gone = [words[k] for k in gone]
            ops = [f"{op}:{split_word(chunks[i])[1]}" for i in gone] if explain else []
            first = chunks[0] if words is None else chunks[words[0]]
            delete_words(chunks, gone)  # gone is in increasing order
            if chunks[0] is None or chunks[0] != first:
                dropped = set(gone)
                fix_sentence_case(chunks, [i for i in (range(len(chunks)) if words is None else words) if i not in dropped], first)
            if spaced:
                done = join_chunks(text, chunks)
            else:  # drop the deleted chunks (a few) rather than filter every chunk while joining
                for i in reversed(gone):
                    if chunks[i] is None:
                        del chunks[i]
                done = join(chunks)
            append((done, ops) if explain else done)
        return out


def _bernoulli_positions(n: int, p: float, random) -> list[int]:
    """The positions among ``n`` hit with probability ``p`` each, drawing only the gaps between hits
    (geometric), so a low rate costs a few draws rather than one per word."""
    if p >= 1.0:
        return list(range(n))
    log_q = math.log1p(-p)
    log = math.log
    out = []
    k = int(log(1.0 - random()) / log_q)
    while k < n:
        out.append(k)
        k += 1 + int(log(1.0 - random()) / log_q)
    return out


class EDA(WordAugmenter):
    """Easy Data Augmentation: each augmented sentence comes from one of the four operations, chosen at random.

    ``alpha`` is the share of words changed (the paper's α, also the deletion probability); the
    per-operation rates override it. :meth:`generate` returns ``num_aug`` sentences per original as the
    paper's ``eda()`` does (``num_aug // 4 + 1`` per operation, shuffled, cut to ``num_aug``);
    :meth:`augment` gives one. The paper suggests ``alpha: 0.05, num_aug: 16`` for 500 training
    examples.
    """

    op = "eda"

    def __init__(self, alpha: Rate = 0.1, num_aug: Annotated[int, Range(1, 1000)] = 9, alpha_sr: Rate | None = None,
                 alpha_ri: Rate | None = None, alpha_rs: Rate | None = None, p_rd: Rate | None = None,
                 min_changes: Changes = 1):
        self.alpha = check_rate(alpha, "alpha")
        if num_aug < 1:
            raise ConfigError(f"expected 1 or more augmented sentences per original, got {num_aug!r}", "num_aug")
        self.num_aug = num_aug
        self.alpha_sr, self.alpha_ri, self.alpha_rs, self.p_rd = alpha_sr, alpha_ri, alpha_rs, p_rd
        self.min_changes = check_min(min_changes)
        rate = lambda v, name: check_rate(self.alpha if v is None else v, name)  # noqa: E731
        self._ops = [op for op in (
            SynonymReplacement(rate(alpha_sr, "alpha_sr"), min_changes),
            RandomInsertion(rate(alpha_ri, "alpha_ri"), min_changes),
            RandomSwap(rate(alpha_rs, "alpha_rs"), min_changes),
            RandomDeletion(rate(p_rd, "p_rd")),
        ) if op.rate > 0]

    def apply(self, sentence: Sentence, rng: random.Random) -> list[str]:
        if not self._ops:
            return []
        return self._ops[rng.randrange(len(self._ops))].apply(sentence, rng)

    def generate(self, text: str, seed: int = 0) -> list[str]:
        """``num_aug`` augmented versions of ``text`` as in the paper (the original not included)."""
        if not self._ops:
            return [text] * self.num_aug
        rng = seeded(seed, text, "eda.generate")
        per_op = self.num_aug // len(self._ops) + 1
        out = []
        for op in self._ops:
            for _ in range(per_op):
                out.append(op.augment_one(text, child(rng))[0])
        rng.shuffle(out)
        return out[: self.num_aug]
