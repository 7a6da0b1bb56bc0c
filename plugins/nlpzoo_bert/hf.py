"""The torch and transformers side of the bert plugin: loading, batching, freezing, the training task, metrics.

Imported only inside methods of :mod:`nlpzoo_bert.models`, so listing the zoo never imports torch.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from nlpzoo import ConfigError
from nlpzoo_training import (TorchTask, classification_metrics, evaluating, length_bucketed_batches,
                             longest_first_batches, no_weight_decay, on_device_of, pad_sequences)


# ---------------------------------------------------------------- loading


def load_tokenizer(source: str):
    return AutoTokenizer.from_pretrained(source, trust_remote_code=False, use_fast=True)


@contextmanager
def quiet():
    """No weight-loading progress bar or report: a new classifier head is expected to be missing."""
    from transformers.utils import logging

    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


#: a config.json read before anything is built is at most this large (real ones are 1 KB)
MAX_CONFIG_BYTES = 1 << 20


def check_declared_size(source: str) -> None:
    """Refuse a local folder whose config.json declares more weights than its safetensors files hold.

    transformers builds the network from config.json before it reads a weight: ``num_hidden_layers:
    10000`` would allocate tens of gigabytes. A network needs at least one byte per parameter on disk,
    so a declared size beyond the files' size is refused before anything is allocated.
    """
    folder = Path(source)
    if not (folder / "config.json").is_file():
        return  # a hub id: transformers checks the hub's files
    from nlpzoo import ConfigError

    path = folder / "config.json"
    with open(path, "rb") as fh:
        raw = fh.read(MAX_CONFIG_BYTES + 1)
    try:
        config = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_CONFIG_BYTES else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ConfigError("unreadable JSON", file=str(path)) from None
    if not isinstance(config, dict):
        raise ConfigError(f"expected a JSON mapping of at most {MAX_CONFIG_BYTES:,} bytes", file=str(path))
    sizes = {}
    for key, default in (("hidden_size", 0), ("num_hidden_layers", 0), ("intermediate_size", None), ("vocab_size", 0),
                         ("max_position_embeddings", 0)):
        value = config.get(key, default)
        value = 4 * sizes["hidden_size"] if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 40:
            raise ConfigError(f"{key} must be a whole number of 0 or more, got {str(value)[:40]}", file=str(path))
        sizes[key] = value
    h = sizes["hidden_size"]
    declared = (sizes["vocab_size"] + sizes["max_position_embeddings"]) * h \
        + sizes["num_hidden_layers"] * (4 * h * h + 2 * h * sizes["intermediate_size"])
    on_disk = sum(p.stat().st_size for p in folder.glob("*.safetensors") if p.is_file())
    if declared > on_disk:
        raise ConfigError(f"declares about {declared:,} parameters (num_hidden_layers {sizes['num_hidden_layers']}, "
                          f"hidden_size {h}), more than the {on_disk:,} bytes of *.safetensors weights beside it "
                          "can hold; refusing to build it", file=str(path))


def kernel_options(hub_kernels: bool) -> dict:
    """``from_pretrained`` keywords for hub kernels. transformers 5 turns them on by default and, on a GPU, fetches
    kernels from the Hugging Face hub when the model first enters training or evaluation mode; nlpzoo trains
    offline and by recipe, so they stay off unless the recipe asks (``hub_kernels: true``)."""
    import transformers
    from transformers import PreTrainedModel

    if isinstance(getattr(PreTrainedModel, "use_kernels", None), property):  # transformers 5
        return {"use_kernels": hub_kernels}
    if hub_kernels:  # transformers 4: kernels were opt-in, where they existed at all
        if tuple(int(p) for p in transformers.__version__.split(".")[:2]) < (4, 54):
            raise ConfigError(f"hub kernels need transformers 4.54 or newer, this is {transformers.__version__}; "
                              "upgrade transformers or leave hub_kernels off", "model.hub_kernels")
        return {"use_kernels": True}
    return {}


def load_classifier(source: str, labels: list[str], dropout: float | None = None, hub_kernels: bool = False):
    """A sequence-classification model with a fresh head for ``labels`` (names kept in config.id2label)."""
    check_declared_size(source)
    config = AutoConfig.from_pretrained(source, trust_remote_code=False, num_labels=len(labels),
                                        id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    if dropout is not None:
        config.classifier_dropout = dropout
    config.problem_type = "single_label_classification"
    with quiet():
        return AutoModelForSequenceClassification.from_pretrained(source, config=config, trust_remote_code=False,
                                                                  use_safetensors=True, **kernel_options(hub_kernels))


def load_trained(directory: str, hub_kernels: bool = False):
    """A classifier saved by :func:`save_trained` (or any save_pretrained folder)."""
    check_declared_size(directory)
    with quiet():
        model = AutoModelForSequenceClassification.from_pretrained(directory, trust_remote_code=False, use_safetensors=True,
                                                                   **kernel_options(hub_kernels))
    return model, load_tokenizer(directory)


def load_encoder(source: str, hub_kernels: bool = False):
    check_declared_size(source)
    with quiet():
        return AutoModel.from_pretrained(source, trust_remote_code=False, use_safetensors=True,
                                         **kernel_options(hub_kernels))


def save_trained(model, tokenizer, directory: str | Path, max_length: int | None = None) -> None:
    """``save_pretrained`` of both; the tokenizer keeps ``max_length`` as its ``model_max_length``, so that
    ``transformers.pipeline(..., truncation=True)`` cuts texts where nlpzoo trained and predicts."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pretrained_length = tokenizer.model_max_length
    with quiet():
        model.save_pretrained(directory, safe_serialization=True)
        try:
            if max_length is not None:
                tokenizer.model_max_length = max_length
            tokenizer.save_pretrained(directory)
        finally:
            tokenizer.model_max_length = pretrained_length


# ---------------------------------------------------------------- batching


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated, unpadded: padding happens per batch."""
    return tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)["input_ids"]


class Encoded(list):
    """Token ids per input (a list, as :func:`tokenize` gives) and, for sentence pairs, the tokenizer's
    segment ids (``types``; None when it makes none, as RoBERTa's does)."""

    types: list[list[int]] | None = None


def split_pairs(inputs: Sequence, where: str) -> tuple[list[str], list[str] | None]:
    """Texts, and second texts when ``inputs`` are sentence pairs (``(text, text_pair)``); never a mix."""
    paired = [not isinstance(x, str) for x in inputs]
    if not any(paired):
        return list(inputs), None
    if not all(paired):
        raise ValueError(f"{where} mixes sentence pairs ({sum(paired)}) and single texts ({paired.count(False)}); "
                         "give every input a second text, or none")
    for x in inputs:
        if not isinstance(x, (tuple, list)) or len(x) != 2 or not all(isinstance(t, str) for t in x):
            raise ValueError(f"{where}: expected a text or a (text, text_pair) pair of strings, got {str(x)[:80]}")
    return [a for a, _ in inputs], [b for _, b in inputs]


def encode(tokenizer, inputs: Sequence, max_length: int, where: str = "the inputs") -> Encoded:
    """Token ids per text or per pair, unpadded. A pair goes through the tokenizer's own pair template
    (``[CLS] a [SEP] b [SEP]`` for BERT), truncated ``longest_first`` as ``transformers.pipeline`` does."""
    texts, pairs = split_pairs(inputs, where)
    if pairs is None:
        return Encoded(tokenize(tokenizer, texts, max_length))
    out = tokenizer(texts, pairs, truncation="longest_first", max_length=max_length, padding=False)
    encoded = Encoded(out["input_ids"])
    encoded.types = out.get("token_type_ids")
    return encoded


def inputs_of(examples: Sequence) -> list:
    """What the model reads of each example: its text, or ``(text, text_pair)`` for a sentence pair."""
    return [ex["text"] if ex.get("text_pair") is None else (ex["text"], ex["text_pair"]) for ex in examples]


def encode_splits(tokenizer, data: dict[str, Sequence], max_length: int) -> dict[str, Encoded]:
    """Each split encoded once. Every example of every split is a single text, or every one is a pair
    (``text_pair`` next to ``text``): a model reads one shape."""
    encoded, shapes = {}, {}
    for split, examples in data.items():
        try:
            encoded[split] = encode(tokenizer, inputs_of(examples), max_length, f"the {split} split")
        except ValueError as exc:
            raise ConfigError(str(exc), "dataset") from None
        if examples:
            shapes[split] = "single texts" if examples[0].get("text_pair") is None else "sentence pairs"
    if len(set(shapes.values())) > 1:
        raise ConfigError("the splits differ: " + ", ".join(f"{s} has {k}" for s, k in shapes.items())
                          + "; give every split's examples a text_pair, or none", "dataset")
    return encoded


def pick(encoded: list[list[int]], order: Sequence[int]) -> Encoded:
    """The inputs at ``order``, segment ids kept."""
    chosen, types = Encoded(encoded[i] for i in order), getattr(encoded, "types", None)
    chosen.types = None if types is None else [types[i] for i in order]
    return chosen


def collate(ids: list[list[int]], pad_id: int, labels: Sequence[int] | None = None,
            pad_to_multiple_of: int = 1) -> dict[str, torch.Tensor]:
    """Pad to the longest sequence of this batch only (dynamic padding), rounded up to a multiple of
    ``pad_to_multiple_of`` (a few shapes, which compiled or captured GPU steps need). Segment ids of
    :class:`Encoded` pairs become ``token_type_ids``, padded with 0."""
    input_ids, lengths = pad_sequences(ids, pad_id)  # (B, T), (B,)
    extra = -input_ids.shape[1] % pad_to_multiple_of
    if extra:
        input_ids = F.pad(input_ids, (0, extra), value=pad_id)
    mask = (torch.arange(input_ids.shape[1])[None, :] < lengths[:, None]).long()  # (B, T)
    batch = {"input_ids": input_ids, "attention_mask": mask}
    types = getattr(ids, "types", None)
    if types is not None:
        types, _ = pad_sequences(types, 0)
        batch["token_type_ids"] = F.pad(types, (0, input_ids.shape[1] - types.shape[1]), value=0)  # (B, T)
    if labels is not None:
        batch["labels"] = torch.as_tensor(list(labels), dtype=torch.long)
    return batch


# ---------------------------------------------------------------- layers, freezing, layer-wise decay


def base_model(model):
    return getattr(model, model.base_model_prefix, model)


def encoder_layers(model) -> list[torch.nn.Module]:
    """The transformer blocks, bottom first (BERT, RoBERTa, ELECTRA: encoder.layer; DistilBERT: transformer.layer)."""
    base = base_model(model)
    n = getattr(model.config, "num_hidden_layers", None)
    for _, module in base.named_modules():
        if isinstance(module, torch.nn.ModuleList) and (n is None or len(module) == n):
            return list(module)
    raise ValueError(f"cannot find the transformer layers of {type(model).__name__}")


def layer_groups(model) -> list[list[tuple[str, torch.nn.Parameter]]]:
    """Parameters grouped from the top: ``[head, layer L-1, ..., layer 0, embeddings]``.

    The head is everything outside the base encoder (the classifier) plus the pooler.
    """
    layers = encoder_layers(model)
    owner: dict[int, int] = {}
    for depth, layer in enumerate(layers):
        for p in layer.parameters():
            owner[id(p)] = len(layers) - depth  # layer L-1 -> group 1
    base = base_model(model)
    base_ids = {id(p) for p in base.parameters()}
    pooler = getattr(base, "pooler", None)
    head_ids = {id(p) for p in pooler.parameters()} if pooler is not None else set()
    groups: list[list] = [[] for _ in range(len(layers) + 2)]
    for name, p in model.named_parameters():
        if id(p) in owner:
            groups[owner[id(p)]].append((name, p))
        elif id(p) not in base_ids or id(p) in head_ids:
            groups[0].append((name, p))
        else:  # embeddings and anything else under the encoder that is not a layer
            groups[-1].append((name, p))
    return groups


FREEZE_POLICIES = ("none", "embeddings", "all-but-top", "all-but-head")


def trainable_groups(n_groups: int, freeze: str, top_layers: int, unfreeze_per_epoch: int, epoch: int) -> int:
    """How many groups, counted from the top, train in ``epoch``."""
    if freeze == "none":
        start = n_groups
    elif freeze == "embeddings":
        start = n_groups - 1
    elif freeze == "all-but-top":
        start = 1 + top_layers
    elif freeze == "all-but-head":
        start = 1
    else:
        raise ValueError(f"unknown freeze policy {freeze!r}; policies: {', '.join(FREEZE_POLICIES)}")
    return min(n_groups, start + unfreeze_per_epoch * epoch)


def apply_freezing(model, freeze: str, top_layers: int = 1, unfreeze_per_epoch: int = 0, epoch: int = 0) -> int:
    """Set ``requires_grad`` for ``epoch``; returns the number of trainable groups."""
    groups = layer_groups(model)
    k = trainable_groups(len(groups), freeze, top_layers, unfreeze_per_epoch, epoch)
    if hasattr(model, "peft_config"):  # low-rank adapters decide what trains: the pretrained weights stay frozen
        return k
    for i, group in enumerate(groups):
        for _, p in group:
            p.requires_grad_(i < k)
    return k


def start_frozen(model, freeze: str, top_layers: int, unfreeze_per_epoch: int) -> set[int]:
    """Freeze for the first epoch; returns the ids of the parameters that train in some epoch.

    Only those enter the optimizer: a parameter frozen for the whole run has no gradient to step on.
    """
    apply_freezing(model, freeze, top_layers, unfreeze_per_epoch, 0)
    groups = layer_groups(model)
    final = trainable_groups(len(groups), freeze, top_layers, unfreeze_per_epoch, 10 ** 6)
    return {id(p) for g in groups[:final] for _, p in g}


def llrd_groups(model, base_lr: float, weight_decay: float, layer_decay: float,
                include: set[int] | None = None) -> list[dict]:
    """Optimizer groups: the head at ``base_lr``, each layer below at ``layer_decay`` times the one above.

    No weight decay on biases and LayerNorm weights. ``include`` (parameter ids) limits which
    parameters enter the optimizer (permanently frozen ones stay out).
    """
    merged: dict[tuple[float, bool], list] = {}  # equal rates share a group: fewer optimizer launches per step
    for depth, group in enumerate(layer_groups(model)):
        scale = layer_decay ** depth
        for decay in (True, False):
            merged.setdefault((scale, decay), []).extend(
                p for n, p in group if (include is None or id(p) in include) and no_weight_decay(n, p) != decay)
    return [{"params": params, "weight_decay": weight_decay if decay else 0.0, "lr": base_lr * scale, "lr_scale": scale}
            for (scale, decay), params in merged.items() if params]


# ---------------------------------------------------------------- inference


@torch.inference_mode()
def logits_for(model, ids: Encoded, pad_id: int, batch_size: int, bf16: bool = False) -> torch.Tensor:
    """Logits ``(len(ids), labels)`` on the CPU in the original order, computed in length-sorted batches."""
    order = longest_first_batches([len(x) for x in ids], batch_size)
    out = torch.empty(len(ids), model.config.num_labels)
    batches = (collate(pick(ids, b), pad_id) for b in order)
    with evaluating(model):
        for b, batch in zip(order, on_device_of(model, batches)):
            with torch.autocast(batch["input_ids"].device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(**batch).logits
            out[torch.as_tensor(b)] = logits.float().cpu()
    return out


@torch.inference_mode()
def mean_pooled(encoder, tokenizer, texts: list[str], max_length: int, batch_size: int, normalize: bool) -> np.ndarray:
    """Sentence vectors: the mean of the last hidden states over real (unpadded) tokens."""
    ids = tokenize(tokenizer, texts, max_length)
    order = longest_first_batches([len(x) for x in ids], batch_size)
    out = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    batches = (collate([ids[i] for i in b], tokenizer.pad_token_id) for b in order)
    with evaluating(encoder):
        for b, batch in zip(order, on_device_of(encoder, batches)):
            hidden = encoder(**batch).last_hidden_state  # (B, T, H)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, H)
            if normalize:
                vec = F.normalize(vec, dim=-1)
            out[b] = vec.float().cpu().numpy()
    return out


# ---------------------------------------------------------------- the training task


class ClassificationTask(TorchTask):
    """Fine-tuning a sequence classifier: tokenized once, length-bucketed batches, frozen groups by epoch."""

    stages = ("model",)

    def __init__(self, model, tokenizer, data: dict[str, Sequence], labels: list[str], *, run, max_length: int,
                 layer_decay: float, freeze: str, top_layers: int, unfreeze_per_epoch: int,
                 class_weights: list[float] | None, sort_by_length: bool, base_lr: float, pad_to_multiple_of: int = 1,
                 label_smoothing: float = 0.0, rdrop: float = 0.0):
        self.nets = {"model": model}
        self.model = model
        self.tokenizer = tokenizer
        self.run = run
        self.labels = labels
        self.index = {l: i for i, l in enumerate(labels)}
        self.max_length = max_length
        self.layer_decay = layer_decay
        self.freeze, self.top_layers, self.unfreeze_per_epoch = freeze, top_layers, unfreeze_per_epoch
        self.sort_by_length, self.pad_to_multiple_of = sort_by_length, pad_to_multiple_of
        self.base_lr = base_lr
        self.weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.label_smoothing, self.rdrop = label_smoothing, rdrop
        cfg = run.config
        self.train_batch_size = cfg.batch_size
        self.eval_batch_size = cfg.eval_batch_size or 2 * cfg.batch_size
        self.bf16 = cfg.precision == "bf16"
        self.train_inputs = inputs_of(data["train"])
        self.train_y = [self.index[ex["label"]] for ex in data["train"]]
        encoded = encode_splits(tokenizer, data, max_length)  # once, not every epoch
        self.train_ids = encoded["train"]
        self.splits = {split: (encoded[split], [self.index[ex["label"]] for ex in data[split]])
                       for split in ("validation", "test") if data.get(split)}
        self.epoch = 0
        self.optimizable = start_frozen(model, freeze, top_layers, unfreeze_per_epoch)

    # -- data
    def train_batches(self, epoch: int) -> Iterator[dict]:
        ids = self.train_ids
        if getattr(self.run, "augmenter", None) is not None:
            augmented = augment_inputs(self.run, self.train_inputs, epoch)
            if augmented != self.train_inputs:
                ids = encode(self.tokenizer, augmented, self.max_length)
        seed = self.run.seed * 100_003 + epoch
        for b in length_bucketed_batches([len(x) for x in ids], self.train_batch_size, seed,
                                         sort_by_length=self.sort_by_length):
            yield collate(pick(ids, b), self.tokenizer.pad_token_id, [self.train_y[i] for i in b],
                          self.pad_to_multiple_of)

    def on_epoch_start(self, epoch: int) -> None:
        self.epoch = epoch
        apply_freezing(self.model, self.freeze, self.top_layers, self.unfreeze_per_epoch, epoch)

    # -- optimisation
    def parameter_groups(self, stage: str, weight_decay: float) -> list[dict]:
        return llrd_groups(self.model, self.base_lr, weight_decay, self.layer_decay, include=self.optimizable)

    def training_step(self, batch, stage: str):
        inputs, y = model_inputs(batch), batch["labels"]
        if self.rdrop:  # the batch twice in one forward pass: two dropout masks per example
            inputs = {k: torch.cat([v, v]) for k, v in inputs.items()}
        logits = self.nets["model"](**inputs).logits.float()
        if self.weight is not None and self.weight.device != logits.device:
            self.weight = self.weight.to(logits.device)  # once, to where the model trains
        weight = self.weight
        if not self.rdrop:
            return F.cross_entropy(logits, y, weight=weight, label_smoothing=self.label_smoothing), {}
        ce = F.cross_entropy(logits, torch.cat([y, y]), weight=weight, label_smoothing=self.label_smoothing)
        return ce + self.rdrop * symmetric_kl(*logits.chunk(2)), {}

    # -- evaluation
    def evaluate(self, split: str) -> dict[str, float]:
        if split not in self.splits:
            return {}
        ids, y = self.splits[split]
        return self.score(ids, y)

    def score(self, ids: list[list[int]], y: list[int]) -> dict[str, float]:
        logits = logits_for(self.model, ids, self.tokenizer.pad_token_id, self.eval_batch_size, self.bf16)
        target = torch.as_tensor(y)
        loss = float(F.cross_entropy(logits, target, weight=None if self.weight is None else self.weight.cpu()))
        metrics, _ = classification_metrics(y, logits.argmax(-1).tolist(), self.labels)
        return {"loss": loss, **metrics}


def model_inputs(batch: dict) -> dict:
    """What the network reads of a batch: ids, mask and, for sentence pairs, the segment ids."""
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}


def augment_inputs(run, inputs: list, epoch: int) -> list:
    """The epoch's augmented inputs; of a sentence pair, both texts are augmented."""
    texts, pairs = split_pairs(inputs, "the train split")
    augmented = run.augment_texts(texts + (pairs or []), epoch)
    if pairs is None:
        return augmented
    return list(zip(augmented[:len(texts)], augmented[len(texts):]))


def symmetric_kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(KL(p_a || p_b) + KL(p_b || p_a)) / 2 per example, averaged over the batch: R-Drop's consistency term."""
    la, lb = a.log_softmax(-1), b.log_softmax(-1)
    return ((la.exp() - lb.exp()) * (la - lb)).sum(-1).mean() / 2


def class_weight_values(spec, labels: list[str], train_labels: Sequence[str]) -> list[float] | None:
    """``"balanced"``: n / (k * count); a mapping: given per label (missing ones 1.0); ``"none"``: None."""
    if spec in (None, "none"):
        return None
    if spec == "balanced":
        counts = {l: 0 for l in labels}
        for l in train_labels:
            counts[l] += 1
        n, k = len(train_labels), len(labels)
        return [n / (k * max(1, counts[l])) for l in labels]
    unknown = sorted(set(spec) - set(labels))
    if unknown:
        raise ValueError(f"class_weights: unknown labels {unknown}; labels are {labels}")
    return [float(spec.get(l, 1.0)) for l in labels]
