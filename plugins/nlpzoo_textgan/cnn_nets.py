"""The torch side of ``cnn-classifier``: Kim's (2014) network and the task the shared loop trains.

Imported only when a model is trained, loaded or used (``cnn.py`` stays torch-free).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nlpzoo_training import (TorchTask, classification_metrics, device_of, evaluating, length_bucketed_batches,
                             longest_first_batches, pad_sequences)


class KimCNN(nn.Module):
    """Embedding, parallel convolutions of several widths, max over time, dropout, linear head.

    Reads ids ``(B, T)`` or, for a text GAN's relaxed samples, one distribution over the vocabulary
    per position ``(B, T, V)`` (embedded as the expected embedding). Windows never reach past a
    text's last real token (shorter texts are padded up to the widest filter), so a text gets the
    same logits whatever else is in its batch.
    """

    reads_distributions = True

    def __init__(self, vocab_size: int, embedding_dim: int, num_classes: int, *, filter_sizes: Sequence[int] = (3, 4, 5),
                 num_filters: int = 100, dropout: float = 0.5, pad_id: int = 0):
        super().__init__()
        self.pad_id = pad_id
        self.filter_sizes = tuple(filter_sizes)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, num_filters, k) for k in self.filter_sizes)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_filters * len(self.filter_sizes), num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.is_floating_point():  # (B, T, V) distributions
            lengths = (tokens[..., self.pad_id] < 0.5).sum(1)  # (B,)
            x = tokens @ self.embedding.weight  # (B, T, E)
        else:
            lengths = (tokens != self.pad_id).sum(1)
            x = self.embedding(tokens)  # (B, T, E)
        widest = max(self.filter_sizes)
        if x.shape[1] < widest:
            x = F.pad(x, (0, 0, 0, widest - x.shape[1]))
        x = x.transpose(1, 2)  # (B, E, T)
        positions = torch.arange(x.shape[2], device=x.device)
        pooled = []
        for k, conv in zip(self.filter_sizes, self.convs):
            maps = F.relu(conv(x))  # (B, F, T - k + 1)
            # a window starting at t is inside the text when t + k <= length (or it is the first, for short texts)
            valid = positions[None, : maps.shape[2]] + k <= torch.clamp(lengths, min=k)[:, None]  # (B, T - k + 1)
            pooled.append(maps.masked_fill(~valid[:, None, :], float("-inf")).amax(dim=2))  # (B, F)
        return self.head(self.dropout(torch.cat(pooled, dim=1)))  # (B, C)


class ClassifierTask(TorchTask):
    """Texts tokenized once; each epoch a seeded shuffle into batches of similar length."""

    def __init__(self, net: KimCNN, tokenizer, train: tuple[list[str], list[int]],
                 splits: dict[str, tuple[list[str], list[int]]], *, run, max_length: int, labels: Sequence[str]):
        self.nets = {"model": net}
        self.tokenizer, self.run, self.max_length, self.labels = tokenizer, run, max_length, list(labels)
        self.seed = run.seed
        self.batch_size_ = run.config.batch_size
        self.eval_batch_size = run.config.eval_batch_size or 2 * run.config.batch_size
        self.train_texts, self.train_labels = train
        self.train_ids = tokenizer.encode_batch(self.train_texts)
        self.splits = {k: (tokenizer.encode_batch(t), y) for k, (t, y) in splits.items()}

    def train_batches(self, epoch: int):
        run = self.run
        ids = self.train_ids
        if getattr(run, "augmenter", None) is not None and run.config.augment_mode != "offline":
            ids = self.tokenizer.encode_batch(run.augment_texts(self.train_texts, epoch))
        lengths = [min(len(s), self.max_length) for s in ids]
        for idx in length_bucketed_batches(lengths, self.batch_size_, seed=self.seed * 100_003 + epoch):
            x, _ = pad_sequences([ids[i] for i in idx], self.tokenizer.pad_id, self.max_length)
            yield x, torch.as_tensor([self.train_labels[i] for i in idx], dtype=torch.long)

    def training_step(self, batch, stage: str):
        x, y = batch
        return F.cross_entropy(self.nets["model"](x).float(), y), {}

    def evaluate(self, split: str) -> dict[str, float]:
        ids, y = self.splits[split]
        probs = predict_proba(self.nets["model"], ids, self.tokenizer.pad_id, self.max_length, self.eval_batch_size)
        y = np.asarray(y, dtype=np.int64)
        metrics, _ = classification_metrics(y, probs.argmax(1), self.labels)
        loss = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean()) if len(y) else 0.0
        return {"loss": loss, **metrics}


@torch.no_grad()
def predict_proba(net: nn.Module, ids: list[list[int]], pad_id: int, max_length: int, batch_size: int = 128) -> np.ndarray:
    """Class probabilities ``(len(ids), C)`` in the order given."""
    out = np.zeros((len(ids), net.head.out_features), dtype=np.float32)
    device = device_of(net)
    with evaluating(net):
        for idx in longest_first_batches([len(s) for s in ids], batch_size):
            x, _ = pad_sequences([ids[i] for i in idx], pad_id, max_length)
            out[idx] = torch.softmax(net(x.to(device)).float(), dim=-1).cpu().numpy()
    return out
