"""Every YAML nlpzoo reads is bounded: any text is either data or one error naming the file and line.

Alias bombs, recursive aliases, deep nesting, duplicate keys, huge integers and files that are not
files (``/dev/zero``, a FIFO, a folder) are refused quickly; nothing else escapes but ConfigError.
"""
from __future__ import annotations

import os
import random
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlpzoo.errors import ConfigError
from nlpzoo.yamlio import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, load_yaml, parse_yaml
from reliability_support import TALLY, examples, refused_cleanly

TOKENS = list("abcxyz019 -:,.[]{}&*!|>'\"#?%@`\n\t\\") + ["<<", "&a", "*a", "&b", "*b", "---", "...", "- ", ": ",
                                                                     "!!int", "!!str", "!!float", "!!binary", "!!set",
                                                                     "!!python/object", "0x", "1e9", "2001-13-45", "~"]


def yamlish(rng: random.Random) -> str:
    """Text made of YAML's own tokens (most draws), or any unicode (some)."""
    if rng.random() < 0.2:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)])) for _ in range(rng.randrange(60)))
    return "".join(rng.choice(TOKENS) for _ in range(rng.randrange(80)))


@settings(max_examples=examples(400))
@given(st.integers(0, 2**32))
def test_any_text_is_data_or_one_config_error(seed):
    rng = random.Random(seed)
    for _ in range(10):  # ten texts per drawn seed: the fuzzing, not the drawing, is what takes time
        data, error = refused_cleanly(parse_yaml, yamlish(rng), "f.yaml")
        if error is not None:
            assert isinstance(error, ConfigError) and error.file == "f.yaml"


def bomb(levels: int, fanout: int) -> str:
    """The 'billion laughs': each level a list of ``fanout`` aliases to the level below."""
    lines = ['l0: &l0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


def expanded(levels: int, fanout: int) -> int:
    """Nodes once every alias is expanded: the root mapping, its keys, and each level's tree."""
    trees = sum(sum(fanout ** j for j in range(i + 1)) for i in range(levels + 1))
    return 1 + (levels + 1) + trees


def test_alias_bombs_are_refused_with_the_line_and_never_expanded():
    for levels in range(1, 31):  # every shape up to 30 levels of 12 aliases: 12^30 nodes expanded
        for fanout in range(1, 13):
            started = time.perf_counter()
            data, error = refused_cleanly(parse_yaml, bomb(levels, fanout), "bomb.yaml")
            assert time.perf_counter() - started < 2.0
            if expanded(levels, fanout) > MAX_YAML_NODES:
                assert error is not None and "expands to more than" in error.message, (levels, fanout, error)
                assert error.line is not None and error.line <= levels + 1
            elif levels + 1 <= MAX_YAML_DEPTH:
                assert error is None, error


def test_the_459_byte_bomb_from_the_report_is_refused_at_once(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb(9, 9))
    TALLY.cases += 1
    with pytest.raises(ConfigError, match=r"bomb\.yaml:\d+: expands to more than 100,000 nodes"):
        load_yaml(path)
    TALLY.refused += 1


RECURSIVE = [
    "model: &a [*a]\n",
    "model: &a {x: *a}\n",
    "a: &a\n  b: [1, 2, {c: *a}]\n",
    "- &top [1, [2, [3, *top]]]\n",
    "m: &m {<<: *m}\n",
    "k: &k {? *k : 1}\n",
]


@pytest.mark.parametrize("text", RECURSIVE)
def test_recursive_aliases_are_refused_with_the_line(text):
    data, error = refused_cleanly(parse_yaml, text, "r.yaml")
    assert error is not None and error.line is not None
    assert "recursive alias" in error.message or "found undefined alias" in error.message, error


@pytest.mark.parametrize("style", ["flow-list", "flow-map", "block-map", "block-list"])
def test_nesting_is_bounded_without_recursion_errors(style):
    for depth in [*range(1, MAX_YAML_DEPTH + 10), 500, 3000]:
        if style == "flow-list":
            text = "a: " + "[" * depth + "]" * depth
        elif style == "flow-map":
            text = "a: " + "{b: " * depth + "1" + "}" * depth
        elif style == "block-map":
            text = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v\n"
        else:
            text = "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "1\n"
        data, error = refused_cleanly(parse_yaml, text, "deep.yaml")
        if depth > MAX_YAML_DEPTH:
            assert error is not None and ("deeper than" in error.message or "nesting depth" in error.message), depth
            assert error.line is not None
        if depth + 2 <= MAX_YAML_DEPTH:
            assert error is None, error


@settings(max_examples=examples(150))
@given(st.lists(st.sampled_from(["name", "seed", "model", "lr", "a", "b"]), min_size=2, max_size=8),
       st.booleans())
def test_duplicate_keys_name_both_lines(keys, nested):
    indent = "  " if nested else ""
    text = ("outer:\n" if nested else "") + "".join(f"{indent}{k}: {i}\n" for i, k in enumerate(keys))
    data, error = refused_cleanly(parse_yaml, text, "d.yaml")
    offset = 2 if nested else 1
    seen: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in seen:
            assert error is not None, "a duplicate key was read as 'last wins'"
            assert error.message == f"duplicate key {k!r}: first at line {seen[k]}, again at line {i + offset}"
            assert error.line == i + offset
            return
        seen[k] = i + offset
    assert error is None and (data["outer"] if nested else data) == {k: i for i, k in enumerate(keys)}


def test_merge_keys_may_repeat_what_they_merge():
    TALLY.cases += 1
    assert parse_yaml("base: &b {lr: 1, wd: 2}\nopt: {<<: *b, lr: 3}\n") == {"base": {"lr": 1, "wd": 2}, "opt": {"lr": 3, "wd": 2}}


@settings(max_examples=examples(30))
@given(st.integers(4301, 20000), st.sampled_from(["seed: {}\n", "a:\n  - {}\n", "{{x: {}}}"]))
def test_huge_integers_are_one_error_with_the_line(digits, template):
    data, error = refused_cleanly(parse_yaml, template.format("7" * digits), "n.yaml")
    assert error is not None and f"{digits:,} digits is too long" in error.message and error.line is not None


def test_reading_dev_zero_or_a_huge_file_is_refused_with_the_limit(tmp_path):
    limit = re.escape(f"{MAX_YAML_BYTES // (1 << 20)} MiB")
    for path in ("/dev/zero", "/dev/urandom"):
        TALLY.cases += 1
        started = time.perf_counter()
        with pytest.raises(ConfigError, match=f"{path}: recipe is larger than the limit of {limit}"):
            load_yaml(path, "recipe")
        assert time.perf_counter() - started < 5
        TALLY.refused += 1
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(5 << 30)  # 5 GiB, sparse: refused from its size, never read
    TALLY.cases += 1
    with pytest.raises(ConfigError, match=f"big.yaml: catalogue is 5 GiB, larger than the limit of {limit}"):
        load_yaml(big, "catalogue")
    TALLY.refused += 1


def test_a_fifo_a_folder_and_binary_are_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    TALLY.cases += 1
    assert load_yaml(fifo) == {}  # no writer: empty, at once
    for path, pattern in ((tmp_path, "expected a recipe, found a folder"),):
        TALLY.cases += 1
        with pytest.raises(ConfigError, match=pattern):
            load_yaml(path, "recipe")
        TALLY.refused += 1
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"seed: 1\nname: \xff\xfe\n")
    TALLY.cases += 1
    with pytest.raises(ConfigError, match=r"b\.yaml:2: cannot read recipe: not UTF-8 text"):
        load_yaml(binary, "recipe")
    TALLY.refused += 1
