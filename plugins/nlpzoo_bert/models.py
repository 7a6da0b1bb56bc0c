"""The bert components. Their parameters are the recipe's; torch and transformers load only inside methods."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from nlpzoo import Classifier, ConfigError, Embedder, Range

from .adapters import check_adapter, has_adapter, pad_like_decoders, saved_base
from .gguf import gguf_file, plain_folder
from .sources import locate

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from nlpzoo_training import Run

DEFAULT_LR = 1e-3  # what the shared loop uses when a recipe names no optimizer


class BertClassifier(Classifier):
    """Fine-tunes a pretrained BERT-family encoder for single-label classification (any number of labels).

    ``pretrained`` is a local Hugging Face folder (config.json and *.safetensors) or a hub id; the
    packaged MiniLM comes through the ``minilm-l6`` preset. Batches are padded per batch and, with
    ``sort_by_length``, built from examples of similar length. ``layer_decay`` < 1 gives each layer
    ``layer_decay`` times the learning rate of the layer above (the head trains at the optimizer's rate).
    ``freeze``: ``embeddings``, ``all-but-top`` (the top ``top_layers`` layers and the head train) or
    ``all-but-head``; ``unfreeze_per_epoch`` then unfreezes that many more layer groups, from the top,
    at each new epoch (gradual unfreezing). ``rdrop`` > 0 runs each training batch twice, under two
    dropout masks, and adds ``rdrop`` times their symmetric KL divergence to the loss (R-Drop), at
    twice the cost of a step. ``pad_to_multiple_of`` rounds each batch's length up (a few shapes, which
    compiled or captured GPU steps need). ``adapter`` trains low-rank adapters instead of every weight
    (:mod:`nlpzoo_bert.adapters`); ``gradient_checkpointing`` trades a second forward pass for activation
    memory. ``hub_kernels`` lets transformers swap layers for kernels fetched from the Hugging Face hub on a
    GPU (off: training stays offline and reproducible). The saved model loads with ``transformers.pipeline``
    (with an adapter: ``merge: true``). Examples with a ``text_pair`` are sentence pairs, encoded with the
    tokenizer's pair template (``[CLS] a [SEP] b [SEP]`` and segment ids for BERT); ``predict`` then takes
    ``(text, text_pair)`` tuples.
    """

    reads_pairs = True  # text_pair is encoded with the tokenizer's pair template

    validation_metrics = ("loss", "accuracy", "macro_f1", "precision_*", "recall_*")
    # a saved classifier is a complete Hugging Face folder: it is rebuilt from there, not from its start
    initialised_from = ("pretrained",)

    def __init__(self, pretrained: str, max_length: Annotated[int, Range(2, 10**6)] = 128, labels: list[str] | None = None,
                 layer_decay: Annotated[float, Range(gt=0, le=1)] = 1.0,
                 freeze: Literal["none", "embeddings", "all-but-top", "all-but-head"] = "none",
                 top_layers: Annotated[int, Range(0, 10**4)] = 1, unfreeze_per_epoch: Annotated[int, Range(0, 10**4)] = 0,
                 class_weights: Literal["none", "balanced"] | dict[str, Annotated[float, Range(gt=0)]] = "none",
                 label_smoothing: Annotated[float, Range(0, lt=1)] = 0.0, rdrop: Annotated[float, Range(0)] = 0.0,
                 dropout: Annotated[float, Range(0, lt=1)] | None = None, sort_by_length: bool = True,
                 pad_to_multiple_of: Annotated[int, Range(1, 4096)] = 1, predict_batch_size: Annotated[int, Range(1)] = 64,
                 predict_precision: Literal["fp32", "bf16"] = "fp32", adapter: dict[str, Any] | None = None,
                 gradient_checkpointing: bool = False, hub_kernels: bool = False):
        if max_length < 2:
            raise ConfigError(f"expected at least 2 (room for [CLS] and [SEP]), got {max_length}", "max_length")
        if not 0 < layer_decay <= 1:
            raise ConfigError(f"expected 0 < layer_decay <= 1 (1: no decay), got {layer_decay}", "layer_decay")
        if top_layers < 0 or unfreeze_per_epoch < 0:
            raise ConfigError("expected top_layers and unfreeze_per_epoch >= 0", "top_layers")
        if labels is not None and len(set(labels)) < 2:
            raise ConfigError(f"expected at least two distinct labels, got {labels}", "labels")
        if not 0 <= label_smoothing < 1:
            raise ConfigError(f"expected 0 <= label_smoothing < 1, got {label_smoothing}", "label_smoothing")
        if rdrop < 0:
            raise ConfigError(f"expected rdrop >= 0 (0: off), got {rdrop}", "rdrop")
        if dropout is not None and not 0 <= dropout < 1:
            raise ConfigError(f"expected 0 <= dropout < 1, got {dropout}", "dropout")
        if pad_to_multiple_of < 1:
            raise ConfigError(f"expected at least 1 (1: no rounding), got {pad_to_multiple_of}", "pad_to_multiple_of")
        self.adapter, self.gradient_checkpointing = check_adapter(adapter), gradient_checkpointing
        if self.adapter is not None and (freeze != "none" or unfreeze_per_epoch):
            raise ConfigError(f"with an adapter, the adapter decides what trains (the pretrained weights stay frozen); "
                              f"leave freeze at 'none', got {freeze!r}", "freeze")
        self.pretrained = pretrained
        gguf = gguf_file(saved_base(pretrained))  # a quantized decoder: its dequantized, verified copy
        self.source = str(plain_folder(gguf)) if gguf else locate(saved_base(pretrained))
        self.max_length, self.labels, self.layer_decay = max_length, list(labels) if labels else None, layer_decay
        self.freeze, self.top_layers, self.unfreeze_per_epoch = freeze, top_layers, unfreeze_per_epoch
        self.class_weights, self.dropout, self.sort_by_length = class_weights, dropout, sort_by_length
        self.label_smoothing, self.rdrop = label_smoothing, rdrop
        self.predict_batch_size, self.predict_precision = predict_batch_size, predict_precision
        self.pad_to_multiple_of, self.hub_kernels = pad_to_multiple_of, hub_kernels
        self.model = self.tokenizer = None

    # -- building
    def prepare(self, labels: list[str]) -> None:
        """Load the tokenizer and the pretrained encoder with a new head for ``labels``."""
        from . import hf

        from .adapters import adapt, refuse_adapter_only

        refuse_adapter_only(self.pretrained)
        self.labels = list(labels)
        self.tokenizer = hf.load_tokenizer(self.source)
        classifier = hf.load_classifier(self.source, self.labels, self.dropout, self.hub_kernels)
        pad_like_decoders(self.tokenizer, classifier)
        self.model = adapt(classifier, self.adapter, self.gradient_checkpointing, "SEQ_CLS")

    def task(self, data: dict[str, Sequence], run: "Run"):
        """The :class:`~nlpzoo_training.task.TorchTask` that ``fit`` hands to the shared loop."""
        from . import hf

        labels = self.labels or sorted({ex["label"] for ex in data["train"]})
        for split, examples in data.items():
            unknown = sorted({ex.get("label") for ex in examples} - set(labels), key=str)
            if unknown:
                raise ConfigError(f"{split} split has labels {unknown} that are not among {labels}", "model.labels")
        if self.model is None or list(self.labels) != labels:
            self.prepare(labels)
        try:
            weights = hf.class_weight_values(self.class_weights, labels, [ex["label"] for ex in data["train"]])
        except ValueError as exc:
            raise ConfigError(str(exc), "model.class_weights") from None
        base_lr = getattr(run.optimizer, "lr", None) or DEFAULT_LR
        return hf.ClassificationTask(self.model, self.tokenizer, data, labels, run=run, max_length=self.max_length,
                                     layer_decay=self.layer_decay, freeze=self.freeze, top_layers=self.top_layers,
                                     unfreeze_per_epoch=self.unfreeze_per_epoch, class_weights=weights,
                                     label_smoothing=self.label_smoothing, rdrop=self.rdrop,
                                     sort_by_length=self.sort_by_length, base_lr=base_lr,
                                     pad_to_multiple_of=self.pad_to_multiple_of)

    # -- Trainable
    def fit(self, data: dict[str, Sequence], run: "Run") -> dict[str, float]:
        from .adapters import parameter_counts

        task = self.task(data, run)
        counts = parameter_counts(self.model)
        run.log(counts)
        return {**run.fit(task), **counts}

    def predict_proba(self, texts: list) -> "np.ndarray":
        """Every label's probability, per text or per sentence pair ``(text, text_pair)`` (batched, sorted by length)."""
        from . import hf

        self._require()
        ids = hf.encode(self.tokenizer, list(texts), self.max_length)
        logits = hf.logits_for(self.model, ids, self.tokenizer.pad_token_id, self.predict_batch_size,
                               bf16=self.predict_precision == "bf16")
        return logits.softmax(-1).numpy()

    def _require(self) -> None:
        if self.model is None:
            raise RuntimeError("bert-classifier has no trained head yet: fit it, or load a trained run")

    def save_state(self, directory: Path) -> None:
        """``save_pretrained`` form (config with id2label, safetensors, tokenizer): transformers loads it as it is."""
        from . import hf

        from .adapters import is_adapted, save_adapted

        self._require()
        if not is_adapted(self.model):
            hf.save_trained(self.model, self.tokenizer, directory, self.max_length)
            return

        save_adapted(self.model, self.tokenizer, directory, self.labels, merge=self.adapter["merge"],
                     save_plain=lambda model, folder: hf.save_trained(model, self.tokenizer, folder, self.max_length))

    def load_state(self, directory: Path) -> None:
        from . import hf

        if has_adapter(directory) and not (directory / "config.json").exists():  # no merged copy: base + adapter
            from .adapters import load_adapter, saved_labels

            self.tokenizer = hf.load_tokenizer(str(directory / "adapter"))
            self.model = load_adapter(hf.load_classifier(self.source, saved_labels(directory), self.dropout,
                                                         self.hub_kernels), directory)
        else:
            self.model, self.tokenizer = hf.load_trained(str(directory), self.hub_kernels)
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]


class BertEmbedder(Embedder):
    """Sentence embeddings: the mean of a pretrained encoder's last hidden states over real tokens.

    ``word_vectors`` gives the WordPiece vocabulary and input embedding matrix, so models that take an
    embedder can start from BERT's token embeddings. ``hub_kernels`` as in ``bert-classifier``.
    """

    initialised_from = ("pretrained",)

    def __init__(self, pretrained: str, max_length: Annotated[int, Range(2, 10**6)] = 256,
                 batch_size: Annotated[int, Range(1)] = 64, normalize: bool = True, hub_kernels: bool = False):
        if max_length < 2:
            raise ConfigError(f"expected at least 2, got {max_length}", "max_length")
        self.pretrained, self.source = pretrained, locate(pretrained)
        self.max_length, self.batch_size, self.normalize = max_length, batch_size, normalize
        self.hub_kernels = hub_kernels
        self.encoder = self.tokenizer = None

    def _require(self) -> None:
        if self.encoder is None:
            from . import hf

            self.tokenizer = hf.load_tokenizer(self.source)
            self.encoder = hf.load_encoder(self.source, self.hub_kernels)

    def embed_batch(self, texts: list[str]) -> "np.ndarray":
        from . import hf

        self._require()
        return hf.mean_pooled(self.encoder, self.tokenizer, list(texts), self.max_length, self.batch_size, self.normalize)

    def word_vectors(self) -> tuple[list[str], "np.ndarray"]:
        self._require()
        vocab = self.tokenizer.get_vocab()
        words = sorted(vocab, key=vocab.__getitem__)
        matrix = self.encoder.get_input_embeddings().weight.detach().float().numpy()
        return words, matrix[[vocab[w] for w in words]]

    def evaluate(self, examples: Sequence) -> dict[str, float]:
        raise NotImplementedError("the bert embedder is pretrained; evaluate a model that uses it")

    def save_state(self, directory: Path) -> None:
        from . import hf

        self._require()
        hf.save_trained(self.encoder, self.tokenizer, directory)

    def load_state(self, directory: Path) -> None:
        from . import hf

        self.tokenizer = hf.load_tokenizer(str(directory))
        self.encoder = hf.load_encoder(str(directory), self.hub_kernels)
