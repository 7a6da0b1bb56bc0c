"""Tokenizers trained on a corpus, on top of Hugging Face ``tokenizers``.

One :class:`TextTokenizer` serves every model that reads text as ids: the LSTM language model and
classifier encode with it, and an embedder trained alongside them (Word2Vec) learns vectors for
exactly its tokens, so the two vocabularies line up by construction. Vectors from elsewhere are
lined up by :func:`align_vectors`, which reports the coverage.

``tokenizers`` is imported only when a tokenizer is trained or loaded.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["EOS", "PAD", "SPECIALS", "TextTokenizer", "TokenizerKind", "UNK", "align_vectors"]

TokenizerKind = Literal["word", "bpe", "char"]

PAD, UNK, EOS = "[PAD]", "[UNK]", "[EOS]"
SPECIALS = (PAD, UNK, EOS)  # ids 0, 1, 2 in every tokenizer made here

_SPACE_BEFORE = re.compile(r" ([.,;:!?%)\]}'](?:\s|$))")
_SPACE_AFTER = re.compile(r"([(\[{$]) ")


class TextTokenizer:
    """A trained ``tokenizers.Tokenizer`` plus what nlpzoo needs around it.

    ``kind`` is ``"word"`` (word-level, unknown words become ``[UNK]``), ``"bpe"`` (byte-level BPE,
    nothing is unknown) or ``"char"`` (one token per character, spaces included).
    """

    def __init__(self, hf, kind: TokenizerKind):
        self.hf = hf
        self.kind = kind
        self.pad_id = hf.token_to_id(PAD)
        self.unk_id = hf.token_to_id(UNK)
        self.eos_id = hf.token_to_id(EOS)

    # -- training and files -------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str], kind: TokenizerKind = "word", *, vocab_size: int = 20000,
              min_frequency: int = 1, lowercase: bool = True) -> "TextTokenizer":
        """Learn a vocabulary of at most ``vocab_size`` tokens (specials included) from ``texts``."""
        from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        norms = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
        if kind == "word":
            tok = Tokenizer(models.WordLevel(unk_token=UNK))
            tok.pre_tokenizer = pre_tokenizers.Whitespace()
            trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                                special_tokens=list(SPECIALS), show_progress=False)
        elif kind == "char":
            tok = Tokenizer(models.WordLevel(unk_token=UNK))
            # Whitespace runs become one space so that the character stream stays readable.
            norms.append(normalizers.Replace(Regex(r"\s+"), " "))
            tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"."), behavior="isolated")
            trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                                special_tokens=list(SPECIALS), show_progress=False)
        elif kind == "bpe":
            tok = Tokenizer(models.BPE(unk_token=UNK))
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
            tok.decoder = decoders.ByteLevel()
            trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=max(min_frequency, 2),
                                          special_tokens=list(SPECIALS), show_progress=False,
                                          initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        else:
            raise ValueError(f"unknown tokenizer kind {kind!r}; choose word, bpe or char")
        tok.normalizer = normalizers.Sequence(norms)
        tok.train_from_iterator((t for t in texts), trainer=trainer)
        return cls(tok, kind)

    def save(self, path: str | Path) -> None:
        """Write the Hugging Face ``tokenizer.json`` (atomically) at ``path``."""
        from nlpzoo.files import atomic_write

        atomic_write(path, self.hf.to_str(pretty=True))

    @classmethod
    def load(cls, path: str | Path, kind: TokenizerKind | None = None) -> "TextTokenizer":
        from tokenizers import Tokenizer

        hf = Tokenizer.from_file(str(path))
        if kind is None:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            model, pre = data["model"]["type"], (data.get("pre_tokenizer") or {}).get("type")
            kind = "bpe" if model == "BPE" else "char" if pre == "Split" else "word"
        return cls(hf, kind)

    # -- using it -------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def vocab(self) -> list[str]:
        """Every token, indexed by id."""
        by_id = sorted(self.hf.get_vocab().items(), key=lambda kv: kv[1])
        return [t for t, _ in by_id]

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids of many texts at once (the Rust side uses every core)."""
        return [e.ids for e in self.hf.encode_batch(list(texts), add_special_tokens=False)]

    def tokens(self, texts: Sequence[str]) -> list[list[str]]:
        """The token strings the model sees (unknown words as ``[UNK]``): what an embedder trains on."""
        return [e.tokens for e in self.hf.encode_batch(list(texts), add_special_tokens=False)]

    def stream(self, texts: Sequence[str]) -> list[int]:
        """All texts as one id stream, each followed by ``[EOS]`` (language-model training)."""
        out: list[int] = []
        for ids in self.encode_batch(texts):
            out += ids
            out.append(self.eos_id)
        return out

    def decode(self, ids: Sequence[int], strip: bool = True) -> str:
        """Text of ``ids`` (``[PAD]`` and ``[EOS]`` left out); ``strip=False`` keeps a leading space."""
        ids = [int(i) for i in ids if int(i) not in (self.pad_id, self.eos_id)]
        if self.kind == "char":
            return "".join(self.hf.id_to_token(i) or "" for i in ids)
        text = self.hf.decode(ids, skip_special_tokens=False)
        if self.kind == "word":  # word-level tokens come back space separated: tidy punctuation
            text = _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", text))
        return text.strip() if strip else text


def align_vectors(tokenizer: TextTokenizer, words: Sequence[str], vectors: "np.ndarray", *,
                  seed: int = 0, counts: dict[int, int] | None = None) -> tuple["np.ndarray", dict[str, float]]:
    """An embedding matrix for ``tokenizer``'s ids taken from ``(words, vectors)``.

    A token matches a word exactly, else lower-cased, else without its sub-word marker (``Ġ``,
    ``▁``, ``##``). Rows without a match are drawn from a normal distribution with the vectors'
    own scale; ``[PAD]`` is zero. The report gives the share of the vocabulary found
    (``vocab_coverage``) and, when ``counts`` (token id to corpus frequency) is given, the share of
    corpus tokens found (``token_coverage``).
    """
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    index = {w: i for i, w in enumerate(words)}
    lower = {}
    for i, w in enumerate(words):
        lower.setdefault(w.lower(), i)
    rng = np.random.default_rng(seed)
    dim = vectors.shape[1]
    scale = float(vectors.std()) if vectors.size else 0.1
    matrix = rng.normal(0.0, scale, size=(tokenizer.vocab_size, dim)).astype(np.float32)
    found = np.zeros(tokenizer.vocab_size, dtype=bool)
    for tid, token in enumerate(tokenizer.vocab()):
        if token in SPECIALS and token not in index:
            continue
        row = index.get(token)
        if row is None:
            row = lower.get(token.lower())
        if row is None:
            bare = token.lstrip("Ġ▁").removeprefix("##")
            row = index.get(bare, lower.get(bare.lower())) if bare else None
        if row is not None:
            matrix[tid] = vectors[row]
            found[tid] = True
    if tokenizer.pad_id is not None:
        matrix[tokenizer.pad_id] = 0.0
    regular = [i for i, t in enumerate(tokenizer.vocab()) if t not in SPECIALS]
    report = {"vocab_coverage": float(found[regular].mean()) if regular else 0.0,
              "vectors_found": int(found.sum()), "vocab_size": tokenizer.vocab_size}
    if counts:
        total = sum(c for i, c in counts.items() if i not in (tokenizer.pad_id, tokenizer.eos_id))
        hit = sum(c for i, c in counts.items() if found[i])
        report["token_coverage"] = hit / total if total else 0.0
    return matrix, report
