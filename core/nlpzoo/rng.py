"""A cheap-to-seed generator for one text: BLAKE2b in counter mode, behind ``nlpzoo.kinds.rng_for``.

Seeding ``random.Random`` initialises a Mersenne Twister state of 624 words, about 4 µs: as long as a
whole random swap on a short sentence. :class:`HashRandom` is a ``random.Random`` whose draws come from
BLAKE2b over the key ``(seed, salt, text)`` and a block counter, so seeding costs one hash and the
stream still depends on nothing but the seed and the text. Every method of ``random.Random`` works
(they are built on :meth:`random` and :meth:`getrandbits`).
"""
from __future__ import annotations

import hashlib
import random
import struct

__all__ = ["HashRandom", "TO_UNIT", "WORDS", "block", "child", "seeded"]

WORDS = struct.Struct("<8Q").unpack  # one 64-byte digest = eight 64-bit words
TO_UNIT = 2.0 ** -53  # a word's top 53 bits times this: a float in [0, 1), as random() draws it
_blake2b = hashlib.blake2b


def block(key: bytes, i: int) -> list[int]:
    """Block ``i`` of the stream keyed by ``key``: eight 64-bit words, drawn from the end first."""
    if i == 0:
        return list(WORDS(_blake2b(key, digest_size=64).digest()))
    return list(WORDS(_blake2b(key, digest_size=64, salt=i.to_bytes(16, "little")).digest()))


class HashRandom(random.Random):
    """``random.Random`` drawing 64-bit words from ``blake2b(key, salt=block number)``."""

    gauss_next = None

    def __init__(self, key: bytes | str | int = b""):
        if key.__class__ is bytes:  # the hot path: seeded() and child() hand bytes
            self._key = key
            self._block = 0
            self._buf = block(key, 0)
        else:
            self.seed(key)

    def seed(self, a=None, version: int = 2) -> None:
        if a is None:
            import os

            a = os.urandom(16)
        if isinstance(a, int):
            a = a.to_bytes((a.bit_length() + 8) // 8, "little", signed=True)
        elif isinstance(a, str):
            a = a.encode("utf-8")
        self._key = bytes(a)
        self._block = 0
        self._buf = block(self._key, 0)
        self.gauss_next = None

    def _refill(self) -> list[int]:
        self._block += 1
        self._buf = block(self._key, self._block)
        return self._buf

    def random(self) -> float:
        buf = self._buf or self._refill()
        return (buf.pop() >> 11) * TO_UNIT

    def getrandbits(self, k: int) -> int:
        if k <= 0:
            if k < 0:
                raise ValueError("number of bits must be non-negative")
            return 0
        out, have = 0, 0
        while have < k:
            buf = self._buf or self._refill()
            out |= buf.pop() << have
            have += 64
        return out >> (have - k)

    def getstate(self):
        return (self._key, self._block, tuple(self._buf), self.gauss_next)

    def setstate(self, state) -> None:
        self._key, self._block, buf, self.gauss_next = state
        self._buf = list(buf)


def seeded(seed: int, text: str, salt: str = "") -> HashRandom:
    """The generator of ``text`` under ``seed`` (what ``nlpzoo.kinds.rng_for`` returns)."""
    return HashRandom(f"{seed}\x1f{salt}\x1f{text}".encode("utf-8"))


def child(rng: random.Random) -> HashRandom:
    """A generator for a child augmenter, drawn from the parent's stream (always one 64-bit draw)."""
    return HashRandom(rng.getrandbits(64).to_bytes(8, "little"))
