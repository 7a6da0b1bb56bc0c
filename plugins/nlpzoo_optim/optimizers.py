"""Optimizers: thin, validated front ends to ``torch.optim`` (imported only in ``create``)."""
from __future__ import annotations

from typing import Annotated

from nlpzoo import Optimizer, Range

LearningRate = Annotated[float, Range(gt=0)]
Positive = Annotated[float, Range(gt=0)]
NonNegative = Annotated[float, Range(0)]
Beta = Annotated[float, Range(0, lt=1)]


def _fused_ok(params) -> bool:
    """Fused kernels need floating-point tensors on a device torch supports them on (CPU since 2.4)."""
    import torch

    tensors = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
    return all(isinstance(p, torch.Tensor) and p.is_floating_point() for p in tensors)


def _as_list(params):
    params = list(params)
    return params


class Adam(Optimizer):
    """Adam. ``fused`` (default on) was measured several percent faster than foreach on a 2-core CPU."""

    def __init__(self, lr: LearningRate = 1e-3, betas: tuple[Beta, Beta] = (0.9, 0.999), eps: Positive = 1e-8,
                 weight_decay: NonNegative = 0.0, amsgrad: bool = False, fused: bool = True):
        self.lr, self.betas, self.eps, self.weight_decay, self.amsgrad, self.fused = lr, tuple(betas), eps, weight_decay, amsgrad, fused

    _torch_name = "Adam"

    def create(self, params):
        import torch

        params = _as_list(params)
        cls = getattr(torch.optim, self._torch_name)
        kwargs = dict(lr=self.lr, betas=self.betas, eps=self.eps, weight_decay=self.weight_decay, amsgrad=self.amsgrad)
        if self.fused and _fused_ok(params):
            kwargs["fused"] = True
        return cls(params, **kwargs)


class AdamW(Adam):
    """AdamW: weight decay decoupled from the gradient update."""

    _torch_name = "AdamW"

    def __init__(self, lr: LearningRate = 1e-3, betas: tuple[Beta, Beta] = (0.9, 0.999), eps: Positive = 1e-8,
                 weight_decay: NonNegative = 0.01, amsgrad: bool = False, fused: bool = True):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, fused)


class SGD(Optimizer):
    """SGD with momentum; ``nesterov`` needs momentum > 0."""

    def __init__(self, lr: LearningRate = 0.1, momentum: NonNegative = 0.9, nesterov: bool = False,
                 weight_decay: NonNegative = 0.0, dampening: Annotated[float, Range(0, 1)] = 0.0):
        if nesterov and (momentum <= 0 or dampening != 0):
            from nlpzoo import ConfigError

            raise ConfigError("nesterov needs momentum > 0 and dampening 0", "nesterov")
        self.lr, self.momentum, self.nesterov, self.weight_decay, self.dampening = lr, momentum, nesterov, weight_decay, dampening

    def create(self, params):
        import torch

        return torch.optim.SGD(_as_list(params), lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                               weight_decay=self.weight_decay, dampening=self.dampening)


class RMSprop(Optimizer):
    """RMSprop. ``alpha`` stays below 1: at 1 the running mean of squared gradients never moves from zero,
    and every step divides the gradient by ``eps`` alone."""

    def __init__(self, lr: LearningRate = 1e-3, alpha: Annotated[float, Range(0, lt=1)] = 0.99, eps: Positive = 1e-8,
                 momentum: NonNegative = 0.0, centered: bool = False, weight_decay: NonNegative = 0.0):
        self.lr, self.alpha, self.eps, self.momentum, self.centered, self.weight_decay = lr, alpha, eps, momentum, centered, weight_decay

    def create(self, params):
        import torch

        return torch.optim.RMSprop(_as_list(params), lr=self.lr, alpha=self.alpha, eps=self.eps, momentum=self.momentum,
                                   centered=self.centered, weight_decay=self.weight_decay)


class Adagrad(Optimizer):
    """Adagrad."""

    def __init__(self, lr: LearningRate = 1e-2, lr_decay: NonNegative = 0.0, eps: Positive = 1e-10,
                 weight_decay: NonNegative = 0.0,
                 initial_accumulator_value: Annotated[float, Range(0, 1e38)] = 0.0):  # fills float32 state
        self.lr, self.lr_decay, self.eps, self.weight_decay, self.initial = lr, lr_decay, eps, weight_decay, initial_accumulator_value

    def create(self, params):
        import torch

        return torch.optim.Adagrad(_as_list(params), lr=self.lr, lr_decay=self.lr_decay, eps=self.eps,
                                   weight_decay=self.weight_decay, initial_accumulator_value=self.initial)
