"""A language model's corpus as token ids on disk, for corpora larger than memory.

:meth:`TokenFile.write` tokenizes texts as they stream past and appends their ids to a file, in chunks;
:meth:`TokenFile.rows` then reads it the way a language model batches a corpus, ``batch_size`` rows side
by side, a window at a time, reading only that window. Memory stays flat however large the corpus.
"""
from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

CHUNK = 2048  # texts tokenized together (the Rust tokenizer uses every core on a batch)


class TokenFile:
    """Token ids (int32) in a file; ``len`` is the number of tokens."""

    def __init__(self, path: str | os.PathLike, length: int):
        self.path, self.length = Path(path), length

    @classmethod
    def write(cls, texts: Iterable[str], encode_batch, end_id: int | None = None,
              folder: str | os.PathLike | None = None) -> "TokenFile":
        """The ids of ``texts`` (each followed by ``end_id``), written to a temporary file removed with the object.

        ``encode_batch`` is a tokenizer's ``list[str] -> list[list[int]]``.
        """
        import numpy as np

        fd, name = tempfile.mkstemp(prefix="nlpzoo-tokens-", suffix=".i32", dir=folder)
        length, chunk = 0, []
        with os.fdopen(fd, "wb") as out:
            def flush():
                nonlocal length
                ids = [i for seq in encode_batch(chunk) for i in (*seq, *(() if end_id is None else (end_id,)))]
                np.asarray(ids, dtype=np.int32).tofile(out)
                length += len(ids)
                chunk.clear()

            for text in texts:
                chunk.append(text)
                if len(chunk) >= CHUNK:
                    flush()
            if chunk:
                flush()
        tokens = cls(name, length)
        weakref.finalize(tokens, os.unlink, name)
        return tokens

    def __len__(self) -> int:
        return self.length

    def read(self, start: int, count: int):
        """``count`` ids from position ``start`` (a NumPy int64 array)."""
        import numpy as np

        count = max(0, min(count, self.length - start))
        return np.fromfile(self.path, dtype=np.int32, count=count, offset=4 * start).astype(np.int64)

    def rows(self, batch_size: int) -> "Rows":
        """The corpus cut into ``batch_size`` contiguous rows, read lazily: ``rows[:, a:b]`` is a ``(B, b - a)`` tensor."""
        return Rows(self, batch_size)


class Rows:
    """``batch_size`` contiguous stretches of a :class:`TokenFile`, side by side, like ``ids.view(B, N)``."""

    def __init__(self, tokens: TokenFile, batch_size: int):
        self.tokens, self.batch_size = tokens, batch_size
        self.shape = (batch_size, len(tokens) // batch_size)

    def __getitem__(self, key) -> "torch.Tensor":
        import numpy as np
        import torch

        rows, cols = key
        if rows != slice(None) or not isinstance(cols, slice) or cols.step not in (None, 1):
            raise TypeError("Rows reads [:, start:stop] windows only")
        start, stop, _ = cols.indices(self.shape[1])
        n = self.shape[1]
        window = np.stack([self.tokens.read(b * n + start, stop - start) for b in range(self.batch_size)])
        return torch.from_numpy(window)  # (B, stop - start)


def token_ids(examples, tokenizer) -> "torch.Tensor | TokenFile":
    """A split's token ids, ``tokenizer.eos_id`` after each text: a tensor for a split held in memory (a
    sequence), a :class:`TokenFile` for a split streamed from disk, so that memory does not grow with it."""
    from collections.abc import Sequence

    if not isinstance(examples, Sequence):
        return TokenFile.write((ex["text"] for ex in examples), tokenizer.encode_batch, tokenizer.eos_id)
    import torch

    return torch.as_tensor(tokenizer.stream([ex["text"] for ex in examples]), dtype=torch.long)
