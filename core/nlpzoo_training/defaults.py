"""What the loop uses when a recipe leaves a choice open: the core's own, never a plugin's by name."""
from __future__ import annotations

from nlpzoo import Optimizer


class DefaultOptimizer(Optimizer):
    """AdamW, lr 1e-3, weight decay 0.01 (on weights only: ``parameter_groups`` leaves biases and norms out).

    The usual choice for the networks nlpzoo trains; fused kernels where torch has them for the parameters.
    """

    lr, weight_decay = 1e-3, 0.01

    def create(self, params):
        import torch

        params = list(params)
        tensors = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
        fused = bool(tensors) and all(p.is_floating_point() for p in tensors)
        return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay, fused=fused or None)


def default_optimizer() -> Optimizer:
    return DefaultOptimizer()
