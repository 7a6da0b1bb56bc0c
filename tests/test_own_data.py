"""`nlpzoo train RECIPE --data FILE`: your own CSV, JSONL, Parquet or folder, labels kept by name end to end."""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

import nlpzoo

ROOT = Path(__file__).resolve().parents[1]
STARS = {"fresh": "5 stars", "rotten": "1 star"}
QUICK_LSTM = ["--set", "train.epochs=1", "--set", "model.embedder=null", "--set", "train.progress=false",
              "--set", "model.vocab_size=3000"]


@pytest.fixture(scope="module")
def own(module_folder) -> dict[str, Path]:
    """300 real Rotten Tomatoes snippets as a user would have them: a 'review' column and star labels."""
    folder = module_folder("own")
    examples = [e for split in nlpzoo.build({"name": "rotten-tomatoes", "limit": 300}, "dataset").load().values()
                for e in split]
    random.Random(0).shuffle(examples)
    rows = [(e["text"], STARS[e["label"]]) for e in examples]
    with open(folder / "reviews.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "review", "stars"])
        writer.writerows((i, t, l) for i, (t, l) in enumerate(rows))
    with open(folder / "reviews.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"review": t, "stars": l}) + "\n" for t, l in rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"review": [t for t, _ in rows], "stars": [l for _, l in rows]}), folder / "reviews.parquet")
    for i, (text, label) in enumerate(rows):
        (folder / "reviews" / label).mkdir(parents=True, exist_ok=True)
        (folder / "reviews" / label / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    return {"csv": folder / "reviews.csv", "jsonl": folder / "reviews.jsonl", "parquet": folder / "reviews.parquet",
            "folder": folder / "reviews"}


def columns(fmt: str) -> list[str]:
    return [] if fmt == "folder" else ["--text-column", "review", "--label-column", "stars"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt, reader", [("csv", "csv"), ("jsonl", "jsonl"), ("parquet", "parquet"), ("folder", "text-folder")])
def test_the_lstm_classifier_trains_on_each_format_and_keeps_the_label_names(own, fmt, reader, tmp_path, cli):
    run = tmp_path / "run"
    done = cli("train", str(ROOT / "recipes" / "lstm-classifier-rt.yaml"), "--data", str(own[fmt]), *columns(fmt),
               "--run-dir", str(run), *QUICK_LSTM)
    assert done.returncode == 0, done.stderr
    assert "test_precision_1 star: " in done.stdout and "test_recall_5 stars: " in done.stdout
    record = json.loads((run / "provenance.json").read_text())["dataset"]
    assert record["reader"] == reader
    assert record["split"] == {"method": "stratified", "seed": 0, "validation": 0.1, "test": 0.1,
                               "sizes": {"train": 240, "validation": 30, "test": 30}}
    assert set(record["labels"]) == {"1 star", "5 stars"}
    assert nlpzoo.open_run(str(run)).model.labels == ["1 star", "5 stars"]  # the saved model keeps the names
    assert (run / "confusion_test.png").read_bytes()[:4] == b"\x89PNG"
    predicted = cli("predict", str(run), "An utterly charming film.")
    assert predicted.returncode == 0, predicted.stderr
    label, probabilities, _ = predicted.stdout.strip().split("\t")
    assert label in ("1 star", "5 stars") and probabilities.startswith("1 star=")


@pytest.mark.slow
def test_bert_fine_tunes_on_a_csv_and_transformers_sees_the_label_names(own, tmp_path, cli):
    from transformers import pipeline

    run = tmp_path / "bert"
    done = cli("train", str(ROOT / "recipes" / "bert-rotten-tomatoes.yaml"), "--data", str(own["csv"]),
               "--text-column", "review", "--label-column", "stars", "--run-dir", str(run), "--set", "augment=null",
               "--set", "train.max_steps=4", "--set", "model.max_length=32", "--set", "train.progress=false")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"test_accuracy", "test_precision_1 star", "test_recall_5 stars"} <= set(metrics)
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "1 star", "1": "5 stars"}
    assert (run / "confusion_test.png").read_bytes()[:4] == b"\x89PNG"
    texts = ["A warm, funny, beautifully acted film.", "A dull and lifeless mess."]
    predicted = cli("predict", str(run), *texts)
    ours = [line.split("\t")[0] for line in predicted.stdout.strip().splitlines()]
    assert set(ours) <= {"1 star", "5 stars"}
    theirs = pipeline("text-classification", model=str(run / "model"), truncation=True)(texts)
    assert [d["label"] for d in theirs] == ours


@pytest.mark.slow
def test_validation_and_test_files_come_through_set(own, tmp_path, cli):
    dev = tmp_path / "dev.csv"
    dev.write_text("review,stars\nsplendid,5 stars\nawful,1 star\n")
    run = tmp_path / "run"
    done = cli("train", str(ROOT / "recipes" / "lstm-classifier-rt.yaml"), "--data", str(own["csv"]),
               "--text-column", "review", "--label-column", "stars", "--set", f"dataset.validation_path={dev}",
               "--run-dir", str(run), *QUICK_LSTM)
    assert done.returncode == 0, done.stderr
    split = json.loads((run / "provenance.json").read_text())["dataset"]["split"]
    assert split["sizes"] == {"train": 270, "validation": 2, "test": 30} and split["validation"] == 0.0


@pytest.mark.parametrize("args, message", [
    (["--data", "{csv}", "--text-column", "reviw", "--label-column", "stars"],
     "{csv}:1: --text-column: no column 'reviw' (did you mean 'review'?); columns: id, review, stars"),
    (["--data", "{csv}", "--text-column", "review"],
     "{csv}:1: --label-column: no column 'label'; columns: id, review, stars; choose one with --label-column"),
    (["--data", "{csv}", "--text-column", "review", "--label-column", "none"],
     "--label-column: a classifier needs labels: name the label column"),
    (["--data", "{parquet}", "--text-column", "text", "--label-column", "stars"],
     "{parquet}: --text-column: no column 'text'; columns: review, stars"),
    (["--data", "{folder}", "--text-column", "review"],
     "--text-column: {folder} has no columns (labels are the names of its subfolders)"),
    (["--data", "missing.csv"], "--data: missing.csv: file not found"),
    (["--data", "{recipe}"], "--data: cannot tell the format of {recipe} from its extension .yaml; expected .csv, .tsv, "
                             ".tab, .jsonl, .ndjson, .parquet, .pq, .txt, .text (or .gz/.bz2 of them) or a folder"),
    (["--text-column", "review"], "--text-column: goes with --data, the file to train on"),
])
@pytest.mark.slow
def test_data_options_are_checked_with_one_line(own, args, message, tmp_path, cli):
    recipe = ROOT / "recipes" / "lstm-classifier-rt.yaml"
    values = {**{k: str(v) for k, v in own.items()}, "recipe": str(recipe)}
    done = cli("train", str(recipe), *(a.format(**values) for a in args), "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 1
    assert done.stderr.strip() == "nlpzoo: error: " + message.format(**values)
    assert not (tmp_path / "run").exists()


HOW_TO = ROOT / "docs" / "how-to" / "train-on-your-own-data.md"
QUICKER = {  # the how-to's commands, cut to a few steps
    "bert-rotten-tomatoes": ["--set", "train.max_steps=2", "--set", "model.max_length=32", "--set", "augment=null",
                             "--set", "dataset.limit=400"],
    "lstm-classifier-rt": [*QUICK_LSTM, "--set", "dataset.limit=400"],
    "word2vec-wiki": ["--set", "model.epochs=1"],
}


@pytest.mark.slow
def test_the_how_to_runs_as_written(tmp_path, cli):
    import re
    import shlex
    import shutil
    import subprocess
    import sys

    text = HOW_TO.read_text()
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    python = "\n\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.S))
    done = subprocess.run([sys.executable, "-c", python], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    commands = [shlex.split(line) for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)
                for line in block.strip().splitlines()]
    assert len(commands) >= 4 and all(c[0] == "nlpzoo" for c in commands)
    for command in commands:
        extra = QUICKER[Path(command[2]).stem] + ["--set", "train.progress=false"] if command[1] == "train" else []
        done = cli(*command[1:], *extra, cwd=str(tmp_path))
        assert done.returncode == 0, (command, done.stderr[-2000:])
        if command[1] == "predict":
            assert [line.split("\t")[0] in ("1 star", "5 stars") for line in done.stdout.strip().splitlines()] == [True] * 2
