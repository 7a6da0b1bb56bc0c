"""File and data utilities for plugin and command authors; nothing here imports torch.

Write a file whole or not at all, read one with a size limit, check an ``--output`` before the work
that fills it, print untrusted text on one line, hash a file, and split or sample data by seed.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Sequence

from .catalog import sha256_file
from .text import one_line
from .yamlio import atomic_write, check_output, confined, read_bounded, write_output

__all__ = [
    "atomic_write",
    "check_output",
    "confined",
    "one_line",
    "read_bounded",
    "seeded_sample",
    "seeded_split",
    "sha256_file",
    "write_output",
]


def seeded_split(n: int, seed: int, validation: float = 0.1, test: float = 0.1,
                 labels: Sequence[Hashable] | None = None) -> dict[str, list[int]]:
    """Indices of ``train``, ``validation`` and ``test`` (each sorted), the same for the same seed.

    With ``labels``, the split is stratified: every split holds each label in proportion. Without,
    the indices are shuffled with ``random.Random(seed)`` and cut test first, then validation.
    """
    for name, fraction in (("validation", validation), ("test", test)):
        if not 0 <= fraction < 1:
            raise ValueError(f"{name}: expected a fraction in [0, 1), got {fraction!r}")
    if validation + test >= 1:
        raise ValueError(f"validation + test must leave something to train on, got {validation} + {test}")
    rng = random.Random(seed)
    if labels is None:
        order = list(range(n))
        rng.shuffle(order)
    else:
        if len(labels) != n:
            raise ValueError(f"expected {n} labels, got {len(labels)}")
        groups: dict = defaultdict(list)
        for i, label in enumerate(labels):
            groups[label].append(i)
        keys = [0.0] * n
        for label in sorted(groups, key=repr):
            members = groups[label]
            rng.shuffle(members)
            offset = rng.random()
            for rank, i in enumerate(members):  # each class spread evenly over [0, 1)
                keys[i] = (rank + offset) / len(members)
        order = sorted(range(n), key=keys.__getitem__)
    n_test, n_val = round(n * test), round(n * validation)
    return {"train": sorted(order[n_test + n_val:]), "validation": sorted(order[n_test:n_test + n_val]),
            "test": sorted(order[:n_test])}


def seeded_sample(n_items: int, n: int | None, stream: str) -> list[int]:
    """``n`` of ``range(n_items)`` drawn by the random stream named ``stream``, in order; smaller ``n``
    give subsets of larger. Files are often grouped (by movie, author, source), so the first ``n``
    would not be a fair sample."""
    if n is None or n >= n_items:
        return list(range(n_items))
    order = list(range(n_items))
    random.Random(stream).shuffle(order)
    return sorted(order[:n])
