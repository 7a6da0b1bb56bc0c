"""An honest quality measure for generated images of a labelled image set.

A small CNN (the *judge*) is trained on the real training images; its 64-dimensional penultimate
features give a Fréchet distance between generated and held-out real images (lower is better, the
idea of FID with a feature extractor that fits the data), its confidence gives the share of images
it classifies with probability above 0.9, and the histogram of its predicted classes gives the
class coverage (entropy over log K: 1 when every class is drawn equally often, 0 when one class
takes all).
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from nlpzoo_training import device_of, evaluating, on_device_of

FEATURES = 64
CONFIDENT = 0.9


class Judge(nn.Module):
    """Two conv blocks and a 64-unit layer; ``features`` is the input of the class layer."""

    def __init__(self, channels: int, size: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, s/2, s/2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, s/4, s/4)
            nn.Flatten(), nn.Linear(64 * (size // 4) ** 2, FEATURES),  # (B, 64)
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(FEATURES, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def to_unit(images_uint8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images_uint8)).float().div_(255.0)


def train_judge(images: np.ndarray, labels: np.ndarray, num_classes: int, epochs: int = 4, seed: int = 0,
                batch_size: int = 64, device: "torch.device | str | None" = None) -> Judge:
    """The judge trained on uint8 ``(n, C, H, W)`` images with Adam, on ``device`` (default: the CPU);
    reproducible from ``seed`` on a given device. The images stay on the CPU; each batch is moved."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        judge = Judge(images.shape[1], images.shape[2], num_classes).to(device or "cpu")
        opt = torch.optim.Adam(judge.parameters(), lr=2e-3)
        x, y = to_unit(images), torch.from_numpy(labels.astype(np.int64))  # (n, C, H, W), (n,)
        gen = torch.Generator().manual_seed(seed)
        judge.train()
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            batches = ((x[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(x), batch_size))
            for xb, yb in on_device_of(judge, batches):
                loss = nn.functional.cross_entropy(judge(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    judge.eval()
    return judge


@torch.no_grad()
def judge_outputs(judge: Judge, images01: torch.Tensor, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(n, 64)`` and class probabilities ``(n, K)`` of float images in [0, 1] (on any device)."""
    where = device_of(judge)
    feats, probs = [], []
    full_precision = torch.autocast(where.type, enabled=False) if torch.amp.is_autocast_available(where.type) \
        else contextlib.nullcontext()  # even inside a bf16 training loop
    with evaluating(judge), full_precision:
        for batch in on_device_of(judge, (images01[i:i + batch_size] for i in range(0, len(images01), batch_size))):
            f = judge.body(batch.float())  # (b, 64)
            feats.append(f.double().cpu().numpy())
            probs.append(torch.softmax(judge.head(f), dim=1).double().cpu().numpy())  # (b, K)
    return np.concatenate(feats), np.concatenate(probs)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two feature samples."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr (S_a S_b)^(1/2) = sum of sqrt eigenvalues of S_a^(1/2) S_b S_a^(1/2), which is symmetric PSD.
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * cross)


def scores(judge: Judge, images01: torch.Tensor, reference01: torch.Tensor,
           labels: np.ndarray | None = None) -> dict[str, float]:
    """``frechet_distance`` to the reference images, ``confident`` share, class ``coverage`` (and ``accuracy`` with labels)."""
    feats, probs = judge_outputs(judge, images01)
    ref_feats, _ = judge_outputs(judge, reference01)
    k = probs.shape[1]
    hist = np.bincount(probs.argmax(1), minlength=k) / len(probs)
    nz = hist[hist > 0]
    out = {
        "frechet_distance": frechet_distance(feats, ref_feats),
        "confident": float((probs.max(1) > CONFIDENT).mean()),
        "coverage": max(0.0, float(-(nz * np.log(nz)).sum() / math.log(k))) if k > 1 else 1.0,
    }
    if labels is not None:
        out["accuracy"] = float((probs.argmax(1) == labels).mean())
    return out
