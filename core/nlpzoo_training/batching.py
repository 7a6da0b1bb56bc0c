"""Batching helpers every text model needs: length-bucketed batch orders and padding.

Only :func:`pad_sequences` needs torch (imported when called).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

BUCKET = 50  # batches per length bucket: sorted inside a bucket, batches shuffled afterwards


def length_bucketed_batches(lengths: Sequence[int], batch_size: int, seed: int, *,
                            sort_by_length: bool = True, bucket: int = BUCKET) -> list[list[int]]:
    """Indices of each training batch, the same for the same seed.

    Examples are shuffled; with ``sort_by_length`` they are cut into buckets of ``bucket`` batches,
    sorted by length inside each bucket, batched, and the batches shuffled again, so padding stays
    small while batches stay random.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if sort_by_length:
        span = batch_size * bucket
        order = [i for s in range(0, len(order), span) for i in sorted(order[s:s + span], key=lambda j: lengths[j])]
    batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    if sort_by_length:
        rng.shuffle(batches)
    return batches


def longest_first_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Inference batches of similar length, longest first: the largest memory need shows at once."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda j: -lengths[j])
    return [order[s:s + batch_size] for s in range(0, len(order), batch_size)]


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int, max_length: int | None = None,
                  ) -> tuple["torch.Tensor", "torch.Tensor"]:
    """``(ids, lengths)``: ids ``(B, T)`` padded on the right to the longest sequence (cut at ``max_length``).

    Empty sequences count as length 1 (one padding token), so every row can be packed or pooled.
    The tensors are made on the CPU; the training loop moves batches to the device.
    """
    import numpy as np
    import torch

    cut = [s[:max_length] if max_length is not None else s for s in seqs]
    lengths = [max(1, len(s)) for s in cut]
    ids = np.full((len(cut), max(lengths, default=1)), pad_id, dtype=np.int64)
    for i, s in enumerate(cut):
        ids[i, :len(s)] = s
    return torch.from_numpy(ids), torch.as_tensor(lengths, dtype=torch.long)
