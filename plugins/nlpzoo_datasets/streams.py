"""Splits that are read from disk as they are used, for corpora larger than memory.

A streamed split is an iterable of examples that can be iterated any number of times, each pass
reading the files again, and that is deliberately *not* a ``Sequence`` (no ``len``, no indexing): a
model tells a stream from a list with ``isinstance(split, collections.abc.Sequence)``.
``split.shard(rank, world_size)`` is the part one process reads; the shards of all processes
together are the split, each example in exactly one. Which split an example belongs to depends
only on the seed and where it sits in its file, never on the number of processes.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .readers import FileDataset


def check_shard(rank: int, world_size: int) -> None:
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a whole number of 1 or more, got {world_size!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank!r}")


def shard_range(size: int, rank: int, world_size: int) -> tuple[int, int]:
    """The byte range ``[start, end)`` of a ``size``-byte file that process ``rank`` reads.

    A process reads the records that *start* in its range, so records crossing a boundary are read
    once, by the process whose range they start in.
    """
    check_shard(rank, world_size)
    return size * rank // world_size, size * (rank + 1) // world_size


def split_of(seed: int, source: int, position: int, validation: float, test: float) -> str:
    """``train``, ``validation`` or ``test`` for the record at ``position`` of file number ``source``.

    A hash of (seed, source, position) drawn uniformly from [0, 1): each split gets its fraction of
    the records in expectation, whatever the order in which processes read them.
    """
    digest = hashlib.blake2b(f"{seed}:{source}:{position}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2.0 ** 64
    return "test" if u < test else "validation" if u < test + validation else "train"


class TextStream:
    """One split of a file dataset, read lazily; see the module docstring."""

    def __init__(self, dataset: "FileDataset", split: str, rank: int = 0, world_size: int = 1):
        check_shard(rank, world_size)
        self.dataset, self.split, self.rank, self.world_size = dataset, split, rank, world_size

    def __iter__(self) -> Iterator[dict]:
        return self.dataset.iter_split(self.split, self.rank, self.world_size)

    def shard(self, rank: int, world_size: int) -> "TextStream":
        """The examples process ``rank`` of ``world_size`` reads (a shard of a shard is refused)."""
        if self.world_size != 1:
            raise ValueError(f"this stream is already shard {self.rank} of {self.world_size}")
        return TextStream(self.dataset, self.split, rank, world_size)

    def __repr__(self) -> str:
        part = f", shard {self.rank} of {self.world_size}" if self.world_size > 1 else ""
        return f"TextStream({type(self.dataset).__name__} {self.split}{part})"
