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


MINILM = "Pretrained all-MiniLM-L6-v2 (6-layer BERT, 22.7M parameters)"
#: (name, kind, component, the catalogue's weights it uses, tags, summary)
PRESETS = (
    ("minilm-l6", "classifier", "bert-classifier", "minilm-l6", ("bert", "classification"),
     f"{MINILM} with a new classification head."),
    ("minilm-l6-embedder", "embedder", "bert", "minilm-l6", ("bert", "sentence-embeddings"),
     "Mean-pooled sentence embeddings (384-d) from the pretrained all-MiniLM-L6-v2."),
    ("minilm-l6-tagger", "tagger", "bert-tagger", "minilm-l6", ("bert", "token-classification", "ner"),
     f"{MINILM} with a new token-classification head."),
    ("minilm-l6-mlm", "language_model", "masked-lm", "minilm-l6", ("bert", "masked-lm"),
     "The pretrained all-MiniLM-L6-v2 encoder as a masked language model, to continue its pretraining on your text."),
    ("minilm-l6-multilabel", "multilabel_classifier", "bert-multilabel", "minilm-l6", ("bert", "multi-label"),
     f"{MINILM} with a new head of one sigmoid per label."),
    ("minilm-l6-regressor", "regressor", "bert-regressor", "minilm-l6", ("bert", "regression"),
     f"{MINILM} with a new one-output regression head."),
    ("smollm2-135m", "language_model", "causal-lm", "smollm2-135m", ("llama", "causal-lm"),
     "SmolLM2-135M-Instruct (Llama architecture, 30 layers, 134.5M parameters); its GGUF is dequantized once into a "
     "verified cache folder (about 20 s, 540 MB)."),
    ("smollm2-135m-classifier", "classifier", "bert-classifier", "smollm2-135m", ("llama", "classification"),
     "SmolLM2-135M-Instruct with a new classification head on its last token (padding with end-of-text); the same "
     "verified GGUF cache as smollm2-135m."),
)


@nlpzoo.hookimpl
def register_presets(register):
    """The pretrained models, ready to fine-tune; their files are the catalogue's named ``weights``
    (registry.yaml), where their source, sha256, size and licence are audited once."""
    for name, kind, component, weights, tags, summary in PRESETS:
        register(name, kind=kind, component=component, tags=("pretrained", *tags),
                 weights={"param": "pretrained", "use": weights}, summary=summary)
