"""The DCGAN as a task of the shared training loop: a discriminator step, then a generator step, per batch."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from nlpzoo_training import TorchTask

if TYPE_CHECKING:  # pragma: no cover
    from .imageset import ImageSet
    from .model import DCGAN

SAMPLES = "samples"
LOSSES = ("bce", "hinge")


def to_signed(images_uint8: np.ndarray) -> torch.Tensor:
    """uint8 pixels -> floats in [-1, 1], the range of the generator's tanh (on the CPU)."""
    return torch.from_numpy(np.ascontiguousarray(images_uint8)).float().div_(127.5).sub_(1.0)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, loss: str,
                       real_target: float = 1.0) -> torch.Tensor:
    """``bce``: BCE(D(x), real_target) + BCE(D(G(z)), 0); ``hinge``: mean relu(1 - D(x)) + mean relu(1 + D(G(z)))."""
    if loss == "hinge":
        return torch.relu(1.0 - real_logits).mean() + torch.relu(1.0 + fake_logits).mean()
    bce = nn.functional.binary_cross_entropy_with_logits
    return bce(real_logits, torch.full_like(real_logits, real_target)) + bce(fake_logits, torch.zeros_like(fake_logits))


def generator_loss(fake_logits: torch.Tensor, loss: str) -> torch.Tensor:
    """``bce``: the non-saturating BCE(D(G(z)), 1); ``hinge``: -mean D(G(z))."""
    if loss == "hinge":
        return -fake_logits.mean()
    return nn.functional.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def gan_losses(g: nn.Module, d: nn.Module, x: torch.Tensor, y: torch.Tensor | None, z: torch.Tensor,
               loss: str = "bce", real_target: float = 1.0):
    """Both losses of one batch, the plain way (for evaluation and reference)."""
    fake = g(z, y)
    real_logits, fake_logits = d(x, y), d(fake, y)
    return (discriminator_loss(real_logits, fake_logits, loss, real_target), generator_loss(fake_logits, loss),
            real_logits, fake_logits)


class GANTask(TorchTask):
    """Stage ``discriminator`` computes ``G(z)`` once and learns real against fake; stage
    ``generator`` reuses that same fake batch against the updated discriminator (as in the DCGAN
    reference loop). Batches are ``(images, noise)`` or ``(images, labels, noise)``, made on the CPU
    from a generator seeded by the run seed and the epoch, so a resumed epoch sees the same batches;
    the loop moves them to the networks' device."""

    stages = ("discriminator", "generator")

    def __init__(self, model: "DCGAN", train: "ImageSet", validation: "ImageSet | None", *, seed: int,
                 batch_size: int, run_dir: Path | None = None, write: bool = True, resuming: bool = False):
        self.model = model
        self.nets = {"generator": model.generator, "discriminator": model.discriminator}
        self.x = to_signed(train.images)  # (N, C, H, W) in [-1, 1]
        self.y = torch.from_numpy(train.labels) if model.num_classes else None
        self.validation = validation
        self.seed, self.bsz = seed, batch_size
        self.loss = model.loss
        self.real_target = 1.0 - model.label_smoothing
        self.run_dir, self.write = run_dir, write
        self._fake: tuple[object, torch.Tensor] | None = None
        self.resuming = resuming
        if len(self.x) < 2:
            raise ValueError(f"dcgan needs at least 2 training images, got {len(self.x)}")

    # ------------------------------------------------------------ data

    def train_batches(self, epoch: int):
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.x), generator=gen)
        bsz = min(self.bsz, len(self.x))
        n = len(self.x) // bsz * bsz  # full batches only: batch norm needs more than one image
        z = torch.randn(n, self.model.latent, generator=gen)  # (n, latent)
        for i in range(0, n, bsz):
            idx = order[i:i + bsz]
            if self.y is None:
                yield self.x[idx], z[i:i + bsz]
            else:
                yield self.x[idx], self.y[idx], z[i:i + bsz]

    @staticmethod
    def _unpack(batch):
        if len(batch) == 2:
            return batch[0], None, batch[1]
        return batch

    # ------------------------------------------------------------ steps

    def training_step(self, batch, stage: str):
        x, y, z = self._unpack(batch)
        g, d = self.nets["generator"], self.nets["discriminator"]
        if stage == "discriminator":
            fake = g(z, y)  # (B, C, H, W)
            self._fake = (z, fake)
            real_logits = d(x, y)  # (B,)
            fake_logits = d(fake.detach(), y)
            loss = discriminator_loss(real_logits, fake_logits, self.loss, self.real_target)
            # tensors, not floats: the loop averages them and reads them only when it logs
            logs = {"d_real": torch.sigmoid(real_logits.detach().float()).mean(),
                    "d_fake": torch.sigmoid(fake_logits.detach().float()).mean()}
            return loss, logs
        if stage != "generator":
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(self.stages)}")
        cached, self._fake = self._fake, None
        fake = cached[1] if cached is not None and cached[0] is z else g(z, y)
        fake_logits = d(fake, y)
        return generator_loss(fake_logits, self.loss), {"d_fake_g": torch.sigmoid(fake_logits.detach().float()).mean()}

    # ------------------------------------------------------------ evaluation and pictures

    def evaluate(self, split: str) -> dict[str, float]:
        images = self.validation if split == "validation" else None
        if images is None or len(images) == 0:
            return {}
        return self.model.evaluate(images)

    def on_epoch_start(self, epoch: int) -> None:
        """The grid of the fixed noise batch as it stands after ``epoch`` epochs (epoch 0: untrained)."""
        if self.write and self.run_dir is not None:
            path = Path(self.run_dir) / SAMPLES / f"epoch-{epoch:03d}.png"
            if not (self.resuming and path.exists()):  # a resumed epoch keeps the grid drawn at its real start
                self.model.save_grid(path)
