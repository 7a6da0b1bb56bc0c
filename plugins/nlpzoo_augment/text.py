"""Sentences as whitespace-separated chunks, so that augmenting words keeps punctuation, casing and spacing.

A chunk is what lies between two runs of whitespace; its *word* is the chunk without leading and
trailing punctuation (``"(great!"`` has the word ``great``). Word operations change words and leave
punctuation where it was; detokenizing joins the chunks with the original whitespace.
"""
from __future__ import annotations

import re
from itertools import compress
from operator import methodcaller

#: Punctuation stripped from the ends of a chunk to find its word (ASCII and common Unicode marks).
PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~“”‘’«»„‚—–…¡¿·•"

_SPACE = re.compile(r"(\s+)")
_strip = methodcaller("strip", PUNCT)
_IS_PUNCT = frozenset(PUNCT).issuperset  # true for a chunk of punctuation only
_SPACE_PUNCT = re.compile(" [" + re.escape(PUNCT) + "]")  # where a punctuation-only chunk could start


def word_positions(chunks: list[str]) -> list[int]:
    """Indices of the chunks that hold a word (not punctuation only), computed without a Python loop."""
    return list(compress(range(len(chunks)), map(_strip, chunks)))


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
    if chunk[0] == word[0]:  # the word's first character is no punctuation: nothing leads (the common "film.")
        return "", word, chunk[len(word):]
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


def simple_chunks(text: str) -> tuple[list[str], list[int] | None] | None:
    """``(chunks, words)`` when ``text`` has words separated by single spaces and nothing around them
    (the common form), else None. ``words`` lists the chunks that hold a word, or is None when all do."""
    chunks = text.split()
    if " ".join(chunks) != text or not chunks:
        return None
    return chunks, word_slots(text, chunks, False)


def word_slots(text: str, chunks: list[str], spaced: bool) -> list[int] | None:
    """:func:`word_positions` of ``chunks`` (``text.split()``), or None when every chunk holds a word.

    ``spaced``: the chunks are not single-spaced (or there are none). Cheap tests come first: only
    then, or with a space before punctuation, or punctuation first, can a chunk lack a word.
    """
    if (spaced or _SPACE_PUNCT.search(text) or _IS_PUNCT(text[0])) and any(map(_IS_PUNCT, chunks)):
        return word_positions(chunks)
    return None


def join_chunks(text: str, chunks: list) -> str:
    """The edited ``chunks`` of ``text`` (its ``text.split()``; None: deleted) joined by the whitespace
    that separated them, the text's leading and trailing whitespace kept: what :meth:`Sentence.text`
    gives (``\\s`` in ``re`` and ``str.split()`` agree on what whitespace is)."""
    body = text.strip()
    if not body:
        return text
    seps = _SPACE.findall(body)  # seps[k] lies between chunks k and k + 1
    parts = []
    for k, c in enumerate(chunks):
        if c is None:
            continue
        if parts:
            parts.append(seps[k - 1])
        parts.append(c)
    return text[: len(text) - len(text.lstrip())] + "".join(parts) + text[len(text.rstrip()):]


def swap_words(chunks: list[str], i: int, j: int) -> tuple[str, str]:
    """Exchange the words of chunks ``i`` and ``j`` in place, punctuation staying; returns the two words."""
    a, b = chunks[i], chunks[j]
    if a.isalnum() and b.isalnum():
        chunks[i], chunks[j] = b, a
        return a, b
    pa, wa, qa = split_word(a)
    pb, wb, qb = split_word(b)
    chunks[i], chunks[j] = pa + wb + qa, pb + wa + qb
    return wa, wb


class Sentence:
    """Chunks of a text plus which of them hold a word; edits keep punctuation and spacing in place."""

    __slots__ = ("chunks", "seps", "prefix", "suffix", "words", "first", "moved")

    def __init__(self, text: str):
        self.moved = False  # words changed places: the sentence's capital may need to move too
        simple = simple_chunks(text)
        if simple is not None:  # one space between chunks, none around them: the common case
            self.chunks, words = simple
            self.seps = None
            self.prefix = self.suffix = ""
            self.words = list(range(len(self.chunks))) if words is None else words
            self.first = self.chunks[self.words[0]] if self.words else ""
            return
        body = text.strip()
        if not body:
            self.prefix, self.suffix = text, ""
        else:
            self.prefix = text[: len(text) - len(text.lstrip())]
            self.suffix = text[len(text.rstrip()):]
        parts = _SPACE.split(body)
        self.chunks = parts[0::2]
        self.seps = parts[1::2]
        self.words = word_positions(self.chunks)
        self.first = self.chunks[self.words[0]] if self.words else ""  # the chunk, until the case is checked

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
        self.moved = True
        return swap_words(self.chunks, i, j)

    def delete(self, positions) -> None:
        """Remove the words of the chunks in ``positions``; their punctuation joins the neighbours."""
        self.moved = True
        delete_words(self.chunks, sorted(positions))
        gone = set(positions)
        self.words = [w for w in self.words if w not in gone]

    def insert(self, k: int, word: str) -> None:
        """Insert ``word`` before the ``k``-th word, or after the last word when ``k == len(self)``."""
        self.moved = True
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
        self.words = word_positions(self.chunks)

    def text(self) -> str:
        chunks = self.chunks
        if self.moved:
            fix_sentence_case(chunks, self.words, self.first)
        if self.seps is None:
            body = " ".join(filter(None, chunks))  # no empty chunks here; None marks deleted ones
        else:
            parts = []
            for k, c in enumerate(chunks):
                if c is None:
                    continue
                if parts:
                    parts.append(self.seps[k - 1])
                parts.append(c)
            body = "".join(parts)
        return self.prefix + body + self.suffix


def _word(chunk: str) -> str:
    return chunk if chunk.isalnum() else split_word(chunk)[1]


def _set_word(chunks: list, i: int, word: str) -> None:
    pre, _, post = split_word(chunks[i])
    chunks[i] = pre + word + post


def delete_words(chunks: list, positions) -> None:
    """Delete the words of ``chunks[i]`` for ``i`` in ``positions`` (in increasing order) in place: those
    chunks become None (skipped when joining), and their punctuation joins the neighbours ("was great."
    -> "was.")."""
    for i in positions:
        c = chunks[i]
        chunks[i] = None
        if c.isalnum():
            continue
        pre, _, post = split_word(c)
        if post:  # trailing punctuation ends the previous kept chunk
            j = i - 1
            while j >= 0 and chunks[j] is None:
                j -= 1
            if j >= 0:
                chunks[j] += post
            else:
                pre += post
        if pre:  # leading punctuation opens the next kept chunk ("(great fun" -> "(fun")
            j = i + 1
            while j < len(chunks) and chunks[j] is None:
                j += 1
            if j < len(chunks):
                chunks[j] = pre + chunks[j]
            else:
                chunks[i] = pre


def fix_sentence_case(chunks: list, words: list[int], first: str) -> None:
    """After words moved: a capitalised sentence keeps a capital on its (new) first word, and its old
    first word, if a stop word such as "The", is lower-cased where it went. ``first`` is the original
    first word chunk."""
    if not words or chunks[words[0]] == first:
        return
    old = split_word(first)[1]
    if not old[:1].isupper():
        return
    now = _word(chunks[words[0]])
    if now == old:
        return
    if now[:1].islower():
        _set_word(chunks, words[0], now[0].upper() + now[1:])
    if old != "I" and not old.isupper() and old.lower() in STOP_WORDS:
        for i in words[1:]:
            c = chunks[i]
            if old in c and _word(c) == old:  # the substring test first: a cheap way to skip most chunks
                _set_word(chunks, i, old.lower())
                break
