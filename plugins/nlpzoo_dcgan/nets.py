"""The DCGAN networks (Radford et al., 2016), sized from the image shape.

A square image of side ``size`` is reached from a ``base`` x ``base`` seed map by ``ups`` stride-2
steps: 32 = 4 * 2**3, 28 = 7 * 2**2, 64 = 4 * 2**4. Channel widths halve on the way up in the
generator and double on the way down in the discriminator, as in the paper.
"""
from __future__ import annotations

import torch
from torch import nn


def layout(size: int) -> tuple[int, int]:
    """``(base, ups)`` with ``size == base * 2**ups``, base 4 to 7."""
    base, ups = size, 0
    while base % 2 == 0 and base > 7:
        base //= 2
        ups += 1
    if ups < 2 or not 4 <= base <= 7:
        raise ValueError(f"dcgan supports square images of 28x28, 32x32 or 64x64 pixels, got {size}x{size}; "
                         "resize them (image-folder takes a size parameter)")
    return base, ups


class Generator(nn.Module):
    """z ``(B, latent)`` [and class ids ``(B,)``] -> images ``(B, C, size, size)`` in [-1, 1]."""

    def __init__(self, latent: int, channels: int, size: int, width: int = 64, num_classes: int = 0):
        super().__init__()
        base, ups = layout(size)
        self.latent, self.num_classes = latent, num_classes
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None
        if self.embed is not None:
            nn.init.eye_(self.embed.weight)  # one-hot at the start, learnable afterwards
        widths = [width * 2 ** (ups - 1 - i) for i in range(ups)]  # e.g. 32x32: 4w, 2w, w
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent + num_classes, widths[0], base, 1, 0, bias=False),  # (B, w0, base, base)
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]  # (B, C, size, size)
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is conditional: give class labels")
            z = torch.cat([z, self.embed(labels).to(z.dtype)], dim=1)
        return self.main(z[:, :, None, None])


class Discriminator(nn.Module):
    """Images ``(B, C, size, size)`` [and class ids] -> one logit per image ``(B,)`` (real > 0)."""

    def __init__(self, channels: int, size: int, width: int = 64, num_classes: int = 0):
        super().__init__()
        base, ups = layout(size)
        self.num_classes = num_classes
        widths = [width * 2 ** i for i in range(ups)]  # e.g. 32x32: w, 2w, 4w
        layers: list[nn.Module] = [nn.Conv2d(channels + num_classes, widths[0], 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]  # no batch norm on the input layer (paper)
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(widths[-1], 1, base, 1, 0, bias=False)]  # (B, 1, 1, 1)
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            if labels is None:
                raise ValueError("this discriminator is conditional: give class labels")
            maps = nn.functional.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, maps.expand(-1, -1, x.shape[2], x.shape[3])], dim=1)
        return self.main(x).flatten()


def dcgan_init(module: nn.Module) -> None:
    """Weights from N(0, 0.02), batch-norm scales from N(1, 0.02), biases zero (the paper's choice)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_nets(latent: int, channels: int, size: int, g_width: int, d_width: int, num_classes: int,
               init: str, seed: int) -> tuple[Generator, Discriminator]:
    """Both networks, initialised reproducibly from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = Generator(latent, channels, size, g_width, num_classes)
        d = Discriminator(channels, size, d_width, num_classes)
        if init == "dcgan":
            g.apply(dcgan_init)
            d.apply(dcgan_init)
    return g, d


def noise(n: int, latent: int, seed: int) -> torch.Tensor:
    """``n`` latent vectors, the same for the same seed whatever else uses the global generator."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, latent, generator=gen)
