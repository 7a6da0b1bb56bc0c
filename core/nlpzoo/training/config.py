"""Settings of the shared training loop: the ``train:`` section of a recipe."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import re

from ..errors import ConfigError, did_you_mean

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    epochs: int = 1
    max_steps: int | None = None  # optimizer steps; stops early when reached (quick runs, tests)
    batch_size: int = 32
    eval_batch_size: int | None = None  # default: 2 x batch_size
    grad_accum: int = 1
    clip_grad_norm: float | None = 1.0
    weight_decay: float = 0.0  # applied by parameter_groups, not on biases and norms; 0: the optimizer's own
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16: autocast on CPU, weights stay fp32
    device: str = "auto"  # auto (a GPU when there is one), cpu, cuda, cuda:1, mps
    compile: Literal["none", "default", "reduce-overhead", "max-autotune"] = "none"  # torch.compile each network
    max_minutes: float | None = None  # stop after the step that passes this much training time (not reproducible)
    eval_every: int | None = None  # optimizer steps between evaluations; default once per epoch
    log_every: int = 10
    metric: str = "loss"  # the validation metric that picks the best checkpoint
    mode: Literal["min", "max", "auto"] = "auto"  # auto: min for loss/perplexity, else max
    early_stopping: int | None = None  # evaluations without improvement before stopping
    keep_best: bool = True
    ema: float | None = None  # decay of a moving average of the weights, which is what is evaluated and saved
    augment_mode: Literal["online", "offline"] = "online"  # per epoch, or one fixed expansion
    augment_copies: int = 1  # augmented copies per training example
    progress: bool = True  # tqdm bars (off automatically when stderr is not a terminal)
    tensorboard: bool = False  # also write TensorBoard events (needs the tensorboard extra)
    checkpoint_every: int | None = None  # optimizer steps between checkpoints; one is also written at every evaluation
    deterministic: bool = True  # torch.use_deterministic_algorithms (warn only): same seed, same metrics
    find_unused_parameters: bool = False  # DDP: networks whose parameters some steps leave unused
    plots: bool = True  # loss and learning-rate curves (PNG) at the end

    def check(self) -> None:
        """Ranges the types cannot say; errors name the ``train.<key>`` path."""
        for key in ("epochs", "batch_size", "grad_accum", "log_every"):
            minimum = 0 if key == "epochs" else 1
            if getattr(self, key) < minimum:
                raise ConfigError(f"expected at least {minimum}, got {getattr(self, key)}", f"train.{key}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ConfigError(f"expected auto, cpu, cuda, cuda:<index> or mps, got {self.device!r}"
                              f"{did_you_mean(self.device, DEVICES)}", "train.device")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigError(f"expected a positive number of minutes, got {self.max_minutes}", "train.max_minutes")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ConfigError(f"expected a decay between 0 and 1 (e.g. 0.998), or null for none, got {self.ema}", "train.ema")
