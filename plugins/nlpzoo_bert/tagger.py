"""The bert tagger: named entities (any token classification) on a pretrained encoder; torch loads only inside methods."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from nlpzoo import ConfigError, Range, Tagger

from .models import DEFAULT_LR
from .sources import locate

if TYPE_CHECKING:  # pragma: no cover
    from nlpzoo_training import Run


class BertTagger(Tagger):
    """Fine-tunes a pretrained encoder (BERT, RoBERTa, DistilBERT, ELECTRA...) to tag words: named entities.

    Examples are ``{"tokens": [...], "tags": [...]}`` in IOB2. Each word's tag goes on its first word
    piece; the other pieces count in neither the loss nor the metrics. Metrics are seqeval's entity
    precision, recall and F1 (overall, per type, default and strict mode) and word accuracy. ``entities``
    groups pieces as transformers' token-classification pipeline does with ``aggregation_strategy="simple"``,
    and the saved model loads in that pipeline. ``layer_decay``, ``freeze``, ``top_layers`` and
    ``unfreeze_per_epoch`` work as in ``bert-classifier``. Words beyond ``max_length`` pieces are tagged ``O``.
    """

    validation_metrics = ("loss", "accuracy", "f1", "precision", "recall", "strict_*", "f1_*", "precision_*",
                          "recall_*")
    initialised_from = ("pretrained",)

    def __init__(self, pretrained: str, max_length: Annotated[int, Range(2, 10**6)] = 128, labels: list[str] | None = None,
                 layer_decay: Annotated[float, Range(gt=0, le=1)] = 1.0,
                 freeze: Literal["none", "embeddings", "all-but-top", "all-but-head"] = "none",
                 top_layers: Annotated[int, Range(0, 10**4)] = 1, unfreeze_per_epoch: Annotated[int, Range(0, 10**4)] = 0,
                 dropout: Annotated[float, Range(0, lt=1)] | None = None, sort_by_length: bool = True,
                 pad_to_multiple_of: Annotated[int, Range(1, 4096)] = 1, predict_batch_size: Annotated[int, Range(1)] = 64):
        if max_length < 2:
            raise ConfigError(f"expected at least 2 (room for the special tokens), got {max_length}", "max_length")
        if labels is not None and "O" not in labels:
            raise ConfigError(f"expected the tags of an IOB2 scheme, with O among them, got {labels}", "labels")
        self.pretrained, self.source = pretrained, locate(pretrained)
        self.max_length, self.labels, self.layer_decay = max_length, list(labels) if labels else None, layer_decay
        self.freeze, self.top_layers, self.unfreeze_per_epoch = freeze, top_layers, unfreeze_per_epoch
        self.dropout, self.sort_by_length, self.pad_to_multiple_of = dropout, sort_by_length, pad_to_multiple_of
        self.predict_batch_size = predict_batch_size
        self.model = self.tokenizer = None

    # -- building
    def prepare(self, labels: list[str]) -> None:
        """Load the word tokenizer and the pretrained encoder with a new token head for ``labels``."""
        from . import tagging

        self.labels = list(labels)
        self.tokenizer = tagging.load_word_tokenizer(self.source)
        self.model = tagging.load_token_classifier(self.source, self.labels, self.dropout)

    def task(self, data: dict[str, Sequence], run: "Run"):
        """The :class:`~nlpzoo_training.TorchTask` that ``fit`` hands to the shared loop."""
        from . import tagging

        if getattr(run, "augmenter", None) is not None:
            raise ConfigError("a tagger trains on tagged words; an augmenter rewrites text and would move entity "
                              "boundaries away from their tags: drop augment from the recipe", "augment")
        for split, examples in data.items():
            first = examples[0] if examples else {"tags": []}
            if not (isinstance(first, dict) and "tags" in first):
                raise ConfigError(f"the {split} split holds no tagged words ({{tokens, tags}}); give the tagger a "
                                  "tagged dataset: conll, tagged-jsonl or conll2003", "dataset")
        labels = self.labels or tag_set(data["train"])
        unknown = sorted({t for rows in data.values() for ex in rows for t in ex["tags"]} - set(labels))
        if unknown:
            raise ConfigError(f"tags {unknown} are not among {labels}", "model.labels")
        if self.model is None or list(self.labels) != labels:
            self.prepare(labels)
        base_lr = getattr(run.optimizer, "lr", None) or DEFAULT_LR
        return tagging.TaggingTask(self.model, self.tokenizer, data, labels, run=run, max_length=self.max_length,
                                   layer_decay=self.layer_decay, freeze=self.freeze, top_layers=self.top_layers,
                                   unfreeze_per_epoch=self.unfreeze_per_epoch, sort_by_length=self.sort_by_length,
                                   base_lr=base_lr, pad_to_multiple_of=self.pad_to_multiple_of)

    # -- Trainable
    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        return run.fit(self.task(data, run))

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        from . import tagging

        self._require()
        return tagging.word_tags(self.model, self.tokenizer, list(sentences), self.max_length, self.predict_batch_size)

    def entities(self, texts: list[str]) -> list[list[dict]]:
        from . import tagging

        self._require()
        return tagging.text_entities(self.model, self.tokenizer, list(texts), self.max_length, self.predict_batch_size)

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """``loss``, word ``accuracy``, entity ``precision``/``recall``/``f1`` (also ``strict_*`` and per type)."""
        from . import tagging

        self._require()
        return tagging.score(self.model, self.tokenizer, list(examples), {l: i for i, l in enumerate(self.labels)},
                             self.max_length, self.predict_batch_size)

    def _require(self) -> None:
        if self.model is None:
            raise RuntimeError("bert-tagger has no trained head yet: fit it, or load a trained run")

    def save_state(self, directory: Path) -> None:
        """``save_pretrained`` form: ``transformers.pipeline("token-classification")`` loads it as it is."""
        from . import hf

        self._require()
        hf.save_trained(self.model, self.tokenizer, directory, self.max_length)

    def load_state(self, directory: Path) -> None:
        from . import tagging

        self.model, self.tokenizer = tagging.load_trained_tagger(str(directory))
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]


def tag_set(examples: Sequence[dict]) -> list[str]:
    """The tags of ``examples``: ``O`` first, then by entity type, ``B-`` before ``I-``."""
    tags = {t for ex in examples for t in ex["tags"]} | {"O"}
    return sorted(tags, key=lambda t: (t != "O", t[2:], t[:1]))
