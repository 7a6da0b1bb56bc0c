"""What the shared training loop needs from a torch model.

A model plugin's ``fit(data, run)`` prepares its tokenizer and networks, wraps them in a
:class:`TorchTask` and returns ``run.fit(task)``. The loop (``nlpzoo_training.loop``) owns the
optimizers, schedulers, precision, gradient clipping and accumulation, evaluation, early stopping,
checkpoints, resume and multi-process training; the task owns the forward pass and the data.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    import torch


class TorchTask(ABC):
    """Networks in ``nets``, one optimizer per stage, batches that are the same for the same epoch.

    ``stages`` are stepped in order on every batch, each with its own optimizer over
    ``parameter_groups(stage)``: ``("model",)`` for ordinary models, ``("discriminator",
    "generator")`` for a GAN. The loop may replace the values of ``nets`` with wrapped modules
    (DistributedDataParallel) while it trains, so always call networks through ``self.nets``.
    """

    stages: ClassVar[tuple[str, ...]] = ("model",)
    nets: dict[str, "torch.nn.Module"]
    #: True when ``train_batches`` already gives this process's share (a corpus streamed by shards): the
    #: loop then takes every batch, as many in every process as the smallest share has
    shards_itself: bool = False

    @abstractmethod
    def train_batches(self, epoch: int) -> Iterable[Any]:
        """The batches of one epoch, in order; the same for the same epoch, so a resumed run can skip ahead."""

    @abstractmethod
    def training_step(self, batch: Any, stage: str) -> tuple["torch.Tensor", dict[str, float]]:
        """The loss to minimise for ``stage`` on ``batch``, and values to log."""

    @abstractmethod
    def evaluate(self, split: str) -> dict[str, float]:
        """Metrics on ``"validation"`` or ``"test"`` (lower ``loss`` is better; others as named)."""

    def parameter_groups(self, stage: str, weight_decay: float) -> list[dict]:
        """Parameters for the optimizer of ``stage``: decay on weights, none on biases and norms."""
        from .modules import weight_decay_groups

        net = self.nets[stage if stage in self.nets else next(iter(self.nets))]
        return weight_decay_groups(net.named_parameters(), weight_decay)

    def batch_size(self, batch: Any) -> int:
        """Examples in ``batch``, for throughput: the first dimension of its first tensor (alone, or first in
        a tuple, list or dict), else its length, else 1. Override when that is not the number of examples."""
        if isinstance(batch, dict):
            first = next(iter(batch.values()), None)
        else:
            first = batch[0] if isinstance(batch, (tuple, list)) and batch else batch
        shape = getattr(first, "shape", None)
        if shape is not None:  # a tensor or an array; one number is one example
            return int(shape[0]) if len(shape) else 1
        return len(batch) if hasattr(batch, "__len__") else 1

    def on_epoch_start(self, epoch: int) -> None:
        """Called before each epoch (gradual unfreezing, curriculum)."""
