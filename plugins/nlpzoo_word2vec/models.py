"""Word2Vec word embeddings trained with gensim (skip-gram or CBOW).

This module imports no gensim, numpy or tokenizers at import time: ``nlpzoo info word2vec`` reads the
parameters from the signature below without loading them.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from nlpzoo import ConfigError, Embedder, Range

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nlpzoo.tokenization import TextTokenizer
    from nlpzoo.training import Run

VECTORS, TOKENIZER = "vectors.bin", "tokenizer.json"
# gensim's Cython routines cut sentences at 10,000 tokens; longer documents are fed in pieces.
MAX_SENTENCE = 10_000
_FALLBACK_SPLIT = re.compile(r"\w+|[^\w\s]+")


def wordsim353_path() -> str:
    from gensim.test.utils import datapath

    return datapath("wordsim353.tsv")


def analogies_path() -> str:
    from gensim.test.utils import datapath

    return datapath("questions-words.txt")


class Word2Vec(Embedder):
    """Word2Vec (Mikolov et al., 2013) on gensim: skip-gram or CBOW with negative sampling or
    hierarchical softmax.

    Trains on the ``text`` of any dataset, tokenized once by a word-level tokenizer that is saved
    with the vectors. Reports WordSim-353 Spearman correlation and Google-analogy accuracy with
    gensim's own evaluation functions and files. ``pretrained`` loads vectors instead of training:
    a saved model directory, a run directory, or a word2vec-format file (``.bin`` binary, else text).
    ``workers`` is gensim's thread count: with one, the same seed gives the same vectors.
    """

    initialised_from = ("pretrained",)  # a saved model holds its own vectors

    def __init__(self, architecture: Literal["skipgram", "cbow"] = "skipgram",
                 vector_size: Annotated[int, Range(1, 10**5)] = 100, window: Annotated[int, Range(1, 10**4)] = 5,
                 min_count: Annotated[int, Range(1)] = 5, negative: Annotated[int, Range(0, 100)] = 5,
                 hierarchical_softmax: bool = False, sample: Annotated[float, Range(0, 1)] = 1e-3,
                 alpha: Annotated[float, Range(gt=0)] = 0.025, min_alpha: Annotated[float, Range(0)] = 1e-4,
                 epochs: Annotated[int, Range(1, 10**6)] = 5, cbow_mean: bool = True,
                 max_final_vocab: Annotated[int, Range(1)] | None = None, workers: Annotated[int, Range(1, 1024)] = 1,
                 lowercase: bool = True, compute_loss: bool = False,
                 analogy_restrict_vocab: Annotated[int, Range(1)] = 30000, pretrained: str | None = None):
        if negative == 0 and not hierarchical_softmax:
            raise ConfigError("with negative: 0 (no negative sampling), set hierarchical_softmax: true; "
                              "word2vec needs one of the two", "negative")
        if hierarchical_softmax and max_final_vocab is not None and max_final_vocab < 2:
            raise ConfigError("hierarchical softmax needs a vocabulary of at least 2 words", "max_final_vocab")
        self.params = dict(architecture=architecture, vector_size=vector_size, window=window,
                           min_count=min_count, negative=negative, hierarchical_softmax=hierarchical_softmax,
                           sample=sample, alpha=alpha, min_alpha=min_alpha, epochs=epochs, cbow_mean=cbow_mean,
                           max_final_vocab=max_final_vocab, workers=workers, lowercase=lowercase,
                           compute_loss=compute_loss, analogy_restrict_vocab=analogy_restrict_vocab)
        self.pretrained = pretrained
        self._wv = None  # gensim KeyedVectors once trained or loaded
        self.tokenizer: TextTokenizer | None = None

    # -- state --------------------------------------------------------------------------------
    @property
    def is_trained(self) -> bool:
        return self._wv is not None or self.pretrained is not None

    @property
    def wv(self):
        """The gensim ``KeyedVectors`` (loading ``pretrained`` on first use)."""
        if self._wv is None:
            if self.pretrained is None:
                raise RuntimeError("word2vec has no vectors yet: train it (nlpzoo train) or give 'pretrained'")
            self._load_pretrained(self.pretrained)
        return self._wv

    def _load_pretrained(self, source: str) -> None:
        from gensim.models import KeyedVectors

        path = Path(source)
        if path.is_dir():
            model_dir = path / "model" if (path / "model" / VECTORS).exists() else path
            if not (model_dir / VECTORS).exists():
                raise FileNotFoundError(f"no {VECTORS} in {path} or {path / 'model'}: not a word2vec model or run directory")
            self.load_state(model_dir)
        elif path.exists():
            self._wv = KeyedVectors.load_word2vec_format(str(path), binary=path.suffix == ".bin")
        else:
            raise FileNotFoundError(f"pretrained word vectors not found: {source}")

    # -- training -----------------------------------------------------------------------------
    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        """Tokenize the training texts once, train, and report the intrinsic evaluations."""
        from nlpzoo.tokenization import TextTokenizer

        texts = [ex["text"] for ex in data["train"]]
        # Every training word stays in the tokenizer; gensim's min_count decides the vocabulary.
        tokenizer = TextTokenizer.train(texts, "word", vocab_size=10_000_000, min_frequency=1,
                                        lowercase=self.params["lowercase"])
        if run.is_main:
            tokenizer.save(Path(run.dir) / TOKENIZER)
        self.fit_tokens(tokenizer.tokens(texts), run=run, tokenizer=tokenizer)
        metrics = self.intrinsic()
        if data.get("validation"):
            metrics["val_oov_rate"] = self.oov_rate([ex["text"] for ex in data["validation"]])
        run.log(metrics)
        return metrics

    def fit_tokens(self, sentences: list[list[str]], *, run: "Run | None" = None, seed: int | None = None,
                   tokenizer: "TextTokenizer | None" = None) -> None:
        """Train on already tokenized sentences (a model combining this embedder passes its own tokens)."""
        from gensim.models import Word2Vec as GensimWord2Vec
        from gensim.models.callbacks import CallbackAny2Vec

        p = self.params
        seed = run.seed if seed is None and run is not None else (seed or 0)
        sentences = [s[i:i + MAX_SENTENCE] for s in sentences for i in range(0, max(len(s), 1), MAX_SENTENCE) if s]
        total_words = sum(len(s) for s in sentences)

        class _Progress(CallbackAny2Vec):
            def __init__(self):
                self.epoch, self.t0, self.loss = 0, time.perf_counter(), 0.0

            def on_epoch_end(self, model):
                now = time.perf_counter()
                logs = {"epoch": self.epoch + 1, "words_per_sec": total_words / max(now - self.t0, 1e-9)}
                if p["compute_loss"]:
                    cumulative = model.get_latest_training_loss()
                    logs["loss"], self.loss = cumulative - self.loss, cumulative
                self.epoch, self.t0 = self.epoch + 1, now
                if run is not None:
                    run.log(logs, step=self.epoch)

        model = GensimWord2Vec(vector_size=p["vector_size"], window=p["window"], min_count=p["min_count"],
                               sg=int(p["architecture"] == "skipgram"), hs=int(p["hierarchical_softmax"]),
                               negative=p["negative"], sample=p["sample"], alpha=p["alpha"],
                               min_alpha=p["min_alpha"], cbow_mean=int(p["cbow_mean"]),
                               max_final_vocab=p["max_final_vocab"], workers=p["workers"], seed=seed,
                               compute_loss=p["compute_loss"])
        model.build_vocab(sentences)
        if p["hierarchical_softmax"] and len(model.wv) < 2:  # gensim's worker fails on a one-word tree and training hangs
            raise ConfigError(f"hierarchical softmax needs a vocabulary of at least 2 words, got {len(model.wv)}; "
                              "lower min_count or raise max_final_vocab", "model.min_count")
        model.train(sentences, total_examples=model.corpus_count, total_words=model.corpus_total_words,
                    epochs=p["epochs"], compute_loss=p["compute_loss"], callbacks=[_Progress()])
        self._wv = model.wv
        self.tokenizer = tokenizer
        self.pretrained = None

    # -- evaluation ---------------------------------------------------------------------------
    def intrinsic(self) -> dict[str, float]:
        """WordSim-353 (Pearson, Spearman, share of pairs out of vocabulary) and Google-analogy accuracy."""
        import warnings

        wv = self.wv
        with warnings.catch_warnings(), _one_blas_thread():
            warnings.simplefilter("ignore")  # scipy warns on constant input for tiny vocabularies
            pearson, spearman, oov = wv.evaluate_word_pairs(wordsim353_path(), case_insensitive=True)
            accuracy, sections = wv.evaluate_word_analogies(
                analogies_path(), restrict_vocab=self.params["analogy_restrict_vocab"], case_insensitive=True)
        total = next((s for s in sections if s["section"] == "Total accuracy"), None)
        answered = len(total["correct"]) + len(total["incorrect"]) if total else 0
        return {"wordsim353_spearman": _finite(spearman[0]), "wordsim353_pearson": _finite(pearson[0]),
                "wordsim353_oov_ratio": float(oov) / 100.0, "analogy_accuracy": _finite(accuracy),
                "analogy_questions": float(answered), "vocab_size": float(len(wv.index_to_key))}

    def oov_rate(self, texts: Sequence[str]) -> float:
        """Share of the tokens of ``texts`` that have no vector."""
        tokens = [t for ts in self._split(texts) for t in ts]
        if not tokens:
            return 0.0
        return sum(t not in self.wv.key_to_index for t in tokens) / len(tokens)

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        """Intrinsic evaluations, and the out-of-vocabulary rate on ``examples``."""
        return {**self.intrinsic(), "oov_rate": self.oov_rate([ex["text"] for ex in examples])}

    # -- embedder interface -------------------------------------------------------------------
    def _split(self, texts: Sequence[str]) -> list[list[str]]:
        if self.tokenizer is not None:
            return self.tokenizer.tokens(list(texts))
        lower = self.params["lowercase"]
        return [_FALLBACK_SPLIT.findall(t.lower() if lower else t) for t in texts]

    def embed_batch(self, texts: list[str]) -> "np.ndarray":
        """The mean vector of each text's known words (zeros when none is known)."""
        import numpy as np

        wv = self.wv
        out = np.zeros((len(texts), wv.vector_size), dtype=np.float32)
        for i, tokens in enumerate(self._split(texts)):
            rows = [wv.key_to_index[t] for t in tokens if t in wv.key_to_index]
            if rows:
                out[i] = wv.vectors[rows].mean(axis=0)
        return out

    def word_vectors(self) -> tuple[list[str], "np.ndarray"]:
        return list(self.wv.index_to_key), self.wv.vectors

    def neighbors(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        wv = self.wv
        key = word if word in wv.key_to_index else word.lower()
        if key not in wv.key_to_index:
            raise KeyError(f"{word!r} is not in the vocabulary of {len(wv.index_to_key)} words")
        return [(w, float(s)) for w, s in wv.most_similar(key, topn=k)]

    # -- files --------------------------------------------------------------------------------
    def save_state(self, directory: Path) -> None:
        """``vectors.bin`` (word2vec binary format) and ``tokenizer.json``."""
        tmp = directory / f".{VECTORS}.tmp"
        self.wv.save_word2vec_format(str(tmp), binary=True)
        os.replace(tmp, directory / VECTORS)
        if self.tokenizer is not None:
            self.tokenizer.save(directory / TOKENIZER)

    def load_state(self, directory: Path) -> None:
        from gensim.models import KeyedVectors

        self._wv = KeyedVectors.load_word2vec_format(str(directory / VECTORS), binary=True)
        if (directory / TOKENIZER).exists():
            from nlpzoo.tokenization import TextTokenizer

            self.tokenizer = TextTokenizer.load(directory / TOKENIZER, "word")


def _one_blas_thread():
    """Thousands of small matrix-vector products: threaded BLAS spends more time waking threads than
    computing (10x slower measured on a busy 2-core machine). A no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _finite(x) -> float:
    import math

    x = float(x)
    return x if math.isfinite(x) else 0.0
