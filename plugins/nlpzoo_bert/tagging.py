"""The torch and transformers side of the tagger: word-piece alignment, the training task, entities, metrics.

Imported only inside methods of :mod:`nlpzoo_bert.tagger`, so listing the zoo never imports torch.
Alignment follows transformers' ``run_ner.py``: the first piece of each word carries the word's tag, the
other pieces and the special tokens get -100 and count in neither the loss nor the metrics.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForTokenClassification

from nlpzoo_training import TorchTask, evaluating, length_bucketed_batches, longest_first_batches, on_device_of, pad_sequences

from .hf import apply_freezing, collate, kernel_options, llrd_groups, load_tokenizer, quiet, start_frozen

IGNORED = -100  # the label of pieces that are not the first of a word: cross_entropy's ignore_index


# ---------------------------------------------------------------- loading


def load_token_classifier(source: str, labels: list[str], dropout: float | None = None):
    """A token-classification model with a fresh head for ``labels`` (names kept in config.id2label)."""
    config = AutoConfig.from_pretrained(source, trust_remote_code=False, num_labels=len(labels),
                                        id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    if dropout is not None:
        config.classifier_dropout = dropout
    with quiet():
        return AutoModelForTokenClassification.from_pretrained(source, config=config, trust_remote_code=False,
                                                               use_safetensors=True, **kernel_options(False))


def load_trained_tagger(directory: str):
    with quiet():
        model = AutoModelForTokenClassification.from_pretrained(directory, trust_remote_code=False, use_safetensors=True,
                                                                **kernel_options(False))
    return model, load_word_tokenizer(directory)


def load_word_tokenizer(source: str):
    """The fast tokenizer, able to take pre-split words: byte-level BPE (RoBERTa) needs a space before each."""
    tokenizer = load_tokenizer(source)
    if getattr(tokenizer, "add_prefix_space", None) is False:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False, use_fast=True, add_prefix_space=True)
    return tokenizer


# ---------------------------------------------------------------- alignment


def align(tokenizer, sentences: Sequence[list[str]], tags: Sequence[list[int]] | None, max_length: int):
    """Piece ids per sentence, and per piece the word's tag id on its first piece, -100 elsewhere.

    Also the first piece's position of each word (None for words cut off by ``max_length``).
    """
    enc = tokenizer([list(s) for s in sentences], is_split_into_words=True, truncation=True, max_length=max_length,
                    padding=False)
    ids, labels, firsts = enc["input_ids"], [], []
    for i in range(len(sentences)):
        words = enc.word_ids(i)
        first = [None] * len(sentences[i])
        piece_labels = []
        for position, word in enumerate(words):
            starts_word = word is not None and first[word] is None
            if starts_word:
                first[word] = position
            piece_labels.append(tags[i][word] if starts_word and tags is not None else IGNORED)
        labels.append(piece_labels)
        firsts.append(first)
    return ids, labels, firsts


def collate_tagged(ids: list[list[int]], labels: list[list[int]], pad_id: int, pad_to_multiple_of: int = 1) -> dict:
    batch = collate(ids, pad_id, pad_to_multiple_of=pad_to_multiple_of)
    padded, _ = pad_sequences(labels, IGNORED)  # (B, T0)
    extra = batch["input_ids"].shape[1] - padded.shape[1]
    batch["labels"] = F.pad(padded, (0, extra), value=IGNORED) if extra else padded  # (B, T)
    return batch


# ---------------------------------------------------------------- inference


@torch.inference_mode()
def piece_logits(model, ids: list[list[int]], pad_id: int, batch_size: int) -> list[torch.Tensor]:
    """Logits ``(pieces, labels)`` per sequence, on the CPU, in the original order (length-sorted batches)."""
    out: list[torch.Tensor | None] = [None] * len(ids)
    order = longest_first_batches([len(x) for x in ids], batch_size)
    batches = (collate([ids[i] for i in b], pad_id) for b in order)
    with evaluating(model):
        for b, batch in zip(order, on_device_of(model, batches)):
            logits = model(**batch).logits.float().cpu()  # (B, T, L)
            for row, i in enumerate(b):
                out[i] = logits[row, :len(ids[i])]
    return out


def word_tags(model, tokenizer, sentences: Sequence[list[str]], max_length: int, batch_size: int) -> list[list[str]]:
    """The tag of each word: the arg-max on its first piece; ``O`` for words cut off by ``max_length``."""
    ids, _, firsts = align(tokenizer, sentences, None, max_length)
    names = model.config.id2label
    logits = piece_logits(model, ids, tokenizer.pad_token_id, batch_size)
    return [[names[int(rows[p].argmax())] if p is not None else "O" for p in first]
            for rows, first in zip(logits, firsts)]


def text_entities(model, tokenizer, texts: list[str], max_length: int, batch_size: int) -> list[list[dict]]:
    """Entities in raw texts, grouped as transformers' token-classification pipeline groups them with
    ``aggregation_strategy="simple"``: so the saved model finds the same entities there."""
    enc = tokenizer(texts, truncation=True, max_length=max_length, padding=False, return_offsets_mapping=True,
                    return_special_tokens_mask=True)
    logits = piece_logits(model, enc["input_ids"], tokenizer.pad_token_id, batch_size)
    names = model.config.id2label
    found = []
    for text, rows, offsets, special in zip(texts, logits, enc["offset_mapping"], enc["special_tokens_mask"]):
        probs = rows.softmax(-1)
        pieces = [(names[int(p.argmax())], float(p.max()), start, end)
                  for p, (start, end), s in zip(probs, offsets, special) if not s]
        found.append([entity for entity in group_pieces(text, pieces) if entity["label"] != "O"])
    return found


def split_tag(tag: str) -> tuple[str, str]:
    """``("B", "PER")`` for ``B-PER``; a tag without a B-/I- prefix (``O``) continues its own kind."""
    if tag.startswith(("B-", "I-")):
        return tag[0], tag[2:]
    return "I", tag


def group_pieces(text: str, pieces: list[tuple[str, float, int, int]]) -> list[dict]:
    """Adjacent pieces of one kind, each group opened by a ``B-`` tag or a change of kind."""
    groups: list[list[tuple[str, float, int, int]]] = []
    for piece in pieces:
        bi, kind = split_tag(piece[0])
        if groups and bi != "B" and split_tag(groups[-1][-1][0])[1] == kind:
            groups[-1].append(piece)
        else:
            groups.append([piece])
    out = []
    for group in groups:
        start, end = group[0][2], group[-1][3]
        out.append({"label": split_tag(group[0][0])[1], "text": text[start:end], "start": int(start), "end": int(end),
                    "score": sum(p[1] for p in group) / len(group)})
    return out


# ---------------------------------------------------------------- metrics


def entity_metrics(true: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """seqeval's entity precision, recall and F1: overall, per type, in the default (conlleval) and the
    strict IOB2 mode; plus the share of words tagged right."""
    from seqeval.metrics import accuracy_score, classification_report
    from seqeval.scheme import IOB2

    out: dict[str, float] = {"accuracy": float(accuracy_score(true, predicted)) if true else 0.0}
    for prefix, options in (("", {}), ("strict_", {"mode": "strict", "scheme": IOB2})):
        report = classification_report(true, predicted, output_dict=True, zero_division=0, **options)
        overall = report.get("micro avg", {})
        out.update({f"{prefix}{name}": float(overall.get(key, 0.0))
                    for name, key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"))})
        if not prefix:
            for kind, row in report.items():
                if kind.endswith(" avg"):
                    continue
                out.update({f"{name}_{kind}": float(row[key])
                            for name, key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"))})
    return out


# ---------------------------------------------------------------- the training task


class TaggingTask(TorchTask):
    """Fine-tuning a token classifier: aligned once, length-bucketed batches, frozen groups by epoch."""

    stages = ("model",)

    def __init__(self, model, tokenizer, data: dict[str, Sequence], labels: list[str], *, run, max_length: int,
                 layer_decay: float, freeze: str, top_layers: int, unfreeze_per_epoch: int, sort_by_length: bool,
                 base_lr: float, pad_to_multiple_of: int = 1):
        self.nets = {"model": model}
        self.model, self.tokenizer, self.run = model, tokenizer, run
        self.max_length, self.layer_decay, self.base_lr = max_length, layer_decay, base_lr
        self.freeze, self.top_layers, self.unfreeze_per_epoch = freeze, top_layers, unfreeze_per_epoch
        self.sort_by_length, self.pad_to_multiple_of = sort_by_length, pad_to_multiple_of
        cfg = run.config
        self.train_batch_size = cfg.batch_size
        self.eval_batch_size = cfg.eval_batch_size or 2 * cfg.batch_size
        index = {label: i for i, label in enumerate(labels)}
        train = data["train"]
        self.train_ids, self.train_labels, _ = align(tokenizer, [ex["tokens"] for ex in train],
                                                     [[index[t] for t in ex["tags"]] for ex in train], max_length)
        self.splits = {split: data[split] for split in ("validation", "test") if data.get(split)}
        self.index = index
        self.optimizable = start_frozen(model, freeze, top_layers, unfreeze_per_epoch)

    # -- data
    def train_batches(self, epoch: int) -> Iterator[dict]:
        seed = self.run.seed * 100_003 + epoch
        for b in length_bucketed_batches([len(x) for x in self.train_ids], self.train_batch_size, seed,
                                         sort_by_length=self.sort_by_length):
            yield collate_tagged([self.train_ids[i] for i in b], [self.train_labels[i] for i in b],
                                 self.tokenizer.pad_token_id, self.pad_to_multiple_of)

    def on_epoch_start(self, epoch: int) -> None:
        apply_freezing(self.model, self.freeze, self.top_layers, self.unfreeze_per_epoch, epoch)

    # -- optimisation
    def parameter_groups(self, stage: str, weight_decay: float) -> list[dict]:
        return llrd_groups(self.model, self.base_lr, weight_decay, self.layer_decay, include=self.optimizable)

    def training_step(self, batch, stage: str):
        logits = self.nets["model"](input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        labels = batch["labels"]  # (B, T), -100 where a piece does not start a word
        return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORED), {}

    # -- evaluation
    def evaluate(self, split: str) -> dict[str, float]:
        if split not in self.splits:
            return {}
        return score(self.model, self.tokenizer, self.splits[split], self.index, self.max_length, self.eval_batch_size)


def score(model, tokenizer, examples: Sequence[dict], index: dict[str, int], max_length: int,
          batch_size: int) -> dict[str, float]:
    """``loss`` (cross-entropy on first pieces) and the entity metrics of :func:`entity_metrics`."""
    sentences = [ex["tokens"] for ex in examples]
    unknown = sorted({t for ex in examples for t in ex["tags"]} - set(index))
    if unknown:
        raise ValueError(f"tags {unknown} are not among this tagger's tags {sorted(index)}")
    ids, labels, firsts = align(tokenizer, sentences, [[index[t] for t in ex["tags"]] for ex in examples], max_length)
    logits = piece_logits(model, ids, tokenizer.pad_token_id, batch_size)
    names = model.config.id2label
    flat_logits = torch.cat(logits) if logits else torch.zeros(0, len(index))
    flat_labels = torch.as_tensor([l for row in labels for l in row], dtype=torch.long)
    counted = (flat_labels != IGNORED).sum()
    loss = float(F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORED)) if counted else 0.0
    predicted = [[names[int(rows[p].argmax())] if p is not None else "O" for p in first]
                 for rows, first in zip(logits, firsts)]
    return {"loss": loss, **entity_metrics([ex["tags"] for ex in examples], predicted)}
