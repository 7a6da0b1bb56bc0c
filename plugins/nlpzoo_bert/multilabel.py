"""The bert multi-label classifier: any number of labels per text on a pretrained encoder; torch loads only inside methods."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from nlpzoo import ConfigError, MultiLabelClassifier, Range

from .adapters import pad_like_decoders
from .models import DEFAULT_LR
from .sources import locate

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nlpzoo_training import Run

#: a label's threshold when there is no validation split to choose it on (the sigmoid's midpoint)
DEFAULT_THRESHOLD = 0.5


class BertMultiLabel(MultiLabelClassifier):
    """Fine-tunes a pretrained encoder to give each text any subset of its labels.

    Examples are ``{"text": str, "labels": [str, ...]}`` (``multilabel-jsonl``, ``multilabel-csv``,
    ``20ng-hierarchy``). One sigmoid per label trained with binary cross-entropy (transformers'
    ``multi_label_classification`` problem type). Each label's threshold is the one that maximises that
    label's F1 on the validation split (0.5 without one); the thresholds are kept in the saved
    ``config.json`` (``label_thresholds``). Metrics: ``loss`` (binary cross-entropy), ``micro_f1``,
    ``macro_f1``, ``subset_accuracy`` and ``f1_<label>``. ``layer_decay``, ``freeze``, ``top_layers`` and
    ``unfreeze_per_epoch`` work as in ``bert-classifier``. The saved model loads with
    ``transformers.pipeline("text-classification", top_k=None)``, which applies the same sigmoid.
    """

    validation_metrics = ("loss", "micro_f1", "macro_f1", "subset_accuracy", "f1_*")
    initialised_from = ("pretrained",)

    def __init__(self, pretrained: str, max_length: Annotated[int, Range(2, 10**6)] = 128,
                 labels: list[str] | None = None, layer_decay: Annotated[float, Range(gt=0, le=1)] = 1.0,
                 freeze: Literal["none", "embeddings", "all-but-top", "all-but-head"] = "none",
                 top_layers: Annotated[int, Range(0, 10**4)] = 1, unfreeze_per_epoch: Annotated[int, Range(0, 10**4)] = 0,
                 dropout: Annotated[float, Range(0, lt=1)] | None = None, sort_by_length: bool = True,
                 predict_batch_size: Annotated[int, Range(1)] = 64):
        if labels is not None and (not labels or len(set(labels)) != len(labels)):
            raise ConfigError(f"expected a list of distinct labels, got {labels}", "labels")
        self.pretrained, self.source = pretrained, locate(pretrained)
        self.max_length, self.layer_decay, self.dropout = max_length, layer_decay, dropout
        self.freeze, self.top_layers, self.unfreeze_per_epoch = freeze, top_layers, unfreeze_per_epoch
        self.sort_by_length, self.predict_batch_size = sort_by_length, predict_batch_size
        self.labels = list(labels) if labels else None
        self.thresholds: list[float] = []
        self.model = self.tokenizer = None

    def task(self, data: dict[str, Sequence], run: "Run"):
        """The :class:`~nlpzoo_training.TorchTask` that ``fit`` hands to the shared loop."""
        from . import hf, label_sets

        for split, examples in data.items():
            for i, ex in enumerate(examples):
                check_label_set(ex, split, i)
        labels = self.labels or sorted({l for ex in data["train"] for l in ex["labels"]}, key=str)
        unknown = sorted({l for rows in data.values() for ex in rows for l in ex["labels"]} - set(labels), key=str)
        if unknown:
            raise ConfigError(f"labels {unknown[:5]} occur in the data but not among {labels}", "model.labels")
        if self.model is None or self.labels != labels:
            self.labels = labels
            self.tokenizer = hf.load_tokenizer(self.source)
            self.model = label_sets.load_multilabel(self.source, labels, self.dropout)
            pad_like_decoders(self.tokenizer, self.model)
        self.thresholds = [DEFAULT_THRESHOLD] * len(labels)
        base_lr = getattr(run.optimizer, "lr", None) or DEFAULT_LR
        return label_sets.MultiLabelTask(self.model, self.tokenizer, data, labels, run=run, max_length=self.max_length,
                                         layer_decay=self.layer_decay, freeze=self.freeze, top_layers=self.top_layers,
                                         unfreeze_per_epoch=self.unfreeze_per_epoch,
                                         sort_by_length=self.sort_by_length, base_lr=base_lr)

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        task = self.task(data, run)
        metrics = run.fit(task)
        self.thresholds = task.thresholds_on_validation(DEFAULT_THRESHOLD)  # for the weights the loop kept
        return metrics

    def predict_scores(self, texts: list[str]) -> "np.ndarray":
        """Each label's sigmoid, per text (batched, sorted by length)."""
        from . import label_sets

        self._require()
        return label_sets.scores(self.model, self.tokenizer, list(texts), self.max_length,
                                 self.predict_batch_size).numpy()

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        for i, ex in enumerate(examples):
            check_label_set(ex, "evaluated", i)
        return super().evaluate(examples)

    def _require(self) -> None:
        if self.model is None:
            raise RuntimeError("bert-multilabel has no trained head yet: fit it, or load a trained run")

    def save_state(self, directory: Path) -> None:
        """``save_pretrained`` form; ``config.json`` holds the labels and ``label_thresholds``."""
        from . import hf

        self._require()
        self.model.config.label_thresholds = dict(zip(self.labels, self.thresholds))
        hf.save_trained(self.model, self.tokenizer, directory, self.max_length)

    def load_state(self, directory: Path) -> None:
        from . import hf

        self.model, self.tokenizer = hf.load_trained(str(directory))
        config = self.model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        saved = getattr(config, "label_thresholds", None) or {}
        self.thresholds = [float(saved.get(label, DEFAULT_THRESHOLD)) for label in self.labels]


def check_label_set(example, split: str, i: int) -> None:
    """One line for an example that holds no list of labels (a single-label example, or a plain string)."""
    labels = example.get("labels") if isinstance(example, dict) else None
    if isinstance(labels, (list, tuple)) and all(isinstance(l, str) for l in labels):
        return
    single = isinstance(example, dict) and "label" in example and "labels" not in example
    hint = (f"it has one label ({str(example['label'])[:40]!r}); a multi-label classifier reads a list per text "
            "(JSON Lines: \"labels\": [\"a\", \"b\"]; CSV: multilabel-csv)") if single else \
        f"expected a list of label strings in 'labels', got {str(labels)[:40]!r}"
    raise ConfigError(f"the {split} split's example {i + 1}: {hint}", "dataset")
