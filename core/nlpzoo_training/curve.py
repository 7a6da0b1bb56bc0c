"""Learning rates: a scheduler's at each step, as the loop would see it (``nlpzoo schedule`` draws it), and the
check the loop makes of every rate it is given."""
from __future__ import annotations

import math

from nlpzoo import ConfigError, Scheduler


def learning_rate_curve(scheduler: Scheduler, total_steps: int, base_lr: float = 1.0) -> list[float]:
    """The learning rate at each of ``total_steps`` steps from ``base_lr``; a metric-driven scheduler sees a
    flat metric. A negative or non-finite rate is refused, as the loop refuses it."""
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=base_lr)
    made = scheduler.checked_create(opt, total_steps)
    lrs = []
    for step in range(total_steps):
        lr = opt.param_groups[0]["lr"]
        check_learning_rate(lr, step, type(scheduler).__name__)
        lrs.append(lr)
        opt.step()
        made.step(1.0) if scheduler.steps_on == "metric" else made.step()
    return lrs


def check_learning_rate(lr, step: int, by: str) -> None:
    """A negative or non-finite learning rate trains backwards or blows up: refused, as a NaN loss is."""
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0):
        shown = f"{lr:.4g}" if isinstance(lr, float) else repr(lr)
        raise ConfigError(f"{by} gives a learning rate of {shown} at step {step}; a learning rate must be a finite "
                          "number >= 0 (check the scheduler's parameters and the optimizer's lr)", "scheduler")
