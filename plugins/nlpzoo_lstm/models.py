"""The LSTM language model and text classifier.

This module imports no torch: recipe parameters are read from the ``__init__`` signatures here, and
the networks live in :mod:`nlpzoo_lstm.nets`, imported when a model is trained or loaded. A saved
model is rebuilt from its constructor arguments; :meth:`save_state` adds the tokenizer, what training
decided about the network's shape (vocabulary size, embedding width, labels) and the weights.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from nlpzoo import Classifier, ConfigError, Embedder, LanguageModel, Range
from nlpzoo_training.tokenization import TextTokenizer, align_vectors

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nlpzoo_training import Run

WEIGHTS, LEARNED, TOKENIZER = "model.safetensors", "learned.json", "tokenizer.json"
Size = Annotated[int, Range(1, 10**6)]
Dropout = Annotated[float, Range(0, lt=1)]


class _LSTMModel:
    """What both LSTM models share: their tokenizer, embedding initialisation, learned state on disk."""

    net = None
    tokenizer: TextTokenizer | None = None
    arch: dict  # what training decided about the network's shape, saved with the weights

    def _train_tokenizer(self, texts: Sequence[str], run: "Run") -> TextTokenizer:
        tok = TextTokenizer.train(texts, self.tokenizer_kind, vocab_size=self.vocab_size,
                                  min_frequency=self.min_frequency, lowercase=self.lowercase)
        if run.is_main:
            tok.save(Path(run.dir) / TOKENIZER)  # the run keeps the tokenizer it trained with
        return tok

    def _embedding_init(self, texts: Sequence[str], run: "Run"):
        """Vectors for the tokenizer's ids from ``embedder``; an untrained one learns on these tokens first.

        An embedder that can learn from token lists has ``is_trained`` and
        ``fit_tokens(sentences, run=, tokenizer=)`` (Word2Vec does); any other needs ``word_vectors()``.

        Returns ``(matrix, report)`` or ``(None, {})`` without an embedder.
        """
        if self.embedder is None:
            return None, {}
        tokens = self.tokenizer.tokens(texts)
        fit_tokens = getattr(self.embedder, "fit_tokens", None)
        if fit_tokens is not None and not getattr(self.embedder, "is_trained", True):
            # Same tokenizer, same token strings: the embedder's vocabulary is the model's.
            fit_tokens(tokens, run=run, tokenizer=self.tokenizer)
        try:
            words, vectors = self.embedder.word_vectors()
        except NotImplementedError:
            raise ConfigError(f"the embedder {type(self.embedder).__name__} has no word vectors to initialise an "
                              "embedding layer with; use a word-level embedder such as word2vec", "model.embedder") from None
        counts = Counter(i for ids in self.tokenizer.encode_batch(texts) for i in ids)
        matrix, report = align_vectors(self.tokenizer, words, vectors, seed=run.seed, counts=counts)
        report = {f"embedding_{k}": float(v) for k, v in report.items()}
        if run.is_main:
            print(f"embedding initialised from {type(self.embedder).__name__}: "
                  f"{report['embedding_vocab_coverage']:.1%} of the vocabulary, "
                  f"{report.get('embedding_token_coverage', 0.0):.1%} of training tokens have a vector "
                  f"({'frozen' if self.freeze_embeddings else 'trainable'})")
        self.embedding_report = report
        return matrix, report

    def _initialise_embedding(self, matrix) -> None:
        import torch

        self.net.embedding.weight.data.copy_(torch.from_numpy(matrix))
        self.net.embedding.weight.requires_grad_(not self.freeze_embeddings)

    def _log_embedding(self, run: "Run") -> None:
        # Before the loop, beside the embedder's own records (a resumed run has them already)
        if getattr(self, "embedding_report", None):
            run.log(self.embedding_report)

    def _require(self) -> None:
        if self.net is None:
            raise RuntimeError(f"{type(self).__name__} has not been trained or loaded")

    def save_state(self, directory: Path) -> None:
        from nlpzoo.files import atomic_write
        from nlpzoo_training import save_weights

        self._require()
        self.tokenizer.save(directory / TOKENIZER)
        save_weights(self.net, directory / WEIGHTS)
        atomic_write(directory / LEARNED, json.dumps(self._learned(), indent=2))

    def _learned(self) -> dict:
        return {"arch": self.arch}

    def load_state(self, directory: Path) -> None:
        from nlpzoo_training import load_weights

        learned = json.loads((directory / LEARNED).read_text(encoding="utf-8"))
        self.tokenizer = TextTokenizer.load(directory / TOKENIZER, self.tokenizer_kind)
        self._restore(learned)
        self.net = self._make_net(**self.arch)
        load_weights(self.net, directory / WEIGHTS)
        self.net.eval()

    def _restore(self, learned: dict) -> None:
        self.arch = learned["arch"]


def _has(data: dict, split: str) -> bool:
    """A split that is there and not empty (a streamed split is there when it is given)."""
    value = data.get(split)
    return value is not None and (not isinstance(value, Sequence) or len(value) > 0)


class LSTMClassifier(_LSTMModel, Classifier):
    """A (bi)LSTM text classifier: embedding (optionally from an embedder), LSTM, pooling, linear head."""

    validation_metrics = ("loss", "accuracy", "macro_f1", "precision_*", "recall_*")

    def __init__(self, tokenizer: Literal["word", "bpe", "char"] = "word", vocab_size: Annotated[int, Range(3, 10**8)] = 20000,
                 min_frequency: Annotated[int, Range(0)] = 1, lowercase: bool = True, max_length: Size = 128,
                 embedding_dim: Size = 128, hidden_size: Size = 128, num_layers: Annotated[int, Range(1, 100)] = 1,
                 bidirectional: bool = True, pooling: Literal["max", "mean", "last"] = "max",
                 dropout: Dropout = 0.3, embedding_dropout: Dropout = 0.1,
                 embedder: Embedder | None = None, freeze_embeddings: bool = False):
        self.tokenizer_kind, self.vocab_size, self.min_frequency, self.lowercase = tokenizer, vocab_size, min_frequency, lowercase
        self.max_length, self.embedding_dim, self.hidden_size, self.num_layers = max_length, embedding_dim, hidden_size, num_layers
        self.bidirectional, self.pooling, self.dropout, self.embedding_dropout = bidirectional, pooling, dropout, embedding_dropout
        self.embedder, self.freeze_embeddings = embedder, freeze_embeddings
        self.labels: list[str] = []

    def _make_net(self, vocab_size: int, embedding_dim: int, num_classes: int):
        from . import nets

        return nets.LSTMClassifierNet(vocab_size, embedding_dim, self.hidden_size, self.num_layers, num_classes,
                                      bidirectional=self.bidirectional, dropout=self.dropout,
                                      embedding_dropout=self.embedding_dropout, pooling=self.pooling,
                                      pad_id=self.tokenizer.pad_id)

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        import torch

        from . import nets

        train = list(data["train"])
        if not train or "label" not in train[0]:
            raise ConfigError("lstm-classifier needs a labelled dataset (examples with 'text' and 'label')", "dataset")
        texts = [ex["text"] for ex in train]
        self.labels = sorted({ex["label"] for ex in train})
        label_id = {l: i for i, l in enumerate(self.labels)}

        def split(name):
            exs = [ex for ex in data.get(name, []) if ex["label"] in label_id]
            return [ex["text"] for ex in exs], [label_id[ex["label"]] for ex in exs]

        self.tokenizer = self._train_tokenizer(texts, run)
        torch.manual_seed(run.seed)
        matrix, _ = self._embedding_init(texts, run)
        dim = matrix.shape[1] if matrix is not None else self.embedding_dim
        self.arch = {"vocab_size": self.tokenizer.vocab_size, "embedding_dim": dim, "num_classes": len(self.labels)}
        self.net = self._make_net(**self.arch)
        if matrix is not None:
            self._initialise_embedding(matrix)
        task = nets.ClassifierTask(self.net, self.tokenizer, (texts, [label_id[ex["label"]] for ex in train]),
                                   {k: split(k) for k in ("validation", "test")}, run=run,
                                   max_length=self.max_length, labels=self.labels)
        self._log_embedding(run)
        metrics = run.fit(task)
        self.net.eval()
        return metrics

    def _learned(self) -> dict:
        return {**super()._learned(), "labels": self.labels}

    def _restore(self, learned: dict) -> None:
        super()._restore(learned)
        self.labels = learned["labels"]

    def predict_proba(self, texts: list[str]) -> "np.ndarray":
        from . import nets

        self._require()
        return nets.predict_proba(self.net, self.tokenizer.encode_batch(list(texts)), self.tokenizer.pad_id,
                                  self.max_length)


class LSTMLanguageModel(_LSTMModel, LanguageModel):
    """A word-level (or BPE, or character-level) multi-layer LSTM language model.

    Dropout on embeddings and between layers, optional weight tying, truncated back-propagation
    through time over ``bptt`` tokens; reports perplexity; generates with temperature, top-k and
    nucleus sampling (never ``[UNK]``; it stops at ``[EOS]``).
    """

    validation_metrics = ("loss", "perplexity")

    def __init__(self, tokenizer: Literal["word", "bpe", "char"] = "word", vocab_size: Annotated[int, Range(3, 10**8)] = 10000,
                 min_frequency: Annotated[int, Range(0)] = 2, lowercase: bool = True, embedding_dim: Size = 200,
                 hidden_size: Size = 200, num_layers: Annotated[int, Range(1, 100)] = 2, dropout: Dropout = 0.3,
                 embedding_dropout: Dropout = 0.1, tie_weights: bool = True, bptt: Annotated[int, Range(1, 10**6)] = 35,
                 embedder: Embedder | None = None, freeze_embeddings: bool = False):
        self.tokenizer_kind, self.vocab_size, self.min_frequency, self.lowercase = tokenizer, vocab_size, min_frequency, lowercase
        self.embedding_dim, self.hidden_size, self.num_layers = embedding_dim, hidden_size, num_layers
        self.dropout, self.embedding_dropout, self.tie_weights, self.bptt = dropout, embedding_dropout, tie_weights, bptt
        self.embedder, self.freeze_embeddings = embedder, freeze_embeddings

    def _make_net(self, vocab_size: int, embedding_dim: int, tie_weights: bool):
        from . import nets

        return nets.LSTMLanguageModelNet(vocab_size, embedding_dim, self.hidden_size, self.num_layers,
                                         dropout=self.dropout, embedding_dropout=self.embedding_dropout,
                                         tie_weights=tie_weights)

    def _stream(self, examples):
        """The split's token ids, ``[EOS]`` after each text: a tensor, or a file for a streamed split."""
        from nlpzoo_training import token_ids

        return token_ids(examples, self.tokenizer)

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        import torch

        from . import nets

        streamed = not isinstance(data["train"], Sequence)
        if streamed and self.embedder is not None:
            raise ConfigError("initialising from an embedder needs the training texts in memory: drop the "
                              "embedder or the dataset's stream: true", "model.embedder")
        texts = (ex["text"] for ex in data["train"]) if streamed else [ex["text"] for ex in data["train"]]
        self.tokenizer = self._train_tokenizer(texts, run)
        torch.manual_seed(run.seed)
        matrix, _ = self._embedding_init(texts, run)
        dim = matrix.shape[1] if matrix is not None else self.embedding_dim
        # A frozen embedding cannot also be the (trained) decoder.
        tie = self.tie_weights and not (matrix is not None and self.freeze_embeddings)
        self.arch = {"vocab_size": self.tokenizer.vocab_size, "embedding_dim": dim, "tie_weights": tie}
        self.net = self._make_net(**self.arch)
        if matrix is not None:
            self._initialise_embedding(matrix)
        shards = {"train": data["train"].shard(run.rank, run.world_size)} if streamed and run.world_size > 1 else {}
        streams = {k: self._stream(shards.get(k, data[k])) for k in ("train", "validation", "test") if _has(data, k)}
        task = nets.LanguageModelTask(self.net, streams, run=run, bptt=self.bptt)
        task.shards_itself = bool(shards)  # each process read its own shard of the stream
        self._log_embedding(run)
        metrics = run.fit(task)
        self.net.eval()
        return metrics

    def evaluate(self, examples: Sequence, batch_size: int = 10) -> dict[str, float]:
        """Per-token loss and perplexity of ``examples`` read as one stream."""
        import math

        from . import nets

        self._require()
        nll, count = nets.stream_nll(self.net, self._stream(examples), batch_size, self.bptt)
        loss = nll / max(count, 1)
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": float(count)}

    def token_network(self):
        """The LSTM network itself: ``net(ids, state) -> (logits, state)`` over :attr:`tokenizer`'s ids."""
        if self.net is None:
            raise RuntimeError("lstm-lm has not been trained or loaded")
        return self.net

    def next_word_distribution(self, context: str, k: int = 20) -> list[tuple[str, float]]:
        """The ``k`` most likely next tokens after ``context`` with their probabilities, best first.

        Padding, unknown and end-of-document tokens are left out; what ``lm-substitution`` samples from.
        """
        from . import nets

        self._require()
        tok = self.tokenizer
        banned = [i for i in (tok.pad_id, tok.unk_id, tok.eos_id) if i is not None]
        probs = nets.next_token_probabilities(self.net, [tok.eos_id] + tok.encode(context), banned)
        order = probs.argsort()[::-1][:k]
        return [(tok.decode([int(i)], strip=True) if tok.kind == "word" else tok.decode([int(i)], strip=False),
                 float(probs[i])) for i in order if probs[i] > 0]

    def generate(self, prompt: str, *, max_tokens: int = 50, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
        from . import nets

        self._require()
        tok = self.tokenizer
        ids = [tok.eos_id] + tok.encode(prompt)  # documents follow [EOS] in training
        new = nets.sample(self.net, ids, max_tokens=max_tokens, temperature=temperature, top_k=top_k,
                          top_p=top_p, seed=seed, stop_id=tok.eos_id,
                          banned=[i for i in (tok.pad_id, tok.unk_id) if i is not None])
        if tok.kind != "word":  # characters and byte-level pieces carry their own spaces
            return prompt + tok.decode(new, strip=False)
        text = tok.decode(new)
        return f"{prompt.rstrip()} {text}".strip() if prompt.strip() else text
