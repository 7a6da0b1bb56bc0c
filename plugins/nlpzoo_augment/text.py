"""Sentences as whitespace-separated chunks, so that augmenting words keeps punctuation, casing and spacing.

A chunk is what lies between two runs of whitespace; its *word* is the chunk without leading and
trailing punctuation (``"(great!"`` has the word ``great``). Word operations change words and leave
punctuation where it was; detokenizing joins the chunks with the original whitespace.
"""
from __future__ import annotations

import re

#: Punctuation stripped from the ends of a chunk to find its word (ASCII and common Unicode marks).
PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~“”‘’«»„‚—–…¡¿·•"

_SPACE = re.compile(r"(\s+)")

#: English stop words (NLTK's list, as the EDA reference implementation uses): never replaced or used as
#: the source of an inserted synonym.
STOP_WORDS = frozenset("""
i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him
his himself she she's her hers herself it it's its itself they them their theirs themselves what which who
whom this that that'll these those am is are was were be been being have has had having do does did doing a
an the and but if or because as until while of at by for with about against between into through during
before after above below to from up down in out on off over under again further then once here there when
where why how all any both each few more most other some such no nor not only own same so than too very s t
can will just don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't
doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't
shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't
""".split())


def split_word(chunk: str) -> tuple[str, str, str]:
    """``(leading punctuation, word, trailing punctuation)``; the word is empty for a punctuation-only chunk."""
    if chunk.isalnum():
        return "", chunk, ""
    word = chunk.strip(PUNCT)
    if not word:
        return chunk, "", ""
    start = chunk.find(word)
    return chunk[:start], word, chunk[start + len(word):]


def match_case(source: str, word: str) -> str:
    """``word`` written with the casing pattern of ``source`` (UPPER, Title or as given)."""
    if not source or not word:
        return word
    if source.isupper() and len(source) > 1:
        return word.upper()
    if source[0].isupper():
        return word[0].upper() + word[1:]
    return word


class Sentence:
    """Chunks of a text plus which of them hold a word; edits keep punctuation and spacing in place."""

    __slots__ = ("chunks", "seps", "prefix", "suffix", "words", "first")

    def __init__(self, text: str):
        if " " in text and "  " not in text and text[0] != " " and text[-1] != " " and not _has_other_space(text):
            self.chunks = text.split(" ")
            self.seps = None  # every separator is one space: the common case, kept cheap
            self.prefix = self.suffix = ""
        else:
            body = text.strip()
            if not body:
                self.prefix, self.suffix = text, ""
            else:
                self.prefix = text[: len(text) - len(text.lstrip())]
                self.suffix = text[len(text.rstrip()):]
            parts = _SPACE.split(body)
            self.chunks = parts[0::2]
            self.seps = parts[1::2]
        chunks = self.chunks
        self.words = [i for i, c in enumerate(chunks) if c.isalnum() or c.strip(PUNCT)]
        self.first = self.word(self.words[0]) if self.words else ""

    def __len__(self) -> int:
        return len(self.words)

    def word(self, i: int) -> str:
        """The word in chunk ``i``."""
        c = self.chunks[i]
        return c if c.isalnum() else split_word(c)[1]

    def set_word(self, i: int, word: str) -> None:
        c = self.chunks[i]
        if c.isalnum():
            self.chunks[i] = word
        else:
            pre, _, post = split_word(c)
            self.chunks[i] = pre + word + post

    def swap(self, i: int, j: int) -> tuple[str, str]:
        """Exchange the words of chunks ``i`` and ``j``; returns the two words."""
        a, b = self.chunks[i], self.chunks[j]
        if a.isalnum() and b.isalnum():
            self.chunks[i], self.chunks[j] = b, a
            return a, b
        wa, wb = self.word(i), self.word(j)
        self.set_word(i, wb)
        self.set_word(j, wa)
        return wa, wb

    def delete(self, positions: set[int]) -> None:
        """Remove the words of the chunks in ``positions``; their punctuation joins the neighbours."""
        chunks, seps = self.chunks, self.seps
        out, out_seps = [], []
        carry = ""  # leading punctuation of a deleted chunk, waiting for the next kept chunk
        for i, c in enumerate(chunks):
            sep = " " if seps is None else (seps[i - 1] if i else "")
            if i in positions:
                pre, _, post = split_word(c)
                carry += pre
                if post:
                    if out:
                        out[-1] += post
                    else:
                        carry += post
                continue
            out.append(carry + c)
            out_seps.append(sep)
            carry = ""
        if carry:
            if out:
                out[-1] += carry
            else:
                out.append(carry)
                out_seps.append("")
        self.chunks = out
        self.seps = None if seps is None else out_seps[1:]
        self.words = [i for i, c in enumerate(out) if c.isalnum() or c.strip(PUNCT)]

    def insert(self, k: int, word: str) -> None:
        """Insert ``word`` before the ``k``-th word, or after the last word when ``k == len(self)``."""
        if not self.words:
            if self.chunks == [""]:
                self.chunks[0] = word
            else:
                self.chunks.append(word)
                if self.seps is not None:
                    self.seps.append(" ")
            self.words = [len(self.chunks) - 1]
            return
        if k >= len(self.words):
            i = self.words[-1]
            pre, w, post = split_word(self.chunks[i])
            self.chunks[i] = pre + w
            at = i + 1
            self.chunks.insert(at, word + post)
        else:
            at = self.words[k]
            self.chunks.insert(at, word)
        if self.seps is not None:
            self.seps.insert(max(at - 1, 0), " ")
        self.words = [i for i, c in enumerate(self.chunks) if c.isalnum() or c.strip(PUNCT)]

    def text(self) -> str:
        chunks = self.chunks
        if self.words and self.first[:1].isupper():
            self._fix_sentence_case()
        if self.seps is None:
            body = " ".join(chunks)
        else:
            parts = [chunks[0]] if chunks else []
            for sep, c in zip(self.seps, chunks[1:]):
                parts.append(sep)
                parts.append(c)
            body = "".join(parts)
        return self.prefix + body + self.suffix

    def _fix_sentence_case(self) -> None:
        """A capitalised first word stays first-capitalised; a displaced sentence-initial stop word is lowered."""
        first_i = self.words[0]
        now = self.word(first_i)
        if now == self.first:
            return
        if now[:1].islower():
            self.set_word(first_i, now[0].upper() + now[1:])
        old = self.first
        if old != "I" and not old.isupper() and old.lower() in STOP_WORDS:
            for i in self.words[1:]:
                if self.word(i) == old:
                    self.set_word(i, old.lower())
                    break


def _has_other_space(text: str) -> bool:
    return "\t" in text or "\n" in text or "\r" in text or (not text.isascii() and any(c.isspace() and c != " " for c in text))
