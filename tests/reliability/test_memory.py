"""Streams stay flat: ``augment`` on ever more distinct words does not grow its memory.

WordNet's per-word synonym cache used to keep every word it was asked about: 295 MB at 100,000 lines
of distinct words. It is now bounded, so the peak at eight times the input is the same.
"""
from __future__ import annotations

import random
import subprocess
import sys

import pytest

import nlpzoo

from peak_memory import PEAK_BYTES
from reliability_support import TALLY

#: prints the process's own peak resident memory when the command exits
PEAK = ("import atexit, sys; "
        f"atexit.register(lambda: print(f'PEAK_KB {{({PEAK_BYTES}) // 1024}}', file=sys.stderr)); "
        "from nlpzoo.cli import main; main(sys.argv[1:])")


def distinct_lines(path, n: int, seed: int = 0) -> None:
    """``n`` lines of ten made-up words each: almost every word is new, the worst case for a cache."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    with open(path, "w") as fh:
        for _ in range(n):
            fh.write(" ".join("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(10)) + "\n")


def peak_kb(lines_file) -> int:
    with open(lines_file) as stdin:
        done = subprocess.run([sys.executable, "-c", PEAK, "augment", "synonym-replacement"], stdin=stdin,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    TALLY.cases += 1
    return int(done.stderr.rsplit("PEAK_KB ", 1)[1].split()[0])


@pytest.mark.slow
def test_augment_peak_memory_does_not_grow_with_the_input(tmp_path):
    if "synonym-replacement" not in nlpzoo.components():
        pytest.skip("needs the augment plugin")
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    distinct_lines(small, 5_000)
    distinct_lines(large, 40_000, seed=1)  # 400,000 words, 20 times the cache
    grown = peak_kb(large) - peak_kb(small)
    assert grown < 20_000, f"the peak grew by {grown / 1024:.1f} MB from 5,000 to 40,000 lines"


def test_the_synonym_cache_keeps_the_most_recently_used_words():
    if "synonym-replacement" not in nlpzoo.components():
        pytest.skip("needs the augment plugin")
    from nlpzoo_augment.wordnet import WordNet

    wn = WordNet(cache_size=100)
    for i in range(1_000):
        wn.synonyms(f"word{i}")
        wn.synonyms("cat")  # used all along: never dropped
    TALLY.cases += 1000
    assert len(wn._synonyms) == 100 and "cat" in wn._synonyms and "word999" in wn._synonyms
    assert "true cats" in wn.synonyms("cats")  # still right after evictions
