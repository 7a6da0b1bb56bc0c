"""Data-loss paths: a trained model is never lost to a picture or a metric, output never vanishes with
exit 0, data is read once and as written, and wrong data is never accepted silently.
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
import unicodedata

import pytest

from reliability_support import TALLY, TINY_CLASSIFIER, nlpzoo, no_traceback, one_line_error, write

FAMILY = "data-loss paths"


def counted(done):
    TALLY.count(FAMILY)
    return no_traceback(done)


def labelled_csv(path, labels, per_label: int = 30, seed: int = 0):
    """A CSV of short made-up texts, ``per_label`` rows for each label (the labels quoted as needed)."""
    import csv
    import io

    rng = random.Random(seed)
    words = "cheap dear costly modest lavish frugal pricey bargain plain grand".split()
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["text", "label"])
    for i in range(per_label):
        for k, label in enumerate(labels):
            writer.writerow([" ".join(rng.choice(words[k % 10:] + words[:k % 10][:1]) for _ in range(6)), label])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


# ---------------------------------------------------------------- pictures never fail a run


HOSTILE_PLOT_LABELS = ["$", "$$", "$$$", "$x$", "\\frac{", "a^b_c", "{}", "$\\alpha$ $", "cost-$$", "x" * 786_000,
                       "\x1b]0;t\x07", "%", "\\", "_"]


@pytest.mark.parametrize("seed", range(12))
def test_any_label_is_drawn_as_plain_text_quickly(tmp_path, seed):
    import numpy as np

    from nlpzoo_training.plots import plot_confusion, plot_curves

    rng = random.Random(seed)
    labels = list(dict.fromkeys(rng.sample(HOSTILE_PLOT_LABELS, rng.randint(2, 4))))
    cm = np.arange(len(labels) ** 2).reshape(len(labels), len(labels))
    start = time.perf_counter()
    plot_confusion(cm, labels, tmp_path / "cm.png", title=f"accuracy of {labels[0][:50]}")
    plot_curves({label: [1.0, 0.5, 0.25] for label in labels}, tmp_path / "curves.png", title=labels[-1])
    TALLY.cases += 1
    TALLY.count(FAMILY)
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "curves.png").stat().st_size > 0
    assert time.perf_counter() - start < 20, "drawing took too long"


@pytest.mark.slow
def test_price_classes_train_save_and_report(tmp_path):
    data = labelled_csv(tmp_path / "prices.csv", ["$", "$$", "$$$"])
    recipe = write(tmp_path / "recipe.yaml", TINY_CLASSIFIER)
    run = tmp_path / "run"
    done = counted(nlpzoo("train", str(recipe), "--data", str(data), "--run-dir", str(run), cwd=tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and (run / "model" / "component.json").is_file()
    assert not [line for line in done.stderr.splitlines() if "warning" in line.lower() and "confusion" in line]
    assert (run / "confusion_test.png").read_bytes()[:4] == b"\x89PNG"
    compared = counted(nlpzoo("compare", str(run), str(run), "-o", str(tmp_path / "c.html")))
    assert compared.returncode == 0, compared.stderr[-2000:]


# ---------------------------------------------------------------- metrics that cannot be computed


CORPORA = {
    "german": "der hund läuft schnell über die straße und die katze schläft im warmen haus am fenster",
    "domain": "pump valve flange gasket bolt torque seal pressure pipe fitting hose clamp nozzle",
}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
@pytest.mark.slow
def test_word2vec_without_any_wordsim_pair_saves_and_records_the_metric_as_missing(tmp_path, corpus):
    rng = random.Random(0)
    words = CORPORA[corpus].split()
    text = write(tmp_path / "corpus.txt", "".join(" ".join(rng.choice(words) for _ in range(12)) + "\n" for _ in range(200)))
    recipe = write(tmp_path / "w2v.yaml", "seed: 0\ndataset: {name: wiki-extract}\n"
                                          "model: {name: word2vec, vector_size: 8, min_count: 1, epochs: 1, workers: 1}\n")
    run = tmp_path / "run"
    done = counted(nlpzoo("train", str(recipe), "--data", str(text), "--run-dir", str(run), cwd=tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and (run / "model").is_dir()
    missing = info.get("missing_metrics") or {}
    assert "wordsim353_spearman" in missing and "WordSim-353" in missing["wordsim353_spearman"], info


# ---------------------------------------------------------------- output never vanishes


def close_stdout():
    os.close(1)


@pytest.mark.parametrize("args", [["list"], ["runs", "{run}/.."], ["predict", "{run}", "a fine film"], ["init"]])
def test_a_closed_stdout_is_an_error_not_silence(finished_run, args):
    args = [a.format(run=finished_run) for a in args]
    line = one_line_error(nlpzoo(*args, preexec_fn=close_stdout))
    TALLY.count(FAMILY)
    assert "standard output" in line, line


@pytest.mark.parametrize("command", ["report", "compare"])
@pytest.mark.slow
def test_dash_is_standard_output_for_report_and_compare(finished_run, tmp_path, command):
    args = ["report", str(finished_run), "-o", "-"] if command == "report" else \
        ["compare", str(finished_run), str(finished_run), "-o", "-"]
    done = counted(nlpzoo(*args, cwd=tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<!DOCTYPE html>") and not (tmp_path / "-").exists()


# ---------------------------------------------------------------- data read once, as written


@pytest.mark.parametrize("lines", [10, 3000, 40_000])
def test_encoding_auto_reads_a_fifo_once(tmp_path, lines):
    import nlpzoo

    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    body = "".join(f"line {i} of a text read from a pipe\n" for i in range(lines)).encode()

    def feed():
        with open(fifo, "wb") as fh:
            fh.write(body)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = {}

    def load():
        result["data"] = nlpzoo.build({"name": "text-file", "path": str(fifo), "encoding": "auto"}, "dataset").load()

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(60)
    TALLY.cases += 1
    TALLY.count(FAMILY)
    if reader.is_alive():  # unblock the reader so the test run can end
        with open(fifo, "wb"):
            pass
        pytest.fail("reading the FIFO hung")
    assert sum(len(v) for v in result["data"].values()) == lines


# ---------------------------------------------------------------- wrong data is never accepted silently


WRONG_CSV = {
    "duplicate text column": ("text,label,text\na,pos,b\nc,neg,d\n", [], "column 'text' appears twice"),
    "text column is the label column": ("text,label\na,pos\nb,neg\n", ["--text-column", "label"],
                                        "the same column"),
    "one class": ("text,label\n" + "a fine film,pos\n" * 30, [], "only one label"),
}


@pytest.mark.parametrize("case", sorted(WRONG_CSV))
@pytest.mark.slow
def test_wrong_csv_data_is_refused_in_one_line(tmp_path, case):
    body, extra, expected = WRONG_CSV[case]
    data = write(tmp_path / "data.csv", body)
    recipe = write(tmp_path / "recipe.yaml", TINY_CLASSIFIER)
    line = one_line_error(nlpzoo("train", str(recipe), "--data", str(data), *extra, "--run-dir", str(tmp_path / "r"),
                                 cwd=tmp_path))
    TALLY.count(FAMILY)
    assert expected in line, line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_labels_are_one_class_whatever_their_unicode_form(tmp_path, form):
    import nlpzoo

    rows = [f"text {i},{unicodedata.normalize(form if i % 2 else 'NFC', 'café')}\n" for i in range(20)]
    rows += [f"other {i},thé\n" for i in range(20)]
    data = write(tmp_path / "data.csv", "text,label\n" + "".join(rows))
    loaded = nlpzoo.build({"name": "csv", "path": str(data)}, "dataset").load()
    TALLY.cases += 1
    TALLY.count(FAMILY)
    labels = {ex["label"] for split in loaded.values() for ex in split}
    assert labels == {unicodedata.normalize("NFC", "café"), "thé"}, labels


@pytest.mark.parametrize("endian", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_in_a_class_folder_is_read_or_refused_not_read_as_nuls(tmp_path, endian):
    import nlpzoo

    for label in ("pos", "neg"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(10):
            write(tmp_path / "data" / label / f"{i}.txt", "")
            (tmp_path / "data" / label / f"{i}.txt").write_bytes(f"a {label} text number {i}\n".encode(endian))
    TALLY.cases += 1
    TALLY.count(FAMILY)
    try:
        loaded = nlpzoo.build({"name": "text-folder", "path": str(tmp_path / "data")}, "dataset").load()
    except nlpzoo.NlpzooError as exc:
        assert "UTF-16" in str(exc) or "utf-16" in str(exc), exc
        return
    texts = [ex["text"] for split in loaded.values() for ex in split]
    assert all("\x00" not in t for t in texts) and any(t.startswith("a pos text") for t in texts)


def test_a_class_folder_name_that_is_not_utf8_is_one_line(tmp_path):
    import nlpzoo

    root = tmp_path / "data"
    for name in (b"caf\xe9", b"other"):
        folder = os.path.join(os.fsencode(root), name)
        os.makedirs(folder)
        for i in range(10):
            with open(os.path.join(folder, f"{i}.txt".encode()), "w") as fh:
                fh.write(f"text {i}\n")
    TALLY.cases += 1
    TALLY.count(FAMILY)
    with pytest.raises(nlpzoo.ConfigError, match="not UTF-8"):
        nlpzoo.build({"name": "text-folder", "path": str(root)}, "dataset").load()


# ---------------------------------------------------------------- smaller


def limited_memory():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def test_predict_file_dev_zero_is_refused_with_the_limit(finished_run):
    line = one_line_error(nlpzoo("predict", str(finished_run), "--file", "/dev/zero", preexec_fn=limited_memory,
                                 timeout=120))
    TALLY.count(FAMILY)
    assert "/dev/zero" in line and "limit" in line, line


@pytest.mark.parametrize("value", ["1e308", "1e30", "1e5"])
def test_a_huge_temperature_is_one_line_naming_the_option(finished_run, value):
    line = one_line_error(nlpzoo("generate", str(finished_run), "--temperature", value))
    TALLY.count(FAMILY)
    assert "--temperature" in line, line


@pytest.mark.parametrize("limit", [100_000_000, 33 << 20, 10 ** 12])
@pytest.mark.slow
def test_a_record_limit_the_tokenizers_cannot_take_is_refused_before_training(tmp_path, limit):
    data = labelled_csv(tmp_path / "data.csv", ["pos", "neg"])
    recipe = write(tmp_path / "recipe.yaml", TINY_CLASSIFIER)
    line = one_line_error(nlpzoo("train", str(recipe), "--data", str(data), "--set", f"dataset.max_record_bytes={limit}",
                                 "--run-dir", str(tmp_path / "r"), cwd=tmp_path))
    TALLY.count(FAMILY)
    assert "max_record_bytes" in line and "expected at most 32 MiB" in line, line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("title", ["中文標題", "заголовок ✓", "\U0001F600 emoji"])
@pytest.mark.slow
def test_matplotlib_warnings_never_reach_stderr(tmp_path, title):
    done = counted(nlpzoo("schedule", f"{{name: cosine}} # {title}", "--steps", "20", "-o", str(tmp_path / "x.png")))
    assert done.returncode == 0 and "Warning" not in done.stderr and "missing from font" not in done.stderr, done.stderr


def test_dev_stdin_is_read_whole_once_encoding_detection_included():
    """A pipe cannot be read twice: the encoding is guessed from the same stream the rows come from."""
    import subprocess
    import sys

    rows = [f"the film was {'fine' if i % 2 else 'dull'} number {i},{'pos' if i % 2 else 'neg'}" for i in range(60_000)]
    data = "text,label\n" + "\n".join(rows) + "\n"  # over 2 MiB: more than an encoding guess looks at
    code = ("import nlpzoo; d = nlpzoo.build({'name': 'csv', 'path': '/dev/stdin', 'encoding': 'auto'}, 'dataset').load();"
            "print(sum(len(v) for v in d.values()))")
    done = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) == 60_000  # nothing lost at the start, nothing read as empty
