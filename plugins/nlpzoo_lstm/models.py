"""The LSTM language model and text classifier.

This module imports no torch: recipe parameters are read from the ``__init__`` signatures here, and
the networks live in :mod:`nlpzoo_lstm.nets`, imported when a model is trained or loaded.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nlpzoo.kinds import Classifier, Embedder, LanguageModel
from nlpzoo.plots import plot_confusion
from nlpzoo.tokenization import TextTokenizer, align_vectors
from nlpzoo.yamlio import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from nlpzoo.training.run import Run

WEIGHTS, CONFIG, TOKENIZER = "model.safetensors", "config.json", "tokenizer.json"


class _LSTMModel:
    """What both LSTM models share: their tokenizer, embedding initialisation, files."""

    _params: dict[str, Any]
    net = None
    tokenizer: TextTokenizer | None = None

    def _train_tokenizer(self, texts: Sequence[str], run: "Run") -> TextTokenizer:
        p = self._params
        tok = TextTokenizer.train(texts, p["tokenizer"], vocab_size=p["vocab_size"],
                                  min_frequency=p["min_frequency"], lowercase=p["lowercase"])
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
            from nlpzoo.errors import ConfigError

            raise ConfigError(f"the embedder {type(self.embedder).__name__} has no word vectors to initialise an "
                              "embedding layer with; use a word-level embedder such as word2vec", "model.embedder") from None
        counts = Counter(i for ids in self.tokenizer.encode_batch(texts) for i in ids)
        matrix, report = align_vectors(self.tokenizer, words, vectors, seed=run.seed, counts=counts)
        report = {f"embedding_{k}": float(v) for k, v in report.items()}
        if run.is_main:
            print(f"embedding initialised from {type(self.embedder).__name__}: "
                  f"{report['embedding_vocab_coverage']:.1%} of the vocabulary, "
                  f"{report.get('embedding_token_coverage', 0.0):.1%} of training tokens have a vector "
                  f"({'frozen' if self._params['freeze_embeddings'] else 'trainable'})")
        self.embedding_report = report
        return matrix, report

    def _log_embedding(self, run: "Run") -> None:
        # After run.fit: a fresh run's metrics.jsonl starts when the loop starts.
        if getattr(self, "embedding_report", None):
            run.log(self.embedding_report)

    def save(self, directory: str) -> None:
        from . import nets

        if self.net is None:
            raise RuntimeError(f"{type(self).__name__} has not been trained or loaded; nothing to save")
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(out / TOKENIZER)
        nets.save_weights(self.net, out / WEIGHTS)
        atomic_write(out / CONFIG, json.dumps(self._config(), indent=2))

    def _config(self) -> dict:
        return {"class": type(self).__name__, "params": self._params, "arch": self._arch}

    @classmethod
    def load(cls, directory: str):
        d = Path(directory)
        cfg = json.loads((d / CONFIG).read_text(encoding="utf-8"))
        model = cls(**cfg["params"])
        model.tokenizer = TextTokenizer.load(d / TOKENIZER, cfg["params"]["tokenizer"])
        model._restore(cfg)
        from . import nets

        model.net = model._make_net(**model._arch)
        nets.load_weights(model.net, d / WEIGHTS)
        model.net.eval()
        return model

    def _restore(self, cfg: dict) -> None:
        self._arch = cfg["arch"]


class LSTMClassifier(_LSTMModel, Classifier):
    """A (bi)LSTM text classifier: embedding (optionally from an embedder), LSTM, pooling, linear head.

    Reports accuracy and macro-F1; prints the confusion matrix and draws it as a PNG in the run.
    """

    def __init__(self, tokenizer: Literal["word", "bpe", "char"] = "word", vocab_size: int = 20000,
                 min_frequency: int = 1, lowercase: bool = True, max_length: int = 128,
                 embedding_dim: int = 128, hidden_size: int = 128, num_layers: int = 1,
                 bidirectional: bool = True, pooling: Literal["max", "mean", "last"] = "max",
                 dropout: float = 0.3, embedding_dropout: float = 0.1,
                 embedder: Embedder | None = None, freeze_embeddings: bool = False):
        self._params = dict(tokenizer=tokenizer, vocab_size=vocab_size, min_frequency=min_frequency,
                            lowercase=lowercase, max_length=max_length, embedding_dim=embedding_dim,
                            hidden_size=hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                            pooling=pooling, dropout=dropout, embedding_dropout=embedding_dropout,
                            freeze_embeddings=freeze_embeddings)
        self.embedder = embedder
        self.labels: list[str] = []
        self._run_dir: Path | None = None

    def _make_net(self, vocab_size: int, embedding_dim: int, num_classes: int):
        from . import nets

        p = self._params
        return nets.LSTMClassifierNet(vocab_size, embedding_dim, p["hidden_size"], p["num_layers"], num_classes,
                                      bidirectional=p["bidirectional"], dropout=p["dropout"],
                                      embedding_dropout=p["embedding_dropout"], pooling=p["pooling"],
                                      pad_id=self.tokenizer.pad_id)

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        import torch

        from . import nets

        train = list(data["train"])
        if not train or "label" not in train[0]:
            raise ValueError("lstm-classifier needs a labelled dataset (examples with 'text' and 'label')")
        texts = [ex["text"] for ex in train]
        self.labels = sorted({ex["label"] for ex in train})
        label_id = {l: i for i, l in enumerate(self.labels)}

        def split(name):
            exs = [ex for ex in data.get(name, []) if ex["label"] in label_id]
            return [ex["text"] for ex in exs], [label_id[ex["label"]] for ex in exs]

        self.tokenizer = self._train_tokenizer(texts, run)
        torch.manual_seed(run.seed)
        matrix, _ = self._embedding_init(texts, run)
        dim = matrix.shape[1] if matrix is not None else self._params["embedding_dim"]
        self._arch = {"vocab_size": self.tokenizer.vocab_size, "embedding_dim": dim, "num_classes": len(self.labels)}
        self.net = self._make_net(**self._arch)
        if matrix is not None:
            self.net.embedding.weight.data.copy_(torch.from_numpy(matrix))
            self.net.embedding.weight.requires_grad_(not self._params["freeze_embeddings"])
        task = nets.ClassifierTask(self.net, self.tokenizer, (texts, [label_id[ex["label"]] for ex in train]),
                                   {k: split(k) for k in ("validation", "test")}, run=run,
                                   max_length=self._params["max_length"], labels=self.labels)
        metrics = run.fit(task)
        self._log_embedding(run)
        self.net.eval()
        if run.is_main:
            self._run_dir = Path(run.dir)
            if data.get("validation"):
                self.evaluate(data["validation"], plot=self._run_dir / "confusion_validation.png", title="validation")
        return metrics

    def _config(self) -> dict:
        return {**super()._config(), "labels": self.labels}

    def _restore(self, cfg: dict) -> None:
        super()._restore(cfg)
        self.labels = cfg["labels"]

    def _probabilities(self, texts: Sequence[str]):
        from . import nets

        if self.net is None:
            raise RuntimeError("lstm-classifier has not been trained or loaded")
        return nets.predict_proba(self.net, self.tokenizer.encode_batch(list(texts)), self.tokenizer.pad_id,
                                  self._params["max_length"])

    def predict_proba(self, texts: list[str]):
        return self._probabilities(texts)

    def evaluate(self, examples: Sequence, *, plot: str | Path | None = None, title: str = "test",
                 show: bool = True) -> dict[str, float]:
        """Accuracy, macro-F1, per-label precision and recall, and loss; prints the confusion matrix and,
        after ``fit``, draws it in the run."""
        import numpy as np

        from nlpzoo.training.metrics import classification_metrics

        examples = [ex for ex in examples if ex["label"] in self.labels]
        y = np.asarray([self.labels.index(ex["label"]) for ex in examples], dtype=np.int64)
        probs = self._probabilities([ex["text"] for ex in examples])
        metrics, cm = classification_metrics(y, probs.argmax(1), self.labels)
        metrics["loss"] = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean()) if len(y) else 0.0
        if show:
            print(format_confusion(cm, self.labels, title))
        if plot is None and self._run_dir is not None:
            plot = self._run_dir / f"confusion_{title}.png"
        if plot is not None:
            plot_confusion(cm, self.labels, plot, title=f"confusion matrix ({title})")
        return metrics


class LSTMLanguageModel(_LSTMModel, LanguageModel):
    """A word-level (or BPE, or character-level) multi-layer LSTM language model.

    Dropout on embeddings and between layers, optional weight tying, truncated back-propagation
    through time over ``bptt`` tokens; reports perplexity; generates with temperature, top-k and
    nucleus sampling (never ``[UNK]``; it stops at ``[EOS]``).
    """

    def __init__(self, tokenizer: Literal["word", "bpe", "char"] = "word", vocab_size: int = 10000,
                 min_frequency: int = 2, lowercase: bool = True, embedding_dim: int = 200,
                 hidden_size: int = 200, num_layers: int = 2, dropout: float = 0.3,
                 embedding_dropout: float = 0.1, tie_weights: bool = True, bptt: int = 35,
                 embedder: Embedder | None = None, freeze_embeddings: bool = False):
        self._params = dict(tokenizer=tokenizer, vocab_size=vocab_size, min_frequency=min_frequency,
                            lowercase=lowercase, embedding_dim=embedding_dim, hidden_size=hidden_size,
                            num_layers=num_layers, dropout=dropout, embedding_dropout=embedding_dropout,
                            tie_weights=tie_weights, bptt=bptt, freeze_embeddings=freeze_embeddings)
        self.embedder = embedder

    def _make_net(self, vocab_size: int, embedding_dim: int, tie_weights: bool):
        from . import nets

        p = self._params
        return nets.LSTMLanguageModelNet(vocab_size, embedding_dim, p["hidden_size"], p["num_layers"],
                                         dropout=p["dropout"], embedding_dropout=p["embedding_dropout"],
                                         tie_weights=tie_weights)

    def _stream(self, examples: Sequence):
        import torch

        return torch.as_tensor(self.tokenizer.stream([ex["text"] for ex in examples]), dtype=torch.long)

    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        import torch

        from . import nets

        texts = [ex["text"] for ex in data["train"]]
        self.tokenizer = self._train_tokenizer(texts, run)
        torch.manual_seed(run.seed)
        matrix, _ = self._embedding_init(texts, run)
        p = self._params
        dim = matrix.shape[1] if matrix is not None else p["embedding_dim"]
        # A frozen embedding cannot also be the (trained) decoder.
        tie = p["tie_weights"] and not (matrix is not None and p["freeze_embeddings"])
        self._arch = {"vocab_size": self.tokenizer.vocab_size, "embedding_dim": dim, "tie_weights": tie}
        self.net = self._make_net(**self._arch)
        if matrix is not None:
            self.net.embedding.weight.data.copy_(torch.from_numpy(matrix))
            self.net.embedding.weight.requires_grad_(not p["freeze_embeddings"])
        streams = {k: self._stream(data[k]) for k in ("train", "validation", "test") if data.get(k)}
        task = nets.LanguageModelTask(self.net, streams, run=run, bptt=p["bptt"])
        metrics = run.fit(task)
        self._log_embedding(run)
        self.net.eval()
        return metrics

    def evaluate(self, examples: Sequence, batch_size: int = 10) -> dict[str, float]:
        """Per-token loss and perplexity of ``examples`` read as one stream."""
        import math

        from . import nets

        nll, count = nets.stream_nll(self.net, self._stream(examples), batch_size, self._params["bptt"])
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
        import torch

        if self.net is None:
            raise RuntimeError("lstm-lm has not been trained or loaded")
        tok = self.tokenizer
        ids = [tok.eos_id] + tok.encode(context)
        banned = {i for i in (tok.pad_id, tok.unk_id, tok.eos_id) if i is not None}
        was_training = self.net.training
        self.net.eval()
        try:
            with torch.no_grad():
                logits, _ = self.net(torch.as_tensor([ids], dtype=torch.long))
        finally:
            self.net.train(was_training)
        probs = torch.softmax(logits[0, -1].float(), dim=-1)
        if banned:
            probs[list(banned)] = 0.0
        top = torch.topk(probs, min(k, probs.numel()))
        return [(tok.decode([int(i)], strip=True) if tok.kind == "word" else tok.decode([int(i)], strip=False), float(p))
                for p, i in zip(top.values, top.indices) if float(p) > 0]

    def generate(self, prompt: str, *, max_tokens: int = 50, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
        from . import nets

        if self.net is None:
            raise RuntimeError("lstm-lm has not been trained or loaded")
        tok = self.tokenizer
        ids = [tok.eos_id] + tok.encode(prompt)  # documents follow [EOS] in training
        new = nets.sample(self.net, ids, max_tokens=max_tokens, temperature=temperature, top_k=top_k,
                          top_p=top_p, seed=seed, stop_id=tok.eos_id,
                          banned=[i for i in (tok.pad_id, tok.unk_id) if i is not None])
        if tok.kind != "word":  # characters and byte-level pieces carry their own spaces
            return prompt + tok.decode(new, strip=False)
        text = tok.decode(new)
        return f"{prompt.rstrip()} {text}".strip() if prompt.strip() else text


def format_confusion(cm, labels: Sequence[str], title: str = "") -> str:
    """The confusion matrix as text: rows are true labels, columns predictions."""
    corner = "true \\ pred"
    first = max(len(corner), *(len(l) for l in labels)) + 2
    width = max(6, *(len(l) for l in labels), *(len(str(v)) for v in cm.ravel()))
    head = corner.ljust(first) + " ".join(l.rjust(width) for l in labels)
    rows = [l.ljust(first) + " ".join(str(v).rjust(width) for v in row) for l, row in zip(labels, cm)]
    return "\n".join(([f"confusion matrix ({title})"] if title else []) + [head] + rows)
