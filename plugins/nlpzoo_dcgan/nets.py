"""The DCGAN networks (Radford et al., 2016), sized from the image shape.

A square image of side ``size`` is reached from a ``base`` x ``base`` seed map by ``ups`` stride-2
steps: 32 = 4 * 2**3, 28 = 7 * 2**2, 64 = 4 * 2**4. Channel widths halve on the way up in the
generator and double on the way down in the discriminator, as in the paper.

Class-conditional networks take class ids ``(B,)``: the generator appends a learned class embedding
to z; the discriminator either appends one-hot maps to its input (Mirza and Osindero, 2014) or
projects its features on a learned class embedding (Miyato and Koyama, 2018).
"""
from __future__ import annotations

import torch
from torch import nn

CLASS_EMBEDDING = 64  # largest class-embedding size of the generator (one-hot below it)


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
        embedding = min(num_classes, CLASS_EMBEDDING)
        self.embed = nn.Embedding(num_classes, embedding) if num_classes else None
        if self.embed is not None and embedding == num_classes:
            nn.init.eye_(self.embed.weight)  # one-hot at the start, learnable afterwards
        widths = [width * 2 ** (ups - 1 - i) for i in range(ups)]  # e.g. 32x32: 4w, 2w, w
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent + embedding, widths[0], base, 1, 0, bias=False),  # (B, w0, base, base)
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
            z = torch.cat([z, self.embed(labels).to(z.dtype)], dim=1)  # (B, latent + embedding)
        return self.main(z[:, :, None, None])


class Discriminator(nn.Module):
    """Images ``(B, C, size, size)`` [and class ids] -> one score per image ``(B,)`` (real > 0).

    ``spectral_norm``: every weight divided by its largest singular value (Miyato et al., 2018),
    batch norm left out. ``projection``: a conditional score ``psi(h) + <embed(y), h>`` on the
    flattened last feature map ``h``, instead of one-hot maps on the input.
    """

    def __init__(self, channels: int, size: int, width: int = 64, num_classes: int = 0,
                 spectral_norm: bool = False, projection: bool = False):
        super().__init__()
        base, ups = layout(size)
        self.num_classes = num_classes
        self.projection = bool(num_classes and projection)
        maps = num_classes if num_classes and not self.projection else 0
        norm = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        widths = [width * 2 ** i for i in range(ups)]  # e.g. 32x32: w, 2w, 4w
        layers: list[nn.Module] = [norm(nn.Conv2d(channels + maps, widths[0], 4, 2, 1, bias=False)),
                                   nn.LeakyReLU(0.2, True)]  # no batch norm on the input layer (paper)
        for w_in, w_out in zip(widths, widths[1:]):
            layers.append(norm(nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False)))
            if not spectral_norm:
                layers.append(nn.BatchNorm2d(w_out))
            layers.append(nn.LeakyReLU(0.2, True))
        self.features = nn.Sequential(*layers)  # (B, w_last, base, base)
        self.score = norm(nn.Conv2d(widths[-1], 1, base, 1, 0, bias=False))  # (B, 1, 1, 1)
        self.embed = None
        if self.projection:
            embed = nn.Embedding(num_classes, widths[-1] * base * base)
            nn.init.xavier_uniform_(embed.weight)  # small: the class term starts as a nudge, not the whole score
            self.embed = norm(embed)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes and labels is None:
            raise ValueError("this discriminator is conditional: give class labels")
        if self.num_classes and not self.projection:
            maps = nn.functional.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, maps.expand(-1, -1, x.shape[2], x.shape[3])], dim=1)  # (B, C + K, H, W)
        h = self.features(x)
        out = self.score(h).flatten()  # (B,)
        if self.embed is not None:
            out = out + (self.embed(labels).to(h.dtype) * h.flatten(1)).sum(1)  # (B,)
        return out


def dcgan_init(module: nn.Module) -> None:
    """Weights from N(0, 0.02), batch-norm scales from N(1, 0.02), biases zero (the paper's choice)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        weight = module.parametrizations.weight.original if hasattr(module, "parametrizations") else module.weight
        nn.init.normal_(weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_nets(latent: int, channels: int, size: int, g_width: int, d_width: int, num_classes: int,
               init: str, seed: int, spectral_norm: bool = False,
               projection: bool = False) -> tuple[Generator, Discriminator]:
    """Both networks, initialised reproducibly from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g = Generator(latent, channels, size, g_width, num_classes)
        d = Discriminator(channels, size, d_width, num_classes, spectral_norm, projection)
        if init == "dcgan":
            g.apply(dcgan_init)
            d.apply(dcgan_init)
    return g, d


def noise(n: int, latent: int, seed: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``n`` latent vectors ``(n, latent)``, the same for the same seed on every device.

    Drawn on the CPU from their own seeded generator (whatever else uses the global one), then
    moved to ``device``: a GPU's generator would give other numbers than the CPU's.
    """
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, latent, generator=gen)  # (n, latent), on the CPU
    return z if device is None else z.to(device)
