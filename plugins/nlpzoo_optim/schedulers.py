"""Learning-rate schedulers on ``torch.optim.lr_scheduler``; the trainer supplies ``total_steps``.

``warmup`` below 1 is a fraction of the run's total steps, otherwise a number of steps, so one recipe
works for any dataset size.
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

from nlpzoo import Range, Scheduler

Warmup = Annotated[float, Range(0)]  # below 1: a fraction of the run; from 1: steps
Positive = Annotated[float, Range(gt=0)]
NonNegative = Annotated[float, Range(0)]


def _warmup_steps(warmup: float, total_steps: int) -> int:
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    return int(round(warmup * total_steps)) if warmup < 1 else int(warmup)


def _lambda(optimizer, fn):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(optimizer, fn)


class Constant(Scheduler):
    """The base rate, after an optional linear warmup."""

    def __init__(self, warmup: Warmup = 0.0):
        self.warmup = warmup

    def create(self, optimizer, total_steps: int):
        w = _warmup_steps(self.warmup, total_steps)
        return _lambda(optimizer, lambda s: min(1.0, (s + 1) / w) if w else 1.0)


class Step(Scheduler):
    """Multiply by ``gamma`` every ``step_size`` steps."""

    def __init__(self, step_size: Annotated[int, Range(1)] = 1000, gamma: Positive = 0.5):
        self.step_size, self.gamma = step_size, gamma

    def create(self, optimizer, total_steps: int):
        import torch

        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=self.step_size, gamma=self.gamma)


class Exponential(Scheduler):
    """Multiply by ``gamma`` every step."""

    def __init__(self, gamma: Positive = 0.999):
        self.gamma = gamma

    def create(self, optimizer, total_steps: int):
        import torch

        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.gamma)


class Cosine(Scheduler):
    """Cosine annealing from the base rate to ``min_lr`` over the run."""

    def __init__(self, min_lr: NonNegative = 0.0):
        self.min_lr = min_lr

    def create(self, optimizer, total_steps: int):
        import torch

        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps), eta_min=self.min_lr)


class LinearWarmup(Scheduler):
    """Linear warmup to the base rate, then linear decay to zero at the last step."""

    def __init__(self, warmup: Warmup = 0.06):
        self.warmup = warmup

    def create(self, optimizer, total_steps: int):
        w = _warmup_steps(self.warmup, total_steps)

        def factor(s: int) -> float:
            if s < w:
                return (s + 1) / w
            return max(0.0, (total_steps - s) / max(1, total_steps - w))

        return _lambda(optimizer, factor)


class CosineWarmup(Scheduler):
    """Linear warmup, then cosine decay down to ``min_ratio`` times the base rate."""

    def __init__(self, warmup: Warmup = 0.06, min_ratio: Annotated[float, Range(0, 1)] = 0.0):
        self.warmup, self.min_ratio = warmup, min_ratio

    def create(self, optimizer, total_steps: int):
        w = _warmup_steps(self.warmup, total_steps)

        def factor(s: int) -> float:
            if s < w:
                return (s + 1) / w
            progress = min(1.0, (s - w) / max(1, total_steps - w))
            return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        return _lambda(optimizer, factor)


class OneCycle(Scheduler):
    """One-cycle: from max_lr/div_factor up to ``max_lr`` (default: the optimizer's rate), then down."""

    def __init__(self, max_lr: Positive | None = None, pct_start: Annotated[float, Range(gt=0, lt=1)] = 0.3,
                 anneal: Literal["cos", "linear"] = "cos", div_factor: Positive = 25.0, final_div_factor: Positive = 1e4):
        self.max_lr, self.pct_start, self.anneal, self.div_factor, self.final_div_factor = max_lr, pct_start, anneal, div_factor, final_div_factor

    def create(self, optimizer, total_steps: int):
        import torch

        max_lr = self.max_lr if self.max_lr is not None else [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=max(2, total_steps), pct_start=self.pct_start,
            anneal_strategy=self.anneal, div_factor=self.div_factor, final_div_factor=self.final_div_factor,
            cycle_momentum=False)


class InverseSqrt(Scheduler):
    """Linear warmup, then the rate falls as ``sqrt(warmup / step)``."""

    def __init__(self, warmup: Warmup = 4000):
        self.warmup = warmup

    def create(self, optimizer, total_steps: int):
        w = max(1, _warmup_steps(self.warmup, total_steps))
        return _lambda(optimizer, lambda s: (s + 1) / w if s < w else math.sqrt(w / (s + 1)))


class ReduceOnPlateau(Scheduler):
    """Multiply by ``factor`` after ``patience`` evaluations without improvement of the validation metric."""

    steps_on = "metric"

    def __init__(self, factor: Annotated[float, Range(gt=0, lt=1)] = 0.5, patience: Annotated[int, Range(0)] = 2,
                 mode: Literal["min", "max"] = "min", threshold: NonNegative = 1e-4, min_lr: NonNegative = 0.0):
        self.factor, self.patience, self.mode, self.threshold, self.min_lr = factor, patience, mode, threshold, min_lr

    def create(self, optimizer, total_steps: int):
        import torch

        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=self.mode, factor=self.factor,
                                                          patience=self.patience, threshold=self.threshold,
                                                          min_lr=self.min_lr)
