"""The torch and transformers side of the regressor: standardised targets, the training task, folding the scale in.

Imported only inside methods of :mod:`nlpzoo_bert.regressor`. The network learns standardised targets
(mean 0, standard deviation 1 on the training split); the saved network has the mean and standard
deviation folded into its last linear layer, so it predicts in the original units, in nlpzoo and in
``transformers.pipeline("text-classification", function_to_apply="none")`` alike.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForSequenceClassification

from nlpzoo_training import TorchTask, length_bucketed_batches, regression_metrics

from .hf import (apply_freezing, collate, encode, encode_splits, inputs_of, kernel_options, llrd_groups, logits_for,
                 model_inputs, pick, quiet, start_frozen)


def load_regressor(source: str, dropout: float | None = None):
    """A sequence-classification model with one output and a fresh head (transformers' regression problem type)."""
    config = AutoConfig.from_pretrained(source, trust_remote_code=False, num_labels=1, id2label={0: "score"},
                                        label2id={"score": 0})
    config.problem_type = "regression"
    if dropout is not None:
        config.classifier_dropout = dropout
    with quiet():
        return AutoModelForSequenceClassification.from_pretrained(source, config=config, trust_remote_code=False,
                                                                  use_safetensors=True, **kernel_options(False))


def output_layer(model) -> torch.nn.Linear:
    """The head's last linear layer, the one with the single output."""
    found = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 1]
    if not found:
        raise ValueError(f"{type(model).__name__} has no linear layer with one output")
    return found[-1]


def in_original_units(model, mean: float, std: float):
    """A copy of ``model`` whose output is ``std * output + mean``: the scale folded into its last layer."""
    folded = copy.deepcopy(model)
    layer = output_layer(folded)
    with torch.no_grad():
        layer.weight.mul_(std)
        if layer.bias is not None:
            layer.bias.mul_(std).add_(mean)
    return folded


@torch.inference_mode()
def values(model, tokenizer, texts: list, max_length: int, batch_size: int, mean: float, std: float) -> torch.Tensor:
    """One number per text or per sentence pair ``(text, text_pair)``."""
    ids = encode(tokenizer, texts, max_length)
    return logits_for(model, ids, tokenizer.pad_token_id, batch_size)[:, 0] * std + mean  # (N,)


class RegressionTask(TorchTask):
    """Fine-tuning for one number per text: mean squared error on standardised targets."""

    stages = ("model",)

    def __init__(self, model, tokenizer, data: dict[str, Sequence], *, run, mean: float, std: float, max_length: int,
                 layer_decay: float, freeze: str, top_layers: int, unfreeze_per_epoch: int, sort_by_length: bool,
                 base_lr: float):
        self.nets = {"model": model}
        self.model, self.tokenizer, self.run = model, tokenizer, run
        self.mean, self.std, self.max_length = mean, std, max_length
        self.layer_decay, self.base_lr, self.sort_by_length = layer_decay, base_lr, sort_by_length
        self.freeze, self.top_layers, self.unfreeze_per_epoch = freeze, top_layers, unfreeze_per_epoch
        cfg = run.config
        self.train_batch_size = cfg.batch_size
        self.eval_batch_size = cfg.eval_batch_size or 2 * cfg.batch_size
        self.train_ids = encode_splits(tokenizer, data, max_length)["train"]
        self.train_y = [(float(ex["target"]) - mean) / std for ex in data["train"]]
        self.splits = {split: data[split] for split in ("validation", "test") if data.get(split)}
        self.optimizable = start_frozen(model, freeze, top_layers, unfreeze_per_epoch)

    def train_batches(self, epoch: int) -> Iterator[dict]:
        seed = self.run.seed * 100_003 + epoch
        for b in length_bucketed_batches([len(x) for x in self.train_ids], self.train_batch_size, seed,
                                         sort_by_length=self.sort_by_length):
            batch = collate(pick(self.train_ids, b), self.tokenizer.pad_token_id)
            batch["targets"] = torch.tensor([self.train_y[i] for i in b], dtype=torch.float32)  # (B,)
            yield batch

    def on_epoch_start(self, epoch: int) -> None:
        apply_freezing(self.model, self.freeze, self.top_layers, self.unfreeze_per_epoch, epoch)

    def parameter_groups(self, stage: str, weight_decay: float) -> list[dict]:
        return llrd_groups(self.model, self.base_lr, weight_decay, self.layer_decay, include=self.optimizable)

    def training_step(self, batch, stage: str):
        out = self.nets["model"](**model_inputs(batch)).logits  # (B, 1)
        return F.mse_loss(out[:, 0].float(), batch["targets"]), {}

    def evaluate(self, split: str) -> dict[str, float]:
        if split not in self.splits:
            return {}
        examples = self.splits[split]
        predicted = values(self.model, self.tokenizer, inputs_of(examples), self.max_length,
                           self.eval_batch_size, self.mean, self.std)
        return regression_metrics([float(ex["target"]) for ex in examples], predicted.tolist())
