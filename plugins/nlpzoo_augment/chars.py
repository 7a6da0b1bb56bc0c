"""Character-level noise: keyboard typos, swapped, inserted and deleted characters, OCR confusions.

``rate`` is the probability that each character of a word is hit (punctuation and spaces are left
alone), so ``rate: 0`` changes nothing and over many texts the share of changed characters is ``rate``.
Letters without a known neighbour or confusion (most non-Latin scripts) are left as they are, and
inserted characters stay in the word's own script.
"""
from __future__ import annotations

import random
from typing import ClassVar

from .base import Rate, WordAugmenter, check_rate
from .text import Sentence

_ROWS = ["1234567890-", "qwertyuiop[", "asdfghjkl;'", "zxcvbnm,./"]


def _keyboard() -> dict[str, str]:
    """QWERTY neighbours of each letter and digit (same row left/right, rows above and below); letters
    get letters and digits digits, the typos people actually leave in words."""
    pos = {ch: (r, c) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}
    out = {}
    for ch, (r, c) in pos.items():
        if not ch.isalnum():
            continue
        near = []
        for dr, dc in ((0, -1), (0, 1), (-1, 0), (-1, 1), (1, -1), (1, 0)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < len(_ROWS) and 0 <= cc < len(_ROWS[rr]) and _ROWS[rr][cc].isalpha() == ch.isalpha() \
                    and _ROWS[rr][cc].isalnum():
                near.append(_ROWS[rr][cc])
        out[ch] = "".join(near)
    return out


KEYBOARD = _keyboard()

#: Confusions an OCR engine makes, one way each (both directions listed where both happen).
OCR = {
    "rn": ["m"], "m": ["rn"], "cl": ["d"], "d": ["cl"], "vv": ["w"], "w": ["vv"], "li": ["h"], "h": ["li"],
    "0": ["o", "O", "D"], "o": ["0"], "O": ["0", "D"], "D": ["O"], "1": ["l", "I"], "l": ["1", "I"], "I": ["1", "l"],
    "i": ["1", "l"], "5": ["S", "s"], "S": ["5", "8"], "s": ["5"], "8": ["B", "S"], "B": ["8"], "6": ["b", "G"],
    "b": ["6"], "9": ["g", "q"], "g": ["9"], "q": ["9"], "2": ["Z", "z"], "Z": ["2"], "z": ["2"], "e": ["c"],
    "c": ["e"], "a": ["o"], "u": ["v"], "v": ["u"], "n": ["h"], "E": ["F"], "F": ["E"], "C": ["G"], "G": ["C", "6"],
}


class CharAugmenter(WordAugmenter):
    """Visits every character of every word; :meth:`edit` changes the word at a hit position."""

    op: ClassVar[str] = ""

    def __init__(self, rate: Rate = 0.05):
        self.rate = check_rate(rate)

    def apply(self, sentence: Sentence, rng: random.Random) -> list[str]:
        if self.rate <= 0.0:
            return []
        ops = []
        r, p = rng.random, self.rate
        for i in sentence.words:
            word = sentence.word(i)
            new, k = word, 0
            while k < len(new):
                if r() < p:
                    new, k = self.edit(new, k, rng)
                else:
                    k += 1
            if new != word:
                sentence.set_word(i, new)
                ops.append(f"{self.op}:{word}->{new}")
        return ops

    def edit(self, word: str, k: int, rng: random.Random) -> tuple[str, int]:
        """The word with position ``k`` edited, and the next position to visit."""
        raise NotImplementedError


def _same_case(src: str, ch: str) -> str:
    return ch.upper() if src.isupper() else ch


class KeyboardTypos(CharAugmenter):
    """Replace characters by a neighbouring key on a QWERTY keyboard (case kept)."""

    op = "keyboard-typos"

    def edit(self, word, k, rng):
        c = word[k]
        near = KEYBOARD.get(c.lower())
        if not near:
            return word, k + 1
        return word[:k] + _same_case(c, near[rng.randrange(len(near))]) + word[k + 1:], k + 1


class CharSwap(CharAugmenter):
    """Swap a character with the next one in the same word."""

    op = "char-swap"

    def edit(self, word, k, rng):
        if k + 1 >= len(word):
            return word, k + 1
        return word[:k] + word[k + 1] + word[k] + word[k + 2:], k + 2


class CharInsert(CharAugmenter):
    """Insert a character after this one: a neighbouring key, or the same letter again outside QWERTY."""

    op = "char-insert"

    def edit(self, word, k, rng):
        c = word[k]
        near = KEYBOARD.get(c.lower())
        extra = _same_case(c, near[rng.randrange(len(near))]) if near else c
        return word[: k + 1] + extra + word[k + 1:], k + 2


class CharDelete(CharAugmenter):
    """Delete a character; a word never loses its last one."""

    op = "char-delete"

    def edit(self, word, k, rng):
        if len(word) < 2:
            return word, k + 1
        return word[:k] + word[k + 1:], k


class OCRNoise(CharAugmenter):
    """Replace characters or pairs by what OCR confuses them with (``rn`` -> ``m``, ``0`` -> ``o``, ...)."""

    op = "ocr-noise"

    def edit(self, word, k, rng):
        pair = word[k:k + 2]
        if len(pair) == 2 and pair in OCR:
            choices = OCR[pair]
            return word[:k] + choices[rng.randrange(len(choices))] + word[k + 2:], k + 2
        choices = OCR.get(word[k])
        if not choices:
            return word, k + 1
        new = choices[rng.randrange(len(choices))]
        return word[:k] + new + word[k + 1:], k + len(new)
