"""The transformer components on other encoders than BERT: RoBERTa, DistilBERT, DeBERTa-v2, ELECTRA, ModernBERT.

They differ in special tokens (``[CLS]``/``<s>``), segment ids (DistilBERT, RoBERTa and ModernBERT take none),
pad ids and tokenizers (WordPiece, byte-level BPE). Each tiny model is built here from its config, with a
tokenizer trained on a few sentences (nothing is downloaded): it trains a few steps, is saved, and loads back
in ``transformers.pipeline`` with the same predictions.
"""
from __future__ import annotations


import pytest

import nlpzoo
from nlpzoo_testing import tiny_label_set_data, tiny_scored_data, tiny_tagged_data, tiny_text_data

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
# architecture: (config class, its tiny sizes, tokenizer style, takes segment ids)
ARCHITECTURES = {
    "roberta": ("RobertaConfig", {**SIZE, "max_position_embeddings": 80, "pad_token_id": 1}, "bpe", False),
    "distilbert": ("DistilBertConfig", {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64}, "wordpiece", False),
    "deberta-v2": ("DebertaV2Config", {**SIZE, "max_position_embeddings": 64}, "bpe", True),
    "electra": ("ElectraConfig", {**SIZE, "embedding_size": 16, "max_position_embeddings": 64}, "wordpiece", True),
    "modernbert": ("ModernBertConfig", {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                                        "intermediate_size": 64, "max_position_embeddings": 64, "pad_token_id": 0,
                                        "cls_token_id": 1, "sep_token_id": 2, "bos_token_id": 1, "eos_token_id": 2},
                   "bpe", False),
}


def corpus() -> list[str]:
    words = [" ".join(ex["tokens"]) for rows in tiny_tagged_data().values() for ex in rows]
    return words + [ex["text"] for rows in tiny_text_data().values() for ex in rows]


def trained_tokenizer(style: str, segment_ids: bool):
    """A fast tokenizer trained on the test sentences, with [CLS]-style (WordPiece) or <s>-style (BPE) specials."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if style == "wordpiece":
        specials = {"pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]",
                    "mask_token": "[MASK]"}
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=200, special_tokens=list(specials.values()))
    else:
        specials = {"pad_token": "<pad>", "cls_token": "<s>", "sep_token": "</s>", "unk_token": "<unk>",
                    "mask_token": "<mask>"}
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        order = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # RoBERTa's ids: pad 1
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=order,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    cls, sep = specials["cls_token"], specials["sep_token"]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
        special_tokens=[(cls, tok.token_to_id(cls)), (sep, tok.token_to_id(sep))])
    names = ["input_ids", "token_type_ids", "attention_mask"] if segment_ids else ["input_ids", "attention_mask"]
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_input_names=names, **specials)


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def encoder(request, module_folder) -> str:
    import transformers

    config_class, sizes, style, segment_ids = ARCHITECTURES[request.param]
    tokenizer = trained_tokenizer(style, segment_ids)
    extra = {} if "pad_token_id" in sizes else {"pad_token_id": tokenizer.pad_token_id}
    config = getattr(transformers, config_class)(vocab_size=len(tokenizer), **sizes, **extra)
    folder = module_folder(request.param)
    transformers.AutoModel.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def fitted(kind: str, name: str, encoder: str, data: dict, tmp_path, metric: str):
    from nlpzoo_training import Run

    model = nlpzoo.build({"name": name, "pretrained": encoder, "max_length": 32}, kind)
    run = Run.standalone(tmp_path / "run", seed=0, optimizer={"name": "adamw", "lr": 5e-3},
                         train={"epochs": 3, "batch_size": 8, "progress": False, "plots": False, "metric": metric})
    model.fit(data, run)
    model.save(tmp_path / "saved")
    return model


def test_the_tagger_trains_and_the_pipeline_finds_its_entities(encoder, tmp_path):
    from transformers import pipeline

    model = fitted("tagger", "bert-tagger", encoder, tiny_tagged_data(), tmp_path, "f1")
    texts = ["anna flew to new york .", "Boris drove to Oslo."]
    ours = model.entities(texts)
    theirs = pipeline("token-classification", model=str(tmp_path / "saved"), aggregation_strategy="simple",
                      device="cpu")(texts)
    assert [[(e["label"], e["start"], e["end"]) for e in row] for row in ours] == \
        [[(e["entity_group"], e["start"], e["end"]) for e in row] for row in theirs]
    assert any(ours), "a model that finds nothing would agree with the pipeline for nothing"
    assert type(model).load(tmp_path / "saved").tag([["chen", "flew", "to", "paris"]]) == \
        model.tag([["chen", "flew", "to", "paris"]])


def test_the_classifier_trains_and_the_pipeline_gives_its_labels(encoder, tmp_path):
    from transformers import pipeline

    model = fitted("classifier", "bert-classifier", encoder, tiny_text_data(), tmp_path, "accuracy")
    texts = ["the film was dull and flat , a boring story .", "the film was superb and funny , a lovely story ."]
    ours = model.predict(texts)
    theirs = pipeline("text-classification", model=str(tmp_path / "saved"), device="cpu")(texts)
    assert [p["label"] for p in ours] == [p["label"] for p in theirs]
    assert [p["probabilities"][p["label"]] for p in ours] == pytest.approx([p["score"] for p in theirs], abs=1e-4)


def test_the_regressor_trains_and_the_pipeline_gives_its_numbers(encoder, tmp_path):
    from transformers import pipeline

    model = fitted("regressor", "bert-regressor", encoder, tiny_scored_data(), tmp_path, "pearson")
    texts = ["the film was dull and flat .", "the film was superb and funny ."]
    theirs = pipeline("text-classification", model=str(tmp_path / "saved"), function_to_apply="none", device="cpu")(texts)
    assert [p["value"] for p in model.predict(texts)] == pytest.approx([p["score"] for p in theirs], abs=1e-4)


def test_the_multilabel_classifier_trains_and_the_pipeline_gives_its_scores(encoder, tmp_path):
    from transformers import pipeline

    model = fitted("multilabel_classifier", "bert-multilabel", encoder, tiny_label_set_data(), tmp_path, "micro_f1")
    texts = [ex["text"] for ex in tiny_label_set_data()["test"][:2]]
    theirs = pipeline("text-classification", model=str(tmp_path / "saved"), top_k=None, device="cpu")(texts)
    for ours, row in zip(model.predict(texts), theirs):
        assert ours["scores"] == pytest.approx({p["label"]: p["score"] for p in row}, abs=1e-4)


def test_a_sentence_pair_reaches_the_pipeline_as_text_and_text_pair(encoder, tmp_path):
    from transformers import pipeline

    data = {split: [{**ex, "text_pair": ex["text"][::-1]} for ex in rows] for split, rows in tiny_text_data().items()}
    model = fitted("classifier", "bert-classifier", encoder, data, tmp_path, "accuracy")
    pair = ("the film was dull and flat .", "a boring story .")
    ours = model.predict([pair])[0]
    theirs = pipeline("text-classification", model=str(tmp_path / "saved"), device="cpu")(
        {"text": pair[0], "text_pair": pair[1]})
    theirs = theirs[0] if isinstance(theirs, list) else theirs
    assert ours["label"] == theirs["label"] and ours["probabilities"][ours["label"]] == pytest.approx(theirs["score"], abs=1e-4)
