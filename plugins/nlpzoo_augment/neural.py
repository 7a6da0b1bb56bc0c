"""Substitutions proposed by a model: nearest neighbours in an embedder's space, or a language model's
guess for the next word given the left context.

Models load on first use, not when the augmenter is built, so specs validate and pipelines build
without reading any weights.
"""
from __future__ import annotations

import random
import threading
from typing import Annotated

from nlpzoo import ConfigError, Embedder, Range

from .base import Changes, Rate, WordAugmenter, check_min, check_rate, count
from .text import STOP_WORDS, Sentence, match_case

NEIGHBOR_CACHE_SIZE = 20_000  # words whose neighbours are kept (oldest dropped first)


def _open_model(run: str):
    from nlpzoo import open_run

    return open_run(run).model


def _candidate(word: str) -> bool:
    return word.isalpha() and word.lower() not in STOP_WORDS


class EmbeddingNeighbors(WordAugmenter):
    """Replace ``rate`` of the words (at least ``min_changes``) by one of their ``k`` nearest neighbours
    with cosine similarity of at least ``threshold``, from ``embedder`` (any embedder spec) or from the
    embedder of a trained ``run`` directory."""

    op = "embedding-neighbors"

    def __init__(self, embedder: Embedder | None = None, run: str | None = None, rate: Rate = 0.1,
                 k: Annotated[int, Range(1, 10**6)] = 10, threshold: Annotated[float, Range(-1, 1)] = 0.5,
                 min_changes: Changes = 1):
        if (embedder is None) == (run is None):
            raise ConfigError("give exactly one of 'embedder' (a spec) or 'run' (a trained run directory)", "embedder")
        if k < 1:
            raise ConfigError(f"expected 1 or more neighbours, got {k!r}", "k")
        if not -1.0 <= threshold <= 1.0:
            raise ConfigError(f"expected a cosine similarity between -1 and 1, got {threshold!r}", "threshold")
        self.embedder, self.run = embedder, run
        self.rate = check_rate(rate)
        self.k, self.threshold = k, float(threshold)
        self.min_changes = check_min(min_changes)
        self._table = None  # (index of each word, unit vectors, vocabulary) once loaded
        self._neighbors: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._table is None:
                emb = self.embedder
                if emb is None:
                    model = _open_model(self.run)
                    emb = model if hasattr(model, "word_vectors") or hasattr(model, "neighbors") else getattr(model, "embedder", None)
                    if emb is None:
                        raise ConfigError(f"the model in {self.run} is not an embedder and has none", "run")
                    self.embedder = emb
                try:
                    import numpy as np

                    words, vectors = emb.word_vectors()
                    vectors = np.asarray(vectors, dtype=np.float32)
                    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
                    self._table = ({w: i for i, w in enumerate(words)}, unit, list(words))
                except NotImplementedError:
                    self._table = (None, None, None)  # only ``neighbors`` (a sentence embedder, say)
        return self._table

    def neighbors(self, word: str) -> list[str]:
        """The replacement candidates for ``word`` (as written in the vocabulary), best first."""
        cached = self._neighbors.get(word)
        if cached is not None:
            return cached
        index, unit, vocab = self._load()
        found: list[tuple[str, float]] = []
        if index is None:
            try:
                found = self.embedder.neighbors(word, self.k)
            except KeyError:
                found = []
        else:
            key = word if word in index else word.lower()
            i = index.get(key)
            if i is not None:
                import numpy as np

                sims = unit @ unit[i]
                top = np.argpartition(-sims, min(self.k + 1, len(sims) - 1))[: self.k + 1]
                top = top[np.argsort(-sims[top])]
                found = [(vocab[j], float(sims[j])) for j in top if j != i]
        lowered = word.lower()
        out = [w for w, s in found[: self.k] if s >= self.threshold and w.isalpha() and w.lower() != lowered]
        if len(self._neighbors) >= NEIGHBOR_CACHE_SIZE:  # bounded: a stream of distinct words keeps memory flat
            self._neighbors.pop(next(iter(self._neighbors)))
        self._neighbors[word] = out
        return out

    def apply(self, sentence: Sentence, rng: random.Random) -> list[str]:
        n = count(self.rate, len(sentence), self.min_changes, rng)
        if n == 0:
            return []
        candidates = [i for i in sentence.words if _candidate(sentence.word(i))]
        rng.shuffle(candidates)
        ops = []
        for i in candidates:
            word = sentence.word(i)
            choices = self.neighbors(word)
            if not choices:
                continue
            new = match_case(word, choices[rng.randrange(len(choices))])
            sentence.set_word(i, new)
            ops.append(f"{self.op}:{word}->{new}")
            if len(ops) == n:
                break
        return ops


class LMSubstitution(WordAugmenter):
    """Replace ``rate`` of the words (at least ``min_changes``) by a word a trained language model
    proposes after the left context, sampled from its ``top_k`` most likely next words at ``temperature``
    (stop words and punctuation are neither replaced nor proposed).

    The model comes from the ``run`` directory. It is asked for ``next_word_distribution(context, k)``
    (a list of ``(word, probability)``) when it has that method, otherwise for a one-word
    ``generate(context, max_tokens=1, ...)``.
    """

    op = "lm-substitution"

    def __init__(self, run: str, rate: Rate = 0.1, top_k: Annotated[int, Range(1, 10**6)] = 20,
                 temperature: Annotated[float, Range(gt=0)] = 1.0, min_changes: Changes = 1):
        if top_k < 1:
            raise ConfigError(f"expected 1 or more, got {top_k!r}", "top_k")
        if temperature <= 0:
            raise ConfigError(f"expected a temperature above 0, got {temperature!r}", "temperature")
        self.run = run
        self.rate = check_rate(rate)
        self.top_k, self.temperature = top_k, float(temperature)
        self.min_changes = check_min(min_changes)
        self._model = None
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model, **params) -> "LMSubstitution":
        """The augmenter around a language model already in memory (tests, notebooks)."""
        self = cls(run="<in memory>", **params)
        self._model = model
        return self

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = _open_model(self.run)
        return self._model

    def propose(self, context: str, original: str, rng: random.Random) -> str | None:
        """A replacement for ``original`` after ``context``, or None when the model offers nothing else."""
        model = self.model
        lowered = original.lower()
        if hasattr(model, "next_word_distribution"):
            dist = [(w, p) for w, p in model.next_word_distribution(context, self.top_k)
                    if p > 0 and _candidate(w) and w.lower() != lowered]
            if not dist:
                return None
            weights = [p ** (1.0 / self.temperature) for _, p in dist]
            u, acc = rng.random() * sum(weights), 0.0
            for (w, _), wt in zip(dist, weights):
                acc += wt
                if u < acc:
                    return w
            return dist[-1][0]
        out = model.generate(context, max_tokens=1, temperature=self.temperature, top_k=self.top_k,
                             seed=rng.getrandbits(31))
        if context and out.startswith(context):
            out = out[len(context):]
        words = out.split()
        word = words[0].strip(".,;:!?\"'()") if words else ""
        return word if _candidate(word) and word.lower() != lowered else None

    def apply(self, sentence: Sentence, rng: random.Random) -> list[str]:
        n = count(self.rate, len(sentence), self.min_changes, rng)
        if n == 0:
            return []
        candidates = [k for k, i in enumerate(sentence.words) if _candidate(sentence.word(i))]
        chosen = sorted(rng.sample(candidates, min(n, len(candidates))))
        ops = []
        for k in chosen:  # left to right, so later contexts include earlier replacements
            i = sentence.words[k]
            word = sentence.word(i)
            context = " ".join(sentence.chunks[:i])  # the text to the left, punctuation included
            new = self.propose(context, word, rng)
            if new is None:
                continue
            new = match_case(word, new)
            sentence.set_word(i, new)
            ops.append(f"{self.op}:{word}->{new}")
        return ops
