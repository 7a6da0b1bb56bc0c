"""A scheduler's learning rate at each step, as the loop would see it (``nlpzoo schedule`` draws it)."""
from __future__ import annotations

from nlpzoo import Scheduler
from nlpzoo.kinds import check_learning_rate


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
