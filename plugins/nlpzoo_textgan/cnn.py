"""The ``cnn-classifier`` component: Kim's (2014) convolutional sentence classifier.

This module imports no torch: recipe parameters are read from the ``__init__`` signature here, and
the network lives in :mod:`nlpzoo_textgan.cnn_nets`.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import nlpzoo
from nlpzoo import Range
from nlpzoo_training.tokenization import TextTokenizer, align_vectors

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from nlpzoo_training import Run

WEIGHTS, STATE, TOKENIZER = "model.safetensors", "classifier.json", "tokenizer.json"


def embedding_matrix(embedder, tokenizer: TextTokenizer, texts: Sequence[str], run: "Run", frozen: bool):
    """Rows for ``tokenizer``'s ids from ``embedder``'s word vectors (an untrained Word2Vec learns on these tokens first).

    Returns ``(matrix, report)``; ``(None, {})`` without an embedder.
    """
    if embedder is None:
        return None, {}
    fit_tokens = getattr(embedder, "fit_tokens", None)
    if fit_tokens is not None and not getattr(embedder, "is_trained", True):
        fit_tokens(tokenizer.tokens(texts), run=run, tokenizer=tokenizer)
    try:
        words, vectors = embedder.word_vectors()
    except NotImplementedError:
        raise nlpzoo.ConfigError(f"the embedder {type(embedder).__name__} has no word vectors to initialise an "
                                 "embedding with; use a word-level embedder such as word2vec", "model.embedder") from None
    counts = Counter(i for ids in tokenizer.encode_batch(texts) for i in ids)
    matrix, report = align_vectors(tokenizer, words, vectors, seed=run.seed, counts=counts)
    if run.is_main:
        print(f"embedding initialised from {type(embedder).__name__}: {report['vocab_coverage']:.1%} of the vocabulary, "
              f"{report.get('token_coverage', 0.0):.1%} of training tokens have a vector ({'frozen' if frozen else 'trainable'})")
    return matrix, {f"embedding_{k}": float(v) for k, v in report.items()}


class CNNClassifier(nlpzoo.Classifier):
    """A convolutional sentence classifier (Kim, 2014): filters of several widths over word embeddings.

    Each filter width gives ``num_filters`` feature maps, max-pooled over the sentence; dropout, then
    a linear layer. Embeddings may start from an embedder (``freeze_embeddings``: Kim's "static"
    variant). ``text_network`` makes the same design over another model's ids: ``seqgan``'s
    default discriminator.
    """

    validation_metrics = ("loss", "accuracy", "macro_f1", "precision_*", "recall_*")

    def __init__(self, tokenizer: Literal["word", "bpe", "char"] = "word",
                 vocab_size: Annotated[int, Range(3, 10**8)] = 20000, min_frequency: Annotated[int, Range(0)] = 1,
                 lowercase: bool = True, max_length: Annotated[int, Range(1, 10**6)] = 128,
                 embedding_dim: Annotated[int, Range(1, 10**6)] = 128,
                 filter_sizes: list[Annotated[int, Range(1, 10**4)]] = (3, 4, 5),
                 num_filters: Annotated[int, Range(1, 10**6)] = 100, dropout: Annotated[float, Range(0, lt=1)] = 0.5,
                 embedder: nlpzoo.Embedder | None = None, freeze_embeddings: bool = False):
        filter_sizes = list(filter_sizes)
        if not filter_sizes or min(filter_sizes) < 1:
            raise nlpzoo.ConfigError(f"expected a list of positive filter widths, got {filter_sizes}", "filter_sizes")
        self.tokenizer_kind, self.vocab_size, self.min_frequency, self.lowercase = tokenizer, vocab_size, min_frequency, lowercase
        self.max_length, self.embedding_dim = max_length, embedding_dim
        self.filter_sizes, self.num_filters, self.dropout = filter_sizes, num_filters, dropout
        self.embedder, self.freeze_embeddings = embedder, freeze_embeddings
        self.labels: list[str] = []
        self.tokenizer: TextTokenizer | None = None
        self.net = None
        self.arch: dict = {}  # what training decided about the network's shape, saved with the weights

    def text_network(self, vocab_size: int, num_classes: int, pad_id: int) -> "torch.nn.Module":
        """An untrained network of this design over other ids (see :meth:`nlpzoo.Classifier.text_network`)."""
        from .cnn_nets import KimCNN

        return KimCNN(vocab_size, self.embedding_dim, num_classes, filter_sizes=self.filter_sizes,
                      num_filters=self.num_filters, dropout=self.dropout, pad_id=pad_id)

    def _make_net(self, vocab_size: int, embedding_dim: int, num_classes: int):
        from .cnn_nets import KimCNN

        return KimCNN(vocab_size, embedding_dim, num_classes, filter_sizes=self.filter_sizes,
                      num_filters=self.num_filters, dropout=self.dropout, pad_id=self.tokenizer.pad_id)

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        import torch

        from .cnn_nets import ClassifierTask

        train = list(data["train"])
        if not train or "label" not in train[0]:
            raise nlpzoo.ConfigError("cnn-classifier needs a labelled dataset (examples with 'text' and 'label')", "dataset")
        texts = [ex["text"] for ex in train]
        self.labels = sorted({ex["label"] for ex in train})
        index = {label: i for i, label in enumerate(self.labels)}

        def split(name):
            kept = [ex for ex in data.get(name) or [] if ex["label"] in index]
            return [ex["text"] for ex in kept], [index[ex["label"]] for ex in kept]

        self.tokenizer = TextTokenizer.train(texts, self.tokenizer_kind, vocab_size=self.vocab_size,
                                             min_frequency=self.min_frequency, lowercase=self.lowercase)
        if run.is_main:
            self.tokenizer.save(Path(run.dir) / TOKENIZER)
        torch.manual_seed(run.seed)
        matrix, report = embedding_matrix(self.embedder, self.tokenizer, texts, run, self.freeze_embeddings)
        self.arch = {"vocab_size": self.tokenizer.vocab_size,
                     "embedding_dim": matrix.shape[1] if matrix is not None else self.embedding_dim,
                     "num_classes": len(self.labels)}
        self.net = self._make_net(**self.arch)
        if matrix is not None:
            self.net.embedding.weight.data.copy_(torch.from_numpy(matrix))
            self.net.embedding.weight.requires_grad_(not self.freeze_embeddings)
        task = ClassifierTask(self.net, self.tokenizer, (texts, [index[ex["label"]] for ex in train]),
                              {k: split(k) for k in ("validation", "test") if data.get(k)}, run=run,
                              max_length=self.max_length, labels=self.labels)
        metrics = run.fit(task)
        if report:
            run.log(report)
        self.net.eval()
        return metrics

    def predict_proba(self, texts: list[str]) -> "np.ndarray":
        from .cnn_nets import predict_proba

        if self.net is None:
            raise RuntimeError("cnn-classifier has not been trained or loaded")
        return predict_proba(self.net, self.tokenizer.encode_batch(list(texts)), self.tokenizer.pad_id, self.max_length)

    def save_state(self, directory: Path) -> None:
        from nlpzoo.files import atomic_write
        from nlpzoo_training import save_weights

        if self.net is None:
            raise RuntimeError("cnn-classifier has not been trained or loaded; nothing to save")
        self.tokenizer.save(directory / TOKENIZER)
        save_weights(self.net, directory / WEIGHTS)
        atomic_write(directory / STATE, json.dumps({"labels": self.labels, "arch": self.arch}, indent=2) + "\n")

    def load_state(self, directory: Path) -> None:
        from nlpzoo_training import load_weights

        try:
            state = json.loads((directory / STATE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise nlpzoo.ConfigError(f"not a saved cnn-classifier (no {STATE})", file=str(directory)) from None
        self.labels, self.arch = list(state["labels"]), dict(state["arch"])
        self.tokenizer = TextTokenizer.load(directory / TOKENIZER, self.tokenizer_kind)
        self.net = self._make_net(**self.arch)
        load_weights(self.net, directory / WEIGHTS)
        self.net.eval()
