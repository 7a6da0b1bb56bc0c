"""The bert regressor: one number per text (ratings, scores) on a pretrained encoder; torch loads only inside methods."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from nlpzoo import ConfigError, Range, Regressor

from .models import DEFAULT_LR
from .sources import locate

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nlpzoo_training import Run

SCALE_FILE = "target_scale.json"  # the training targets' mean and standard deviation, for the record


class BertRegressor(Regressor):
    """Fine-tunes a pretrained encoder to predict a number per text, with mean squared error.

    Examples are ``{"text": str, "target": float}`` (``vader-ratings``, or a CSV whose label column holds
    numbers). Targets are standardised on the training split for training; the saved model has the scale
    folded into its last layer and predicts in the original units, also in
    ``transformers.pipeline("text-classification", function_to_apply="none")``. Metrics: ``loss`` (mean
    squared error), ``rmse``, ``pearson``, ``spearman``. ``layer_decay``, ``freeze``, ``top_layers`` and
    ``unfreeze_per_epoch`` work as in ``bert-classifier``, and so do sentence pairs (a ``text_pair`` beside
    ``text``: similarity scores such as STS-B's).
    """

    reads_pairs = True  # text_pair is encoded with the tokenizer's pair template

    validation_metrics = ("loss", "rmse", "pearson", "spearman")
    initialised_from = ("pretrained",)

    def __init__(self, pretrained: str, max_length: Annotated[int, Range(2, 10**6)] = 128,
                 layer_decay: Annotated[float, Range(gt=0, le=1)] = 1.0,
                 freeze: Literal["none", "embeddings", "all-but-top", "all-but-head"] = "none",
                 top_layers: Annotated[int, Range(0, 10**4)] = 1, unfreeze_per_epoch: Annotated[int, Range(0, 10**4)] = 0,
                 dropout: Annotated[float, Range(0, lt=1)] | None = None, sort_by_length: bool = True,
                 predict_batch_size: Annotated[int, Range(1)] = 64):
        if max_length < 2:
            raise ConfigError(f"expected at least 2 (room for the special tokens), got {max_length}", "max_length")
        self.pretrained, self.source = pretrained, locate(pretrained)
        self.max_length, self.layer_decay, self.dropout = max_length, layer_decay, dropout
        self.freeze, self.top_layers, self.unfreeze_per_epoch = freeze, top_layers, unfreeze_per_epoch
        self.sort_by_length, self.predict_batch_size = sort_by_length, predict_batch_size
        self.model = self.tokenizer = None
        self.mean, self.std = 0.0, 1.0  # the network's output scale: standardised while training, 0 and 1 once saved

    def task(self, data: dict[str, Sequence], run: "Run"):
        """The :class:`~nlpzoo_training.TorchTask` that ``fit`` hands to the shared loop."""
        from . import hf, regression

        for split, examples in data.items():
            for i, ex in enumerate(examples):
                check_target(ex, split, i)
        data = {split: [scored(ex) for ex in rows] for split, rows in data.items()}
        targets = [ex["target"] for ex in data["train"]]
        if len(targets) < 2:
            raise ConfigError(f"a regressor needs at least 2 training examples, got {len(targets)}", "dataset")
        self.mean = sum(targets) / len(targets)
        self.std = math.sqrt(sum((t - self.mean) ** 2 for t in targets) / len(targets)) or 1.0
        if self.model is None:
            self.tokenizer = hf.load_tokenizer(self.source)
            self.model = regression.load_regressor(self.source, self.dropout)
        base_lr = getattr(run.optimizer, "lr", None) or DEFAULT_LR
        return regression.RegressionTask(self.model, self.tokenizer, data, run=run, mean=self.mean, std=self.std,
                                         max_length=self.max_length, layer_decay=self.layer_decay, freeze=self.freeze,
                                         top_layers=self.top_layers, unfreeze_per_epoch=self.unfreeze_per_epoch,
                                         sort_by_length=self.sort_by_length, base_lr=base_lr)

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        return run.fit(self.task(data, run))

    def predict_values(self, texts: list) -> "np.ndarray":
        """One number per text or per sentence pair ``(text, text_pair)``."""
        from . import regression

        self._require()
        return regression.values(self.model, self.tokenizer, list(texts), self.max_length, self.predict_batch_size,
                                 self.mean, self.std).numpy()

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        for i, ex in enumerate(examples):
            check_target(ex, "evaluated", i)
        return super().evaluate([scored(ex) for ex in examples])

    def _require(self) -> None:
        if self.model is None:
            raise RuntimeError("bert-regressor has no trained head yet: fit it, or load a trained run")

    def save_state(self, directory: Path) -> None:
        """``save_pretrained`` form, predicting in the original units (the scale folded into the last layer)."""
        from . import hf, regression

        self._require()
        hf.save_trained(regression.in_original_units(self.model, self.mean, self.std), self.tokenizer, directory,
                        self.max_length)
        (Path(directory) / SCALE_FILE).write_text(json.dumps({"mean": self.mean, "std": self.std}))

    def load_state(self, directory: Path) -> None:
        from . import hf, regression

        self.tokenizer = hf.load_tokenizer(str(directory))
        with hf.quiet():
            from transformers import AutoModelForSequenceClassification

            self.model = AutoModelForSequenceClassification.from_pretrained(str(directory), trust_remote_code=False,
                                                                            use_safetensors=True, **hf.kernel_options(False))
        regression.output_layer(self.model)  # a folder with one output, or one clear error
        self.mean, self.std = 0.0, 1.0


def scored(example: dict) -> dict:
    """The example as the regressor reads it: its text (and second text, for a pair) and its number."""
    pair = {"text_pair": example["text_pair"]} if example.get("text_pair") is not None else {}
    return {"text": example["text"], **pair, "target": target_of(example)}


def target_of(example: dict) -> float:
    """The example's number: ``target``, or a ``label`` that holds one (a CSV's numeric column)."""
    return float(example["target"] if "target" in example else example["label"])


def check_target(example, split: str, i: int) -> None:
    value = example.get("target", example.get("label")) if isinstance(example, dict) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"the {split} split's example {i + 1} has the target {str(value)[:40]!r}, which is not a "
                          "number; a regressor needs a numeric target (field target, or a numeric label column)",
                          "dataset") from None
    if not math.isfinite(number):
        raise ConfigError(f"the {split} split's example {i + 1} has the target {value!r}; expected a finite number",
                          "dataset")
