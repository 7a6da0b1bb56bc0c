"""Settings of the shared training loop: the ``train:`` section of a recipe.

Each setting declares its range (``nlpzoo info train`` lists them); ``validate`` refuses a value
outside it with the recipe line, so ``train`` never starts with one.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Annotated, Literal

from nlpzoo import ConfigError, Range, did_you_mean

DEVICES = ("auto", "cpu", "cuda", "mps")
LOWER_IS_BETTER = ("loss", "perplexity", "ppl", "error", "fid", "frechet", "distance")
Count = Annotated[int, Range(1)]  # at least one
Steps = Annotated[int, Range(1, 10**12)]


@dataclass
class TrainConfig:
    """The settings of the shared training loop: the train: section of a recipe."""

    epochs: Annotated[int, Range(0, 10**6)] = 1  # 0: no training (evaluate and save as built)
    max_steps: Steps | None = None  # optimizer steps; stops early when reached (quick runs, tests)
    batch_size: Count = 32
    eval_batch_size: Count | None = None  # default: 2 x batch_size
    grad_accum: Count = 1
    clip_grad_norm: Annotated[float, Range(gt=0)] | None = 1.0
    weight_decay: Annotated[float, Range(0)] = 0.0  # applied by parameter_groups, not on biases and norms; 0: the optimizer's own
    # bf16: autocast, weights stay fp32; auto: bf16 where the device computes it natively (a recent GPU, a CPU with
    # AVX-512 BF16 or AMX), fp32 elsewhere, where bf16 is emulated and many times slower
    precision: Literal["fp32", "bf16", "auto"] = "fp32"
    device: str = "auto"  # auto (a GPU when there is one), cpu, cuda, cuda:1, mps
    compile: Literal["none", "default", "reduce-overhead", "max-autotune"] = "none"  # torch.compile each network
    max_minutes: Annotated[float, Range(gt=0)] | None = None  # stop after the step that passes this much training time (not reproducible)
    eval_every: Steps | None = None  # optimizer steps between evaluations; default once per epoch
    log_every: Steps = 10
    metric: str = "loss"  # the validation metric that picks the best checkpoint
    mode: Literal["min", "max", "auto"] = "auto"  # auto: min for loss/perplexity, else max
    early_stopping: Count | None = None  # evaluations without improvement before stopping
    keep_best: bool = True
    ema: Annotated[float, Range(gt=0, lt=1)] | None = None  # decay of a moving average of the weights, which is what is evaluated and saved
    augment_mode: Literal["online", "offline"] = "online"  # per epoch, or one fixed expansion
    augment_copies: Annotated[int, Range(1, 1000)] = 1  # augmented copies per training example
    progress: bool = True  # tqdm bars (off automatically when stderr is not a terminal)
    tensorboard: bool = False  # also write TensorBoard events (needs the tensorboard extra)
    checkpoint_every: Steps | None = None  # optimizer steps between checkpoints; one is also written at every evaluation
    deterministic: bool = True  # torch.use_deterministic_algorithms (warn only): same seed, same metrics
    find_unused_parameters: bool = False  # DDP: networks whose parameters some steps leave unused
    plots: bool = True  # loss and learning-rate curves (PNG) at the end

    @property
    def direction(self) -> Literal["minimize", "maximize"]:
        """Which way ``metric`` improves: ``mode``, or for ``auto`` down for losses and perplexities, else up."""
        return "minimize" if lower_is_better(self.metric, self.mode) else "maximize"

    def check(self) -> None:
        """Every setting against its declared type and range; errors name the ``train.<key>`` path.

        A recipe's ``train:`` and ``Run.standalone(train=...)`` are checked this way once; call it on a
        TrainConfig made in code to have the same errors.
        """
        from nlpzoo.config import check_value

        hints = typing.get_type_hints(type(self), include_extras=True)
        for f in dataclasses.fields(self):
            check_value(getattr(self, f.name), hints[f.name], f"train.{f.name}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ConfigError(f"expected auto, cpu, cuda, cuda:<index> or mps, got {self.device!r}"
                              f"{did_you_mean(self.device, DEVICES)}", "train.device")


def lower_is_better(metric: str, mode: str = "auto") -> bool:
    if mode != "auto":
        return mode == "min"
    return any(word in metric.lower() for word in LOWER_IS_BETTER)
