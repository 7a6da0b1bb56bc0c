"""The components. torch is imported inside methods so `nlpzoo list` stays fast."""
from __future__ import annotations

import random

import nlpzoo


class Shout(nlpzoo.Augmenter):
    """Upper-cases each word with probability ``rate``."""

    def __init__(self, rate: float = 0.3):
        if not 0.0 <= rate <= 1.0:
            raise nlpzoo.ConfigError(f"expected a rate between 0 and 1, got {rate}", "rate")
        self.rate = rate

    def augment_one(self, text: str, rng: random.Random) -> tuple[str, list[str]]:
        words = text.split(" ")
        ops = []
        for i, w in enumerate(words):
            if w and rng.random() < self.rate and w.upper() != w:
                words[i] = w.upper()
                ops.append(f"shout:{w}")
        return " ".join(words), ops


class Triangle(nlpzoo.Scheduler):
    """The rate climbs linearly from ``base_lr * low`` to ``base_lr`` and back every ``period`` steps."""

    def __init__(self, period: int = 200, low: float = 0.1):
        self.period, self.low = period, low

    def create(self, optimizer, total_steps: int):
        import torch

        half = max(1, self.period // 2)

        def factor(step: int) -> float:
            pos = step % (2 * half)
            frac = pos / half if pos < half else 2 - pos / half
            return self.low + (1 - self.low) * frac

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
