"""Word2Vec word embeddings trained with gensim (skip-gram or CBOW).

This module imports no gensim, numpy or tokenizers at import time: ``nlpzoo info word2vec`` reads the
parameters from the signature below without loading them.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from nlpzoo import ConfigError, Embedder, Range

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nlpzoo_training.tokenization import TextTokenizer
    from nlpzoo_training import Run

VECTORS, TOKENIZER = "vectors.bin", "tokenizer.json"
# gensim's Cython routines cut sentences at 10,000 tokens; longer documents are fed in pieces.
MAX_SENTENCE = 10_000
CHUNK = 1000  # texts tokenized at once when streaming: the Rust tokenizer's batches, bounded memory
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
            check_vectors_header(path, binary=path.suffix == ".bin")
            self._wv = KeyedVectors.load_word2vec_format(str(path), binary=path.suffix == ".bin")
        else:
            raise FileNotFoundError(f"pretrained word vectors not found: {source}")

    # -- training -----------------------------------------------------------------------------
    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        """Tokenize the training texts, train, and report the intrinsic evaluations.

        A training split held in memory is tokenized once. A streamed split (an iterable that is not
        a ``Sequence``, re-read on every pass) is tokenized a chunk at a time on every pass, so memory
        stays flat whatever the size of the corpus.
        """
        from nlpzoo_training.tokenization import TextTokenizer

        train = data["train"]
        texts = [ex["text"] for ex in train] if isinstance(train, Sequence) else _Texts(train)
        # Every training word stays in the tokenizer; gensim's min_count decides the vocabulary.
        tokenizer = TextTokenizer.train(texts, "word", vocab_size=10_000_000, min_frequency=1,
                                        lowercase=self.params["lowercase"])
        if run.is_main:
            tokenizer.save(Path(run.dir) / TOKENIZER)
        sentences = tokenizer.tokens(texts) if isinstance(texts, list) else _Tokens(tokenizer, texts)
        self.fit_tokens(sentences, run=run, tokenizer=tokenizer)
        metrics = self.intrinsic()
        for name, reason in self.unavailable.items():
            run.missing(name, reason)
        if data.get("validation"):
            metrics["val_oov_rate"] = self.oov_rate(ex["text"] for ex in data["validation"])
        run.log(metrics)
        return metrics

    def fit_tokens(self, sentences: Iterable[list[str]], *, run: "Run | None" = None, seed: int | None = None,
                   tokenizer: "TextTokenizer | None" = None) -> None:
        """Train on already tokenized sentences (a model combining this embedder passes its own tokens).

        ``sentences`` is a list, or any iterable that can be iterated again (gensim reads it once for
        the vocabulary and once per epoch).
        """
        from gensim.models import Word2Vec as GensimWord2Vec
        from gensim.models.callbacks import CallbackAny2Vec

        p = self.params
        seed = run.seed if seed is None and run is not None else (seed or 0)
        sentences = _Pieces(sentences)

        class _Progress(CallbackAny2Vec):
            def __init__(self):
                self.epoch, self.t0, self.loss = 0, time.perf_counter(), 0.0

            def on_epoch_end(self, model):
                now = time.perf_counter()
                logs = {"epoch": self.epoch + 1, "words_per_sec": model.corpus_total_words / max(now - self.t0, 1e-9)}
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
        """WordSim-353 (Pearson, Spearman, share of pairs out of vocabulary) and Google-analogy accuracy.

        A vocabulary without one WordSim-353 pair (German text, a small domain corpus) has no
        correlation to report: those scores are left out, and :attr:`unavailable` says why.
        """
        import warnings

        wv = self.wv
        self.unavailable: dict[str, str] = {}
        metrics: dict[str, float] = {}
        with warnings.catch_warnings(), _one_blas_thread():
            warnings.simplefilter("ignore")  # scipy warns on constant input for tiny vocabularies
            try:
                pearson, spearman, oov = wv.evaluate_word_pairs(wordsim353_path(), case_insensitive=True)
                metrics.update(wordsim353_spearman=_finite(spearman[0]), wordsim353_pearson=_finite(pearson[0]),
                               wordsim353_oov_ratio=float(oov) / 100.0)
            except (ValueError, ZeroDivisionError, IndexError):
                reason = (f"no WordSim-353 pair has both words among the {len(wv.index_to_key)} words of the "
                          "vocabulary (another language or domain?); score your own pairs with nlpzoo evaluate RUN --pairs")
                self.unavailable = dict.fromkeys(("wordsim353_spearman", "wordsim353_pearson"), reason)
            accuracy, sections = wv.evaluate_word_analogies(
                analogies_path(), restrict_vocab=self.params["analogy_restrict_vocab"], case_insensitive=True)
        total = next((s for s in sections if s["section"] == "Total accuracy"), None)
        answered = len(total["correct"]) + len(total["incorrect"]) if total else 0
        return {**metrics, "analogy_accuracy": _finite(accuracy), "analogy_questions": float(answered),
                "vocab_size": float(len(wv.index_to_key))}

    def evaluate_pairs(self, path: str) -> dict[str, float | int]:
        """Correlation of the vectors' cosine similarities with the scores of your own word-pair file.

        The file is gensim's word-pair format (WordSim-353's): ``word1<TAB>word2<TAB>score`` per line
        (spaces work too), ``#`` lines are comments. Pairs with a word out of the vocabulary are left
        out and counted in ``pairs_oov_ratio``; words are matched case-insensitively.
        """
        import tempfile
        import warnings

        pairs = read_word_pairs(path)
        with tempfile.TemporaryDirectory(prefix="nlpzoo-pairs-") as tmp:
            clean = Path(tmp) / "pairs.tsv"
            clean.write_text("".join(f"{a}\t{b}\t{score}\n" for a, b, score in pairs), encoding="utf-8")
            with warnings.catch_warnings(), _one_blas_thread():
                warnings.simplefilter("ignore")  # scipy warns on constant input
                try:
                    pearson, spearman, oov = self.wv.evaluate_word_pairs(str(clean), case_insensitive=True)
                except ValueError:
                    raise ConfigError(f"none of its {len(pairs)} pairs has both words among the {len(self.wv.index_to_key)} "
                                      "words of the vocabulary", file=path) from None
        return {"pairs_spearman": _finite(spearman[0]), "pairs_pearson": _finite(pearson[0]),
                "pairs_oov_ratio": float(oov) / 100.0, "pairs_scored": round(len(pairs) * (1 - oov / 100.0))}

    def evaluate_analogies(self, path: str) -> dict[str, float | int]:
        """Accuracy on your own analogy questions ("a is to b as c is to d"), overall and by section.

        The file is gensim's analogy format (the Google analogies'): ``: section name`` lines, each
        followed by questions of four words ``a b c d``. A question is answered correctly when the
        nearest word to ``b - a + c`` among the ``analogy_restrict_vocab`` most frequent words (the
        question's own words excluded) is ``d``; questions with a word out of that vocabulary are left
        out and counted in ``analogy_oov_ratio``.
        """
        import tempfile
        import warnings

        sections = read_analogies(path)
        total_questions = sum(len(questions) for _, questions in sections)
        with tempfile.TemporaryDirectory(prefix="nlpzoo-analogies-") as tmp:
            clean = Path(tmp) / "analogies.txt"
            clean.write_text("".join(f": {name}\n" + "".join(" ".join(q) + "\n" for q in questions)
                                     for name, questions in sections), encoding="utf-8")
            with warnings.catch_warnings(), _one_blas_thread():
                warnings.simplefilter("ignore")
                accuracy, results = self.wv.evaluate_word_analogies(
                    str(clean), restrict_vocab=self.params["analogy_restrict_vocab"], case_insensitive=True)
        answered = {r["section"]: len(r["correct"]) + len(r["incorrect"]) for r in results}
        total = answered.pop("Total accuracy", 0)
        metrics = {"analogy_accuracy": _finite(accuracy), "analogy_questions": total,
                   "analogy_oov_ratio": 1.0 - total / total_questions}
        for r in results:
            if r["section"] != "Total accuracy" and answered.get(r["section"]):
                metrics[f"analogy_accuracy[{r['section']}]"] = len(r["correct"]) / answered[r["section"]]
        return metrics

    def oov_rate(self, texts: Iterable[str]) -> float:
        """Share of the tokens of ``texts`` that have no vector (read a chunk at a time)."""
        known, tokens, missing = self.wv.key_to_index, 0, 0
        for chunk in _chunks(texts, CHUNK):
            for ts in self._split(chunk):
                tokens += len(ts)
                missing += sum(t not in known for t in ts)
        return missing / tokens if tokens else 0.0

    def evaluate(self, examples: Iterable) -> dict[str, float]:
        """Intrinsic evaluations, and the out-of-vocabulary rate on ``examples``."""
        return {**self.intrinsic(), "oov_rate": self.oov_rate(ex["text"] for ex in examples)}

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

        check_vectors_header(directory / VECTORS, binary=True)
        self._wv = KeyedVectors.load_word2vec_format(str(directory / VECTORS), binary=True)
        if (directory / TOKENIZER).exists():
            from nlpzoo_training.tokenization import TextTokenizer

            self.tokenizer = TextTokenizer.load(directory / TOKENIZER, "word")


def read_word_pairs(path: str) -> list[tuple[str, str, float]]:
    """``(word1, word2, score)`` from a word-pair file; a bad line is one error naming file and line."""
    pairs = []
    for number, line in _lines(path):
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        try:
            if len(fields) != 3 or not all(fields[:2]):
                raise ValueError
            pairs.append((fields[0], fields[1], float(fields[2])))
        except ValueError:
            raise ConfigError(f"expected two words and a score ('word1<TAB>word2<TAB>score', e.g. 'tiger<TAB>cat<TAB>7.35'), "
                              f"got {line.strip()[:60]!r}", file=path, line=number) from None
    if not pairs:
        raise ConfigError("no word pairs in the file ('word1<TAB>word2<TAB>score' per line)", file=path)
    return pairs


def read_analogies(path: str) -> list[tuple[str, list[list[str]]]]:
    """``[(section, [[a, b, c, d], ...]), ...]`` from an analogy file; a bad line is one error naming file and line."""
    sections: list[tuple[str, list[list[str]]]] = []
    for number, line in _lines(path):
        if line.startswith(":"):
            sections.append((line[1:].strip() or f"section {len(sections) + 1}", []))
            continue
        words = line.split()
        if not sections:
            raise ConfigError("expected a ': section name' line before the first question", file=path, line=number)
        if len(words) != 4:
            raise ConfigError(f"expected four words 'a b c d' (a is to b as c is to d, e.g. 'Athens Greece Paris France'), "
                              f"got {len(words)}: {line.strip()[:60]!r}", file=path, line=number)
        sections[-1][1].append(words)
    sections = [(name, questions) for name, questions in sections if questions]
    if not sections:
        raise ConfigError("no analogy questions in the file (': section' lines, then 'a b c d' lines)", file=path)
    return sections


def _lines(path: str):
    """Numbered lines that are neither blank nor ``#`` comments."""
    try:
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip() and not line.startswith("#"):
                    yield number, line.rstrip("\n")
    except FileNotFoundError:
        raise ConfigError("file not found", file=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None


def _chunks(items: Iterable, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Texts:
    """The texts of a streamed split, re-read on every pass."""

    def __init__(self, examples: Iterable[dict]):
        self.examples = examples

    def __iter__(self):
        return (ex["text"] for ex in self.examples)


class _Tokens:
    """Token lists of streamed texts, tokenized a chunk at a time on every pass."""

    def __init__(self, tokenizer: "TextTokenizer", texts: Iterable[str]):
        self.tokenizer, self.texts = tokenizer, texts

    def __iter__(self):
        for chunk in _chunks(self.texts, CHUNK):
            yield from self.tokenizer.tokens(chunk)


class _Pieces:
    """Sentences cut into pieces gensim accepts (at most MAX_SENTENCE tokens), empty ones left out."""

    def __init__(self, sentences: Iterable[list[str]]):
        self.sentences = sentences

    def __iter__(self):
        for s in self.sentences:
            for i in range(0, len(s), MAX_SENTENCE):
                yield s[i:i + MAX_SENTENCE]


def _one_blas_thread():
    """Thousands of small matrix-vector products: threaded BLAS spends more time waking threads than
    computing (10x slower measured on a busy 2-core machine). A no-op without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def check_vectors_header(path: Path, binary: bool) -> None:
    """Refuse a word2vec file whose header (``COUNT DIMENSIONS``) declares more than the file holds.

    gensim allocates ``COUNT x DIMENSIONS`` floats from the header before it reads a vector: a header of
    ``999999999 300`` would take over a terabyte. Each vector takes at least ``4 x DIMENSIONS`` bytes
    in the binary format and ``2 x DIMENSIONS`` in the text format, plus its word.
    """
    with open(path, "rb") as fh:
        header = fh.readline(200)
    parts = header.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"expected a header line 'COUNT DIMENSIONS', got {header[:60]!r}", file=str(path))
    count, dims = int(parts[0]), int(parts[1])
    need = count * ((4 if binary else 2) * dims + 2)
    size = path.stat().st_size
    if dims == 0 or need > size:
        raise ConfigError(f"the header declares {count:,} vectors of {dims:,} dimensions (at least {need:,} bytes), but "
                          f"the file holds {size:,} bytes; refusing to allocate them", file=str(path))


def _finite(x) -> float:
    import math

    x = float(x)
    return x if math.isfinite(x) else 0.0
