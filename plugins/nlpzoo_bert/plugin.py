"""Registers the bert components (the targets import transformers only when a model is built or trained)."""
import nlpzoo

PLUGIN_API = 2


@nlpzoo.hookimpl
def register_components(register):
    register("classifier", "bert-classifier", target="nlpzoo_bert.models:BertClassifier",
             summary="Fine-tune a pretrained BERT-family encoder (local folder or hub id) for text classification.",
             tags=("text", "classification", "pretrained", "transformers"))
    register("regressor", "bert-regressor", target="nlpzoo_bert.regressor:BertRegressor",
             summary="Fine-tune a pretrained BERT-family encoder to predict a number per text (MSE, Pearson, Spearman).",
             tags=("text", "regression", "pretrained", "transformers"))
    register("multilabel_classifier", "bert-multilabel", target="nlpzoo_bert.multilabel:BertMultiLabel",
             summary="Fine-tune a pretrained BERT-family encoder to give each text any set of labels (sigmoid per label).",
             tags=("text", "multi-label", "classification", "pretrained", "transformers"))
    register("tagger", "bert-tagger", target="nlpzoo_bert.tagger:BertTagger",
             summary="Fine-tune a pretrained BERT-family encoder to tag words: named entities, IOB2, seqeval metrics.",
             tags=("text", "token-classification", "ner", "pretrained", "transformers"))
    register("embedder", "bert", target="nlpzoo_bert.models:BertEmbedder",
             summary="Mean-pooled sentence embeddings from a pretrained BERT-family encoder.",
             tags=("text", "sentence-embeddings", "pretrained", "transformers"))
    register("language_model", "masked-lm", target="nlpzoo_bert.lm:MaskedLM",
             summary="Continued masked-language-model pretraining of any encoder on your text; the run is a pretrained for bert-classifier.",
             tags=("text", "pretrained", "transformers", "masked-lm"))
    register("language_model", "causal-lm", target="nlpzoo_bert.lm:CausalLM",
             summary="Fine-tune any pretrained decoder (GPT-2, Llama, Qwen, SmolLM) on text; generate with its own tokenizer.",
             tags=("text", "pretrained", "transformers", "causal-lm"))
