"""Your own data: the readers for CSV, JSONL, Parquet, plain text and folders of one class each.

Labels keep their names, splits are seeded and stratified and recorded, every file is read in its
own encoding, and bad files are refused with one line that names the file, the line and the limit.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import json
import subprocess
import sys
from collections import Counter

import pytest

import nlpzoo
from nlpzoo import ConfigError

LABELS = ["1 star", "3 stars", "5 stars"]


def build(spec):
    return nlpzoo.build(spec, "dataset")


def load(spec):
    return build(spec).load()


def reviews(n=100):
    """``n`` reviews, 60% '5 stars', 30% '3 stars', 10% '1 star', in the order a folder reader lists them."""
    shares = {"1 star": n // 10, "3 stars": 3 * n // 10, "5 stars": n - n // 10 - 3 * n // 10}
    return [(f"review {i} of a film rated {label}, said plainly", label)
            for label in LABELS for i in range(shares[label])]


def write_all_formats(folder, rows):
    """The same reviews as CSV, JSONL, Parquet and a folder of one subfolder per label."""
    with open(folder / "reviews.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review", "stars"])
        writer.writerows(rows)
    with open(folder / "reviews.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"review": t, "stars": l}) + "\n" for t, l in rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"review": [t for t, _ in rows], "stars": [l for _, l in rows]}), folder / "reviews.parquet",
                   row_group_size=16)
    for i, (text, label) in enumerate(rows):
        (folder / "reviews" / label).mkdir(parents=True, exist_ok=True)
        (folder / "reviews" / label / f"{i:04d}.txt").write_text(text, encoding="utf-8")
    return {
        "csv": {"name": "csv", "path": str(folder / "reviews.csv"), "text_column": "review", "label_column": "stars"},
        "jsonl": {"name": "jsonl", "path": str(folder / "reviews.jsonl"), "text_column": "review", "label_column": "stars"},
        "parquet": {"name": "parquet", "path": str(folder / "reviews.parquet"), "text_column": "review",
                    "label_column": "stars"},
        "text-folder": {"name": "text-folder", "path": str(folder / "reviews")},
    }


# ---------------------------------------------------------------- the same data in every format


def test_every_format_reads_the_same_examples_into_the_same_stratified_splits(tmp_path):
    rows = reviews(100)
    specs = write_all_formats(tmp_path, rows)
    splits = {fmt: load(spec) for fmt, spec in specs.items()}
    first = splits["csv"]
    assert sorted((ex["text"], ex["label"]) for s in first.values() for ex in s) == sorted(rows)
    for fmt, other in splits.items():
        assert other == first, fmt
    for name, size in (("train", 80), ("validation", 10), ("test", 10)):
        assert len(first[name]) == size
    # stratified: each split holds the labels in the shares of the whole (60/30/10)
    assert Counter(ex["label"] for ex in first["test"]) == {"5 stars": 6, "3 stars": 3, "1 star": 1}
    assert Counter(ex["label"] for ex in first["validation"]) == {"5 stars": 6, "3 stars": 3, "1 star": 1}


def test_the_split_is_seeded_and_recorded_for_the_run(tmp_path):
    spec = write_all_formats(tmp_path, reviews(100))["csv"]
    dataset = build(spec)
    assert dataset.describe() == {}
    a = dataset.load()
    assert a == load(spec) and a["test"] != load({**spec, "seed": 1})["test"]
    record = dataset.describe()
    assert record["split"] == {"method": "stratified", "seed": 0, "validation": 0.1, "test": 0.1,
                               "sizes": {"train": 80, "validation": 10, "test": 10}}
    assert record["labels"]["1 star"] == {"train": 8, "validation": 1, "test": 1}
    assert record["reader"] == "csv" and record["encodings"] == {spec["path"]: "utf-8"}
    json.dumps(record)  # the run writes it into provenance.json


def test_unstratified_splits_and_files_that_give_the_evaluation_splits(tmp_path):
    spec = write_all_formats(tmp_path, reviews(100))["csv"]
    plain = load({**spec, "stratify": False})
    assert sum(map(len, plain.values())) == 100 and plain != load(spec)
    with open(tmp_path / "dev.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["review", "stars"], ["fine", "3 stars"], ["awful", "1 star"]])
    fixed = build({**spec, "validation_path": str(tmp_path / "dev.csv"), "test": 0.2})
    splits = fixed.load()
    assert splits["validation"] == [{"text": "fine", "label": "3 stars"}, {"text": "awful", "label": "1 star"}]
    assert (len(splits["train"]), len(splits["test"])) == (80, 20)
    assert fixed.describe()["fixed_splits"] == {"validation_path": str(tmp_path / "dev.csv")}
    assert fixed.files() == [spec["path"], str(tmp_path / "dev.csv")]


def test_an_evaluation_label_never_seen_in_training_is_refused(tmp_path):
    spec = write_all_formats(tmp_path, reviews(100))["csv"]
    with open(tmp_path / "test.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["review", "stars"], ["meh", "2 stars"]])
    with pytest.raises(ConfigError, match=r"reviews\.csv: the test split has labels the training split lacks: "
                                          r"'2 stars' \(1 example\)"):
        load({**spec, "test_path": str(tmp_path / "test.csv")})


def test_limit_and_train_limit_on_readers(tmp_path):
    spec = write_all_formats(tmp_path, reviews(100))["jsonl"]
    small = load({**spec, "limit": 50})
    assert {k: len(v) for k, v in small.items()} == {"train": 40, "validation": 5, "test": 5}
    few = load({**spec, "train_limit": 20})
    assert len(few["train"]) == 20 and few["test"] == load(spec)["test"]


# ---------------------------------------------------------------- folders of one class each


def test_a_folder_reader_takes_the_labels_it_is_told_and_names_what_is_missing(tmp_path):
    for label, texts in {"pos": ["good", "great"], "neg": ["bad", "awful"], "unsup": ["a film"]}.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(text)
    (tmp_path / "urls.txt").write_text("not a review")  # files beside the class folders are not read
    chosen = build({"name": "text-folder", "path": str(tmp_path), "labels": ["neg", "pos"], "validation": 0, "test": 0})
    assert chosen.load()["train"] == [{"text": "bad", "label": "neg"}, {"text": "awful", "label": "neg"},
                                      {"text": "good", "label": "pos"}, {"text": "great", "label": "pos"}]
    assert len(chosen.files()) == 4
    with pytest.raises(ConfigError, match=r": labels: no folder 'Pos' \(did you mean 'pos'\?\); folders: neg, pos, unsup"):
        load({"name": "text-folder", "path": str(tmp_path), "labels": ["Pos", "neg"]})
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "0.md").write_text("x")
    with pytest.raises(ConfigError, match=r"empty: no \*\.txt files for label 'empty' \(it holds 1 other entry; "
                                          r"set pattern: '\*'\)"):
        load({"name": "text-folder", "path": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"pos: no subfolders: expected one folder per label"):
        load({"name": "text-folder", "path": str(tmp_path / "pos")})


# ---------------------------------------------------------------- Parquet


def test_parquet_errors_name_the_file_the_row_and_the_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": ["good", None], "y": [1, 0]}), tmp_path / "d.parquet")
    with pytest.raises(ConfigError, match=r"d\.parquet: text_column: no column 'text'; columns: body, y"):
        load({"name": "parquet", "path": str(tmp_path / "d.parquet")})
    with pytest.raises(ConfigError, match=r"d\.parquet: row 2: 'body' must be non-empty text, got None"):
        load({"name": "parquet", "path": str(tmp_path / "d.parquet"), "text_column": "body", "label_column": "y"})
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(ConfigError, match=r"bad\.parquet: not a readable Parquet file") as info:
        load({"name": "parquet", "path": str(tmp_path / "bad.parquet")})
    assert "\n" not in str(info.value)


def test_parquet_without_pyarrow_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(nlpzoo.MissingDependency, match=r"pip install 'nlpzoo\[parquet\]'"):
        load({"name": "parquet", "path": str(tmp_path / "d.parquet")})


# ---------------------------------------------------------------- encodings


def test_auto_reads_each_file_of_a_folder_in_its_own_encoding(tmp_path):
    for label in ("fr", "de"):
        (tmp_path / label).mkdir()
    (tmp_path / "fr" / "0.txt").write_text("Un été à Paris : très réussi, d'une élégance rare.", encoding="utf-8")
    (tmp_path / "fr" / "1.txt").write_bytes("Café crème, mise en scène soignée ; ça vaut le détour.".encode("latin-1"))
    (tmp_path / "de" / "0.txt").write_bytes("Grüße aus München: schön, aber zu lang.".encode("cp1252"))
    (tmp_path / "de" / "1.txt").write_text("Ein großartiger Film über Mut.", encoding="utf-8")
    dataset = build({"name": "text-folder", "path": str(tmp_path), "validation": 0, "test": 0})
    texts = {ex["text"] for ex in dataset.load()["train"]}
    assert "Café crème, mise en scène soignée ; ça vaut le détour." in texts
    assert "Grüße aus München: schön, aber zu lang." in texts
    encodings = dataset.describe()["encodings"]
    assert encodings[str(tmp_path / "fr" / "1.txt")] == "cp1252" and encodings[str(tmp_path / "fr" / "0.txt")] == "utf-8"
    with pytest.raises(ConfigError, match=r"de/0\.txt:1: not valid utf-8 text"):
        load({"name": "text-folder", "path": str(tmp_path), "encoding": "utf-8"})


def test_auto_reads_windows_and_utf16_csv_files(tmp_path):
    rows = [["text", "label"], ["“Superb” – a must‑see", "5 stars"], ["naïve, clichéd", "1 star"]]
    for encoding in ("cp1252", "utf-16"):
        path = tmp_path / f"{encoding}.tsv"
        text = "\n".join("\t".join(r) for r in rows) + "\n"
        path.write_bytes(text.replace("‑", "-").encode(encoding))
        got = load({"name": "csv", "path": str(path), "validation": 0, "test": 0})["train"]
        assert got == [{"text": "“Superb” – a must-see", "label": "5 stars"}, {"text": "naïve, clichéd", "label": "1 star"}]


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("text,label\nfine,x\n".encode("utf-8-sig"))
    for encoding in ("auto", "utf-8"):
        spec = {"name": "csv", "path": str(path), "encoding": encoding, "validation": 0, "test": 0}
        assert load(spec)["train"] == [{"text": "fine", "label": "x"}]


def test_auto_switches_encoding_at_a_late_line_that_is_not_utf8(tmp_path):
    path = tmp_path / "late.txt"
    with open(path, "wb") as fh:
        fh.write(b"plain ascii line\n" * 70_000)  # more than the MiB auto looks at first
        fh.write("déjà vu, à la carte\n".encode("latin-1"))
    dataset = build({"name": "text-file", "path": str(path), "validation": 0, "test": 0})
    assert dataset.load()["train"][-1] == {"text": "déjà vu, à la carte"}
    assert dataset.describe()["encodings"] == {str(path): "utf-8, then cp1252 from line 70001"}


# ---------------------------------------------------------------- refused with one line (file and limit named)


def one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("suffix, damage", [
    (".gz", lambda data: b"this is not gzip data at all"),
    (".gz", lambda data: data[: len(data) // 2]),
    (".bz2", lambda data: b"BZh9" + b"\x00" * 40),
    (".bz2", lambda data: data[: len(data) // 2]),
])
def test_corrupt_or_truncated_compressed_files_are_refused_naming_the_file(tmp_path, suffix, damage):
    rows = "".join(f"review number {i} is here,{i % 2}\n" for i in range(3000))
    data = ("text,label\n" + rows).encode()
    packed = gzip.compress(data) if suffix == ".gz" else bz2.compress(data)
    path = tmp_path / f"reviews.csv{suffix}"
    path.write_bytes(damage(packed))
    with pytest.raises(ConfigError, match=rf"reviews\.csv{suffix}: corrupt or truncated (gzip|bzip2) data") as info:
        load({"name": "csv", "path": str(path)})
    one_line(info)


@pytest.mark.parametrize("name", ["text-file", "csv", "jsonl", "text-folder"])
def test_an_unknown_encoding_is_refused_when_the_recipe_is_checked(name, tmp_path):
    with pytest.raises(ConfigError, match=r"^encoding: unknown encoding 'utf-9' \(did you mean 'utf-8'"):
        build({"name": name, "path": str(tmp_path), "encoding": "utf-9"})


@pytest.mark.parametrize("delimiter", ["", ";;", "\n", '"'])
def test_a_delimiter_must_be_one_character(delimiter, tmp_path):
    with pytest.raises(ConfigError, match=r"^delimiter: expected one character"):
        build({"name": "csv", "path": str(tmp_path / "a.csv"), "delimiter": delimiter})


LIMITS = [(name, key, value) for name in ("text-file", "csv", "jsonl", "parquet", "text-folder", "rotten-tomatoes")
          for key, value in (("limit", -5), ("limit", 0), ("train_limit", -1))] + [("wiki-extract", "limit", -5)]


@pytest.mark.parametrize("name, key, value", LIMITS)
def test_a_limit_below_one_is_refused_instead_of_dropping_rows(name, key, value, tmp_path):
    spec = {"name": name, key: value, **({} if name in ("rotten-tomatoes", "wiki-extract") else {"path": str(tmp_path)})}
    with pytest.raises(ConfigError, match=rf"^{key}: expected a number of examples of 1 or more, got {value}"):
        build(spec)


def test_a_20_mb_jsonl_line_is_refused_naming_the_file_the_line_and_the_limit(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "w") as fh:
        fh.write('{"text": "fine", "label": "a"}\n')
        fh.write('{"text": "' + "word " * 4_000_000 + '", "label": "b"}\n')
    with pytest.raises(ConfigError, match=r"huge\.jsonl:2: a line longer than max_record_bytes, 1 MiB \(1,048,576 bytes\); "
                                          r"raise max_record_bytes") as info:
        load({"name": "jsonl", "path": str(path)})
    one_line(info)
    raised = load({"name": "jsonl", "path": str(path), "max_record_bytes": 32 << 20, "validation": 0, "test": 0})
    assert len(raised["train"][1]["text"]) == len("word " * 4_000_000) - 1


def test_a_document_or_a_quoted_field_over_the_limit_is_refused(tmp_path):
    (tmp_path / "long.txt").write_text("x" * 5000)
    with pytest.raises(ConfigError, match=r"long\.txt: longer than max_record_bytes, .*4,096 bytes"):
        load({"name": "text-file", "path": str(tmp_path / "long.txt"), "mode": "file", "max_record_bytes": 4096})
    (tmp_path / "quote.csv").write_text('text,label\n"an unclosed quote,a\n' + "more text\n" * 1000)
    with pytest.raises(ConfigError, match=r"quote\.csv:2: a field longer than max_record_bytes.*an unclosed quote"):
        load({"name": "csv", "path": str(tmp_path / "quote.csv"), "max_record_bytes": 4096})


DEV_ZERO = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # what reading /dev/zero to the end would exceed
import nlpzoo
try:
    nlpzoo.build({"name": sys.argv[1], "path": "/dev/zero", **dict(a.split("=") for a in sys.argv[2:])}, "dataset").load()
except nlpzoo.ConfigError as exc:
    print(exc)
"""


@pytest.mark.parametrize("name, extra", [("text-file", []), ("csv", []), ("jsonl", []), ("text-file", ["mode=file"])])
def test_reading_dev_zero_is_refused_at_once(name, extra):
    done = subprocess.run([sys.executable, "-c", DEV_ZERO, name, *extra], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "/dev/zero: is a character device, not a data file"


def test_reader_errors_reach_the_cli_as_one_line_naming_the_recipe_line(tmp_path, cli):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("dataset:\n  name: csv\n  path: data.csv\n  delimiter: ';;'\nmodel: {name: lstm-classifier}\n")
    done = cli("validate", str(recipe))
    assert done.returncode == 1
    assert done.stderr.strip() == (f"nlpzoo: error: {recipe}:4: dataset.delimiter: expected one character such as "
                                   "',', ';', '|' or a tab, got ';;'")
