"""Seeds: one number per purpose, derived from the run's seed, the same in every process and version."""
from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *parts: object) -> int:
    """A 31-bit seed that depends on ``seed`` and ``parts`` only (stable across processes and versions)."""
    text = "\x1f".join(map(str, (seed, *parts)))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (those that are installed)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy comes with every model extra
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass
