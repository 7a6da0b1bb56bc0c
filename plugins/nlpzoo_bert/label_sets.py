"""The torch and transformers side of the multi-label classifier: the model, the training task, thresholds.

Imported only inside methods of :mod:`nlpzoo_bert.multilabel`. The network has one logit per label; a
label's score is its sigmoid, independent of the others (transformers' ``multi_label_classification``
problem type, which ``transformers.pipeline("text-classification")`` also reads to apply a sigmoid).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForSequenceClassification

from nlpzoo_training import TorchTask, best_thresholds, length_bucketed_batches, multilabel_metrics

from .hf import (apply_freezing, check_declared_size, collate, kernel_options, llrd_groups, logits_for, quiet,
                 start_frozen, tokenize)


def load_multilabel(source: str, labels: list[str], dropout: float | None = None):
    """A sequence-classification model with a fresh head of one logit per label."""
    check_declared_size(source)
    config = AutoConfig.from_pretrained(source, trust_remote_code=False, num_labels=len(labels),
                                        id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    config.problem_type = "multi_label_classification"
    if dropout is not None:
        config.classifier_dropout = dropout
    with quiet():
        return AutoModelForSequenceClassification.from_pretrained(source, config=config, trust_remote_code=False,
                                                                  use_safetensors=True, **kernel_options(False))


def label_matrix(examples: Sequence[dict], labels: list[str]) -> torch.Tensor:
    """0/1 targets ``(len(examples), len(labels))``."""
    index = {l: i for i, l in enumerate(labels)}
    out = torch.zeros(len(examples), len(labels))
    for row, ex in enumerate(examples):
        out[row, [index[l] for l in ex["labels"]]] = 1.0
    return out


@torch.inference_mode()
def scores(model, tokenizer, texts: list[str], max_length: int, batch_size: int) -> torch.Tensor:
    ids = tokenize(tokenizer, texts, max_length)
    return logits_for(model, ids, tokenizer.pad_token_id, batch_size).sigmoid()  # (N, labels)


class MultiLabelTask(TorchTask):
    """Fine-tuning for label sets: binary cross-entropy over one logit per label.

    Each validation evaluation chooses every label's threshold on the validation split and reports the
    F1 those thresholds give, so the run keeps the weights that are best once thresholds are tuned.
    """

    stages = ("model",)

    def __init__(self, model, tokenizer, data: dict[str, Sequence], labels: list[str], *, run, max_length: int,
                 layer_decay: float, freeze: str, top_layers: int, unfreeze_per_epoch: int, sort_by_length: bool,
                 base_lr: float):
        self.nets = {"model": model}
        self.model, self.tokenizer, self.run, self.labels = model, tokenizer, run, labels
        self.max_length, self.layer_decay, self.base_lr = max_length, layer_decay, base_lr
        self.freeze, self.top_layers, self.unfreeze_per_epoch = freeze, top_layers, unfreeze_per_epoch
        self.sort_by_length = sort_by_length
        cfg = run.config
        self.train_batch_size = cfg.batch_size
        self.eval_batch_size = cfg.eval_batch_size or 2 * cfg.batch_size
        self.train_texts = [ex["text"] for ex in data["train"]]
        self.train_ids = tokenize(tokenizer, self.train_texts, max_length)
        self.train_y = label_matrix(data["train"], labels)  # (N, labels)
        self.splits = {split: ([ex["text"] for ex in data[split]], label_matrix(data[split], labels))
                       for split in ("validation", "test") if data.get(split)}
        self.thresholds = None  # chosen at each validation evaluation
        self.optimizable = start_frozen(model, freeze, top_layers, unfreeze_per_epoch)

    def train_batches(self, epoch: int) -> Iterator[dict]:
        ids = self.train_ids
        if getattr(self.run, "augmenter", None) is not None:  # an augmented text keeps its labels
            texts = self.run.augment_texts(self.train_texts, epoch)
            if texts is not self.train_texts and texts != self.train_texts:
                ids = tokenize(self.tokenizer, texts, self.max_length)
        seed = self.run.seed * 100_003 + epoch
        for b in length_bucketed_batches([len(x) for x in ids], self.train_batch_size, seed,
                                         sort_by_length=self.sort_by_length):
            batch = collate([ids[i] for i in b], self.tokenizer.pad_token_id)
            batch["targets"] = self.train_y[b]  # (B, labels)
            yield batch

    def on_epoch_start(self, epoch: int) -> None:
        apply_freezing(self.model, self.freeze, self.top_layers, self.unfreeze_per_epoch, epoch)

    def parameter_groups(self, stage: str, weight_decay: float) -> list[dict]:
        return llrd_groups(self.model, self.base_lr, weight_decay, self.layer_decay, include=self.optimizable)

    def training_step(self, batch, stage: str):
        logits = self.nets["model"](input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return F.binary_cross_entropy_with_logits(logits.float(), batch["targets"]), {}  # (B, labels) both

    def thresholds_on_validation(self, default: float) -> list[float]:
        """Each label's F1-best threshold on the validation split for the current weights; ``default`` without one."""
        if "validation" not in self.splits:
            return [default] * len(self.labels)
        texts, true = self.splits["validation"]
        predicted = scores(self.model, self.tokenizer, texts, self.max_length, self.eval_batch_size)
        return best_thresholds(true.numpy(), predicted.numpy(), default)

    def evaluate(self, split: str) -> dict[str, float]:
        if split not in self.splits:
            return {}
        texts, true = self.splits[split]
        predicted = scores(self.model, self.tokenizer, texts, self.max_length, self.eval_batch_size)
        if split == "validation":
            self.thresholds = best_thresholds(true.numpy(), predicted.numpy())
        loss = float(F.binary_cross_entropy(predicted.clamp(1e-7, 1 - 1e-7), true))
        chosen = predicted.numpy() >= np.asarray(self.thresholds or [0.5] * len(self.labels))
        return {"loss": loss, **multilabel_metrics(true.numpy(), chosen, self.labels)}
