"""Word vectors trained elsewhere (GloVe, say), looked up and scored but never retrained.

A folder of vectors is one ``.npy`` matrix, read memory-mapped (the 400,000 x 50 GloVe matrix costs
no memory until rows are touched), and its vocabulary in the same order: a ``.parquet`` file (first
column, read with pyarrow) or a ``.txt`` file with one word a line. A single file is read by gensim:
word2vec binary (``.bin``) or text, with or without the count header (GloVe's own ``.txt``).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from nlpzoo import ConfigError, Range

from .models import Word2Vec

if TYPE_CHECKING:  # pragma: no cover
    from nlpzoo_training import Run


class WordVectors(Word2Vec):
    """Pretrained word vectors wherever a Word2Vec embedder goes: initialising an LSTM's embedding
    layer, ``nlpzoo neighbors``, the embedding-neighbours augmenter, WordSim-353 and analogy scores.

    ``pretrained`` is a folder (a ``.npy`` matrix and its vocabulary) or a word-vector file. Training
    only scores the vectors: a run records the scores and where the vectors are, not a copy of them.
    """

    initialised_from = ()  # the vectors stay where they are; a saved run names them

    def __init__(self, pretrained: str, lowercase: bool = True,
                 analogy_restrict_vocab: Annotated[int, Range(1)] = 30000):
        super().__init__(lowercase=lowercase, analogy_restrict_vocab=analogy_restrict_vocab, pretrained=pretrained)

    def _load_pretrained(self, source: str) -> None:
        path = Path(source)
        if path.is_dir():
            self._wv = read_vectors_folder(path)
        elif path.exists():
            self._wv = read_vectors_file(path)
        else:
            raise ConfigError("no word vectors here: expected a folder with a .npy matrix and its vocabulary, "
                              "or a word2vec/GloVe file", file=source)

    def fit(self, data: dict, run: "Run") -> dict[str, float]:
        """Nothing to learn: the intrinsic scores, and the out-of-vocabulary rate on validation."""
        metrics = self.intrinsic()
        if data.get("validation"):
            metrics["val_oov_rate"] = self.oov_rate(ex["text"] for ex in data["validation"])
        run.log(metrics)
        return metrics

    def save_state(self, directory: Path) -> None:
        """Nothing: ``component.json`` names the vectors' folder, which is rebuilt lazily."""

    def load_state(self, directory: Path) -> None:
        """Nothing: the vectors load on first use."""


def read_vectors_folder(folder: Path):
    """gensim ``KeyedVectors`` over the folder's memory-mapped ``.npy`` matrix and its vocabulary."""
    import numpy as np
    from gensim.models import KeyedVectors

    matrices = sorted(folder.glob("*.npy"))
    if len(matrices) != 1:
        raise ConfigError(f"expected one .npy matrix of word vectors, found {len(matrices)}", file=str(folder))
    vectors = np.load(matrices[0], mmap_mode="r")
    words = read_vocabulary(folder)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ConfigError(f"holds {len(words)} words but a matrix of shape {vectors.shape}; expected one row "
                          "per word", file=str(matrices[0]))
    kv = KeyedVectors(vectors.shape[1], count=0, dtype=vectors.dtype)
    kv.vectors = vectors  # stays memory-mapped: only rows that are read cost memory
    kv.index_to_key = words
    kv.key_to_index = {w: i for i, w in enumerate(words)}
    if len(kv.key_to_index) != len(words):
        raise ConfigError(f"the vocabulary repeats {len(words) - len(kv.key_to_index)} words", file=str(folder))
    return kv


def read_vocabulary(folder: Path) -> list[str]:
    """The words of a vectors folder: the first column of its ``.parquet`` file, else a ``.txt`` file's lines."""
    tables, lists = sorted(folder.glob("*.parquet")), sorted(folder.glob("*.txt"))
    if tables:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ConfigError("reading a .parquet vocabulary needs pyarrow: pip install 'nlpzoo[parquet]'",
                              file=str(tables[0])) from None
        table = pq.read_table(tables[0])
        return [str(w) for w in table.column(0).to_pylist()]
    if lists:
        return lists[0].read_text(encoding="utf-8").splitlines()
    raise ConfigError("no vocabulary beside the .npy matrix: expected a .parquet file (first column) or a .txt "
                      "file with one word a line", file=str(folder))


def read_vectors_file(path: Path):
    """A word2vec binary (``.bin``) or text file; text without the count header is GloVe's format."""
    from gensim.models import KeyedVectors

    binary = path.suffix == ".bin"
    if not binary:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline().split()
        no_header = len(first) != 2
        return KeyedVectors.load_word2vec_format(str(path), binary=False, no_header=no_header)
    return KeyedVectors.load_word2vec_format(str(path), binary=True)
